// SPDX-License-Identifier: GPL-2.0
/*
 * Heaps on /dev/buddy: opening and mapping one, the operations (one ioctl
 * each, under the heap's lock), the buddy.h client API, and the fork
 * handling that gives a child its own copy of every heap.
 *
 * The malloc family (malloc.c) is the default heap driven through the same
 * heap_*() functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "buddy.h"
#include "shim.h"

/* Every open heap, so fork can copy each; the default heap is one. */
static struct buddy_handle *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static int atfork_done;

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
	/* Children do not inherit the window: see the fork section. */
	madvise(base, w, MADV_DONTFORK);

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

static void heap_unmap(struct buddy_handle *h)
{
	munmap(h->base, h->window);
	close(h->fd);
}

/* ---- fork ------------------------------------------------------------ */

/*
 * prepare: have the kernel copy each heap into a new file, and mark the heap
 * "pending" under its lock, so that no later change reaches the device
 * until the fork is over (malloc.c serves the default heap's callers from
 * the side arena meanwhile; buddy.h handles wait).  No heap lock is held
 * across the fork itself.  The child maps its copy over the window at the
 * same address and drops the parent's file; the parent closes the copies.
 * A failed copy is reported by the child handler / the fork() wrapper.
 */
/* Set on the forking thread by prepare; the child inherits the value. */
static __thread int fork_clone_err;

/*
 * Why MADV_DONTFORK and a SIGSEGV handler: in a multi-threaded process
 * glibc's fork() writes to heap memory in the child *before* any atfork
 * child handler runs (fresetlockfiles() re-initialises the lock of every
 * FILE, and nss state is reset).  Had the child inherited the window, it
 * would still be the parent's shared mapping then, and those writes would
 * reset locks that the parent's threads hold.  So the window is not
 * inherited at all, and from prepare until the fork is over a SIGSEGV
 * handler is in place: the child's first touch of a window maps its copy
 * there (mmap is async-signal-safe) and the access is retried.  Any other
 * fault goes to the handler the program had.
 */
/*
 * glibc's stdio list lock (exported, no header).  glibc's fork() takes it
 * only after the prepare handlers, yet its child walks every FILE, and
 * FILEs live in the window: a FILE opened between the heap copy and the
 * fork would be on the child's list with the copy's stale contents (glibc's
 * tst-malloc-fork-deadlock crashed so).  prepare takes it before copying;
 * it is recursive, so glibc's own take nests inside ours.
 */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

static struct sigaction old_segv;
static pid_t fork_parent_pid;
static volatile int child_mapped;

static int map_copies(void)
{
	struct buddy_handle *h;

	for (h = registry; h; h = h->next) {
		if (h->clone_fd < 0 ||
		    mmap(h->base, h->window, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, h->clone_fd, 0) == MAP_FAILED)
			return -1;
		madvise(h->base, h->window, MADV_DONTFORK);
	}
	child_mapped = 1;
	return 0;
}

static void fork_segv(int sig, siginfo_t *si, void *uc)
{
	struct buddy_handle *h;

	(void)uc;
	if (!child_mapped && getpid() != fork_parent_pid)
		for (h = registry; h; h = h->next)
			if (heap_contains(h, si->si_addr)) {
				if (fork_clone_err && shim_fork_wrapped())
					_exit(127);
				if (map_copies()) {
					say("libbuddy: fork: cannot map the heap copy; the child exits\n");
					_exit(127);
				}
				return;		/* retry the access */
			}
	/* not ours: put the program's handler back and fault again */
	sigaction(sig, &old_segv, NULL);
}

static void atfork_prepare(void)
{
	struct buddy_handle *h;

	shim_fork_prepare();
	if (_IO_list_lock)
		_IO_list_lock();
	pthread_mutex_lock(&registry_lock);
	fork_clone_err = 0;
	if (registry) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fork_segv;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		fork_parent_pid = getpid();
		child_mapped = 0;
		sigaction(SIGSEGV, &sa, &old_segv);
	}
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
			fork_clone_err = -err;
			break;
		}
	}
	if (fork_clone_err)
		for (h = registry; h; h = h->next) {
			pthread_mutex_lock(&h->lock);
			if (h->clone_fd >= 0)
				close(h->clone_fd);
			h->clone_fd = -1;
			h->pending = 0;
			pthread_mutex_unlock(&h->lock);
		}
}

static void atfork_parent(void)
{
	struct buddy_handle *h;

	if (registry)
		sigaction(SIGSEGV, &old_segv, NULL);
	for (h = registry; h; h = h->next) {
		pthread_mutex_lock(&h->lock);
		if (h->clone_fd >= 0)
			close(h->clone_fd);
		h->clone_fd = -1;
		h->pending = 0;
		pthread_mutex_unlock(&h->lock);
	}
	shim_fork_parent();
	pthread_mutex_unlock(&registry_lock);
	if (_IO_list_unlock)
		_IO_list_unlock();
}

int heap_fork_failed(void)
{
	return fork_clone_err;
}

static void atfork_child(void)
{
	struct buddy_handle *h;

	if (fork_clone_err) {
		/*
		 * No private copy: running on would share the parent's heap.
		 * The fork() wrapper turns this into fork() = -1 / ENOMEM in
		 * the parent; a fork that bypassed it sees the child exit 127.
		 */
		if (!shim_fork_wrapped())
			say3("libbuddy: fork: cannot copy the heap: ",
			     errdesc(fork_clone_err), "; the child exits\n");
		_exit(127);
	}
	if (!child_mapped && map_copies()) {
		say3("libbuddy: fork: cannot map the heap copy: ",
		     errdesc(errno), "; the child exits\n");
		_exit(127);
	}
	if (registry)
		sigaction(SIGSEGV, &old_segv, NULL);
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
	/* glibc resets it in a multi-threaded child; ours is released too */
	if (_IO_list_resetlock)
		_IO_list_resetlock();
	side_fork_child();
	shim_fork_child();
}

void heap_register(struct buddy_handle *h)
{
	pthread_mutex_lock(&registry_lock);
	if (!atfork_done) {
		atfork_done = 1;
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	}
	h->next = registry;
	registry = h;
	pthread_mutex_unlock(&registry_lock);
}

static void heap_unregister(struct buddy_handle *h)
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

/* ---- operations ------------------------------------------------------ */

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
 * FREE.  Returns 0, -EINVAL with *reason (BUDDY_REASON_*) when the kernel
 * (or the window check) refuses the pointer, or another negative errno.
 */
int heap_free(struct buddy_handle *h, void *p, unsigned int *reason)
{
	struct buddy_block_args b = { 0 };
	int err;

	*reason = BUDDY_REASON_NONE;
	if (!heap_contains(h, p)) {
		*reason = BUDDY_REASON_OUTSIDE;
		return -EINVAL;
	}
	b.offset = (uintptr_t)p - (uintptr_t)h->base;
	err = lock_for_change(h);
	if (err)
		return err;
	err = xioctl(h->fd, BUDDY_IOC_FREE, &b);
	pthread_mutex_unlock(&h->lock);
	if (err == -EINVAL)
		*reason = b.reason;
	return err;
}

/* FREE by offset, with the lock: for the deferred frees after a fork. */
int heap_free_offset(struct buddy_handle *h, uint64_t offset,
		     unsigned int *reason)
{
	struct buddy_block_args b = { .offset = offset };
	int err;

	pthread_mutex_lock(&h->lock);
	err = xioctl(h->fd, BUDDY_IOC_FREE, &b);
	pthread_mutex_unlock(&h->lock);
	*reason = err == -EINVAL ? b.reason : 0;
	return err;
}

/*
 * BATCH of n operations (n <= BUDDY_BATCH_MAX), each with its own result.
 * Returns 0 once all were tried, or the call's negative errno (-EAGAIN
 * while a fork is pending, for the default heap).
 */
int heap_batch(struct buddy_handle *h, struct buddy_op *ops, unsigned int n)
{
	struct buddy_batch b = {
		.ops = (uintptr_t)ops,
		.count = n,
		.op_size = sizeof(*ops),
	};
	int err;

	err = lock_for_change(h);
	if (err)
		return err;
	err = xioctl(h->fd, BUDDY_IOC_BATCH, &b);
	pthread_mutex_unlock(&h->lock);
	if (!err && b.done != n)
		err = -EIO;
	return err;
}

/* REALLOC: the block intact on failure.  Same returns as heap_free(). */
int heap_realloc(struct buddy_handle *h, void *p, size_t size, void **out,
		 unsigned int *reason)
{
	struct buddy_block_args b = { 0 };
	int err;

	*reason = BUDDY_REASON_NONE;
	if (!heap_contains(h, p)) {
		*reason = BUDDY_REASON_OUTSIDE;
		return -EINVAL;
	}
	b.offset = (uintptr_t)p - (uintptr_t)h->base;
	b.size = size ? size : 1;
	err = lock_for_change(h);
	if (err)
		return err;
	err = xioctl(h->fd, BUDDY_IOC_REALLOC, &b);
	pthread_mutex_unlock(&h->lock);
	if (err == -EINVAL)
		*reason = b.reason;
	if (!err)
		*out = h->base + b.new_offset;
	return err;
}

int heap_usable(struct buddy_handle *h, const void *p, size_t *usable,
		unsigned int *reason)
{
	struct buddy_block_args b = { 0 };
	int err;

	*reason = BUDDY_REASON_NONE;
	if (!heap_contains(h, p)) {
		*reason = BUDDY_REASON_OUTSIDE;
		return -EINVAL;
	}
	b.offset = (uintptr_t)p - (uintptr_t)h->base;
	pthread_mutex_lock(&h->lock);
	err = xioctl(h->fd, BUDDY_IOC_USABLE_SIZE, &b);
	pthread_mutex_unlock(&h->lock);
	if (err == -EINVAL)
		*reason = b.reason;
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

/* ---- client API (buddy.h) --------------------------------------------- */

static int fail(int err)
{
	errno = -err;
	return -1;
}

API buddy_t *buddy_open(void)
{
	const char *path = knob("BUDDY_DEVICE");
	struct buddy_handle *h;
	int err;

	/* Handles live in pages of their own: no malloc here. */
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	err = heap_open(h, path && *path ? path : "/dev/buddy");
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
	void *p;
	int err;

	if (n > PTRDIFF_MAX)
		return fail(-ENOMEM), NULL;
	err = heap_alloc(h, BUDDY_IOC_MALLOC, n, 0, 0, &p);
	return err ? (fail(err), NULL) : p;
}

API void *buddy_calloc(buddy_t *h, size_t n, size_t size)
{
	ptrdiff_t bytes;
	void *p;
	int err;

	if (__builtin_mul_overflow(n, size, &bytes))
		return fail(-ENOMEM), NULL;
	err = heap_alloc(h, BUDDY_IOC_CALLOC, (size_t)bytes, 1, 0, &p);
	return err ? (fail(err), NULL) : p;
}

API void *buddy_memalign(buddy_t *h, size_t align, size_t n)
{
	void *p;
	int err;

	if (!align || (align & (align - 1)))
		return fail(-EINVAL), NULL;
	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX)
		return fail(-ENOMEM), NULL;
	if (align <= 16)
		err = heap_alloc(h, BUDDY_IOC_MALLOC, n, 0, 0, &p);
	else
		err = heap_alloc(h, BUDDY_IOC_MEMALIGN, n, 0, align, &p);
	return err ? (fail(err), NULL) : p;
}

API int buddy_free(buddy_t *h, void *p)
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

API void *buddy_realloc(buddy_t *h, void *p, size_t n)
{
	unsigned int reason;
	void *q;
	int err;

	if (!p)
		return buddy_malloc(h, n);
	if (!n) {
		buddy_free(h, p);
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
