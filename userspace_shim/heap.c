// SPDX-License-Identifier: GPL-2.0
/*
 * Heaps on /dev/buddy: opening and mapping one, the operations (one ioctl
 * each, under the heap's lock), the registry of open heaps, and what a fork
 * does to each heap (fork.c drives it).
 *
 * The malloc family (malloc.c) is the default heap driven through the same
 * heap_*() functions; so are the buddy.h handles (client.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "heap.h"

/* Every open heap, so fork can copy each; the default heap is one. */
static struct buddy_handle *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static int registered_once;	/* fork.c does nothing until a heap exists */

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	do
		r = ioctl(fd, cmd, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/*
 * Move a heap's descriptor out of the way of programs that dup2() onto low
 * numbers (a shell's "exec 3>file" would otherwise replace it): to the top
 * quarter of the first 1024 descriptors, or leave it where it is.
 */
static int fd_high(int fd)
{
	struct rlimit rl;
	long lim = 1024;
	int nfd;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)lim)
		lim = (long)rl.rlim_cur;
	if (lim < 64)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)(lim - lim / 4));
	if (nfd < 0)
		return fd;
	close(fd);
	return nfd;
}

/*
 * The device node to open: $BUDDY_DEVICE, or /dev/buddy.  buddyctl has its
 * own copy on libc's getenv(): it is a separate program that does not link
 * libbuddy, and this one must work before libc has set environ.
 */
const char *device_path(void)
{
	const char *p = getenv_knob("BUDDY_DEVICE");

	return p && *p ? p : "/dev/buddy";
}

/*
 * Open a new heap and map its window at an address aligned to the window
 * size, so that the kernel's natural block alignment (relative to the window)
 * is absolute.  Returns 0 or a negative errno; -EPROTO for an ABI mismatch.
 */
int heap_open(struct buddy_handle *h, const char *path)
{
	struct buddy_info info;
	unsigned char *res, *base;
	uint64_t w;
	int fd, err;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fd = fd_high(fd);
	memset(&info, 0, sizeof(info));
	err = xioctl(fd, BUDDY_IOC_INFO, &info);
	if (err)
		goto fail;
	err = -EPROTO;
	if (info.abi_version != BUDDY_ABI_VERSION || !info.window_bytes ||
	    info.window_bytes > (UINT64_MAX >> 2))
		goto fail;
	w = info.window_bytes;

	/* Reserve twice the window, then put the device on the aligned half. */
	res = mmap(NULL, 2 * w, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	base = (unsigned char *)(((uintptr_t)res + w - 1) / w * w);
	if (mmap(base, w, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) == MAP_FAILED) {
		err = -errno;
		munmap(res, 2 * w);
		goto fail;
	}
	if (base > res)
		munmap(res, (size_t)(base - res));
	if (res + 2 * w > base + w)
		munmap(base + w, (size_t)(res + 2 * w - (base + w)));
	/* The driver maps it VM_DONTCOPY: children do not inherit it (fork.c). */

	h->fd = fd;
	h->clone_fd = -1;
	h->base = base;
	h->window = w;
	h->info = info;
	pthread_mutex_init(&h->lock, NULL);
	h->next = NULL;
	return 0;
fail:
	close(fd);
	return err;
}

void heap_unmap(struct buddy_handle *h)
{
	munmap(h->base, h->window);
	close(h->fd);
}

/* The registry */

void heap_register(struct buddy_handle *h)
{
	pthread_mutex_lock(&registry_lock);
	registered_once = 1;
	h->next = registry;
	registry = h;
	pthread_mutex_unlock(&registry_lock);
}

void heap_unregister(struct buddy_handle *h)
{
	struct buddy_handle **pp;

	pthread_mutex_lock(&registry_lock);
	for (pp = &registry; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	pthread_mutex_unlock(&registry_lock);
}

/* Operations */

/*
 * Lock a heap for a change.  While a fork is pending the default heap's
 * callers get -EAGAIN (malloc.c uses the side arena); a buddy.h handle's
 * callers wait for the fork to finish.
 */
static int lock_for_change(struct buddy_handle *h)
{
	pthread_mutex_lock(&h->lock);
	while (unlikely(h->pending)) {
		pthread_mutex_unlock(&h->lock);
		if (h->is_default)
			return -EAGAIN;
		sched_yield();
		pthread_mutex_lock(&h->lock);
	}
	return 0;
}

/*
 * MALLOC / CALLOC / MEMALIGN.  Size 0 asks for the smallest block (malloc(0)
 * returns a unique pointer, as in glibc).  Returns 0 or a negative errno.
 */
int heap_alloc(struct buddy_handle *h, unsigned long cmd, size_t size,
	       size_t nmemb, size_t align, void **out)
{
	struct buddy_alloc_args a = {
		.size = size ? size : 1,
		.nmemb = nmemb,
		.align = align,
	};
	int err;

	if (cmd == BUDDY_IOC_CALLOC && !nmemb)
		a.nmemb = 1;
	err = lock_for_change(h);
	if (err)
		return err;
	err = xioctl(h->fd, cmd, &a);
	pthread_mutex_unlock(&h->lock);
	if (err)
		return err;
	*out = h->base + a.offset;
	return 0;
}

/*
 * FREE, REALLOC or USABLE_SIZE on b->offset, under the heap's lock, taken
 * with lock_for_change() when for_change, else regardless of a pending
 * fork.  Returns 0, -EINVAL with the kernel's *reason (BUDDY_REASON_*) when
 * it refuses the offset, or another negative errno (*reason NONE).
 */
static int block_ioctl(struct buddy_handle *h, unsigned long cmd,
		       struct buddy_block_args *b, int for_change,
		       unsigned int *reason)
{
	int err;

	*reason = BUDDY_REASON_NONE;
	if (for_change) {
		err = lock_for_change(h);
		if (err)
			return err;
	} else {
		pthread_mutex_lock(&h->lock);
	}
	err = xioctl(h->fd, cmd, b);
	pthread_mutex_unlock(&h->lock);
	if (err == -EINVAL)
		*reason = b->reason;
	return err;
}

/* block_ioctl() on the block p starts: refused without a call outside. */
static int block_ioctl_at(struct buddy_handle *h, unsigned long cmd,
			  const void *p, struct buddy_block_args *b,
			  int for_change, unsigned int *reason)
{
	if (!heap_contains(h, p)) {
		*reason = BUDDY_REASON_OUTSIDE;
		return -EINVAL;
	}
	b->offset = (uintptr_t)p - (uintptr_t)h->base;
	return block_ioctl(h, cmd, b, for_change, reason);
}

/*
 * FREE.  Returns 0, -EINVAL with *reason (BUDDY_REASON_*) when the kernel
 * (or the window check) refuses the pointer, or another negative errno.
 */
int heap_free(struct buddy_handle *h, void *p, unsigned int *reason)
{
	struct buddy_block_args b = { 0 };

	return block_ioctl_at(h, BUDDY_IOC_FREE, p, &b, 1, reason);
}

/* FREE by offset under the lock heap_lock_change() took: deferred frees. */
int heap_free_offset_locked(struct buddy_handle *h, uint64_t offset,
			    unsigned int *reason)
{
	struct buddy_block_args b = { .offset = offset };
	int err = xioctl(h->fd, BUDDY_IOC_FREE, &b);

	*reason = err == -EINVAL ? b.reason : BUDDY_REASON_NONE;
	return err;
}

/*
 * Hold a heap's lock for changes the caller makes with the _locked calls,
 * and for its own bookkeeping of them: a fork's copy (heap_fork_copy(),
 * under the same lock) then sees both or neither.  0 with the lock held,
 * or -EAGAIN, not holding it, while a fork is pending (default heap).
 */
int heap_lock_change(struct buddy_handle *h)
{
	return lock_for_change(h);
}

void heap_unlock_change(struct buddy_handle *h)
{
	pthread_mutex_unlock(&h->lock);
}

/*
 * BATCH of n operations (n <= BUDDY_BATCH_MAX), each with its own result,
 * under the lock heap_lock_change() took.  Returns 0 once all were tried,
 * or the call's negative errno.
 */
int heap_batch_locked(struct buddy_handle *h, struct buddy_op *ops,
		      unsigned int n)
{
	struct buddy_batch b = {
		.ops = (uintptr_t)ops,
		.count = n,
		.op_size = sizeof(*ops),
	};
	int err = xioctl(h->fd, BUDDY_IOC_BATCH, &b);

	if (!err && b.done != n)
		err = -EIO;
	return err;
}

/* heap_batch_locked() under the lock; -EAGAIN while a fork is pending. */
int heap_batch(struct buddy_handle *h, struct buddy_op *ops, unsigned int n)
{
	int err = lock_for_change(h);

	if (err)
		return err;
	err = heap_batch_locked(h, ops, n);
	pthread_mutex_unlock(&h->lock);
	return err;
}

/* REALLOC: the block intact on failure.  Same returns as heap_free(). */
int heap_realloc(struct buddy_handle *h, void *p, size_t size, void **out,
		 unsigned int *reason)
{
	struct buddy_block_args b = { .size = size ? size : 1 };
	int err = block_ioctl_at(h, BUDDY_IOC_REALLOC, p, &b, 1, reason);

	if (!err)
		*out = h->base + b.new_offset;
	return err;
}

/* USABLE_SIZE: only reads, so it goes ahead while a fork is pending. */
int heap_usable(struct buddy_handle *h, const void *p, size_t *usable,
		unsigned int *reason)
{
	struct buddy_block_args b = { 0 };
	int err = block_ioctl_at(h, BUDDY_IOC_USABLE_SIZE, p, &b, 0, reason);

	if (!err)
		*usable = b.usable;
	return err;
}

int heap_stats(struct buddy_handle *h, struct buddy_heap_stats *st)
{
	int err;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&h->lock);
	err = xioctl(h->fd, BUDDY_IOC_STATS, st);
	pthread_mutex_unlock(&h->lock);
	return err;
}

/* Fork (fork.c drives these) */

/* Whether a heap was ever opened: before that a fork has nothing to copy. */
int heap_ever_registered(void)
{
	return __atomic_load_n(&registered_once, __ATOMIC_ACQUIRE);
}

/*
 * prepare, first: no heap may be opened or closed until the fork is over
 * (heap_fork_unlock() in the parent, heap_fork_child() in the child).
 * Returns whether there is any heap to copy.
 */
int heap_fork_lock(void)
{
	pthread_mutex_lock(&registry_lock);
	return registry != NULL;
}

/*
 * prepare, then: have the kernel copy each heap into a new file, and mark
 * the heap "pending" under its lock, so that no later change reaches the
 * device until the fork is over (malloc.c serves the default heap's callers
 * from the side arena meanwhile; buddy.h handles wait).  No heap lock is
 * held across the fork itself.  Returns 0, or the positive errno of a copy
 * the kernel could not make, with every copy undone.
 */
int heap_fork_copy(void)
{
	struct buddy_handle *h;
	int clone_err = 0;

	for (h = registry; h; h = h->next) {
		struct buddy_clone_args ca = { .flags = O_CLOEXEC };
		int err;

		pthread_mutex_lock(&h->lock);
		/*
		 * Pending before the copy, not after: malloc.c's per-thread
		 * caches hand out blocks without this lock, and a block
		 * written while the kernel copies the heap must come from the
		 * side arena instead.
		 */
		__atomic_store_n(&h->pending, 1, __ATOMIC_SEQ_CST);
		err = xioctl(h->fd, BUDDY_IOC_CLONE, &ca);
		if (!err)
			h->clone_fd = ca.fd;
		else
			h->pending = 0;
		pthread_mutex_unlock(&h->lock);
		if (err) {
			clone_err = -err;
			break;
		}
	}
	if (clone_err)
		heap_fork_parent();	/* undo: drop the copies made so far */
	return clone_err;
}

/* parent: the copies are the child's now; the heaps may change again. */
void heap_fork_parent(void)
{
	struct buddy_handle *h;

	for (h = registry; h; h = h->next) {
		pthread_mutex_lock(&h->lock);
		if (h->clone_fd >= 0)
			close(h->clone_fd);
		h->clone_fd = -1;
		h->pending = 0;
		pthread_mutex_unlock(&h->lock);
	}
}

void heap_fork_unlock(void)
{
	pthread_mutex_unlock(&registry_lock);
}

/* Whether addr is in a heap's window (from a signal handler: no lock). */
int heap_fork_in_window(const void *addr)
{
	struct buddy_handle *h;

	for (h = registry; h; h = h->next)
		if (heap_contains(h, addr))
			return 1;
	return 0;
}

/*
 * child: map each heap's copy over its window, at the same address.
 * Async-signal-safe (fork.c's SIGSEGV handler calls it).  0 or -1/errno.
 */
int heap_fork_map_copies(void)
{
	struct buddy_handle *h;

	for (h = registry; h; h = h->next) {
		if (h->clone_fd < 0 ||
		    mmap(h->base, h->window, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, h->clone_fd, 0) == MAP_FAILED)
			return -1;
	}
	return 0;
}

/* child, once the copies are mapped: drop the parent's files and locks. */
void heap_fork_child(void)
{
	struct buddy_handle *h;

	for (h = registry; h; h = h->next) {
		/* Keep the parent's (high) descriptor number for the copy. */
		if (dup3(h->clone_fd, h->fd, O_CLOEXEC) < 0) {
			close(h->fd);
			h->fd = h->clone_fd;
		} else {
			close(h->clone_fd);
		}
		h->clone_fd = -1;
		h->pending = 0;
		pthread_mutex_init(&h->lock, NULL);
	}
	pthread_mutex_init(&registry_lock, NULL);
}
