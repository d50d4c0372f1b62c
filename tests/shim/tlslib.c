// SPDX-License-Identifier: GPL-2.0
/* A dlopen()ed library with a big dynamic TLS block (see dltls.c). */
static __thread int tls_val;
static __thread char tls_big[20000];

int tls_touch(int v)
{
	tls_val = v;
	tls_big[v * 100] = (char)v;
	return tls_val + tls_big[v * 100] - v;
}
