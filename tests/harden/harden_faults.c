// SPDX-License-Identifier: GPL-2.0
/*
 * harden_faults.c - buddy_harden faults: failslab and fail_page_alloc
 * (which also fails vmalloc's pages) are pointed at one thread
 * (task-filter + /proc/thread-self/make-it-fail) that runs valid
 * operations on a model heap; every call must succeed or fail with
 * ENOMEM.  After each round, with injection off, every block of the
 * model must still hold its pattern, STATS must agree and frees must
 * succeed.  And a growth failing at each of its allocations in turn
 * (fail-nth) must leave the pages already mapped alone.
 */
#include "buddy_harden.h"

static int fi_set(const char *dir, const char *attr, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	return write_file(path, val);
}

static int fi_config(const char *dir, int probability, long times)
{
	char v[32];
	int ret = 0;

	ret |= fi_set(dir, "task-filter", "Y");
	ret |= fi_set(dir, "verbose", "0");
	ret |= fi_set(dir, "interval", "1");
	ret |= fi_set(dir, "space", "0");
	ret |= fi_set(dir, "ignore-gfp-wait", "N");
	if (!strcmp(dir, FAILPAGE)) {
		ret |= fi_set(dir, "ignore-gfp-highmem", "N");	/* vmalloc pages */
		ret |= fi_set(dir, "min-order", "0");
	}
	snprintf(v, sizeof(v), "%ld", times);
	ret |= fi_set(dir, "times", v);
	snprintf(v, sizeof(v), "%d", probability);
	ret |= fi_set(dir, "probability", v);
	return ret;
}

static long fi_times(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/times", dir);
	return read_ll(path, NULL);
}

static void fi_off(void)
{
	fi_set(FAILSLAB, "probability", "0");
	fi_set(FAILPAGE, "probability", "0");
}

struct fround {
	const char *name;
	bool slab, page;
	int probability;
};

struct fstate {
	struct fheap h;
	int mif;		/* /proc/thread-self/make-it-fail */
	uint64_t seed;
	struct counters res;
	unsigned int bad;	/* results other than 0 / ENOMEM */
	char badmsg[200];
	unsigned int clones_ok, opens_ok;
};

static void mif(struct fstate *f, bool on)
{
	if (pwrite(f->mif, on ? "1" : "0", 1, 0) != 1)
		BAIL_ERRNO("make-it-fail");
}

static void fbad(struct fstate *f, const char *what, int ret)
{
	if (!f->bad++)
		snprintf(f->badmsg, sizeof(f->badmsg), "%s: %s", what,
			 errname(-ret));
}

/* A result under injection: 0 or ENOMEM, anything else is a failure. */
static bool fres(struct fstate *f, const char *what, int ret)
{
	count_res(&f->res, ret);
	if (ret && ret != -ENOMEM) {
		fbad(f, what, ret);
		return false;
	}
	return true;
}

static uint64_t fsize(uint64_t *s)
{
	unsigned int r = rndn(s, 100);

	if (r < 60)
		return 1 + rndn(s, 1024);
	if (r < 90)
		return 1025 + rndn(s, 63 * 1024);
	if (r < 98)
		return 64 * KiB + rndn(s, 448 * KiB);
	return 1 * MiB + rndn(s, 2 * MiB);	/* a new chunk, mostly */
}

/* One operation with injection on for this thread only. */
static void fault_op(struct fstate *f)
{
	struct fheap *h = &f->h;
	uint64_t *s = &f->seed;
	unsigned int r = rndn(s, 100), i;
	uint64_t off, usable, size, bytes = 0;
	int ret;

	/* keep the heap well below its cap: injected failures, not the cap */
	for (i = 0; i < h->n; i++)
		bytes += h->b[i].usable;
	if (h->n > FB_MAX / 2 || bytes > h->window / 3) {
		if (r < 35 || (r >= 70 && r < 85))
			r = 40;		/* a FREE instead */
	}
	if (!h->n || r < 35) {
		static const unsigned long cmds[] = {
			BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC, BUDDY_IOC_MEMALIGN,
		};
		unsigned long cmd = cmds[rndn(s, 3)];
		uint64_t nmemb = cmd == BUDDY_IOC_CALLOC ? 1 + rndn(s, 4) : 0;
		uint64_t align = cmd == BUDDY_IOC_MEMALIGN ? 1ULL << rndn(s, 16) : 0;

		size = fsize(s);
		mif(f, true);
		ret = heap_alloc(h->fd, cmd, size, nmemb, align, 0, &off, &usable);
		mif(f, false);
		if (fres(f, "alloc", ret) && !ret) {
			if (nmemb)
				size *= nmemb;
			if (nmemb && !all_zero(h->base + off, size))
				fbad(f, "CALLOC block not zeroed", 0);
			fh_add(h, off, size, usable, true);
		}
	} else if (r < 55) {
		uint32_t reason = 0;

		i = rndn(s, h->n);

		if (pat_check(h->base + h->b[i].off, h->b[i].size, h->b[i].seed) >= 0)
			fbad(f, "block lost its data before FREE", 0);
		mif(f, true);
		ret = heap_free(h->fd, h->b[i].off, &reason);
		mif(f, false);
		if (fres(f, "FREE", ret) && !ret)
			h->b[i] = h->b[--h->n];
	} else if (r < 70) {
		struct fblk *b = &h->b[rndn(s, h->n)];
		uint64_t keep;

		size = chance(s, 50) ? b->size * 4 + 1 : fsize(s);
		mif(f, true);
		ret = heap_realloc(h->fd, b->off, size, 0, &off, &usable);
		mif(f, false);
		if (fres(f, "REALLOC", ret) && !ret) {
			keep = size < b->size ? size : b->size;
			if (pat_check(h->base + off, keep, b->seed) >= 0)
				fbad(f, "REALLOC lost the contents", 0);
			b->off = off;
			b->size = size;
			b->usable = usable;
			pat_fill(h->base + off, size, b->seed);
		}
	} else if (r < 85) {
		static struct buddy_op ops[BUDDY_BATCH_MAX];
		struct buddy_batch bt;
		unsigned int n = 1 + rndn(s, chance(s, 20) ? BUDDY_BATCH_MAX / 8 : 16);

		if (n > FB_MAX - h->n)
			n = FB_MAX - h->n;	/* every MALLOC fits the model */
		/* allocations and USABLE_SIZE of known blocks */
		memset(ops, 0, n * sizeof(*ops));
		for (i = 0; i < n; i++) {
			if (h->n && chance(s, 30)) {
				ops[i].op = BUDDY_OP_USABLE_SIZE;
				ops[i].offset = h->b[rndn(s, h->n)].off;
			} else {
				ops[i].op = BUDDY_OP_MALLOC;
				ops[i].size = fsize(s) / 4 + 1;
			}
		}
		memset(&bt, 0, sizeof(bt));
		bt.ops = (uintptr_t)ops;
		bt.count = n;
		bt.op_size = sizeof(*ops);
		mif(f, true);
		ret = xioctl(h->fd, BUDDY_IOC_BATCH, &bt);
		mif(f, false);
		if (fres(f, "BATCH", ret) && !ret) {
			for (i = 0; i < bt.done; i++) {
				if (ops[i].op == BUDDY_OP_USABLE_SIZE) {
					if (ops[i].result)
						fbad(f, "BATCH USABLE_SIZE", ops[i].result);
					continue;
				}
				if (fres(f, "BATCH MALLOC", ops[i].result) &&
				    !ops[i].result)
					fh_add(h, ops[i].offset, ops[i].size,
					       ops[i].usable, true);
			}
		}
	} else if (r < 90) {
		struct buddy_heap_stats st;

		mif(f, true);
		ret = heap_stats(h->fd, &st);
		mif(f, false);
		fres(f, "STATS", ret);
	} else if (r < 95) {
		struct buddy_clone_args c;

		memset(&c, 0, sizeof(c));
		c.flags = O_CLOEXEC;
		mif(f, true);
		ret = xioctl(h->fd, BUDDY_IOC_CLONE, &c);
		mif(f, false);
		if (fres(f, "CLONE", ret) && !ret) {
			char *cb = mmap(NULL, h->window, PROT_READ, MAP_SHARED,
					c.fd, 0);

			f->clones_ok++;
			if (cb == MAP_FAILED) {
				fbad(f, "mmap of a clone", -errno);
			} else {
				for (i = 0; i < h->n; i++)
					if (pat_check(cb + h->b[i].off, h->b[i].size,
						      h->b[i].seed) >= 0)
						break;
				if (i < h->n)
					fbad(f, "a CLONE made under injection lacks data", 0);
				munmap(cb, h->window);
			}
			close(c.fd);
		}
	} else {
		/* a new heap (open), maybe mapped, with a block */
		int fd;

		mif(f, true);
		fd = open(DEV, O_RDWR | O_CLOEXEC);
		ret = fd < 0 ? -errno : 0;
		if (fd >= 0) {
			ret = heap_malloc(fd, fsize(s), 0, &off, NULL);
			if (ret == -ENOMEM)
				ret = 0;	/* counted as the open's success */
		}
		mif(f, false);
		fres(f, "open", ret);
		if (fd >= 0) {
			f->opens_ok++;
			close(fd);
		}
	}
}

static void faults_child(void *arg)
{
	static const struct fround rounds[] = {
		{ "failslab 10%", true, false, 10 },
		{ "fail_page_alloc 10%", false, true, 10 },
		{ "failslab+fail_page_alloc 5%", true, true, 5 },
		{ "failslab+fail_page_alloc 30%", true, true, 30 },
		{ "failslab 100%", true, false, 100 },
		{ "fail_page_alloc 100%", false, true, 100 },
	};
	bool shrt = *(bool *)arg;
	unsigned int nops = shrt ? 60 : 1000, i, k;
	static struct fstate f;
	const long times0 = 1000000;
	char why[200];

	memset(&f, 0, sizeof(f));
	f.seed = 0x1234567 ^ (uint64_t)getpid();
	fh_open(&f.h);
	f.mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (f.mif < 0) {
		CHECK(0, "faults: open /proc/thread-self/make-it-fail: %s",
		      strerror(errno));
		return;
	}
	/* nothing of ours may need a new page while injection is on */
	prefault_stack(256 * 1024);
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		CHECK(0, "faults: mlockall: %s", strerror(errno));

	/*
	 * Reproducer: a BATCH whose argument copy (> PAGE_SIZE: kvmalloc)
	 * cannot be allocated.  kvmalloc()'s kmalloc attempt fails quietly;
	 * its vmalloc fallback must fail quietly too (__GFP_NOWARN), like
	 * every other allocation a user can make fail.  118 ops (5.5 KiB, a
	 * slab object) with failslab; 1024 ops (48 KiB, pages) with
	 * fail_page_alloc.
	 */
	for (i = 0; i < 2; i++) {
		static struct buddy_op ops[BUDDY_BATCH_MAX];
		const char *dir = i ? FAILPAGE : FAILSLAB;
		struct buddy_batch bt;
		unsigned int n = i ? BUDDY_BATCH_MAX : 118;
		int ret;

		memset(ops, 0, sizeof(ops));
		for (k = 0; k < n; k++) {
			ops[k].op = BUDDY_OP_MALLOC;
			ops[k].size = 16;
		}
		memset(&bt, 0, sizeof(bt));
		bt.ops = (uintptr_t)ops;
		bt.count = n;
		bt.op_size = sizeof(ops[0]);
		fi_off();
		fi_config(dir, 100, 64);
		kmsg_reports(why, sizeof(why));
		mif(&f, true);
		ret = xioctl(f.h.fd, BUDDY_IOC_BATCH, &bt);
		mif(&f, false);
		fi_off();
		k = kmsg_reports(why, sizeof(why));
		CHECK(ret == -ENOMEM && k == 0,
		      "faults: BATCH of %u ops whose argument copy cannot be "
		      "allocated (%s): ENOMEM (%s), quietly (%u kernel log lines%s%s)",
		      n, i ? "fail_page_alloc" : "failslab", errname(-ret), k,
		      k ? ", first: " : "", why);
		for (k = 0; !ret && k < bt.done; k++)
			if (!ops[k].result)
				heap_free(f.h.fd, ops[k].offset, NULL);
	}

	for (i = 0; i < ARRAY_SIZE(rounds); i++) {
		const struct fround *rd = &rounds[i];
		long slab0, page0, slab1, page1;
		unsigned int n = rd->probability == 100 ? nops / 5 : nops;
		uint64_t size;
		bool ok;

		memset(&f.res, 0, sizeof(f.res));
		f.bad = 0;
		f.clones_ok = f.opens_ok = 0;
		fi_off();
		if (fi_config(FAILSLAB, rd->slab ? rd->probability : 0, times0) ||
		    fi_config(FAILPAGE, rd->page ? rd->probability : 0, times0)) {
			CHECK(0, "faults: configure " FAILSLAB " and " FAILPAGE);
			fi_off();
			return;
		}
		slab0 = fi_times(FAILSLAB);
		page0 = fi_times(FAILPAGE);
		kmsg_reports(why, sizeof(why));
		/*
		 * First blocks bigger than the heap holds: each needs a new
		 * chunk (vmalloc: slab objects and thousands of pages), so an
		 * injected failure reaches the caller within a few tries.  A
		 * block the window has no room for left fails with ENOMEM
		 * before anything is allocated: no failure was injected, so
		 * it is not counted and half the size is tried.
		 */
		for (k = 0, size = f.h.window / 2; k < 20 && size >= 64 * KiB; k++) {
			long injected = fi_times(FAILSLAB) + fi_times(FAILPAGE);
			uint64_t off;
			int ret;

			mif(&f, true);
			ret = heap_malloc(f.h.fd, size, 0, &off, NULL);
			mif(&f, false);
			injected -= fi_times(FAILSLAB) + fi_times(FAILPAGE);
			if (ret == -ENOMEM && !injected) {
				size /= 2;
				continue;
			}
			fres(&f, "MALLOC of a new chunk", ret);
			if (ret)
				break;
			heap_free(f.h.fd, off, NULL);
		}
		/*
		 * And a new heap, which always allocates slab objects (the
		 * window may have had no room for a new chunk at all).
		 */
		{
			int fd;

			mif(&f, true);
			fd = open(DEV, O_RDWR | O_CLOEXEC);
			mif(&f, false);
			fres(&f, "open", fd < 0 ? -errno : 0);
			if (fd >= 0)
				close(fd);
		}
		for (k = 0; k < n; k++)
			fault_op(&f);
		fi_off();
		k = kmsg_reports(why, sizeof(why));
		CHECK(k == 0, "faults: %s: no warning or splat in the kernel log "
		      "(%u lines%s%s)", rd->name, k, k ? ", first: " : "", why);
		slab1 = fi_times(FAILSLAB);
		page1 = fi_times(FAILPAGE);
		ktap_diag("faults: %s: %ld slab and %ld page failures injected, "
			  "%u clones, %u opens succeeded", rd->name,
			  slab0 - slab1, page0 - page1, f.clones_ok,
			  f.opens_ok);
		print_counters("  ", &f.res);
		CHECK(!f.bad, "faults: %s: every call returned 0 or ENOMEM (%u did not%s%s)",
		      rd->name, f.bad, f.bad ? ": " : "", f.bad ? f.badmsg : "");
		CHECK((slab0 - slab1) + (page0 - page1) > 0 &&
		      (!rd->slab || rd->page || slab0 - slab1 > 0) &&
		      (!rd->page || rd->slab || page0 - page1 > 0) &&
		      f.res.res[ENOMEM] > 0,
		      "faults: %s: failures were injected and reached the caller (%"
		      PRIu64 " ENOMEM)", rd->name, (uint64_t)f.res.res[ENOMEM]);
		ok = fh_verify(&f.h, why, sizeof(why));
		CHECK(ok, "faults: %s: injection off, the heap is consistent (%s)",
		      rd->name, why);
	}
	/* everything frees, the heap ends empty */
	{
		struct buddy_heap_stats st;
		unsigned int bad = 0;

		while (f.h.n) {
			f.h.n--;
			if (heap_free(f.h.fd, f.h.b[f.h.n].off, NULL))
				bad++;
		}
		CHECK(!bad && !heap_stats(f.h.fd, &st) && !st.live_blocks &&
		      !st.bytes_in_use,
		      "faults: afterwards every block frees (%u failed), the heap is empty",
		      bad);
	}
	munlockall();
	close(f.h.fd);
	close(f.mif);
}

/* How many times the kernel log says kmemleak turned itself off. */
static int kmemleak_off_messages(void)
{
	char buf[64];
	FILE *p = popen("dmesg | grep -c 'kmemleak.*disabled'", "r");
	int n = -1;

	if (p) {
		if (fgets(buf, sizeof(buf), p))
			n = (int)strtol(buf, NULL, 10);
		pclose(p);
	}
	return n;
}

/* Pages of [p, p + n) with a page table entry, as mincore() sees them. */
static unsigned int resident_pages(char *p, size_t n)
{
	static unsigned char vec[4096];
	unsigned int i, k = 0;

	if (n / page_size > sizeof(vec) || mincore(p, n, vec))
		return 0;
	for (i = 0; i < n / page_size; i++)
		k += vec[i] & 1;
	return k;
}

/*
 * Growth failing at each of its allocations in turn (fail-nth: the n-th
 * fault-injection point of the call fails): a failed growth must leave the
 * pages already mapped alone.  It used to zap the whole window when the
 * chunk's metadata could not be allocated (issue #14, item 6).
 */
static void faults_zap_grow(uint64_t grow)
{
	const uint64_t first = 64 * 1024;
	unsigned int n, failed = 0, zapped = 0, res = 0, bad_res = 0;
	struct buddy_info info;
	uint64_t off, off1;
	char v[16], *base;
	long long left = 0;
	int fd, ret, nth;

	if (fi_config(FAILSLAB, 0, -1) || fi_config(FAILPAGE, 0, -1)) {
		CHECK(0, "faults: fail-nth: configure fault injection");
		return;
	}
	nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth < 0) {
		CHECK(0, "faults: fail-nth: open /proc/thread-self/fail-nth: %s",
		      strerror(errno));
		return;
	}
	/* a fresh heap per round: a growth that succeeded keeps its chunk */
	for (n = 1; n < 3000; n++) {
		fd = open_heap();
		info = get_info(fd);
		base = map_window_at(fd, info.window_bytes, NULL);
		if (!base || heap_malloc(fd, first, 0, &off1, NULL))
			BAIL_ERRNO("faults: a first chunk");
		memset(base + off1, 0x5a, first);
		res = resident_pages(base + off1, first);
		if (res != first / page_size)
			bad_res++;
		/*
		 * Set and read fail-nth through one open file: opening it
		 * again would allocate, and spend what the growth left.
		 */
		snprintf(v, sizeof(v), "%u", n);
		if (pwrite(nth, v, strlen(v), 0) != (ssize_t)strlen(v)) {
			CHECK(0, "faults: fail-nth: write /proc/thread-self/fail-nth");
			break;
		}
		ret = heap_malloc(fd, grow, 0, &off, NULL);
		/* 0: the n-th injection point was reached (and failed) */
		memset(v, 0, sizeof(v));
		left = pread(nth, v, sizeof(v) - 1, 0) > 0 ? strtoll(v, NULL, 10) : -1;
		if (pwrite(nth, "0", 1, 0) != 1)
			left = -1;
		if (ret)
			failed++;
		if (ret && resident_pages(base + off1, first) != res)
			zapped++;
		munmap(base, info.window_bytes);
		close(fd);
		if (left)
			break;	/* fewer than n points: all of them tried */
	}
	close(nth);
	CHECK(left > 0 && failed > 0 && zapped == 0 && !bad_res,
	      "faults: a %llu KiB growth failing at each of its %u allocation "
	      "points in turn (%u failed it) leaves the %u mapped pages mapped "
	      "(%u rounds zapped them; %lld left, %u bad setups)",
	      (unsigned long long)(grow >> 10), n - 1, failed, res, zapped,
	      left, bad_res);
}

/*
 * 64 KiB: a chunk whose metadata is one kmalloc (a single failure fails
 * it); 1 MiB: metadata from vmalloc.
 */
static void faults_zap_child(void *arg)
{
	(void)arg;
	faults_zap_grow(64 * 1024);
	faults_zap_grow(1 << 20);
}

int cmd_faults(bool shrt)
{
	int before, after;

	if (access(FAILSLAB, F_OK) || access(FAILPAGE, F_OK)) {
		CHECK(0, "faults: " FAILSLAB " and " FAILPAGE " exist (debug kernel?)");
		return 1;
	}
	before = kmemleak_off_messages();
	in_child("faults", faults_child, &shrt);
	fi_off();
	in_child("faults zap", faults_zap_child, NULL);
	fi_off();
	/* kmemleak's own metadata allocations are failed too (its pool) */
	after = kmemleak_off_messages();
	CHECK(before >= 0 && after == before,
	      "faults: kmemleak did not turn itself off under injection (%d -> %d "
	      "messages)", before, after);
	return 0;
}
