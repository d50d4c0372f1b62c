/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel heap fixture of the KUnit modules that test buddy_heap.c
 * (buddy_heap_test.c, buddy_cow_test.c): heaps like the module makes,
 * each a kunit resource of its case (checked with buddy_check() and
 * destroyed when the case ends, however it ends), the request helpers,
 * byte access through the chunks' pages, the suites' init (the memory
 * cgroup insmod ran in) and fault injection.
 *
 * Include it after ../buddy_core.c, ../buddy_heap.c, ../buddy_pages.c,
 * ../buddy_debugfs.c and buddy_test.h, once per module.  The helpers not
 * every module needs are __maybe_unused.
 */
#ifndef BUDDY_KHEAP_FIXTURE_H
#define BUDDY_KHEAP_FIXTURE_H

#include <kunit/test.h>
#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#define KT_MIN_CHUNK	SZ_64K
#define KT_CAP		SZ_16M

/* debugfs directory the suite's heaps hang their files under */
static struct dentry *kt_debugfs;
/* the memory cgroup insmod ran in (kunit/run makes one), or NULL */
static struct mem_cgroup *kt_memcg;

static int buddy_kheap_suite_init(struct kunit_suite *suite)
{
	struct mem_cgroup *memcg;

	kt_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
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

/* Fail @test, without aborting it, if @kh's core heap is inconsistent. */
static void kheap_expect_whole(struct kunit *test, struct buddy_kheap *kh)
{
	mutex_lock(&kh->lock);
	buddy_test_expect_whole(test, &kh->core);
	mutex_unlock(&kh->lock);
}

/* A heap of the case's: checked and destroyed when the case ends. */
struct kheap_ref {
	struct kunit *test;
	struct buddy_kheap *kh;
};

static int kheap_res_init(struct kunit_resource *res, void *context)
{
	res->data = context;
	return 0;
}

/*
 * Runs when the case ends, however it ends: the heap must pass
 * buddy_check(), and nothing may leak into kmemleak.
 */
static void kheap_res_free(struct kunit_resource *res)
{
	struct kheap_ref *ref = res->data;

	kheap_expect_whole(ref->test, ref->kh);
	buddy_kheap_destroy(ref->kh);
	kfree(ref);
}

/* Make @kh the case's, or destroy it and fail the case. */
static void tkheap_adopt(struct kunit *test, struct buddy_kheap *kh)
{
	struct kheap_ref *ref = kzalloc(sizeof(*ref), GFP_KERNEL);

	if (ref) {
		ref->test = test;
		ref->kh = kh;
		if (kunit_alloc_resource(test, kheap_res_init, kheap_res_free,
					 GFP_KERNEL, ref))
			return;
		kfree(ref);
	}
	buddy_kheap_destroy(kh);
	KUNIT_ASSERT_TRUE_MSG(test, false, "kunit_alloc_resource failed");
}

static struct buddy_kheap *tkheap_params(struct kunit *test,
					 const struct buddy_kheap_params *p)
{
	struct buddy_kheap *kh = buddy_kheap_create(p, NULL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, kh);
	tkheap_adopt(test, kh);
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

/* MALLOC, CALLOC (@arg: count) or MEMALIGN (@arg: alignment). */
static int kalloc_op(struct buddy_kheap *kh, u32 opcode, u64 size, u64 arg,
		     u64 *off)
{
	struct buddy_op op = {
		.op = opcode,
		.size = size,
		.arg = arg,
	};
	int ret = buddy_kheap_op(kh, &op);

	if (off)
		*off = ret ? U64_MAX : op.offset;
	return ret;
}

static int kmalloc_op(struct buddy_kheap *kh, u64 size, u64 *off)
{
	return kalloc_op(kh, BUDDY_OP_MALLOC, size, 0, off);
}

/* FREE, REALLOC or USABLE_SIZE; @new_offset: REALLOC's block, 0 on error. */
static int kblock_op(struct buddy_kheap *kh, u32 opcode, u64 offset,
		     u64 size, u32 *reason, u64 *new_offset)
{
	struct buddy_op op = {
		.op = opcode,
		.offset = offset,
		.size = size,
	};
	int ret = buddy_kheap_op(kh, &op);

	if (reason)
		*reason = op.reason;
	if (new_offset)
		*new_offset = ret ? 0 : op.offset;
	return ret;
}

static int kfree_op(struct buddy_kheap *kh, u64 offset, u32 *reason)
{
	return kblock_op(kh, BUDDY_OP_FREE, offset, 0, reason, NULL);
}

/*
 * HEAP_CHECK() on @kh's core, asserting only once the lock is dropped: an
 * assertion ends the case's thread, and the heap's release takes the lock.
 */
static void kheap_check(struct kunit *test, struct buddy_kheap *kh)
{
	struct buddy_violation v = { };
	int ret;

	mutex_lock(&kh->lock);
	ret = buddy_check(&kh->core, &v);
	mutex_unlock(&kh->lock);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0,
			    "buddy_check: %s (offset %llu order %u)",
			    v.what ? v.what : "?", v.offset, v.order);
}

static void kheap_stats(struct kunit *test, struct buddy_kheap *kh,
			struct buddy_stats *st)
{
	mutex_lock(&kh->lock);
	buddy_get_stats(&kh->core, st);
	mutex_unlock(&kh->lock);
}

/*
 * Write @c to, or (@check) compare with @c, @len bytes at @off of @kh's
 * chunks, page by page, as a user's access through the window would: a
 * write first unshares the pages.  Returns whether all bytes compared equal.
 */
static bool kheap_bytes(struct kunit *test, struct buddy_kheap *kh, u64 off,
			int c, u64 len, bool check)
{
	struct buddy_pages *bp;
	bool same = true;
	unsigned long i;

	mutex_lock(&kh->lock);
	while (len) {
		unsigned int in_page = offset_in_page(off);
		size_t n = min_t(u64, len, PAGE_SIZE - in_page);
		u8 *p;

		bp = buddy_kheap_pages_at(kh, off, &i);
		KUNIT_ASSERT_NOT_NULL(test, bp);
		if (!check)
			KUNIT_ASSERT_EQ(test, buddy_pages_unshare(bp, i, kh->memcg),
					0);
		p = kmap_local_page(bp->array->pages[i]);
		if (check)
			same &= !memchr_inv(p + in_page, c, n);
		else
			memset(p + in_page, c, n);
		kunmap_local(p);
		off += n;
		len -= n;
	}
	mutex_unlock(&kh->lock);
	return same;
}

static void kheap_fill(struct kunit *test, struct buddy_kheap *kh, u64 off,
		       int c, u64 len)
{
	kheap_bytes(test, kh, off, c, len, false);
}

static bool kheap_all(struct kunit *test, struct buddy_kheap *kh, u64 off,
		      int c, u64 len)
{
	return kheap_bytes(test, kh, off, c, len, true);
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

#endif /* BUDDY_KHEAP_FIXTURE_H */
