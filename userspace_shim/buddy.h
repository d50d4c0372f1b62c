/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy.h - a heap of your own on /dev/buddy.
 *
 * Link with -lbuddy (libbuddy.so or libbuddy.a) and compile with
 * -I<buddy-kmod>/include/uapi.  Note that linking libbuddy also puts the
 * program's malloc family on /dev/buddy: malloc() & co. are the default
 * heap driven through these same functions.
 *
 *	buddy_t *h = buddy_open();
 *	char *p = buddy_malloc(h, 100);
 *	...
 *	buddy_free(h, p);
 *	buddy_close(h);
 *
 * Each handle is a separate kernel heap (one open of /dev/buddy, or of
 * $BUDDY_DEVICE) with its own window mapped at an address aligned to the
 * window size, so a block of 2^k bytes is aligned to 2^k.  The heap's
 * bookkeeping lives in the kernel: writing anywhere in the window cannot
 * corrupt it, and freeing a bad pointer is refused, not obeyed.  Handles
 * are thread-safe, and fork() gives the child its own copy of every heap
 * at the same addresses.
 */
#ifndef BUDDY_CLIENT_H
#define BUDDY_CLIENT_H

#include <stddef.h>
#include <linux/buddy.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct buddy_handle buddy_t;

/* A new heap, or NULL with errno set (ENOENT: no /dev/buddy; EPROTO: ABI). */
buddy_t *buddy_open(void);

/* Give the heap and every block in it back to the kernel. 0, or -1/errno. */
int buddy_close(buddy_t *h);

/*
 * Allocation: NULL with errno ENOMEM on failure (including sizes above
 * PTRDIFF_MAX and calloc products that overflow).  Blocks are powers of two
 * of at least 16 bytes; buddy_calloc() memory is zero.  buddy_memalign()
 * wants a power-of-two alignment (EINVAL otherwise).
 */
void *buddy_malloc(buddy_t *h, size_t n);
void *buddy_calloc(buddy_t *h, size_t n, size_t size);
void *buddy_memalign(buddy_t *h, size_t align, size_t n);

/*
 * Like realloc(): NULL p allocates, n == 0 frees and returns NULL, and on
 * failure NULL is returned with the block left intact (errno ENOMEM, or
 * EINVAL when p is not a live block of this heap).
 */
void *buddy_realloc(buddy_t *h, void *p, size_t n);

/*
 * 0 when the block was freed (or p is NULL); BUDDY_REASON_OUTSIDE,
 * BUDDY_REASON_NOT_BLOCK_START or BUDDY_REASON_ALREADY_FREE (errno EINVAL)
 * when the kernel refused p, the heap unchanged; -1 with errno otherwise.
 */
int buddy_free(buddy_t *h, void *p);

/* The block's usable size, 0 when p is NULL or not a live block. */
size_t buddy_usable_size(buddy_t *h, const void *p);

/* Fill *st (BUDDY_IOC_STATS: buddyinfo, fragmentation, counters). 0 / -1. */
int buddy_stats(buddy_t *h, struct buddy_heap_stats *st);

/* The window: base address (block = base + offset), size, device fd. */
void *buddy_base(buddy_t *h);
size_t buddy_window_size(buddy_t *h);
int buddy_fd(buddy_t *h);
const struct buddy_info *buddy_info(buddy_t *h);

/*
 * The heap behind malloc() & co. (opening it if that has not happened yet),
 * or NULL when the malloc family fell back to glibc (no device).
 */
buddy_t *buddy_default(void);

/*
 * Give the calling thread's cached blocks of the default heap back to the
 * kernel (BUDDY_CACHE: small blocks freed by the program stay cached per
 * thread, allocated as far as the kernel's statistics are concerned).
 */
void buddy_cache_flush(void);

#ifdef __cplusplus
}
#endif

#endif /* BUDDY_CLIENT_H */
