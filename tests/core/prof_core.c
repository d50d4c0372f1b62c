// SPDX-License-Identifier: GPL-2.0
/*
 * prof_core.c - one workload of bench_core at a time, sized from the
 * command line, for profilers (perf record, cachegrind, callgrind):
 *
 *   prof_core churn LIVE MAXSIZE DEFER OPS   random free + alloc(16..MAXSIZE)
 *   prof_core hot   0    32      DEFER OPS   alloc(32)/free pairs, empty heap
 *
 * An op is one call, as in bench_core.  Sizes are drawn with a division
 * (bench_core's divisors are constants): a few ns more per op.
 * Prints ns/op (fastest of 8 slices, in thread CPU time: the machine is
 * shared), heap and metadata bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../buddy_core.h"
#include "bench_util.h"

int main(int argc, char **argv)
{
	struct buddy_config cfg = {
		.max_order = 26,
		.min_chunk_order = 16,
		.low_water_bytes = 1 << 20,
	};
	struct buddy_heap h;
	struct buddy_stats st;
	u64 live_n, maxsz, ops, *live, off, j;
	unsigned int defer;
	double t0, t = 1e30;
	long i;
	int s, hot;

	if (argc != 6) {
		fprintf(stderr, "usage: %s churn|hot LIVE MAXSIZE DEFER OPS\n",
			argv[0]);
		return 2;
	}
	hot = !strcmp(argv[1], "hot");
	live_n = strtoull(argv[2], NULL, 0);
	maxsz = strtoull(argv[3], NULL, 0);
	defer = strtoul(argv[4], NULL, 0);
	ops = strtoull(argv[5], NULL, 0);
	if (maxsz < 16 || ops < 16 || (!hot && !live_n)) {
		fprintf(stderr, "%s: MAXSIZE >= 16, OPS >= 16, LIVE >= 1 for churn\n",
			argv[0]);
		return 2;
	}
	if (buddy_heap_init(&h, &cfg, &bench_ops, NULL) ||
	    buddy_heap_set_defer_depth(&h, defer))
		abort();
	live = calloc(live_n + 1, sizeof(*live));
	for (i = 0; i < (long)live_n; i++)
		if (buddy_heap_alloc(&h, 16 + xrand() % (maxsz - 15), 0,
				     &live[i]))
			abort();
	for (s = 0; s < 8; s++) {
		t0 = now();
		for (i = 0; i < (long)(ops / 2 / 8); i++) {
			if (hot) {
				if (buddy_heap_alloc(&h, maxsz, 0, &off))
					abort();
				SINK(off);
				buddy_heap_free(&h, off);
				continue;
			}
			j = xrand() % live_n;
			buddy_heap_free(&h, live[j]);
			if (buddy_heap_alloc(&h, 16 + xrand() % (maxsz - 15), 0,
					     &live[j]))
				abort();
		}
		t0 = (now() - t0) * 1e9 * 8 / ops;
		t = t0 < t ? t0 : t;
	}
	buddy_get_stats(&h, &st);
	printf("%s live %llu max %llu defer %u: %.2f ns/op heap %.1f MiB meta %.2f MiB\n",
	       argv[1], (unsigned long long)live_n, (unsigned long long)maxsz,
	       defer, t, st.heap_bytes / 1048576.0,
	       st.meta_bytes / 1048576.0);
	if (buddy_check(&h, NULL))
		abort();
	buddy_heap_destroy(&h);
	free(live);
	return 0;
}
