// SPDX-License-Identifier: GPL-2.0
/*
 * forklat [MiB...]: fork latency (fork + child _exit + waitpid, median of
 * 15) with that many MiB of live, written heap.  Not a test: a measurement
 * (run it with and without the shim to compare).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		size_t mib = strtoul(argv[a], NULL, 0), n = mib << 4;
		char **blk = calloc(n + 1, sizeof(*blk));
		double t[15];

		for (size_t i = 0; i < n; i++) {	/* 64 KiB blocks */
			blk[i] = malloc(65536 - 64);
			memset(blk[i], (int)i, 65536 - 64);
		}
		for (int r = 0; r < 15; r++) {
			double t0 = now();
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			t[r] = now() - t0;
		}
		qsort(t, 15, sizeof(t[0]), cmp);
		printf("fork with %4zu MiB heap: %8.3f ms\n", mib, t[7] * 1e3);
		for (size_t i = 0; i < n; i++)
			free(blk[i]);
		free(blk);
	}
	return 0;
}
