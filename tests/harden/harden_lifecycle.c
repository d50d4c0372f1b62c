// SPDX-License-Identifier: GPL-2.0
/*
 * harden_lifecycle.c - buddy_harden lifecycle: rmmod is refused while a
 * heap is reachable in any way (a CLONE fd, a clone's mapping, an fd in
 * flight in a unix socket, an fd held by a child, an open debugfs file)
 * and works once nothing is left; processes SIGKILLed at random moments
 * during BATCH, CLONE and faults leave nothing behind (rmmod works,
 * optionally kmemleak is clean).
 */
#include "buddy_harden.h"

static bool busy(int ret)
{
	return ret == -EBUSY || ret == -EAGAIN;
}

/* The module's parameters as they are now, for loading it again. */
static void mod_params(char *buf, size_t size)
{
	static const char *const names[] = {
		"max_heap_bytes", "min_chunk_bytes", "low_water_bytes",
	};
	char path[128];
	unsigned int i;
	size_t len = 0;

	buf[0] = 0;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "/sys/module/buddy/parameters/%s",
			 names[i]);
		len += snprintf(buf + len, size - len, "%s%s=%lld",
				len ? " " : "", names[i], read_ll(path, NULL));
	}
}

/* Every way a heap can outlive its fd keeps the module in. */
static void lifecycle_refs(void)
{
	struct buddy_clone_args c;
	uint64_t window, off;
	char *cbase, path[160], buf[64];
	int fd, ret, sv[2], dfd;

	/* a CLONE fd alone */
	fd = open_heap();
	window = get_info(fd).window_bytes;
	memset(&c, 0, sizeof(c));
	if (xioctl(fd, BUDDY_IOC_CLONE, &c))
		BAIL_ERRNO("CLONE");
	close(fd);
	ret = mod_delete();
	CHECK(busy(ret), "lifecycle: rmmod refused while only a CLONE's fd is open (%s)",
	      ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	/* its mapping alone */
	cbase = map_window_at(c.fd, window, NULL);
	if (!cbase)
		BAIL_ERRNO("map clone");
	close(c.fd);
	ret = mod_delete();
	CHECK(busy(ret), "lifecycle: rmmod refused while only a CLONE's mapping "
	      "exists (%s)", ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	munmap(cbase, window);

	/* an fd in flight in a unix socket, nobody holding it */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		BAIL_ERRNO("socketpair");
	{
		struct msghdr mh;
		struct iovec iov = { (void *)"x", 1 };
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr *cm;

		fd = open_heap();
		memset(&mh, 0, sizeof(mh));
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sv[0], &mh, 0) != 1)
			BAIL_ERRNO("sendmsg");
		close(fd);
	}
	ret = mod_delete();
	CHECK(busy(ret), "lifecycle: rmmod refused while a heap's fd is in flight "
	      "in a unix socket (%s)", ret ? strerror(-ret) : "unloaded!");
	if (!ret)
		return;
	close(sv[0]);
	close(sv[1]);

	/* an fd held by a child only */
	{
		int p[2], status;
		pid_t pid;
		char ch;

		if (pipe(p))
			BAIL_ERRNO("pipe");
		fd = open_heap();
		pid = fork();
		if (!pid) {
			close(p[1]);
			if (read(p[0], &ch, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(fd);
		close(p[0]);
		ret = mod_delete();
		CHECK(busy(ret), "lifecycle: rmmod refused while a child holds the "
		      "only fd (%s)", ret ? strerror(-ret) : "unloaded!");
		close(p[1]);
		waitpid(pid, &status, 0);
		if (!ret)
			return;
	}

	/* an open debugfs file of a heap that is gone */
	fd = open_heap();
	heap_malloc(fd, 100, 0, &off, NULL);
	snprintf(path, sizeof(path), DEBUGFS "/%d-%" PRIu64 "/map", getpid(),
		 (uint64_t)get_info(fd).heap_id);
	dfd = open(path, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		CHECK(0, "lifecycle: open %s: %s", path, strerror(errno));
	} else {
		close(fd);
		ret = read(dfd, buf, sizeof(buf)) < 0 ? -errno : 0;
		CHECK(ret == -EIO, "lifecycle: reading a closed heap's debugfs map "
		      "fails with EIO (%s)", ret ? strerror(-ret) : "read");
		ret = mod_delete();
		CHECK(busy(ret), "lifecycle: rmmod refused while a debugfs file is "
		      "open (%s)", ret ? strerror(-ret) : "unloaded!");
		close(dfd);
		if (!ret)
			return;
	}
	/* wait for deferred releases (e.g. unix socket garbage collection) */
	for (ret = 0; ret < 50 && mod_refcnt() != 0; ret++)
		usleep(100000);
	CHECK(mod_refcnt() == 0, "lifecycle: refcnt 0 once nothing refers to a heap "
	      "(%lld)", mod_refcnt());
}

/* A child that keeps the heap busy from three threads until killed. */
struct victim {
	int fd;
	char *base;
	uint64_t window;
	int ready;
	uint64_t seed;
};

static void *victim_batch(void *arg)
{
	struct victim *v = arg;
	static struct buddy_op ops[BUDDY_BATCH_MAX];
	uint64_t live[BUDDY_BATCH_MAX];
	unsigned int nlive = 0, i;
	struct buddy_batch bt;
	uint64_t s = v->seed;
	bool told = false;

	for (;;) {
		for (i = 0; i < BUDDY_BATCH_MAX; i++) {
			memset(&ops[i], 0, sizeof(ops[i]));
			if (nlive && chance(&s, 45)) {
				ops[i].op = chance(&s, 70) ? BUDDY_OP_FREE :
					    BUDDY_OP_REALLOC;
				ops[i].offset = live[--nlive];
				ops[i].size = ops[i].op == BUDDY_OP_REALLOC ?
					      1 + rndn(&s, 64 * KiB) : 0;
			} else {
				ops[i].op = chance(&s, 80) ? BUDDY_OP_MALLOC :
					    BUDDY_OP_CALLOC;
				ops[i].size = 1 + rndn(&s, chance(&s, 1) ?
						       1 * MiB : 4 * KiB);
				ops[i].arg = ops[i].op == BUDDY_OP_CALLOC ? 2 : 0;
			}
		}
		memset(&bt, 0, sizeof(bt));
		bt.ops = (uintptr_t)ops;
		bt.count = BUDDY_BATCH_MAX;
		bt.op_size = sizeof(ops[0]);
		if (ioctl(v->fd, BUDDY_IOC_BATCH, &bt))
			continue;
		for (i = 0; i < bt.done; i++)
			if (!ops[i].result && ops[i].op != BUDDY_OP_FREE &&
			    nlive < BUDDY_BATCH_MAX)
				live[nlive++] = ops[i].offset;
		if (nlive > BUDDY_BATCH_MAX / 2)
			nlive /= 2;	/* leave some in the heap */
		if (!told) {
			told = true;
			if (write(v->ready, "r", 1) != 1)
				_exit(1);
		}
	}
	return NULL;
}

static void *victim_clone(void *arg)
{
	struct victim *v = arg;
	struct buddy_clone_args c;
	int keep[3] = { -1, -1, -1 };	/* a few clones stay open, mapped */
	unsigned int n = 0;

	for (;;) {
		memset(&c, 0, sizeof(c));
		c.flags = O_CLOEXEC;
		if (ioctl(v->fd, BUDDY_IOC_CLONE, &c))
			continue;
		{
			char *b = mmap(NULL, v->window, PROT_READ, MAP_SHARED,
				       c.fd, 0);

			if (b != MAP_FAILED) {
				guarded_touch(b, false, 0);
				if (n & 1)
					munmap(b, v->window);	/* else leave it */
			}
		}
		if (keep[n % 3] >= 0)
			close(keep[n % 3]);
		keep[n % 3] = c.fd;
		n++;
	}
	return NULL;
}

static void *victim_touch(void *arg)
{
	struct victim *v = arg;
	uint64_t s = v->seed ^ 0xabcdef;

	for (;;) {
		uint64_t off = rndn(&s, 4 * MiB);

		guarded_touch(v->base + off, true, 1);
		if (chance(&s, 5))
			madvise(v->base, 4 * MiB, MADV_DONTNEED);
	}
	return NULL;
}

static void victim_main(int ready, uint64_t seed)
{
	struct victim v;
	pthread_t t[3];

	guard_install();
	v.fd = open_heap();
	v.window = get_info(v.fd).window_bytes;
	v.base = map_window_at(v.fd, v.window, NULL);
	v.ready = ready;
	v.seed = seed;
	if (!v.base)
		_exit(1);
	if (seed & 1) {
		/* a grandchild shares the mapping and the fd */
		if (!fork()) {
			for (;;)
				guarded_touch(v.base + rndn(&seed, 4 * MiB), true, 2);
		}
	}
	pthread_create(&t[0], NULL, victim_batch, &v);
	pthread_create(&t[1], NULL, victim_clone, &v);
	pthread_create(&t[2], NULL, victim_touch, &v);
	for (;;)
		pause();
}

static int lifecycle_kills(int kills)
{
	uint64_t s = 0x51ce ^ (uint64_t)getpid();
	int i, killed = 0, odd = 0, status;
	double t0 = now_s();

	for (i = 0; i < kills; i++) {
		int p[2];
		pid_t pid;
		char ch;

		if (pipe(p))
			BAIL_ERRNO("pipe");
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			BAIL_ERRNO("fork");
		if (!pid) {
			setpgid(0, 0);
			close(p[0]);
			victim_main(p[1], rnd(&s) | (uint64_t)i);
			_exit(0);
		}
		setpgid(pid, pid);
		close(p[1]);
		/* wait until the first BATCH is through, then a random delay */
		if (read(p[0], &ch, 1) != 1)
			odd++;
		close(p[0]);
		usleep(rndn(&s, 40000));
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else
			odd++;
	}
	/* the grandchildren are reparented to init: wait until they are gone */
	for (i = 0; i < 100 && mod_refcnt() != 0; i++)
		usleep(100000);
	ktap_diag("lifecycle: %d victims killed in %.1f s", killed,
		  now_s() - t0);
	CHECK(killed == kills && !odd,
	      "lifecycle: %d processes SIGKILLed during BATCH/CLONE/faults (%d odd)",
	      kills, odd);
	CHECK(mod_refcnt() == 0, "lifecycle: afterwards nothing holds the module "
	      "(refcnt %lld)", mod_refcnt());
	return 0;
}

/* Objects kmemleak reports that were allocated after @since (jiffies). */
static int kmemleak_new(unsigned long long since, char *first, size_t size)
{
	static char buf[1 << 20];
	char *p, *q;
	int n = 0;

	first[0] = 0;
	if (write_file("/sys/kernel/debug/kmemleak", "scan"))
		return -1;
	sleep(6);
	if (write_file("/sys/kernel/debug/kmemleak", "scan"))
		return -1;
	if (!slurp("/sys/kernel/debug/kmemleak", buf, sizeof(buf)))
		return -1;
	for (p = strstr(buf, "unreferenced object"); p;
	     p = strstr(p + 1, "unreferenced object")) {
		q = strstr(p, ", jiffies ");
		if (q && strtoull(q + 10, NULL, 10) >= since) {
			if (!n++)
				snprintf(first, size, "%.*s", (int)strcspn(p, "\n"), p);
		}
	}
	return n;
}

static unsigned long long jiffies_now(void)
{
	static char buf[1 << 16];
	char *p;

	if (!slurp("/proc/timer_list", buf, sizeof(buf)))
		return 0;
	p = strstr(buf, "jiffies: ");
	return p ? strtoull(p + 9, NULL, 10) : 0;
}

int cmd_lifecycle(const char *ko, int kills, bool leakcheck)
{
	char params[256], first[256];
	unsigned long long since = jiffies_now();
	int ret;

	guard_install();
	if (access(DEV, F_OK)) {
		CHECK(0, "lifecycle: " DEV " exists (module loaded)");
		return 1;
	}
	mod_params(params, sizeof(params));
	lifecycle_refs();
	lifecycle_kills(kills);

	ret = mod_delete();
	CHECK(!ret, "lifecycle: rmmod once everything is closed (%s)",
	      ret ? strerror(-ret) : "ok");
	CHECK(access(DEV, F_OK) && access(DEBUGFS, F_OK),
	      "lifecycle: " DEV " and " DEBUGFS " gone");
	if (leakcheck) {
		ret = kmemleak_new(since, first, sizeof(first));
		CHECK(ret == 0, "lifecycle: kmemleak finds nothing new after rmmod "
		      "(%d objects%s%s)", ret, ret > 0 ? ": " : "", first);
	}
	ret = mod_load(ko, params);
	CHECK(!ret, "lifecycle: insmod %s %s again (%s)", ko, params,
	      ret ? strerror(-ret) : "ok");
	return 0;
}
