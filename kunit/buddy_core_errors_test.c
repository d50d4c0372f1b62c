// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the buddy core (buddy_core.c): its error paths and its
 * consistency checker.  buddy_errors makes every call refuse every kind of
 * bad argument and failed allocation and expects the heap, the counters
 * and the call's outputs exactly as they were; buddy_check damages a
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
	KUNIT_CASE(buddy_test_init_largest_window),
	KUNIT_CASE(buddy_test_init_no_memory),
	KUNIT_CASE(buddy_test_grow_first_chunk_failure),
	KUNIT_CASE(buddy_test_grow_chunk_failure),
	KUNIT_CASE(buddy_test_grow_meta_failure),
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

static struct kunit_case buddy_check_cases[] = {
	KUNIT_CASE(buddy_test_check_detects_corruption),
	KUNIT_CASE(buddy_test_check_finds_bitmap_damage),
	KUNIT_CASE(buddy_test_check_finds_count_damage),
	KUNIT_CASE(buddy_test_check_finds_bad_deferred_entries),
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
