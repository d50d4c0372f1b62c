// SPDX-License-Identifier: GPL-2.0
/*
 * A buddy allocator over offsets, with out-of-band metadata.
 *
 * See buddy_core.h for the geometry, the growth policy and the exact
 * metadata layout.  Nothing here touches block memory except to zero or
 * copy it on request; everything the allocator knows lives in the per-chunk
 * metadata and in struct buddy_heap.
 */
#include "buddy_core.h"

#define BUDDY_NO_CHUNK		(-1)

/* Geometry helpers */

static inline u64 order_bytes(unsigned int order)
{
	return BUDDY_GRAIN << order;
}

static inline u64 chunk_bytes(const struct buddy_chunk *c)
{
	return order_bytes(c->order);
}

/* Window offset of block @i of order @k in chunk @c. */
static inline u64 block_offset(const struct buddy_chunk *c, unsigned int k,
			       u64 i)
{
	return c->offset + (i << (k + BUDDY_GRAIN_SHIFT));
}

/* Index of the block of order @k in chunk @c that holds window @offset. */
static inline u64 block_index(const struct buddy_chunk *c, unsigned int k,
			      u64 offset)
{
	return (offset - c->offset) >> (k + BUDDY_GRAIN_SHIFT);
}

/* Words in one level-0 bitmap of 2^@depth bits (at least one word). */
static inline u64 bitmap_words(unsigned int depth)
{
	return depth <= 6 ? 1 : BIT_ULL(depth - 6);
}

/* Words in a free region of depth @depth: level 0 plus its summaries. */
static u64 free_region_words(unsigned int depth)
{
	u64 bits = BIT_ULL(depth);
	u64 total = 0;

	do {
		bits = (bits + 63) >> 6;
		total += bits;
	} while (bits > 1);
	return total;
}

/* Word offset of the split bitmap of depth @depth inside the split area. */
static inline u64 split_offset(unsigned int depth)
{
	return depth <= 7 ? depth : BIT_ULL(depth - 6) + 5;
}

/* Grains per run bit: a trimmed run's blocks start on BUDDY_TRIM_UNIT. */
#define RUN_GRAIN_SHIFT		(BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT)

/* Words in the run bitmap of a chunk of order @order. */
static inline u64 run_words(unsigned int order)
{
	return order <= RUN_GRAIN_SHIFT + 6 ? 1 :
	       BIT_ULL(order - RUN_GRAIN_SHIFT - 6);
}

/* Words of metadata for a chunk of order @order. */
static u64 meta_words(const struct buddy_heap *heap, unsigned int order)
{
	return order + 1 + heap->free_off[order + 1] + split_offset(order) +
	       run_words(order);
}

/* Per-order free counts of a chunk: the first order + 1 words. */
static inline u64 *chunk_counts(const struct buddy_chunk *c)
{
	return c->meta;
}

/* Point @c's free and split areas into its metadata (see the layout). */
static void set_areas(const struct buddy_heap *heap, struct buddy_chunk *c)
{
	c->free_area = (u64 *)c->meta + c->order + 1;
	c->split_area = c->free_area + heap->free_off[c->order + 1];
}

/*
 * The run bitmap of chunk @c, right after its split area (computed, not
 * kept: a struct buddy_chunk stays one cache line).
 */
static inline u64 *run_map(const struct buddy_chunk *c)
{
	return c->split_area + split_offset(c->order);
}

/* Level 0 of the free bitmap of order @k in chunk @c. */
static inline u64 *free_map(const struct buddy_heap *heap,
			    const struct buddy_chunk *c, unsigned int k)
{
	return c->free_area + heap->free_off[c->order - k];
}

/* Split bitmap of order @k (1 <= @k <= chunk order) in chunk @c. */
static inline u64 *split_map(const struct buddy_heap *heap,
			     const struct buddy_chunk *c, unsigned int k)
{
	return c->split_area + heap->split_off[c->order - k];
}

static inline bool test_bit64(const u64 *map, u64 i)
{
	return (map[i >> 6] >> (i & 63)) & 1;
}

static inline bool is_free(const struct buddy_heap *heap,
			   const struct buddy_chunk *c, unsigned int k, u64 i)
{
	return test_bit64(free_map(heap, c, k), i);
}

static inline bool is_split(const struct buddy_heap *heap,
			    const struct buddy_chunk *c, unsigned int k, u64 i)
{
	return test_bit64(split_map(heap, c, k), i);
}

static inline void set_split(const struct buddy_heap *heap,
			     const struct buddy_chunk *c, unsigned int k, u64 i)
{
	split_map(heap, c, k)[i >> 6] |= BIT_ULL(i & 63);
}

static inline void clear_split(const struct buddy_heap *heap,
			       const struct buddy_chunk *c, unsigned int k,
			       u64 i)
{
	split_map(heap, c, k)[i >> 6] &= ~BIT_ULL(i & 63);
}

/* Does the block starting at grain @g of chunk @c continue a run? */
static inline bool continues_run(const struct buddy_chunk *c, u64 g)
{
	return !(g & (BIT_ULL(RUN_GRAIN_SHIFT) - 1)) &&
	       test_bit64(run_map(c), g >> RUN_GRAIN_SHIFT);
}

/* Is grain @g, just past a block of chunk @c, the next block of its run? */
static inline bool run_follows(const struct buddy_chunk *c, u64 g)
{
	return g < BIT_ULL(c->order) && continues_run(c, g);
}

static inline void set_run_bit(const struct buddy_chunk *c, u64 g)
{
	run_map(c)[g >> (RUN_GRAIN_SHIFT + 6)] |=
		BIT_ULL((g >> RUN_GRAIN_SHIFT) & 63);
}

static inline void clear_run_bit(const struct buddy_chunk *c, u64 g)
{
	run_map(c)[g >> (RUN_GRAIN_SHIFT + 6)] &=
		~BIT_ULL((g >> RUN_GRAIN_SHIFT) & 63);
}

/*
 * Mark block @i of order @k in chunk @ci free.  Summary bits are set on the
 * way up only while the word below was empty, so this is O(1) amortised and
 * O(levels) at worst.  Inlined: it is most of the work of every split and
 * merge step.
 */
static __always_inline void mark_free(struct buddy_heap *heap,
				      unsigned int ci, unsigned int k, u64 i)
{
	struct buddy_chunk *c = &heap->chunks[ci];
	u64 *w = free_map(heap, c, k);
	u64 bits = BIT_ULL(c->order - k);

	for (;;) {
		u64 *p = &w[i >> 6];
		u64 old = *p;

		*p = old | BIT_ULL(i & 63);
		if (old)
			break;
		if (bits <= 64) {
			/* the top word was empty: first free block here */
			heap->chunk_mask[k] |= BIT_ULL(ci);
			break;
		}
		w += bits >> 6;
		bits >>= 6;
		i >>= 6;
	}
	chunk_counts(c)[k]++;
	if (!heap->free_blocks[k]++)
		heap->order_mask |= BIT_ULL(k);
}

/* Take block @i of order @k in chunk @ci off the free bitmap. */
static __always_inline void mark_used(struct buddy_heap *heap,
				      unsigned int ci, unsigned int k, u64 i)
{
	struct buddy_chunk *c = &heap->chunks[ci];
	u64 *w = free_map(heap, c, k);
	u64 bits = BIT_ULL(c->order - k);

	for (;;) {
		u64 *p = &w[i >> 6];

		*p &= ~BIT_ULL(i & 63);
		if (*p)
			break;
		if (bits <= 64) {
			heap->chunk_mask[k] &= ~BIT_ULL(ci);
			break;
		}
		w += bits >> 6;
		bits >>= 6;
		i >>= 6;
	}
	chunk_counts(c)[k]--;
	if (!--heap->free_blocks[k])
		heap->order_mask &= ~BIT_ULL(k);
}

/*
 * Lowest free block of order @k in chunk @c, which must have one: start at
 * the single top summary word and descend one level per step.
 */
static u64 find_free(const struct buddy_heap *heap,
		     const struct buddy_chunk *c, unsigned int k)
{
	u64 *w = free_map(heap, c, k);
	u64 bits = BIT_ULL(c->order - k);
	u64 *level[8];
	unsigned int n = 0;
	u64 i = 0;

	for (;;) {
		level[n++] = w;
		if (bits <= 64)
			break;
		w += bits >> 6;
		bits >>= 6;
	}
	while (n--)
		i = (i << 6) | buddy_ctz64(level[n][i]);
	return i;
}

/*
 * Index of the chunk holding @offset, or BUDDY_NO_CHUNK.  A binary search
 * written so the compiler can use conditional moves: with ten chunks or
 * so, mispredicted branches would cost more than the compares.
 */
static int find_chunk(const struct buddy_heap *heap, u64 offset)
{
	unsigned int base = 0, n = heap->nr_chunks;
	const struct buddy_chunk *c;

	if (!n)
		return BUDDY_NO_CHUNK;
	while (n > 1) {
		unsigned int half = n / 2;

		base = heap->chunks[base + half].offset <= offset ?
		       base + half : base;
		n -= half;
	}
	c = &heap->chunks[base];
	if (offset < c->offset || offset - c->offset >= chunk_bytes(c))
		return BUDDY_NO_CHUNK;
	return base;
}

/* Is the node of order @k on grain @g's path split? */
static inline bool path_split(const struct buddy_heap *heap,
			      const struct buddy_chunk *c, unsigned int k,
			      u64 g)
{
	return k && is_split(heap, c, k, g >> k);
}

/*
 * Order of the block (leaf) holding grain @g of chunk @c: the lowest node
 * on the grain's path whose parent is split, or the chunk's top.
 *
 * Start at the grain's alignment a, the largest order a block starting
 * there can have.  If node a is real, the nodes below it on the path are
 * split down to the leaf and not split from there on, so the leaf is
 * found by galloping down and bisecting: one probe when the block is of
 * order a (the usual case), O(log a) when a is large (offset 0, say).
 * If node a is covered, the offset is inside a larger block: walk up.
 */
static unsigned int find_leaf(const struct buddy_heap *heap,
			      const struct buddy_chunk *c, u64 g)
{
	unsigned int k, a, lo, hi, step;

	a = g ? buddy_ctz64(g) : c->order;
	if (a > c->order)
		a = c->order;
	if (a < c->order && !path_split(heap, c, a + 1, g)) {
		for (k = a + 1; k < c->order; k++)
			if (path_split(heap, c, k + 1, g))
				break;
		return k;
	}
	if (!path_split(heap, c, a, g))
		return a;
	/* split at hi, find a lower order that is not (order 0 never is) */
	hi = a;
	step = 1;
	for (;;) {
		lo = hi > step ? hi - step : 0;
		if (!path_split(heap, c, lo, g))
			break;
		hi = lo;
		step <<= 1;
	}
	/* the leaf is the highest order in [lo, hi) that is not split */
	while (hi - lo > 1) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (path_split(heap, c, mid, g))
			hi = mid;
		else
			lo = mid;
	}
	return lo;
}

/* Is the block of order @k at @offset held back from coalescing? */
static bool is_deferred(const struct buddy_heap *heap, unsigned int k,
			u64 offset)
{
	unsigned int j;

	if (k >= BUDDY_DEFER_ORDERS || !(heap->defer_mask & BIT(k)))
		return false;
	for (j = 0; j < heap->defer_n[k]; j++)
		if (heap->defer[k][j] == offset)
			return true;
	return false;
}

/* Find the allocated block starting at @offset, or say what is wrong. */
static int locate(const struct buddy_heap *heap, u64 offset,
		  unsigned int *cip, unsigned int *orderp, u64 *indexp)
{
	const struct buddy_chunk *c;
	unsigned int k;
	int ci;
	u64 rel, g;

	ci = find_chunk(heap, offset);
	if (ci == BUDDY_NO_CHUNK)
		return -BUDDY_ERR_OUTSIDE;
	c = &heap->chunks[ci];
	rel = offset - c->offset;
	g = rel >> BUDDY_GRAIN_SHIFT;
	k = find_leaf(heap, c, g);
	if (is_free(heap, c, k, g >> k) ||
	    is_deferred(heap, k, offset & ~(order_bytes(k) - 1)))
		return -BUDDY_ERR_FREE;
	if ((rel & (order_bytes(k) - 1)) ||
	    (heap->may_have_runs && continues_run(c, g)))
		return -BUDDY_ERR_NOT_START;
	*cip = ci;
	*orderp = k;
	*indexp = g >> k;
	return 0;
}

/* Chunks */

static void free_chunk_memory(struct buddy_heap *heap, struct buddy_chunk *c)
{
	heap->ops->chunk_free(heap->ctx, c->mem, chunk_bytes(c));
	heap->ops->meta_free(heap->ctx, c->meta, c->meta_bytes);
}

/*
 * Make chunk @ci's metadata this heap's alone before writing to it: a clone
 * shares it until then (ops->meta_share).  @must: for a free, which cannot
 * fail (the embedder's ops->meta_unshare then does not).
 */
static int own_meta(struct buddy_heap *heap, unsigned int ci, bool must)
{
	struct buddy_chunk *c = &heap->chunks[ci];

	if (likely(!c->meta_shared))
		return 0;
	if (!heap->ops->meta_unshare(heap->ctx, &c->meta, c->meta_bytes, must))
		return -ENOMEM;
	c->meta_shared = false;
	heap->shared_mask &= ~BIT_ULL(ci);
	set_areas(heap, c);
	return 0;
}

/* Lowest window offset aligned to 16 << @order clear of live chunks. */
static bool find_hole(const struct buddy_heap *heap, unsigned int order,
		      u64 *pos)
{
	u64 size = order_bytes(order);
	u64 p = 0;
	unsigned int i;

	for (i = 0; i < heap->nr_chunks; i++) {
		const struct buddy_chunk *c = &heap->chunks[i];
		u64 end = c->offset + chunk_bytes(c);

		if (end <= p)
			continue;
		if (c->offset >= p + size)
			break;
		p = (end + size - 1) & ~(size - 1);
	}
	if (p + size > buddy_window_bytes(heap))
		return false;
	*pos = p;
	return true;
}

/*
 * Keep bit c of @m meaning chunks[c] across an insertion (@insert: a zero
 * bit opens at @ci, the bits above move up) or a removal (bit @ci goes, the
 * bits above move down) in the chunk array.
 */
static u64 shift_mask(u64 m, unsigned int ci, bool insert)
{
	u64 below = BIT_ULL(ci) - 1;
	u64 above = insert ? (m & ~below) << 1 : (m >> 1) & ~below;

	return (m & below) | above;
}

/* shift_mask() every chunk_mask[k] and the shared_mask. */
static void shift_chunk_masks(struct buddy_heap *heap, unsigned int ci,
			      bool insert)
{
	unsigned int k;

	for (k = 0; k <= heap->cfg.max_order; k++)
		heap->chunk_mask[k] = shift_mask(heap->chunk_mask[k], ci,
						 insert);
	heap->shared_mask = shift_mask(heap->shared_mask, ci, insert);
}

static int add_chunk(struct buddy_heap *heap, unsigned int order, u64 pos)
{
	const struct buddy_ops *ops = heap->ops;
	u64 words = meta_words(heap, order);
	struct buddy_chunk *c;
	void *mem, *meta;
	unsigned int ci;
	size_t mbytes;

	/* where size_t is 32 bits, the metadata of a huge chunk cannot be */
	if (words > (size_t)-1 / sizeof(u64))
		return -ENOMEM;
	mbytes = (size_t)words * sizeof(u64);
	mem = ops->chunk_alloc(heap->ctx, order_bytes(order));
	if (!mem)
		return -ENOMEM;
	meta = ops->meta_alloc(heap->ctx, mbytes);
	if (!meta) {
		ops->chunk_free(heap->ctx, mem, order_bytes(order));
		return -ENOMEM;
	}

	for (ci = 0; ci < heap->nr_chunks; ci++)
		if (heap->chunks[ci].offset > pos)
			break;
	memmove(&heap->chunks[ci + 1], &heap->chunks[ci],
		(heap->nr_chunks - ci) * sizeof(heap->chunks[0]));
	shift_chunk_masks(heap, ci, true);
	heap->nr_chunks++;

	c = &heap->chunks[ci];
	c->offset = pos;
	heap->fresh_offset = pos;
	c->order = order;
	c->mem = mem;
	c->meta = meta;
	c->meta_bytes = mbytes;
	c->meta_shared = false;
	set_areas(heap, c);
	mark_free(heap, ci, order, 0);

	heap->heap_bytes += order_bytes(order);
	if (heap->heap_bytes > heap->counters.peak_heap_bytes)
		heap->counters.peak_heap_bytes = heap->heap_bytes;
	heap->counters.meta_bytes += mbytes;
	heap->counters.nr_grows++;
	return 0;
}

/* Give back chunk @ci, which must be wholly free. */
static void remove_chunk(struct buddy_heap *heap, unsigned int ci)
{
	struct buddy_chunk *c = &heap->chunks[ci];

	mark_used(heap, ci, c->order, 0);
	heap->heap_bytes -= chunk_bytes(c);
	heap->counters.meta_bytes -= c->meta_bytes;
	heap->counters.nr_shrinks++;
	free_chunk_memory(heap, c);

	memmove(&heap->chunks[ci], &heap->chunks[ci + 1],
		(heap->nr_chunks - ci - 1) * sizeof(heap->chunks[0]));
	heap->nr_chunks--;
	memset(&heap->chunks[heap->nr_chunks], 0, sizeof(heap->chunks[0]));
	shift_chunk_masks(heap, ci, false);
	if (!heap->nr_chunks)
		heap->may_have_runs = false;
}

static u64 heap_cap(const struct buddy_heap *heap)
{
	u64 window = buddy_window_bytes(heap);

	if (!heap->cfg.cap_bytes || heap->cfg.cap_bytes > window)
		return window;
	return heap->cfg.cap_bytes;
}

/*
 * The order of the chunk growth would add to make room: the heap's size
 * (doubling it), limited by cfg.max_step_order while fewer than half the
 * chunk slots are used ("Growth" in buddy_core.h).
 */
static unsigned int step_order(const struct buddy_heap *heap)
{
	unsigned int o, limit = heap->cfg.max_step_order;

	if (!heap->heap_bytes)
		return 0;
	o = buddy_fls64(heap->heap_bytes) - 1 - BUDDY_GRAIN_SHIFT;
	if (!limit || heap->nr_chunks >= BUDDY_MAX_CHUNKS / 2)
		return o;
	if (o >= limit + 3)
		limit = o - 3;
	return o < limit ? o : limit;
}

/*
 * Add a chunk able to hold a block of order @want: as large as the growth
 * step, but no larger than the cap and the window allow, and no smaller
 * than @want or cfg.min_chunk_order.
 */
static int grow(struct buddy_heap *heap, unsigned int want)
{
	unsigned int lo = want, hi;
	u64 cap = heap_cap(heap);
	unsigned int o;
	u64 pos;
	int ret;

	if (lo < heap->cfg.min_chunk_order)
		lo = heap->cfg.min_chunk_order;
	if (lo > heap->cfg.max_order || heap->nr_chunks >= BUDDY_MAX_CHUNKS)
		return -ENOMEM;
	hi = step_order(heap);
	if (hi < lo)
		hi = lo;
	if (hi > heap->cfg.max_order)
		hi = heap->cfg.max_order;

	for (o = hi + 1; o-- > lo;) {
		if (heap->heap_bytes + order_bytes(o) > cap)
			continue;
		if (!find_hole(heap, o, &pos))
			continue;
		ret = add_chunk(heap, o, pos);
		if (!ret || o == lo)
			return ret;
		/* a big chunk was refused: fall back to just what is needed */
		o = lo + 1;
	}
	return -ENOMEM;
}

/* Blocks */

/*
 * Three layers, bottom up:
 *   alloc_from_bitmaps(), free_to_bitmaps()  split and merge in the free
 *	and split bitmaps, growing the heap and giving chunks back;
 *   take_block(), release_block()  deferred coalescing: recently freed
 *	blocks held back in front of the bitmaps;
 *   alloc_and_account() and the exported operations  validation, the
 *	counters, the last-allocation hint and zeroing.
 */

/*
 * Free block @i of order @k in chunk @ci and merge it with free buddies as
 * far as they go, like __free_one_page().  A chunk left wholly free goes
 * back to the embedder unless that would drop below the low-water mark.
 */
static void free_to_bitmaps(struct buddy_heap *heap, unsigned int ci,
			    unsigned int k, u64 i)
{
	struct buddy_chunk *c = &heap->chunks[ci];

	own_meta(heap, ci, true);
	while (k < c->order && is_free(heap, c, k, i ^ 1)) {
		mark_used(heap, ci, k, i ^ 1);
		i >>= 1;
		k++;
		clear_split(heap, c, k, i);
	}
	mark_free(heap, ci, k, i);
	if (k == c->order &&
	    heap->heap_bytes - chunk_bytes(c) >= heap->cfg.low_water_bytes)
		remove_chunk(heap, ci);
}

/* Free a block, or hold it back from coalescing while there is room. */
static void release_block(struct buddy_heap *heap, unsigned int ci,
			  unsigned int k, u64 i)
{
	if (k < BUDDY_DEFER_ORDERS && heap->defer_n[k] < heap->defer_depth) {
		heap->defer[k][heap->defer_n[k]++] =
			block_offset(&heap->chunks[ci], k, i);
		heap->defer_mask |= BIT(k);
		return;
	}
	free_to_bitmaps(heap, ci, k, i);
}

/*
 * Trim allocated block @i of order @k in chunk @ci to its first @keep
 * grains (a multiple of 1 << RUN_GRAIN_SHIFT, or for a run's first block
 * any size of a block, and less than the block): split it along that end,
 * freeing the right halves past it, like alloc_pages_exact().  What stays
 * is a run of blocks of decreasing order; all but the one at grain @start
 * are marked as continuing it.  A freed half cannot merge: its buddy is a
 * block of the run or split.
 */
static void trim_block(struct buddy_heap *heap, unsigned int ci,
		       unsigned int k, u64 i, u64 keep, u64 start)
{
	const struct buddy_chunk *c = &heap->chunks[ci];

	heap->may_have_runs = true;
	/* keep < 2^k all the way: it ends with a block filled exactly */
	for (;;) {
		set_split(heap, c, k, i);
		k--;
		i <<= 1;
		if (keep < BIT_ULL(k)) {
			mark_free(heap, ci, k, i + 1);
			continue;
		}
		/* the left half is a block of the run */
		if (i << k != start)
			set_run_bit(c, i << k);
		keep -= BIT_ULL(k);
		i++;
		if (!keep) {
			mark_free(heap, ci, k, i);
			return;
		}
	}
}

/*
 * Step from block @*g (a grain) of order @*k of an allocation to the block
 * continuing its run after it, if there is one: return whether there was.
 * The next block's order is read before the caller frees or trims the one
 * it leaves, which changes nothing past that block.
 */
static inline bool run_step(const struct buddy_heap *heap,
			    const struct buddy_chunk *c, u64 *g,
			    unsigned int *k)
{
	u64 next = *g + BIT_ULL(*k);

	if (!run_follows(c, next))
		return false;
	*g = next;
	*k = find_leaf(heap, c, next);
	return true;
}

/*
 * Bytes of the allocation whose first block is block @i of order @k in
 * chunk @c: that block and the blocks continuing its run.
 */
static u64 alloc_bytes(const struct buddy_heap *heap,
		       const struct buddy_chunk *c, unsigned int k, u64 i)
{
	u64 start = i << k, g = start;

	if (!heap->may_have_runs)
		return order_bytes(k);
	while (run_step(heap, c, &g, &k))
		;
	return (g + BIT_ULL(k) - start) << BUDDY_GRAIN_SHIFT;
}

/*
 * Free the allocation whose first block is block @i of order @k in chunk
 * @ci.  A single block may be held back from coalescing; the blocks of a
 * run go straight to the bitmaps, first to last.
 */
static void release_alloc(struct buddy_heap *heap, unsigned int ci,
			  unsigned int k, u64 i)
{
	struct buddy_chunk *c = &heap->chunks[ci];
	u64 g = i << k;
	bool more;

	if (!heap->may_have_runs || !run_follows(c, g + BIT_ULL(k))) {
		release_block(heap, ci, k, i);
		return;
	}
	own_meta(heap, ci, true);
	do {
		u64 block = g;
		unsigned int order = k;

		/* the chunk goes away only once the last block is free */
		more = run_step(heap, c, &g, &k);
		if (more)
			clear_run_bit(c, g);
		free_to_bitmaps(heap, ci, order, block >> order);
	} while (more);
}

/*
 * Keep the first @keep grains of the allocation whose first block is
 * block @i of order @k in chunk @ci (@keep below its size): trim the block
 * that straddles that point and free every block after it.
 */
static void shrink_alloc(struct buddy_heap *heap, unsigned int ci,
			 unsigned int k, u64 i, u64 keep)
{
	const struct buddy_chunk *c = &heap->chunks[ci];
	u64 start = i << k, end = start + keep, g = start;
	bool more;

	do {
		u64 block = g;
		unsigned int order = k;

		more = run_step(heap, c, &g, &k);
		if (block >= end) {
			clear_run_bit(c, block);
			free_to_bitmaps(heap, ci, order, block >> order);
		} else if (block + BIT_ULL(order) > end) {
			trim_block(heap, ci, order, block >> order, end - block,
				   start);
		}
	} while (more);
}

/*
 * Merge block @i of order @k in chunk @ci for real if it is deferred,
 * keeping the order of the others.  Return whether it was.
 */
static bool undefer_block(struct buddy_heap *heap, unsigned int ci,
			  unsigned int k, u64 i)
{
	u64 off = block_offset(&heap->chunks[ci], k, i);
	unsigned int j, n;

	if (k >= BUDDY_DEFER_ORDERS)
		return false;
	n = heap->defer_n[k];
	for (j = 0; j < n && heap->defer[k][j] != off; j++)
		;
	if (j == n)
		return false;
	memmove(&heap->defer[k][j], &heap->defer[k][j + 1],
		(n - j - 1) * sizeof(heap->defer[k][0]));
	heap->defer_n[k] = --n;
	if (!n)
		heap->defer_mask &= ~BIT(k);
	free_to_bitmaps(heap, ci, k, i);
	return true;
}

/*
 * Are grains @from (the end of an allocation) to @to of chunk @ci all in
 * free blocks?  A deferred block on the way is merged for real first: it
 * is only held back for the next allocation of its size, and looks
 * allocated in the bitmaps.  Merging never frees the chunk, which holds
 * the allocation, nor reaches below @from.
 */
static bool tail_is_free(struct buddy_heap *heap, unsigned int ci, u64 from,
			 u64 to)
{
	const struct buddy_chunk *c = &heap->chunks[ci];
	unsigned int k;
	u64 g;

	if (to > BIT_ULL(c->order))
		return false;
	/* a merged block may start before g: step to the end of its leaf */
	for (g = from; g < to; g = ((g >> k) + 1) << k) {
		k = find_leaf(heap, c, g);
		if (is_free(heap, c, k, g >> k))
			continue;
		if (!undefer_block(heap, ci, k, g >> k))
			return false;
		k = find_leaf(heap, c, g);
	}
	return true;
}

/*
 * Extend the run starting at grain @start of chunk @ci from grain @from to
 * grain @to over the free blocks there (tail_is_free()), trimming the last.
 */
static void claim_tail(struct buddy_heap *heap, unsigned int ci, u64 start,
		       u64 from, u64 to)
{
	const struct buddy_chunk *c = &heap->chunks[ci];
	u64 g = from;

	heap->may_have_runs = true;
	while (g < to) {
		unsigned int k = find_leaf(heap, c, g);

		mark_used(heap, ci, k, g >> k);
		if (g + BIT_ULL(k) > to) {
			trim_block(heap, ci, k, g >> k, to - g, start);
			return;
		}
		set_run_bit(c, g);
		g += BIT_ULL(k);
	}
}

/* Merge every deferred block for real, oldest first, lowest order first. */
static void flush_deferred(struct buddy_heap *heap)
{
	unsigned int k, j;

	for (k = 0; k < BUDDY_DEFER_ORDERS; k++) {
		for (j = 0; j < heap->defer_n[k]; j++) {
			u64 off = heap->defer[k][j];
			int ci = find_chunk(heap, off);

			free_to_bitmaps(heap, ci, k,
					block_index(&heap->chunks[ci], k, off));
		}
		heap->defer_n[k] = 0;
	}
	heap->defer_mask = 0;
}

/*
 * The chunk to allocate from when some chunk holding a free block of order
 * @j (the smallest in @mask, the orders >= the request's with free blocks)
 * shares its metadata, and the order of the block to take there (*@jp),
 * when cfg.own_first is set (the caller takes the lowest chunk without it).
 * As "Allocation policy" in buddy_core.h says: the lowest such chunk the
 * heap owns; else the lowest owned chunk with a block of the smallest
 * larger order; else the shared chunk whose largest free block is largest
 * against its size, at its smallest fitting order.  O(max_order + chunks);
 * the last case only when that chunk is then unshared (once per chunk and
 * clone; its copy, if the clone still uses it, costs more).
 */
static noinline unsigned int pick_chunk(const struct buddy_heap *heap,
					u64 mask, unsigned int *jp)
{
	u64 owned, seen = 0, m;
	unsigned int j = *jp, best = 0, best_gap = ~0u;

	for (m = mask; m; m &= m - 1) {
		j = buddy_ctz64(m);
		owned = heap->chunk_mask[j] & ~heap->shared_mask;
		if (owned) {
			*jp = j;
			return buddy_ctz64(owned);
		}
	}
	/* all shared: from the largest free blocks down, each chunk once */
	for (m = mask; m; m &= ~BIT_ULL(j)) {
		u64 fresh;

		j = buddy_fls64(m) - 1;
		fresh = heap->chunk_mask[j] & ~seen;
		seen |= fresh;
		for (; fresh; fresh &= fresh - 1) {
			unsigned int ci = buddy_ctz64(fresh);
			unsigned int gap = heap->chunks[ci].order - j;

			if (gap < best_gap || (gap == best_gap && ci < best)) {
				best_gap = gap;
				best = ci;
			}
		}
	}
	for (m = mask; !(heap->chunk_mask[buddy_ctz64(m)] & BIT_ULL(best));)
		m &= m - 1;
	*jp = buddy_ctz64(m);
	return best;
}

/*
 * Take the lowest-addressed free block of the smallest order >= @search
 * (growing the heap if there is none) and split it down to @order, handing
 * the right halves back to the free bitmaps, like expand() in page_alloc.c
 * (pick_chunk() chooses with cfg.own_first when a clone shares some
 * chunk's metadata).
 */
static int alloc_from_bitmaps(struct buddy_heap *heap, unsigned int order,
			      unsigned int search, u64 *offset)
{
	struct buddy_chunk *c;
	unsigned int ci, j;
	u64 mask, i;
	int ret;

	mask = heap->order_mask & ~(BIT_ULL(search) - 1);
	if (!mask && heap->defer_mask) {
		/* deferred blocks may merge into what is needed: first */
		flush_deferred(heap);
		mask = heap->order_mask & ~(BIT_ULL(search) - 1);
	}
	if (!mask) {
		ret = grow(heap, search);
		if (ret)
			return ret;
		mask = heap->order_mask & ~(BIT_ULL(search) - 1);
	}
	j = buddy_ctz64(mask);
	if (likely(!(heap->chunk_mask[j] & heap->shared_mask)) ||
	    !heap->cfg.own_first)
		ci = buddy_ctz64(heap->chunk_mask[j]);
	else
		ci = pick_chunk(heap, mask, &j);
	ret = own_meta(heap, ci, false);
	if (ret)
		return ret;
	c = &heap->chunks[ci];
	i = find_free(heap, c, j);
	mark_used(heap, ci, j, i);
	while (j > order) {
		set_split(heap, c, j, i);
		j--;
		i <<= 1;
		mark_free(heap, ci, j, i + 1);
	}
	*offset = block_offset(c, order, i);
	return 0;
}

/*
 * A block of @order at an offset aligned to order @search: the most
 * recently deferred one (only when @search is @order), else one from the
 * bitmaps.
 */
static int take_block(struct buddy_heap *heap, unsigned int order,
		      unsigned int search, u64 *offset)
{
	if (order == search && order < BUDDY_DEFER_ORDERS &&
	    heap->defer_n[order]) {
		*offset = heap->defer[order][--heap->defer_n[order]];
		if (!heap->defer_n[order])
			heap->defer_mask &= ~BIT(order);
		return 0;
	}
	return alloc_from_bitmaps(heap, order, search, offset);
}

/* Copy chunk contents: through ops->copy if the embedder has one. */
static int copy_memory(const struct buddy_ops *ops, void *ctx, void *dst,
		       u64 dst_off, const void *src, u64 src_off, u64 bytes)
{
	if (ops->copy)
		return ops->copy(ctx, dst, dst_off, src, src_off, bytes);
	memcpy((u8 *)dst + dst_off, (const u8 *)src + src_off, bytes);
	return 0;
}

/* Copy @bytes from window offset @src to @dst, both inside live blocks. */
static int copy_range(struct buddy_heap *heap, u64 dst, u64 src, u64 bytes)
{
	const struct buddy_chunk *d = &heap->chunks[find_chunk(heap, dst)];
	const struct buddy_chunk *s = &heap->chunks[find_chunk(heap, src)];

	return copy_memory(heap->ops, heap->ctx, d->mem, dst - d->offset,
			   s->mem, src - s->offset, bytes);
}

/*
 * Zero @bytes at window @offset, unless they lie in a chunk added since
 * the heap counted @grows chunk additions: such memory came zeroed from
 * ops->chunk_alloc and nothing was handed out of it before.
 */
static int zero_range(struct buddy_heap *heap, u64 grows, u64 offset,
		      u64 bytes)
{
	const struct buddy_chunk *c = &heap->chunks[find_chunk(heap, offset)];

	if (heap->counters.nr_grows != grows &&
	    c->offset == heap->fresh_offset)
		return 0;
	if (heap->ops->zero)
		return heap->ops->zero(heap->ctx, c->mem, offset - c->offset,
				       bytes);
	memset((u8 *)c->mem + (offset - c->offset), 0, bytes);
	return 0;
}

/* Give back an allocation just made, when filling it failed: free again. */
static void untake_alloc(struct buddy_heap *heap, u64 offset)
{
	unsigned int ci, k;
	u64 i;

	locate(heap, offset, &ci, &k, &i);
	release_alloc(heap, ci, k, i);
}

/*
 * Trim the block of @order just taken at @offset to @bytes; on failure
 * (its chunk's metadata could not be unshared) give the block back.
 */
static int trim_taken(struct buddy_heap *heap, unsigned int order,
		      u64 bytes, u64 offset)
{
	unsigned int ci = find_chunk(heap, offset);
	const struct buddy_chunk *c;
	u64 g;
	int ret;

	/* a deferred block's chunk may still share its metadata */
	ret = own_meta(heap, ci, false);
	if (ret) {
		untake_alloc(heap, offset);
		return ret;
	}
	c = &heap->chunks[ci];
	g = (offset - c->offset) >> BUDDY_GRAIN_SHIFT;
	trim_block(heap, ci, order, g >> order, bytes >> BUDDY_GRAIN_SHIFT, g);
	return 0;
}

/*
 * Take a block of @order at an offset aligned to order @search
 * (take_block()) and trim it to @bytes, the request's size (see
 * request_bytes()).  Inlined: it is the allocation fast path.
 */
static __always_inline int take_alloc(struct buddy_heap *heap,
				      unsigned int order, unsigned int search,
				      u64 bytes, u64 *offset)
{
	int ret = take_block(heap, order, search, offset);

	if (ret || bytes == order_bytes(order))
		return ret;
	return trim_taken(heap, order, bytes, *offset);
}

static void account_alloc(struct buddy_heap *heap, u64 requested,
			  u64 granted)
{
	struct buddy_counters *s = &heap->counters;

	s->bytes_in_use += granted;
	if (s->bytes_in_use > s->peak_bytes_in_use)
		s->peak_bytes_in_use = s->bytes_in_use;
	s->bytes_requested_total += requested;
	s->bytes_granted_total += granted;
}

static void account_free(struct buddy_heap *heap, u64 granted)
{
	struct buddy_counters *s = &heap->counters;

	s->bytes_in_use -= granted;
	s->live_blocks--;
	s->nr_frees++;
}

/* Exported operations */

/**
 * buddy_heap_init() - set up an empty heap
 * @heap: the heap to initialise (any previous contents are ignored)
 * @cfg: geometry and limits; copied
 * @ops: memory callbacks; must stay valid for the heap's life
 * @ctx: passed to every callback
 *
 * The heap starts without any chunk: the first allocation grows it.
 *
 * Return: 0, or -EINVAL for a bad configuration or missing callback.
 */
int buddy_heap_init(struct buddy_heap *heap, const struct buddy_config *cfg,
		    const struct buddy_ops *ops, void *ctx)
{
	unsigned int d;

	if (!cfg || !ops || !ops->chunk_alloc || !ops->chunk_free ||
	    !ops->meta_alloc || !ops->meta_free ||
	    !ops->meta_share != !ops->meta_unshare)
		return -EINVAL;
	if (cfg->max_order > BUDDY_MAX_ORDER ||
	    cfg->min_chunk_order > cfg->max_order ||
	    cfg->max_step_order > cfg->max_order ||
	    cfg->trim_order > cfg->max_order ||
	    (cfg->trim_order && cfg->trim_order <= RUN_GRAIN_SHIFT))
		return -EINVAL;

	memset(heap, 0, sizeof(*heap));
	heap->cfg = *cfg;
	heap->ops = ops;
	heap->ctx = ctx;
	heap->hint_order = -1;
	heap->free_off[0] = 0;
	for (d = 0; d <= BUDDY_MAX_ORDER; d++) {
		heap->free_off[d + 1] = heap->free_off[d] +
					free_region_words(d);
		heap->split_off[d] = split_offset(d);
	}
	return 0;
}

/**
 * buddy_heap_destroy() - give every chunk back
 * @heap: an initialised heap
 *
 * Live blocks are dropped.  The heap is left empty and may be used again
 * (it grows on the next allocation) or destroyed again.
 */
void buddy_heap_destroy(struct buddy_heap *heap)
{
	unsigned int i;

	for (i = 0; i < heap->nr_chunks; i++)
		free_chunk_memory(heap, &heap->chunks[i]);
	memset(heap->chunks, 0, sizeof(heap->chunks));
	memset(heap->free_blocks, 0, sizeof(heap->free_blocks));
	memset(heap->chunk_mask, 0, sizeof(heap->chunk_mask));
	heap->shared_mask = 0;
	heap->order_mask = 0;
	memset(heap->defer_n, 0, sizeof(heap->defer_n));
	heap->defer_mask = 0;
	heap->hint_order = -1;
	heap->may_have_runs = false;
	heap->nr_chunks = 0;
	heap->heap_bytes = 0;
	heap->counters.bytes_in_use = 0;
	heap->counters.live_blocks = 0;
	heap->counters.meta_bytes = 0;
}

/**
 * buddy_heap_set_defer_depth() - how many freed blocks to hold back per order
 * @heap: the heap
 * @depth: 0 (the default: every free merges at once) to BUDDY_DEFER_DEPTH
 *
 * With a depth, up to @depth freed blocks of each order below
 * BUDDY_DEFER_ORDERS are kept as they are and handed out again by the next
 * allocation of that order: a malloc/free pair then costs no bitmap work
 * instead of a split and a merge per level.  They count as free everywhere
 * and are merged before the heap grows.  Lowering the depth merges them all.
 *
 * Return: 0, or -EINVAL if @depth is too large.
 */
int buddy_heap_set_defer_depth(struct buddy_heap *heap, unsigned int depth)
{
	if (depth > BUDDY_DEFER_DEPTH)
		return -EINVAL;
	if (depth < heap->defer_depth)
		flush_deferred(heap);
	heap->defer_depth = depth;
	return 0;
}

/**
 * buddy_heap_clone() - copy a heap: same chunks, offsets and contents
 * @dst: uninitialised heap to fill
 * @src: heap to copy
 * @ctx: callback context for @dst (the ops are @src's)
 *
 * Chunk memory comes from ops->chunk_clone, or from ops->chunk_alloc
 * filled by ops->copy (memcpy when NULL).  Metadata is shared through
 * ops->meta_share when the embedder offers it, so that a clone costs no
 * copy of the bitmaps: both heaps then only read it until either writes
 * (ops->meta_unshare); @src is changed only to know that.  Otherwise it is
 * copied.
 *
 * Return: 0, or -ENOMEM; on failure @dst is an empty heap holding no memory.
 */
int buddy_heap_clone(struct buddy_heap *dst, struct buddy_heap *src,
		     void *ctx)
{
	const struct buddy_ops *ops = src->ops;
	unsigned int i;

	*dst = *src;
	dst->ctx = ctx;
	dst->shared_mask = 0;
	for (i = 0; i < src->nr_chunks; i++) {
		struct buddy_chunk *s = &src->chunks[i];
		struct buddy_chunk *d = &dst->chunks[i];
		u64 bytes = chunk_bytes(s);

		if (ops->chunk_clone) {
			d->mem = ops->chunk_clone(ctx, s->mem, bytes);
		} else {
			d->mem = ops->chunk_alloc(ctx, bytes);
			if (d->mem &&
			    copy_memory(ops, ctx, d->mem, 0, s->mem, 0, bytes)) {
				ops->chunk_free(ctx, d->mem, bytes);
				d->mem = NULL;
			}
		}
		if (d->mem && ops->meta_share &&
		    ops->meta_share(ctx, s->meta, s->meta_bytes)) {
			s->meta_shared = true;
			d->meta_shared = true;
			src->shared_mask |= BIT_ULL(i);
			dst->shared_mask |= BIT_ULL(i);
			continue;
		}
		d->meta_shared = false;
		d->meta = d->mem ? ops->meta_alloc(ctx, s->meta_bytes) : NULL;
		if (!d->meta) {
			if (d->mem)
				ops->chunk_free(ctx, d->mem, bytes);
			dst->nr_chunks = i;
			buddy_heap_destroy(dst);
			buddy_heap_init(dst, &src->cfg, ops, ctx);
			return -ENOMEM;
		}
		memcpy(d->meta, s->meta, s->meta_bytes);
		set_areas(dst, d);
	}
	return 0;
}

/**
 * buddy_size_to_order() - order of the smallest block holding @size bytes
 * @size: bytes; 0 counts as 1
 * @order: where to store the order
 *
 * Return: 0, or -ENOMEM if no block can be that large.
 */
int buddy_size_to_order(u64 size, unsigned int *order)
{
	unsigned int o = 0;

	if (size > BUDDY_GRAIN)
		o = buddy_fls64(size - 1) - BUDDY_GRAIN_SHIFT;
	if (o > BUDDY_MAX_ORDER)
		return -ENOMEM;
	*order = o;
	return 0;
}

static int heap_order(const struct buddy_heap *heap, u64 size,
		      unsigned int *order)
{
	if (buddy_size_to_order(size, order) || *order > heap->cfg.max_order)
		return -ENOMEM;
	return 0;
}

/*
 * Bytes a request of @size (of order @order) is given: its block, or from
 * cfg.trim_order on the block trimmed to a multiple of BUDDY_TRIM_UNIT.
 */
static u64 request_bytes(const struct buddy_heap *heap, u64 size,
			 unsigned int order)
{
	if (!heap->cfg.trim_order || order < heap->cfg.trim_order)
		return order_bytes(order);
	return (size + BUDDY_TRIM_UNIT - 1) & ~(BUDDY_TRIM_UNIT - 1);
}

/*
 * buddy_heap_alloc() and buddy_heap_alloc_aligned(), their arguments
 * checked.
 */
static int alloc_and_account(struct buddy_heap *heap, u64 size,
			     unsigned int order, unsigned int search,
			     unsigned int flags, u64 *offset)
{
	u64 grows = heap->counters.nr_grows, off;
	u64 bytes = request_bytes(heap, size, order);
	int ret;

	ret = take_alloc(heap, order, search, bytes, &off);
	if (!ret && (flags & BUDDY_ALLOC_ZERO)) {
		ret = zero_range(heap, grows, off, bytes);
		if (ret)
			untake_alloc(heap, off);
	}
	if (ret) {
		heap->counters.nr_failed++;
		return ret;
	}
	account_alloc(heap, size, bytes);
	heap->counters.live_blocks++;
	heap->counters.nr_allocs++;
	heap->hint_offset = off;
	/* a run is freed block by block: no shortcut for it */
	heap->hint_order = bytes == order_bytes(order) ? (int)order : -1;
	*offset = off;
	return 0;
}

/**
 * buddy_heap_alloc() - allocate a block of at least @size bytes
 * @heap: the heap
 * @size: bytes wanted (0 gives the smallest block)
 * @flags: BUDDY_ALLOC_ZERO or 0
 * @offset: where to store the block's window offset
 *
 * The block is the lowest-addressed free one of the smallest fitting
 * order; the heap grows when there is none.  From cfg.trim_order on it is
 * trimmed to @size rounded up to BUDDY_TRIM_UNIT (see "Trimmed runs" in
 * buddy_core.h).  O(log N).
 *
 * Return: 0, -EINVAL for unknown @flags, -ENOMEM if the heap cannot grow.
 */
int buddy_heap_alloc(struct buddy_heap *heap, u64 size, unsigned int flags,
		     u64 *offset)
{
	unsigned int order;

	if (flags & ~BUDDY_ALLOC_FLAGS) {
		heap->counters.nr_failed++;
		return -EINVAL;
	}
	if (heap_order(heap, size, &order)) {
		heap->counters.nr_failed++;
		return -ENOMEM;
	}
	return alloc_and_account(heap, size, order, order, flags, offset);
}

/**
 * buddy_heap_alloc_aligned() - allocate a block aligned to @align
 * @heap: the heap
 * @size: bytes wanted
 * @align: a power of two; the offset is a multiple of it
 * @flags: BUDDY_ALLOC_ZERO or 0
 * @offset: where to store the block's window offset
 *
 * Takes a block of order max(order(@size), order(@align)) and trims its
 * tail back to the free bitmaps, so the result is an order(@size) block
 * (or from cfg.trim_order on a run, as buddy_heap_alloc() gives): no
 * padding, nothing to remember at free time.
 *
 * Return: 0, -EINVAL for a bad @align or unknown @flags, -ENOMEM.
 */
int buddy_heap_alloc_aligned(struct buddy_heap *heap, u64 size, u64 align,
			     unsigned int flags, u64 *offset)
{
	unsigned int order, aorder;

	if ((flags & ~BUDDY_ALLOC_FLAGS) || !align || (align & (align - 1))) {
		heap->counters.nr_failed++;
		return -EINVAL;
	}
	if (heap_order(heap, size, &order) || heap_order(heap, align, &aorder)) {
		heap->counters.nr_failed++;
		return -ENOMEM;
	}
	if (aorder < order)
		aorder = order;
	return alloc_and_account(heap, size, order, aorder, flags, offset);
}

/**
 * buddy_heap_free() - free the allocation (block or run) at @offset
 * @heap: the heap
 * @offset: the allocation's window offset
 *
 * Return: 0; -BUDDY_ERR_OUTSIDE if @offset is in no live chunk,
 * -BUDDY_ERR_FREE if it is inside a free block, -BUDDY_ERR_NOT_START if it
 * is inside an allocated block but not at its start.  On error the heap is
 * unchanged (apart from the failure counter).
 */
int buddy_heap_free(struct buddy_heap *heap, u64 offset)
{
	unsigned int ci, order;
	u64 i;
	int ret;

	if (offset == heap->hint_offset && heap->hint_order >= 0) {
		/* the block just allocated (never a run): no tree to search */
		ci = find_chunk(heap, offset);
		order = heap->hint_order;
		i = block_index(&heap->chunks[ci], order, offset);
		heap->hint_order = -1;
		account_free(heap, order_bytes(order));
		release_block(heap, ci, order, i);
		return 0;
	}
	ret = locate(heap, offset, &ci, &order, &i);
	if (ret) {
		heap->counters.nr_failed++;
		return ret;
	}
	account_free(heap, alloc_bytes(heap, &heap->chunks[ci], order, i));
	release_alloc(heap, ci, order, i);
	return 0;
}

/* Can block @i of order @k in @c become order @n by absorbing buddies? */
static bool can_grow_in_place(const struct buddy_heap *heap,
			      const struct buddy_chunk *c, unsigned int k,
			      u64 i, unsigned int n)
{
	if (n > c->order)
		return false;
	for (; k < n; k++, i >>= 1)
		if ((i & 1) || !is_free(heap, c, k, i + 1))
			return false;
	return true;
}

/* Grow block @i of order @k in chunk @ci to order @n: can_grow_in_place(). */
static void grow_in_place(struct buddy_heap *heap, unsigned int ci,
			  unsigned int k, u64 i, unsigned int n)
{
	const struct buddy_chunk *c = &heap->chunks[ci];

	for (; k < n; k++) {
		mark_used(heap, ci, k, i + 1);
		i >>= 1;
		clear_split(heap, c, k + 1, i);
	}
}

/*
 * Move the allocation of @old_bytes at @offset into a new one of @new_bytes
 * (order @n) at *@dst: take the new one, copy the old contents (and zero
 * the rest with @zero, for a heap that had counted @grows chunk
 * additions), release the old one.  On failure the old one is untouched.
 */
static int move_alloc(struct buddy_heap *heap, u64 offset, u64 old_bytes,
		      unsigned int n, u64 new_bytes, bool zero, u64 grows,
		      u64 *dst)
{
	unsigned int ci, k;
	u64 i;
	int ret;

	ret = take_alloc(heap, n, n, new_bytes, dst);
	if (ret)
		return ret;
	/* the chunk array may have moved under alloc_from_bitmaps() */
	ret = copy_range(heap, *dst, offset, old_bytes);
	if (!ret && zero)
		ret = zero_range(heap, grows, *dst + old_bytes,
				 new_bytes - old_bytes);
	if (ret) {
		untake_alloc(heap, *dst);
		return ret;
	}
	locate(heap, offset, &ci, &k, &i);
	release_alloc(heap, ci, k, i);
	return 0;
}

/*
 * Grow the allocation of @old_bytes at @offset, whose first block is block
 * @i of order @k in chunk @ci, to @new_bytes (order @n) without moving it,
 * zeroing what it gains with @zero: a single block absorbs its free
 * buddies into one block of order @n; with @run (a size of a trimmed
 * order) the allocation claims the free blocks after it instead.  Return
 * 1 if it grew, 0 if it cannot, or -ENOMEM.
 */
static int grow_alloc(struct buddy_heap *heap, u64 offset, u64 old_bytes,
		      unsigned int ci, unsigned int k, u64 i, unsigned int n,
		      u64 new_bytes, bool run, bool zero, u64 grows)
{
	const struct buddy_chunk *c = &heap->chunks[ci];
	u64 start = i << k;
	u64 from = start + (old_bytes >> BUDDY_GRAIN_SHIFT);
	u64 to = start + (new_bytes >> BUDDY_GRAIN_SHIFT);
	int ret;

	if (!run && !can_grow_in_place(heap, c, k, i, n))
		return 0;
	/* a run's blocks start on BUDDY_TRIM_UNIT: so must what it claims */
	if (run && ((old_bytes & (BUDDY_TRIM_UNIT - 1)) ||
		    !tail_is_free(heap, ci, from, to)))
		return 0;
	ret = own_meta(heap, ci, false);
	if (ret)
		return ret;
	/* what it gains is free: zeroing that first changes nothing */
	if (zero) {
		ret = zero_range(heap, grows, offset + old_bytes,
				 new_bytes - old_bytes);
		if (ret)
			return ret;
	}
	if (run)
		claim_tail(heap, ci, start, from, to);
	else
		grow_in_place(heap, ci, k, i, n);
	return 1;
}

/**
 * buddy_heap_realloc() - resize the allocation at @offset
 * @heap: the heap
 * @offset: start of a live allocation
 * @size: new size in bytes (0 gives the smallest block)
 * @flags: BUDDY_ALLOC_ZERO (zero what the allocation gains) or 0
 * @new_offset: where to store the allocation's offset afterwards
 *
 * Shrinks in place by trimming off the tail; grows in place when what it
 * needs after it is free (each right-hand buddy up to the new order, or
 * for a trimmed run the blocks up to its new end); otherwise allocates a
 * whole block of the new order, untrimmed (see "Trimmed runs"), copies the
 * old contents with ops->copy and frees the old one.
 *
 * Return: 0; -EINVAL for unknown @flags; the errors of buddy_heap_free()
 * for a bad @offset; -ENOMEM (the old allocation is left intact).
 */
int buddy_heap_realloc(struct buddy_heap *heap, u64 offset, u64 size,
		       unsigned int flags, u64 *new_offset)
{
	u64 grows = heap->counters.nr_grows;
	u64 i, old_bytes, new_bytes, dst;
	unsigned int ci, k, n;
	bool zero, run;
	int ret;

	if (flags & ~BUDDY_ALLOC_FLAGS) {
		ret = -EINVAL;
		goto fail;
	}
	ret = locate(heap, offset, &ci, &k, &i);
	if (ret)
		goto fail;
	ret = heap_order(heap, size, &n);
	if (ret)
		goto fail;
	old_bytes = alloc_bytes(heap, &heap->chunks[ci], k, i);
	new_bytes = request_bytes(heap, size, n);
	run = heap->cfg.trim_order && n >= heap->cfg.trim_order;
	zero = flags & BUDDY_ALLOC_ZERO;
	dst = offset;

	if (new_bytes < old_bytes) {
		own_meta(heap, ci, true);	/* frees the tail: cannot fail */
		shrink_alloc(heap, ci, k, i, new_bytes >> BUDDY_GRAIN_SHIFT);
	} else if (new_bytes > old_bytes) {
		ret = grow_alloc(heap, offset, old_bytes, ci, k, i, n,
				 new_bytes, run, zero, grows);
		if (!ret) {
			/* room to grow again in place: the whole block */
			new_bytes = order_bytes(n);
			ret = move_alloc(heap, offset, old_bytes, n, new_bytes,
					 zero, grows, &dst);
		}
		if (ret < 0)
			goto fail;
	}
	/* subtract first: bytes_in_use includes old_bytes, so no wrap */
	heap->counters.bytes_in_use = heap->counters.bytes_in_use - old_bytes +
				      new_bytes;
	if (heap->counters.bytes_in_use > heap->counters.peak_bytes_in_use)
		heap->counters.peak_bytes_in_use = heap->counters.bytes_in_use;
	heap->counters.bytes_requested_total += size;
	heap->counters.bytes_granted_total += new_bytes;
	heap->counters.nr_reallocs++;
	/* one block of order n for sure: moved, or neither size a run's */
	heap->hint_offset = dst;
	heap->hint_order = dst != offset ||
			   (old_bytes == order_bytes(k) && !run) ? (int)n : -1;
	*new_offset = dst;
	return 0;
fail:
	heap->counters.nr_failed++;
	return ret;
}

/**
 * buddy_heap_usable_size() - size of the allocation (block or run) at @offset
 * @heap: the heap
 * @offset: start of a live block
 * @size: where to store its size in bytes
 *
 * Return: 0, or the errors of buddy_heap_free().
 */
int buddy_heap_usable_size(const struct buddy_heap *heap, u64 offset, u64 *size)
{
	unsigned int ci, order;
	u64 i;
	int ret;

	ret = locate(heap, offset, &ci, &order, &i);
	if (!ret)
		*size = alloc_bytes(heap, &heap->chunks[ci], order, i);
	return ret;
}

/**
 * buddy_chunk_at() - the live chunk holding a window offset
 * @heap: the heap
 * @offset: any window offset
 *
 * The chunk is valid until the heap next changes.
 *
 * Return: the chunk, or NULL if @offset is in no live chunk.
 */
const struct buddy_chunk *buddy_chunk_at(const struct buddy_heap *heap,
					 u64 offset)
{
	int ci = find_chunk(heap, offset);

	return ci == BUDDY_NO_CHUNK ? NULL : &heap->chunks[ci];
}

/**
 * buddy_chunk_address() - host address of the byte at @offset
 * @heap: the heap
 * @offset: any window offset
 * @bytes_left: if not NULL, bytes from @offset to the end of its chunk
 *
 * For embedders whose chunk memory is addressable (see struct buddy_ops).
 *
 * Return: the address, or NULL if @offset is in no live chunk.
 */
void *buddy_chunk_address(const struct buddy_heap *heap, u64 offset,
			  u64 *bytes_left)
{
	const struct buddy_chunk *c = buddy_chunk_at(heap, offset);

	if (!c)
		return NULL;
	if (bytes_left)
		*bytes_left = chunk_bytes(c) - (offset - c->offset);
	return (u8 *)c->mem + (offset - c->offset);
}

/**
 * buddy_get_stats() - snapshot of a heap's counters and fragmentation
 * @heap: the heap
 * @st: where to store the snapshot
 *
 * The per-order indices are computed exactly as mm/vmstat.c computes
 * unusable_free_index() and __fragmentation_index(), with grains in the
 * role of pages.  O(max_order).
 */
void buddy_get_stats(const struct buddy_heap *heap, struct buddy_stats *st)
{
	unsigned int nr = heap->cfg.max_order + 1;
	u64 free_grains = 0, total = 0;
	unsigned int k, s;

	memset(st, 0, sizeof(*st));
	st->counters = heap->counters;
	st->heap_bytes = heap->heap_bytes;
	st->bytes_free = heap->heap_bytes - heap->counters.bytes_in_use;
	st->nr_chunks = heap->nr_chunks;
	st->nr_orders = nr;
	st->largest_free_order = -1;

	for (k = 0; k < nr; k++) {
		st->free_blocks[k] = heap->free_blocks[k];
		if (k < BUDDY_DEFER_ORDERS)
			st->free_blocks[k] += heap->defer_n[k];
		total += st->free_blocks[k];
		free_grains += st->free_blocks[k] << k;
		if (st->free_blocks[k])
			st->largest_free_order = k;
	}
	for (s = 0; s < nr; s++) {
		u64 suitable = 0;

		for (k = s; k < nr; k++)
			suitable += st->free_blocks[k] << (k - s);

		/* unusable_free_index() */
		if (!free_grains)
			st->unusable_index[s] = 1000;
		else
			st->unusable_index[s] =
				buddy_div64((free_grains - (suitable << s)) *
					    1000ULL, free_grains);

		/* __fragmentation_index() */
		if (!total)
			st->extfrag_index[s] = 0;
		else if (suitable)
			st->extfrag_index[s] = -1000;
		else
			st->extfrag_index[s] = 1000 -
				(s64)buddy_div64(1000 +
					buddy_div64(free_grains * 1000ULL,
						    BIT_ULL(s)), total);
	}
}

/*
 * Depth-first, address-ordered traversal of the blocks of one chunk.
 * @fn sees every leaf; @split (optional) every split node before its
 * children.  A non-zero return from either stops the traversal.
 */
struct walk_ctx {
	const struct buddy_heap *heap;
	const struct buddy_chunk *c;
	int (*leaf)(struct walk_ctx *w, unsigned int k, u64 i, bool free);
	int (*split)(struct walk_ctx *w, unsigned int k, u64 i);
	buddy_walk_fn fn;
	void *arg;
	struct buddy_violation *v;
	u64 nfree[BUDDY_MAX_ORDER + 1];
	u64 nsplit[BUDDY_MAX_ORDER + 1];
	u64 ncontinued;		/* allocated blocks continuing a run */
	bool prev_allocated;	/* the chunk's previous leaf is allocated */
	u64 used_bytes;
	u64 used_blocks;
};

/*
 * Walk chunk w->c from the block holding its grain @g (relative to the
 * chunk) to its end.  A non-zero @g skips the blocks before it without
 * calling w->split for the nodes on the way down: only buddy_walk_from()
 * starts inside a chunk.
 */
static int walk_chunk(struct walk_ctx *w, u64 g)
{
	const struct buddy_chunk *c = w->c;
	unsigned int k = c->order;
	u64 i = 0;
	int ret;

	while (g && k > 0 && is_split(w->heap, c, k, i)) {
		k--;
		i = g >> k;
	}
	for (;;) {
		if (k > 0 && is_split(w->heap, c, k, i)) {
			if (w->split) {
				ret = w->split(w, k, i);
				if (ret)
					return ret;
			}
			k--;
			i <<= 1;
			continue;
		}
		ret = w->leaf(w, k, i, is_free(w->heap, c, k, i));
		if (ret)
			return ret;
		while (k < c->order && (i & 1)) {
			i >>= 1;
			k++;
		}
		if (k == c->order)
			return 0;
		i++;
	}
}

static int walk_leaf(struct walk_ctx *w, unsigned int k, u64 i, bool free)
{
	u64 off = block_offset(w->c, k, i);
	enum buddy_block_state state = BUDDY_BLOCK_FREE;

	if (!free && !is_deferred(w->heap, k, off))
		state = continues_run(w->c, i << k) ? BUDDY_BLOCK_CONTINUED :
						      BUDDY_BLOCK_ALLOCATED;
	return w->fn(w->arg, off, k, state);
}

/**
 * buddy_walk_from() - call @fn for every block from @start on, by address
 * @heap: the heap
 * @start: window offset; the walk begins with the block holding it (or
 *	the first block after it)
 * @fn: called with @arg, the block's offset, order and state
 * @arg: passed to @fn
 *
 * Costs O(log N) to reach @start plus O(1) amortised per block reported,
 * so a caller that stops the walk and resumes it where it stopped pays
 * O(N) in total.
 *
 * Return: 0, or the first non-zero value @fn returned (which stops the walk).
 */
int buddy_walk_from(const struct buddy_heap *heap, u64 start,
		    buddy_walk_fn fn, void *arg)
{
	struct walk_ctx w = {
		.heap = heap,
		.leaf = walk_leaf,
		.fn = fn,
		.arg = arg,
	};
	unsigned int ci;
	int ret;

	for (ci = 0; ci < heap->nr_chunks; ci++) {
		u64 g = 0;

		w.c = &heap->chunks[ci];
		if (w.c->offset + chunk_bytes(w.c) <= start)
			continue;
		if (start > w.c->offset)
			g = (start - w.c->offset) >> BUDDY_GRAIN_SHIFT;
		ret = walk_chunk(&w, g);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * buddy_walk() - call @fn for every block, free or allocated, by address
 * @heap: the heap
 * @fn: called with @arg, the block's offset, order and state
 * @arg: passed to @fn
 *
 * O(heap size): for heap maps and debugging, not for hot paths.
 *
 * Return: 0, or the first non-zero value @fn returned (which stops the walk).
 */
int buddy_walk(const struct buddy_heap *heap, buddy_walk_fn fn, void *arg)
{
	return buddy_walk_from(heap, 0, fn, arg);
}

static int violation(struct buddy_violation *v, u64 offset,
		     unsigned int order, const char *what)
{
	if (v) {
		v->offset = offset;
		v->order = order;
		v->what = what;
	}
	return -EUCLEAN;
}

static int check_leaf(struct walk_ctx *w, unsigned int k, u64 i, bool free)
{
	bool continued = continues_run(w->c, i << k);

	if (continued && (free || !w->prev_allocated))
		return violation(w->v, block_offset(w->c, k, i), k,
				 "run bit on a block not continuing a run");
	w->prev_allocated = !free;
	if (free) {
		w->nfree[k]++;
		return 0;
	}
	w->used_bytes += order_bytes(k);
	if (continued)
		w->ncontinued++;
	else
		w->used_blocks++;
	return 0;
}

static int check_split(struct walk_ctx *w, unsigned int k, u64 i)
{
	u64 off = block_offset(w->c, k, i);

	if (is_free(w->heap, w->c, k, i))
		return violation(w->v, off, k, "node both split and free");
	if (is_free(w->heap, w->c, k - 1, 2 * i) &&
	    is_free(w->heap, w->c, k - 1, 2 * i + 1))
		return violation(w->v, off, k - 1, "free buddies not merged");
	w->nsplit[k]++;
	return 0;
}

/* Summaries of the free bitmap of order @k must match the level below. */
static int check_summaries(struct walk_ctx *w, unsigned int k)
{
	const struct buddy_chunk *c = w->c;
	const u64 *lvl = free_map(w->heap, c, k);
	u64 bits = BIT_ULL(c->order - k);
	u64 off = c->offset;

	while (bits > 64) {
		u64 words = bits >> 6;
		const u64 *up = lvl + words;
		u64 j;

		for (j = 0; j < words; j++)
			if (test_bit64(up, j) != !!lvl[j])
				return violation(w->v, off +
						 (j << (k + 6 + BUDDY_GRAIN_SHIFT)),
						 k, "free summary bit wrong");
		if (words < 64 && (up[0] >> words))
			return violation(w->v, off, k,
					 "stray free summary bit");
		lvl = up;
		bits = words;
	}
	if (bits < 64 && (lvl[0] >> bits))
		return violation(w->v, off, k, "stray free bit past the end");
	return 0;
}

static unsigned int popcount_words(const u64 *w, u64 n)
{
	unsigned int sum = 0;
	u64 j;

	for (j = 0; j < n; j++)
		sum += buddy_popcount64(w[j]);
	return sum;
}

static int check_chunk(const struct buddy_heap *heap, unsigned int ci,
		       struct walk_ctx *w, u64 *nfree_heap)
{
	const struct buddy_chunk *c = &heap->chunks[ci];
	unsigned int k, K = c->order;
	int ret;

	w->c = c;
	memset(w->nfree, 0, sizeof(w->nfree));
	memset(w->nsplit, 0, sizeof(w->nsplit));
	w->ncontinued = 0;
	w->prev_allocated = false;
	ret = walk_chunk(w, 0);
	if (ret)
		return ret;
	/* check_leaf() saw the bits at block starts: any other is stray */
	if (popcount_words(run_map(c), run_words(K)) != w->ncontinued)
		return violation(w->v, c->offset, K,
				 "run bit set inside a block or past the end");
	if (w->ncontinued && !heap->may_have_runs)
		return violation(w->v, c->offset, K,
				 "run bits in a heap that made no run");
	for (k = 0; k <= K; k++) {
		u64 words = bitmap_words(K - k);

		ret = check_summaries(w, k);
		if (ret)
			return ret;
		if (popcount_words(free_map(heap, c, k), words) != w->nfree[k])
			return violation(w->v, c->offset, k,
					 "free bit set on a covered node");
		if (chunk_counts(c)[k] != w->nfree[k])
			return violation(w->v, c->offset, k,
					 "chunk free count wrong");
		if (!!(heap->chunk_mask[k] & BIT_ULL(ci)) != !!w->nfree[k])
			return violation(w->v, c->offset, k,
					 "chunk mask bit wrong");
		nfree_heap[k] += w->nfree[k];
		if (!k)
			continue;
		if (popcount_words(split_map(heap, c, k), words) !=
		    w->nsplit[k])
			return violation(w->v, c->offset, k,
					 "split bit set on a leaf or covered node");
	}
	return 0;
}

/*
 * Every deferred block must be an allocated-looking leaf of its order, once;
 * subtract them from the allocated totals the walk found.
 */
static int check_deferred(const struct buddy_heap *heap, struct walk_ctx *w)
{
	unsigned int k, j, l;

	for (k = 0; k < BUDDY_DEFER_ORDERS; k++) {
		if (heap->defer_n[k] > heap->defer_depth ||
		    !!(heap->defer_mask & BIT(k)) != !!heap->defer_n[k])
			return violation(w->v, 0, k,
					 "defer count or mask wrong");
		for (j = 0; j < heap->defer_n[k]; j++) {
			u64 off = heap->defer[k][j], rel;
			const struct buddy_chunk *c;
			int ci = find_chunk(heap, off);

			if (ci == BUDDY_NO_CHUNK)
				return violation(w->v, off, k,
						 "deferred block outside the heap");
			c = &heap->chunks[ci];
			rel = off - c->offset;
			if (k > c->order || (rel & (order_bytes(k) - 1)) ||
			    find_leaf(heap, c, rel >> BUDDY_GRAIN_SHIFT) != k ||
			    is_free(heap, c, k, block_index(c, k, off)))
				return violation(w->v, off, k,
						 "deferred block is not an allocated leaf");
			rel >>= BUDDY_GRAIN_SHIFT;
			if (continues_run(c, rel) ||
			    run_follows(c, rel + BIT_ULL(k)))
				return violation(w->v, off, k,
						 "deferred block in a run");
			for (l = 0; l < j; l++)
				if (heap->defer[k][l] == off)
					return violation(w->v, off, k,
							 "block deferred twice");
			w->used_bytes -= order_bytes(k);
			w->used_blocks--;
		}
	}
	if (heap->defer_mask >> BUDDY_DEFER_ORDERS)
		return violation(w->v, 0, 0, "defer mask bit past the end");
	return 0;
}

/**
 * buddy_check() - verify every invariant of a heap
 * @heap: the heap
 * @v: if not NULL, filled with the first violation found
 *
 * Checks the chunk list (sorted, aligned, inside the window, not
 * overlapping, metadata sized right), that every node is exactly one of
 * free, split, allocated or covered, that no two free buddies are left
 * unmerged, that summary bits, per-chunk and per-heap counts and masks
 * match the bitmaps, and that the byte counters match the blocks.
 * O(heap size): for tests and debugging.
 *
 * Return: 0, or -EUCLEAN.
 */
int buddy_check(const struct buddy_heap *heap, struct buddy_violation *v)
{
	struct walk_ctx w = {
		.heap = heap,
		.leaf = check_leaf,
		.split = check_split,
		.v = v,
	};
	u64 nfree[BUDDY_MAX_ORDER + 1] = { 0 };
	u64 heap_bytes = 0, meta_bytes = 0, prev_end = 0, mask = 0;
	unsigned int ci, k;
	int ret;

	if (heap->nr_chunks > BUDDY_MAX_CHUNKS)
		return violation(v, 0, 0, "too many chunks");
	for (ci = 0; ci < heap->nr_chunks; ci++) {
		const struct buddy_chunk *c = &heap->chunks[ci];
		u64 bytes;

		if (c->order > heap->cfg.max_order ||
		    c->order < heap->cfg.min_chunk_order)
			return violation(v, c->offset, c->order,
					 "chunk order out of range");
		bytes = chunk_bytes(c);
		if (c->offset & (bytes - 1))
			return violation(v, c->offset, c->order,
					 "chunk not aligned to its size");
		if (c->offset < prev_end)
			return violation(v, c->offset, c->order,
					 "chunks overlap or are out of order");
		if (c->offset + bytes > buddy_window_bytes(heap))
			return violation(v, c->offset, c->order,
					 "chunk beyond the window");
		if (!c->mem || !c->meta ||
		    c->meta_bytes != meta_words(heap, c->order) * sizeof(u64))
			return violation(v, c->offset, c->order,
					 "chunk memory or metadata missing");
		if (c->meta_shared != !!(heap->shared_mask & BIT_ULL(ci)))
			return violation(v, c->offset, c->order,
					 "shared mask disagrees with a chunk");
		if (c->free_area != (u64 *)c->meta + c->order + 1 ||
		    c->split_area != c->free_area +
				     heap->free_off[c->order + 1])
			return violation(v, c->offset, c->order,
					 "chunk metadata pointers wrong");
		prev_end = c->offset + bytes;
		heap_bytes += bytes;
		meta_bytes += c->meta_bytes;
		ret = check_chunk(heap, ci, &w, nfree);
		if (ret)
			return ret;
	}
	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		if (heap->free_blocks[k] != nfree[k])
			return violation(v, 0, k, "heap free count wrong");
		if (nfree[k])
			mask |= BIT_ULL(k);
		if (heap->nr_chunks < 64 &&
		    (heap->chunk_mask[k] >> heap->nr_chunks))
			return violation(v, 0, k, "chunk mask bit past the end");
	}
	if (heap->order_mask != mask)
		return violation(v, 0, 0, "order mask wrong");
	if (heap->nr_chunks < 64 && (heap->shared_mask >> heap->nr_chunks))
		return violation(v, 0, 0, "shared mask bit past the end");
	ret = check_deferred(heap, &w);
	if (ret)
		return ret;
	if (heap->hint_order >= 0) {
		unsigned int hci, horder;
		u64 hi;

		if (locate(heap, heap->hint_offset, &hci, &horder, &hi) ||
		    horder != (unsigned int)heap->hint_order ||
		    run_follows(&heap->chunks[hci], (hi + 1) << horder))
			return violation(v, heap->hint_offset,
					 heap->hint_order,
					 "last-allocation hint stale");
	} else if (heap->hint_order != -1) {
		return violation(v, 0, 0, "last-allocation hint invalid");
	}
	if (heap->heap_bytes != heap_bytes)
		return violation(v, 0, 0, "heap_bytes wrong");
	if (heap->counters.meta_bytes != meta_bytes)
		return violation(v, 0, 0, "meta_bytes wrong");
	if (heap->counters.bytes_in_use != w.used_bytes)
		return violation(v, 0, 0, "bytes_in_use wrong");
	if (heap->counters.live_blocks != w.used_blocks)
		return violation(v, 0, 0, "live_blocks wrong");
	return 0;
}
