// SPDX-License-Identifier: GPL-2.0
/*
 * The buddy.h client API: heaps of one's own, driven through heap.c, plus
 * the two entry points that reach the malloc family's default heap
 * (buddy_default) and the calling thread's cache (buddy_cache_flush).
 *
 * The exported names can be interposed (a program that also links the
 * buddy core has its own buddy_free(), buddy_realloc(), ...), so these
 * functions never call each other through them: they share static helpers.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "buddy.h"
#include "cache.h"
#include "heap.h"
#include "malloc_layer.h"

static int fail(int err)
{
	errno = -err;
	return -1;
}

static void *alloc_block(buddy_t *h, unsigned long cmd, size_t n,
			 size_t nmemb, size_t align)
{
	void *p;
	int err = heap_alloc(h, cmd, n, nmemb, align, &p);

	return err ? (fail(err), NULL) : p;
}

static void *malloc_block(buddy_t *h, size_t n)
{
	if (n > PTRDIFF_MAX)
		return fail(-ENOMEM), NULL;
	return alloc_block(h, BUDDY_IOC_MALLOC, n, 0, 0);
}

static int free_block(buddy_t *h, void *p)
{
	unsigned int reason;
	int err;

	if (!p)
		return 0;
	err = heap_free(h, p, &reason);
	if (err == -EINVAL && reason) {
		errno = EINVAL;
		return (int)reason;
	}
	return err ? fail(err) : 0;
}

API buddy_t *buddy_open(void)
{
	struct buddy_handle *h;
	int err;

	/* Handles live in pages of their own: no malloc here. */
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	err = heap_open(h, device_path());
	if (err) {
		munmap(h, sizeof(*h));
		errno = -err;
		return NULL;
	}
	heap_register(h);
	return h;
}

API int buddy_close(buddy_t *h)
{
	if (!h || h->is_default)
		return fail(-EINVAL);
	heap_unregister(h);
	heap_unmap(h);
	munmap(h, sizeof(*h));
	return 0;
}

API void *buddy_malloc(buddy_t *h, size_t n)
{
	return malloc_block(h, n);
}

API void *buddy_calloc(buddy_t *h, size_t n, size_t size)
{
	ptrdiff_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return fail(-ENOMEM), NULL;
	return alloc_block(h, BUDDY_IOC_CALLOC, (size_t)bytes, 1, 0);
}

API void *buddy_memalign(buddy_t *h, size_t align, size_t n)
{
	if (!align || (align & (align - 1)))
		return fail(-EINVAL), NULL;
	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX)
		return fail(-ENOMEM), NULL;
	if (align <= 16)
		return alloc_block(h, BUDDY_IOC_MALLOC, n, 0, 0);
	return alloc_block(h, BUDDY_IOC_MEMALIGN, n, 0, align);
}

API int buddy_free(buddy_t *h, void *p)
{
	return free_block(h, p);
}

API void *buddy_realloc(buddy_t *h, void *p, size_t n)
{
	unsigned int reason;
	void *q;
	int err;

	if (!p)
		return malloc_block(h, n);
	if (!n) {
		free_block(h, p);
		return NULL;
	}
	if (!heap_contains(h, p))
		return fail(-EINVAL), NULL;
	if (n > PTRDIFF_MAX)
		return fail(-ENOMEM), NULL;
	err = heap_realloc(h, p, n, &q, &reason);
	if (err == -EINVAL && !reason)
		err = -ENOMEM;
	return err ? (fail(err), NULL) : q;
}

API size_t buddy_usable_size(buddy_t *h, const void *p)
{
	unsigned int reason;
	size_t n;

	if (!p || heap_usable(h, p, &n, &reason))
		return 0;
	return n;
}

API int buddy_stats(buddy_t *h, struct buddy_heap_stats *st)
{
	int err = heap_stats(h, st);

	return err ? fail(err) : 0;
}

API void *buddy_base(buddy_t *h)
{
	return h->base;
}

API size_t buddy_window_size(buddy_t *h)
{
	return (size_t)h->window;
}

API int buddy_fd(buddy_t *h)
{
	return h->fd;
}

API const struct buddy_info *buddy_info(buddy_t *h)
{
	return &h->info;
}

API buddy_t *buddy_default(void)
{
	return malloc_default_heap();
}

/* The calling thread's cached blocks back to the kernel. */
API void buddy_cache_flush(void)
{
	(void)cache_flush_self();
}
