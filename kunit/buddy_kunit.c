// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for buddy-kmod: the buddy core (buddy_core.c) and the
 * kernel side of a /dev/buddy heap (buddy_heap.c, buddy_debugfs.c).
 *
 * One compilation unit: the sources under test are #included so the
 * suites reach their static functions, and no object is linked into two
 * modules.  Every heap the core suites build gets its chunks from
 * vmalloc() and its metadata from kvzalloc(), like the module's, so KASAN
 * watches every byte the core touches; each case runs buddy_check() on
 * what it leaves behind.  Run them with `make kunit` (kunit/run), which
 * boots the debug kernel in QEMU, loads this module and parses the KTAP
 * output with the kernel's own tools/testing/kunit/kunit.py.
 *
 * The randomized cases log their seed from .suite_init; load the module
 * with seed=N to replay a run.
 */

#include <kunit/test.h>
#include <linux/debugfs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page_counter.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "../buddy_core.c"
#include "../buddy_heap.c"
#include "../buddy_debugfs.c"

static unsigned int seed;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "seed of the randomized cases (0: pick one)");

/* ------------------------------------------------------------------ */
/* Test heaps: a core heap whose embedder callbacks count everything. */

/* Default geometry: a 1 MiB window grown from 4 KiB chunks. */
#define T_MAX_ORDER	16
#define T_CHUNK_ORDER	8

static inline u64 osz(unsigned int order)
{
	return BUDDY_GRAIN << order;
}

/**
 * struct tfix - a core heap under test and what its callbacks saw
 * @heap: the heap.
 * @live: @heap is initialised and must be destroyed.
 * @chunks_live: chunks handed out by chunk_alloc and not yet freed.
 * @chunk_bytes_live: their bytes.
 * @metas_live: metadata allocations not yet freed.
 * @meta_bytes_live: their bytes.
 * @chunk_allocs: successful chunk_alloc calls.
 * @chunk_frees: chunk_free calls.
 * @copies: copy calls.
 * @chunk_budget: chunk_alloc calls that may still succeed (-1: any).
 * @chunk_max_bytes: chunk_alloc refuses chunks larger than this (0: none).
 * @meta_budget: meta_alloc calls that may still succeed (-1: any).
 * @bad_free: a callback was asked to free something it never handed out.
 */
struct tfix {
	struct buddy_heap heap;
	bool live;
	long chunks_live;
	u64 chunk_bytes_live;
	long metas_live;
	u64 meta_bytes_live;
	unsigned long chunk_allocs;
	unsigned long chunk_frees;
	unsigned long copies;
	long chunk_budget;
	u64 chunk_max_bytes;
	long meta_budget;
	bool bad_free;
};

static void *tfix_chunk_alloc(void *ctx, u64 bytes)
{
	struct tfix *f = ctx;
	void *mem;

	if (!f->chunk_budget || (f->chunk_max_bytes && bytes > f->chunk_max_bytes))
		return NULL;
	mem = __vmalloc(bytes, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	if (!mem)
		return NULL;
	if (f->chunk_budget > 0)
		f->chunk_budget--;
	f->chunks_live++;
	f->chunk_bytes_live += bytes;
	f->chunk_allocs++;
	return mem;
}

static void tfix_chunk_free(void *ctx, void *mem, u64 bytes)
{
	struct tfix *f = ctx;

	if (!mem || !is_vmalloc_addr(mem) || !f->chunks_live ||
	    f->chunk_bytes_live < bytes)
		f->bad_free = true;
	f->chunks_live--;
	f->chunk_bytes_live -= bytes;
	f->chunk_frees++;
	vfree(mem);
}

static void *tfix_meta_alloc(void *ctx, size_t bytes)
{
	struct tfix *f = ctx;
	void *mem;

	if (!f->meta_budget)
		return NULL;
	mem = kvzalloc(bytes, GFP_KERNEL | __GFP_NOWARN);
	if (!mem)
		return NULL;
	if (f->meta_budget > 0)
		f->meta_budget--;
	f->metas_live++;
	f->meta_bytes_live += bytes;
	return mem;
}

static void tfix_meta_free(void *ctx, void *mem, size_t bytes)
{
	struct tfix *f = ctx;

	if (!mem || !f->metas_live || f->meta_bytes_live < bytes)
		f->bad_free = true;
	f->metas_live--;
	f->meta_bytes_live -= bytes;
	kvfree(mem);
}

static void tfix_copy(void *ctx, void *dst, const void *src, u64 bytes)
{
	struct tfix *f = ctx;

	f->copies++;
	memcpy(dst, src, bytes);
}

static const struct buddy_ops tfix_ops = {
	.chunk_alloc = tfix_chunk_alloc,
	.chunk_free = tfix_chunk_free,
	.meta_alloc = tfix_meta_alloc,
	.meta_free = tfix_meta_free,
	.copy = tfix_copy,
};

static int tfix_res_init(struct kunit_resource *res, void *context)
{
	res->data = context;
	return 0;
}

/* Runs when the case ends, however it ends: nothing may leak into kmemleak. */
static void tfix_res_free(struct kunit_resource *res)
{
	struct tfix *f = res->data;

	if (f->live)
		buddy_heap_destroy(&f->heap);
	kfree(f);
}

/* A test heap fixture, not yet initialised; freed when the case ends. */
static struct tfix *tfix_new(struct kunit *test)
{
	struct tfix *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f);
	f->chunk_budget = -1;
	f->meta_budget = -1;
	if (!kunit_alloc_resource(test, tfix_res_init, tfix_res_free,
				  GFP_KERNEL, f)) {
		kfree(f);
		KUNIT_ASSERT_TRUE_MSG(test, false, "kunit_alloc_resource failed");
	}
	return f;
}

static int tfix_init(struct tfix *f, unsigned int max_order,
		     unsigned int chunk_order, u64 cap, u64 low_water)
{
	struct buddy_config cfg = {
		.max_order = max_order,
		.min_chunk_order = chunk_order,
		.cap_bytes = cap,
		.low_water_bytes = low_water,
	};
	int ret;

	ret = buddy_heap_init(&f->heap, &cfg, &tfix_ops, f);
	f->live = !ret;
	return ret;
}

/* A heap with the given limits; the case fails if it cannot be made. */
static struct tfix *theap(struct kunit *test, unsigned int max_order,
			  unsigned int chunk_order, u64 cap, u64 low_water)
{
	struct tfix *f = tfix_new(test);

	KUNIT_ASSERT_EQ(test, tfix_init(f, max_order, chunk_order, cap,
					low_water), 0);
	return f;
}

/* The default heap: 1 MiB window, 4 KiB chunks, no cap, keep 4 KiB. */
static struct tfix *theap_default(struct kunit *test)
{
	return theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, osz(T_CHUNK_ORDER));
}

/* A heap that is exactly one chunk of @order: it can never grow. */
static struct tfix *theap_one_chunk(struct kunit *test, unsigned int order)
{
	return theap(test, T_MAX_ORDER, order, osz(order), osz(order));
}

static void tfix_destroy(struct tfix *f)
{
	if (f->live)
		buddy_heap_destroy(&f->heap);
	f->live = false;
}

#define HEAP_CHECK(test, h)						\
	do {								\
		struct buddy_violation __v = { };			\
		int __r = buddy_check(h, &__v);				\
									\
		KUNIT_ASSERT_EQ_MSG(test, __r, 0,			\
				    "buddy_check: %s (offset %llu order %u)", \
				    __v.what ? __v.what : "?",		\
				    __v.offset, __v.order);		\
	} while (0)

/* Allocate or fail the case; returns the offset. */
static u64 talloc(struct kunit *test, struct tfix *f, u64 size)
{
	u64 off = U64_MAX;

	KUNIT_ASSERT_EQ_MSG(test, buddy_heap_alloc(&f->heap, size, 0, &off), 0,
			    "buddy_heap_alloc(%llu)", size);
	return off;
}

static void tfree(struct kunit *test, struct tfix *f, u64 off)
{
	KUNIT_ASSERT_EQ_MSG(test, buddy_heap_free(&f->heap, off), 0,
			    "buddy_heap_free(%llu)", off);
}

static u64 tusable(struct kunit *test, struct tfix *f, u64 off)
{
	u64 size = 0;

	KUNIT_ASSERT_EQ(test, buddy_heap_usable_size(&f->heap, off, &size), 0);
	return size;
}

static struct buddy_stats *tstats(struct kunit *test, struct tfix *f)
{
	struct buddy_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	buddy_get_stats(&f->heap, st);
	return st;
}

/* Kernel address of @len bytes at window offset @off, all in one chunk. */
static u8 *tptr(struct kunit *test, struct tfix *f, u64 off, u64 len)
{
	u64 left = 0;
	u8 *p = buddy_chunk_address(&f->heap, off, &left);

	KUNIT_ASSERT_NOT_NULL_MSG(test, p, "no chunk at offset %llu", off);
	KUNIT_ASSERT_GE(test, left, len);
	return p;
}

static void tfill(struct kunit *test, struct tfix *f, u64 off, u64 len, u8 pat)
{
	memset(tptr(test, f, off, len), pat, len);
}

static bool tholds(struct kunit *test, struct tfix *f, u64 off, u64 len,
		   u8 pat)
{
	return !memchr_inv(tptr(test, f, off, len), pat, len);
}

/* Size of the order-@k block holding @size bytes, per the header's rules. */
static unsigned int ref_order(u64 size)
{
	unsigned int k = 0;

	while (osz(k) < size)
		k++;
	return k;
}

/* ------------------------------------------------------------------ */
/* Walks: an independent view of the heap, to compare the core with.   */

struct twalk {
	u64 free_blocks[BUDDY_MAX_ORDER + 1];
	u64 nr_allocated;
	u64 bytes_allocated;
	u64 bytes_free;
	u64 nr_blocks;
	u64 next;		/* lowest offset the next block may start at */
	u64 hash;
	bool misordered;
	bool misaligned;
	const struct buddy_heap *heap;
	bool outside;
};

static int twalk_fn(void *arg, u64 off, unsigned int order,
		    enum buddy_block_state state)
{
	struct twalk *w = arg;
	u64 left = 0;

	if (off < w->next)
		w->misordered = true;
	if (off & (osz(order) - 1))
		w->misaligned = true;
	if (!buddy_chunk_address(w->heap, off, &left) || left < osz(order))
		w->outside = true;
	w->next = off + osz(order);
	w->nr_blocks++;
	if (state == BUDDY_BLOCK_FREE) {
		if (order <= BUDDY_MAX_ORDER)
			w->free_blocks[order]++;
		w->bytes_free += osz(order);
	} else {
		w->nr_allocated++;
		w->bytes_allocated += osz(order);
	}
	w->hash = (w->hash ^ off) * 0x100000001b3ULL;
	w->hash = (w->hash ^ (order << 1 | state)) * 0x100000001b3ULL;
	return 0;
}

static struct twalk *twalk(struct kunit *test, struct tfix *f)
{
	struct twalk *w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, w);
	w->heap = &f->heap;
	w->hash = 0xcbf29ce484222325ULL;
	KUNIT_ASSERT_EQ(test, buddy_walk(&f->heap, twalk_fn, w), 0);
	KUNIT_EXPECT_FALSE(test, w->misordered);
	KUNIT_EXPECT_FALSE(test, w->misaligned);
	KUNIT_EXPECT_FALSE(test, w->outside);
	return w;
}

/* Everything an error path must leave as it was. */
struct tsnap {
	struct buddy_stats st;
	u64 hash;
	u64 nr_blocks;
	long chunks_live;
	long metas_live;
};

static void tsnap_take(struct kunit *test, struct tfix *f, struct tsnap *s)
{
	struct twalk *w = twalk(test, f);

	memset(s, 0, sizeof(*s));
	buddy_get_stats(&f->heap, &s->st);
	s->hash = w->hash;
	s->nr_blocks = w->nr_blocks;
	s->chunks_live = f->chunks_live;
	s->metas_live = f->metas_live;
	kunit_kfree(test, w);
}

/*
 * Expect the heap to be as in @before apart from one more failed call
 * (@failed: 1) or none (0).
 */
static void expect_unchanged(struct kunit *test, struct tfix *f,
			     const struct tsnap *before, int failed)
{
	struct tsnap *now = kunit_kzalloc(test, sizeof(*now), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, now);
	HEAP_CHECK(test, &f->heap);
	tsnap_take(test, f, now);
	KUNIT_EXPECT_EQ(test, now->hash, before->hash);
	KUNIT_EXPECT_EQ(test, now->nr_blocks, before->nr_blocks);
	KUNIT_EXPECT_EQ(test, now->chunks_live, before->chunks_live);
	KUNIT_EXPECT_EQ(test, now->metas_live, before->metas_live);
	KUNIT_EXPECT_EQ(test, now->st.bytes_in_use, before->st.bytes_in_use);
	KUNIT_EXPECT_EQ(test, now->st.live_blocks, before->st.live_blocks);
	KUNIT_EXPECT_EQ(test, now->st.heap_bytes, before->st.heap_bytes);
	KUNIT_EXPECT_EQ(test, now->st.nr_failed, before->st.nr_failed + failed);
	/* and nothing else moved either */
	now->st.nr_failed = before->st.nr_failed;
	KUNIT_EXPECT_EQ(test, memcmp(&now->st, &before->st, sizeof(now->st)), 0);
	kunit_kfree(test, now);
}

static struct tsnap *tsnap(struct kunit *test, struct tfix *f)
{
	struct tsnap *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	tsnap_take(test, f, s);
	return s;
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

static int buddy_seed_suite_init(struct kunit_suite *suite)
{
	while (!seed)
		seed = get_random_u32();
	kunit_log(KERN_INFO, suite, KUNIT_SUBTEST_INDENT
		  "# %s: random seed %u (replay: insmod buddy_kunit.ko seed=%u)",
		  suite->name, seed, seed);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Suite buddy_order: size -> order.                                   */

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
		KUNIT_EXPECT_LT_MSG(test, buddy_size_to_order(sizes[i], &order),
				    0, "size %llu", sizes[i]);
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

/* ------------------------------------------------------------------ */
/* Suite buddy_heap_alloc: allocation, split and merge.                     */

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
	static const u64 sizes[] = { 1, 15, 16, 17, 31, 32, 33, 100, 511, 512,
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
	unsigned int k;

	talloc(test, f, 1);
	/* splitting the chunk down to a grain leaves one buddy per order */
	for (k = 0; k < T_CHUNK_ORDER; k++)
		want[k] = 1;
	expect_buddyinfo(test, f, want, T_CHUNK_ORDER);
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
	KUNIT_CASE(buddy_test_alloc_split),
	KUNIT_CASE(buddy_test_free_merge),
	KUNIT_CASE(buddy_test_free_merge_needs_both_buddies),
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

/* ------------------------------------------------------------------ */
/* Suite buddy_memalign.                                               */

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
	static const u64 aligns[] = { 3, 24, 48, 1000, 4097, (1ULL << 40) + 16 };
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
	expect_unchanged(test, f, before, 1);
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

static struct kunit_case buddy_memalign_cases[] = {
	KUNIT_CASE_PARAM(buddy_test_memalign_every_alignment,
			 memalign_gen_params),
	KUNIT_CASE(buddy_test_memalign_tail_reusable),
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

/* ------------------------------------------------------------------ */
/* Suite buddy_heap_realloc.                                                */

static u64 trealloc(struct kunit *test, struct tfix *f, u64 off, u64 size,
		    unsigned int flags)
{
	u64 now = U64_MAX;

	KUNIT_ASSERT_EQ_MSG(test, buddy_heap_realloc(&f->heap, off, size, flags,
						     &now), 0,
			    "buddy_heap_realloc(%llu, %llu)", off, size);
	return now;
}

static void buddy_test_realloc_shrink_in_place(struct kunit *test)
{
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
	HEAP_CHECK(test, &f->heap);
}

static void buddy_test_realloc_grow_in_place(struct kunit *test)
{
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
	KUNIT_EXPECT_EQ(test, tusable(test, f, a), 16);
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

static struct kunit_case buddy_realloc_cases[] = {
	KUNIT_CASE(buddy_test_realloc_shrink_in_place),
	KUNIT_CASE(buddy_test_realloc_grow_in_place),
	KUNIT_CASE(buddy_test_realloc_grow_moves),
	KUNIT_CASE(buddy_test_realloc_grow_needs_every_buddy),
	KUNIT_CASE(buddy_test_realloc_right_half_moves),
	KUNIT_CASE(buddy_test_realloc_same_order),
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

/* ------------------------------------------------------------------ */
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
	u64 blk;

	f = theap_busy(test, &blk);
	tfree(test, f, blk);
	before = tsnap(test, f);
	KUNIT_EXPECT_EQ(test, buddy_heap_free(&f->heap, blk), -EALREADY);
	expect_unchanged(test, f, before, 1);
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
	expect_unchanged(test, f, before, 5);
	KUNIT_EXPECT_EQ(test, tusable(test, f, blk), 64);
}

static void buddy_test_init_bad_config(struct kunit *test)
{
	struct tfix *f = tfix_new(test);

	KUNIT_EXPECT_EQ(test, tfix_init(f, BUDDY_MAX_ORDER + 1, T_CHUNK_ORDER,
					0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, tfix_init(f, 10, 11, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_heap_init(&f->heap, &(struct buddy_config){
						.max_order = 10 }, NULL, f),
			-EINVAL);
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

static struct kunit_case buddy_errors_cases[] = {
	KUNIT_CASE(buddy_test_free_outside),
	KUNIT_CASE(buddy_test_free_not_block_start),
	KUNIT_CASE(buddy_test_free_unaligned),
	KUNIT_CASE(buddy_test_free_double),
	KUNIT_CASE(buddy_test_free_inside_free_block),
	KUNIT_CASE(buddy_test_usable_size_errors),
	KUNIT_CASE(buddy_test_realloc_errors),
	KUNIT_CASE(buddy_test_init_bad_config),
	KUNIT_CASE(buddy_test_init_no_memory),
	KUNIT_CASE(buddy_test_grow_chunk_failure),
	KUNIT_CASE(buddy_test_grow_meta_failure),
	KUNIT_CASE(buddy_test_check_detects_corruption),
	{}
};

static struct kunit_suite buddy_errors_suite = {
	.name = "buddy_errors",
	.test_cases = buddy_errors_cases,
};

/* ------------------------------------------------------------------ */
/* Suite buddy_stats: counters, buddyinfo and fragmentation indices.    */

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
	KUNIT_CASE(buddy_test_stats_peaks),
	KUNIT_CASE(buddy_test_stats_failed_calls),
	KUNIT_CASE(buddy_test_stats_buddyinfo_fragmented),
	KUNIT_CASE(buddy_test_stats_unusable_fragmented),
	KUNIT_CASE(buddy_test_stats_extfrag_fragmented),
	KUNIT_CASE(buddy_test_stats_indices_one_free_chunk),
	KUNIT_CASE(buddy_test_stats_indices_full_heap),
	KUNIT_CASE(buddy_test_stats_indices_reference),
	KUNIT_CASE(buddy_test_stats_meta_budget),
	KUNIT_CASE(buddy_test_stats_max_window),
	{}
};

static struct kunit_suite buddy_stats_suite = {
	.name = "buddy_stats",
	.suite_init = buddy_seed_suite_init,
	.test_cases = buddy_stats_cases,
};

/* ------------------------------------------------------------------ */
/* Suite buddy_heap_growth: chunks come and go, offsets stay.           */

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
	unsigned int i;

	/* the embedder refuses big chunks: growth takes what is needed */
	f->chunk_max_bytes = osz(T_CHUNK_ORDER);
	for (i = 0; i < 6; i++)
		talloc(test, f, osz(T_CHUNK_ORDER));
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->nr_chunks, 6);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 6 * osz(T_CHUNK_ORDER));
	HEAP_CHECK(test, &f->heap);
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

static void buddy_test_destroy_then_reuse(struct kunit *test)
{
	struct tfix *f = theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, 0);
	struct buddy_stats *st;

	talloc(test, f, 100);
	talloc(test, f, osz(T_CHUNK_ORDER + 1));
	buddy_heap_destroy(&f->heap);
	KUNIT_EXPECT_EQ(test, f->chunks_live, 0);
	/* an emptied heap grows again from nothing */
	HEAP_CHECK(test, &f->heap);
	KUNIT_EXPECT_EQ(test, talloc(test, f, 1), 0);
	st = tstats(test, f);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, osz(T_CHUNK_ORDER));
	HEAP_CHECK(test, &f->heap);
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
	KUNIT_EXPECT_EQ(test, g->chunks_live, f->chunks_live);
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		if (i == 1)
			continue;
		KUNIT_EXPECT_TRUE(test, tholds(test, g, off[i], 100 << i,
					       0xc0 + i));
		KUNIT_EXPECT_PTR_NE(test, (u8 *)tptr(test, g, off[i], 1),
				    (u8 *)tptr(test, f, off[i], 1));
	}
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
	}
	HEAP_CHECK(test, &f->heap);
}

static struct kunit_case buddy_growth_cases[] = {
	KUNIT_CASE(buddy_test_grow_doubling),
	KUNIT_CASE(buddy_test_grow_big_request),
	KUNIT_CASE(buddy_test_grow_offsets_stable),
	KUNIT_CASE(buddy_test_grow_cap_clamps),
	KUNIT_CASE(buddy_test_grow_cap_enomem),
	KUNIT_CASE(buddy_test_grow_falls_back),
	KUNIT_CASE(buddy_test_grow_chunk_limit),
	KUNIT_CASE(buddy_test_grow_min_chunk_order_zero),
	KUNIT_CASE(buddy_test_shrink_returns_chunks),
	KUNIT_CASE(buddy_test_shrink_respects_low_water),
	KUNIT_CASE(buddy_test_shrink_at_exact_low_water),
	KUNIT_CASE(buddy_test_shrink_then_regrow),
	KUNIT_CASE(buddy_test_chunk_address),
	KUNIT_CASE(buddy_test_destroy_returns_everything),
	KUNIT_CASE(buddy_test_destroy_then_reuse),
	KUNIT_CASE(buddy_test_walk_tiles_heap),
	KUNIT_CASE(buddy_test_walk_stops_early),
	KUNIT_CASE(buddy_test_clone_same_contents),
	KUNIT_CASE(buddy_test_clone_independent),
	KUNIT_CASE(buddy_test_clone_failure_is_clean),
	{}
};

static struct kunit_suite buddy_growth_suite = {
	.name = "buddy_growth",
	.test_cases = buddy_growth_cases,
};

/* ------------------------------------------------------------------ */
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

/* ------------------------------------------------------------------ */
/* Suite buddy_kheap: the device's heap glue (buddy_heap.c), in-kernel. */

#define KT_MIN_CHUNK	SZ_64K
#define KT_CAP		SZ_16M

/* debugfs directory the suite's heaps hang their files under */
static struct dentry *kt_debugfs;
/* the memory cgroup insmod ran in (kunit/run makes one), or NULL */
static struct mem_cgroup *kt_memcg;

static int buddy_kheap_suite_init(struct kunit_suite *suite)
{
	struct mem_cgroup *memcg;

	kt_debugfs = debugfs_create_dir("buddy_kunit", NULL);
	/* .suite_init runs in insmod's context: remember its memcg */
	memcg = current->mm ? get_mem_cgroup_from_mm(current->mm) : NULL;
	if (memcg && !memcg->css.parent) {
		mem_cgroup_put(memcg);	/* the root: nothing is charged */
		memcg = NULL;
	}
	kt_memcg = memcg;
	kunit_log(KERN_INFO, suite, KUNIT_SUBTEST_INDENT
		  "# %s: %s memory cgroup, fault injection %s", suite->name,
		  kt_memcg ? "in a" : "no",
		  IS_ENABLED(CONFIG_FAULT_INJECTION) ? "built in" : "missing");
	return 0;
}

static void buddy_kheap_suite_exit(struct kunit_suite *suite)
{
	debugfs_remove_recursive(kt_debugfs);
	kt_debugfs = NULL;
	if (kt_memcg)
		mem_cgroup_put(kt_memcg);
	kt_memcg = NULL;
}

static int kheap_res_init(struct kunit_resource *res, void *context)
{
	res->data = context;
	return 0;
}

static void kheap_res_free(struct kunit_resource *res)
{
	buddy_kheap_destroy(res->data);
}

static struct buddy_kheap *tkheap_params(struct kunit *test,
					 const struct buddy_kheap_params *p)
{
	struct buddy_kheap *kh = buddy_kheap_create(p, NULL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kh);
	if (!kunit_alloc_resource(test, kheap_res_init, kheap_res_free,
				  GFP_KERNEL, kh)) {
		buddy_kheap_destroy(kh);
		KUNIT_ASSERT_TRUE_MSG(test, false, "kunit_alloc_resource failed");
	}
	return kh;
}

/* A heap like the module makes, destroyed when the case ends. */
static struct buddy_kheap *tkheap(struct kunit *test, u64 cap)
{
	struct buddy_kheap_params p = {
		.cap_bytes = cap,
		.min_chunk_bytes = KT_MIN_CHUNK,
		.low_water_bytes = KT_MIN_CHUNK,
		.debugfs_root = kt_debugfs,
	};

	return tkheap_params(test, &p);
}

static int kmalloc_nr(struct buddy_kheap *kh, unsigned int nr, u64 size,
		      u64 nmemb, u64 align, u64 *off)
{
	struct buddy_alloc_args a = {
		.size = size,
		.nmemb = nmemb,
		.align = align,
	};
	int ret = buddy_kheap_alloc(kh, nr, &a);

	if (off)
		*off = ret ? U64_MAX : a.offset;
	return ret;
}

static int kmalloc_op(struct buddy_kheap *kh, u64 size, u64 *off)
{
	return kmalloc_nr(kh, _IOC_NR(BUDDY_IOC_MALLOC), size, 0, 0, off);
}

static int kblock_op(struct buddy_kheap *kh, unsigned int nr, u64 offset,
		     u64 size, u32 *reason, u64 *new_offset)
{
	struct buddy_block_args a = {
		.offset = offset,
		.size = size,
	};
	int ret = buddy_kheap_block(kh, nr, &a);

	if (reason)
		*reason = a.reason;
	if (new_offset)
		*new_offset = a.new_offset;
	return ret;
}

static int kfree_op(struct buddy_kheap *kh, u64 offset, u32 *reason)
{
	return kblock_op(kh, _IOC_NR(BUDDY_IOC_FREE), offset, 0, reason, NULL);
}

static void kheap_check(struct kunit *test, struct buddy_kheap *kh)
{
	mutex_lock(&kh->lock);
	HEAP_CHECK(test, &kh->core);
	mutex_unlock(&kh->lock);
}

static void kheap_stats(struct kunit *test, struct buddy_kheap *kh,
			struct buddy_stats *st)
{
	mutex_lock(&kh->lock);
	buddy_get_stats(&kh->core, st);
	mutex_unlock(&kh->lock);
}

/* Kernel address of @off in @kh's chunks. */
static u8 *kheap_ptr(struct kunit *test, struct buddy_kheap *kh, u64 off)
{
	u8 *p;

	mutex_lock(&kh->lock);
	p = buddy_chunk_address(&kh->core, off, NULL);
	mutex_unlock(&kh->lock);
	KUNIT_ASSERT_NOT_NULL(test, p);
	return p;
}

/* buddy_kheap_check_params() rejections, each also refused by create. */
struct kparams_case {
	const char *name;
	struct buddy_kheap_params p;
};

static const struct kparams_case kparams_bad[] = {
	{ "min-chunk-zero", { .cap_bytes = SZ_1M } },
	{ "min-chunk-not-pow2", { .cap_bytes = SZ_1M,
				  .min_chunk_bytes = PAGE_SIZE + PAGE_SIZE / 2 } },
	{ "min-chunk-below-page", { .cap_bytes = SZ_1M,
				    .min_chunk_bytes = PAGE_SIZE / 2 } },
	{ "min-chunk-beyond-core", { .cap_bytes = BUDDY_GRAIN << BUDDY_MAX_ORDER,
				     .min_chunk_bytes =
					BUDDY_GRAIN << (BUDDY_MAX_ORDER + 1) } },
	{ "cap-below-min-chunk", { .cap_bytes = SZ_32K,
				   .min_chunk_bytes = SZ_64K } },
	{ "cap-beyond-core", { .cap_bytes = (BUDDY_GRAIN << BUDDY_MAX_ORDER) + 1,
			       .min_chunk_bytes = SZ_64K } },
	{ "cap-u64-max", { .cap_bytes = U64_MAX, .min_chunk_bytes = SZ_64K } },
};

static void kparams_desc(const struct kparams_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(kparams_bad, kparams_bad, kparams_desc);

static void buddy_test_kheap_params_rejected(struct kunit *test)
{
	const struct kparams_case *c = test->param_value;
	struct buddy_kheap *kh;

	KUNIT_EXPECT_EQ(test, buddy_kheap_check_params(&c->p), -EINVAL);
	kh = buddy_kheap_create(&c->p, NULL);
	KUNIT_EXPECT_TRUE(test, IS_ERR(kh));
	if (!IS_ERR_OR_NULL(kh))
		buddy_kheap_destroy(kh);
	else
		KUNIT_EXPECT_EQ(test, PTR_ERR(kh), -EINVAL);
}

static void buddy_test_kheap_params_window(struct kunit *test)
{
	static const u64 caps[][2] = {	/* cap, window */
		{ SZ_64K, SZ_64K },
		{ SZ_64K + SZ_4K, SZ_128K },
		{ 3 * SZ_1M, SZ_4M },
		{ BUDDY_GRAIN << BUDDY_MAX_ORDER, BUDDY_GRAIN << BUDDY_MAX_ORDER },
	};
	struct buddy_kheap_params p = { .min_chunk_bytes = SZ_64K };
	struct buddy_info info = { };
	struct buddy_kheap *kh;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		p.cap_bytes = caps[i][0];
		KUNIT_EXPECT_EQ(test, buddy_kheap_check_params(&p), 0);
		kh = tkheap_params(test, &p);
		KUNIT_ASSERT_EQ(test, buddy_kheap_info(kh, &info), 0);
		/* the window is the cap rounded up to a power of two */
		KUNIT_EXPECT_EQ(test, info.window_bytes, caps[i][1]);
		KUNIT_EXPECT_EQ(test, info.cap_bytes, caps[i][0]);
		KUNIT_EXPECT_EQ(test, BUDDY_GRAIN << info.max_order,
				info.window_bytes);
	}
}

/* Counting wrapper around a heap's callbacks, to see what it gives back. */
struct kwrap {
	const struct buddy_ops *inner;
	void *inner_ctx;
	long chunks;
	long metas;
	bool bad;
};

static void *kwrap_chunk_alloc(void *ctx, u64 bytes)
{
	struct kwrap *w = ctx;
	void *mem = w->inner->chunk_alloc(w->inner_ctx, bytes);

	if (mem)
		w->chunks++;
	return mem;
}

static void kwrap_chunk_free(void *ctx, void *mem, u64 bytes)
{
	struct kwrap *w = ctx;

	if (!is_vmalloc_addr(mem))
		w->bad = true;
	w->chunks--;
	w->inner->chunk_free(w->inner_ctx, mem, bytes);
}

static void *kwrap_meta_alloc(void *ctx, size_t bytes)
{
	struct kwrap *w = ctx;
	void *mem = w->inner->meta_alloc(w->inner_ctx, bytes);

	if (mem)
		w->metas++;
	return mem;
}

static void kwrap_meta_free(void *ctx, void *mem, size_t bytes)
{
	struct kwrap *w = ctx;

	w->metas--;
	w->inner->meta_free(w->inner_ctx, mem, bytes);
}

static void kwrap_copy(void *ctx, void *dst, const void *src, u64 bytes)
{
	struct kwrap *w = ctx;

	w->inner->copy(w->inner_ctx, dst, src, bytes);
}

static const struct buddy_ops kwrap_ops = {
	.chunk_alloc = kwrap_chunk_alloc,
	.chunk_free = kwrap_chunk_free,
	.meta_alloc = kwrap_meta_alloc,
	.meta_free = kwrap_meta_free,
	.copy = kwrap_copy,
};

static void buddy_test_kheap_destroy_leaves_nothing(struct kunit *test)
{
	struct buddy_kheap_params p = {
		.cap_bytes = KT_CAP,
		.min_chunk_bytes = KT_MIN_CHUNK,
		.low_water_bytes = KT_CAP,
		.debugfs_root = kt_debugfs,
	};
	struct kwrap *w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	struct buddy_kheap *kh;
	struct dentry *d;
	char name[32];
	unsigned int i;
	u64 off;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, w);
	kh = buddy_kheap_create(&p, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kh);
	/* a new heap holds no chunk yet: wrap its callbacks now */
	KUNIT_EXPECT_EQ(test, kh->core.nr_chunks, 0);
	w->inner = kh->core.ops;
	w->inner_ctx = kh->core.ctx;
	kh->core.ops = &kwrap_ops;
	kh->core.ctx = w;

	for (i = 0; i < 12; i++)
		KUNIT_EXPECT_EQ(test, kmalloc_op(kh, SZ_16K << (i % 5), &off), 0);
	KUNIT_EXPECT_GT(test, w->chunks, 1);
	KUNIT_EXPECT_EQ(test, w->chunks, kh->core.nr_chunks);
	KUNIT_EXPECT_EQ(test, w->metas, kh->core.nr_chunks);
	snprintf(name, sizeof(name), "%d-%llu", kh->tgid, kh->id);
	if (!IS_ERR_OR_NULL(kt_debugfs)) {
		d = debugfs_lookup(name, kt_debugfs);
		KUNIT_EXPECT_NOT_NULL(test, d);
		dput(d);
	}

	buddy_kheap_destroy(kh);
	KUNIT_EXPECT_EQ(test, w->chunks, 0);
	KUNIT_EXPECT_EQ(test, w->metas, 0);
	KUNIT_EXPECT_FALSE(test, w->bad);
	if (!IS_ERR_OR_NULL(kt_debugfs)) {
		/* and its debugfs directory went with it */
		d = debugfs_lookup(name, kt_debugfs);
		KUNIT_EXPECT_NULL(test, d);
		dput(d);
	}
}

static void buddy_test_kheap_info(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, 3 * SZ_1M);
	struct buddy_info info = { };

	KUNIT_ASSERT_EQ(test, buddy_kheap_info(kh, &info), 0);
	KUNIT_EXPECT_EQ(test, info.abi_version, BUDDY_ABI_VERSION);
	KUNIT_EXPECT_EQ(test, info.grain_shift, BUDDY_GRAIN_SHIFT);
	KUNIT_EXPECT_EQ(test, info.max_order, 18);
	KUNIT_EXPECT_EQ(test, info.batch_max, BUDDY_BATCH_MAX);
	KUNIT_EXPECT_EQ(test, info.window_bytes, SZ_4M);
	KUNIT_EXPECT_EQ(test, info.cap_bytes, 3 * SZ_1M);
	KUNIT_EXPECT_EQ(test, info.heap_id, kh->id);
	KUNIT_EXPECT_TRUE(test, info.features & BUDDY_FEATURE_BATCH);
	KUNIT_EXPECT_TRUE(test, info.features & BUDDY_FEATURE_CLONE);
	KUNIT_EXPECT_EQ(test, !!(info.features & BUDDY_FEATURE_DEBUGFS),
			!IS_ERR_OR_NULL(kt_debugfs));
}

static void buddy_test_kheap_info_reserved(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_info info = { .reserved = { 0, 1 } };

	KUNIT_EXPECT_EQ(test, buddy_kheap_info(kh, &info), -EINVAL);
	info.reserved[0] = 1;
	info.reserved[1] = 0;
	KUNIT_EXPECT_EQ(test, buddy_kheap_info(kh, &info), -EINVAL);
}

/* Malformed MALLOC/CALLOC/MEMALIGN requests: refused, nothing allocated. */
struct kalloc_case {
	const char *name;
	unsigned int nr;
	struct buddy_alloc_args a;
	int ret;
};

static const struct kalloc_case kalloc_bad[] = {
	{ "malloc-reserved", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = 16, .reserved = 1 }, -EINVAL },
	{ "malloc-nmemb", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = 16, .nmemb = 1 }, -EINVAL },
	{ "malloc-align", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = 16, .align = 16 }, -EINVAL },
	{ "malloc-unknown-flag", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = 16, .flags = 2 }, -EINVAL },
	{ "malloc-high-flag", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = 16, .flags = 1U << 31 }, -EINVAL },
	{ "malloc-too-big", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = KT_CAP * 2 }, -ENOMEM },
	{ "malloc-u64-max", _IOC_NR(BUDDY_IOC_MALLOC),
	  { .size = U64_MAX }, -ENOMEM },
	{ "calloc-align", _IOC_NR(BUDDY_IOC_CALLOC),
	  { .size = 16, .nmemb = 2, .align = 16 }, -EINVAL },
	{ "calloc-overflow", _IOC_NR(BUDDY_IOC_CALLOC),
	  { .size = 1ULL << 32, .nmemb = 1ULL << 32 }, -ENOMEM },
	{ "calloc-overflow-by-one", _IOC_NR(BUDDY_IOC_CALLOC),
	  { .size = U64_MAX / 3 + 1, .nmemb = 3 }, -ENOMEM },
	{ "calloc-too-big", _IOC_NR(BUDDY_IOC_CALLOC),
	  { .size = KT_CAP, .nmemb = 2 }, -ENOMEM },
	{ "calloc-reserved", _IOC_NR(BUDDY_IOC_CALLOC),
	  { .size = 16, .nmemb = 1, .reserved = 4 }, -EINVAL },
	{ "memalign-nmemb", _IOC_NR(BUDDY_IOC_MEMALIGN),
	  { .size = 16, .nmemb = 1, .align = 64 }, -EINVAL },
	{ "memalign-align-zero", _IOC_NR(BUDDY_IOC_MEMALIGN),
	  { .size = 16 }, -EINVAL },
	{ "memalign-align-not-pow2", _IOC_NR(BUDDY_IOC_MEMALIGN),
	  { .size = 16, .align = 96 }, -EINVAL },
	{ "memalign-align-beyond-window", _IOC_NR(BUDDY_IOC_MEMALIGN),
	  { .size = 16, .align = KT_CAP * 2 }, -ENOMEM },
	{ "memalign-unknown-flag", _IOC_NR(BUDDY_IOC_MEMALIGN),
	  { .size = 16, .align = 64, .flags = 4 }, -EINVAL },
	{ "free-nr", _IOC_NR(BUDDY_IOC_FREE), { .size = 16 }, -ENOTTY },
	{ "info-nr", _IOC_NR(BUDDY_IOC_INFO), { .size = 16 }, -ENOTTY },
	{ "unknown-nr", 0x7f, { .size = 16 }, -ENOTTY },
};

static void kalloc_desc(const struct kalloc_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(kalloc_bad, kalloc_bad, kalloc_desc);

static void buddy_test_kheap_alloc_rejected(struct kunit *test)
{
	const struct kalloc_case *c = test->param_value;
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_alloc_args a = c->a;
	struct buddy_stats *st;

	a.offset = 0x1234;
	KUNIT_EXPECT_EQ(test, buddy_kheap_alloc(kh, c->nr, &a), c->ret);
	/* nothing happened, and nothing came back */
	KUNIT_EXPECT_EQ(test, a.offset, 0x1234);
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	kheap_stats(test, kh, st);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 0);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 0);
	kheap_check(test, kh);
}

static void buddy_test_kheap_alloc_commands(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_alloc_args a = { .size = 100 };
	u8 *p;

	KUNIT_ASSERT_EQ(test, buddy_kheap_alloc(kh, _IOC_NR(BUDDY_IOC_MALLOC),
						&a), 0);
	KUNIT_EXPECT_EQ(test, a.usable, 128);
	/* dirty the block, free it: calloc gets it back zeroed */
	p = kheap_ptr(test, kh, a.offset);
	memset(p, 0xff, 128);
	KUNIT_ASSERT_EQ(test, kfree_op(kh, a.offset, NULL), 0);
	a = (struct buddy_alloc_args){ .size = 10, .nmemb = 10 };
	KUNIT_ASSERT_EQ(test, buddy_kheap_alloc(kh, _IOC_NR(BUDDY_IOC_CALLOC),
						&a), 0);
	KUNIT_EXPECT_EQ(test, a.usable, 128);
	KUNIT_EXPECT_PTR_EQ(test, kheap_ptr(test, kh, a.offset), p);
	KUNIT_EXPECT_NULL(test, memchr_inv(p, 0, 128));
	a = (struct buddy_alloc_args){ .size = 16, .align = SZ_8K };
	KUNIT_ASSERT_EQ(test, buddy_kheap_alloc(kh,
						_IOC_NR(BUDDY_IOC_MEMALIGN),
						&a), 0);
	KUNIT_EXPECT_EQ(test, a.offset % SZ_8K, 0);
	KUNIT_EXPECT_EQ(test, a.usable, 16);
	kheap_check(test, kh);
}

/* Malformed FREE/REALLOC/USABLE_SIZE requests. */
struct kblock_case {
	const char *name;
	unsigned int nr;
	struct buddy_block_args a;
	int ret;
};

static const struct kblock_case kblock_bad[] = {
	{ "free-size", _IOC_NR(BUDDY_IOC_FREE), { .size = 1 }, -EINVAL },
	{ "free-flags", _IOC_NR(BUDDY_IOC_FREE), { .flags = 1 }, -EINVAL },
	{ "free-reason-in", _IOC_NR(BUDDY_IOC_FREE), { .reason = 1 }, -EINVAL },
	{ "usable-size", _IOC_NR(BUDDY_IOC_USABLE_SIZE), { .size = 16 },
	  -EINVAL },
	{ "usable-flags", _IOC_NR(BUDDY_IOC_USABLE_SIZE), { .flags = 1 },
	  -EINVAL },
	{ "usable-reason-in", _IOC_NR(BUDDY_IOC_USABLE_SIZE), { .reason = 3 },
	  -EINVAL },
	{ "realloc-unknown-flag", _IOC_NR(BUDDY_IOC_REALLOC),
	  { .size = 32, .flags = 2 }, -EINVAL },
	{ "realloc-reason-in", _IOC_NR(BUDDY_IOC_REALLOC),
	  { .size = 32, .reason = 2 }, -EINVAL },
	{ "realloc-too-big", _IOC_NR(BUDDY_IOC_REALLOC),
	  { .size = KT_CAP * 2 }, -ENOMEM },
	{ "malloc-nr", _IOC_NR(BUDDY_IOC_MALLOC), { }, -ENOTTY },
	{ "stats-nr", _IOC_NR(BUDDY_IOC_STATS), { }, -ENOTTY },
};

static void kblock_desc(const struct kblock_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(kblock_bad, kblock_bad, kblock_desc);

static void buddy_test_kheap_block_rejected(struct kunit *test)
{
	const struct kblock_case *c = test->param_value;
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_block_args a = c->a;
	u64 off, usable = 0;

	/* aim at a live block, so only the malformed field is wrong */
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &off), 0);
	a.offset = off;
	a.new_offset = 0x1234;
	KUNIT_EXPECT_EQ(test, buddy_kheap_block(kh, c->nr, &a), c->ret);
	KUNIT_EXPECT_EQ(test, a.new_offset, 0x1234);
	mutex_lock(&kh->lock);
	KUNIT_EXPECT_EQ(test, buddy_heap_usable_size(&kh->core, off, &usable), 0);
	mutex_unlock(&kh->lock);
	KUNIT_EXPECT_EQ(test, usable, 16);
	kheap_check(test, kh);
}

static void buddy_test_kheap_block_reasons(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	u32 reason = 0;
	u64 off;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 64, &off), 0);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off + 16, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NOT_BLOCK_START);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, KT_MIN_CHUNK, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_OUTSIDE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, KT_CAP, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_OUTSIDE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, U64_MAX, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_OUTSIDE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off + 64, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_ALREADY_FREE);
	/* realloc: a bad offset is reported before a bad size */
	KUNIT_EXPECT_EQ(test, kblock_op(kh, _IOC_NR(BUDDY_IOC_REALLOC),
					off + 16, KT_CAP * 2, &reason, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NOT_BLOCK_START);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, _IOC_NR(BUDDY_IOC_USABLE_SIZE),
					U64_MAX - 15, 0, &reason, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_OUTSIDE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off, &reason), 0);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NONE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_ALREADY_FREE);
	kheap_check(test, kh);
}

static void buddy_test_kheap_realloc(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_block_args a = { };
	u64 x, y;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &x), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &y), 0);
	memset(kheap_ptr(test, kh, x), 0x3c, 16);
	a.offset = x;
	a.size = 1000;
	a.flags = BUDDY_ALLOC_ZERO;
	KUNIT_ASSERT_EQ(test, buddy_kheap_block(kh, _IOC_NR(BUDDY_IOC_REALLOC),
						&a), 0);
	KUNIT_EXPECT_NE(test, a.new_offset, x);
	KUNIT_EXPECT_EQ(test, a.usable, 1024);
	KUNIT_EXPECT_NULL(test, memchr_inv(kheap_ptr(test, kh, a.new_offset),
					   0x3c, 16));
	KUNIT_EXPECT_NULL(test, memchr_inv(kheap_ptr(test, kh,
						     a.new_offset + 16),
					   0, 1024 - 16));
	a = (struct buddy_block_args){ .offset = y };
	KUNIT_ASSERT_EQ(test, buddy_kheap_block(kh,
						_IOC_NR(BUDDY_IOC_USABLE_SIZE),
						&a), 0);
	KUNIT_EXPECT_EQ(test, a.usable, 16);
	kheap_check(test, kh);
}

static void buddy_test_kheap_stats(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_heap_stats *st;
	struct buddy_stats *cs;
	unsigned int k;
	u64 off;

	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	cs = kunit_kzalloc(test, sizeof(*cs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cs);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 1000, &off), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 10, &off), 0);
	KUNIT_ASSERT_EQ(test, buddy_kheap_stats(kh, st), 0);
	kheap_stats(test, kh, cs);
	KUNIT_EXPECT_EQ(test, st->nr_orders, cs->nr_orders);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, KT_MIN_CHUNK);
	KUNIT_EXPECT_EQ(test, st->bytes_in_use, 1024 + 16);
	KUNIT_EXPECT_EQ(test, st->bytes_requested_total, 1010);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 2);
	KUNIT_EXPECT_EQ(test, st->meta_bytes, cs->meta_bytes);
	KUNIT_EXPECT_EQ(test, st->largest_free_order, cs->largest_free_order);
	for (k = 0; k < BUDDY_STATS_ORDERS; k++) {
		KUNIT_EXPECT_EQ(test, st->free_blocks[k],
				k < cs->nr_orders ? cs->free_blocks[k] : 0);
		KUNIT_EXPECT_EQ(test, st->unusable_index[k],
				k < cs->nr_orders ? cs->unusable_index[k] : 0);
		KUNIT_EXPECT_EQ(test, st->extfrag_index[k],
				k < cs->nr_orders ? cs->extfrag_index[k] : 0);
	}
	memset(st, 0, sizeof(*st));
	st->flags = 1;
	KUNIT_EXPECT_EQ(test, buddy_kheap_stats(kh, st), -EINVAL);
	st->flags = 0;
	st->reserved = 1;
	KUNIT_EXPECT_EQ(test, buddy_kheap_stats(kh, st), -EINVAL);
}

/*
 * buddy_stat_list.h against the structs it is copied between: the build
 * only checks its length, so check here that it names every u64 of the
 * uapi struct once, in order, and distinct fields of the core's.
 */
static void buddy_test_kheap_stat_list(struct kunit *test)
{
	unsigned int i, j;

	KUNIT_ASSERT_EQ(test, ARRAY_SIZE(buddy_stat_core),
			ARRAY_SIZE(buddy_stat_uapi));
	KUNIT_EXPECT_EQ(test, buddy_stat_uapi[0],
			offsetof(struct buddy_heap_stats, heap_bytes));
	for (i = 1; i < ARRAY_SIZE(buddy_stat_uapi); i++)
		KUNIT_EXPECT_EQ(test, buddy_stat_uapi[i],
				buddy_stat_uapi[i - 1] + sizeof(__u64));
	for (i = 0; i < ARRAY_SIZE(buddy_stat_core); i++) {
		KUNIT_EXPECT_EQ(test, buddy_stat_core[i] % sizeof(u64), 0);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_NE(test, buddy_stat_core[i],
					buddy_stat_core[j]);
	}
	KUNIT_EXPECT_EQ(test, ARRAY_SIZE(buddy_stat_name),
			ARRAY_SIZE(buddy_stat_offset));
	KUNIT_EXPECT_STREQ(test, buddy_stat_name[0], "heap_bytes");
}

/* Malformed BUDDY_IOC_BATCH headers. */
struct kbatch_case {
	const char *name;
	struct buddy_batch b;
};

static const struct kbatch_case kbatch_bad[] = {
	{ "count-over-max", { .count = BUDDY_BATCH_MAX + 1,
			      .op_size = sizeof(struct buddy_op) } },
	{ "count-u32-max", { .count = U32_MAX,
			     .op_size = sizeof(struct buddy_op) } },
	{ "op-size-short", { .count = 1,
			     .op_size = sizeof(struct buddy_op) - 8 } },
	{ "op-size-over-max", { .count = 1,
				.op_size = BUDDY_OP_SIZE_MAX + 1 } },
	{ "op-size-zero", { .count = 1 } },
	{ "unknown-flag", { .count = 1, .op_size = sizeof(struct buddy_op),
			    .flags = 2 } },
	{ "reserved", { .count = 1, .op_size = sizeof(struct buddy_op),
			.reserved = 1 } },
};

static void kbatch_desc(const struct kbatch_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(kbatch_bad, kbatch_bad, kbatch_desc);

static void buddy_test_kheap_batch_rejected(struct kunit *test)
{
	const struct kbatch_case *c = test->param_value;
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_op op = { .op = BUDDY_OP_MALLOC, .size = 16 };
	struct buddy_batch b = c->b;

	KUNIT_EXPECT_EQ(test, buddy_kheap_batch_check(&b), -EINVAL);
	/* the batch itself checks again before it reads an operation */
	KUNIT_EXPECT_EQ(test, buddy_kheap_batch(kh, &b, &op), -EINVAL);
	KUNIT_EXPECT_EQ(test, op.result, 0);
	KUNIT_EXPECT_EQ(test, kh->core.counters.nr_allocs, 0);
}

static void buddy_test_kheap_batch(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_batch b = { .op_size = sizeof(struct buddy_op) };
	struct buddy_op ops[6] = {
		{ .op = BUDDY_OP_MALLOC, .size = 100 },
		{ .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = SZ_4K },
		{ .op = BUDDY_OP_FREE, .offset = 8 },	/* inside block 0 */
		{ .op = BUDDY_OP_CALLOC, .size = 8, .arg = 4 },
		{ .op = 99 },
		{ .op = BUDDY_OP_USABLE_SIZE },
	};

	b.count = ARRAY_SIZE(ops);
	KUNIT_ASSERT_EQ(test, buddy_kheap_batch(kh, &b, ops), 0);
	/* every operation ran and reports its own result */
	KUNIT_EXPECT_EQ(test, b.done, ARRAY_SIZE(ops));
	KUNIT_EXPECT_EQ(test, ops[0].result, 0);
	KUNIT_EXPECT_EQ(test, ops[0].offset, 0);
	KUNIT_EXPECT_EQ(test, ops[0].usable, 128);
	KUNIT_EXPECT_EQ(test, ops[1].result, 0);
	KUNIT_EXPECT_EQ(test, ops[1].offset, SZ_4K);
	KUNIT_EXPECT_EQ(test, ops[2].result, -EINVAL);
	KUNIT_EXPECT_EQ(test, ops[2].reason, BUDDY_REASON_NOT_BLOCK_START);
	KUNIT_EXPECT_EQ(test, ops[3].result, 0);
	KUNIT_EXPECT_EQ(test, ops[3].usable, 32);
	KUNIT_EXPECT_EQ(test, ops[4].result, -EINVAL);
	KUNIT_EXPECT_EQ(test, ops[5].result, 0);	/* offset 0: block 0 */
	KUNIT_EXPECT_EQ(test, ops[5].usable, 128);
	kheap_check(test, kh);
}

static void buddy_test_kheap_batch_empty(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_batch b = {
		.op_size = sizeof(struct buddy_op),
		.done = 7,
	};

	KUNIT_EXPECT_EQ(test, buddy_kheap_batch(kh, &b, NULL), 0);
	KUNIT_EXPECT_EQ(test, b.done, 0);
}

static void buddy_test_kheap_batch_stop_on_error(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_batch b = {
		.op_size = sizeof(struct buddy_op),
		.flags = BUDDY_BATCH_STOP_ON_ERROR,
	};
	struct buddy_op ops[3] = {
		{ .op = BUDDY_OP_MALLOC, .size = 16 },
		{ .op = BUDDY_OP_MALLOC, .size = KT_CAP * 4 },
		{ .op = BUDDY_OP_MALLOC, .size = 16 },
	};

	b.count = ARRAY_SIZE(ops);
	KUNIT_ASSERT_EQ(test, buddy_kheap_batch(kh, &b, ops), 0);
	/* the failing operation is counted in done, the rest never ran */
	KUNIT_EXPECT_EQ(test, b.done, 2);
	KUNIT_EXPECT_EQ(test, ops[1].result, -ENOMEM);
	KUNIT_EXPECT_EQ(test, kh->core.counters.live_blocks, 1);
	KUNIT_EXPECT_EQ(test, kh->core.counters.nr_allocs, 1);
}

static void buddy_test_kheap_clone_args(struct kunit *test)
{
	struct buddy_clone_args a = { };

	KUNIT_EXPECT_EQ(test, buddy_kheap_clone_check(&a), 0);
	a.flags = O_CLOEXEC;
	KUNIT_EXPECT_EQ(test, buddy_kheap_clone_check(&a), 0);
	a.flags = O_NONBLOCK;
	KUNIT_EXPECT_EQ(test, buddy_kheap_clone_check(&a), -EINVAL);
	a.flags = O_CLOEXEC | O_RDWR;
	KUNIT_EXPECT_EQ(test, buddy_kheap_clone_check(&a), -EINVAL);
	a.flags = 0;
	a.reserved = 1;
	KUNIT_EXPECT_EQ(test, buddy_kheap_clone_check(&a), -EINVAL);
}

static void buddy_test_kheap_clone(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_kheap *copy;
	u64 a, b, c, d;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 300, &a), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_256K, &b), 0);
	memset(kheap_ptr(test, kh, a), 0x5e, 300);
	memset(kheap_ptr(test, kh, b), 0xe5, SZ_256K);
	copy = buddy_kheap_clone(kh, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy);
	if (!kunit_alloc_resource(test, kheap_res_init, kheap_res_free,
				  GFP_KERNEL, copy)) {
		buddy_kheap_destroy(copy);
		KUNIT_ASSERT_TRUE_MSG(test, false, "kunit_alloc_resource failed");
	}
	KUNIT_EXPECT_NE(test, copy->id, kh->id);
	KUNIT_EXPECT_EQ(test, copy->window_bytes, kh->window_bytes);
	kheap_check(test, copy);
	KUNIT_EXPECT_NULL(test, memchr_inv(kheap_ptr(test, copy, a), 0x5e, 300));
	KUNIT_EXPECT_NULL(test, memchr_inv(kheap_ptr(test, copy, b), 0xe5,
					   SZ_256K));
	KUNIT_EXPECT_PTR_NE(test, kheap_ptr(test, copy, b),
			    kheap_ptr(test, kh, b));
	/* afterwards each goes its own way */
	KUNIT_EXPECT_EQ(test, kfree_op(copy, a, NULL), 0);
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, 16, &c), 0);
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy, 16, &d), 0);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, _IOC_NR(BUDDY_IOC_USABLE_SIZE), a,
					0, NULL, NULL), 0);
	kheap_check(test, kh);
	kheap_check(test, copy);
}

static void buddy_test_kheap_page_is_vmalloc_page(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	unsigned int i, pages = 0;
	u64 off, pg;

	/* several chunks of different sizes */
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_64K, &off), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_16K, &off), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_256K, &off), 0);
	mutex_lock(&kh->lock);
	KUNIT_EXPECT_GE(test, kh->core.nr_chunks, 3);
	for (i = 0; i < kh->core.nr_chunks; i++) {
		const struct buddy_chunk *c = &kh->core.chunks[i];
		u64 bytes = BUDDY_GRAIN << c->order;

		KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(c->mem));
		for (pg = 0; pg < bytes; pg += PAGE_SIZE, pages++)
			KUNIT_EXPECT_PTR_EQ(test,
					    buddy_kheap_page(kh, c->offset + pg),
					    vmalloc_to_page((u8 *)c->mem + pg));
	}
	mutex_unlock(&kh->lock);
	KUNIT_EXPECT_EQ(test, pages, (SZ_64K + SZ_64K + SZ_256K) / PAGE_SIZE);
}

static void buddy_test_kheap_page_outside(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	u64 off;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &off), 0);
	mutex_lock(&kh->lock);
	KUNIT_EXPECT_NOT_NULL(test, buddy_kheap_page(kh, 0));
	KUNIT_EXPECT_NULL(test, buddy_kheap_page(kh, 16));	/* unaligned */
	KUNIT_EXPECT_NULL(test, buddy_kheap_page(kh, KT_MIN_CHUNK)); /* hole */
	KUNIT_EXPECT_NULL(test, buddy_kheap_page(kh, KT_CAP));
	KUNIT_EXPECT_NULL(test, buddy_kheap_page(kh, U64_MAX & PAGE_MASK));
	mutex_unlock(&kh->lock);
}

static void buddy_test_kheap_fault_sigbus(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct vm_fault hole = { .pgoff = KT_MIN_CHUNK >> PAGE_SHIFT };
	struct vm_fault beyond = { .pgoff = KT_CAP >> PAGE_SHIFT };
	struct vm_fault huge = { .pgoff = ULONG_MAX };
	u64 off;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &off), 0);
	/* nothing to map: SIGBUS before the vma is ever looked at */
	KUNIT_EXPECT_TRUE(test, buddy_kheap_fault(kh, &hole) == VM_FAULT_SIGBUS);
	KUNIT_EXPECT_TRUE(test,
			  buddy_kheap_fault(kh, &beyond) == VM_FAULT_SIGBUS);
	KUNIT_EXPECT_TRUE(test, buddy_kheap_fault(kh, &huge) == VM_FAULT_SIGBUS);
}

static void buddy_test_kheap_cap(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, SZ_1M);
	struct buddy_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned int n = 0;
	u64 off;
	int ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	while ((ret = kmalloc_op(kh, SZ_64K, &off)) == 0)
		n++;
	/* exactly the cap's worth, then a quiet -ENOMEM */
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_EXPECT_EQ(test, n, SZ_1M / SZ_64K);
	kheap_stats(test, kh, st);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, SZ_1M);
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, 16, &off), -ENOMEM);
	kheap_check(test, kh);
}

static void buddy_test_kheap_cap_not_power_of_two(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, SZ_64K + SZ_4K);
	struct buddy_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	u64 a, b;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	/* a 128 KiB window, but only 68 KiB may be held */
	KUNIT_EXPECT_EQ(test, kh->window_bytes, SZ_128K);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_64K, &a), 0);
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, SZ_64K, &b), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, SZ_4K, &b), -ENOMEM);
	kheap_stats(test, kh, st);
	KUNIT_EXPECT_LE(test, st->heap_bytes, SZ_64K + SZ_4K);
	kheap_check(test, kh);
}

static void buddy_test_kheap_debugfs_show(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, SZ_1M);
	struct seq_file m = { .size = PAGE_SIZE };
	static const char * const files[] = {
		"buddyinfo", "stats", "unusable_index", "extfrag_index", "map",
	};
	struct dentry *d;
	unsigned int i;
	char want[64];
	u64 off;

	m.buf = kunit_kzalloc(test, m.size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, m.buf);
	m.private = kh;
	if (IS_ERR_OR_NULL(kh->debugfs))
		kunit_skip(test, "no debugfs");
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		d = debugfs_lookup(files[i], kh->debugfs);
		KUNIT_EXPECT_NOT_NULL_MSG(test, d, "%s", files[i]);
		dput(d);
	}
	/* one free 64 KiB chunk: orders 0..12 fit, 13..16 do not */
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_64K, &off), 0);
	KUNIT_ASSERT_EQ(test, kfree_op(kh, off, NULL), 0);
	KUNIT_ASSERT_EQ(test, stats_show(&m, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, strnstr(m.buf, "\nheap_bytes 65536\n",
					    m.count));
	KUNIT_EXPECT_NOT_NULL(test, strnstr(m.buf, "\nlargest_free_order 12\n",
					    m.count));
	m.count = 0;
	KUNIT_ASSERT_EQ(test, buddyinfo_show(&m, NULL), 0);
	snprintf(want, sizeof(want), "heap %llu ", kh->id);
	KUNIT_EXPECT_EQ(test, strncmp(m.buf, want, strlen(want)), 0);
	m.count = 0;
	KUNIT_ASSERT_EQ(test, unusable_index_show(&m, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, strnstr(m.buf, " 0.000 1.000 ", m.count));
	m.count = 0;
	KUNIT_ASSERT_EQ(test, extfrag_index_show(&m, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, strnstr(m.buf, "-1.000 ", m.count));
}

/* -- memory cgroup -- */

static void buddy_test_kheap_memcg_charged(struct kunit *test)
{
	struct buddy_kheap *kh;
	struct mem_cgroup *old;
	unsigned long before, during, after;
	u64 off;
	int ret;

	struct buddy_kheap_params p = {
		.cap_bytes = KT_CAP,
		.min_chunk_bytes = KT_MIN_CHUNK,
	};

	if (!kt_memcg)
		kunit_skip(test, "insmod did not run in a memory cgroup");
	old = set_active_memcg(kt_memcg);
	before = page_counter_read(&kt_memcg->memory);
	kh = buddy_kheap_create(&p, NULL);
	ret = IS_ERR(kh) ? PTR_ERR(kh) : kmalloc_op(kh, SZ_4M, &off);
	during = page_counter_read(&kt_memcg->memory);
	if (!IS_ERR(kh))
		buddy_kheap_destroy(kh);
	after = page_counter_read(&kt_memcg->memory);
	set_active_memcg(old);

	KUNIT_ASSERT_EQ(test, ret, 0);
	/*
	 * The 4 MiB chunk is charged to the caller's cgroup, and uncharged.
	 * Per-cpu charge stocks (a batch per CPU) blur the counter a little.
	 */
	KUNIT_EXPECT_GE(test, during + 2 * MEMCG_CHARGE_BATCH,
			before + SZ_4M / PAGE_SIZE);
	KUNIT_EXPECT_LE(test, after, before + 2 * MEMCG_CHARGE_BATCH);
}

static void buddy_test_kheap_memcg_limit(struct kunit *test)
{
	struct buddy_kheap *kh;
	struct mem_cgroup *old;
	struct buddy_stats *st;
	unsigned long max;
	unsigned int n = 0;
	u64 off;
	int ret;

	if (!kt_memcg)
		kunit_skip(test, "insmod did not run in a memory cgroup");
	max = READ_ONCE(kt_memcg->memory.max);
	if (max == PAGE_COUNTER_MAX || (u64)max * PAGE_SIZE > SZ_128M)
		kunit_skip(test, "the cgroup's memory.max is not set low");
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	old = set_active_memcg(kt_memcg);
	kh = tkheap(test, SZ_1G);
	while ((ret = kmalloc_op(kh, SZ_1M, &off)) == 0 && n < 1024)
		n++;
	set_active_memcg(old);

	/* the cgroup's limit, not the heap's cap, says no: quietly */
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	kheap_stats(test, kh, st);
	KUNIT_EXPECT_LT(test, st->heap_bytes, (u64)SZ_1G);
	KUNIT_EXPECT_LE(test, st->heap_bytes, (u64)max * PAGE_SIZE);
	KUNIT_EXPECT_GT(test, n, 0);
	kheap_check(test, kh);
}

/* -- fault injection (failslab + fail_page_alloc, armed by kunit/run) -- */

/*
 * Make every allocation of this thread fail.  kunit/run arms failslab and
 * fail_page_alloc with task-filter, probability 100 and no gfp exemptions;
 * the flag picks this thread.  Skips the case if injection is not armed.
 */
static void inject_begin(struct kunit *test)
{
#ifdef CONFIG_FAULT_INJECTION
	void *probe;

	current->make_it_fail = 1;
	probe = kmalloc(64, GFP_KERNEL | __GFP_NOWARN);
	if (probe) {
		current->make_it_fail = 0;
		kfree(probe);
		kunit_skip(test, "failslab is not armed (kunit/run arms it)");
	}
#else
	kunit_skip(test, "no CONFIG_FAULT_INJECTION");
#endif
}

static void inject_end(void)
{
#ifdef CONFIG_FAULT_INJECTION
	current->make_it_fail = 0;
#endif
}

/* A heap with one live block and room left in its only chunk. */
static struct buddy_kheap *tkheap_injectable(struct kunit *test, u64 *blk)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, blk), 0);
	memset(kheap_ptr(test, kh, *blk), 0x6b, 16);
	return kh;
}

static void expect_kheap_unchanged(struct kunit *test, struct buddy_kheap *kh,
				   const struct buddy_stats *before,
				   u64 blk, unsigned int failed)
{
	struct buddy_stats *now = kunit_kzalloc(test, sizeof(*now), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, now);
	kheap_check(test, kh);
	kheap_stats(test, kh, now);
	KUNIT_EXPECT_EQ(test, now->heap_bytes, before->heap_bytes);
	KUNIT_EXPECT_EQ(test, now->nr_chunks, before->nr_chunks);
	KUNIT_EXPECT_EQ(test, now->bytes_in_use, before->bytes_in_use);
	KUNIT_EXPECT_EQ(test, now->live_blocks, before->live_blocks);
	KUNIT_EXPECT_EQ(test, now->nr_failed, before->nr_failed + failed);
	KUNIT_EXPECT_NULL(test, memchr_inv(kheap_ptr(test, kh, blk), 0x6b, 16));
}

static void buddy_test_inject_create(struct kunit *test)
{
	struct buddy_kheap_params p = {
		.cap_bytes = KT_CAP,
		.min_chunk_bytes = KT_MIN_CHUNK,
		.debugfs_root = kt_debugfs,
	};
	struct buddy_kheap *kh;

	inject_begin(test);
	kh = buddy_kheap_create(&p, NULL);
	inject_end();
	KUNIT_EXPECT_TRUE(test, IS_ERR(kh));
	if (!IS_ERR_OR_NULL(kh))
		buddy_kheap_destroy(kh);
	else
		KUNIT_EXPECT_EQ(test, PTR_ERR(kh), -ENOMEM);
}

static void buddy_test_inject_alloc(struct kunit *test)
{
	struct buddy_stats *before = kunit_kzalloc(test, sizeof(*before),
						   GFP_KERNEL);
	struct buddy_kheap *kh;
	int ret[3];
	u64 blk;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, before);
	kh = tkheap_injectable(test, &blk);
	kheap_stats(test, kh, before);
	/* each needs a new chunk: vmalloc and kvzalloc both fail */
	inject_begin(test);
	ret[0] = kmalloc_op(kh, SZ_128K, NULL);
	ret[1] = kmalloc_nr(kh, _IOC_NR(BUDDY_IOC_CALLOC), SZ_64K, 2, 0, NULL);
	ret[2] = kmalloc_nr(kh, _IOC_NR(BUDDY_IOC_MEMALIGN), 16, 0, SZ_1M,
			    NULL);
	inject_end();
	KUNIT_EXPECT_EQ(test, ret[0], -ENOMEM);
	KUNIT_EXPECT_EQ(test, ret[1], -ENOMEM);
	KUNIT_EXPECT_EQ(test, ret[2], -ENOMEM);
	expect_kheap_unchanged(test, kh, before, blk, 3);
	/* and with memory back, the same request succeeds */
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, SZ_128K, NULL), 0);
	kheap_check(test, kh);
}

static void buddy_test_inject_realloc(struct kunit *test)
{
	struct buddy_stats *before = kunit_kzalloc(test, sizeof(*before),
						   GFP_KERNEL);
	struct buddy_kheap *kh;
	u64 blk, now = U64_MAX;
	u32 reason = 0;
	int ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, before);
	kh = tkheap_injectable(test, &blk);
	kheap_stats(test, kh, before);
	inject_begin(test);
	ret = kblock_op(kh, _IOC_NR(BUDDY_IOC_REALLOC), blk, SZ_256K, &reason,
			&now);
	inject_end();
	/* the block stays where it was, whole */
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NONE);
	expect_kheap_unchanged(test, kh, before, blk, 1);
}

static void buddy_test_inject_batch(struct kunit *test)
{
	struct buddy_stats *before = kunit_kzalloc(test, sizeof(*before),
						   GFP_KERNEL);
	struct buddy_batch b = { .op_size = sizeof(struct buddy_op) };
	struct buddy_op ops[3] = {
		{ .op = BUDDY_OP_MALLOC, .size = SZ_1M },
		{ .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = SZ_2M },
		{ .op = BUDDY_OP_CALLOC, .size = SZ_1M, .arg = 3 },
	};
	struct buddy_kheap *kh;
	unsigned int i;
	int ret;
	u64 blk;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, before);
	kh = tkheap_injectable(test, &blk);
	kheap_stats(test, kh, before);
	b.count = ARRAY_SIZE(ops);
	inject_begin(test);
	ret = buddy_kheap_batch(kh, &b, ops);
	inject_end();
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, b.done, ARRAY_SIZE(ops));
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		KUNIT_EXPECT_EQ_MSG(test, ops[i].result, -ENOMEM, "op %u", i);
	expect_kheap_unchanged(test, kh, before, blk, ARRAY_SIZE(ops));
}

static void buddy_test_inject_clone(struct kunit *test)
{
	struct buddy_kheap *kh, *copy;
	u64 blk;

	kh = tkheap_injectable(test, &blk);
	inject_begin(test);
	copy = buddy_kheap_clone(kh, NULL);
	inject_end();
	KUNIT_EXPECT_TRUE(test, IS_ERR(copy));
	if (!IS_ERR_OR_NULL(copy))
		buddy_kheap_destroy(copy);
	else
		KUNIT_EXPECT_EQ(test, PTR_ERR(copy), -ENOMEM);
	kheap_check(test, kh);
}

static void buddy_test_inject_stats(struct kunit *test)
{
	struct buddy_heap_stats *st = kunit_kzalloc(test, sizeof(*st),
						    GFP_KERNEL);
	struct buddy_kheap *kh;
	u64 blk;
	int ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	kh = tkheap_injectable(test, &blk);
	inject_begin(test);
	ret = buddy_kheap_stats(kh, st);
	inject_end();
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	kheap_check(test, kh);
	KUNIT_EXPECT_EQ(test, buddy_kheap_stats(kh, st), 0);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 1);
}

static void buddy_test_inject_free_space_still_served(struct kunit *test)
{
	struct buddy_kheap *kh;
	u64 blk, a = U64_MAX, now = U64_MAX;
	int ret[4];

	kh = tkheap_injectable(test, &blk);
	/* no new memory needed: the chunk already holds room for these */
	inject_begin(test);
	ret[0] = kmalloc_op(kh, SZ_4K, &a);
	ret[1] = kblock_op(kh, _IOC_NR(BUDDY_IOC_REALLOC), blk, 32, NULL, &now);
	ret[2] = kfree_op(kh, a, NULL);
	ret[3] = kfree_op(kh, now, NULL);
	inject_end();
	KUNIT_EXPECT_EQ(test, ret[0], 0);
	KUNIT_EXPECT_EQ(test, ret[1], 0);
	KUNIT_EXPECT_EQ(test, now, blk);	/* grew in place */
	KUNIT_EXPECT_EQ(test, ret[2], 0);
	KUNIT_EXPECT_EQ(test, ret[3], 0);
	kheap_check(test, kh);
}

static struct kunit_case buddy_kheap_cases[] = {
	KUNIT_CASE_PARAM(buddy_test_kheap_params_rejected,
			 kparams_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_params_window),
	KUNIT_CASE(buddy_test_kheap_destroy_leaves_nothing),
	KUNIT_CASE(buddy_test_kheap_info),
	KUNIT_CASE(buddy_test_kheap_info_reserved),
	KUNIT_CASE_PARAM(buddy_test_kheap_alloc_rejected, kalloc_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_alloc_commands),
	KUNIT_CASE_PARAM(buddy_test_kheap_block_rejected, kblock_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_block_reasons),
	KUNIT_CASE(buddy_test_kheap_realloc),
	KUNIT_CASE(buddy_test_kheap_stats),
	KUNIT_CASE(buddy_test_kheap_stat_list),
	KUNIT_CASE_PARAM(buddy_test_kheap_batch_rejected, kbatch_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_batch),
	KUNIT_CASE(buddy_test_kheap_batch_empty),
	KUNIT_CASE(buddy_test_kheap_batch_stop_on_error),
	KUNIT_CASE(buddy_test_kheap_clone_args),
	KUNIT_CASE(buddy_test_kheap_clone),
	KUNIT_CASE(buddy_test_kheap_page_is_vmalloc_page),
	KUNIT_CASE(buddy_test_kheap_page_outside),
	KUNIT_CASE(buddy_test_kheap_fault_sigbus),
	KUNIT_CASE(buddy_test_kheap_cap),
	KUNIT_CASE(buddy_test_kheap_cap_not_power_of_two),
	KUNIT_CASE(buddy_test_kheap_debugfs_show),
	KUNIT_CASE(buddy_test_kheap_memcg_charged),
	KUNIT_CASE(buddy_test_kheap_memcg_limit),
	{}
};

static struct kunit_suite buddy_kheap_suite = {
	.name = "buddy_kheap",
	.suite_init = buddy_kheap_suite_init,
	.suite_exit = buddy_kheap_suite_exit,
	.test_cases = buddy_kheap_cases,
};

static struct kunit_case buddy_inject_cases[] = {
	KUNIT_CASE(buddy_test_inject_create),
	KUNIT_CASE(buddy_test_inject_alloc),
	KUNIT_CASE(buddy_test_inject_realloc),
	KUNIT_CASE(buddy_test_inject_batch),
	KUNIT_CASE(buddy_test_inject_clone),
	KUNIT_CASE(buddy_test_inject_stats),
	KUNIT_CASE(buddy_test_inject_free_space_still_served),
	{}
};

static struct kunit_suite buddy_inject_suite = {
	.name = "buddy_inject",
	.suite_init = buddy_kheap_suite_init,
	.suite_exit = buddy_kheap_suite_exit,
	.test_cases = buddy_inject_cases,
};

static struct kunit_suite *buddy_kunit_suites[] = {
	&buddy_order_suite, &buddy_alloc_suite, &buddy_memalign_suite,
	&buddy_realloc_suite, &buddy_errors_suite, &buddy_stats_suite,
	&buddy_growth_suite, &buddy_random_suite, &buddy_kheap_suite,
	&buddy_inject_suite,
};

/*
 * Not kunit_test_suites(): on 6.1 that runs a module's suites from the
 * MODULE_STATE_COMING notifier, before the module's parameters are parsed,
 * so seed= would be ignored.  module_init runs after parse_args(), in
 * insmod's context (the memcg cases rely on that too).
 */
static int __init buddy_kunit_init(void)
{
	return __kunit_test_suites_init(buddy_kunit_suites,
					ARRAY_SIZE(buddy_kunit_suites));
}
module_init(buddy_kunit_init);

static void __exit buddy_kunit_exit(void)
{
	__kunit_test_suites_exit(buddy_kunit_suites,
				 ARRAY_SIZE(buddy_kunit_suites));
}
module_exit(buddy_kunit_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy-kmod allocator");
MODULE_LICENSE("GPL");
