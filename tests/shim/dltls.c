// SPDX-License-Identifier: GPL-2.0
/*
 * dltls LIB: dlopen a library with __thread variables and touch them from
 * 8 threads.  The dynamic loader allocates that TLS (and the DTV) with the
 * malloc family, from inside the loader, on each thread's first access.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static int (*touch)(int);

static void *worker(void *arg)
{
	long id = (long)arg, bad = 0;

	for (int i = 0; i < 1000; i++)
		bad += touch((int)id) != (int)id;
	return (void *)bad;
}

int main(int argc, char **argv)
{
	pthread_t t[8];
	long bad = 0;
	void *h;

	if (argc < 2 || !(h = dlopen(argv[1], RTLD_NOW))) {
		printf("dlopen: %s\n", dlerror());
		return 2;
	}
	touch = (int (*)(int))dlsym(h, "tls_touch");
	if (!touch || dlsym(h, "no_such_symbol"))
		return 3;
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 8; i++) {
		void *r;

		pthread_join(t[i], &r);
		bad += (long)r;
	}
	dlclose(h);
	printf("dltls: %ld errors\n", bad);
	return bad != 0;
}
