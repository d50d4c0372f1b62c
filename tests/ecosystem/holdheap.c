// SPDX-License-Identifier: GPL-2.0
/*
 * holdheap - make a fragmented /dev/buddy heap with raw ioctls, check the
 * basics on the way (the smoke test of a freshly loaded buddy.ko), then
 * hold the heap open for buddyctl to look at.
 *
 *   holdheap FILE      writes "<pid>-<heap_id>" to FILE once the heap is
 *                      ready, then waits for SIGTERM/SIGINT.
 *
 * Prints "ok - ..." / "not ok - ..." lines; exits 1 if a check failed
 * before the heap was ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/buddy.h>

#define NBLOCKS 32

static int failed;

static void check(int cond, const char *what)
{
	printf("%s - holdheap: %s\n", cond ? "ok" : "not ok", what);
	fflush(stdout);
	failed |= !cond;
}

static void on_signal(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct buddy_alloc_args a;
	struct buddy_block_args fb;
	struct buddy_info info;
	struct buddy_heap_stats st;
	const char *dev = getenv("BUDDY_DEVICE");
	unsigned long long off[NBLOCKS] = { 0 };
	int fd, i, ok;
	char *base;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: holdheap FILE\n");
		return 2;
	}
	fd = open(dev ? dev : "/dev/buddy", O_RDWR | O_CLOEXEC);
	check(fd >= 0, "open /dev/buddy");
	if (fd < 0)
		return 1;
	memset(&info, 0, sizeof(info));
	check(!ioctl(fd, BUDDY_IOC_INFO, &info) &&
	      info.abi_version == BUDDY_ABI_VERSION && info.grain_shift == 4,
	      "INFO: ABI version and grain");
	base = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	check(base != MAP_FAILED, "mmap the window");
	if (base == MAP_FAILED)
		return 1;

	/* 32 blocks of 1 KiB (order 6), written through the mapping. */
	ok = 1;
	for (i = 0; i < NBLOCKS; i++) {
		memset(&a, 0, sizeof(a));
		a.size = 1000;
		if (ioctl(fd, BUDDY_IOC_MALLOC, &a) || a.usable != 1024 ||
		    a.offset % 1024) {
			ok = 0;
			break;
		}
		off[i] = a.offset;
		memset(base + a.offset, 0x40 + i, 1000);
	}
	check(ok, "MALLOC 32 x 1000 bytes: 1 KiB blocks, aligned");
	for (i = 0; ok && i < NBLOCKS; i++)
		ok = base[off[i]] == 0x40 + i && base[off[i] + 999] == 0x40 + i;
	check(ok, "contents survive in the mapping");

	/* Free every other block: a fragmented heap. */
	ok = 1;
	for (i = 0; i < NBLOCKS; i += 2) {
		memset(&fb, 0, sizeof(fb));
		fb.offset = off[i];
		ok &= !ioctl(fd, BUDDY_IOC_FREE, &fb);
	}
	check(ok, "FREE every other block");
	memset(&fb, 0, sizeof(fb));
	fb.offset = off[0];
	check(ioctl(fd, BUDDY_IOC_FREE, &fb) == -1 && errno == EINVAL &&
	      fb.reason == BUDDY_REASON_ALREADY_FREE, "double free refused");

	/* A few small blocks too. */
	ok = 1;
	for (i = 0; i < 5; i++) {
		memset(&a, 0, sizeof(a));
		a.size = 16;
		ok &= !ioctl(fd, BUDDY_IOC_MALLOC, &a) && a.usable == 16;
	}
	check(ok, "MALLOC 5 x 16 bytes");

	memset(&st, 0, sizeof(st));
	check(!ioctl(fd, BUDDY_IOC_STATS, &st) &&
	      st.bytes_in_use == 16 * 1024 + 5 * 16 && st.live_blocks == 21,
	      "STATS: bytes in use and live blocks");
	if (failed)
		return 1;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%d-%llu\n", (int)getpid(), (unsigned long long)info.heap_id);
	fclose(f);
	pause();
	return 0;
}
