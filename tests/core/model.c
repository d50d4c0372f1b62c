// SPDX-License-Identifier: GPL-2.0
/*
 * model.c - the reference model (see model.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

/* sorted sets */

static size_t oset_lower(const struct oset *s, u64 x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static long oset_find(const struct oset *s, u64 x)
{
	size_t i = oset_lower(s, x);

	return i < s->n && s->v[i] == x ? (long)i : -1;
}

static void oset_insert(struct oset *s, u64 x, unsigned int ord)
{
	size_t i = oset_lower(s, x);

	if (i < s->n && s->v[i] == x) {
		fprintf(stderr, "model: duplicate %#llx\n",
			(unsigned long long)x);
		abort();
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		s->ord = realloc(s->ord, s->cap);
		if (!s->v || !s->ord)
			abort();
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	memmove(&s->ord[i + 1], &s->ord[i], s->n - i);
	s->v[i] = x;
	s->ord[i] = (u8)ord;
	s->n++;
}

static void oset_remove_at(struct oset *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	memmove(&s->ord[i], &s->ord[i + 1], s->n - i - 1);
	s->n--;
}

static void oset_copy(struct oset *d, const struct oset *s)
{
	d->n = s->n;
	d->cap = s->n ? s->n : 1;
	d->v = malloc(d->cap * sizeof(*d->v));
	d->ord = malloc(d->cap);
	if (!d->v || !d->ord)
		abort();
	if (s->n) {
		memcpy(d->v, s->v, s->n * sizeof(*s->v));
		memcpy(d->ord, s->ord, s->n);
	}
}

/* model */

static u64 obytes(unsigned int o)
{
	return 16ULL << o;
}

static unsigned int size_order(u64 size)
{
	unsigned int o = 0;

	while (obytes(o) < size)
		o++;
	return o;
}

/* Is a request of @size a trimmed-run target? */
static int run_target(const struct model *m, u64 size)
{
	return m->cfg.trim_order && size_order(size) >= m->cfg.trim_order;
}

/* Bytes a request of @size gets: its run, or its power-of-two block. */
static u64 run_bytes(const struct model *m, u64 size)
{
	if (run_target(m, size))
		return (size + BUDDY_TRIM_UNIT - 1) & ~(BUDDY_TRIM_UNIT - 1);
	return obytes(size_order(size));
}

void model_init(struct model *m, const struct buddy_config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->window = obytes(cfg->max_order);
	m->cap = cfg->cap_bytes && cfg->cap_bytes < m->window ?
		 cfg->cap_bytes : m->window;
}

void model_copy(struct model *dst, const struct model *src)
{
	unsigned int k;

	*dst = *src;
	for (k = 0; k <= BUDDY_MAX_ORDER; k++)
		oset_copy(&dst->free[k], &src->free[k]);
	oset_copy(&dst->live, &src->live);
}

void model_destroy(struct model *m)
{
	unsigned int k;

	for (k = 0; k <= BUDDY_MAX_ORDER; k++) {
		free(m->free[k].v);
		free(m->free[k].ord);
	}
	free(m->live.v);
	free(m->live.ord);
	memset(m, 0, sizeof(*m));
}

static int chunk_of(const struct model *m, u64 off)
{
	unsigned int i;

	for (i = 0; i < m->nr_chunks; i++)
		if (off >= m->coff[i] && off - m->coff[i] < obytes(m->cord[i]))
			return (int)i;
	return -1;
}

static int hole(const struct model *m, unsigned int o, u64 *pos)
{
	u64 s = obytes(o), p;
	unsigned int i;

	for (p = 0; p + s <= m->window; p += s) {
		for (i = 0; i < m->nr_chunks; i++) {
			u64 cs = m->coff[i], ce = cs + obytes(m->cord[i]);

			if (cs < p + s && p < ce)
				break;
		}
		if (i == m->nr_chunks) {
			*pos = p;
			return 1;
		}
	}
	return 0;
}

static int fits(const struct model *m, unsigned int o, u64 *pos)
{
	return m->heap_bytes + obytes(o) <= m->cap && hole(m, o, pos);
}

static int add_chunk(struct model *m, unsigned int o, u64 pos)
{
	unsigned int i;

	if (m->fail_chunk_in && !--m->fail_chunk_in)
		return -1;
	for (i = m->nr_chunks; i > 0 && m->coff[i - 1] > pos; i--) {
		m->coff[i] = m->coff[i - 1];
		m->cord[i] = m->cord[i - 1];
	}
	m->coff[i] = pos;
	m->cord[i] = o;
	m->nr_chunks++;
	m->heap_bytes += obytes(o);
	oset_insert(&m->free[o], pos, o);
	return 0;
}

static int grow(struct model *m, unsigned int want)
{
	unsigned int lo = want, hi, o;
	u64 pos;

	if (lo < m->cfg.min_chunk_order)
		lo = m->cfg.min_chunk_order;
	if (lo > m->cfg.max_order || m->nr_chunks >= BUDDY_MAX_CHUNKS)
		return -ENOMEM;
	hi = lo;
	if (m->heap_bytes) {
		/* largest power of two <= heap_bytes, as an order */
		o = 0;
		while (obytes(o + 1) <= m->heap_bytes)
			o++;
		/* past the step size, an eighth of the heap at a time */
		if (m->cfg.max_step_order && m->nr_chunks < BUDDY_MAX_CHUNKS / 2 &&
		    o > m->cfg.max_step_order)
			o = o >= m->cfg.max_step_order + 3 ?
			    o - 3 : m->cfg.max_step_order;
		if (o > hi)
			hi = o;
	}
	if (hi > m->cfg.max_order)
		hi = m->cfg.max_order;
	for (o = hi + 1; o-- > lo;) {
		if (!fits(m, o, &pos))
			continue;
		if (!add_chunk(m, o, pos))
			return 0;
		if (o != lo && fits(m, lo, &pos) && !add_chunk(m, lo, pos))
			return 0;
		return -ENOMEM;
	}
	return -ENOMEM;
}

static int take(struct model *m, unsigned int order, unsigned int search,
		u64 *off)
{
	unsigned int j;
	u64 o;

	for (j = search; j <= m->cfg.max_order; j++)
		if (m->free[j].n)
			break;
	if (j > m->cfg.max_order)
		return -ENOMEM;
	o = m->free[j].v[0];
	oset_remove_at(&m->free[j], 0);
	while (j > order) {
		j--;
		oset_insert(&m->free[j], o + obytes(j), j);
	}
	*off = o;
	return 0;
}

static void put(struct model *m, u64 o, unsigned int k);

static void add_piece(struct model *m, u64 o, unsigned int k, int cont)
{
	oset_insert(&m->live, o, k | (cont ? MODEL_CONT : 0));
}

/*
 * The spec's trim(): node (@j, @pos), in no set, keeps its first @keep
 * bytes as pieces of the run starting at @start; the rest goes back free.
 */
static void trim(struct model *m, unsigned int j, u64 pos, u64 keep,
		 u64 start)
{
	for (;;) {
		if (keep == obytes(j)) {
			add_piece(m, pos, j, pos != start);
			return;
		}
		/* the spec's precondition: @keep fits and is a unit multiple */
		if (!j)
			abort();
		j--;
		if (keep >= obytes(j)) {
			add_piece(m, pos, j, pos != start);
			keep -= obytes(j);
			pos += obytes(j);
			if (!keep) {
				put(m, pos, j);
				return;
			}
		} else {
			put(m, pos + obytes(j), j);
		}
	}
}

/* Block @o of order @k, in no set, becomes the allocation of @size. */
static void place(struct model *m, u64 o, unsigned int k, u64 size)
{
	u64 t = run_bytes(m, size);

	if (t < obytes(k))
		trim(m, k, o, t, o);
	else
		add_piece(m, o, k, 0);
	m->in_use += t;
	m->runs++;
}

static int flush(struct model *m)
{
	unsigned int k, j;
	int any = 0;

	for (k = 0; k < BUDDY_DEFER_ORDERS; k++) {
		for (j = 0; j < m->defer_n[k]; j++) {
			put(m, m->defer[k][j], k);
			any = 1;
		}
		m->defer_n[k] = 0;
	}
	return any;
}

int model_alloc(struct model *m, u64 size, u64 align, u64 *off)
{
	unsigned int order, search;

	if (size > m->window || align > m->window)
		return -ENOMEM;
	order = size_order(size);
	search = order;
	if (align && size_order(align) > search)
		search = size_order(align);
	if (order == search && order < BUDDY_DEFER_ORDERS &&
	    m->defer_n[order]) {
		*off = m->defer[order][--m->defer_n[order]];
		place(m, *off, order, size);
		return 0;
	}
	/* the free sets, then with the deferred blocks merged, then grown */
	if (take(m, order, search, off) &&
	    (!flush(m) || take(m, order, search, off)) &&
	    (grow(m, search) || take(m, order, search, off)))
		return -ENOMEM;
	place(m, *off, order, size);
	return 0;
}

static unsigned int piece_order(const struct model *m, size_t i)
{
	return m->live.ord[i] & ~MODEL_CONT;
}

/*
 * Classify @off: 0 and the index of the run's first piece, or an error
 * (the start of a piece that continues a run is no allocation's start).
 */
static int locate(const struct model *m, u64 off, size_t *idx)
{
	size_t i;

	if (chunk_of(m, off) < 0)
		return -BUDDY_ERR_OUTSIDE;
	i = oset_lower(&m->live, off + 1);
	if (i > 0) {
		u64 s = m->live.v[i - 1];

		if (off < s + obytes(piece_order(m, i - 1))) {
			*idx = i - 1;
			return s == off && !(m->live.ord[i - 1] & MODEL_CONT) ?
			       0 : -BUDDY_ERR_NOT_START;
		}
	}
	return -BUDDY_ERR_FREE;
}

/* Index past the last piece of the run whose first piece is at @i. */
static size_t run_end(const struct model *m, size_t i)
{
	for (i++; i < m->live.n && (m->live.ord[i] & MODEL_CONT); i++)
		;
	return i;
}

static u64 run_size(const struct model *m, size_t i)
{
	size_t j, e = run_end(m, i);
	u64 b = 0;

	for (j = i; j < e; j++)
		b += obytes(piece_order(m, j));
	return b;
}

static void release(struct model *m, u64 o, unsigned int k)
{
	int c = chunk_of(m, o);
	unsigned int i;

	if (m->heap_bytes - obytes(k) < m->cfg.low_water_bytes)
		return;
	oset_remove_at(&m->free[k], (size_t)oset_find(&m->free[k], o));
	for (i = (unsigned int)c; i + 1 < m->nr_chunks; i++) {
		m->coff[i] = m->coff[i + 1];
		m->cord[i] = m->cord[i + 1];
	}
	m->nr_chunks--;
	m->heap_bytes -= obytes(k);
}

static void put(struct model *m, u64 o, unsigned int k)
{
	unsigned int corder = m->cord[chunk_of(m, o)];

	while (k < corder) {
		u64 b = o ^ obytes(k);
		long bi = oset_find(&m->free[k], b);

		if (bi < 0)
			break;
		oset_remove_at(&m->free[k], (size_t)bi);
		if (b < o)
			o = b;
		k++;
	}
	oset_insert(&m->free[k], o, k);
	if (k == corder)
		release(m, o, k);
}

int model_free(struct model *m, u64 off)
{
	size_t i, e;
	unsigned int k;
	int ret = locate(m, off, &i);

	if (ret)
		return ret;
	e = run_end(m, i);
	m->in_use -= run_size(m, i);
	m->runs--;
	if (e == i + 1) {
		/* one block: as without runs, it may be deferred */
		k = piece_order(m, i);
		oset_remove_at(&m->live, i);
		if (k < BUDDY_DEFER_ORDERS && m->defer_n[k] < m->defer_depth)
			m->defer[k][m->defer_n[k]++] = off;
		else
			put(m, off, k);
		return 0;
	}
	/* every piece merges at once; the order of the puts does not matter */
	for (; e > i; e--) {
		u64 o = m->live.v[i];

		k = piece_order(m, i);
		oset_remove_at(&m->live, i);
		put(m, o, k);
	}
	return 0;
}

void model_set_defer_depth(struct model *m, unsigned int depth)
{
	if (depth < m->defer_depth)
		flush(m);
	m->defer_depth = depth;
}

int model_usable(const struct model *m, u64 off, u64 *usable)
{
	size_t i;
	int ret = locate(m, off, &i);

	if (!ret)
		*usable = run_size(m, i);
	return ret;
}

/* Order of the free block starting at @o, or -1 if none does. */
static int free_at(const struct model *m, u64 o)
{
	unsigned int j;

	for (j = 0; j <= m->cfg.max_order; j++)
		if (oset_find(&m->free[j], o) >= 0)
			return (int)j;
	return -1;
}

/*
 * Shrink the run whose first piece is live entry @i to @t bytes.  (Growth
 * in place adds a piece per claimed block, so a run may have many.)
 */
static void shrink_run(struct model *m, size_t i, u64 t)
{
	size_t n = run_end(m, i) - i, p;
	u64 off = m->live.v[i], *o = malloc(n * sizeof(*o));
	u8 *k = malloc(n);

	if (!o || !k)
		abort();
	/* take the pieces out, then put each back, kept, trimmed or freed */
	memcpy(o, &m->live.v[i], n * sizeof(*o));
	memcpy(k, &m->live.ord[i], n);
	for (p = 0; p < n; p++)
		oset_remove_at(&m->live, i);
	for (p = 0; p < n; p++) {
		unsigned int j = k[p] & ~MODEL_CONT;
		u64 a = o[p] - off, b = a + obytes(j);

		if (a >= t)
			put(m, o[p], j);
		else if (b > t)
			trim(m, j, o[p], t - a, off);
		else
			add_piece(m, o[p], j, p > 0);
	}
	free(o);
	free(k);
}

/* Order of the free block holding @o (its start in *@q), or -1. */
static int free_holding(const struct model *m, u64 o, u64 *q)
{
	unsigned int j;

	for (j = 0; j <= m->cfg.max_order; j++) {
		*q = o & ~(obytes(j) - 1);
		if (oset_find(&m->free[j], *q) >= 0)
			return (int)j;
	}
	return -1;
}

/* Merge the deferred block at @o for real, if there is one. */
static int undefer(struct model *m, u64 o)
{
	unsigned int k, j;

	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		for (j = 0; j < m->defer_n[k]; j++) {
			if (m->defer[k][j] != o)
				continue;
			/* the others keep their order */
			memmove(&m->defer[k][j], &m->defer[k][j + 1],
				(m->defer_n[k] - j - 1) * sizeof(u64));
			m->defer_n[k]--;
			put(m, o, k);
			return 1;
		}
	return 0;
}

/*
 * Grow the run at @off from @r to @t bytes in place, if the spec allows
 * (with its two corrections): only from a multiple of BUDDY_TRIM_UNIT (a
 * run's later pieces start on the unit, one run bit each), inside the
 * chunk, and over free blocks up to the new end, a deferred block on the
 * way being merged for real first.  Those merges stay when an allocated
 * block then stops the growth.
 */
static int grow_run(struct model *m, u64 off, u64 r, u64 t)
{
	int c = chunk_of(m, off), j;
	u64 pos, q;

	if (r % BUDDY_TRIM_UNIT || off + t > m->coff[c] + obytes(m->cord[c]))
		return 0;
	/* a merge may give a block starting before pos, never before off + r */
	for (pos = off + r; pos < off + t; pos = q + obytes((unsigned int)j)) {
		j = free_holding(m, pos, &q);
		if (j < 0 && undefer(m, pos))
			j = free_holding(m, pos, &q);
		if (j < 0)
			return 0;
	}
	/* claim the free blocks now tiling [off + r, off + t) */
	for (pos = off + r; pos < off + t; pos += obytes((unsigned int)j)) {
		j = free_at(m, pos);
		if (j < 0)
			abort();
		oset_remove_at(&m->free[j],
			       (size_t)oset_find(&m->free[j], pos));
		if (pos + obytes((unsigned int)j) <= off + t)
			add_piece(m, pos, (unsigned int)j, 1);
		else
			trim(m, (unsigned int)j, pos, off + t - pos, off);
	}
	return 1;
}

/* A single block grows in place by absorbing free right buddies. */
static int grow_block(struct model *m, size_t i, unsigned int n)
{
	u64 off = m->live.v[i];
	unsigned int k = piece_order(m, i), l;
	int ok = n <= m->cord[chunk_of(m, off)];

	for (l = k; ok && l < n; l++)
		ok = !(off & obytes(l)) &&
		     oset_find(&m->free[l], off + obytes(l)) >= 0;
	if (!ok)
		return 0;
	for (l = k; l < n; l++)
		oset_remove_at(&m->free[l],
			       (size_t)oset_find(&m->free[l], off + obytes(l)));
	m->live.ord[i] = (u8)n;
	return 1;
}

int model_realloc(struct model *m, u64 off, u64 size, u64 *new_off)
{
	u64 r, t;
	size_t i;
	int ret = locate(m, off, &i);

	if (ret)
		return ret;
	if (size > m->window)
		return -ENOMEM;
	r = run_size(m, i);
	t = run_bytes(m, size);
	*new_off = off;
	if (t == r)
		return 0;
	if (t < r) {
		shrink_run(m, i, t);
		m->in_use -= r - t;
		return 0;
	}
	if (run_target(m, size) ? grow_run(m, off, r, t) :
	    grow_block(m, i, size_order(size))) {
		m->in_use += t - r;
		return 0;
	}
	/* a move gets its whole block: room to grow again in place */
	ret = model_alloc(m, obytes(size_order(size)), 0, new_off);
	if (ret)
		return ret;
	return model_free(m, off);
}

/* comparison */

struct cmp_ctx {
	const struct model *m;
	size_t li;		/* next live block */
	size_t fi[BUDDY_MAX_ORDER + 1];
	size_t deferred;
	int bad;
};

static int cmp_cb(void *arg, u64 offset, unsigned int order,
		  enum buddy_block_state state)
{
	struct cmp_ctx *c = arg;
	const struct model *m = c->m;

	if (state != BUDDY_BLOCK_FREE) {
		/* a run's later pieces are CONTINUED, its first ALLOCATED */
		unsigned int want = order |
			(state == BUDDY_BLOCK_CONTINUED ? MODEL_CONT : 0);

		if (state != BUDDY_BLOCK_ALLOCATED &&
		    state != BUDDY_BLOCK_CONTINUED)
			goto bad;
		if (c->li >= m->live.n || m->live.v[c->li] != offset ||
		    m->live.ord[c->li] != want)
			goto bad;
		c->li++;
	} else {
		unsigned int j;

		if (order < BUDDY_DEFER_ORDERS)
			for (j = 0; j < m->defer_n[order]; j++)
				if (m->defer[order][j] == offset) {
					c->deferred++;
					return 0;
				}
		if (order > BUDDY_MAX_ORDER || c->fi[order] >= m->free[order].n ||
		    m->free[order].v[c->fi[order]] != offset)
			goto bad;
		c->fi[order]++;
	}
	return 0;
bad:
	fprintf(stderr, "    model mismatch at block %#llx order %u %s\n",
		(unsigned long long)offset, order,
		state == BUDDY_BLOCK_FREE ? "free" :
		state == BUDDY_BLOCK_ALLOCATED ? "allocated" :
		state == BUDDY_BLOCK_CONTINUED ? "continued" : "bad state");
	c->bad = 1;
	return 1;
}

static int sync_cb(void *arg, u64 offset, unsigned int order,
		   enum buddy_block_state state)
{
	struct model *m = arg;
	unsigned int j;

	if (state == BUDDY_BLOCK_ALLOCATED) {
		oset_insert(&m->live, offset, order);
		m->runs++;
		return 0;
	}
	if (state == BUDDY_BLOCK_CONTINUED) {
		oset_insert(&m->live, offset, order | MODEL_CONT);
		return 0;
	}
	if (order < BUDDY_DEFER_ORDERS)
		for (j = 0; j < m->defer_n[order]; j++)
			if (m->defer[order][j] == offset)
				return 0;
	oset_insert(&m->free[order], offset, order);
	return 0;
}

void model_sync(struct model *m, const struct buddy_heap *h)
{
	struct buddy_config cfg = m->cfg;
	unsigned int k, depth = m->defer_depth;
	long fail_chunk_in = m->fail_chunk_in;
	struct buddy_stats st;

	model_destroy(m);
	model_init(m, &cfg);
	m->defer_depth = depth;
	m->fail_chunk_in = fail_chunk_in;
	buddy_get_stats(h, &st);
	m->heap_bytes = st.heap_bytes;
	m->in_use = st.bytes_in_use;
	m->nr_chunks = h->nr_chunks;
	for (k = 0; k < h->nr_chunks; k++) {
		m->coff[k] = h->chunks[k].offset;
		m->cord[k] = h->chunks[k].order;
	}
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++) {
		m->defer_n[k] = h->defer_n[k];
		memcpy(m->defer[k], h->defer[k], sizeof(m->defer[k]));
	}
	buddy_walk(h, sync_cb, m);
}

int model_compare(const struct model *m, const struct buddy_heap *h,
		  int full)
{
	struct buddy_stats st;
	unsigned int k;

	buddy_get_stats(h, &st);
	if (st.heap_bytes != m->heap_bytes || st.bytes_in_use != m->in_use ||
	    st.live_blocks != m->runs || st.nr_chunks != m->nr_chunks) {
		fprintf(stderr,
			"    model: heap %llu/%llu in_use %llu/%llu live %llu/%llu chunks %llu/%u\n",
			(unsigned long long)st.heap_bytes,
			(unsigned long long)m->heap_bytes,
			(unsigned long long)st.bytes_in_use,
			(unsigned long long)m->in_use,
			(unsigned long long)st.live_blocks,
			(unsigned long long)m->runs,
			(unsigned long long)st.nr_chunks, m->nr_chunks);
		return 1;
	}
	for (k = 0; k <= m->cfg.max_order; k++) {
		u64 want = m->free[k].n;

		if (k < BUDDY_DEFER_ORDERS)
			want += m->defer_n[k];
		if (st.free_blocks[k] != want) {
			fprintf(stderr, "    model: free_blocks[%u] %llu != %llu\n",
				k, (unsigned long long)st.free_blocks[k],
				(unsigned long long)want);
			return 1;
		}
	}
	for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
		if (h->defer_n[k] != m->defer_n[k] ||
		    memcmp(h->defer[k], m->defer[k],
			   m->defer_n[k] * sizeof(u64))) {
			fprintf(stderr, "    model: deferred blocks of order %u differ\n",
				k);
			return 1;
		}
	for (k = 0; k < m->nr_chunks; k++)
		if (h->chunks[k].offset != m->coff[k] ||
		    h->chunks[k].order != m->cord[k]) {
			fprintf(stderr, "    model: chunk %u differs\n", k);
			return 1;
		}
	if (full) {
		struct cmp_ctx c = { .m = m };

		size_t deferred = 0;

		buddy_walk(h, cmp_cb, &c);
		for (k = 0; k < BUDDY_DEFER_ORDERS; k++)
			deferred += m->defer_n[k];
		if (c.bad || c.li != m->live.n || c.deferred != deferred)
			return 1;
		for (k = 0; k <= m->cfg.max_order; k++)
			if (c.fi[k] != m->free[k].n)
				return 1;
	}
	return 0;
}
