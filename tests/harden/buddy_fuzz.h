/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_fuzz.h - what the files of buddy_fuzz share: the options, the
 * results every process adds to (shared memory, summed up by main) and
 * each mode's entry point.  buddy_fuzz.c parses the options, forks the
 * processes and prints the summary; fuzz_hostile.c is the hostile ioctl
 * fuzzer, fuzz_model.c the model-based fuzzer.
 */
#ifndef BUDDY_FUZZ_H
#define BUDDY_FUZZ_H

#include "harden.h"

#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Options and the shared (cross-process) results */

struct opts {
	int procs, threads;
	uint64_t calls;		/* hostile: total ioctls */
	uint64_t min_calls;	/* hostile: fewer than this fails the check */
	uint64_t ops;		/* model: operations per thread */
	double seconds;
	uint64_t seed;
	unsigned int epoch;
	const char *label;
	uint64_t user_limit;	/* hostile: max_user_bytes during the run */
};

#define NR_KIND		13	/* 10 commands, BATCH ops, invalid cmds, generic */
#define KIND_BATCHOP	10
#define KIND_BADCMD	11
#define KIND_GENERIC	12

#define MAX_MSGS	16

struct shared {
	struct counters all;		/* every ioctl */
	struct counters kind[NR_KIND];
	struct counters touch;		/* window reads/writes */
	struct counters mm;		/* mmap/munmap/mprotect/madvise/... */
	struct counters misc;		/* open/close/fork/debugfs/pipes */
	_Atomic uint64_t violations;	/* results the ABI does not allow */
	_Atomic uint64_t model_errors;
	_Atomic uint64_t stats_checks, clone_checks, verified_blocks;
	_Atomic uint64_t remaps, zaps, epochs, resets;
	_Atomic uint64_t fds_parked, fds_received, storms, storm_copies,
		storm_enomem;
	_Atomic uint64_t action_ns[9], action_n[9];
	_Atomic uint64_t kind_ns[NR_KIND], kind_sampled[NR_KIND];
	_Atomic uint32_t nmsgs;
	char msgs[MAX_MSGS][200];
};

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/*
 * Is a successful allocation result well formed?  A power-of-two block
 * aligned to its size, or a trimmed run (trim_block_bytes): a multiple of
 * 256 B on a 256 B boundary (a run grown in place keeps its offset, so
 * its start may be aligned to less than its size).
 */
static inline bool block_ok(uint64_t off, uint64_t usable, uint64_t window)
{
	uint64_t align = usable % 256 ? usable : 256;

	return (is_pow2(usable) || !(usable % 256)) && usable >= 16 &&
	       off % align == 0 && off < window && usable <= window - off;
}

extern struct shared *sh;	/* shared by all processes of a run */
extern size_t page_size;
extern bool storm_often;	/* --user-limit: CLONE storms 5x as often */

/* Remember one of the first MAX_MSGS problems for the final report. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One process of each mode, in a child of main; returns its exit status. */
int hostile_proc(const struct opts *o, int idx);
int model_proc(const struct opts *o, int idx);

#endif /* BUDDY_FUZZ_H */
