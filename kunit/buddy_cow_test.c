// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite buddy_cow: clones of a kernel heap share its pages
 * copy-on-write (buddy_pages.c, buddy_kheap_clone()).  No byte is copied
 * by the clone; a write by either side, from the kernel (calloc, realloc)
 * or through the window, copies the page it touches, and the other side
 * keeps its bytes; pages go back to being one heap's alone when the other
 * heaps drop them; a copy that cannot be made fails the request with
 * -ENOMEM and leaves the heap as it was.  The user side (faults, fork,
 * GUP) is tested in the guest by tests/vm.
 */

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sizes.h>

#include "../buddy_core.c"
#include "../buddy_heap.c"
#include "../buddy_pages.c"
#include "../buddy_debugfs.c"

#include "buddy_test.h"
#include "buddy_kheap_fixture.h"

/*
 * What window @off of @kh holds, read under the heap's lock: the page,
 * whether another heap shares it, and how many heaps' chunks are its page
 * array.  All zero where no live chunk holds @off.
 */
struct cow_view {
	struct page *page;
	bool shared;
	unsigned int users;
};

static struct cow_view cow_look(struct buddy_kheap *kh, u64 off)
{
	struct cow_view v = {};
	struct buddy_pages *bp;
	unsigned long i;

	mutex_lock(&kh->lock);
	bp = buddy_kheap_pages_at(kh, round_down(off, PAGE_SIZE), &i);
	if (bp) {
		v.page = bp->array->pages[i];
		v.shared = buddy_pages_shared(bp, i);
		v.users = refcount_read(&bp->array->users);
	}
	mutex_unlock(&kh->lock);
	return v;
}

/* The page under window @off of @kh and whether another heap shares it. */
static struct page *cow_page(struct buddy_kheap *kh, u64 off, bool *shared)
{
	struct cow_view v = cow_look(kh, off);

	if (shared)
		*shared = v.shared;
	return v.page;
}

/* Heaps whose chunk is the page array under window @off of @kh. */
static unsigned int cow_array_users(struct buddy_kheap *kh, u64 off)
{
	return cow_look(kh, off).users;
}

/* Pages of [@off, @off + @len) that @a and @b both list. */
static unsigned long cow_common_pages(struct buddy_kheap *a,
				      struct buddy_kheap *b, u64 off, u64 len)
{
	unsigned long n = 0;
	u64 pg;

	for (pg = round_down(off, PAGE_SIZE); pg < off + len; pg += PAGE_SIZE)
		n += cow_page(a, pg, NULL) == cow_page(b, pg, NULL);
	return n;
}

/* A heap with a 300-byte block at *@a (0x5e) and a 256 KiB one at *@b (0xe5). */
static struct buddy_kheap *cow_heap(struct kunit *test, u64 *a, u64 *b)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP);

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 300, a), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_256K, b), 0);
	kheap_fill(test, kh, *a, 0x5e, 300);
	kheap_fill(test, kh, *b, 0xe5, SZ_256K);
	return kh;
}

static struct buddy_kheap *cow_clone(struct kunit *test,
				     struct buddy_kheap *kh)
{
	struct buddy_kheap *copy = buddy_kheap_clone(kh, NULL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy);
	tkheap_adopt(test, copy);
	return copy;
}

static void buddy_test_cow_clone_shares_pages(struct kunit *test)
{
	u64 a, b, pages = SZ_256K / PAGE_SIZE;
	struct buddy_kheap *kh = cow_heap(test, &a, &b);
	struct buddy_kheap *copy = cow_clone(test, kh);
	struct page *before;
	bool shared;

	/* both chunks are the one array: every page shared on both sides */
	KUNIT_EXPECT_EQ(test, cow_array_users(kh, b), 2);
	KUNIT_EXPECT_EQ(test, cow_common_pages(kh, copy, b, SZ_256K), pages);
	before = cow_page(kh, b, &shared);
	KUNIT_EXPECT_TRUE(test, shared);
	cow_page(copy, b, &shared);
	KUNIT_EXPECT_TRUE(test, shared);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, a, 0x5e, 300));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, b, 0xe5, SZ_256K));

	/*
	 * The copy writes 16 bytes: it gets an array of its own, listing the
	 * same pages but a copy of that one.
	 */
	kheap_fill(test, copy, b, 0x11, 16);
	KUNIT_EXPECT_EQ(test, cow_array_users(kh, b), 1);
	KUNIT_EXPECT_EQ(test, cow_array_users(copy, b), 1);
	KUNIT_EXPECT_PTR_EQ(test, cow_page(kh, b, &shared), before);
	KUNIT_EXPECT_FALSE(test, shared);
	KUNIT_EXPECT_PTR_NE(test, cow_page(copy, b, &shared), before);
	KUNIT_EXPECT_FALSE(test, shared);
	KUNIT_EXPECT_EQ(test, cow_common_pages(kh, copy, b, SZ_256K),
			pages - 1);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, b, 0xe5, SZ_256K));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, b, 0x11, 16));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, b + 16, 0xe5,
					  SZ_256K - 16));

	/* and the source writing leaves the copy alone */
	kheap_fill(test, kh, b + SZ_128K, 0x22, 16);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, b + SZ_128K, 0xe5, 16));
	KUNIT_EXPECT_EQ(test, cow_common_pages(kh, copy, b, SZ_256K),
			pages - 2);
}

static void buddy_test_cow_kernel_writes_copy(struct kunit *test)
{
	u64 a, b, c, moved;
	struct buddy_kheap *kh = cow_heap(test, &a, &b);
	struct buddy_kheap *copy = cow_clone(test, kh);
	struct buddy_op op;

	/* calloc in the copy, on the block the source still holds */
	KUNIT_ASSERT_EQ(test, kfree_op(copy, a, NULL), 0);
	op = (struct buddy_op){ .op = BUDDY_OP_CALLOC, .size = 30, .arg = 10 };
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(copy, &op), 0);
	c = op.offset;
	KUNIT_EXPECT_EQ(test, c, a);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, c, 0, 300));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, a, 0x5e, 300));

	/* realloc the shared 256 KiB block to 1 MiB, zeroing the rest */
	op = (struct buddy_op){
		.op = BUDDY_OP_REALLOC, .offset = b, .size = SZ_1M,
		.flags = BUDDY_ALLOC_ZERO,
	};
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(copy, &op), 0);
	moved = op.offset;
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, moved, 0xe5, SZ_256K));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, moved + SZ_256K, 0,
					  SZ_1M - SZ_256K));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, b, 0xe5, SZ_256K));
	/* the source's heap did not change */
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, b, 0, NULL,
					NULL), 0);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, a, 0, NULL,
					NULL), 0);
}

static void buddy_test_cow_drop_unshares(struct kunit *test)
{
	u64 a, b;
	struct buddy_kheap *kh = cow_heap(test, &a, &b);
	struct buddy_kheap *child, *grandchild;
	bool shared;

	child = buddy_kheap_clone(kh, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, child);
	grandchild = buddy_kheap_clone(child, NULL);
	if (IS_ERR(grandchild))
		buddy_kheap_destroy(child);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, grandchild);
	tkheap_adopt(test, grandchild);

	/* three heaps, one array */
	KUNIT_EXPECT_EQ(test, cow_array_users(kh, b), 3);
	KUNIT_EXPECT_EQ(test, page_private(cow_page(kh, b, NULL)), 0);
	/*
	 * The child writes: its own array and page; the other two still
	 * share theirs, whose other pages the child's array lists too.
	 */
	kheap_fill(test, child, b, 0x33, 8);
	KUNIT_EXPECT_EQ(test, cow_array_users(kh, b), 2);
	KUNIT_EXPECT_EQ(test, page_private(cow_page(kh, b, NULL)), 0);
	KUNIT_EXPECT_EQ(test, page_private(cow_page(kh, b + PAGE_SIZE, NULL)),
			1);
	KUNIT_EXPECT_PTR_EQ(test, cow_page(kh, b, NULL),
			    cow_page(grandchild, b, NULL));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, grandchild, b, 0xe5, 8));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, b, 0xe5, 8));

	/* the child goes: its array's pages are the others' alone again */
	kheap_expect_whole(test, child);
	buddy_kheap_destroy(child);
	KUNIT_EXPECT_EQ(test, page_private(cow_page(kh, b + PAGE_SIZE, NULL)),
			0);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, grandchild, a, 0x5e, 300));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, a, 0x5e, 300));

	/* and when the grandchild writes, the source's array is its own */
	kheap_fill(test, grandchild, b, 0x44, 8);
	KUNIT_EXPECT_EQ(test, cow_array_users(kh, b), 1);
	cow_page(kh, b, &shared);
	KUNIT_EXPECT_FALSE(test, shared);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, b, 0xe5, 8));
}

/*
 * A clone by a task that has pinned pages (MMF_HAS_PINNED) gets an array
 * of its own at once, listing the same pages (those not pinned).
 */
static void buddy_test_cow_share_own_array(struct kunit *test)
{
	struct buddy_pages *bp = buddy_pages_alloc(4, NULL), *twin;
	unsigned long i;

	KUNIT_ASSERT_NOT_NULL(test, bp);
	twin = buddy_pages_share(bp, true, NULL);
	if (!twin)
		buddy_pages_free(bp);
	KUNIT_ASSERT_NOT_NULL(test, twin);
	KUNIT_EXPECT_PTR_NE(test, twin->array, bp->array);
	KUNIT_EXPECT_EQ(test, refcount_read(&bp->array->users), 1);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_PTR_EQ(test, twin->array->pages[i],
				    bp->array->pages[i]);
		KUNIT_EXPECT_EQ(test, page_private(bp->array->pages[i]), 1);
		KUNIT_EXPECT_TRUE(test, buddy_pages_shared(bp, i));
	}
	memset(page_address(bp->array->pages[2]), 0x5a, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, buddy_pages_unshare(twin, 2, NULL), 0);
	KUNIT_EXPECT_PTR_NE(test, twin->array->pages[2], bp->array->pages[2]);
	KUNIT_EXPECT_FALSE(test, buddy_pages_shared(bp, 2));
	KUNIT_EXPECT_TRUE(test, buddy_pages_shared(bp, 3));
	KUNIT_EXPECT_NULL(test, memchr_inv(page_address(twin->array->pages[2]),
					   0x5a, PAGE_SIZE));
	buddy_pages_free(twin);
	KUNIT_EXPECT_FALSE(test, buddy_pages_shared(bp, 3));
	buddy_pages_free(bp);
}

/* A copy that cannot be made: -ENOMEM, the heap and both sides as before. */
static void buddy_test_cow_write_enomem(struct kunit *test)
{
	u64 a, b, c, moved;
	struct buddy_kheap *kh = cow_heap(test, &a, &b);
	struct buddy_kheap *copy = cow_clone(test, kh);
	struct buddy_stats *before, *now;
	struct buddy_op zalloc, grow;
	int ret_zalloc, ret_grow;

	before = kunit_kzalloc(test, sizeof(*before), GFP_KERNEL);
	now = kunit_kzalloc(test, sizeof(*now), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, before);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, now);
	kheap_stats(test, copy, before);

	/* every page of a cloned chunk is shared, free blocks' too */
	zalloc = (struct buddy_op){ .op = BUDDY_OP_CALLOC, .size = 100,
				    .arg = 1 };
	grow = (struct buddy_op){ .op = BUDDY_OP_REALLOC, .offset = a,
				  .size = 2000, .flags = BUDDY_ALLOC_ZERO };
	inject_begin(test);
	ret_zalloc = buddy_kheap_op(copy, &zalloc);
	ret_grow = buddy_kheap_op(copy, &grow);
	inject_end();

	KUNIT_EXPECT_EQ(test, ret_zalloc, -ENOMEM);
	KUNIT_EXPECT_EQ(test, ret_grow, -ENOMEM);
	kheap_check(test, copy);
	kheap_stats(test, copy, now);
	KUNIT_EXPECT_EQ(test, now->heap_bytes, before->heap_bytes);
	KUNIT_EXPECT_EQ(test, now->bytes_in_use, before->bytes_in_use);
	KUNIT_EXPECT_EQ(test, now->live_blocks, before->live_blocks);
	KUNIT_EXPECT_EQ(test, now->nr_failed, before->nr_failed + 2);
	KUNIT_EXPECT_EQ(test, cow_common_pages(kh, copy, a, 300), 1);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, a, 0x5e, 300));
	/* the same requests succeed once memory can be had */
	KUNIT_EXPECT_EQ(test, kalloc_op(copy, BUDDY_OP_CALLOC, 100, 1, &c), 0);
	grow.offset = a;
	KUNIT_ASSERT_EQ(test, buddy_kheap_op(copy, &grow), 0);
	moved = grow.offset;
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, c, 0, 100));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, moved, 0x5e, 300));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, copy, moved + 512, 0,
					  2048 - 512));
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, a, 0x5e, 300));
}

static refcount_t *cow_meta_users(struct buddy_kheap *kh)
{
	return &buddy_kheap_meta_of(kh->core.chunks[0].meta)->users;
}

/*
 * A clone shares each chunk's metadata: the first write on either side
 * copies it for that side, the side left alone then writes in place, and
 * a free into shared metadata succeeds even when no allocation can (its
 * copy is __GFP_NOFAIL, which fault injection spares).
 */
static void buddy_test_cow_metadata(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, SZ_4M), *copy, *copy2;
	void *meta;
	u64 a, b, c;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 1000, &a), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, 1000, &b), 0);
	KUNIT_ASSERT_EQ(test, kh->core.nr_chunks, 1);
	meta = kh->core.chunks[0].meta;
	copy = buddy_kheap_clone(kh, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy);
	tkheap_adopt(test, copy);
	KUNIT_EXPECT_PTR_EQ(test, copy->core.chunks[0].meta, meta);
	KUNIT_EXPECT_EQ(test, refcount_read(cow_meta_users(kh)), 2);

	/* the clone's free copies; the source keeps its metadata as it was */
	KUNIT_EXPECT_EQ(test, kfree_op(copy, a, NULL), 0);
	KUNIT_EXPECT_PTR_NE(test, copy->core.chunks[0].meta, meta);
	KUNIT_EXPECT_PTR_EQ(test, kh->core.chunks[0].meta, meta);
	KUNIT_EXPECT_EQ(test, refcount_read(cow_meta_users(kh)), 1);
	KUNIT_EXPECT_EQ(test, refcount_read(cow_meta_users(copy)), 1);
	kheap_check(test, kh);
	kheap_check(test, copy);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, a, 0, NULL,
					NULL), 0);
	KUNIT_EXPECT_NE(test, kblock_op(copy, BUDDY_OP_USABLE_SIZE, a, 0,
					NULL, NULL), 0);

	/* alone again, the source writes in place */
	KUNIT_EXPECT_EQ(test, kmalloc_op(kh, 1000, &c), 0);
	KUNIT_EXPECT_PTR_EQ(test, kh->core.chunks[0].meta, meta);

	/* a free into shared metadata does not fail, even under injection */
	copy2 = buddy_kheap_clone(kh, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy2);
	tkheap_adopt(test, copy2);
	inject_begin(test);
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy2, 1000, NULL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kfree_op(copy2, b, NULL), 0);
	inject_end();
	KUNIT_EXPECT_PTR_NE(test, copy2->core.chunks[0].meta, meta);
	kheap_check(test, copy2);
	kheap_check(test, kh);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, b, 0, NULL,
					NULL), 0);
}

/*
 * After a clone, a heap allocates where it owns the metadata (the module's
 * heaps have cfg.own_first): a block in a chunk it owns, else a split of a
 * larger one there, and it breaks a chunk's sharing only when it must,
 * choosing the chunk with the most room for its size.  Chunks: 64 KiB at 0
 * (a 16 KiB hole at 0x8000), 128 KiB at 0x20000 (full), 128 KiB at
 * 0x40000 (16 KiB used, 112 KiB free: blocks of 16, 32 and 64 KiB).
 */
static void buddy_test_cow_own_first(struct kunit *test)
{
	struct buddy_kheap *kh = tkheap(test, KT_CAP), *copy;
	void *meta0, *meta2;
	u64 a, b, c, d, e, off;

	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_32K, &a), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_16K, &b), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_16K, &c), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_128K, &d), 0);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_16K, &e), 0);
	KUNIT_ASSERT_EQ(test, kfree_op(kh, b, NULL), 0);
	KUNIT_ASSERT_EQ(test, kh->core.nr_chunks, 3);
	KUNIT_ASSERT_EQ(test, b, 0x8000);
	KUNIT_ASSERT_EQ(test, kh->core.chunks[2].offset, 0x40000);
	KUNIT_ASSERT_EQ(test, e, 0x40000);
	meta0 = kh->core.chunks[0].meta;
	meta2 = kh->core.chunks[2].meta;

	copy = cow_clone(test, kh);
	KUNIT_EXPECT_EQ(test, copy->core.shared_mask, 0x7);

	/*
	 * All shared: not the lowest 16 KiB block (0x8000, in a chunk with
	 * no more room), but chunk 2's, whose 64 KiB block is half of it.
	 */
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy, SZ_16K, &off), 0);
	KUNIT_EXPECT_EQ(test, off, 0x44000);
	KUNIT_EXPECT_PTR_EQ(test, copy->core.chunks[0].meta, meta0);
	KUNIT_EXPECT_PTR_NE(test, copy->core.chunks[2].meta, meta2);
	KUNIT_EXPECT_EQ(test, copy->core.shared_mask, 0x3);

	/* the only 16 KiB block is in shared chunk 0: split chunk 2's 32 */
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy, SZ_16K, &off), 0);
	KUNIT_EXPECT_EQ(test, off, 0x48000);
	KUNIT_EXPECT_PTR_EQ(test, copy->core.chunks[0].meta, meta0);
	KUNIT_EXPECT_EQ(test, copy->core.shared_mask, 0x3);
	KUNIT_EXPECT_EQ(test, refcount_read(cow_meta_users(kh)), 2);

	/*
	 * A free writes where it must: chunk 0 is the copy's own then, and
	 * the lowest 16 KiB block is taken again (0x4c000 is free too).
	 */
	KUNIT_EXPECT_EQ(test, kfree_op(copy, a, NULL), 0);
	KUNIT_EXPECT_PTR_NE(test, copy->core.chunks[0].meta, meta0);
	KUNIT_EXPECT_EQ(test, refcount_read(cow_meta_users(kh)), 1);
	KUNIT_EXPECT_EQ(test, copy->core.shared_mask, 0x2);
	KUNIT_EXPECT_EQ(test, kmalloc_op(copy, SZ_16K, &off), 0);
	KUNIT_EXPECT_EQ(test, off, 0x8000);

	/* the source's blocks and metadata are as they were */
	KUNIT_EXPECT_PTR_EQ(test, kh->core.chunks[0].meta, meta0);
	KUNIT_EXPECT_PTR_EQ(test, kh->core.chunks[2].meta, meta2);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, a, 0, NULL,
					NULL), 0);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, c, 0, NULL,
					NULL), 0);
	KUNIT_EXPECT_EQ(test, kblock_op(kh, BUDDY_OP_USABLE_SIZE, d, 0, NULL,
					NULL), 0);
	kheap_check(test, kh);
	kheap_check(test, copy);
}

/*
 * Pages stay charged where they were allocated: a clone's memcg pays for
 * its page arrays and for what it copies, and gets it back when it goes.
 * Both heaps are made with the test cgroup active, so both belong to it.
 */
static void buddy_test_cow_memcg(struct kunit *test)
{
	unsigned long before, cloned, written, gone;
	struct buddy_kheap *kh, *copy;
	struct mem_cgroup *old;
	u64 off;

	if (!kt_memcg)
		kunit_skip(test, "insmod did not run in a memory cgroup");
	old = set_active_memcg(kt_memcg);
	kh = tkheap(test, SZ_32M);
	set_active_memcg(old);
	KUNIT_ASSERT_PTR_EQ(test, kh->memcg, kt_memcg);
	KUNIT_ASSERT_EQ(test, kmalloc_op(kh, SZ_16M, &off), 0);
	kheap_fill(test, kh, off, 0x77, SZ_16M);

	before = page_counter_read(&kt_memcg->memory);
	old = set_active_memcg(kt_memcg);
	copy = buddy_kheap_clone(kh, NULL);
	set_active_memcg(old);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, copy);
	cloned = page_counter_read(&kt_memcg->memory);
	kheap_fill(test, copy, off, 0x88, SZ_4M);
	written = page_counter_read(&kt_memcg->memory);
	kheap_expect_whole(test, copy);
	buddy_kheap_destroy(copy);
	gone = page_counter_read(&kt_memcg->memory);

	/* sharing 16 MiB costs the clone its metadata, well under 1 MiB */
	KUNIT_EXPECT_LT(test, cloned, before + SZ_1M / PAGE_SIZE);
	/* 4 MiB written, 4 MiB charged (charge stocks blur it a little) */
	KUNIT_EXPECT_GE(test, written + 2 * MEMCG_CHARGE_BATCH,
			cloned + SZ_4M / PAGE_SIZE);
	KUNIT_EXPECT_LE(test, gone, before + 2 * MEMCG_CHARGE_BATCH);
	KUNIT_EXPECT_TRUE(test, kheap_all(test, kh, off, 0x77, SZ_16M));
}

static struct kunit_case buddy_cow_cases[] = {
	KUNIT_CASE(buddy_test_cow_clone_shares_pages),
	KUNIT_CASE(buddy_test_cow_kernel_writes_copy),
	KUNIT_CASE(buddy_test_cow_drop_unshares),
	KUNIT_CASE(buddy_test_cow_share_own_array),
	KUNIT_CASE(buddy_test_cow_write_enomem),
	KUNIT_CASE(buddy_test_cow_metadata),
	KUNIT_CASE(buddy_test_cow_own_first),
	KUNIT_CASE(buddy_test_cow_memcg),
	{}
};

static struct kunit_suite buddy_cow_suite = {
	.name = "buddy_cow",
	.suite_init = buddy_kheap_suite_init,
	.suite_exit = buddy_kheap_suite_exit,
	.test_cases = buddy_cow_cases,
};

static struct kunit_suite *buddy_cow_test_suites[] = { &buddy_cow_suite };

/* As buddy_heap_test.c: run in insmod's context, for the memcg case. */
static int __init buddy_cow_test_init(void)
{
	return __kunit_test_suites_init(buddy_cow_test_suites,
					ARRAY_SIZE(buddy_cow_test_suites));
}
module_init(buddy_cow_test_init);

static void __exit buddy_cow_test_exit(void)
{
	__kunit_test_suites_exit(buddy_cow_test_suites,
				 ARRAY_SIZE(buddy_cow_test_suites));
}
module_exit(buddy_cow_test_exit);

MODULE_DESCRIPTION("KUnit tests for buddy-kmod's copy-on-write clones");
MODULE_LICENSE("GPL");
