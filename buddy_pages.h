/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_pages - the memory of a heap's chunk: an array of pages that
 * clones of the heap share, copy-on-write.
 *
 * Every heap whose chunk lists a page holds one reference to it, and
 * page->private counts the other heaps that list it (0: the page is this
 * heap's alone), changed only under a global spinlock.  A shared page is
 * never mapped into user space: a clone first unmaps its source's window,
 * and whoever would write to a shared page, or map it, first swaps a copy
 * into its own array (buddy_pages_unshare()).  So the owner of a page array
 * needs no coordination with the other heaps beyond that count.
 */
#ifndef _BUDDY_PAGES_H
#define _BUDDY_PAGES_H

#include <linux/mm_types.h>
#include <linux/overflow.h>
#include <linux/types.h>

struct mem_cgroup;

/**
 * struct buddy_pages - the pages of one chunk, in window order
 * @nr: number of pages
 * @pages: the pages
 */
struct buddy_pages {
	unsigned long nr;
	struct page *pages[];
};

/* Bytes of the struct buddy_pages for @nr pages (for accounting). */
static inline size_t buddy_pages_array_bytes(unsigned long nr)
{
	return struct_size((struct buddy_pages *)NULL, pages, nr);
}

struct buddy_pages *buddy_pages_alloc(unsigned long nr,
				      struct mem_cgroup *memcg);
struct buddy_pages *buddy_pages_share(const struct buddy_pages *src,
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
