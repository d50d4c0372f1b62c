// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_harden - fault injection, isolation/privilege and lifecycle checks
 * of /dev/buddy, run as root inside the debug-kernel test VM.
 *
 *	buddy_harden faults [--short]
 *	buddy_harden isolation
 *	buddy_harden lifecycle MODULE.ko [--kills N] [--kmemleak]
 *
 * faults: failslab and fail_page_alloc (which also fails vmalloc's pages)
 *   are pointed at one thread (task-filter + /proc/thread-self/make-it-fail)
 *   that runs valid operations on a model heap; every call must succeed
 *   or fail with ENOMEM.  After each round, with injection off, every
 *   block of the model must still hold its pattern, STATS must agree and
 *   frees must succeed.
 * isolation: another process's offsets are refused or reach only one's
 *   own blocks, its data is never visible, fresh blocks carry no residue
 *   of a closed heap, reopening through /proc gives a new heap, mapping
 *   tricks the device tests do not cover are refused (offset past the
 *   window, O_RDONLY + PROT_WRITE, READ_IMPLIES_EXEC, mremap regrowth,
 *   PROT_EXEC on a split piece), an unprivileged user (nobody) can use
 *   /dev/buddy but not debugfs, fault injection or the module, and a
 *   memcg at its memory.max gets ENOMEM from every allocating path.
 * lifecycle: rmmod is refused while a heap is reachable in any way (a
 *   CLONE fd, a clone's mapping, an fd in flight in a unix socket, an fd
 *   held by a child, an open debugfs file) and works once nothing is left;
 *   processes SIGKILLed at random moments during BATCH, CLONE and faults
 *   leave nothing behind (rmmod works, optionally kmemleak is clean).
 *
 * Output is KTAP (tests/lib/ktap.h): "ok N ..." / "not ok N ..." lines,
 * "# " details and "N passed, M failed".
 */
#include "harden.h"

#include <dirent.h>
#include <grp.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc"
#define CGROOT		"/sys/fs/cgroup"
#define NOBODY		65534

static size_t page_size;

/*
 * The kernel log since the last call: the first line that looks like a
 * report (warn_alloc splats, WARNING, BUG, KASAN, lockdep) goes to @first;
 * returns how many such lines there were.
 */
static int kmsg_reports(char *first, size_t size)
{
	static unsigned long seen;
	static const char *const pats[] = {
		"vmalloc error", "page allocation failure", "WARNING:", "BUG:",
		"KASAN", "possible circular locking", "Call Trace",
	};
	char line[512];
	unsigned long n = 0;
	unsigned int i;
	int hits = 0;
	FILE *p = popen("dmesg 2>/dev/null", "r");

	first[0] = 0;
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		if (n++ < seen)
			continue;
		for (i = 0; i < ARRAY_SIZE(pats); i++)
			if (strstr(line, pats[i]))
				break;
		if (i == ARRAY_SIZE(pats))
			continue;
		if (!hits++)
			snprintf(first, size, "%.*s", (int)strcspn(line, "\n"), line);
	}
	pclose(p);
	seen = n;
	return hits;
}

/* Fault in @bytes of stack now, so that later calls need no new pages. */
static void __attribute__((noinline)) prefault_stack(size_t bytes)
{
	/* cppcheck-suppress allocaCalled ; the point is to grow the stack */
	volatile char *p = alloca(bytes);
	size_t i;

	for (i = 0; i < bytes; i += 4096)
		p[i] = 0;
}

/* A model heap: blocks with patterns, shared by faults and memcg */

#define FB_MAX	512

struct fblk {
	uint64_t off, size, usable;
	uint32_t seed;
};

struct fheap {
	int fd;
	char *base;
	uint64_t window;
	unsigned int n;
	struct fblk b[FB_MAX];
	uint32_t gen;
};

static void fh_open(struct fheap *h)
{
	struct buddy_info info;

	memset(h, 0, sizeof(*h));
	h->fd = open_heap();
	info = get_info(h->fd);
	h->window = info.window_bytes;
	h->base = map_window_at(h->fd, h->window, NULL);
	if (!h->base)
		BAIL_ERRNO("map window");
}

static void fh_add(struct fheap *h, uint64_t off, uint64_t size,
		   uint64_t usable, bool fill)
{
	struct fblk *b = &h->b[h->n++];

	b->off = off;
	b->size = size;
	b->usable = usable;
	b->seed = 0x5eed0000u + ++h->gen;
	if (fill)
		pat_fill(h->base + off, size, b->seed);
}

/* Every block holds its pattern, USABLE_SIZE and STATS agree. */
static bool fh_verify(struct fheap *h, char *why, size_t whylen)
{
	struct buddy_heap_stats st;
	uint64_t bytes = 0, usable;
	unsigned int i;
	int ret;

	for (i = 0; i < h->n; i++) {
		struct fblk *b = &h->b[i];

		if (pat_check(h->base + b->off, b->size, b->seed) >= 0) {
			snprintf(why, whylen, "block %#" PRIx64 " lost its data",
				 b->off);
			return false;
		}
		ret = heap_usable(h->fd, b->off, &usable, NULL);
		if (ret || usable != b->usable) {
			snprintf(why, whylen, "USABLE_SIZE %#" PRIx64 ": %s %" PRIu64,
				 b->off, errname(-ret), usable);
			return false;
		}
		bytes += b->usable;
	}
	ret = heap_stats(h->fd, &st);
	if (ret || st.live_blocks != h->n || st.bytes_in_use != bytes) {
		snprintf(why, whylen, "STATS %s: %" PRIu64 " blocks, %" PRIu64
			 " bytes (model %u, %" PRIu64 ")", errname(-ret),
			 (uint64_t)st.live_blocks, (uint64_t)st.bytes_in_use,
			 h->n, bytes);
		return false;
	}
	snprintf(why, whylen, "%u blocks, %" PRIu64 " bytes", h->n, bytes);
	return true;
}

/* Fault injection */

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

static int cmd_faults(bool shrt)
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

/* Isolation */

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
	step(m, "CLONE");
	{
		struct buddy_clone_args c;

		memset(&c, 0, sizeof(c));
		ret = xioctl(h.fd, BUDDY_IOC_CLONE, &c);
		CHECK(ret == -ENOMEM, "memcg: CLONE of a heap that does not fit "
		      "twice: ENOMEM (%s)", strerror(-ret));
		if (!ret)
			close(c.fd);
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

static int cmd_isolation(void)
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

/* Lifecycle */

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

static int cmd_lifecycle(const char *ko, int kills, bool leakcheck)
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

static void usage(void)
{
	fprintf(stderr, "usage: buddy_harden faults [--short]\n"
		"       buddy_harden isolation\n"
		"       buddy_harden lifecycle MODULE.ko [--kills N] [--kmemleak]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	ktap_begin("buddy_harden", argv[1]);
	if (!strcmp(argv[1], "faults")) {
		cmd_faults(argc > 2 && !strcmp(argv[2], "--short"));
	} else if (!strcmp(argv[1], "isolation")) {
		cmd_isolation();
	} else if (!strcmp(argv[1], "lifecycle")) {
		int kills = 20, i;
		bool leak = false;

		if (argc < 3)
			usage();
		for (i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--kills") && i + 1 < argc)
				kills = (int)strtol(argv[++i], NULL, 10);
			else if (!strcmp(argv[i], "--kmemleak"))
				leak = true;
			else
				usage();
		}
		cmd_lifecycle(argv[2], kills, leak);
	} else {
		usage();
	}
	return ktap_end();
}
