/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers every layer of the shim uses (util.c).  None of them allocates:
 * the shim must never call libc's malloc & co., so no stdio, no strerror,
 * no getenv before libc has set environ.
 */
#ifndef BUDDY_SHIM_UTIL_H
#define BUDDY_SHIM_UTIL_H

#include <stdint.h>

#define API __attribute__((visibility("default")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

void write_stderr(const char *s);
void write_stderr_joined(const char *a, const char *b, const char *c);
const char *errdesc(int err);
char *fmt_u64(char *dst, uint64_t v);	/* returns end; no NUL */
char *fmt_str(char *dst, const char *s);
__attribute__((noreturn)) void die(const char *msg);
const char *getenv_knob(const char *name);

#endif /* BUDDY_SHIM_UTIL_H */
