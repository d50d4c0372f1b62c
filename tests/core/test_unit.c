// SPDX-License-Identifier: GPL-2.0
/*
 * test_unit.c - the core's hand-computed behaviour tests that cannot be
 * KUnit cases.
 *
 * Every other one lives in KUnit (kunit/buddy_core_test.c,
 * buddy_core_errors_test.c, buddy_core_growth_test.c), run on both debug
 * kernels under KASAN and lockdep; see tests/README.md, "The core: KUnit
 * or tests/core".  What stays here, and why:
 *
 * - big_blocks: a 1 GiB window filled by two 512 MiB chunks, a 512 MiB
 *   block and a realloc to 256 MiB.  Here tmem maps such chunks with
 *   mmap(MAP_NORESERVE), so only the pages the core touches are ever
 *   backed; the KUnit fixture's chunks come from __vmalloc(__GFP_ZERO),
 *   which would commit and zero the whole 1 GiB in the 2 GiB debug guest.
 */
#include "tutil.h"

static u64 xalloc(struct buddy_heap *h, u64 size)
{
	u64 off = ~0ULL;
	int ret = buddy_heap_alloc(h, size, 0, &off);

	if (ret)
		t_report(__FILE__, __LINE__, "alloc(%llu): %d",
			 (unsigned long long)size, ret);
	return off;
}

static void test_big_blocks(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 a, b, n;

	/* 2^30 window, one 1 GiB block; chunks from mmap */
	theap_init(&h, &m, 26, 16, 0, ~0ULL);
	a = xalloc(&h, 1ULL << 29);
	EXPECT_EQ(a, 0);
	b = xalloc(&h, 16);
	EXPECT_EQ(b, 1ULL << 29);
	EXPECT_EQ(buddy_heap_realloc(&h, b, 1ULL << 28, 0, &n), 0);
	EXPECT_EQ(n, b);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

/*
 * A clone shares the metadata (tmem checks that shared metadata is never
 * written): the first write on either side copies the chunk's metadata,
 * once; a side left as the only user writes in place; a write that cannot
 * get its copy fails cleanly, except a free, which cannot fail.
 */
static void test_clone_shares_metadata(void)
{
	struct buddy_heap h, h2, h3;
	struct tmem m, m2, m3;
	struct tsnap before;
	u64 a, b, c, n;

	/* one 64 KiB chunk: every operation below uses its metadata */
	theap_init(&h, &m, 16, 12, 0, 0);
	a = xalloc(&h, 100);
	b = xalloc(&h, 4000);
	c = xalloc(&h, 16);
	REQUIRE_EQ(h.nr_chunks, 1);

	memset(&m2, 0, sizeof(m2));
	REQUIRE_EQ(buddy_heap_clone(&h2, &h, &m2), 0);
	EXPECT_EQ(m2.meta_shares, 1);
	EXPECT_EQ(m2.metas, 1);
	EXPECT_EQ(m.metas, 1);

	/* the clone's free copies the metadata; the source is unchanged */
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_free(&h2, a), 0);
	EXPECT_EQ(m2.meta_unshares, 1);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	CHECK_HEAP(&h2);

	/* the source is the only user again: it writes in place */
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(m.meta_unshares, 0);
	CHECK_HEAP(&h);

	/* a clone that goes away unwritten leaves no copy behind */
	memset(&m3, 0, sizeof(m3));
	REQUIRE_EQ(buddy_heap_clone(&h3, &h, &m3), 0);
	buddy_heap_destroy(&h3);
	EXPECT_EQ(m3.metas, 0);
	b = xalloc(&h, 4000);
	EXPECT_EQ(m.meta_unshares, 0);

	/* no memory for the copy: alloc and realloc fail, the heap as it was */
	REQUIRE_EQ(buddy_heap_clone(&h3, &h, &m3), 0);
	tsnap_take(&h, &before);
	m.fail_meta_in = 1;
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &n), -ENOMEM);
	m.fail_meta_in = 1;
	EXPECT_EQ(buddy_heap_realloc(&h, c, 32, 0, &n), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	EXPECT_EQ(m.meta_unshares, 0);
	/* ... but a free and a shrinking realloc do not fail */
	m.fail_meta_in = 1;
	EXPECT_EQ(buddy_heap_realloc(&h, b, 16, 0, &n), 0);
	EXPECT_EQ(n, b);
	EXPECT_EQ(buddy_heap_free(&h, c), 0);
	EXPECT_EQ(m.fail_meta_in, 1);
	m.fail_meta_in = 0;
	EXPECT_EQ(m.meta_unshares, 1);
	CHECK_HEAP(&h);
	CHECK_HEAP(&h3);
	EXPECT_EQ(h3.counters.live_blocks, 3);

	buddy_heap_destroy(&h3);
	buddy_heap_destroy(&h2);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.metas + m2.metas + m3.metas, 0);
	EXPECT_EQ(m.chunks + m2.chunks + m3.chunks, 0);
}

/* Without ops->meta_share, or when it declines, a clone copies. */
static void test_clone_copies_metadata(void)
{
	struct buddy_heap h, h2;
	struct tmem m, m2;
	u64 a;

	theap_init(&h, &m, 16, 12, 0, 0);
	a = xalloc(&h, 100);
	memset(&m2, 0, sizeof(m2));
	m2.no_meta_share = true;
	REQUIRE_EQ(buddy_heap_clone(&h2, &h, &m2), 0);
	EXPECT_EQ(m2.meta_shares, 0);
	EXPECT_EQ(buddy_heap_free(&h2, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(m.meta_unshares + m2.meta_unshares, 0);
	CHECK_HEAP(&h);
	CHECK_HEAP(&h2);
	buddy_heap_destroy(&h2);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.metas + m2.metas, 0);
}

const struct test_case unit_tests[] = {
	{ "big_blocks", test_big_blocks },
	{ "clone_shares_metadata", test_clone_shares_metadata },
	{ "clone_copies_metadata", test_clone_copies_metadata },
	{ NULL, NULL },
};
