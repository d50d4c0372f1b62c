/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_core - a buddy allocator over offsets, with out-of-band metadata.
 *
 * The core hands out *offsets* into a heap's window, never pointers, and
 * keeps every bit of its bookkeeping outside the blocks it manages, so the
 * owner of the memory (a user process mapping the window) can scribble over
 * all of it without confusing the allocator.  It compiles unchanged in the
 * kernel and in userspace: everything it needs from its host comes through
 * buddy_port.h and the callbacks in struct buddy_ops.  It does no locking;
 * the embedder serialises calls on one heap.
 *
 * Geometry
 *   Order k is a block of BUDDY_GRAIN << k bytes (grain 16 B).  A heap is a
 *   window of BUDDY_GRAIN << cfg.max_order bytes, sparsely populated by
 *   chunks.  A chunk is a power-of-two region aligned to its own size inside
 *   the window, backed by memory from ops->chunk_alloc.  Blocks never span
 *   chunks, and every block is aligned to its size relative to the window
 *   base: an embedder that aligns the window base to its size gets absolute
 *   natural alignment.
 *
 * Growth ("doubling")
 *   When no free block is large enough, a new chunk is added whose size is
 *   the larger of the current heap size (so the heap doubles) and the block
 *   needed, clamped to what cfg.cap_bytes still allows (falling back to just
 *   the block needed).  It goes at the lowest window position aligned to its
 *   size that no live chunk covers.  Existing offsets never move.  A chunk
 *   that becomes wholly free is handed back through ops->chunk_free as long
 *   as the chunks left still hold at least cfg.low_water_bytes.
 *
 * Metadata layout (per chunk of order K, N = 2^K grains, one allocation)
 *   - free bitmap per order k = 0..K: bit i set <=> the block of order k
 *     starting at grain i << k is free.  Each has summary levels (bit j of
 *     level l+1 set <=> word j of level l is non-zero) so the lowest free
 *     block of an order is found in O(log64 N).
 *   - split bitmap per order k = 1..K: bit i set <=> that node is split
 *     into two order k-1 children.
 *   - free block count per order.
 *   A node is free (free bit), split (split bit), allocated (neither, and
 *   its parent split or it is the chunk's top node), or covered by an
 *   ancestor block (both bits clear).  About 2N free bits + N split bits:
 *   ~2.4% of chunk bytes with the summaries, within the 3% budget.
 *
 * Complexity: alloc, free, realloc in place and usable_size are O(log N)
 * in the chunk size plus O(number of chunks) (at most BUDDY_MAX_CHUNKS).
 * buddy_check() and buddy_walk() are O(heap size): debugging only.
 */
#ifndef _BUDDY_CORE_H
#define _BUDDY_CORE_H

#include "buddy_port.h"

#define BUDDY_GRAIN_SHIFT	4
#define BUDDY_GRAIN		BIT_ULL(BUDDY_GRAIN_SHIFT)
/* Largest window (and so block) the core supports: 16 B << 36 = 1 TiB. */
#define BUDDY_MAX_ORDER		36
#define BUDDY_MAX_CHUNKS	64

/*
 * Deferred coalescing (optional, cfg.cache_depth): up to cache_depth
 * recently freed blocks of each order below BUDDY_CACHE_ORDERS (blocks of
 * up to 4 KiB) are kept as they are, LIFO, and handed out again by the
 * next allocation of that order without touching the bitmaps.  They are
 * free for every observer (stats, walk, validation: freeing one again is
 * -BUDDY_ERR_FREE) and are merged for real when an allocation finds no
 * free block in the bitmaps, before the heap grows.
 */
#define BUDDY_CACHE_ORDERS	9
#define BUDDY_CACHE_DEPTH	16

/* Flags for buddy_alloc(), buddy_alloc_aligned() and buddy_realloc(). */
#define BUDDY_ALLOC_ZERO	0x1u	/* zero the usable size of the block */
#define BUDDY_ALLOC_FLAGS	BUDDY_ALLOC_ZERO

/*
 * Results of validating an offset handed in by a caller (returned negated).
 * They are distinct so the embedder can tell the user what went wrong.
 */
#define BUDDY_ERR_OUTSIDE	ENXIO	 /* not inside any live chunk */
#define BUDDY_ERR_NOT_START	EINVAL	 /* inside a block but not its start */
#define BUDDY_ERR_FREE		EALREADY /* inside a free block: double free */

/**
 * struct buddy_ops - what the embedder provides
 * @chunk_alloc: return @bytes of zeroed memory for a chunk, or NULL.
 *	@bytes is a power of two >= 16 << cfg.min_chunk_order.
 * @chunk_free: give back memory from @chunk_alloc.
 * @meta_alloc: return @bytes of zeroed memory for metadata, or NULL.
 * @meta_free: give back memory from @meta_alloc.
 * @copy: optional; copy block contents when realloc moves a block
 *	(memcpy when NULL).
 */
struct buddy_ops {
	void *(*chunk_alloc)(void *ctx, u64 bytes);
	void (*chunk_free)(void *ctx, void *mem, u64 bytes);
	void *(*meta_alloc)(void *ctx, size_t bytes);
	void (*meta_free)(void *ctx, void *mem, size_t bytes);
	void (*copy)(void *ctx, void *dst, const void *src, u64 bytes);
};

/**
 * struct buddy_config - heap geometry and limits
 * @max_order: window is BUDDY_GRAIN << max_order bytes (<= BUDDY_MAX_ORDER).
 * @min_chunk_order: order of the first chunk and smallest growth step.
 * @cap_bytes: most chunk bytes the heap may hold at once (0: window size).
 * @low_water_bytes: wholly free chunks are returned only while the chunks
 *	left hold at least this much.
 * @cache_depth: blocks per order kept back from coalescing (0: none, at
 *	most BUDDY_CACHE_DEPTH); see BUDDY_CACHE_ORDERS.
 */
struct buddy_config {
	unsigned int max_order;
	unsigned int min_chunk_order;
	u64 cap_bytes;
	u64 low_water_bytes;
	unsigned int cache_depth;
};

struct buddy_chunk {
	u64 offset;		/* in the window, aligned to its size */
	unsigned int order;	/* size is BUDDY_GRAIN << order */
	void *mem;		/* from ops->chunk_alloc */
	void *meta;		/* bitmaps and counts, from ops->meta_alloc */
	size_t meta_bytes;
};

/**
 * struct buddy_stats - a snapshot of a heap
 * @heap_bytes: bytes in live chunks.
 * @peak_heap_bytes: largest @heap_bytes seen.
 * @bytes_in_use: bytes in allocated blocks.
 * @peak_bytes_in_use: largest @bytes_in_use seen.
 * @bytes_free: bytes in free blocks (@heap_bytes - @bytes_in_use).
 * @bytes_requested_total: sum of sizes asked for, over the heap's life.
 * @bytes_granted_total: sum of block sizes handed out, over the heap's life
 *	(with @bytes_requested_total: the internal fragmentation).
 * @meta_bytes: metadata bytes for live chunks.
 * @live_blocks: allocated blocks.
 * @nr_chunks: live chunks.
 * @nr_allocs/@nr_frees/@nr_reallocs: successful calls over the heap's life.
 * @nr_grows/@nr_shrinks: chunks added and returned.
 * @nr_failed: calls that failed (ENOMEM or a bad argument).
 * @largest_free_order: order of the largest free block, -1 if none.
 * @nr_orders: entries used in the per-order arrays (max_order + 1).
 * @free_blocks: free blocks per order (buddyinfo).
 * @unusable_index: per order, mm/vmstat.c's unusable_free_index() in
 *	thousandths (grains play the role of pages).
 * @extfrag_index: per order, mm/vmstat.c's __fragmentation_index() in
 *	thousandths (-1000: a request of that order would succeed).
 */
struct buddy_stats {
	u64 heap_bytes;
	u64 peak_heap_bytes;
	u64 bytes_in_use;
	u64 peak_bytes_in_use;
	u64 bytes_free;
	u64 bytes_requested_total;
	u64 bytes_granted_total;
	u64 meta_bytes;
	u64 live_blocks;
	u64 nr_chunks;
	u64 nr_allocs;
	u64 nr_frees;
	u64 nr_reallocs;
	u64 nr_grows;
	u64 nr_shrinks;
	u64 nr_failed;
	int largest_free_order;
	unsigned int nr_orders;
	u64 free_blocks[BUDDY_MAX_ORDER + 1];
	int unusable_index[BUDDY_MAX_ORDER + 1];
	int extfrag_index[BUDDY_MAX_ORDER + 1];
};

/**
 * struct buddy_heap - one heap; fields are private to buddy_core.c
 */
struct buddy_heap {
	struct buddy_config cfg;
	const struct buddy_ops *ops;
	void *ctx;
	unsigned int nr_chunks;
	struct buddy_chunk chunks[BUDDY_MAX_CHUNKS];	/* sorted by offset */
	u64 heap_bytes;
	u64 free_blocks[BUDDY_MAX_ORDER + 1];		/* over all chunks */
	struct buddy_stats counters;	/* life-time and peak counters */
	/* private to buddy_core.c: */
	u64 order_mask;		/* bit k set <=> free_blocks[k] != 0 */
	/* bit c of [k] set <=> chunks[c] has a free block of order k */
	u64 chunk_mask[BUDDY_MAX_ORDER + 1];
	/* word offset of the free region of depth d (see the layout) */
	u64 free_off[BUDDY_MAX_ORDER + 2];
	/* deferred coalescing: offsets of cached free blocks, oldest first */
	u64 cache[BUDDY_CACHE_ORDERS][BUDDY_CACHE_DEPTH];
	unsigned int cache_n[BUDDY_CACHE_ORDERS];
	unsigned int cache_mask;	/* bit k set <=> cache_n[k] != 0 */
	/*
	 * The last block handed out, while it stays allocated (hint_order
	 * -1: none): freeing it skips the tree walk.  Only freeing or
	 * reallocating that very block can change its state.
	 */
	u64 hint_offset;
	int hint_order;
};

enum buddy_block_state {
	BUDDY_BLOCK_FREE,
	BUDDY_BLOCK_ALLOCATED,
};

/**
 * struct buddy_violation - first inconsistency found by buddy_check()
 * @offset: window offset of the node concerned (or 0).
 * @order: its order (or 0).
 * @what: a static string saying what is wrong.
 */
struct buddy_violation {
	u64 offset;
	unsigned int order;
	const char *what;
};

typedef int (*buddy_walk_fn)(void *arg, u64 offset, unsigned int order,
			     enum buddy_block_state state);

int buddy_heap_init(struct buddy_heap *heap, const struct buddy_config *cfg,
		    const struct buddy_ops *ops, void *ctx);
void buddy_heap_destroy(struct buddy_heap *heap);
int buddy_heap_clone(struct buddy_heap *dst, const struct buddy_heap *src,
		     void *ctx);

int buddy_size_to_order(u64 size, unsigned int *order);
int buddy_alloc(struct buddy_heap *heap, u64 size, unsigned int flags,
		u64 *offset);
int buddy_alloc_aligned(struct buddy_heap *heap, u64 size, u64 align,
			unsigned int flags, u64 *offset);
int buddy_free(struct buddy_heap *heap, u64 offset);
int buddy_realloc(struct buddy_heap *heap, u64 offset, u64 size,
		  unsigned int flags, u64 *new_offset);
int buddy_usable_size(const struct buddy_heap *heap, u64 offset, u64 *size);

void *buddy_chunk_address(const struct buddy_heap *heap, u64 offset,
			  u64 *bytes_left);
void buddy_get_stats(const struct buddy_heap *heap, struct buddy_stats *st);
int buddy_walk(const struct buddy_heap *heap, buddy_walk_fn fn, void *arg);
int buddy_check(const struct buddy_heap *heap, struct buddy_violation *v);

static inline u64 buddy_window_bytes(const struct buddy_heap *heap)
{
	return BUDDY_GRAIN << heap->cfg.max_order;
}

#endif /* _BUDDY_CORE_H */
