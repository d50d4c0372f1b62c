/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_trim.h - the usable size the device gives a request, for tests
 * that check it: a power-of-two block, or from the module's
 * trim_block_bytes on, the request rounded up to 256 B; and the size class
 * the shim's caches give a request of up to 4 KiB instead.
 */
#ifndef BUDDY_TRIM_H
#define BUDDY_TRIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The shim's size class for @n <= 4096 bytes: 16-byte steps up to 128,
 * then four steps per doubling up to 512 and eight up to 4096 (the spec
 * userspace_shim/cache.c implements).
 */
static inline uint64_t buddy_class_for(uint64_t n)
{
	uint64_t size = 16;

	while (size < n) {
		uint64_t pow = 16;

		while (pow * 2 <= size)
			pow *= 2;
		size += size < 128 ? 16 : size < 512 ? pow / 4 : pow / 8;
	}
	return size;
}

/* Whether the shim serves malloc(@n) from its caches (not BUDDY_CACHE=0). */
static inline int buddy_shim_cached(uint64_t n)
{
	const char *cache = getenv("BUDDY_CACHE");

	return n <= 4096 && !(cache && !strcmp(cache, "0"));
}

/* Usable size of malloc(@n) through the shim. */
static inline uint64_t buddy_shim_usable_for(uint64_t n)
{
	if (buddy_shim_cached(n))
		return buddy_class_for(n);
	return buddy_usable_for(n, buddy_trim_block_bytes());
}

#endif /* BUDDY_TRIM_H */
