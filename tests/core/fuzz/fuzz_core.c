// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_core.c - libFuzzer harness for the buddy core.
 *
 * The input's first four bytes pick a heap geometry (window, smallest
 * chunk, cap, low-water mark, deferred-coalescing depth); the rest is decoded into operations: alloc,
 * aligned alloc (including bad alignments), free of live and of arbitrary
 * offsets, realloc (with and without zeroing), chunk allocation failures,
 * and clone-and-swap.  The reference model (../model.c) runs alongside.
 * After EVERY operation: buddy_check(), a full comparison with the model,
 * and for free/realloc a check of the block's contents pattern.  Any
 * difference aborts, which libFuzzer reports as a finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../tutil.h"
#include "../model.h"

#define MAX_LIVE	256

struct fz {
	const u8 *p;
	size_t n;
	struct buddy_heap h;
	struct model m;
	struct tmem mem;
	u64 off[MAX_LIVE], usable[MAX_LIVE], seed[MAX_LIVE];
	unsigned int live;
	u64 ops;
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

static void op_alloc(struct fz *f, int aligned)
{
	u64 size = size_arg(f), align = 0, o1 = 1, o2 = 2;
	u8 b = byte(f);
	unsigned int flags = b & 1 ? BUDDY_ALLOC_ZERO : 0;
	int r1, r2;

	if (f->live == MAX_LIVE)
		return;
	if (aligned) {
		align = 1ULL << (b >> 1) % 24;
		if (b >= 0xf0)
			align = b == 0xff ? 0 : align * 3;	/* invalid */
		r1 = buddy_heap_alloc_aligned(&f->h, size, align, flags, &o1);
		if (!align || (align & (align - 1))) {
			if (r1 != -EINVAL)
				die(f, "bad alignment accepted", align, r1);
			return;
		}
	} else {
		r1 = buddy_heap_alloc(&f->h, size, flags, &o1);
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

static void op_realloc(struct fz *f)
{
	unsigned int i, flags;
	u64 size, o1 = 1, o2 = 2, u = 0, keep;
	int r1, r2;

	if (!f->live)
		return;
	i = byte(f) % f->live;
	size = size_arg(f);
	flags = byte(f) & 1 ? BUDDY_ALLOC_ZERO : 0;
	verify(f, i, f->off[i], f->usable[i]);
	r1 = buddy_heap_realloc(&f->h, f->off[i], size, flags, &o1);
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
	if (b & 1 && (unsigned int)(1 + (b >> 1) % 8) <= f->h.nr_chunks) {
		if (r != -ENOMEM || c.nr_chunks || c.heap_bytes)
			die(f, "clone failure left something", r, c.nr_chunks);
	} else if (r) {
		die(f, "clone failed", r, 0);
	}
	f->mem.fail_chunk_in = pending;
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
	if (buddy_heap_init(&f.h, &cfg, &tmem_ops, &f.mem))
		abort();
	model_init(&f.m, &cfg);
	/* deferred coalescing: off, 1, 2 or the most */
	f.m.defer_depth = (b >> 2) % 4 == 3 ? BUDDY_DEFER_DEPTH : (b >> 2) % 4;
	if (buddy_heap_set_defer_depth(&f.h, f.m.defer_depth))
		abort();

	while (f.n) {
		b = byte(&f);
		switch (b % 12) {
		case 0: case 1: case 2:
			op_alloc(&f, 0);
			break;
		case 3:
			op_alloc(&f, 1);
			break;
		case 4: case 5: case 6:
			op_free(&f);
			break;
		case 7: case 8:
			op_realloc(&f);
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
		default:
			op_clone(&f);
			break;
		}
		f.ops++;
		check(&f);
	}
	while (f.live) {
		op_free(&f);
		check(&f);
	}
	buddy_heap_destroy(&f.h);
	model_destroy(&f.m);
	if (f.mem.chunks || f.mem.metas)
		die(&f, "memory left after destroy", f.mem.chunks, f.mem.metas);
	return 0;
}
