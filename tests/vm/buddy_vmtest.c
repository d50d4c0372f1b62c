// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_vmtest - integration tests of /dev/buddy, run as root inside the
 * test VM (vm/run) with buddy.ko loaded with its default parameters.
 *
 *	buddy_vmtest [MODULE.ko]
 *
 * Reports in KTAP (tests/lib/ktap.h): one "ok N ..." or "not ok N ..." line
 * per check, "# ..." diagnostics, and a closing "N passed, M failed" line;
 * exits non-zero on any failure.  With MODULE.ko the module tests run
 * last: rmmod is refused while a heap is open and works once all are
 * closed, bad parameters are refused, and the cap tests run with the module
 * reloaded with small caps.  The module is left loaded with its defaults.
 *
 * One program built from several files (vmtest.h lists them); this one has
 * main() and the helpers the others share.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

bool check_err(int got, int want, const char *file, int line,
	       const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ktap_result(got == -want, file, line, "%s: %s (want %s)", what,
			   got ? strerror(-got) : "success",
			   want ? strerror(want) : "success");
}

/* The device */

int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* The same command with another struct size encoded in it. */
unsigned long ioc_resize(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}

int open_heap(void)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open " DEV);
	return fd;
}

struct buddy_info get_info(int fd)
{
	struct buddy_info info;

	memset(&info, 0, sizeof(info));
	if (xioctl(fd, BUDDY_IOC_INFO, &info))
		die("BUDDY_IOC_INFO");
	return info;
}

struct buddy_heap_stats get_stats(int fd)
{
	struct buddy_heap_stats st;

	memset(&st, 0, sizeof(st));
	if (xioctl(fd, BUDDY_IOC_STATS, &st))
		die("BUDDY_IOC_STATS");
	return st;
}

/* Map the window at an address aligned to its size, as the shim does. */
char *map_window_at(int fd, uint64_t window, void *fixed)
{
	char *res, *p, *base;

	if (fixed) {
		p = mmap(fixed, window, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	res = mmap(NULL, 2 * window, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)res + window - 1) & ~(uintptr_t)(window - 1));
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
		die("mmap window");
	return p;
}

int heap_malloc(int fd, uint64_t size, uint32_t flags, uint64_t *off,
		uint64_t *usable)
{
	struct buddy_alloc_args a = { .size = size, .flags = flags };
	int ret = xioctl(fd, BUDDY_IOC_MALLOC, &a);

	*off = ret ? 0 : a.offset;
	if (usable)
		*usable = ret ? 0 : a.usable;
	return ret;
}

int heap_memalign(int fd, uint64_t align, uint64_t size, uint64_t *off)
{
	struct buddy_alloc_args a = { .size = size, .align = align };
	int ret = xioctl(fd, BUDDY_IOC_MEMALIGN, &a);

	*off = 0;
	if (!ret)
		*off = a.offset;
	return ret;
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
	struct buddy_block_args b = { .offset = off, .size = size,
				      .flags = flags };
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

bool all_bytes(const char *p, int c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (char)c)
			return false;
	return true;
}

/* Touching memory that may fault */

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touch_sig;

static void touch_handler(int sig)
{
	touch_sig = sig;
	siglongjmp(touch_jmp, 1);
}

/* Read (or write) one byte; returns the signal it raised, or 0. */
int touch(volatile char *p, bool write)
{
	struct sigaction sa, obus, osegv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = touch_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	touch_sig = 0;
	if (sigsetjmp(touch_jmp, 1) == 0) {
		if (write)
			*p = 0x5a;
		else
			(void)*p;
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return touch_sig;
}

/* Running checks in a child process */

struct child_counts counts_now(void)
{
	struct child_counts c = {
		ktap_passed(), ktap_failed(), ktap_skipped(),
	};

	return c;
}

/*
 * In a child: send the results printed since @start to the parent.  Only
 * the child runs checks meanwhile, so its numbers follow the parent's.
 */
bool send_counts(int fd, struct child_counts start)
{
	struct child_counts c = counts_now();

	c.passed -= start.passed;
	c.failed -= start.failed;
	c.skipped -= start.skipped;
	return write(fd, &c, sizeof(c)) == sizeof(c);
}

/* In the parent: count what the child printed (nothing if it died). */
void add_child_counts(int fd)
{
	struct child_counts c;

	if (read(fd, &c, sizeof(c)) == sizeof(c))
		ktap_add_counts(c.passed, c.failed, c.skipped);
}

/*
 * Run @fn in a child; its checks print directly and its counts come back
 * through a pipe.  A child that dies counts as one failure.
 */
void in_child(const char *name, void (*fn)(void *), void *arg)
{
	struct child_counts start = counts_now();
	int pfd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(pfd[0]);
		fn(arg);
		fflush(stdout);
		_exit(send_counts(pfd[1], start) ? 0 : 2);
	}
	close(pfd[1]);
	add_child_counts(pfd[0]);
	close(pfd[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: child exited normally (status %#x)", name, status);
}

/* Files, descriptors, time */

char *slurp(const char *path)
{
	static char buf[1 << 20];
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return buf;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

long long read_ll(const char *path, const char *key)
{
	char *s = slurp(path), *p;

	if (!s)
		return -1;
	if (!key)
		return strtoll(s, NULL, 10);
	p = strstr(s, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

int send_fd(int sock, int fd)
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
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock)
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

	if (recvmsg(sock, &msg, 0) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	ktap_begin("buddy_vmtest", argc > 1 ?
		   "/dev/buddy, then unloading and reloading the module" :
		   "/dev/buddy");
	if (access(DEV, F_OK))
		die(DEV " (is buddy.ko loaded?)");

	test_info();
	test_alloc();
	test_reject();
	test_batch();
	test_mmap();
	test_clone();
	test_processes();
	test_threads();
	test_debugfs();
	test_memcg();
	test_sizes();
	test_efault();
	test_user_bound();
	test_rdonly_map();
	test_killable();
	if (argc > 1)
		test_module(argv[1]);

	return ktap_end();
}
