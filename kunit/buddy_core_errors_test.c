// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the buddy core (buddy_core.c): its error paths and its
 * consistency checker.  buddy_errors makes every call refuse every kind of
 * bad argument and failed allocation and expects the heap, the counters
 * and the call's outputs exactly as they were, and makes ops->copy and
 * ops->zero fail and expects what struct buddy_ops promises then (every
 * block and output as it was, free memory maybe not); buddy_check damages a
 * healthy heap by hand, one field at a time, and expects buddy_check() to
 * name the damage.  The other suites of the core are in buddy_core_test.c
 * and buddy_core_growth_test.c.
 *
 * The source under test is #included so the suites reach its static
 * functions (free_map(), split_map()); this module links nothing else.
 * Every case builds its heaps with the fixture in buddy_test_fixture.h,
 * which runs buddy_check() on whatever a case leaves behind.  Run them
 * with `make kunit` (kunit/run).
 */

#include <kunit/test.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../buddy_core.c"

#include "buddy_test.h"
#include "buddy_test_fixture.h"

/* Suite buddy_errors: every refusal leaves the heap exactly as it was. */

/* A heap with some allocated and some free blocks to aim at. */
static struct tfix *theap_busy(struct kunit *test, u64 *blk64)
{
	struct tfix *f = theap_default(test);

	talloc(test, f, 16);			/* 0 */
	*blk64 = talloc(test, f, 64);		/* 64 */
	talloc(test, f, 256);			/* 256 */
	return f;
}

static void buddy_test_free_outside(struct kunit *test)
{
	const u64 offs[] = { osz(T_CHUNK_ORDER), osz(T_CHUNK_ORDER + 1),
			     osz(T_MAX_ORDER) - BUDDY_GRAIN, osz(T_MAX_ORDER),
			     osz(T_MAX_ORDER + 4), U64_MAX - 15, U64_MAX };
	struct tsnap *before;
	struct tfix *f;
	unsigned int i;
	u64 blk;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_free(&f->heap, offs[i]), -ENXIO,
				    "offset %llu", offs[i]);
	expect_unchanged(test, f, before, ARRAY_SIZE(offs));
}

static void buddy_test_free_not_block_start(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk + 16), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk + 32), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk + 48), -EINVAL);
	expect_unchanged(test, f, before, 3);
}

static void buddy_test_free_unaligned(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk + 15), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 1), -EINVAL);
	expect_unchanged(test, f, before, 3);
}

static void buddy_test_free_double(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk, size = 12345;

	f = theap_busy(test, &blk);
	tfree(test, f, blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk), -EALREADY);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, blk, &size),
			-EALREADY);
	expect_unchanged(test, f, before, 1);
	KUNIT_EXPECT_EQ(test, size, 12345);
}

static void buddy_test_free_inside_free_block(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	/* 16..63 and 128..255 are free blocks; 1024 inside a free 1 KiB block */
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 16), -EALREADY);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 160), -EALREADY);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 1024 + 512), -EALREADY);
	expect_unchanged(test, f, before, 3);
}

static void buddy_test_usable_size_errors(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk, size = 12345;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, osz(T_MAX_ORDER),
						     &size), -ENXIO);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, blk + 16, &size),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, 16, &size),
			-EALREADY);
	/* usable_size is const: it does not count as a failed call */
	expect_unchanged(test, f, before, 0);
	KUNIT_EXPECT_EQ(test, size, 12345);
}

static void buddy_test_realloc_errors(struct kunit *test)
{
	struct tsnap *before;
	struct tfix *f;
	u64 blk, now = U64_MAX;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, osz(T_MAX_ORDER), 16, 0,
						 &now), -ENXIO);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, blk + 16, 16, 0, &now),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 16, 16, 0, &now),
			-EALREADY);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, blk, 16,
						 ~BUDDY_ALLOC_FLAGS, &now), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, blk,
						 osz(T_MAX_ORDER) + 1, 0, &now),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, blk, U64_MAX, 0, &now),
			-ENOMEM);
	expect_unchanged(test, f, before, 6);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	KUNIT_EXPECT_EQ(test, tusable(test, f, blk), 64);
}

static void buddy_test_init_bad_config(struct kunit *test)
{
	struct buddy_config cfg = { .max_order = 10, .min_chunk_order = 4 };
	struct tfix *f = tfix_new(test);
	struct buddy_ops ops;

	KUNIT_EXPECT_EQ(test, tfix_init(f, BUDDY_MAX_ORDER + 1, T_CHUNK_ORDER,
					0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, tfix_init(f, 10, 11, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_init(&f->heap, &(struct buddy_config){
						.max_order = 10 }, NULL, f),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_init(&f->heap, NULL, &tfix_ops, f),
			-EINVAL);
	/* every callback but ->copy is required */
	ops = tfix_ops;
	ops.chunk_alloc = NULL;
	KUNIT_EXPECT_EQ(test, buddy_heap_init(&f->heap, &cfg, &ops, f), -EINVAL);
	ops = tfix_ops;
	ops.meta_free = NULL;
	KUNIT_EXPECT_EQ(test, buddy_heap_init(&f->heap, &cfg, &ops, f), -EINVAL);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
}

static void buddy_test_init_bad_trim_order(struct kunit *test)
{
	static const unsigned int good[] = {
		0, BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT + 1, T_MAX_ORDER,
	};
	struct buddy_config cfg = { .max_order = T_MAX_ORDER,
				    .min_chunk_order = T_CHUNK_ORDER };
	struct tfix *f = tfix_new(test);
	unsigned int t, i;

	/* a run is made of 256-byte units: orders up to 4 cannot be trimmed */
	for (t = 1; t <= BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT; t++) {
		cfg.trim_order = t;
		KUNIT_EXPECT_EQ_MSG(test, tfix_init_cfg(f, &cfg), -EINVAL,
				    "trim_order %u", t);
	}
	/* nor orders past the window */
	cfg.trim_order = T_MAX_ORDER + 1;
	KUNIT_EXPECT_EQ(test, tfix_init_cfg(f, &cfg), -EINVAL);
	cfg.trim_order = BUDDY_MAX_ORDER + 1;
	KUNIT_EXPECT_EQ(test, tfix_init_cfg(f, &cfg), -EINVAL);
	cfg.trim_order = U32_MAX;
	KUNIT_EXPECT_EQ(test, tfix_init_cfg(f, &cfg), -EINVAL);
	/* a 256-byte window has no order a run could be trimmed from */
	cfg = (struct buddy_config){ .max_order = 4, .min_chunk_order = 4,
				     .trim_order = 5 };
	KUNIT_EXPECT_EQ(test, tfix_init_cfg(f, &cfg), -EINVAL);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	/* 0 (off), the lowest order and the window's are accepted */
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		cfg = (struct buddy_config){ .max_order = T_MAX_ORDER,
					     .min_chunk_order = T_CHUNK_ORDER,
					     .trim_order = good[i] };
		KUNIT_EXPECT_EQ_MSG(test, tfix_init_cfg(f, &cfg), 0,
				    "trim_order %u", good[i]);
		KUNIT_EXPECT_EQ(test, f->heap.cfg.trim_order, good[i]);
		tfix_destroy(f);
	}
}

static void buddy_test_init_no_memory(struct kunit *test)
{
	struct tfix *f = tfix_new(test);

	f->chunk_budget = 0;
	f->meta_budget = 0;
	/* either init allocates nothing, or it fails cleanly */
	if (tfix_init(f, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0) == 0) {
		u64 off;

		KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off),
				-ENOMEM);
		HEAP_CHECK(test, &f->heap);
		tfix_destroy(f);
	}
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

static void buddy_test_grow_chunk_failure(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	u64 off;

	talloc(test, f, osz(T_CHUNK_ORDER - 1));
	f->chunk_budget = 0;
	before = tsnap(test, f);
	/* needs a new chunk, which cannot be had */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_CHUNK_ORDER), 0,
					       &off), -ENOMEM);
	expect_unchanged(test, f, before, 1);
	/* what is left still serves smaller requests */
	talloc(test, f, 16);
}

static void buddy_test_grow_meta_failure(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	u64 off;

	talloc(test, f, osz(T_CHUNK_ORDER - 1));
	f->meta_budget = 0;
	before = tsnap(test, f);
	/* the chunk comes, its metadata does not: the chunk must go back */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_CHUNK_ORDER), 0,
					       &off), -ENOMEM);
	expect_unchanged(test, f, before, 1);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

/*
 * Each bad offset gets the same verdict from every call that takes one,
 * and none of them touches the heap or its output.  On theap_busy(): free
 * blocks are 16, 32..63, 128..255 and 512..4095 of the 4 KiB chunk.
 */
static void buddy_test_offset_errors_every_call(struct kunit *test)
{
	static const struct {
		u64 off;
		int err;
	} bad[] = {
		{ 4096, -ENXIO },			/* past the chunk */
		{ 16384, -ENXIO },
		{ BUDDY_GRAIN << T_MAX_ORDER, -ENXIO },	/* the window's end */
		{ U64_MAX, -ENXIO },
		{ 64 + 16, -EINVAL },			/* inside the block at 64 */
		{ 64 + 48, -EINVAL },
		{ 64 + 1, -EINVAL },
		{ 8, -EINVAL },				/* inside the grain at 0 */
		{ 16, -EALREADY },			/* a free grain */
		{ 20, -EALREADY },
		{ 128, -EALREADY },			/* a free order-3 block */
		{ 1000, -EALREADY },			/* inside the free 512..1023 */
	};
	struct tsnap *before;
	struct tfix *f;
	u64 blk, size = 12345, now = U64_MAX;
	unsigned int i;

	f = theap_busy(test, &blk);
	KUNIT_ASSERT_EQ(test, blk, 64);
	before = tsnap(test, f);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_free(&f->heap, bad[i].off),
				    bad[i].err, "free(%llu)", bad[i].off);
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_usable_size(&f->heap, bad[i].off,
								 &size),
				    bad[i].err, "usable_size(%llu)", bad[i].off);
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_realloc(&f->heap, bad[i].off,
							     100, 0, &now),
				    bad[i].err, "realloc(%llu)", bad[i].off);
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_realloc(&f->heap, bad[i].off,
							     100, BUDDY_ALLOC_ZERO,
							     &now),
				    bad[i].err, "realloc(%llu, ZERO)", bad[i].off);
	}
	/* usable_size does not count as a failed call, the others do */
	expect_unchanged(test, f, before, 3 * ARRAY_SIZE(bad));
	KUNIT_EXPECT_EQ(test, size, 12345);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
}

static void buddy_test_bad_flags_every_call(struct kunit *test)
{
	static const unsigned int flags[] = { 0x2, 0x4, 0x80000000u, ~0u };
	struct tsnap *before;
	struct tfix *f;
	u64 blk, off = U64_MAX;
	unsigned int i;

	f = theap_busy(test, &blk);
	before = tsnap(test, f);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_alloc(&f->heap, 16, flags[i],
							   &off),
				    -EINVAL, "alloc flags %#x", flags[i]);
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_alloc_aligned(&f->heap, 16, 16,
								   flags[i], &off),
				    -EINVAL, "alloc_aligned flags %#x", flags[i]);
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_realloc(&f->heap, blk, 100,
							     flags[i], &off),
				    -EINVAL, "realloc flags %#x", flags[i]);
	}
	expect_unchanged(test, f, before, 3 * ARRAY_SIZE(flags));
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
}

static void buddy_test_no_chunk_no_offsets(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	u64 size = 12345, now = U64_MAX;

	/* before the first chunk and after destroy, every offset is outside */
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 0), -ENXIO);
	talloc(test, f, 100);
	talloc(test, f, osz(T_CHUNK_ORDER));
	tfix_destroy(f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 0), -ENXIO);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, 0, &size), -ENXIO);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 1, 0, &now), -ENXIO);
	KUNIT_EXPECT_NULL(test, buddy_chunk_address(&f->heap, 0, NULL));
	KUNIT_EXPECT_EQ(test, size, 12345);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_init_largest_window(struct kunit *test)
{
	struct tfix *f = tfix_new(test);
	struct buddy_stats *st;
	unsigned int k;

	KUNIT_ASSERT_EQ(test, tfix_init(f, BUDDY_MAX_ORDER, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_window_bytes(&f->heap), 1ULL << 40);
	/* init takes no chunk: an empty heap, all of it unusable */
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 0);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 0);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, -1);
	KUNIT_EXPECT_EQ(test, st->nr_orders, BUDDY_MAX_ORDER + 1);
	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], 1000, "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], 0, "order %u", k);
	}
	KUNIT_EXPECT_EQ(test, f->chunk_allocs, 0);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_first_chunk_failure(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before = tsnap(test, f);
	u64 off = U64_MAX;

	/* an empty heap whose first chunk cannot be had */
	f->chunk_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, 0, &off), -ENOMEM);
	expect_unchanged(test, f, before, 1);
	/* or whose first chunk's metadata cannot: the chunk goes back */
	f->chunk_budget = -1;
	f->meta_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, 0, &off), -ENOMEM);
	expect_unchanged(test, f, before, 2);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
}

/*
 * Failed writes.  ops->copy and ops->zero may fail with -ENOMEM (f->
 * write_budget).  The contract (struct buddy_ops): the call fails with
 * -ENOMEM, every block is as it was (offset, usable size, contents) and
 * the outputs are not written; like any failed request it may leave free
 * memory arranged differently (deferred blocks merged, a chunk added or
 * given back).  expect_write_failure() checks exactly that, then each case
 * lets the same call succeed.
 */

/* Patterns of theap_written(): the chunk's old contents and each block's. */
#define TW_OLD	0x5a

/* An allocated block and a copy of its contents. */
struct tblk {
	u64 off;
	u64 size;
	u8 *data;
};

/*
 * The allocations of a heap, in offset order (a trimmed run once, at its
 * first block), and its counters.
 */
struct tblocks {
	struct kunit *test;
	struct tfix *f;
	struct tblk *b;
	unsigned int n, max;
	u64 bytes_in_use;
	u64 live_blocks;
	u64 nr_failed;
};

static int tblocks_fn(void *arg, u64 off, unsigned int order,
		      enum buddy_block_state state)
{
	struct tblocks *s = arg;
	struct tblk *b;

	if (state != BUDDY_BLOCK_ALLOCATED)
		return 0;
	if (s->n == s->max)
		return 1;
	b = &s->b[s->n++];
	b->off = off;
	b->size = tusable(s->test, s->f, off);
	b->data = kunit_kmalloc(s->test, b->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(s->test, b->data);
	memcpy(b->data, tptr(s->test, s->f, off, b->size), b->size);
	return 0;
}

static struct tblocks *tblocks(struct kunit *test, struct tfix *f)
{
	struct tblocks *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct twalk *w = twalk(test, f);
	struct buddy_stats *st = tstats(test, f);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	s->test = test;
	s->f = f;
	s->max = w->nr_allocated;
	s->b = kunit_kcalloc(test, s->max + 1, sizeof(*s->b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s->b);
	KUNIT_ASSERT_EQ(test, buddy_walk(&f->heap, tblocks_fn, s), 0);
	KUNIT_ASSERT_EQ(test, s->n, st->live_blocks);
	s->bytes_in_use = st->bytes_in_use;
	s->live_blocks = st->live_blocks;
	s->nr_failed = st->nr_failed;
	return s;
}

/* Every block of @before is still allocated, same size, same contents. */
static void expect_blocks_kept(struct kunit *test, struct tfix *f,
			       const struct tblocks *before)
{
	unsigned int i;
	u64 size;

	for (i = 0; i < before->n; i++) {
		const struct tblk *b = &before->b[i];

		size = 0;
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_usable_size(&f->heap, b->off,
								 &size), 0,
				    "block at %llu", b->off);
		KUNIT_EXPECT_EQ_MSG(test, size, b->size, "block at %llu", b->off);
		if (size == b->size)
			KUNIT_EXPECT_EQ_MSG(test,
					    memcmp(tptr(test, f, b->off, size),
						   b->data, size), 0,
					    "contents of the block at %llu",
					    b->off);
	}
}

/* The heap holds exactly the chunks and metadata its callbacks handed out. */
static void expect_no_leak(struct kunit *test, struct tfix *f)
{
	KUNIT_EXPECT_EQ(test, f->chunks_live, (long)f->heap.nr_chunks);
	KUNIT_EXPECT_EQ(test, f->metas_live, (long)f->heap.nr_chunks);
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, f->heap.heap_bytes);
	KUNIT_EXPECT_EQ(test, f->chunk_allocs - f->chunk_frees,
			(unsigned long)f->heap.nr_chunks);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

/*
 * The contract of a failed write, after @failed failed calls: the same
 * blocks (offsets, usable sizes, contents), bytes_in_use and live_blocks,
 * @failed more failed calls, a consistent heap, no chunk or metadata
 * leaked.  Free memory is not compared: it may differ.
 */
static void expect_write_failure(struct kunit *test, struct tfix *f,
				 const struct tblocks *before, int failed)
{
	struct tblocks *now = tblocks(test, f);
	unsigned int i;

	/* the walk first: buddy_check() would stop the case on a leaked block */
	KUNIT_EXPECT_EQ(test, now->n, before->n);
	for (i = 0; i < now->n && i < before->n; i++)
		KUNIT_EXPECT_EQ(test, now->b[i].off, before->b[i].off);
	expect_blocks_kept(test, f, before);
	KUNIT_EXPECT_EQ(test, now->bytes_in_use, before->bytes_in_use);
	KUNIT_EXPECT_EQ(test, now->live_blocks, before->live_blocks);
	KUNIT_EXPECT_EQ(test, now->nr_failed, before->nr_failed + failed);
	expect_no_leak(test, f);
	HEAP_CHECK(test, &f->heap);
}

/*
 * One 4 KiB chunk, all of it written before: blocks of 16 at 0 and 16, 64
 * at 64 and 256 at 256, each holding its own pattern; free are o1@32,
 * o3@128, o5@512, o6@1024, o7@2048, still holding TW_OLD.  No further
 * call grows the heap, so zeroing never skips a fresh chunk.
 */
static struct tfix *theap_written(struct kunit *test)
{
	struct tfix *f = theap_default(test);

	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 0);
	tfill(test, f, 0, osz(T_CHUNK_ORDER), TW_OLD);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 16);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 64), 64);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 256), 256);
	tfill(test, f, 0, 16, 0xa0);
	tfill(test, f, 16, 16, 0xa1);
	tfill(test, f, 64, 64, 0xa2);
	tfill(test, f, 256, 256, 0xa3);
	return f;
}

/* A zeroing alloc of @size at @align (0: none) succeeds: a zeroed block. */
static u64 tcalloc(struct kunit *test, struct tfix *f, u64 size, u64 align)
{
	u64 off = U64_MAX;

	f->write_budget = -1;
	if (align)
		KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, size,
							       align,
							       BUDDY_ALLOC_ZERO,
							       &off), 0);
	else
		KUNIT_ASSERT_EQ(test, buddy_heap_alloc(&f->heap, size,
						       BUDDY_ALLOC_ZERO, &off), 0);
	KUNIT_EXPECT_GE(test, tusable(test, f, off), size);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, size, 0));
	if (align)
		KUNIT_EXPECT_EQ(test, off & (align - 1), 0);
	return off;
}

static void buddy_test_calloc_write_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before = tblocks(test, f);
	u64 off = U64_MAX;

	/* a grain split off the free o1@32, then a whole free o3@128 */
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 100, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 2);
	KUNIT_EXPECT_EQ(test, f->zeroes, 0);
	/* with memory to write, the same calls succeed */
	tcalloc(test, f, 16, 0);
	tcalloc(test, f, 100, 0);
	expect_blocks_kept(test, f, before);
	KUNIT_EXPECT_EQ(test, f->zeroes, 2);
}

static void buddy_test_aligned_calloc_write_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before = tblocks(test, f);
	u64 off = U64_MAX;

	/* o5@512 taken and split down to a grain, its tail given back */
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 512,
						       BUDDY_ALLOC_ZERO, &off),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 1);
	tcalloc(test, f, 16, 512);
	expect_blocks_kept(test, f, before);
}

static void buddy_test_realloc_grow_in_place_zero_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before;
	u64 now = U64_MAX;

	/* the grain at 0 can take in its free buddies at 16 and 32 */
	tfree(test, f, 16);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 64,
						 BUDDY_ALLOC_ZERO, &now), -ENOMEM);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 1);
	/* with memory to write it grows, zeroing what it gains */
	f->write_budget = -1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 64,
						 BUDDY_ALLOC_ZERO, &now), 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 64);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0xa0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 16, 48, 0));
}

static void buddy_test_realloc_move_copy_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before = tblocks(test, f);
	u64 now = U64_MAX;

	/* the o2 block at 64 cannot grow in place: it moves to o3@128 */
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 64, 128, 0, &now),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 64, 128,
						 BUDDY_ALLOC_ZERO, &now), -ENOMEM);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 2);
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	/* it is still the live block it was, and moves once it can copy */
	f->write_budget = -1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 64, 128, 0, &now), 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 128);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 64, 0xa2));
}

static void buddy_test_realloc_move_zero_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before = tblocks(test, f);
	u64 now = U64_MAX;

	/* the copy into o3@128 succeeds, zeroing its tail does not */
	f->write_budget = 1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 64, 128,
						 BUDDY_ALLOC_ZERO, &now), -ENOMEM);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 1);
	KUNIT_EXPECT_EQ(test, f->copies, 1);
	KUNIT_EXPECT_EQ(test, f->zeroes, 0);
	f->write_budget = -1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 64, 128,
						 BUDDY_ALLOC_ZERO, &now), 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 64, 0xa2));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 64, 64, 0));
}

/*
 * Two order-9 chunks of a heap trimming from order 9, kept however empty
 * and written all over (TW_OLD): a run of 5000 at 0 (4096 + 1024) and
 * 2048 bytes at 6144, each with its pattern; free are o6@5120 and the
 * whole chunk at 8192.  No further call grows the heap.
 */
static struct tfix *theap_written_trim(struct kunit *test)
{
	struct tfix *f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, SZ_1M, 9);

	KUNIT_ASSERT_EQ(test, talloc(test, f, 8192), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 8192), 8192);
	tfill(test, f, 0, 8192, TW_OLD);
	tfill(test, f, 8192, 8192, TW_OLD);
	tfree(test, f, 0);
	tfree(test, f, 8192);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 5000), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 2048), 6144);
	tfill(test, f, 0, 5120, 0xb0);
	tfill(test, f, 6144, 2048, 0xb1);
	return f;
}

static void buddy_test_run_write_failures(struct kunit *test)
{
	struct tfix *f = theap_written_trim(test);
	struct tblocks *before = tblocks(test, f);
	u64 off = U64_MAX, now = U64_MAX;

	KUNIT_ASSERT_EQ(test, before->n, 2);
	f->write_budget = 0;
	/* a new run cut from the chunk at 8192: every piece goes back */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 5000, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	/* the run claiming o6@5120 (to 5632 bytes) cannot zero it */
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 5500,
						 BUDDY_ALLOC_ZERO, &now), -ENOMEM);
	/* 7168 bytes need 6144's: the move to 8192 cannot copy */
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 7000, 0, &now),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 3);
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	KUNIT_EXPECT_EQ(test, f->zeroes, 0);
	/* the move copies, then cannot zero what the run gains */
	f->write_budget = 1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 7000,
						 BUDDY_ALLOC_ZERO, &now), -ENOMEM);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 4);
	KUNIT_EXPECT_EQ(test, f->copies, 1);
	KUNIT_EXPECT_EQ(test, f->zeroes, 0);
	/* with memory to write each succeeds, zeroing the run's bytes only */
	off = tcalloc(test, f, 5000, 0);
	KUNIT_EXPECT_EQ(test, off, 8192);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 5120, 3072, TW_OLD));
	tfree(test, f, off);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 5500,
						 BUDDY_ALLOC_ZERO, &now), 0);
	KUNIT_EXPECT_EQ(test, now, 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 0, 5120, 0xb0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 5120, 512, 0));
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, 7000,
						 BUDDY_ALLOC_ZERO, &now), 0);
	/* moved into its whole block, zeroed from the old end to the new */
	KUNIT_EXPECT_EQ(test, now, 8192);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 8192);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 5120, 0xb0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 5120, 3072, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 6144, 2048, 0xb1));
	expect_no_leak(test, f);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_clone_copy_failure(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tfix *g = tfix_new(test);
	struct tblocks *blocks;
	struct tsnap *before;
	long budget;

	/* a second chunk, so that a later chunk's copy fails too */
	talloc(test, f, osz(T_CHUNK_ORDER));
	KUNIT_ASSERT_EQ(test, f->heap.nr_chunks, 2);
	blocks = tblocks(test, f);
	before = tsnap(test, f);
	for (budget = 0; budget < 2; budget++) {
		g->write_budget = budget;
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_clone(&g->heap, &f->heap, g),
				    -ENOMEM, "copies allowed: %ld", budget);
		g->live = true;
		/* an empty heap holding nothing: every chunk went back */
		HEAP_CHECK(test, &g->heap);
		KUNIT_EXPECT_EQ(test, g->heap.nr_chunks, 0);
		KUNIT_EXPECT_EQ(test, g->heap.heap_bytes, 0);
		KUNIT_EXPECT_EQ(test, g->chunks_live, 0);
		KUNIT_EXPECT_EQ(test, g->metas_live, 0);
		KUNIT_EXPECT_EQ(test, g->chunk_allocs, g->chunk_frees);
		KUNIT_EXPECT_FALSE(test, g->bad_free);
		tfix_destroy(g);
	}
	KUNIT_EXPECT_EQ(test, g->copies, 1);
	/* the source is const: all of it as it was, free memory too */
	expect_unchanged(test, f, before, 0);
	expect_write_failure(test, f, blocks, 0);
	/* with memory to write, the clone holds the same blocks */
	g->write_budget = -1;
	KUNIT_EXPECT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	expect_blocks_kept(test, g, blocks);
	expect_no_leak(test, g);
}

/* ->chunk_clone: vmalloc()ed chunk memory like tfix_chunk_alloc()'s. */
static unsigned long tclone_calls;

static void *tclone_chunk(void *ctx, const void *mem, u64 bytes)
{
	void *p = tfix_chunk_alloc(ctx, bytes);

	tclone_calls++;
	if (p)
		memcpy(p, mem, bytes);
	return p;
}

static const struct buddy_ops tclone_ops = {
	.chunk_alloc = tfix_chunk_alloc,
	.chunk_free = tfix_chunk_free,
	.meta_alloc = tfix_meta_alloc,
	.meta_free = tfix_meta_free,
	.copy = tfix_copy,
	.zero = tfix_zero,
	.chunk_clone = tclone_chunk,
};

static void buddy_test_clone_uses_chunk_clone(struct kunit *test)
{
	struct buddy_config cfg = {
		.max_order = T_MAX_ORDER,
		.min_chunk_order = T_CHUNK_ORDER,
	};
	struct tfix *f = tfix_new(test);
	struct tfix *g = tfix_new(test);
	u64 a, b;

	KUNIT_ASSERT_EQ(test, buddy_heap_init(&f->heap, &cfg, &tclone_ops, f),
			0);
	f->live = true;
	a = talloc(test, f, 100);
	b = talloc(test, f, osz(T_CHUNK_ORDER));
	tfill(test, f, a, 100, 0xb1);
	tfill(test, f, b, osz(T_CHUNK_ORDER), 0xb2);
	KUNIT_ASSERT_EQ(test, f->heap.nr_chunks, 2);
	/* any copy would fail: the clone must not need one */
	tclone_calls = 0;
	g->write_budget = 0;
	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	KUNIT_EXPECT_EQ(test, tclone_calls, 2);
	KUNIT_EXPECT_EQ(test, g->copies, 0);
	KUNIT_EXPECT_EQ(test, g->chunks_live, 2);
	KUNIT_EXPECT_PTR_NE(test, g->heap.chunks[0].mem, f->heap.chunks[0].mem);
	KUNIT_EXPECT_TRUE(test, tholds(test, g, a, 100, 0xb1));
	KUNIT_EXPECT_TRUE(test, tholds(test, g, b, osz(T_CHUNK_ORDER), 0xb2));
	/* and a clone of the clone fails cleanly when chunk_clone does */
	tfix_destroy(g);
	g->chunk_budget = 1;
	KUNIT_EXPECT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), -ENOMEM);
	g->live = true;
	KUNIT_EXPECT_EQ(test, tclone_calls, 4);
	KUNIT_EXPECT_EQ(test, g->heap.nr_chunks, 0);
	KUNIT_EXPECT_EQ(test, g->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, g->metas_live, 0);
	KUNIT_EXPECT_FALSE(test, g->bad_free);
}

static void buddy_test_calloc_write_failure_deferred(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before;
	u64 off = U64_MAX;

	/* the grain at 16 freed into the defer list, then taken from it */
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	tfree(test, f, 16);
	KUNIT_ASSERT_EQ(test, f->heap.defer_n[0], 1);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 1);
	tcalloc(test, f, 16, 0);
	expect_blocks_kept(test, f, before);
}

/*
 * Failed writes whose free memory may end up arranged differently, as the
 * contract allows: the blocks must still be kept exactly.
 */

/*
 * Deferred coalescing on and nothing deferred of the order: the grain is
 * split off the free o1@32; given back, it may wait in the defer list
 * instead of merging again.
 */
static void buddy_test_calloc_write_failure_deferred_split(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before;
	u64 off = U64_MAX;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 1);
	tcalloc(test, f, 16, 0);
	expect_blocks_kept(test, f, before);
}

/* Like every other failed call, a zeroing alloc leaves its output alone. */
static void buddy_test_calloc_write_failure_keeps_offset(struct kunit *test)
{
	struct tfix *f = theap_written(test);
	struct tblocks *before = tblocks(test, f);
	u64 off = U64_MAX;

	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 512,
						       BUDDY_ALLOC_ZERO, &off),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 2);
}

/*
 * A full chunk: the block at 0 can only move into a new chunk, and the
 * copy fails.  The chunk grown for it may stay (the low-water mark) or go
 * back; either way it is accounted for, and nr_grows may count it.
 */
static void buddy_test_realloc_move_grow_copy_failure(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tblocks *before;
	u64 now = U64_MAX;

	KUNIT_ASSERT_EQ(test, talloc(test, f, osz(T_CHUNK_ORDER - 1)), 0);
	talloc(test, f, osz(T_CHUNK_ORDER - 1));
	tfill(test, f, 0, osz(T_CHUNK_ORDER - 1), 0xc1);
	tfill(test, f, osz(T_CHUNK_ORDER - 1), osz(T_CHUNK_ORDER - 1), 0xc2);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, osz(T_CHUNK_ORDER),
						 0, &now), -ENOMEM);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	expect_write_failure(test, f, before, 1);
	f->write_budget = -1;
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 0, osz(T_CHUNK_ORDER),
						 0, &now), 0);
	KUNIT_EXPECT_NE(test, now, 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, osz(T_CHUNK_ORDER - 1),
				       0xc1));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, osz(T_CHUNK_ORDER - 1),
				       osz(T_CHUNK_ORDER - 1), 0xc2));
	expect_no_leak(test, f);
}

/*
 * One full 16 KiB chunk whose only free memory is two deferred grains: a
 * 32-byte block exists only once they merge, so they are flushed before
 * the failing write, and may stay merged.
 */
static void buddy_test_calloc_write_failure_after_flush(struct kunit *test)
{
	struct tfix *f = theap(test, 10, 10, 0, osz(10));
	struct tblocks *before;
	unsigned int k;
	u64 off = U64_MAX;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 0);
	tfill(test, f, 0, osz(10), TW_OLD);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 16);
	for (k = 1; k < 10; k++) {
		KUNIT_ASSERT_EQ(test, talloc(test, f, osz(k)), osz(k));
		tfill(test, f, osz(k), osz(k), 0xd0 + k);
	}
	tfree(test, f, 0);
	tfree(test, f, 16);
	KUNIT_ASSERT_EQ(test, f->heap.defer_n[0], 2);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 32, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 1);
	KUNIT_EXPECT_EQ(test, tcalloc(test, f, 32, 0), 0);
	expect_blocks_kept(test, f, before);
}

/*
 * A wholly free 4 KiB chunk kept by the low-water mark, then an 8 KiB
 * chunk that puts it above the mark.  A zeroing alloc takes a grain from
 * the idle chunk and fails to zero it: giving the grain back may release
 * the chunk.
 */
static void buddy_test_calloc_write_failure_idle_chunk(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tblocks *before;
	u64 big, off = U64_MAX;

	tfree(test, f, talloc(test, f, 16));
	KUNIT_ASSERT_EQ(test, f->heap.nr_chunks, 1);
	big = talloc(test, f, osz(T_CHUNK_ORDER + 1));
	KUNIT_ASSERT_EQ(test, big, osz(T_CHUNK_ORDER + 1));
	KUNIT_ASSERT_EQ(test, f->heap.nr_chunks, 2);
	tfill(test, f, big, osz(T_CHUNK_ORDER + 1), 0xe1);
	before = tblocks(test, f);
	f->write_budget = 0;
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, BUDDY_ALLOC_ZERO,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, off, U64_MAX);
	expect_write_failure(test, f, before, 1);
	tcalloc(test, f, 16, 0);
	expect_blocks_kept(test, f, before);
	expect_no_leak(test, f);
}

static struct kunit_case buddy_errors_cases[] = {
	KUNIT_CASE(buddy_test_free_outside),
	KUNIT_CASE(buddy_test_free_not_block_start),
	KUNIT_CASE(buddy_test_free_unaligned),
	KUNIT_CASE(buddy_test_free_double),
	KUNIT_CASE(buddy_test_free_inside_free_block),
	KUNIT_CASE(buddy_test_usable_size_errors),
	KUNIT_CASE(buddy_test_realloc_errors),
	KUNIT_CASE(buddy_test_offset_errors_every_call),
	KUNIT_CASE(buddy_test_bad_flags_every_call),
	KUNIT_CASE(buddy_test_no_chunk_no_offsets),
	KUNIT_CASE(buddy_test_init_bad_config),
	KUNIT_CASE(buddy_test_init_bad_trim_order),
	KUNIT_CASE(buddy_test_init_largest_window),
	KUNIT_CASE(buddy_test_init_no_memory),
	KUNIT_CASE(buddy_test_grow_first_chunk_failure),
	KUNIT_CASE(buddy_test_grow_chunk_failure),
	KUNIT_CASE(buddy_test_grow_meta_failure),
	KUNIT_CASE(buddy_test_calloc_write_failure),
	KUNIT_CASE(buddy_test_aligned_calloc_write_failure),
	KUNIT_CASE(buddy_test_calloc_write_failure_deferred),
	KUNIT_CASE(buddy_test_realloc_grow_in_place_zero_failure),
	KUNIT_CASE(buddy_test_realloc_move_copy_failure),
	KUNIT_CASE(buddy_test_realloc_move_zero_failure),
	KUNIT_CASE(buddy_test_run_write_failures),
	KUNIT_CASE(buddy_test_clone_copy_failure),
	KUNIT_CASE(buddy_test_clone_uses_chunk_clone),
	KUNIT_CASE(buddy_test_calloc_write_failure_deferred_split),
	KUNIT_CASE(buddy_test_calloc_write_failure_keeps_offset),
	KUNIT_CASE(buddy_test_realloc_move_grow_copy_failure),
	KUNIT_CASE(buddy_test_calloc_write_failure_after_flush),
	KUNIT_CASE(buddy_test_calloc_write_failure_idle_chunk),
	{}
};

static struct kunit_suite buddy_errors_suite = {
	.name = "buddy_errors",
	.test_cases = buddy_errors_cases,
};

/* Suite buddy_check: buddy_check() finds every kind of hand-made damage. */

/*
 * Expect buddy_check() to reject @heap with a violation whose text holds
 * @what.
 */
static void expect_violation(struct kunit *test, const struct buddy_heap *heap,
			     const char *what)
{
	struct buddy_violation v = { };

	KUNIT_EXPECT_EQ_MSG(test, buddy_check(heap, &v), -EUCLEAN,
			    "damage of the kind \"%s\" not found", what);
	KUNIT_EXPECT_TRUE_MSG(test, v.what && strstr(v.what, what),
			      "violation \"%s\", expected \"%s\"",
			      v.what ? v.what : "(none)", what);
}

/*
 * One 256 KiB chunk (order 14) of a 16 MiB window, a grain allocated at 0
 * and an order-2 block at 64: free are o0@16, o1@32, o3@128 ... o13@128K.
 */
static struct tfix *theap_check(struct kunit *test)
{
	struct tfix *f = theap(test, 20, 14, 0, 0);

	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 64), 64);
	HEAP_CHECK(test, &f->heap);
	return f;
}

static void buddy_test_check_detects_corruption(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_violation v = { };

	talloc(test, f, 1);
	HEAP_CHECK(test, &f->heap);
	/* a lying free count is found... */
	f->heap.free_blocks[0]++;
	KUNIT_EXPECT_NE(test, buddy_check(&f->heap, &v), 0);
	KUNIT_EXPECT_NOT_NULL(test, v.what);
	/* ...and the heap is whole again once it is put right */
	f->heap.free_blocks[0]--;
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_check_finds_bitmap_damage(struct kunit *test)
{
	struct tfix *f = theap_check(test);
	struct buddy_heap *h = &f->heap;
	const struct buddy_chunk *c = &h->chunks[0];
	u64 *w, save;

	/* a free bit on the allocated order-2 block at 64 (node 1) */
	w = free_map(h, c, 2);
	w[0] |= 2;
	expect_violation(test, h, "summary");
	w[0] &= ~2ULL;
	HEAP_CHECK(test, h);
	/* a free bit on a covered node: grain 5 is inside the block at 64 */
	w = free_map(h, c, 0);
	w[0] |= BIT_ULL(5);
	expect_violation(test, h, "free bit");
	w[0] &= ~BIT_ULL(5);
	/* a split bit on a leaf: the order-2 node at 64 is allocated */
	w = split_map(h, c, 2);
	save = w[0];
	w[0] |= 2;
	KUNIT_EXPECT_EQ(test, buddy_check(h, NULL), -EUCLEAN);
	w[0] = save;
	/* a missing split bit: the chunk's root is split */
	w = split_map(h, c, 14);
	w[0] = 0;
	KUNIT_EXPECT_EQ(test, buddy_check(h, NULL), -EUCLEAN);
	w[0] = 1;
	HEAP_CHECK(test, h);
	/* both buddies free: grain 0 marked free next to the free grain 16 */
	w = free_map(h, c, 0);
	w[0] |= 1;
	expect_violation(test, h, "not merged");
	w[0] &= ~1ULL;
	/* a wrong summary bit: order 0 has 16K bits, its summary after 256 words */
	w[256] ^= 2;
	expect_violation(test, h, "summary");
	w[256] ^= 2;
	HEAP_CHECK(test, h);
}

static void buddy_test_check_finds_count_damage(struct kunit *test)
{
	struct tfix *f = theap_check(test);
	struct buddy_heap *h = &f->heap;
	u64 *counts = h->chunks[0].meta;

	/* the chunk's own count of free order-3 blocks */
	counts[3]++;
	expect_violation(test, h, "count");
	counts[3]--;
	h->free_blocks[5]++;
	expect_violation(test, h, "heap free count");
	h->free_blocks[5]--;
	h->order_mask ^= BIT_ULL(20);
	expect_violation(test, h, "order mask");
	h->order_mask ^= BIT_ULL(20);
	h->chunk_mask[7] = 0;
	expect_violation(test, h, "mask");
	h->chunk_mask[7] = 1;
	h->counters.bytes_in_use += 16;
	expect_violation(test, h, "bytes_in_use");
	h->counters.bytes_in_use -= 16;
	h->counters.live_blocks++;
	expect_violation(test, h, "live_blocks");
	h->counters.live_blocks--;
	h->heap_bytes++;
	expect_violation(test, h, "heap_bytes");
	h->heap_bytes--;
	h->chunks[0].offset = 16;
	expect_violation(test, h, "aligned");
	h->chunks[0].offset = 0;
	HEAP_CHECK(test, h);
}

static void buddy_test_check_finds_bad_deferred_entries(struct kunit *test)
{
	struct tfix *f = theap(test, 10, 10, 0, osz(10));
	struct buddy_heap *h = &f->heap;
	u64 a;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(h, 2), 0);
	a = talloc(test, f, 16);
	talloc(test, f, 16);		/* keeps a from merging when freed */
	tfree(test, f, a);
	KUNIT_ASSERT_EQ(test, h->defer_n[0], 1);
	HEAP_CHECK(test, h);
	h->defer[0][0] = 48;		/* inside the free block at 32 */
	expect_violation(test, h, "deferred block");
	h->defer[0][0] = SZ_1M;
	expect_violation(test, h, "outside");
	h->defer[0][0] = a;
	h->defer[0][1] = a;
	h->defer_n[0] = 2;
	expect_violation(test, h, "twice");
	h->defer_n[0] = 3;
	expect_violation(test, h, "defer count");
	h->defer_n[0] = 1;
	h->defer_mask = 0;
	expect_violation(test, h, "defer count or mask");
	h->defer_mask = 1;
	HEAP_CHECK(test, h);
}

/* The run bit of the block at window offset @off of an order-9 chunk at 0. */
#define RUN_BIT(off)	BIT_ULL((off) >> BUDDY_TRIM_SHIFT)

/* Expect buddy_check() to reject @heap, whatever it calls the damage. */
static void expect_damage(struct kunit *test, const struct buddy_heap *heap,
			  const char *damage)
{
	struct buddy_violation v = { };

	KUNIT_EXPECT_EQ_MSG(test, buddy_check(heap, &v), -EUCLEAN,
			    "damage not found: %s", damage);
	KUNIT_EXPECT_TRUE_MSG(test, v.what, "no violation named: %s", damage);
}

/*
 * One order-9 chunk at 0 of a heap trimming from order 9, full: a run of
 * 5120 bytes at 0 (4096 + 1024: the bit of byte 4096 set), 1024 bytes at
 * 5120 and 2048 at 6144.  The run area is one word, 32 bits of it used.
 */
static void buddy_test_check_finds_run_damage(struct kunit *test)
{
	struct tfix *f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER,
				    osz(T_CHUNK_ORDER), 9);
	struct buddy_heap *h = &f->heap;
	const u64 good = RUN_BIT(4096);
	u64 *run;

	KUNIT_ASSERT_EQ(test, talloc(test, f, 5000), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 1024), 5120);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 2048), 6144);
	HEAP_CHECK(test, h);
	KUNIT_ASSERT_EQ(test, h->nr_chunks, 1);
	KUNIT_ASSERT_EQ(test, h->chunks[0].order, 9);
	run = run_map(&h->chunks[0]);
	KUNIT_ASSERT_NOT_NULL(test, run);
	KUNIT_ASSERT_EQ(test, run[0], good);

	/* a live run's bit cleared: two allocations, counted as one */
	run[0] = 0;
	expect_damage(test, h, "run bit of a live run cleared");
	/* the block at 5120 made part of the run: one, counted as two */
	run[0] = good | RUN_BIT(5120);
	expect_damage(test, h, "live block joined to the run before it");
	/* bits at no block start, or at one with nothing before it */
	run[0] = good | RUN_BIT(0);
	expect_damage(test, h, "run bit on the chunk's first block");
	run[0] = good | RUN_BIT(256);
	expect_damage(test, h, "run bit inside the run's first block");
	run[0] = good | RUN_BIT(6144 + 1024);
	expect_damage(test, h, "run bit inside an allocated block");
	run[0] = good | BIT_ULL(40);
	expect_damage(test, h, "run bit past the chunk's 32");
	run[0] = good;
	HEAP_CHECK(test, h);

	/* a run bit on a free block */
	tfree(test, f, 5120);
	run[0] = good | RUN_BIT(5120);
	expect_damage(test, h, "run bit on a free block");
	/* on an allocated block after a free one */
	run[0] = good | RUN_BIT(6144);
	expect_damage(test, h, "run bit on a block after a free one");
	run[0] = good;
	HEAP_CHECK(test, h);

	/* on a deferred block, after the run's allocated piece */
	KUNIT_ASSERT_EQ(test, talloc(test, f, 1024), 5120);
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(h, 2), 0);
	tfree(test, f, 5120);
	KUNIT_ASSERT_EQ(test, h->defer_n[6], 1);
	HEAP_CHECK(test, h);
	run[0] = good | RUN_BIT(5120);
	expect_damage(test, h, "run bit on a deferred block");
	/* and on the block after it: a deferred block in a run */
	run[0] = good | RUN_BIT(6144);
	expect_damage(test, h, "run bit on the block after a deferred one");
	run[0] = good;
	HEAP_CHECK(test, h);
}

static struct kunit_case buddy_check_cases[] = {
	KUNIT_CASE(buddy_test_check_detects_corruption),
	KUNIT_CASE(buddy_test_check_finds_bitmap_damage),
	KUNIT_CASE(buddy_test_check_finds_count_damage),
	KUNIT_CASE(buddy_test_check_finds_bad_deferred_entries),
	KUNIT_CASE(buddy_test_check_finds_run_damage),
	{}
};

static struct kunit_suite buddy_check_suite = {
	.name = "buddy_check",
	.test_cases = buddy_check_cases,
};

static struct kunit_suite *buddy_core_errors_test_suites[] = {
	&buddy_errors_suite, &buddy_check_suite,
};

/* Like the other core modules: suites run from module_init, in insmod. */
static int __init buddy_core_errors_test_init(void)
{
	return __kunit_test_suites_init(buddy_core_errors_test_suites,
					ARRAY_SIZE(buddy_core_errors_test_suites));
}
module_init(buddy_core_errors_test_init);

static void __exit buddy_core_errors_test_exit(void)
{
	__kunit_test_suites_exit(buddy_core_errors_test_suites,
				 ARRAY_SIZE(buddy_core_errors_test_suites));
}
module_exit(buddy_core_errors_test_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy core: error paths and the consistency checker");
MODULE_LICENSE("GPL");
