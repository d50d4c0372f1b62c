// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_module.c - buddy_vmtest's checks of the module itself (run last,
 * with MODULE.ko): rmmod refused while a heap is open or mapped, bad
 * parameters refused, small caps, low_water_bytes and defer_depth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmtest.h"

/* Module: unload, parameters, caps */

static void test_cap(uint64_t cap, bool aligned_to_window)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	uint64_t off, total = 0, window;
	char *base;
	int fd, ret = 0, i;

	fd = open_heap();
	info = get_info(fd);
	window = 1;
	while (window < cap)
		window <<= 1;
	CHECK(info.cap_bytes == cap && info.window_bytes == window,
	      "cap %llu: INFO cap %llu, window %llu",
	      (unsigned long long)cap, (unsigned long long)info.cap_bytes,
	      (unsigned long long)info.window_bytes);
	base = map_window(fd, info.window_bytes);

	CHECK_ERR(heap_malloc(fd, cap + 1, 0, &off, NULL), ENOMEM,
		  "cap: MALLOC cap+1");
	for (i = 0; i < 100000; i++) {
		ret = heap_malloc(fd, 64 * KiB, 0, &off, NULL);
		if (ret)
			break;
		base[off] = 1;
		total += 64 * KiB;
	}
	st = get_stats(fd);
	CHECK(ret == -ENOMEM, "cap: 64 KiB blocks until ENOMEM (%s)",
	      ret ? strerror(-ret) : "none");
	CHECK(st.heap_bytes <= cap && st.peak_heap_bytes <= cap,
	      "cap: heap_bytes %llu <= cap", (unsigned long long)st.heap_bytes);
	CHECK(total >= cap / 2, "cap: %llu KiB allocated",
	      (unsigned long long)(total / KiB));
	munmap(base, info.window_bytes);
	close(fd);

	if (!aligned_to_window)
		return;
	/* absolute alignment up to the largest block, the whole window */
	for (i = 4; (1ULL << i) <= window; i++) {
		uint64_t al = 1ULL << i;

		fd = open_heap();
		base = map_window(fd, window);
		ret = heap_memalign(fd, al, 16, &off);
		CHECK(!ret && ((uintptr_t)(base + off) & (al - 1)) == 0 &&
		      guarded_touch(base + off, true, 0x5a) == 0,
		      "cap: MEMALIGN %llu absolutely aligned (%s, %p)",
		      (unsigned long long)al, ret ? strerror(-ret) : "ok",
		      (void *)(base + off));
		munmap(base, window);
		close(fd);
	}
	fd = open_heap();
	ret = heap_malloc(fd, window, 0, &off, NULL);
	CHECK(!ret && off == 0, "cap: one block of the whole window (%s)",
	      ret ? strerror(-ret) : "ok");
	close(fd);
}

#define DEFER_DEPTH	"/sys/module/buddy/parameters/defer_depth"

/*
 * Free blocks of order 3 after one malloc(100)/free in a new heap: 2 when
 * the freed block is held back (it and its buddy), 0 when it merged back
 * into the chunk.
 */
static uint64_t order3_after_pair(void)
{
	uint64_t off, n;
	int fd = open_heap();

	if (heap_malloc(fd, 100, 0, &off, NULL) || heap_free(fd, off, NULL))
		die("MALLOC/FREE");
	n = get_stats(fd).free_blocks[3];
	close(fd);
	return n;
}

/* defer_depth: default 16, read at each open, writable, range checked. */
static void test_defer_depth(void)
{
	CHECK(read_ll(DEFER_DEPTH, NULL) == 16, "defer_depth: default 16 (%lld)",
	      read_ll(DEFER_DEPTH, NULL));
	CHECK(order3_after_pair() == 2,
	      "defer_depth 16: a freed 128 B block is held back");
	CHECK_ERR(write_file(DEFER_DEPTH, "0"), 0, "defer_depth: write 0");
	CHECK(order3_after_pair() == 0,
	      "defer_depth 0: a freed block merges at once");
	CHECK_ERR(write_file(DEFER_DEPTH, "17"), EINVAL, "defer_depth: write 17");
	CHECK(read_ll(DEFER_DEPTH, NULL) == 0, "defer_depth: still 0 (%lld)",
	      read_ll(DEFER_DEPTH, NULL));
	CHECK_ERR(write_file(DEFER_DEPTH, "16"), 0, "defer_depth: write 16");
}

void test_module(const char *ko)
{
	static const char *const bad[] = {
		"min_chunk_bytes=1000",
		"min_chunk_bytes=2048",
		"min_chunk_bytes=0",
		"max_heap_bytes=4096",
		"max_heap_bytes=0",
		"max_heap_bytes=2199023255552",
		"max_heap_bytes=1048576 min_chunk_bytes=2097152",
		"defer_depth=17",
	};
	char params[128];
	uint64_t window;
	unsigned int i;
	int fd, ret;
	char *base;

	fd = open_heap();
	window = get_info(fd).window_bytes;
	base = map_window(fd, window);
	CHECK(mod_refcnt() > 0, "module: in use while a heap is open (refcnt %lld)",
	      mod_refcnt());
	ret = mod_delete();
	CHECK(ret == -EBUSY || ret == -EAGAIN,
	      "module: rmmod refused while a heap is open (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	close(fd);	/* the mapping alone holds the heap */
	ret = mod_delete();
	CHECK(ret == -EBUSY || ret == -EAGAIN,
	      "module: rmmod refused while a heap is still mapped (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	munmap(base, window);
	CHECK(mod_refcnt() == 0, "module: refcnt 0 once every heap is closed (%lld)",
	      mod_refcnt());
	CHECK_ERR(mod_delete(), 0, "module: rmmod after all heaps closed");
	CHECK(access(DEV, F_OK) != 0, "module: " DEV " gone");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_ERR(mod_load(ko, bad[i]), EINVAL, "module: insmod %s",
			  bad[i]);

	snprintf(params, sizeof(params), "max_heap_bytes=%llu",
		 (unsigned long long)(4 * MiB));
	CHECK_ERR(mod_load(ko, params), 0, "module: insmod %s", params);
	test_cap(4 * MiB, true);
	CHECK_ERR(mod_delete(), 0, "module: rmmod");

	/* defer_depth=0: no freed block held back, so the chunk can go */
	snprintf(params, sizeof(params),
		 "max_heap_bytes=%llu min_chunk_bytes=%llu low_water_bytes=0 defer_depth=0",
		 (unsigned long long)(3 * MiB), (unsigned long long)(128 * KiB));
	CHECK_ERR(mod_load(ko, params), 0, "module: insmod %s", params);
	test_cap(3 * MiB, false);
	{
		/* low_water 0: a wholly free heap keeps no chunk */
		uint64_t off;

		fd = open_heap();
		heap_malloc(fd, 100, 0, &off, NULL);
		heap_free(fd, off, NULL);
		CHECK(get_stats(fd).heap_bytes == 0,
		      "low_water_bytes=0: an empty heap holds no chunk");
		close(fd);
	}
	CHECK_ERR(mod_delete(), 0, "module: rmmod");
	CHECK_ERR(mod_load(ko, ""), 0, "module: insmod with defaults again");
	fd = open(DEV, O_RDWR);
	CHECK(fd >= 0, "module: " DEV " back");
	if (fd >= 0)
		close(fd);
	test_defer_depth();
}
