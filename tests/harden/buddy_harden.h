/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_harden.h - what the files of buddy_harden share: paths, the model
 * heap of the faults and memcg tests, the kernel log's reports and each
 * command's entry point.  buddy_harden.c has main and the shared helpers;
 * harden_faults.c, harden_isolation.c and harden_lifecycle.c the tests.
 */
#ifndef BUDDY_HARDEN_PROG_H
#define BUDDY_HARDEN_PROG_H

#include "harden.h"

#include <dirent.h>
#include <grp.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc"
#define CGROOT		"/sys/fs/cgroup"
#define NOBODY		65534

extern size_t page_size;

/*
 * The kernel log since the last call: the first line that looks like a
 * report goes to @first; returns how many such lines there were.
 */
int kmsg_reports(char *first, size_t size);

/* Fault in @bytes of stack now, so that later calls need no new pages. */
void prefault_stack(size_t bytes);

/* A model heap: blocks with patterns, shared by faults and memcg */

#define FB_MAX	512

struct fblk {
	uint64_t off, size, usable;
	uint32_t seed;
};

struct fheap {
	int fd;
	char *base;
	uint64_t window;
	unsigned int n;
	struct fblk b[FB_MAX];
	uint32_t gen;
};

void fh_open(struct fheap *h);
void fh_add(struct fheap *h, uint64_t off, uint64_t size, uint64_t usable,
	    bool fill);
/* Every block holds its pattern, USABLE_SIZE and STATS agree. */
bool fh_verify(struct fheap *h, char *why, size_t whylen);

/* The commands: each runs its checks; main prints the summary. */
int cmd_faults(bool shrt);
int cmd_isolation(void);
int cmd_lifecycle(const char *ko, int kills, bool leakcheck);

#endif /* BUDDY_HARDEN_PROG_H */
