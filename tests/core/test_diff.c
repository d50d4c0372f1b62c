// SPDX-License-Identifier: GPL-2.0
/*
 * test_diff.c - randomized differential test against the reference model.
 *
 * Random alloc / aligned alloc / free / realloc / usable_size / bad-offset
 * operations run on the core and on the model; every result, offset and
 * counter must agree.  Every live block is filled with a pattern derived
 * from its own seed and verified before it is freed or reallocated, so an
 * overlap between two blocks shows up as a corrupted pattern.  buddy_check()
 * runs every CHECK_EVERY operations and at the end.
 *
 * One in 32 of the zeroing allocs and of the reallocs make their first or
 * second ops->copy or ops->zero fail (tmem's fail_write_in).  A call that
 * reached it is checked against the contract of struct buddy_ops (every
 * live block, its contents, the outputs, the counters; see write_failed()),
 * not against the model, which then takes the heap's free layout
 * (model_sync()) and is compared with every later call as before.
 *
 * Phases with cfg.trim_order (issue 16's trimmed runs) are realloc heavy,
 * with half the reallocs near the block's usable size, so that runs are
 * trimmed, shrunk, grown in place into their tails and moved; every
 * usable size is also checked against the spec's formula, and the start
 * of a run's later piece must be refused as NOT_START with the heap
 * unchanged.  Each of those paths is counted and the phase fails if one
 * ran too rarely to prove anything.
 *
 * BUDDY_TEST_SEED overrides the seed, BUDDY_TEST_OPS the number of
 * operations per phase.
 */
#include <string.h>
#include "tutil.h"
#include "model.h"

#define CHECK_EVERY	1024

struct live {
	u64 off, usable, seed;
};

struct phase;

struct diff {
	struct buddy_heap h;
	struct model m;
	struct tmem mem;
	struct live *live;
	size_t n, cap;
	u64 rng;
	long ops, errs, moves, enomem, wfails;
	unsigned int peak_chunks;
	const struct phase *p;
	/* trimmed runs: how often each path ran (each has a floor) */
	long run_allocs;	/* allocs that gave a run of several pieces */
	long aligned_runs;	/* of those, aligned allocs */
	long run_frees;		/* frees of a run of several pieces */
	long tail_grows;	/* reallocs growing such a run in place */
	long run_shrinks;	/* reallocs shrinking in place to such a run */
	long run_moves;		/* reallocs moving from or to such a run */
	long cont_refused;	/* a later piece's start refused, heap unchanged */
	long defer_grows;	/* a run grew in place over a deferred block */
	long peak_deferred;	/* most deferred blocks seen at once */
	int bad;
	int armed;		/* a write failure is armed: @before is taken */
	struct tsnap before;
	u64 failed_before;	/* nr_failed when armed */
};

static void pattern_fill(u8 *p, u64 bytes, u64 seed)
{
	u64 i, *w = (u64 *)p;

	for (i = 0; i < bytes / 8; i++)
		w[i] = seed ^ (i * 0x9e3779b97f4a7c15ULL);
}

/* Bytes of @p that still hold the pattern (all of them: @bytes). */
static u64 pattern_check(const u8 *p, u64 bytes, u64 seed)
{
	const u64 *w = (const u64 *)p;
	u64 i;

	for (i = 0; i < bytes / 8; i++)
		if (w[i] != (seed ^ (i * 0x9e3779b97f4a7c15ULL)))
			return i * 8;
	return bytes;
}

static void fail(struct diff *d, const char *what, u64 off)
{
	if (!d->bad)
		t_report(__FILE__, __LINE__, "op %ld: %s at %#llx", d->ops,
			 what, (unsigned long long)off);
	d->bad = 1;
}

static u8 *host(struct diff *d, u64 off)
{
	return buddy_chunk_address(&d->h, off, NULL);
}

struct phase {
	const char *name;
	unsigned int max_order, min_chunk_order;
	u64 cap, low_water;
	size_t target;		/* live blocks the walk hovers around */
	unsigned int defer_depth;
	unsigned int max_step_order;
	unsigned int trim_order;
	int large;		/* sizes mostly above 4 KiB (rand_size()) */
};

/* From the spec rather than from the model: is @size a run target? */
static int run_target(const struct diff *d, u64 size)
{
	unsigned int n = 0;

	while ((16ULL << n) < size)
		n++;
	return d->h.cfg.trim_order && n >= d->h.cfg.trim_order;
}

/* The block a request of @size needs: 2^n. */
static u64 spec_block(u64 size)
{
	u64 b = 16;

	while (b < size)
		b <<= 1;
	return b;
}

/* What a request of @size must get: a run in BUDDY_TRIM_UNITs, or 2^n. */
static u64 spec_usable(const struct diff *d, u64 size)
{
	if (run_target(d, size))
		return (size + BUDDY_TRIM_UNIT - 1) & ~(BUDDY_TRIM_UNIT - 1);
	return spec_block(size);
}

/* The core's walk from a run's start: its pieces (see run_pieces()). */
struct run_walk {
	u64 off, bytes;
	unsigned int n;
	u64 later[8];		/* the first later pieces' offsets */
};

static int run_cb(void *arg, u64 offset, unsigned int order,
		  enum buddy_block_state state)
{
	struct run_walk *r = arg;

	if (!r->n) {
		if (offset != r->off || state != BUDDY_BLOCK_ALLOCATED)
			return 1;
	} else if (state != BUDDY_BLOCK_CONTINUED) {
		return 1;
	} else if (r->n <= 8) {
		r->later[r->n - 1] = offset;
	}
	r->n++;
	r->bytes += 16ULL << order;
	return 0;
}

/*
 * Pieces of the run at @off as buddy_walk_from() reports them (0 if no
 * allocated block starts there); they must add up to its usable size.
 */
static unsigned int run_pieces(struct diff *d, u64 off, u64 usable,
			       struct run_walk *r)
{
	memset(r, 0, sizeof(*r));
	r->off = off;
	buddy_walk_from(&d->h, off, run_cb, r);
	if (r->bytes != usable)
		fail(d, "a run's pieces do not add up to its usable size", off);
	return r->n;
}

static void add_live(struct diff *d, u64 off)
{
	struct live *l;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 1024;
		d->live = realloc(d->live, d->cap * sizeof(*d->live));
		if (!d->live)
			abort();
	}
	l = &d->live[d->n++];
	l->off = off;
	if (buddy_heap_usable_size(&d->h, off, &l->usable))
		fail(d, "usable_size of a new block", off);
	l->seed = rng_next(&d->rng);
	pattern_fill(host(d, off), l->usable, l->seed);
}

static void verify(struct diff *d, const struct live *l)
{
	if (pattern_check(host(d, l->off), l->usable, l->seed) != l->usable)
		fail(d, "block contents corrupted (overlap?)", l->off);
}

static u64 rand_size(struct diff *d)
{
	u64 r = rng_below(&d->rng, 100);

	if (d->p->large) {
		/* most above 4 KiB, where trim_order 9 makes runs */
		if (r < 40)
			return 1 + rng_below(&d->rng, 4096);
		if (r < 90)
			return 4097 + rng_below(&d->rng, 12 << 10);
		if (r < 99)
			return 4097 + rng_below(&d->rng, 60 << 10);
		return rng_below(&d->rng, 256 << 10);
	}
	if (r < 2)
		return 0;
	if (r < 70)
		return 1 + rng_below(&d->rng, 256);
	if (r < 95)
		return 257 + rng_below(&d->rng, 4096);
	if (r < 99)
		return 4097 + rng_below(&d->rng, 60000);
	/* now and then something large (but keep the pattern fill cheap) */
	return rng_below(&d->rng, buddy_window_bytes(&d->h) / 4 < (1 << 20) ?
			 buddy_window_bytes(&d->h) / 4 : 1 << 20);
}

/* Now and then, make the first or second write of the next call fail. */
static void arm_write(struct diff *d)
{
	struct buddy_stats st;

	if (rng_below(&d->rng, 32))
		return;
	buddy_get_stats(&d->h, &st);
	d->failed_before = st.nr_failed;
	tsnap_take(&d->h, &d->before);
	d->armed = 1;
	d->mem.fail_write_in = 1 + (long)rng_below(&d->rng, 2);
}

/*
 * After a call that returned @r and left @out in its output (1 when
 * untouched): whether the armed write failure hit it.  Then the contract
 * of struct buddy_ops must hold: -ENOMEM, the output not written, every
 * live block at its offset with its usable size and contents, the same
 * bytes_in_use and live_blocks, one more failed call, a consistent heap
 * holding exactly the chunks and metadata tmem handed out.
 *
 * Free memory may be arranged differently afterwards (deferred blocks
 * merged, a chunk added or given back), which the model cannot predict:
 * so the model is re-synced from the heap (model_sync()) and the phase
 * goes on, comparing every later call as before.  Re-syncing keeps the
 * phase's long-lived, deep heaps; rebuilding both after each failure would
 * empty them every few hundred operations.  Disarms in any case.
 */
static int write_failed(struct diff *d, int r, u64 out)
{
	struct buddy_violation v = { 0 };
	struct buddy_stats st;
	struct tsnap after;
	size_t i;
	int failed;
	u64 u;

	if (!d->armed)
		return 0;
	failed = !d->mem.fail_write_in;
	d->mem.fail_write_in = 0;
	d->armed = 0;
	if (failed) {
		d->wfails++;
		if (r != -ENOMEM)
			fail(d, "a failed write did not fail the call", out);
		if (out != 1)
			fail(d, "a failed write wrote the output", out);
		tsnap_take(&d->h, &after);
		if (tsnap_blocks_kept(&d->before, &after))
			fail(d, "a failed write changed the blocks", 0);
		tsnap_free(&after);
		buddy_get_stats(&d->h, &st);
		if (st.nr_failed != d->failed_before + 1)
			fail(d, "a failed write was not counted", st.nr_failed);
		if (buddy_check(&d->h, &v))
			fail(d, "a failed write broke the heap", v.offset);
		if (d->mem.chunks != (long)d->h.nr_chunks ||
		    d->mem.metas != (long)d->h.nr_chunks)
			fail(d, "a failed write leaked a chunk", d->mem.chunks);
		for (i = 0; i < d->n; i++) {
			if (buddy_heap_usable_size(&d->h, d->live[i].off, &u) ||
			    u != d->live[i].usable)
				fail(d, "a failed write resized a block",
				     d->live[i].off);
			verify(d, &d->live[i]);
		}
		d->m.fail_chunk_in = d->mem.fail_chunk_in;
		model_sync(&d->m, &d->h);
	}
	tsnap_free(&d->before);
	return failed;
}

static void do_alloc(struct diff *d, int aligned)
{
	u64 size = rand_size(d), align = 0, o1 = 1, o2 = 2;
	int r1, r2, zero = rng_below(&d->rng, 8) == 0;
	unsigned int flags = zero ? BUDDY_ALLOC_ZERO : 0;

	if (zero)
		arm_write(d);
	if (aligned) {
		align = 1ULL << rng_below(&d->rng, 14);
		r1 = buddy_heap_alloc_aligned(&d->h, size, align, flags, &o1);
	} else {
		r1 = buddy_heap_alloc(&d->h, size, flags, &o1);
	}
	if (write_failed(d, r1, o1))
		return;
	r2 = model_alloc(&d->m, size, align, &o2);
	if (r1 != r2 || (!r1 && o1 != o2)) {
		fail(d, "alloc differs from the model", o1);
		return;
	}
	if (r1) {
		d->enomem++;
		return;
	}
	if (align && (o1 & (align - 1)))
		fail(d, "misaligned", o1);
	if (d->p->trim_order) {
		struct run_walk rw;
		u64 u = 0;

		buddy_heap_usable_size(&d->h, o1, &u);
		if (u != spec_usable(d, size))
			fail(d, "usable size is not the spec's", o1);
		if (run_pieces(d, o1, u, &rw) > 1) {
			d->run_allocs++;
			d->aligned_runs += aligned;
		}
	}
	if (zero) {
		u64 u = 0, i;
		u8 *p = host(d, o1);

		buddy_heap_usable_size(&d->h, o1, &u);
		for (i = 0; i < u; i++)
			if (p[i]) {
				fail(d, "BUDDY_ALLOC_ZERO left a byte", o1 + i);
				break;
			}
	}
	add_live(d, o1);
}

static void do_free(struct diff *d)
{
	size_t i = rng_below(&d->rng, d->n);
	struct live *l = &d->live[i];
	int r1, r2;

	verify(d, l);
	if (d->p->trim_order) {
		struct run_walk rw;

		d->run_frees += run_pieces(d, l->off, l->usable, &rw) > 1;
	}
	r1 = buddy_heap_free(&d->h, l->off);
	r2 = model_free(&d->m, l->off);
	if (r1 || r2)
		fail(d, "free of a live block failed", l->off);
	*l = d->live[--d->n];
}

/* Is a block deferred (in the model) at @off? */
static int deferred_at(const struct diff *d, u64 off)
{
	unsigned int k, j;

	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		for (j = 0; j < d->m.defer_n[k]; j++)
			if (d->m.defer[k][j] == off)
				return 1;
	return 0;
}

static void do_realloc(struct diff *d)
{
	size_t i = rng_below(&d->rng, d->n);
	struct live *l = &d->live[i];
	u64 size = rand_size(d), o1 = 1, o2 = 2, keep, u = 0, j;
	int zero = rng_below(&d->rng, 4) == 0;
	unsigned int old_pieces = 1, new_pieces = 1;
	int r1, r2, over_deferred = 0;
	struct run_walk rw;

	verify(d, l);
	if (d->p->trim_order) {
		/* half near the usable size: trim, grow into the tail */
		if (rng_below(&d->rng, 2)) {
			u64 delta = rng_below(&d->rng, 1025);

			size = l->usable + delta > 512 ?
			       l->usable + delta - 512 : 1 + delta;
		}
		old_pieces = run_pieces(d, l->off, l->usable, &rw);
		/* a deferred block after the run is merged, not in the way */
		over_deferred = run_target(d, size) &&
				spec_usable(d, size) > l->usable &&
				deferred_at(d, l->off + l->usable);
	}
	arm_write(d);
	r1 = buddy_heap_realloc(&d->h, l->off, size,
			   zero ? BUDDY_ALLOC_ZERO : 0, &o1);
	if (write_failed(d, r1, o1))
		return;
	r2 = model_realloc(&d->m, l->off, size, &o2);
	if (r1 != r2 || (!r1 && o1 != o2)) {
		fail(d, "realloc differs from the model", l->off);
		return;
	}
	if (r1) {
		d->enomem++;
		verify(d, l);		/* intact */
		return;
	}
	if (o1 != l->off)
		d->moves++;
	buddy_heap_usable_size(&d->h, o1, &u);
	if (d->p->trim_order) {
		/* a move gets its whole block: room to grow in place */
		if (u != (o1 != l->off ? spec_block(size) :
			  spec_usable(d, size)))
			fail(d, "realloc's usable size is not the spec's", o1);
		new_pieces = run_pieces(d, o1, u, &rw);
		if (o1 != l->off)
			d->run_moves += old_pieces > 1 || new_pieces > 1;
		else if (u > l->usable)
			d->tail_grows += old_pieces > 1;
		else if (u < l->usable)
			d->run_shrinks += new_pieces > 1;
		d->defer_grows += over_deferred && o1 == l->off;
	}
	keep = u < l->usable ? u : l->usable;
	if (pattern_check(host(d, o1), keep, l->seed) != keep)
		fail(d, "realloc lost contents", o1);
	if (zero)
		for (j = l->usable; j < u; j++)
			if (host(d, o1)[j]) {
				fail(d, "realloc ZERO left a byte", o1 + j);
				break;
			}
	*l = d->live[--d->n];
	add_live(d, o1);
}

/* An offset that is not a live block start: free and usable must refuse. */
static void do_bad(struct diff *d)
{
	u64 w = buddy_window_bytes(&d->h), off, u1 = 0, u2 = 0;
	int r1, r2, r3;

	switch (rng_below(&d->rng, 4)) {
	case 0:		/* anywhere */
		off = rng_below(&d->rng, w + 4096);
		break;
	case 1:		/* inside a live block */
		if (!d->n)
			return;
		off = d->live[rng_below(&d->rng, d->n)].off;
		off += 1 + rng_below(&d->rng, 64);
		break;
	case 2:		/* a grain boundary near a live block */
		if (!d->n)
			return;
		off = d->live[rng_below(&d->rng, d->n)].off;
		off = (off + 16 * rng_below(&d->rng, 64)) & ~15ULL;
		break;
	default:
		off = ~0ULL - rng_below(&d->rng, 64);
		break;
	}
	r1 = buddy_heap_usable_size(&d->h, off, &u1);
	r2 = model_usable(&d->m, off, &u2);
	if (r1 != r2 || u1 != u2) {
		fail(d, "usable_size differs from the model", off);
		return;
	}
	if (!r1)
		return;		/* it was a live block start after all */
	d->errs++;
	r3 = buddy_heap_free(&d->h, off);
	if (r3 != r1)
		fail(d, "free and usable_size disagree", off);
}

/*
 * The start of a run's later piece is no allocation's start: usable_size,
 * free and realloc must all refuse it with NOT_START, as the model does,
 * and change nothing but the failure count.
 */
static void do_bad_cont(struct diff *d)
{
	struct tsnap before, after;
	struct run_walk rw;
	struct live *l;
	u64 off, u1 = 0, u2 = 0, n = 1;
	unsigned int pieces;
	int r1, r2;

	if (!d->n)
		return;
	l = &d->live[rng_below(&d->rng, d->n)];
	pieces = run_pieces(d, l->off, l->usable, &rw);
	if (pieces < 2)
		return;
	off = rw.later[rng_below(&d->rng, pieces - 1 < 8 ? pieces - 1 : 8)];
	tsnap_take(&d->h, &before);
	r1 = buddy_heap_usable_size(&d->h, off, &u1);
	r2 = model_usable(&d->m, off, &u2);
	if (r1 != -BUDDY_ERR_NOT_START || r2 != r1)
		fail(d, "usable_size of a later piece's start", off);
	if (buddy_heap_free(&d->h, off) != -BUDDY_ERR_NOT_START)
		fail(d, "free of a later piece's start", off);
	if (buddy_heap_realloc(&d->h, off, l->usable + 1, 0, &n) !=
	    -BUDDY_ERR_NOT_START || n != 1)
		fail(d, "realloc of a later piece's start", off);
	tsnap_take(&d->h, &after);
	if (tsnap_cmp(&before, &after))
		fail(d, "refusing a later piece's start changed the heap", off);
	tsnap_free(&before);
	tsnap_free(&after);
	verify(d, l);
	d->cont_refused++;
}

static void check(struct diff *d, int full)
{
	struct buddy_violation v = { 0 };

	if (full && buddy_check(&d->h, &v)) {
		t_report(__FILE__, __LINE__, "op %ld: check: %s at %#llx o%u",
			 d->ops, v.what, (unsigned long long)v.offset, v.order);
		d->bad = 1;
	}
	if (model_compare(&d->m, &d->h, full))
		fail(d, "state differs from the model", 0);
}

static void run_phase(const struct phase *p, u64 seed, long nops)
{
	struct buddy_config cfg = {
		.max_order = p->max_order,
		.min_chunk_order = p->min_chunk_order,
		.cap_bytes = p->cap,
		.low_water_bytes = p->low_water,
		.max_step_order = p->max_step_order,
		.trim_order = p->trim_order,
	};
	struct diff *d = calloc(1, sizeof(*d));
	struct buddy_stats st;
	size_t i;
	unsigned int k;

	if (!d)
		abort();
	if (p->trim_order) {
		/* the bounds: above the unit's order, up to max_order */
		struct buddy_config bad = cfg;

		bad.trim_order = BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT;
		EXPECT_EQ(buddy_heap_init(&d->h, &bad, &tmem_ops, &d->mem),
			  -EINVAL);
		bad.trim_order = p->max_order + 1;
		EXPECT_EQ(buddy_heap_init(&d->h, &bad, &tmem_ops, &d->mem),
			  -EINVAL);
	}
	d->p = p;
	d->rng = seed;
	REQUIRE_EQ(buddy_heap_init(&d->h, &cfg, &tmem_ops, &d->mem), 0);
	REQUIRE_EQ(buddy_heap_set_defer_depth(&d->h, p->defer_depth), 0);
	model_init(&d->m, &cfg);
	d->m.defer_depth = p->defer_depth;
	for (d->ops = 0; d->ops < nops && !d->bad; d->ops++) {
		/* the live count swings between 0 and 2 * target */
		long cycle = d->ops % 200000;
		size_t target = cycle < 100000 ?
			p->target * cycle / 50000 :
			p->target * (200000 - cycle) / 50000;
		u64 r = rng_below(&d->rng, 100);
		long deferred = 0;

		/* with runs: 30% reallocs instead of 10%, fewer frees */
		if (p->trim_order && r >= 65 && r < 85)
			r = 85 + (r - 65) / 2;
		if (r < 45) {
			if (d->n < target || !d->n)
				do_alloc(d, 0);
			else
				do_free(d);
		} else if (r < 50) {
			do_alloc(d, 1);
		} else if (r < 85) {
			if (d->n)
				do_free(d);
		} else if (r < 95) {
			if (d->n)
				do_realloc(d);
		} else if (p->trim_order && r == 99) {
			do_bad_cont(d);
		} else {
			do_bad(d);
		}
		for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
			deferred += d->m.defer_n[k];
		if (deferred > d->peak_deferred)
			d->peak_deferred = deferred;
		if ((d->ops % CHECK_EVERY) == 0)
			check(d, 1);
		else
			check(d, 0);
		if (d->h.nr_chunks > d->peak_chunks)
			d->peak_chunks = d->h.nr_chunks;
	}
	check(d, 1);
	for (i = 0; i < d->n && !d->bad; i++)
		verify(d, &d->live[i]);
	buddy_get_stats(&d->h, &st);
	if (t_verbose)
		fprintf(stderr,
			"    %s: %ld ops, %llu allocs, %ld moves, %ld refused offsets, %ld ENOMEM, %ld failed writes, peak heap %llu, peak chunks %u, chunks grown %llu released %llu\n",
			p->name, d->ops, (unsigned long long)st.nr_allocs,
			d->moves, d->errs, d->enomem, d->wfails,
			(unsigned long long)st.peak_heap_bytes,
			d->peak_chunks, (unsigned long long)st.nr_grows,
			(unsigned long long)st.nr_shrinks);
	if (t_verbose && p->trim_order)
		fprintf(stderr,
			"    %s: runs: %ld allocs (%ld aligned), %ld frees, %ld grown in place, %ld shrunk, %ld moved, %ld later starts refused, %ld grown over a deferred block (peak %ld deferred)\n",
			p->name, d->run_allocs, d->aligned_runs, d->run_frees,
			d->tail_grows, d->run_shrinks, d->run_moves,
			d->cont_refused, d->defer_grows, d->peak_deferred);
	/* free everything that is left: the model and core must end equal */
	while (d->n && !d->bad)
		do_free(d);
	check(d, 1);
	buddy_heap_destroy(&d->h);
	model_destroy(&d->m);
	EXPECT_EQ(d->mem.chunks, 0);
	EXPECT_EQ(d->mem.metas, 0);
	EXPECT(st.nr_allocs > (u64)nops / 5);
	EXPECT(d->wfails > 0 || nops < 20000);
	/* steps of an eighth, then doubling past half the chunk slots */
	EXPECT(!p->max_step_order || d->peak_chunks > BUDDY_MAX_CHUNKS / 2 ||
	       nops < 20000);
	/*
	 * every path of trimmed runs ran (else the phase proves less): at
	 * least 100 times in 300,000 ops, the rarer ones 10 (the default
	 * seed gives 4 to 30 times that)
	 */
	if (p->trim_order && nops >= 20000) {
		EXPECT(d->run_allocs > nops / 3000);
		EXPECT(d->aligned_runs > nops / 30000);
		EXPECT(d->run_frees > nops / 3000);
		EXPECT(d->tail_grows > nops / 3000);
		EXPECT(d->run_shrinks > nops / 3000);
		EXPECT(d->run_moves > nops / 3000);
		EXPECT(d->cont_refused > nops / 3000);
		EXPECT(!p->defer_depth || d->defer_grows > nops / 30000);
	}
	free(d->live);
	free(d);
}

static u64 diff_seed(void)
{
	static u64 seed;

	if (!seed) {
		seed = env_u64("BUDDY_TEST_SEED", 0x5eed2024);
		printf("# differential seed %#llx (BUDDY_TEST_SEED), %llu ops per phase (BUDDY_TEST_OPS)\n",
		       (unsigned long long)seed,
		       (unsigned long long)env_u64("BUDDY_TEST_OPS", 300000));
	}
	return seed;
}

static const struct phase phases[] = {
	/* 4 MiB window, 64 KiB chunks, 2 MiB cap: growth, ENOMEM, holes */
	{ "capped", 18, 12, 2 << 20, 128 << 10, 1500, 0, 0, 0, 0 },
	/* release everything (low water 0), tiny chunks, many of them */
	{ "release", 16, 6, 0, 0, 400, 0, 0, 0, 0 },
	/* one big heap, deep trees */
	{ "deep", 22, 16, 0, ~0ULL, 4000, 0, 0, 0, 0 },
	/* deferred coalescing */
	{ "capped+defer", 18, 12, 2 << 20, 128 << 10, 1500, BUDDY_DEFER_DEPTH,
	  0, 0, 0 },
	{ "release+defer", 16, 6, 0, 0, 400, 3, 0, 0, 0 },
	/* growth by steps of 256 B, then of an eighth, then doubling again */
	{ "stepped", 22, 4, 0, 0, 3000, 0, 4, 0, 0 },
	/* trimmed runs from 512 B (the smallest trim order), as "capped" */
	{ "trim5", 18, 12, 2 << 20, 128 << 10, 1500, 0, 0, 5, 0 },
	{ "trim5+defer", 18, 12, 2 << 20, 128 << 10, 1500, BUDDY_DEFER_DEPTH,
	  0, 5, 0 },
	/* the module's trim order, 8 KiB, with mostly large blocks */
	{ "trim9", 22, 14, 0, 1 << 20, 400, 0, 0, 9, 1 },
	{ "trim9+defer", 20, 8, 0, 0, 300, 3, 0, 9, 1 },
};

static void run_nth(unsigned int n)
{
	run_phase(&phases[n], diff_seed() + n,
		  (long)env_u64("BUDDY_TEST_OPS", 300000));
}

static void test_phase0(void)
{
	run_nth(0);
}

static void test_phase1(void)
{
	run_nth(1);
}

static void test_phase2(void)
{
	run_nth(2);
}

static void test_phase3(void)
{
	run_nth(3);
}

static void test_phase4(void)
{
	run_nth(4);
}

static void test_phase5(void)
{
	run_nth(5);
}

static void test_phase6(void)
{
	run_nth(6);
}

static void test_phase7(void)
{
	run_nth(7);
}

static void test_phase8(void)
{
	run_nth(8);
}

static void test_phase9(void)
{
	run_nth(9);
}

const struct test_case diff_tests[] = {
	{ "model_capped", test_phase0 },
	{ "model_release_all", test_phase1 },
	{ "model_deep", test_phase2 },
	{ "model_capped_defer16", test_phase3 },
	{ "model_release_all_defer3", test_phase4 },
	{ "model_stepped_growth", test_phase5 },
	{ "model_trim5_capped", test_phase6 },
	{ "model_trim5_capped_defer16", test_phase7 },
	{ "model_trim9_large", test_phase8 },
	{ "model_trim9_large_release_defer3", test_phase9 },
	{ NULL, NULL },
};
