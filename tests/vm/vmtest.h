/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtest.h - what the files of buddy_vmtest share: the checks, the device
 * helpers (buddy_vmtest.c), running checks in a forked child, and the test
 * groups main() runs, one file per kind:
 *
 *	vmtest_abi.c	 the ioctls: INFO, allocation, rejects, BATCH, sizes,
 *			 EFAULT
 *	vmtest_map.c	 the mmap window, CLONE, read-only maps
 *	vmtest_proc.c	 processes, threads, SIGKILL during CLONE
 *	vmtest_kernel.c	 debugfs, memcg, the per-user bound
 *	vmtest_module.c	 rmmod, parameters, caps (with MODULE.ko)
 */
#ifndef BUDDY_VMTEST_H
#define BUDDY_VMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/buddy.h>

#include "ktap.h"

#define DEV		"/dev/buddy"
#define DEBUGFS		"/sys/kernel/debug/buddy"
#define CGROOT		"/sys/fs/cgroup"
#define KiB		(1024ULL)
#define MiB		(1024ULL * 1024)
#define GiB		(1024ULL * 1024 * 1024)

/* Checks */

#define CHECK(cond, ...)	KTAP_CHECK(cond, __VA_ARGS__)

bool check_err(int got, int want, const char *file, int line,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Expect an errno (0: success) from an expression returning -errno or 0. */
#define CHECK_ERR(expr, want, ...) \
	check_err((expr), (want), __FILE__, __LINE__, __VA_ARGS__)

/* A failure the run cannot go on after; errno says why. */
#define die(what) \
	ktap_bail(__FILE__, __LINE__, "fatal: %s: %s", (what), strerror(errno))

/* The device; open_heap, get_info, get_stats and map_window die on failure */

int xioctl(int fd, unsigned long cmd, void *arg);
unsigned long ioc_resize(unsigned long cmd, unsigned int size);
int open_heap(void);
struct buddy_info get_info(int fd);
struct buddy_heap_stats get_stats(int fd);
char *map_window_at(int fd, uint64_t window, void *fixed);
char *map_window(int fd, uint64_t window);
int heap_malloc(int fd, uint64_t size, uint32_t flags, uint64_t *off,
		uint64_t *usable);
int heap_memalign(int fd, uint64_t align, uint64_t size, uint64_t *off);
int heap_free(int fd, uint64_t off, uint32_t *reason);
int heap_realloc(int fd, uint64_t off, uint64_t size, uint32_t flags,
		 uint64_t *new_off, uint64_t *usable);
int heap_usable(int fd, uint64_t off, uint64_t *usable, uint32_t *reason);
bool all_bytes(const char *p, int c, size_t n);
int touch(volatile char *p, bool write);

/* Files, descriptors, time */

char *slurp(const char *path);
int write_file(const char *path, const char *s);
long long read_ll(const char *path, const char *key);
int send_fd(int sock, int fd);
int recv_fd(int sock);
double now_s(void);

/* Running checks in a forked child */

/* What a forked child's checks added to the counts it started with. */
struct child_counts {
	unsigned int passed, failed, skipped;
};

struct child_counts counts_now(void);
bool send_counts(int fd, struct child_counts start);
void add_child_counts(int fd);
void in_child(const char *name, void (*fn)(void *), void *arg);

/* The test groups, in the order main() runs them */

void test_info(void);
void test_alloc(void);
void test_reject(void);
void test_batch(void);
void test_mmap(void);
void test_clone(void);
void test_processes(void);
void test_threads(void);
void test_debugfs(void);
void test_memcg(void);
void test_sizes(void);
void test_efault(void);
void test_user_bound(void);
void test_rdonly_map(void);
void test_killable(void);
void test_module(const char *ko);

#endif /* BUDDY_VMTEST_H */
