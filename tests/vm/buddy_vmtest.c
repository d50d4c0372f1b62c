// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_vmtest - integration tests of /dev/buddy, run as root inside the
 * test VM (vm/run) with buddy.ko loaded with its default parameters.
 *
 *	buddy_vmtest [MODULE.ko]
 *
 * Reports in KTAP (tests/lib/ktap.h): one "ok N ..." or "not ok N ..." line
 * per check, "# ..." diagnostics, and a closing "N passed, M failed" line;
 * exits non-zero on any failure.  With MODULE.ko the
 * module tests run last: rmmod is refused while a heap is open and works
 * once all are closed, bad parameters are refused, and the cap tests run
 * with the module reloaded with small caps.  The module is left loaded with
 * its defaults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/buddy.h>

#include "ktap.h"

#define DEV		"/dev/buddy"
#define DEBUGFS		"/sys/kernel/debug/buddy"
#define CGROOT		"/sys/fs/cgroup"
#define KiB		(1024ULL)
#define MiB		(1024ULL * 1024)
#define GiB		(1024ULL * 1024 * 1024)

static int send_fd(int sock, int fd);
static int recv_fd(int sock);

#define CHECK(cond, ...)	KTAP_CHECK(cond, __VA_ARGS__)

static bool check_err(int got, int want, const char *file, int line,
		      const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Expect an errno (0: success) from an expression returning -errno or 0. */
#define CHECK_ERR(expr, want, ...) \
	check_err((expr), (want), __FILE__, __LINE__, __VA_ARGS__)

static bool check_err(int got, int want, const char *file, int line,
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

/* A failure the run cannot go on after; errno says why. */
#define die(what) \
	ktap_bail(__FILE__, __LINE__, "fatal: %s: %s", (what), strerror(errno))

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* The same command with another struct size encoded in it. */
static unsigned long ioc_resize(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}

static int open_heap(void)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open " DEV);
	return fd;
}

static struct buddy_info get_info(int fd)
{
	struct buddy_info info;

	memset(&info, 0, sizeof(info));
	if (xioctl(fd, BUDDY_IOC_INFO, &info))
		die("BUDDY_IOC_INFO");
	return info;
}

static struct buddy_heap_stats get_stats(int fd)
{
	struct buddy_heap_stats st;

	memset(&st, 0, sizeof(st));
	if (xioctl(fd, BUDDY_IOC_STATS, &st))
		die("BUDDY_IOC_STATS");
	return st;
}

/* Map the window at an address aligned to its size, as the shim does. */
static char *map_window_at(int fd, uint64_t window, void *fixed)
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

static char *map_window(int fd, uint64_t window)
{
	char *p = map_window_at(fd, window, NULL);

	if (!p)
		die("mmap window");
	return p;
}

static int heap_malloc(int fd, uint64_t size, uint32_t flags, uint64_t *off,
		       uint64_t *usable)
{
	struct buddy_alloc_args a = { .size = size, .flags = flags };
	int ret = xioctl(fd, BUDDY_IOC_MALLOC, &a);

	*off = ret ? 0 : a.offset;
	if (usable)
		*usable = ret ? 0 : a.usable;
	return ret;
}

static int heap_memalign(int fd, uint64_t align, uint64_t size, uint64_t *off)
{
	struct buddy_alloc_args a = { .size = size, .align = align };
	int ret = xioctl(fd, BUDDY_IOC_MEMALIGN, &a);

	*off = 0;
	if (!ret)
		*off = a.offset;
	return ret;
}

static int heap_free(int fd, uint64_t off, uint32_t *reason)
{
	struct buddy_block_args b = { .offset = off };
	int ret = xioctl(fd, BUDDY_IOC_FREE, &b);

	if (reason)
		*reason = b.reason;
	return ret;
}

static int heap_realloc(int fd, uint64_t off, uint64_t size, uint32_t flags,
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

static int heap_usable(int fd, uint64_t off, uint64_t *usable,
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

static bool all_bytes(const char *p, int c, size_t n)
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
static int touch(volatile char *p, bool write)
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

/* What a forked child's checks added to the counts it started with. */
struct child_counts {
	unsigned int passed, failed, skipped;
};

static struct child_counts counts_now(void)
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
static bool send_counts(int fd, struct child_counts start)
{
	struct child_counts c = counts_now();

	c.passed -= start.passed;
	c.failed -= start.failed;
	c.skipped -= start.skipped;
	return write(fd, &c, sizeof(c)) == sizeof(c);
}

/* In the parent: count what the child printed (nothing if it died). */
static void add_child_counts(int fd)
{
	struct child_counts c;

	if (read(fd, &c, sizeof(c)) == sizeof(c))
		ktap_add_results(c.passed, c.failed, c.skipped);
}

/*
 * Run @fn in a child; its checks print directly and its counts come back
 * through a pipe.  A child that dies counts as one failure.
 */
static void in_child(const char *name, void (*fn)(void *), void *arg)
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

/* INFO */

static void test_info(void)
{
	struct buddy_info info, info2;
	bool debugfs;
	int fd, fd2;

	fd = open_heap();
	fd2 = open_heap();
	info = get_info(fd);
	info2 = get_info(fd2);

	CHECK(info.abi_version == BUDDY_ABI_VERSION, "INFO: abi_version %u",
	      info.abi_version);
	CHECK(info.grain_shift == 4, "INFO: grain_shift %u", info.grain_shift);
	CHECK(info.batch_max == BUDDY_BATCH_MAX, "INFO: batch_max %u",
	      info.batch_max);
	CHECK(info.window_bytes && !(info.window_bytes & (info.window_bytes - 1)),
	      "INFO: window_bytes %" PRIu64 " is a power of two",
	      (uint64_t)info.window_bytes);
	CHECK(info.window_bytes == 16ULL << info.max_order,
	      "INFO: window_bytes == 16 << max_order (%u)", info.max_order);
	CHECK(info.cap_bytes == 1 * GiB && info.window_bytes == 1 * GiB,
	      "INFO: default cap and window 1 GiB (cap %" PRIu64 ")",
	      (uint64_t)info.cap_bytes);
	CHECK((info.features & BUDDY_FEATURE_BATCH) &&
	      (info.features & BUDDY_FEATURE_CLONE),
	      "INFO: features BATCH|CLONE (%#" PRIx64 ")",
	      (uint64_t)info.features);
	debugfs = access(DEBUGFS, F_OK) == 0;
	CHECK(!!(info.features & BUDDY_FEATURE_DEBUGFS) == debugfs,
	      "INFO: feature DEBUGFS matches " DEBUGFS " (%d)", debugfs);
	CHECK(info.heap_id != info2.heap_id, "INFO: two opens, two heap ids");
	CHECK(!info.reserved[0] && !info.reserved[1],
	      "INFO: reserved come back zero");
	close(fd);
	close(fd2);
}

/* MALLOC, CALLOC, MEMALIGN, FREE, REALLOC, USABLE_SIZE, STATS */

static void test_alloc(void)
{
	struct buddy_info info;
	struct buddy_alloc_args a;
	uint64_t off, off2, use, noff;
	uint32_t reason;
	char *base;
	int fd, i;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);

	CHECK_ERR(heap_malloc(fd, 1, 0, &off, &use), 0, "MALLOC 1");
	CHECK(use == 16 && off % 16 == 0, "MALLOC 1: usable %" PRIu64
	      ", offset %#" PRIx64 " 16-aligned", use, off);
	CHECK(all_bytes(base + off, 0, 16), "MALLOC: fresh memory is zero");
	CHECK_ERR(heap_malloc(fd, 0, 0, &off2, &use), 0, "MALLOC 0");
	CHECK(use == 16 && off2 != off, "MALLOC 0: a distinct 16-byte block");
	CHECK_ERR(heap_malloc(fd, 100, 0, &off, &use), 0, "MALLOC 100");
	CHECK(use == 128 && off % 128 == 0, "MALLOC 100: usable 128, aligned");
	memset(base + off, 0xab, 100);
	CHECK(all_bytes(base + off, (char)0xab, 100),
	      "MALLOC: block writable through the window");

	CHECK_ERR(heap_malloc(fd, info.window_bytes + 1, 0, &off, NULL), ENOMEM,
		  "MALLOC window+1");
	CHECK_ERR(heap_malloc(fd, UINT64_MAX, 0, &off, NULL), ENOMEM,
		  "MALLOC 2^64-1");

	/* ZERO: dirty a block, free it, get it back zeroed. */
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "MALLOC 4096");
	memset(base + off, 0x77, 4096);
	CHECK_ERR(heap_free(fd, off, NULL), 0, "FREE it");
	CHECK_ERR(heap_malloc(fd, 4096, BUDDY_ALLOC_ZERO, &off2, NULL), 0,
		  "MALLOC 4096 ZERO");
	CHECK(off2 == off && all_bytes(base + off2, 0, 4096),
	      "MALLOC ZERO: the reused block reads zero");

	/* CALLOC */
	memset(&a, 0, sizeof(a));
	CHECK_ERR(heap_free(fd, off2, NULL), 0, "FREE again");
	memset(base + off2, 0x55, 4096);	/* user scribbles on free memory */
	a.nmemb = 64;
	a.size = 64;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), 0, "CALLOC 64 x 64");
	CHECK(a.usable == 4096 && all_bytes(base + a.offset, 0, 4096),
	      "CALLOC: usable 4096, zeroed over old contents");
	memset(&a, 0, sizeof(a));
	a.nmemb = 1ULL << 33;
	a.size = 1ULL << 33;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), ENOMEM,
		  "CALLOC nmemb*size overflows");
	a.nmemb = UINT64_MAX;
	a.size = 2;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), ENOMEM,
		  "CALLOC (2^64-1) x 2 overflows");
	a.nmemb = 0;
	a.size = 10;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), 0, "CALLOC 0 x 10");

	/* MEMALIGN: offsets aligned (absolute alignment is tested below) */
	for (i = 4; i <= 16; i++) {
		uint64_t al = 1ULL << i;
		int ret = heap_memalign(fd, al, 24, &off);

		CHECK(!ret && off % al == 0, "MEMALIGN %" PRIu64 ", 24: offset %#"
		      PRIx64 " (%s)", al, off, ret ? strerror(-ret) : "ok");
	}
	CHECK_ERR(heap_memalign(fd, 1ULL << 40, 16, &off), ENOMEM,
		  "MEMALIGN align 2^40 > window");
	CHECK_ERR(heap_memalign(fd, 1, 16, &off), 0, "MEMALIGN align 1");

	/* FREE: bad offsets are refused with a reason, heap unchanged */
	{
		struct buddy_heap_stats s0, s1;

		CHECK_ERR(heap_malloc(fd, 256, 0, &off, NULL), 0, "MALLOC 256");
		s0 = get_stats(fd);
		CHECK_ERR(heap_free(fd, off + 16, &reason), EINVAL,
			  "FREE inside a block");
		CHECK(reason == BUDDY_REASON_NOT_BLOCK_START,
		      "FREE inside a block: reason NOT_BLOCK_START (%u)", reason);
		CHECK_ERR(heap_free(fd, info.window_bytes - 16, &reason), EINVAL,
			  "FREE outside the live chunks");
		CHECK(reason == BUDDY_REASON_OUTSIDE,
		      "FREE outside: reason OUTSIDE (%u)", reason);
		CHECK_ERR(heap_free(fd, UINT64_MAX & ~15ULL, &reason), EINVAL,
			  "FREE 2^64-16");
		CHECK(reason == BUDDY_REASON_OUTSIDE,
		      "FREE 2^64-16: reason OUTSIDE (%u)", reason);
		s1 = get_stats(fd);
		CHECK(s0.live_blocks == s1.live_blocks &&
		      s0.bytes_in_use == s1.bytes_in_use &&
		      !memcmp(s0.free_blocks, s1.free_blocks,
			      sizeof(s0.free_blocks)),
		      "FREE refused: heap unchanged");
		CHECK(s1.nr_failed > s0.nr_failed, "STATS: nr_failed counts them");
		CHECK_ERR(heap_free(fd, off, &reason), 0, "FREE the block");
		CHECK_ERR(heap_free(fd, off, &reason), EINVAL, "FREE it twice");
		CHECK(reason == BUDDY_REASON_ALREADY_FREE,
		      "double FREE: reason ALREADY_FREE (%u)", reason);
		CHECK_ERR(heap_usable(fd, off, NULL, &reason), EINVAL,
			  "USABLE_SIZE of a freed block");
		CHECK(reason == BUDDY_REASON_ALREADY_FREE,
		      "USABLE_SIZE freed: reason ALREADY_FREE (%u)", reason);
	}

	/* REALLOC and USABLE_SIZE */
	CHECK_ERR(heap_malloc(fd, 100, 0, &off, NULL), 0, "MALLOC 100");
	for (i = 0; i < 100; i++)
		base[off + i] = (char)i;
	CHECK_ERR(heap_usable(fd, off, &use, NULL), 0, "USABLE_SIZE");
	CHECK(use == 128, "USABLE_SIZE 100 -> 128 (%" PRIu64 ")", use);
	CHECK_ERR(heap_realloc(fd, off, 64 * KiB, BUDDY_ALLOC_ZERO, &noff, &use),
		  0, "REALLOC grow to 64 KiB with ZERO");
	for (i = 0; i < 100 && base[noff + i] == (char)i; i++)
		;
	CHECK(i == 100 && use == 64 * KiB, "REALLOC grow: contents kept");
	CHECK(all_bytes(base + noff + 128, 0, 64 * KiB - 128),
	      "REALLOC ZERO: the gained part is zero");
	CHECK_ERR(heap_realloc(fd, noff, 20, 0, &off, &use), 0,
		  "REALLOC shrink to 20");
	for (i = 0; i < 20 && base[off + i] == (char)i; i++)
		;
	CHECK(i == 20 && use == 32 && off == noff,
	      "REALLOC shrink: in place, contents kept, usable 32");
	CHECK_ERR(heap_realloc(fd, off, info.window_bytes * 2, 0, &noff, NULL),
		  ENOMEM, "REALLOC to 2 x window");
	CHECK_ERR(heap_usable(fd, off, &use, NULL), 0,
		  "REALLOC failed: old block still live");
	CHECK(use == 32 && base[off + 19] == 19,
	      "REALLOC failed: old block intact");
	{
		struct buddy_block_args b = { .offset = off + 16, .size = 64 };

		CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, &b), EINVAL,
			  "REALLOC inside a block");
		CHECK(b.reason == BUDDY_REASON_NOT_BLOCK_START,
		      "REALLOC inside: reason NOT_BLOCK_START (%u)", b.reason);
		b.offset = info.window_bytes + 4096;
		b.reason = 0;
		b.size = info.window_bytes * 4;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, &b), EINVAL,
			  "REALLOC outside, huge size");
		CHECK(b.reason == BUDDY_REASON_OUTSIDE,
		      "REALLOC outside: reason OUTSIDE before ENOMEM (%u)",
		      b.reason);
	}

	/* STATS */
	{
		struct buddy_heap_stats st = get_stats(fd);
		uint64_t free_bytes = 0;
		unsigned int k;

		CHECK(st.nr_orders == info.max_order + 1,
		      "STATS: nr_orders %u", st.nr_orders);
		for (k = 0; k < st.nr_orders; k++)
			free_bytes += st.free_blocks[k] << (k + 4);
		CHECK(free_bytes == st.bytes_free,
		      "STATS: free_blocks add up to bytes_free (%" PRIu64 ")",
		      free_bytes);
		CHECK(st.heap_bytes == st.bytes_in_use + st.bytes_free,
		      "STATS: heap_bytes = in use + free");
		CHECK(st.live_blocks > 0 && st.nr_allocs >= st.live_blocks &&
		      st.nr_frees > 0 && st.nr_reallocs >= 2 && st.nr_chunks > 0,
		      "STATS: counters (%" PRIu64 " live, %" PRIu64 " allocs)",
		      (uint64_t)st.live_blocks, (uint64_t)st.nr_allocs);
		CHECK(st.meta_bytes > 0 && st.meta_bytes * 100 <= st.heap_bytes * 3,
		      "STATS: metadata within 3%% (%" PRIu64 " of %" PRIu64 ")",
		      (uint64_t)st.meta_bytes, (uint64_t)st.heap_bytes);
		CHECK(st.largest_free_order >= 0 &&
		      st.free_blocks[st.largest_free_order] > 0,
		      "STATS: largest_free_order %d", st.largest_free_order);
		for (k = st.nr_orders; k < BUDDY_STATS_ORDERS; k++)
			if (st.free_blocks[k] || st.unusable_index[k] ||
			    st.extfrag_index[k])
				break;
		CHECK(k == BUDDY_STATS_ORDERS, "STATS: unused orders zero");
		for (k = 0; k < st.nr_orders; k++)
			if (st.unusable_index[k] < 0 ||
			    st.unusable_index[k] > 1000 ||
			    st.extfrag_index[k] < -1000 ||
			    st.extfrag_index[k] > 1000)
				break;
		CHECK(k == st.nr_orders, "STATS: indices in range");
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* Rejection paths, one bad field at a time */

struct alloc_case {
	const char *what;
	unsigned long cmd;
	struct buddy_alloc_args a;
	int err;
};

struct block_case {
	const char *what;
	unsigned long cmd;
	struct buddy_block_args b;	/* .offset is filled in */
	int err;
};

struct op_case {
	const char *what;
	struct buddy_op op;		/* FREE/REALLOC/USABLE: live offset */
	bool live;
	int err;
};

static void test_reject(void)
{
	static const struct alloc_case ac[] = {
		{ "MALLOC nmemb!=0", BUDDY_IOC_MALLOC, { .size = 16, .nmemb = 1 }, EINVAL },
		{ "MALLOC align!=0", BUDDY_IOC_MALLOC, { .size = 16, .align = 16 }, EINVAL },
		{ "MALLOC flags bit 1", BUDDY_IOC_MALLOC, { .size = 16, .flags = 2 }, EINVAL },
		{ "MALLOC flags bit 31", BUDDY_IOC_MALLOC, { .size = 16, .flags = 1U << 31 }, EINVAL },
		{ "MALLOC reserved", BUDDY_IOC_MALLOC, { .size = 16, .reserved = 1 }, EINVAL },
		{ "MALLOC ok (control)", BUDDY_IOC_MALLOC, { .size = 16, .offset = 123, .usable = 7 }, 0 },
		{ "CALLOC align!=0", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .align = 16 }, EINVAL },
		{ "CALLOC flags bit 1", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .flags = 2 }, EINVAL },
		{ "CALLOC reserved", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .reserved = 1 }, EINVAL },
		{ "CALLOC overflow", BUDDY_IOC_CALLOC, { .size = 1ULL << 32, .nmemb = 1ULL << 32 }, ENOMEM },
		{ "CALLOC ok (control)", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 3 }, 0 },
		{ "MEMALIGN nmemb!=0", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .nmemb = 1 }, EINVAL },
		{ "MEMALIGN align 0", BUDDY_IOC_MEMALIGN, { .size = 16 }, EINVAL },
		{ "MEMALIGN align 3", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 3 }, EINVAL },
		{ "MEMALIGN align 48", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 48 }, EINVAL },
		{ "MEMALIGN align 2^63+1", BUDDY_IOC_MEMALIGN, { .size = 16, .align = (1ULL << 63) + 1 }, EINVAL },
		{ "MEMALIGN align 2^63", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 1ULL << 63 }, ENOMEM },
		{ "MEMALIGN flags bit 1", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .flags = 2 }, EINVAL },
		{ "MEMALIGN reserved", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .reserved = 1 }, EINVAL },
		{ "MEMALIGN huge size", BUDDY_IOC_MEMALIGN, { .size = UINT64_MAX, .align = 64 }, ENOMEM },
		{ "MEMALIGN ok (control)", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64 }, 0 },
	};
	static const struct block_case bc[] = {
		{ "FREE size!=0", BUDDY_IOC_FREE, { .size = 1 }, EINVAL },
		{ "FREE flags ZERO", BUDDY_IOC_FREE, { .flags = BUDDY_ALLOC_ZERO }, EINVAL },
		{ "FREE flags bit 7", BUDDY_IOC_FREE, { .flags = 1U << 7 }, EINVAL },
		{ "FREE reason!=0", BUDDY_IOC_FREE, { .reason = 1 }, EINVAL },
		{ "REALLOC flags bit 1", BUDDY_IOC_REALLOC, { .size = 32, .flags = 2 }, EINVAL },
		{ "REALLOC reason!=0", BUDDY_IOC_REALLOC, { .size = 32, .reason = 3 }, EINVAL },
		{ "USABLE_SIZE size!=0", BUDDY_IOC_USABLE_SIZE, { .size = 1 }, EINVAL },
		{ "USABLE_SIZE flags!=0", BUDDY_IOC_USABLE_SIZE, { .flags = 1 }, EINVAL },
		{ "USABLE_SIZE reason!=0", BUDDY_IOC_USABLE_SIZE, { .reason = 2 }, EINVAL },
		{ "USABLE_SIZE ok (control)", BUDDY_IOC_USABLE_SIZE, { .new_offset = 5, .usable = 5 }, 0 },
	};
	static const struct op_case oc[] = {
		{ "op 0", { .op = 0, .size = 16 }, false, EINVAL },
		{ "op 7", { .op = 7, .size = 16 }, false, EINVAL },
		{ "op 2^31", { .op = 1U << 31, .size = 16 }, false, EINVAL },
		{ "MALLOC offset!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .offset = 16 }, false, EINVAL },
		{ "MALLOC arg!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .arg = 1 }, false, EINVAL },
		{ "MALLOC flags bit 1", { .op = BUDDY_OP_MALLOC, .size = 16, .flags = 2 }, false, EINVAL },
		{ "MALLOC reason!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .reason = 1 }, false, EINVAL },
		{ "MALLOC huge", { .op = BUDDY_OP_MALLOC, .size = UINT64_MAX }, false, ENOMEM },
		{ "CALLOC offset!=0", { .op = BUDDY_OP_CALLOC, .size = 16, .arg = 2, .offset = 32 }, false, EINVAL },
		{ "CALLOC overflow", { .op = BUDDY_OP_CALLOC, .size = 1ULL << 40, .arg = 1ULL << 40 }, false, ENOMEM },
		{ "MEMALIGN arg 0", { .op = BUDDY_OP_MEMALIGN, .size = 16 }, false, EINVAL },
		{ "MEMALIGN arg 12", { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 12 }, false, EINVAL },
		{ "MEMALIGN offset!=0", { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 64, .offset = 64 }, false, EINVAL },
		{ "REALLOC arg!=0", { .op = BUDDY_OP_REALLOC, .size = 64, .arg = 1 }, true, EINVAL },
		{ "REALLOC flags bit 2", { .op = BUDDY_OP_REALLOC, .size = 64, .flags = 4 }, true, EINVAL },
		{ "FREE size!=0", { .op = BUDDY_OP_FREE, .size = 1 }, true, EINVAL },
		{ "FREE flags!=0", { .op = BUDDY_OP_FREE, .flags = 1 }, true, EINVAL },
		{ "FREE arg!=0", { .op = BUDDY_OP_FREE, .arg = 1 }, true, EINVAL },
		{ "FREE reason!=0", { .op = BUDDY_OP_FREE, .reason = 1 }, true, EINVAL },
		{ "USABLE_SIZE size!=0", { .op = BUDDY_OP_USABLE_SIZE, .size = 1 }, true, EINVAL },
		{ "USABLE_SIZE flags!=0", { .op = BUDDY_OP_USABLE_SIZE, .flags = 1 }, true, EINVAL },
		{ "USABLE_SIZE arg!=0", { .op = BUDDY_OP_USABLE_SIZE, .arg = 8 }, true, EINVAL },
		{ "USABLE_SIZE ok (control)", { .op = BUDDY_OP_USABLE_SIZE, .usable = 1, .result = 9 }, true, 0 },
	};
	static const unsigned long cmds[] = {
		BUDDY_IOC_INFO, BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC,
		BUDDY_IOC_MEMALIGN, BUDDY_IOC_FREE, BUDDY_IOC_REALLOC,
		BUDDY_IOC_USABLE_SIZE, BUDDY_IOC_STATS, BUDDY_IOC_BATCH,
		BUDDY_IOC_CLONE,
	};
	struct buddy_heap_stats s0, s1;
	struct buddy_info info;
	uint64_t live, use;
	unsigned int i;
	int fd;

	fd = open_heap();
	CHECK_ERR(heap_malloc(fd, 48, 0, &live, NULL), 0, "MALLOC a live block");

	for (i = 0; i < sizeof(ac) / sizeof(ac[0]); i++) {
		struct buddy_alloc_args a = ac[i].a;

		CHECK_ERR(xioctl(fd, ac[i].cmd, &a), ac[i].err, "%s", ac[i].what);
	}
	s0 = get_stats(fd);
	for (i = 0; i < sizeof(bc) / sizeof(bc[0]); i++) {
		struct buddy_block_args b = bc[i].b;
		int ret;

		b.offset = live;
		ret = xioctl(fd, bc[i].cmd, &b);
		/* malformed: refused without a reason, struct not written */
		CHECK(ret == -bc[i].err && (ret || b.usable == 64) &&
		      (!ret || b.reason == bc[i].b.reason),
		      "%s: %s (want %s)", bc[i].what,
		      ret ? strerror(-ret) : "success",
		      bc[i].err ? strerror(bc[i].err) : "success");
	}
	s1 = get_stats(fd);
	CHECK(s0.live_blocks == s1.live_blocks &&
	      s0.bytes_in_use == s1.bytes_in_use &&
	      heap_usable(fd, live, &use, NULL) == 0 && use == 64,
	      "malformed FREE/REALLOC/USABLE_SIZE left the heap unchanged");

	/* INFO and STATS reserved fields */
	memset(&info, 0, sizeof(info));
	info.reserved[0] = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_INFO, &info), EINVAL, "INFO reserved[0]");
	memset(&info, 0, sizeof(info));
	info.reserved[1] = 1ULL << 63;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_INFO, &info), EINVAL, "INFO reserved[1]");
	memset(&s0, 0, sizeof(s0));
	s0.flags = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_STATS, &s0), EINVAL, "STATS flags");
	memset(&s0, 0, sizeof(s0));
	s0.reserved = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_STATS, &s0), EINVAL, "STATS reserved");

	/* CLONE arguments */
	{
		struct buddy_clone_args c = { .flags = O_WRONLY };

		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags O_WRONLY");
		c.flags = O_NONBLOCK;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags O_NONBLOCK");
		c.flags = 1U << 31;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags bit 31");
		c.flags = 0;
		c.reserved = 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE reserved");
	}

	/* BATCH header */
	{
		struct buddy_op ops[2] = {
			{ .op = BUDDY_OP_MALLOC, .size = 16 },
			{ .op = BUDDY_OP_MALLOC, .size = 16 },
		};
		struct buddy_batch b, base = {
			.ops = (uintptr_t)ops, .count = 2,
			.op_size = sizeof(struct buddy_op),
		};

		b = base;
		b.count = BUDDY_BATCH_MAX + 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH count > max");
		b = base;
		b.op_size = sizeof(struct buddy_op) - 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH op_size short");
		b.op_size = 4097;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL,
			  "BATCH op_size beyond 4096");
		{
			/* a newer, longer struct buddy_op: zero tail accepted */
			struct {
				struct buddy_op op;
				uint64_t tail;
			} big[2];
			uint64_t o;

			memset(big, 0, sizeof(big));
			big[0].op.op = BUDDY_OP_MALLOC;
			big[0].op.size = 16;
			big[1].op.op = BUDDY_OP_MALLOC;
			big[1].op.size = 100;
			b.ops = (uintptr_t)big;
			b.op_size = sizeof(big[0]);
			CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0,
				  "BATCH op_size %zu, zero tails", sizeof(big[0]));
			CHECK(b.done == 2 && !big[0].op.result && !big[1].op.result &&
			      big[0].op.usable == 16 && big[1].op.usable == 128 &&
			      !big[0].tail && !big[1].tail,
			      "BATCH with longer ops: results at the caller's stride");
			o = big[1].op.offset;
			heap_free(fd, big[0].op.offset, NULL);
			heap_free(fd, o, NULL);
			memset(big, 0, sizeof(big));
			big[0].op.op = BUDDY_OP_MALLOC;
			big[0].op.size = 16;
			big[1].op.op = BUDDY_OP_MALLOC;
			big[1].op.size = 16;
			big[1].tail = 1;
			CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), E2BIG,
				  "BATCH with longer ops, a non-zero tail");
			CHECK(!big[0].op.result && !big[0].op.offset,
			      "... refused before any ran");
			b.ops = base.ops;
		}
		b.op_size = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH op_size 0");
		b = base;
		b.flags = 2;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH flags bit 1");
		b = base;
		b.reserved = 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH reserved");
		b = base;
		b.ops = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops NULL");
		b.ops = 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops 0x8");
		b.ops = UINT64_MAX - 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops at -8");
		b = base;
		b.count = 0;
		b.ops = 0;
		b.done = 77;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of 0 ops");
		CHECK(b.done == 0, "BATCH of 0 ops: done 0");
	}

	/* BATCH operations, each malformed in one field */
	for (i = 0; i < sizeof(oc) / sizeof(oc[0]); i++) {
		struct buddy_op op = oc[i].op;
		struct buddy_batch b = {
			.ops = (uintptr_t)&op, .count = 1,
			.op_size = sizeof(op),
		};
		int ret;

		if (oc[i].live)
			op.offset = live;
		ret = xioctl(fd, BUDDY_IOC_BATCH, &b);
		CHECK(ret == 0 && b.done == 1 && op.result == -oc[i].err,
		      "BATCH op %s: result %s (want %s)", oc[i].what,
		      op.result ? strerror(-op.result) : "success",
		      oc[i].err ? strerror(oc[i].err) : "success");
	}
	CHECK(heap_usable(fd, live, &use, NULL) == 0 && use == 64,
	      "malformed BATCH ops left the live block alone");

	/* Unknown commands */
	CHECK_ERR(xioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0x0a, struct buddy_info), &info),
		  ENOTTY, "command nr 0x0a");
	CHECK_ERR(xioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0xff, struct buddy_info), &info),
		  ENOTTY, "command nr 0xff");
	CHECK_ERR(xioctl(fd, _IOWR('B', 0x00, struct buddy_info), &info),
		  ENOTTY, "command type 'B'");
	CHECK_ERR(xioctl(fd, _IOR(BUDDY_IOC_MAGIC, 0x00, struct buddy_info), &info),
		  ENOTTY, "INFO as _IOR");
	CHECK_ERR(xioctl(fd, _IO(BUDDY_IOC_MAGIC, 0x01), NULL),
		  ENOTTY, "MALLOC as _IO");
	CHECK_ERR(xioctl(fd, FIONREAD, &i), ENOTTY, "FIONREAD");

	/* Bad user pointers, for every command */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		CHECK_ERR(xioctl(fd, cmds[i], NULL), EFAULT,
			  "command nr %lu with a NULL pointer", _IOC_NR(cmds[i]));
		CHECK_ERR(xioctl(fd, cmds[i], (void *)(uintptr_t)-4096), EFAULT,
			  "command nr %lu with a kernel pointer", _IOC_NR(cmds[i]));
	}

	/* Struct sizes: shorter accepted, longer with a non-zero tail refused */
	{
		struct {
			struct buddy_alloc_args a;
			uint64_t tail[2];
		} big;
		unsigned char raw[sizeof(struct buddy_info) + 8];
		struct buddy_info ri;

		memset(&big, 0, sizeof(big));
		big.a.size = 16;
		big.tail[1] = 1;
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, sizeof(big)), &big),
			  E2BIG, "MALLOC with a longer struct, non-zero tail");
		big.tail[1] = 0;
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, sizeof(big)), &big),
			  0, "MALLOC with a longer struct, zero tail");
		CHECK(big.a.usable == 16 && !big.tail[0] && !big.tail[1],
		      "longer struct: known part filled, tail untouched");

		/* below the end of the outputs: refused (the caller could not
		 * learn what it got); down to it: accepted, nothing written
		 * beyond the caller's size */
		memset(raw, 0xee, sizeof(raw));
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_INFO, 8), raw), EINVAL,
			  "INFO with an 8-byte struct");
		memset(raw, 0xee, sizeof(raw));
		memset(raw, 0, offsetof(struct buddy_info, reserved));
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_INFO,
						 offsetof(struct buddy_info, reserved)),
				 raw), 0, "INFO without its reserved tail");
		memcpy(&ri, raw, sizeof(ri));
		CHECK(ri.abi_version == BUDDY_ABI_VERSION && ri.grain_shift == 4 &&
		      ri.heap_id && all_bytes((char *)raw + offsetof(struct buddy_info, reserved),
					      (char)0xee, sizeof(raw) -
					      offsetof(struct buddy_info, reserved)),
		      "short struct: heap_id written, nothing beyond");
		memset(raw, 0xee, sizeof(raw));
		memset(raw, 0, 16);
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, 16), raw), EINVAL,
			  "MALLOC with a 16-byte struct (no room for the offset)");
		CHECK(all_bytes((char *)raw + 16, (char)0xee, sizeof(raw) - 16),
		      "short MALLOC: nothing written beyond 16 bytes");
	}

	/* A read-only struct: the result cannot be copied back */
	{
		struct buddy_alloc_args *ro;
		struct buddy_heap_stats t0, t1;

		ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ro == MAP_FAILED)
			die("mmap");
		memset(ro, 0, sizeof(*ro));
		ro->size = 4096;
		mprotect(ro, 4096, PROT_READ);
		t0 = get_stats(fd);
		CHECK_ERR(xioctl(fd, BUDDY_IOC_MALLOC, ro), EFAULT,
			  "MALLOC into a read-only struct");
		t1 = get_stats(fd);
		CHECK(t0.live_blocks == t1.live_blocks,
		      "MALLOC whose result cannot be returned is undone");
		munmap(ro, 4096);
	}
	close(fd);
}

/* BATCH */

static void test_batch(void)
{
	static struct buddy_op ops[BUDDY_BATCH_MAX];
	struct buddy_batch b;
	struct buddy_info info;
	char *base;
	unsigned int i, n = BUDDY_BATCH_MAX;
	bool ok;
	int fd;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);

	memset(ops, 0, sizeof(ops));
	for (i = 0; i < n; i++) {
		ops[i].op = BUDDY_OP_MALLOC;
		ops[i].size = 16 + i;
		ops[i].result = 99;
	}
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)ops;
	b.count = n;
	b.op_size = sizeof(ops[0]);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of %u MALLOCs", n);
	ok = b.done == n;
	for (i = 0; i < n && ok; i++) {
		ok = !ops[i].result && ops[i].usable >= 16 + i &&
		     ops[i].offset % 16 == 0;
		if (ok)
			memset(base + ops[i].offset, (char)i, 16 + i);
	}
	CHECK(ok, "BATCH: every MALLOC succeeded (done %u)", b.done);
	for (i = 0; i < n && ok; i++)
		ok = all_bytes(base + ops[i].offset, (char)i, 16 + i);
	CHECK(ok, "BATCH: blocks are disjoint");
	CHECK(get_stats(fd).live_blocks == n, "BATCH: STATS live_blocks %u", n);

	for (i = 0; i < n; i++) {
		ops[i].op = BUDDY_OP_FREE;
		ops[i].size = 0;
		ops[i].usable = 0;
	}
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of %u FREEs", n);
	for (i = 0, ok = b.done == n; i < n && ok; i++)
		ok = !ops[i].result;
	CHECK(ok && get_stats(fd).live_blocks == 0,
	      "BATCH: every FREE succeeded, heap empty");

	/* A failing op in the middle: reported, the rest still run */
	memset(ops, 0, 5 * sizeof(ops[0]));
	ops[0].op = BUDDY_OP_MALLOC;
	ops[0].size = 100;
	ops[1].op = BUDDY_OP_FREE;
	ops[1].offset = info.window_bytes - 16;
	ops[2].op = BUDDY_OP_CALLOC;
	ops[2].size = 10;
	ops[2].arg = 10;
	ops[3].op = BUDDY_OP_MEMALIGN;
	ops[3].size = 10;
	ops[3].arg = 4096;
	ops[4].op = BUDDY_OP_USABLE_SIZE;
	{
		uint64_t o;

		if (heap_malloc(fd, 256, 0, &o, NULL))
			die("MALLOC 256");
		ops[4].offset = o + 16;
	}
	b.count = 5;
	b.flags = 0;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "mixed BATCH");
	CHECK(b.done == 5 && !ops[0].result && ops[1].result == -EINVAL &&
	      ops[1].reason == BUDDY_REASON_OUTSIDE && !ops[2].result &&
	      ops[2].usable == 128 && !ops[3].result &&
	      ops[3].offset % 4096 == 0 && ops[4].result == -EINVAL &&
	      ops[4].reason == BUDDY_REASON_NOT_BLOCK_START,
	      "mixed BATCH: per-op results and reasons (done %u, %d %d %d %d %d)",
	      b.done, ops[0].result, ops[1].result, ops[2].result,
	      ops[3].result, ops[4].result);

	memset(ops, 0, 3 * sizeof(ops[0]));
	ops[0].op = BUDDY_OP_MALLOC;
	ops[0].size = 32;
	ops[1].op = BUDDY_OP_MALLOC;
	ops[1].size = 32;
	ops[1].flags = 8;		/* bad */
	ops[2].op = BUDDY_OP_MALLOC;
	ops[2].size = 32;
	ops[2].result = 99;
	b.count = 3;
	b.flags = BUDDY_BATCH_STOP_ON_ERROR;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH with STOP_ON_ERROR");
	CHECK(b.done == 2 && !ops[0].result && ops[1].result == -EINVAL &&
	      ops[2].result == 99,
	      "STOP_ON_ERROR: stops after the failing op (done %u)", b.done);

	/* The results cannot be written back: -EFAULT */
	{
		struct buddy_op *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (ro == MAP_FAILED)
			die("mmap");
		memset(ro, 0, sizeof(*ro));
		ro->op = BUDDY_OP_MALLOC;
		ro->size = 16;
		mprotect(ro, 4096, PROT_READ);
		b.ops = (uintptr_t)ro;
		b.count = 1;
		b.flags = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT,
			  "BATCH with read-only ops");
		munmap(ro, 4096);
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* The mmap window */

static void test_mmap(void)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	uint64_t off, big, first, offs[16];
	char *base, *p, *p2;
	unsigned int i;
	int fd, sig;

	fd = open_heap();
	info = get_info(fd);

	/* refused mappings */
	p = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap MAP_PRIVATE refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap at offset 4096 refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, info.window_bytes + 4096, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap longer than the window refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED, "mmap PROT_EXEC refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");

	base = map_window(fd, info.window_bytes);
	CHECK(mprotect(base, 4096, PROT_READ | PROT_EXEC) != 0,
	      "mprotect PROT_EXEC refused (%s)", strerror(errno));
	p = mremap(base, info.window_bytes, info.window_bytes + 4096, 0);
	CHECK(p == MAP_FAILED, "mremap growth in place refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");
	p = mremap(base, info.window_bytes, 2 * info.window_bytes, MREMAP_MAYMOVE);
	CHECK(p == MAP_FAILED, "mremap growth with MAYMOVE refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");

	/* SIGBUS outside live chunks */
	sig = touch(base + info.window_bytes - 4096, false);
	CHECK(sig == SIGBUS, "read outside the live chunks: SIGBUS (%d)", sig);
	sig = touch(base + info.window_bytes / 2, true);
	CHECK(sig == SIGBUS, "write outside the live chunks: SIGBUS (%d)", sig);

	/* contents survive growth; offsets never move */
	CHECK_ERR(heap_malloc(fd, 1000, 0, &first, NULL), 0, "MALLOC 1000");
	memset(base + first, 0x3c, 1000);
	for (i = 0; i < 10; i++) {
		CHECK_ERR(heap_malloc(fd, 64 * KiB << i, 0, &offs[i], NULL), 0,
			  "MALLOC %llu KiB (growth)", 64ULL << i);
		memset(base + offs[i], i + 1, 4096);
		base[offs[i] + (64 * KiB << i) - 1] = (char)(i + 1);
	}
	st = get_stats(fd);
	CHECK(st.nr_grows >= 4, "the heap grew %" PRIu64 " times, %" PRIu64
	      " chunks", (uint64_t)st.nr_grows, (uint64_t)st.nr_chunks);
	CHECK(all_bytes(base + first, 0x3c, 1000), "contents survive growth");
	for (i = 0; i < 10; i++)
		if (!all_bytes(base + offs[i], i + 1, 4096) ||
		    base[offs[i] + (64 * KiB << i) - 1] != (char)(i + 1))
			break;
	CHECK(i == 10, "every grown block holds its data");

	/* a second mapping of the same heap sees the same memory */
	p2 = map_window(fd, info.window_bytes);
	CHECK(all_bytes(p2 + first, 0x3c, 1000), "second mapping sees the data");
	p2[first] = 0x11;
	CHECK(base[first] == 0x11, "writes through one mapping show in the other");
	munmap(p2, info.window_bytes);

	for (i = 0; i < 10; i++)
		heap_free(fd, offs[i], NULL);
	CHECK(all_bytes(base + first, 0x11, 1) &&
	      all_bytes(base + first + 1, 0x3c, 999),
	      "after freeing the grown blocks the first block is intact");

	/* a chunk given back is unmapped: its pages SIGBUS, no stale PTE */
	{
		int f2 = open_heap();
		char *b2 = map_window(f2, info.window_bytes);
		uint64_t anchor;

		CHECK_ERR(heap_malloc(f2, 2 * MiB, 0, &anchor, NULL), 0,
			  "MALLOC 2 MiB (stays)");
		memset(b2 + anchor, 0x24, 2 * MiB);
		CHECK_ERR(heap_malloc(f2, 32 * MiB, 0, &big, NULL), 0,
			  "MALLOC 32 MiB (a chunk of its own)");
		{
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			memset(b2 + big, 0x42, 32 * MiB);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ktap_diag("first touch of 32 MiB through the window: %ld ms",
				  (t1.tv_sec - t0.tv_sec) * 1000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		}
		st = get_stats(f2);
		CHECK_ERR(heap_free(f2, big, NULL), 0, "FREE 32 MiB");
		CHECK(get_stats(f2).nr_shrinks > st.nr_shrinks &&
		      get_stats(f2).heap_bytes + 32 * MiB <= st.heap_bytes,
		      "the free chunk went back to the kernel");
		sig = touch(b2 + big, false);
		CHECK(sig == SIGBUS,
		      "a given-back chunk's page faults with SIGBUS (%d)", sig);
		sig = touch(b2 + big + 32 * MiB - 1, true);
		CHECK(sig == SIGBUS, "its last page too (%d)", sig);
		CHECK(all_bytes(b2 + anchor, 0x24, 2 * MiB),
		      "the rest of the heap is still mapped and intact");
		munmap(b2, info.window_bytes);
		close(f2);
	}

	/* absolute alignment up to 16 MiB (the cap run goes to the window) */
	for (i = 4; i <= 24; i++) {
		uint64_t al = 1ULL << i;
		int ret = heap_memalign(fd, al, 16, &off);

		CHECK(!ret && ((uintptr_t)(base + off) & (al - 1)) == 0,
		      "MEMALIGN %llu: address %p absolutely aligned",
		      (unsigned long long)al, (void *)(base + off));
		if (!ret)
			touch(base + off, true);
	}

	/* munmap and map again: the data is still there */
	munmap(base, info.window_bytes);
	base = map_window(fd, info.window_bytes);
	CHECK(base[first] == 0x11 && all_bytes(base + first + 1, 0x3c, 999),
	      "unmapped and mapped again: data kept");
	munmap(base, info.window_bytes);

	/* a partial mapping (prefix of the window) works */
	p = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && first < 64 * KiB && touch(p + first, false) == 0 &&
	      p[first] == 0x11,
	      "a mapping shorter than the window works");
	if (p != MAP_FAILED)
		munmap(p, 64 * KiB);
	close(fd);
}

/* CLONE */

struct clone_arg {
	int fd;
	uint64_t window, off;
	char *base;
};

/* The shim's fork scheme: the child maps the clone over the window. */
static void clone_child(void *varg)
{
	struct clone_arg *ca = varg;
	uint64_t off;

	CHECK(map_window_at(ca->fd, ca->window, ca->base) == ca->base,
	      "child: maps the clone over the window (MAP_FIXED)");
	CHECK(all_bytes(ca->base + ca->off, 0x61, 4096),
	      "child: sees the parent's data at the same addresses");
	memset(ca->base + ca->off, 0x62, 4096);
	CHECK_ERR(heap_malloc(ca->fd, 4096, 0, &off, NULL), 0,
		  "child: allocates in its copy");
	memset(ca->base + off, 0x63, 4096);
}

static void test_clone(void)
{
	struct buddy_clone_args c;
	struct buddy_info info, cinfo;
	struct buddy_heap_stats s0, s1;
	uint64_t off, o1, o2;
	char *base, *cbase;
	struct clone_arg ca;
	int fd, cfd, flags;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "MALLOC 4096");
	memset(base + off, 0x61, 4096);
	CHECK_ERR(heap_malloc(fd, 3 * MiB, 0, &o1, NULL), 0, "MALLOC 3 MiB");
	memset(base + o1, 0x71, 3 * MiB);

	memset(&c, 0, sizeof(c));
	c.fd = -5;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), 0, "CLONE flags 0");
	cfd = c.fd;
	flags = fcntl(cfd, F_GETFD);
	CHECK(cfd >= 0 && flags >= 0 && !(flags & FD_CLOEXEC),
	      "CLONE 0: a new fd %d without FD_CLOEXEC", cfd);
	cinfo = get_info(cfd);
	CHECK(cinfo.heap_id != info.heap_id &&
	      cinfo.window_bytes == info.window_bytes,
	      "CLONE: a new heap with the same window");
	s0 = get_stats(fd);
	s1 = get_stats(cfd);
	CHECK(s0.live_blocks == s1.live_blocks &&
	      s0.bytes_in_use == s1.bytes_in_use &&
	      s0.heap_bytes == s1.heap_bytes &&
	      !memcmp(s0.free_blocks, s1.free_blocks, sizeof(s0.free_blocks)),
	      "CLONE: same blocks");
	cbase = map_window(cfd, info.window_bytes);
	CHECK(all_bytes(cbase + off, 0x61, 4096) &&
	      all_bytes(cbase + o1, 0x71, 3 * MiB),
	      "CLONE: same contents at the same offsets");

	memset(cbase + off, 0x99, 4096);
	CHECK(all_bytes(base + off, 0x61, 4096), "writes to the copy stay there");
	memset(base + o1, 0x55, 4096);
	CHECK(all_bytes(cbase + o1, 0x71, 4096), "writes to the original stay there");
	CHECK_ERR(heap_free(cfd, o1, NULL), 0, "FREE in the copy");
	CHECK_ERR(heap_usable(fd, o1, NULL, NULL), 0,
		  "the original's block is still live");
	CHECK_ERR(heap_malloc(fd, 100, 0, &o1, NULL), 0, "MALLOC in the original");
	CHECK_ERR(heap_malloc(cfd, 100, 0, &o2, NULL), 0, "MALLOC in the copy");
	CHECK(o1 == o2, "same state, same next offset (%#" PRIx64 ")", o1);
	CHECK_ERR(heap_free(fd, o1, NULL), 0, "FREE it in the original");
	CHECK_ERR(heap_usable(cfd, o2, NULL, NULL), 0, "still live in the copy");
	munmap(cbase, info.window_bytes);
	close(cfd);

	memset(&c, 0, sizeof(c));
	c.flags = O_CLOEXEC;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), 0, "CLONE O_CLOEXEC");
	flags = fcntl(c.fd, F_GETFD);
	CHECK(flags >= 0 && (flags & FD_CLOEXEC), "CLONE O_CLOEXEC: FD_CLOEXEC set");

	/* fork: the child takes the clone over the window */
	ca.fd = c.fd;
	ca.window = info.window_bytes;
	ca.off = off;
	ca.base = base;
	in_child("CLONE across fork", clone_child, &ca);
	CHECK(all_bytes(base + off, 0x61, 4096),
	      "parent: the child's writes did not reach it");
	CHECK(get_stats(c.fd).live_blocks == get_stats(fd).live_blocks + 1,
	      "the clone holds the child's extra block");
	close(c.fd);

	/* clone of an empty heap, and a clone of a clone */
	{
		int e = open_heap(), c1, c2;

		memset(&c, 0, sizeof(c));
		CHECK_ERR(xioctl(e, BUDDY_IOC_CLONE, &c), 0, "CLONE an empty heap");
		c1 = c.fd;
		memset(&c, 0, sizeof(c));
		CHECK_ERR(xioctl(c1, BUDDY_IOC_CLONE, &c), 0, "CLONE a clone");
		c2 = c.fd;
		CHECK_ERR(heap_malloc(c2, 16, 0, &o1, NULL), 0,
			  "the clone of a clone works");
		close(c2);
		close(c1);
		close(e);
	}

	/* a CLONE whose fd cannot be returned leaves no fd behind */
	{
		void *ro = mmap(NULL, 4096, PROT_READ,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int probe = dup(0), next;

		close(probe);
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, ro), EFAULT,
			  "CLONE into a read-only struct");
		next = dup(0);
		CHECK(next == probe, "no fd installed (%d, %d)", next, probe);
		close(next);
		munmap(ro, 4096);
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* Two processes */

static void isolated_child(void *arg)
{
	int pfd = *(int *)arg;
	struct buddy_info info;
	uint64_t off;
	char *base, c = 0;
	int fd;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "child: MALLOC");
	memset(base + off, 0xcc, 4096);
	if (write(pfd, &off, sizeof(off)) != sizeof(off) ||
	    read(pfd, &c, 1) != 1)
		CHECK(0, "child: talks to the parent");
	CHECK(all_bytes(base + off, 0xcc, 4096),
	      "child: its block kept its contents while the parent wrote");
	CHECK(get_stats(fd).live_blocks == 1, "child: its heap has one block");
	munmap(base, info.window_bytes);
	close(fd);
}

static void test_processes(void)
{
	struct child_counts start = counts_now();
	struct buddy_info info;
	uint64_t off, coff = 0;
	int sp[2], fd, status;
	bool heard, told;
	char *base;
	pid_t pid;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "parent: MALLOC");
	memset(base + off, 0xaa, 4096);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		die("socketpair");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(sp[0]);
		close(fd);	/* the child has only its own heap */
		munmap(base, info.window_bytes);
		isolated_child(&sp[1]);
		ktap_diag("child: %u passed, %u failed",
			  ktap_passed() - start.passed,
			  ktap_failed() - start.failed);
		_exit(send_counts(sp[1], start) &&
		      ktap_failed() == start.failed ? 0 : 1);
	}
	close(sp[1]);
	/*
	 * The child numbers its results after ours: the parent's own checks
	 * wait until the child has sent its counts back.
	 */
	heard = read(sp[0], &coff, sizeof(coff)) == sizeof(coff);
	memset(base + off, 0xab, 4096);
	told = write(sp[0], "x", 1) == 1;
	add_child_counts(sp[0]);
	waitpid(pid, &status, 0);
	if (!heard)
		CHECK(0, "parent: hears from the child");
	CHECK(coff == off, "two heaps, independent offsets (both %#" PRIx64 ")",
	      coff);
	if (!told)
		CHECK(0, "parent: talks to the child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child process: its heap was its own");
	CHECK(all_bytes(base + off, 0xab, 4096),
	      "parent: its block untouched by the child");
	CHECK(get_stats(fd).live_blocks == 1, "parent: its heap has one block");
	close(sp[0]);
	munmap(base, info.window_bytes);
	close(fd);
}

/* Threads: allocations, frees, chunk give-backs and faults at once */

struct thr {
	int fd;
	char *base;
	unsigned int seed;
	int errors;
};

static void *thread_fn(void *varg)
{
	struct thr *t = varg;
	uint64_t offs[32], sz[32];
	unsigned int i, j;

	memset(offs, 0, sizeof(offs));
	for (i = 0; i < 3000; i++) {
		j = rand_r(&t->seed) % 32;
		if (offs[j]) {
			uint64_t o = offs[j] - 1;

			if (t->base[o] != (char)j || t->base[o + sz[j] - 1] != (char)j)
				t->errors++;
			if (heap_free(t->fd, offs[j] - 1, NULL))
				t->errors++;
			offs[j] = 0;
			continue;
		}
		sz[j] = 1 + rand_r(&t->seed) % (rand_r(&t->seed) % 8 ? 4096 : 2 * MiB);
		if (heap_malloc(t->fd, sz[j], 0, &offs[j], NULL)) {
			t->errors++;
			continue;
		}
		t->base[offs[j]] = (char)j;
		t->base[offs[j] + sz[j] - 1] = (char)j;
		offs[j]++;	/* 0 means empty */
	}
	for (j = 0; j < 32; j++)
		if (offs[j] && heap_free(t->fd, offs[j] - 1, NULL))
			t->errors++;
	return NULL;
}

static void test_threads(void)
{
	struct thr t[4];
	pthread_t tid[4];
	struct buddy_info info;
	char *base;
	int fd, i, errors = 0;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	for (i = 0; i < 4; i++) {
		t[i].fd = fd;
		t[i].base = base;
		t[i].seed = 1234 + i;
		t[i].errors = 0;
		pthread_create(&tid[i], NULL, thread_fn, &t[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		errors += t[i].errors;
	}
	CHECK(errors == 0, "4 threads x 3000 malloc/touch/free: %d errors",
	      errors);
	CHECK(get_stats(fd).live_blocks == 0, "threads: heap empty afterwards");
	munmap(base, info.window_bytes);
	close(fd);
}

/* debugfs */

static char *slurp(const char *path)
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

static int count_fields(const char *s)
{
	int n = 0;
	bool in = false;

	for (; *s && *s != '\n'; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

/*
 * Read a debugfs map: lines, whether the offsets ascend, seconds taken.
 */
static long map_read(const char *path, bool *ascending, double *secs)
{
	static char buf[65536];
	struct timespec t0, t1;
	unsigned long long off, prev = 0;
	long lines = 0;
	char line[128];
	size_t ll = 0;
	ssize_t n, i;
	int fd;

	*ascending = true;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			off = strtoull(line, NULL, 16);
			if (lines && off <= prev)
				*ascending = false;
			prev = off;
			lines++;
		}
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return lines;
}

/* MALLOC @n blocks of 16 bytes through BATCH. */
static void batch_mallocs(int fd, unsigned int n)
{
	static struct buddy_op ops[BUDDY_BATCH_MAX];
	struct buddy_batch b;
	unsigned int i, k;

	while (n) {
		k = n < BUDDY_BATCH_MAX ? n : BUDDY_BATCH_MAX;
		memset(ops, 0, sizeof(ops));
		for (i = 0; i < k; i++) {
			ops[i].op = BUDDY_OP_MALLOC;
			ops[i].size = 16;
		}
		memset(&b, 0, sizeof(b));
		b.ops = (uintptr_t)ops;
		b.count = k;
		b.op_size = sizeof(ops[0]);
		if (xioctl(fd, BUDDY_IOC_BATCH, &b))
			die("BATCH");
		n -= k;
	}
}

static void test_debugfs(void)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	char dir[256], path[300], want[64];
	uint64_t off;
	const char *debugfs_mode = getenv("BUDDY_VMTEST_DEBUGFS");
	char *s;
	int fd, i, lines;

	fd = open_heap();
	info = get_info(fd);
	if (debugfs_mode && !strcmp(debugfs_mode, "off")) {
		/* booted with debugfs=off: the device works without it */
		CHECK(!(info.features & BUDDY_FEATURE_DEBUGFS) &&
		      access(DEBUGFS, F_OK) != 0,
		      "debugfs=off: no debugfs files, feature bit clear");
		CHECK_ERR(heap_malloc(fd, 100, 0, &off, NULL), 0,
			  "debugfs=off: heaps still work");
		close(fd);
		return;
	}
	if (access(DEBUGFS, F_OK)) {
		CHECK(0, "debugfs: " DEBUGFS " exists");
		close(fd);
		return;
	}
	for (i = 0; i < 20; i++)
		heap_malloc(fd, 16 << (i % 10), 0, &off, NULL);
	heap_free(fd, off, NULL);
	st = get_stats(fd);
	snprintf(dir, sizeof(dir), DEBUGFS "/%d-%" PRIu64, getpid(),
		 (uint64_t)info.heap_id);
	CHECK(access(dir, F_OK) == 0, "debugfs: %s exists", dir);

	snprintf(path, sizeof(path), "%s/buddyinfo", dir);
	s = slurp(path);
	snprintf(want, sizeof(want), "heap %" PRIu64 " ", (uint64_t)info.heap_id);
	CHECK(s && !strncmp(s, want, strlen(want)) &&
	      count_fields(s) == 2 + (int)st.nr_orders,
	      "debugfs buddyinfo: 'heap <id>' + %u counts", st.nr_orders);
	if (s) {
		char *p = s + strlen(want);
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			if (strtoull(p, &p, 10) != st.free_blocks[k])
				break;
		CHECK(k == st.nr_orders, "debugfs buddyinfo matches STATS");
	}

	snprintf(path, sizeof(path), "%s/stats", dir);
	s = slurp(path);
	snprintf(want, sizeof(want), "live_blocks %" PRIu64 "\n",
		 (uint64_t)st.live_blocks);
	CHECK(s && strstr(s, want) && strstr(s, "heap_bytes ") &&
	      strstr(s, "nr_allocs ") && strstr(s, "cap_bytes "),
	      "debugfs stats: key value lines");

	snprintf(path, sizeof(path), "%s/unusable_index", dir);
	s = slurp(path);
	CHECK(s && count_fields(s) == 2 + (int)st.nr_orders &&
	      strstr(s, ".") && !strncmp(s, "heap ", 5),
	      "debugfs unusable_index: one x.yyy per order");
	snprintf(path, sizeof(path), "%s/extfrag_index", dir);
	s = slurp(path);
	CHECK(s && count_fields(s) == 2 + (int)st.nr_orders && strstr(s, "."),
	      "debugfs extfrag_index: one x.yyy per order");

	snprintf(path, sizeof(path), "%s/map", dir);
	s = slurp(path);
	lines = 0;
	if (s)
		for (; *s; s++)
			lines += *s == '\n';
	{
		uint64_t nfree = 0;
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			nfree += st.free_blocks[k];
		CHECK(lines > 0 && (uint64_t)lines == st.live_blocks + nfree,
		      "debugfs map: one line per block (%d = %" PRIu64
		      " live + %" PRIu64 " free)", lines,
		      (uint64_t)st.live_blocks, nfree);
	}
	/* a large map needs several batches */
	for (i = 0; i < 2000; i++)
		heap_malloc(fd, 16, 0, &off, NULL);
	st = get_stats(fd);
	s = slurp(path);
	lines = 0;
	if (s)
		for (; *s; s++)
			lines += *s == '\n';
	{
		uint64_t nfree = 0;
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			nfree += st.free_blocks[k];
		CHECK((uint64_t)lines == st.live_blocks + nfree,
		      "debugfs map of %d blocks read in full", lines);
	}
	close(fd);

	/* reading the map is O(N): 16 times the blocks, not 256 times the time */
	{
		double t1, t2;
		bool asc1, asc2;
		long l1, l2;

		fd = open_heap();
		info = get_info(fd);
		snprintf(path, sizeof(path), "%s/%d-%llu/map", DEBUGFS, getpid(),
			 (unsigned long long)info.heap_id);
		batch_mallocs(fd, 4096);
		l1 = map_read(path, &asc1, &t1);
		batch_mallocs(fd, 65536 - 4096);
		l2 = map_read(path, &asc2, &t2);
		CHECK(l1 >= 4096 && l2 >= 65536 && asc1 && asc2,
		      "debugfs map: %ld then %ld lines, offsets ascending", l1, l2);
		CHECK(t2 < 64 * t1 + 0.05,
		      "debugfs map: 16x the blocks take %.1fx the time (%.3f s, "
		      "%.3f s; O(N^2) would be 256x)", t1 > 0 ? t2 / t1 : 0.0,
		      t1, t2);
		close(fd);
	}
	CHECK(access(dir, F_OK) != 0, "debugfs: the directory goes on close");
}

/* memcg */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

static long long read_ll(const char *path, const char *key)
{
	char *s = slurp(path), *p;

	if (!s)
		return -1;
	if (!key)
		return strtoll(s, NULL, 10);
	p = strstr(s, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void memcg_child(void *arg)
{
	const char *cg = arg;
	char path[256];
	uint64_t off, total = 0;
	long long before, during, after;
	int fd, ret = 0, i;

	char peak[256];

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	snprintf(peak, sizeof(peak), "%s/memory.peak", cg);
	read_ll(path, NULL);	/* fault in what reading needs, outside */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	CHECK_ERR(write_file(path, "0"), 0, "memcg: child moves into %s", cg);
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	before = read_ll(path, NULL);

	/*
	 * At the limit, anything else charged (a page of stack, a struct
	 * file) would call the memcg OOM killer on this process: close the
	 * heap before doing anything else, and look at memory.peak.
	 */
	fd = open_heap();
	for (i = 0; i < 1000; i++) {
		ret = heap_malloc(fd, 1 * MiB, 0, &off, NULL);
		if (ret)
			break;
		total += MiB;
	}
	close(fd);
	during = read_ll(peak, NULL);
	after = read_ll(path, NULL);
	CHECK(ret == -ENOMEM, "memcg: MALLOC fails with ENOMEM at the limit (%s)",
	      ret ? strerror(-ret) : "no failure");
	CHECK(total >= 8 * MiB && total <= 32 * MiB,
	      "memcg: %llu MiB allocated under a 32 MiB limit",
	      (unsigned long long)(total / MiB));
	CHECK(during - before >= (long long)total,
	      "memcg: the heap was charged (peak %lld KiB for %llu KiB)",
	      (during - before) / 1024, (unsigned long long)(total / 1024));
	CHECK(after - before < (long long)(2 * MiB),
	      "memcg: close gave it back (peak %lld KiB, now %lld KiB)",
	      during / 1024, after / 1024);
}

/*
 * A heap opened in the group and grown by a process outside it (the fd
 * passed on) is charged to the group: the opener's, not the grower's.
 */
static void memcg_owner(const char *cg)
{
	char path[256];
	long long before, during, after;
	uint64_t off;
	int sv[2], fd, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		if (write_file(path, "0"))
			_exit(1);
		fd = open(DEV, O_RDWR);
		if (fd < 0 || send_fd(sv[0], fd))
			_exit(1);
		_exit(0);
	}
	fd = recv_fd(sv[1]);
	waitpid(pid, &status, 0);
	close(sv[0]);
	close(sv[1]);
	CHECK(fd >= 0 && WIFEXITED(status) && !WEXITSTATUS(status),
	      "memcg: a heap opened in the group, passed out (%s)",
	      fd < 0 ? strerror(-fd) : "ok");
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	before = read_ll(path, NULL);
	CHECK_ERR(heap_malloc(fd, 8 * MiB, 0, &off, NULL), 0,
		  "memcg: MALLOC 8 MiB from outside the group");
	during = read_ll(path, NULL);
	CHECK(during - before >= (long long)(8 * MiB),
	      "memcg: charged to the opener's group (+%lld KiB)",
	      (during - before) / 1024);
	CHECK_ERR(heap_malloc(fd, 32 * MiB, 0, &off, NULL), ENOMEM,
		  "memcg: MALLOC 32 MiB more from outside: the group's limit");
	close(fd);
	after = read_ll(path, NULL);
	CHECK(after - before < (long long)MiB,
	      "memcg: close gave it back (now %lld KiB)", after / 1024);
}

static void test_memcg(void)
{
	char cg[128], path[200], *s;

	s = slurp(CGROOT "/cgroup.subtree_control");
	if (!s || !strstr(s, "memory")) {
		CHECK(0, "memcg: memory controller enabled in " CGROOT);
		return;
	}
	snprintf(cg, sizeof(cg), CGROOT "/buddy-vmtest-%d", getpid());
	if (mkdir(cg, 0755)) {
		CHECK(0, "memcg: mkdir %s: %s", cg, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	CHECK_ERR(write_file(path, "33554432"), 0, "memcg: memory.max 32 MiB");
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_file(path, "0");
	in_child("memcg", memcg_child, cg);
	memcg_owner(cg);
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	CHECK(read_ll(path, "oom_kill ") == 0, "memcg: nothing was OOM-killed");
	CHECK(rmdir(cg) == 0, "memcg: cgroup removed (%s)",
	      access(cg, F_OK) ? "gone" : strerror(errno));
}

/* Module: unload, parameters, caps */

static int mod_delete(void)
{
	return syscall(SYS_delete_module, "buddy", O_NONBLOCK) ? -errno : 0;
}

static int mod_load(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static long long refcnt(void)
{
	return read_ll("/sys/module/buddy/refcnt", NULL);
}

/* Issue #14: sizes, EFAULT, the per-user bound, read-only maps, kills */

#define USER_LIMIT	"/sys/module/buddy/parameters/max_user_bytes"
#define NOBODY		65534

/* Smallest _IOC_SIZE each command accepts (the end of its last output). */
static unsigned int min_size(unsigned int nr)
{
	switch (nr) {
	case _IOC_NR(BUDDY_IOC_INFO):
		return offsetof(struct buddy_info, reserved);
	case _IOC_NR(BUDDY_IOC_FREE):
		return offsetof(struct buddy_block_args, new_offset);
	case _IOC_NR(BUDDY_IOC_BATCH):
		return offsetof(struct buddy_batch, reserved);
	case _IOC_NR(BUDDY_IOC_CLONE):
		return offsetof(struct buddy_clone_args, reserved);
	case _IOC_NR(BUDDY_IOC_STATS):
		return sizeof(struct buddy_heap_stats);
	}
	return _IOC_NR(BUDDY_IOC_MALLOC) <= nr && nr <= _IOC_NR(BUDDY_IOC_MEMALIGN) ?
	       sizeof(struct buddy_alloc_args) : sizeof(struct buddy_block_args);
}

/* Every command with every size from 0 to 64 bytes beyond its struct. */
static void test_sizes(void)
{
	static const unsigned long cmds[] = {
		BUDDY_IOC_INFO, BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC,
		BUDDY_IOC_MEMALIGN, BUDDY_IOC_FREE, BUDDY_IOC_REALLOC,
		BUDDY_IOC_USABLE_SIZE, BUDDY_IOC_STATS, BUDDY_IOC_BATCH,
		BUDDY_IOC_CLONE,
	};
	static unsigned char buf[sizeof(struct buddy_heap_stats) + 64];
	struct buddy_op op;
	unsigned int i, size, bad;
	int fd, ret;

	fd = open_heap();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		unsigned int nr = _IOC_NR(cmds[i]), min = min_size(nr);
		unsigned int full = _IOC_SIZE(cmds[i]);
		unsigned long long live0 = get_stats(fd).live_blocks;
		unsigned int below_ok = 0, above_bad = 0;

		bool blk = nr >= _IOC_NR(BUDDY_IOC_FREE) &&
			   nr <= _IOC_NR(BUDDY_IOC_USABLE_SIZE);

		for (size = 0; size <= full + 64; size++) {
			uint64_t off = 0;

			memset(buf, 0, sizeof(buf));
			/* a block to work on, for the commands that take one */
			if (blk && heap_malloc(fd, 16, 0, &off, NULL))
				die("MALLOC");
			switch (nr) {
			case _IOC_NR(BUDDY_IOC_MALLOC):
				((struct buddy_alloc_args *)buf)->size = 16;
				break;
			case _IOC_NR(BUDDY_IOC_CALLOC):
				((struct buddy_alloc_args *)buf)->size = 16;
				((struct buddy_alloc_args *)buf)->nmemb = 2;
				break;
			case _IOC_NR(BUDDY_IOC_MEMALIGN):
				((struct buddy_alloc_args *)buf)->size = 16;
				((struct buddy_alloc_args *)buf)->align = 64;
				break;
			case _IOC_NR(BUDDY_IOC_FREE):
			case _IOC_NR(BUDDY_IOC_USABLE_SIZE):
				((struct buddy_block_args *)buf)->offset = off;
				break;
			case _IOC_NR(BUDDY_IOC_REALLOC):
				((struct buddy_block_args *)buf)->offset = off;
				((struct buddy_block_args *)buf)->size = 100;
				break;
			case _IOC_NR(BUDDY_IOC_BATCH):
				memset(&op, 0, sizeof(op));
				op.op = BUDDY_OP_MALLOC;
				op.size = 16;
				((struct buddy_batch *)buf)->ops = (uintptr_t)&op;
				((struct buddy_batch *)buf)->count = 1;
				((struct buddy_batch *)buf)->op_size = sizeof(op);
				break;
			}
			ret = xioctl(fd, ioc_resize(cmds[i], size), buf);
			if (size < min) {
				if (ret != -EINVAL)
					below_ok++;
			} else if (ret) {
				above_bad++;
			}
			/* give back what a successful call made */
			if (!ret) {
				switch (nr) {
				case _IOC_NR(BUDDY_IOC_MALLOC):
				case _IOC_NR(BUDDY_IOC_CALLOC):
				case _IOC_NR(BUDDY_IOC_MEMALIGN):
					heap_free(fd, ((struct buddy_alloc_args *)buf)->offset, NULL);
					break;
				case _IOC_NR(BUDDY_IOC_REALLOC):
					off = ((struct buddy_block_args *)buf)->new_offset;
					break;
				case _IOC_NR(BUDDY_IOC_BATCH):
					if (!op.result)
						heap_free(fd, op.offset, NULL);
					break;
				case _IOC_NR(BUDDY_IOC_CLONE):
					close(((struct buddy_clone_args *)buf)->fd);
					break;
				}
			}
			if (blk && (nr != _IOC_NR(BUDDY_IOC_FREE) || ret))
				heap_free(fd, off, NULL);
		}
		bad = get_stats(fd).live_blocks != live0;
		CHECK(!below_ok && !above_bad && !bad,
		      "sizes: command nr %u: every size below %u refused with EINVAL "
		      "(%u not), %u..%u accepted (%u not), no block leaked (%s)",
		      nr, min, below_ok, min, full + 64, above_bad,
		      bad ? "leaked" : "none");
	}
	close(fd);
}

/* A result that can be read but not written: -EFAULT, heap unchanged. */
static void test_efault(void)
{
	struct buddy_heap_stats t0, t1;
	struct buddy_block_args *rb;
	struct buddy_batch b;
	struct buddy_clone_args *rc;
	struct buddy_op *rops;
	uint64_t off, use, window;
	char *page, *base;
	int fd, probe, next, i, ret;

	fd = open_heap();
	window = get_info(fd).window_bytes;
	base = map_window(fd, window);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");

	/* REALLOC that has to move the block */
	CHECK_ERR(heap_malloc(fd, 64, 0, &off, NULL), 0, "efault: MALLOC 64");
	{
		uint64_t o2;

		CHECK_ERR(heap_malloc(fd, 64, 0, &o2, NULL), 0,
			  "efault: MALLOC its buddy (REALLOC must move)");
	}
	memset(base + off, 0x3c, 64);
	memset(page, 0, 4096);
	rb = (struct buddy_block_args *)page;
	rb->offset = off;
	rb->size = 4096;
	mprotect(page, 4096, PROT_READ);
	t0 = get_stats(fd);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, rb), EFAULT,
		  "efault: REALLOC into a read-only struct");
	t1 = get_stats(fd);
	ret = heap_usable(fd, off, &use, NULL);
	CHECK(ret == 0 && use == 64 &&
	      all_bytes(base + off, 0x3c, 64) &&
	      t1.nr_reallocs == t0.nr_reallocs && t1.bytes_in_use == t0.bytes_in_use,
	      "efault: the old block is still live and intact (usable %llu, "
	      "reallocs %llu -> %llu)", (unsigned long long)use,
	      (unsigned long long)t0.nr_reallocs,
	      (unsigned long long)t1.nr_reallocs);

	/* BATCH whose ops cannot be written back */
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
	memset(page, 0, 4096);
	rops = (struct buddy_op *)page;
	for (i = 0; i < 8; i++) {
		rops[i].op = BUDDY_OP_MALLOC;
		rops[i].size = 32;
	}
	mprotect(page, 4096, PROT_READ);
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)rops;
	b.count = 8;
	b.op_size = sizeof(*rops);
	t0 = get_stats(fd);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT,
		  "efault: BATCH with read-only ops");
	t1 = get_stats(fd);
	CHECK(t1.live_blocks == t0.live_blocks && t1.nr_allocs == t0.nr_allocs,
	      "efault: ... ran none of them (live blocks %llu -> %llu)",
	      (unsigned long long)t0.live_blocks,
	      (unsigned long long)t1.live_blocks);

	/* CLONE into a read-only struct: no heap copied, no fd */
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
	memset(page, 0, 4096);
	rc = (struct buddy_clone_args *)page;
	rc->fd = -1;
	mprotect(page, 4096, PROT_READ);
	probe = dup(0);
	close(probe);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, rc), EFAULT,
		  "efault: CLONE into a read-only struct");
	next = dup(0);
	close(next);
	CHECK(next == probe, "efault: ... installed no fd");

	munmap(page, 4096);
	munmap(base, window);
	close(fd);
}

static int send_fd(int sock, int fd)
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

static int recv_fd(int sock)
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

static int set_user_limit(unsigned long long bytes)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", bytes);
	return write_file(USER_LIMIT, v);
}

/* The child, as nobody: a heap of its own, and one passed by root. */
static void user_nobody_child(void *arg)
{
	int sock = *(int *)arg, fd, rfd;
	uint64_t off;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)) {
		CHECK(0, "user bound: setuid(nobody): %s", strerror(errno));
		return;
	}
	rfd = recv_fd(sock);
	CHECK(rfd >= 0, "user bound: nobody receives root's heap (%s)",
	      rfd < 0 ? strerror(-rfd) : "ok");
	if (rfd >= 0) {
		CHECK_ERR(heap_malloc(rfd, 4 * MiB, 0, &off, NULL), ENOMEM,
			  "user bound: nobody growing root's heap is charged to "
			  "root (full)");
		close(rfd);
	}
	fd = open(DEV, O_RDWR);
	CHECK(fd >= 0, "user bound: nobody opens a heap");
	if (fd < 0)
		return;
	CHECK_ERR(heap_malloc(fd, 4 * MiB, 0, &off, NULL), 0,
		  "user bound: nobody has a budget of its own");
	close(fd);
}

static void test_user_bound(void)
{
	long long saved = read_ll(USER_LIMIT, NULL);
	int fd1, fd2, fd3, clones[64], sv[2], n, i, ret;
	struct buddy_clone_args c;
	uint64_t off;

	CHECK(saved > 0, "user bound: %s is %lld (half of RAM by default)",
	      USER_LIMIT, saved);
	if (saved <= 0)
		return;
	CHECK_ERR(set_user_limit(8 * MiB), 0, "user bound: root sets it to 8 MiB");

	/* two heaps of one user share the bound */
	fd1 = open_heap();
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd1, 4 * MiB, 0, &off, NULL), 0,
		  "user bound: 4 MiB in heap 1");
	CHECK_ERR(heap_malloc(fd2, 4 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: 4 MiB more in heap 2 is beyond 8 MiB");
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: 2 MiB in heap 2 fits");

	/* fd passing: growth is charged to the opener, not the grower */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	CHECK_ERR(send_fd(sv[0], fd1), 0, "user bound: send heap 1 to nobody");
	in_child("user bound, nobody", user_nobody_child, &sv[1]);
	close(sv[0]);
	close(sv[1]);

	/* a heap parked in an SCM_RIGHTS message still counts */
	close(fd2);
	fd3 = open_heap();
	CHECK_ERR(heap_malloc(fd3, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: 2 MiB in heap 3");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("socketpair");
	CHECK_ERR(send_fd(sv[0], fd3), 0, "user bound: heap 3 parked in a message");
	close(fd3);
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: the parked heap still counts");
	close(sv[0]);
	close(sv[1]);
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: freed with the message");
	close(fd2);

	/* repeated CLONE: each copy is charged until the bound */
	memset(&c, 0, sizeof(c));
	c.flags = O_CLOEXEC;
	for (n = 0, ret = 0; n < 64; n++) {
		ret = xioctl(fd1, BUDDY_IOC_CLONE, &c);
		if (ret)
			break;
		clones[n] = c.fd;
	}
	CHECK(ret == -ENOMEM && n == 0,
	      "user bound: CLONE of a 4 MiB heap beyond the bound: ENOMEM "
	      "after %d copies (%s)", n, ret ? strerror(-ret) : "none");
	for (i = 0; i < n; i++)
		close(clones[i]);
	close(fd1);
	fd1 = open_heap();
	CHECK_ERR(heap_malloc(fd1, 1 * MiB, 0, &off, NULL), 0,
		  "user bound: 1 MiB heap to clone");
	for (n = 0, ret = 0; n < 64; n++) {
		ret = xioctl(fd1, BUDDY_IOC_CLONE, &c);
		if (ret)
			break;
		clones[n] = c.fd;
	}
	CHECK(ret == -ENOMEM && n >= 4 && n < 8,
	      "user bound: repeated CLONE of 1 MiB: %d copies, then %s",
	      n, ret ? strerror(-ret) : "none");
	for (i = 0; i < n; i++)
		close(clones[i]);
	CHECK_ERR(xioctl(fd1, BUDDY_IOC_CLONE, &c), 0,
		  "user bound: closing the copies gives the budget back");
	if (c.fd >= 0)
		close(c.fd);

	/* root raises it */
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd2, 8 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: 8 MiB more refused at 8 MiB");
	CHECK_ERR(set_user_limit(64 * MiB), 0, "user bound: root raises it to 64 MiB");
	CHECK_ERR(heap_malloc(fd2, 8 * MiB, 0, &off, NULL), 0,
		  "user bound: 8 MiB more fits after raising");
	close(fd2);
	close(fd1);

	CHECK_ERR(set_user_limit(saved), 0, "user bound: restored to %lld", saved);
}

/* An O_RDONLY fd maps PROT_READ MAP_SHARED: a read-only view. */
static void test_rdonly_map(void)
{
	uint64_t off, window;
	char *p;
	int fd;

	fd = open(DEV, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open O_RDONLY");
	window = get_info(fd).window_bytes;
	CHECK_ERR(heap_malloc(fd, 4096, BUDDY_ALLOC_ZERO, &off, NULL), 0,
		  "rdonly: MALLOC on an O_RDONLY fd");
	p = mmap(NULL, window, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "rdonly: mmap PROT_READ MAP_SHARED of an O_RDONLY fd "
	      "(%s)", p == MAP_FAILED ? strerror(errno) : "mapped");
	if (p != MAP_FAILED) {
		CHECK(touch(p + off, false) == 0 && p[off] == 0,
		      "rdonly: the block reads as zero");
		CHECK(touch(p + off, true) == SIGSEGV, "rdonly: a write is SIGSEGV");
		int ret = mprotect(p, window, PROT_READ | PROT_WRITE) ? -errno : 0;

		CHECK(ret == -EACCES, "rdonly: mprotect PROT_WRITE refused (%s)",
		      ret ? strerror(-ret) : "allowed");
		munmap(p, window);
	}
	p = mmap(NULL, window, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EACCES,
	      "rdonly: PROT_WRITE mapping refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, window, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL,
	      "rdonly: MAP_PRIVATE still refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	close(fd);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long long vmalloc_kib(void)
{
	return read_ll("/proc/meminfo", "VmallocUsed:");
}

/*
 * CLONE @fd (holding @bytes) in a child.  The copy starts once the copy's
 * chunk is allocated (VmallocUsed has grown by @bytes).  With @kill_after
 * >= 0, SIGKILL the child that long into the copy and return how long it
 * took to die, else return how long the copy took.  *@finished: the child
 * completed its CLONE (was not killed in it).
 */
static double clone_copy(int fd, uint64_t bytes, double kill_after,
			 bool *finished)
{
	struct buddy_clone_args c;
	long long before = vmalloc_kib(), want = before + bytes / KiB * 15 / 16;
	double t0, deadline = now_s() + 60;
	int status = 0;
	pid_t pid;
	bool done = false;

	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		memset(&c, 0, sizeof(c));
		xioctl(fd, BUDDY_IOC_CLONE, &c);
		_exit(0);
	}
	while (vmalloc_kib() < want && now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			done = true;
			break;
		}
		usleep(1000);
	}
	t0 = now_s();
	if (!done && kill_after >= 0) {
		usleep((useconds_t)(kill_after * 1e6));
		t0 = now_s();
		kill(pid, SIGKILL);
	}
	if (!done)
		waitpid(pid, &status, 0);
	*finished = WIFEXITED(status);
	return now_s() - t0;
}

/*
 * kill_lock_waiter() - time how long a task blocked on the heap's lock behind
 * a CLONE takes to die on SIGKILL: a waiter loops on STATS, a holder loops on
 * CLONE, and the waiter is killed a tenth of a CLONE after one began.
 */
static double kill_lock_waiter(int fd, double t_clone)
{
	struct buddy_clone_args c;
	pid_t holder, waiter;
	int status, pfd[2];
	double t0, t_kill;
	char ch;

	waiter = fork();
	if (waiter < 0)
		die("fork");
	if (!waiter) {
		for (;;)
			get_stats(fd);
	}
	if (pipe(pfd))
		die("pipe");
	holder = fork();
	if (holder < 0)
		die("fork");
	if (!holder) {
		close(pfd[0]);
		for (;;) {
			memset(&c, 0, sizeof(c));
			c.flags = O_CLOEXEC;
			if (write(pfd[1], "c", 1) != 1)
				_exit(1);
			if (!xioctl(fd, BUDDY_IOC_CLONE, &c))
				close(c.fd);
		}
	}
	close(pfd[1]);
	for (int begun = 0; begun < 2; begun++)	/* the second CLONE has begun */
		if (read(pfd[0], &ch, 1) != 1)
			break;
	usleep((useconds_t)(t_clone * 1e6 / 10));
	t0 = now_s();
	kill(waiter, SIGKILL);
	waitpid(waiter, &status, 0);
	t_kill = now_s() - t0;
	close(pfd[0]);
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	return t_kill;
}

/*
 * A task copying a big heap in CLONE, or waiting for the heap's lock behind
 * one, dies at once on SIGKILL.
 */
static void test_killable(void)
{
	struct buddy_clone_args c;
	double t_clone, t_kill, t0, t_alloc, t_copy, t_free = 0;
	uint64_t off, size = 256 * MiB;
	bool finished;
	int fd, ret;

	fd = open_heap();
	t0 = now_s();
	ret = heap_malloc(fd, size, 0, &off, NULL);
	t_alloc = now_s() - t0;
	CHECK(!ret, "killable: a %llu MiB heap in %.3f s (%s)",
	      (unsigned long long)(size / MiB), t_alloc,
	      ret ? strerror(-ret) : "ok");
	if (ret) {
		close(fd);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.flags = O_CLOEXEC;
	t0 = now_s();
	ret = xioctl(fd, BUDDY_IOC_CLONE, &c);
	t_clone = now_s() - t0;
	if (!ret) {
		t0 = now_s();
		close(c.fd);
		t_free = now_s() - t0;
	}
	CHECK(!ret, "killable: CLONE takes %.3f s, closing the copy %.3f s",
	      t_clone, t_free);
	if (ret || t_clone < 0.05) {
		ktap_diag("killable: CLONE too fast to time a kill in it");
		close(fd);
		return;
	}

	/* killed a quarter into the copy (vmalloc stops at a fatal signal anyway) */
	t_copy = clone_copy(fd, size, -1, &finished);
	if (!finished || t_copy < 0.05) {
		ktap_diag("killable: the copy (%.3f s) is too short to kill in",
			  t_copy);
	} else {
		/*
		 * Dying includes freeing the partial copy: t_free.  On a busy
		 * host the signal can land after this copy ended (it ran faster
		 * than the timed one): that trial measured nothing, so try again.
		 */
		int tries = 0;

		do
			t_kill = clone_copy(fd, size, t_copy / 4, &finished);
		while (finished && ++tries < 3);
		if (tries)
			ktap_diag("killable: %d kill(s) landed after the copy ended, retried",
				  tries);
		CHECK(!finished && t_kill < 1.5 * t_free + t_copy / 4 + 0.02,
		      "killable: SIGKILL a quarter into CLONE's copy: dead in %.3f s "
		      "(the copy takes %.3f s, freeing it %.3f s)", t_kill, t_copy,
		      t_free);
	}
	/*
	 * A waiter behind the lock, killed just after the holder began a CLONE.
	 * One that could not be killed would wait out most of the CLONE
	 * (~0.9 t_clone).  A killed waiter can still spin on the mutex while
	 * the holder runs, and on a busy host the holder's vCPU is descheduled
	 * at random: a trial over the bound is retried, the bound unchanged.
	 */
	for (int tries = 0; tries < 3; tries++) {
		t_kill = kill_lock_waiter(fd, t_clone);
		if (t_kill < t_clone / 2)
			break;
		ktap_diag("killable: the lock waiter took %.3f s to die, retried",
			  t_kill);
	}
	CHECK(t_kill < t_clone / 2,
	      "killable: SIGKILL while waiting for the heap behind a CLONE: dead "
	      "in %.3f s (a CLONE takes %.3f s)", t_kill, t_clone);
	CHECK(get_stats(fd).live_blocks == 1, "killable: the heap is intact");
	close(fd);
}

static void test_cap(uint64_t cap, bool aligned_to_window)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	uint64_t off, total = 0, window;
	char *base;
	int fd, ret = 0, i;

	fd = open_heap();
	info = get_info(fd);
	window = 1;
	while (window < cap)
		window <<= 1;
	CHECK(info.cap_bytes == cap && info.window_bytes == window,
	      "cap %llu: INFO cap %llu, window %llu",
	      (unsigned long long)cap, (unsigned long long)info.cap_bytes,
	      (unsigned long long)info.window_bytes);
	base = map_window(fd, info.window_bytes);

	CHECK_ERR(heap_malloc(fd, cap + 1, 0, &off, NULL), ENOMEM,
		  "cap: MALLOC cap+1");
	for (i = 0; i < 100000; i++) {
		ret = heap_malloc(fd, 64 * KiB, 0, &off, NULL);
		if (ret)
			break;
		base[off] = 1;
		total += 64 * KiB;
	}
	st = get_stats(fd);
	CHECK(ret == -ENOMEM, "cap: 64 KiB blocks until ENOMEM (%s)",
	      ret ? strerror(-ret) : "none");
	CHECK(st.heap_bytes <= cap && st.peak_heap_bytes <= cap,
	      "cap: heap_bytes %llu <= cap", (unsigned long long)st.heap_bytes);
	CHECK(total >= cap / 2, "cap: %llu KiB allocated",
	      (unsigned long long)(total / KiB));
	munmap(base, info.window_bytes);
	close(fd);

	if (!aligned_to_window)
		return;
	/* absolute alignment up to the largest block, the whole window */
	for (i = 4; (1ULL << i) <= window; i++) {
		uint64_t al = 1ULL << i;

		fd = open_heap();
		base = map_window(fd, window);
		ret = heap_memalign(fd, al, 16, &off);
		CHECK(!ret && ((uintptr_t)(base + off) & (al - 1)) == 0 &&
		      touch(base + off, true) == 0,
		      "cap: MEMALIGN %llu absolutely aligned (%s, %p)",
		      (unsigned long long)al, ret ? strerror(-ret) : "ok",
		      (void *)(base + off));
		munmap(base, window);
		close(fd);
	}
	fd = open_heap();
	ret = heap_malloc(fd, window, 0, &off, NULL);
	CHECK(!ret && off == 0, "cap: one block of the whole window (%s)",
	      ret ? strerror(-ret) : "ok");
	close(fd);
}

#define DEFER_DEPTH	"/sys/module/buddy/parameters/defer_depth"

/*
 * Free blocks of order 3 after one malloc(100)/free in a new heap: 2 when
 * the freed block is held back (it and its buddy), 0 when it merged back
 * into the chunk.
 */
static uint64_t order3_after_pair(void)
{
	uint64_t off, n;
	int fd = open_heap();

	if (heap_malloc(fd, 100, 0, &off, NULL) || heap_free(fd, off, NULL))
		die("MALLOC/FREE");
	n = get_stats(fd).free_blocks[3];
	close(fd);
	return n;
}

/* defer_depth: default 16, read at each open, writable, range checked. */
static void test_defer_depth(void)
{
	CHECK(read_ll(DEFER_DEPTH, NULL) == 16, "defer_depth: default 16 (%lld)",
	      read_ll(DEFER_DEPTH, NULL));
	CHECK(order3_after_pair() == 2,
	      "defer_depth 16: a freed 128 B block is held back");
	CHECK_ERR(write_file(DEFER_DEPTH, "0"), 0, "defer_depth: write 0");
	CHECK(order3_after_pair() == 0,
	      "defer_depth 0: a freed block merges at once");
	CHECK_ERR(write_file(DEFER_DEPTH, "17"), EINVAL, "defer_depth: write 17");
	CHECK(read_ll(DEFER_DEPTH, NULL) == 0, "defer_depth: still 0 (%lld)",
	      read_ll(DEFER_DEPTH, NULL));
	CHECK_ERR(write_file(DEFER_DEPTH, "16"), 0, "defer_depth: write 16");
}

static void test_module(const char *ko)
{
	static const char *const bad[] = {
		"min_chunk_bytes=1000",
		"min_chunk_bytes=2048",
		"min_chunk_bytes=0",
		"max_heap_bytes=4096",
		"max_heap_bytes=0",
		"max_heap_bytes=2199023255552",
		"max_heap_bytes=1048576 min_chunk_bytes=2097152",
		"defer_depth=17",
	};
	char params[128];
	uint64_t window;
	unsigned int i;
	int fd, ret;
	char *base;

	fd = open_heap();
	window = get_info(fd).window_bytes;
	base = map_window(fd, window);
	CHECK(refcnt() > 0, "module: in use while a heap is open (refcnt %lld)",
	      refcnt());
	ret = mod_delete();
	CHECK(ret == -EBUSY || ret == -EAGAIN,
	      "module: rmmod refused while a heap is open (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	close(fd);	/* the mapping alone holds the heap */
	ret = mod_delete();
	CHECK(ret == -EBUSY || ret == -EAGAIN,
	      "module: rmmod refused while a heap is still mapped (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	munmap(base, window);
	CHECK(refcnt() == 0, "module: refcnt 0 once every heap is closed (%lld)",
	      refcnt());
	CHECK_ERR(mod_delete(), 0, "module: rmmod after all heaps closed");
	CHECK(access(DEV, F_OK) != 0, "module: " DEV " gone");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_ERR(mod_load(ko, bad[i]), EINVAL, "module: insmod %s",
			  bad[i]);

	snprintf(params, sizeof(params), "max_heap_bytes=%llu",
		 (unsigned long long)(4 * MiB));
	CHECK_ERR(mod_load(ko, params), 0, "module: insmod %s", params);
	test_cap(4 * MiB, true);
	CHECK_ERR(mod_delete(), 0, "module: rmmod");

	/* defer_depth=0: no freed block held back, so the chunk can go */
	snprintf(params, sizeof(params),
		 "max_heap_bytes=%llu min_chunk_bytes=%llu low_water_bytes=0 defer_depth=0",
		 (unsigned long long)(3 * MiB), (unsigned long long)(128 * KiB));
	CHECK_ERR(mod_load(ko, params), 0, "module: insmod %s", params);
	test_cap(3 * MiB, false);
	{
		/* low_water 0: a wholly free heap keeps no chunk */
		uint64_t off;

		fd = open_heap();
		heap_malloc(fd, 100, 0, &off, NULL);
		heap_free(fd, off, NULL);
		CHECK(get_stats(fd).heap_bytes == 0,
		      "low_water_bytes=0: an empty heap holds no chunk");
		close(fd);
	}
	CHECK_ERR(mod_delete(), 0, "module: rmmod");
	CHECK_ERR(mod_load(ko, ""), 0, "module: insmod with defaults again");
	fd = open(DEV, O_RDWR);
	CHECK(fd >= 0, "module: " DEV " back");
	if (fd >= 0)
		close(fd);
	test_defer_depth();
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
