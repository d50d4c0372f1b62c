/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harden.h - helpers shared by the hardening programs of tests/harden/
 * (buddy_fuzz, buddy_harden): checks that print one line each, ioctl
 * wrappers, window mapping, guarded memory access, result counters and
 * the block pattern of the model-based tests.  Header-only: each program
 * is one .c file.
 */
#ifndef BUDDY_HARDEN_H
#define BUDDY_HARDEN_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/buddy.h>

#define DEV		"/dev/buddy"
#define DEBUGFS		"/sys/kernel/debug/buddy"
#define KiB		(1024ULL)
#define MiB		(1024ULL * 1024)
#define GiB		(1024ULL * 1024 * 1024)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Checks: "ok - ..." / "FAIL - ..." lines, counted */

static int npass, nfail;

static void check(bool ok, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), unused));

static void check(bool ok, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf(" [line %d]", line);
	putchar('\n');
	fflush(stdout);
	if (ok)
		npass++;
	else
		nfail++;
}

#define CHECK(cond, ...)	check(!!(cond), __LINE__, __VA_ARGS__)

static __attribute__((unused, noreturn)) void die(const char *what)
{
	printf("FAIL - fatal: %s: %s\n", what, strerror(errno));
	printf("%d passed, %d failed\n", npass, nfail + 1);
	fflush(stdout);
	exit(1);
}

static __attribute__((unused)) double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A small fast PRNG (xorshift64*) per thread */

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t rndn(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

/* True with probability pct percent. */
static inline bool chance(uint64_t *s, unsigned int pct)
{
	return rndn(s, 100) < pct;
}

/* The device */

static __attribute__((unused)) int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* The same command with another struct size encoded in it. */
static __attribute__((unused)) unsigned long ioc_resize(unsigned long cmd,
							unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)(size & _IOC_SIZEMASK) << _IOC_SIZESHIFT);
}

static __attribute__((unused)) int open_heap(void)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open " DEV);
	return fd;
}

static __attribute__((unused)) struct buddy_info get_info(int fd)
{
	struct buddy_info info;

	memset(&info, 0, sizeof(info));
	if (xioctl(fd, BUDDY_IOC_INFO, &info))
		die("BUDDY_IOC_INFO");
	return info;
}

static __attribute__((unused)) int get_stats(int fd, struct buddy_heap_stats *st)
{
	memset(st, 0, sizeof(*st));
	return xioctl(fd, BUDDY_IOC_STATS, st);
}

/*
 * Map the window at an address aligned to its size, as the shim does.
 * With @fixed, map it there (MAP_FIXED: replaces what is there).
 */
static __attribute__((unused)) char *map_window_at(int fd, uint64_t window,
						   void *fixed)
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

static __attribute__((unused)) int heap_alloc(int fd, unsigned long cmd,
					      uint64_t size, uint64_t nmemb,
					      uint64_t align, uint32_t flags,
					      uint64_t *off, uint64_t *usable)
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

static __attribute__((unused)) int heap_malloc(int fd, uint64_t size,
					       uint64_t *off, uint64_t *usable)
{
	return heap_alloc(fd, BUDDY_IOC_MALLOC, size, 0, 0, 0, off, usable);
}

static __attribute__((unused)) int heap_free(int fd, uint64_t off,
					     uint32_t *reason)
{
	struct buddy_block_args b = { .offset = off };
	int ret = xioctl(fd, BUDDY_IOC_FREE, &b);

	if (reason)
		*reason = b.reason;
	return ret;
}

static __attribute__((unused)) int heap_realloc(int fd, uint64_t off,
						uint64_t size, uint32_t flags,
						uint64_t *new_off,
						uint64_t *usable)
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

static __attribute__((unused)) int heap_usable(int fd, uint64_t off,
					       uint64_t *usable,
					       uint32_t *reason)
{
	struct buddy_block_args b = { .offset = off };
	int ret = xioctl(fd, BUDDY_IOC_USABLE_SIZE, &b);

	if (usable)
		*usable = ret ? 0 : b.usable;
	if (reason)
		*reason = b.reason;
	return ret;
}

/* Guarded memory access: SIGSEGV/SIGBUS come back as a return value */

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

/* Install once per process, before threads start. */
static __attribute__((unused)) void guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/* Read or write one byte at @p; returns the signal it raised, or 0. */
static __attribute__((unused)) int guarded_touch(volatile char *p, bool write,
						 char val)
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

/* Result counters: errno values and a few other kinds */

#define NR_ERRNO	140
#define RES_SIGNAL	(NR_ERRNO + 0)	/* a touch raised SIGBUS/SIGSEGV */
#define RES_OTHER	(NR_ERRNO + 1)	/* positive or odd return values */
#define NR_RES		(NR_ERRNO + 2)

struct counters {
	_Atomic uint64_t res[NR_RES];
};

static inline void count_res(struct counters *c, int ret)
{
	unsigned int i;

	if (ret <= 0 && -ret < NR_ERRNO)
		i = -ret;
	else
		i = RES_OTHER;
	atomic_fetch_add_explicit(&c->res[i], 1, memory_order_relaxed);
}

static __attribute__((unused)) uint64_t counters_total(struct counters *c)
{
	uint64_t t = 0;
	unsigned int i;

	for (i = 0; i < NR_RES; i++)
		t += c->res[i];
	return t;
}

static __attribute__((unused)) const char *errname(int e)
{
	static char buf[24];

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

/* "0 123, EINVAL 45, ..." on one line, most frequent kinds first. */
static __attribute__((unused)) void print_counters(const char *prefix,
						   struct counters *c)
{
	bool done[NR_RES] = { false };
	unsigned int i, best;
	uint64_t total = counters_total(c);

	printf("%s%" PRIu64 " calls:", prefix, total);
	for (;;) {
		best = NR_RES;
		for (i = 0; i < NR_RES; i++)
			if (!done[i] && c->res[i] &&
			    (best == NR_RES || c->res[i] > c->res[best]))
				best = i;
		if (best == NR_RES)
			break;
		done[best] = true;
		if (best == RES_SIGNAL)
			printf(" signal=%" PRIu64, (uint64_t)c->res[best]);
		else if (best == RES_OTHER)
			printf(" other=%" PRIu64, (uint64_t)c->res[best]);
		else
			printf(" %s=%" PRIu64, errname(best),
			       (uint64_t)c->res[best]);
	}
	putchar('\n');
	fflush(stdout);
}

static __attribute__((unused)) void *shared_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap shared");
	return p;
}

/* The pattern a model block holds: word j of a block is f(seed, j) */

static inline uint64_t pat_word(uint32_t seed, uint64_t j)
{
	uint64_t x = ((uint64_t)seed << 32 | seed) ^ (j * 0x9E3779B97F4A7C15ULL);

	return x ^ (x >> 29);
}

/* Fill [p, p + n) with the pattern of @seed (p 16-byte aligned). */
static __attribute__((unused)) void pat_fill(char *p, uint64_t n, uint32_t seed)
{
	uint64_t j, w = n / 8;
	uint64_t *q = (uint64_t *)p;

	for (j = 0; j < w; j++)
		q[j] = pat_word(seed, j);
	if (n % 8) {
		uint64_t last = pat_word(seed, w);

		memcpy(p + 8 * w, &last, n % 8);
	}
}

/*
 * Check [p, p + n) against the pattern of @seed.  Returns the first
 * differing byte offset, or -1 if all match.
 */
static __attribute__((unused)) int64_t pat_check(const char *p, uint64_t n,
						 uint32_t seed)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t j, w = n / 8;

	for (j = 0; j < w; j++)
		if (q[j] != pat_word(seed, j))
			return (int64_t)(8 * j);
	if (n % 8) {
		uint64_t last = pat_word(seed, w);

		if (memcmp(p + 8 * w, &last, n % 8))
			return (int64_t)(8 * w);
	}
	return -1;
}

/* Is [p, p + n) all zero? */
static __attribute__((unused)) bool all_zero(const char *p, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

#endif /* BUDDY_HARDEN_H */
/* The module parameter bounding one user's heaps (root may write it). */
#define USER_LIMIT_PARAM	"/sys/module/buddy/parameters/max_user_bytes"

static __attribute__((unused)) int write_file(const char *path, const char *s)
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

static __attribute__((unused)) char *slurp(const char *path, char *buf, size_t size)
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

static __attribute__((unused)) long long read_ll(const char *path, const char *key)
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

