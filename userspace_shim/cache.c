// SPDX-License-Identifier: GPL-2.0
/*
 * Per-thread caches of small blocks (see cache.h for the fast paths and the
 * shadow map): creating a thread's cache, refilling and flushing it with
 * BUDDY_IOC_BATCH, flushing it at thread exit and before fork, reclaiming
 * the caches of threads a forked child does not have, and the totals
 * BUDDY_STATS prints.
 *
 * BUDDY_CACHE=0 turns the caches off; BUDDY_CACHE=N holds at most N KiB
 * (default 32) per size class and thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "cache.h"
#include "heap.h"
#include "util.h"

#define CACHE_BATCH_OPS		128	/* operations per BATCH call */
#define CACHE_MAX_SLOTS		512	/* most blocks per size class */
#define CACHE_DEFAULT_KIB	32

unsigned char *cache_shadow;
uintptr_t cache_base;
__thread struct thread_cache *t_cache;

static struct buddy_handle *cache_heap;
static unsigned int bin_cap[CACHE_ORDERS];
static size_t cache_bytes;		/* mmap size of one thread_cache */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_cache *all_caches;	/* threads that have one */
static struct thread_cache *spare_caches;	/* left by exited threads */
static pthread_key_t cache_key;
static int cache_key_made;
static uint64_t nr_refills, nr_flushes;
static __thread int t_creating;

/* BUDDY_CACHE: KiB per size class and thread; 0 turns the caches off. */
static unsigned int cache_kib(void)
{
	const char *s = getenv_knob("BUDDY_CACHE");
	unsigned int kib = 0;

	if (!s || !*s)
		return CACHE_DEFAULT_KIB;
	for (; *s >= '0' && *s <= '9' && kib <= 65536; s++)
		kib = kib * 10 + (unsigned int)(*s - '0');
	if (*s) {
		write_stderr_joined("libbuddy: BUDDY_CACHE=",
				    getenv_knob("BUDDY_CACHE"),
				    " is not a number of KiB; using 32\n");
		return CACHE_DEFAULT_KIB;
	}
	return kib;
}

/**
 * cache_init() - turn the caches on for the default heap, unless told not to
 * @h: the default heap, open and mapped
 *
 * Without the shadow map (no memory for it) the caches stay off.
 */
void cache_init(struct buddy_handle *h)
{
	unsigned int kib = cache_kib();
	unsigned char *sh;
	size_t slots = 0;

	if (!kib || h->info.grain_shift != CACHE_GRAIN_SHIFT)
		return;
	for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
		size_t n = ((size_t)kib << 10) >> (o + CACHE_GRAIN_SHIFT);

		bin_cap[o] = n < 1 ? 1 : n > CACHE_MAX_SLOTS ?
			CACHE_MAX_SLOTS : (unsigned int)n;
		slots += bin_cap[o];
	}
	sh = mmap(NULL, h->window >> CACHE_GRAIN_SHIFT, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED)
		return;
	cache_bytes = sizeof(struct thread_cache) +
		CACHE_BATCH_OPS * sizeof(struct buddy_op) + slots * sizeof(void *);
	cache_heap = h;
	cache_base = (uintptr_t)h->base;
	__atomic_store_n(&cache_shadow, sh, __ATOMIC_RELEASE);
}

static void cache_thread_exit(void *arg);

static struct thread_cache *cache_create(void)
{
	struct thread_cache *tc;
	void **slot;

	if (t_creating)
		return NULL;
	t_creating = 1;
	pthread_mutex_lock(&cache_lock);
	if (!cache_key_made &&
	    !pthread_key_create(&cache_key, cache_thread_exit))
		cache_key_made = 1;
	tc = spare_caches;
	if (tc)
		spare_caches = tc->next;
	pthread_mutex_unlock(&cache_lock);
	if (!cache_key_made)
		goto fail;
	if (!tc) {
		tc = mmap(NULL, cache_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tc == MAP_FAILED)
			goto fail;
		tc->ops = (struct buddy_op *)(tc + 1);
		slot = (void **)(tc->ops + CACHE_BATCH_OPS);
		for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
			tc->bin[o].slot = slot;
			tc->bin[o].cap = bin_cap[o];
			slot += bin_cap[o];
		}
	}
	/* may allocate (a second-level key array): t_creating says "not yet" */
	if (pthread_setspecific(cache_key, tc)) {
		pthread_mutex_lock(&cache_lock);
		tc->next = spare_caches;
		spare_caches = tc;
		pthread_mutex_unlock(&cache_lock);
		goto fail;
	}
	pthread_mutex_lock(&cache_lock);
	tc->next = all_caches;
	all_caches = tc;
	pthread_mutex_unlock(&cache_lock);
	t_cache = tc;
	t_creating = 0;
	return tc;
fail:
	t_cache = CACHE_DEAD;
	t_creating = 0;
	return NULL;
}

/*
 * Fill an empty bin with up to half its capacity.  Returns blocks added.
 *
 * The bin takes the blocks under the heap's lock, as the kernel hands them
 * out: a fork's copy, made under that lock, never has blocks this cache
 * got from the kernel but does not list yet (a forked child could free
 * them from no cache: cache_fork_child()).
 */
static unsigned int refill(struct thread_cache *tc, unsigned int order)
{
	struct cache_bin *b = &tc->bin[order];
	unsigned int want = (b->cap + 1) / 2, got = 0;
	struct buddy_op *ops = tc->ops;
	int err;

	if (want > CACHE_BATCH_OPS)
		want = CACHE_BATCH_OPS;
	memset(ops, 0, want * sizeof(*ops));
	for (unsigned int i = 0; i < want; i++) {
		ops[i].op = BUDDY_OP_MALLOC;
		ops[i].size = 1u << (order + CACHE_GRAIN_SHIFT);
	}
	/* -EAGAIN (a fork pending) or ENOMEM: the uncached path decides */
	if (heap_lock_change(cache_heap))
		return 0;
	err = heap_batch_locked(cache_heap, ops, want);
	for (unsigned int i = 0; !err && i < want; i++) {
		void *p;

		if (ops[i].result)
			continue;
		p = (void *)(cache_base + ops[i].offset);
		__atomic_store_n(shadow_of(p), SH_CACHED | order,
				 __ATOMIC_RELAXED);
		b->slot[b->n + got++] = p;
	}
	__atomic_signal_fence(__ATOMIC_RELEASE);
	b->n += got;
	heap_unlock_change(cache_heap);
	if (err)
		return 0;
	__atomic_fetch_add(&nr_refills, 1, __ATOMIC_RELAXED);
	return got;
}

/*
 * Give the oldest k blocks of a bin back to the kernel.  Returns 0, or the
 * error of the BATCH call (-EAGAIN while a fork is pending) with the bin
 * unchanged.
 *
 * The shadow bytes are cleared before the kernel frees the blocks (another
 * thread may get them from the kernel at once), and put back if it did not,
 * or the bin shifted down if it did, all under the heap's lock: a fork's
 * copy sees the blocks either cached, in the bin with their shadow, or
 * freed (cache_fork_child() trusts the shadow).
 */
static int flush_bin(struct thread_cache *tc, unsigned int order,
		     unsigned int k)
{
	struct cache_bin *b = &tc->bin[order];
	struct buddy_op *ops = tc->ops;

	while (k) {
		unsigned int n = k < CACHE_BATCH_OPS ? k : CACHE_BATCH_OPS;
		int err;

		memset(ops, 0, n * sizeof(*ops));
		err = heap_lock_change(cache_heap);
		if (err)
			return err;
		for (unsigned int i = 0; i < n; i++) {
			ops[i].op = BUDDY_OP_FREE;
			ops[i].offset = (uintptr_t)b->slot[i] - cache_base;
			__atomic_store_n(shadow_of(b->slot[i]), 0,
					 __ATOMIC_RELAXED);
		}
		err = heap_batch_locked(cache_heap, ops, n);
		if (err) {
			for (unsigned int i = 0; i < n; i++)
				__atomic_store_n(shadow_of(b->slot[i]),
						 SH_CACHED | order,
						 __ATOMIC_RELAXED);
		} else {
			/*
			 * memmove() holds some slots in registers only (its
			 * first and last vectors) while it overwrites where
			 * they were: not where a fork may look
			 */
			memmove(b->slot, b->slot + n,
				(b->n - n) * sizeof(void *));
			b->n -= n;
		}
		heap_unlock_change(cache_heap);
		if (err)
			return err;
		for (unsigned int i = 0; i < n; i++)
			if (ops[i].result)
				die("libbuddy: internal error: the kernel refused to free a cached block");
		k -= n;
		__atomic_fetch_add(&nr_flushes, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

void *cache_alloc_slow(unsigned int order)
{
	struct thread_cache *tc = t_cache;

	if (tc == CACHE_DEAD || !cache_shadow)
		return NULL;
	if (tc == CACHE_NONE) {
		tc = cache_create();
		if (!tc)
			return NULL;
	}
	if (!tc->bin[order].n && !refill(tc, order))
		return NULL;
	return cache_alloc(order);
}

/*
 * cache_free() could not push: the thread has no cache yet, none any more,
 * or a full bin.  Make room (flush half) or let the kernel free the block.
 */
int cache_push_slow(unsigned char *sh, unsigned char v, void *p)
{
	struct thread_cache *tc = t_cache;

	if (tc == CACHE_NONE)
		tc = cache_create();
	if (tc > CACHE_DEAD) {
		struct cache_bin *b = &tc->bin[v & SH_ORDER];

		if (b->n == b->cap)
			flush_bin(tc, v & SH_ORDER, b->cap - b->cap / 2);
		if (b->n < b->cap)
			return cache_free(p);
	}
	/* the kernel's from now on: a racing second free is a double free */
	return __atomic_compare_exchange_n(sh, &v, 0, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED) ? 0 : -1;
}

/*
 * Every block of a cache back to the kernel, waiting out a pending fork
 * or not.  Returns how many went back.
 */
static unsigned int flush_all(struct thread_cache *tc, int wait)
{
	unsigned int done = 0;

	for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
		unsigned int n = tc->bin[o].n;

		while (n && flush_bin(tc, o, n) == -EAGAIN && wait)
			sched_yield();
		done += n - tc->bin[o].n;
	}
	return done;
}

/**
 * cache_flush_self() - give the calling thread's cached blocks back
 *
 * Before a fork copies the heap (fork.c), before an allocation that failed
 * is retried, and from buddy_cache_flush() (client.c).  A pending fork
 * keeps them.
 *
 * Return: how many blocks went back.
 */
unsigned int cache_flush_self(void)
{
	return t_cache > CACHE_DEAD ? flush_all(t_cache, 0) : 0;
}

static void cache_thread_exit(void *arg)
{
	struct thread_cache *tc = arg, **pp;

	t_cache = CACHE_DEAD;
	(void)flush_all(tc, 1);
	pthread_mutex_lock(&cache_lock);
	for (pp = &all_caches; *pp; pp = &(*pp)->next)
		if (*pp == tc) {
			*pp = tc->next;
			break;
		}
	for (unsigned int o = 0; o < CACHE_ORDERS; o++)
		tc->bin[o].n = 0;	/* a block the kernel refused stays lost */
	tc->next = spare_caches;
	spare_caches = tc;
	pthread_mutex_unlock(&cache_lock);
}

/*
 * In a forked child, with one thread: the caches of the parent's other
 * threads have no owner.  Their blocks are allocated in the child's copy of
 * the heap; free those whose shadow still says "cached" (a fork can catch a
 * thread between two stores: a slot is trusted only with its shadow, and a
 * block is freed at most once).  The bins keep their counts for undo_push().
 */
static void reclaim(struct thread_cache *tc)
{
	uint64_t window = cache_heap->window;

	for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
		struct cache_bin *b = &tc->bin[o];
		unsigned int n = 0;

		for (unsigned int i = 0; i < b->n && i < b->cap; i++) {
			uintptr_t off = (uintptr_t)b->slot[i] - cache_base;
			unsigned char *sh;

			if (off >= window)
				continue;
			sh = shadow_of(b->slot[i]);
			if (*sh != (SH_CACHED | o))
				continue;
			*sh = 0;
			memset(&tc->ops[n], 0, sizeof(tc->ops[n]));
			tc->ops[n].op = BUDDY_OP_FREE;
			tc->ops[n].offset = off;
			if (++n == CACHE_BATCH_OPS) {
				heap_batch(cache_heap, tc->ops, n);
				n = 0;
			}
		}
		if (n)
			heap_batch(cache_heap, tc->ops, n);
	}
}

static int bin_holds(const struct cache_bin *b, const void *p)
{
	for (unsigned int i = 0; i < b->n && i < b->cap; i++)
		if (b->slot[i] == p)
			return 1;
	return 0;
}

/*
 * After reclaim() of every other cache: a free() the fork caught in the
 * middle of cache_free(), its block marked cached (the CAS) but not yet
 * counted in the bin (b->n++), is in slot[n] with a shadow that says
 * "cached", yet no cache lists it.  The push takes effect at b->n++, so the
 * free had not happened: the block is the program's again, which the child
 * may free (or leak, as glibc's child leaks what a vanished thread held).
 * Any other block in that state (a stale slot, a malloc() caught between
 * b->n-- and its shadow store) has no owner either: marking it handed out
 * changes nothing but what free() and malloc_usable_size() say of it.
 * Only a block the child's own cache holds stays cached.
 */
static void undo_push(struct thread_cache *tc, const struct thread_cache *self)
{
	uint64_t window = cache_heap->window;

	for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
		struct cache_bin *b = &tc->bin[o];
		uintptr_t off;
		unsigned char *sh;
		void *p;

		if (b->n >= b->cap)
			continue;
		p = b->slot[b->n];
		off = (uintptr_t)p - cache_base;
		if (off >= window || (off & ((1u << CACHE_GRAIN_SHIFT) - 1)))
			continue;
		sh = shadow_of(p);
		if (*sh != (SH_CACHED | o) ||
		    (self > CACHE_DEAD && bin_holds(&self->bin[o], p)))
			continue;
		*sh = SH_LIVE | o;
	}
}

void cache_fork_child(void)
{
	struct thread_cache *tc, *next, *self = t_cache;

	pthread_mutex_init(&cache_lock, NULL);
	if (!cache_shadow)
		return;
	for (tc = all_caches; tc; tc = tc->next)
		if (tc != self)
			reclaim(tc);
	for (tc = all_caches; tc; tc = next) {
		next = tc->next;
		if (tc == self)
			continue;
		undo_push(tc, self);
		for (unsigned int o = 0; o < CACHE_ORDERS; o++)
			tc->bin[o].n = 0;
		tc->next = spare_caches;
		spare_caches = tc;
	}
	all_caches = NULL;
	if (self > CACHE_DEAD) {
		self->next = NULL;
		all_caches = self;
	}
}

/* For BUDDY_STATS: a snapshot, exact when the other threads are idle. */
void cache_totals(uint64_t *threads, uint64_t *blocks, uint64_t *bytes,
		  uint64_t *refills, uint64_t *flushes)
{
	*threads = *blocks = *bytes = 0;
	pthread_mutex_lock(&cache_lock);
	for (struct thread_cache *tc = all_caches; tc; tc = tc->next) {
		++*threads;
		for (unsigned int o = 0; o < CACHE_ORDERS; o++) {
			uint64_t n = __atomic_load_n(&tc->bin[o].n,
						     __ATOMIC_RELAXED);

			*blocks += n;
			*bytes += n << (o + CACHE_GRAIN_SHIFT);
		}
	}
	pthread_mutex_unlock(&cache_lock);
	*refills = __atomic_load_n(&nr_refills, __ATOMIC_RELAXED);
	*flushes = __atomic_load_n(&nr_flushes, __ATOMIC_RELAXED);
}
