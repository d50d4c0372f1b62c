// SPDX-License-Identifier: GPL-2.0
/*
 * The fork side arena and the deferred frees.
 *
 * fork() copies the default heap with BUDDY_IOC_CLONE in the atfork prepare
 * handler, but no shim lock is held from there until the fork is over:
 * glibc's fork takes its nss and stdio locks after the prepare handlers, and
 * a thread holding one of those while calling malloc would deadlock against
 * a fork that held the heap lock (glibc's tst-malloc-fork-deadlock).  While
 * a fork is pending, then, the device heap must not change (the child's copy
 * is already made), so:
 *   - allocations are served here, from private anonymous memory that fork
 *     copies exactly as it is at the moment of the fork;
 *   - frees of device blocks are queued and carried out once the fork is
 *     over, in the parent and in the child (whose queue holds exactly the
 *     frees made before the fork).
 * Side blocks are ordinary blocks afterwards: free() returns them here,
 * realloc() moves them back onto the device.  BUDDY_STATS counts them.
 *
 * Layout: 32-byte header before each block; blocks up to 256 KiB are carved
 * from 1 MiB slabs and recycled through per-size-class free lists; larger
 * ones get an mmap of their own.  side_owns() looks addresses up in a sorted
 * table of regions, so a foreign pointer is never taken for a side block.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "side.h"

#define SLAB_BYTES	(1UL << 20)
#define MIN_SHIFT	4
#define MAX_SHIFT	18		/* 256 KiB: larger blocks are mmapped */
#define NCLASS		(MAX_SHIFT - MIN_SHIFT + 1)
#define MAX_REGIONS	4096
#define MAX_DEFERRED	16384

struct side_hdr {
	size_t usable;
	size_t cls;			/* size class, or NCLASS for mmapped */
	void *map;			/* mmapped: the mapping, else NULL */
	size_t maplen;
};

struct region {
	uintptr_t start, end;
};

static pthread_mutex_t side_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region regions[MAX_REGIONS];
static int nregions;
static void *freelist[NCLASS];
static unsigned char *slab_cur, *slab_end;
static uint64_t deferred[MAX_DEFERRED];
static int ndeferred;
uint64_t side_allocs;			/* statistics */

static int region_find(uintptr_t a)
{
	int lo = 0, hi = nregions - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (a < regions[mid].start)
			hi = mid - 1;
		else if (a >= regions[mid].end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static int region_add(uintptr_t start, size_t len)
{
	int i;

	if (nregions == MAX_REGIONS)
		return -1;
	for (i = nregions; i > 0 && regions[i - 1].start > start; i--)
		regions[i] = regions[i - 1];
	regions[i].start = start;
	regions[i].end = start + len;
	nregions++;
	return 0;
}

static void region_del(int i)
{
	memmove(&regions[i], &regions[i + 1],
		(size_t)(nregions - i - 1) * sizeof(regions[0]));
	nregions--;
}

static unsigned int size_class(size_t n)
{
	unsigned int c = MIN_SHIFT;

	while (((size_t)1 << c) < n)
		c++;
	return c - MIN_SHIFT;
}

/* Carve header + aligned block from the current slab (side_lock held). */
static void *carve(size_t size, size_t align)
{
	uintptr_t p;

	for (int tries = 0; tries < 2; tries++) {
		if (slab_cur) {
			p = ((uintptr_t)slab_cur + sizeof(struct side_hdr) +
			     align - 1) & ~(uintptr_t)(align - 1);
			if (p + size <= (uintptr_t)slab_end) {
				slab_cur = (unsigned char *)(p + size);
				return (void *)p;
			}
		}
		void *s = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s == MAP_FAILED)
			return NULL;
		if (region_add((uintptr_t)s, SLAB_BYTES)) {
			munmap(s, SLAB_BYTES);
			return NULL;
		}
		slab_cur = s;
		slab_end = (unsigned char *)s + SLAB_BYTES;
	}
	return NULL;
}

void *side_alloc(size_t n, size_t align, int zero)
{
	struct side_hdr *h;
	void *p = NULL;

	if (align < 16)
		align = 16;
	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (!n)
		n = 1;
	pthread_mutex_lock(&side_lock);
	if (n <= (1UL << MAX_SHIFT) && align <= SLAB_BYTES / 4) {
		unsigned int c = size_class(n);
		size_t size = (size_t)1 << (c + MIN_SHIFT);

		if (align == 16 && freelist[c]) {
			p = freelist[c];
			freelist[c] = *(void **)p;
		} else {
			p = carve(size, align);
		}
		if (p) {
			h = (struct side_hdr *)p - 1;
			h->usable = size;
			h->cls = c;
			h->map = NULL;
			h->maplen = 0;
		}
	} else {
		size_t len = (n + align + sizeof(*h) + 4095) & ~(size_t)4095;
		void *m = len < n ? MAP_FAILED :
			mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m != MAP_FAILED && !region_add((uintptr_t)m, len)) {
			p = (void *)(((uintptr_t)m + sizeof(*h) + align - 1) &
				     ~(uintptr_t)(align - 1));
			h = (struct side_hdr *)p - 1;
			h->usable = (size_t)((uintptr_t)m + len - (uintptr_t)p);
			h->cls = NCLASS;
			h->map = m;
			h->maplen = len;
		} else if (m != MAP_FAILED) {
			munmap(m, len);
		}
	}
	if (p)
		side_allocs++;
	pthread_mutex_unlock(&side_lock);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	if (zero)
		memset(p, 0, n);
	return p;
}

int side_owns(const void *p)
{
	int r;

	if (!__atomic_load_n(&nregions, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&side_lock);
	r = region_find((uintptr_t)p) >= 0;
	pthread_mutex_unlock(&side_lock);
	return r;
}

size_t side_usable(const void *p)
{
	return ((const struct side_hdr *)p - 1)->usable;
}

void side_free(void *p)
{
	struct side_hdr *h = (struct side_hdr *)p - 1;

	pthread_mutex_lock(&side_lock);
	if (h->cls == NCLASS) {
		int i = region_find((uintptr_t)h->map);

		if (i >= 0)
			region_del(i);
		munmap(h->map, h->maplen);
	} else if (h->cls < NCLASS) {
		*(void **)p = freelist[h->cls];
		freelist[h->cls] = p;
	}
	pthread_mutex_unlock(&side_lock);
}

/*
 * Queue an offset, once confirm(arg) (when given) says yes: 0, -1 when the
 * queue is full, -2 when confirm said no.  The entry is written before it
 * is confirmed and counted: a forked child replays [0, ndeferred) as the
 * fork found them, and must not find a stale offset there; and one that
 * the fork caught confirmed but not counted is at deferred[ndeferred]
 * (defer_uncounted()).
 */
int defer_free_if(uint64_t offset, int (*confirm)(void *), void *arg)
{
	int r = -1;

	pthread_mutex_lock(&side_lock);
	if (ndeferred < MAX_DEFERRED) {
		deferred[ndeferred] = offset;
		__atomic_signal_fence(__ATOMIC_RELEASE);
		r = -2;
		if (!confirm || confirm(arg)) {
			__atomic_signal_fence(__ATOMIC_RELEASE);
			ndeferred++;
			r = 0;
		}
	}
	pthread_mutex_unlock(&side_lock);
	return r;
}

/* Queue a device block's offset; -1 when the queue is full. */
int defer_free(uint64_t offset)
{
	return defer_free_if(offset, NULL, NULL);
}

/*
 * In a forked child, after the queue's replay: the entry past the counted
 * ones (0 with it in *offset), which may be a stale one or one the fork
 * caught between its confirmation and its count; -1 with none.
 */
int defer_uncounted(uint64_t *offset)
{
	if (ndeferred >= MAX_DEFERRED)
		return -1;
	*offset = deferred[ndeferred];
	return 0;
}

/* Take one queued offset: 0, or -1 when the queue is empty. */
int pop_deferred(uint64_t *offset)
{
	int r = -1;

	pthread_mutex_lock(&side_lock);
	if (ndeferred) {
		*offset = deferred[--ndeferred];
		r = 0;
	}
	pthread_mutex_unlock(&side_lock);
	return r;
}

void side_fork_child(void)
{
	pthread_mutex_init(&side_lock, NULL);
}
