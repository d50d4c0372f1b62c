// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the buddy core (buddy_core.c): size to order,
 * allocation, split and merge, memalign, realloc and statistics.  Trimmed
 * runs are in buddy_core_trim_test.c, error paths and the checker in
 * buddy_core_errors_test.c; growth, shrinking, cloning, deferred
 * coalescing and the randomized sequences in buddy_core_growth_test.c; the
 * device's heap glue is tested by buddy_heap_test.c.
 *
 * The source under test is #included so the suites reach its static
 * functions; this module links nothing else.  Every case builds its heaps
 * with the fixture in buddy_test_fixture.h, which runs buddy_check() on
 * whatever a case leaves behind.  Run them with `make kunit` (kunit/run),
 * which boots the debug kernel in QEMU, loads the test modules and parses
 * the KTAP output with the kernel's own tools/testing/kunit/kunit.py.
 *
 * buddy_stats logs its random seed from .suite_init;
 * load the module with seed=N to replay a run.
 */

#include <kunit/test.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../buddy_core.c"

#include "buddy_test.h"
#include "buddy_test_fixture.h"

/* A heap that is exactly one chunk of @order: it can never grow. */
static struct tfix *theap_one_chunk(struct kunit *test, unsigned int order)
{
	return theap(test, T_MAX_ORDER, order, osz(order), osz(order));
}

/* Free blocks per order must be exactly @want (orders 0..@n-1, rest 0). */
static void expect_buddyinfo(struct kunit *test, struct tfix *f,
			     const u64 *want, unsigned int n)
{
	struct buddy_stats *st = tstats(test, f);
	struct twalk *w = twalk(test, f);
	unsigned int k;

	for (k = 0; k <= f->heap.cfg.max_order; k++) {
		u64 expect = k < n ? want[k] : 0;

		KUNIT_EXPECT_EQ_MSG(test, st->free_blocks[k], expect,
				    "stats: free blocks of order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, w->free_blocks[k], expect,
				    "walk: free blocks of order %u", k);
	}
}

/* Suite buddy_order: size -> order. */

struct order_case {
	const char *name;
	u64 size;
	int ret;
	unsigned int order;
};

static const struct order_case order_cases[] = {
	{ "zero", 0, 0, 0 },
	{ "one", 1, 0, 0 },
	{ "grain-1", BUDDY_GRAIN - 1, 0, 0 },
	{ "grain", BUDDY_GRAIN, 0, 0 },
	{ "grain+1", BUDDY_GRAIN + 1, 0, 1 },
	{ "2grain-1", 2 * BUDDY_GRAIN - 1, 0, 1 },
	{ "2grain", 2 * BUDDY_GRAIN, 0, 1 },
	{ "2grain+1", 2 * BUDDY_GRAIN + 1, 0, 2 },
	{ "page", 4096, 0, 8 },
	{ "page+1", 4097, 0, 9 },
	{ "1MiB-1", (1 << 20) - 1, 0, 16 },
	{ "max-1", (BUDDY_GRAIN << BUDDY_MAX_ORDER) - 1, 0, BUDDY_MAX_ORDER },
	{ "max", BUDDY_GRAIN << BUDDY_MAX_ORDER, 0, BUDDY_MAX_ORDER },
};

static void order_case_desc(const struct order_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s (%llu)", c->name, c->size);
}

KUNIT_ARRAY_PARAM(order, order_cases, order_case_desc);

static void buddy_test_order_edges(struct kunit *test)
{
	const struct order_case *c = test->param_value;
	unsigned int order = 999;

	KUNIT_ASSERT_EQ(test, buddy_size_to_order(c->size, &order), c->ret);
	KUNIT_EXPECT_EQ(test, order, c->order);
}

static void buddy_test_order_powers_of_two(struct kunit *test)
{
	unsigned int k, order;

	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		order = 999;
		KUNIT_ASSERT_EQ(test, buddy_size_to_order(osz(k), &order), 0);
		KUNIT_EXPECT_EQ_MSG(test, order, k, "size %llu", osz(k));
		if (k < BUDDY_MAX_ORDER) {
			order = 999;
			KUNIT_ASSERT_EQ(test,
					buddy_size_to_order(osz(k) + 1, &order),
					0);
			KUNIT_EXPECT_EQ_MSG(test, order, k + 1, "size %llu + 1",
					    osz(k));
		}
	}
}

static void buddy_test_order_overflow(struct kunit *test)
{
	static const u64 sizes[] = {
		(BUDDY_GRAIN << BUDDY_MAX_ORDER) + 1,
		BUDDY_GRAIN << (BUDDY_MAX_ORDER + 1),
		1ULL << 63,
		(1ULL << 63) + 1,
		U64_MAX - BUDDY_GRAIN + 2,	/* rounding up wraps */
		U64_MAX,
	};
	unsigned int i, order;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		order = 999;
		KUNIT_EXPECT_EQ_MSG(test, buddy_size_to_order(sizes[i], &order),
				    -ENOMEM, "size %llu", sizes[i]);
		/* a refusal leaves the output alone */
		KUNIT_EXPECT_EQ_MSG(test, order, 999, "size %llu", sizes[i]);
	}
}

static struct kunit_case buddy_order_cases[] = {
	KUNIT_CASE_PARAM(buddy_test_order_edges, order_gen_params),
	KUNIT_CASE(buddy_test_order_powers_of_two),
	KUNIT_CASE(buddy_test_order_overflow),
	{}
};

static struct kunit_suite buddy_order_suite = {
	.name = "buddy_order",
	.test_cases = buddy_order_cases,
};

/* Suite buddy_heap_alloc: allocation, split and merge. */

static void buddy_test_alloc_first_block(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	u64 off = talloc(test, f, 1);

	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), BUDDY_GRAIN);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_usable_size(struct kunit *test)
{
	static const u64 sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 100, 511, 512,
				     513, 1000, 4095, 4096, 4097, 65536 };
	struct tfix *f = theap_default(test);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 off = talloc(test, f, sizes[i]);

		KUNIT_EXPECT_EQ_MSG(test, tusable(test, f, off),
				    osz(ref_order(sizes[i])), "size %llu",
				    sizes[i]);
		tfree(test, f, off);
	}
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_natural_alignment(struct kunit *test)
{
	/* orders in a jumbled sequence so blocks land after odd-sized ones */
	static const unsigned int orders[] = { 0, 3, 1, 7, 0, 2, 10, 4, 0, 12,
					       5, 1, 9, 6, 8, 0, 11, 3 };
	struct tfix *f = theap_default(test);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++) {
		u64 off = talloc(test, f, osz(orders[i]));

		KUNIT_EXPECT_EQ_MSG(test, off & (osz(orders[i]) - 1), 0,
				    "order %u block at %llu", orders[i], off);
		HEAP_CHECK(test, &f->heap);
	}
}

static void buddy_test_alloc_lowest_first(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	u64 a = talloc(test, f, 1);
	u64 b = talloc(test, f, 1);
	u64 c = talloc(test, f, 32);

	/* a and b are buddies, c the next order-1 block up */
	KUNIT_EXPECT_EQ(test, a, 0);
	KUNIT_EXPECT_EQ(test, b, BUDDY_GRAIN);
	KUNIT_EXPECT_EQ(test, c, 2 * BUDDY_GRAIN);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_split(struct kunit *test)
{
	u64 want[T_CHUNK_ORDER];
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	unsigned int k;

	talloc(test, f, 1);
	/* splitting the chunk down to a grain leaves one buddy per order */
	for (k = 0; k < T_CHUNK_ORDER; k++)
		want[k] = 1;
	expect_buddyinfo(test, f, want, T_CHUNK_ORDER);
	/* the first allocation grew the heap by one chunk at offset 0 */
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->nr_grows, 1);
	KUNIT_EXPECT_EQ(test, f->heap.chunks[0].offset, 0);
	KUNIT_EXPECT_EQ(test, f->heap.chunks[0].order, T_CHUNK_ORDER);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, osz(T_CHUNK_ORDER));
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, osz(T_CHUNK_ORDER));
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, BUDDY_GRAIN);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, T_CHUNK_ORDER - 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_free_merge(struct kunit *test)
{
	u64 want[T_CHUNK_ORDER + 1] = { };
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);

	tfree(test, f, talloc(test, f, 1));
	/* every buddy merged back: one free block, the whole chunk */
	want[T_CHUNK_ORDER] = 1;
	expect_buddyinfo(test, f, want, T_CHUNK_ORDER + 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_free_merge_needs_both_buddies(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	u64 a = talloc(test, f, 1);
	u64 b = talloc(test, f, 1);

	tfree(test, f, a);
	st = tstats(test, f);
	/* a's buddy b is still allocated: a stays an order-0 block */
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 1);
	tfree(test, f, b);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 0);
	KUNIT_EXPECT_EQ(test, st->free_blocks[T_CHUNK_ORDER], 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_smallest_order_first(struct kunit *test)
{
	static const u64 want[] = { 0, 0, 1, 0, 1, 1 };
	struct tfix *f = theap_one_chunk(test, 6);

	/* a 1 KiB chunk, split as the requests come */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1), 0);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), 16);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 20), 32);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 64), 64);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1), 128);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1), 144);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 17), 160);
	/* left: o2@192, o4@256, o5@512 */
	expect_buddyinfo(test, f, want, ARRAY_SIZE(want));
	tfree(test, f, 32);
	/* o1@32 is the only order-1 block: it wins over splitting o2@192 */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 32), 32);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 32), 192);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_free_any_order_merges_whole(struct kunit *test)
{
	const unsigned int n = 1 << 6;
	u64 want[7] = { [6] = 1 };
	struct tfix *f = theap_one_chunk(test, 6);
	struct rnd_state rnd;
	unsigned int round, i, j;
	u64 off[1 << 6], tmp;

	for (round = 0; round < 20; round++) {
		/* fill the 64-grain chunk with grains of every size up to 16 */
		for (i = 0; i < n; i++)
			KUNIT_ASSERT_EQ(test, talloc(test, f, 1 + i % 16),
					osz(0) * i);
		KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &tmp),
				-ENOMEM);
		expect_buddyinfo(test, f, NULL, 0);
		/* free them in a shuffled order: each free merges what it can */
		for (i = 0; i < n; i++)
			off[i] = osz(0) * i;
		prandom_seed_state(&rnd, round);
		for (i = n - 1; i > 0; i--) {
			j = prandom_u32_state(&rnd) % (i + 1);
			swap(off[i], off[j]);
		}
		for (i = 0; i < n; i++) {
			tfree(test, f, off[i]);
			HEAP_CHECK(test, &f->heap);
		}
		/* whatever the order, the chunk is one free block again */
		expect_buddyinfo(test, f, want, ARRAY_SIZE(want));
	}
}

static void buddy_test_alloc_optimistic(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	u64 off;
	int k;

	/* one block of each order, largest first, then a last grain: full */
	for (k = T_CHUNK_ORDER - 1; k >= 0; k--) {
		talloc(test, f, osz(k));
		HEAP_CHECK(test, &f->heap);
	}
	talloc(test, f, 1);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, osz(T_CHUNK_ORDER));
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, -1);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off), -ENOMEM);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_pessimistic(struct kunit *test)
{
	u64 blocks[T_CHUNK_ORDER + 1];
	u64 want[T_CHUNK_ORDER + 1] = { };
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	unsigned int k;
	u64 off;

	/* smallest first: each allocation splits what the last one left */
	for (k = 0; k < T_CHUNK_ORDER; k++)
		blocks[k] = talloc(test, f, osz(k));
	blocks[T_CHUNK_ORDER] = talloc(test, f, 1);
	for (k = 0; k <= T_CHUNK_ORDER; k++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_alloc(&f->heap, osz(k), 0, &off),
				    -ENOMEM, "order %u in a full heap", k);

	/* free the big ones: nothing may merge past an allocated grain */
	for (k = T_CHUNK_ORDER - 1; k >= 1; k--) {
		tfree(test, f, blocks[k]);
		HEAP_CHECK(test, &f->heap);
		st = tstats(test, f);
		KUNIT_EXPECT_EQ(test, st->largest_free_order, T_CHUNK_ORDER - 1);
	}
	tfree(test, f, blocks[T_CHUNK_ORDER]);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, T_CHUNK_ORDER - 1);
	tfree(test, f, blocks[0]);

	/* the last free coalesces every order into the whole chunk */
	want[T_CHUNK_ORDER] = 1;
	expect_buddyinfo(test, f, want, T_CHUNK_ORDER + 1);
	off = talloc(test, f, osz(T_CHUNK_ORDER));
	KUNIT_EXPECT_EQ(test, off, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_pathological(struct kunit *test)
{
	const unsigned int n = 1 << T_CHUNK_ORDER;
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	unsigned int i, k;
	u64 off;

	for (i = 0; i < n; i++)
		talloc(test, f, 1);
	/* free every other grain: half the heap free, none of it usable */
	for (i = 0; i < n; i += 2)
		tfree(test, f, osz(0) * i);
	HEAP_CHECK(test, &f->heap);
	for (k = 1; k <= T_CHUNK_ORDER; k++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_alloc(&f->heap, osz(k), 0, &off),
				    -ENOMEM, "order %u", k);
	for (i = 0; i < n; i += 2)
		KUNIT_EXPECT_EQ(test, talloc(test, f, 1), osz(0) * i);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_alloc_zero_flag(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	u64 off = talloc(test, f, 4096);
	u64 again = U64_MAX;

	tfill(test, f, off, 4096, 0xa5);
	tfree(test, f, off);
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc(&f->heap, 4000, BUDDY_ALLOC_ZERO,
					       &again), 0);
	KUNIT_ASSERT_EQ(test, again, off);
	/* the whole usable size, not just the bytes asked for */
	KUNIT_EXPECT_TRUE(test, tholds(test, f, again, 4096, 0));
}

static void buddy_test_alloc_bad_flags(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	u64 off = U64_MAX;

	talloc(test, f, 1);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, ~BUDDY_ALLOC_FLAGS, &off),
			-EINVAL);
	expect_unchanged(test, f, before, 1);
}

static void buddy_test_alloc_larger_than_window(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	u64 off = U64_MAX;

	talloc(test, f, 1);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_MAX_ORDER) + 1, 0,
					       &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, U64_MAX, 0, &off), -ENOMEM);
	expect_unchanged(test, f, before, 2);
}

static void buddy_test_alloc_whole_window(struct kunit *test)
{
	struct tfix *f = theap(test, 12, T_CHUNK_ORDER, 0, 0);
	u64 off;

	/* the largest block is the window itself */
	off = talloc(test, f, osz(12));
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), osz(12));
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off), -ENOMEM);
	HEAP_CHECK(test, &f->heap);
}

static struct kunit_case buddy_alloc_cases[] = {
	KUNIT_CASE(buddy_test_alloc_first_block),
	KUNIT_CASE(buddy_test_alloc_usable_size),
	KUNIT_CASE(buddy_test_alloc_natural_alignment),
	KUNIT_CASE(buddy_test_alloc_lowest_first),
	KUNIT_CASE(buddy_test_alloc_smallest_order_first),
	KUNIT_CASE(buddy_test_alloc_split),
	KUNIT_CASE(buddy_test_free_merge),
	KUNIT_CASE(buddy_test_free_merge_needs_both_buddies),
	KUNIT_CASE(buddy_test_free_any_order_merges_whole),
	KUNIT_CASE(buddy_test_alloc_optimistic),
	KUNIT_CASE(buddy_test_alloc_pessimistic),
	KUNIT_CASE(buddy_test_alloc_pathological),
	KUNIT_CASE(buddy_test_alloc_zero_flag),
	KUNIT_CASE(buddy_test_alloc_bad_flags),
	KUNIT_CASE(buddy_test_alloc_larger_than_window),
	KUNIT_CASE(buddy_test_alloc_whole_window),
	{}
};

static struct kunit_suite buddy_alloc_suite = {
	.name = "buddy_heap_alloc",
	.test_cases = buddy_alloc_cases,
};

/* Suite buddy_memalign. */

/*
 * Every alignment from a grain up to the largest block: the window of a
 * heap made of one chunk that is the whole window (64 KiB).
 */
#define T_MEMALIGN_ORDER	12

static const unsigned int memalign_orders[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
};

static void memalign_desc(const unsigned int *k, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "align %llu", osz(*k));
}

KUNIT_ARRAY_PARAM(memalign, memalign_orders, memalign_desc);

static void buddy_test_memalign_every_alignment(struct kunit *test)
{
	const unsigned int k = *(const unsigned int *)test->param_value;
	struct tfix *f = theap_one_chunk(test, T_MEMALIGN_ORDER);
	struct buddy_stats *st;
	u64 off = U64_MAX, taken = 0;

	/* a grain at the start, so the block cannot be aligned by luck */
	if (k < T_MEMALIGN_ORDER) {
		talloc(test, f, 1);
		taken = BUDDY_GRAIN;
	}
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 24, osz(k), 0, &off),
			0);
	KUNIT_EXPECT_EQ(test, off & (osz(k) - 1), 0);
	KUNIT_EXPECT_EQ(test, off == 0, k == T_MEMALIGN_ORDER);
	/* the tail of the order-k block went back: 24 bytes cost 32 */
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 32);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, taken + 32);
	HEAP_CHECK(test, &f->heap);
	tfree(test, f, off);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_memalign_tail_reusable(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 off = U64_MAX, next;

	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 2048, 0, &off),
			0);
	KUNIT_EXPECT_EQ(test, off, 0);
	/* the trimmed tail is free: the next grain is right behind it */
	next = talloc(test, f, 1);
	KUNIT_EXPECT_EQ(test, next, BUDDY_GRAIN);
	/* and so is every other piece of it, each where it was split off */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 2048), 2048);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1024), 1024);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 32), 32);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_memalign_size_over_align(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	u64 off = U64_MAX;

	talloc(test, f, 1);
	/* the block's own alignment already beats the one asked for */
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 1000, 64, 0, &off),
			0);
	KUNIT_EXPECT_EQ(test, off & 1023, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 1024);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_memalign_bad_alignment(struct kunit *test)
{
	static const u64 aligns[] = { 0, 3, 24, 48, 1000, 4097,
				      (1ULL << 40) + 16, U64_MAX };
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	unsigned int i;
	u64 off;

	talloc(test, f, 1);
	before = tsnap(test, f);
	for (i = 0; i < ARRAY_SIZE(aligns); i++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_heap_alloc_aligned(&f->heap, 16,
								   aligns[i], 0,
								   &off),
				    -EINVAL, "align %llu", aligns[i]);
	expect_unchanged(test, f, before, ARRAY_SIZE(aligns));
}

static void buddy_test_memalign_beyond_window(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct tsnap *before;
	u64 off;

	talloc(test, f, 1);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16,
						       osz(T_MAX_ORDER + 1), 0, &off),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 1ULL << 63, 0,
						       &off), -ENOMEM);
	/* a size beyond the window, whatever the alignment */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap,
						       osz(T_MAX_ORDER + 1), 16, 0,
						       &off), -ENOMEM);
	expect_unchanged(test, f, before, 3);
}

static void buddy_test_memalign_small_align(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	u64 a = U64_MAX, b = U64_MAX;

	/* alignments below a grain are satisfied by every block */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 1, 1, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 1, 8, 0, &b), 0);
	KUNIT_EXPECT_EQ(test, a, 0);
	KUNIT_EXPECT_EQ(test, b, BUDDY_GRAIN);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_memalign_trims_to_order(struct kunit *test)
{
	static const u64 want[] = { 2, 2, 2, 2, 0, 1, 1, 1 };
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 off = U64_MAX, size;

	/* free: o0@16 o1@32 o2@64 o3@128 o4@256 o5@512 o6@1024 o7@2048 */
	talloc(test, f, 1);
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 256, 0, &off),
			0);
	KUNIT_EXPECT_EQ(test, off, 256);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 16);
	/* o4@256 was cut down to a grain: o0@272 o1@288 o2@320 o3@384 */
	expect_buddyinfo(test, f, want, ARRAY_SIZE(want));
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, 272, &size),
			-EALREADY);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_memalign_zero_flag(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 off = talloc(test, f, 256);

	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 256, 0x5a);
	tfree(test, f, off);
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 100, 128,
						       BUDDY_ALLOC_ZERO, &off), 0);
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 128, 0));
	/* only the block is zeroed, not the free memory after it */
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 128, 128, 0x5a));
}

static struct kunit_case buddy_memalign_cases[] = {
	KUNIT_CASE_PARAM(buddy_test_memalign_every_alignment,
			 memalign_gen_params),
	KUNIT_CASE(buddy_test_memalign_tail_reusable),
	KUNIT_CASE(buddy_test_memalign_trims_to_order),
	KUNIT_CASE(buddy_test_memalign_zero_flag),
	KUNIT_CASE(buddy_test_memalign_size_over_align),
	KUNIT_CASE(buddy_test_memalign_bad_alignment),
	KUNIT_CASE(buddy_test_memalign_beyond_window),
	KUNIT_CASE(buddy_test_memalign_small_align),
	{}
};

static struct kunit_suite buddy_memalign_suite = {
	.name = "buddy_memalign",
	.test_cases = buddy_memalign_cases,
};

/* Suite buddy_heap_realloc. */

static void buddy_test_realloc_shrink_in_place(struct kunit *test)
{
	static const u64 want[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	u64 off = talloc(test, f, 2048);
	u64 now;

	tfill(test, f, off, 2048, 0x5a);
	now = trealloc(test, f, off, 16, 0);
	KUNIT_EXPECT_EQ(test, now, off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 16);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x5a));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 16);
	/* the tail went back to the free lists: one buddy per order */
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 1);
	KUNIT_EXPECT_EQ(test, st->free_blocks[6], 1);
	KUNIT_EXPECT_EQ(test, st->free_blocks[7], 1);
	/* orders 0..6 from the tail, 7 the chunk's other half; nothing else */
	expect_buddyinfo(test, f, want, ARRAY_SIZE(want));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_grow_in_place(struct kunit *test)
{
	static const u64 want[] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	u64 off = talloc(test, f, 16);
	u64 now;

	tfill(test, f, off, 16, 0x3c);
	/* every right-hand buddy up to order 7 is free: absorb them */
	now = trealloc(test, f, off, 2048, 0);
	KUNIT_EXPECT_EQ(test, now, off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 2048);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x3c));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 2048);
	KUNIT_EXPECT_EQ(test, st->free_blocks[7], 1);
	/* the absorbed buddies are gone from every list */
	expect_buddyinfo(test, f, want, ARRAY_SIZE(want));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_grow_moves(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 a = talloc(test, f, 16);
	u64 b = talloc(test, f, 16);
	u64 now;

	tfill(test, f, a, 16, 0x11);
	tfill(test, f, b, 16, 0x22);
	/* a's buddy is taken: growing a must move it, with its contents */
	now = trealloc(test, f, a, 64, 0);
	KUNIT_EXPECT_NE(test, now, a);
	KUNIT_EXPECT_EQ(test, now & 63, 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x11));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, b, 16, 0x22));
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 64);
	/* and the old block is free again */
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, a), -EALREADY);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_grow_needs_every_buddy(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 a = talloc(test, f, 16);
	u64 b = talloc(test, f, 32);
	u64 now;

	/* a's order-0 buddy is free, its order-1 uncle b is not */
	KUNIT_ASSERT_EQ(test, a, 0);
	KUNIT_ASSERT_EQ(test, b, 32);
	tfill(test, f, a, 16, 0x1d);
	now = trealloc(test, f, a, 64, 0);
	KUNIT_EXPECT_NE(test, now, a);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x1d));
	KUNIT_EXPECT_EQ(test, tusable(test, f, b), 32);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_right_half_moves(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 a = talloc(test, f, 16);
	u64 b = talloc(test, f, 16);
	u64 c = talloc(test, f, 16);
	u64 now;

	talloc(test, f, 16);
	tfree(test, f, a);
	tfree(test, f, c);
	tfill(test, f, b, 16, 0x77);
	/*
	 * b is its parent's right half: it can never grow in place, even
	 * with the grain after it (c) free.
	 */
	now = trealloc(test, f, b, 32, 0);
	KUNIT_EXPECT_NE(test, now, b);
	KUNIT_EXPECT_EQ(test, now & 31, 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x77));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_same_order(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_stats *before, *after;
	u64 off = talloc(test, f, 100);

	before = tstats(test, f);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 128, 0), off);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 65, 0), off);
	after = tstats(test, f);
	KUNIT_EXPECT_EQ(test, after->bytes_in_use, before->bytes_in_use);
	/* a realloc that moves nothing still counts */
	KUNIT_EXPECT_EQ(test, after->nr_reallocs, before->nr_reallocs + 2);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 128);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_zero_in_place(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 off, now;

	/* leave garbage in the right-hand buddies */
	off = talloc(test, f, 1024);
	tfill(test, f, off, 1024, 0xee);
	tfree(test, f, off);
	off = talloc(test, f, 16);
	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 16, 0x42);
	now = trealloc(test, f, off, 1024, BUDDY_ALLOC_ZERO);
	KUNIT_ASSERT_EQ(test, now, off);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x42));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 16, 1024 - 16, 0));
}

static void buddy_test_realloc_zero_on_move(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 a, b, now;

	a = talloc(test, f, 2048);
	tfill(test, f, a, 2048, 0xee);
	tfree(test, f, a);
	a = talloc(test, f, 16);
	b = talloc(test, f, 16);
	tfill(test, f, a, 16, 0x42);
	now = trealloc(test, f, a, 512, BUDDY_ALLOC_ZERO);
	KUNIT_ASSERT_NE(test, now, a);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x42));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 16, 512 - 16, 0));
	tfree(test, f, b);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_failure_keeps_block(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct tsnap *before;
	u64 a = talloc(test, f, 16);
	u64 now = U64_MAX;

	talloc(test, f, 16);
	tfill(test, f, a, 16, 0x99);
	before = tsnap(test, f);
	/* can neither grow in place nor find room elsewhere */
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, a, osz(T_CHUNK_ORDER), 0,
						 &now), -ENOMEM);
	expect_unchanged(test, f, before, 1);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	KUNIT_EXPECT_EQ(test, tusable(test, f, a), 16);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, a, 16, 0x99));
	/* with its buddy free again, the same block grows in place */
	tfree(test, f, BUDDY_GRAIN);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, a, 32, 0), a);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, a, 16, 0x99));
}

static void buddy_test_realloc_grows_heap(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_stats *st;
	u64 a = talloc(test, f, 16);
	u64 now;

	talloc(test, f, 16);
	tfill(test, f, a, 16, 0x61);
	/* bigger than the whole heap: a new chunk, and the block moves there */
	now = trealloc(test, f, a, osz(T_CHUNK_ORDER + 2), 0);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x61));
	st = tstats(test, f);
	KUNIT_EXPECT_GE(test, st->nr_chunks, 2);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, BUDDY_GRAIN +
			osz(T_CHUNK_ORDER + 2));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_to_size_zero(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_stats *st;
	u64 off = talloc(test, f, 256);

	/* size 0 is order 0, like an allocation of 0: shrinks in place */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 0, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), BUDDY_GRAIN);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, BUDDY_GRAIN);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_move_copies_old_size(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	u64 a = talloc(test, f, 256);
	u64 b = talloc(test, f, 256);
	u64 now;

	KUNIT_ASSERT_EQ(test, a, 0);
	KUNIT_ASSERT_EQ(test, b, 256);
	tfill(test, f, a, 256, 0x17);
	/* b blocks growth in place: to the lowest free order-5 block */
	now = trealloc(test, f, a, 300, 0);
	KUNIT_EXPECT_EQ(test, now, 512);
	/* one ->copy call, of the old block's usable size */
	KUNIT_EXPECT_EQ(test, f->copies, 1);
	KUNIT_EXPECT_EQ(test, f->copied_bytes, 256);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 256, 0x17));
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 512);
	HEAP_CHECK(test, &f->heap);
}

static const struct buddy_ops tfix_ops_no_copy = {
	.chunk_alloc = tfix_chunk_alloc,
	.chunk_free = tfix_chunk_free,
	.meta_alloc = tfix_meta_alloc,
	.meta_free = tfix_meta_free,
};

static void buddy_test_realloc_without_copy_op(struct kunit *test)
{
	struct buddy_config cfg = { .max_order = T_MAX_ORDER,
				    .min_chunk_order = T_CHUNK_ORDER };
	struct tfix *f = tfix_new(test);
	u64 a, now;

	KUNIT_ASSERT_EQ(test, buddy_heap_init(&f->heap, &cfg, &tfix_ops_no_copy,
					      f), 0);
	f->live = true;
	a = talloc(test, f, 16);
	talloc(test, f, 16);		/* a's buddy: no growth in place */
	tfill(test, f, a, 16, 0x33);
	/* ->copy is optional: the core copies itself */
	now = trealloc(test, f, a, 17, 0);
	KUNIT_EXPECT_EQ(test, now, 32);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x33));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	HEAP_CHECK(test, &f->heap);
}

static struct kunit_case buddy_realloc_cases[] = {
	KUNIT_CASE(buddy_test_realloc_shrink_in_place),
	KUNIT_CASE(buddy_test_realloc_grow_in_place),
	KUNIT_CASE(buddy_test_realloc_grow_moves),
	KUNIT_CASE(buddy_test_realloc_grow_needs_every_buddy),
	KUNIT_CASE(buddy_test_realloc_right_half_moves),
	KUNIT_CASE(buddy_test_realloc_same_order),
	KUNIT_CASE(buddy_test_realloc_to_size_zero),
	KUNIT_CASE(buddy_test_realloc_move_copies_old_size),
	KUNIT_CASE(buddy_test_realloc_without_copy_op),
	KUNIT_CASE(buddy_test_realloc_zero_in_place),
	KUNIT_CASE(buddy_test_realloc_zero_on_move),
	KUNIT_CASE(buddy_test_realloc_failure_keeps_block),
	KUNIT_CASE(buddy_test_realloc_grows_heap),
	{}
};

static struct kunit_suite buddy_realloc_suite = {
	.name = "buddy_heap_realloc",
	.test_cases = buddy_realloc_cases,
};

/* Suite buddy_stats: counters, buddyinfo and fragmentation indices. */

/*
 * mm/vmstat.c's fill_contig_page_info(), unusable_free_index() and
 * __fragmentation_index() for a buddyinfo array, grains as pages.
 */
struct ref_contig {
	u64 free_pages;
	u64 free_blocks_total;
	u64 free_blocks_suitable;
};

static void ref_fill(const u64 *free_blocks, unsigned int nr_orders,
		     unsigned int suitable, struct ref_contig *info)
{
	unsigned int k;

	memset(info, 0, sizeof(*info));
	for (k = 0; k < nr_orders; k++) {
		info->free_blocks_total += free_blocks[k];
		info->free_pages += free_blocks[k] << k;
		if (k >= suitable)
			info->free_blocks_suitable +=
				free_blocks[k] << (k - suitable);
	}
}

static int ref_unusable(unsigned int order, const struct ref_contig *info)
{
	if (!info->free_pages)
		return 1000;
	return div64_u64((info->free_pages -
			  (info->free_blocks_suitable << order)) * 1000ULL,
			 info->free_pages);
}

static int ref_extfrag(unsigned int order, const struct ref_contig *info)
{
	u64 requested = 1ULL << order;

	if (!info->free_blocks_total)
		return 0;
	if (info->free_blocks_suitable)
		return -1000;
	return 1000 - (int)div64_u64(1000 + div64_u64(info->free_pages * 1000ULL,
						      requested),
				     info->free_blocks_total);
}

/* Both indices of every order against the reference, from the walk. */
static void expect_indices_match_reference(struct kunit *test, struct tfix *f)
{
	struct buddy_stats *st = tstats(test, f);
	struct twalk *w = twalk(test, f);
	struct ref_contig info;
	unsigned int k;

	KUNIT_ASSERT_EQ(test, st->nr_orders, f->heap.cfg.max_order + 1);
	for (k = 0; k < st->nr_orders; k++) {
		ref_fill(w->free_blocks, st->nr_orders, k, &info);
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k],
				    ref_unusable(k, &info), "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k],
				    ref_extfrag(k, &info), "order %u", k);
	}
}

/* The pathological heap of order 8: every other grain allocated. */
static struct tfix *theap_half_fragmented(struct kunit *test)
{
	const unsigned int n = 1 << T_CHUNK_ORDER;
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	unsigned int i;

	for (i = 0; i < n; i++)
		talloc(test, f, 1);
	for (i = 0; i < n; i += 2)
		tfree(test, f, osz(0) * i);
	return f;
}

static void buddy_test_stats_counters(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_stats *st;
	u64 a, b, c;

	a = talloc(test, f, 1);
	b = talloc(test, f, 100);
	c = talloc(test, f, 1000);
	tfree(test, f, b);
	trealloc(test, f, c, 2000, 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_allocs, 3);
	KUNIT_EXPECT_EQ(test, st->nr_frees, 1);
	KUNIT_EXPECT_EQ(test, st->nr_reallocs, 1);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 2);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 16 + 2048);
	KUNIT_EXPECT_EQ(test, st->bytes_free, st->heap_bytes - 16 - 2048);
	KUNIT_EXPECT_EQ(test, st->nr_failed, 0);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, f->chunk_bytes_live);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, f->chunks_live);
	KUNIT_EXPECT_EQ(test, st->meta_bytes, f->meta_bytes_live);
	tfree(test, f, a);
}

static void buddy_test_stats_requested_granted(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	struct buddy_stats *st;

	talloc(test, f, 1);
	talloc(test, f, 100);
	tfree(test, f, talloc(test, f, 1000));
	st = tstats(test, f);
	/* life-time sums: the gap between them is internal fragmentation */
	KUNIT_EXPECT_EQ(test, st->bytes_requested_total, 1 + 100 + 1000);
	KUNIT_EXPECT_EQ(test, st->bytes_granted_total, 16 + 128 + 1024);
}

static void buddy_test_stats_peaks(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	u64 big;

	talloc(test, f, 16);
	big = talloc(test, f, osz(T_CHUNK_ORDER + 3));
	st = tstats(test, f);
	KUNIT_ASSERT_GE(test, st->heap_bytes, osz(T_CHUNK_ORDER + 3) + 16);
	tfree(test, f, big);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 16);
	KUNIT_EXPECT_EQ(test, st->peak_bytes_in_use,
			16 + osz(T_CHUNK_ORDER + 3));
	/* the big chunk went back (no low water), the peak remembers it */
	KUNIT_EXPECT_LT(test, st->heap_bytes, st->peak_heap_bytes);
	KUNIT_EXPECT_GE(test, st->peak_heap_bytes,
			osz(T_CHUNK_ORDER + 3) + osz(T_CHUNK_ORDER));
}

static void buddy_test_stats_failed_calls(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	u64 off;

	talloc(test, f, 16);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 16), -EALREADY);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, osz(T_MAX_ORDER)), -ENXIO);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_CHUNK_ORDER), 0, &off),
			-ENOMEM);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_failed, 3);
	KUNIT_EXPECT_EQ(test, st->nr_allocs, 1);
	KUNIT_EXPECT_EQ(test, st->nr_frees, 0);
}

static void buddy_test_stats_buddyinfo_fragmented(struct kunit *test)
{
	u64 want[1] = { 1 << (T_CHUNK_ORDER - 1) };
	struct tfix *f = theap_half_fragmented(test);
	struct buddy_stats *st = tstats(test, f);

	expect_buddyinfo(test, f, want, 1);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, 0);
	KUNIT_EXPECT_EQ(test, st->bytes_free, osz(T_CHUNK_ORDER) / 2);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1 << (T_CHUNK_ORDER - 1));
}

static void buddy_test_stats_unusable_fragmented(struct kunit *test)
{
	struct tfix *f = theap_half_fragmented(test);
	struct buddy_stats *st = tstats(test, f);
	unsigned int k;

	/*
	 * 128 free grains, all single: usable for order 0, not at all for
	 * anything bigger.  (128 - 128) * 1000 / 128 = 0, then
	 * (128 - 0) * 1000 / 128 = 1000.
	 */
	KUNIT_EXPECT_EQ(test, st->unusable_index[0], 0);
	for (k = 1; k <= T_MAX_ORDER; k++)
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], 1000,
				    "order %u", k);
}

static void buddy_test_stats_extfrag_fragmented(struct kunit *test)
{
	/*
	 * 1000 - (1000 + 128 * 1000 / 2^k) / 128, integer division:
	 * k=1: 1000 - 65000/128 = 493, k=2: 1000 - 33000/128 = 743,
	 * k=3: 1000 - 17000/128 = 868, k=4: 1000 - 9000/128 = 930,
	 * k=5: 1000 - 5000/128 = 961, k=6: 1000 - 3000/128 = 977,
	 * k=7: 1000 - 2000/128 = 985, k=8: 1000 - 1500/128 = 989.
	 */
	static const int want[] = { -1000, 493, 743, 868, 930, 961, 977, 985,
				    989 };
	struct tfix *f = theap_half_fragmented(test);
	struct buddy_stats *st = tstats(test, f);
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(want); k++)
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], want[k],
				    "order %u", k);
}

static void buddy_test_stats_indices_one_free_chunk(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	unsigned int k;

	tfree(test, f, talloc(test, f, 1));
	st = tstats(test, f);
	/*
	 * One free block of order 8 (256 grains): every order up to 8 is
	 * fully usable and would succeed; above, 1000 and the formula with
	 * one free block: k=9: 1000 - (1000 + 256000/512) = -500.
	 */
	for (k = 0; k <= T_CHUNK_ORDER; k++) {
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], 0, "order %u",
				    k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], -1000,
				    "order %u", k);
	}
	KUNIT_EXPECT_EQ(test, st->unusable_index[T_CHUNK_ORDER + 1], 1000);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[T_CHUNK_ORDER + 1], -500);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[T_CHUNK_ORDER + 2], -250);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, T_CHUNK_ORDER);
}

static void buddy_test_stats_indices_full_heap(struct kunit *test)
{
	struct tfix *f = theap_one_chunk(test, T_CHUNK_ORDER);
	struct buddy_stats *st;
	unsigned int k;

	talloc(test, f, osz(T_CHUNK_ORDER));
	st = tstats(test, f);
	/* vmstat: no free memory is all unusable; no free blocks, index 0 */
	for (k = 0; k <= T_MAX_ORDER; k++) {
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], 1000,
				    "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], 0, "order %u",
				    k);
	}
	KUNIT_EXPECT_EQ(test, st->largest_free_order, -1);
	KUNIT_EXPECT_EQ(test, st->bytes_free, 0);
}

static void buddy_test_stats_realloc_in_totals(struct kunit *test)
{
	struct tfix *f = theap(test, 4, 4, 0, osz(4));
	struct buddy_stats *st;
	u64 a = talloc(test, f, 10);

	/* grows in place to 64 bytes; then a free and a double free */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, a, 40, 0), a);
	tfree(test, f, a);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, a), -EALREADY);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_allocs, 1);
	KUNIT_EXPECT_EQ(test, st->nr_reallocs, 1);
	KUNIT_EXPECT_EQ(test, st->nr_frees, 1);
	KUNIT_EXPECT_EQ(test, st->nr_failed, 1);
	/* a realloc adds its request and its block to the life-time sums */
	KUNIT_EXPECT_EQ(test, st->bytes_requested_total, 10 + 40);
	KUNIT_EXPECT_EQ(test, st->bytes_granted_total, 16 + 64);
	KUNIT_EXPECT_EQ(test, st->peak_bytes_in_use, 64);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 0);
	KUNIT_EXPECT_EQ(test, st->meta_bytes, f->meta_bytes_live);
	KUNIT_EXPECT_EQ(test, st->free_blocks[4], 1);
	KUNIT_EXPECT_EQ(test, st->unusable_index[4], 0);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[4], -1000);
}

static void buddy_test_stats_indices_small_window(struct kunit *test)
{
	/*
	 * A 256-byte window, one grain in use: 15 free grains in 4 blocks,
	 * o0@16 o1@32 o2@64 o3@128.  Unusable, e.g. order 1:
	 * (15 - 7 * 2) * 1000 / 15 = 66; extfrag of order 4:
	 * 1000 - (1000 + 15 * 1000 / 16) / 4 = 516.
	 */
	static const int unusable[] = { 0, 66, 200, 466, 1000 };
	static const int extfrag[] = { -1000, -1000, -1000, -1000, 516 };
	struct tfix *f = theap(test, 4, 4, 0, osz(4));
	struct buddy_stats *st;
	unsigned int k;

	talloc(test, f, 10);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_orders, 5);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 256);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 16);
	KUNIT_EXPECT_EQ(test, st->bytes_free, 240);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, 3);
	for (k = 0; k < 5; k++) {
		KUNIT_EXPECT_EQ_MSG(test, st->free_blocks[k], k < 4, "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], unusable[k],
				    "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], extfrag[k],
				    "order %u", k);
	}
	/* past nr_orders everything is 0 */
	for (k = 5; k <= BUDDY_MAX_ORDER; k++) {
		KUNIT_EXPECT_EQ_MSG(test, st->free_blocks[k], 0, "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->unusable_index[k], 0, "order %u", k);
		KUNIT_EXPECT_EQ_MSG(test, st->extfrag_index[k], 0, "order %u", k);
	}
}

static void buddy_test_stats_indices_two_grains(struct kunit *test)
{
	struct tfix *f = theap(test, 1, 1, 0, osz(1));
	struct buddy_stats *st;

	/* one free grain of two: order 1 fails, 1000 - (1000 + 500) / 1 */
	talloc(test, f, 16);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->unusable_index[0], 0);
	KUNIT_EXPECT_EQ(test, st->unusable_index[1], 1000);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[0], -1000);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[1], -500);
	/* full: no free memory at all */
	talloc(test, f, 16);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->unusable_index[0], 1000);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[1], 0);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, -1);
}

static void buddy_test_stats_indices_mixed_fragments(struct kunit *test)
{
	struct tfix *f = theap(test, 6, 6, 0, osz(6));
	struct buddy_stats *st;
	unsigned int k;

	for (k = 0; k < 64; k++)
		talloc(test, f, 16);
	for (k = 0; k < 16; k += 2)
		tfree(test, f, osz(0) * k);		/* 8 lone grains */
	for (k = 32; k < 40; k++)
		tfree(test, f, osz(0) * k);		/* one order-3 block */
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 8);
	KUNIT_EXPECT_EQ(test, st->free_blocks[3], 1);
	/* 16 free grains in 9 blocks; order 1: (16 - 4 * 2) * 1000 / 16 */
	KUNIT_EXPECT_EQ(test, st->unusable_index[1], 500);
	KUNIT_EXPECT_EQ(test, st->unusable_index[3], 500);
	KUNIT_EXPECT_EQ(test, st->unusable_index[4], 1000);
	KUNIT_EXPECT_EQ(test, st->extfrag_index[3], -1000);
	/* order 4: 1000 - (1000 + 16000 / 16) / 9 = 1000 - 222 */
	KUNIT_EXPECT_EQ(test, st->extfrag_index[4], 778);
	/* order 6: 1000 - (1000 + 16000 / 64) / 9 = 1000 - 138 */
	KUNIT_EXPECT_EQ(test, st->extfrag_index[6], 862);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_stats_indices_reference(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct rnd_state rnd;
	u64 offs[64];
	unsigned int i;

	prandom_seed_state(&rnd, seed);
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		offs[i] = talloc(test, f, 1 + prandom_u32_state(&rnd) % 3000);
	for (i = 0; i < ARRAY_SIZE(offs); i += 1 + i % 3)
		tfree(test, f, offs[i]);
	HEAP_CHECK(test, &f->heap);
	expect_indices_match_reference(test, f);
}

static void buddy_test_stats_meta_budget(struct kunit *test)
{
	struct tfix *f = theap(test, 20, 14, 0, 0);
	struct buddy_stats *st;

	/* 256 KiB chunk: the design's budget is 3% of arena bytes */
	talloc(test, f, 1);
	st = tstats(test, f);
	KUNIT_ASSERT_EQ(test, st->heap_bytes, osz(14));
	KUNIT_EXPECT_LE(test, st->meta_bytes * 100, st->heap_bytes * 3);
	KUNIT_EXPECT_GT(test, st->meta_bytes, 0);
	/* what a chunk gets is what meta_words() says, which the next case uses */
	KUNIT_EXPECT_EQ(test, st->meta_bytes, meta_words(&f->heap, 14) * sizeof(u64));
}

static void buddy_test_stats_meta_budget_every_order(struct kunit *test)
{
	/* a 256 MiB window: metadata sizes of every chunk up to it, no chunk */
	struct tfix *f = theap(test, 24, 12, 0, 0);
	unsigned int k;
	u64 bytes;

	for (k = 12; k <= 24; k++) {
		bytes = meta_words(&f->heap, k) * sizeof(u64);
		/*
		 * At most 3% of the chunk, and about 2.42% for big chunks:
		 * the layout's 2.37% plus a run bit per 2048 (0.05%).
		 */
		KUNIT_EXPECT_LE_MSG(test, bytes * 1000, osz(k) * 30, "order %u", k);
		if (k >= 18)
			KUNIT_EXPECT_LE_MSG(test, bytes * 10000, osz(k) * 243,
					    "order %u", k);
	}
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
}

static void buddy_test_stats_max_window(struct kunit *test)
{
	struct tfix *f = theap(test, BUDDY_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;

	/* a 1 TiB window: 37 orders of indices, no overflow at the top */
	talloc(test, f, 100);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_orders, BUDDY_MAX_ORDER + 1);
	KUNIT_EXPECT_EQ(test, st->unusable_index[BUDDY_MAX_ORDER], 1000);
	/* 4096 - 128 bytes free = 248 grains in 5 blocks (one per order 3..7) */
	KUNIT_EXPECT_EQ(test, st->extfrag_index[BUDDY_MAX_ORDER],
			1000 - (1000 + 248 * 1000 / (1LL << BUDDY_MAX_ORDER)) / 5);
	expect_indices_match_reference(test, f);
}

static struct kunit_case buddy_stats_cases[] = {
	KUNIT_CASE(buddy_test_stats_counters),
	KUNIT_CASE(buddy_test_stats_requested_granted),
	KUNIT_CASE(buddy_test_stats_realloc_in_totals),
	KUNIT_CASE(buddy_test_stats_peaks),
	KUNIT_CASE(buddy_test_stats_failed_calls),
	KUNIT_CASE(buddy_test_stats_buddyinfo_fragmented),
	KUNIT_CASE(buddy_test_stats_unusable_fragmented),
	KUNIT_CASE(buddy_test_stats_extfrag_fragmented),
	KUNIT_CASE(buddy_test_stats_indices_one_free_chunk),
	KUNIT_CASE(buddy_test_stats_indices_full_heap),
	KUNIT_CASE(buddy_test_stats_indices_small_window),
	KUNIT_CASE(buddy_test_stats_indices_two_grains),
	KUNIT_CASE(buddy_test_stats_indices_mixed_fragments),
	KUNIT_CASE(buddy_test_stats_indices_reference),
	KUNIT_CASE(buddy_test_stats_meta_budget),
	KUNIT_CASE(buddy_test_stats_meta_budget_every_order),
	KUNIT_CASE(buddy_test_stats_max_window),
	{}
};

static struct kunit_suite buddy_stats_suite = {
	.name = "buddy_stats",
	.suite_init = buddy_seed_suite_init,
	.test_cases = buddy_stats_cases,
};

static struct kunit_suite *buddy_core_test_suites[] = {
	&buddy_order_suite, &buddy_alloc_suite, &buddy_memalign_suite,
	&buddy_realloc_suite, &buddy_stats_suite,
};

/*
 * Not kunit_test_suites(): on 6.1 that runs a module's suites from the
 * MODULE_STATE_COMING notifier, before the module's parameters are parsed,
 * so seed= would be ignored.  module_init runs after parse_args(), in
 * insmod's context.
 */
static int __init buddy_core_test_init(void)
{
	return __kunit_test_suites_init(buddy_core_test_suites,
					ARRAY_SIZE(buddy_core_test_suites));
}
module_init(buddy_core_test_init);

static void __exit buddy_core_test_exit(void)
{
	__kunit_test_suites_exit(buddy_core_test_suites,
				 ARRAY_SIZE(buddy_core_test_suites));
}
module_exit(buddy_core_test_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy core: allocation, memalign, realloc, stats");
MODULE_LICENSE("GPL");
