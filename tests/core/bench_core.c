// SPDX-License-Identifier: GPL-2.0
/*
 * bench_core.c - the buddy core against glibc malloc, same workloads, one
 * run.  Every figure is printed as "BENCH <name> <value> <unit>".
 *
 * Neither side touches block memory beyond what the allocator itself does
 * (glibc writes its chunk headers; the core writes nothing in the blocks),
 * so the figures are the cost of the bookkeeping alone.  An "op" is one
 * call: an alloc or a free.  Chunk memory comes from mmap(MAP_NORESERVE)
 * and is never touched, as in the kernel where it is only mapped.
 * Timings are the fastest of SLICES slices of each run, in the thread's
 * CPU time (shared machine).
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnu/libc-version.h>
#include "../../buddy_core.h"
#include "bench_util.h"

#define LIVE		(128 * 1024)
#define CHURN_OPS	(4 * 1000 * 1000)
#define HOT_PAIRS	(10 * 1000 * 1000)
/*
 * The machine is shared: every timing is the fastest of SLICES equal
 * slices of the run, measured in the thread's CPU time, so the time other
 * processes take counts neither way.  Wall-clock slices were not enough:
 * with the load at four times the CPUs every slice was preempted, and the
 * figures doubled from one run to the next.
 */
#define SLICES		8

static unsigned int defer_depth;	/* for buddy_heap_set_defer_depth() */
static unsigned int trim_order;		/* cfg.trim_order */

/* The module's default trim_block_bytes, 8 KiB: runs from 4 KiB + 1. */
#define MODULE_TRIM_ORDER	9

/* 1 GiB window, 1 MiB first chunk, keep 1 MiB */
static void heap_init(struct buddy_heap *h)
{
	struct buddy_config cfg = {
		.max_order = 26,
		.min_chunk_order = 16,
		.low_water_bytes = 1 << 20,
		.trim_order = trim_order,
	};

	if (buddy_heap_init(h, &cfg, &bench_ops, NULL) ||
	    buddy_heap_set_defer_depth(h, defer_depth))
		abort();
}

static void bench(const char *name, double value, const char *unit)
{
	printf("BENCH %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

/* (a) hot malloc(32)/free pair */

static double hot_core(int warm)
{
	struct buddy_heap h;
	u64 off, keep[1024];
	double t0, t;
	int i, s;

	heap_init(&h);
	/* warm: a heap that already holds some blocks of mixed sizes */
	for (i = 0; i < (warm ? 1024 : 0); i++)
		buddy_heap_alloc(&h, 16 + xrand() % 2048, 0, &keep[i]);
	for (i = 0; i < (warm ? 1024 : 0); i += 2)
		buddy_heap_free(&h, keep[i]);
	t = 1e30;
	for (s = 0; s < SLICES; s++) {
		t0 = now();
		for (i = 0; i < HOT_PAIRS / SLICES; i++) {
			if (buddy_heap_alloc(&h, 32, 0, &off))
				abort();
			SINK(off);
			buddy_heap_free(&h, off);
		}
		t0 = (now() - t0) * 1e9 * SLICES / HOT_PAIRS;
		t = t0 < t ? t0 : t;
	}
	buddy_heap_destroy(&h);
	return t;
}

static double hot_glibc(void)
{
	double t0, t = 1e30;
	int i, s;

	for (s = 0; s < SLICES; s++) {
		t0 = now();
		for (i = 0; i < HOT_PAIRS / SLICES; i++) {
			void *p = malloc(32);

			SINK(p);
			free(p);
		}
		t0 = (now() - t0) * 1e9 * SLICES / HOT_PAIRS;
		t = t0 < t ? t0 : t;
	}
	return t;
}

/* (b, c) churn */

enum dist { UNIFORM, LOGUNIFORM };

/* log-uniform on [lo, lo << doublings]: lo * 2^(doublings * u) */
static u64 draw_log(double lo, unsigned int doublings)
{
	return (u64)(lo * exp2((double)(xrand() >> 11) / (1ULL << 53) *
			       doublings));
}

static u64 draw(enum dist d)
{
	if (d == UNIFORM)
		return 16 + xrand() % (4096 - 16 + 1);
	return draw_log(16, 8);		/* 16 B .. 4 KiB */
}

static u64 draw_align(void)
{
	return 16ULL << (xrand() % 9);	/* 16 .. 4096 */
}

struct churn_result {
	double ns_per_op;
	double meta_ratio;
	double frag;		/* 1 - requested / granted */
	u64 heap_bytes;
};

static struct churn_result churn_core(enum dist d, int aligned)
{
	struct buddy_heap h;
	struct buddy_stats st;
	struct churn_result r;
	u64 *live = malloc(LIVE * sizeof(*live)), off;
	double t0;
	long i;
	int ret, s;

	heap_init(&h);
	rng = BENCH_SEED;
	for (i = 0; i < LIVE; i++) {
		ret = aligned ? buddy_heap_alloc_aligned(&h, draw(d), draw_align(),
						    0, &live[i]) :
				buddy_heap_alloc(&h, draw(d), 0, &live[i]);
		if (ret)
			abort();
	}
	r.ns_per_op = 1e30;
	for (s = 0; s < SLICES; s++) {
		t0 = now();
		for (i = 0; i < CHURN_OPS / 2 / SLICES; i++) {
			u64 j = xrand() % LIVE;

			buddy_heap_free(&h, live[j]);
			ret = aligned ?
			      buddy_heap_alloc_aligned(&h, draw(d), draw_align(),
						  0, &off) :
			      buddy_heap_alloc(&h, draw(d), 0, &off);
			if (ret)
				abort();
			live[j] = off;
		}
		t0 = (now() - t0) * 1e9 * SLICES / CHURN_OPS;
		r.ns_per_op = t0 < r.ns_per_op ? t0 : r.ns_per_op;
	}
	buddy_get_stats(&h, &st);
	r.meta_ratio = (double)st.meta_bytes / st.heap_bytes;
	r.frag = 1.0 - (double)st.bytes_requested_total /
		 st.bytes_granted_total;
	r.heap_bytes = st.heap_bytes;
	if (buddy_check(&h, NULL))
		abort();
	buddy_heap_destroy(&h);
	free(live);
	return r;
}

static struct churn_result churn_glibc(enum dist d, int aligned)
{
	struct churn_result r = { 0 };
	void **live = malloc(LIVE * sizeof(*live));
	u64 req = 0, got = 0;
	double t0;
	long i;
	int k;

	rng = BENCH_SEED;
	for (i = 0; i < LIVE; i++) {
		u64 s = draw(d);

		live[i] = aligned ? memalign(draw_align(), s) : malloc(s);
		req += s;
		got += malloc_usable_size(live[i]);
	}
	r.ns_per_op = 1e30;
	for (k = 0; k < SLICES; k++) {
		t0 = now();
		for (i = 0; i < CHURN_OPS / 2 / SLICES; i++) {
			u64 j = xrand() % LIVE, s;

			free(live[j]);
			s = draw(d);
			live[j] = aligned ? memalign(draw_align(), s) :
					    malloc(s);
			SINK(live[j]);
		}
		t0 = (now() - t0) * 1e9 * SLICES / CHURN_OPS;
		r.ns_per_op = t0 < r.ns_per_op ? t0 : r.ns_per_op;
	}
	r.frag = 1.0 - (double)req / got;
	for (i = 0; i < LIVE; i++)
		free(live[i]);
	free(live);
	return r;
}

/* fragmentation and metadata without timing */

/*
 * Internal fragmentation of large blocks (issue 16's goal: <= 3%), 256
 * log-uniform sizes from 4 KiB to 4 MiB live at once: 1 - requested /
 * granted, for the core with the module's trim order (trimmed runs), for
 * the core without (power-of-two blocks, the figure before issue 16) and
 * for glibc (whose large blocks are mmapped, page-rounded).
 */
#define LARGE_BLOCKS	256

static double frag_large_core(unsigned int trim)
{
	u64 off[LARGE_BLOCKS], usable, sum = 0;
	struct buddy_stats st;
	struct buddy_heap h;
	int i;

	trim_order = trim;
	heap_init(&h);
	trim_order = 0;
	rng = BENCH_SEED;
	for (i = 0; i < LARGE_BLOCKS; i++) {
		if (buddy_heap_alloc(&h, draw_log(4096, 10), 0, &off[i]) ||
		    buddy_heap_usable_size(&h, off[i], &usable))
			abort();
		sum += usable;
	}
	buddy_get_stats(&h, &st);
	/* granted is what the blocks hold: the usable sizes */
	if (st.bytes_granted_total != sum || st.bytes_in_use != sum)
		abort();
	for (i = 0; i < LARGE_BLOCKS; i++)
		buddy_heap_free(&h, off[i]);
	buddy_heap_destroy(&h);
	return 1.0 - (double)st.bytes_requested_total / st.bytes_granted_total;
}

static void frag_large(void)
{
	double trimmed = frag_large_core(MODULE_TRIM_ORDER);
	void *p[LARGE_BLOCKS];
	u64 req = 0, got = 0;
	int i;

	/* below bench()'s precision: the figure in full */
	printf("# frag_large_loguniform_core: trim_order %d (the module's): %.6f\n",
	       MODULE_TRIM_ORDER, trimmed);
	bench("frag_large_loguniform_core", trimmed, "ratio");
	bench("frag_large_loguniform_core_untrimmed", frag_large_core(0),
	      "ratio");
	rng = BENCH_SEED;
	for (i = 0; i < LARGE_BLOCKS; i++) {
		u64 size = draw_log(4096, 10);	/* 4 KiB .. 4 MiB */

		p[i] = malloc(size);
		if (!p[i])
			abort();
		req += size;
		got += malloc_usable_size(p[i]);
	}
	bench("frag_large_loguniform_glibc", 1.0 - (double)req / got, "ratio");
	for (i = 0; i < LARGE_BLOCKS; i++)
		free(p[i]);
}

static void meta_per_chunk(void)
{
	static const unsigned int orders[] = { 12, 16, 20, 26 };
	unsigned int i;

	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct buddy_config cfg = {
			.max_order = orders[i],
			.min_chunk_order = orders[i],
		};
		struct buddy_heap h;
		struct buddy_stats st;
		char name[64];
		u64 off;

		buddy_heap_init(&h, &cfg, &bench_ops, NULL);
		buddy_heap_alloc(&h, 16, 0, &off);
		buddy_get_stats(&h, &st);
		snprintf(name, sizeof(name), "meta_ratio_chunk_%lluKiB",
			 (16ULL << orders[i]) >> 10);
		bench(name, (double)st.meta_bytes / st.heap_bytes, "ratio");
		buddy_heap_destroy(&h);
	}
}

static void run_all(const char *tag)
{
	struct churn_result c, g;
	double hc, hw, hg;
	char n[96];

#define NAME(fmt) (snprintf(n, sizeof(n), fmt, tag), n)
	hg = hot_glibc();
	hc = hot_core(0);
	hw = hot_core(1);
	bench("hot_pair_glibc", hg, "ns/pair");
	bench(NAME("hot_pair_%s_empty_heap"), hc, "ns/pair");
	bench(NAME("hot_pair_%s_warm_heap"), hw, "ns/pair");
	bench(NAME("hot_pair_%s_vs_glibc"), hc / hg, "ratio");
	bench(NAME("hot_pair_%s_warm_vs_glibc"), hw / hg, "ratio");

	c = churn_core(UNIFORM, 0);
	g = churn_glibc(UNIFORM, 0);
	bench(NAME("churn_uniform_%s"), c.ns_per_op, "ns/op");
	bench("churn_uniform_glibc", g.ns_per_op, "ns/op");
	bench(NAME("churn_uniform_%s_vs_glibc"), c.ns_per_op / g.ns_per_op,
	      "ratio");
	bench(NAME("meta_bytes_per_arena_byte_churn_%s"), c.meta_ratio,
	      "ratio");
	bench(NAME("frag_uniform_%s"), c.frag, "ratio");
	bench("frag_uniform_glibc", g.frag, "ratio");
	bench(NAME("heap_bytes_churn_uniform_%s"),
	      (double)c.heap_bytes / (1 << 20), "MiB");

	c = churn_core(LOGUNIFORM, 0);
	g = churn_glibc(LOGUNIFORM, 0);
	bench(NAME("churn_loguniform_%s"), c.ns_per_op, "ns/op");
	bench("churn_loguniform_glibc", g.ns_per_op, "ns/op");
	bench(NAME("churn_loguniform_%s_vs_glibc"), c.ns_per_op / g.ns_per_op,
	      "ratio");
	bench(NAME("frag_loguniform_%s"), c.frag, "ratio");
	bench("frag_loguniform_glibc", g.frag, "ratio");

	c = churn_core(UNIFORM, 1);
	g = churn_glibc(UNIFORM, 1);
	bench(NAME("memalign_churn_%s"), c.ns_per_op, "ns/op");
	bench("memalign_churn_glibc", g.ns_per_op, "ns/op");
	bench(NAME("memalign_churn_%s_vs_glibc"), c.ns_per_op / g.ns_per_op,
	      "ratio");
#undef NAME
}

int main(void)
{
	printf("# buddy core vs glibc %s; %d live blocks, %d churn ops, %d hot pairs\n",
	       gnu_get_libc_version(), LIVE, CHURN_OPS, HOT_PAIRS);
	printf("# core: defer_depth 0 (every free coalesces at once)\n");
	defer_depth = 0;
	run_all("core");
	printf("# core_defer: defer_depth %d (deferred coalescing)\n",
	       BUDDY_DEFER_DEPTH);
	defer_depth = BUDDY_DEFER_DEPTH;
	run_all("core_defer");
	meta_per_chunk();
	frag_large();
	return 0;
}
