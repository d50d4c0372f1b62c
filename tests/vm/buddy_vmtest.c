// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_vmtest - integration tests of /dev/buddy, run as root inside the
 * test VM (vm/run) with buddy.ko loaded with its default parameters.
 *
 *	buddy_vmtest [MODULE.ko]
 *
 * Reports in KTAP (tests/lib/ktap.h): one "ok N ..." or "not ok N ..." line
 * per check, "# ..." diagnostics, and a closing "N passed, M failed" line;
 * exits non-zero on any failure.  With MODULE.ko the module tests run
 * last: rmmod is refused while a heap is open and works once all are
 * closed, bad parameters are refused, and the cap tests run with the module
 * reloaded with small caps.  The module is left loaded with its defaults.
 *
 * One program built from several files (vmtest.h lists them); this one
 * runs them.  The /dev/buddy helpers are tests/lib/buddy_dev's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmtest.h"

bool check_err(int got, int want, const char *file, int line,
	       const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ktap_result(got == -want, file, line, "%s: %s (want %s)", what,
			   got ? strerror(-got) : "success",
			   want ? strerror(want) : "success");
}

int main(int argc, char **argv)
{
	ktap_begin("buddy_vmtest", argc > 1 ?
		   "/dev/buddy, then unloading and reloading the module" :
		   "/dev/buddy");
	if (access(DEV, F_OK))
		die(DEV " (is buddy.ko loaded?)");
	guard_install();	/* for guarded_touch() */

	test_info();
	test_alloc();
	test_reject();
	test_batch();
	test_mmap();
	test_clone();
	test_cow();
	test_processes();
	test_fork_no_clone();
	test_threads();
	test_debugfs();
	test_memcg();
	test_sizes();
	test_growth();
	test_trim();
	test_efault();
	test_user_bound();
	test_rdonly_map();
	test_killable();
	if (argc > 1)
		test_module(argv[1]);

	return ktap_end();
}
