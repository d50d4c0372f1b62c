// SPDX-License-Identifier: GPL-2.0
/*
 * tutil.c - test framework and the test runner.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "ktap.h"
#include "tutil.h"

long t_failures;
int t_verbose;
static long t_printed;

void t_report(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	t_failures++;
	if (t_printed++ >= 20)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ktap_diag("%s:%d: %s", file, line, msg);
}

/* runner */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Each test case is one KTAP result; its failed checks are diagnostics. */
static void run_group(const char *group, const struct test_case *t,
		      const char *only)
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
		if (t_failures)
			ktap_result(false, NULL, 0, "%s (%ld failed checks)",
				    full, t_failures);
		else
			ktap_result(true, NULL, 0, "%s (%.2fs)", full,
				    now() - t0);
	}
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	t_verbose = (int)env_u64("BUDDY_TEST_VERBOSE", 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ktap_begin("test_core", "the buddy core in userspace: unit, exhaustive and differential tests");
	run_group("unit", unit_tests, only);
	run_group("exhaustive", exhaustive_tests, only);
	run_group("diff", diff_tests, only);
	return ktap_end();
}
