/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slabs behind the per-thread caches (slab.c): each size class of
 * cache.h is served from 64 KiB kernel blocks cut into objects of that
 * class's size, as jemalloc and tcmalloc do.  The kernel sees one block per
 * slab; which objects of it are free is the shim's, in a side array indexed
 * by the slab's offset in the window (never in the window itself, where the
 * program could overwrite it).
 *
 * An object free in a slab has the shadow byte SH_CACHED | class, as one in
 * a cache: free() of it is a double free, and the kernel never sees a
 * pointer into a slab unless it is not an object's start.  slab.c owns the
 * shadow arrays (cache.h), one per slab.
 *
 * Every call but slab_init() runs under the default heap's lock, taken with
 * heap_lock_change(): a fork's copy of the heap is made under it, so the
 * copy and the slabs' bookkeeping (private memory, which fork() copies) agree.
 * Above heap.c, below cache.c.
 */
#ifndef BUDDY_SHIM_SLAB_H
#define BUDDY_SHIM_SLAB_H

#include <stdint.h>

#include "cache.h"
#include "heap.h"

int slab_init(struct buddy_handle *h, unsigned int nr_classes,
	      const unsigned short *class_size);
unsigned int slab_take(unsigned int cls, void **out, unsigned int want);
void slab_put(void *p, unsigned int cls);
int slab_holds_free(const void *p);
unsigned int slab_release_empty(void);
void slab_totals(uint64_t *slabs, uint64_t *free_bytes);

#endif /* BUDDY_SHIM_SLAB_H */
