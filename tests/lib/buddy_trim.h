/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_trim.h - the usable size the device gives a request, for tests
 * that check it: a power-of-two block, or from the module's
 * trim_block_bytes on, the request rounded up to 256 B.
 */
#ifndef BUDDY_TRIM_H
#define BUDDY_TRIM_H

#include <stdint.h>
#include <stdio.h>

#define BUDDY_TRIM_PARAM "/sys/module/buddy/parameters/trim_block_bytes"

/* The loaded module's trim_block_bytes; 0 (off) if it cannot be read. */
static inline uint64_t buddy_trim_block_bytes(void)
{
	static int known;
	static uint64_t bytes;
	unsigned long long v;
	FILE *f;

	if (known)
		return bytes;
	f = fopen(BUDDY_TRIM_PARAM, "re");
	if (f && fscanf(f, "%llu", &v) == 1)
		bytes = v;
	if (f)
		fclose(f);
	known = 1;
	return bytes;
}

/* Usable size of a MALLOC of @n bytes with trim_block_bytes @trim. */
static inline uint64_t buddy_usable_for(uint64_t n, uint64_t trim)
{
	uint64_t block = 16;

	while (block < n)
		block <<= 1;
	if (trim && block >= trim)
		return (n + 255) & ~(uint64_t)255;
	return block;
}

#endif /* BUDDY_TRIM_H */
