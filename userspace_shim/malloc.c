// SPDX-License-Identifier: GPL-2.0
/*
 * The malloc family on /dev/buddy, with glibc 2.36's semantics.
 *
 * State machine of the default heap:
 *   UNINIT -> DEVICE  the first call opens /dev/buddy ($BUDDY_DEVICE) and maps
 *                     it; every block then comes from the kernel.
 *   UNINIT -> LIBC    no device: one line on stderr, then glibc's malloc
 *                     (dlsym(RTLD_NEXT)) serves everything;
 *                     BUDDY_FALLBACK=abort aborts instead.
 * While the first call is opening the device (and, for the fallback, while
 * dlsym runs) a call on the same thread is served from a static bootstrap
 * arena.  free() routes by address: inside the window -> the kernel; inside
 * the bootstrap arena -> recycled when it is the latest block, else kept;
 * anything else -> glibc's free in LIBC state, "free(): invalid pointer"
 * in DEVICE state.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "cache.h"
#include "heap.h"
#include "malloc_layer.h"
#include "side.h"
#include "util.h"

enum { ST_UNINIT, ST_DEVICE, ST_LIBC, ST_BOOT };

static int state;			/* ST_UNINIT, ST_DEVICE or ST_LIBC */
static struct buddy_handle default_heap = { .fd = -1, .clone_fd = -1 };
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int t_in_init;

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*usable)(void *);
} libc;

/* Statistics (BUDDY_STATS) */

enum {
	C_MALLOC, C_FREE, C_CALLOC, C_REALLOC, C_MEMALIGN, C_USABLE,
	C_BOOT, C_FAILED, C_BYTES, C_DEFERRED, C_N
};
static uint64_t counters[C_N];
static int stats_level;

/* BUDDY_TEST_BOOTSTRAP=N: serve the first N allocations from the bootstrap
 * arena even with a device, to test how its blocks are freed later. */
static int boot_first;

static inline int take_boot(void)
{
	int n = __atomic_load_n(&boot_first, __ATOMIC_RELAXED);

	while (unlikely(n > 0))
		if (__atomic_compare_exchange_n(&boot_first, &n, n - 1, 0,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return 1;
	return 0;
}

/* Only with BUDDY_STATS: a shared counter would cost every thread. */
static inline void count(int i, uint64_t v)
{
	if (unlikely(stats_level))
		__atomic_fetch_add(&counters[i], v, __ATOMIC_RELAXED);
}

static void read_stats_knob(void)
{
	const char *s = getenv_knob("BUDDY_STATS");

	stats_level = s && *s && strcmp(s, "0") ? (s[0] == '2' ? 2 : 1) : 0;
}

/* Bootstrap arena */

#define BOOT_BYTES	(256 * 1024)

struct boot_hdr {
	size_t size;		/* usable bytes */
	size_t start;		/* arena offset where this block's space began */
};

static unsigned char boot[BOOT_BYTES] __attribute__((aligned(4096)));
static size_t boot_top;
static int boot_spin;

static void boot_lock(void)
{
	while (__atomic_exchange_n(&boot_spin, 1, __ATOMIC_ACQUIRE))
		;
}

static void boot_unlock(void)
{
	__atomic_store_n(&boot_spin, 0, __ATOMIC_RELEASE);
}

static inline int in_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot < BOOT_BYTES;
}

static void *boot_alloc(size_t n, size_t align, int zero)
{
	size_t start, user, size = (n + 15) & ~(size_t)15;
	struct boot_hdr *h;

	count(C_BOOT, 1);
	if (align < 16)
		align = 16;
	if (n > BOOT_BYTES || align > BOOT_BYTES) {
		errno = ENOMEM;
		return NULL;
	}
	if (!size)
		size = 16;
	boot_lock();
	start = boot_top;
	user = (((uintptr_t)boot + start + sizeof(*h) + align - 1) &
		~(uintptr_t)(align - 1)) - (uintptr_t)boot;
	if (user + size > BOOT_BYTES) {
		boot_unlock();
		errno = ENOMEM;
		return NULL;
	}
	h = (struct boot_hdr *)(boot + user) - 1;
	h->size = size;
	h->start = start;
	boot_top = user + size;
	boot_unlock();
	if (zero)
		memset(boot + user, 0, size);
	return boot + user;
}

static size_t boot_usable(const void *p)
{
	return ((const struct boot_hdr *)p - 1)->size;
}

/* Only the latest block goes back; the others stay (a few bytes, once). */
static void boot_free(void *p)
{
	struct boot_hdr *h = (struct boot_hdr *)p - 1;

	boot_lock();
	if ((unsigned char *)p + h->size == boot + boot_top)
		boot_top = h->start;
	boot_unlock();
}

/* Initialisation */

static void resolve_libc(void)
{
#define R(field, name) (libc.field = (__typeof__(libc.field))dlsym(RTLD_NEXT, name))
	if (!R(malloc, "malloc") | !R(free, "free") | !R(calloc, "calloc") |
	    !R(realloc, "realloc") | !R(memalign, "memalign") |
	    !R(aligned_alloc, "aligned_alloc") |
	    !R(posix_memalign, "posix_memalign") | !R(valloc, "valloc") |
	    !R(pvalloc, "pvalloc") | !R(usable, "malloc_usable_size"))
		die("libbuddy: no glibc malloc to fall back to");
#undef R
}

static int do_init(void)
{
	const char *path = device_path(), *fb;
	int err;

	read_stats_knob();
	err = heap_open(&default_heap, path);
	if (!err) {
		const char *b = getenv_knob("BUDDY_TEST_BOOTSTRAP");

		while (b && *b >= '0' && *b <= '9' && boot_first < 100000)
			boot_first = boot_first * 10 + (*b++ - '0');
		default_heap.is_default = 1;
		heap_register(&default_heap);
		cache_init(&default_heap);
		return ST_DEVICE;
	}
	fb = getenv_knob("BUDDY_FALLBACK");
	write_stderr_joined("libbuddy: cannot open ", path, ": ");
	if (err == -EPROTO)
		write_stderr("unsupported ABI version (module and shim do not match)");
	else
		write_stderr(errdesc(-err));
	if (fb && !strcmp(fb, "abort")) {
		write_stderr("; aborting (BUDDY_FALLBACK=abort)\n");
		abort();
	}
	write_stderr("; falling back to glibc malloc (BUDDY_FALLBACK=libc)\n");
	resolve_libc();
	return ST_LIBC;
}

static __attribute__((noinline)) int slow_init(void)
{
	int s;

	if (t_in_init)
		return ST_BOOT;
	pthread_mutex_lock(&init_lock);
	s = state;
	if (s == ST_UNINIT) {
		t_in_init = 1;
		s = do_init();
		__atomic_store_n(&state, s, __ATOMIC_RELEASE);
		t_in_init = 0;
	}
	pthread_mutex_unlock(&init_lock);
	return s;
}

static inline int get_state(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);

	return likely(s != ST_UNINIT) ? s : slow_init();
}

/* Errors */

/* The entry point a misused pointer was passed to: glibc's words differ. */
enum misuse_in { IN_FREE, IN_REALLOC };

/* glibc's malloc_printerr() messages, then abort (the heap is unchanged). */
static __attribute__((noreturn)) void invalid_pointer(enum misuse_in in)
{
	die(in == IN_FREE ? "free(): invalid pointer" :
	    "realloc(): invalid pointer");
}

/* The kernel (or a cache) refused a pointer for this reason. */
static __attribute__((noreturn)) void refused(unsigned int reason,
					       enum misuse_in in)
{
	if (reason == BUDDY_REASON_ALREADY_FREE && in == IN_FREE)
		die("free(): double free detected");
	invalid_pointer(in);
}

/* The program closed or replaced our descriptor: the heap is unreachable. */
static __attribute__((noreturn)) void lost_fd(int err)
{
	char buf[32];

	*fmt_u64(buf, (uint64_t)default_heap.fd) = 0;
	write_stderr_joined("libbuddy: the heap's file descriptor ", buf,
			    " was closed or replaced by the program: ");
	die(errdesc(-err));
}

static void check_fd_err(int err)
{
	if (unlikely(err == -EBADF || err == -ENOTTY))
		lost_fd(err);
}

/* The device paths */

static void *dev_alloc(unsigned long cmd, size_t n, size_t nmemb, size_t align)
{
	void *p;
	int err;

	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX) {
		count(C_FAILED, 1);
		errno = ENOMEM;
		return NULL;
	}
	err = heap_alloc(&default_heap, cmd, n, nmemb, align, &p);
	/*
	 * This thread's cached blocks may be what is missing, unless no heap
	 * of the cap's size could hold the request.
	 */
	if (unlikely(err == -ENOMEM) && n <= default_heap.info.cap_bytes &&
	    align <= default_heap.info.cap_bytes && cache_flush_self())
		err = heap_alloc(&default_heap, cmd, n, nmemb, align, &p);
	if (unlikely(err == -EAGAIN)) {
		/* a fork is pending: see side.c */
		p = side_alloc(n * (nmemb ? nmemb : 1), align,
			       cmd == BUDDY_IOC_CALLOC);
		if (p)
			count(C_BYTES, n);
		else
			count(C_FAILED, 1);
		return p;
	}
	if (unlikely(err)) {
		check_fd_err(err);
		count(C_FAILED, 1);
		errno = ENOMEM;
		return NULL;
	}
	count(C_BYTES, n);
	return p;
}

/* A small block from this thread's cache, or NULL. */
static inline void *cached_alloc(size_t n, size_t align)
{
	unsigned int cls, size;
	void *p;

	/*
	 * While a fork is pending, new blocks come from the side arena: the
	 * child's copy of the window was taken before they were written.
	 */
	if (n > CACHE_MAX_BYTES || !cache_shadow ||
	    __atomic_load_n(&default_heap.pending, __ATOMIC_RELAXED))
		return NULL;
	cls = cache_class(n);
	size = cache_class_size[cls];
	/*
	 * An object is aligned to the lowest set bit of its size (a slab is
	 * aligned to its own); larger alignments are the kernel's (MEMALIGN)
	 */
	if (align > (size & -size))
		return NULL;
	p = cache_alloc(cls);
	if (p)
		count(C_BYTES, n);
	return p;
}

/*
 * An allocation from the first source that serves it: the bootstrap arena
 * (while the device is being opened, or as BUDDY_TEST_BOOTSTRAP asks),
 * this thread's cache, then the device; glibc's malloc when there is no
 * device.  cmd is BUDDY_IOC_MALLOC, CALLOC (n is the product, zeroed) or
 * MEMALIGN (align above 16, a power of two).  Inlined: cmd is a constant.
 */
static inline __attribute__((always_inline)) void *
alloc_default(unsigned long cmd, size_t n, size_t align)
{
	int zero = cmd == BUDDY_IOC_CALLOC;
	void *p;

	switch (get_state()) {
	case ST_DEVICE:
		if (unlikely(take_boot()) && n <= PTRDIFF_MAX) {
			p = boot_alloc(n, align, zero);
			if (p)
				return p;
		}
		p = cached_alloc(n, align);
		if (likely(p))
			return zero ? memset(p, 0, n) : p;
		return dev_alloc(cmd, n, zero, align);
	case ST_LIBC:
		if (cmd == BUDDY_IOC_MEMALIGN)
			return libc.memalign(align, n);
		return zero ? libc.calloc(n, 1) : libc.malloc(n);
	default:
		if (n > PTRDIFF_MAX) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(n, align, zero);
	}
}

static void *do_malloc(size_t n)
{
	return alloc_default(BUDDY_IOC_MALLOC, n, 0);
}

static void run_deferred(void);

/*
 * A fork is pending: the device heap must not change.  Check the block is
 * live (USABLE_SIZE only reads) and queue its free for when the fork is
 * over; with the queue full, wait for that.  Returns the usable size.
 */
static size_t defer_dev_free(void *p, enum misuse_in in)
{
	unsigned int reason;
	size_t usable;
	int err = heap_usable(&default_heap, p, &usable, &reason);

	check_fd_err(err);
	if (err)
		refused(reason, in);
	if (defer_free((uintptr_t)p - (uintptr_t)default_heap.base)) {
		while ((err = heap_free(&default_heap, p, &reason)) == -EAGAIN)
			sched_yield();
		check_fd_err(err);
		if (err)
			refused(reason, in);
	} else {
		count(C_DEFERRED, 1);
		/* the fork may have ended meanwhile: do not keep it queued */
		if (!__atomic_load_n(&default_heap.pending, __ATOMIC_ACQUIRE))
			run_deferred();
	}
	return usable;
}

/*
 * 1 when this thread's cache took p, 0 when free_uncached() must free it; a
 * double free of a cached block dies with in's message.
 */
static inline int cache_took(void *p, enum misuse_in in)
{
	int r;

	if (!cache_shadow || !heap_contains(&default_heap, p))
		return 0;
	r = cache_free(p);
	if (unlikely(r < 0))
		refused(BUDDY_REASON_ALREADY_FREE, in);
	if (unlikely(r > 1)) {
		/* queued for a pending fork's end, which may have come: */
		int saved = errno;

		count(C_DEFERRED, 1);
		if (!__atomic_load_n(&default_heap.pending, __ATOMIC_ACQUIRE))
			run_deferred();
		errno = saved;
		return 1;
	}
	return r;
}

/* free() of what no cache took: the kernel, the arenas, or glibc. */
static void free_uncached(void *p, enum misuse_in in)
{
	if (heap_contains(&default_heap, p)) {
		unsigned int reason;
		int err = heap_free(&default_heap, p, &reason);

		if (likely(!err))
			return;
		if (err == -EAGAIN) {
			defer_dev_free(p, in);
			return;
		}
		check_fd_err(err);
		refused(reason, in);
	}
	if (in_boot(p)) {
		boot_free(p);
		return;
	}
	if (side_owns(p)) {
		side_free(p);
		return;
	}
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_LIBC) {
		libc.free(p);
		return;
	}
	invalid_pointer(in);
}

static void do_free(void *p, enum misuse_in in)
{
	if (!cache_took(p, in))
		free_uncached(p, in);
}

/* glibc's _mid_memalign(): alignment rules of memalign and friends. */
static void *mid_memalign(size_t align, size_t n)
{
	if (align <= 16)
		return do_malloc(n);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1)) {
		size_t a = 32;

		while (a < align)
			a <<= 1;
		align = a;
	}
	return alloc_default(BUDDY_IOC_MEMALIGN, n, align);
}

/* The exported family */

API void *malloc(size_t n)
{
	count(C_MALLOC, 1);
	return do_malloc(n);
}

API void free(void *p)
{
	int saved;

	if (!p)
		return;
	count(C_FREE, 1);
	/* a cache takes it without a system call: errno cannot change */
	if (likely(cache_took(p, IN_FREE)))
		return;
	saved = errno;
	free_uncached(p, IN_FREE);
	errno = saved;
}

API void cfree(void *p)
{
	free(p);
}

API void *calloc(size_t n, size_t size)
{
	ptrdiff_t bytes;

	count(C_CALLOC, 1);
	if (__builtin_mul_overflow(n, size, &bytes)) {
		count(C_FAILED, 1);
		errno = ENOMEM;
		return NULL;
	}
	return alloc_default(BUDDY_IOC_CALLOC, (size_t)bytes, 0);
}

/*
 * realloc of a block that may be a slab's object.  1 with *out set: the
 * same object when n still needs its class, else a move (*out NULL: no
 * memory for it, p kept).  0: p is not an object, the kernel's REALLOC is
 * to follow.
 */
static int cached_realloc(void *p, size_t n, void **out)
{
	long usable = cache_usable(p);

	if (usable < 0)
		invalid_pointer(IN_REALLOC);
	if (!usable)
		return 0;
	if (n <= (size_t)usable &&
	    (usable == cache_class_size[0] ||
	     n > cache_class_size[cache_class((size_t)usable) - 1])) {
		*out = p;
		return 1;
	}
	*out = do_malloc(n);
	if (*out) {
		memcpy(*out, p, n < (size_t)usable ? n : (size_t)usable);
		do_free(p, IN_REALLOC);
	}
	return 1;
}

API void *realloc(void *p, size_t n)
{
	count(C_REALLOC, 1);
	if (!p)
		return do_malloc(n);
	if (!n) {
		count(C_FREE, 1);
		do_free(p, IN_FREE);
		return NULL;
	}
	if (heap_contains(&default_heap, p)) {
		unsigned int reason;
		void *q;
		int err;

		if (n > PTRDIFF_MAX) {
			count(C_FAILED, 1);
			errno = ENOMEM;
			return NULL;
		}
		if (cache_shadow && cached_realloc(p, n, &q))
			return q;
		err = heap_realloc(&default_heap, p, n, &q, &reason);
		if (likely(!err)) {
			count(C_BYTES, n);
			return q;
		}
		if (err == -EAGAIN) {
			/* a fork is pending: move the block to the side arena */
			size_t old;

			err = heap_usable(&default_heap, p, &old, &reason);
			check_fd_err(err);
			if (err)
				invalid_pointer(IN_REALLOC);
			q = side_alloc(n, 16, 0);
			if (!q) {
				count(C_FAILED, 1);
				return NULL;
			}
			memcpy(q, p, old < n ? old : n);
			defer_dev_free(p, IN_REALLOC);
			count(C_BYTES, n);
			return q;
		}
		check_fd_err(err);
		if (err == -EINVAL && reason)
			invalid_pointer(IN_REALLOC);
		count(C_FAILED, 1);
		errno = ENOMEM;
		return NULL;
	}
	if (in_boot(p) || side_owns(p)) {
		/* bootstrap and side blocks move (back) onto the heap */
		int boot = in_boot(p);
		size_t old = boot ? boot_usable(p) : side_usable(p);
		void *q = do_malloc(n);

		if (q) {
			memcpy(q, p, old < n ? old : n);
			if (boot)
				boot_free(p);
			else
				side_free(p);
		}
		return q;
	}
	if (get_state() == ST_LIBC)
		return libc.realloc(p, n);
	invalid_pointer(IN_REALLOC);
}

API void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

API void *memalign(size_t align, size_t n)
{
	count(C_MEMALIGN, 1);
	return mid_memalign(align, n);
}

/* glibc 2.36: an alias of memalign (no check that n is a multiple). */
API void *aligned_alloc(size_t align, size_t n)
{
	count(C_MEMALIGN, 1);
	return mid_memalign(align, n);
}

API int posix_memalign(void **memptr, size_t align, size_t n)
{
	void *p;

	count(C_MEMALIGN, 1);
	if (align % sizeof(void *) || !align ||
	    ((align / sizeof(void *)) & (align / sizeof(void *) - 1)))
		return EINVAL;
	p = mid_memalign(align, n);
	if (!p)
		return ENOMEM;
	*memptr = p;
	return 0;
}

API void *valloc(size_t n)
{
	count(C_MEMALIGN, 1);
	return mid_memalign((size_t)getpagesize(), n);
}

API void *pvalloc(size_t n)
{
	size_t ps = (size_t)getpagesize(), rounded;

	count(C_MEMALIGN, 1);
	if (__builtin_add_overflow(n, ps - 1, &rounded)) {
		errno = ENOMEM;
		return NULL;
	}
	return mid_memalign(ps, rounded & ~(ps - 1));
}

API size_t malloc_usable_size(void *p)
{
	count(C_USABLE, 1);
	if (!p)
		return 0;
	if (heap_contains(&default_heap, p)) {
		unsigned int reason;
		size_t n;
		int err;

		if (cache_shadow) {
			long usable = cache_usable(p);

			if (usable)
				return usable < 0 ? 0 : (size_t)usable;
		}
		err = heap_usable(&default_heap, p, &n, &reason);
		check_fd_err(err);
		return err ? 0 : n;
	}
	if (in_boot(p))
		return boot_usable(p);
	if (side_owns(p))
		return side_usable(p);
	if (get_state() == ST_LIBC)
		return libc.usable(p);
	return 0;
}

/* For buddy_default() (client.c): NULL when glibc serves the family. */
struct buddy_handle *malloc_default_heap(void)
{
	return get_state() == ST_DEVICE ? &default_heap : NULL;
}

/* Fork (fork.c calls these) */

/*
 * The frees queued while a fork was pending, carried out.  Each is taken
 * off the queue and done under the heap's lock, where a fork copies the
 * heap: the copy has it either done or still queued (for the child to do),
 * never neither.  A fork pending again leaves the rest to its handlers.
 */
static void run_deferred(void)
{
	unsigned int reason;
	uint64_t offset;
	int err;

	while (!heap_lock_change(&default_heap)) {
		if (pop_deferred(&offset)) {
			heap_unlock_change(&default_heap);
			return;
		}
		if (offset & DEFER_SLAB) {
			cache_return_deferred(default_heap.base +
					      (offset & ~(uint64_t)DEFER_SLAB));
			heap_unlock_change(&default_heap);
			continue;
		}
		err = heap_free_offset_locked(&default_heap, offset, &reason);
		heap_unlock_change(&default_heap);
		check_fd_err(err);
		if (err)
			refused(reason, IN_FREE);
	}
}

/* parent: the frees queued while the fork was pending. */
void malloc_fork_parent(void)
{
	run_deferred();
}

/* child: the same frees (made before the fork), a fresh lock and counters. */
void malloc_fork_child(void)
{
	pthread_mutex_init(&init_lock, NULL);
	run_deferred();
	memset(counters, 0, sizeof(counters));
}

/* Start and exit */

__attribute__((constructor)) static void shim_init(void)
{
	read_stats_knob();
	get_state();
}

static char *field(char *p, const char *name, uint64_t v)
{
	p = fmt_str(p, " ");
	p = fmt_str(p, name);
	p = fmt_str(p, "=");
	return fmt_u64(p, v);
}

__attribute__((destructor)) static void shim_fini(void)
{
	struct buddy_heap_stats st;
	char buf[1024], *p = buf;
	uint64_t c[C_N];

	if (!stats_level)
		return;
	for (int i = 0; i < C_N; i++)
		c[i] = __atomic_load_n(&counters[i], __ATOMIC_RELAXED);
	p = fmt_str(p, "libbuddy:");
	p = field(p, "pid", (uint64_t)getpid());
	p = fmt_str(p, state == ST_DEVICE ? " mode=device" :
		       state == ST_LIBC ? " mode=libc-fallback" : " mode=none");
	p = field(p, "malloc", c[C_MALLOC]);
	p = field(p, "free", c[C_FREE]);
	p = field(p, "calloc", c[C_CALLOC]);
	p = field(p, "realloc", c[C_REALLOC]);
	p = field(p, "memalign", c[C_MEMALIGN]);
	p = field(p, "usable_size", c[C_USABLE]);
	p = field(p, "bootstrap", c[C_BOOT]);
	p = field(p, "failed", c[C_FAILED]);
	p = field(p, "bytes", c[C_BYTES]);
	p = field(p, "fork_side", side_allocs);
	p = field(p, "fork_deferred", c[C_DEFERRED]);
	if (cache_shadow) {
		struct cache_totals t;

		cache_totals(&t);
		p = field(p, "cache_threads", t.threads);
		p = field(p, "cached_blocks", t.blocks);
		p = field(p, "cached_bytes", t.bytes);
		p = field(p, "cache_refills", t.refills);
		p = field(p, "cache_flushes", t.flushes);
		p = field(p, "slabs", t.slabs);
		p = field(p, "slab_free_bytes", t.slab_free_bytes);
	} else {
		p = fmt_str(p, " cache=off");
	}
	if (state == ST_DEVICE && !heap_stats(&default_heap, &st)) {
		p = field(p, "peak_in_use", st.peak_bytes_in_use);
		p = field(p, "in_use", st.bytes_in_use);
		p = field(p, "live", st.live_blocks);
		p = field(p, "heap", st.heap_bytes);
		p = field(p, "peak_heap", st.peak_heap_bytes);
		p = field(p, "kernel_allocs", st.nr_allocs);
		p = field(p, "kernel_frees", st.nr_frees);
		p = field(p, "heap_id", st.nr_orders ? default_heap.info.heap_id : 0);
	}
	p = fmt_str(p, "\n");
	if (stats_level > 1 && state == ST_DEVICE && !heap_stats(&default_heap, &st)) {
		unsigned int n = st.nr_orders;

		if (n > BUDDY_STATS_ORDERS)
			n = BUDDY_STATS_ORDERS;
		p = fmt_str(p, "libbuddy: buddyinfo (free blocks of 16B<<order, order 0..");
		p = fmt_u64(p, n ? n - 1 : 0);
		p = fmt_str(p, "):");
		for (unsigned int i = 0; i < n && p < buf + sizeof(buf) - 32; i++) {
			p = fmt_str(p, " ");
			p = fmt_u64(p, st.free_blocks[i]);
		}
		p = fmt_str(p, "\n");
	}
	*p = 0;
	write_stderr(buf);
}
