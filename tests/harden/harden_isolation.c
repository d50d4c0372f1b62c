// SPDX-License-Identifier: GPL-2.0
/*
 * harden_isolation.c - buddy_harden isolation: another process's offsets
 * are refused or reach only one's own blocks, its data is never visible,
 * fresh blocks carry no residue of a closed heap, reopening through /proc
 * gives a new heap, mapping tricks the device tests do not cover are
 * refused, an unprivileged user (nobody) can use /dev/buddy but not
 * debugfs, fault injection or the module, and a memcg at its memory.max
 * gets ENOMEM from every allocating path.
 */
#include "buddy_harden.h"

struct marker {
	uint8_t b[16];
};

static void make_marker(struct marker *m)
{
	unsigned int i;
	uint64_t s = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)time(NULL);

	for (i = 0; i < 16; i++)
		m->b[i] = (uint8_t)(rnd(&s) >> 24);
	m->b[0] = 0xA5;	/* never all zero */
}

static void fill_marker(char *p, uint64_t n, const struct marker *m)
{
	uint64_t i;

	for (i = 0; i + 16 <= n; i += 16)
		memcpy(p + i, m->b, 16);
}

/*
 * Scan [p, p + n) for @m.  Pages the process cannot read (SIGBUS: outside
 * the heap's chunks) are skipped: each page is first copied into a pipe by
 * the kernel, which reports EFAULT instead of raising a signal.
 */
static uint64_t scan_marker(char *p, uint64_t n, const struct marker *m,
			    uint64_t *readable)
{
	static char page[65536];
	uint64_t pg, hits = 0;
	ssize_t w, r;
	int pfd[2];

	*readable = 0;
	/* non-blocking: a failed write leaves an empty buffer in the ring */
	if (pipe2(pfd, O_NONBLOCK))
		BAIL_ERRNO("pipe");
	for (pg = 0; pg < n; pg += page_size) {
		w = write(pfd[1], p + pg, page_size);
		r = read(pfd[0], page, page_size);
		while (read(pfd[0], page + page_size, page_size) > 0)
			;
		if (w != (ssize_t)page_size || r != (ssize_t)page_size)
			continue;
		(*readable)++;
		if (memmem(page, page_size, m->b, 16))
			hits++;
	}
	close(pfd[0]);
	close(pfd[1]);
	return hits;
}

struct secret_msg {
	struct marker m;
	unsigned int n;
	uint64_t off[32];
	pid_t pid;
	int fd;
};

static void isolation_offsets(void)
{
	int to_b[2], to_a[2], status;
	struct secret_msg msg;
	pid_t a;

	if (pipe(to_b) || pipe(to_a))
		BAIL_ERRNO("pipe");
	fflush(stdout);
	a = fork();
	if (a < 0)
		BAIL_ERRNO("fork");
	if (!a) {
		/* A: a heap full of its secret */
		struct fheap h;
		unsigned int i;
		uint64_t off;
		char c;
		int bad = 0;

		fh_open(&h);
		make_marker(&msg.m);
		msg.n = 0;
		for (i = 0; i < 24; i++) {
			uint64_t size = 16ULL << (i % 17);

			if (heap_malloc(h.fd, size, 0, &off, NULL))
				_exit(3);
			fill_marker(h.base + off, size, &msg.m);
			msg.off[msg.n++] = off;
		}
		msg.pid = getpid();
		msg.fd = h.fd;
		if (write(to_b[1], &msg, sizeof(msg)) != sizeof(msg) ||
		    read(to_a[0], &c, 1) != 1)
			_exit(4);
		for (i = 0; i < msg.n; i++) {
			uint64_t u;
			char *p = h.base + msg.off[i];

			if (heap_usable(h.fd, msg.off[i], &u, NULL) ||
			    memcmp(p, msg.m.b, 16))
				bad++;
		}
		_exit(bad ? 5 : 0);
	}
	close(to_b[1]);
	close(to_a[0]);
	if (read(to_b[0], &msg, sizeof(msg)) != sizeof(msg)) {
		CHECK(0, "isolation: hears from process A");
		kill(a, SIGKILL);
		waitpid(a, &status, 0);
		return;
	}

	/* B (this process): its own heap, A's offsets */
	{
		struct fheap h;
		struct buddy_heap_stats st;
		unsigned int i, refused = 0, own = 0, other = 0;
		uint64_t off, hits, readable, usable;
		uint32_t reason;
		char path[64];
		int ret, fd2, sig, sigbus = 0, seen = 0;

		fh_open(&h);
		for (i = 0; i < 4; i++) {
			if (heap_malloc(h.fd, 100, 0, &off, &usable))
				BAIL_ERRNO("MALLOC");
			fh_add(&h, off, 100, usable, true);
		}
		for (i = 0; i < msg.n; i++) {
			bool mine = false;
			unsigned int k;

			for (k = 0; k < h.n; k++)
				mine |= h.b[k].off == msg.off[i];
			ret = heap_usable(h.fd, msg.off[i], &usable, &reason);
			if (ret == -EINVAL && reason)
				refused++;
			else if (!ret && mine)
				own++;
			else
				other++;
			ret = heap_free(h.fd, msg.off[i] + (mine ? 16 : 0), &reason);
			if (ret == -EINVAL && reason)
				refused++;
			else
				other++;
			ret = heap_realloc(h.fd, msg.off[i] + (mine ? 16 : 0), 64, 0,
					   &off, NULL);
			if (ret == -EINVAL)
				refused++;
			else
				other++;
			sig = guarded_touch(h.base + msg.off[i], false, 0);
			if (sig == SIGBUS)
				sigbus++;
			else if (!memcmp(h.base + msg.off[i], msg.m.b, 16))
				seen++;
		}
		CHECK(other == 0, "isolation: A's %u offsets in B's heap: refused "
		      "(%u) or B's own blocks (%u), never anything else (%u)",
		      msg.n, refused, own, other);
		CHECK(seen == 0, "isolation: B reading its window at A's offsets: "
		      "SIGBUS %d times, A's data 0 times (%d)", sigbus, seen);
		CHECK(fh_verify(&h, path, sizeof(path)),
		      "isolation: B's heap unchanged by A's offsets (%s)", path);
		hits = scan_marker(h.base, h.window, &msg.m, &readable);
		CHECK(hits == 0, "isolation: A's secret nowhere in B's window "
		      "(%" PRIu64 " readable pages scanned, %" PRIu64 " hits)",
		      readable, hits);

		/* root reopening A's fd through /proc: a new heap, not A's */
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", msg.pid, msg.fd);
		fd2 = open(path, O_RDWR | O_CLOEXEC);
		if (fd2 >= 0) {
			struct buddy_info i2 = get_info(fd2);
			char *b2 = map_window_at(fd2, i2.window_bytes, NULL);

			ret = heap_stats(fd2, &st);
			hits = b2 ? scan_marker(b2, i2.window_bytes, &msg.m,
						&readable) : 1;
			CHECK(!ret && st.live_blocks == 0 && hits == 0,
			      "isolation: opening %s gives a new, empty heap "
			      "(%" PRIu64 " blocks, %" PRIu64 " hits)", path,
			      (uint64_t)st.live_blocks, hits);
			if (b2)
				munmap(b2, i2.window_bytes);
			close(fd2);
		} else {
			CHECK(0, "isolation: open %s as root: %s", path,
			      strerror(errno));
		}
		if (write(to_a[1], "x", 1) != 1)
			CHECK(0, "isolation: talks to A");
		waitpid(a, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "isolation: A's blocks intact after all that (status %#x)",
		      status);
		munmap(h.base, h.window);
		close(h.fd);
	}
	close(to_b[0]);
	close(to_a[1]);
}

/* Fresh blocks are zeroed: nothing of a closed heap shows in a new one. */
static void isolation_residue(void)
{
	struct marker m;
	struct fheap h;
	uint64_t off, total = 0, hits, readable, nonzero = 0;
	unsigned int i;
	pid_t pid;
	int status;

	make_marker(&m);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		fh_open(&h);
		for (i = 0; i < 40; i++) {
			if (heap_malloc(h.fd, 256 * KiB, 0, &off, NULL))
				break;
			fill_marker(h.base + off, 256 * KiB, &m);
		}
		_exit(0);	/* the heap goes with the process */
	}
	waitpid(pid, &status, 0);

	fh_open(&h);
	for (i = 0; i < 40; i++) {
		uint64_t size = i % 2 ? 256 * KiB : 4 * KiB;

		if (heap_malloc(h.fd, size, 0, &off, NULL))
			break;
		if (!all_zero(h.base + off, size))
			nonzero++;
		total += size;
	}
	hits = scan_marker(h.base, h.window, &m, &readable);
	CHECK(hits == 0 && nonzero == 0,
	      "isolation: %" PRIu64 " KiB of fresh blocks without ZERO flag are "
	      "zero, no residue of a closed heap (%" PRIu64 " hits, %" PRIu64
	      " non-zero blocks)", (uint64_t)(total / KiB), hits, nonzero);
	munmap(h.base, h.window);
	close(h.fd);
}

static bool maps_line(void *addr, char *perms)
{
	char buf[1 << 16], *line, *end;
	unsigned long lo, hi;

	if (!slurp("/proc/self/maps", buf, sizeof(buf)))
		return false;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		/* "lo-hi perms ..." */
		lo = strtoul(line, &end, 16);
		if (*end != '-')
			continue;
		hi = strtoul(end + 1, &end, 16);
		if (*end != ' ' || strlen(end + 1) < 4)
			continue;
		if ((unsigned long)addr >= lo && (unsigned long)addr < hi) {
			memcpy(perms, end + 1, 4);
			perms[4] = '\0';
			return true;
		}
	}
	return false;
}

/* Mapping tricks beyond tests/vm's (which covers MAP_PRIVATE, offset
 * 4096, too long, PROT_EXEC mmap/mprotect, mremap growth). */
static void isolation_mmap(void)
{
	struct buddy_info info;
	struct buddy_clone_args c;
	char perms[8] = "", path[64];
	char *base, *p;
	int fd, rofd, ret;

	fd = open_heap();
	info = get_info(fd);

	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, info.window_bytes);
	CHECK(p == MAP_FAILED, "mmap: offset at the window's end refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, 1ULL << 44);
	CHECK(p == MAP_FAILED, "mmap: offset 2^44 refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd,
		 info.window_bytes - page_size);
	CHECK(p == MAP_FAILED, "mmap: the window's last page alone (offset != 0) "
	      "refused (%s)", p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE,
		 MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	CHECK(p == MAP_FAILED, "mmap: MAP_SHARED_VALIDATE|MAP_SYNC refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");

	rofd = open(DEV, O_RDONLY | O_CLOEXEC);
	p = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		 rofd, 0);
	CHECK(p == MAP_FAILED && errno == EACCES,
	      "mmap: PROT_WRITE on an O_RDONLY heap refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "mapped");
	/* MAP_SHARED of a read-only file loses VM_SHARED: the device says no */
	p = mmap(NULL, info.window_bytes, PROT_READ, MAP_SHARED, rofd, 0);
	if (p != MAP_FAILED) {
		ret = mprotect(p, page_size, PROT_READ | PROT_WRITE);
		CHECK(ret && errno == EACCES,
		      "mprotect: PROT_WRITE on an O_RDONLY heap's mapping refused (%s)",
		      ret ? strerror(errno) : "allowed");
		munmap(p, info.window_bytes);
	} else {
		CHECK(errno == EINVAL, "mmap: even PROT_READ of an O_RDONLY heap "
		      "refused (%s)", strerror(errno));
	}
	close(rofd);

	/* READ_IMPLIES_EXEC would turn PROT_READ into PROT_EXEC */
	{
		int old = personality(0xffffffff);

		personality(old | READ_IMPLIES_EXEC);
		p = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		personality(old);
		perms[0] = 0;
		if (p != MAP_FAILED) {
			maps_line(p, perms);
			munmap(p, info.window_bytes);
		}
		CHECK(p == MAP_FAILED || !strchr(perms, 'x'),
		      "mmap under READ_IMPLIES_EXEC: refused or not executable (%s %s)",
		      p == MAP_FAILED ? strerror(errno) : "mapped", perms);
	}

	base = map_window_at(fd, info.window_bytes, NULL);
	if (!base)
		BAIL_ERRNO("map window");
	CHECK(maps_line(base, perms) && !strcmp(perms, "rw-s"),
	      "mmap: the window is mapped rw-s, never executable (%s)", perms);
	/* split the mapping, then try PROT_EXEC on a middle piece */
	mprotect(base + 4 * page_size, 4 * page_size, PROT_READ);
	ret = mprotect(base + 5 * page_size, page_size, PROT_READ | PROT_EXEC);
	CHECK(ret != 0, "mprotect: PROT_EXEC on a piece of a split window refused (%s)",
	      ret ? strerror(errno) : "allowed");
	ret = syscall(SYS_pkey_mprotect, base, page_size,
		      PROT_READ | PROT_WRITE | PROT_EXEC, -1);
	CHECK(ret != 0, "pkey_mprotect: PROT_EXEC refused (%s)",
	      ret ? strerror(errno) : "allowed");
	/* shrink with mremap, then try to grow back */
	p = mremap(base, info.window_bytes, info.window_bytes / 2, 0);
	CHECK(p == base, "mremap: shrinking the window works (%s)",
	      p == MAP_FAILED ? strerror(errno) : "ok");
	p = mremap(base, info.window_bytes / 2, info.window_bytes, 0);
	CHECK(p == MAP_FAILED, "mremap: growing a shrunk window back refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");
	p = mremap(base, info.window_bytes / 2, info.window_bytes, MREMAP_MAYMOVE);
	CHECK(p == MAP_FAILED, "mremap: growing it elsewhere (MAYMOVE) refused (%s)",
	      p == MAP_FAILED ? strerror(errno) : "grown");
	munmap(base, info.window_bytes);

	/* a CLONE's file cannot be reopened through /proc */
	memset(&c, 0, sizeof(c));
	ret = xioctl(fd, BUDDY_IOC_CLONE, &c);
	if (!ret) {
		int fd3;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", c.fd);
		fd3 = open(path, O_RDWR | O_CLOEXEC);
		CHECK(fd3 < 0, "isolation: reopening a CLONE's fd through /proc "
		      "refused (%s)", fd3 < 0 ? strerror(errno) : "opened");
		if (fd3 >= 0) {
			struct buddy_info i3;

			memset(&i3, 0, sizeof(i3));
			ktap_diag("reopened clone: INFO %s",
				  strerror(-xioctl(fd3, BUDDY_IOC_INFO, &i3)));
			close(fd3);
		}
		close(c.fd);
	} else {
		CHECK(0, "CLONE: %s", strerror(-ret));
	}
	close(fd);
}

/* An unprivileged user */

static void nobody_child(void *arg)
{
	pid_t root_pid = *(pid_t *)arg;
	struct buddy_info info;
	struct buddy_clone_args c;
	struct buddy_batch bt;
	struct buddy_op ops[4];
	char path[128], buf[64];
	uint64_t off;
	char *base;
	int fd, ret;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)) {
		CHECK(0, "nobody: setuid(%d): %s", NOBODY, strerror(errno));
		return;
	}
	CHECK(getuid() == NOBODY && geteuid() == NOBODY,
	      "nobody: running as uid %d", (int)geteuid());

	fd = open(DEV, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "nobody: can open " DEV " (%s)",
	      fd >= 0 ? "ok" : strerror(errno));
	if (fd < 0)
		return;
	info = get_info(fd);
	base = map_window_at(fd, info.window_bytes, NULL);
	ret = heap_malloc(fd, 1000, 0, &off, NULL);
	CHECK(!ret && base && guarded_touch(base + off, true, 7) == 0 &&
	      base[off] == 7, "nobody: MALLOC, mmap and use a block (%s)",
	      strerror(-ret));
	memset(ops, 0, sizeof(ops));
	ops[0].op = BUDDY_OP_MALLOC;
	ops[0].size = 64;
	ops[1].op = BUDDY_OP_FREE;
	ops[1].offset = off;
	memset(&bt, 0, sizeof(bt));
	bt.ops = (uintptr_t)ops;
	bt.count = 2;
	bt.op_size = sizeof(ops[0]);
	ret = xioctl(fd, BUDDY_IOC_BATCH, &bt);
	CHECK(!ret && !ops[0].result && !ops[1].result, "nobody: BATCH (%s)",
	      strerror(-ret));
	memset(&c, 0, sizeof(c));
	ret = xioctl(fd, BUDDY_IOC_CLONE, &c);
	CHECK(!ret, "nobody: CLONE (%s)", strerror(-ret));
	if (!ret)
		close(c.fd);

	ret = open(DEBUGFS, O_RDONLY | O_DIRECTORY) < 0 ? -errno : 0;
	CHECK(ret == -EACCES || ret == -EPERM, "nobody: " DEBUGFS " closed (%s)",
	      ret ? strerror(-ret) : "opened");
	snprintf(path, sizeof(path), DEBUGFS "/%d-%" PRIu64 "/stats", getpid(),
		 (uint64_t)info.heap_id);
	ret = open(path, O_RDONLY) < 0 ? -errno : 0;
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: its own heap's debugfs stats closed (%s)",
	      ret ? strerror(-ret) : "opened");
	ret = write_file(FAILSLAB "/probability", "100");
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: cannot turn on fault injection (%s)",
	      ret ? strerror(-ret) : "written");
	ret = write_file("/proc/self/make-it-fail", "1");
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: cannot set its own make-it-fail (%s)",
	      ret ? strerror(-ret) : "written");
	ret = syscall(SYS_delete_module, "buddy", O_NONBLOCK) ? -errno : 0;
	CHECK(ret == -EPERM, "nobody: rmmod buddy refused (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	ret = syscall(SYS_init_module, buf, sizeof(buf), "") ? -errno : 0;
	CHECK(ret == -EPERM, "nobody: insmod refused (%s)",
	      ret ? strerror(-ret) : "loaded!");

	/* root's heap stays out of reach */
	snprintf(path, sizeof(path), "/proc/%d/mem", root_pid);
	ret = open(path, O_RDONLY) < 0 ? -errno : 0;
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: root's /proc/PID/mem closed (%s)",
	      ret ? strerror(-ret) : "opened");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", root_pid, *((int *)arg + 1));
	ret = open(path, O_RDWR) < 0 ? -errno : 0;
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: reopening root's heap fd through /proc refused (%s)",
	      ret ? strerror(-ret) : "opened");
	ret = ptrace(PTRACE_ATTACH, root_pid, 0, 0) ? -errno : 0;
	CHECK(ret == -EPERM, "nobody: ptrace of root's process refused (%s)",
	      ret ? strerror(-ret) : "attached");
	{
		struct iovec l = { buf, 16 }, r = { (void *)0x10000, 16 };

		ret = process_vm_readv(root_pid, &l, 1, &r, 1, 0) < 0 ? -errno : 0;
		CHECK(ret == -EPERM || ret == -ENOSYS,
		      "nobody: process_vm_readv of root's process refused (%s)",
		      ret ? strerror(-ret) : "read");
	}
	/* the per-user bound holds for nobody too, and only root moves it */
	ret = write_file(USER_LIMIT_PARAM, "1099511627776");
	CHECK(ret == -EACCES || ret == -EPERM,
	      "nobody: cannot raise max_user_bytes (%s)",
	      ret ? strerror(-ret) : "written");
	{
		int cfd[64], n, i, hfd = open(DEV, O_RDWR | O_CLOEXEC);

		ret = hfd < 0 ? -errno : heap_malloc(hfd, 2 << 20, 0, &off, NULL);
		CHECK(!ret, "nobody: a 2 MiB heap to clone (%s)", strerror(-ret));
		for (n = 0; !ret && n < 64; n++) {
			memset(&c, 0, sizeof(c));
			c.flags = O_CLOEXEC;
			ret = xioctl(hfd, BUDDY_IOC_CLONE, &c);
			if (ret)
				break;
			cfd[n] = c.fd;
		}
		CHECK(ret == -ENOMEM && n >= 4 && n < 8,
		      "nobody: repeated CLONE stops at the 16 MiB per-user bound: "
		      "%d copies, then %s", n, ret ? strerror(-ret) : "none");
		for (i = 0; i < n; i++)
			close(cfd[i]);
		memset(&c, 0, sizeof(c));
		ret = hfd < 0 ? -EBADF : xioctl(hfd, BUDDY_IOC_CLONE, &c);
		CHECK(!ret, "nobody: closing the copies gives the budget back (%s)",
		      strerror(-ret));
		if (!ret)
			close(c.fd);
		if (hfd >= 0)
			close(hfd);
	}
	if (base)
		munmap(base, info.window_bytes);
	close(fd);
}

static void isolation_nobody(void)
{
	struct stat st;
	long long saved;
	char v[32];
	int arg[2];

	memset(&st, 0, sizeof(st));
	CHECK(!stat(DEV, &st) && S_ISCHR(st.st_mode) &&
	      (st.st_mode & 07777) == 0666,
	      DEV " is a character device with mode 0666 (%o)",
	      (unsigned int)(st.st_mode & 07777));
	arg[0] = getpid();
	arg[1] = open_heap();
	saved = read_ll(USER_LIMIT_PARAM, NULL);
	CHECK(saved > 0 && !write_file(USER_LIMIT_PARAM, "16777216"),
	      "max_user_bytes set to 16 MiB for nobody (was %lld)", saved);
	in_child("nobody", nobody_child, arg);
	snprintf(v, sizeof(v), "%lld", saved);
	if (saved > 0)
		CHECK(!write_file(USER_LIMIT_PARAM, v), "max_user_bytes restored");
	close(arg[1]);
}

/* memcg */

struct memcg_arg {
	char cg[128];
	int step_fd;
};

static void step(struct memcg_arg *m, const char *name)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s\n", name);
	if (write(m->step_fd, buf, strlen(buf)) < 0)
		return;
}

static void memcg_child(void *arg)
{
	struct memcg_arg *m = arg;
	char path[256];
	uint64_t off, total = 0, usable;
	struct fheap h;
	int ret = 0, i, fd2;

	/*
	 * Heaps are charged to their opener's group: open them in it, then
	 * charge what this process needs before it reaches the limit.
	 */
	snprintf(path, sizeof(path), "%s/cgroup.procs", m->cg);
	ret = write_file(path, "0");
	CHECK(!ret, "memcg: child moves into %s (%s)", m->cg, strerror(-ret));
	if (ret)
		return;
	fh_open(&h);
	fd2 = open_heap();
	prefault_stack(256 * 1024);
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		CHECK(0, "memcg: mlockall: %s", strerror(errno));

	step(m, "MALLOC until ENOMEM");
	for (i = 0; i < 1000; i++) {
		ret = heap_malloc(h.fd, 512 * KiB, 0, &off, &usable);
		if (ret)
			break;
		fh_add(&h, off, 512 * KiB, usable, false);
		total += 512 * KiB;
	}
	CHECK(ret == -ENOMEM, "memcg: MALLOC at memory.max: ENOMEM after %" PRIu64
	      " KiB (%s)", (uint64_t)(total / KiB), strerror(-ret));

	step(m, "CALLOC");
	ret = heap_alloc(h.fd, BUDDY_IOC_CALLOC, 256 * KiB, 4, 0, 0, &off, NULL);
	CHECK(ret == -ENOMEM, "memcg: CALLOC at the limit: ENOMEM (%s)",
	      strerror(-ret));
	step(m, "MEMALIGN");
	ret = heap_alloc(h.fd, BUDDY_IOC_MEMALIGN, 1 * MiB, 0, 1 * MiB, 0, &off,
			 NULL);
	CHECK(ret == -ENOMEM, "memcg: MEMALIGN at the limit: ENOMEM (%s)",
	      strerror(-ret));
	step(m, "REALLOC");
	if (h.n) {
		ret = heap_realloc(h.fd, h.b[0].off, 4 * MiB, 0, &off, NULL);
		CHECK(ret == -ENOMEM, "memcg: REALLOC growth at the limit: ENOMEM (%s)",
		      strerror(-ret));
	}
	step(m, "MALLOC in a second heap");
	ret = heap_malloc(fd2, 1 * MiB, 0, &off, NULL);
	CHECK(ret == -ENOMEM, "memcg: MALLOC in a second heap at the limit: "
	      "ENOMEM (%s)", strerror(-ret));
	step(m, "BATCH of 16 MALLOC 1 MiB");
	{
		static struct buddy_op ops[BUDDY_BATCH_MAX];
		struct buddy_batch bt;
		unsigned int k, enomem = 0;

		memset(ops, 0, sizeof(ops));
		for (k = 0; k < 16; k++) {
			ops[k].op = BUDDY_OP_MALLOC;
			ops[k].size = 1 * MiB;
		}
		memset(&bt, 0, sizeof(bt));
		bt.ops = (uintptr_t)ops;
		bt.count = 16;
		bt.op_size = sizeof(ops[0]);
		ret = xioctl(h.fd, BUDDY_IOC_BATCH, &bt);
		for (k = 0; !ret && k < bt.done; k++)
			enomem += ops[k].result == -ENOMEM;
		CHECK(ret == -ENOMEM || (!ret && enomem == 16),
		      "memcg: BATCH of 16 x 1 MiB at the limit: ENOMEM (%s, %u ops ENOMEM)",
		      strerror(-ret), enomem);

		step(m, "BATCH of 1024 MALLOC 16");
		for (k = 0; k < BUDDY_BATCH_MAX; k++) {
			ops[k].op = BUDDY_OP_MALLOC;
			ops[k].size = 16;
			ops[k].result = 0;
		}
		bt.count = BUDDY_BATCH_MAX;
		for (i = 0; i < 8; i++) {
			ret = xioctl(h.fd, BUDDY_IOC_BATCH, &bt);
			if (ret)
				break;
		}
		CHECK(ret == 0 || ret == -ENOMEM,
		      "memcg: BATCHes of 1024 ops (48 KiB of arguments) at the limit: "
		      "0 or ENOMEM, no OOM kill (%s)", strerror(-ret));
	}
	step(m, "CLONE, then CALLOC in the clone");
	{
		struct buddy_clone_args c;

		/* a clone shares the pages: only its metadata is charged */
		memset(&c, 0, sizeof(c));
		ret = xioctl(h.fd, BUDDY_IOC_CLONE, &c);
		CHECK(ret == 0 || ret == -ENOMEM,
		      "memcg: CLONE of a heap that does not fit twice: 0 or "
		      "ENOMEM (%s)", strerror(-ret));
		/* zeroing a block of shared pages needs copies of them */
		if (!ret && h.n) {
			ret = heap_free(c.fd, h.b[0].off, NULL);
			if (!ret)
				ret = heap_alloc(c.fd, BUDDY_IOC_CALLOC,
						 h.b[0].size, 1, 0, 0, &off, NULL);
			CHECK(ret == -ENOMEM,
			      "memcg: CALLOC on the clone's shared pages at the "
			      "limit: ENOMEM (%s)", strerror(-ret));
			close(c.fd);
		}
	}
	step(m, "free and allocate again");
	while (h.n > 1) {
		h.n--;
		heap_free(h.fd, h.b[h.n].off, NULL);
	}
	ret = heap_malloc(h.fd, 512 * KiB, 0, &off, NULL);
	CHECK(!ret, "memcg: after frees, MALLOC works again (%s)", strerror(-ret));
	step(m, "done");
	munlockall();
	close(fd2);
	close(h.fd);
}

static void isolation_memcg(void)
{
	struct memcg_arg m;
	char path[200], buf[4096], last[64] = "";
	int pfd[2];
	long long oom, ooms;

	if (!slurp(CGROOT "/cgroup.subtree_control", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		CHECK(0, "memcg: memory controller enabled in " CGROOT);
		return;
	}
	snprintf(m.cg, sizeof(m.cg), CGROOT "/buddy-harden-%d", getpid());
	if (mkdir(m.cg, 0755)) {
		CHECK(0, "memcg: mkdir %s: %s", m.cg, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/memory.max", m.cg);
	CHECK(!write_file(path, "8388608"), "memcg: memory.max 8 MiB");
	snprintf(path, sizeof(path), "%s/memory.swap.max", m.cg);
	write_file(path, "0");
	if (pipe(pfd))
		BAIL_ERRNO("pipe");
	m.step_fd = pfd[1];
	in_child("memcg", memcg_child, &m);
	close(pfd[1]);
	{
		ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
		char *nl;

		buf[n > 0 ? n : 0] = 0;
		/* the last step the child reached */
		while ((nl = strrchr(buf, '\n')) && nl[1] == 0)
			*nl = 0;
		nl = strrchr(buf, '\n');
		snprintf(last, sizeof(last), "%.60s", nl ? nl + 1 : buf);
	}
	close(pfd[0]);
	snprintf(path, sizeof(path), "%s/memory.events", m.cg);
	oom = read_ll(path, "oom_kill ");
	ooms = read_ll(path, "\noom ");
	CHECK(oom == 0, "memcg: nothing OOM-killed in the group (oom_kill %lld, "
	      "oom %lld, last step: %s)", oom, ooms, last);
	CHECK(rmdir(m.cg) == 0, "memcg: group removed (%s)",
	      access(m.cg, F_OK) ? "gone" : strerror(errno));
}

/*
 * Not checks: what the ABI does today with results it cannot hand back.
 * Printed so that a change shows in the log.
 */
/*
 * Results the caller could not receive (issue #14): a read-only BATCH ops
 * array, and CLONE and MALLOC with _IOC_SIZE too short for their outputs,
 * are refused before anything changes.
 */
static void abi_checks(void)
{
	struct buddy_heap_stats st;
	struct buddy_clone_args c;
	struct buddy_alloc_args a;
	struct buddy_batch b;
	struct buddy_op *ro;
	int fd = open_heap(), ret, probe, next;

	ro = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		BAIL_ERRNO("mmap");
	memset(ro, 0, page_size);
	ro->op = BUDDY_OP_MALLOC;
	ro->size = 16;
	mprotect(ro, page_size, PROT_READ);
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)ro;
	b.count = 1;
	b.op_size = sizeof(*ro);
	ret = xioctl(fd, BUDDY_IOC_BATCH, &b);
	heap_stats(fd, &st);
	CHECK(ret == -EFAULT && st.live_blocks == 0,
	      "abi: BATCH with read-only ops: %s, live_blocks afterwards %" PRIu64
	      " (want EFAULT, 0)", errname(-ret), (uint64_t)st.live_blocks);
	munmap(ro, page_size);

	probe = dup(0);
	close(probe);
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	ret = xioctl(fd, ioc_resize(BUDDY_IOC_CLONE, 4), &c);
	next = dup(0);
	close(next);
	CHECK(ret == -EINVAL && next == probe,
	      "abi: CLONE with _IOC_SIZE 4: %s, fd %d %s (want EINVAL, free)",
	      errname(-ret), probe, next != probe ? "installed" : "free");
	if (next != probe)
		close(probe);

	memset(&a, 0, sizeof(a));
	a.size = 100;
	ret = xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, 8), &a);
	heap_stats(fd, &st);
	CHECK(ret == -EINVAL && st.live_blocks == 0,
	      "abi: MALLOC with _IOC_SIZE 8: %s, live_blocks afterwards %" PRIu64
	      " (want EINVAL, 0)", errname(-ret), (uint64_t)st.live_blocks);
	close(fd);
}

int cmd_isolation(void)
{
	guard_install();
	abi_checks();
	isolation_offsets();
	isolation_residue();
	isolation_mmap();
	isolation_nobody();
	isolation_memcg();
	return 0;
}
