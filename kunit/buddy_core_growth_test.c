// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the buddy core (buddy_core.c), continued: chunks that
 * come and go while offsets stay (growth, shrinking, destroy, walk and
 * clone), deferred coalescing, and long random sequences checked against a
 * model after every step.  The rest of the core's suites are in buddy_core_test.c.
 *
 * The source under test is #included so the suites reach its static
 * functions; this module links nothing else.  Every case builds its heaps
 * with the fixture in buddy_test_fixture.h, which runs buddy_check() on
 * whatever a case leaves behind.  Run them with `make kunit` (kunit/run).
 *
 * buddy_random logs its seed from .suite_init; load the module with seed=N
 * to replay a run.
 */

#include <kunit/test.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "../buddy_core.c"

#include "buddy_test.h"
#include "buddy_test_fixture.h"

/* Suite buddy_heap_growth: chunks come and go, offsets stay. */

static void buddy_test_grow_doubling(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	u64 expect = osz(T_CHUNK_ORDER);
	unsigned int i;

	talloc(test, f, 1);
	for (i = 0; i < 5; i++) {
		st = tstats(test, f);
		KUNIT_EXPECT_EQ_MSG(test, st->heap_bytes, expect,
				    "after %u grows", i);
		KUNIT_EXPECT_EQ(test, st->nr_grows, i + 1);
		/* fill what is free, plus one grain: the heap must double */
		while (st->bytes_free) {
			talloc(test, f, osz(st->largest_free_order));
			st = tstats(test, f);
		}
		talloc(test, f, 1);
		HEAP_CHECK(test, &f->heap);
		expect *= 2;
	}
}

static void buddy_test_grow_steps(struct kunit *test)
{
	/*
	 * The order of each chunk added, with steps of order 10: doubling
	 * up to the step, steps of 1024 grains up to 16384 grains (2^14),
	 * an eighth of the heap from there, doubling again from 32 chunks.
	 */
	static const u8 want[] = {
		8, 8, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
		10, 11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12,
		15, 16, 17,
	};
	struct tfix *f = theap(test, 20, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	u64 heap_bytes = 0;
	unsigned int i;

	f->heap.cfg.max_step_order = 10;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		/* fill what is free, plus one grain: the heap must grow */
		st = tstats(test, f);
		while (st->bytes_free) {
			talloc(test, f, osz(st->largest_free_order));
			st = tstats(test, f);
		}
		talloc(test, f, 1);
		st = tstats(test, f);
		KUNIT_EXPECT_EQ_MSG(test, st->heap_bytes - heap_bytes,
				    osz(want[i]), "chunk %u", i);
		KUNIT_ASSERT_EQ(test, st->nr_chunks, i + 1);
		heap_bytes = st->heap_bytes;
	}
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_big_request(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	u64 off;

	talloc(test, f, 1);
	/* the block wanted is bigger than the heap: the chunk is its size */
	off = talloc(test, f, osz(T_CHUNK_ORDER + 4));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes,
			osz(T_CHUNK_ORDER) + osz(T_CHUNK_ORDER + 4));
	KUNIT_EXPECT_EQ(test, off & (osz(T_CHUNK_ORDER + 4) - 1), 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_offsets_stable(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	u64 off[8];
	u8 *addr[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++) {
		off[i] = talloc(test, f, osz(T_CHUNK_ORDER - 1));
		addr[i] = tptr(test, f, off[i], 16);
		tfill(test, f, off[i], osz(T_CHUNK_ORDER - 1), i + 1);
	}
	/* four growths later: same offsets, same memory, same bytes */
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		KUNIT_EXPECT_PTR_EQ(test, (u8 *)tptr(test, f, off[i], 16),
				    addr[i]);
		KUNIT_EXPECT_TRUE(test, tholds(test, f, off[i],
					       osz(T_CHUNK_ORDER - 1), i + 1));
	}
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_cap_clamps(struct kunit *test)
{
	const u64 cap = 3 * osz(T_CHUNK_ORDER);
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, cap, 0);
	struct buddy_stats *st;

	talloc(test, f, osz(T_CHUNK_ORDER));
	talloc(test, f, osz(T_CHUNK_ORDER));
	/* doubling would make 16 KiB > 12 KiB cap: just the block needed */
	talloc(test, f, osz(T_CHUNK_ORDER));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, cap);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 3);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_cap_enomem(struct kunit *test)
{
	const u64 cap = 2 * osz(T_CHUNK_ORDER);
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, cap, 0);
	struct tsnap *before;
	u64 off;

	talloc(test, f, osz(T_CHUNK_ORDER));
	talloc(test, f, osz(T_CHUNK_ORDER - 1));
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_CHUNK_ORDER), 0, &off),
			-ENOMEM);
	expect_unchanged(test, f, before, 1);
	KUNIT_EXPECT_LE(test, f->chunk_bytes_live, cap);
}

static void buddy_test_grow_falls_back(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	struct tsnap *before;
	unsigned int i;
	u64 off;

	/* the embedder refuses big chunks: growth takes what is needed */
	f->chunk_max_bytes = osz(T_CHUNK_ORDER);
	for (i = 0; i < 6; i++)
		talloc(test, f, osz(T_CHUNK_ORDER));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 6);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 6 * osz(T_CHUNK_ORDER));
	HEAP_CHECK(test, &f->heap);
	/* refusing even the chunk the block needs is a clean -ENOMEM */
	f->chunk_max_bytes = osz(T_CHUNK_ORDER - 1);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, osz(T_CHUNK_ORDER), 0, &off),
			-ENOMEM);
	expect_unchanged(test, f, before, 1);
}

static void buddy_test_grow_chunk_limit(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct tsnap *before;
	unsigned int i;
	u64 off;

	f->chunk_max_bytes = osz(T_CHUNK_ORDER);
	for (i = 0; i < BUDDY_MAX_CHUNKS; i++)
		talloc(test, f, osz(T_CHUNK_ORDER));
	HEAP_CHECK(test, &f->heap);
	before = tsnap(test, f);
	/* the window has room, the chunk table does not */
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off), -ENOMEM);
	expect_unchanged(test, f, before, 1);
	/* freeing one chunk's block makes room again */
	tfree(test, f, 5 * osz(T_CHUNK_ORDER));
	talloc(test, f, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_min_chunk_order_zero(struct kunit *test)
{
	struct tfix *f = theap(test, 8, 0, 4 * BUDDY_GRAIN, 0);
	unsigned int i;
	u64 off;

	/* grain-sized chunks up to a 64-byte cap, then a clean -ENOMEM */
	for (i = 0; i < 4; i++)
		talloc(test, f, 1);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off), -ENOMEM);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_chunk_layout(struct kunit *test)
{
	static const u64 chunk_off[] = { 0, 256, 512, 1024, 2048 };
	static const unsigned int chunk_order[] = { 4, 4, 5, 6, 7 };
	struct tfix *f = theap(test, 10, 4, 0, osz(10));
	struct buddy_heap *h = &f->heap;
	struct buddy_stats *st;
	unsigned int i;
	u64 off;

	/* 256-byte chunks, a 16 KiB window; each growth doubles the heap */
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_EQ(test, talloc(test, f, 256), 256 * i);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 4);
	KUNIT_EXPECT_EQ(test, h->heap_bytes, 2048);
	/* a block larger than the heap gets a chunk of its own size */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 2048), 2048);
	KUNIT_ASSERT_EQ(test, h->nr_chunks, 5);
	for (i = 0; i < 5; i++) {
		KUNIT_EXPECT_EQ_MSG(test, h->chunks[i].offset, chunk_off[i],
				    "chunk %u", i);
		KUNIT_EXPECT_EQ_MSG(test, h->chunks[i].order, chunk_order[i],
				    "chunk %u", i);
	}
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_grows, 5);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 4096);
	KUNIT_EXPECT_EQ(test, st->peak_heap_bytes, 4096);
	KUNIT_EXPECT_EQ(test, st->meta_bytes, f->meta_bytes_live);
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, 4096);
	/* the next growth doubles again: a 4 KiB chunk at 4096 */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1024), 4096);
	KUNIT_EXPECT_EQ(test, h->chunks[5].order, 8);
	HEAP_CHECK(test, h);
	/* the window is full at 16 KiB: 8 KiB more, then nothing */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 8192), 8192);
	KUNIT_EXPECT_EQ(test, h->heap_bytes, 16384);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(h, 8192, 0, &off), -ENOMEM);
	HEAP_CHECK(test, h);
}

static void buddy_test_grow_cap_above_window(struct kunit *test)
{
	struct tfix *f = theap(test, 8, 8, 1ULL << 40, osz(8));
	u64 off;

	/* a cap beyond the window is the window */
	KUNIT_EXPECT_EQ(test, talloc(test, f, osz(8)), 0);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, 0, &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, osz(8));
}

/* Grain-sized chunks: the embedder refuses anything bigger. */
static struct tfix *theap_grain_chunks(struct kunit *test, u64 low_water)
{
	struct tfix *f = theap(test, 12, 0, 0, low_water);
	unsigned int i;

	f->chunk_max_bytes = BUDDY_GRAIN;
	for (i = 0; i < BUDDY_MAX_CHUNKS; i++)
		KUNIT_EXPECT_EQ(test, talloc(test, f, 16), osz(0) * i);
	KUNIT_EXPECT_EQ(test, f->heap.nr_chunks, BUDDY_MAX_CHUNKS);
	return f;
}

static void buddy_test_grow_grain_chunks_up_to_limit(struct kunit *test)
{
	struct tfix *f = theap_grain_chunks(test, osz(12));
	unsigned int i;
	u64 off;

	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 16, 0, &off), -ENOMEM);
	HEAP_CHECK(test, &f->heap);
	/* every other chunk falls empty, the low-water mark keeps them all */
	for (i = 0; i < BUDDY_MAX_CHUNKS; i += 2)
		tfree(test, f, osz(0) * i);
	KUNIT_EXPECT_EQ(test, f->heap.nr_chunks, BUDDY_MAX_CHUNKS);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_grow_reuses_holes_lowest_first(struct kunit *test)
{
	struct tfix *f = theap_grain_chunks(test, 0);
	unsigned int i;

	/* without a low-water mark every emptied chunk goes back */
	for (i = 0; i < BUDDY_MAX_CHUNKS; i += 2)
		tfree(test, f, osz(0) * i);
	KUNIT_EXPECT_EQ(test, f->heap.nr_chunks, BUDDY_MAX_CHUNKS / 2);
	HEAP_CHECK(test, &f->heap);
	/* and their holes in the window are filled again, lowest first */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), 0);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), 32);
	HEAP_CHECK(test, &f->heap);
}

/* Regression (found by the fuzzer): growth failing at order 0. */
static void buddy_test_grow_full_tiny_window(struct kunit *test)
{
	struct tfix *f = theap(test, 2, 0, 0, osz(2));
	struct tsnap *before;
	unsigned int i;
	u64 off;

	/* a 64-byte window, full of grains */
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, talloc(test, f, 16), osz(0) * i);
	KUNIT_EXPECT_EQ(test, f->heap.heap_bytes, 64);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 1, 0, &off), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 64, 0, &off), -ENOMEM);
	expect_unchanged(test, f, before, 2);
}

static void buddy_test_shrink_returns_chunks(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0,
			       osz(T_CHUNK_ORDER));
	struct buddy_stats *st;
	u64 off[16];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++)
		off[i] = talloc(test, f, osz(T_CHUNK_ORDER - 1));
	st = tstats(test, f);
	KUNIT_ASSERT_EQ(test, st->nr_chunks, 4);
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		tfree(test, f, off[i]);
		HEAP_CHECK(test, &f->heap);
	}
	st = tstats(test, f);
	/*
	 * Freed in address order, chunks of 4, 4, 8 and 16 KiB fall empty in
	 * turn; each goes back while what is left holds the 4 KiB low-water
	 * mark, except the last one, which would leave nothing.
	 */
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 3);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks + st->nr_chunks, st->nr_grows);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, osz(T_CHUNK_ORDER + 2));
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, st->heap_bytes);
	KUNIT_EXPECT_EQ(test, f->chunk_frees, st->nr_shrinks);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

static void buddy_test_shrink_respects_low_water(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0,
			       osz(T_MAX_ORDER));
	struct buddy_stats *st, *full;
	u64 off[16];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++)
		off[i] = talloc(test, f, osz(T_CHUNK_ORDER - 1));
	full = tstats(test, f);
	for (i = 0; i < ARRAY_SIZE(off); i++)
		tfree(test, f, off[i]);
	st = tstats(test, f);
	/* below the low-water mark nothing goes back */
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 0);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, full->heap_bytes);
	KUNIT_EXPECT_EQ(test, f->chunk_frees, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_shrink_at_exact_low_water(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0,
			       osz(T_CHUNK_ORDER));
	struct buddy_stats *st;
	u64 a = talloc(test, f, osz(T_CHUNK_ORDER));
	u64 b = talloc(test, f, osz(T_CHUNK_ORDER));

	/* what is left after giving b's chunk back is exactly the mark */
	tfree(test, f, b);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, osz(T_CHUNK_ORDER));
	/* the last chunk would leave less: it stays */
	tfree(test, f, a);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_shrink_to_empty_without_low_water(struct kunit *test)
{
	struct tfix *f = theap(test, 12, 4, 0, 0);
	struct buddy_stats *st;

	/* low water 0: the last chunk goes too, with its metadata */
	tfree(test, f, talloc(test, f, 256));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 0);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 0);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 1);
	KUNIT_EXPECT_EQ(test, st->meta_bytes, 0);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	HEAP_CHECK(test, &f->heap);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), 0);
}

static void buddy_test_grow_into_released_hole(struct kunit *test)
{
	struct tfix *f = theap(test, 12, 4, 1024, 256);
	struct buddy_heap *h = &f->heap;
	u64 a, b, c, d, e;

	a = talloc(test, f, 256);
	b = talloc(test, f, 256);
	c = talloc(test, f, 256);
	d = talloc(test, f, 256);
	KUNIT_EXPECT_EQ(test, a, 0);
	KUNIT_EXPECT_EQ(test, b, 256);
	KUNIT_EXPECT_EQ(test, c, 512);
	KUNIT_EXPECT_EQ(test, d, 768);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 3);
	/* the chunk at 256 is wholly free: it goes, leaving a hole */
	tfree(test, f, b);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 2);
	KUNIT_EXPECT_EQ(test, h->heap_bytes, 768);
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, 768);
	HEAP_CHECK(test, h);
	/* a 512-byte doubling step no longer fits the cap: the hole is reused */
	e = talloc(test, f, 200);
	KUNIT_EXPECT_EQ(test, e, 256);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 3);
	KUNIT_EXPECT_EQ(test, h->chunks[1].offset, 256);
	KUNIT_EXPECT_EQ(test, h->chunks[1].order, 4);
	HEAP_CHECK(test, h);
	/* the 512-byte chunk empties only when both its blocks go */
	tfree(test, f, c);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 3);
	tfree(test, f, d);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 2);
	tfree(test, f, a);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 1);
	/* the last 256 bytes stay: the low-water mark */
	tfree(test, f, e);
	KUNIT_EXPECT_EQ(test, h->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, h->heap_bytes, 256);
	KUNIT_EXPECT_EQ(test, tstats(test, f)->nr_shrinks, 3);
	KUNIT_EXPECT_EQ(test, tstats(test, f)->free_blocks[4], 1);
	HEAP_CHECK(test, h);
}

static void buddy_test_destroy_then_reuse(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;

	talloc(test, f, 100);
	talloc(test, f, osz(T_CHUNK_ORDER + 1));
	buddy_heap_destroy(&f->heap);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 0);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 0);
	/* an emptied heap grows again from nothing */
	HEAP_CHECK(test, &f->heap);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1), 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, osz(T_CHUNK_ORDER));
	HEAP_CHECK(test, &f->heap);
	/* destroying twice is harmless */
	buddy_heap_destroy(&f->heap);
	buddy_heap_destroy(&f->heap);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

static void buddy_test_shrink_then_regrow(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	u64 a, b;

	a = talloc(test, f, osz(T_CHUNK_ORDER));
	b = talloc(test, f, osz(T_CHUNK_ORDER + 2));
	tfree(test, f, b);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, b), -ENXIO);
	b = talloc(test, f, osz(T_CHUNK_ORDER + 2));
	tfill(test, f, b, osz(T_CHUNK_ORDER + 2), 0x12);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, b, osz(T_CHUNK_ORDER + 2),
				       0x12));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_grows, 3);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 1);
	tfree(test, f, a);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_chunk_address(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	u64 left = 0, off;
	u8 *base, *p;

	off = talloc(test, f, 64);
	base = buddy_chunk_address(&f->heap, 0, &left);
	KUNIT_ASSERT_NOT_NULL(test, base);
	KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(base));
	KUNIT_EXPECT_EQ(test, left, osz(T_CHUNK_ORDER));
	p = buddy_chunk_address(&f->heap, off + 48, &left);
	KUNIT_EXPECT_PTR_EQ(test, p, base + off + 48);
	KUNIT_EXPECT_EQ(test, left, osz(T_CHUNK_ORDER) - off - 48);
	/* free space inside a chunk is still addressable, outside is not */
	KUNIT_EXPECT_NOT_NULL(test, buddy_chunk_address(&f->heap, 1024, &left));
	KUNIT_EXPECT_NULL(test, buddy_chunk_address(&f->heap,
						    osz(T_CHUNK_ORDER), &left));
	KUNIT_EXPECT_NULL(test, buddy_chunk_address(&f->heap, U64_MAX, &left));
}

static void buddy_test_chunk_address_across_chunks(struct kunit *test)
{
	struct tfix *f = theap(test, 12, 4, 0, osz(12));
	struct buddy_heap *h = &f->heap;
	u64 left = 0;

	KUNIT_EXPECT_NULL(test, buddy_chunk_address(h, 0, &left));
	talloc(test, f, 256);
	talloc(test, f, 256);
	talloc(test, f, 512);
	/* chunks 0 (256 B), 256 (256 B), 512 (512 B): each maps its own part */
	KUNIT_ASSERT_EQ(test, h->nr_chunks, 3);
	KUNIT_EXPECT_PTR_EQ(test, buddy_chunk_address(h, 0, &left),
			    (u8 *)h->chunks[0].mem);
	KUNIT_EXPECT_EQ(test, left, 256);
	KUNIT_EXPECT_PTR_EQ(test, buddy_chunk_address(h, 300, &left),
			    (u8 *)h->chunks[1].mem + 44);
	KUNIT_EXPECT_EQ(test, left, 212);
	/* the bytes left are optional */
	KUNIT_EXPECT_PTR_EQ(test, buddy_chunk_address(h, 1023, NULL),
			    (u8 *)h->chunks[2].mem + 511);
	KUNIT_EXPECT_NULL(test, buddy_chunk_address(h, 1024, &left));
	KUNIT_EXPECT_NULL(test, buddy_chunk_address(h, U64_MAX, &left));
}

static void buddy_test_destroy_returns_everything(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0,
			       osz(T_MAX_ORDER));
	unsigned int i;

	for (i = 0; i < 10; i++)
		talloc(test, f, osz(i));
	KUNIT_ASSERT_GT(test, f->chunks_live, 1);
	tfix_destroy(f);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, f->chunk_bytes_live, 0);
	KUNIT_EXPECT_EQ(test, f->metas_live, 0);
	KUNIT_EXPECT_EQ(test, f->meta_bytes_live, 0);
	KUNIT_EXPECT_FALSE(test, f->bad_free);
}

static void buddy_test_walk_tiles_heap(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;
	struct twalk *w;
	unsigned int i;

	for (i = 0; i < 12; i++)
		talloc(test, f, 16 << (i % 9));
	tfree(test, f, 0);
	w = twalk(test, f);
	st = tstats(test, f);
	/* every byte of every chunk is in exactly one block */
	KUNIT_EXPECT_EQ(test, w->bytes_allocated + w->bytes_free,
			st->heap_bytes);
	KUNIT_EXPECT_EQ(test, w->bytes_allocated, st->bytes_in_use);
	KUNIT_EXPECT_EQ(test, w->nr_allocated, st->live_blocks);
}

/* The blocks a walk reports, in the order it reports them. */
struct walk_rec {
	u64 off[16];
	unsigned int order[16];
	enum buddy_block_state state[16];
	unsigned int n;
};

static int walk_rec_fn(void *arg, u64 off, unsigned int order,
		       enum buddy_block_state state)
{
	struct walk_rec *r = arg;

	if (r->n < ARRAY_SIZE(r->off)) {
		r->off[r->n] = off;
		r->order[r->n] = order;
		r->state[r->n] = state;
	}
	r->n++;
	return 0;
}

static void buddy_test_walk_lists_blocks_in_order(struct kunit *test)
{
	static const u64 off[] = { 0, 16, 32, 64, 128, 256, 512, 768 };
	static const unsigned int order[] = { 0, 0, 1, 2, 3, 4, 4, 4 };
	static const bool allocated[] = { 1, 0, 0, 0, 0, 0, 1, 0 };
	struct tfix *f = theap(test, 12, 4, 0, osz(12));
	struct walk_rec r = { };
	unsigned int i;

	KUNIT_EXPECT_EQ(test, buddy_walk(&f->heap, walk_rec_fn, &r), 0);
	KUNIT_EXPECT_EQ(test, r.n, 0);
	talloc(test, f, 16);		/* chunk 0 (256 B) */
	talloc(test, f, 256);		/* chunk 256 */
	talloc(test, f, 256);		/* chunk 512 (512 B) */
	tfree(test, f, 256);		/* its chunk kept (low water) */
	KUNIT_EXPECT_EQ(test, buddy_walk(&f->heap, walk_rec_fn, &r), 0);
	KUNIT_ASSERT_EQ(test, r.n, ARRAY_SIZE(off));
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		KUNIT_EXPECT_EQ_MSG(test, r.off[i], off[i], "block %u", i);
		KUNIT_EXPECT_EQ_MSG(test, r.order[i], order[i], "block %u", i);
		KUNIT_EXPECT_EQ_MSG(test, r.state[i], allocated[i] ?
				    BUDDY_BLOCK_ALLOCATED : BUDDY_BLOCK_FREE,
				    "block %u", i);
	}
}

static int walk_stop_fn(void *arg, u64 off, unsigned int order,
			enum buddy_block_state state)
{
	unsigned int *calls = arg;

	return ++*calls == 2 ? 7 : 0;
}

static void buddy_test_walk_stops_early(struct kunit *test)
{
	struct tfix *f = theap_default(test);
	unsigned int calls = 0;

	talloc(test, f, 16);
	talloc(test, f, 16);
	talloc(test, f, 16);
	KUNIT_EXPECT_EQ(test, buddy_walk(&f->heap, walk_stop_fn, &calls), 7);
	KUNIT_EXPECT_EQ(test, calls, 2);
}

static void buddy_test_clone_same_contents(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct tfix *g = tfix_new(test);
	struct tsnap *a, *b;
	u64 off[6];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++) {
		off[i] = talloc(test, f, 100 << i);
		tfill(test, f, off[i], 100 << i, 0xc0 + i);
	}
	tfree(test, f, off[1]);
	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	a = tsnap(test, f);
	b = tsnap(test, g);
	KUNIT_EXPECT_EQ(test, a->hash, b->hash);
	KUNIT_EXPECT_EQ(test, a->st.bytes_in_use, b->st.bytes_in_use);
	KUNIT_EXPECT_EQ(test, a->st.heap_bytes, b->st.heap_bytes);
	/* every counter too, failed calls aside */
	b->st.nr_failed = a->st.nr_failed;
	KUNIT_EXPECT_EQ(test, memcmp(&a->st, &b->st, sizeof(a->st)), 0);
	KUNIT_EXPECT_EQ(test, g->chunks_live, f->chunks_live);
	KUNIT_EXPECT_EQ(test, g->chunk_bytes_live, f->chunk_bytes_live);
	KUNIT_EXPECT_EQ(test, g->meta_bytes_live, f->meta_bytes_live);
	/* each chunk copied once through ->copy, into memory of its own */
	KUNIT_EXPECT_EQ(test, g->copies, f->heap.nr_chunks);
	for (i = 0; i < f->heap.nr_chunks; i++) {
		KUNIT_EXPECT_PTR_NE(test, g->heap.chunks[i].mem,
				    f->heap.chunks[i].mem);
		KUNIT_EXPECT_PTR_NE(test, g->heap.chunks[i].meta,
				    f->heap.chunks[i].meta);
	}
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		if (i == 1)
			continue;
		KUNIT_EXPECT_TRUE(test, tholds(test, g, off[i], 100 << i,
					       0xc0 + i));
		KUNIT_EXPECT_PTR_NE(test, (u8 *)tptr(test, g, off[i], 1),
				    (u8 *)tptr(test, f, off[i], 1));
	}
	tfix_destroy(g);
	KUNIT_EXPECT_EQ(test, g->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, g->metas_live, 0);
	KUNIT_EXPECT_FALSE(test, g->bad_free);
}

static void buddy_test_clone_empty(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct tfix *g = tfix_new(test);

	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	KUNIT_EXPECT_EQ(test, g->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, g->metas_live, 0);
	KUNIT_EXPECT_EQ(test, talloc(test, g, 16), 0);
}

static void buddy_test_clone_independent(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct tfix *g = tfix_new(test);
	u64 a = talloc(test, f, 64), fa, ga;

	tfill(test, f, a, 64, 0x01);
	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	/* the same next offset in both, but separate memory and state */
	fa = talloc(test, f, 64);
	ga = talloc(test, g, 64);
	KUNIT_EXPECT_EQ(test, fa, ga);
	tfill(test, g, a, 64, 0x02);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, a, 64, 0x01));
	tfree(test, g, a);
	KUNIT_EXPECT_EQ(test, tusable(test, f, a), 64);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&g->heap, a), -EALREADY);
	/* destroying the original leaves the clone whole */
	tfix_destroy(f);
	HEAP_CHECK(test, &g->heap);
	KUNIT_EXPECT_EQ(test, tusable(test, g, ga), 64);
}

static void buddy_test_clone_runs(struct kunit *test)
{
	struct tfix *f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 9);
	struct tfix *g = tfix_new(test);
	struct tsnap *a, *b;
	u64 run, x, size = 0;

	/* a trimmed run (4096 + 1024) with a block in its tail */
	run = talloc(test, f, 5000);
	x = talloc(test, f, 1024);
	KUNIT_ASSERT_EQ(test, x, run + 5120);
	tfill(test, f, run, 5120, 0x51);
	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	a = tsnap(test, f);
	b = tsnap(test, g);
	/* the same blocks, continued ones included, and the same counters */
	KUNIT_EXPECT_EQ(test, a->hash, b->hash);
	KUNIT_EXPECT_EQ(test, b->st.bytes_in_use, 5120 + 1024);
	KUNIT_EXPECT_EQ(test, b->st.live_blocks, 2);
	KUNIT_EXPECT_EQ(test, g->heap.cfg.trim_order, 9);
	KUNIT_EXPECT_EQ(test, tusable(test, g, run), 5120);
	KUNIT_EXPECT_TRUE(test, tholds(test, g, run, 5120, 0x51));
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&g->heap, run + 4096,
						     &size), -BUDDY_ERR_NOT_START);
	/* the run bits are the clone's own: freeing there leaves the original */
	tfree(test, g, run);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&g->heap, run + 4096),
			-BUDDY_ERR_FREE);
	HEAP_CHECK(test, &g->heap);
	KUNIT_EXPECT_EQ(test, tusable(test, f, run), 5120);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, run + 4096),
			-BUDDY_ERR_NOT_START);
	HEAP_CHECK(test, &f->heap);
	/* and the clone trims new runs as its original would */
	tfree(test, g, x);
	KUNIT_EXPECT_EQ(test, talloc(test, g, 4200), run);
	KUNIT_EXPECT_EQ(test, tusable(test, g, run), 4352);
}

static void buddy_test_clone_failure_is_clean(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct tfix *g;
	unsigned int i;
	long budget;

	for (i = 0; i < 6; i++)
		talloc(test, f, osz(T_CHUNK_ORDER));
	KUNIT_ASSERT_GT(test, f->chunks_live, 2);
	/* fail the clone at every allocation it makes, in turn */
	for (budget = 0; budget < 2 * f->chunks_live; budget++) {
		g = tfix_new(test);
		/* chunk, metadata, chunk, ...: budget-th allocation fails */
		g->chunk_budget = (budget + 1) / 2;
		g->meta_budget = budget / 2;
		if (!buddy_heap_clone(&g->heap, &f->heap, g)) {
			g->live = true;
			continue;
		}
		KUNIT_EXPECT_EQ_MSG(test, g->chunks_live, 0, "budget %ld",
				    budget);
		KUNIT_EXPECT_EQ_MSG(test, g->metas_live, 0, "budget %ld",
				    budget);
		KUNIT_EXPECT_FALSE(test, g->bad_free);
		/* the failed clone is an empty heap, whole and usable */
		KUNIT_EXPECT_EQ(test, g->heap.nr_chunks, 0);
		KUNIT_EXPECT_EQ(test, g->heap.heap_bytes, 0);
		HEAP_CHECK(test, &g->heap);
		g->live = true;
		g->chunk_budget = -1;
		g->meta_budget = -1;
		talloc(test, g, 16);
	}
	HEAP_CHECK(test, &f->heap);
}

static struct kunit_case buddy_growth_cases[] = {
	KUNIT_CASE(buddy_test_grow_doubling),
	KUNIT_CASE(buddy_test_grow_steps),
	KUNIT_CASE(buddy_test_grow_big_request),
	KUNIT_CASE(buddy_test_grow_offsets_stable),
	KUNIT_CASE(buddy_test_grow_cap_clamps),
	KUNIT_CASE(buddy_test_grow_cap_enomem),
	KUNIT_CASE(buddy_test_grow_falls_back),
	KUNIT_CASE(buddy_test_grow_chunk_limit),
	KUNIT_CASE(buddy_test_grow_min_chunk_order_zero),
	KUNIT_CASE(buddy_test_grow_chunk_layout),
	KUNIT_CASE(buddy_test_grow_cap_above_window),
	KUNIT_CASE(buddy_test_grow_grain_chunks_up_to_limit),
	KUNIT_CASE(buddy_test_grow_reuses_holes_lowest_first),
	KUNIT_CASE(buddy_test_grow_full_tiny_window),
	KUNIT_CASE(buddy_test_shrink_returns_chunks),
	KUNIT_CASE(buddy_test_shrink_respects_low_water),
	KUNIT_CASE(buddy_test_shrink_at_exact_low_water),
	KUNIT_CASE(buddy_test_shrink_then_regrow),
	KUNIT_CASE(buddy_test_shrink_to_empty_without_low_water),
	KUNIT_CASE(buddy_test_grow_into_released_hole),
	KUNIT_CASE(buddy_test_chunk_address),
	KUNIT_CASE(buddy_test_chunk_address_across_chunks),
	KUNIT_CASE(buddy_test_destroy_returns_everything),
	KUNIT_CASE(buddy_test_destroy_then_reuse),
	KUNIT_CASE(buddy_test_walk_tiles_heap),
	KUNIT_CASE(buddy_test_walk_lists_blocks_in_order),
	KUNIT_CASE(buddy_test_walk_stops_early),
	KUNIT_CASE(buddy_test_clone_empty),
	KUNIT_CASE(buddy_test_clone_same_contents),
	KUNIT_CASE(buddy_test_clone_independent),
	KUNIT_CASE(buddy_test_clone_runs),
	KUNIT_CASE(buddy_test_clone_failure_is_clean),
	{}
};

static struct kunit_suite buddy_growth_suite = {
	.name = "buddy_growth",
	.test_cases = buddy_growth_cases,
};

/* Suite buddy_defer: freed blocks held back (buddy_heap_set_defer_depth()). */

/* One 16 KiB chunk, kept when empty, holding back @depth blocks an order. */
static struct tfix *theap_defer(struct kunit *test, unsigned int depth)
{
	struct tfix *f = theap(test, 10, 10, 0, osz(10));

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, depth), 0);
	return f;
}

static void buddy_test_defer_depth_limits(struct kunit *test)
{
	struct tfix *f = theap_defer(test, 0);
	struct buddy_stats *st;
	u64 a, b;

	KUNIT_EXPECT_EQ(test, buddy_heap_set_defer_depth(&f->heap,
							 BUDDY_DEFER_DEPTH + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, f->heap.defer_depth, 0);
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap,
							 BUDDY_DEFER_DEPTH), 0);
	a = talloc(test, f, 16);
	b = talloc(test, f, 16);
	tfree(test, f, a);
	tfree(test, f, b);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 2);
	/* lowering the depth merges what is held back: one free chunk */
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 1), 0);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 0);
	KUNIT_EXPECT_EQ(test, f->heap.defer_mask, 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 0);
	KUNIT_EXPECT_EQ(test, st->free_blocks[10], 1);
}

static void buddy_test_defer_block_is_free(struct kunit *test)
{
	struct tfix *f = theap_defer(test, 2);
	struct walk_rec r = { };
	struct buddy_stats *st;
	struct tsnap *before;
	u64 a, b, off = 0, size = 0;

	a = talloc(test, f, 16);
	b = talloc(test, f, 16);
	KUNIT_EXPECT_EQ(test, a, 0);
	KUNIT_EXPECT_EQ(test, b, 16);
	tfree(test, f, a);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 1);
	/* held back, yet free in the statistics ... */
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->free_blocks[0], 1);
	KUNIT_EXPECT_EQ(test, st->free_blocks[1], 1);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 16);
	KUNIT_EXPECT_EQ(test, st->bytes_free, osz(10) - 16);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
	KUNIT_EXPECT_EQ(test, st->nr_frees, 1);
	/* ... and to every offset check, which leaves the heap as it was */
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, a), -BUDDY_ERR_FREE);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, a + 8), -BUDDY_ERR_FREE);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, a, &size),
			-BUDDY_ERR_FREE);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, a, 32, 0, &off),
			-BUDDY_ERR_FREE);
	expect_unchanged(test, f, before, 3);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 1);
	/* ... and to a walk */
	KUNIT_EXPECT_EQ(test, buddy_walk(&f->heap, walk_rec_fn, &r), 0);
	KUNIT_EXPECT_EQ(test, r.off[0], a);
	KUNIT_EXPECT_EQ(test, r.state[0], BUDDY_BLOCK_FREE);
	KUNIT_EXPECT_EQ(test, r.off[1], b);
	KUNIT_EXPECT_EQ(test, r.state[1], BUDDY_BLOCK_ALLOCATED);
}

static void buddy_test_defer_reuse_lifo(struct kunit *test)
{
	struct tfix *f = theap_defer(test, 2);
	u64 a, b, d, off = U64_MAX;

	a = talloc(test, f, 16);
	b = talloc(test, f, 16);
	tfree(test, f, a);
	/* the next allocation of the order takes it back, whatever the size */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 10), a);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 0);
	/* last in, first out */
	tfree(test, f, a);
	tfree(test, f, b);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), b);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), a);
	/* a full row: the third free of the order merges for real */
	d = talloc(test, f, 16);
	KUNIT_EXPECT_EQ(test, d, 32);
	tfree(test, f, d);
	tfree(test, f, b);
	tfree(test, f, a);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 2);
	KUNIT_EXPECT_EQ(test, tstats(test, f)->free_blocks[0], 4);
	/* an aligned allocation never takes a held-back block */
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 16, 64, 0,
						       &off), 0);
	KUNIT_EXPECT_EQ(test, off, 64);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], 2);
}

static void buddy_test_defer_merged_before_growth(struct kunit *test)
{
	struct tfix *f = theap_defer(test, BUDDY_DEFER_DEPTH);
	u64 off[BUDDY_DEFER_DEPTH], whole;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++)
		off[i] = talloc(test, f, 16);
	for (i = 0; i < ARRAY_SIZE(off); i++)
		tfree(test, f, off[i]);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[0], BUDDY_DEFER_DEPTH);
	/*
	 * The whole window fits only once the held-back blocks merge: the
	 * heap must merge them rather than fail (it cannot grow past its
	 * one chunk).
	 */
	whole = talloc(test, f, osz(10));
	KUNIT_EXPECT_EQ(test, whole, 0);
	KUNIT_EXPECT_EQ(test, f->heap.defer_mask, 0);
	KUNIT_EXPECT_EQ(test, f->chunk_allocs, 1);
}

static void buddy_test_defer_clone_keeps_rows(struct kunit *test)
{
	struct tfix *f = theap_defer(test, 2);
	struct tfix *g = tfix_new(test);
	u64 a, b;

	a = talloc(test, f, 16);
	b = talloc(test, f, 16);
	tfree(test, f, b);
	KUNIT_ASSERT_EQ(test, buddy_heap_clone(&g->heap, &f->heap, g), 0);
	g->live = true;
	HEAP_CHECK(test, &g->heap);
	KUNIT_EXPECT_EQ(test, g->heap.defer_n[0], 1);
	/* both hand the held-back block out next, each on its own */
	KUNIT_EXPECT_EQ(test, talloc(test, g, 16), b);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), b);
	KUNIT_EXPECT_EQ(test, a, 0);
}

static void buddy_test_defer_chunk_order_never_held(struct kunit *test)
{
	struct tfix *f = theap_defer(test, 2);

	/* a block as big as its chunk has no buddy to wait for */
	tfree(test, f, talloc(test, f, osz(10)));
	KUNIT_EXPECT_EQ(test, f->heap.defer_mask, 0);
	KUNIT_EXPECT_EQ(test, tstats(test, f)->free_blocks[10], 1);
}

static void buddy_test_defer_chunk_released_after_merge(struct kunit *test)
{
	struct tfix *f = theap(test, 12, 4, 0, 0);
	struct buddy_stats *st;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 4), 0);
	/* the only block of a 256-byte chunk, held back: the chunk stays */
	tfree(test, f, talloc(test, f, 16));
	KUNIT_EXPECT_EQ(test, f->heap.nr_chunks, 1);
	/* a request that needs more merges it: the chunk goes, a bigger comes */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 512), 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 1);
	KUNIT_EXPECT_EQ(test, st->nr_grows, 2);
	KUNIT_EXPECT_EQ(test, f->heap.nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, f->heap.chunks[0].order, 5);
}

static struct kunit_case buddy_defer_cases[] = {
	KUNIT_CASE(buddy_test_defer_depth_limits),
	KUNIT_CASE(buddy_test_defer_block_is_free),
	KUNIT_CASE(buddy_test_defer_reuse_lifo),
	KUNIT_CASE(buddy_test_defer_merged_before_growth),
	KUNIT_CASE(buddy_test_defer_clone_keeps_rows),
	KUNIT_CASE(buddy_test_defer_chunk_order_never_held),
	KUNIT_CASE(buddy_test_defer_chunk_released_after_merge),
	{}
};

static struct kunit_suite buddy_defer_suite = {
	.name = "buddy_defer",
	.test_cases = buddy_defer_cases,
};

/* Suite buddy_random: random sequences, buddy_check() after each step. */

/**
 * struct rand_cfg - one randomized run
 * @name: shown as the parameter's description.
 * @steps: operations to carry out.
 * @max_order: window order of the heap.
 * @chunk_order: its min_chunk_order.
 * @cap: its cap_bytes (0: the window).
 * @low_water: its low_water_bytes.
 * @size_order: request sizes go up to BUDDY_GRAIN << @size_order.
 * @w_alloc: weight of buddy_heap_alloc().
 * @w_aligned: weight of buddy_heap_alloc_aligned().
 * @w_realloc: weight of buddy_heap_realloc().
 * @w_free: weight of buddy_heap_free().
 * @w_bad: weight of a probe with an offset that is no block start.
 * @max_live: most blocks held at once.
 */
struct rand_cfg {
	const char *name;
	unsigned int steps;
	unsigned int max_order;
	unsigned int chunk_order;
	u64 cap;
	u64 low_water;
	unsigned int size_order;
	unsigned int w_alloc, w_aligned, w_realloc, w_free, w_bad;
	unsigned int max_live;
};

static const struct rand_cfg rand_cfgs[] = {
	{ "small-blocks", 1500, 16, 8, 0, 4096, 4, 40, 0, 0, 40, 0, 256 },
	{ "mixed-sizes", 1200, 20, 8, 0, 4096, 12, 40, 0, 0, 40, 0, 128 },
	{ "memalign", 1000, 18, 8, 0, 0, 8, 15, 35, 0, 40, 0, 128 },
	{ "realloc", 1200, 18, 8, 0, 4096, 10, 25, 5, 40, 30, 0, 128 },
	{ "cap-limited", 1200, 16, 8, 32768, 0, 10, 45, 10, 15, 30, 0, 256 },
	{ "shrink-churn", 1000, 18, 8, 0, 0, 11, 35, 5, 10, 50, 0, 32 },
	{ "bad-offsets", 800, 18, 8, 0, 4096, 8, 30, 5, 10, 25, 30, 128 },
	{ "big-window", 300, 24, 12, 0, 0, 16, 35, 10, 15, 40, 0, 32 },
};

static void rand_cfg_desc(const struct rand_cfg *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(rand, rand_cfgs, rand_cfg_desc);

struct rand_blk {
	u64 off;
	u64 usable;
	u8 pat;
};

struct rand_state {
	struct kunit *test;
	const struct rand_cfg *cfg;
	struct tfix *f;
	struct rnd_state rnd;
	struct rand_blk *live;
	unsigned int nlive;
	unsigned long nomem;
	u8 next_pat;
};

static u32 rnd_below(struct rand_state *s, u32 n)
{
	return n ? prandom_u32_state(&s->rnd) % n : 0;
}

/* Log-uniform sizes: every order gets its share of requests. */
static u64 rand_size(struct rand_state *s)
{
	unsigned int k = rnd_below(s, s->cfg->size_order + 1);

	return 1 + rnd_below(s, osz(k));
}

static u8 rand_pat(struct rand_state *s)
{
	/* never 0, so a block left zeroed by mistake shows */
	if (!++s->next_pat)
		s->next_pat = 1;
	return s->next_pat;
}

/* The new block must be naturally aligned and overlap no live block. */
static void rand_check_new(struct rand_state *s, u64 off, u64 usable)
{
	struct kunit *test = s->test;
	unsigned int i;

	KUNIT_ASSERT_EQ_MSG(test, off & (usable - 1), 0,
			    "block at %llu of %llu bytes", off, usable);
	for (i = 0; i < s->nlive; i++) {
		const struct rand_blk *b = &s->live[i];

		KUNIT_ASSERT_TRUE_MSG(test, off + usable <= b->off ||
				      b->off + b->usable <= off,
				      "new block %llu+%llu overlaps %llu+%llu",
				      off, usable, b->off, b->usable);
	}
}

static void rand_add(struct rand_state *s, u64 off, u64 size, bool zeroed)
{
	struct kunit *test = s->test;
	struct rand_blk *b;
	u64 usable = tusable(test, s->f, off);

	KUNIT_ASSERT_EQ(test, usable, osz(ref_order(size)));
	rand_check_new(s, off, usable);
	if (zeroed)
		KUNIT_ASSERT_TRUE(test, tholds(test, s->f, off, usable, 0));
	b = &s->live[s->nlive++];
	b->off = off;
	b->usable = usable;
	b->pat = rand_pat(s);
	tfill(test, s->f, off, usable, b->pat);
}

static void rand_alloc(struct rand_state *s, bool aligned)
{
	struct kunit *test = s->test;
	unsigned int flags = rnd_below(s, 4) ? 0 : BUDDY_ALLOC_ZERO;
	u64 size = rand_size(s), align = 0, off = U64_MAX;
	int ret;

	if (aligned) {
		align = osz(rnd_below(s, s->cfg->size_order + 4));
		ret = buddy_heap_alloc_aligned(&s->f->heap, size, align, flags, &off);
	} else {
		ret = buddy_heap_alloc(&s->f->heap, size, flags, &off);
	}
	if (ret == -ENOMEM) {
		s->nomem++;
		return;
	}
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "alloc %llu align %llu", size, align);
	if (aligned)
		KUNIT_ASSERT_EQ(test, off & (align - 1), 0);
	rand_add(s, off, size, flags & BUDDY_ALLOC_ZERO);
}

static void rand_free(struct rand_state *s)
{
	struct kunit *test = s->test;
	unsigned int i = rnd_below(s, s->nlive);
	struct rand_blk b = s->live[i];
	int ret;

	KUNIT_ASSERT_TRUE_MSG(test, tholds(test, s->f, b.off, b.usable, b.pat),
			      "block %llu+%llu was overwritten", b.off,
			      b.usable);
	s->live[i] = s->live[--s->nlive];
	tfree(test, s->f, b.off);
	if (rnd_below(s, 8))
		return;
	/* free it again: double free, or gone with its chunk */
	ret = buddy_heap_free(&s->f->heap, b.off);
	if (buddy_chunk_address(&s->f->heap, b.off, NULL))
		KUNIT_ASSERT_EQ(test, ret, -EALREADY);
	else
		KUNIT_ASSERT_EQ(test, ret, -ENXIO);
}

static void rand_realloc(struct rand_state *s)
{
	struct kunit *test = s->test;
	unsigned int i = rnd_below(s, s->nlive);
	unsigned int flags = rnd_below(s, 3) ? 0 : BUDDY_ALLOC_ZERO;
	struct rand_blk b = s->live[i];
	u64 size = rand_size(s), off = U64_MAX, usable, keep;
	int ret;

	ret = buddy_heap_realloc(&s->f->heap, b.off, size, flags, &off);
	if (ret == -ENOMEM) {
		s->nomem++;
		/* the old block is intact */
		KUNIT_ASSERT_EQ(test, tusable(test, s->f, b.off), b.usable);
		KUNIT_ASSERT_TRUE(test, tholds(test, s->f, b.off, b.usable,
					       b.pat));
		return;
	}
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "realloc %llu+%llu to %llu", b.off,
			    b.usable, size);
	usable = tusable(test, s->f, off);
	KUNIT_ASSERT_EQ(test, usable, osz(ref_order(size)));
	keep = min(usable, b.usable);
	KUNIT_ASSERT_TRUE_MSG(test, tholds(test, s->f, off, keep, b.pat),
			      "realloc %llu+%llu -> %llu+%llu lost contents",
			      b.off, b.usable, off, usable);
	if (flags & BUDDY_ALLOC_ZERO && usable > b.usable)
		KUNIT_ASSERT_TRUE(test, tholds(test, s->f, off + b.usable,
					       usable - b.usable, 0));
	if (usable <= b.usable)
		KUNIT_ASSERT_EQ(test, off, b.off);	/* shrinks in place */
	s->live[i] = s->live[--s->nlive];
	rand_check_new(s, off, usable);
	s->live[s->nlive].off = off;
	s->live[s->nlive].usable = usable;
	s->live[s->nlive].pat = rand_pat(s);
	tfill(test, s->f, off, usable, s->live[s->nlive].pat);
	s->nlive++;
}

/* An offset that is no block start: the verdict follows from the model. */
static void rand_bad(struct rand_state *s)
{
	struct kunit *test = s->test;
	const u64 window = buddy_window_bytes(&s->f->heap);
	u64 off, size = 0;
	int want, ret;
	unsigned int i;

	if (s->nlive && rnd_below(s, 2)) {
		const struct rand_blk *b = &s->live[rnd_below(s, s->nlive)];

		if (b->usable == 1)
			return;
		off = b->off + 1 + rnd_below(s, b->usable - 1);
		want = -EINVAL;
	} else {
		off = rnd_below(s, window / BUDDY_GRAIN) * BUDDY_GRAIN;
		for (i = 0; i < s->nlive; i++)
			if (off >= s->live[i].off &&
			    off < s->live[i].off + s->live[i].usable)
				return;	/* a live block: not what we want */
		want = buddy_chunk_address(&s->f->heap, off, NULL) ?
		       -EALREADY : -ENXIO;
	}
	ret = buddy_heap_usable_size(&s->f->heap, off, &size);
	KUNIT_ASSERT_EQ_MSG(test, ret, want, "usable_size(%llu)", off);
	ret = buddy_heap_free(&s->f->heap, off);
	KUNIT_ASSERT_EQ_MSG(test, ret, want, "free(%llu)", off);
}

/* The core's counters against the model. */
static void rand_check_counts(struct rand_state *s)
{
	struct kunit *test = s->test;
	struct buddy_stats *st = tstats(test, s->f);
	u64 in_use = 0;
	unsigned int i;

	for (i = 0; i < s->nlive; i++)
		in_use += s->live[i].usable;
	KUNIT_ASSERT_EQ(test, st->bytes_in_use, in_use);
	KUNIT_ASSERT_EQ(test, st->live_blocks, s->nlive);
	KUNIT_ASSERT_EQ(test, st->heap_bytes, s->f->chunk_bytes_live);
	KUNIT_ASSERT_EQ(test, st->nr_chunks, s->f->chunks_live);
	if (s->cfg->cap)
		KUNIT_ASSERT_LE(test, st->heap_bytes, s->cfg->cap);
	kunit_kfree(test, st);
}

static void buddy_test_random_sequence(struct kunit *test)
{
	const struct rand_cfg *cfg = test->param_value;
	const unsigned int total = cfg->w_alloc + cfg->w_aligned +
				   cfg->w_realloc + cfg->w_free + cfg->w_bad;
	struct rand_state *s;
	struct buddy_stats *st;
	unsigned int step, r;

	s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	s->live = kunit_kcalloc(test, cfg->max_live, sizeof(*s->live),
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s->live);
	s->test = test;
	s->cfg = cfg;
	s->f = theap(test, cfg->max_order, cfg->chunk_order, cfg->cap,
		     cfg->low_water);
	prandom_seed_state(&s->rnd, (u64)seed << 32 | test->param_index);
	kunit_info(test, "%s: seed %u, %u steps", cfg->name, seed, cfg->steps);

	for (step = 0; step < cfg->steps; step++) {
		r = rnd_below(s, total);
		if (r < cfg->w_alloc + cfg->w_aligned &&
		    s->nlive == cfg->max_live)
			r = total - cfg->w_bad - 1;	/* full: free instead */
		if (!s->nlive && r >= cfg->w_alloc + cfg->w_aligned &&
		    r < total - cfg->w_bad)
			r = 0;				/* empty: allocate */

		if (r < cfg->w_alloc)
			rand_alloc(s, false);
		else if (r < cfg->w_alloc + cfg->w_aligned)
			rand_alloc(s, true);
		else if (r < cfg->w_alloc + cfg->w_aligned + cfg->w_realloc)
			rand_realloc(s);
		else if (r < total - cfg->w_bad)
			rand_free(s);
		else
			rand_bad(s);

		HEAP_CHECK(test, &s->f->heap);
		if (!(step & 15))
			rand_check_counts(s);
		if (!(step & 63))
			cond_resched();
	}
	rand_check_counts(s);

	/* drain: every block intact, then the heap back to its low water */
	while (s->nlive)
		rand_free(s);
	HEAP_CHECK(test, &s->f->heap);
	st = tstats(test, s->f);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 0);
	/* every chunk but the last falls empty above the low-water mark */
	KUNIT_EXPECT_EQ(test, st->nr_chunks, cfg->low_water ? 1 : 0);
	kunit_info(test, "%s: %lu ENOMEM, peak %llu bytes in use, %llu grows, %llu shrinks",
		   cfg->name, s->nomem, st->peak_bytes_in_use, st->nr_grows,
		   st->nr_shrinks);
	if (!cfg->cap)
		KUNIT_EXPECT_EQ(test, s->nomem, 0);
	tfix_destroy(s->f);
	KUNIT_EXPECT_EQ(test, s->f->chunks_live, 0);
	KUNIT_EXPECT_EQ(test, s->f->metas_live, 0);
	KUNIT_EXPECT_FALSE(test, s->f->bad_free);
}

static struct kunit_case buddy_random_cases[] = {
	KUNIT_CASE_PARAM(buddy_test_random_sequence, rand_gen_params),
	{}
};

static struct kunit_suite buddy_random_suite = {
	.name = "buddy_random",
	.suite_init = buddy_seed_suite_init,
	.test_cases = buddy_random_cases,
};

static struct kunit_suite *buddy_core_growth_test_suites[] = {
	&buddy_growth_suite, &buddy_defer_suite, &buddy_random_suite,
};

/*
 * Not kunit_test_suites(): on 6.1 that runs a module's suites from the
 * MODULE_STATE_COMING notifier, before the module's parameters are parsed,
 * so seed= would be ignored.  module_init runs after parse_args(), in
 * insmod's context.
 */
static int __init buddy_core_growth_test_init(void)
{
	return __kunit_test_suites_init(buddy_core_growth_test_suites,
					ARRAY_SIZE(buddy_core_growth_test_suites));
}
module_init(buddy_core_growth_test_init);

static void __exit buddy_core_growth_test_exit(void)
{
	__kunit_test_suites_exit(buddy_core_growth_test_suites,
				 ARRAY_SIZE(buddy_core_growth_test_suites));
}
module_exit(buddy_core_growth_test_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy core: growth, clone, deferred coalescing, random sequences");
MODULE_LICENSE("GPL");
