// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_kernel.c - buddy_vmtest's checks of what the kernel around the
 * device sees: the debugfs files, memcg charging, and the per-user bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

/* debugfs */

/* Large enough for the map of the biggest heap here, read whole. */
static char file_buf[1 << 20];

static int count_fields(const char *s)
{
	int n = 0;
	bool in = false;

	for (; *s && *s != '\n'; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

/*
 * Read a debugfs map: lines, whether the offsets ascend, seconds taken.
 */
static long map_read(const char *path, bool *ascending, double *secs)
{
	static char buf[65536];
	struct timespec t0, t1;
	unsigned long long off, prev = 0;
	long lines = 0;
	char line[128];
	size_t ll = 0;
	ssize_t n, i;
	int fd;

	*ascending = true;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			off = strtoull(line, NULL, 16);
			if (lines && off <= prev)
				*ascending = false;
			prev = off;
			lines++;
		}
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return lines;
}

/* MALLOC @n blocks of 16 bytes through BATCH. */
static void batch_mallocs(int fd, unsigned int n)
{
	static struct buddy_op ops[BUDDY_BATCH_MAX];
	struct buddy_batch b;
	unsigned int i, k;

	while (n) {
		k = n < BUDDY_BATCH_MAX ? n : BUDDY_BATCH_MAX;
		memset(ops, 0, sizeof(ops));
		for (i = 0; i < k; i++) {
			ops[i].op = BUDDY_OP_MALLOC;
			ops[i].size = 16;
		}
		memset(&b, 0, sizeof(b));
		b.ops = (uintptr_t)ops;
		b.count = k;
		b.op_size = sizeof(ops[0]);
		if (xioctl(fd, BUDDY_IOC_BATCH, &b))
			die("BATCH");
		n -= k;
	}
}

void test_debugfs(void)
{
	struct buddy_info info;
	struct buddy_heap_stats st;
	char dir[256], path[300], want[64];
	uint64_t off;
	const char *debugfs_mode = getenv("BUDDY_VMTEST_DEBUGFS");
	char *s;
	int fd, i, lines;

	fd = open_heap();
	info = get_info(fd);
	if (debugfs_mode && !strcmp(debugfs_mode, "off")) {
		/* booted with debugfs=off: the device works without it */
		CHECK(!(info.features & BUDDY_FEATURE_DEBUGFS) &&
		      access(DEBUGFS, F_OK) != 0,
		      "debugfs=off: no debugfs files, feature bit clear");
		CHECK_ERR(heap_malloc(fd, 100, 0, &off, NULL), 0,
			  "debugfs=off: heaps still work");
		close(fd);
		return;
	}
	if (access(DEBUGFS, F_OK)) {
		CHECK(0, "debugfs: " DEBUGFS " exists");
		close(fd);
		return;
	}
	for (i = 0; i < 20; i++)
		heap_malloc(fd, 16 << (i % 10), 0, &off, NULL);
	heap_free(fd, off, NULL);
	st = get_stats(fd);
	snprintf(dir, sizeof(dir), DEBUGFS "/%d-%" PRIu64, getpid(),
		 (uint64_t)info.heap_id);
	CHECK(access(dir, F_OK) == 0, "debugfs: %s exists", dir);

	snprintf(path, sizeof(path), "%s/buddyinfo", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	snprintf(want, sizeof(want), "heap %" PRIu64 " ", (uint64_t)info.heap_id);
	CHECK(s && !strncmp(s, want, strlen(want)) &&
	      count_fields(s) == 2 + (int)st.nr_orders,
	      "debugfs buddyinfo: 'heap <id>' + %u counts", st.nr_orders);
	if (s) {
		char *p = s + strlen(want);
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			if (strtoull(p, &p, 10) != st.free_blocks[k])
				break;
		CHECK(k == st.nr_orders, "debugfs buddyinfo matches STATS");
	}

	snprintf(path, sizeof(path), "%s/stats", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	snprintf(want, sizeof(want), "live_blocks %" PRIu64 "\n",
		 (uint64_t)st.live_blocks);
	CHECK(s && strstr(s, want) && strstr(s, "heap_bytes ") &&
	      strstr(s, "nr_allocs ") && strstr(s, "cap_bytes "),
	      "debugfs stats: key value lines");

	snprintf(path, sizeof(path), "%s/unusable_index", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	CHECK(s && count_fields(s) == 2 + (int)st.nr_orders &&
	      strstr(s, ".") && !strncmp(s, "heap ", 5),
	      "debugfs unusable_index: one x.yyy per order");
	snprintf(path, sizeof(path), "%s/extfrag_index", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	CHECK(s && count_fields(s) == 2 + (int)st.nr_orders && strstr(s, "."),
	      "debugfs extfrag_index: one x.yyy per order");

	snprintf(path, sizeof(path), "%s/map", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	lines = 0;
	if (s)
		for (; *s; s++)
			lines += *s == '\n';
	{
		uint64_t nfree = 0;
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			nfree += st.free_blocks[k];
		CHECK(lines > 0 && (uint64_t)lines == st.live_blocks + nfree,
		      "debugfs map: one line per block (%d = %" PRIu64
		      " live + %" PRIu64 " free)", lines,
		      (uint64_t)st.live_blocks, nfree);
	}
	/* a large map needs several batches */
	for (i = 0; i < 2000; i++)
		heap_malloc(fd, 16, 0, &off, NULL);
	st = get_stats(fd);
	s = slurp(path, file_buf, sizeof(file_buf));
	lines = 0;
	if (s)
		for (; *s; s++)
			lines += *s == '\n';
	{
		uint64_t nfree = 0;
		unsigned int k;

		for (k = 0; k < st.nr_orders; k++)
			nfree += st.free_blocks[k];
		CHECK((uint64_t)lines == st.live_blocks + nfree,
		      "debugfs map of %d blocks read in full", lines);
	}
	/* a trimmed run is one live block, shown block by block */
	CHECK_ERR(heap_malloc(fd, 5000, 0, &off, NULL), 0, "MALLOC 5000");
	snprintf(want, sizeof(want), "0x%" PRIx64 " 8 allocated\n0x%" PRIx64
		 " 6 continued\n", off, off + 4096);
	s = slurp(path, file_buf, sizeof(file_buf));
	CHECK(s && strstr(s, want),
	      "debugfs map: a 5000-byte run reads 4 KiB allocated, then 1 KiB continued");
	snprintf(path, sizeof(path), "%s/stats", dir);
	s = slurp(path, file_buf, sizeof(file_buf));
	CHECK(s && strstr(s, "trim_block_bytes 8192\n"),
	      "debugfs stats: trim_block_bytes 8192 (the default)");
	close(fd);

	/* reading the map is O(N): 16 times the blocks, not 256 times the time */
	{
		double t1, t2;
		bool asc1, asc2;
		long l1, l2;

		fd = open_heap();
		info = get_info(fd);
		snprintf(path, sizeof(path), "%s/%d-%llu/map", DEBUGFS, getpid(),
			 (unsigned long long)info.heap_id);
		batch_mallocs(fd, 4096);
		l1 = map_read(path, &asc1, &t1);
		batch_mallocs(fd, 65536 - 4096);
		l2 = map_read(path, &asc2, &t2);
		CHECK(l1 >= 4096 && l2 >= 65536 && asc1 && asc2,
		      "debugfs map: %ld then %ld lines, offsets ascending", l1, l2);
		CHECK(t2 < 64 * t1 + 0.05,
		      "debugfs map: 16x the blocks take %.1fx the time (%.3f s, "
		      "%.3f s; O(N^2) would be 256x)", t1 > 0 ? t2 / t1 : 0.0,
		      t1, t2);
		close(fd);
	}
	CHECK(access(dir, F_OK) != 0, "debugfs: the directory goes on close");
}

/* memcg */

static void memcg_child(void *arg)
{
	const char *cg = arg;
	char path[256];
	uint64_t off, total = 0;
	long long before, during, after;
	int fd, ret = 0, i;

	char peak[256];

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	snprintf(peak, sizeof(peak), "%s/memory.peak", cg);
	read_ll(path, NULL);	/* fault in what reading needs, outside */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	CHECK_ERR(write_file(path, "0"), 0, "memcg: child moves into %s", cg);
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	before = read_ll(path, NULL);

	/*
	 * At the limit, anything else charged (a page of stack, a struct
	 * file) would call the memcg OOM killer on this process: close the
	 * heap before doing anything else, and look at memory.peak.
	 */
	fd = open_heap();
	for (i = 0; i < 1000; i++) {
		ret = heap_malloc(fd, 1 * MiB, 0, &off, NULL);
		if (ret)
			break;
		total += MiB;
	}
	close(fd);
	during = read_ll(peak, NULL);
	after = read_ll(path, NULL);
	CHECK(ret == -ENOMEM, "memcg: MALLOC fails with ENOMEM at the limit (%s)",
	      ret ? strerror(-ret) : "no failure");
	CHECK(total >= 8 * MiB && total <= 32 * MiB,
	      "memcg: %llu MiB allocated under a 32 MiB limit",
	      (unsigned long long)(total / MiB));
	CHECK(during - before >= (long long)total,
	      "memcg: the heap was charged (peak %lld KiB for %llu KiB)",
	      (during - before) / 1024, (unsigned long long)(total / 1024));
	CHECK(after - before < (long long)(2 * MiB),
	      "memcg: close gave it back (peak %lld KiB, now %lld KiB)",
	      during / 1024, after / 1024);
}

/*
 * A heap opened in the group and grown by a process outside it (the fd
 * passed on) is charged to the group: the opener's, not the grower's.
 */
static void memcg_owner(const char *cg)
{
	char path[256];
	long long before, during, after;
	uint64_t off;
	int sv[2], fd, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		if (write_file(path, "0"))
			_exit(1);
		fd = open(DEV, O_RDWR);
		if (fd < 0 || send_fd(sv[0], fd, 0))
			_exit(1);
		_exit(0);
	}
	fd = recv_fd(sv[1], 0);
	waitpid(pid, &status, 0);
	close(sv[0]);
	close(sv[1]);
	CHECK(fd >= 0 && WIFEXITED(status) && !WEXITSTATUS(status),
	      "memcg: a heap opened in the group, passed out (%s)",
	      fd < 0 ? strerror(-fd) : "ok");
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	before = read_ll(path, NULL);
	CHECK_ERR(heap_malloc(fd, 8 * MiB, 0, &off, NULL), 0,
		  "memcg: MALLOC 8 MiB from outside the group");
	during = read_ll(path, NULL);
	CHECK(during - before >= (long long)(8 * MiB),
	      "memcg: charged to the opener's group (+%lld KiB)",
	      (during - before) / 1024);
	CHECK_ERR(heap_malloc(fd, 32 * MiB, 0, &off, NULL), ENOMEM,
		  "memcg: MALLOC 32 MiB more from outside: the group's limit");
	close(fd);
	after = read_ll(path, NULL);
	CHECK(after - before < (long long)MiB,
	      "memcg: close gave it back (now %lld KiB)", after / 1024);
}

void test_memcg(void)
{
	char cg[128], path[200], *s;

	s = slurp(CGROOT "/cgroup.subtree_control", file_buf,
		  sizeof(file_buf));
	if (!s || !strstr(s, "memory")) {
		CHECK(0, "memcg: memory controller enabled in " CGROOT);
		return;
	}
	snprintf(cg, sizeof(cg), CGROOT "/buddy-vmtest-%d", getpid());
	if (mkdir(cg, 0755)) {
		CHECK(0, "memcg: mkdir %s: %s", cg, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	CHECK_ERR(write_file(path, "33554432"), 0, "memcg: memory.max 32 MiB");
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_file(path, "0");
	in_child("memcg", memcg_child, cg);
	memcg_owner(cg);
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	CHECK(read_ll(path, "oom_kill ") == 0, "memcg: nothing was OOM-killed");
	CHECK(rmdir(cg) == 0, "memcg: cgroup removed (%s)",
	      access(cg, F_OK) ? "gone" : strerror(errno));
}

/* The per-user bound (max_user_bytes) */

#define NOBODY		65534

static int set_user_limit(unsigned long long bytes)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", bytes);
	return write_file(USER_LIMIT_PARAM, v);
}

/* The child, as nobody: a heap of its own, and one passed by root. */
static void user_nobody_child(void *arg)
{
	int sock = *(int *)arg, fd, rfd;
	uint64_t off;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)) {
		CHECK(0, "user bound: setuid(nobody): %s", strerror(errno));
		return;
	}
	rfd = recv_fd(sock, 0);
	CHECK(rfd >= 0, "user bound: nobody receives root's heap (%s)",
	      rfd < 0 ? strerror(-rfd) : "ok");
	if (rfd >= 0) {
		CHECK_ERR(heap_malloc(rfd, 4 * MiB, 0, &off, NULL), ENOMEM,
			  "user bound: nobody growing root's heap is charged to "
			  "root (full)");
		close(rfd);
	}
	fd = open(DEV, O_RDWR);
	CHECK(fd >= 0, "user bound: nobody opens a heap");
	if (fd < 0)
		return;
	CHECK_ERR(heap_malloc(fd, 4 * MiB, 0, &off, NULL), 0,
		  "user bound: nobody has a budget of its own");
	close(fd);
}

void test_user_bound(void)
{
	long long saved = read_ll(USER_LIMIT_PARAM, NULL);
	int fd1, fd2, fd3, clones[64], sv[2], n, i, ret;
	struct buddy_clone_args c;
	uint64_t off;

	CHECK(saved > 0, "user bound: %s is %lld (half of RAM by default)",
	      USER_LIMIT_PARAM, saved);
	if (saved <= 0)
		return;
	CHECK_ERR(set_user_limit(8 * MiB), 0, "user bound: root sets it to 8 MiB");

	/* two heaps of one user share the bound */
	fd1 = open_heap();
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd1, 4 * MiB, 0, &off, NULL), 0,
		  "user bound: 4 MiB in heap 1");
	CHECK_ERR(heap_malloc(fd2, 4 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: 4 MiB more in heap 2 is beyond 8 MiB");
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: 2 MiB in heap 2 fits");

	/* fd passing: growth is charged to the opener, not the grower */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	CHECK_ERR(send_fd(sv[0], fd1, 0), 0, "user bound: send heap 1 to nobody");
	in_child("user bound, nobody", user_nobody_child, &sv[1]);
	close(sv[0]);
	close(sv[1]);

	/* a heap parked in an SCM_RIGHTS message still counts */
	close(fd2);
	fd3 = open_heap();
	CHECK_ERR(heap_malloc(fd3, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: 2 MiB in heap 3");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("socketpair");
	CHECK_ERR(send_fd(sv[0], fd3, 0), 0, "user bound: heap 3 parked in a message");
	close(fd3);
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: the parked heap still counts");
	close(sv[0]);
	close(sv[1]);
	CHECK_ERR(heap_malloc(fd2, 2 * MiB, 0, &off, NULL), 0,
		  "user bound: freed with the message");
	close(fd2);

	/* repeated CLONE: each copy is charged until the bound */
	memset(&c, 0, sizeof(c));
	c.flags = O_CLOEXEC;
	for (n = 0, ret = 0; n < 64; n++) {
		ret = xioctl(fd1, BUDDY_IOC_CLONE, &c);
		if (ret)
			break;
		clones[n] = c.fd;
	}
	CHECK(ret == -ENOMEM && n == 0,
	      "user bound: CLONE of a 4 MiB heap beyond the bound: ENOMEM "
	      "after %d copies (%s)", n, ret ? strerror(-ret) : "none");
	for (i = 0; i < n; i++)
		close(clones[i]);
	close(fd1);
	fd1 = open_heap();
	CHECK_ERR(heap_malloc(fd1, 1 * MiB, 0, &off, NULL), 0,
		  "user bound: 1 MiB heap to clone");
	for (n = 0, ret = 0; n < 64; n++) {
		ret = xioctl(fd1, BUDDY_IOC_CLONE, &c);
		if (ret)
			break;
		clones[n] = c.fd;
	}
	CHECK(ret == -ENOMEM && n >= 4 && n < 8,
	      "user bound: repeated CLONE of 1 MiB: %d copies, then %s",
	      n, ret ? strerror(-ret) : "none");
	for (i = 0; i < n; i++)
		close(clones[i]);
	CHECK_ERR(xioctl(fd1, BUDDY_IOC_CLONE, &c), 0,
		  "user bound: closing the copies gives the budget back");
	if (c.fd >= 0)
		close(c.fd);

	/* root raises it */
	fd2 = open_heap();
	CHECK_ERR(heap_malloc(fd2, 8 * MiB, 0, &off, NULL), ENOMEM,
		  "user bound: 8 MiB more refused at 8 MiB");
	CHECK_ERR(set_user_limit(64 * MiB), 0, "user bound: root raises it to 64 MiB");
	CHECK_ERR(heap_malloc(fd2, 8 * MiB, 0, &off, NULL), 0,
		  "user bound: 8 MiB more fits after raising");
	close(fd2);
	close(fd1);

	CHECK_ERR(set_user_limit(saved), 0, "user bound: restored to %lld", saved);
}
