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

/* One side of the forks below: its heap, memory and live allocations. */
#define OF_LIVE		256
struct of_side {
	struct buddy_heap h;
	struct tmem m;
	u64 off[OF_LIVE], seed[OF_LIVE];
	u64 bytes[OF_LIVE];
	unsigned int live;
};

static void of_fill(struct of_side *s, unsigned int i, bool check)
{
	u64 left, k;
	u8 *p = buddy_chunk_address(&s->h, s->off[i], &left);

	for (k = 0; p && k < s->bytes[i]; k += 61) {
		u8 want = (u8)(s->seed[i] + k);

		if (!check)
			p[k] = want;
		else if (p[k] != want)
			t_report(__FILE__, __LINE__, "block %#llx byte %llu",
				 (unsigned long long)s->off[i],
				 (unsigned long long)k);
	}
}

/* Does a chunk the heap owns hold a free block of order @search or more? */
static bool of_owned_room(const struct buddy_heap *h, unsigned int search)
{
	unsigned int k;

	for (k = search; k <= h->cfg.max_order; k++)
		if (h->chunk_mask[k] & ~h->shared_mask)
			return true;
	return false;
}

/* The chunk of @h at @offset: its index, or -1 if @h has none there. */
static int of_chunk_at(const struct buddy_heap *h, u64 offset)
{
	unsigned int ci;

	for (ci = 0; ci < h->nr_chunks; ci++)
		if (h->chunks[ci].offset == offset)
			return (int)ci;
	return -1;
}

/* Does @h share the metadata of its chunk at @offset (if it has one)? */
static bool of_shares(const struct buddy_heap *h, u64 offset)
{
	int ci = of_chunk_at(h, offset);

	return ci >= 0 && (h->shared_mask & BIT_ULL(ci));
}

/*
 * cfg.own_first under forks: random allocations (trimmed runs among them),
 * frees and reallocations on a heap that is cloned now and then, both
 * sides going on and one of them dropped later.  After every call the heap
 * must pass buddy_check() and the contents of every live block must be
 * intact; an allocation that an owned chunk had room for (a free block of
 * its order or more) must not unshare a chunk.  In a call that gives back
 * no chunk, tmem must count (meta_unshares) one metadata copy for each
 * chunk the heap unshared (shared before the call, owned after it) that
 * the other side still shares, and none for the others, of which the heap
 * was the last user.  The shared mask must end up covering the chunks only.
 */
static void test_own_first_forks(void)
{
	static struct of_side side[2];
	struct buddy_config cfg = {
		.max_order = 22, .min_chunk_order = 12,
		.low_water_bytes = 1 << 16, .max_step_order = 15,
		.trim_order = 9, .own_first = true,
	};
	u64 rng = env_u64("BUDDY_TEST_SEED", 0x0f0f2026);
	unsigned int alive = 1, op, i, picks_owned = 0, unshares = 0;
	unsigned int copies = 0;

	memset(side, 0, sizeof(side));
	REQUIRE_EQ(buddy_heap_init(&side[0].h, &cfg, &tmem_ops, &side[0].m),
		   0);
	for (op = 0; op < 40000 && !t_failures; op++) {
		unsigned int si = alive == 3 ? rng_below(&rng, 2) : alive - 1;
		struct of_side *s = &side[si];
		unsigned int r = (unsigned int)rng_below(&rng, 1000);
		u64 shared = s->h.shared_mask, n;
		/* where the chunks it shares are: the array may shift */
		u64 shared_off[BUDDY_MAX_CHUNKS];
		u64 shrinks = s->h.counters.nr_shrinks;
		long copies0 = s->m.meta_unshares;
		unsigned int nshared = 0, want = 0, k;

		for (k = 0; k < s->h.nr_chunks; k++)
			if (shared & BIT_ULL(k))
				shared_off[nshared++] = s->h.chunks[k].offset;
		if (r < 2 && alive != 3 && s->h.nr_chunks) {
			/* fork: the clone gets a copy of the live list */
			struct of_side *c = &side[!si];

			memset(&c->m, 0, sizeof(c->m));
			REQUIRE_EQ(buddy_heap_clone(&c->h, &s->h, &c->m), 0);
			memcpy(c->off, s->off, sizeof(c->off));
			memcpy(c->seed, s->seed, sizeof(c->seed));
			memcpy(c->bytes, s->bytes, sizeof(c->bytes));
			c->live = s->live;
			EXPECT_EQ(c->h.shared_mask,
				  (BIT_ULL(c->h.nr_chunks) - 1));
			alive = 3;
			CHECK_HEAP(&c->h);
		} else if (r < 4 && alive == 3) {
			/* one side exits */
			buddy_heap_destroy(&s->h);
			EXPECT_EQ(s->m.chunks, 0);
			alive = 1 + !si;
			CHECK_HEAP(&side[!si].h);
			continue;
		} else if (r < 550 && s->live < OF_LIVE) {
			/* sizes from 16 B to 64 KiB, log-uniform */
			u64 size = 16 + rng_below(&rng, 16ULL <<
						  rng_below(&rng, 13));
			unsigned int order;
			bool room;

			REQUIRE_EQ(buddy_size_to_order(size, &order), 0);
			room = of_owned_room(&s->h, order);
			i = s->live;
			if (buddy_heap_alloc(&s->h, size, 0, &s->off[i]))
				continue;
			if (room && s->h.shared_mask != shared)
				t_report(__FILE__, __LINE__,
					 "op %u: unshared with owned room", op);
			picks_owned += room && shared;
			REQUIRE_EQ(buddy_heap_usable_size(&s->h, s->off[i],
							  &s->bytes[i]), 0);
			s->seed[i] = rng_next(&rng);
			s->live++;
			of_fill(s, i, false);
		} else if (s->live) {
			i = (unsigned int)rng_below(&rng, s->live);
			of_fill(s, i, true);
			if (r < 850) {
				REQUIRE_EQ(buddy_heap_free(&s->h, s->off[i]),
					   0);
				s->live--;
				s->off[i] = s->off[s->live];
				s->seed[i] = s->seed[s->live];
				s->bytes[i] = s->bytes[s->live];
			} else {
				u64 size = 16 + rng_below(&rng, 1 << 16);

				if (buddy_heap_realloc(&s->h, s->off[i], size,
						       0, &n))
					continue;
				s->off[i] = n;
				if (size < s->bytes[i])
					s->bytes[i] = size;
				of_fill(s, i, true);
				REQUIRE_EQ(buddy_heap_usable_size(&s->h, n,
								  &s->bytes[i]),
					   0);
				of_fill(s, i, false);
			}
		}
		/* a chunk given back may have been unshared first: no count */
		for (k = 0; s->h.counters.nr_shrinks == shrinks && k < nshared;
		     k++) {
			int ci = of_chunk_at(&s->h, shared_off[k]);

			if (ci < 0 || (s->h.shared_mask & BIT_ULL(ci)))
				continue;
			unshares++;
			want += alive == 3 &&
				of_shares(&side[!si].h, shared_off[k]);
		}
		if (s->h.counters.nr_shrinks == shrinks &&
		    s->m.meta_unshares - copies0 != (long)want)
			t_report(__FILE__, __LINE__,
				 "op %u: %u unshares of chunks the other side shares, %ld metadata copies",
				 op, want, s->m.meta_unshares - copies0);
		copies += want;
		if (!(op & 63))
			CHECK_HEAP(&s->h);
	}
	EXPECT(picks_owned > 100);
	EXPECT(unshares > 10);
	EXPECT(copies > 10);
	for (i = 0; i < 2; i++) {
		if (!(alive & (1u << i)))
			continue;
		CHECK_HEAP(&side[i].h);
		buddy_heap_destroy(&side[i].h);
		EXPECT_EQ(side[i].m.chunks, 0);
	}
}

const struct test_case unit_tests[] = {
	{ "big_blocks", test_big_blocks },
	{ "clone_shares_metadata", test_clone_shares_metadata },
	{ "clone_copies_metadata", test_clone_copies_metadata },
	{ "own_first_forks", test_own_first_forks },
	{ NULL, NULL },
};
