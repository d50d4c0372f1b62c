// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers that never allocate: messages through write(2), number
 * formatting, error descriptions, environment knobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* The whole string on stderr, with write(2): stdio may allocate. */
void write_stderr(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* a, b and c in one write, so lines from several processes do not mix. */
void write_stderr_joined(const char *a, const char *b, const char *c)
{
	char buf[512], *p = buf;

	if (strlen(a) + strlen(b) + strlen(c) < sizeof(buf)) {
		p = fmt_str(p, a);
		p = fmt_str(p, b);
		p = fmt_str(p, c);
		*p = 0;
		write_stderr(buf);
		return;
	}
	write_stderr(a);
	write_stderr(b);
	write_stderr(c);
}

/* strerror() may allocate (translations); strerrordesc_np() does not. */
const char *errdesc(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "Unknown error";
}

char *fmt_u64(char *dst, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*dst++ = tmp[--n];
	return dst;
}

char *fmt_str(char *dst, const char *s)
{
	while (*s)
		*dst++ = *s++;
	return dst;
}

/* glibc's malloc_printerr(): the message alone on stderr, then abort. */
void die(const char *msg)
{
	write_stderr_joined(msg, "\n", "");
	abort();
}

/*
 * getenv() of one of the shim's knobs (BUDDY_*), usable at any time: early
 * in start-up, before libc has set environ, the initial environment is read
 * from /proc/self/environ into a static buffer instead.
 */
extern char **environ;
static char early_env[16384];
static int early_env_len = -1;

const char *getenv_knob(const char *name)
{
	size_t len = strlen(name);

	if (environ) {
		for (char **e = environ; *e; e++)
			if (!strncmp(*e, name, len) && (*e)[len] == '=')
				return *e + len + 1;
		return NULL;
	}
	if (early_env_len < 0) {
		int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
		ssize_t n = 0, r;

		if (fd >= 0) {
			while (n < (ssize_t)sizeof(early_env) - 1 &&
			       (r = read(fd, early_env + n,
					 sizeof(early_env) - 1 - (size_t)n)) > 0)
				n += r;
			close(fd);
		}
		early_env[n] = 0;
		early_env_len = (int)n;
	}
	for (int i = 0; i < early_env_len; i += (int)strlen(early_env + i) + 1)
		if (!strncmp(early_env + i, name, len) &&
		    early_env[i + len] == '=')
			return early_env + i + len + 1;
	return NULL;
}
