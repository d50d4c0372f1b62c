// SPDX-License-Identifier: GPL-2.0
/*
 * Per-thread caches of small blocks (see cache.h for the fast paths and the
 * shadow map): the size classes, creating a thread's cache, refilling it
 * from the slabs and flushing it to them (slab.c), flushing it at thread
 * exit and before fork, reclaiming the caches of threads a forked child
 * does not have, and the totals BUDDY_STATS prints.
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
#include "side.h"
#include "slab.h"
#include "util.h"

#define CACHE_MAX_SLOTS		512	/* most blocks per size class */
#define CACHE_DEFAULT_KIB	32

struct slab_shadow *cache_shadow;
uintptr_t cache_base;
__thread struct thread_cache *t_cache;
unsigned char cache_class_of[(CACHE_MAX_BYTES >> CACHE_GRAIN_SHIFT) + 1];
unsigned short cache_class_size[CACHE_CLASSES];

static struct buddy_handle *cache_heap;
static unsigned int bin_cap[CACHE_CLASSES];
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

/*
 * The size classes: 16-byte steps up to 128 bytes, then four steps per
 * doubling up to 512 and eight up to CACHE_MAX_BYTES.  Rounding wastes at
 * most a fifth of a request (a ninth from 512 bytes, where most bytes are),
 * not the half of a power of two; and every class is a multiple of the
 * grain, so objects in a slab are 16-byte aligned.
 */
static void make_classes(void)
{
	unsigned int c = 0, size = 0;

	while (size < CACHE_MAX_BYTES) {
		unsigned int pow = size ? 1u << (31 - __builtin_clz(size)) : 16;

		size += size < 128 ? 16 : size < 512 ? pow / 4 : pow / 8;
		if (c == CACHE_CLASSES)
			die("libbuddy: internal error: too many size classes");
		cache_class_size[c++] = (unsigned short)size;
	}
	if (c != CACHE_CLASSES)
		die("libbuddy: internal error: too few size classes");
	for (unsigned int i = 0, cls = 0; i < sizeof(cache_class_of); i++) {
		while (cache_class_size[cls] < i << CACHE_GRAIN_SHIFT)
			cls++;
		cache_class_of[i] = (unsigned char)cls;
	}
}

/**
 * cache_init() - turn the caches on for the default heap, unless told not to
 * @h: the default heap, open and mapped
 *
 * Without the shadow map or the slabs' array (no memory for them) the
 * caches stay off.
 */
void cache_init(struct buddy_handle *h)
{
	unsigned int kib = cache_kib();
	struct slab_shadow *sh;
	size_t slots = 0;

	if (!kib || h->info.grain_shift != CACHE_GRAIN_SHIFT)
		return;
	make_classes();
	for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
		size_t n = ((size_t)kib << 10) / cache_class_size[c];

		bin_cap[c] = n < 1 ? 1 : n > CACHE_MAX_SLOTS ?
			CACHE_MAX_SLOTS : (unsigned int)n;
		slots += bin_cap[c];
	}
	if (slab_init(h, CACHE_CLASSES, cache_class_size))
		return;
	sh = mmap(NULL, (h->window >> SLAB_SHIFT) * sizeof(*sh),
		  PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED)
		return;
	cache_bytes = sizeof(struct thread_cache) + slots * sizeof(void *);
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
		slot = (void **)(tc + 1);
		for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
			tc->bin[c].slot = slot;
			tc->bin[c].cap = bin_cap[c];
			slot += bin_cap[c];
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
 * Fill an empty bin with up to half its capacity, lowest address on top.
 * Returns objects added.
 *
 * The bin takes them under the heap's lock, as the slabs hand them out: a
 * fork's copy, made under that lock, never has objects the slabs gave this
 * cache but the bin does not list yet (cache_fork_child()).
 */
static unsigned int refill(struct thread_cache *tc, unsigned int cls)
{
	struct cache_bin *b = &tc->bin[cls];
	unsigned int want = (b->cap + 1) / 2, got;
	void **top = b->slot + b->n;

	/* -EAGAIN (a fork pending): the uncached path decides */
	if (heap_lock_change(cache_heap))
		return 0;
	got = slab_take(cls, top, want);
	for (unsigned int i = 0; i < got / 2; i++) {
		void *p = top[i];

		top[i] = top[got - 1 - i];
		top[got - 1 - i] = p;
	}
	__atomic_signal_fence(__ATOMIC_RELEASE);
	b->n += got;
	heap_unlock_change(cache_heap);
	if (got)
		__atomic_fetch_add(&nr_refills, 1, __ATOMIC_RELAXED);
	return got;
}

/*
 * Give the oldest k objects of a bin back to their slabs.  Returns 0, or
 * -EAGAIN with the bin unchanged while a fork is pending.
 *
 * Under the heap's lock: a fork's copy sees the objects either in the bin
 * or in their slabs (cache_fork_child() trusts the bin's slots).
 */
static int flush_bin(struct thread_cache *tc, unsigned int cls,
		     unsigned int k)
{
	struct cache_bin *b = &tc->bin[cls];
	int err = heap_lock_change(cache_heap);

	if (err)
		return err;
	for (unsigned int i = 0; i < k; i++)
		slab_put(b->slot[i], cls);
	/*
	 * memmove() holds some slots in registers only (its first and last
	 * vectors) while it overwrites where they were: not where a fork may
	 * look
	 */
	memmove(b->slot, b->slot + k, (b->n - k) * sizeof(void *));
	b->n -= k;
	heap_unlock_change(cache_heap);
	__atomic_fetch_add(&nr_flushes, 1, __ATOMIC_RELAXED);
	return 0;
}

void *cache_alloc_slow(unsigned int cls)
{
	struct thread_cache *tc = t_cache;

	if (tc == CACHE_DEAD || !cache_shadow)
		return NULL;
	if (tc == CACHE_NONE) {
		tc = cache_create();
		if (!tc)
			return NULL;
	}
	if (!tc->bin[cls].n && !refill(tc, cls))
		return NULL;
	return cache_alloc(cls);
}

struct live_to_cached {
	unsigned char *sh;
	unsigned char live;
};

/* Mark an object free, unless another thread did (a double free). */
static int mark_free(void *arg)
{
	struct live_to_cached *m = arg;
	unsigned char v = m->live;

	return __atomic_compare_exchange_n(m->sh, &v, SH_CACHED | (v & SH_CLASS),
					   0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/*
 * cache_free() could not push: the thread has no cache yet, none any more,
 * or a full bin.  Make room (flush half), or put the object straight back
 * in its slab.  1 when the object is free, 2 when its free is queued for a
 * pending fork's end (the caller replays the queue if that has come), -1
 * for a double free.
 *
 * The object is marked free (its shadow) where a fork's child finds it
 * either way: under the heap's lock with its slab, or, while a fork is
 * pending, in the same step as its deferred free is queued (side.c); with
 * that queue full, this waits for the fork's end.
 */
int cache_push_slow(unsigned char *sh, unsigned char v, void *p)
{
	struct live_to_cached m = { .sh = sh, .live = v };
	struct thread_cache *tc = t_cache;
	unsigned int cls = v & SH_CLASS;
	int err;

	if (tc == CACHE_NONE)
		tc = cache_create();
	if (tc > CACHE_DEAD) {
		struct cache_bin *b = &tc->bin[cls];

		if (b->n == b->cap)
			flush_bin(tc, cls, b->cap - b->cap / 2);
		if (b->n < b->cap)
			return cache_free(p);
	}
	if (heap_lock_change(cache_heap)) {
		err = defer_free_if(((uintptr_t)p - cache_base) | DEFER_SLAB,
				    mark_free, &m);
		if (err != -1)
			return err ? -1 : 2;
		while (heap_lock_change(cache_heap))
			sched_yield();
	}
	err = mark_free(&m);
	if (err)
		slab_put(p, cls);
	heap_unlock_change(cache_heap);
	return err ? 1 : -1;
}

/**
 * cache_return_deferred() - a deferred free of an object, once a fork is over
 * @p: the object (its shadow says SH_CACHED | class since cache_push_slow())
 *
 * Under the heap's lock (malloc.c's run_deferred()).
 */
void cache_return_deferred(void *p)
{
	slab_put(p, *shadow_of(p) & SH_CLASS);
}

/*
 * Every object of a cache back to the slabs, waiting out a pending fork
 * or not.  Returns how many went back.
 */
static unsigned int flush_all(struct thread_cache *tc, int wait)
{
	unsigned int done = 0;

	for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
		unsigned int n = tc->bin[c].n;

		while (n && flush_bin(tc, c, n) == -EAGAIN && wait)
			sched_yield();
		done += n - tc->bin[c].n;
	}
	return done;
}

/**
 * cache_flush_self() - give the calling thread's cached blocks back
 *
 * Before a fork copies the heap (fork.c), before an allocation that failed
 * is retried, and from buddy_cache_flush() (client.c): the objects go back
 * to their slabs, and every slab no object is used of to the kernel.  A
 * pending fork keeps them.
 *
 * Return: how many objects and slabs went back.
 */
unsigned int cache_flush_self(void)
{
	unsigned int done;

	if (t_cache <= CACHE_DEAD)
		return 0;
	done = flush_all(t_cache, 0);
	if (!heap_lock_change(cache_heap)) {
		done += slab_release_empty();
		heap_unlock_change(cache_heap);
	}
	return done;
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
	for (unsigned int c = 0; c < CACHE_CLASSES; c++)
		tc->bin[c].n = 0;
	tc->next = spare_caches;
	spare_caches = tc;
	pthread_mutex_unlock(&cache_lock);
}

/*
 * In a forked child, with one thread: the caches of the parent's other
 * threads have no owner.  Put back in their slabs the objects whose shadow
 * still says "cached" (a fork can catch a thread between two stores: a slot
 * is trusted only with its shadow, and an object goes back at most once).
 * The bins keep their counts for undo_push().
 */
static void reclaim(struct thread_cache *tc)
{
	uint64_t window = cache_heap->window;

	for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
		struct cache_bin *b = &tc->bin[c];

		for (unsigned int i = 0; i < b->n && i < b->cap; i++) {
			uintptr_t off = (uintptr_t)b->slot[i] - cache_base;
			unsigned char *sh;

			if (off >= window ||
			    shadow_state(b->slot[i], &sh) != (SH_CACHED | c) ||
			    slab_holds_free(b->slot[i]))
				continue;
			slab_put(b->slot[i], c);
		}
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

	for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
		struct cache_bin *b = &tc->bin[c];
		uintptr_t off;
		unsigned char *sh;
		void *p;

		if (b->n >= b->cap)
			continue;
		p = b->slot[b->n];
		off = (uintptr_t)p - cache_base;
		if (off >= window ||
		    shadow_state(p, &sh) != (SH_CACHED | c) ||
		    slab_holds_free(p) ||
		    (self > CACHE_DEAD && bin_holds(&self->bin[c], p)))
			continue;
		*sh = SH_LIVE | c;
	}
}

/*
 * After the deferred frees' replay: a free the fork caught queued (its
 * object marked free) but not counted had not happened; the object is the
 * program's again (as in undo_push()).  A stale entry's object is left as
 * it is: free in its slab, or in the child's cache, or handed out.
 */
static void undo_deferred(const struct thread_cache *self)
{
	uint64_t off;
	unsigned char *sh;
	void *p;

	if (defer_uncounted(&off) || !(off & DEFER_SLAB))
		return;
	off &= ~(uint64_t)DEFER_SLAB;
	if (off >= cache_heap->window)
		return;
	p = (void *)(cache_base + off);
	if (!(shadow_state(p, &sh) & SH_CACHED) || slab_holds_free(p) ||
	    (self > CACHE_DEAD && bin_holds(&self->bin[*sh & SH_CLASS], p)))
		return;
	*sh = SH_LIVE | (*sh & SH_CLASS);
}

void cache_fork_child(void)
{
	struct thread_cache *tc, *next, *self = t_cache;

	pthread_mutex_init(&cache_lock, NULL);
	if (!cache_shadow)
		return;
	/* the child's heap is its own now: nothing else waits on its lock */
	if (!heap_lock_change(cache_heap)) {
		for (tc = all_caches; tc; tc = tc->next)
			if (tc != self)
				reclaim(tc);
		heap_unlock_change(cache_heap);
	}
	for (tc = all_caches; tc; tc = next) {
		next = tc->next;
		if (tc == self)
			continue;
		undo_push(tc, self);
		for (unsigned int c = 0; c < CACHE_CLASSES; c++)
			tc->bin[c].n = 0;
		tc->next = spare_caches;
		spare_caches = tc;
	}
	undo_deferred(self);
	all_caches = NULL;
	if (self > CACHE_DEAD) {
		self->next = NULL;
		all_caches = self;
	}
}

/* For BUDDY_STATS: a snapshot, exact when the other threads are idle. */
void cache_totals(struct cache_totals *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&cache_lock);
	for (struct thread_cache *tc = all_caches; tc; tc = tc->next) {
		t->threads++;
		for (unsigned int c = 0; c < CACHE_CLASSES; c++) {
			uint64_t n = __atomic_load_n(&tc->bin[c].n,
						     __ATOMIC_RELAXED);

			t->blocks += n;
			t->bytes += n * cache_class_size[c];
		}
	}
	pthread_mutex_unlock(&cache_lock);
	t->refills = __atomic_load_n(&nr_refills, __ATOMIC_RELAXED);
	t->flushes = __atomic_load_n(&nr_flushes, __ATOMIC_RELAXED);
	slab_totals(&t->slabs, &t->slab_free_bytes);
}
