/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Check helpers for the shim's in-guest tests, reporting in KTAP through
 * tests/lib/ktap.h (link tests/lib/ktap.c).  A program makes many checks,
 * some in loops, so a passing CHECK prints nothing: a failed one prints a
 * "# file:line: cond" diagnostic, and DONE() prints one result for the
 * whole program, then the "N passed, M failed" summary, and returns the
 * exit status (non-zero if any check failed).
 */
#ifndef SHIM_T_H
#define SHIM_T_H

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktap.h"

static unsigned int t_failed __attribute__((unused));
static unsigned int t_checks __attribute__((unused));

/*
 * The KTAP header, just before the first line of ours: not earlier, so
 * the program's own first output (and stdout's buffer: cache.c counts
 * blocks) stays where it was.
 */
static inline void t_begin(void)
{
	static bool begun;

	if (!begun) {
		begun = true;
		ktap_begin(program_invocation_short_name,
			   "failed checks as diagnostics, one result");
	}
}

#define CHECK(cond) do {						\
	t_checks++;							\
	if (!(cond)) {							\
		t_failed++;						\
		t_begin();						\
		ktap_diag("%s:%d: %s", __FILE__, __LINE__, #cond);	\
	}								\
} while (0)

#define DONE() do {							\
	t_begin();							\
	ktap_result(!t_failed, __FILE__, __LINE__,			\
		    "%s: %u checks, %u failed",				\
		    program_invocation_short_name, t_checks, t_failed);	\
	return ktap_end();						\
} while (0)

/* Is the shim serving malloc from the device (not the glibc fallback)? */
static inline void *t_buddy_default(void)
{
	void *(*f)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "buddy_default");

	return f ? f() : NULL;
}

static inline int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Fill / verify a block with a pattern derived from a tag. */
static inline void t_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(tag * 131 + i * 7 + (i >> 8));
}

static inline int t_verify(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(tag * 131 + i * 7 + (i >> 8)))
			return 0;
	return 1;
}

#endif
