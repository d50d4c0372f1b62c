// SPDX-License-Identifier: GPL-2.0
/*
 * The malloc family's contract, as glibc 2.36 keeps it.  Every check here
 * also holds for glibc itself (run it without LD_PRELOAD to see); the checks
 * marked "device" are the shim's own promises (power-of-two blocks, natural
 * alignment, blocks inside the window, kernel statistics).
 */
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../userspace_shim/buddy.h"
#include "t.h"
#include "buddy_trim.h"

/* Weak: the test also runs on plain glibc, where these do not exist. */
#pragma weak buddy_stats
#pragma weak buddy_base
#pragma weak buddy_window_size
#pragma weak buddy_fd
#pragma weak buddy_cache_flush

static volatile size_t vsize;	/* defeat compile-time folding */

static size_t V(size_t n)
{
	vsize = n;
	return vsize;
}

static int aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

static void test_malloc(buddy_t *dev)
{
	void *p, *q;

	p = malloc(V(0));
	q = malloc(V(0));
	CHECK(p && q && p != q);
	CHECK(aligned(p, 16));
	free(p);
	free(q);

	errno = 0;
	CHECK(malloc(V((size_t)PTRDIFF_MAX + 1)) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc(V(SIZE_MAX)) == NULL && errno == ENOMEM);

	for (size_t n = 1; n <= (1u << 22); n = n * 3 + 1) {
		p = malloc(V(n));
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK(aligned(p, 16));
		CHECK(malloc_usable_size(p) >= n);
		memset(p, 0x5a, malloc_usable_size(p));
		if (dev) {
			size_t u = malloc_usable_size(p);

			uint64_t block = buddy_usable_for(n, 0);

			/*
			 * device: a size class aligned to its lowest set bit
			 * (a slab's object), or a power-of-two block, naturally
			 * aligned, from trim_block_bytes on trimmed from one
			 */
			CHECK(u == buddy_shim_usable_for(n));
			CHECK(aligned(p, buddy_shim_cached(n) ? (u & -u) : block));
			CHECK((char *)p >= (char *)buddy_base(dev) &&
			      (char *)p + u <= (char *)buddy_base(dev) +
			      buddy_window_size(dev));
		}
		free(p);
	}
	CHECK(malloc_usable_size(NULL) == 0);
}

static void test_free(void)
{
	void *p = malloc(V(100));

	errno = 1789;
	free(NULL);
	CHECK(errno == 1789);
	errno = 1789;
	free(p);
	CHECK(errno == 1789);
	p = malloc(V(5318153));
	errno = 1789;
	free(p);
	CHECK(errno == 1789);
	/* cfree: a compatibility symbol only (not in 2.36's headers) */
	void (*cf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");

	if (cf) {
		p = malloc(V(10));
		cf(p);
		cf(NULL);
	}
}

static void test_calloc(void)
{
	unsigned char *p;
	int zero = 1;

	errno = 0;
	CHECK(calloc(V(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(V((size_t)PTRDIFF_MAX / 2 + 1), 2) == NULL &&
	      errno == ENOMEM);
	errno = 0;
	CHECK(calloc(2, V((size_t)PTRDIFF_MAX)) == NULL && errno == ENOMEM);
	p = calloc(0, V(0));
	CHECK(p != NULL);
	free(p);

	/* recycled memory comes back zeroed */
	for (int round = 0; round < 20; round++) {
		size_t n = (size_t)100 << round % 12;

		p = malloc(V(n));
		memset(p, 0xff, n);
		free(p);
		p = calloc(V(n / 4), 4);
		CHECK(p != NULL);
		for (size_t i = 0; p && i < n; i++)
			zero &= p[i] == 0;
		free(p);
	}
	CHECK(zero);
}

static void test_realloc(buddy_t *dev)
{
	unsigned char *p, *q;
	struct buddy_heap_stats a, b;

	p = realloc(NULL, V(0));	/* = malloc(0) */
	CHECK(p != NULL);
	if (dev) {
		buddy_cache_flush();	/* cached blocks count as live */
		buddy_stats(dev, &a);
	}
	q = realloc(p, V(0));		/* frees, returns NULL */
	CHECK(q == NULL);
	if (dev) {
		buddy_cache_flush();
		buddy_stats(dev, &b);
		CHECK(b.live_blocks + 1 == a.live_blocks);
	}

	/* grow and shrink keep contents */
	p = malloc(V(10));
	t_fill(p, 10, 1);
	for (size_t n = 10; n < (8u << 20); n *= 3) {
		q = realloc(p, V(n * 3));
		CHECK(q != NULL);
		if (!q)
			break;
		CHECK(t_verify(q, n, 1));
		t_fill(q, n * 3, 1);
		p = q;
	}
	for (size_t n = 8u << 20; n > 10; n /= 5) {
		q = realloc(p, V(n));
		CHECK(q != NULL);
		if (!q)
			break;
		CHECK(t_verify(q, n, 1));
		p = q;
	}
	/* a failed realloc leaves the block intact */
	t_fill(p, 10, 2);
	errno = 0;
	q = realloc(p, V((size_t)PTRDIFF_MAX + 1));
	CHECK(q == NULL && errno == ENOMEM);
	errno = 0;
	q = realloc(p, V(SIZE_MAX));
	CHECK(q == NULL && errno == ENOMEM);
	CHECK(t_verify(p, 10, 2));
	errno = 0;
	q = reallocarray(p, V(SIZE_MAX / 2), 3);
	CHECK(q == NULL && errno == ENOMEM);
	CHECK(t_verify(p, 10, 2));
	q = reallocarray(p, 10, V(100));
	CHECK(q && t_verify(q, 10, 2));
	q = reallocarray(q, 0, V(100));	/* realloc(q, 0): frees */
	CHECK(q == NULL);
	if (dev) {
		/* more than the heap could ever hold: ENOMEM, block intact */
		p = malloc(V(64));
		t_fill(p, 64, 3);
		errno = 0;
		q = realloc(p, V(buddy_window_size(dev) * 2));
		CHECK(q == NULL && errno == ENOMEM && t_verify(p, 64, 3));
		free(p);
	}
}

static void test_memalign(buddy_t *dev)
{
	void *p;
	int r;

	for (size_t a = 1; a <= (1u << 22); a <<= 1) {
		p = memalign(a, V(a / 3 + 1));
		CHECK(p && aligned(p, a));
		free(p);
		p = aligned_alloc(a, V(a));
		CHECK(p && aligned(p, a));
		free(p);
	}
	/* glibc 2.36 rounds a non-power-of-two alignment up */
	p = memalign(V(24), 1);
	CHECK(p && aligned(p, 32));
	free(p);
	p = memalign(V(100), 1);
	CHECK(p && aligned(p, 128));
	free(p);
	p = memalign(V(5000), 10);
	CHECK(p && aligned(p, 8192));
	free(p);
	p = aligned_alloc(V(3), 10);	/* 2.36: no size/alignment check */
	CHECK(p != NULL);
	free(p);
	errno = 0;
	CHECK(memalign(V(SIZE_MAX / 2 + 2), 1) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(memalign(V(SIZE_MAX), 1) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(memalign(V(SIZE_MAX / 2 + 1), 1) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(memalign(64, V(SIZE_MAX)) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(aligned_alloc(V(SIZE_MAX / 2 + 2), 1) == NULL && errno == EINVAL);

	/* posix_memalign: the error is returned, *memptr left alone */
	size_t bad[] = { 0, 1, 2, 4, 12, 24, 48, 3 * sizeof(void *),
			 SIZE_MAX / 2 + 2 };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (void *)0x1234;
		errno = 0;
		r = posix_memalign(&p, V(bad[i]), 16);
		CHECK(r == EINVAL && p == (void *)0x1234);
	}
	for (size_t a = sizeof(void *); a <= 65536; a <<= 1) {
		p = NULL;
		r = posix_memalign(&p, V(a), 100);
		CHECK(r == 0 && p && aligned(p, a));
		free(p);
	}
	p = (void *)0x1234;
	r = posix_memalign(&p, 64, V(SIZE_MAX));
	CHECK(r == ENOMEM && p == (void *)0x1234);

	long ps = sysconf(_SC_PAGESIZE);

	p = valloc(V(1));
	CHECK(p && aligned(p, (size_t)ps));
	free(p);
	p = pvalloc(V(1));
	CHECK(p && aligned(p, (size_t)ps) &&
	      malloc_usable_size(p) >= (size_t)ps);
	memset(p, 1, (size_t)ps);
	free(p);
	errno = 0;
	CHECK(pvalloc(V(SIZE_MAX)) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(valloc(V(SIZE_MAX)) == NULL && errno == ENOMEM);
	if (dev) {
		/* device: memalign(A, n) is an A-aligned block of n's order */
		p = memalign(V(1u << 20), 100);
		CHECK(p && aligned(p, 1u << 20) && malloc_usable_size(p) == 128);
		free(p);
	}
}

/* Many live blocks of random sizes, contents checked before each free. */
static void test_churn(void)
{
	enum { N = 20000 };
	static void *blk[N];
	static size_t len[N];
	uint64_t seed = 42;
	int ok = 1;

	for (int i = 0; i < 4 * N; i++) {
		int k = (int)(xorshift(&seed) % N);

		if (blk[k]) {
			ok &= t_verify(blk[k], len[k], (uint64_t)k);
			free(blk[k]);
		}
		len[k] = xorshift(&seed) % (xorshift(&seed) % 8 ? 512 : 65536);
		blk[k] = malloc(V(len[k]));
		if (!blk[k]) {
			ok = 0;
			continue;
		}
		t_fill(blk[k], len[k], (uint64_t)k);
	}
	for (int k = 0; k < N; k++) {
		if (blk[k])
			ok &= t_verify(blk[k], len[k], (uint64_t)k);
		free(blk[k]);
	}
	CHECK(ok);
}

static void test_device(buddy_t *dev)
{
	struct buddy_heap_stats st;
	void *p;

	CHECK(buddy_stats(dev, &st) == 0);
	CHECK(st.nr_allocs > 0 && st.heap_bytes > 0);
	CHECK(((uintptr_t)buddy_base(dev) & (buddy_window_size(dev) - 1)) == 0);
	/* the descriptor is close-on-exec and out of the low numbers */
	CHECK(buddy_fd(dev) >= 64);
	/* a big block: its pages are really there */
	p = malloc(V(64u << 20));
	CHECK(p != NULL);
	if (p) {
		memset(p, 0xab, 64u << 20);
		CHECK(((unsigned char *)p)[(64u << 20) - 1] == 0xab);
		free(p);
	}
}

int main(void)
{
	buddy_t *dev = t_buddy_default();

	printf("api: %s\n", dev ? "malloc is on /dev/buddy" :
	       "malloc is glibc's (no shim or fallback)");
	/* with bootstrap blocks mixed in, only glibc's contract holds */
	if (getenv("BUDDY_TEST_BOOTSTRAP"))
		dev = NULL;
	test_malloc(dev);
	test_free();
	test_calloc();
	test_realloc(dev);
	test_memalign(dev);
	test_churn();
	if (dev)
		test_device(dev);
	DONE();
}
