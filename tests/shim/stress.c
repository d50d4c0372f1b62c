// SPDX-License-Identifier: GPL-2.0
/*
 * stress [OPS_PER_THREAD]: 8 threads doing random malloc / calloc / memalign
 * / posix_memalign / realloc / free with every block's contents checked, and
 * blocks handed between threads (freed or reallocated by another thread).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "t.h"

enum { THREADS = 8, SLOTS = 512, MAILBOX = 256 };

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static struct blk mailbox[MAILBOX];
static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static long ops_per_thread = 20000;
static int errors;

static void bad(const char *what, long i)
{
	__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
	printf("FAIL: %s (op %ld)\n", what, i);
}

static size_t rnd_size(uint64_t *s)
{
	uint64_t r = xorshift(s);

	switch (r % 32) {
	case 0: return (size_t)(r >> 8) % (256 << 10);
	case 1: case 2: return (size_t)(r >> 8) % 16384;
	default: return (size_t)(r >> 8) % 300;
	}
}

static void *worker(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	struct blk slot[SLOTS] = { { 0 } };
	uint64_t tag = (uintptr_t)arg << 48;

	for (long i = 0; i < ops_per_thread; i++) {
		struct blk *b = &slot[xorshift(&seed) % SLOTS];
		unsigned op = (unsigned)(xorshift(&seed) % 10);

		if (b->p && !t_verify(b->p, b->n, b->tag))
			bad("contents changed", i);
		if (op == 9) {
			/* swap with the mailbox: another thread frees it */
			struct blk m;
			unsigned k = (unsigned)(xorshift(&seed) % MAILBOX);

			pthread_mutex_lock(&mailbox_lock);
			m = mailbox[k];
			mailbox[k] = *b;
			pthread_mutex_unlock(&mailbox_lock);
			*b = m;
			if (b->p && !t_verify(b->p, b->n, b->tag))
				bad("mailbox block changed", i);
			continue;
		}
		if (b->p && op < 7) {
			if (op < 4) {
				free(b->p);
				b->p = NULL;
			} else {
				size_t n = rnd_size(&seed);
				unsigned char *q = realloc(b->p, n);

				if (!q && n) {
					bad("realloc failed", i);
					continue;
				}
				if (q && !t_verify(q, n < b->n ? n : b->n, b->tag))
					bad("realloc lost contents", i);
				b->p = q;
				b->n = n;
				if (q)
					t_fill(q, n, b->tag);
			}
			continue;
		}
		if (b->p)
			free(b->p);
		b->n = rnd_size(&seed);
		b->tag = ++tag;
		switch (op % 4) {
		case 0:
			b->p = malloc(b->n);
			break;
		case 1:
			b->p = calloc(1, b->n);
			for (size_t j = 0; b->p && j < b->n; j++)
				if (b->p[j]) {
					bad("calloc not zero", i);
					break;
				}
			break;
		case 2: {
			size_t a = (size_t)1 << (xorshift(&seed) % 14);

			b->p = memalign(a, b->n);
			if (b->p && ((uintptr_t)b->p & (a - 1)))
				bad("memalign misaligned", i);
			break;
		}
		default: {
			size_t a = sizeof(void *) << (xorshift(&seed) % 10);
			void *p = NULL;

			if (posix_memalign(&p, a, b->n))
				p = NULL;
			b->p = p;
			if (p && ((uintptr_t)p & (a - 1)))
				bad("posix_memalign misaligned", i);
		}
		}
		if (!b->p) {
			bad("allocation failed", i);
			continue;
		}
		if (malloc_usable_size(b->p) < b->n)
			bad("usable size too small", i);
		t_fill(b->p, b->n, b->tag);
	}
	for (int k = 0; k < SLOTS; k++) {
		if (slot[k].p && !t_verify(slot[k].p, slot[k].n, slot[k].tag))
			bad("contents changed at end", k);
		free(slot[k].p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];

	if (argc > 1)
		ops_per_thread = strtol(argv[1], NULL, 10);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int k = 0; k < MAILBOX; k++) {
		if (mailbox[k].p &&
		    !t_verify(mailbox[k].p, mailbox[k].n, mailbox[k].tag))
			bad("mailbox contents changed at end", k);
		free(mailbox[k].p);
	}
	printf("stress: %d threads x %ld ops, %d errors\n", THREADS,
	       ops_per_thread, errors);
	return errors ? 1 : 0;
}
