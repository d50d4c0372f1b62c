// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_core.c - libFuzzer harness for the buddy core.
 *
 * The input's first four bytes pick a heap geometry (window, smallest
 * chunk, cap, low-water mark, growth step, deferred-coalescing depth,
 * trim order for trimmed runs); the rest is decoded into operations:
 * alloc, aligned alloc (including bad alignments), free of live and of
 * arbitrary offsets (unit boundaries inside runs among them), realloc
 * (with and without zeroing), chunk allocation failures,
 * clone-and-swap, and a zeroing alloc, realloc or clone whose first or
 * second ops->copy or ops->zero fails.  The reference model (../model.c)
 * runs alongside.  After EVERY operation: buddy_check(), a full comparison
 * with the model, and for free/realloc a check of the block's contents
 * pattern.  A call whose write failed is checked against the contract of
 * struct buddy_ops, not against the model (see write_failed()), and ends
 * the input.  Any difference aborts, which libFuzzer reports as a finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../tutil.h"
#include "../model.h"

#define MAX_LIVE	256
/* the lowest trim order buddy_heap_init() accepts */
#define TRIM_MIN	(BUDDY_TRIM_SHIFT - BUDDY_GRAIN_SHIFT + 1)

struct fz {
	const u8 *p;
	size_t n;
	struct buddy_heap h;
	struct model m;
	struct tmem mem;
	u64 off[MAX_LIVE], usable[MAX_LIVE], seed[MAX_LIVE];
	unsigned int live;
	u64 ops;
	bool armed;		/* a write failure is armed: @before is taken */
	bool stop;		/* a write failed: the model no longer follows */
	struct tsnap before;
	u64 failed_before;	/* nr_failed when armed */
};

/* Only referenced by tutil.h's macros, which the harness does not use. */
long t_failures;
int t_verbose;
void t_report(const char *file, int line, const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

static void die(struct fz *f, const char *what, u64 a, u64 b)
{
	fprintf(stderr, "fuzz_core: op %llu: %s (%#llx, %#llx)\n",
		(unsigned long long)f->ops, what, (unsigned long long)a,
		(unsigned long long)b);
	abort();
}

static u8 byte(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static u64 size_arg(struct fz *f)
{
	u8 e = byte(f), d = byte(f);
	unsigned int shift = e % (f->h.cfg.max_order + 7);
	u64 s = 1ULL << shift;

	/* around powers of two, plus 0 and sizes beyond the window */
	if (e & 0x80)
		return s + (d % 33) - 16 + (s < 16 ? 16 : 0);
	if (e == 0x7f)
		return ~0ULL - d;
	/* between powers of two: runs of many pieces when trimmed */
	if (e & 0x40)
		return s + (s >> 8) * d + (d & 15);
	return d & 1 ? s : s - 1;
}

static void pattern(struct fz *f, unsigned int i)
{
	u64 *w = buddy_chunk_address(&f->h, f->off[i], NULL), j;

	if (!w)
		die(f, "no address for a live block", f->off[i], 0);
	for (j = 0; j < f->usable[i] / 8; j++)
		w[j] = f->seed[i] + j;
}

static void verify(struct fz *f, unsigned int i, u64 off, u64 bytes)
{
	u64 *w = buddy_chunk_address(&f->h, off, NULL), j;

	for (j = 0; j < bytes / 8; j++)
		if (w[j] != f->seed[i] + j)
			die(f, "block contents corrupted", off, j * 8);
}

static void add(struct fz *f, u64 off)
{
	unsigned int i = f->live++;

	f->off[i] = off;
	if (buddy_heap_usable_size(&f->h, off, &f->usable[i]))
		die(f, "new block has no usable size", off, 0);
	f->seed[i] = f->ops * 0x9e3779b97f4a7c15ULL;
	pattern(f, i);
}

static void drop(struct fz *f, unsigned int i)
{
	f->live--;
	f->off[i] = f->off[f->live];
	f->usable[i] = f->usable[f->live];
	f->seed[i] = f->seed[f->live];
}

static void zeroed(struct fz *f, u64 off, u64 from, u64 to)
{
	u8 *p = buddy_chunk_address(&f->h, off, NULL);

	for (; from < to; from++)
		if (p[from])
			die(f, "not zeroed", off, from);
}

/* Make the @n-th next copy or zero fail; snapshot the heap first. */
static void arm_write_failure(struct fz *f, long n)
{
	struct buddy_stats st;

	buddy_get_stats(&f->h, &st);
	f->failed_before = st.nr_failed;
	tsnap_take(&f->h, &f->before);
	f->armed = true;
	f->mem.fail_write_in = n;
}

/*
 * After a core call that returned @r and left @out in its output (1 when
 * untouched): whether an armed write failure hit it.  Then the contract of
 * struct buddy_ops must hold: -ENOMEM, the output not written, every
 * allocated block at the same offset and order with its contents intact,
 * the same bytes_in_use and live_blocks, one more failed call, a
 * consistent heap holding exactly the chunks and metadata tmem handed out.
 * A failed clone (@src_only) must leave its const source exactly as it
 * was.  Disarms in any case.
 *
 * The contract lets a failed call arrange free memory differently (merge
 * deferred blocks, add or give back a chunk), which the model cannot
 * predict; so a failure ends the input (f->stop): the run frees the live
 * blocks and tears down without the model.  Ending rather than re-syncing
 * the model keeps the model's own state honest; the prefix before the
 * failure is compared as usual, and libFuzzer explores the prefixes.
 */
static bool write_failed(struct fz *f, int r, u64 out, bool src_only)
{
	struct buddy_violation v = { 0 };
	struct buddy_stats st;
	struct tsnap after;
	bool failed;
	unsigned int i;
	u64 u;

	if (!f->armed)
		return false;
	failed = !f->mem.fail_write_in;
	f->mem.fail_write_in = 0;
	f->armed = false;
	if (failed) {
		if (r != -ENOMEM)
			die(f, "a failed write did not fail the call", r, 0);
		if (out != 1)
			die(f, "a failed write wrote the output", out, 0);
		tsnap_take(&f->h, &after);
		if (src_only ? tsnap_cmp(&f->before, &after) :
		    tsnap_blocks_kept(&f->before, &after))
			die(f, "a failed write changed the blocks", r, 0);
		tsnap_free(&after);
		buddy_get_stats(&f->h, &st);
		if (st.nr_failed != f->failed_before + !src_only)
			die(f, "a failed write was not counted", st.nr_failed,
			    f->failed_before);
		if (buddy_check(&f->h, &v))
			die(f, "a failed write broke the heap", v.offset, v.order);
		if (f->mem.chunks != (long)f->h.nr_chunks ||
		    f->mem.metas != (long)f->h.nr_chunks)
			die(f, "a failed write leaked a chunk", f->mem.chunks,
			    f->mem.metas);
		for (i = 0; i < f->live; i++) {
			if (buddy_heap_usable_size(&f->h, f->off[i], &u) ||
			    u != f->usable[i])
				die(f, "a failed write resized a block", f->off[i], u);
			verify(f, i, f->off[i], f->usable[i]);
		}
		f->stop = true;
	}
	tsnap_free(&f->before);
	return failed;
}

static void op_alloc(struct fz *f, int aligned, bool zero)
{
	u64 size = size_arg(f), align = 0, o1 = 1, o2 = 2;
	u8 b = byte(f);
	unsigned int flags = zero || b & 1 ? BUDDY_ALLOC_ZERO : 0;
	int r1, r2;

	if (f->live == MAX_LIVE)
		return;
	if (aligned) {
		align = 1ULL << (b >> 1) % 24;
		if (b >= 0xf0)
			align = b == 0xff ? 0 : align * 3;	/* invalid */
		r1 = buddy_heap_alloc_aligned(&f->h, size, align, flags, &o1);
		if (write_failed(f, r1, o1, false))
			return;
		if (!align || (align & (align - 1))) {
			if (r1 != -EINVAL)
				die(f, "bad alignment accepted", align, r1);
			return;
		}
	} else {
		r1 = buddy_heap_alloc(&f->h, size, flags, &o1);
		if (write_failed(f, r1, o1, false))
			return;
	}
	r2 = model_alloc(&f->m, size, align, &o2);
	if (r1 != r2 || (!r1 && o1 != o2))
		die(f, "alloc differs from the model", o1, o2);
	if (r1)
		return;
	if (align && (o1 & (align - 1)))
		die(f, "misaligned", o1, align);
	if (flags) {
		u64 u;

		buddy_heap_usable_size(&f->h, o1, &u);
		zeroed(f, o1, 0, u);
	}
	add(f, o1);
}

static void op_free(struct fz *f)
{
	unsigned int i;
	int r1, r2;

	if (!f->live)
		return;
	i = byte(f) % f->live;
	verify(f, i, f->off[i], f->usable[i]);
	r1 = buddy_heap_free(&f->h, f->off[i]);
	r2 = model_free(&f->m, f->off[i]);
	if (r1 || r2)
		die(f, "free of a live block failed", f->off[i], r1);
	drop(f, i);
}

static void op_realloc(struct fz *f, bool zero)
{
	unsigned int i, flags;
	u64 size, o1 = 1, o2 = 2, u = 0, keep;
	int r1, r2;

	if (!f->live)
		return;
	i = byte(f) % f->live;
	size = size_arg(f);
	flags = zero || byte(f) & 1 ? BUDDY_ALLOC_ZERO : 0;
	verify(f, i, f->off[i], f->usable[i]);
	r1 = buddy_heap_realloc(&f->h, f->off[i], size, flags, &o1);
	if (write_failed(f, r1, o1, false))
		return;
	r2 = model_realloc(&f->m, f->off[i], size, &o2);
	if (r1 != r2 || (!r1 && o1 != o2))
		die(f, "realloc differs from the model", o1, o2);
	if (r1) {
		verify(f, i, f->off[i], f->usable[i]);
		return;
	}
	buddy_heap_usable_size(&f->h, o1, &u);
	keep = u < f->usable[i] ? u : f->usable[i];
	verify(f, i, o1, keep);
	if (flags)
		zeroed(f, o1, f->usable[i], u);
	drop(f, i);
	add(f, o1);
}

static void op_bad(struct fz *f)
{
	u64 w = buddy_window_bytes(&f->h), off, u1 = 0, u2 = 0, n;
	u8 b = byte(f);
	int r1, r2;

	off = ((u64)byte(f) << 16 | (u64)byte(f) << 8 | byte(f));
	if (b & 1)
		off = off % (w + 64);
	else if (f->live && (b & 2))
		/* a unit boundary: the start of a run's later piece, say */
		off = f->off[off % f->live] +
		      ((u64)(b >> 2) << BUDDY_TRIM_SHIFT);
	else if (f->live)
		off = f->off[off % f->live] + (b >> 1);
	r1 = buddy_heap_usable_size(&f->h, off, &u1);
	r2 = model_usable(&f->m, off, &u2);
	if (r1 != r2 || u1 != u2)
		die(f, "usable_size differs from the model", off, r1);
	if (!r1)
		return;
	if (buddy_heap_free(&f->h, off) != r1)
		die(f, "free and usable_size disagree", off, r1);
	if (buddy_heap_realloc(&f->h, off, 16, 0, &n) != r1)
		die(f, "realloc and usable_size disagree", off, r1);
}

static void op_clone(struct fz *f)
{
	struct buddy_heap c;
	u8 b = byte(f);
	long pending = f->mem.fail_chunk_in;
	unsigned int i;
	int r;

	f->mem.fail_chunk_in = b & 1 ? 1 + (b >> 1) % 8 : 0;
	r = buddy_heap_clone(&c, &f->h, &f->mem);
	if (f->armed && !f->mem.fail_write_in) {
		/* a copy failed: the same as a chunk allocation failure */
		if (r != -ENOMEM || c.nr_chunks || c.heap_bytes)
			die(f, "clone write failure left something", r,
			    c.nr_chunks);
		buddy_heap_destroy(&c);
		f->mem.fail_chunk_in = pending;
		if (f->mem.chunks != (long)f->h.nr_chunks)
			die(f, "clone write failure leaked a chunk",
			    f->mem.chunks, f->h.nr_chunks);
		write_failed(f, r, 1, true);
		return;
	}
	if (b & 1 && (unsigned int)(1 + (b >> 1) % 8) <= f->h.nr_chunks) {
		if (r != -ENOMEM || c.nr_chunks || c.heap_bytes)
			die(f, "clone failure left something", r, c.nr_chunks);
	} else if (r) {
		die(f, "clone failed", r, 0);
	}
	f->mem.fail_chunk_in = pending;
	write_failed(f, r, 1, true);
	if (r) {
		buddy_heap_destroy(&c);
		return;
	}
	buddy_heap_destroy(&f->h);
	f->h = c;
	for (i = 0; i < f->live; i++)
		verify(f, i, f->off[i], f->usable[i]);
}

static void check(struct fz *f)
{
	struct buddy_violation v = { 0 };

	if (buddy_check(&f->h, &v)) {
		fprintf(stderr, "fuzz_core: check: %s at %#llx order %u\n",
			v.what, (unsigned long long)v.offset, v.order);
		die(f, "invariant violated", v.offset, v.order);
	}
	if (model_compare(&f->m, &f->h, 1))
		die(f, "state differs from the model", 0, 0);
	if (f->mem.chunks != (long)f->h.nr_chunks)
		die(f, "chunk memory leaked", f->mem.chunks, f->h.nr_chunks);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct fz f;
	struct buddy_config cfg = { 0 };
	unsigned int step, trim;
	u64 window;
	u8 b;

	memset(&f, 0, sizeof(f));
	f.p = data;
	f.n = size;
	b = byte(&f);
	cfg.max_order = b < 240 ? b % 13 : 13 + b % 4;	/* mostly small */
	cfg.min_chunk_order = byte(&f) % (cfg.max_order + 1);
	window = 16ULL << cfg.max_order;
	b = byte(&f);
	cfg.cap_bytes = b < 128 ? 0 : window * (b - 127) / 128 + (b & 15);
	b = byte(&f);
	cfg.low_water_bytes = b % 4 == 0 ? 0 : b % 4 == 1 ? window / 8 :
			      b % 4 == 2 ? window / 2 : ~0ULL;
	/* growth steps: off, or from the smallest chunk up */
	step = (b >> 4) % 4;
	if (step && cfg.min_chunk_order + step - 1 <= cfg.max_order)
		cfg.max_step_order = cfg.min_chunk_order + step - 1;
	/*
	 * trimmed runs: off, or trim order 5 (the lowest), the middle one or
	 * max_order; init must refuse one below the unit or above max_order
	 */
	trim = b >> 6;
	if (trim) {
		cfg.trim_order = cfg.max_order < TRIM_MIN ? TRIM_MIN :
				 TRIM_MIN - 1;
		if (buddy_heap_init(&f.h, &cfg, &tmem_ops, &f.mem) != -EINVAL)
			die(&f, "a bad trim order accepted", cfg.trim_order,
			    cfg.max_order);
		cfg.trim_order = 0;
		if (cfg.max_order >= TRIM_MIN)
			cfg.trim_order = trim == 1 ? TRIM_MIN :
					 trim == 3 ? cfg.max_order :
					 (TRIM_MIN + cfg.max_order) / 2;
	}
	if (buddy_heap_init(&f.h, &cfg, &tmem_ops, &f.mem))
		abort();
	model_init(&f.m, &cfg);
	/* deferred coalescing: off, 1, 2 or the most */
	f.m.defer_depth = (b >> 2) % 4 == 3 ? BUDDY_DEFER_DEPTH : (b >> 2) % 4;
	if (buddy_heap_set_defer_depth(&f.h, f.m.defer_depth))
		abort();

	while (f.n) {
		b = byte(&f);
		switch (b % 13) {
		case 0: case 1: case 2:
			op_alloc(&f, 0, false);
			break;
		case 3:
			op_alloc(&f, 1, false);
			break;
		case 4: case 5: case 6:
			op_free(&f);
			break;
		case 7: case 8:
			op_realloc(&f, false);
			break;
		case 9:
			op_bad(&f);
			break;
		case 10:
			b = byte(&f);
			if (b & 1) {
				/* the next n-th chunk allocation fails, in both */
				f.mem.fail_chunk_in = 1 + (b >> 1) % 3;
				f.m.fail_chunk_in = f.mem.fail_chunk_in;
			} else {
				/* change the deferred-coalescing depth */
				b = (b >> 1) % (BUDDY_DEFER_DEPTH + 1);
				if (buddy_heap_set_defer_depth(&f.h, b))
					die(&f, "set_defer_depth failed", b, 0);
				model_set_defer_depth(&f.m, b);
			}
			break;
		case 11:
			/* the first or second copy or zero of the next call fails */
			b = byte(&f);
			arm_write_failure(&f, 1 + (b >> 2) % 2);
			if (b % 4 == 0)
				op_alloc(&f, 0, true);
			else if (b % 4 == 1)
				op_alloc(&f, 1, true);
			else if (b % 4 == 2)
				op_realloc(&f, true);
			else
				op_clone(&f);
			/* a call that made no write (or returned early) */
			write_failed(&f, 0, 1, false);
			break;
		default:
			op_clone(&f);
			break;
		}
		f.ops++;
		if (f.stop)
			break;
		check(&f);
	}
	while (f.live && !f.stop) {
		op_free(&f);
		check(&f);
	}
	/* after a failed write: free the live blocks without the model */
	while (f.live) {
		verify(&f, 0, f.off[0], f.usable[0]);
		if (buddy_heap_free(&f.h, f.off[0]))
			die(&f, "free of a live block failed", f.off[0], 0);
		drop(&f, 0);
	}
	if (f.stop && f.h.counters.bytes_in_use)
		die(&f, "bytes in use with no live block",
		    f.h.counters.bytes_in_use, 0);
	buddy_heap_destroy(&f.h);
	model_destroy(&f.m);
	if (f.mem.chunks || f.mem.metas)
		die(&f, "memory left after destroy", f.mem.chunks, f.mem.metas);
	return 0;
}
