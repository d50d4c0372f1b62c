/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Heaps on /dev/buddy (heap.c): opening and mapping one, one ioctl per
 * operation under the heap's lock, the registry of open heaps, and each
 * heap's part of a fork.  The lowest layer of the shim: it calls nothing
 * above it (malloc.c, cache.c, fork.c, client.c call into it).
 */
#ifndef BUDDY_SHIM_HEAP_H
#define BUDDY_SHIM_HEAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/buddy.h>

#include "util.h"

/* One /dev/buddy heap mapped into this process. */
struct buddy_handle {
	int fd;
	int clone_fd;			/* fork: the child's copy, -1 otherwise */
	unsigned char *base;		/* window, aligned to window bytes */
	uint64_t window;		/* info.window_bytes */
	struct buddy_info info;
	pthread_mutex_t lock;		/* serialises ioctls (never across fork) */
	struct buddy_handle *next;	/* registry of heaps to copy at fork */
	int is_default;			/* the heap behind malloc */
	int pending;			/* copied for a fork not yet over */
};

static inline int heap_contains(const struct buddy_handle *h, const void *p)
{
	return (uintptr_t)p - (uintptr_t)h->base < h->window;
}

const char *device_path(void);
int heap_open(struct buddy_handle *h, const char *path);
void heap_unmap(struct buddy_handle *h);
void heap_register(struct buddy_handle *h);
void heap_unregister(struct buddy_handle *h);
int heap_alloc(struct buddy_handle *h, unsigned long cmd, size_t size,
	       size_t nmemb, size_t align, void **out);
int heap_free(struct buddy_handle *h, void *p, unsigned int *reason);
int heap_realloc(struct buddy_handle *h, void *p, size_t size, void **out,
		 unsigned int *reason);
int heap_usable(struct buddy_handle *h, const void *p, size_t *usable,
		unsigned int *reason);
int heap_stats(struct buddy_handle *h, struct buddy_heap_stats *st);
int heap_batch(struct buddy_handle *h, struct buddy_op *ops, unsigned int n);
int heap_lock_change(struct buddy_handle *h);
void heap_unlock_change(struct buddy_handle *h);
int heap_batch_locked(struct buddy_handle *h, struct buddy_op *ops,
		      unsigned int n);
int heap_free_offset_locked(struct buddy_handle *h, uint64_t offset,
			    unsigned int *reason);

/* fork (driven by fork.c) */
int heap_ever_registered(void);
int heap_fork_lock(void);
int heap_fork_copy(void);
void heap_fork_parent(void);
void heap_fork_unlock(void);
int heap_fork_in_window(const void *addr);
int heap_fork_map_copies(void);
void heap_fork_child(void);

#endif /* BUDDY_SHIM_HEAP_H */
