/* SPDX-License-Identifier: GPL-2.0 */
/* Tiny check helpers for the shim's in-guest tests. */
#ifndef SHIM_T_H
#define SHIM_T_H

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed __attribute__((unused)), t_checks __attribute__((unused));

#define CHECK(cond) do {						\
	t_checks++;							\
	if (!(cond)) {							\
		t_failed++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
		fflush(stdout);						\
	}								\
} while (0)

#define DONE() do {							\
	printf("%s: %d checks, %d failed\n", __FILE__, t_checks, t_failed); \
	return t_failed ? 1 : 0;					\
} while (0)

/* Is the shim serving malloc from the device (not the glibc fallback)? */
static inline void *t_buddy_default(void)
{
	void *(*f)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "buddy_default");

	return f ? f() : NULL;
}

static inline int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Fill / verify a block with a pattern derived from a tag. */
static inline void t_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(tag * 131 + i * 7 + (i >> 8));
}

static inline int t_verify(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(tag * 131 + i * 7 + (i >> 8)))
			return 0;
	return 1;
}

#endif
