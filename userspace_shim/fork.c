// SPDX-License-Identifier: GPL-2.0
/*
 * fork: the child gets a private copy of every heap (the default one and
 * buddy.h handles) at the same addresses.  This file owns the atfork
 * handlers, the SIGSEGV handler that maps a child's copy, and the fork()
 * wrapper; it calls down into each layer's part: heap_fork_*() (the copies),
 * cache_flush_self()/cache_fork_child(), side_fork_child() and
 * malloc_fork_parent()/malloc_fork_child() (the deferred frees).  Nothing
 * calls into it but libc.
 *
 * prepare: copy each heap (BUDDY_IOC_CLONE) and mark it pending; no shim
 * lock is held across the fork itself (glibc's fork() takes its own locks
 * after the prepare handlers: see README.md).  The child maps its copy over
 * the window and drops the parent's file; the parent closes the copies.  A
 * failed copy is reported by the child handler or the fork() wrapper.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "heap.h"
#include "malloc_layer.h"
#include "side.h"
#include "util.h"

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

/*
 * Set on the forking thread by prepare; the child inherits the values.
 * t_fork_active: prepare did its work (no heap had ever been opened
 * otherwise, and the handlers leave that fork alone).
 */
static __thread int t_fork_active;
static __thread int fork_clone_err;
static __thread int t_fork_wrapped;

/*
 * Why the window is not inherited (the driver maps it VM_DONTCOPY) and a
 * SIGSEGV handler is needed: in a multi-threaded process
 * glibc's fork() writes to heap memory in the child *before* any atfork
 * child handler runs (fresetlockfiles() re-initialises the lock of every
 * FILE, and nss state is reset).  Had the child inherited the window, it
 * would still be the parent's shared mapping then, and those writes would
 * reset locks that the parent's threads hold.  So the child starts with
 * no window at all, and from prepare until the fork is over a SIGSEGV
 * handler is in place: the child's first touch of a window maps its copy
 * there (mmap is async-signal-safe) and the access is retried.  Any other
 * fault goes to the handler the program had.
 */
static struct sigaction old_segv;
static int segv_installed;
static pid_t fork_parent_pid;
static volatile int child_mapped;

static int map_copies(void)
{
	if (heap_fork_map_copies())
		return -1;
	child_mapped = 1;
	return 0;
}

static void fork_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!child_mapped && getpid() != fork_parent_pid &&
	    heap_fork_in_window(si->si_addr)) {
		if (fork_clone_err && t_fork_wrapped)
			_exit(127);
		if (map_copies()) {
			write_stderr("libbuddy: fork: cannot map the heap copy; the child exits\n");
			_exit(127);
		}
		return;		/* retry the access */
	}
	/* not ours: put the program's handler back and fault again */
	sigaction(sig, &old_segv, NULL);
}

static void fork_prepare(void)
{
	fork_clone_err = 0;
	t_fork_active = heap_ever_registered();
	if (!t_fork_active)
		return;
	/* The forking thread's cached blocks go back before the copy. */
	(void)cache_flush_self();
	if (_IO_list_lock)
		_IO_list_lock();
	segv_installed = heap_fork_lock();
	if (segv_installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fork_segv;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		fork_parent_pid = getpid();
		child_mapped = 0;
		sigaction(SIGSEGV, &sa, &old_segv);
	}
	fork_clone_err = heap_fork_copy();
}

static void fork_parent(void)
{
	if (!t_fork_active)
		return;
	if (segv_installed)
		sigaction(SIGSEGV, &old_segv, NULL);
	heap_fork_parent();
	malloc_fork_parent();
	heap_fork_unlock();
	if (_IO_list_unlock)
		_IO_list_unlock();
}

static void fork_child(void)
{
	if (!t_fork_active)
		return;
	if (fork_clone_err) {
		/*
		 * No private copy: running on would share the parent's heap.
		 * The fork() wrapper turns this into fork() = -1 / ENOMEM in
		 * the parent; a fork that bypassed it sees the child exit 127.
		 */
		if (!t_fork_wrapped)
			write_stderr_joined("libbuddy: fork: cannot copy the heap: ",
					    errdesc(fork_clone_err),
					    "; the child exits\n");
		_exit(127);
	}
	if (!child_mapped && map_copies()) {
		write_stderr_joined("libbuddy: fork: cannot map the heap copy: ",
				    errdesc(errno), "; the child exits\n");
		_exit(127);
	}
	if (segv_installed)
		sigaction(SIGSEGV, &old_segv, NULL);
	heap_fork_child();
	/* glibc resets it in a multi-threaded child; ours is released too */
	if (_IO_list_resetlock)
		_IO_list_resetlock();
	side_fork_child();
	malloc_fork_child();
	cache_fork_child();
}

/*
 * Registered when the library is loaded; the handlers do nothing until a
 * heap has been opened (heap_ever_registered()), as before any heap there
 * is nothing to copy.
 */
__attribute__((constructor)) static void fork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * fork() itself is wrapped only to turn a failed heap copy into a failed
 * fork: the child (which would otherwise share the parent's heap) exits at
 * once in the atfork child handler, and the parent sees -1 / ENOMEM, as if
 * the kernel had been unable to copy the address space.
 */
API pid_t fork(void)
{
	static pid_t (*real_fork)(void);
	pid_t (*f)(void) = __atomic_load_n(&real_fork, __ATOMIC_ACQUIRE);
	sigset_t async, saved;
	pid_t pid;
	int err;

	if (!f) {
		f = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
		if (!f) {
			errno = ENOSYS;
			return -1;
		}
		__atomic_store_n(&real_fork, f, __ATOMIC_RELEASE);
	}
	/*
	 * From prepare to the parent handler this thread holds the registry
	 * lock and glibc's atfork lock, and the heap copy makes that window
	 * long: a signal whose handler forks (glibc's tst-mallocfork: the
	 * child signals its parent at once) would deadlock on them.  So
	 * asynchronous signals wait until the fork is over; faults still reach
	 * fork_segv and their default actions.
	 */
	sigfillset(&async);
	sigdelset(&async, SIGSEGV);
	sigdelset(&async, SIGBUS);
	sigdelset(&async, SIGILL);
	sigdelset(&async, SIGFPE);
	sigdelset(&async, SIGTRAP);
	pthread_sigmask(SIG_BLOCK, &async, &saved);
	t_fork_wrapped = 1;
	pid = f();
	t_fork_wrapped = 0;
	err = fork_clone_err;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (pid > 0 && err) {
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		write_stderr_joined("libbuddy: fork: cannot copy the heap: ",
				    errdesc(err), "; fork() fails with ENOMEM\n");
		errno = ENOMEM;
		return -1;
	}
	return pid;
}
