/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-thread caches of small blocks for the default heap (cache.c).
 *
 * Requests up to CACHE_MAX_BYTES are rounded to one of CACHE_CLASSES size
 * classes (16-byte steps up to 128, then four, from 512 eight, per
 * doubling).  A thread keeps, per class, a stack of objects the program
 * does not hold; malloc pops one, free pushes one; a stack that runs empty
 * is refilled from the class's slabs and one that runs full is half
 * flushed to them (slab.c).  The kernel sees only the slabs.
 *
 * The shadow map says what the shim knows of the object starting at an
 * address: SH_LIVE|class (handed out), SH_CACHED|class (in a cache or free
 * in its slab) or 0 (nothing: the kernel decides).  It is what lets free()
 * of an object skip the kernel and still refuse a double free or an
 * interior pointer: only a start with SH_LIVE goes into a cache; SH_CACHED
 * is a double free; anything else is the kernel's to validate (an interior
 * pointer of a slab is one of its block).  It is private memory, one array
 * per slab with a byte per 1 << shift bytes of it, shift the lowest set bit
 * of the class's size: every object start has its own byte, and a slab of
 * 2 KiB objects needs 32 bytes, not the 4 KiB of a byte per 16-byte grain.
 *
 * Above slab.c and heap.c, below malloc.c.
 */
#ifndef BUDDY_SHIM_CACHE_H
#define BUDDY_SHIM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define CACHE_MAX_BYTES		4096u
#define CACHE_CLASSES		40	/* 16 B .. 4 KiB: cache.c */
#define CACHE_GRAIN_SHIFT	4

#define SLAB_SHIFT	16
#define SLAB_BYTES	(1u << SLAB_SHIFT)

#define SH_CLASS	0x3f
#define SH_LIVE		0x40
#define SH_CACHED	0x80

struct cache_bin {
	unsigned int n;		/* blocks held: slot[0..n) */
	unsigned int cap;	/* at most this many */
	void **slot;		/* oldest at the bottom, flushed first */
};

struct thread_cache {
	struct cache_bin bin[CACHE_CLASSES];
	struct thread_cache *next;	/* every cache, for fork and stats */
};

/* A slab's shadow bytes, or NULL where the window has no slab. */
struct slab_shadow {
	unsigned char *bytes;
	unsigned int shift;
};

/*
 * Per SLAB_BYTES of the window; set once the default heap is open with the
 * cache on, NULL otherwise.
 */
extern struct slab_shadow *cache_shadow;
extern uintptr_t cache_base;
extern __thread struct thread_cache *t_cache;
/* class of a request of n bytes: cache_class_of[(n + 15) >> 4] */
extern unsigned char cache_class_of[(CACHE_MAX_BYTES >> CACHE_GRAIN_SHIFT) + 1];
extern unsigned short cache_class_size[CACHE_CLASSES];

/* t_cache values below this are states, not caches. */
#define CACHE_NONE	((struct thread_cache *)0)	/* not created yet */
#define CACHE_DEAD	((struct thread_cache *)1)	/* never again */

void cache_init(struct buddy_handle *h);
void *cache_alloc_slow(unsigned int cls);
int cache_push_slow(unsigned char *sh, unsigned char v, void *p);
unsigned int cache_flush_self(void);
void cache_return_deferred(void *p);
void cache_fork_child(void);

struct cache_totals {
	uint64_t threads, blocks, bytes, refills, flushes;
	uint64_t slabs, slab_free_bytes;
};
void cache_totals(struct cache_totals *t);

/* Class of the smallest object holding n (<= CACHE_MAX_BYTES) bytes. */
static inline unsigned int cache_class(size_t n)
{
	return cache_class_of[(n + (1u << CACHE_GRAIN_SHIFT) - 1) >>
			      CACHE_GRAIN_SHIFT];
}

/* The shadow byte of p, which starts an object of a slab. */
static inline unsigned char *shadow_of(const void *p)
{
	uintptr_t off = (uintptr_t)p - cache_base;
	const struct slab_shadow *s = &cache_shadow[off >> SLAB_SHIFT];

	return s->bytes + ((off & (SLAB_BYTES - 1)) >> s->shift);
}

/*
 * What the shim knows of a pointer in the window that may be a block
 * start: the shadow state, 0 for nothing (also for any pointer where no
 * slab is or off its class's alignment, whose *shp is then NULL), and
 * where its shadow byte is in *shp.
 */
static inline unsigned char shadow_state(const void *p, unsigned char **shp)
{
	uintptr_t off = (uintptr_t)p - cache_base;
	struct slab_shadow *s = &cache_shadow[off >> SLAB_SHIFT];
	/* slab.c stores shift before bytes, and clears bytes first */
	unsigned char *bytes = __atomic_load_n(&s->bytes, __ATOMIC_ACQUIRE);

	if (!bytes || (off & ((1u << s->shift) - 1))) {
		*shp = NULL;
		return 0;
	}
	*shp = bytes + ((off & (SLAB_BYTES - 1)) >> s->shift);
	return __atomic_load_n(*shp, __ATOMIC_RELAXED);
}

/* An object of the class for the caller, or NULL: use the uncached path. */
static inline void *cache_alloc(unsigned int cls)
{
	struct thread_cache *tc = t_cache;
	struct cache_bin *b;
	void *p;

	if (unlikely(tc <= CACHE_DEAD) || unlikely(!tc->bin[cls].n))
		return cache_alloc_slow(cls);
	b = &tc->bin[cls];
	p = b->slot[b->n - 1];
	b->n--;
	__atomic_store_n(shadow_of(p), SH_LIVE | cls, __ATOMIC_RELAXED);
	return p;
}

/*
 * free() of p, inside the window: 1 when a cache or its slab took it, 2
 * when its free waits for a pending fork's end (cache_push_slow()), 0 when
 * it is the kernel's to free (or refuse), -1 for a double free.
 */
static inline int cache_free(void *p)
{
	struct thread_cache *tc = t_cache;
	unsigned char *sh, v = shadow_state(p, &sh);
	struct cache_bin *b;

	if (!(v & SH_LIVE))
		return v & SH_CACHED ? -1 : 0;
	if (likely(tc > CACHE_DEAD)) {
		b = &tc->bin[v & SH_CLASS];
		if (likely(b->n < b->cap)) {
			unsigned char held = SH_CACHED | (v & SH_CLASS);

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
 * p's usable size when it is an object handed out; 0 when the shim knows
 * nothing of it (ask the kernel); -1 for an object in a cache or a slab (a
 * freed one).
 */
static inline long cache_usable(const void *p)
{
	unsigned char *sh, v = shadow_state(p, &sh);

	if (v & SH_LIVE)
		return cache_class_size[v & SH_CLASS];
	return v & SH_CACHED ? -1 : 0;
}

#endif /* BUDDY_SHIM_CACHE_H */
