// SPDX-License-Identifier: GPL-2.0
/*
 * cache [off]: the per-thread caches of small blocks (BUDDY_CACHE) and the
 * slabs behind them, seen through the kernel's statistics of the default
 * heap.  The kernel sees a slab (64 KiB) as one allocated block;
 * buddy_cache_flush() gives the calling thread's cached objects back to
 * their slabs and every unused slab to the kernel, so "live blocks after a
 * flush" is what the program really holds.
 *
 * Checks: frees are cached (no kernel call) and flushed by
 * buddy_cache_flush(); objects of one class share a slab; a thread's cache
 * goes back when it exits; a forked child frees the caches of the threads
 * it does not have; objects have the size classes' usable sizes and are
 * aligned to their lowest set bit; calloc from a cache is zeroed; realloc
 * moves through the caches and keeps contents.  With "off" (run under
 * BUDDY_CACHE=0) every free reaches the kernel.
 * "enomem": see fill_heap().
 */
#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buddy.h"
#include "buddy_trim.h"
#include "t.h"

#define NBLK	1000

static buddy_t *dev;

static uint64_t live(void)
{
	struct buddy_heap_stats st;

	if (buddy_stats(dev, &st))
		return (uint64_t)-1;
	return st.live_blocks;
}

static uint64_t kernel_frees(void)
{
	struct buddy_heap_stats st;

	if (buddy_stats(dev, &st))
		return (uint64_t)-1;
	return st.nr_frees;
}

/* live blocks once this thread's cache is flushed */
static uint64_t held(void)
{
	buddy_cache_flush();
	return live();
}

static void *churn_thread(void *arg)
{
	void *p[NBLK];
	size_t n = (size_t)(uintptr_t)arg;

	for (int i = 0; i < NBLK; i++)
		p[i] = malloc(n + (size_t)i % 7);
	for (int i = 0; i < NBLK; i++)
		free(p[i]);
	return NULL;
}

static pthread_barrier_t parked, release;

/* Fill this thread's caches, then wait (alive) until told to go. */
static void *park_thread(void *arg)
{
	churn_thread(arg);
	pthread_barrier_wait(&parked);
	pthread_barrier_wait(&release);
	return NULL;
}

static void test_free_is_cached(int off)
{
	uint64_t base = held(), frees, after;
	char *p[NBLK];

	for (int i = 0; i < NBLK; i++)
		p[i] = malloc(32);
	if (!off) {
		/* one 64 KiB slab holds them all, side by side */
		CHECK(live() == base + 1);
		for (int i = 0; i < NBLK; i++)
			CHECK(p[i] && (uintptr_t)p[i] >> 16 ==
			      (uintptr_t)p[0] >> 16);
	}
	frees = kernel_frees();
	for (int i = 0; i < NBLK; i++)
		free(p[i]);
	after = live();
	if (off) {
		CHECK(after == base);
		CHECK(kernel_frees() - frees == NBLK);
	} else {
		/* in the caches and the slab: the kernel saw no free */
		CHECK(kernel_frees() == frees);
		CHECK(after == base + 1);
	}
	CHECK(held() == base);
}

static void test_blocks(void)
{
	for (size_t n = 0; n <= 5000; n += n < 64 ? 1 : 61) {
		unsigned char *p = malloc(n), *z;
		size_t u = malloc_usable_size(p);
		uint64_t align = buddy_usable_for(n, 0);

		/*
		 * a size class, aligned to its lowest set bit; above them a
		 * power-of-two block, or trimmed from one (trim_block_bytes)
		 */
		CHECK(p && u == buddy_shim_usable_for(n));
		if (buddy_shim_cached(n))
			align = u & -u;
		CHECK(((uintptr_t)p & (align - 1)) == 0);
		memset(p, 0xa5, u);
		free(p);
		/* the same block, likely: calloc must clear it */
		z = calloc(1, n);
		CHECK(z != NULL);
		for (size_t i = 0; z && i < n; i++)
			if (z[i]) {
				CHECK(!"calloc from a cache is zero");
				break;
			}
		free(z);
	}
	/* the kernel trims an aligned block's tail: not from a cache */
	for (size_t a = 32; a <= 4096; a *= 2) {
		void *p = memalign(a, 24);

		CHECK(p && ((uintptr_t)p & (a - 1)) == 0 &&
		      malloc_usable_size(p) == 32);
		free(p);
		p = memalign(a, a);
		CHECK(p && ((uintptr_t)p & (a - 1)) == 0 &&
		      malloc_usable_size(p) == a);
		free(p);
	}
}

static void test_realloc(void)
{
	unsigned char *p = malloc(20), *q;
	size_t n;

	CHECK(p != NULL);
	if (!p)
		return;
	t_fill(p, 20, 7);
	for (n = 20; n < 20000; n = n * 2 + 3) {
		q = realloc(p, n * 2 + 3);
		CHECK(q != NULL);
		if (!q) {
			free(p);
			return;
		}
		CHECK(t_verify(q, 20, 7));
		p = q;
	}
	q = realloc(p, 40);		/* the kernel's block shrinks */
	CHECK(q && t_verify(q, 20, 7) &&
	      malloc_usable_size(q) == buddy_usable_for(40, buddy_trim_block_bytes()));
	free(q);
	p = malloc(40);
	CHECK(p && malloc_usable_size(p) == buddy_shim_usable_for(40));
	if (!p)
		return;
	t_fill(p, 30, 9);
	q = realloc(p, 33);		/* still its size: same block */
	CHECK(q == p);
	q = realloc(p, 30);		/* a smaller class: moves */
	CHECK(q && t_verify(q, 30, 9) &&
	      malloc_usable_size(q) == buddy_shim_usable_for(30));
	if (buddy_shim_cached(30))
		CHECK(q != p);
	free(q);
}

static void test_thread_exit(void)
{
	uint64_t base = held();
	pthread_t t;

	for (size_t n = 16; n <= 4096; n *= 4) {
		pthread_create(&t, NULL, churn_thread, (void *)(uintptr_t)n);
		pthread_join(t, NULL);
	}
	CHECK(held() == base);
	if (held() != base)
		printf("# %llu blocks left behind by exited threads\n",
		       (unsigned long long)(live() - base));
}

static void test_fork_child(void)
{
	uint64_t base = held();
	pthread_t t;
	int st = -1;
	pid_t pid;

	pthread_barrier_init(&parked, NULL, 2);
	pthread_barrier_init(&release, NULL, 2);
	pthread_create(&t, NULL, park_thread, (void *)(uintptr_t)48);
	pthread_barrier_wait(&parked);
	pid = fork();
	if (pid == 0)
		/* the parked thread's cache has no owner here: freed */
		_exit(held() == base ? 0 : 1);
	CHECK(pid > 0);
	if (pid > 0)
		waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pthread_barrier_wait(&release);
	pthread_join(t, NULL);
	CHECK(held() == base);
}

/*
 * "enomem": fill this thread's cache with 3.5 MiB of 1-4 KiB blocks, then
 * take 1 MiB blocks until the heap is full.  The runner compares the count
 * with BUDDY_CACHE=0's: a refused request is retried after the caller's
 * cache is flushed, so caching costs the thread no capacity.
 */
static int fill_heap(void)
{
	enum { WARM = 512 };
	static void *warm[WARM], *big[1 << 12];
	int n = 0;

	for (size_t size = 1024; size <= 4096; size *= 2) {
		for (int i = 0; i < WARM; i++)
			warm[i] = malloc(size);
		for (int i = 0; i < WARM; i++)
			free(warm[i]);
	}
	while (n < (1 << 12) && (big[n] = malloc(1 << 20)))
		n++;
	printf("1 MiB blocks: %d\n", n);
	while (n)
		free(big[--n]);
	return 0;
}

int main(int argc, char **argv)
{
	int off = argc > 1 && !strcmp(argv[1], "off");

	if (argc > 1 && !strcmp(argv[1], "enomem"))
		return fill_heap();

	printf("# cache%s\n", off ? " off" : "");	/* stdout's buffer */
	free(malloc(1));
	/* glibc keeps an exited thread's stack, and with it a TLS block */
	for (int i = 0; i < 2; i++) {
		pthread_t t;

		pthread_create(&t, NULL, churn_thread, (void *)(uintptr_t)16);
		pthread_join(t, NULL);
	}
	dev = buddy_default();
	CHECK(dev != NULL);
	if (!dev)
		DONE();
	test_free_is_cached(off);
	test_blocks();
	test_realloc();
	test_thread_exit();
	test_fork_child();
	DONE();
}
