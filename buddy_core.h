/* SPDX-License-Identifier: GPL-2.0 */
/**
 * DOC: buddy_core
 *
 * A buddy allocator over offsets, with out-of-band metadata.
 *
 * The core hands out *offsets* into a heap's window, never pointers, and
 * keeps every bit of its bookkeeping outside the blocks it manages, so the
 * owner of the memory (a user process mapping the window) can scribble over
 * all of it without confusing the allocator.  It compiles unchanged in the
 * kernel and in userspace: everything it needs from its host comes through
 * buddy_port.h and the callbacks in struct buddy_ops.  It does no locking;
 * the embedder serialises calls on one heap.
 */

/**
 * DOC: Geometry
 *
 * Order k is a block of BUDDY_GRAIN << k bytes (grain 16 B).  A heap is a
 * window of BUDDY_GRAIN << cfg.max_order bytes, sparsely populated by
 * chunks.  A chunk is a power-of-two region aligned to its own size inside
 * the window, backed by memory from ops->chunk_alloc.  Blocks never span
 * chunks, and every block is aligned to its size relative to the window
 * base: an embedder that aligns the window base to its size gets absolute
 * natural alignment.
 */

/**
 * DOC: Allocation policy
 *
 * The smallest free block of a fitting order, and among those the one at
 * the lowest window offset (over all chunks), split down to the size
 * wanted with the right halves going back to the free bitmaps, like
 * expand() in mm/page_alloc.c.  A free block merges with its buddy as
 * far as it can go at once, like __free_one_page() (unless deferred
 * coalescing holds it back, see BUDDY_DEFER_ORDERS).
 *
 * With cfg.own_first, a heap whose clone shares some chunks' metadata
 * (buddy_heap_clone()) keeps away from those chunks while it can, since
 * its first change to one copies that chunk's metadata: it takes the
 * lowest fitting block of the smallest order from a chunk it owns, else
 * splits the smallest larger block a chunk it owns holds.  Only when no
 * chunk it owns has room does it break a chunk's sharing: the chunk whose
 * largest free block is the largest part of it (the fewest metadata bytes
 * copied per byte of free space gained; on a tie the lowest), and there
 * its smallest fitting block.  So a forked child, or its parent, copies
 * the metadata of the chunk with the most room once, not that of every
 * large chunk in which a small block happens to be free (a trimmed run's
 * tail, say).  Without a shared chunk nothing changes.  A chunk counts as
 * shared from the clone until the heap first writes to it, even if every
 * other heap has dropped it meanwhile (the write then copies nothing): a
 * parent whose child has exited keeps to the chunks it wrote since the
 * fork, splitting larger blocks there, until it writes to the others.
 */

/**
 * DOC: Growth ("doubling")
 *
 * The heap starts without any chunk.  When no free block is large
 * enough, a chunk is added of order max(step, order needed,
 * cfg.min_chunk_order), where step is the order of the largest power of
 * two <= heap bytes (so the heap doubles), limited, when
 * cfg.max_step_order is set and fewer than BUDDY_MAX_CHUNKS / 2 chunks
 * are live, to max(cfg.max_step_order, that order - 3): past the step
 * size the heap grows by an eighth, and once half the chunk slots are
 * used it doubles again, so the slots still reach the window.  The
 * chunk is reduced while it does not fit cfg.cap_bytes or
 * no window position is free for it, down to max(order needed,
 * min_chunk_order) (else -ENOMEM); if ops->chunk_alloc refuses a larger
 * chunk, the smallest one is tried once.  It goes at the lowest window
 * position aligned to its size that no live chunk covers, so holes left
 * by released chunks are reused.  Existing offsets never move.  A chunk
 * that becomes wholly free is handed back through ops->chunk_free (its
 * metadata through ops->meta_free) as long as the chunks left still hold
 * at least cfg.low_water_bytes.  At most BUDDY_MAX_CHUNKS chunks.
 */

/**
 * DOC: Metadata layout
 *
 * Nothing is ever stored inside chunk memory.  Each chunk of order K
 * (N = 2^K grains) has one ops->meta_alloc block of u64 words::
 *
 *   words 0..K     count[k]: free blocks of order k in this chunk
 *   free area      for depth d = 0..K (order k = K - d), at word
 *                  free_off[d] of the area: the free bitmap of order k,
 *                  2^d bits (bit i set <=> block i of order k, grains
 *                  [i << k, (i + 1) << k), is free), then its summary
 *                  levels: level l + 1 has one bit per word of level l,
 *                  set <=> that word is non-zero, up to a level of one
 *                  word.  Level 0 has max(1, 2^d / 64) words.
 *                  free_off[d] = sum over e < d of the region sizes;
 *                  it does not depend on K (heap->free_off[]).
 *   split area     at word free_off[K + 1] of the free area: for depth
 *                  d = 0..K-1 (order K - d, orders K..1) at word
 *                  (d <= 7 ? d : 2^(d - 6) + 5) of the area, 2^d bits,
 *                  max(1, 2^d / 64) words: bit i set <=> node i of that
 *                  order is split into two children.
 *   run area       right after the split area: one bit per BUDDY_TRIM_UNIT
 *                  bytes of the chunk, max(1, 2^K / 1024) words: bit i
 *                  set <=> an allocated block starting at byte
 *                  i * BUDDY_TRIM_UNIT of the chunk continues the run of
 *                  the block before it (see "Trimmed runs").
 *
 * Bits past 2^d in a one-word bitmap are always clear.  A node is free
 * (free bit), split (split bit), allocated (neither bit, and its parent
 * split or it is the chunk's top) or covered by an ancestor block
 * (neither bit, parent not split); both bits set never happens.  The
 * lowest free block of an order is found by descending the summaries
 * from their one top word: O(log64 N) reads.
 *
 * Size: about 2 free bits + 1/32 summary bit + 1 split bit per grain of
 * 128 bits plus 1 run bit per 2048, 2.42%, plus per-order words that
 * matter only for small chunks: 2.75% of a 64 KiB chunk (order 12),
 * 2.44% of 1 MiB, 2.42% from 16 MiB on.  Chunks of 32 KiB and less
 * exceed 3% (a 4 KiB chunk needs 6.6%): use cfg.min_chunk_order >= 12
 * where the budget matters.  The
 * struct buddy_heap itself (about 6 KiB) comes on top, once per heap.
 *
 * Requested sizes are not stored per block (16 bits per grain-sized
 * block would blow the budget): stats give the lifetime totals
 * bytes_requested_total and bytes_granted_total instead.
 */

/**
 * DOC: Trimmed runs
 *
 * With cfg.trim_order set, a request of order >= trim_order (more than
 * half of 16 << trim_order bytes) is not rounded up to a power of two but
 * to BUDDY_TRIM_UNIT, as alloc_pages_exact() trims a high-order page: the
 * block is taken as usual, then split down along its end, the tail going
 * back to the free bitmaps.  What stays is a *run* of allocated blocks of
 * decreasing order, at increasing offsets, the first at the block's
 * start; the run area marks the others.  A run is one allocation: its
 * offset is its first block's, its usable size the run's bytes.  free
 * returns every block of it (never deferred); realloc shrinks it by
 * trimming it again, and grows it in place when the free blocks after it
 * cover the new end (claiming them, trimmed the same way), else moves it.
 * A realloc that moves an allocation to grow it gives it its whole block,
 * untrimmed: a buffer that grows again then grows in place, where a run
 * trimmed to each new size would move at every step once something took
 * the blocks after it (a growing python3 list or string did, and each
 * move could double the heap).  A request that fills its block exactly
 * stays one block.  buddy_walk()
 * reports the blocks after a run's first as BUDDY_BLOCK_CONTINUED.
 */

/**
 * DOC: Complexity
 *
 * alloc, free, realloc in place and usable_size read and write O(K)
 * bits in O(K) words, with no scan proportional to the heap: alloc finds
 * the order and chunk from two masks, descends the summaries and splits
 * down; free finds the block by galloping from the offset's alignment
 * (about two split bits for any block start) and merges upwards.  A
 * trimmed run costs that once per block of it: fewer than K blocks when
 * allocated, at most 2K more per growth in place.  Chunk lookup is a
 * binary search over at most BUDDY_MAX_CHUNKS chunks.  While a clone
 * shares some chunk's metadata, cfg.own_first's choice of a chunk adds
 * O(max_order + chunks) to an allocation that would take a block from one
 * (the scan of every chunk only when the heap unshares a chunk, at most
 * once per chunk and clone).
 * Growth and release add O(max_order) for the masks.  buddy_check() and
 * buddy_walk() are O(heap size): debugging and heap maps only.
 */

/**
 * DOC: Validation
 *
 * free, realloc and usable_size accept only the start of an allocated
 * block that does not continue a run.  Otherwise they return
 * -BUDDY_ERR_OUTSIDE (no live chunk holds the offset), -BUDDY_ERR_FREE
 * (it is inside a free block: a double free) or -BUDDY_ERR_NOT_START
 * (inside an allocated block or run, or misaligned), and change nothing
 * but stats.nr_failed.
 */
#ifndef _BUDDY_CORE_H
#define _BUDDY_CORE_H

#include "buddy_port.h"

#define BUDDY_GRAIN_SHIFT	4
#define BUDDY_GRAIN		BIT_ULL(BUDDY_GRAIN_SHIFT)
/* Largest window (and so block) the core supports: 16 B << 36 = 1 TiB. */
#define BUDDY_MAX_ORDER		36
#define BUDDY_MAX_CHUNKS	64
/* A trimmed run's size is a multiple of this (16 grains, see the layout). */
#define BUDDY_TRIM_SHIFT	8
#define BUDDY_TRIM_UNIT		BIT_ULL(BUDDY_TRIM_SHIFT)

/**
 * DOC: Deferred coalescing
 *
 * Off unless buddy_heap_set_defer_depth() (the module's defer_depth
 * parameter) sets a depth: up to that many recently freed blocks of each
 * order below BUDDY_DEFER_ORDERS (blocks of up to 4 KiB) are kept as they
 * are, LIFO, and handed out again by the next allocation of that order
 * without touching the bitmaps.  They are free for every observer (stats,
 * walk, validation: freeing one again is -BUDDY_ERR_FREE) and are merged
 * for real when an allocation finds no free block in the bitmaps, before
 * the heap grows.  At most BUDDY_DEFER_DEPTH per order.
 */
#define BUDDY_DEFER_ORDERS	9
#define BUDDY_DEFER_DEPTH	16

/*
 * Flags for buddy_heap_alloc(), buddy_heap_alloc_aligned() and
 * buddy_heap_realloc().
 */
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
 * @copy: optional; copy @bytes from byte @src_off of chunk memory @src to
 *	byte @dst_off of chunk memory @dst, when realloc moves a block or a
 *	heap is cloned without @chunk_clone (memcpy when NULL).
 * @zero: optional; zero @bytes at byte @off of chunk memory @mem for
 *	BUDDY_ALLOC_ZERO (memset when NULL).  Blocks of a chunk added by the
 *	same call are not zeroed again: @chunk_alloc memory is zero.
 * @chunk_clone: optional; return chunk memory of @bytes with the contents
 *	of @mem, for buddy_heap_clone(), or NULL; it goes back through
 *	@chunk_free.  Without it a clone uses @chunk_alloc and @copy.
 * @meta_share: optional, with @meta_unshare; let a clone use metadata
 *	@mem of @bytes as well (take a reference: every user gives it back
 *	through @meta_free), or return false to have the clone copy it.
 * @meta_unshare: before a heap first writes metadata it shares: leave
 *	*@mem if no other heap still uses it, else point *@mem at a private
 *	copy of it and drop this heap's reference to the shared one.
 *	Return false if there was no memory for the copy, which may happen
 *	only when @must is false (@must: a free, which cannot fail).
 *
 * Chunk memory is opaque to the core when @copy and @zero are given (the
 * embedder may back a chunk with anything, e.g. an array of pages); only
 * buddy_chunk_address() and the NULL defaults treat it as an address.
 * @copy and @zero may fail with -ENOMEM (the embedder may need memory to
 * write, e.g. to break a page's sharing): the operation then fails with
 * -ENOMEM and every block is as it was (offsets, sizes, contents; outputs
 * not written).  Like any failed request it may leave free memory arranged
 * differently: deferred blocks merged, a chunk added or given back.
 */
struct buddy_ops {
	void *(*chunk_alloc)(void *ctx, u64 bytes);
	void (*chunk_free)(void *ctx, void *mem, u64 bytes);
	void *(*meta_alloc)(void *ctx, size_t bytes);
	void (*meta_free)(void *ctx, void *mem, size_t bytes);
	int (*copy)(void *ctx, void *dst, u64 dst_off, const void *src,
		    u64 src_off, u64 bytes);
	int (*zero)(void *ctx, void *mem, u64 off, u64 bytes);
	void *(*chunk_clone)(void *ctx, const void *mem, u64 bytes);
	bool (*meta_share)(void *ctx, void *mem, size_t bytes);
	bool (*meta_unshare)(void *ctx, void **mem, size_t bytes, bool must);
};

/**
 * struct buddy_config - heap geometry and limits
 * @max_order: window is BUDDY_GRAIN << max_order bytes (<= BUDDY_MAX_ORDER).
 * @min_chunk_order: order of the first chunk and smallest growth step.
 * @cap_bytes: most chunk bytes the heap may hold at once (0: window size).
 * @low_water_bytes: wholly free chunks are returned only while the chunks
 *	left hold at least this much.
 * @max_step_order: 0, or the order of the largest chunk added only to make
 *	room (see "Growth"): a smaller step keeps each chunk's metadata,
 *	which a clone copies on its first change to the chunk, small.
 * @trim_order: 0, or the lowest order whose requests become trimmed runs
 *	(see "Trimmed runs"); more than BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT.
 * @own_first: after a clone, allocate from chunks whose metadata the heap
 *	does not share before unsharing another's (see "Allocation policy").
 */
struct buddy_config {
	unsigned int max_order;
	unsigned int min_chunk_order;
	u64 cap_bytes;
	u64 low_water_bytes;
	unsigned int max_step_order;
	unsigned int trim_order;
	bool own_first;
};

/* One chunk of a heap (read-only for embedders). */
struct buddy_chunk {
	u64 offset;		/* in the window, aligned to its size */
	unsigned int order;	/* size is BUDDY_GRAIN << order */
	void *mem;		/* from ops->chunk_alloc */
	void *meta;		/* bitmaps and counts, from ops->meta_alloc */
	size_t meta_bytes;
	bool meta_shared;	/* ops->meta_share()d: read-only until unshared */
	/* private: the free and split areas inside @meta (the run area follows) */
	u64 *free_area;
	u64 *split_area;
};

/**
 * struct buddy_stats - a snapshot of a heap
 * @heap_bytes: bytes in live chunks.
 * @bytes_free: bytes in free blocks (@heap_bytes - @bytes_in_use).
 * @nr_chunks: live chunks.
 * @counters: what the heap keeps up to date itself (struct buddy_heap's
 *	@counters); the rest is computed by buddy_get_stats().
 * @peak_heap_bytes: largest @heap_bytes seen.
 * @bytes_in_use: bytes in allocated blocks (usable sizes).
 * @peak_bytes_in_use: largest @bytes_in_use seen.
 * @bytes_requested_total: sum of sizes asked for, over the heap's life.
 * @bytes_granted_total: sum of block sizes handed out, over the heap's life
 *	(with @bytes_requested_total: the internal fragmentation).
 * @meta_bytes: metadata bytes for live chunks.
 * @live_blocks: allocated blocks.
 * @nr_allocs: successful buddy_heap_alloc() and buddy_heap_alloc_aligned()
 *	calls.
 * @nr_frees: successful buddy_heap_free() calls.
 * @nr_reallocs: successful buddy_heap_realloc() calls.
 * @nr_grows: chunks added over the heap's life.
 * @nr_shrinks: chunks given back over the heap's life.
 * @nr_failed: calls that failed (ENOMEM or a bad argument).
 * @largest_free_order: order of the largest free block, -1 if none.
 * @nr_orders: entries used in the per-order arrays (max_order + 1).
 * @free_blocks: free blocks per order (buddyinfo), deferred ones included.
 * @unusable_index: per order, mm/vmstat.c's unusable_free_index() in
 *	thousandths (grains play the role of pages).
 * @extfrag_index: per order, mm/vmstat.c's __fragmentation_index() in
 *	thousandths (-1000: a request of that order would succeed).
 *
 * The u64 fields are listed once more, for the code that handles them all
 * alike, in buddy_stat_list.h.
 */
struct buddy_stats {
	u64 heap_bytes;
	u64 bytes_free;
	u64 nr_chunks;

	struct_group_tagged(buddy_counters,
			    counters,
		u64 peak_heap_bytes;
		u64 bytes_in_use;
		u64 peak_bytes_in_use;
		u64 bytes_requested_total;
		u64 bytes_granted_total;
		u64 meta_bytes;
		u64 live_blocks;
		u64 nr_allocs;
		u64 nr_frees;
		u64 nr_reallocs;
		u64 nr_grows;
		u64 nr_shrinks;
		u64 nr_failed;
	);
	int largest_free_order;
	unsigned int nr_orders;
	u64 free_blocks[BUDDY_MAX_ORDER + 1];
	int unusable_index[BUDDY_MAX_ORDER + 1];
	int extfrag_index[BUDDY_MAX_ORDER + 1];
};

/**
 * struct buddy_heap - one heap
 * @cfg: the configuration given to buddy_heap_init().
 * @ops: the memory callbacks.
 * @ctx: passed to every callback.
 * @nr_chunks: live chunks.
 * @chunks: the live chunks, sorted by offset.
 * @heap_bytes: bytes in live chunks.
 * @free_blocks: free blocks per order in the bitmaps, over all chunks
 *	(deferred blocks are not included: see buddy_get_stats()).
 * @counters: lifetime and peak counters (the fields of struct buddy_stats
 *	that are not computed on demand; the type is defined there).
 * @order_mask: bit k set <=> @free_blocks[k] != 0.
 * @chunk_mask: bit c of [k] set <=> @chunks[c] has a free block of order k.
 * @shared_mask: bit c set <=> @chunks[c].meta_shared, for the allocation
 *	policy to test many chunks at once.
 * @free_off: word offset of the free region of depth d (see the layout).
 * @split_off: word offset of the split bitmap of depth d.
 * @defer: deferred coalescing: offsets of the freed blocks held back, per
 *	order, oldest first.
 * @defer_n: entries used in each @defer row.
 * @defer_mask: bit k set <=> @defer_n[k] != 0.
 * @defer_depth: most entries per @defer row
 *	(buddy_heap_set_defer_depth()).
 * @hint_offset: the last block handed out, while it stays allocated:
 *	freeing it skips the tree walk (only freeing or reallocating that
 *	very block can change its state).
 * @hint_order: its order, -1 when there is none.
 * @may_have_runs: a trimmed run was made since the heap was last empty:
 *	until then no run bit is set, and free and usable_size need not
 *	read them (a heap of small blocks pays nothing for trimming).
 * @fresh_offset: offset of the chunk added last (with @counters.nr_grows,
 *	tells a block carved from a chunk added by the same call: still zero).
 *
 * Embedders may read @cfg, @nr_chunks, @chunks and @heap_bytes; everything
 * else is private to buddy_core.c.  Use buddy_get_stats() for numbers.
 */
struct buddy_heap {
	struct buddy_config cfg;
	const struct buddy_ops *ops;
	void *ctx;
	unsigned int nr_chunks;
	struct buddy_chunk chunks[BUDDY_MAX_CHUNKS];
	u64 heap_bytes;
	u64 free_blocks[BUDDY_MAX_ORDER + 1];
	struct buddy_counters counters;
	u64 order_mask;
	u64 chunk_mask[BUDDY_MAX_ORDER + 1];
	u64 shared_mask;
	u64 free_off[BUDDY_MAX_ORDER + 2];
	u64 split_off[BUDDY_MAX_ORDER + 1];
	u64 defer[BUDDY_DEFER_ORDERS][BUDDY_DEFER_DEPTH];
	unsigned int defer_n[BUDDY_DEFER_ORDERS];
	unsigned int defer_mask;
	unsigned int defer_depth;
	u64 hint_offset;
	int hint_order;
	bool may_have_runs;
	u64 fresh_offset;
};

/*
 * State of a block as buddy_walk() reports it (deferred blocks are free;
 * CONTINUED: allocated, part of the run of the allocated block before it).
 */
enum buddy_block_state {
	BUDDY_BLOCK_FREE,
	BUDDY_BLOCK_ALLOCATED,
	BUDDY_BLOCK_CONTINUED,
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

/* Called by buddy_walk() for each block; non-zero stops the walk. */
typedef int (*buddy_walk_fn)(void *arg, u64 offset, unsigned int order,
			     enum buddy_block_state state);

int buddy_heap_init(struct buddy_heap *heap, const struct buddy_config *cfg,
		    const struct buddy_ops *ops, void *ctx);
void buddy_heap_destroy(struct buddy_heap *heap);
int buddy_heap_set_defer_depth(struct buddy_heap *heap, unsigned int depth);
int buddy_heap_clone(struct buddy_heap *dst, struct buddy_heap *src,
		     void *ctx);

int buddy_size_to_order(u64 size, unsigned int *order);
int buddy_heap_alloc(struct buddy_heap *heap, u64 size, unsigned int flags,
		     u64 *offset);
int buddy_heap_alloc_aligned(struct buddy_heap *heap, u64 size, u64 align,
			     unsigned int flags, u64 *offset);
int buddy_heap_free(struct buddy_heap *heap, u64 offset);
int buddy_heap_realloc(struct buddy_heap *heap, u64 offset, u64 size,
		       unsigned int flags, u64 *new_offset);
int buddy_heap_usable_size(const struct buddy_heap *heap, u64 offset,
			   u64 *size);

const struct buddy_chunk *buddy_chunk_at(const struct buddy_heap *heap,
					 u64 offset);
void *buddy_chunk_address(const struct buddy_heap *heap, u64 offset,
			  u64 *bytes_left);
void buddy_get_stats(const struct buddy_heap *heap, struct buddy_stats *st);
int buddy_walk(const struct buddy_heap *heap, buddy_walk_fn fn, void *arg);
int buddy_walk_from(const struct buddy_heap *heap, u64 start,
		    buddy_walk_fn fn, void *arg);
int buddy_check(const struct buddy_heap *heap, struct buddy_violation *v);

static inline u64 buddy_window_bytes(const struct buddy_heap *heap)
{
	return BUDDY_GRAIN << heap->cfg.max_order;
}

#endif /* _BUDDY_CORE_H */
