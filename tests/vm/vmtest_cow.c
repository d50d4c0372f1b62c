// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_cow.c - buddy_vmtest's checks of copy-on-write CLONE at the ABI
 * level (raw ioctls and mmap, no shim): a clone shares its source's pages
 * until one side faults on them or the kernel writes to them.
 *
 *	isolation	writes in every order on a source, its clone and the
 *			clone's clone; each sees only its own
 *	snapshot	a thread counting in the heap while CLONE runs: the
 *			clone holds one value between before and after, whole
 *	kernel writes	CALLOC, MALLOC ZERO, REALLOC (in place, moving, with
 *			and without ZERO) and FREE on shared pages, either side
 *	chunk release	a chunk one side gives back is SIGBUS there only
 *	mprotect	read-only then writable again on shared pages
 *	GUP		O_DIRECT read(), process_vm_writev, vmsplice into or
 *			from shared pages
 *	memcg		a clone is charged for what it copies only; at a tight
 *			limit a fault is SIGBUS, CALLOC/REALLOC -ENOMEM
 *
 * Every check that the other side is unchanged runs only after the acting
 * side has finished: any fault, even a read, unshares the page it hits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

/* One heap as a test sees it: its fd and where its window is mapped. */
struct side {
	int fd;
	char *base;
	uint64_t window;
};

/* CLONE @fd: the new fd, or -errno. */
static int clone_heap(int fd)
{
	struct buddy_clone_args c;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = xioctl(fd, BUDDY_IOC_CLONE, &c);
	return ret ? ret : c.fd;
}

/* A clone of @src mapped in this process (at another address); bails. */
static struct side clone_side(const struct side *src)
{
	struct side s;

	s.fd = clone_heap(src->fd);
	if (s.fd < 0)
		ktap_bail(__FILE__, __LINE__, "CLONE: %s", strerror(-s.fd));
	s.window = src->window;
	s.base = map_window(s.fd, s.window);
	return s;
}

static struct side new_side(void)
{
	struct side s;

	s.fd = open_heap();
	s.window = get_info(s.fd).window_bytes;
	s.base = map_window(s.fd, s.window);
	return s;
}

static void drop_side(struct side *s)
{
	munmap(s->base, s->window);
	close(s->fd);
	s->fd = -1;
}

/*
 * The pattern: each 8-byte word holds @seed in its top 16 bits and the
 * offset it was first written at below, so a page that moved, a page of
 * another heap and a stale page all read wrong.
 */
static void fill(char *base, uint64_t off, uint64_t n, unsigned int seed)
{
	uint64_t *w = (uint64_t *)(base + off), i;

	for (i = 0; i < n / 8; i++)
		w[i] = (uint64_t)seed << 48 | (off + i * 8);
}

/* Is [@off, @off + @n) the pattern of @seed first written at @orig? */
static bool is_pat(const char *base, uint64_t off, uint64_t n,
		   unsigned int seed, uint64_t orig)
{
	const uint64_t *w = (const uint64_t *)(base + off);
	uint64_t i;

	for (i = 0; i < n / 8; i++)
		if (w[i] != ((uint64_t)seed << 48 | (orig + i * 8)))
			return false;
	return true;
}

static bool pat(const char *base, uint64_t off, uint64_t n, unsigned int seed)
{
	return is_pat(base, off, n, seed, off);
}

static uint64_t xmalloc(int fd, uint64_t size)
{
	uint64_t off;
	int ret = heap_malloc(fd, size, 0, &off, NULL);

	if (ret)
		ktap_bail(__FILE__, __LINE__, "MALLOC %" PRIu64 ": %s", size,
			  strerror(-ret));
	return off;
}

/* Isolation */

enum { SRC_ONLY, CLONE_ONLY, SRC_THEN_CLONE, CLONE_THEN_SRC, NEITHER, NCASES };

static const char *const case_name[NCASES] = {
	"source only", "clone only", "source then clone", "clone then source",
	"neither",
};

struct gc_arg {
	int fd;			/* the grandchild heap */
	uint64_t window;
	uint64_t off[NCASES], sub[2];
	uint64_t size;
};

/* Seeds: 1 before CLONE; source 2, clone 3, grandchild 4, source 5. */
static void grandchild_child(void *arg)
{
	struct gc_arg *g = arg;
	char *b = map_window(g->fd, g->window);
	bool ok = true;
	int i;

	/* it was cloned from the clone after the writes below */
	for (i = 0; i < NCASES; i++)
		ok &= pat(b, g->off[i], g->size,
			  i == CLONE_ONLY || i == SRC_THEN_CLONE ||
			  i == CLONE_THEN_SRC ? 3 : 1);
	CHECK(ok, "cow: grandchild (in a child) sees the clone's bytes, not "
	      "the source's later ones");
	for (i = 0; i < NCASES; i++)
		fill(b, g->off[i], g->size, 4);
	fill(b, g->sub[0], 16, 4);
	ok = true;
	for (i = 0; i < NCASES; i++)
		ok &= pat(b, g->off[i], g->size, 4);
	CHECK(ok && pat(b, g->sub[0], 16, 4) && pat(b, g->sub[1], 16, 3),
	      "cow: grandchild sees its own writes");
	munmap(b, g->window);
}

static void cow_isolation(void)
{
	struct side src = new_side(), cl, gc;
	uint64_t size = 64 * KiB, off[NCASES], sub[2];
	struct gc_arg ga;
	bool ok;
	int i;

	for (i = 0; i < NCASES; i++) {
		off[i] = xmalloc(src.fd, size);
		fill(src.base, off[i], size, 1);
	}
	/* two 16-byte blocks in one page: one side writes each */
	sub[0] = xmalloc(src.fd, 16);
	sub[1] = xmalloc(src.fd, 16);
	CHECK(sub[0] / 4096 == sub[1] / 4096,
	      "cow: two small blocks share a page (%#" PRIx64 ", %#" PRIx64 ")",
	      sub[0], sub[1]);
	fill(src.base, sub[0], 16, 1);
	fill(src.base, sub[1], 16, 1);

	cl = clone_side(&src);
	fill(src.base, off[SRC_ONLY], size, 2);
	fill(cl.base, off[CLONE_ONLY], size, 3);
	fill(src.base, off[SRC_THEN_CLONE], size, 2);
	fill(cl.base, off[SRC_THEN_CLONE], size, 3);
	fill(cl.base, off[CLONE_THEN_SRC], size, 3);
	fill(src.base, off[CLONE_THEN_SRC], size, 2);
	fill(src.base, sub[0], 16, 2);
	fill(cl.base, sub[1], 16, 3);
	for (i = 0; i < NCASES; i++) {
		bool s = i == SRC_ONLY || i == SRC_THEN_CLONE ||
			 i == CLONE_THEN_SRC;
		bool c = i == CLONE_ONLY || i == SRC_THEN_CLONE ||
			 i == CLONE_THEN_SRC;

		CHECK(pat(src.base, off[i], size, s ? 2 : 1) &&
		      pat(cl.base, off[i], size, c ? 3 : 1),
		      "cow: %s: source sees %s, clone sees %s", case_name[i],
		      s ? "its write" : "the old bytes",
		      c ? "its write" : "the old bytes");
	}
	CHECK(pat(src.base, sub[0], 16, 2) && pat(src.base, sub[1], 16, 1) &&
	      pat(cl.base, sub[0], 16, 1) && pat(cl.base, sub[1], 16, 3),
	      "cow: one page, one block written on each side: each sees its own");

	/* the clone of the clone, written in a child, then all three */
	ga.fd = clone_heap(cl.fd);
	CHECK(ga.fd >= 0, "cow: CLONE of the clone");
	if (ga.fd < 0)
		goto out;
	fill(src.base, off[NEITHER], size, 5);
	ga.window = src.window;
	memcpy(ga.off, off, sizeof(off));
	memcpy(ga.sub, sub, sizeof(sub));
	ga.size = size;
	in_child("cow grandchild", grandchild_child, &ga);
	gc.fd = ga.fd;
	gc.window = src.window;
	gc.base = map_window(gc.fd, gc.window);
	ok = true;
	for (i = 0; i < NCASES; i++)
		ok &= pat(gc.base, off[i], size, 4);
	CHECK(ok, "cow: the grandchild heap kept the child's writes");
	fill(cl.base, off[NEITHER], size, 6);
	fill(gc.base, off[SRC_ONLY], size, 7);
	CHECK(pat(src.base, off[NEITHER], size, 5) &&
	      pat(cl.base, off[NEITHER], size, 6) &&
	      pat(gc.base, off[NEITHER], size, 4),
	      "cow: source, clone, grandchild write one block: each sees its own");
	CHECK(pat(src.base, off[SRC_ONLY], size, 2) &&
	      pat(cl.base, off[SRC_ONLY], size, 1) &&
	      pat(gc.base, off[SRC_ONLY], size, 7),
	      "cow: the grandchild's write reached neither source nor clone");

	/* the source goes: the others keep their bytes */
	drop_side(&src);
	CHECK(pat(cl.base, off[CLONE_ONLY], size, 3) &&
	      pat(cl.base, off[SRC_ONLY], size, 1) &&
	      pat(gc.base, off[CLONE_ONLY], size, 4),
	      "cow: the source closed: clone and grandchild keep their bytes");
	drop_side(&cl);
	CHECK(pat(gc.base, off[CLONE_ONLY], size, 4) &&
	      pat(gc.base, sub[1], 16, 3),
	      "cow: the clone closed: the grandchild keeps its bytes");
	drop_side(&gc);
	return;
out:
	drop_side(&cl);
	drop_side(&src);
}

/* Snapshot: a thread counting in the heap while CLONE runs */

struct counter {
	uint64_t *p;		/* in the heap */
	uint64_t intent;	/* the value about to be stored */
	uint64_t done;		/* the value stored */
	int stop;
};

/* The heap word is (n << 32 | n): a torn value has unequal halves. */
static void *count_thread(void *arg)
{
	struct counter *c = arg;
	uint64_t n = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		n++;
		__atomic_store_n(&c->intent, n, __ATOMIC_SEQ_CST);
		__atomic_store_n(c->p, n << 32 | n, __ATOMIC_SEQ_CST);
		__atomic_store_n(&c->done, n, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void cow_snapshot(void)
{
	struct side src = new_side();
	uint64_t off = xmalloc(src.fd, 4096), big = xmalloc(src.fd, 8 * MiB);
	unsigned int i, bad_range = 0, torn = 0, moved = 0, runs = 40;
	uint64_t lo = 0, hi = 0, got = 0;
	struct counter c;
	pthread_t t;

	memset(src.base + big, 0x5a, 8 * MiB);	/* CLONE has pages to share */
	memset(&c, 0, sizeof(c));
	c.p = (uint64_t *)(src.base + off);
	*c.p = 0;
	if (pthread_create(&t, NULL, count_thread, &c))
		die("pthread_create");
	for (i = 0; i < runs; i++) {
		uint64_t before, after, v, start;
		int cfd;
		char *cb;

		start = __atomic_load_n(&c.done, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&c.done, __ATOMIC_SEQ_CST) < start + 1000)
			;
		before = __atomic_load_n(&c.done, __ATOMIC_SEQ_CST);
		cfd = clone_heap(src.fd);
		after = __atomic_load_n(&c.intent, __ATOMIC_SEQ_CST);
		if (cfd < 0) {
			CHECK(0, "cow snapshot: CLONE: %s", strerror(-cfd));
			break;
		}
		cb = map_window(cfd, src.window);
		v = *(volatile uint64_t *)(cb + off);
		if ((v >> 32) != (v & 0xffffffffu))
			torn++;
		else if ((v & 0xffffffffu) < (before & 0xffffffffu) ||
			 (v & 0xffffffffu) > (after & 0xffffffffu))
			bad_range++;
		if (after > before)
			moved++;
		if (i == runs - 1 || bad_range + torn == 1) {
			lo = before;
			hi = after;
			got = v;
		}
		munmap(cb, src.window);
		close(cfd);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECK(!torn && !bad_range,
	      "cow snapshot: %u CLONEs under a counting thread: %u torn, %u "
	      "outside [before, after] (e.g. %#" PRIx64 " in [%" PRIu64 ", %"
	      PRIu64 "])", runs, torn, bad_range, got, lo, hi);
	ktap_diag("cow snapshot: the thread counted on during %u of %u CLONEs",
		  moved, runs);
	CHECK(*c.p >> 32 == (*c.p & 0xffffffffu) &&
	      (*c.p & 0xffffffffu) == (c.done & 0xffffffffu),
	      "cow snapshot: the source holds the thread's last value");
	drop_side(&src);
}

/* Kernel writes on shared pages: CALLOC, MALLOC ZERO, REALLOC, FREE */

struct kw_blocks {
	uint64_t a, g, m, m2, p, f;	/* sizes: 4K, 16K (of 64K), 8K x 4 */
};

/* Seeds 0x10 + index; f is freed after being written. */
static struct kw_blocks kw_setup(struct side *s)
{
	struct kw_blocks b;
	uint64_t u;

	b.a = xmalloc(s->fd, 4096);
	b.g = xmalloc(s->fd, 64 * KiB);
	b.m = xmalloc(s->fd, 8 * KiB);
	b.m2 = xmalloc(s->fd, 8 * KiB);
	b.p = xmalloc(s->fd, 8 * KiB);
	b.f = xmalloc(s->fd, 8 * KiB);
	fill(s->base, b.a, 4096, 0x10);
	fill(s->base, b.g, 64 * KiB, 0x11);
	fill(s->base, b.m, 8 * KiB, 0x12);
	fill(s->base, b.m2, 8 * KiB, 0x13);
	fill(s->base, b.p, 8 * KiB, 0x14);
	fill(s->base, b.f, 8 * KiB, 0x15);
	CHECK_ERR(heap_realloc(s->fd, b.g, 16 * KiB, 0, &u, NULL), 0,
		  "cow kw: REALLOC 64K -> 16K (frees its tail)");
	CHECK(u == b.g, "cow kw: the shrink stayed in place");
	CHECK_ERR(heap_free(s->fd, b.f, NULL), 0, "cow kw: FREE a written block");
	return b;
}

/* Is @o's view the setup's, untouched by the other side's requests? */
static bool kw_untouched(const char *b, const struct kw_blocks *k)
{
	return pat(b, k->a, 4096, 0x10) && pat(b, k->g, 64 * KiB, 0x11) &&
	       pat(b, k->m, 8 * KiB, 0x12) && pat(b, k->m2, 8 * KiB, 0x13) &&
	       pat(b, k->p, 8 * KiB, 0x14) && pat(b, k->f, 8 * KiB, 0x15);
}

/*
 * @act makes its requests on pages shared with @other without touching
 * either mapping; then both are read.
 */
static void kw_round(struct side *act, struct side *other,
		     const struct kw_blocks *k, const char *who)
{
	uint64_t c1, z1, ng, nm, nm2, na, u;
	int rc1, rz1, rg, rm, rm2, ra, rp;
	char *b = act->base;

	/* g first: the allocations below would take its buddies */
	rg = heap_realloc(act->fd, k->g, 64 * KiB, BUDDY_ALLOC_ZERO, &ng, &u);
	rc1 = heap_alloc(act->fd, BUDDY_IOC_CALLOC, 8 * KiB, 1, 0, 0, &c1,
			 NULL);
	rz1 = heap_malloc(act->fd, 8 * KiB, BUDDY_ALLOC_ZERO, &z1, NULL);
	rm = heap_realloc(act->fd, k->m, 32 * KiB, 0, &nm, NULL);
	rm2 = heap_realloc(act->fd, k->m2, 32 * KiB, BUDDY_ALLOC_ZERO, &nm2,
			   NULL);
	ra = heap_realloc(act->fd, k->a, 1024, 0, &na, NULL);
	rp = heap_free(act->fd, k->p, NULL);

	CHECK(!rc1 && !rz1 && !rg && !rm && !rm2 && !ra && !rp,
	      "cow kw %s: CALLOC, MALLOC ZERO, 3 REALLOCs, FREE on shared "
	      "pages: %d %d %d %d %d %d %d", who, rc1, rz1, rg, rm, rm2, ra,
	      rp);
	if (rc1 || rz1 || rg || rm || rm2 || ra || rp)
		return;
	ktap_diag("cow kw %s: a %#" PRIx64 " g %#" PRIx64 " f %#" PRIx64
		  " calloc %#" PRIx64 " zero %#" PRIx64 " g now %#" PRIx64
		  " usable %#" PRIx64, who, k->a, k->g, k->f, c1, z1, ng, u);
	CHECK(c1 == k->f || z1 == k->f,
	      "cow kw %s: the written, freed block came back zeroed", who);
	CHECK(all_bytes(b + c1, 0, 8 * KiB), "cow kw %s: CALLOC zeroed", who);
	CHECK(all_bytes(b + z1, 0, 8 * KiB), "cow kw %s: MALLOC ZERO zeroed",
	      who);
	CHECK(ng == k->g && u == 64 * KiB,
	      "cow kw %s: REALLOC ZERO 16K -> 64K in place", who);
	CHECK(pat(b, k->g, 16 * KiB, 0x11) &&
	      all_bytes(b + k->g + 16 * KiB, 0, 48 * KiB),
	      "cow kw %s: in place: kept 16K, zeroed the 48K gained", who);
	CHECK(nm != k->m && nm2 != k->m2,
	      "cow kw %s: REALLOC 8K -> 32K moved (%#" PRIx64 " -> %#" PRIx64
	      ", %#" PRIx64 " -> %#" PRIx64 ")", who, k->m, nm, k->m2, nm2);
	CHECK(is_pat(b, nm, 8 * KiB, 0x12, k->m),
	      "cow kw %s: moving REALLOC copied the 8K", who);
	CHECK(is_pat(b, nm2, 8 * KiB, 0x13, k->m2) &&
	      all_bytes(b + nm2 + 8 * KiB, 0, 24 * KiB),
	      "cow kw %s: moving REALLOC ZERO copied 8K, zeroed 24K", who);
	CHECK(na == k->a && pat(b, k->a, 1024, 0x10),
	      "cow kw %s: REALLOC 4K -> 1K in place kept its bytes", who);
	CHECK_ERR(heap_usable(act->fd, k->p, NULL, NULL), EINVAL,
		  "cow kw %s: its FREE took", who);
	CHECK(kw_untouched(other->base, k),
	      "cow kw %s: the other side's bytes are unchanged, freed block "
	      "included", who);
	CHECK_ERR(heap_usable(other->fd, k->p, &u, NULL), 0,
		  "cow kw %s: the block it freed is live on the other side", who);
	CHECK_ERR(heap_usable(other->fd, k->m, &u, NULL), 0,
		  "cow kw %s: the block it moved is still where it was on the "
		  "other side", who);
}

static void cow_kernel_writes(void)
{
	struct side src = new_side(), cl;
	struct kw_blocks k = kw_setup(&src);

	cl = clone_side(&src);
	kw_round(&cl, &src, &k, "in the clone");
	drop_side(&cl);
	/* the source's pages are its own again: share them once more */
	cl = clone_side(&src);
	kw_round(&src, &cl, &k, "in the source");
	drop_side(&cl);
	drop_side(&src);
}

/* Chunk release on one side */

static void cow_release_one(bool in_clone)
{
	struct side src = new_side(), cl, *rel, *keep;
	const char *who = in_clone ? "clone" : "source";
	struct buddy_heap_stats s0, s1;
	uint64_t a, bb, u;
	int sig1, sig2;

	a = xmalloc(src.fd, 2 * MiB);
	bb = xmalloc(src.fd, 4 * MiB);
	fill(src.base, a, 2 * MiB, 0x20);
	fill(src.base, bb, 4 * MiB, 0x21);
	cl = clone_side(&src);
	rel = in_clone ? &cl : &src;
	keep = in_clone ? &src : &cl;
	/* one page of the block copied by a read first, the rest shared */
	CHECK(pat(rel->base, bb, 4096, 0x21),
	      "cow release %s: reads the block before freeing it", who);
	s0 = get_stats(rel->fd);
	CHECK_ERR(heap_free(rel->fd, bb, NULL), 0, "cow release %s: FREE 4 MiB",
		  who);
	s1 = get_stats(rel->fd);
	CHECK(s1.nr_chunks < s0.nr_chunks && s1.heap_bytes <= s0.heap_bytes -
	      4 * MiB, "cow release %s: the chunk went back (chunks %llu -> "
	      "%llu, heap %llu -> %llu KiB)", who,
	      (unsigned long long)s0.nr_chunks,
	      (unsigned long long)s1.nr_chunks,
	      (unsigned long long)(s0.heap_bytes / 1024),
	      (unsigned long long)(s1.heap_bytes / 1024));
	sig1 = guarded_touch(rel->base + bb, false, 0);
	sig2 = guarded_touch(rel->base + bb + 3 * MiB, true, 1);
	CHECK(sig1 == SIGBUS && sig2 == SIGBUS,
	      "cow release %s: its released range is SIGBUS (read %d, write %d)",
	      who, sig1, sig2);
	CHECK(pat(keep->base, bb, 4 * MiB, 0x21) &&
	      pat(keep->base, a, 2 * MiB, 0x20),
	      "cow release %s: the other heap still reads its bytes there", who);
	CHECK_ERR(heap_usable(keep->fd, bb, &u, NULL), 0,
		  "cow release %s: the block is live on the other side", who);
	fill(keep->base, bb, 4 * MiB, 0x22);
	CHECK(pat(keep->base, bb, 4 * MiB, 0x22),
	      "cow release %s: the other heap writes there", who);
	CHECK_ERR(heap_free(rel->fd, a, NULL), 0,
		  "cow release %s: FREE the rest", who);
	CHECK(get_stats(rel->fd).live_blocks == 0 &&
	      pat(keep->base, a, 2 * MiB, 0x20),
	      "cow release %s: empty; the other side keeps everything", who);
	drop_side(&cl);
	drop_side(&src);
}

/* mprotect on shared pages */

static void cow_mprotect_one(bool clone_acts)
{
	struct side src = new_side(), cl, *act, *other;
	const char *who = clone_acts ? "clone" : "source";
	uint64_t off = xmalloc(src.fd, 64 * KiB);
	int r1, r2, sig;
	bool ok;

	fill(src.base, off, 64 * KiB, 0x30);
	cl = clone_side(&src);
	act = clone_acts ? &cl : &src;
	other = clone_acts ? &src : &cl;
	r1 = mprotect(act->base, act->window, PROT_READ);
	ok = pat(act->base, off, 32 * KiB, 0x30);	/* half: rest unfaulted */
	sig = guarded_touch(act->base + off, true, 1);
	r2 = mprotect(act->base, act->window, PROT_READ | PROT_WRITE);
	CHECK(!r1 && !r2, "cow mprotect %s: PROT_READ and back (%s)", who,
	      r1 || r2 ? strerror(errno) : "ok");
	CHECK(ok, "cow mprotect %s: reads shared pages PROT_READ", who);
	CHECK(sig == SIGSEGV, "cow mprotect %s: a write PROT_READ is SIGSEGV "
	      "(%d)", who, sig);
	fill(act->base, off, 64 * KiB, 0x31);
	CHECK(pat(act->base, off, 64 * KiB, 0x31),
	      "cow mprotect %s: writable again, writes", who);
	CHECK(pat(other->base, off, 64 * KiB, 0x30),
	      "cow mprotect %s: the other heap is unchanged", who);
	drop_side(&cl);
	drop_side(&src);
}

/* GUP users on shared pages in the source */

#define GUP_BYTES	(64 * KiB)

/* A file that read() with O_DIRECT works on, or -1 (its path in @path). */
static int odirect_file(char *path, size_t size)
{
	static const char *const dirs[] = {
		"build", "/tmp", "/var/tmp", "/root", "/dev/shm",
	};
	void *buf;
	unsigned int i;

	if (posix_memalign(&buf, 4096, GUP_BYTES))
		return -1;
	fill(buf, 0, GUP_BYTES, 0x40);
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		int fd, w;

		snprintf(path, size, "%s/buddy-cow-odirect-%d", dirs[i],
			 getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
		if (fd < 0)
			continue;
		w = pwrite(fd, buf, GUP_BYTES, 0);
		if (w == (int)GUP_BYTES && pread(fd, buf, GUP_BYTES, 0) ==
		    (ssize_t)GUP_BYTES && pat(buf, 0, GUP_BYTES, 0x40)) {
			free(buf);
			return fd;
		}
		close(fd);
		unlink(path);
	}
	free(buf);
	return -1;
}

struct pvw_arg {
	char *dst;
	pid_t pid;
};

static void pvw_child(void *arg)
{
	struct pvw_arg *a = arg;
	struct iovec l, r;
	char *buf = malloc(GUP_BYTES);
	ssize_t n;

	if (!buf)
		die("malloc");
	fill(buf, 0, GUP_BYTES, 0x41);
	l.iov_base = buf;
	l.iov_len = GUP_BYTES;
	r.iov_base = a->dst;
	r.iov_len = GUP_BYTES;
	n = process_vm_writev(a->pid, &l, 1, &r, 1, 0);
	CHECK(n == (ssize_t)GUP_BYTES,
	      "cow gup: process_vm_writev into the parent's shared pages (%zd%s%s)",
	      n, n < 0 ? ", " : "", n < 0 ? strerror(errno) : "");
	free(buf);
}

static void cow_gup(void)
{
	struct side src = new_side(), cl;
	uint64_t o[3], i;
	char path[128], *buf;
	struct pvw_arg pa;
	struct iovec iov;
	int fd, pfd[2];
	ssize_t n;

	for (i = 0; i < 3; i++) {
		o[i] = xmalloc(src.fd, GUP_BYTES);
		fill(src.base, o[i], GUP_BYTES, 0x48 + i);
	}
	buf = malloc(GUP_BYTES);
	if (!buf)
		die("malloc");

	/* O_DIRECT read() into shared pages */
	fd = odirect_file(path, sizeof(path));
	if (fd < 0) {
		ktap_skip("no directory here supports O_DIRECT",
			  "cow gup: O_DIRECT read() into shared pages");
	} else {
		ktap_diag("O_DIRECT file %s", path);
		cl = clone_side(&src);
		n = pread(fd, src.base + o[0], GUP_BYTES, 0);
		CHECK(n == (ssize_t)GUP_BYTES &&
		      is_pat(src.base, o[0], GUP_BYTES, 0x40, 0),
		      "cow gup: O_DIRECT read() into shared pages arrived (%zd)",
		      n);
		CHECK(pat(cl.base, o[0], GUP_BYTES, 0x48) &&
		      pat(cl.base, o[1], GUP_BYTES, 0x49),
		      "cow gup: O_DIRECT: the clone is unchanged");
		drop_side(&cl);
		close(fd);
		unlink(path);
	}

	/* process_vm_writev from a child into shared pages */
	if (process_vm_writev(getpid(), NULL, 0, NULL, 0, 0) < 0 &&
	    errno == ENOSYS) {
		ktap_skip("no CONFIG_CROSS_MEMORY_ATTACH in this kernel",
			  "cow gup: process_vm_writev into shared pages");
	} else {
		cl = clone_side(&src);
		pa.dst = src.base + o[1];
		pa.pid = getpid();
		in_child("cow gup process_vm_writev", pvw_child, &pa);
		CHECK(is_pat(src.base, o[1], GUP_BYTES, 0x41, 0),
		      "cow gup: process_vm_writev: the bytes arrived");
		CHECK(pat(cl.base, o[1], GUP_BYTES, 0x49) &&
		      pat(cl.base, o[2], GUP_BYTES, 0x4a),
		      "cow gup: process_vm_writev: the clone is unchanged");
		drop_side(&cl);
	}

	/* vmsplice shared pages into a pipe, read them back */
	cl = clone_side(&src);
	if (pipe(pfd))
		die("pipe");
	iov.iov_base = src.base + o[2];
	iov.iov_len = GUP_BYTES;
	n = vmsplice(pfd[1], &iov, 1, 0);
	CHECK(n == (ssize_t)GUP_BYTES, "cow gup: vmsplice 64 KiB of shared "
	      "pages (%zd)", n);
	memset(buf, 0, GUP_BYTES);
	if (n > 0) {
		ssize_t got = 0, r;

		while (got < n && (r = read(pfd[0], buf + got, n - got)) > 0)
			got += r;
		CHECK(got == n && is_pat(buf, 0, n, 0x4a, o[2]),
		      "cow gup: vmsplice: the pipe holds the heap's bytes");
	}
	close(pfd[0]);
	close(pfd[1]);
	CHECK(pat(cl.base, o[2], GUP_BYTES, 0x4a) &&
	      pat(src.base, o[2], GUP_BYTES, 0x4a),
	      "cow gup: vmsplice: both sides unchanged");
	fill(src.base, o[2], GUP_BYTES, 0x4b);
	CHECK(pat(cl.base, o[2], GUP_BYTES, 0x4a),
	      "cow gup: vmsplice: the source writes after it, the clone is "
	      "unchanged");
	drop_side(&cl);
	free(buf);
	drop_side(&src);
}

/* memcg */

#define MEMCG_HEAP	(64 * MiB)

struct memcg_arg {
	const char *cg;
	struct side *src;
	uint64_t big, tail;	/* a 24 MiB block; a 1 MiB block, 31 free */
};

static bool join_cg(const char *cg)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	read_ll(path, NULL);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	return !write_file(path, "0");
}

/* In the loose group: the clone is charged for what it copies. */
static void memcg_charge_child(void *arg)
{
	struct memcg_arg *m = arg;
	long long before, cloned, written, after;
	char path[256], *cb;
	int cfd;

	if (!CHECK(join_cg(m->cg), "cow memcg: child joins %s", m->cg))
		return;
	snprintf(path, sizeof(path), "%s/memory.current", m->cg);
	before = read_ll(path, NULL);
	cfd = clone_heap(m->src->fd);
	cloned = read_ll(path, NULL);
	if (!CHECK(cfd >= 0, "cow memcg: CLONE of a 64 MiB heap in the group"))
		return;
	CHECK(cloned - before < (long long)(1 * MiB),
	      "cow memcg: CLONE charged %lld KiB for a %llu MiB heap",
	      (cloned - before) / 1024,
	      (unsigned long long)(MEMCG_HEAP / MiB));
	cb = map_window(cfd, m->src->window);
	memset(cb + m->big, 0x77, 16 * MiB);
	written = read_ll(path, NULL);
	/*
	 * memory.current counts pages a CPU charged ahead in its stock
	 * (MEMCG_CHARGE_BATCH, 64 pages) before they are used: the writes
	 * may use up to that much per CPU charged before @cloned was read.
	 */
	CHECK(written - cloned >= (long long)(16 * MiB) -
				   sysconf(_SC_NPROCESSORS_ONLN) * 64 * 4096,
	      "cow memcg: writing 16 MiB in the clone charged %lld KiB",
	      (written - cloned) / 1024);
	munmap(cb, m->src->window);
	close(cfd);
	after = read_ll(path, NULL);
	CHECK(after - before < (long long)(2 * MiB),
	      "cow memcg: closing the clone gave it back (%+lld KiB)",
	      (after - before) / 1024);
}

/*
 * In the tight group (8 MiB): faults past the limit are SIGBUS, CALLOC
 * and REALLOC ZERO on shared pages -ENOMEM with the heap unchanged.
 * While the group is at its limit anything charged (a VMA, a struct file,
 * a pipe buffer for stdout) would call the OOM killer on us: the window is
 * mapped and memory.max opened beforehand, nothing is printed, and the
 * limit is lifted before the bytes are read back.
 */
static void memcg_tight_child(void *arg)
{
	struct memcg_arg *m = arg;
	int cfd, sig = 0, rr, rc, maxfd;
	uint64_t i, pages = 0, u = 0, c1 = 0;
	struct buddy_heap_stats s0, s1;
	long long before, after;
	char path[256], *cb;
	bool same;

	/*
	 * A fault loop at the limit would never end: the alarm turns it into
	 * a failure.  Reclaim at the limit is slow on the debug kernel, and
	 * make check runs other guests beside this one: 60 s once ran out.
	 */
	alarm(240);
	if (!CHECK(join_cg(m->cg), "cow memcg tight: child joins %s", m->cg))
		return;
	snprintf(path, sizeof(path), "%s/memory.current", m->cg);
	before = read_ll(path, NULL);
	cfd = clone_heap(m->src->fd);
	if (!CHECK(cfd >= 0, "cow memcg tight: CLONE in an 8 MiB group (%s)",
		   cfd < 0 ? strerror(-cfd) : "ok"))
		return;
	cb = map_window(cfd, m->src->window);
	for (i = 0; i < 24 * MiB; i += 4096) {
		sig = guarded_touch(cb + m->big + i, true, 0x33);
		if (sig)
			break;
		pages++;
	}
	munmap(cb, m->src->window);
	close(cfd);
	after = read_ll(path, NULL);
	CHECK(sig == SIGBUS, "cow memcg tight: writing 24 MiB in the clone: "
	      "SIGBUS after %" PRIu64 " KiB (signal %d)", pages * 4, sig);
	CHECK(pages * 4096 < 8 * MiB, "cow memcg tight: no more than the "
	      "limit was copied");
	CHECK(after - before < (long long)MiB,
	      "cow memcg tight: closing that clone gave it back (%+lld KiB)",
	      (after - before) / 1024);

	snprintf(path, sizeof(path), "%s/memory.max", m->cg);
	maxfd = open(path, O_WRONLY);
	cfd = clone_heap(m->src->fd);
	if (!CHECK(cfd >= 0 && maxfd >= 0, "cow memcg tight: CLONE again"))
		return;
	cb = map_window(cfd, m->src->window);
	s0 = get_stats(cfd);
	rr = heap_realloc(cfd, m->tail, 32 * MiB, BUDDY_ALLOC_ZERO, &u, NULL);
	rc = heap_alloc(cfd, BUDDY_IOC_CALLOC, 16 * MiB, 1, 0, 0, &c1, NULL);
	s1 = get_stats(cfd);
	u = 0;
	heap_usable(cfd, m->tail, &u, NULL);
	/* lift the limit: reading the bytes back copies pages */
	sig = write(maxfd, "max", 3) == 3 ? 0 : errno;
	close(maxfd);
	same = s1.live_blocks == s0.live_blocks &&
	       s1.bytes_in_use == s0.bytes_in_use &&
	       s1.heap_bytes == s0.heap_bytes;
	CHECK(!sig, "cow memcg tight: memory.max lifted (%s)", strerror(sig));
	CHECK(rr == -ENOMEM, "cow memcg tight: REALLOC ZERO 1 -> 32 MiB over "
	      "shared pages: %s (want ENOMEM)", rr ? strerror(-rr) : "success");
	CHECK(rc == -ENOMEM, "cow memcg tight: CALLOC 16 MiB over shared "
	      "pages: %s (want ENOMEM)", rc ? strerror(-rc) : "success");
	CHECK(same && u == 1 * MiB, "cow memcg tight: the clone's blocks are "
	      "unchanged (the block's size %" PRIu64 " KiB)", u / 1024);
	CHECK(pat(cb, m->tail, 1 * MiB, 0x51) &&
	      pat(cb, m->tail + 1 * MiB, 31 * MiB, 0x51) &&
	      pat(cb, m->big, 24 * MiB, 0x50),
	      "cow memcg tight: the clone's bytes are unchanged, the free tail "
	      "included");
	munmap(cb, m->src->window);
	close(cfd);
}

static void cow_memcg(void)
{
	char cg[128], path[200], *s, buf[256];
	struct memcg_arg m;
	struct side src;
	uint64_t u;

	s = slurp(CGROOT "/cgroup.subtree_control", buf, sizeof(buf));
	if (!s || !strstr(s, "memory")) {
		ktap_skip("no memory controller in " CGROOT, "cow memcg");
		return;
	}
	/* the source, outside any test group: 24 MiB written, 31 MiB freed */
	src = new_side();
	m.src = &src;
	m.big = xmalloc(src.fd, 24 * MiB);
	fill(src.base, m.big, 24 * MiB, 0x50);
	m.tail = xmalloc(src.fd, 32 * MiB);
	fill(src.base, m.tail, 32 * MiB, 0x51);
	CHECK_ERR(heap_realloc(src.fd, m.tail, 1 * MiB, 0, &u, NULL), 0,
		  "cow memcg: REALLOC 32 -> 1 MiB (a written, free tail)");

	snprintf(cg, sizeof(cg), CGROOT "/buddy-vmtest-cow-%d", getpid());
	if (mkdir(cg, 0755)) {
		CHECK(0, "cow memcg: mkdir %s: %s", cg, strerror(errno));
		goto out;
	}
	m.cg = cg;
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_file(path, "0");
	in_child("cow memcg charge", memcg_charge_child, &m);

	snprintf(path, sizeof(path), "%s/memory.max", cg);
	CHECK_ERR(write_file(path, "8388608"), 0, "cow memcg: memory.max 8 MiB");
	in_child("cow memcg tight", memcg_tight_child, &m);
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	CHECK(read_ll(path, "oom_kill ") == 0,
	      "cow memcg: nothing was OOM-killed");
	CHECK(pat(src.base, m.big, 24 * MiB, 0x50) &&
	      pat(src.base, m.tail, 32 * MiB, 0x51),
	      "cow memcg: the source is unchanged");
	CHECK(rmdir(cg) == 0, "cow memcg: cgroup removed (%s)",
	      access(cg, F_OK) ? "gone" : strerror(errno));
out:
	drop_side(&src);
}

void test_cow(void)
{
	cow_isolation();
	cow_snapshot();
	cow_kernel_writes();
	cow_release_one(true);
	cow_release_one(false);
	cow_mprotect_one(false);
	cow_mprotect_one(true);
	cow_gup();
	cow_memcg();
}
