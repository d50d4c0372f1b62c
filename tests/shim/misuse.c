// SPDX-License-Identifier: GPL-2.0
/*
 * misuse MODE: one misuse of the malloc family.  Under the shim each must
 * end in abort() with glibc's message on stderr (checked by the runner);
 * "ok-*" modes must exit 0.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "t.h"

static volatile size_t vs = 100;

static void *free_it(void *p)
{
	free(p);
	return NULL;
}

/* The shim's buddy_cache_flush() (this program is not linked with it). */
static void cache_flush(void)
{
	void (*flush)(void) = (void (*)(void))dlsym(RTLD_DEFAULT,
						    "buddy_cache_flush");

	if (!flush) {
		printf("no buddy_cache_flush: not under the shim\n");
		exit(2);
	}
	flush();
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	char *p = malloc(vs), *q;
	char local[64];

	memset(local, 0, sizeof(local));
	if (!strcmp(m, "free-stack"))
		free(local + vs - 100);
	else if (!strcmp(m, "free-interior"))
		free(p + 16);
	else if (!strcmp(m, "free-double")) {
		free(p);
		free(p);
	} else if (!strcmp(m, "free-double-thread")) {
		/* the first free lands in another thread's cache */
		pthread_t t;

		pthread_create(&t, NULL, free_it, p);
		pthread_join(t, NULL);
		free(p);
	} else if (!strcmp(m, "free-double-slab")) {
		/* the first free went back to the slab, which q keeps */
		q = malloc(vs);
		free(p);
		cache_flush();
		free(p);
	} else if (!strcmp(m, "free-double-released")) {
		/* the first free emptied the slab: the kernel has it back */
		free(p);
		cache_flush();
		free(p);
	} else if (!strcmp(m, "free-foreign")) {
		q = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		free(q + 16);
	} else if (!strcmp(m, "realloc-interior"))
		q = realloc(p + 32, vs * 2);
	else if (!strcmp(m, "realloc-double")) {
		free(p);
		q = realloc(p, vs * 2);
	} else if (!strcmp(m, "realloc-stack"))
		q = realloc(local + vs - 100, vs);
	else if (!strcmp(m, "ok-usable-freed")) {
		/* not an error in glibc either: a freed block has no size */
		free(p);
		return malloc_usable_size(p) == 0 ? 0 : 1;
	} else if (!strcmp(m, "ok-scribble")) {
		/* write over everything around our blocks: the heap survives */
		free(p);
		char *blk[64];
		for (int i = 0; i < 64; i++)
			blk[i] = malloc(vs * (i + 1));
		for (int i = 0; i < 64; i += 2) {
			memset(blk[i], 0xff, malloc_usable_size(blk[i]));
			free(blk[i]);
		}
		for (int i = 1; i < 64; i += 2)
			free(blk[i]);
		p = malloc(1000);
		memset(p, 1, 1000);
		free(p);
		return 0;
	} else {
		printf("unknown mode '%s'\n", m);
		return 2;
	}
	(void)q;
	printf("misuse '%s' was not caught\n", m);
	return 3;
}
