/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_util.h - what bench_core.c and prof_core.c share: the random
 * numbers, the clock, a sink the compiler cannot drop, and the core's ops.
 *
 * Chunk memory comes from mmap(MAP_NORESERVE) and is never touched, as in
 * the kernel where it is only mapped; metadata from calloc.  Each program
 * is one file, so the static state here is that program's.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include "../../buddy_core.h"

/* xorshift64; a workload sets rng = BENCH_SEED to replay the same draws */
#define BENCH_SEED	0x123456789abcdefULL

static u64 rng = BENCH_SEED;

static inline u64 xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The thread's CPU time in seconds: the machine is shared. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keeps a result the compiler would otherwise see as unused. */
#define SINK(p)	__asm__ volatile("" : : "r"(p) : "memory")

static inline void *bench_chunk_alloc(void *ctx, u64 bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)ctx;
	return p == MAP_FAILED ? NULL : p;
}

static inline void bench_chunk_free(void *ctx, void *mem, u64 bytes)
{
	(void)ctx;
	munmap(mem, bytes);
}

static inline void *bench_meta_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return calloc(1, bytes);
}

static inline void bench_meta_free(void *ctx, void *mem, size_t bytes)
{
	(void)ctx;
	(void)bytes;
	free(mem);
}

static const struct buddy_ops bench_ops = {
	.chunk_alloc = bench_chunk_alloc,
	.chunk_free = bench_chunk_free,
	.meta_alloc = bench_meta_alloc,
	.meta_free = bench_meta_free,
};

#endif /* BENCH_UTIL_H */
