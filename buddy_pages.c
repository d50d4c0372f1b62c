// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_pages - chunk memory as arrays of pages shared copy-on-write
 * between a heap and its clones; see buddy_pages.h for the rules.  The
 * callers serialise all use of one heap's struct buddy_pages (the heap's
 * lock); an array's users are a refcount, the share counts of pages
 * listed by several arrays are under buddy_share_lock.
 */
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "buddy_pages.h"

/*
 * As for all heap memory: charged to the active memcg (the heap's), and a
 * memcg at its limit fails the allocation instead of running the OOM
 * killer.
 */
#define BUDDY_PAGES_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

/* Pages handled per hold of buddy_share_lock, and between reschedules. */
#define BUDDY_SHARE_BATCH	256

/* Guards page->private, the number of other arrays listing a page. */
static DEFINE_SPINLOCK(buddy_share_lock);

/* An array for @nr pages, its one user the caller; charged to @memcg. */
static struct buddy_page_array *buddy_page_array_new(unsigned long nr,
						     struct mem_cgroup *memcg)
{
	size_t bytes = struct_size((struct buddy_page_array *)NULL, pages, nr);
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct buddy_page_array *arr;

	/* like the heap's metadata: no high-order kmalloc retried hard */
	if (bytes > PAGE_SIZE)
		arr = __vmalloc(bytes, BUDDY_PAGES_GFP);
	else
		arr = kmalloc(bytes, BUDDY_PAGES_GFP);
	set_active_memcg(old);
	if (arr) {
		refcount_set(&arr->users, 1);
		arr->nr = nr;
	}
	return arr;
}

/*
 * One array fewer lists @page: its share count drops, unless no other
 * array listed it.  The caller holds buddy_share_lock and then puts its
 * reference on @page.
 */
static void buddy_page_drop_sharer(struct page *page)
{
	lockdep_assert_held(&buddy_share_lock);
	if (page_private(page))
		set_page_private(page, page_private(page) - 1);
}

/*
 * Drop the array's hold on pages [0, @n): one sharer fewer, one reference
 * less each; then free the array.
 */
static void buddy_page_array_release(struct buddy_page_array *arr,
				     unsigned long n)
{
	unsigned long start, end, i;

	for (start = 0; start < n; start = end) {
		end = min(n, start + BUDDY_SHARE_BATCH);
		spin_lock(&buddy_share_lock);
		for (i = start; i < end; i++)
			buddy_page_drop_sharer(arr->pages[i]);
		spin_unlock(&buddy_share_lock);
		for (i = start; i < end; i++)
			put_page(arr->pages[i]);
		cond_resched();
	}
	kvfree(arr);
}

/* Drop a user of @arr; the last one releases it. */
static void buddy_page_array_put(struct buddy_page_array *arr)
{
	if (refcount_dec_and_test(&arr->users))
		buddy_page_array_release(arr, arr->nr);
}

/* A page charged to @memcg, or NULL. */
static struct page *buddy_page_new(struct mem_cgroup *memcg, gfp_t extra)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct page *page = alloc_page(BUDDY_PAGES_GFP | extra);

	set_active_memcg(old);
	return page;
}

/*
 * A new array listing @src's pages, with one more reference and one more
 * sharer each; but a page that may be pinned for DMA (@pinned_copy and
 * folio_maybe_dma_pinned()) is copied at once.  A fatal signal stops it.
 */
static struct buddy_page_array *
buddy_page_array_dup(const struct buddy_page_array *src, bool pinned_copy,
		     struct mem_cgroup *memcg)
{
	struct buddy_page_array *arr = buddy_page_array_new(src->nr, memcg);
	unsigned long i = 0, end;
	struct page *page;

	if (!arr)
		return NULL;
	while (i < src->nr) {
		end = min(src->nr, i + BUDDY_SHARE_BATCH);
		spin_lock(&buddy_share_lock);
		for (; i < end; i++) {
			page = src->pages[i];
			if (pinned_copy &&
			    folio_maybe_dma_pinned(page_folio(page)))
				break;
			get_page(page);
			set_page_private(page, page_private(page) + 1);
			arr->pages[i] = page;
		}
		spin_unlock(&buddy_share_lock);
		if (i < end) {
			arr->pages[i] = buddy_page_new(memcg, 0);
			if (!arr->pages[i])
				goto fail;
			copy_highpage(arr->pages[i], page);
			i++;
		}
		if (fatal_signal_pending(current))
			goto fail;
		cond_resched();
	}
	return arr;
fail:
	buddy_page_array_release(arr, i);
	return NULL;
}

/**
 * buddy_pages_alloc() - zeroed pages for a new chunk
 * @nr: number of pages
 * @memcg: the memory cgroup to charge them and the arrays to (NULL: the
 *	current task's)
 *
 * Return: the chunk memory, or NULL.
 */
struct buddy_pages *buddy_pages_alloc(unsigned long nr,
				      struct mem_cgroup *memcg)
{
	struct buddy_page_array *arr;
	struct buddy_pages *bp;
	unsigned long i;

	bp = kmalloc(sizeof(*bp), BUDDY_PAGES_GFP);
	arr = bp ? buddy_page_array_new(nr, memcg) : NULL;
	if (!arr) {
		kfree(bp);
		return NULL;
	}
	for (i = 0; i < nr; i++) {
		arr->pages[i] = buddy_page_new(memcg, __GFP_ZERO);
		if (!arr->pages[i]) {
			buddy_page_array_release(arr, i);
			kfree(bp);
			return NULL;
		}
		if (!(i % BUDDY_SHARE_BATCH))
			cond_resched();
	}
	bp->array = arr;
	return bp;
}

/**
 * buddy_pages_share() - chunk memory for a clone, sharing @src's pages
 * @src: the chunk; the caller has unmapped it from user space
 * @may_be_pinned: some page may be pinned for DMA (the cloning task's mm
 *	has MMF_HAS_PINNED)
 * @memcg: charged for what the clone allocates now
 *
 * Normally the clone shares @src's whole array: O(1), no page touched.  A
 * page pinned for DMA may still be written by a device, which must not
 * show through in the clone; so when @may_be_pinned, the clone gets an
 * array of its own at once, holding a copy of every page that may be
 * pinned.  A fatal signal stops that.
 *
 * Return: the clone's chunk memory, or NULL (nothing is shared then).
 */
struct buddy_pages *buddy_pages_share(const struct buddy_pages *src,
				      bool may_be_pinned,
				      struct mem_cgroup *memcg)
{
	struct buddy_pages *bp;

	bp = kmalloc(sizeof(*bp), BUDDY_PAGES_GFP);
	if (!bp)
		return NULL;
	if (may_be_pinned) {
		bp->array = buddy_page_array_dup(src->array, true, memcg);
		if (!bp->array) {
			kfree(bp);
			return NULL;
		}
	} else {
		refcount_inc(&src->array->users);
		bp->array = src->array;
	}
	return bp;
}

/**
 * buddy_pages_free() - a chunk's memory back: its pages unless shared
 * @bp: the chunk memory (NULL is ignored); no user mapping may remain
 *
 * Pages other arrays list stay theirs.
 */
void buddy_pages_free(struct buddy_pages *bp)
{
	if (!bp)
		return;
	buddy_page_array_put(bp->array);
	kfree(bp);
}

/**
 * buddy_pages_shared() - whether another heap's chunk lists page @i of @bp
 * @bp: the chunk memory
 * @i: page index
 *
 * Another heap may drop the page or the array at any time, so a true
 * answer can be stale (unsharing then copies once too often); a false one
 * cannot: only a clone of @bp's own heap, which its caller serialises,
 * adds sharers.
 *
 * Return: true if shared.
 */
bool buddy_pages_shared(const struct buddy_pages *bp, unsigned long i)
{
	return refcount_read(&bp->array->users) > 1 ||
	       READ_ONCE(bp->array->pages[i]->private) != 0;
}

/**
 * buddy_pages_unshare() - make page @i of @bp this chunk's alone
 * @bp: the chunk memory
 * @i: page index
 * @memcg: charged for the copies
 *
 * A shared array is first replaced by an array of this chunk's own that
 * lists the same pages (so the other heaps' array never changes); a page
 * another array lists is then replaced by a copy, the other arrays keeping
 * the original.
 *
 * Return: 0, or -ENOMEM (the bytes seen through @bp are unchanged).
 */
int buddy_pages_unshare(struct buddy_pages *bp, unsigned long i,
			struct mem_cgroup *memcg)
{
	struct buddy_page_array *arr = bp->array;
	struct page *old, *copy;

	if (!buddy_pages_shared(bp, i))
		return 0;
	if (refcount_read(&arr->users) > 1) {
		arr = buddy_page_array_dup(bp->array, false, memcg);
		if (!arr)
			return -ENOMEM;
		buddy_page_array_put(bp->array);
		bp->array = arr;
	}
	old = arr->pages[i];
	if (!READ_ONCE(old->private))
		return 0;
	copy = buddy_page_new(memcg, 0);
	if (!copy)
		return -ENOMEM;
	copy_highpage(copy, old);
	arr->pages[i] = copy;
	spin_lock(&buddy_share_lock);
	buddy_page_drop_sharer(old);
	spin_unlock(&buddy_share_lock);
	put_page(old);
	return 0;
}

/* Unshare the pages under bytes [@off, @off + @bytes) of @bp. */
static int buddy_pages_unshare_range(struct buddy_pages *bp, u64 off,
				     u64 bytes, struct mem_cgroup *memcg)
{
	unsigned long i, last = (off + bytes - 1) >> PAGE_SHIFT;
	int ret;

	for (i = off >> PAGE_SHIFT; i <= last; i++) {
		ret = buddy_pages_unshare(bp, i, memcg);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * buddy_pages_zero() - zero bytes of a chunk, unsharing their pages first
 * @bp: the chunk memory
 * @off: first byte
 * @bytes: how many (inside the chunk)
 * @memcg: charged for copies of shared pages
 *
 * Return: 0, or -ENOMEM before anything was written (some pages may have
 * been unshared, which changes no byte).
 */
int buddy_pages_zero(struct buddy_pages *bp, u64 off, u64 bytes,
		     struct mem_cgroup *memcg)
{
	u64 done = 0;
	int ret;

	if (!bytes)
		return 0;
	ret = buddy_pages_unshare_range(bp, off, bytes, memcg);
	if (ret)
		return ret;
	while (bytes) {
		unsigned int in_page = offset_in_page(off);
		size_t n = min_t(u64, bytes, PAGE_SIZE - in_page);

		memzero_page(buddy_pages_page(bp, off), in_page, n);
		off += n;
		bytes -= n;
		done += n;
		if (done >= SZ_1M) {
			done = 0;
			cond_resched();
		}
	}
	return 0;
}

/**
 * buddy_pages_copy() - copy bytes between chunks, unsharing the target's
 * @dst: the chunk memory written to
 * @dst_off: first byte written
 * @src: the chunk memory read (may be @dst; the ranges do not overlap)
 * @src_off: first byte read
 * @bytes: how many
 * @memcg: charged for copies of shared pages of @dst
 *
 * Return: 0, or -ENOMEM before anything was written.
 */
int buddy_pages_copy(struct buddy_pages *dst, u64 dst_off,
		     const struct buddy_pages *src, u64 src_off, u64 bytes,
		     struct mem_cgroup *memcg)
{
	u64 done = 0;
	int ret;

	if (!bytes)
		return 0;
	ret = buddy_pages_unshare_range(dst, dst_off, bytes, memcg);
	if (ret)
		return ret;
	while (bytes) {
		unsigned int d_in = offset_in_page(dst_off);
		unsigned int s_in = offset_in_page(src_off);
		size_t n = min_t(u64, bytes, PAGE_SIZE - max(d_in, s_in));
		char *d = kmap_local_page(buddy_pages_page(dst, dst_off));
		char *s = kmap_local_page(buddy_pages_page(src, src_off));

		memcpy(d + d_in, s + s_in, n);
		kunmap_local(s);
		kunmap_local(d);
		dst_off += n;
		src_off += n;
		bytes -= n;
		done += n;
		if (done >= SZ_1M) {
			done = 0;
			cond_resched();
		}
	}
	return 0;
}
