// SPDX-License-Identifier: GPL-2.0
/*
 * test_exhaustive.c - every sequence of operations up to a depth on tiny
 * heaps, the core and the reference model side by side.
 *
 * From each state, every operation is tried on a clone of the heap (which
 * also exercises buddy_heap_clone()): alloc of every order, free of every
 * live block, and for some configurations aligned alloc of every
 * alignment and realloc of every live block to every order.  After each
 * operation the result, the full block list and the counters must match
 * the model, buddy_check() must pass, and buddy_heap_usable_size() must classify
 * every 8-byte offset of the window as the model does.
 *
 * With cfg.trim_order the sizes are those that give distinct results:
 * every power of two below the trim order, and from there every multiple
 * of BUDDY_TRIM_UNIT (runs of one piece or several); aligned allocs also
 * ask for a run in a block larger than it.
 */
#include <string.h>
#include "tutil.h"
#include "model.h"

#define EX_ALIGNED	0x1
#define EX_REALLOC	0x2

struct ex_cfg {
	const char *name;
	unsigned int max_order, min_chunk_order;
	u64 cap, low_water;
	int depth;
	unsigned int ops;
	unsigned int defer_depth;
	unsigned int max_step_order;
	unsigned int trim_order;
};

enum { OP_ALLOC, OP_ALIGNED, OP_FREE, OP_REALLOC };

struct ex_op {
	int kind;
	u64 arg;	/* offset (free/realloc) or alignment */
	u64 size;
};

static struct ex_op path[16];
/* the sizes alloc and realloc try (see the top) */
static u64 ex_sizes[64];
static unsigned int ex_nsizes;
static long ex_nodes;
static int ex_stop;
static struct tmem ex_mem;

static void print_path(int n)
{
	static const char * const names[] = { "alloc", "aligned", "free",
					      "realloc" };
	int i;

	fprintf(stderr, "    path:");
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s(%#llx,%llu)", names[path[i].kind],
			(unsigned long long)path[i].arg,
			(unsigned long long)path[i].size);
	fputc('\n', stderr);
}

static int probe_all(const struct buddy_heap *h, const struct model *m)
{
	u64 off, w = buddy_window_bytes(h) + 16;

	for (off = 0; off < w; off += 8) {
		u64 u1 = 0, u2 = 0;
		int r1 = buddy_heap_usable_size(h, off, &u1);
		int r2 = model_usable(m, off, &u2);

		if (r1 != r2 || u1 != u2) {
			fprintf(stderr, "    usable(%#llx): %d/%llu, model %d/%llu\n",
				(unsigned long long)off, r1,
				(unsigned long long)u1, r2,
				(unsigned long long)u2);
			return 1;
		}
	}
	return 0;
}

static int apply(struct buddy_heap *h, struct model *m, const struct ex_op *op)
{
	u64 o1 = 1, o2 = 2;
	int r1, r2;

	switch (op->kind) {
	case OP_ALLOC:
		r1 = buddy_heap_alloc(h, op->size, 0, &o1);
		r2 = model_alloc(m, op->size, 0, &o2);
		break;
	case OP_ALIGNED:
		r1 = buddy_heap_alloc_aligned(h, op->size, op->arg, 0, &o1);
		r2 = model_alloc(m, op->size, op->arg, &o2);
		break;
	case OP_FREE:
		r1 = buddy_heap_free(h, op->arg);
		r2 = model_free(m, op->arg);
		o1 = o2 = 0;
		break;
	default:
		r1 = buddy_heap_realloc(h, op->arg, op->size, 0, &o1);
		r2 = model_realloc(m, op->arg, op->size, &o2);
		break;
	}
	if (r1 != r2 || (!r1 && o1 != o2)) {
		fprintf(stderr, "    result %d/%#llx, model %d/%#llx\n", r1,
			(unsigned long long)o1, r2, (unsigned long long)o2);
		return 1;
	}
	return 0;
}

static void dfs(struct buddy_heap *h, const struct model *m,
		const struct ex_cfg *cfg, int level)
{
	struct ex_op ops[256];
	unsigned int n = 0, k, i;

	if (level == cfg->depth || ex_stop)
		return;
	for (k = 0; k < ex_nsizes; k++)
		ops[n++] = (struct ex_op){ OP_ALLOC, 0, ex_sizes[k] };
	if (cfg->ops & EX_ALIGNED)
		for (k = 1; k <= cfg->max_order; k++)
			ops[n++] = (struct ex_op){
				OP_ALIGNED, 16ULL << k,
				16ULL << (k & 1 ? 0 : k / 2) };
	/* a run of order trim_order + 1 in a larger aligned block */
	if ((cfg->ops & EX_ALIGNED) && cfg->trim_order &&
	    cfg->max_order <= BUDDY_MAX_ORDER) {
		u64 run = (16ULL << cfg->trim_order) + BUDDY_TRIM_UNIT;

		for (k = cfg->trim_order + 2; k <= cfg->max_order; k++)
			ops[n++] = (struct ex_op){ OP_ALIGNED, 16ULL << k, run };
	}
	for (i = 0; i < m->live.n; i++) {
		u64 u = 0;

		/* a run is one allocation: its first piece */
		if (m->live.ord[i] & MODEL_CONT)
			continue;
		ops[n++] = (struct ex_op){ OP_FREE, m->live.v[i], 0 };
		model_usable(m, m->live.v[i], &u);
		if (cfg->ops & EX_REALLOC)
			for (k = 0; k < ex_nsizes && n < 250; k++)
				if (ex_sizes[k] != u)
					ops[n++] = (struct ex_op){
						OP_REALLOC, m->live.v[i],
						ex_sizes[k] };
	}

	for (i = 0; i < n && !ex_stop; i++) {
		struct buddy_heap h2;
		struct model m2;
		struct buddy_violation v = { 0 };
		int bad = 0;

		if (buddy_heap_clone(&h2, h, &ex_mem)) {
			t_report(__FILE__, __LINE__, "clone failed");
			ex_stop = 1;
			return;
		}
		model_copy(&m2, m);
		path[level] = ops[i];
		ex_nodes++;
		bad = apply(&h2, &m2, &ops[i]);
		if (!bad && buddy_check(&h2, &v)) {
			fprintf(stderr, "    check: %s at %#llx order %u\n",
				v.what, (unsigned long long)v.offset, v.order);
			bad = 1;
		}
		if (!bad)
			bad = model_compare(&m2, &h2, 1);
		if (!bad)
			bad = probe_all(&h2, &m2);
		if (bad) {
			t_report(__FILE__, __LINE__, "%s: mismatch", cfg->name);
			print_path(level + 1);
			ex_stop = 1;
		} else {
			dfs(&h2, &m2, cfg, level + 1);
		}
		buddy_heap_destroy(&h2);
		model_destroy(&m2);
	}
}

static void run_cfg(const struct ex_cfg *cfg)
{
	struct buddy_config bc = {
		.max_order = cfg->max_order,
		.min_chunk_order = cfg->min_chunk_order,
		.cap_bytes = cfg->cap,
		.low_water_bytes = cfg->low_water,
		.max_step_order = cfg->max_step_order,
		.trim_order = cfg->trim_order,
	};
	u64 s, window = 16ULL << cfg->max_order;
	struct buddy_heap h;
	struct model m;

	ex_nsizes = 0;
	for (s = 16; s <= window; s *= 2) {
		if (cfg->trim_order && s > (8ULL << cfg->trim_order))
			break;
		ex_sizes[ex_nsizes++] = s;
	}
	for (; s <= window; s += BUDDY_TRIM_UNIT)
		ex_sizes[ex_nsizes++] = s;
	memset(&ex_mem, 0, sizeof(ex_mem));
	ex_nodes = 0;
	ex_stop = 0;
	REQUIRE_EQ(buddy_heap_init(&h, &bc, &tmem_ops, &ex_mem), 0);
	REQUIRE_EQ(buddy_heap_set_defer_depth(&h, cfg->defer_depth), 0);
	model_init(&m, &bc);
	m.defer_depth = cfg->defer_depth;
	dfs(&h, &m, cfg, 0);
	buddy_heap_destroy(&h);
	model_destroy(&m);
	EXPECT_EQ(ex_mem.chunks, 0);
	EXPECT_EQ(ex_mem.metas, 0);
	if (t_verbose)
		fprintf(stderr, "    %s: %ld states\n", cfg->name, ex_nodes);
	EXPECT(ex_nodes > 1000);
}

static void test_one_chunk(void)
{
	static const struct ex_cfg cfg = {
		"one 256 B chunk", 4, 4, 0, ~0ULL, 6, 0, 0, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_growth_release(void)
{
	static const struct ex_cfg cfg = {
		"growth, holes, release to 0", 5, 1, 0, 0, 6, 0, 0, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_order0_chunks(void)
{
	static const struct ex_cfg cfg = {
		"16-byte chunks, 64-byte window",
		2, 0, 0, 16, 6, EX_ALIGNED, 0, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_cap_low_water(void)
{
	static const struct ex_cfg cfg = {
		"cap 384, low water 64, aligned",
		5, 2, 384, 64, 4, EX_ALIGNED, 0, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_realloc_all(void)
{
	static const struct ex_cfg cfg = {
		"realloc and aligned",
		4, 2, 0, 32, 4, EX_ALIGNED | EX_REALLOC, 0, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_defer_one_chunk(void)
{
	static const struct ex_cfg cfg = {
		"defer depth 1, one chunk", 4, 4, 0, ~0ULL, 6, 0, 1, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_defer_growth(void)
{
	static const struct ex_cfg cfg = {
		"defer depth 2, growth and release", 5, 1, 0, 0, 5, 0, 2, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_defer_realloc(void)
{
	static const struct ex_cfg cfg = {
		"defer depth 1, realloc",
		4, 2, 0, 32, 4, EX_ALIGNED | EX_REALLOC, 1, 0, 0,
	};

	run_cfg(&cfg);
}

static void test_stepped_growth(void)
{
	static const struct ex_cfg cfg = {
		"growth by steps of 2 grains, release to 0",
		5, 0, 0, 0, 6, 0, 0, 1, 0,
	};

	run_cfg(&cfg);
}

/* runs from 512 B in one 2 KiB chunk: trim, grow into the tail, move */
static void test_trim_one_chunk(void)
{
	static const struct ex_cfg cfg = {
		"trim order 5, one 2 KiB chunk, realloc and aligned", 7, 7,
		0, ~0ULL, 3, EX_ALIGNED | EX_REALLOC, 0, 0, 5,
	};

	run_cfg(&cfg);
}

/* runs across growth, release and deferred blocks */
static void test_trim_growth_defer(void)
{
	static const struct ex_cfg cfg = {
		"trim order 6, growth from 256 B, release to 0, defer 1", 7, 4,
		0, 0, 4, EX_REALLOC, 1, 0, 6,
	};

	run_cfg(&cfg);
}

const struct test_case exhaustive_tests[] = {
	{ "one_chunk_depth6", test_one_chunk },
	{ "growth_release_depth6", test_growth_release },
	{ "order0_chunks_depth6", test_order0_chunks },
	{ "cap_low_water_aligned_depth4", test_cap_low_water },
	{ "realloc_aligned_depth4", test_realloc_all },
	{ "defer1_one_chunk_depth6", test_defer_one_chunk },
	{ "defer2_growth_release_depth5", test_defer_growth },
	{ "defer1_realloc_depth4", test_defer_realloc },
	{ "stepped_growth_depth6", test_stepped_growth },
	{ "trim5_one_chunk_realloc_aligned_depth3", test_trim_one_chunk },
	{ "trim6_growth_release_defer1_depth4", test_trim_growth_defer },
	{ NULL, NULL },
};
