// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_map.c - buddy_vmtest's checks of the mmap window: refused
 * mappings, SIGBUS outside live chunks, growth and give-back, absolute
 * alignment, CLONE (also across fork) and read-only views.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

/* The mmap window */

void test_mmap(void)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	uint64_t off, big, first, offs[16];
	char *base, *p, *p2;
	unsigned int i;
	int fd, sig;

	fd = open_heap();
	info = get_info(fd);

	/* refused mappings */
	p = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap MAP_PRIVATE refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap at offset 4096 refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, info.window_bytes + 4096, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap longer than the window refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED, "mmap PROT_EXEC refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");

	base = map_window(fd, info.window_bytes);
	CHECK(mprotect(base, 4096, PROT_READ | PROT_EXEC) != 0,
	      "mprotect PROT_EXEC refused (%s)", strerror(errno));
	p = mremap(base, info.window_bytes, info.window_bytes + 4096, 0);
	CHECK(p == MAP_FAILED, "mremap growth in place refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");
	p = mremap(base, info.window_bytes, 2 * info.window_bytes, MREMAP_MAYMOVE);
	CHECK(p == MAP_FAILED, "mremap growth with MAYMOVE refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");

	/* SIGBUS outside live chunks */
	sig = guarded_touch(base + info.window_bytes - 4096, false, 0);
	CHECK(sig == SIGBUS, "read outside the live chunks: SIGBUS (%d)", sig);
	sig = guarded_touch(base + info.window_bytes / 2, true, 0x5a);
	CHECK(sig == SIGBUS, "write outside the live chunks: SIGBUS (%d)", sig);

	/* contents survive growth; offsets never move */
	CHECK_ERR(heap_malloc(fd, 1000, 0, &first, NULL), 0, "MALLOC 1000");
	memset(base + first, 0x3c, 1000);
	for (i = 0; i < 10; i++) {
		CHECK_ERR(heap_malloc(fd, 64 * KiB << i, 0, &offs[i], NULL), 0,
			  "MALLOC %llu KiB (growth)", 64ULL << i);
		memset(base + offs[i], i + 1, 4096);
		base[offs[i] + (64 * KiB << i) - 1] = (char)(i + 1);
	}
	st = get_stats(fd);
	CHECK(st.nr_grows >= 4, "the heap grew %" PRIu64 " times, %" PRIu64
	      " chunks", (uint64_t)st.nr_grows, (uint64_t)st.nr_chunks);
	CHECK(all_bytes(base + first, 0x3c, 1000), "contents survive growth");
	for (i = 0; i < 10; i++)
		if (!all_bytes(base + offs[i], i + 1, 4096) ||
		    base[offs[i] + (64 * KiB << i) - 1] != (char)(i + 1))
			break;
	CHECK(i == 10, "every grown block holds its data");

	/* a second mapping of the same heap sees the same memory */
	p2 = map_window(fd, info.window_bytes);
	CHECK(all_bytes(p2 + first, 0x3c, 1000), "second mapping sees the data");
	p2[first] = 0x11;
	CHECK(base[first] == 0x11, "writes through one mapping show in the other");
	munmap(p2, info.window_bytes);

	for (i = 0; i < 10; i++)
		heap_free(fd, offs[i], NULL);
	CHECK(all_bytes(base + first, 0x11, 1) &&
	      all_bytes(base + first + 1, 0x3c, 999),
	      "after freeing the grown blocks the first block is intact");

	/* a chunk given back is unmapped: its pages SIGBUS, no stale PTE */
	{
		int f2 = open_heap();
		char *b2 = map_window(f2, info.window_bytes);
		uint64_t anchor;

		CHECK_ERR(heap_malloc(f2, 2 * MiB, 0, &anchor, NULL), 0,
			  "MALLOC 2 MiB (stays)");
		memset(b2 + anchor, 0x24, 2 * MiB);
		CHECK_ERR(heap_malloc(f2, 32 * MiB, 0, &big, NULL), 0,
			  "MALLOC 32 MiB (a chunk of its own)");
		{
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			memset(b2 + big, 0x42, 32 * MiB);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ktap_diag("first touch of 32 MiB through the window: %ld ms",
				  (t1.tv_sec - t0.tv_sec) * 1000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		}
		st = get_stats(f2);
		CHECK_ERR(heap_free(f2, big, NULL), 0, "FREE 32 MiB");
		CHECK(get_stats(f2).nr_shrinks > st.nr_shrinks &&
		      get_stats(f2).heap_bytes + 32 * MiB <= st.heap_bytes,
		      "the free chunk went back to the kernel");
		sig = guarded_touch(b2 + big, false, 0);
		CHECK(sig == SIGBUS,
		      "a given-back chunk's page faults with SIGBUS (%d)", sig);
		sig = guarded_touch(b2 + big + 32 * MiB - 1, true, 0x5a);
		CHECK(sig == SIGBUS, "its last page too (%d)", sig);
		CHECK(all_bytes(b2 + anchor, 0x24, 2 * MiB),
		      "the rest of the heap is still mapped and intact");
		munmap(b2, info.window_bytes);
		close(f2);
	}

	/* absolute alignment up to 16 MiB (the cap run goes to the window) */
	for (i = 4; i <= 24; i++) {
		uint64_t al = 1ULL << i;
		int ret = heap_memalign(fd, al, 16, &off);

		CHECK(!ret && ((uintptr_t)(base + off) & (al - 1)) == 0,
		      "MEMALIGN %llu: address %p absolutely aligned",
		      (unsigned long long)al, (void *)(base + off));
		if (!ret)
			guarded_touch(base + off, true, 0x5a);
	}

	/* munmap and map again: the data is still there */
	munmap(base, info.window_bytes);
	base = map_window(fd, info.window_bytes);
	CHECK(base[first] == 0x11 && all_bytes(base + first + 1, 0x3c, 999),
	      "unmapped and mapped again: data kept");
	munmap(base, info.window_bytes);

	/* a partial mapping (prefix of the window) works */
	p = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && first < 64 * KiB &&
	      guarded_touch(p + first, false, 0) == 0 && p[first] == 0x11,
	      "a mapping shorter than the window works");
	if (p != MAP_FAILED)
		munmap(p, 64 * KiB);
	close(fd);
}

/* CLONE */

struct clone_arg {
	int fd;
	uint64_t window, off;
	char *base;
};

/* The shim's fork scheme: the child maps the clone over the window. */
static void clone_child(void *varg)
{
	struct clone_arg *ca = varg;
	uint64_t off;

	CHECK(map_window_at(ca->fd, ca->window, ca->base) == ca->base,
	      "child: maps the clone over the window (MAP_FIXED)");
	CHECK(all_bytes(ca->base + ca->off, 0x61, 4096),
	      "child: sees the parent's data at the same addresses");
	memset(ca->base + ca->off, 0x62, 4096);
	CHECK_ERR(heap_malloc(ca->fd, 4096, 0, &off, NULL), 0,
		  "child: allocates in its copy");
	memset(ca->base + off, 0x63, 4096);
}

void test_clone(void)
{
	struct buddy_clone_args c;
	struct buddy_info info, cinfo;
	struct buddy_heap_stats s0, s1;
	uint64_t off, o1, o2, big;
	char *base, *cbase;
	struct clone_arg ca;
	int fd, cfd, flags;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "MALLOC 4096");
	memset(base + off, 0x61, 4096);
	CHECK_ERR(heap_malloc(fd, 3 * MiB, 0, &o1, NULL), 0, "MALLOC 3 MiB");
	memset(base + o1, 0x71, 3 * MiB);

	memset(&c, 0, sizeof(c));
	c.fd = -5;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), 0, "CLONE flags 0");
	cfd = c.fd;
	flags = fcntl(cfd, F_GETFD);
	CHECK(cfd >= 0 && flags >= 0 && !(flags & FD_CLOEXEC),
	      "CLONE 0: a new fd %d without FD_CLOEXEC", cfd);
	cinfo = get_info(cfd);
	CHECK(cinfo.heap_id != info.heap_id &&
	      cinfo.window_bytes == info.window_bytes,
	      "CLONE: a new heap with the same window");
	s0 = get_stats(fd);
	s1 = get_stats(cfd);
	CHECK(s0.live_blocks == s1.live_blocks &&
	      s0.bytes_in_use == s1.bytes_in_use &&
	      s0.heap_bytes == s1.heap_bytes &&
	      !memcmp(s0.free_blocks, s1.free_blocks, sizeof(s0.free_blocks)),
	      "CLONE: same blocks");
	cbase = map_window(cfd, info.window_bytes);
	CHECK(all_bytes(cbase + off, 0x61, 4096) &&
	      all_bytes(cbase + o1, 0x71, 3 * MiB),
	      "CLONE: same contents at the same offsets");

	memset(cbase + off, 0x99, 4096);
	CHECK(all_bytes(base + off, 0x61, 4096), "writes to the copy stay there");
	memset(base + o1, 0x55, 4096);
	CHECK(all_bytes(cbase + o1, 0x71, 4096), "writes to the original stay there");
	CHECK_ERR(heap_free(cfd, o1, NULL), 0, "FREE in the copy");
	CHECK_ERR(heap_usable(fd, o1, NULL, NULL), 0,
		  "the original's block is still live");
	big = o1;
	/*
	 * Each heap now allocates where its bitmaps are its own: the copy
	 * where its FREE made them so; the original, owning none, in the
	 * chunk with the most room for its size, the first (64 KiB, 32 KiB
	 * free) rather than the 3 MiB block's (4 MiB, 1 MiB free).
	 */
	CHECK_ERR(heap_malloc(fd, 100, 0, &o1, NULL), 0, "MALLOC in the original");
	CHECK_ERR(heap_malloc(cfd, 100, 0, &o2, NULL), 0, "MALLOC in the copy");
	CHECK(o1 == 4096 && o2 == big,
	      "each heap allocates in a chunk whose bitmaps it owns (%#" PRIx64
	      ", %#" PRIx64 ")", o1, o2);
	CHECK_ERR(heap_free(fd, o1, NULL), 0, "FREE it in the original");
	CHECK_ERR(heap_usable(cfd, o2, NULL, NULL), 0, "still live in the copy");
	munmap(cbase, info.window_bytes);
	close(cfd);

	memset(&c, 0, sizeof(c));
	c.flags = O_CLOEXEC;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), 0, "CLONE O_CLOEXEC");
	flags = fcntl(c.fd, F_GETFD);
	CHECK(flags >= 0 && (flags & FD_CLOEXEC), "CLONE O_CLOEXEC: FD_CLOEXEC set");

	/* fork: the child takes the clone over the window */
	ca.fd = c.fd;
	ca.window = info.window_bytes;
	ca.off = off;
	ca.base = base;
	in_child("CLONE across fork", clone_child, &ca);
	CHECK(all_bytes(base + off, 0x61, 4096),
	      "parent: the child's writes did not reach it");
	CHECK(get_stats(c.fd).live_blocks == get_stats(fd).live_blocks + 1,
	      "the clone holds the child's extra block");
	close(c.fd);

	/* clone of an empty heap, and a clone of a clone */
	{
		int e = open_heap(), c1, c2;

		memset(&c, 0, sizeof(c));
		CHECK_ERR(xioctl(e, BUDDY_IOC_CLONE, &c), 0, "CLONE an empty heap");
		c1 = c.fd;
		memset(&c, 0, sizeof(c));
		CHECK_ERR(xioctl(c1, BUDDY_IOC_CLONE, &c), 0, "CLONE a clone");
		c2 = c.fd;
		CHECK_ERR(heap_malloc(c2, 16, 0, &o1, NULL), 0,
			  "the clone of a clone works");
		close(c2);
		close(c1);
		close(e);
	}

	/* a CLONE whose fd cannot be returned leaves no fd behind */
	{
		void *ro = mmap(NULL, 4096, PROT_READ,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int probe = dup(0), next;

		close(probe);
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, ro), EFAULT,
			  "CLONE into a read-only struct");
		next = dup(0);
		CHECK(next == probe, "no fd installed (%d, %d)", next, probe);
		close(next);
		munmap(ro, 4096);
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* An O_RDONLY fd maps PROT_READ MAP_SHARED: a read-only view. */
void test_rdonly_map(void)
{
	uint64_t off, window;
	char *p;
	int fd;

	fd = open(DEV, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open O_RDONLY");
	window = get_info(fd).window_bytes;
	CHECK_ERR(heap_malloc(fd, 4096, BUDDY_ALLOC_ZERO, &off, NULL), 0,
		  "rdonly: MALLOC on an O_RDONLY fd");
	p = mmap(NULL, window, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "rdonly: mmap PROT_READ MAP_SHARED of an O_RDONLY fd "
	      "(%s)", p == MAP_FAILED ? strerror(errno) : "mapped");
	if (p != MAP_FAILED) {
		CHECK(guarded_touch(p + off, false, 0) == 0 && p[off] == 0,
		      "rdonly: the block reads as zero");
		CHECK(guarded_touch(p + off, true, 0x5a) == SIGSEGV,
		      "rdonly: a write is SIGSEGV");
		int ret = mprotect(p, window, PROT_READ | PROT_WRITE) ? -errno : 0;

		CHECK(ret == -EACCES, "rdonly: mprotect PROT_WRITE refused (%s)",
		      ret ? strerror(-ret) : "allowed");
		munmap(p, window);
	}
	p = mmap(NULL, window, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EACCES,
	      "rdonly: PROT_WRITE mapping refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, window, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL,
	      "rdonly: MAP_PRIVATE still refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	close(fd);
}
