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

const struct test_case unit_tests[] = {
	{ "big_blocks", test_big_blocks },
	{ NULL, NULL },
};
