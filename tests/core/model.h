/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model.h - a deliberately simple reference buddy allocator.
 *
 * Same policy as the core (smallest order, then lowest address; growth by
 * doubling into the lowest aligned hole; low-water release; deferred
 * coalescing; trimmed runs), but written the obvious way: free blocks are
 * sorted arrays of offsets per order, live blocks a sorted array.  Slow
 * but easy to trust; the tests run the core and the model side by side
 * and compare every result.
 */
#ifndef _BUDDY_MODEL_H
#define _BUDDY_MODEL_H

#include "../../buddy_core.h"

struct oset {
	u64 *v;		/* sorted */
	u8 *ord;	/* parallel orders (live set only) */
	size_t n, cap;
};

/*
 * In the live set, a piece of a trimmed run after its first has this bit
 * set in its ord (orders are <= BUDDY_MAX_ORDER, so it is free): a run is
 * an entry without it followed by the entries with it.
 */
#define MODEL_CONT	0x80

struct model {
	struct buddy_config cfg;
	u64 window, cap;
	unsigned int nr_chunks;
	u64 coff[BUDDY_MAX_CHUNKS];
	unsigned int cord[BUDDY_MAX_CHUNKS];
	u64 heap_bytes, in_use;	/* in_use: bytes of the runs */
	struct oset free[BUDDY_MAX_ORDER + 1];
	struct oset live;	/* every allocated block, run pieces included */
	u64 runs;		/* live entries without MODEL_CONT */
	long fail_chunk_in;	/* mirror of tmem.fail_chunk_in */
	/* deferred coalescing, same rules as the core */
	unsigned int defer_depth;
	u64 defer[BUDDY_DEFER_ORDERS][BUDDY_DEFER_DEPTH];
	unsigned int defer_n[BUDDY_DEFER_ORDERS];
};

void model_init(struct model *m, const struct buddy_config *cfg);
void model_copy(struct model *dst, const struct model *src);
void model_destroy(struct model *m);

int model_alloc(struct model *m, u64 size, u64 align, u64 *off);
int model_free(struct model *m, u64 off);
int model_realloc(struct model *m, u64 off, u64 size, u64 *new_off);
int model_usable(const struct model *m, u64 off, u64 *usable);
void model_set_defer_depth(struct model *m, unsigned int depth);

/*
 * Make @m the state of @h (chunks, free, deferred and live blocks), keeping
 * its config, defer depth and chunk-failure countdown: after a call whose
 * effect on free memory the model cannot predict (a failed write).
 */
void model_sync(struct model *m, const struct buddy_heap *h);

/* 0 when the core's heap matches the model exactly (blocks, chunks, counts) */
int model_compare(const struct model *m, const struct buddy_heap *h,
		  int full);

#endif /* _BUDDY_MODEL_H */
