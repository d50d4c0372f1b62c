/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-thread caches of small blocks for the default heap (cache.c).
 *
 * A thread keeps, per order up to CACHE_MAX_BYTES, a stack of blocks that
 * the kernel has allocated to the process but the program does not hold.
 * malloc pops one, free pushes one; a stack that runs empty is refilled and
 * one that runs full is half flushed, with one BUDDY_IOC_BATCH each.  The
 * kernel still owns the heap: a cached block is an allocated block to it.
 *
 * The shadow map (one byte per 16-byte grain of the window, private
 * anonymous memory, touched only where cached orders live) says what the
 * shim knows of the block starting there: SH_LIVE|order (handed out from a
 * cache), SH_CACHED|order (sitting in a cache) or 0 (nothing: the kernel
 * decides).  It is what lets free() of a cached-order block skip the kernel
 * and still refuse a double free or an interior pointer: only a start with
 * SH_LIVE goes into a cache; SH_CACHED is a double free; anything else is
 * the kernel's to validate, as without the cache.
 *
 * Above heap.c, below malloc.c: it calls heap_batch() (and its _locked
 * parts) and nothing higher.
 */
#ifndef BUDDY_SHIM_CACHE_H
#define BUDDY_SHIM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define CACHE_MAX_BYTES		4096u
#define CACHE_ORDERS		9	/* 16 B .. 4 KiB at a 16-byte grain */
#define CACHE_GRAIN_SHIFT	4

#define SH_ORDER	0x3f
#define SH_LIVE		0x40
#define SH_CACHED	0x80

struct cache_bin {
	unsigned int n;		/* blocks held: slot[0..n) */
	unsigned int cap;	/* at most this many */
	void **slot;		/* oldest at the bottom, flushed first */
};

struct thread_cache {
	struct cache_bin bin[CACHE_ORDERS];
	struct thread_cache *next;	/* every cache, for fork and stats */
	struct buddy_op *ops;		/* BATCH scratch: CACHE_BATCH_OPS */
};

/* Set once the default heap is open with the cache on; NULL otherwise. */
extern unsigned char *cache_shadow;
extern uintptr_t cache_base;
extern __thread struct thread_cache *t_cache;

/* t_cache values below this are states, not caches. */
#define CACHE_NONE	((struct thread_cache *)0)	/* not created yet */
#define CACHE_DEAD	((struct thread_cache *)1)	/* never again */

void cache_init(struct buddy_handle *h);
void *cache_alloc_slow(unsigned int order);
int cache_push_slow(unsigned char *sh, unsigned char v, void *p);
unsigned int cache_flush_self(void);
void cache_fork_child(void);
void cache_totals(uint64_t *threads, uint64_t *blocks, uint64_t *bytes,
		  uint64_t *refills, uint64_t *flushes);

/* Order of the smallest cached block holding n (<= CACHE_MAX_BYTES) bytes. */
static inline unsigned int cache_order(size_t n)
{
	if (n <= (1u << CACHE_GRAIN_SHIFT))
		return 0;
	return (unsigned int)(64 - __builtin_clzl(n - 1)) - CACHE_GRAIN_SHIFT;
}

static inline unsigned char *shadow_of(const void *p)
{
	return cache_shadow +
		(((uintptr_t)p - cache_base) >> CACHE_GRAIN_SHIFT);
}

/*
 * What the shim knows of a pointer that may be a block start: the shadow
 * state, 0 for nothing (also for any pointer off the 16-byte grain, whose
 * *shp is then NULL), and where its shadow byte is in *shp.
 */
static inline unsigned char shadow_state(const void *p, unsigned char **shp)
{
	if ((uintptr_t)p & ((1u << CACHE_GRAIN_SHIFT) - 1)) {
		*shp = NULL;
		return 0;
	}
	*shp = shadow_of(p);
	return __atomic_load_n(*shp, __ATOMIC_RELAXED);
}

/* A block of the order for the caller, or NULL: use the uncached path. */
static inline void *cache_alloc(unsigned int order)
{
	struct thread_cache *tc = t_cache;
	struct cache_bin *b;
	void *p;

	if (unlikely(tc <= CACHE_DEAD) || unlikely(!tc->bin[order].n))
		return cache_alloc_slow(order);
	b = &tc->bin[order];
	p = b->slot[b->n - 1];
	b->n--;
	__atomic_store_n(shadow_of(p), SH_LIVE | order, __ATOMIC_RELAXED);
	return p;
}

/*
 * free() of p, inside the window: 1 when a cache took it, 0 when it is the
 * kernel's to free (or refuse), -1 for a double free of a cached block.
 */
static inline int cache_free(void *p)
{
	struct thread_cache *tc = t_cache;
	unsigned char *sh, v = shadow_state(p, &sh);
	struct cache_bin *b;

	if (!(v & SH_LIVE))
		return v & SH_CACHED ? -1 : 0;
	if (likely(tc > CACHE_DEAD)) {
		b = &tc->bin[v & SH_ORDER];
		if (likely(b->n < b->cap)) {
			unsigned char held = SH_CACHED | (v & SH_ORDER);

			/*
			 * slot[n] first: a forked child finds a push caught
			 * after the CAS there (cache_fork_child()), and trusts
			 * slot[0..n) with their shadow
			 */
			b->slot[b->n] = p;
			__atomic_signal_fence(__ATOMIC_RELEASE);
			/* one winner if two threads free the same block */
			if (!__atomic_compare_exchange_n(sh, &v, held, 0,
							 __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED))
				return -1;
			__atomic_signal_fence(__ATOMIC_RELEASE);
			b->n++;
			return 1;
		}
	}
	return cache_push_slow(sh, v, p);
}

/*
 * p's usable size when it is a block handed out from a cache; 0 when the
 * shim knows nothing of it (ask the kernel); -1 for a block sitting in a
 * cache (a freed block).
 */
static inline long cache_usable(const void *p)
{
	unsigned char *sh, v = shadow_state(p, &sh);

	if (v & SH_LIVE)
		return 1L << ((v & SH_ORDER) + CACHE_GRAIN_SHIFT);
	return v & SH_CACHED ? -1 : 0;
}

/*
 * Hand a block handed out from a cache over to the kernel's bookkeeping
 * alone (realloc to a size the caches do not hold).  1 when p was such a
 * block, 0 when not, -1 when it sits in a cache (freed).
 */
static inline int cache_release(void *p)
{
	unsigned char *sh, v = shadow_state(p, &sh);

	if (!(v & SH_LIVE))
		return v & SH_CACHED ? -1 : 0;
	return __atomic_compare_exchange_n(sh, &v, 0, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED) ? 1 : -1;
}

#endif /* BUDDY_SHIM_CACHE_H */
