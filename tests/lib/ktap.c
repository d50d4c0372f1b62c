// SPDX-License-Identifier: GPL-2.0
/*
 * ktap.c - KTAP output for the userspace tests (see ktap.h).  Every line is
 * flushed at once: a guest that dies mid-run still shows how far it got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktap.h"

static unsigned int ktap_pass, ktap_fail, ktap_skip_count;

static unsigned int ktap_next(void)
{
	return ktap_pass + ktap_fail + ktap_skip_count + 1;
}

/* The description, with what would break the line's meaning replaced. */
static void ktap_description(char *buf, size_t size, const char *fmt,
			     va_list ap)
{
	char *c;

	vsnprintf(buf, size, fmt, ap);
	for (c = buf; *c; c++) {
		if (*c == '#')
			*c = '%';
		else if (*c == '\n' || *c == '\r')
			*c = ' ';
	}
}

void ktap_begin(const char *name, const char *what)
{
	printf("KTAP version 1\n# %s: %s\n", name, what);
	fflush(stdout);
}

bool ktap_vresult(bool ok, const char *file, int line, const char *fmt,
		  va_list ap)
{
	char desc[1024];
	unsigned int n = ktap_next();

	ktap_description(desc, sizeof(desc), fmt, ap);
	if (ok) {
		ktap_pass++;
		printf("ok %u %s\n", n, desc);
	} else {
		ktap_fail++;
		printf("# %s:%d: check failed\nnot ok %u %s\n", file, line, n,
		       desc);
	}
	fflush(stdout);
	return ok;
}

bool ktap_result(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ok = ktap_vresult(ok, file, line, fmt, ap);
	va_end(ap);
	return ok;
}

void ktap_skip(const char *reason, const char *fmt, ...)
{
	char desc[1024];
	unsigned int n = ktap_next();
	va_list ap;

	va_start(ap, fmt);
	ktap_description(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	ktap_skip_count++;
	printf("ok %u %s # SKIP %s\n", n, desc, reason);
	fflush(stdout);
}

void ktap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

unsigned int ktap_passed(void)
{
	return ktap_pass;
}

unsigned int ktap_failed(void)
{
	return ktap_fail;
}

unsigned int ktap_skipped(void)
{
	return ktap_skip_count;
}

void ktap_add_counts(unsigned int passed, unsigned int failed,
		     unsigned int skipped)
{
	ktap_pass += passed;
	ktap_fail += failed;
	ktap_skip_count += skipped;
}

int ktap_end(void)
{
	if (ktap_skip_count)
		printf("%u passed, %u failed, %u skipped\n", ktap_pass,
		       ktap_fail, ktap_skip_count);
	else
		printf("%u passed, %u failed\n", ktap_pass, ktap_fail);
	fflush(stdout);
	return ktap_fail ? 1 : 0;
}

void ktap_bail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vresult(false, file, line, fmt, ap);
	va_end(ap);
	ktap_end();
	exit(1);
}
