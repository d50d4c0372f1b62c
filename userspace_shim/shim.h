/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface between the heap layer (heap.c: /dev/buddy heaps, the
 * buddy.h client API, fork handling) and the malloc layer (malloc.c: the
 * malloc family on the default heap, bootstrap arena, fallback, statistics).
 *
 * Nothing in here may call malloc & co. of libc: no stdio, no strerror, no
 * getenv-with-side-effects.  Messages go out with write(2).
 */
#ifndef BUDDY_SHIM_H
#define BUDDY_SHIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/buddy.h>

#define API __attribute__((visibility("default")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

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

/* heap.c */
int heap_open(struct buddy_handle *h, const char *path);
void heap_register(struct buddy_handle *h);
int heap_alloc(struct buddy_handle *h, unsigned long cmd, size_t size,
	       size_t nmemb, size_t align, void **out);
int heap_free(struct buddy_handle *h, void *p, unsigned int *reason);
int heap_realloc(struct buddy_handle *h, void *p, size_t size, void **out,
		 unsigned int *reason);
int heap_usable(struct buddy_handle *h, const void *p, size_t *usable,
		unsigned int *reason);
int heap_stats(struct buddy_handle *h, struct buddy_heap_stats *st);
int heap_fork_failed(void);
int heap_batch(struct buddy_handle *h, struct buddy_op *ops, unsigned int n);
int heap_free_offset(struct buddy_handle *h, uint64_t offset,
		     unsigned int *reason);

/* malloc.c: called from the fork handlers in heap.c */
void shim_fork_prepare(void);
void shim_fork_parent(void);
void shim_fork_child(void);
int shim_fork_wrapped(void);

/* side.c: the side arena and deferred frees used while a fork is pending */
void *side_alloc(size_t n, size_t align, int zero);
int side_owns(const void *p);
size_t side_usable(const void *p);
void side_free(void *p);
int defer_free(uint64_t offset);
void flush_deferred(void (*fn)(uint64_t offset));
void side_fork_child(void);
extern uint64_t side_allocs;

/* util.c */
void say(const char *s);
void say3(const char *a, const char *b, const char *c);
const char *errdesc(int err);
char *fmt_u64(char *dst, uint64_t v);	/* returns end; no NUL */
char *fmt_str(char *dst, const char *s);
__attribute__((noreturn)) void die(const char *msg);
const char *knob(const char *name);

#endif /* BUDDY_SHIM_H */
