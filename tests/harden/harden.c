// SPDX-License-Identifier: GPL-2.0
/*
 * harden.c - result counters, shared memory and the block pattern of the
 * hardening programs (see harden.h).
 */
#include "harden.h"

uint64_t counters_total(struct counters *c)
{
	uint64_t t = 0;
	unsigned int i;

	for (i = 0; i < NR_RES; i++)
		t += c->res[i];
	return t;
}

void print_counters(const char *prefix, struct counters *c)
{
	bool done[NR_RES] = { false };
	uint64_t total = counters_total(c);
	unsigned int i, best;
	char line[2048];
	size_t len = 0;

	line[0] = 0;
	for (;;) {
		best = NR_RES;
		for (i = 0; i < NR_RES; i++)
			if (!done[i] && c->res[i] &&
			    (best == NR_RES || c->res[i] > c->res[best]))
				best = i;
		if (best == NR_RES || len >= sizeof(line))
			break;
		done[best] = true;
		if (best == RES_SIGNAL)
			len += snprintf(line + len, sizeof(line) - len,
					" signal=%" PRIu64,
					(uint64_t)c->res[best]);
		else if (best == RES_OTHER)
			len += snprintf(line + len, sizeof(line) - len,
					" other=%" PRIu64,
					(uint64_t)c->res[best]);
		else
			len += snprintf(line + len, sizeof(line) - len,
					" %s=%" PRIu64, errname(best),
					(uint64_t)c->res[best]);
	}
	ktap_diag("%s%" PRIu64 " calls:%s", prefix, total, line);
}

void *shared_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		BAIL_ERRNO("mmap shared");
	return p;
}

void pat_fill(char *p, uint64_t n, uint32_t seed)
{
	uint64_t j, w = n / 8;
	uint64_t *q = (uint64_t *)p;

	for (j = 0; j < w; j++)
		q[j] = pat_word(seed, j);
	if (n % 8) {
		uint64_t last = pat_word(seed, w);

		memcpy(p + 8 * w, &last, n % 8);
	}
}

int64_t pat_check(const char *p, uint64_t n, uint32_t seed)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t j, w = n / 8;

	for (j = 0; j < w; j++)
		if (q[j] != pat_word(seed, j))
			return (int64_t)(8 * j);
	if (n % 8) {
		uint64_t last = pat_word(seed, w);

		if (memcmp(p + 8 * w, &last, n % 8))
			return (int64_t)(8 * w);
	}
	return -1;
}
