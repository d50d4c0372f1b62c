// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_pages - chunk memory as arrays of pages shared copy-on-write
 * between a heap and its clones; see buddy_pages.h for the rules.  The
 * callers serialise all use of one array (the heap's lock); the share
 * counts of pages listed by several arrays are under buddy_share_lock.
 */
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched.h>
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

/* Pages shared per hold of buddy_share_lock when a chunk is cloned. */
#define BUDDY_SHARE_BATCH	256

/* Guards page->private, the number of other arrays listing a page. */
static DEFINE_SPINLOCK(buddy_share_lock);

static struct buddy_pages *buddy_pages_array(unsigned long nr)
{
	size_t bytes = buddy_pages_array_bytes(nr);
	struct buddy_pages *bp;

	/* like the heap's metadata: no high-order kmalloc retried hard */
	if (bytes > PAGE_SIZE)
		bp = __vmalloc(bytes, BUDDY_PAGES_GFP);
	else
		bp = kmalloc(bytes, BUDDY_PAGES_GFP);
	if (bp)
		bp->nr = nr;
	return bp;
}

/* Drop this array's hold on @page: one sharer fewer, one reference less. */
static void buddy_page_release(struct page *page)
{
	spin_lock(&buddy_share_lock);
	if (page_private(page))
		set_page_private(page, page_private(page) - 1);
	spin_unlock(&buddy_share_lock);
	put_page(page);
}

/* Release pages [0, @n) of @bp and the array itself. */
static void buddy_pages_release(struct buddy_pages *bp, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		buddy_page_release(bp->pages[i]);
		if (!(i % BUDDY_SHARE_BATCH))
			cond_resched();
	}
	kvfree(bp);
}

/* A zeroed page charged to @memcg, or NULL. */
static struct page *buddy_page_new(struct mem_cgroup *memcg, gfp_t extra)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct page *page = alloc_page(BUDDY_PAGES_GFP | extra);

	set_active_memcg(old);
	return page;
}

/**
 * buddy_pages_alloc() - zeroed pages for a new chunk
 * @nr: number of pages
 * @memcg: the memory cgroup to charge them and the array to (NULL: the
 *	current task's)
 *
 * Return: the array, or NULL.
 */
struct buddy_pages *buddy_pages_alloc(unsigned long nr,
				      struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct buddy_pages *bp = buddy_pages_array(nr);
	unsigned long i;

	set_active_memcg(old);
	if (!bp)
		return NULL;
	for (i = 0; i < nr; i++) {
		bp->pages[i] = buddy_page_new(memcg, __GFP_ZERO);
		if (!bp->pages[i]) {
			buddy_pages_release(bp, i);
			return NULL;
		}
		if (!(i % BUDDY_SHARE_BATCH))
			cond_resched();
	}
	return bp;
}

/**
 * buddy_pages_share() - a second array listing the same pages
 * @src: the chunk to share; the caller has unmapped it from user space
 * @memcg: charged for the new array and for any page copied now
 *
 * No page is copied, except one that may be pinned for DMA
 * (folio_maybe_dma_pinned()): a device may still write to it, which must
 * not show through in the other array, so the new array gets a copy.
 * Pages already shared are simply shared once more.  A fatal signal
 * stops it.
 *
 * Return: the new array, or NULL (nothing is shared then).
 */
struct buddy_pages *buddy_pages_share(const struct buddy_pages *src,
				      struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct buddy_pages *bp = buddy_pages_array(src->nr);
	unsigned long i = 0, end;
	struct page *page;

	set_active_memcg(old);
	if (!bp)
		return NULL;
	while (i < src->nr) {
		end = min(src->nr, i + BUDDY_SHARE_BATCH);
		spin_lock(&buddy_share_lock);
		for (; i < end; i++) {
			page = src->pages[i];
			if (folio_maybe_dma_pinned(page_folio(page)))
				break;
			get_page(page);
			set_page_private(page, page_private(page) + 1);
			bp->pages[i] = page;
		}
		spin_unlock(&buddy_share_lock);
		if (i < end) {
			bp->pages[i] = buddy_page_new(memcg, 0);
			if (!bp->pages[i]) {
				buddy_pages_release(bp, i);
				return NULL;
			}
			copy_highpage(bp->pages[i], page);
			i++;
		}
		if (fatal_signal_pending(current)) {
			buddy_pages_release(bp, i);
			return NULL;
		}
		cond_resched();
	}
	return bp;
}

/**
 * buddy_pages_free() - drop an array's hold on its pages, free the array
 * @bp: the array (NULL is ignored); no user mapping may remain
 *
 * Pages other arrays still list stay theirs.
 */
void buddy_pages_free(struct buddy_pages *bp)
{
	if (bp)
		buddy_pages_release(bp, bp->nr);
}

/**
 * buddy_pages_shared() - whether another array lists page @i of @bp
 * @bp: the array
 * @i: page index
 *
 * Another array may drop the page at any time, so a true answer can be
 * stale (unsharing then copies once too often); a false one cannot: only
 * sharing @bp itself, which its caller serialises, adds sharers.
 *
 * Return: true if shared.
 */
bool buddy_pages_shared(const struct buddy_pages *bp, unsigned long i)
{
	return READ_ONCE(bp->pages[i]->private) != 0;
}

/**
 * buddy_pages_unshare() - make page @i of @bp this array's alone
 * @bp: the array
 * @i: page index
 * @memcg: charged for the copy
 *
 * A shared page is replaced by a copy; the other arrays keep the original.
 *
 * Return: 0, or -ENOMEM (nothing changed).
 */
int buddy_pages_unshare(struct buddy_pages *bp, unsigned long i,
			struct mem_cgroup *memcg)
{
	struct page *old = bp->pages[i], *copy;

	if (!buddy_pages_shared(bp, i))
		return 0;
	copy = buddy_page_new(memcg, 0);
	if (!copy)
		return -ENOMEM;
	copy_highpage(copy, old);
	bp->pages[i] = copy;
	buddy_page_release(old);
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
 * @bp: the array
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

		memzero_page(bp->pages[off >> PAGE_SHIFT], in_page, n);
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
 * @dst: the array written to
 * @dst_off: first byte written
 * @src: the array read (may be @dst; the ranges do not overlap)
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
		char *d = kmap_local_page(dst->pages[dst_off >> PAGE_SHIFT]);
		char *s = kmap_local_page(src->pages[src_off >> PAGE_SHIFT]);

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
