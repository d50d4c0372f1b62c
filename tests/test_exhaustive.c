// SPDX-License-Identifier: GPL-2.0
/*
 * test_exhaustive.c - every sequence of operations up to a depth on tiny
 * heaps, core and reference model side by side.
 */
#include "tutil.h"

const struct test_case exhaustive_tests[] = {
	{ NULL, NULL },
};
