/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_pages - the memory of a heap's chunk: an array of pages that
 * clones of the heap share, copy-on-write, at two levels.
 *
 * A clone's chunk first shares the whole array (struct buddy_page_array,
 * counted in @users), so CLONE costs O(chunks), not O(pages), and a clone
 * that goes before anyone writes (fork, then exit or exec) never touches
 * a page.  The first heap to write to a shared array gives itself an array
 * of its own listing the same pages: every array holds one reference to
 * each page it lists, and page->private counts the other arrays listing it
 * (0: only this one), under a global spinlock.  The first write to a page
 * listed elsewhere swaps a copy into the writer's array.
 *
 * A shared page is never mapped into user space: a clone first unmaps its
 * source's window, and whoever would map a shared page, or write to one,
 * first unshares it (buddy_pages_unshare()).  An array used by one heap
 * only is changed under that heap's lock; a shared one never changes.
 */
#ifndef _BUDDY_PAGES_H
#define _BUDDY_PAGES_H

#include <linux/mm_types.h>
#include <linux/overflow.h>
#include <linux/refcount.h>
#include <linux/types.h>

struct mem_cgroup;

/**
 * struct buddy_page_array - the pages of a chunk, in window order
 * @users: chunks (of different heaps) whose memory this array is
 * @nr: number of pages
 * @pages: the pages
 */
struct buddy_page_array {
	refcount_t users;
	unsigned long nr;
	struct page *pages[];
};

/**
 * struct buddy_pages - one heap's chunk memory (what buddy_chunk.mem holds)
 * @array: its pages, maybe shared with other heaps' chunks
 */
struct buddy_pages {
	struct buddy_page_array *array;
};

/* Bytes of a chunk's struct buddy_pages and page array (for accounting). */
static inline size_t buddy_pages_array_bytes(unsigned long nr)
{
	return sizeof(struct buddy_pages) +
	       struct_size((struct buddy_page_array *)NULL, pages, nr);
}

/* The page under byte @off of a chunk's memory. */
static inline struct page *buddy_pages_page(const struct buddy_pages *bp,
					    u64 off)
{
	return bp->array->pages[off >> PAGE_SHIFT];
}

struct buddy_pages *buddy_pages_alloc(unsigned long nr,
				      struct mem_cgroup *memcg);
struct buddy_pages *buddy_pages_share(const struct buddy_pages *src,
				      bool may_be_pinned,
				      struct mem_cgroup *memcg);
void buddy_pages_free(struct buddy_pages *bp);

bool buddy_pages_shared(const struct buddy_pages *bp, unsigned long i);
int buddy_pages_unshare(struct buddy_pages *bp, unsigned long i,
			struct mem_cgroup *memcg);
int buddy_pages_zero(struct buddy_pages *bp, u64 off, u64 bytes,
		     struct mem_cgroup *memcg);
int buddy_pages_copy(struct buddy_pages *dst, u64 dst_off,
		     const struct buddy_pages *src, u64 src_off, u64 bytes,
		     struct mem_cgroup *memcg);

#endif /* _BUDDY_PAGES_H */
