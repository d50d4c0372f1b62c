// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_bench.c - one allocator, one workload, one measurement.
 *
 *	bench-<alloc> WORKLOAD [-s SCALE] [-l LIVE] [-m MIB] [-r REPS] [-k K] [-n NAME]
 *
 * prints "SAMPLE <workload> <value> <unit>" lines (bench/run interleaves
 * the allocators, repeats and takes medians of ratios; a single figure
 * from here means little on a shared machine).  Which allocator is
 * decided at build time (bench/Makefile):
 *
 *   default        the malloc family the binary is linked against: glibc,
 *                  jemalloc (-ljemalloc), tcmalloc (-ltcmalloc_minimal), or
 *                  whatever is LD_PRELOADed (the shim, libbuddy.so);
 *   BENCH_CORE     the buddy core (userspace build of buddy_core.c) behind
 *                  a malloc-style wrapper: one heap configured as the
 *                  module configures one, block at window + offset, and
 *                  one mutex, taken only once the threads workload has
 *                  started threads (as glibc skips its locks while a
 *                  process has a single thread);
 *   BENCH_IOCTL    one BUDDY_IOC_* ioctl per call on a raw /dev/buddy fd:
 *                  the floor for a shim that makes one ioctl per call.
 *
 * Every workload writes one byte into each block it gets (a program uses
 * its memory; it also keeps a lazily faulted heap from looking free).
 * An "op" is one call (malloc, free, realloc or memalign).  Single-thread
 * workloads are timed in process CPU time (user + system), so time spent
 * waiting for a CPU on a shared machine is not charged to an allocator;
 * threads and fork use the wall clock.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ALLOC_NAME
#define ALLOC_NAME "glibc"
#endif

/*
 * Paired runs (bench-ioctl with BENCH_ALT=1): mode 0 is the allocator
 * under test (raw ioctls), mode 1 the process's own malloc family (the
 * shim, when it is preloaded).  Timed repetitions alternate between the
 * two in one process, so both see the same machine (hot, batches, churn).
 */
static int alt_on, mode;

static void die(const char *what)
{
	fprintf(stderr, "bench-%s: %s: %s\n", ALLOC_NAME, what, strerror(errno));
	exit(2);
}

/* the allocator under test */

#if defined(BENCH_CORE)
#include "../buddy_core.h"

/*
 * The window is one MAP_NORESERVE reservation; a chunk at window offset
 * pos lives at win + pos, so a block is at win + offset (as in the shim).
 * chunk_alloc() is not told pos: it works it out exactly as the core's
 * grow() does (lowest offset aligned to the chunk's size clear of live
 * chunks), and core_check_address() verifies it after every growth.
 */
#define CORE_MAX_ORDER	28		/* 4 GiB window */
static struct buddy_heap core_heap;
static char *core_win;
static pthread_mutex_t core_lock = PTHREAD_MUTEX_INITIALIZER;
static int core_threaded;
static unsigned int core_chunks;

/* The core does no locking; with one thread there is nothing to lock. */
static void core_lock_take(void)
{
	if (core_threaded)
		pthread_mutex_lock(&core_lock);
}

static void core_lock_drop(void)
{
	if (core_threaded)
		pthread_mutex_unlock(&core_lock);
}

/* Called before the threads workload starts its threads. */
static void alloc_threads_start(void)
{
	core_threaded = 1;
}

static void *c_chunk_alloc(void *ctx, u64 bytes)
{
	const struct buddy_heap *h = ctx;
	u64 p = 0;
	unsigned int i;

	for (i = 0; i < h->nr_chunks; i++) {
		const struct buddy_chunk *c = &h->chunks[i];
		u64 end = c->offset + (BUDDY_GRAIN << c->order);

		if (end <= p)
			continue;
		if (c->offset >= p + bytes)
			break;
		p = (end + bytes - 1) & ~(bytes - 1);
	}
	if (p + bytes > buddy_window_bytes(h))
		return NULL;
	return core_win + p;
}

static void c_chunk_free(void *ctx, void *mem, u64 bytes)
{
	(void)ctx;
	madvise(mem, bytes, MADV_DONTNEED);	/* zero and give back */
}

static void *c_meta_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return calloc(1, bytes);
}

static void c_meta_free(void *ctx, void *mem, size_t bytes)
{
	(void)ctx;
	(void)bytes;
	free(mem);
}

static const struct buddy_ops c_ops = {
	.chunk_alloc = c_chunk_alloc,
	.chunk_free = c_chunk_free,
	.meta_alloc = c_meta_alloc,
	.meta_free = c_meta_free,
};

static void alloc_init(void)
{
	/*
	 * the kernel's defaults: 64 KiB first chunk, 1 MiB low water, blocks
	 * of 8 KiB and up trimmed (trim_block_bytes, when the core has it)
	 */
	struct buddy_config cfg = {
		.max_order = CORE_MAX_ORDER,
		.min_chunk_order = 16 - BUDDY_GRAIN_SHIFT,
		.low_water_bytes = 1 << 20,
#ifdef HAVE_TRIM
		.trim_order = 13 - BUDDY_GRAIN_SHIFT,
#endif
	};
	size_t win = (size_t)BUDDY_GRAIN << CORE_MAX_ORDER;
	char *m;

	/* reserve twice the window and keep an aligned window in it */
	m = mmap(NULL, 2 * win, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		die("mmap window");
	core_win = (char *)(((uintptr_t)m + win - 1) & ~(uintptr_t)(win - 1));
	if (buddy_heap_init(&core_heap, &cfg, &c_ops, &core_heap))
		die("buddy_heap_init");
#ifdef HAVE_SET_DEFER
	/* deferred coalescing (bench/Makefile: when the core has it): off
	 * unless BENCH_CORE_DEFER_DEPTH says (a number or "max") */
	{
		const char *d = getenv("BENCH_CORE_DEFER_DEPTH");

		if (d && buddy_heap_set_defer_depth(&core_heap,
				strcmp(d, "max") ? (unsigned int)atoi(d) :
						   BUDDY_DEFER_DEPTH))
			die("buddy_heap_set_defer_depth");
	}
#else
	if (getenv("BENCH_CORE_DEFER_DEPTH"))
		die("this core has no buddy_heap_set_defer_depth()");
#endif
}

/* after an allocation made the heap grow: is block = win + offset? */
static void core_check_address(u64 off)
{
	if (core_heap.nr_chunks == core_chunks)
		return;
	core_chunks = core_heap.nr_chunks;
	if (buddy_chunk_address(&core_heap, off, NULL) != core_win + off) {
		fprintf(stderr, "bench-core: chunk placement differs from the core's\n");
		abort();
	}
}

static void *a_malloc(size_t n)
{
	u64 off;
	int r;

	core_lock_take();
	r = buddy_heap_alloc(&core_heap, n, 0, &off);
	if (!r)
		core_check_address(off);
	core_lock_drop();
	return r ? NULL : core_win + off;
}

static void a_free(void *p)
{
	if (!p)
		return;
	core_lock_take();
	if (buddy_heap_free(&core_heap, (u64)((char *)p - core_win)))
		abort();
	core_lock_drop();
}

static void *a_realloc(void *p, size_t n)
{
	u64 off;
	int r;

	if (!p)
		return a_malloc(n);
	core_lock_take();
	r = buddy_heap_realloc(&core_heap, (u64)((char *)p - core_win), n, 0, &off);
	if (!r)
		core_check_address(off);
	core_lock_drop();
	return r ? NULL : core_win + off;
}

static void *a_memalign(size_t align, size_t n)
{
	u64 off;
	int r;

	core_lock_take();
	r = buddy_heap_alloc_aligned(&core_heap, n, align, 0, &off);
	if (!r)
		core_check_address(off);
	core_lock_drop();
	return r ? NULL : core_win + off;
}

/* chunk bytes now and at their peak (the core's own view of its RSS) */
static int heap_stats(double *heap, double *peak_heap)
{
	struct buddy_stats st;

	buddy_get_stats(&core_heap, &st);
	*heap = (double)st.heap_bytes;
	*peak_heap = (double)st.peak_heap_bytes;
	return 0;
}

#elif defined(BENCH_IOCTL)
#include <linux/buddy.h>

static int dev_fd = -1;
static char *dev_base;

/* the kernel serialises the ioctls itself */
static void alloc_threads_start(void)
{
}

static void alloc_init(void)
{
	const char *path = getenv("BUDDY_DEVICE") ?: "/dev/buddy";
	struct buddy_info info = { 0 };

	dev_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		die(path);
	if (ioctl(dev_fd, BUDDY_IOC_INFO, &info))
		die("BUDDY_IOC_INFO");
	dev_base = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE,
			MAP_SHARED, dev_fd, 0);
	if (dev_base == MAP_FAILED)
		die("mmap /dev/buddy");
}

static void *a_malloc(size_t n)
{
	struct buddy_alloc_args a = { .size = n };

	if (mode)
		return malloc(n);
	if (ioctl(dev_fd, BUDDY_IOC_MALLOC, &a))
		return NULL;
	return dev_base + a.offset;
}

static void a_free(void *p)
{
	struct buddy_block_args b = { 0 };

	if (mode) {
		free(p);
		return;
	}
	if (!p)
		return;
	b.offset = (u_int64_t)((char *)p - dev_base);
	if (ioctl(dev_fd, BUDDY_IOC_FREE, &b))
		abort();
}

static void *a_realloc(void *p, size_t n)
{
	struct buddy_block_args b = { .size = n };

	if (mode)
		return realloc(p, n);
	if (!p)
		return a_malloc(n);
	b.offset = (u_int64_t)((char *)p - dev_base);
	if (ioctl(dev_fd, BUDDY_IOC_REALLOC, &b))
		return NULL;
	return dev_base + b.new_offset;
}

static void *a_memalign(size_t align, size_t n)
{
	struct buddy_alloc_args a = { .size = n, .align = align };
	void *p;

	if (mode)
		return posix_memalign(&p, align, n) ? NULL : p;
	if (ioctl(dev_fd, BUDDY_IOC_MEMALIGN, &a))
		return NULL;
	return dev_base + a.offset;
}

static int heap_stats(double *heap, double *peak_heap)
{
	struct buddy_heap_stats st = { 0 };

	if (ioctl(dev_fd, BUDDY_IOC_STATS, &st))
		return -1;
	*heap = (double)st.heap_bytes;
	*peak_heap = (double)st.peak_heap_bytes;
	return 0;
}

#else	/* the process's malloc family */
#include <linux/buddy.h>

static void alloc_init(void)
{
}

static void alloc_threads_start(void)
{
}

static void *a_malloc(size_t n)
{
	return malloc(n);
}

static void a_free(void *p)
{
	free(p);
}

static void *a_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

static void *a_memalign(size_t align, size_t n)
{
	void *p;

	return posix_memalign(&p, align, n) ? NULL : p;
}

/* When the shim is preloaded, ask the kernel (BUDDY_IOC_STATS). */
static int heap_stats(double *heap, double *peak_heap)
{
	void *(*def)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "buddy_default");
	int (*stats)(void *, struct buddy_heap_stats *) =
		(int (*)(void *, struct buddy_heap_stats *))dlsym(RTLD_DEFAULT, "buddy_stats");
	struct buddy_heap_stats st = { 0 };
	void *h;

	if (!def || !stats || !(h = def()) || stats(h, &st))
		return -1;
	*heap = (double)st.heap_bytes;
	*peak_heap = (double)st.peak_heap_bytes;
	return 0;
}
#endif

/* helpers */

static __thread uint64_t rng = 0x9e3779b97f4a7c15ULL;

static inline uint64_t xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* wall clock: threads, fork */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * CPU time of the process (user + system, so ioctls count): single-thread
 * workloads.  On a host shared with other jobs, time spent waiting for a
 * CPU would otherwise inflate whichever allocator happened to run then.
 */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the pointer escapes: no malloc/free pair may be folded away */
#define SINK(p)	__asm__ volatile("" : : "r"(p) : "memory")

static inline void *xmalloc(size_t n)
{
	char *p = a_malloc(n);

	if (!p)
		die("malloc");
	*(volatile char *)p = 1;
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double scale = 1.0;
static long live_n = 128 * 1024;

static long scaled(long n)
{
	long v = (long)(n * scale);

	return v < 1 ? 1 : v;
}

/*
 * Untimed iterations before the timed ones (loops run i = -warm(n) .. n-1
 * and start the clock at 0): caches, lazily bound symbols, faulted pages
 * and, in a TCG guest, translated code are then the same for everyone.
 */
static long warm(long n)
{
	return n / 8 + 16;
}

static int reps_k = 5;

/*
 * TIMED(name, ops, n, body...): one iteration of @body makes @ops calls.
 * It runs warm(n) times untimed, then reps_k times n / reps_k times, each
 * repetition timed; the sample is the fastest repetition (a preemption or
 * an interrupt only ever adds time), per call.  In a paired run each
 * repetition is made in mode 0 and then in mode 1.
 */
#define TIMED(name, ops, n, ...)					\
	do {								\
		long _per = (n) / reps_k > 0 ? (n) / reps_k : 1, _i;	\
		double _best[2] = { 1e300, 1e300 }, _t;			\
		int _k, _m, _nm = alt_on ? 2 : 1;			\
									\
		for (_m = 0; _m < _nm; _m++) {				\
			mode = _m;					\
			for (_i = warm(n); _i > 0; _i--) {		\
				__VA_ARGS__				\
			}						\
		}							\
		for (_k = 0; _k < reps_k; _k++) {			\
			for (_m = 0; _m < _nm; _m++) {			\
				mode = _m;				\
				_t = cpu();				\
				for (_i = 0; _i < _per; _i++) {		\
					__VA_ARGS__			\
				}					\
				_t = cpu() - _t;			\
				if (_t < _best[_m])			\
					_best[_m] = _t;			\
			}						\
		}							\
		mode = 0;						\
		sample(name, _best[0] * 1e9 / ((ops) * (double)_per), "ns/op"); \
		if (alt_on)						\
			sample_alt(name, _best[1] * 1e9 /		\
				   ((ops) * (double)_per), "ns/op");	\
	} while (0)

static void sample(const char *w, double v, const char *unit)
{
	printf("SAMPLE %s %.6g %s\n", w, v, unit);
	fflush(stdout);
}

/* mode 1 of a paired run: "<workload>.alt" */
static void sample_alt(const char *w, double v, const char *unit)
{
	printf("SAMPLE %s.alt %.6g %s\n", w, v, unit);
	fflush(stdout);
}

/* workloads */

/* malloc(32) then free, over and over */
static void w_hot(void)
{
	TIMED("hot", 2, scaled(2000000),
		void *p = xmalloc(32);

		SINK(p);
		a_free(p);
	);
}

/*
 * glibc's bench-malloc-simple: allocate a batch of @size-byte blocks, then
 * free them in allocation order (fifo) or in reverse (lifo).
 */
static void w_batch(const char *name, size_t size, int lifo)
{
	enum { BATCH = 400 };
	void *a[BATCH];
	int i;

	TIMED(name, 2 * BATCH, scaled(2500),
		for (i = 0; i < BATCH; i++)
			a[i] = xmalloc(size);
		if (lifo)
			for (i = BATCH - 1; i >= 0; i--)
				a_free(a[i]);
		else
			for (i = 0; i < BATCH; i++)
				a_free(a[i]);
	);
}

static inline size_t churn_size(void)
{
	return 16 + xrand() % (4096 - 16 + 1);	/* uniform 16 B .. 4 KiB */
}

/* live_n random-sized blocks; replace a random one, over and over */
static void w_churn(void)
{
	void **live[2] = { NULL, NULL };	/* per mode */
	long i;
	int m;

	for (m = 0; m < (alt_on ? 2 : 1); m++) {
		mode = m;
		live[m] = calloc(live_n, sizeof(*live[m]));
		if (!live[m])
			die("calloc");
		for (i = 0; i < live_n; i++)
			live[m][i] = xmalloc(churn_size());
	}
	TIMED("churn", 2, scaled(500000),
		long j = xrand() % live_n;

		a_free(live[mode][j]);
		live[mode][j] = xmalloc(churn_size());
	);
	for (m = 0; m < (alt_on ? 2 : 1); m++) {
		mode = m;
		for (i = 0; i < live_n; i++)
			a_free(live[m][i]);
		free(live[m]);
	}
	mode = 0;
}

/* resident bytes now (/proc/self/statm) */
static double rss_now(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &size, &res) != 2)
		die("/proc/self/statm");
	fclose(f);
	return (double)res * sysconf(_SC_PAGESIZE);
}

struct blowup {
	double rss0, peak_live, peak_heap;
	int have_heap;
};

static void blowup_child(struct blowup *r)
{
	void **live = calloc(live_n, sizeof(*live));
	size_t *sz = calloc(live_n, sizeof(*sz));
	long i, n = scaled(500000);
	double cur = 0, heap;

	if (!live || !sz)
		die("calloc");
	/* fault in the code and data the loop uses before the baseline */
	for (i = 0; i < 64 && i < live_n; i++) {
		sz[i] = churn_size();
		live[i] = xmalloc(sz[i]);
		memset(live[i], 0x5a, sz[i]);
	}
	while (i--)
		a_free(live[i]);
	r->rss0 = rss_now();
	for (i = 0; i < live_n; i++) {
		sz[i] = churn_size();
		live[i] = xmalloc(sz[i]);
		memset(live[i], 0x5a, sz[i]);
		cur += sz[i];
	}
	r->peak_live = cur;
	for (i = 0; i < n; i++) {
		long j = xrand() % live_n;

		a_free(live[j]);
		cur -= sz[j];
		sz[j] = churn_size();
		live[j] = xmalloc(sz[j]);
		memset(live[j], 0x5a, sz[j]);
		cur += sz[j];
		if (cur > r->peak_live)
			r->peak_live = cur;
	}
	r->have_heap = !heap_stats(&heap, &r->peak_heap);
}

/*
 * Blowup: the churn with every requested byte written, in a child; its
 * peak RSS (ru_maxrss from wait4(), which the kernel brings up to date at
 * exit: a running process's own getrusage() can lag by the RSS counts its
 * thread has not yet folded into the mm) less its RSS at the start, and
 * the peak heap when the allocator can say, over the peak of live
 * requested bytes.
 */
static void w_blowup(void)
{
	struct blowup r = { 0 };
	struct rusage ru;
	int pfd[2], st;
	pid_t pid;

	if (pipe(pfd))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(pfd[0]);
		blowup_child(&r);
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
		die("blowup child");
	if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("blowup child exit");
	sample("peak_live", r.peak_live / 1048576, "MiB");
	sample("peak_rss", (ru.ru_maxrss * 1024.0 - r.rss0) / 1048576, "MiB");
	sample("blowup_rss", (ru.ru_maxrss * 1024.0 - r.rss0) / r.peak_live, "ratio");
	if (r.have_heap)
		sample("blowup_heap", r.peak_heap / r.peak_live, "ratio");
}

/* 16 buffers grown round-robin by 1..64 bytes up to 64 KiB, then anew */
static void w_realloc(void)
{
	enum { NBUF = 16, MAX = 64 << 10 };
	char *b[NBUF];
	size_t len[NBUF];
	unsigned long c = 0;
	int k;

	for (k = 0; k < NBUF; k++) {
		len[k] = 16 + k * 4096;	/* staggered: restarts spread out */
		b[k] = xmalloc(len[k]);
	}
	TIMED("realloc", 1, scaled(1000000),
		k = (int)(c++ % NBUF);
		len[k] += 1 + xrand() % 64;
		if (len[k] > MAX) {
			a_free(b[k]);
			len[k] = 16;
			b[k] = xmalloc(len[k]);
			continue;
		}
		b[k] = a_realloc(b[k], len[k]);
		if (!b[k])
			die("realloc");
		b[k][len[k] - 1] = 1;
	);
	for (k = 0; k < NBUF; k++)
		a_free(b[k]);
}

/* like churn, 16 K live, with alignments 16 B .. 4 KiB */
static void w_memalign(void)
{
	enum { LIVE = 16384 };
	void **live = calloc(LIVE, sizeof(*live));
	long i;

	if (!live)
		die("calloc");
	for (i = 0; i < LIVE; i++)
		live[i] = a_memalign(16 << (xrand() % 9), churn_size());
	TIMED("memalign", 2, scaled(300000),
		long j = xrand() % LIVE;
		char *p;

		a_free(live[j]);
		p = a_memalign(16 << (xrand() % 9), churn_size());
		if (!p)
			die("memalign");
		*(volatile char *)p = 1;
		live[j] = p;
	);
	for (i = 0; i < LIVE; i++)
		a_free(live[i]);
	free(live);
}

/*
 * Threads: each thread churns its own 4096 small blocks (16..512 B).
 * Throughput with 2 threads (each doing n ops at once) over throughput
 * with 1: 2 * t1 / t2.  1T and 2T runs alternate; medians of each.
 */
struct thr {
	pthread_t tid;
	pthread_barrier_t *bar;
	long n;
	uint64_t seed;
	double t0, t1;
};

static void *thr_main(void *arg)
{
	enum { TLIVE = 4096 };
	struct thr *t = arg;
	void *live[TLIVE];
	long i;

	rng = t->seed;
	for (i = 0; i < TLIVE; i++)
		live[i] = xmalloc(16 + xrand() % 497);
	pthread_barrier_wait(t->bar);
	t->t0 = now();
	for (i = 0; i < t->n; i++) {
		long j = xrand() % TLIVE;

		a_free(live[j]);
		live[j] = xmalloc(16 + xrand() % 497);
	}
	t->t1 = now();
	pthread_barrier_wait(t->bar);
	for (i = 0; i < TLIVE; i++)
		a_free(live[i]);
	return NULL;
}

static double thr_run(int nthr, long n)
{
	struct thr t[2];
	pthread_barrier_t bar;
	double t0 = 1e300, t1 = 0;
	int i;

	pthread_barrier_init(&bar, NULL, nthr);
	for (i = 0; i < nthr; i++) {
		t[i] = (struct thr){ .bar = &bar, .n = n,
				     .seed = 0x1234567ULL * (i + 1) + 1 };
		if (pthread_create(&t[i].tid, NULL, thr_main, &t[i]))
			die("pthread_create");
	}
	for (i = 0; i < nthr; i++) {
		pthread_join(t[i].tid, NULL);
		if (t[i].t0 < t0)
			t0 = t[i].t0;
		if (t[i].t1 > t1)
			t1 = t[i].t1;
	}
	pthread_barrier_destroy(&bar);
	return t1 - t0;
}

static void w_threads(void)
{
	enum { REPS = 3 };
	long n = scaled(1000000);
	double one[REPS], two[REPS], sp[REPS];
	int r;

	alloc_threads_start();
	for (r = 0; r < REPS; r++) {
		one[r] = thr_run(1, n);
		two[r] = thr_run(2, n);
		sp[r] = 2 * one[r] / two[r];
	}
	sample("threads1", median(one, REPS) * 1e9 / (2.0 * n), "ns/op");
	sample("threads2", median(two, REPS) * 1e9 / (4.0 * n), "ns/op");
	sample("threads2_speedup", median(sp, REPS), "ratio");
}

/*
 * fork + child _exit + waitpid with @mib MiB of written heap.  The sample
 * is named @name_opt (-n; default fork_<mib>MiB), and a second one,
 * <name>.mib, gives the size: bench/guest --smoke runs the report's sizes
 * under their names with a few MiB each.
 */
static void w_fork(long mib, int reps, const char *name_opt)
{
	enum { BLK = 65536 - 64 };
	long i, nb = mib * 16;
	char **blk = calloc(nb + 1, sizeof(*blk));
	double t[64];
	char name[64];
	int r;

	if (!blk)
		die("calloc");
	for (i = 0; i < nb; i++) {
		blk[i] = xmalloc(BLK);
		memset(blk[i], (int)i, BLK);
	}
	for (r = 0; r < reps; r++) {
		double t0 = now();
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) != pid)
			die("waitpid");
		t[r] = now() - t0;
	}
	if (name_opt)
		snprintf(name, sizeof(name), "%s", name_opt);
	else
		snprintf(name, sizeof(name), "fork_%ldMiB", mib);
	sample(name, median(t, reps) * 1e3, "ms");
	strncat(name, ".mib", sizeof(name) - strlen(name) - 1);
	sample(name, mib, "MiB");
	for (i = 0; i < nb; i++)
		a_free(blk[i]);
	free(blk);
}

/* which object's malloc() the process calls (a sanity check for bench/run) */
static void w_which(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;

	if (!m || !dladdr(m, &info) || !info.dli_fname)
		die("dladdr(malloc)");
	printf("MALLOC %s %s\n", ALLOC_NAME, info.dli_fname);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-%s WORKLOAD [-s SCALE] [-l LIVE] [-m MIB] [-r REPS] [-k K] [-n NAME]\n"
		"workloads: hot churn fifo16 fifo32 fifo64 lifo16 lifo32 lifo64\n"
		"           realloc memalign threads fork blowup which\n", ALLOC_NAME);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *w, *name_opt = NULL;
	long mib = 1;
	int i, reps = 9;

	if (argc < 2)
		usage();
	w = argv[1];
	for (i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "-s"))
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "-l"))
			live_n = atol(argv[++i]);
		else if (!strcmp(argv[i], "-m"))
			mib = atol(argv[++i]);
		else if (!strcmp(argv[i], "-r"))
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-k"))
			reps_k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n"))
			name_opt = argv[++i];
		else
			usage();
	}
#ifdef BENCH_IOCTL
	alt_on = getenv("BENCH_ALT") && atoi(getenv("BENCH_ALT"));
	if (alt_on && strcmp(w, "hot") && strcmp(w, "churn") &&
	    strncmp(w, "fifo", 4) && strncmp(w, "lifo", 4)) {
		fprintf(stderr, "bench-ioctl: BENCH_ALT: only hot, churn, fifo*, lifo*\n");
		return 2;
	}
#endif
	/* per-allocator multiplier (bench/guest: glibc runs longer) */
	if (getenv("BENCH_SCALE_MUL"))
		scale *= atof(getenv("BENCH_SCALE_MUL"));
	if (scale <= 0 || live_n < 1 || mib < 0 || reps < 1 || reps > 64 || reps_k < 1)
		usage();
	alloc_init();
	if (!strcmp(w, "hot"))
		w_hot();
	else if (!strcmp(w, "churn"))
		w_churn();
	else if (!strncmp(w, "fifo", 4) || !strncmp(w, "lifo", 4))
		w_batch(w, strtoul(w + 4, NULL, 10) ?: 16, w[0] == 'l');
	else if (!strcmp(w, "realloc"))
		w_realloc();
	else if (!strcmp(w, "memalign"))
		w_memalign();
	else if (!strcmp(w, "threads"))
		w_threads();
	else if (!strcmp(w, "fork"))
		w_fork(mib, reps, name_opt);
	else if (!strcmp(w, "blowup"))
		w_blowup();
	else if (!strcmp(w, "which"))
		w_which();
	else
		usage();
	return 0;
}
