// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the buddy core's trimmed runs (cfg.trim_order, issue
 * #16): the exact blocks and run bits of allocations, frees, reallocs and
 * memaligns, validation at a run's later blocks, and a random sequence
 * checked against a model of the runs.  The rest of the core is tested by
 * buddy_core_test.c, buddy_core_errors_test.c (including damaged run bits)
 * and buddy_core_growth_test.c.
 *
 * The source under test is #included so the suite reaches its static
 * functions; this module links nothing else.  Every case builds its heaps
 * with the fixture in buddy_test_fixture.h, which runs buddy_check() on
 * whatever a case leaves behind.  The random case logs its seed from
 * .suite_init; load the module with seed=N to replay a run.
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

/* Suite buddy_core_trim: trimmed runs (cfg.trim_order, issue #16). */

/*
 * The trim heaps have the default geometry (1 MiB window, 4 KiB chunks,
 * keep 4 KiB) and trim requests of order 9 and up: more than 4 KiB.
 */
#define T_TRIM_ORDER	9

static struct tfix *theap_trim_default(struct kunit *test)
{
	return theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, osz(T_CHUNK_ORDER),
			  T_TRIM_ORDER);
}

/* The bytes of the run a request of @size gets, per "Trimmed runs". */
static u64 ref_run_bytes(u64 size, unsigned int trim_order)
{
	unsigned int n = ref_order(size);

	if (trim_order && n >= trim_order)
		return round_up(size, BUDDY_TRIM_UNIT);
	return osz(n);
}

/* One block as buddy_walk() reports it. */
struct tblock {
	u64 off;
	unsigned int order;
	enum buddy_block_state state;
};

#define TB_A(off, k)	{ (off), (k), BUDDY_BLOCK_ALLOCATED }
#define TB_C(off, k)	{ (off), (k), BUDDY_BLOCK_CONTINUED }
#define TB_F(off, k)	{ (off), (k), BUDDY_BLOCK_FREE }

struct tblocks {
	struct tblock *b;
	unsigned int n;
	unsigned int max;
};

static int tblocks_fn(void *arg, u64 off, unsigned int order,
		      enum buddy_block_state state)
{
	struct tblocks *l = arg;

	if (l->n < l->max)
		l->b[l->n] = (struct tblock){ off, order, state };
	l->n++;
	return 0;
}

static const char *tstate_name(enum buddy_block_state state)
{
	switch (state) {
	case BUDDY_BLOCK_FREE:
		return "free";
	case BUDDY_BLOCK_ALLOCATED:
		return "allocated";
	case BUDDY_BLOCK_CONTINUED:
		return "continued";
	}
	return "?";
}

/* The walk must report exactly the @n blocks of @want, in that order. */
static void expect_blocks(struct kunit *test, struct tfix *f,
			  const struct tblock *want, unsigned int n)
{
	struct tblocks l = { .max = n };
	unsigned int i;

	l.b = kunit_kcalloc(test, n, sizeof(*l.b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, l.b);
	KUNIT_ASSERT_EQ(test, buddy_walk(&f->heap, tblocks_fn, &l), 0);
	KUNIT_EXPECT_EQ_MSG(test, l.n, n, "blocks walked");
	for (i = 0; i < n && i < l.n; i++)
		KUNIT_EXPECT_TRUE_MSG(test, l.b[i].off == want[i].off &&
				      l.b[i].order == want[i].order &&
				      l.b[i].state == want[i].state,
				      "block %u: walked %llu order %u %s, expected %llu order %u %s",
				      i, l.b[i].off, l.b[i].order,
				      tstate_name(l.b[i].state), want[i].off,
				      want[i].order, tstate_name(want[i].state));
	kunit_kfree(test, l.b);
}

/*
 * The run area of chunk @ci must have exactly the bits of the @n window
 * offsets in @cont set: one bit per BUDDY_TRIM_UNIT of the chunk, set
 * where a block continues the run before it (see the metadata layout).
 */
static void expect_run_bits(struct kunit *test, struct tfix *f,
			    unsigned int ci, const u64 *cont, unsigned int n)
{
	const struct buddy_chunk *c;
	u64 words, *want, w, bit;
	unsigned int i;

	KUNIT_ASSERT_LT(test, ci, f->heap.nr_chunks);
	c = &f->heap.chunks[ci];
	KUNIT_ASSERT_NOT_NULL(test, run_map(c));
	words = max_t(u64, 1, BIT_ULL(c->order) >> 10);
	want = kunit_kcalloc(test, words, sizeof(*want), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, want);
	for (i = 0; i < n; i++) {
		/* a run elsewhere than expected must fail, not write wild */
		KUNIT_ASSERT_TRUE_MSG(test, cont[i] >= c->offset &&
				      cont[i] - c->offset < osz(c->order),
				      "%llu is not in the chunk at %llu",
				      cont[i], c->offset);
		bit = (cont[i] - c->offset) >> BUDDY_TRIM_SHIFT;
		want[bit >> 6] |= BIT_ULL(bit & 63);
	}
	for (w = 0; w < words; w++)
		KUNIT_EXPECT_EQ_MSG(test, run_map(c)[w], want[w],
				    "chunk at %llu: run word %llu", c->offset,
				    w);
	kunit_kfree(test, want);
}

/* bytes_in_use, live_blocks and bytes_free of @f's heap. */
static void expect_in_use(struct kunit *test, struct tfix *f, u64 bytes,
			  u64 blocks)
{
	struct buddy_stats *st = tstats(test, f);

	KUNIT_EXPECT_EQ(test, st->bytes_in_use, bytes);
	KUNIT_EXPECT_EQ(test, st->live_blocks, blocks);
	KUNIT_EXPECT_EQ(test, st->bytes_free, st->heap_bytes - bytes);
	kunit_kfree(test, st);
}

/* 5000 bytes in a fresh order-9 block at 0: 4096 + 1024, 3072 free. */
static const struct tblock trim_run5000[] = {
	TB_A(0, 8), TB_C(4096, 6), TB_F(5120, 6), TB_F(6144, 7),
};

/* 4200 bytes (4352) the same way: 4096 + 256. */
static const struct tblock trim_run4200[] = {
	TB_A(0, 8), TB_C(4096, 4), TB_F(4352, 4), TB_F(4608, 5),
	TB_F(5120, 6), TB_F(6144, 7),
};

static void buddy_test_trim_alloc_run(struct kunit *test)
{
	static const u64 cont[] = { 4096 };
	struct tfix *f = theap_trim_default(test);
	struct buddy_stats *st;
	u64 off;

	/* an order-9 chunk, its block cut down to 4096 + 1024 */
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 5120, 1);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 8192);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, st->free_blocks[6], 1);
	KUNIT_EXPECT_EQ(test, st->free_blocks[7], 1);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, 7);
	/* issue #16's measure: what was asked for against what was given */
	KUNIT_EXPECT_EQ(test, st->bytes_requested_total, 5000);
	KUNIT_EXPECT_EQ(test, st->bytes_granted_total, 5120);
	HEAP_CHECK(test, &f->heap);
	/* the trimmed tail is free like any block: 1024 bytes right after */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1024), 5120);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 2048), 6144);
	expect_in_use(test, f, 8192, 3);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_alloc_several_pieces(struct kunit *test)
{
	static const struct tblock want[] = {
		TB_A(0, 8), TB_C(4096, 7), TB_C(6144, 6), TB_F(7168, 6),
	};
	static const u64 cont[] = { 4096, 6144 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 7000);

	/* 7168 = 4096 + 2048 + 1024: one piece per bit, largest first */
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 7168);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 7168, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_alloc_over_1mib(struct kunit *test)
{
	static const u64 cont[] = { SZ_1M };
	struct tblock want[2 + 12];
	struct tfix *f;
	struct buddy_stats *st;
	unsigned int k, n = 0;
	u64 off;

	/* a 16 MiB window: the 2 MiB block is cut to 1 MiB + 256 */
	f = theap_trim(test, 20, T_CHUNK_ORDER, osz(T_CHUNK_ORDER),
		       T_TRIM_ORDER);
	off = talloc(test, f, SZ_1M + 1);
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), SZ_1M + 256);
	/* the tail: one free block of each order 4..15 */
	want[n++] = (struct tblock)TB_A(0, 16);
	want[n++] = (struct tblock)TB_C(SZ_1M, 4);
	for (k = 4; k < 16; k++)
		want[n++] = (struct tblock)TB_F(SZ_1M + osz(k), k);
	expect_blocks(test, f, want, n);
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, SZ_1M + 256, 1);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, SZ_2M);
	HEAP_CHECK(test, &f->heap);
	tfree(test, f, off);
	want[0] = (struct tblock)TB_F(0, 17);
	expect_blocks(test, f, want, 1);
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 0, 0);
}

static void buddy_test_trim_exact_fill(struct kunit *test)
{
	static const struct tblock whole[] = { TB_A(0, 9) };
	static const struct tblock half[] = { TB_A(0, 8), TB_F(4096, 8) };
	struct tfix *f = theap_trim_default(test);
	u64 off;

	/* a request that fills its block is that one block, no run */
	off = talloc(test, f, 8192);
	KUNIT_EXPECT_EQ(test, off, 0);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 8192, 1);
	tfree(test, f, off);
	/* so does one that rounds up to it */
	off = talloc(test, f, 8000);
	KUNIT_EXPECT_EQ(test, off, 0);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_in_use(test, f, 8192, 1);
	tfree(test, f, off);
	/* below trim_order nothing changes: 4097 is trimmed, 4000 is not */
	off = talloc(test, f, 4000);
	KUNIT_EXPECT_EQ(test, off, 0);
	expect_blocks(test, f, half, ARRAY_SIZE(half));
	expect_in_use(test, f, 4096, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_off_unchanged(struct kunit *test)
{
	static const struct tblock whole[] = { TB_A(0, 9) };
	struct tfix *f;
	u64 off;

	/* trim_order 0 is today's allocator: 5000 bytes take 8192 */
	f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, osz(T_CHUNK_ORDER), 0);
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 8192);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 8192, 1);
	/* and a realloc within the block changes nothing */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 7000, 0), off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	HEAP_CHECK(test, &f->heap);
}

struct trim_size_case {
	unsigned int trim_order;
	u64 size;
	u64 usable;
};

static const struct trim_size_case trim_size_cases[] = {
	{ 9, 0, 16 },
	{ 9, 3000, 4096 },		/* order 8: below trim_order */
	{ 9, 4096, 4096 },
	{ 9, 4097, 4352 },
	{ 9, 5000, 5120 },
	{ 9, 5120, 5120 },
	{ 9, 8000, 8192 },		/* rounds up to the whole block */
	{ 9, 8192, 8192 },
	{ 9, 8193, 8448 },
	{ 9, 65537, 65792 },
	{ 9, SZ_1M, SZ_1M },
	{ 0, 5000, 8192 },		/* off: powers of two */
	{ 0, 8193, 16384 },
	{ 5, 257, 512 },		/* the lowest trim_order */
	{ 5, 513, 768 },
	{ 5, 1000, 1024 },
	{ 16, 500000, 524288 },		/* trim_order = max_order */
	{ 16, 600000, 600064 },
};

static void trim_size_desc(const struct trim_size_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "trim_order %u size %llu",
		 c->trim_order, c->size);
}

KUNIT_ARRAY_PARAM(trim_size, trim_size_cases, trim_size_desc);

static void buddy_test_trim_usable_sizes(struct kunit *test)
{
	const struct trim_size_case *c = test->param_value;
	struct tfix *f;
	struct twalk *w;
	u64 off;

	KUNIT_ASSERT_EQ(test, ref_run_bytes(c->size, c->trim_order), c->usable);
	f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, osz(T_CHUNK_ORDER),
		       c->trim_order);
	off = talloc(test, f, c->size);
	KUNIT_EXPECT_EQ(test, off & (osz(ref_order(c->size)) - 1), 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), c->usable);
	expect_in_use(test, f, c->usable, 1);
	/* from a whole block: one piece per set bit of the run's bytes */
	w = twalk(test, f);
	KUNIT_EXPECT_EQ(test, w->nr_allocated, hweight64(c->usable));
	KUNIT_EXPECT_EQ(test, w->bytes_allocated, c->usable);
	HEAP_CHECK(test, &f->heap);
	tfree(test, f, off);
	expect_in_use(test, f, 0, 0);
	w = twalk(test, f);
	KUNIT_EXPECT_EQ(test, w->nr_allocated, 0);
	HEAP_CHECK(test, &f->heap);
}

/* Layout and usage as in @before; the life-time counters may differ. */
static void expect_same_heap(struct kunit *test, struct tfix *f,
			     const struct tsnap *before)
{
	struct tsnap *now = tsnap(test, f);

	HEAP_CHECK(test, &f->heap);
	KUNIT_EXPECT_EQ(test, now->hash, before->hash);
	KUNIT_EXPECT_EQ(test, now->nr_blocks, before->nr_blocks);
	KUNIT_EXPECT_EQ(test, now->chunks_live, before->chunks_live);
	KUNIT_EXPECT_EQ(test, now->metas_live, before->metas_live);
	KUNIT_EXPECT_EQ(test, now->st.heap_bytes, before->st.heap_bytes);
	KUNIT_EXPECT_EQ(test, now->st.nr_chunks, before->st.nr_chunks);
	KUNIT_EXPECT_EQ(test, now->st.meta_bytes, before->st.meta_bytes);
	KUNIT_EXPECT_EQ(test, now->st.bytes_in_use, before->st.bytes_in_use);
	KUNIT_EXPECT_EQ(test, now->st.bytes_free, before->st.bytes_free);
	KUNIT_EXPECT_EQ(test, now->st.live_blocks, before->st.live_blocks);
	KUNIT_EXPECT_EQ(test, now->st.largest_free_order,
			before->st.largest_free_order);
	KUNIT_EXPECT_EQ(test, memcmp(now->st.free_blocks, before->st.free_blocks,
				     sizeof(now->st.free_blocks)), 0);
	kunit_kfree(test, now);
}

static void buddy_test_trim_free_restores(struct kunit *test)
{
	struct tfix *f = theap_trim_default(test);
	struct buddy_stats *st;
	struct tsnap *before;
	u64 off;

	/* a 4 KiB chunk with a grain in use */
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 0);
	before = tsnap(test, f);
	/* the run needs an order-9 chunk: added at 8192 */
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, off, 8192);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 2);
	expect_in_use(test, f, 16 + 5120, 2);
	tfree(test, f, off);
	/* every piece merged: the chunk was whole again and went back */
	expect_same_heap(test, f, before);
	KUNIT_EXPECT_EQ(test, f->chunk_frees, 1);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, off),
			-BUDDY_ERR_OUTSIDE);
	/* once more, freed after another call (not the last allocation) */
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, off, 8192);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 16), 16);
	tfree(test, f, off);
	KUNIT_EXPECT_EQ(test, f->chunk_frees, 2);
	tfree(test, f, 16);
	expect_same_heap(test, f, before);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_grows, 3);
	KUNIT_EXPECT_EQ(test, st->nr_shrinks, 2);
	KUNIT_EXPECT_EQ(test, st->nr_frees, 3);
}

static void buddy_test_trim_free_any_order(struct kunit *test)
{
	static const struct tblock run_freed[] = {
		TB_F(0, 8), TB_F(4096, 6), TB_A(5120, 6), TB_F(6144, 7),
	};
	static const struct tblock whole[] = { TB_F(0, 9) };
	struct tfix *f = theap_trim_default(test);
	u64 off, x;

	/* the run first, then the block in its tail */
	off = talloc(test, f, 5000);
	x = talloc(test, f, 1024);
	KUNIT_ASSERT_EQ(test, x, 5120);
	tfree(test, f, off);
	expect_blocks(test, f, run_freed, ARRAY_SIZE(run_freed));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 1024, 1);
	tfree(test, f, x);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	/* the other way round: the same end */
	off = talloc(test, f, 5000);
	x = talloc(test, f, 1024);
	KUNIT_ASSERT_EQ(test, off, 0);
	KUNIT_ASSERT_EQ(test, x, 5120);
	tfree(test, f, x);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_in_use(test, f, 0, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_free_never_deferred(struct kunit *test)
{
	static const struct tblock whole[] = { TB_F(0, 9) };
	struct tfix *f = theap_trim_default(test);
	struct buddy_stats *st;
	unsigned int k;
	u64 off;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 4), 0);
	off = talloc(test, f, 5000);
	tfree(test, f, off);
	/* pieces of orders 8 and 6 could be held back; a run's are not */
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		KUNIT_EXPECT_EQ_MSG(test, f->heap.defer_n[k], 0, "order %u", k);
	KUNIT_EXPECT_EQ(test, f->heap.defer_mask, 0);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->free_blocks[9], 1);
	/* while a plain block of the same heap is */
	off = talloc(test, f, 4096);
	KUNIT_EXPECT_EQ(test, off, 0);
	tfree(test, f, off);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[8], 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_not_start(struct kunit *test)
{
	struct tfix *f = theap_trim_default(test);
	struct tsnap *before;
	u64 off, now = U64_MAX, size = 12345;

	off = talloc(test, f, 5000);
	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 5120, 0x6b);
	before = tsnap(test, f);
	/* the start of the continuation piece, and inside either piece */
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 4096), -BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 4096 + 256),
			-BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 4096 + 1),
			-BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 256), -BUDDY_ERR_NOT_START);
	/* the tail is free, past the chunk is outside */
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 5120), -BUDDY_ERR_FREE);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 6144 + 512),
			-BUDDY_ERR_FREE);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 8192),
			-BUDDY_ERR_OUTSIDE);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 4096, 100, 0, &now),
			-BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 4096, 7000, 0, &now),
			-BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, 4096 + 512, 16, 0,
						 &now), -BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, 4096, &size),
			-BUDDY_ERR_NOT_START);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&f->heap, 4096 + 768, &size),
			-BUDDY_ERR_NOT_START);
	/* ten failed calls (usable_size does not count), nothing else */
	expect_unchanged(test, f, before, 10);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	KUNIT_EXPECT_EQ(test, size, 12345);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0x6b));
	/* once the run is freed its pieces are free like the rest */
	tfree(test, f, off);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, 4096), -BUDDY_ERR_FREE);
}

static void buddy_test_trim_realloc_shrink(struct kunit *test)
{
	static const struct tblock plain128[] = {
		TB_A(0, 3), TB_F(128, 3), TB_F(256, 4), TB_F(512, 5),
		TB_F(1024, 6), TB_F(2048, 7), TB_F(4096, 8),
	};
	static const u64 cont[] = { 4096 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 5000);
	struct buddy_stats *st;

	tfill(test, f, off, 5120, 0x5a);
	/* a size with the same run bytes changes nothing */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5100, 0), off);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	/* 4352 bytes: the 1024 piece cut to 256, its tail freed */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 4200, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 4352);
	expect_blocks(test, f, trim_run4200, ARRAY_SIZE(trim_run4200));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 4352, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 4352, 0x5a));
	HEAP_CHECK(test, &f->heap);
	/* 100 bytes: a plain order-3 block, the piece freed and merged */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 100, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 128);
	expect_blocks(test, f, plain128, ARRAY_SIZE(plain128));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 128, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 128, 0x5a));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	/* each realloc is granted its run's bytes */
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->bytes_requested_total,
			5000 + 5100 + 4200 + 100);
	KUNIT_EXPECT_EQ(test, st->bytes_granted_total,
			5120 + 5120 + 4352 + 128);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_shrink_pieces(struct kunit *test)
{
	static const struct tblock plain4096[] = { TB_A(0, 8), TB_F(4096, 8) };
	static const u64 cont[] = { 4096 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 7000);

	/* 4096 + 2048 + 1024 down to 4096 + 256: the last piece goes whole */
	tfill(test, f, off, 7168, 0x29);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 4200, 0), off);
	expect_blocks(test, f, trim_run4200, ARRAY_SIZE(trim_run4200));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 4352, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 4352, 0x29));
	/* to exactly 4096: the first piece alone, a plain block */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 4096, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 4096);
	expect_blocks(test, f, plain4096, ARRAY_SIZE(plain4096));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 4096, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 4096, 0x29));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_grow_in_place(struct kunit *test)
{
	static const struct tblock grown[] = {
		TB_A(0, 8), TB_C(4096, 6), TB_C(5120, 6), TB_C(6144, 6),
		TB_F(7168, 6),
	};
	static const struct tblock full[] = {
		TB_A(0, 8), TB_C(4096, 6), TB_C(5120, 6), TB_C(6144, 6),
		TB_C(7168, 6),
	};
	static const u64 grown_cont[] = { 4096, 5120, 6144 };
	static const u64 full_cont[] = { 4096, 5120, 6144, 7168 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 8192);

	/* garbage in the whole chunk, which stays: it is the low water */
	tfill(test, f, off, 8192, 0xee);
	tfree(test, f, off);
	off = talloc(test, f, 5000);
	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 5120, 0x5a);
	/* 7168: the free 1024 after the run joins it, the 2048 is cut */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 7000, BUDDY_ALLOC_ZERO),
			off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 7168);
	expect_blocks(test, f, grown, ARRAY_SIZE(grown));
	expect_run_bits(test, f, 0, grown_cont, ARRAY_SIZE(grown_cont));
	expect_in_use(test, f, 7168, 1);
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	/* zeroed: what the run gained, not its old bytes past 5000 */
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0x5a));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 5120, 2048, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 7168, 1024, 0xee));
	HEAP_CHECK(test, &f->heap);
	/* up to the chunk's end: the last free block joins whole */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 8100, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 8192);
	expect_blocks(test, f, full, ARRAY_SIZE(full));
	expect_run_bits(test, f, 0, full_cont, ARRAY_SIZE(full_cont));
	expect_in_use(test, f, 8192, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 7168, 1024, 0xee));
	HEAP_CHECK(test, &f->heap);
	/* and back: the pieces past 5120 freed and merged */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5000, 0), off);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	expect_in_use(test, f, 5120, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0x5a));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_block_to_run(struct kunit *test)
{
	static const struct tblock plain4096[] = { TB_A(0, 8), TB_F(4096, 8) };
	static const u64 cont[] = { 4096 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 8192);

	tfree(test, f, off);
	off = talloc(test, f, 4096);
	KUNIT_ASSERT_EQ(test, off, 0);
	expect_blocks(test, f, plain4096, ARRAY_SIZE(plain4096));
	tfill(test, f, off, 4096, 0x77);
	/* a plain block grows into a run in place: its buddy is cut to 1024 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5000, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 5120, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 4096, 0x77));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_grow_moves(struct kunit *test)
{
	static const struct tblock partly[] = {
		TB_A(0, 8), TB_C(4096, 6), TB_C(5120, 5), TB_F(5632, 5),
		TB_A(6144, 7), TB_F(16384, 10),
	};
	static const struct tblock moved[] = {
		TB_F(0, 8), TB_F(4096, 7), TB_A(6144, 7), TB_A(16384, 9),
		TB_F(24576, 9),
	};
	static const struct tblock grown[] = {
		TB_F(0, 8), TB_F(4096, 7), TB_A(6144, 7), TB_A(16384, 9),
		TB_C(24576, 8), TB_F(28672, 8),
	};
	static const u64 cont0[] = { 4096, 5120 };
	static const u64 cont1[] = { 24576 };
	struct tfix *f;
	u64 a, b, off, y;

	/* an order-9 and an order-10 chunk, kept however empty, garbage */
	f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, SZ_1M, T_TRIM_ORDER);
	a = talloc(test, f, 8192);
	b = talloc(test, f, 16384);
	KUNIT_ASSERT_EQ(test, a, 0);
	KUNIT_ASSERT_EQ(test, b, 16384);
	tfill(test, f, a, 8192, 0xee);
	tfill(test, f, b, 16384, 0xee);
	tfree(test, f, a);
	tfree(test, f, b);
	off = talloc(test, f, 5000);
	KUNIT_ASSERT_EQ(test, off, 0);
	y = talloc(test, f, 2048);
	KUNIT_ASSERT_EQ(test, y, 6144);
	tfill(test, f, off, 5120, 0x5a);
	tfill(test, f, y, 2048, 0x11);
	/* 5632: the free 1024 before y is enough, cut to 512 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5500, BUDDY_ALLOC_ZERO),
			off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5632);
	expect_blocks(test, f, partly, ARRAY_SIZE(partly));
	expect_run_bits(test, f, 0, cont0, ARRAY_SIZE(cont0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 5120, 512, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 5632, 512, 0xee));
	/*
	 * 7168 would need y's bytes: the run moves to the other chunk, into
	 * a whole block (the left half of its order-10 one), untrimmed, to
	 * grow there in place next time
	 */
	tfill(test, f, off, 5632, 0x5a);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 7000, BUDDY_ALLOC_ZERO),
			16384);
	KUNIT_EXPECT_EQ(test, tusable(test, f, 16384), 8192);
	expect_blocks(test, f, moved, ARRAY_SIZE(moved));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_run_bits(test, f, 1, NULL, 0);
	expect_in_use(test, f, 8192 + 2048, 2);
	/* the old run's bytes copied, the whole gain zeroed */
	KUNIT_EXPECT_EQ(test, f->copied_bytes, 5632);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 16384, 5632, 0x5a));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 16384 + 5632, 8192 - 5632, 0));
	/*
	 * and it grows in place past the block's end, with no copy: the
	 * first 4096 of its free buddy join it as a run, the rest is cut
	 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, 16384, 12288, BUDDY_ALLOC_ZERO),
			16384);
	KUNIT_EXPECT_EQ(test, tusable(test, f, 16384), 12288);
	expect_blocks(test, f, grown, ARRAY_SIZE(grown));
	expect_run_bits(test, f, 1, cont1, ARRAY_SIZE(cont1));
	expect_in_use(test, f, 12288 + 2048, 2);
	KUNIT_EXPECT_EQ(test, f->copied_bytes, 5632);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 16384, 5632, 0x5a));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 16384 + 5632, 12288 - 5632, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 28672, 4096, 0xee));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, y, 2048, 0x11));
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, off), -BUDDY_ERR_FREE);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_past_chunk_moves(struct kunit *test)
{
	static const struct tblock want[] = { TB_A(16384, 10) };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 5000);

	tfill(test, f, off, 5120, 0x3c);
	/*
	 * 9000 bytes do not fit the order-9 chunk: a new order-10 one at
	 * 16384 takes the allocation, its whole block, and the old chunk,
	 * whole again, goes back.
	 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 9000, 0), 16384);
	KUNIT_EXPECT_EQ(test, tusable(test, f, 16384), 16384);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 16384, 1);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 1);
	KUNIT_EXPECT_EQ(test, f->chunk_frees, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 16384, 5120, 0x3c));
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_over_deferred(struct kunit *test)
{
	static const struct tblock grown[] = {
		TB_A(0, 8), TB_C(4096, 6), TB_C(5120, 6), TB_C(6144, 6),
		TB_F(7168, 6),
	};
	static const u64 cont[] = { 4096, 5120, 6144 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 5000);
	u64 x = talloc(test, f, 1024);
	unsigned int k;

	KUNIT_ASSERT_EQ(test, x, 5120);
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	tfree(test, f, x);
	KUNIT_ASSERT_EQ(test, f->heap.defer_n[6], 1);
	tfill(test, f, off, 5120, 0x4d);
	/*
	 * The block after the run is held back from merging: the growth
	 * merges it for real and claims it, then cuts the 2048 after it.
	 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 7000, 0), off);
	expect_blocks(test, f, grown, ARRAY_SIZE(grown));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		KUNIT_EXPECT_EQ_MSG(test, f->heap.defer_n[k], 0, "order %u", k);
	KUNIT_EXPECT_EQ(test, f->heap.defer_mask, 0);
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0x4d));
	expect_in_use(test, f, 7168, 1);
	HEAP_CHECK(test, &f->heap);
}

/*
 * Two order-9 chunks, kept however empty: a run of 5000 at 0, 1024 at
 * 5120 and 2048 at 6144 fill the first.
 */
static struct tfix *theap_trim_two_chunks(struct kunit *test)
{
	struct tfix *f;

	f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, SZ_1M, T_TRIM_ORDER);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 8192), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 8192), 8192);
	tfree(test, f, 0);
	tfree(test, f, 8192);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 5000), 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 1024), 5120);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 2048), 6144);
	return f;
}

static void buddy_test_trim_realloc_undefer_keeps_order(struct kunit *test)
{
	static const struct tblock want[] = {
		TB_A(0, 8), TB_C(4096, 6), TB_C(5120, 6), TB_A(6144, 7),
		TB_F(8192, 6), TB_F(9216, 6), TB_F(10240, 7), TB_F(12288, 8),
	};
	struct tfix *f = theap_trim_two_chunks(test);
	struct buddy_heap *h = &f->heap;

	KUNIT_ASSERT_EQ(test, talloc(test, f, 1024), 8192);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 1024), 9216);
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(h, 4), 0);
	/* held back, oldest first: 5120, 8192, 9216 */
	tfree(test, f, 5120);
	tfree(test, f, 8192);
	tfree(test, f, 9216);
	KUNIT_ASSERT_EQ(test, h->defer_n[6], 3);
	/* 6144 bytes: 5120 merged for real and claimed, the others stay */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, 0, 6000, 0), 0);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	KUNIT_ASSERT_EQ(test, h->defer_n[6], 2);
	KUNIT_EXPECT_EQ(test, h->defer[6][0], 8192);
	KUNIT_EXPECT_EQ(test, h->defer[6][1], 9216);
	/* in their order: the next 1024 bytes take the newest */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1024), 9216);
	KUNIT_EXPECT_EQ(test, h->defer_n[6], 1);
	expect_in_use(test, f, 6144 + 2048 + 1024, 3);
	HEAP_CHECK(test, h);
}

static void buddy_test_trim_realloc_undefer_then_move(struct kunit *test)
{
	static const struct tblock want[] = {
		TB_F(0, 8), TB_F(4096, 7), TB_A(6144, 7), TB_A(8192, 9),
	};
	struct tfix *f = theap_trim_two_chunks(test);
	unsigned int k;

	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	tfree(test, f, 5120);
	tfill(test, f, 0, 5120, 0x4d);
	/*
	 * 7168 bytes: 5120 is merged for real, 6144 is allocated, so the
	 * run moves, to the free chunk at 8192 (no flush needed).  The
	 * merge stays: with the old run freed, 4096..6143 is one block.
	 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, 0, 7000, 0), 8192);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		KUNIT_EXPECT_EQ_MSG(test, f->heap.defer_n[k], 0, "order %u", k);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, 8192, 5120, 0x4d));
	expect_in_use(test, f, 8192 + 2048, 2);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_memalign(struct kunit *test)
{
	static const struct tblock want[] = {
		TB_A(0, 0), TB_F(16, 0), TB_F(32, 1), TB_F(64, 2),
		TB_F(128, 3), TB_F(256, 4), TB_F(512, 5), TB_F(1024, 6),
		TB_F(2048, 7),
		TB_A(16384, 8), TB_C(20480, 6), TB_F(21504, 6),
		TB_F(22528, 7), TB_F(24576, 9),
	};
	static const u64 cont[] = { 20480 };
	struct tfix *f = theap_trim_default(test);
	struct tsnap *before;
	u64 off = U64_MAX;

	/* a grain at 0 so that no alignment comes by luck */
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 0);
	before = tsnap(test, f);
	/*
	 * 16 KiB alignment: an order-10 chunk at 16384, its block split in
	 * two, the left half trimmed as for an unaligned 5000.
	 */
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 5000, SZ_16K, 0,
						       &off), 0);
	KUNIT_EXPECT_EQ(test, off, 16384);
	KUNIT_EXPECT_EQ(test, off & (SZ_16K - 1), 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	expect_run_bits(test, f, 1, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 16 + 5120, 2);
	HEAP_CHECK(test, &f->heap);
	/* freed, the chunk merges whole and goes back */
	tfree(test, f, off);
	expect_same_heap(test, f, before);
	/* an alignment below the block's is the plain allocation */
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc_aligned(&f->heap, 5000, 64, 0,
						       &off), 0);
	KUNIT_EXPECT_EQ(test, off & 8191, 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_alloc_zero(struct kunit *test)
{
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 8192);

	tfill(test, f, off, 8192, 0xee);
	tfree(test, f, off);
	KUNIT_ASSERT_EQ(test, buddy_heap_alloc(&f->heap, 5000, BUDDY_ALLOC_ZERO,
					       &off), 0);
	KUNIT_ASSERT_EQ(test, off, 0);
	/* the run's 5120 bytes, not the 8192 of the block it was cut from */
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off + 5120, 3072, 0xee));
}

static void buddy_test_trim_realloc_rising_pieces(struct kunit *test)
{
	static const struct tblock want[] = {
		TB_A(0, 4), TB_C(256, 4), TB_C(512, 5), TB_C(1024, 6),
		TB_C(2048, 7), TB_C(4096, 6), TB_F(5120, 6), TB_F(6144, 7),
	};
	static const struct tblock whole[] = { TB_F(0, 9) };
	static const u64 cont[] = { 256, 512, 1024, 2048, 4096 };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 8192);

	tfree(test, f, off);
	off = talloc(test, f, 256);
	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 256, 0x81);
	/*
	 * Every block after the 256 bytes is free: claimed as they are,
	 * the order-8 one cut to 1024.  The run's orders rise, then fall.
	 */
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5000, 0), off);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	expect_blocks(test, f, want, ARRAY_SIZE(want));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 5120, 1);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 256, 0x81));
	KUNIT_EXPECT_EQ(test, f->copies, 0);
	HEAP_CHECK(test, &f->heap);
	/* every piece goes back and merges */
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_run_bits(test, f, 0, NULL, 0);
	expect_in_use(test, f, 0, 0);
}

static void buddy_test_trim_realloc_grain_to_run(struct kunit *test)
{
	static const struct tblock moved[] = { TB_A(8192, 9) };
	struct tfix *f = theap_trim_default(test);
	u64 off = talloc(test, f, 8192), now;

	tfree(test, f, off);
	off = talloc(test, f, 16);
	KUNIT_ASSERT_EQ(test, off, 0);
	tfill(test, f, off, 16, 0x92);
	/*
	 * The blocks after the grain are free, but a run's blocks start on
	 * BUDDY_TRIM_UNIT: a run cannot grow from 16 bytes in place.  It
	 * moves to a new order-9 chunk at 8192, its whole block, and the old
	 * one, whole again, goes back.
	 */
	now = trealloc(test, f, off, 5000, BUDDY_ALLOC_ZERO);
	KUNIT_EXPECT_EQ(test, now, 8192);
	expect_blocks(test, f, moved, ARRAY_SIZE(moved));
	KUNIT_EXPECT_EQ(test, f->chunk_frees, 1);
	KUNIT_EXPECT_EQ(test, f->copied_bytes, 16);
	KUNIT_EXPECT_EQ(test, tusable(test, f, now), 8192);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now, 16, 0x92));
	KUNIT_EXPECT_TRUE(test, tholds(test, f, now + 16, 8192 - 16, 0));
	expect_in_use(test, f, 8192, 1);
	HEAP_CHECK(test, &f->heap);
	tfree(test, f, now);
	expect_in_use(test, f, 0, 0);
}

static void buddy_test_trim_free_after_realloc(struct kunit *test)
{
	static const struct tblock whole[] = { TB_F(0, 9) };
	static const struct tblock halves[] = { TB_A(0, 8), TB_C(4096, 8) };
	struct tfix *f = theap_trim_default(test);
	u64 off;

	/* freed right after the realloc that made it, whatever it made */
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 7000, 0), off);
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_in_use(test, f, 0, 0);

	off = talloc(test, f, 7000);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 4200, 0), off);
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));

	/* a plain block claiming its free buddy: two blocks, one run */
	off = talloc(test, f, 4096);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 8192, 0), off);
	expect_blocks(test, f, halves, ARRAY_SIZE(halves));
	expect_in_use(test, f, 8192, 1);
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));

	/* one block trimmed into a run */
	off = talloc(test, f, 8192);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 5000, 0), off);
	expect_blocks(test, f, trim_run5000, ARRAY_SIZE(trim_run5000));
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));

	/* a run cut to a plain block */
	off = talloc(test, f, 5000);
	KUNIT_EXPECT_EQ(test, trealloc(test, f, off, 100, 0), off);
	tfree(test, f, off);
	expect_blocks(test, f, whole, ARRAY_SIZE(whole));
	expect_in_use(test, f, 0, 0);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_deferred_block_trimmed(struct kunit *test)
{
	static const struct tblock taken[] = {
		TB_A(0, 5), TB_C(512, 4), TB_F(768, 4), TB_A(1024, 0),
		TB_F(1040, 0), TB_F(1056, 1), TB_F(1088, 2), TB_F(1152, 3),
		TB_F(1280, 4), TB_F(1536, 5), TB_F(2048, 7),
	};
	static const struct tblock freed[] = {
		TB_F(0, 6), TB_A(1024, 0),
		TB_F(1040, 0), TB_F(1056, 1), TB_F(1088, 2), TB_F(1152, 3),
		TB_F(1280, 4), TB_F(1536, 5), TB_F(2048, 7),
	};
	static const u64 cont[] = { 512 };
	struct tfix *f;
	unsigned int k;
	u64 a;

	/* trimming from order 6 (more than 512 bytes), in a 4 KiB chunk */
	f = theap_trim(test, T_MAX_ORDER, T_CHUNK_ORDER, osz(T_CHUNK_ORDER), 6);
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap, 2), 0);
	/* 1024 bytes fill their block: a plain one, held back when freed */
	a = talloc(test, f, 1024);
	KUNIT_ASSERT_EQ(test, a, 0);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 16), 1024);
	tfree(test, f, a);
	KUNIT_ASSERT_EQ(test, f->heap.defer_n[6], 1);
	/* 600 bytes (768) take the deferred order-6 block and trim it */
	KUNIT_EXPECT_EQ(test, talloc(test, f, 600), 0);
	KUNIT_EXPECT_EQ(test, f->heap.defer_n[6], 0);
	KUNIT_EXPECT_EQ(test, tusable(test, f, 0), 768);
	expect_blocks(test, f, taken, ARRAY_SIZE(taken));
	expect_run_bits(test, f, 0, cont, ARRAY_SIZE(cont));
	expect_in_use(test, f, 768 + 16, 2);
	HEAP_CHECK(test, &f->heap);
	/* the run goes to the bitmaps, merged, not held back */
	tfree(test, f, 0);
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		KUNIT_EXPECT_EQ_MSG(test, f->heap.defer_n[k], 0, "order %u", k);
	expect_blocks(test, f, freed, ARRAY_SIZE(freed));
	expect_in_use(test, f, 16, 1);
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_trim_realloc_enomem_keeps_run(struct kunit *test)
{
	struct buddy_config cfg = {
		.max_order = T_MAX_ORDER,
		.min_chunk_order = 9,
		.cap_bytes = osz(9),
		.low_water_bytes = osz(9),
		.trim_order = T_TRIM_ORDER,
	};
	struct tfix *f = tfix_new(test);
	struct tsnap *before;
	u64 off, now = U64_MAX;

	/* one 8 KiB chunk, no more: a run of 5120 and 2048 at 6144 */
	KUNIT_ASSERT_EQ(test, tfix_init_cfg(f, &cfg), 0);
	off = talloc(test, f, 5000);
	KUNIT_ASSERT_EQ(test, talloc(test, f, 2048), 6144);
	tfill(test, f, off, 5120, 0x3e);
	before = tsnap(test, f);
	/* no room after it, none elsewhere */
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, off, 7000,
						 BUDDY_ALLOC_ZERO, &now),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_realloc(&f->heap, off, 9000, 0, &now),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_heap_alloc(&f->heap, 4097, 0, &now),
			-ENOMEM);
	expect_unchanged(test, f, before, 3);
	KUNIT_EXPECT_EQ(test, now, U64_MAX);
	KUNIT_EXPECT_EQ(test, tusable(test, f, off), 5120);
	KUNIT_EXPECT_TRUE(test, tholds(test, f, off, 5120, 0x3e));
}

/* Random sequences: every run where the model says, of the size it says. */

#define T_TRIM_LIVE	48
#define T_TRIM_STEPS	4000

struct trim_live {
	u64 off;
	u64 bytes;
	u8 pat;
};

/* Runs as a walk reports them: an allocated block and what continues it. */
struct trun_walk {
	const struct buddy_heap *heap;
	struct trim_live run[T_TRIM_LIVE];
	unsigned int n;
	bool stray;
	u64 end;
};

static int trun_fn(void *arg, u64 off, unsigned int order,
		   enum buddy_block_state state)
{
	struct trun_walk *w = arg;
	const struct buddy_chunk *c = buddy_chunk_at(w->heap, off);

	if (state == BUDDY_BLOCK_FREE) {
		w->end = 0;
		return 0;
	}
	if (state == BUDDY_BLOCK_ALLOCATED) {
		if (w->n < T_TRIM_LIVE) {
			w->run[w->n].off = off;
			w->run[w->n].bytes = 0;
		}
		w->n++;
	} else if (!w->n || w->end != off || !c || c->offset == off) {
		/* no run right before it in the same chunk */
		w->stray = true;
		w->end = 0;
		return 0;
	}
	if (w->n <= T_TRIM_LIVE)
		w->run[w->n - 1].bytes += osz(order);
	w->end = off + osz(order);
	return 0;
}

/* The walk's runs must be exactly the @n of @live. */
static void expect_runs(struct kunit *test, struct tfix *f,
			const struct trim_live *live, unsigned int n)
{
	struct trun_walk *w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	unsigned int i, j;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, w);
	w->heap = &f->heap;
	KUNIT_ASSERT_EQ(test, buddy_walk(&f->heap, trun_fn, w), 0);
	KUNIT_EXPECT_FALSE_MSG(test, w->stray,
			       "a continued block continues nothing");
	KUNIT_ASSERT_EQ(test, w->n, n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < n && w->run[j].off != live[i].off; j++)
			;
		KUNIT_EXPECT_LT_MSG(test, j, n, "no run at %llu", live[i].off);
		if (j < n)
			KUNIT_EXPECT_EQ_MSG(test, w->run[j].bytes, live[i].bytes,
					    "run at %llu", live[i].off);
	}
	kunit_kfree(test, w);
}

/* Sizes up to 64 KiB, log-uniform, a power of two one time in eight. */
static u64 trim_draw_size(struct rnd_state *rnd)
{
	u32 r = prandom_u32_state(rnd);
	unsigned int bits = r % 17;

	if (!((r >> 8) & 7))
		return osz(bits % 13);
	return 1 + prandom_u32_state(rnd) % (1u << bits);
}

/* The trim orders of the random case: the lowest, the usual, a high one. */
static const unsigned int trim_random_orders[] = { 5, T_TRIM_ORDER, 12 };

static void trim_random_desc(const unsigned int *t, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "trim_order %u", *t);
}

KUNIT_ARRAY_PARAM(trim_random, trim_random_orders, trim_random_desc);

static void buddy_test_trim_random(struct kunit *test)
{
	const unsigned int t = *(const unsigned int *)test->param_value;
	struct tfix *f = theap_trim(test, 20, T_CHUNK_ORDER, 0, t);
	struct trim_live *live, *l;
	struct buddy_stats *st;
	struct rnd_state rnd;
	unsigned int n = 0, step, i, flags;
	u64 in_use = 0, size, bytes, now, keep;
	u32 r;
	int ret;

	live = kunit_kcalloc(test, T_TRIM_LIVE, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, live);
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	prandom_seed_state(&rnd, seed + t);
	/* deferral of 0, 1 or 2 blocks an order, by seed and trim order */
	KUNIT_ASSERT_EQ(test, buddy_heap_set_defer_depth(&f->heap,
							 (seed + t) % 3), 0);
	for (step = 0; step < T_TRIM_STEPS; step++) {
		r = prandom_u32_state(&rnd);
		size = trim_draw_size(&rnd);
		bytes = ref_run_bytes(size, t);
		flags = (r >> 4) & 1 ? BUDDY_ALLOC_ZERO : 0;
		i = n ? (r >> 8) % n : 0;
		l = &live[i];
		if (n < T_TRIM_LIVE && (!n || r % 4 < 2)) {
			l = &live[n];
			ret = buddy_heap_alloc(&f->heap, size, flags, &l->off);
			if (ret == -ENOMEM)
				continue;
			KUNIT_ASSERT_EQ_MSG(test, ret, 0, "step %u: alloc(%llu)",
					    step, size);
			if (flags)
				KUNIT_ASSERT_TRUE_MSG(test, tholds(test, f, l->off,
								   bytes, 0),
						      "step %u: alloc(%llu) not zeroed",
						      step, size);
			n++;
			in_use += bytes;
		} else if (r % 4 == 2) {
			KUNIT_ASSERT_TRUE_MSG(test, tholds(test, f, l->off,
							   l->bytes, l->pat),
					      "step %u: run at %llu overwritten",
					      step, l->off);
			tfree(test, f, l->off);
			in_use -= l->bytes;
			*l = live[--n];
			goto check;
		} else {
			ret = buddy_heap_realloc(&f->heap, l->off, size, flags,
						 &now);
			if (ret == -ENOMEM) {
				KUNIT_ASSERT_TRUE(test, tholds(test, f, l->off,
							       l->bytes, l->pat));
				continue;
			}
			KUNIT_ASSERT_EQ_MSG(test, ret, 0,
					    "step %u: realloc(%llu, %llu)",
					    step, l->off, size);
			/* a move gets its whole block */
			if (now != l->off)
				bytes = osz(ref_order(size));
			keep = min(l->bytes, bytes);
			KUNIT_ASSERT_TRUE_MSG(test, tholds(test, f, now, keep,
							   l->pat),
					      "step %u: realloc(%llu, %llu) -> %llu lost contents",
					      step, l->off, size, now);
			if (flags && bytes > l->bytes)
				KUNIT_ASSERT_TRUE_MSG(test,
						      tholds(test, f, now + l->bytes,
							     bytes - l->bytes, 0),
						      "step %u: realloc(%llu, %llu) -> %llu not zeroed",
						      step, l->off, size, now);
			in_use = in_use - l->bytes + bytes;
			l->off = now;
		}
		l->bytes = bytes;
		l->pat = 1 + step % 255;
		KUNIT_ASSERT_EQ_MSG(test, tusable(test, f, l->off), bytes,
				    "step %u: size %llu", step, size);
		tfill(test, f, l->off, bytes, l->pat);
check:
		HEAP_CHECK(test, &f->heap);
		buddy_get_stats(&f->heap, st);
		KUNIT_ASSERT_EQ_MSG(test, st->bytes_in_use, in_use, "step %u", step);
		KUNIT_ASSERT_EQ_MSG(test, st->live_blocks, n, "step %u", step);
		if (!(step % 16))
			expect_runs(test, f, live, n);
	}
	expect_runs(test, f, live, n);
	while (n) {
		l = &live[--n];
		KUNIT_EXPECT_TRUE(test, tholds(test, f, l->off, l->bytes, l->pat));
		tfree(test, f, l->off);
	}
	expect_in_use(test, f, 0, 0);
	HEAP_CHECK(test, &f->heap);
}

static struct kunit_case buddy_trim_cases[] = {
	KUNIT_CASE(buddy_test_trim_alloc_run),
	KUNIT_CASE(buddy_test_trim_alloc_several_pieces),
	KUNIT_CASE(buddy_test_trim_alloc_over_1mib),
	KUNIT_CASE(buddy_test_trim_exact_fill),
	KUNIT_CASE(buddy_test_trim_off_unchanged),
	KUNIT_CASE_PARAM(buddy_test_trim_usable_sizes, trim_size_gen_params),
	KUNIT_CASE(buddy_test_trim_alloc_zero),
	KUNIT_CASE(buddy_test_trim_free_restores),
	KUNIT_CASE(buddy_test_trim_free_any_order),
	KUNIT_CASE(buddy_test_trim_free_never_deferred),
	KUNIT_CASE(buddy_test_trim_not_start),
	KUNIT_CASE(buddy_test_trim_realloc_shrink),
	KUNIT_CASE(buddy_test_trim_realloc_shrink_pieces),
	KUNIT_CASE(buddy_test_trim_realloc_grow_in_place),
	KUNIT_CASE(buddy_test_trim_realloc_block_to_run),
	KUNIT_CASE(buddy_test_trim_realloc_grow_moves),
	KUNIT_CASE(buddy_test_trim_realloc_past_chunk_moves),
	KUNIT_CASE(buddy_test_trim_realloc_over_deferred),
	KUNIT_CASE(buddy_test_trim_realloc_undefer_keeps_order),
	KUNIT_CASE(buddy_test_trim_realloc_undefer_then_move),
	KUNIT_CASE(buddy_test_trim_realloc_rising_pieces),
	KUNIT_CASE(buddy_test_trim_realloc_grain_to_run),
	KUNIT_CASE(buddy_test_trim_realloc_enomem_keeps_run),
	KUNIT_CASE(buddy_test_trim_free_after_realloc),
	KUNIT_CASE(buddy_test_trim_deferred_block_trimmed),
	KUNIT_CASE(buddy_test_trim_memalign),
	KUNIT_CASE_PARAM(buddy_test_trim_random, trim_random_gen_params),
	{}
};

static struct kunit_suite buddy_trim_suite = {
	.name = "buddy_core_trim",
	.suite_init = buddy_seed_suite_init,
	.test_cases = buddy_trim_cases,
};

static struct kunit_suite *buddy_core_trim_test_suites[] = {
	&buddy_trim_suite,
};

/* Not kunit_test_suites(): see buddy_core_test.c (seed= must be parsed). */
static int __init buddy_core_trim_test_init(void)
{
	return __kunit_test_suites_init(buddy_core_trim_test_suites,
					ARRAY_SIZE(buddy_core_trim_test_suites));
}
module_init(buddy_core_trim_test_init);

static void __exit buddy_core_trim_test_exit(void)
{
	__kunit_test_suites_exit(buddy_core_trim_test_suites,
				 ARRAY_SIZE(buddy_core_trim_test_suites));
}
module_exit(buddy_core_trim_test_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy core: trimmed runs");
MODULE_LICENSE("GPL");
