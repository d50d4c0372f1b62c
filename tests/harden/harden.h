/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harden.h - what the hardening programs of tests/harden/ (buddy_fuzz,
 * buddy_harden) share beyond tests/lib: the CHECK name for a KTAP check,
 * a per-thread PRNG, counters of results per errno, shared memory and the
 * block pattern of the model-based tests (harden.c).
 */
#ifndef BUDDY_HARDEN_H
#define BUDDY_HARDEN_H

#include "buddy_dev.h"	/* first: it defines _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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

#include "ktap.h"

/*
 * One KTAP result line per check.  The short name keeps the hundred-odd
 * checks, most of them several lines long, within 80 columns.
 */
#define CHECK(cond, ...)	KTAP_CHECK(cond, __VA_ARGS__)

/* A failure the program cannot go on after, with errno's text. */
#define BAIL_ERRNO(what) \
	ktap_bail(__FILE__, __LINE__, "%s: %s", (what), strerror(errno))

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

uint64_t counters_total(struct counters *c);

/* "# <prefix>N calls: 0=123 EINVAL=45 ...", most frequent kinds first. */
void print_counters(const char *prefix, struct counters *c);

/* Zeroed memory shared with forked children; bails on failure. */
void *shared_alloc(size_t bytes);

/* The pattern a model block holds: word j of a block is f(seed, j) */

static inline uint64_t pat_word(uint32_t seed, uint64_t j)
{
	uint64_t x = ((uint64_t)seed << 32 | seed) ^
		     (j * 0x9E3779B97F4A7C15ULL);

	return x ^ (x >> 29);
}

/* Fill [p, p + n) with the pattern of @seed (p 16-byte aligned). */
void pat_fill(char *p, uint64_t n, uint32_t seed);

/*
 * Check [p, p + n) against the pattern of @seed.  Returns the first
 * differing byte offset, or -1 if all match.
 */
int64_t pat_check(const char *p, uint64_t n, uint32_t seed);

/* Is [p, p + n) all zero? */
static inline bool all_zero(const char *p, uint64_t n)
{
	return all_bytes(p, 0, n);
}

#endif /* BUDDY_HARDEN_H */
