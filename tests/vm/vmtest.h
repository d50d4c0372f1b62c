/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtest.h - what the files of buddy_vmtest share: the checks, the device
 * helpers (tests/lib/buddy_dev.h), and the test groups main() runs
 * (buddy_vmtest.c), one file per kind:
 *
 *	vmtest_abi.c	 the ioctls: INFO, allocation, rejects, BATCH, sizes,
 *			 EFAULT
 *	vmtest_map.c	 the mmap window, CLONE, read-only maps
 *	vmtest_proc.c	 processes, threads, SIGKILL behind a long request
 *	vmtest_kernel.c	 debugfs, memcg, the per-user bound
 *	vmtest_module.c	 rmmod, parameters, caps (with MODULE.ko)
 *	vmtest_cow.c	 copy-on-write CLONE: isolation, snapshot, kernel writes,
 *			 chunk release, mprotect, GUP, memcg
 */
#ifndef BUDDY_VMTEST_H
#define BUDDY_VMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/buddy.h>

#include "buddy_dev.h"
#include "ktap.h"

#define CGROOT		"/sys/fs/cgroup"

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

/* The test groups, in the order main() runs them */

void test_info(void);
void test_alloc(void);
void test_reject(void);
void test_batch(void);
void test_mmap(void);
void test_clone(void);
void test_cow(void);
void test_processes(void);
void test_fork_no_clone(void);
void test_threads(void);
void test_debugfs(void);
void test_memcg(void);
void test_sizes(void);
void test_growth(void);
void test_trim(void);
void test_efault(void);
void test_user_bound(void);
void test_rdonly_map(void);
void test_killable(void);
void test_module(const char *ko);

#endif /* BUDDY_VMTEST_H */
