/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tutil.h - a tiny test framework and the userspace memory callbacks for
 * the buddy core tests.
 */
#ifndef _BUDDY_TUTIL_H
#define _BUDDY_TUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include "../../buddy_core.h"

/* checks */

extern long t_failures;		/* failed checks in the current test */
extern int t_verbose;

void t_report(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define EXPECT(cond)							\
	do {								\
		if (!(cond))						\
			t_report(__FILE__, __LINE__, "%s", #cond);	\
	} while (0)

#define EXPECT_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b)						\
			t_report(__FILE__, __LINE__,			\
				 "%s == %s: %lld != %lld", #a, #b, _a, _b); \
	} while (0)

/* Stop the current test function on failure (for loops). */
#define REQUIRE(cond)							\
	do {								\
		if (!(cond)) {						\
			t_report(__FILE__, __LINE__, "%s", #cond);	\
			return;						\
		}							\
	} while (0)

#define REQUIRE_EQ(a, b)						\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			t_report(__FILE__, __LINE__,			\
				 "%s == %s: %lld != %lld", #a, #b, _a, _b); \
			return;						\
		}							\
	} while (0)

#define CHECK_HEAP(h)							\
	do {								\
		struct buddy_violation _v = { 0 };			\
		int _r = buddy_check((h), &_v);				\
		if (_r)							\
			t_report(__FILE__, __LINE__,			\
				 "buddy_check: %d: %s at %#llx order %u", \
				 _r, _v.what ? _v.what : "?",		\
				 (unsigned long long)_v.offset, _v.order); \
	} while (0)

/* memory callbacks */

struct tmem {
	u64 chunk_bytes;	/* live chunk bytes */
	u64 meta_bytes;		/* live metadata bytes */
	long chunks;		/* live chunks */
	long metas;		/* live metadata blocks */
	long chunk_calls;	/* chunk_alloc calls */
	long fail_chunk_in;	/* fail the n-th next chunk_alloc (1: next), 0: off */
	long fail_meta_in;	/* same for meta_alloc */
	u64 chunk_limit;	/* refuse chunks larger than this (0: off) */
	long copies;		/* ops->copy calls */
	u64 copied;		/* bytes copied */
	long zeroes;		/* ops->zero calls */
	long fail_write_in;	/* fail the n-th next copy or zero (1: next), 0: off */
	bool no_meta_share;	/* a clone into this copies the metadata */
	long meta_shares;	/* ops->meta_share calls that shared */
	long meta_unshares;	/* ops->meta_unshare calls that copied */
};

extern const struct buddy_ops tmem_ops;	/* ->copy, ->zero, ->meta_share */
extern const struct buddy_ops tmem_ops_nocopy;	/* ->copy == NULL */

/* snapshots for "state unchanged" checks */

struct tblock {
	u64 offset;
	unsigned int order;
	enum buddy_block_state state;
};

struct tsnap {
	struct buddy_stats st;
	size_t n, cap;
	struct tblock *b;
};

void tsnap_take(const struct buddy_heap *h, struct tsnap *s);
/* 0 when equal (ignoring nr_failed); prints the difference otherwise */
int tsnap_cmp(const struct tsnap *a, const struct tsnap *b);
/*
 * What a failed ops->copy or ops->zero must keep (struct buddy_ops): the
 * same allocated blocks (offset, order, whether each continues a run),
 * bytes_in_use and live_blocks.
 * Free blocks and the other counters may differ.  0 when kept; prints the
 * difference otherwise.  Contents are the caller's to check.
 */
int tsnap_blocks_kept(const struct tsnap *before, const struct tsnap *after);
void tsnap_free(struct tsnap *s);

#define EXPECT_UNCHANGED(h, before)					\
	do {								\
		struct tsnap _after;					\
		tsnap_take((h), &_after);				\
		if (tsnap_cmp((before), &_after))			\
			t_report(__FILE__, __LINE__, "heap changed");	\
		tsnap_free(&_after);					\
	} while (0)

/* helpers */

u64 rng_next(u64 *s);
static inline u64 rng_below(u64 *s, u64 n)
{
	return n ? rng_next(s) % n : 0;
}

u64 env_u64(const char *name, u64 def);

void theap_init(struct buddy_heap *h, struct tmem *m, unsigned int max_order,
		unsigned int min_chunk_order, u64 cap, u64 low_water);

/* test groups (each file registers through these) */
typedef void (*test_fn)(void);
struct test_case {
	const char *name;
	test_fn fn;
};

extern const struct test_case unit_tests[];
extern const struct test_case exhaustive_tests[];
extern const struct test_case diff_tests[];

#endif /* _BUDDY_TUTIL_H */
