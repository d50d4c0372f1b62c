// SPDX-License-Identifier: GPL-2.0
/*
 * tutil.c - test framework and the test runner.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "tutil.h"

long t_failures;
int t_verbose;
static long t_printed;

void t_report(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	t_failures++;
	if (t_printed++ >= 20)
		return;
	fprintf(stderr, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* runner */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_group(const char *group, const struct test_case *t,
		      const char *only, int *passed, int *failed)
{
	for (; t->name; t++) {
		char full[128];
		double t0;

		snprintf(full, sizeof(full), "%s/%s", group, t->name);
		if (only && !strstr(full, only))
			continue;
		t_failures = 0;
		t_printed = 0;
		t0 = now();
		t->fn();
		if (t_failures) {
			printf("FAIL %s/%s (%ld failed checks)\n", group,
			       t->name, t_failures);
			(*failed)++;
		} else {
			printf("ok   %s/%s (%.2fs)\n", group, t->name,
			       now() - t0);
			(*passed)++;
		}
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;

	t_verbose = (int)env_u64("BUDDY_TEST_VERBOSE", 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_group("unit", unit_tests, only, &passed, &failed);
	run_group("exhaustive", exhaustive_tests, only, &passed, &failed);
	run_group("diff", diff_tests, only, &passed, &failed);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
