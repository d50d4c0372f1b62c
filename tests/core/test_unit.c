// SPDX-License-Identifier: GPL-2.0
/*
 * test_unit.c - one behaviour per test, with hand-computed expectations.
 */
#include <string.h>
#include "tutil.h"

#define W(h)	buddy_window_bytes(h)

static u64 xalloc(struct buddy_heap *h, u64 size)
{
	u64 off = ~0ULL;
	int ret = buddy_heap_alloc(h, size, 0, &off);

	if (ret)
		t_report(__FILE__, __LINE__, "alloc(%llu): %d",
			 (unsigned long long)size, ret);
	return off;
}

static u8 *addr(struct buddy_heap *h, u64 off)
{
	return buddy_chunk_address(h, off, NULL);
}

static u64 usable(struct buddy_heap *h, u64 off)
{
	u64 u = 0;

	if (buddy_heap_usable_size(h, off, &u))
		return 0;
	return u;
}

static void expect_free_blocks(struct buddy_heap *h, const u64 *want,
			       unsigned int n, int line)
{
	struct buddy_stats st;
	unsigned int k;

	buddy_get_stats(h, &st);
	for (k = 0; k < n; k++)
		if (st.free_blocks[k] != want[k])
			t_report(__FILE__, line, "free_blocks[%u] = %llu, want %llu",
				 k, (unsigned long long)st.free_blocks[k],
				 (unsigned long long)want[k]);
}

#define EXPECT_FREE_BLOCKS(h, ...)					\
	do {								\
		const u64 _w[] = { __VA_ARGS__ };			\
		expect_free_blocks((h), _w, ARRAY_SIZE(_w), __LINE__);	\
	} while (0)

static void test_init_errors(void)
{
	struct buddy_heap h;
	struct buddy_config cfg = { .max_order = 10, .min_chunk_order = 4 };
	struct buddy_ops bad = tmem_ops;
	struct tmem m = { 0 };
	struct buddy_stats st;
	unsigned int k;

	cfg.max_order = BUDDY_MAX_ORDER + 1;
	EXPECT_EQ(buddy_heap_init(&h, &cfg, &tmem_ops, &m), -EINVAL);
	cfg.max_order = 4;
	cfg.min_chunk_order = 5;
	EXPECT_EQ(buddy_heap_init(&h, &cfg, &tmem_ops, &m), -EINVAL);
	cfg.min_chunk_order = 4;
	bad.chunk_alloc = NULL;
	EXPECT_EQ(buddy_heap_init(&h, &cfg, &bad, &m), -EINVAL);
	bad = tmem_ops;
	bad.meta_free = NULL;
	EXPECT_EQ(buddy_heap_init(&h, &cfg, &bad, &m), -EINVAL);
	EXPECT_EQ(buddy_heap_init(&h, NULL, &tmem_ops, &m), -EINVAL);

	cfg.max_order = BUDDY_MAX_ORDER;
	cfg.min_chunk_order = 0;
	EXPECT_EQ(buddy_heap_init(&h, &cfg, &tmem_ops, &m), 0);
	EXPECT_EQ(buddy_window_bytes(&h), 1ULL << 40);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.heap_bytes, 0);
	EXPECT_EQ(st.nr_chunks, 0);
	EXPECT_EQ(st.largest_free_order, -1);
	EXPECT_EQ(st.nr_orders, BUDDY_MAX_ORDER + 1);
	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		EXPECT_EQ(st.unusable_index[k], 1000);
		EXPECT_EQ(st.extfrag_index[k], 0);
	}
	CHECK_HEAP(&h);
	EXPECT_EQ(m.chunk_calls, 0);
	buddy_heap_destroy(&h);
}

static void test_size_to_order(void)
{
	static const struct {
		u64 size;
		int ret;
		unsigned int order;
	} t[] = {
		{ 0, 0, 0 }, { 1, 0, 0 }, { 16, 0, 0 }, { 17, 0, 1 },
		{ 32, 0, 1 }, { 33, 0, 2 }, { 4096, 0, 8 }, { 4097, 0, 9 },
		{ 1ULL << 40, 0, 36 }, { (1ULL << 40) + 1, -ENOMEM, 0 },
		{ ~0ULL, -ENOMEM, 0 }, { 1ULL << 63, -ENOMEM, 0 },
	};
	unsigned int i, o;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		o = 99;
		EXPECT_EQ(buddy_size_to_order(t[i].size, &o), t[i].ret);
		if (!t[i].ret)
			EXPECT_EQ(o, t[i].order);
		else
			EXPECT_EQ(o, 99);
	}
}

static void test_first_alloc_splits(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;

	theap_init(&h, &m, 10, 6, 0, ~0ULL);
	EXPECT_EQ(xalloc(&h, 1), 0);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_chunks, 1);
	EXPECT_EQ(h.chunks[0].order, 6);
	EXPECT_EQ(h.chunks[0].offset, 0);
	EXPECT_EQ(st.heap_bytes, 1024);
	EXPECT_EQ(m.chunk_bytes, 1024);
	EXPECT_EQ(st.bytes_in_use, 16);
	EXPECT_EQ(st.live_blocks, 1);
	EXPECT_EQ(st.nr_grows, 1);
	EXPECT_FREE_BLOCKS(&h, 1, 1, 1, 1, 1, 1, 0);
	EXPECT_EQ(st.largest_free_order, 5);
	/* lowest address first, smallest order first */
	EXPECT_EQ(xalloc(&h, 16), 16);
	EXPECT_EQ(xalloc(&h, 20), 32);
	EXPECT_EQ(xalloc(&h, 64), 64);
	EXPECT_EQ(xalloc(&h, 1), 128);
	EXPECT_EQ(xalloc(&h, 1), 144);
	EXPECT_EQ(xalloc(&h, 17), 160);
	EXPECT_FREE_BLOCKS(&h, 0, 0, 1, 0, 1, 1, 0);
	EXPECT_EQ(buddy_heap_free(&h, 32), 0);
	/* 32 is now the only order-1 block: smallest order wins over 192 */
	EXPECT_EQ(xalloc(&h, 32), 32);
	EXPECT_EQ(xalloc(&h, 32), 192);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunk_bytes, 0);
	EXPECT_EQ(m.meta_bytes, 0);
}

static void test_free_coalesces_fully(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 off[64], seed = 42;
	unsigned int i;
	int rounds;

	theap_init(&h, &m, 6, 6, 0, ~0ULL);
	for (rounds = 0; rounds < 20; rounds++) {
		for (i = 0; i < 64; i++)
			REQUIRE_EQ(xalloc(&h, 1 + i % 16), i * 16);
		EXPECT_EQ(buddy_heap_alloc(&h, 1, 0, &off[0]), -ENOMEM);
		EXPECT_FREE_BLOCKS(&h, 0, 0, 0, 0, 0, 0, 0);
		for (i = 0; i < 64; i++)
			off[i] = i * 16;
		for (i = 63; i > 0; i--) {
			unsigned int j = rng_below(&seed, i + 1);
			u64 t = off[i];

			off[i] = off[j];
			off[j] = t;
		}
		for (i = 0; i < 64; i++) {
			REQUIRE_EQ(buddy_heap_free(&h, off[i]), 0);
			CHECK_HEAP(&h);
		}
		EXPECT_FREE_BLOCKS(&h, 0, 0, 0, 0, 0, 0, 1);
	}
	buddy_heap_destroy(&h);
}

static void test_free_errors(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	struct buddy_stats st;
	u64 a, b, u = 7, n = 0;

	theap_init(&h, &m, 10, 6, 0, ~0ULL);
	a = xalloc(&h, 64);	/* order 2 at 0 */
	b = xalloc(&h, 16);	/* order 0 at 64 */
	EXPECT_EQ(a, 0);
	EXPECT_EQ(b, 64);
	tsnap_take(&h, &before);

	struct {
		u64 off;
		int err;
	} t[] = {
		{ 1024, -BUDDY_ERR_OUTSIDE },		/* past the chunk */
		{ 4096, -BUDDY_ERR_OUTSIDE },
		{ 16384, -BUDDY_ERR_OUTSIDE },		/* the window end */
		{ ~0ULL, -BUDDY_ERR_OUTSIDE },
		{ a + 16, -BUDDY_ERR_NOT_START },
		{ a + 48, -BUDDY_ERR_NOT_START },
		{ a + 1, -BUDDY_ERR_NOT_START },
		{ b + 8, -BUDDY_ERR_NOT_START },
		{ 80, -BUDDY_ERR_FREE },		/* free order 0 */
		{ 84, -BUDDY_ERR_FREE },
		{ 512, -BUDDY_ERR_FREE },		/* free order 5 */
		{ 1000, -BUDDY_ERR_FREE },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(t); i++) {
		EXPECT_EQ(buddy_heap_free(&h, t[i].off), t[i].err);
		EXPECT_EQ(buddy_heap_usable_size(&h, t[i].off, &u), t[i].err);
		EXPECT_EQ(buddy_heap_realloc(&h, t[i].off, 100, 0, &n), t[i].err);
		EXPECT_EQ(buddy_heap_realloc(&h, t[i].off, 100, BUDDY_ALLOC_ZERO, &n),
			  t[i].err);
		EXPECT_UNCHANGED(&h, &before);
	}
	EXPECT_EQ(u, 7);
	EXPECT_EQ(n, 0);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_failed, 3 * ARRAY_SIZE(t));
	/* unknown flags */
	EXPECT_EQ(buddy_heap_realloc(&h, a, 100, 0x2, &n), -EINVAL);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 100, ~0u, &n), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0x80000000u, &n), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 16, 0x4, &n), -EINVAL);
	/* too big */
	EXPECT_EQ(buddy_heap_alloc(&h, 16385, 0, &n), -ENOMEM);
	EXPECT_EQ(buddy_heap_alloc(&h, ~0ULL, 0, &n), -ENOMEM);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 16385, 0, &n), -ENOMEM);
	EXPECT_EQ(buddy_heap_realloc(&h, a, ~0ULL, 0, &n), -ENOMEM);
	EXPECT_EQ(n, 0);
	EXPECT_UNCHANGED(&h, &before);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_failed, 3 * ARRAY_SIZE(t) + 8);

	/* double free */
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	tsnap_free(&before);
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_free(&h, b), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_usable_size(&h, b, &u), -BUDDY_ERR_FREE);
	EXPECT_UNCHANGED(&h, &before);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, a), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_free(&h, 0), -BUDDY_ERR_FREE);
	CHECK_HEAP(&h);
	tsnap_free(&before);

	/* on an empty heap everything is outside */
	buddy_heap_destroy(&h);
	EXPECT_EQ(buddy_heap_free(&h, 0), -BUDDY_ERR_OUTSIDE);
	EXPECT_EQ(buddy_heap_usable_size(&h, 0, &u), -BUDDY_ERR_OUTSIDE);
	EXPECT_EQ(buddy_heap_realloc(&h, 0, 1, 0, &n), -BUDDY_ERR_OUTSIDE);
	EXPECT(!buddy_chunk_address(&h, 0, NULL));
	CHECK_HEAP(&h);
}

static void test_usable_size(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4096, 4097,
			65536 };
	unsigned int i;

	theap_init(&h, &m, 20, 12, 0, ~0ULL);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 off = xalloc(&h, sizes[i]), want = 16;

		while (want < sizes[i])
			want <<= 1;
		EXPECT_EQ(usable(&h, off), want);
		EXPECT_EQ(off % want, 0);
	}
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void test_alloc_zero(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 a, b, i;
	u8 *p;

	theap_init(&h, &m, 12, 8, 0, ~0ULL);
	a = xalloc(&h, 256);
	memset(addr(&h, a), 0xa5, 256);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_alloc(&h, 200, BUDDY_ALLOC_ZERO, &b), 0);
	EXPECT_EQ(b, a);
	p = addr(&h, b);
	for (i = 0; i < 256; i++)
		if (p[i])
			break;
	EXPECT_EQ(i, 256);
	memset(p, 0x5a, 256);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 100, 128, BUDDY_ALLOC_ZERO, &b), 0);
	EXPECT_EQ(b, 0);
	p = addr(&h, b);
	for (i = 0; i < 128; i++)
		if (p[i])
			break;
	EXPECT_EQ(i, 128);
	EXPECT_EQ(p[128], 0x5a);	/* only the block is zeroed */
	buddy_heap_destroy(&h);
}

static void test_alloc_aligned(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	u64 off, a, i;

	theap_init(&h, &m, 12, 8, 0, ~0ULL);
	EXPECT_EQ(xalloc(&h, 16), 0);
	/* free: o0@16 o1@32 o2@64 o3@128 o4@256 o5@512 o6@1024 o7@2048 */
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 256, 0, &off), 0);
	EXPECT_EQ(off, 256);
	EXPECT_EQ(usable(&h, off), 16);
	/* the order-4 block was trimmed: o0@272 o1@288 o2@320 o3@384 */
	EXPECT_FREE_BLOCKS(&h, 2, 2, 2, 2, 0, 1, 1, 1, 0);
	EXPECT(buddy_heap_usable_size(&h, 272, &a) == -BUDDY_ERR_FREE);
	CHECK_HEAP(&h);

	/* alignment smaller than the size changes nothing */
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 64, 16, 0, &off), 0);
	EXPECT_EQ(off, 64);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 1, 1, 0, &off), 0);
	EXPECT_EQ(off, 16);

	/* bad alignments */
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 0, 0, &off), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 3, 0, &off), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 48, 0, &off), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, ~0ULL, 0, &off), -EINVAL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 1ULL << 17, 0, &off), -ENOMEM);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 1ULL << 17, 16, 0, &off), -ENOMEM);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 1ULL << 63, 0, &off), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);

	/* every alignment up to the window */
	for (i = 16; i <= W(&h); i <<= 1) {
		int ret = buddy_heap_alloc_aligned(&h, 16, i, 0, &off);

		if (i <= 2048) {
			EXPECT_EQ(ret, 0);
			EXPECT_EQ(off % i, 0);
			EXPECT_EQ(usable(&h, off), 16);
		}
		CHECK_HEAP(&h);
	}
	/* trimmed tails are reusable at once */
	buddy_heap_destroy(&h);
	theap_init(&h, &m, 12, 12, 0, ~0ULL);
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 32, 4096, 0, &off), 0);
	EXPECT_EQ(off, 0);
	EXPECT_EQ(usable(&h, off), 32);
	EXPECT_EQ(xalloc(&h, 2048), 2048);
	EXPECT_EQ(xalloc(&h, 1024), 1024);
	EXPECT_EQ(xalloc(&h, 32), 32);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void fill(u8 *p, u64 n, u8 v)
{
	u64 i;

	for (i = 0; i < n; i++)
		p[i] = (u8)(v + i);
}

static u64 check_fill(const u8 *p, u64 n, u8 v)
{
	u64 i;

	for (i = 0; i < n; i++)
		if (p[i] != (u8)(v + i))
			return i;
	return n;
}

static u64 count_zero(const u8 *p, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++)
		if (p[i])
			return i;
	return n;
}

static void test_realloc(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;
	u64 a, b, c, n;

	theap_init(&h, &m, 12, 12, 0, ~0ULL);
	a = xalloc(&h, 256);			/* order 4 at 0 */
	fill(addr(&h, a), 256, 1);
	/* same order: nothing moves */
	EXPECT_EQ(buddy_heap_realloc(&h, a, 129, 0, &n), 0);
	EXPECT_EQ(n, a);
	EXPECT_EQ(usable(&h, a), 256);
	/* shrink in place: tail goes back to the free bitmaps */
	EXPECT_EQ(buddy_heap_realloc(&h, a, 20, 0, &n), 0);
	EXPECT_EQ(n, a);
	EXPECT_EQ(usable(&h, a), 32);
	EXPECT_FREE_BLOCKS(&h, 0, 1, 1, 1, 1, 1, 1, 1, 1);
	EXPECT_EQ(check_fill(addr(&h, a), 32, 1), 32);
	CHECK_HEAP(&h);
	/* grow in place: right buddies are free */
	EXPECT_EQ(buddy_heap_realloc(&h, a, 200, BUDDY_ALLOC_ZERO, &n), 0);
	EXPECT_EQ(n, a);
	EXPECT_EQ(usable(&h, a), 256);
	EXPECT_EQ(check_fill(addr(&h, a), 32, 1), 32);
	EXPECT_EQ(count_zero(addr(&h, a) + 32, 224), 224);
	EXPECT_FREE_BLOCKS(&h, 0, 0, 0, 0, 1, 1, 1, 1, 1);
	EXPECT_EQ(m.copies, 0);
	CHECK_HEAP(&h);

	/* grow blocked by a live right buddy: moves, copies old usable */
	b = xalloc(&h, 256);			/* order 4 at 256 */
	EXPECT_EQ(b, 256);
	fill(addr(&h, a), 256, 7);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 300, 0, &n), 0);
	EXPECT_EQ(n, 512);
	EXPECT_EQ(m.copies, 1);
	EXPECT_EQ(m.copied, 256);
	EXPECT_EQ(check_fill(addr(&h, n), 256, 7), 256);
	EXPECT_EQ(buddy_heap_usable_size(&h, a, &c), -BUDDY_ERR_FREE);
	a = n;
	CHECK_HEAP(&h);

	/* a right child cannot grow in place even with free space after it */
	EXPECT_EQ(buddy_heap_free(&h, a), 0);	/* 512..1023 free again */
	fill(addr(&h, b), 256, 9);
	EXPECT_EQ(buddy_heap_realloc(&h, b, 512, BUDDY_ALLOC_ZERO, &n), 0);
	EXPECT_EQ(n, 512);
	EXPECT_EQ(check_fill(addr(&h, n), 256, 9), 256);
	EXPECT_EQ(count_zero(addr(&h, n) + 256, 256), 256);
	b = n;
	CHECK_HEAP(&h);

	/* size 0 is order 0 */
	EXPECT_EQ(buddy_heap_realloc(&h, b, 0, 0, &n), 0);
	EXPECT_EQ(n, b);
	EXPECT_EQ(usable(&h, b), 16);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_reallocs, 6);
	EXPECT_EQ(st.bytes_in_use, 16);
	EXPECT_EQ(st.live_blocks, 1);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);

	/* without ops->copy: memcpy */
	{
		struct buddy_config cfg = { .max_order = 12,
					    .min_chunk_order = 12 };

		memset(&m, 0, sizeof(m));
		EXPECT_EQ(buddy_heap_init(&h, &cfg, &tmem_ops_nocopy, &m), 0);
		a = xalloc(&h, 16);
		(void)xalloc(&h, 16);	/* a's buddy is taken: no growth in place */
		fill(addr(&h, a), 16, 3);
		EXPECT_EQ(buddy_heap_realloc(&h, a, 17, 0, &n), 0);
		EXPECT_EQ(n, 32);
		EXPECT_EQ(check_fill(addr(&h, n), 16, 3), 16);
		EXPECT_EQ(m.copies, 0);
		CHECK_HEAP(&h);
		buddy_heap_destroy(&h);
	}
}

static void test_realloc_enomem_keeps_block(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	u64 a, b, n = 1;

	theap_init(&h, &m, 6, 6, 0, ~0ULL);	/* one 1 KiB chunk, no more */
	EXPECT_EQ(xalloc(&h, 512), 0);
	a = xalloc(&h, 256);
	b = xalloc(&h, 16);
	EXPECT_EQ(a, 512);
	EXPECT_EQ(b, 768);
	fill(addr(&h, a), 256, 5);
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 512, 0, &n), -ENOMEM);
	EXPECT_EQ(n, 1);
	EXPECT_UNCHANGED(&h, &before);
	EXPECT_EQ(check_fill(addr(&h, a), 256, 5), 256);
	/* growing in place still works when the buddy is free */
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 512, 0, &n), 0);
	EXPECT_EQ(n, a);
	CHECK_HEAP(&h);
	tsnap_free(&before);
	buddy_heap_destroy(&h);
}

static void test_growth_doubling(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;
	static const u64 want_off[] = { 0, 256, 512, 768, 1024 };
	static const u64 chunk_off[] = { 0, 256, 512, 1024, 2048 };
	static const unsigned int chunk_order[] = { 4, 4, 5, 6, 7 };
	unsigned int i;

	theap_init(&h, &m, 10, 4, 0, ~0ULL);
	for (i = 0; i < ARRAY_SIZE(want_off); i++)
		EXPECT_EQ(xalloc(&h, 256), want_off[i]);
	EXPECT_EQ(h.nr_chunks, 4);
	EXPECT_EQ(h.heap_bytes, 2048);
	/* a block larger than the heap gets a chunk of its own size */
	EXPECT_EQ(xalloc(&h, 2048), 2048);
	REQUIRE_EQ(h.nr_chunks, 5);
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(h.chunks[i].offset, chunk_off[i]);
		EXPECT_EQ(h.chunks[i].order, chunk_order[i]);
	}
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_grows, 5);
	EXPECT_EQ(st.heap_bytes, 4096);
	EXPECT_EQ(st.peak_heap_bytes, 4096);
	EXPECT_EQ(st.meta_bytes, m.meta_bytes);
	EXPECT_EQ(m.chunk_bytes, 4096);
	/* next growth doubles: a 4 KiB chunk at 4096 */
	EXPECT_EQ(xalloc(&h, 1024), 4096);
	EXPECT_EQ(h.chunks[5].order, 8);
	CHECK_HEAP(&h);
	/* the window is full at 16 KiB: 8 KiB more, then nothing */
	EXPECT_EQ(xalloc(&h, 8192), 8192);
	EXPECT_EQ(h.heap_bytes, 16384);
	EXPECT_EQ(buddy_heap_alloc(&h, 8192, 0, &st.heap_bytes), -ENOMEM);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunk_bytes, 0);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);
}

static void test_release_and_hole_reuse(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;
	u64 a, b, c, d, e;

	/* low water 0: the last chunk goes too */
	theap_init(&h, &m, 12, 4, 0, 0);
	a = xalloc(&h, 256);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_chunks, 0);
	EXPECT_EQ(st.heap_bytes, 0);
	EXPECT_EQ(st.nr_shrinks, 1);
	EXPECT_EQ(st.meta_bytes, 0);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);
	CHECK_HEAP(&h);
	EXPECT_EQ(xalloc(&h, 16), 0);
	buddy_heap_destroy(&h);

	/* low water 256, cap 1024 */
	theap_init(&h, &m, 12, 4, 1024, 256);
	a = xalloc(&h, 256);
	b = xalloc(&h, 256);
	c = xalloc(&h, 256);
	d = xalloc(&h, 256);
	EXPECT_EQ(a, 0);
	EXPECT_EQ(b, 256);
	EXPECT_EQ(c, 512);
	EXPECT_EQ(d, 768);
	EXPECT_EQ(h.nr_chunks, 3);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);	/* chunk 256 wholly free: goes */
	EXPECT_EQ(h.nr_chunks, 2);
	EXPECT_EQ(h.heap_bytes, 768);
	EXPECT_EQ(m.chunk_bytes, 768);
	CHECK_HEAP(&h);
	/* a 512 B doubling step no longer fits the cap: the hole is reused */
	e = xalloc(&h, 200);
	EXPECT_EQ(e, 256);
	EXPECT_EQ(h.nr_chunks, 3);
	EXPECT_EQ(h.chunks[1].offset, 256);
	EXPECT_EQ(h.chunks[1].order, 4);
	CHECK_HEAP(&h);
	/* chunk 512 (order 5) empties only when both blocks go */
	EXPECT_EQ(buddy_heap_free(&h, c), 0);
	EXPECT_EQ(h.nr_chunks, 3);
	EXPECT_EQ(buddy_heap_free(&h, d), 0);
	EXPECT_EQ(h.nr_chunks, 2);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(h.nr_chunks, 1);
	/* the last 256 bytes stay: the low-water mark */
	EXPECT_EQ(buddy_heap_free(&h, e), 0);
	EXPECT_EQ(h.nr_chunks, 1);
	EXPECT_EQ(h.heap_bytes, 256);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_shrinks, 3);
	EXPECT_EQ(st.free_blocks[4], 1);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void test_cap(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	u64 off;

	theap_init(&h, &m, 12, 4, 768, ~0ULL);
	EXPECT_EQ(xalloc(&h, 256), 0);
	EXPECT_EQ(xalloc(&h, 256), 256);
	/* doubling wants 512 B: over the cap, falls back to 256 B */
	EXPECT_EQ(xalloc(&h, 256), 512);
	EXPECT_EQ(h.chunks[2].order, 4);
	EXPECT_EQ(h.heap_bytes, 768);
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &off), -ENOMEM);
	EXPECT_EQ(buddy_heap_alloc(&h, 512, 0, &off), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);

	/* a cap above the window is the window */
	theap_init(&h, &m, 8, 8, 1ULL << 40, ~0ULL);
	EXPECT_EQ(xalloc(&h, 4096), 0);
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &off), -ENOMEM);
	buddy_heap_destroy(&h);
}

static void test_callback_failures(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	u64 off, i;

	theap_init(&h, &m, 12, 4, 0, ~0ULL);
	tsnap_take(&h, &before);
	m.fail_chunk_in = 1;
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &off), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	m.fail_meta_in = 1;
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &off), -ENOMEM);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	CHECK_HEAP(&h);

	/* heap at 1 KiB: doubling wants order 6; refused, falls back to 4 */
	for (i = 0; i < 4; i++)
		xalloc(&h, 256);
	EXPECT_EQ(h.heap_bytes, 1024);
	m.fail_chunk_in = 1;
	EXPECT_EQ(xalloc(&h, 256), 1024);
	EXPECT_EQ(h.chunks[h.nr_chunks - 1].order, 4);
	EXPECT_EQ(h.heap_bytes, 1280);
	CHECK_HEAP(&h);
	/* both refused */
	m.chunk_limit = 128;
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_alloc(&h, 256, 0, &off), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);
}

static void test_max_chunks(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 off, i;

	theap_init(&h, &m, 12, 0, 0, ~0ULL);
	m.chunk_limit = 16;		/* every growth falls back to 16 B */
	for (i = 0; i < BUDDY_MAX_CHUNKS; i++)
		EXPECT_EQ(xalloc(&h, 16), i * 16);
	EXPECT_EQ(h.nr_chunks, BUDDY_MAX_CHUNKS);
	EXPECT_EQ(buddy_heap_alloc(&h, 16, 0, &off), -ENOMEM);
	CHECK_HEAP(&h);
	/* free from the middle: chunks go (low water 0 would be needed) */
	for (i = 0; i < BUDDY_MAX_CHUNKS; i += 2)
		EXPECT_EQ(buddy_heap_free(&h, i * 16), 0);
	EXPECT_EQ(h.nr_chunks, BUDDY_MAX_CHUNKS);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);

	theap_init(&h, &m, 12, 0, 0, 0);
	m.chunk_limit = 16;
	for (i = 0; i < BUDDY_MAX_CHUNKS; i++)
		EXPECT_EQ(xalloc(&h, 16), i * 16);
	for (i = 0; i < BUDDY_MAX_CHUNKS; i += 2)
		EXPECT_EQ(buddy_heap_free(&h, i * 16), 0);
	EXPECT_EQ(h.nr_chunks, BUDDY_MAX_CHUNKS / 2);
	CHECK_HEAP(&h);
	/* the holes are reused, lowest first */
	EXPECT_EQ(xalloc(&h, 16), 0);
	EXPECT_EQ(xalloc(&h, 16), 32);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

/* Regression (found by the fuzzer): growth failing at order 0. */
static void test_full_window_order0(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct tsnap before;
	u64 off, i;

	theap_init(&h, &m, 2, 0, 0, ~0ULL);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(xalloc(&h, 16), i * 16);
	EXPECT_EQ(h.heap_bytes, 64);
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_alloc(&h, 1, 0, &off), -ENOMEM);
	EXPECT_EQ(buddy_heap_alloc(&h, 64, 0, &off), -ENOMEM);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void test_chunk_address(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 left = 0;
	u8 *p;

	theap_init(&h, &m, 12, 4, 0, ~0ULL);
	EXPECT(!buddy_chunk_address(&h, 0, &left));
	xalloc(&h, 256);
	xalloc(&h, 256);
	xalloc(&h, 512);
	/* chunks: 0 (256), 256 (256), 512 (512) */
	p = buddy_chunk_address(&h, 0, &left);
	EXPECT(p == h.chunks[0].mem);
	EXPECT_EQ(left, 256);
	p = buddy_chunk_address(&h, 300, &left);
	EXPECT(p == (u8 *)h.chunks[1].mem + 44);
	EXPECT_EQ(left, 212);
	p = buddy_chunk_address(&h, 1023, NULL);
	EXPECT(p == (u8 *)h.chunks[2].mem + 511);
	EXPECT(!buddy_chunk_address(&h, 1024, &left));
	EXPECT(!buddy_chunk_address(&h, ~0ULL, &left));
	buddy_heap_destroy(&h);
}

static void test_stats_and_indices(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;
	static const int unusable[] = { 0, 66, 200, 466, 1000 };
	static const int extfrag[] = { -1000, -1000, -1000, -1000, 516 };
	unsigned int k;
	u64 a, n;

	/* one 256 B chunk, one grain in use: free o0@16 o1@32 o2@64 o3@128 */
	theap_init(&h, &m, 4, 4, 0, ~0ULL);
	a = xalloc(&h, 10);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_orders, 5);
	EXPECT_EQ(st.heap_bytes, 256);
	EXPECT_EQ(st.bytes_in_use, 16);
	EXPECT_EQ(st.bytes_free, 240);
	EXPECT_EQ(st.largest_free_order, 3);
	for (k = 0; k < 5; k++) {
		EXPECT_EQ(st.free_blocks[k], k < 4);
		/* free_pages 15, blocks 4; e.g. order 1: (15 - 7*2)*1000/15 */
		EXPECT_EQ(st.unusable_index[k], unusable[k]);
		/* order 4: 1000 - (1000 + 15*1000/16) / 4 = 516 */
		EXPECT_EQ(st.extfrag_index[k], extfrag[k]);
	}
	for (k = 5; k <= BUDDY_MAX_ORDER; k++) {
		EXPECT_EQ(st.free_blocks[k], 0);
		EXPECT_EQ(st.unusable_index[k], 0);
		EXPECT_EQ(st.extfrag_index[k], 0);
	}
	/* counters */
	EXPECT_EQ(buddy_heap_realloc(&h, a, 40, 0, &n), 0);	/* in place to 64 */
	EXPECT_EQ(n, 0);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, a), -BUDDY_ERR_FREE);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_allocs, 1);
	EXPECT_EQ(st.nr_reallocs, 1);
	EXPECT_EQ(st.nr_frees, 1);
	EXPECT_EQ(st.nr_failed, 1);
	EXPECT_EQ(st.bytes_requested_total, 50);
	EXPECT_EQ(st.bytes_granted_total, 80);
	EXPECT_EQ(st.peak_bytes_in_use, 64);
	EXPECT_EQ(st.bytes_in_use, 0);
	EXPECT_EQ(st.live_blocks, 0);
	EXPECT_EQ(st.meta_bytes, m.meta_bytes);
	EXPECT_EQ(st.free_blocks[4], 1);
	EXPECT_EQ(st.unusable_index[4], 0);
	EXPECT_EQ(st.extfrag_index[4], -1000);
	buddy_heap_destroy(&h);

	/* a single free grain in a 2-grain heap: extfrag goes negative */
	theap_init(&h, &m, 1, 1, 0, ~0ULL);
	xalloc(&h, 16);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.unusable_index[0], 0);
	EXPECT_EQ(st.unusable_index[1], 1000);
	EXPECT_EQ(st.extfrag_index[0], -1000);
	EXPECT_EQ(st.extfrag_index[1], 1000 - (1000 + 500) / 1);
	/* full heap: no free memory at all */
	xalloc(&h, 16);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.unusable_index[0], 1000);
	EXPECT_EQ(st.extfrag_index[1], 0);
	EXPECT_EQ(st.largest_free_order, -1);
	buddy_heap_destroy(&h);

	/* many small blocks: 8 free grains, scattered, 4 free 2-grain */
	theap_init(&h, &m, 6, 6, 0, ~0ULL);
	for (k = 0; k < 64; k++)
		xalloc(&h, 16);
	for (k = 0; k < 16; k += 2)
		buddy_heap_free(&h, k * 16);		/* 8 lone grains */
	for (k = 32; k < 40; k++)
		buddy_heap_free(&h, k * 16);		/* 1 order-3 block */
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.free_blocks[0], 8);
	EXPECT_EQ(st.free_blocks[3], 1);
	/* free 16 grains, 9 blocks; order 1: suitable 4 -> (16-8)*1000/16 */
	EXPECT_EQ(st.unusable_index[1], 500);
	EXPECT_EQ(st.unusable_index[3], 500);
	EXPECT_EQ(st.unusable_index[4], 1000);
	EXPECT_EQ(st.extfrag_index[3], -1000);
	/* order 4: 1000 - (1000 + 16000/16) / 9 = 1000 - 222 */
	EXPECT_EQ(st.extfrag_index[4], 778);
	/* order 6: 1000 - (1000 + 16000/64) / 9 = 1000 - 138 */
	EXPECT_EQ(st.extfrag_index[6], 862);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

struct walk_rec {
	u64 off[16];
	unsigned int order[16];
	int state[16];
	int n, stop_at;
};

static int walk_cb(void *arg, u64 offset, unsigned int order,
		   enum buddy_block_state state)
{
	struct walk_rec *r = arg;

	if (r->n < 16) {
		r->off[r->n] = offset;
		r->order[r->n] = order;
		r->state[r->n] = state;
	}
	r->n++;
	return r->n == r->stop_at ? 77 : 0;
}

static void test_walk(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct walk_rec r = { .stop_at = -1 };
	static const u64 off[] = { 0, 16, 32, 64, 128, 256, 512, 768 };
	static const unsigned int ord[] = { 0, 0, 1, 2, 3, 4, 4, 4 };
	static const int st[] = { 1, 0, 0, 0, 0, 0, 1, 0 };
	int i;

	theap_init(&h, &m, 12, 4, 0, ~0ULL);
	EXPECT_EQ(buddy_walk(&h, walk_cb, &r), 0);
	EXPECT_EQ(r.n, 0);
	xalloc(&h, 16);			/* chunk 0 (256 B) */
	xalloc(&h, 256);		/* chunk 256 */
	xalloc(&h, 256);		/* chunk 512 (512 B): 512 allocated */
	buddy_heap_free(&h, 256);		/* kept (low water) */
	EXPECT_EQ(buddy_walk(&h, walk_cb, &r), 0);
	EXPECT_EQ(r.n, 8);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(r.off[i], off[i]);
		EXPECT_EQ(r.order[i], ord[i]);
		EXPECT_EQ(r.state[i], st[i] ? BUDDY_BLOCK_ALLOCATED :
			  BUDDY_BLOCK_FREE);
	}
	r.n = 0;
	r.stop_at = 3;
	EXPECT_EQ(buddy_walk(&h, walk_cb, &r), 77);
	EXPECT_EQ(r.n, 3);
	buddy_heap_destroy(&h);
}

static u64 *meta_free_map(struct buddy_heap *h, unsigned int ci,
			  unsigned int k)
{
	struct buddy_chunk *c = &h->chunks[ci];

	return (u64 *)c->meta + c->order + 1 + h->free_off[c->order - k];
}

static u64 *meta_split_map(struct buddy_heap *h, unsigned int ci,
			   unsigned int k)
{
	struct buddy_chunk *c = &h->chunks[ci];
	unsigned int d = c->order - k;

	return (u64 *)c->meta + c->order + 1 + h->free_off[c->order + 1] +
	       (d <= 7 ? d : (1ULL << (d - 6)) + 5);
}

#define EXPECT_VIOLATION(h, msg_part)					\
	do {								\
		struct buddy_violation _v = { 0 };			\
		EXPECT_EQ(buddy_check((h), &_v), -EUCLEAN);		\
		EXPECT(_v.what && strstr(_v.what, (msg_part)));		\
		if (t_verbose && _v.what)				\
			fprintf(stderr, "    violation: %s\n", _v.what); \
	} while (0)

static void test_check_detects_corruption(void)
{
	struct buddy_heap h;
	struct tmem m;
	u64 *w, save;

	theap_init(&h, &m, 20, 14, 0, ~0ULL);
	xalloc(&h, 16);			/* free o0@16 ... o13@128K */
	xalloc(&h, 64);			/* at 64 */
	CHECK_HEAP(&h);

	/* a free bit on an allocated block: it looks free, counts are off */
	w = meta_free_map(&h, 0, 2);
	w[0] |= 2;			/* order-2 node at 64 */
	EXPECT_VIOLATION(&h, "summary");
	w[0] &= ~2ULL;
	CHECK_HEAP(&h);
	/* a free bit on a covered node */
	w = meta_free_map(&h, 0, 0);
	w[0] |= 1 << 5;			/* grain 5 is inside the block at 64 */
	EXPECT_VIOLATION(&h, "free bit");
	w[0] &= ~(1ULL << 5);
	/* a split bit on a leaf */
	w = meta_split_map(&h, 0, 2);
	save = w[0];
	w[0] |= 1 << 1;			/* order-2 node at 64 is allocated */
	EXPECT_EQ(buddy_check(&h, NULL), -EUCLEAN);
	w[0] = save;
	/* a missing split bit */
	w = meta_split_map(&h, 0, 14);
	w[0] = 0;
	EXPECT_EQ(buddy_check(&h, NULL), -EUCLEAN);
	w[0] = 1;
	CHECK_HEAP(&h);
	/* both buddies free: clear the allocated one's state by hand */
	w = meta_free_map(&h, 0, 0);
	w[0] |= 1;			/* grain 0 marked free next to 16 */
	EXPECT_VIOLATION(&h, "not merged");
	w[0] &= ~1ULL;
	/* summary bit wrong: order 0 has 16K bits, summary word after 256 */
	w = meta_free_map(&h, 0, 0);
	w[256] ^= 2;
	EXPECT_VIOLATION(&h, "summary");
	w[256] ^= 2;
	CHECK_HEAP(&h);
	/* chunk counts */
	w = h.chunks[0].meta;
	w[3]++;
	EXPECT_VIOLATION(&h, "count");
	w[3]--;
	/* heap counts, masks, counters */
	h.free_blocks[5]++;
	EXPECT_VIOLATION(&h, "heap free count");
	h.free_blocks[5]--;
	h.order_mask ^= 1ULL << 20;
	EXPECT_VIOLATION(&h, "order mask");
	h.order_mask ^= 1ULL << 20;
	h.chunk_mask[7] = 0;
	EXPECT_VIOLATION(&h, "mask");
	h.chunk_mask[7] = 1;
	h.counters.bytes_in_use += 16;
	EXPECT_VIOLATION(&h, "bytes_in_use");
	h.counters.bytes_in_use -= 16;
	h.counters.live_blocks++;
	EXPECT_VIOLATION(&h, "live_blocks");
	h.counters.live_blocks--;
	h.heap_bytes++;
	EXPECT_VIOLATION(&h, "heap_bytes");
	h.heap_bytes--;
	h.chunks[0].offset = 16;
	EXPECT_VIOLATION(&h, "aligned");
	h.chunks[0].offset = 0;
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void test_clone(void)
{
	struct buddy_heap h, c;
	struct tmem m, mc;
	struct tsnap a, b;
	u64 off[40], n, i;

	theap_init(&h, &m, 16, 6, 0, ~0ULL);
	memset(&mc, 0, sizeof(mc));
	/* empty */
	EXPECT_EQ(buddy_heap_clone(&c, &h, &mc), 0);
	CHECK_HEAP(&c);
	EXPECT_EQ(mc.chunks, 0);
	buddy_heap_destroy(&c);

	for (i = 0; i < 40; i++) {
		off[i] = xalloc(&h, 16 + i * 37);
		fill(addr(&h, off[i]), usable(&h, off[i]), (u8)i);
	}
	for (i = 0; i < 40; i += 3)
		buddy_heap_free(&h, off[i]);
	EXPECT(h.nr_chunks > 2);
	EXPECT_EQ(buddy_heap_clone(&c, &h, &mc), 0);
	CHECK_HEAP(&c);
	tsnap_take(&h, &a);
	tsnap_take(&c, &b);
	EXPECT(!tsnap_cmp(&a, &b));
	tsnap_free(&a);
	tsnap_free(&b);
	EXPECT_EQ(mc.chunk_bytes, m.chunk_bytes);
	EXPECT_EQ(mc.meta_bytes, m.meta_bytes);
	EXPECT_EQ(mc.copies, h.nr_chunks);
	for (i = 0; i < h.nr_chunks; i++) {
		EXPECT(c.chunks[i].mem != h.chunks[i].mem);
		EXPECT(c.chunks[i].meta != h.chunks[i].meta);
	}
	for (i = 0; i < 40; i++) {
		if (i % 3 == 0)
			continue;
		EXPECT(addr(&c, off[i]) != addr(&h, off[i]));
		EXPECT_EQ(check_fill(addr(&c, off[i]), usable(&c, off[i]),
				     (u8)i), usable(&h, off[i]));
	}
	/* independent afterwards */
	EXPECT_EQ(buddy_heap_free(&c, off[1]), 0);
	EXPECT_EQ(buddy_heap_usable_size(&c, off[1], &n), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_usable_size(&h, off[1], &n), 0);
	fill(addr(&c, off[2]), 16, 200);
	EXPECT_EQ(check_fill(addr(&h, off[2]), 16, 2), 16);
	CHECK_HEAP(&h);
	CHECK_HEAP(&c);
	buddy_heap_destroy(&c);
	EXPECT_EQ(mc.chunks, 0);
	EXPECT_EQ(mc.metas, 0);

	/* failures: nothing left behind, dst empty and usable */
	for (i = 1; i <= 2 * h.nr_chunks; i++) {
		memset(&mc, 0, sizeof(mc));
		if (i & 1)
			mc.fail_chunk_in = (long)(i + 1) / 2;
		else
			mc.fail_meta_in = (long)i / 2;
		EXPECT_EQ(buddy_heap_clone(&c, &h, &mc), -ENOMEM);
		EXPECT_EQ(mc.chunks, 0);
		EXPECT_EQ(mc.metas, 0);
		EXPECT_EQ(c.nr_chunks, 0);
		EXPECT_EQ(c.heap_bytes, 0);
		CHECK_HEAP(&c);
		mc.fail_chunk_in = mc.fail_meta_in = 0;
		EXPECT_EQ(buddy_heap_alloc(&c, 16, 0, &n), 0);
		buddy_heap_destroy(&c);
	}
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

static void test_destroy_and_reuse(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;

	theap_init(&h, &m, 14, 6, 0, ~0ULL);
	xalloc(&h, 5000);
	xalloc(&h, 16);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.heap_bytes, 0);
	EXPECT_EQ(st.bytes_in_use, 0);
	EXPECT_EQ(st.live_blocks, 0);
	CHECK_HEAP(&h);
	EXPECT_EQ(xalloc(&h, 16), 0);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunks, 0);
}

static void test_meta_budget(void)
{
	struct buddy_heap h;
	struct tmem m;
	struct buddy_stats st;
	unsigned int k;

	for (k = 12; k <= 24; k++) {
		theap_init(&h, &m, k, k, 0, ~0ULL);
		xalloc(&h, 16);
		buddy_get_stats(&h, &st);
		/* <= 3% of chunk bytes, and about 2.4% for big chunks */
		EXPECT(st.meta_bytes * 1000 <= st.heap_bytes * 30);
		if (k >= 18)
			EXPECT(st.meta_bytes * 1000 <= st.heap_bytes * 24);
		if (t_verbose)
			fprintf(stderr, "    order %u: %llu meta bytes, %.3f%%\n",
				k, (unsigned long long)st.meta_bytes,
				100.0 * st.meta_bytes / st.heap_bytes);
		CHECK_HEAP(&h);
		buddy_heap_destroy(&h);
	}
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

static void theap_init_defer(struct buddy_heap *h, struct tmem *m,
			     unsigned int max_order, unsigned int min_chunk,
			     u64 low_water, unsigned int depth)
{
	struct buddy_config cfg = {
		.max_order = max_order,
		.min_chunk_order = min_chunk,
		.low_water_bytes = low_water,
	};

	memset(m, 0, sizeof(*m));
	if (buddy_heap_init(h, &cfg, &tmem_ops, m) ||
	    buddy_heap_set_defer_depth(h, depth))
		abort();
}

static void test_defer(void)
{
	struct buddy_heap h, c;
	struct tmem m, mc;
	struct buddy_stats st;
	struct tsnap before;
	struct walk_rec r = { .stop_at = -1 };
	u64 a, b, d, n = 0, u = 0;

	theap_init(&h, &m, 10, 10, 0, ~0ULL);
	EXPECT_EQ(buddy_heap_set_defer_depth(&h, BUDDY_DEFER_DEPTH + 1), -EINVAL);
	EXPECT_EQ(buddy_heap_set_defer_depth(&h, BUDDY_DEFER_DEPTH), 0);
	a = xalloc(&h, 16);
	b = xalloc(&h, 16);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(h.defer_n[0], 2);
	/* lowering the depth merges what is held back */
	EXPECT_EQ(buddy_heap_set_defer_depth(&h, 1), 0);
	EXPECT_EQ(h.defer_n[0], 0);
	EXPECT_EQ(h.free_blocks[10], 1);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);

	theap_init_defer(&h, &m, 10, 10, ~0ULL, 2);
	a = xalloc(&h, 16);
	b = xalloc(&h, 16);
	EXPECT_EQ(a, 0);
	EXPECT_EQ(b, 16);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);		/* deferred */
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.free_blocks[0], 1);
	EXPECT_EQ(st.free_blocks[1], 1);
	EXPECT_EQ(st.bytes_in_use, 16);
	EXPECT_EQ(st.bytes_free, 16384 - 16);
	EXPECT_EQ(st.live_blocks, 1);
	EXPECT_EQ(st.nr_frees, 1);
	EXPECT_EQ(h.defer_n[0], 1);
	CHECK_HEAP(&h);
	EXPECT_EQ(buddy_walk(&h, walk_cb, &r), 0);
	EXPECT_EQ(r.off[0], 0);
	EXPECT_EQ(r.state[0], BUDDY_BLOCK_FREE);
	EXPECT_EQ(r.off[1], 16);
	EXPECT_EQ(r.state[1], BUDDY_BLOCK_ALLOCATED);
	/* a deferred block is free for every check */
	tsnap_take(&h, &before);
	EXPECT_EQ(buddy_heap_free(&h, a), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_free(&h, a + 8), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_usable_size(&h, a, &u), -BUDDY_ERR_FREE);
	EXPECT_EQ(buddy_heap_realloc(&h, a, 32, 0, &n), -BUDDY_ERR_FREE);
	EXPECT_UNCHANGED(&h, &before);
	tsnap_free(&before);
	/* LIFO reuse, no bitmap work */
	EXPECT_EQ(xalloc(&h, 10), a);
	EXPECT_EQ(h.defer_n[0], 0);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(xalloc(&h, 16), b);
	EXPECT_EQ(xalloc(&h, 16), a);
	/* full: the third free of an order merges for real */
	d = xalloc(&h, 16);
	EXPECT_EQ(d, 32);
	EXPECT_EQ(buddy_heap_free(&h, d), 0);
	EXPECT_EQ(buddy_heap_free(&h, b), 0);
	EXPECT_EQ(buddy_heap_free(&h, a), 0);	/* for real; buddy 16 is deferred */
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.free_blocks[0], 4);	/* 0 and 48, deferred 32 and 16 */
	EXPECT_EQ(h.defer_n[0], 2);
	CHECK_HEAP(&h);
	/* aligned allocation does not take deferred blocks */
	EXPECT_EQ(buddy_heap_alloc_aligned(&h, 16, 64, 0, &n), 0);
	EXPECT_EQ(n, 64);
	EXPECT_EQ(h.defer_n[0], 2);
	EXPECT_EQ(buddy_heap_free(&h, n), 0);	/* deferred too */
	/* a clone has the same deferred blocks */
	memset(&mc, 0, sizeof(mc));
	EXPECT_EQ(buddy_heap_clone(&c, &h, &mc), 0);
	CHECK_HEAP(&c);
	EXPECT_EQ(xalloc(&c, 16), 16);
	EXPECT_EQ(xalloc(&h, 16), 16);
	buddy_heap_destroy(&c);
	EXPECT_EQ(buddy_heap_free(&h, 16), 0);
	/* the whole chunk is needed: deferred blocks merge, nothing grows */
	EXPECT_EQ(xalloc(&h, 16384), 0);
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_grows, 1);
	EXPECT_EQ(h.defer_n[0], 0);
	EXPECT_EQ(h.defer_mask, 0);
	CHECK_HEAP(&h);
	EXPECT_EQ(buddy_heap_free(&h, 0), 0);	/* order 10: never deferred */
	EXPECT_EQ(h.defer_mask, 0);
	CHECK_HEAP(&h);

	/* the checker sees bad deferred entries */
	a = xalloc(&h, 16);
	(void)xalloc(&h, 16);	/* keeps a from merging when freed */
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	CHECK_HEAP(&h);
	h.defer[0][0] = 48;			/* inside a free block */
	EXPECT_VIOLATION(&h, "deferred block");
	h.defer[0][0] = 1 << 20;
	EXPECT_VIOLATION(&h, "outside");
	h.defer[0][0] = a;
	h.defer[0][1] = a;
	h.defer_n[0] = 2;
	EXPECT_VIOLATION(&h, "twice");
	h.defer_n[0] = 3;
	EXPECT_VIOLATION(&h, "defer count");
	h.defer_n[0] = 1;
	h.defer_mask = 0;
	EXPECT_VIOLATION(&h, "defer count or mask");
	h.defer_mask = 1;
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
	EXPECT_EQ(m.chunks, 0);
	EXPECT_EQ(m.metas, 0);

	/* a chunk holding deferred blocks goes back once they are merged */
	theap_init_defer(&h, &m, 12, 4, 0, 4);
	a = xalloc(&h, 16);			/* chunk 0, 256 B */
	EXPECT_EQ(buddy_heap_free(&h, a), 0);
	EXPECT_EQ(h.nr_chunks, 1);		/* deferred: not yet */
	EXPECT_EQ(xalloc(&h, 512), 0);		/* flush: released, regrown */
	buddy_get_stats(&h, &st);
	EXPECT_EQ(st.nr_shrinks, 1);
	EXPECT_EQ(st.nr_grows, 2);
	EXPECT_EQ(h.nr_chunks, 1);
	EXPECT_EQ(h.chunks[0].order, 5);
	CHECK_HEAP(&h);
	buddy_heap_destroy(&h);
}

const struct test_case unit_tests[] = {
	{ "init_errors", test_init_errors },
	{ "size_to_order", test_size_to_order },
	{ "first_alloc_splits", test_first_alloc_splits },
	{ "free_coalesces_fully", test_free_coalesces_fully },
	{ "free_errors", test_free_errors },
	{ "usable_size", test_usable_size },
	{ "alloc_zero", test_alloc_zero },
	{ "alloc_aligned", test_alloc_aligned },
	{ "realloc", test_realloc },
	{ "realloc_enomem_keeps_block", test_realloc_enomem_keeps_block },
	{ "growth_doubling", test_growth_doubling },
	{ "release_and_hole_reuse", test_release_and_hole_reuse },
	{ "cap", test_cap },
	{ "callback_failures", test_callback_failures },
	{ "max_chunks", test_max_chunks },
	{ "full_window_order0", test_full_window_order0 },
	{ "chunk_address", test_chunk_address },
	{ "stats_and_indices", test_stats_and_indices },
	{ "walk", test_walk },
	{ "check_detects_corruption", test_check_detects_corruption },
	{ "clone", test_clone },
	{ "destroy_and_reuse", test_destroy_and_reuse },
	{ "meta_budget", test_meta_budget },
	{ "big_blocks", test_big_blocks },
	{ "defer", test_defer },
	{ NULL, NULL },
};
