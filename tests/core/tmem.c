// SPDX-License-Identifier: GPL-2.0
/*
 * tmem.c - userspace memory callbacks for the core (chunks from
 * aligned_alloc or mmap, metadata from calloc), with failure injection,
 * heap snapshots and small helpers shared by the tests and the fuzzer.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "tutil.h"

/* Chunks above this size come from mmap (lazily backed, cheap to drop). */
#define TMEM_MMAP_MIN	(4ULL << 20)

static void *tmem_chunk_alloc(void *ctx, u64 bytes)
{
	struct tmem *m = ctx;
	void *p;

	m->chunk_calls++;
	if (m->fail_chunk_in && !--m->fail_chunk_in)
		return NULL;
	if (m->chunk_limit && bytes > m->chunk_limit)
		return NULL;
	if (bytes >= TMEM_MMAP_MIN) {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	} else {
		p = aligned_alloc(16, bytes);
		if (!p)
			return NULL;
		memset(p, 0, bytes);
	}
	m->chunk_bytes += bytes;
	m->chunks++;
	return p;
}

static void tmem_chunk_free(void *ctx, void *mem, u64 bytes)
{
	struct tmem *m = ctx;

	if (bytes >= TMEM_MMAP_MIN)
		munmap(mem, bytes);
	else
		free(mem);
	m->chunk_bytes -= bytes;
	m->chunks--;
}

/*
 * Metadata carries a trailer (after its @bytes, which are whole words): how
 * many heaps use it (ops->meta_share) and, while more than one does, a hash
 * of its contents when it was shared.  Shared metadata must not change
 * until ops->meta_unshare has given the writer its own copy: every share,
 * unshare and free of a shared block checks the hash, so a write the core
 * makes without unsharing first is reported.
 */
struct tmem_meta {
	long users;
	u64 hash;
};

static struct tmem_meta *tmem_meta_of(void *mem, size_t bytes)
{
	return (struct tmem_meta *)((u8 *)mem + bytes);
}

static u64 tmem_meta_hash(const void *mem, size_t bytes)
{
	const u8 *p = mem;
	u64 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < bytes; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void tmem_meta_check(void *mem, size_t bytes)
{
	struct tmem_meta *tm = tmem_meta_of(mem, bytes);

	if (tm->users > 1 && tm->hash != tmem_meta_hash(mem, bytes))
		t_report(__FILE__, __LINE__,
			 "shared metadata written without meta_unshare");
}

static void *tmem_meta_new(size_t bytes)
{
	void *mem = calloc(1, bytes + sizeof(struct tmem_meta));

	if (mem)
		tmem_meta_of(mem, bytes)->users = 1;
	return mem;
}

static void *tmem_meta_alloc(void *ctx, size_t bytes)
{
	struct tmem *m = ctx;
	void *p;

	if (m->fail_meta_in && !--m->fail_meta_in)
		return NULL;
	p = tmem_meta_new(bytes);
	if (p) {
		m->meta_bytes += bytes;
		m->metas++;
	}
	return p;
}

/* Drop one user's reference: no accounting. */
static void tmem_meta_put(void *mem, size_t bytes)
{
	tmem_meta_check(mem, bytes);
	if (!--tmem_meta_of(mem, bytes)->users)
		free(mem);
}

static void tmem_meta_free(void *ctx, void *mem, size_t bytes)
{
	struct tmem *m = ctx;

	tmem_meta_put(mem, bytes);
	m->meta_bytes -= bytes;
	m->metas--;
}

/* The clone (@ctx) holds a reference as if it had allocated the block. */
static bool tmem_meta_share(void *ctx, void *mem, size_t bytes)
{
	struct tmem_meta *tm = tmem_meta_of(mem, bytes);
	struct tmem *m = ctx;

	if (m->no_meta_share)
		return false;
	if (tm->users == 1)
		tm->hash = tmem_meta_hash(mem, bytes);
	else
		tmem_meta_check(mem, bytes);
	tm->users++;
	m->meta_bytes += bytes;
	m->metas++;
	m->meta_shares++;
	return true;
}

static bool tmem_meta_unshare(void *ctx, void **mem, size_t bytes, bool must)
{
	struct tmem *m = ctx;
	void *copy;

	tmem_meta_check(*mem, bytes);
	if (tmem_meta_of(*mem, bytes)->users == 1)
		return true;
	if (!must && m->fail_meta_in && !--m->fail_meta_in)
		return false;
	copy = tmem_meta_new(bytes);
	if (!copy) {
		if (must)
			abort();
		return false;
	}
	memcpy(copy, *mem, bytes);
	tmem_meta_put(*mem, bytes);
	*mem = copy;
	m->meta_unshares++;
	return true;
}

/* Whether the write (copy or zero) about to be made is to fail. */
static bool tmem_write_fails(struct tmem *m)
{
	return m->fail_write_in > 0 && --m->fail_write_in == 0;
}

static int tmem_copy(void *ctx, void *dst, u64 dst_off, const void *src,
		     u64 src_off, u64 bytes)
{
	struct tmem *m = ctx;

	if (tmem_write_fails(m))
		return -ENOMEM;
	m->copies++;
	m->copied += bytes;
	memcpy((u8 *)dst + dst_off, (const u8 *)src + src_off, bytes);
	return 0;
}

static int tmem_zero(void *ctx, void *mem, u64 off, u64 bytes)
{
	struct tmem *m = ctx;

	if (tmem_write_fails(m))
		return -ENOMEM;
	m->zeroes++;
	memset((u8 *)mem + off, 0, bytes);
	return 0;
}

const struct buddy_ops tmem_ops = {
	.chunk_alloc = tmem_chunk_alloc,
	.chunk_free = tmem_chunk_free,
	.meta_alloc = tmem_meta_alloc,
	.meta_free = tmem_meta_free,
	.copy = tmem_copy,
	.zero = tmem_zero,
	.meta_share = tmem_meta_share,
	.meta_unshare = tmem_meta_unshare,
};

const struct buddy_ops tmem_ops_nocopy = {
	.chunk_alloc = tmem_chunk_alloc,
	.chunk_free = tmem_chunk_free,
	.meta_alloc = tmem_meta_alloc,
	.meta_free = tmem_meta_free,
};

void theap_init(struct buddy_heap *h, struct tmem *m, unsigned int max_order,
		unsigned int min_chunk_order, u64 cap, u64 low_water)
{
	struct buddy_config cfg = {
		.max_order = max_order,
		.min_chunk_order = min_chunk_order,
		.cap_bytes = cap,
		.low_water_bytes = low_water,
	};
	int ret;

	memset(m, 0, sizeof(*m));
	ret = buddy_heap_init(h, &cfg, &tmem_ops, m);
	if (ret) {
		fprintf(stderr, "theap_init: %d\n", ret);
		abort();
	}
}

/* snapshots */

static int snap_cb(void *arg, u64 offset, unsigned int order,
		   enum buddy_block_state state)
{
	struct tsnap *s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->b = realloc(s->b, s->cap * sizeof(*s->b));
		if (!s->b)
			abort();
	}
	s->b[s->n].offset = offset;
	s->b[s->n].order = order;
	s->b[s->n].state = state;
	s->n++;
	return 0;
}

void tsnap_take(const struct buddy_heap *h, struct tsnap *s)
{
	memset(s, 0, sizeof(*s));
	buddy_get_stats(h, &s->st);
	s->st.nr_failed = 0;
	buddy_walk(h, snap_cb, s);
}

int tsnap_cmp(const struct tsnap *a, const struct tsnap *b)
{
	size_t i;

	if (memcmp(&a->st, &b->st, sizeof(a->st))) {
		fprintf(stderr, "    stats differ\n");
		return 1;
	}
	if (a->n != b->n) {
		fprintf(stderr, "    block count %zu != %zu\n", a->n, b->n);
		return 1;
	}
	for (i = 0; i < a->n; i++)
		if (a->b[i].offset != b->b[i].offset ||
		    a->b[i].order != b->b[i].order ||
		    a->b[i].state != b->b[i].state) {
			fprintf(stderr, "    block %zu differs\n", i);
			return 1;
		}
	return 0;
}

int tsnap_blocks_kept(const struct tsnap *before, const struct tsnap *after)
{
	size_t i = 0, j = 0;

	if (before->st.bytes_in_use != after->st.bytes_in_use ||
	    before->st.live_blocks != after->st.live_blocks) {
		fprintf(stderr, "    bytes_in_use %llu -> %llu, live_blocks %llu -> %llu\n",
			(unsigned long long)before->st.bytes_in_use,
			(unsigned long long)after->st.bytes_in_use,
			(unsigned long long)before->st.live_blocks,
			(unsigned long long)after->st.live_blocks);
		return 1;
	}
	/*
	 * both walks are in offset order: merge them, allocated blocks only,
	 * a run's later blocks (CONTINUED) included
	 */
	for (;;) {
		while (i < before->n && before->b[i].state == BUDDY_BLOCK_FREE)
			i++;
		while (j < after->n && after->b[j].state == BUDDY_BLOCK_FREE)
			j++;
		if (i == before->n && j == after->n)
			return 0;
		if (i == before->n || j == after->n ||
		    before->b[i].offset != after->b[j].offset ||
		    before->b[i].order != after->b[j].order ||
		    before->b[i].state != after->b[j].state) {
			fprintf(stderr, "    allocated block %#llx o%u -> %#llx o%u\n",
				i < before->n ? (unsigned long long)before->b[i].offset : ~0ULL,
				i < before->n ? before->b[i].order : 0,
				j < after->n ? (unsigned long long)after->b[j].offset : ~0ULL,
				j < after->n ? after->b[j].order : 0);
			return 1;
		}
		i++;
		j++;
	}
}

void tsnap_free(struct tsnap *s)
{
	free(s->b);
	s->b = NULL;
	s->n = 0;
	s->cap = 0;
}

/* misc */

u64 rng_next(u64 *s)
{
	/* splitmix64 */
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

u64 env_u64(const char *name, u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

