/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktap.h - how every userspace test program of buddy-kmod reports: KTAP,
 * the format KUnit prints (Documentation/dev-tools/ktap.rst), so one
 * parser (the kernel's kunit.py parse) reads every stage.
 *
 * Output of a program:
 *
 *	KTAP version 1
 *	# buddy_vmtest: <what runs>
 *	ok 1 MALLOC 64: success
 *	# buddy_vmtest.c:412: check failed
 *	not ok 2 FREE twice: EINVAL (want EINVAL)
 *	ok 3 usable size of a trimmed run # SKIP 6.1 has no ...
 *	2 passed, 1 failed, 1 skipped
 *
 * There is no plan line: most programs learn how many checks they make
 * only by making them (KTAP allows a missing plan).  The last line is the
 * project's own summary, which scripts/check adds up per stage.
 */
#ifndef BUDDY_TESTS_KTAP_H
#define BUDDY_TESTS_KTAP_H

#include <stdarg.h>
#include <stdbool.h>

/* "KTAP version 1" and a "# name: what" line; call once, first. */
void ktap_begin(const char *name, const char *what);

/*
 * One result line for a check: "ok N description" or, after a "# file:line"
 * diagnostic, "not ok N description".  Returns @ok, so a caller can react
 * to a failed check.  '#' and newlines in the description are replaced, so
 * they cannot turn into a KTAP directive or a new line.
 */
bool ktap_result(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool ktap_vresult(bool ok, const char *file, int line, const char *fmt,
		  va_list ap) __attribute__((format(printf, 4, 0)));

/* "ok N description # SKIP reason": a check that could not run here. */
void ktap_skip(const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "# text" lines: details that are not results. */
void ktap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The counts so far. */
unsigned int ktap_passed(void);
unsigned int ktap_failed(void);
unsigned int ktap_skipped(void);

/*
 * Results a child process printed: it inherited our numbering at fork()
 * and went on from there, so its counts join ours once it is done.
 */
void ktap_add_counts(unsigned int passed, unsigned int failed,
		     unsigned int skipped);

/*
 * The closing "N passed, M failed[, K skipped]" line; returns the exit
 * status the program should end with (0 when nothing failed).
 */
int ktap_end(void);

/*
 * A failure the program cannot go on after: one "not ok" line naming it,
 * then the summary, then exit(1).
 */
void ktap_bail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* A check with a description: KTAP_CHECK(n == 4, "4 blocks (%d)", n). */
#define KTAP_CHECK(cond, ...) \
	ktap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#endif /* BUDDY_TESTS_KTAP_H */
