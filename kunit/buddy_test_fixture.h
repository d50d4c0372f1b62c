/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test heap fixture of the buddy core's KUnit modules
 * (buddy_core_test.c, buddy_core_errors_test.c, buddy_core_growth_test.c):
 * a core heap whose embedder callbacks count everything, the helpers the
 * cases build on, and the seed= module parameter of the randomized cases.
 *
 * Every heap comes from tfix_new() and is a kunit resource of its case:
 * when the case ends, however it ends, a heap it left live is checked with
 * buddy_check() (the case fails if it is inconsistent) and destroyed.
 * Chunks come from vmalloc() and metadata from kvzalloc(), like the
 * module's, so KASAN watches every byte the core touches.
 *
 * Include it after ../buddy_core.c and buddy_test.h, once per module.  The
 * helpers not every module needs are __maybe_unused.
 */
#ifndef BUDDY_TEST_FIXTURE_H
#define BUDDY_TEST_FIXTURE_H

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static unsigned int seed;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "seed of the randomized cases (0: pick one)");

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
 * @copied_bytes: bytes the copy calls were asked to copy.
 * @zeroes: zero calls.
 * @write_budget: copy and zero calls that may still succeed (-1: any).
 * @chunk_budget: chunk_alloc calls that may still succeed (-1: any).
 * @chunk_max_bytes: chunk_alloc refuses chunks larger than this (0: none).
 * @meta_budget: meta_alloc calls that may still succeed (-1: any).
 * @bad_free: a callback was asked to free something it never handed out.
 * @test: the case that owns the fixture.
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
	u64 copied_bytes;
	unsigned long zeroes;
	long write_budget;
	long chunk_budget;
	u64 chunk_max_bytes;
	long meta_budget;
	bool bad_free;
	struct kunit *test;
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

/* Copies and zeroing fail with -ENOMEM once @write_budget is used up. */
static int tfix_write(struct tfix *f)
{
	if (!f->write_budget)
		return -ENOMEM;
	if (f->write_budget > 0)
		f->write_budget--;
	return 0;
}

static int tfix_copy(void *ctx, void *dst, u64 dst_off, const void *src,
		     u64 src_off, u64 bytes)
{
	struct tfix *f = ctx;

	if (tfix_write(f))
		return -ENOMEM;
	f->copies++;
	f->copied_bytes += bytes;
	memcpy((u8 *)dst + dst_off, (const u8 *)src + src_off, bytes);
	return 0;
}

static int tfix_zero(void *ctx, void *mem, u64 off, u64 bytes)
{
	struct tfix *f = ctx;

	if (tfix_write(f))
		return -ENOMEM;
	f->zeroes++;
	memset((u8 *)mem + off, 0, bytes);
	return 0;
}

static const struct buddy_ops tfix_ops = {
	.chunk_alloc = tfix_chunk_alloc,
	.chunk_free = tfix_chunk_free,
	.meta_alloc = tfix_meta_alloc,
	.meta_free = tfix_meta_free,
	.copy = tfix_copy,
	.zero = tfix_zero,
};

/* Check what is left of @f's heap, if any, and destroy it. */
static void tfix_destroy(struct tfix *f)
{
	if (f->live) {
		buddy_test_expect_whole(f->test, &f->heap);
		buddy_heap_destroy(&f->heap);
	}
	f->live = false;
}

static int tfix_res_init(struct kunit_resource *res, void *context)
{
	res->data = context;
	return 0;
}

/*
 * Runs when the case ends, however it ends: the heap the case left live
 * must pass buddy_check(), and nothing may leak into kmemleak.
 */
static void tfix_res_free(struct kunit_resource *res)
{
	struct tfix *f = res->data;

	tfix_destroy(f);
	kfree(f);
}

/* A test heap fixture, not yet initialised; freed when the case ends. */
static struct tfix *tfix_new(struct kunit *test)
{
	struct tfix *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f);
	f->test = test;
	f->chunk_budget = -1;
	f->meta_budget = -1;
	f->write_budget = -1;
	if (!kunit_alloc_resource(test, tfix_res_init, tfix_res_free,
				  GFP_KERNEL, f)) {
		kfree(f);
		KUNIT_ASSERT_TRUE_MSG(test, false, "kunit_alloc_resource failed");
	}
	return f;
}

/* Initialise @f's heap with @cfg and the counting callbacks. */
static int tfix_init_cfg(struct tfix *f, const struct buddy_config *cfg)
{
	int ret;

	ret = buddy_heap_init(&f->heap, cfg, &tfix_ops, f);
	f->live = !ret;
	return ret;
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

	return tfix_init_cfg(f, &cfg);
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

/* A heap with the given limits making trimmed runs from @trim_order on. */
static __maybe_unused struct tfix *theap_trim(struct kunit *test,
					      unsigned int max_order,
					      unsigned int chunk_order,
					      u64 low_water,
					      unsigned int trim_order)
{
	struct buddy_config cfg = {
		.max_order = max_order,
		.min_chunk_order = chunk_order,
		.low_water_bytes = low_water,
		.trim_order = trim_order,
	};
	struct tfix *f = tfix_new(test);

	KUNIT_ASSERT_EQ(test, tfix_init_cfg(f, &cfg), 0);
	return f;
}

/* The default heap: 1 MiB window, 4 KiB chunks, no cap, keep 4 KiB. */
static __maybe_unused struct tfix *theap_default(struct kunit *test)
{
	return theap(test, T_MAX_ORDER, T_CHUNK_ORDER, 0, osz(T_CHUNK_ORDER));
}

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

static u64 __maybe_unused trealloc(struct kunit *test, struct tfix *f,
				   u64 off, u64 size, unsigned int flags)
{
	u64 now = U64_MAX;

	KUNIT_ASSERT_EQ_MSG(test, buddy_heap_realloc(&f->heap, off, size, flags,
						     &now), 0,
			    "buddy_heap_realloc(%llu, %llu)", off, size);
	return now;
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

static void __maybe_unused tfill(struct kunit *test, struct tfix *f, u64 off,
				 u64 len, u8 pat)
{
	memset(tptr(test, f, off, len), pat, len);
}

static bool __maybe_unused tholds(struct kunit *test, struct tfix *f, u64 off,
				  u64 len, u8 pat)
{
	return !memchr_inv(tptr(test, f, off, len), pat, len);
}

/* Size of the order-@k block holding @size bytes, per the header's rules. */
static unsigned int __maybe_unused ref_order(u64 size)
{
	unsigned int k = 0;

	while (osz(k) < size)
		k++;
	return k;
}

/* Walks: an independent view of the heap, to compare the core with. */

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

static int __maybe_unused buddy_seed_suite_init(struct kunit_suite *suite)
{
	while (!seed)
		seed = get_random_u32();
	kunit_log(KERN_INFO, suite, KUNIT_SUBTEST_INDENT
		  "# %s: random seed %u (replay: insmod " KBUILD_MODNAME ".ko seed=%u)",
		  suite->name, seed, seed);
	return 0;
}

#endif /* BUDDY_TEST_FIXTURE_H */
