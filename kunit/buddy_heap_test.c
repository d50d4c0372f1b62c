// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the kernel side of a /dev/buddy heap: the heap glue
 * (buddy_heap.c) and its debugfs files (buddy_debugfs.c), in-kernel, with
 * the buddy core (buddy_core.c) under them.  buddy_kheap covers the
 * parameters, the requests, stats, clone, the fault path, the cap and the
 * memory cgroup charge; buddy_inject makes every allocation fail in turn
 * (kunit/guest arms failslab and fail_page_alloc).
 *
 * The sources are #included so the suites reach their static functions;
 * this module links nothing else.  Every heap a case makes with tkheap()
 * is a kunit resource of the case: when the case ends, however it ends,
 * its core heap is checked with buddy_check() (the case fails if it is
 * inconsistent) and destroyed.  Run them with `make kunit` (kunit/run).
 */

#include <kunit/test.h>
#include <linux/debugfs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page_counter.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "../buddy_core.c"
#include "../buddy_heap.c"
#include "../buddy_pages.c"
#include "../buddy_debugfs.c"

#include "buddy_test.h"
#include "buddy_kheap_fixture.h"

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
	{ "trim-one-unit", { .cap_bytes = SZ_1M, .min_chunk_bytes = SZ_64K,
			     .trim_block_bytes = BUDDY_TRIM_UNIT } },
	{ "trim-not-pow2", { .cap_bytes = SZ_1M, .min_chunk_bytes = SZ_64K,
			     .trim_block_bytes = SZ_8K + SZ_4K } },
	{ "trim-beyond-core", { .cap_bytes = SZ_1M, .min_chunk_bytes = SZ_64K,
				.trim_block_bytes =
					BUDDY_GRAIN << (BUDDY_MAX_ORDER + 1) } },
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

	if (!mem ||
	    ((struct buddy_pages *)mem)->array->nr != bytes >> PAGE_SHIFT)
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

static int kwrap_copy(void *ctx, void *dst, u64 dst_off, const void *src,
		      u64 src_off, u64 bytes)
{
	struct kwrap *w = ctx;

	return w->inner->copy(w->inner_ctx, dst, dst_off, src, src_off, bytes);
}

static int kwrap_zero(void *ctx, void *mem, u64 off, u64 bytes)
{
	struct kwrap *w = ctx;

	return w->inner->zero(w->inner_ctx, mem, off, bytes);
}

static const struct buddy_ops kwrap_ops = {
	.chunk_alloc = kwrap_chunk_alloc,
	.chunk_free = kwrap_chunk_free,
	.meta_alloc = kwrap_meta_alloc,
	.meta_free = kwrap_meta_free,
	.copy = kwrap_copy,
	.zero = kwrap_zero,
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

	kheap_expect_whole(test, kh);
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

/*
 * Malformed MALLOC/CALLOC/MEMALIGN operations: refused, nothing allocated.
 * What only the ioctl structs can get wrong (a reserved field, CALLOC's
 * align, MEMALIGN's nmemb, an unknown command: -ENOTTY) is decoded by
 * buddy_kmod.c and checked through the device by tests/vm.
 */
struct kalloc_case {
	const char *name;
	struct buddy_op op;
	int ret;
};

static const struct kalloc_case kalloc_bad[] = {
	{ "malloc-reason-in",
	  { .op = BUDDY_OP_MALLOC, .size = 16, .reason = 1 }, -EINVAL },
	{ "malloc-offset",
	  { .op = BUDDY_OP_MALLOC, .size = 16, .offset = 16 }, -EINVAL },
	{ "malloc-arg",
	  { .op = BUDDY_OP_MALLOC, .size = 16, .arg = 16 }, -EINVAL },
	{ "malloc-unknown-flag",
	  { .op = BUDDY_OP_MALLOC, .size = 16, .flags = 2 }, -EINVAL },
	{ "malloc-high-flag",
	  { .op = BUDDY_OP_MALLOC, .size = 16, .flags = 1U << 31 }, -EINVAL },
	{ "malloc-too-big",
	  { .op = BUDDY_OP_MALLOC, .size = KT_CAP * 2 }, -ENOMEM },
	{ "malloc-u64-max",
	  { .op = BUDDY_OP_MALLOC, .size = U64_MAX }, -ENOMEM },
	{ "calloc-offset",
	  { .op = BUDDY_OP_CALLOC, .size = 16, .arg = 2, .offset = 16 },
	  -EINVAL },
	{ "calloc-overflow",
	  { .op = BUDDY_OP_CALLOC, .size = 1ULL << 32, .arg = 1ULL << 32 },
	  -ENOMEM },
	{ "calloc-overflow-by-one",
	  { .op = BUDDY_OP_CALLOC, .size = U64_MAX / 3 + 1, .arg = 3 },
	  -ENOMEM },
	{ "calloc-too-big",
	  { .op = BUDDY_OP_CALLOC, .size = KT_CAP, .arg = 2 }, -ENOMEM },
	{ "calloc-reason-in",
	  { .op = BUDDY_OP_CALLOC, .size = 16, .arg = 1, .reason = 4 },
	  -EINVAL },
	{ "memalign-offset",
	  { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 64, .offset = 64 },
	  -EINVAL },
	{ "memalign-align-zero",
	  { .op = BUDDY_OP_MEMALIGN, .size = 16 }, -EINVAL },
	{ "memalign-align-not-pow2",
	  { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 96 }, -EINVAL },
	{ "memalign-align-beyond-window",
	  { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = KT_CAP * 2 }, -ENOMEM },
	{ "memalign-unknown-flag",
	  { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 64, .flags = 4 },
	  -EINVAL },
	{ "op-zero", { .size = 16 }, -EINVAL },
	{ "op-after-last", { .op = BUDDY_OP_USABLE_SIZE + 1, .size = 16 },
	  -EINVAL },
	{ "op-unknown", { .op = 0x7f, .size = 16 }, -EINVAL },
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
	struct buddy_op op = c->op;
	struct buddy_stats *st;

	op.usable = 0x1234;
	KUNIT_EXPECT_EQ(test, buddy_kheap_op(kh, &op), c->ret);
	/* nothing happened, and nothing came back */
	KUNIT_EXPECT_EQ(test, op.offset, c->op.offset);
	KUNIT_EXPECT_EQ(test, op.usable, 0x1234);
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, st);
	kheap_stats(test, kh, st);
	KUNIT_EXPECT_EQ(test, st->live_blocks, 0);
	KUNIT_EXPECT_EQ(test, st->heap_bytes, 0);
	kheap_check(test, kh);
}

static void buddy_test_kheap_alloc_ops(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_op op = { .op = BUDDY_OP_MALLOC, .size = 100 };
	u64 dirty;

	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.usable, 128);
	/* dirty the block, free it: calloc gets it back zeroed */
	dirty = op.offset;
	kheap_fill(test, kh, dirty, 0xff, 128);
	KUNIT_ASSERT_EQ(test, kfree_op(kh, op.offset, NULL), 0);
	op = (struct buddy_op){ .op = BUDDY_OP_CALLOC, .size = 10, .arg = 10 };
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.usable, 128);
	KUNIT_EXPECT_EQ(test, op.offset, dirty);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, dirty, 0, 128));
	op = (struct buddy_op){
		.op = BUDDY_OP_MEMALIGN,
		.size = 16,
		.arg = SZ_8K,
	};
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.offset % SZ_8K, 0);
	KUNIT_EXPECT_EQ(test, op.usable, 16);
	kheap_check(test, kh);
}

/* Malformed FREE/REALLOC/USABLE_SIZE operations on a live block. */
struct kblock_case {
	const char *name;
	struct buddy_op op;
	int ret;
};

static const struct kblock_case kblock_bad[] = {
	{ "free-size", { .op = BUDDY_OP_FREE, .size = 1 }, -EINVAL },
	{ "free-flags", { .op = BUDDY_OP_FREE, .flags = 1 }, -EINVAL },
	{ "free-arg", { .op = BUDDY_OP_FREE, .arg = 1 }, -EINVAL },
	{ "free-reason-in", { .op = BUDDY_OP_FREE, .reason = 1 }, -EINVAL },
	{ "usable-size", { .op = BUDDY_OP_USABLE_SIZE, .size = 16 }, -EINVAL },
	{ "usable-flags", { .op = BUDDY_OP_USABLE_SIZE, .flags = 1 }, -EINVAL },
	{ "usable-arg", { .op = BUDDY_OP_USABLE_SIZE, .arg = 16 }, -EINVAL },
	{ "usable-reason-in", { .op = BUDDY_OP_USABLE_SIZE, .reason = 3 },
	  -EINVAL },
	{ "realloc-unknown-flag",
	  { .op = BUDDY_OP_REALLOC, .size = 32, .flags = 2 }, -EINVAL },
	{ "realloc-arg", { .op = BUDDY_OP_REALLOC, .size = 32, .arg = 32 },
	  -EINVAL },
	{ "realloc-reason-in",
	  { .op = BUDDY_OP_REALLOC, .size = 32, .reason = 2 }, -EINVAL },
	{ "realloc-too-big", { .op = BUDDY_OP_REALLOC, .size = KT_CAP * 2 },
	  -ENOMEM },
	{ "op-zero", { }, -EINVAL },
	{ "op-unknown", { .op = 0x7f }, -EINVAL },
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
	struct buddy_op op = c->op;
	u64 off, usable = 0;

	/* aim at a live block, so only the malformed field is wrong */
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &off), 0);
	op.offset = off;
	op.usable = 0x1234;
	KUNIT_EXPECT_EQ(test, buddy_kheap_op(kh, &op), c->ret);
	/* nothing came back */
	KUNIT_EXPECT_EQ(test, op.offset, off);
	KUNIT_EXPECT_EQ(test, op.usable, 0x1234);
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
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_REALLOC, off + 16,
					KT_CAP * 2, &reason, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NOT_BLOCK_START);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE,
					U64_MAX - 15, 0, &reason, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_OUTSIDE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off, &reason), 0);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NONE);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_ALREADY_FREE);
	kheap_check(test, kh);
}

static void buddy_test_kheap_trim(struct kunit *test)
{
	static const char want_map[] =
		"0x0 8 allocated\n0x1000 6 continued\n0x1400 6 free\n"
		"0x1800 7 free\n0x2000 9 free\n0x4000 10 free\n0x8000 11 free\n";
	struct buddy_kheap_params p = {
		.cap_bytes = SZ_1M,
		.min_chunk_bytes = KT_MIN_CHUNK,
		.trim_block_bytes = SZ_8K,
	};
	struct seq_file m = { .size = PAGE_SIZE };
	struct buddy_op op = { .op = BUDDY_OP_USABLE_SIZE };
	struct buddy_map_iter *it;
	struct buddy_kheap *kh;
	loff_t pos;
	u32 reason = 0;
	void *r;
	u64 off;

	/* blocks of 8 KiB and up are trimmed: the core's order 9 */
	KUNIT_EXPECT_EQ(test, buddy_kheap_check_params(&p), 0);
	kh = tkheap_params(test, &p);
	KUNIT_EXPECT_EQ(test, kh->core.cfg.trim_order, 9);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 5000, &off), 0);
	KUNIT_EXPECT_EQ(test, off, 0);
	op.offset = off;
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.usable, 5120);
	/* the run's second block is not a block start for the ABI either */
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off + 4096, &reason), -EINVAL);
	KUNIT_EXPECT_EQ(test, reason, BUDDY_REASON_NOT_BLOCK_START);
	/* the debugfs map names it "continued" */
	m.buf = kunit_kzalloc(test, m.size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, m.buf);
	it = kunit_kzalloc(test, sizeof(*it), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, it);
	it->kh = kh;
	for (pos = 0; (r = buddy_map_get(it, pos)) && !IS_ERR(r); pos++)
		KUNIT_ASSERT_EQ(test, buddy_map_show(&m, r), 0);
	KUNIT_EXPECT_FALSE(test, IS_ERR(r));
	KUNIT_EXPECT_EQ(test, m.count, strlen(want_map));
	KUNIT_EXPECT_EQ_MSG(test, strncmp(m.buf, want_map, strlen(want_map)),
			    0, "map:\n%.*s", (int)m.count, m.buf);
	KUNIT_EXPECT_EQ(test, kfree_op(kh, off, &reason), 0);
	kheap_check(test, kh);

	/* a trimmed size above the window trims nothing */
	p.cap_bytes = SZ_64K;
	p.trim_block_bytes = SZ_128K;
	KUNIT_EXPECT_EQ(test, buddy_kheap_check_params(&p), 0);
	kh = tkheap_params(test, &p);
	KUNIT_EXPECT_EQ(test, kh->core.cfg.trim_order, 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 5000, &off), 0);
	op.offset = off;
	op.usable = 0;
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.usable, 8192);
	kheap_check(test, kh);
}

static void buddy_test_kheap_realloc(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	struct buddy_op op = { .op = BUDDY_OP_REALLOC };
	u64 x, y;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &x), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &y), 0);
	kheap_fill(test, kh, x, 0x3c, 16);
	op.offset = x;
	op.size = 1000;
	op.flags = BUDDY_ALLOC_ZERO;
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_NE(test, op.offset, x);
	KUNIT_EXPECT_EQ(test, op.usable, 1024);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, op.offset, 0x3c, 16));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, op.offset + 16, 0,
					  1024 - 16));
	op = (struct buddy_op){ .op = BUDDY_OP_USABLE_SIZE, .offset = y };
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(kh, &op), 0);
	KUNIT_EXPECT_EQ(test, op.usable, 16);
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
	kheap_fill(test, kh, a, 0x5e, 300);
	kheap_fill(test, kh, b, 0xe5, SZ_256K);
	copy = buddy_kheap_clone(kh, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy);
	tkheap_adopt(test, copy);
	KUNIT_EXPECT_NE(test, copy->id, kh->id);
	KUNIT_EXPECT_EQ(test, copy->window_bytes, kh->window_bytes);
	kheap_check(test, copy);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, a, 0x5e, 300));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, b, 0xe5, SZ_256K));
	/* afterwards each goes its own way */
	KUNIT_EXPECT_EQ(test, kfree_op(copy, a, NULL), 0);
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, 16, &c), 0);
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy, 16, &d), 0);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, a,
					0, NULL, NULL), 0);
	kheap_check(test, kh);
	kheap_check(test, copy);
}

/*
 * The page the fault path maps for window @off of @kh (buddy_kheap_pages_at()),
 * or NULL where it maps none; the caller holds @kh->lock.
 */
static struct page *kt_fault_page(struct buddy_kheap *kh, u64 off)
{
	struct buddy_pages *bp;
	unsigned long i;

	lockdep_assert_held(&kh->lock);
	bp = buddy_kheap_pages_at(kh, off, &i);
	return bp ? bp->array->pages[i] : NULL;
}

static void buddy_test_kheap_page_is_chunk_page(struct kunit *test)
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
		const struct buddy_pages *bp = c->mem;
		u64 bytes = BUDDY_GRAIN << c->order;

		KUNIT_EXPECT_EQ(test, bp->array->nr, bytes >> PAGE_SHIFT);
		for (pg = 0; pg < bytes; pg += PAGE_SIZE, pages++)
			KUNIT_EXPECT_PTR_EQ(test,
					    kt_fault_page(kh, c->offset + pg),
					    bp->array->pages[pg >> PAGE_SHIFT]);
	}
	mutex_unlock(&kh->lock);
	KUNIT_EXPECT_EQ(test, pages, (SZ_64K + SZ_64K + SZ_256K) / PAGE_SIZE);
}

static void buddy_test_kheap_page_outside(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);
	const unsigned long last = KT_MIN_CHUNK / PAGE_SIZE - 1;
	const struct buddy_chunk *c = &kh->core.chunks[0];
	const struct buddy_pages *bp;
	u64 off;

	/* one chunk, [0, KT_MIN_CHUNK): the hole after it is unmapped */
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, &off), 0);
	KUNIT_ASSERT_EQ(test, kh->core.nr_chunks, 1);
	KUNIT_ASSERT_EQ(test, c->offset, 0);
	KUNIT_ASSERT_EQ(test, BUDDY_GRAIN << c->order, KT_MIN_CHUNK);
	bp = c->mem;
	mutex_lock(&kh->lock);
	KUNIT_EXPECT_PTR_EQ(test, kt_fault_page(kh, 0), bp->array->pages[0]);
	/* an unaligned offset is in the page that holds it */
	KUNIT_EXPECT_PTR_EQ(test, kt_fault_page(kh, 16), bp->array->pages[0]);
	KUNIT_EXPECT_PTR_EQ(test, kt_fault_page(kh, PAGE_SIZE + 16),
			    bp->array->pages[1]);
	KUNIT_EXPECT_PTR_EQ(test, kt_fault_page(kh, KT_MIN_CHUNK - 1),
			    bp->array->pages[last]);
	KUNIT_EXPECT_NULL(test, kt_fault_page(kh, KT_MIN_CHUNK)); /* hole */
	/* past the window */
	KUNIT_EXPECT_NULL(test, kt_fault_page(kh, KT_CAP));
	KUNIT_EXPECT_NULL(test, kt_fault_page(kh, U64_MAX & PAGE_MASK));
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
	if (!IS_ERR(kh)) {
		kheap_expect_whole(test, kh);
		buddy_kheap_destroy(kh);
	}
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

/* A heap with one live block and room left in its only chunk. */
static struct buddy_kheap *tkheap_injectable(struct kunit *test, u64 *blk)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 16, blk), 0);
	kheap_fill(test, kh, *blk, 0x6b, 16);
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
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, blk, 0x6b, 16));
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
	ret[1] = kalloc_op(kh, BUDDY_OP_CALLOC, SZ_64K, 2, NULL);
	ret[2] = kalloc_op(kh, BUDDY_OP_MEMALIGN, 16, SZ_1M, NULL);
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
	ret = kblock_op(kh, BUDDY_OP_REALLOC, blk, SZ_256K, &reason, &now);
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
	ret[1] = kblock_op(kh, BUDDY_OP_REALLOC, blk, 32, NULL, &now);
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
	KUNIT_CASE(buddy_test_kheap_alloc_ops),
	KUNIT_CASE_PARAM(buddy_test_kheap_block_rejected, kblock_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_block_reasons),
	KUNIT_CASE(buddy_test_kheap_trim),
	KUNIT_CASE(buddy_test_kheap_realloc),
	KUNIT_CASE(buddy_test_kheap_stats),
	KUNIT_CASE(buddy_test_kheap_stat_list),
	KUNIT_CASE_PARAM(buddy_test_kheap_batch_rejected, kbatch_bad_gen_params),
	KUNIT_CASE(buddy_test_kheap_batch),
	KUNIT_CASE(buddy_test_kheap_batch_empty),
	KUNIT_CASE(buddy_test_kheap_batch_stop_on_error),
	KUNIT_CASE(buddy_test_kheap_clone_args),
	KUNIT_CASE(buddy_test_kheap_clone),
	KUNIT_CASE(buddy_test_kheap_page_is_chunk_page),
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

static struct kunit_suite *buddy_heap_test_suites[] = {
	&buddy_kheap_suite, &buddy_inject_suite,
};

/*
 * Not kunit_test_suites(), like the core's test modules: module_init runs
 * the suites in insmod's context, which the memcg cases rely on.
 */
static int __init buddy_heap_test_init(void)
{
	return __kunit_test_suites_init(buddy_heap_test_suites,
					ARRAY_SIZE(buddy_heap_test_suites));
}
module_init(buddy_heap_test_init);

static void __exit buddy_heap_test_exit(void)
{
	__kunit_test_suites_exit(buddy_heap_test_suites,
				 ARRAY_SIZE(buddy_heap_test_suites));
}
module_exit(buddy_heap_test_exit);

MODULE_DESCRIPTION("KUnit tests for the buddy-kmod heap glue and its debugfs files");
MODULE_LICENSE("GPL");
