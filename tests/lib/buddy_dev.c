// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_dev.c - the /dev/buddy helpers of the in-guest test programs
 * (see buddy_dev.h).
 */
#include "buddy_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"

int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

unsigned long ioc_resize(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)(size & _IOC_SIZEMASK) << _IOC_SIZESHIFT);
}

int open_heap(void)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		ktap_bail(__FILE__, __LINE__, "open " DEV ": %s",
			  strerror(errno));
	return fd;
}

struct buddy_info get_info(int fd)
{
	struct buddy_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = xioctl(fd, BUDDY_IOC_INFO, &info);
	if (ret)
		ktap_bail(__FILE__, __LINE__, "BUDDY_IOC_INFO: %s",
			  strerror(-ret));
	return info;
}

int heap_stats(int fd, struct buddy_heap_stats *st)
{
	memset(st, 0, sizeof(*st));
	return xioctl(fd, BUDDY_IOC_STATS, st);
}

struct buddy_heap_stats get_stats(int fd)
{
	struct buddy_heap_stats st;
	int ret = heap_stats(fd, &st);

	if (ret)
		ktap_bail(__FILE__, __LINE__, "BUDDY_IOC_STATS: %s",
			  strerror(-ret));
	return st;
}

char *map_window_at(int fd, uint64_t window, void *fixed)
{
	char *res, *p, *base;

	if (fixed) {
		p = mmap(fixed, window, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	/* reserve twice the size, keep the aligned half */
	res = mmap(NULL, 2 * window, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)res + window - 1) &
			~(uintptr_t)(window - 1));
	p = mmap(base, window, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED) {
		munmap(res, 2 * window);
		return NULL;
	}
	if (base > res)
		munmap(res, base - res);
	if (res + 2 * window > base + window)
		munmap(base + window, res + 2 * window - (base + window));
	return base;
}

char *map_window(int fd, uint64_t window)
{
	char *p = map_window_at(fd, window, NULL);

	if (!p)
		ktap_bail(__FILE__, __LINE__, "mmap window: %s",
			  strerror(errno));
	return p;
}

int heap_alloc(int fd, unsigned long cmd, uint64_t size, uint64_t nmemb,
	       uint64_t align, uint32_t flags, uint64_t *off,
	       uint64_t *usable)
{
	struct buddy_alloc_args a = {
		.size = size, .nmemb = nmemb, .align = align, .flags = flags,
	};
	int ret = xioctl(fd, cmd, &a);

	*off = ret ? 0 : a.offset;
	if (usable)
		*usable = ret ? 0 : a.usable;
	return ret;
}

int heap_malloc(int fd, uint64_t size, uint32_t flags, uint64_t *off,
		uint64_t *usable)
{
	return heap_alloc(fd, BUDDY_IOC_MALLOC, size, 0, 0, flags, off,
			  usable);
}

int heap_memalign(int fd, uint64_t align, uint64_t size, uint64_t *off)
{
	return heap_alloc(fd, BUDDY_IOC_MEMALIGN, size, 0, align, 0, off,
			  NULL);
}

int heap_free(int fd, uint64_t off, uint32_t *reason)
{
	struct buddy_block_args b = { .offset = off };
	int ret = xioctl(fd, BUDDY_IOC_FREE, &b);

	if (reason)
		*reason = b.reason;
	return ret;
}

int heap_realloc(int fd, uint64_t off, uint64_t size, uint32_t flags,
		 uint64_t *new_off, uint64_t *usable)
{
	struct buddy_block_args b = {
		.offset = off, .size = size, .flags = flags,
	};
	int ret = xioctl(fd, BUDDY_IOC_REALLOC, &b);

	*new_off = ret ? 0 : b.new_offset;
	if (usable)
		*usable = ret ? 0 : b.usable;
	return ret;
}

int heap_usable(int fd, uint64_t off, uint64_t *usable, uint32_t *reason)
{
	struct buddy_block_args b = { .offset = off };
	int ret = xioctl(fd, BUDDY_IOC_USABLE_SIZE, &b);

	if (usable)
		*usable = ret ? 0 : b.usable;
	if (reason)
		*reason = b.reason;
	return ret;
}

/* Guarded memory access: per thread, so threads may touch at once. */

static __thread sigjmp_buf guard_jmp;
static __thread volatile sig_atomic_t guard_armed, guard_sig;

static void guard_handler(int sig)
{
	if (!guard_armed) {
		/* not ours: die with the default action */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	guard_sig = sig;
	guard_armed = 0;
	siglongjmp(guard_jmp, 1);
}

void guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

int guarded_touch(volatile char *p, bool write, char val)
{
	guard_sig = 0;
	if (sigsetjmp(guard_jmp, 1) == 0) {
		guard_armed = 1;
		if (write)
			*p = val;
		else
			(void)*p;
		guard_armed = 0;
	}
	return guard_sig;
}

bool all_bytes(const char *p, int c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (char)c)
			return false;
	return true;
}

const char *errname(int e)
{
	static __thread char buf[24];

	switch (e) {
	case 0:		return "0";
	case EPERM:	return "EPERM";
	case ENOENT:	return "ENOENT";
	case EINTR:	return "EINTR";
	case EBADF:	return "EBADF";
	case ENOMEM:	return "ENOMEM";
	case EACCES:	return "EACCES";
	case EFAULT:	return "EFAULT";
	case EBUSY:	return "EBUSY";
	case EEXIST:	return "EEXIST";
	case ENODEV:	return "ENODEV";
	case EINVAL:	return "EINVAL";
	case ENFILE:	return "ENFILE";
	case EMFILE:	return "EMFILE";
	case ENOTTY:	return "ENOTTY";
	case ENOSPC:	return "ENOSPC";
	case ESPIPE:	return "ESPIPE";
	case E2BIG:	return "E2BIG";
	case ENXIO:	return "ENXIO";
	case EAGAIN:	return "EAGAIN";
	case EOVERFLOW:	return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSYS:	return "ENOSYS";
	}
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : n;
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : n < 0 ? (int)n : -EIO;
}

char *slurp(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (len < (ssize_t)size - 1 &&
	       (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return buf;
}

long long read_ll(const char *path, const char *key)
{
	static char buf[65536];
	char *s = slurp(path, buf, sizeof(buf)), *p;

	if (!s)
		return -1;
	if (!key)
		return strtoll(s, NULL, 10);
	p = strstr(s, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

int mod_delete(void)
{
	return syscall(SYS_delete_module, "buddy", O_NONBLOCK) ? -errno : 0;
}

int mod_load(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

long long mod_refcnt(void)
{
	return read_ll("/sys/module/buddy/refcnt", NULL);
}

void in_child(const char *name, void (*fn)(void *), void *arg)
{
	unsigned int counts[3] = { 0, 0, 0 };
	int pfd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd))
		ktap_bail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		ktap_bail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (!pid) {
		/* the child numbers its results on from ours */
		unsigned int p0 = ktap_passed(), f0 = ktap_failed();
		unsigned int s0 = ktap_skipped();

		close(pfd[0]);
		fn(arg);
		counts[0] = ktap_passed() - p0;
		counts[1] = ktap_failed() - f0;
		counts[2] = ktap_skipped() - s0;
		if (write(pfd[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(2);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], counts, sizeof(counts)) == sizeof(counts))
		ktap_add_counts(counts[0], counts[1], counts[2]);
	close(pfd[0]);
	waitpid(pid, &status, 0);
	KTAP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "%s: child exited normally (status %#x%s%s)", name, status,
		   WIFSIGNALED(status) ? ", " : "",
		   WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
}

int send_fd(int sock, int fd, int flags)
{
	char data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, flags) == 1 ? 0 : -errno;
}

int recv_fd(int sock, int flags)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, flags) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}
