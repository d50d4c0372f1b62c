/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_dev.h - /dev/buddy helpers shared by the in-guest test programs
 * (tests/vm/buddy_vmtest, tests/harden/buddy_fuzz, tests/harden/buddy_harden):
 * ioctl wrappers, window mapping, guarded memory access, small file and
 * module helpers.  One definition each, in buddy_dev.c, so a fix reaches
 * every program.
 *
 * Conventions: heap_*() and the file helpers return 0 or -errno and leave
 * the judging to the caller; open_heap(), get_info(), get_stats() and
 * map_window() cannot usefully fail in a test, so they end the program
 * with ktap_bail() instead.
 */
#ifndef BUDDY_TESTS_BUDDY_DEV_H
#define BUDDY_TESTS_BUDDY_DEV_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/buddy.h>

#define DEV		"/dev/buddy"
#define DEBUGFS		"/sys/kernel/debug/buddy"
/* The module parameter bounding one user's heaps (root may write it). */
#define USER_LIMIT_PARAM "/sys/module/buddy/parameters/max_user_bytes"
#define KiB		(1024ULL)
#define MiB		(1024ULL * 1024)
#define GiB		(1024ULL * 1024 * 1024)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ioctl() as 0 or -errno, the way the tests compare results. */
int xioctl(int fd, unsigned long cmd, void *arg);

/* The same command with another struct size encoded in it. */
unsigned long ioc_resize(unsigned long cmd, unsigned int size);

/* A new heap (an fd of /dev/buddy); bails if there is none. */
int open_heap(void);

/* INFO and STATS of a heap; bail on failure. */
struct buddy_info get_info(int fd);
struct buddy_heap_stats get_stats(int fd);

/* STATS as 0 or -errno, for callers that expect it may fail. */
int heap_stats(int fd, struct buddy_heap_stats *st);

/*
 * Map the window at an address aligned to its size, as the shim does.
 * With @fixed, map it there (MAP_FIXED: replaces what is there).
 * Returns NULL on failure; map_window() bails instead.
 */
char *map_window_at(int fd, uint64_t window, void *fixed);
char *map_window(int fd, uint64_t window);

/*
 * Allocating commands (MALLOC, CALLOC, MEMALIGN): *@off and *@usable
 * (if not NULL) are the result, 0 on failure.
 */
int heap_alloc(int fd, unsigned long cmd, uint64_t size, uint64_t nmemb,
	       uint64_t align, uint32_t flags, uint64_t *off,
	       uint64_t *usable);
int heap_malloc(int fd, uint64_t size, uint32_t flags, uint64_t *off,
		uint64_t *usable);
int heap_memalign(int fd, uint64_t align, uint64_t size, uint64_t *off);

/* FREE, REALLOC, USABLE_SIZE; @reason, @usable may be NULL. */
int heap_free(int fd, uint64_t off, uint32_t *reason);
int heap_realloc(int fd, uint64_t off, uint64_t size, uint32_t flags,
		 uint64_t *new_off, uint64_t *usable);
int heap_usable(int fd, uint64_t off, uint64_t *usable, uint32_t *reason);

/*
 * Guarded memory access: SIGSEGV/SIGBUS come back as a return value.
 * guard_install() once per process, before threads start; then
 * guarded_touch() reads (or writes @val to) one byte at @p from any
 * thread and returns the signal it raised, or 0.  A fault outside
 * guarded_touch() still kills the process.
 */
void guard_install(void);
int guarded_touch(volatile char *p, bool write, char val);

/* Is [p, p + n) all @c? */
bool all_bytes(const char *p, int c, size_t n);

/* "EINVAL" for EINVAL (0 for 0, "errno%d" for the rest). */
const char *errname(int e);

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);

/* Write @s to @path: 0 or -errno (-EIO for a short write). */
int write_file(const char *path, const char *s);

/*
 * Read @path into @buf (NUL-terminated, at most @size - 1 bytes); NULL
 * if it cannot be opened.
 */
char *slurp(const char *path, char *buf, size_t size);

/*
 * The number in @path (key NULL) or the one after @key in it; -1 if
 * there is none.  Reads into a static buffer: one thread at a time.
 */
long long read_ll(const char *path, const char *key);

/* The module: delete_module (O_NONBLOCK), finit_module, its refcnt. */
int mod_delete(void);
int mod_load(const char *ko, const char *params);
long long mod_refcnt(void);

/*
 * Pass an fd over a unix socket (SCM_RIGHTS) and take one back; @flags
 * go to sendmsg()/recvmsg() (MSG_DONTWAIT, MSG_CMSG_CLOEXEC).  send_fd()
 * returns 0 or -errno, recv_fd() the new fd or -errno (-EBADMSG: the
 * message carried no fd).
 */
int send_fd(int sock, int fd, int flags);
int recv_fd(int sock, int flags);

/*
 * Run @fn in a child process: its results print directly (numbered on
 * from ours) and are counted here once it ends; one more check says the
 * child exited normally.
 */
void in_child(const char *name, void (*fn)(void *), void *arg);

#endif /* BUDDY_TESTS_BUDDY_DEV_H */
