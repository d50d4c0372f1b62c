// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_model.c - buddy_fuzz model: P processes x T threads, one heap per
 * process, issue only valid operations (single ioctls and BATCH), keep a
 * pattern in every live block and verify it before each free and
 * realloc, zap and remap the window under the others' feet, and at every
 * epoch barrier compare STATS (and now and then a CLONE) with the model.
 * Catches overlapping blocks, lost or corrupted data and accounting
 * drift (see buddy_fuzz.c for the whole story).
 */
#include "buddy_fuzz.h"

#define NBLK	48	/* blocks per thread */

struct mblk {
	uint64_t off, size, usable;
	uint32_t seed;
};

struct mproc {
	int fd;
	char *base;
	uint64_t window, cap;
	pthread_barrier_t bar;
	_Atomic bool stop;
	double deadline;
	uint64_t ops_limit;
	unsigned int nthreads, epoch;
	struct mthread *th;
	uint64_t seed;
};

struct mthread {
	struct mproc *p;
	uint64_t seed;
	int id;
	uint32_t gen;
	unsigned int n;
	struct mblk b[NBLK];
	uint64_t ops;
	struct buddy_op ops_buf[64];
};

#define MFAIL(t, ...) do {						\
	atomic_fetch_add(&sh->model_errors, 1);				\
	report(__VA_ARGS__);						\
} while (0)

static uint64_t model_size(uint64_t *s)
{
	unsigned int r = rndn(s, 100);

	if (r < 60)
		return 1 + rndn(s, 512);
	if (r < 85)
		return 513 + rndn(s, 8 * 1024);
	if (r < 97)
		return 8 * KiB + rndn(s, 120 * KiB);
	return 128 * KiB + rndn(s, 896 * KiB);
}

static bool model_verify(struct mthread *t, const struct mblk *b,
			 const char *when)
{
	int64_t bad = pat_check(t->p->base + b->off, b->size, b->seed);

	atomic_fetch_add_explicit(&sh->verified_blocks, 1, memory_order_relaxed);
	if (bad >= 0) {
		MFAIL(t, "model: block at %#" PRIx64 " (%" PRIu64
		      " bytes) corrupted at +%" PRId64 " %s",
		      b->off, b->size, bad, when);
		return false;
	}
	return true;
}

/* Checks on a fresh block; then give it its pattern. */
static void model_take(struct mthread *t, struct mblk *b, uint64_t off,
		       uint64_t usable, uint64_t size, uint64_t align,
		       bool zeroed)
{
	struct mproc *p = t->p;

	if (!block_ok(off, usable, p->window) || usable < size ||
	    (align && off % align)) {
		MFAIL(t, "model: bad block %#" PRIx64 " usable %" PRIu64
		      " for size %" PRIu64 " align %" PRIu64,
		      off, usable, size, align);
	}
	if (zeroed && !all_zero(p->base + off, size))
		MFAIL(t, "model: zeroed block %#" PRIx64 " is not zero", off);
	b->off = off;
	b->usable = usable;
	b->size = size;
	b->seed = (uint32_t)rnd(&t->seed) ^ ++t->gen;
	pat_fill(p->base + off, size, b->seed);
}

static void model_drop(struct mthread *t, unsigned int i)
{
	t->b[i] = t->b[--t->n];
}

static void model_alloc(struct mthread *t)
{
	uint64_t *s = &t->seed;
	struct mproc *p = t->p;
	uint64_t size = model_size(s), off, usable, align = 0;
	unsigned long cmd = BUDDY_IOC_MALLOC;
	uint64_t nmemb = 0;
	uint32_t flags = chance(s, 20) ? BUDDY_ALLOC_ZERO : 0;
	int ret;

	switch (rndn(s, 4)) {
	case 0:
		cmd = BUDDY_IOC_CALLOC;
		nmemb = 1 + rndn(s, 8);
		size = (size + nmemb - 1) / nmemb;
		break;
	case 1:
		cmd = BUDDY_IOC_MEMALIGN;
		align = 1ULL << rndn(s, 17);
		break;
	}
	ret = heap_alloc(p->fd, cmd, size, nmemb, align, flags, &off, &usable);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(cmd)], ret);
	if (ret == -ENOMEM)
		return;
	if (ret) {
		MFAIL(t, "model: alloc %" PRIu64 " failed: %s", size, errname(-ret));
		return;
	}
	if (nmemb)
		size *= nmemb;
	model_take(t, &t->b[t->n++], off, usable, size, align,
		   nmemb || flags);
}

static void model_free(struct mthread *t, unsigned int i)
{
	struct mblk *b = &t->b[i];
	uint32_t reason = 0;
	int ret;

	model_verify(t, b, "before FREE");
	ret = heap_free(t->p->fd, b->off, &reason);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(BUDDY_IOC_FREE)], ret);
	if (ret)
		MFAIL(t, "model: FREE %#" PRIx64 ": %s reason %u", b->off,
		      errname(-ret), reason);
	model_drop(t, i);
}

static void model_realloc(struct mthread *t, unsigned int i)
{
	uint64_t *s = &t->seed;
	struct mblk *b = &t->b[i];
	uint64_t size, noff, usable, keep;
	uint32_t flags = chance(s, 20) ? BUDDY_ALLOC_ZERO : 0;
	int ret;

	size = chance(s, 50) ? model_size(s) :
	       chance(s, 50) ? b->size * 2 + rndn(s, 16) : b->size / 2 + 1;
	model_verify(t, b, "before REALLOC");
	ret = heap_realloc(t->p->fd, b->off, size, flags, &noff, &usable);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(BUDDY_IOC_REALLOC)], ret);
	if (ret == -ENOMEM) {
		model_verify(t, b, "after a failed REALLOC");
		return;
	}
	if (ret) {
		MFAIL(t, "model: REALLOC %#" PRIx64 " to %" PRIu64 ": %s",
		      b->off, size, errname(-ret));
		return;
	}
	keep = b->size < size ? b->size : size;
	if (pat_check(t->p->base + noff, keep, b->seed) >= 0)
		MFAIL(t, "model: REALLOC %#" PRIx64 " -> %#" PRIx64
		      " lost the contents", b->off, noff);
	if ((flags & BUDDY_ALLOC_ZERO) && usable > b->usable &&
	    !all_zero(t->p->base + noff + b->usable, usable - b->usable))
		MFAIL(t, "model: REALLOC ZERO: the gained bytes are not zero");
	model_take(t, b, noff, usable, size, 0, false);
}

/* Checks that need no change of state. */
static void model_probe(struct mthread *t, unsigned int i)
{
	struct mblk *b = &t->b[i];
	uint64_t usable;
	uint32_t reason;
	int ret;

	if (chance(&t->seed, 50) || b->usable < 32) {
		ret = heap_usable(t->p->fd, b->off, &usable, NULL);
		count_res(&sh->all, ret);
		count_res(&sh->kind[_IOC_NR(BUDDY_IOC_USABLE_SIZE)], ret);
		if (ret || usable != b->usable)
			MFAIL(t, "model: USABLE_SIZE %#" PRIx64 ": %s, %" PRIu64
			      " (want %" PRIu64 ")", b->off, errname(-ret),
			      usable, b->usable);
		return;
	}
	/* an offset inside my own block is never a block start */
	ret = heap_free(t->p->fd, b->off + 16 * (1 + rndn(&t->seed,
							  b->usable / 16 - 1)),
			&reason);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(BUDDY_IOC_FREE)], ret);
	if (ret != -EINVAL || reason != BUDDY_REASON_NOT_BLOCK_START)
		MFAIL(t, "model: FREE inside a live block: %s reason %u",
		      errname(-ret), reason);
}

/* Several of the above in one BATCH. */
static void model_batch(struct mthread *t)
{
	uint64_t *s = &t->seed;
	struct mproc *p = t->p;
	struct buddy_op *ops = t->ops_buf;
	int idx[64];	/* block index per op, -1 for allocations */
	bool used[NBLK] = { false };
	struct buddy_batch bt;
	unsigned int n = 1 + rndn(s, 64), i, k, free_slots;
	int ret;

	free_slots = NBLK - t->n;
	memset(ops, 0, n * sizeof(*ops));
	for (i = 0; i < n; i++) {
		unsigned int r = rndn(s, 4);

		idx[i] = -1;
		if (r < 2 && free_slots) {
			free_slots--;
			if (chance(s, 50)) {
				ops[i].op = BUDDY_OP_MALLOC;
				ops[i].size = model_size(s);
				ops[i].flags = chance(s, 20) ? BUDDY_ALLOC_ZERO : 0;
			} else {
				ops[i].op = BUDDY_OP_MEMALIGN;
				ops[i].size = model_size(s);
				ops[i].arg = 1ULL << rndn(s, 14);
			}
			continue;
		}
		if (!t->n)
			break;
		k = rndn(s, t->n);
		if (used[k])
			break;
		used[k] = true;
		idx[i] = k;
		model_verify(t, &t->b[k], "before a BATCH");
		ops[i].offset = t->b[k].off;
		if (r == 2) {
			ops[i].op = BUDDY_OP_FREE;
		} else if (chance(s, 50)) {
			ops[i].op = BUDDY_OP_REALLOC;
			ops[i].size = model_size(s);
		} else {
			ops[i].op = BUDDY_OP_USABLE_SIZE;
		}
	}
	n = i;
	if (!n)
		return;
	memset(&bt, 0, sizeof(bt));
	bt.ops = (uintptr_t)ops;
	bt.count = n;
	bt.op_size = sizeof(*ops);
	ret = xioctl(p->fd, BUDDY_IOC_BATCH, &bt);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(BUDDY_IOC_BATCH)], ret);
	if (ret || bt.done != n) {
		MFAIL(t, "model: BATCH of %u: %s, done %u", n, errname(-ret),
		      bt.done);
		return;
	}
	/* apply: frees last so that block indices stay valid */
	for (i = 0; i < n; i++) {
		struct buddy_op *op = &ops[i];

		count_res(&sh->kind[KIND_BATCHOP], op->result);
		if (op->result == -ENOMEM &&
		    (op->op == BUDDY_OP_MALLOC || op->op == BUDDY_OP_MEMALIGN ||
		     op->op == BUDDY_OP_REALLOC))
			continue;
		if (op->result) {
			MFAIL(t, "model: BATCH op %u (%u): %s reason %u", i,
			      op->op, errname(-op->result), op->reason);
			continue;
		}
		switch (op->op) {
		case BUDDY_OP_MALLOC:
		case BUDDY_OP_MEMALIGN:
			model_take(t, &t->b[t->n++], op->offset, op->usable,
				   op->size, op->op == BUDDY_OP_MEMALIGN ?
				   op->arg : 0, op->flags);
			break;
		case BUDDY_OP_REALLOC: {
			struct mblk *b = &t->b[idx[i]];
			uint64_t keep = b->size < op->size ? b->size : op->size;

			if (pat_check(p->base + op->offset, keep, b->seed) >= 0)
				MFAIL(t, "model: BATCH REALLOC lost the contents");
			model_take(t, b, op->offset, op->usable, op->size, 0,
				   false);
			break;
		}
		case BUDDY_OP_USABLE_SIZE:
			if (op->usable != t->b[idx[i]].usable)
				MFAIL(t, "model: BATCH USABLE_SIZE %" PRIu64
				      " != %" PRIu64, (uint64_t)op->usable,
				      t->b[idx[i]].usable);
			break;
		}
	}
	/* now drop the freed blocks, highest index first */
	for (k = NBLK; k-- > 0;) {
		for (i = 0; i < n; i++)
			if (idx[i] == (int)k && ops[i].op == BUDDY_OP_FREE &&
			    !ops[i].result)
				break;
		if (i < n)
			model_drop(t, k);
	}
}

/* Zap the PTEs of a range of the window: the data must survive. */
static void model_zap(struct mthread *t)
{
	struct mproc *p = t->p;
	uint64_t pages = p->window / page_size;
	uint64_t first, n;

	if (t->n && chance(&t->seed, 70)) {
		struct mblk *b = &t->b[rndn(&t->seed, t->n)];

		first = b->off / page_size;
		n = (b->size + page_size - 1) / page_size;
	} else {
		first = rndn(&t->seed, pages);
		n = 1 + rndn(&t->seed, 256);
	}
	if (first + n > pages)
		n = pages - first;
	count_res(&sh->mm, madvise(p->base + first * page_size, n * page_size,
				   MADV_DONTNEED) ? -errno : 0);
	atomic_fetch_add(&sh->zaps, 1);
}

/* Map the window again over itself: no gap, faults come back. */
static void model_remap(struct mthread *t)
{
	struct mproc *p = t->p;
	void *q = mmap(p->base, p->window, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, p->fd, 0);

	count_res(&sh->mm, q == MAP_FAILED ? -errno : 0);
	if (q == MAP_FAILED)
		MFAIL(t, "model: remapping the window failed: %s",
		      strerror(errno));
	atomic_fetch_add(&sh->remaps, 1);
}

static void model_step(struct mthread *t)
{
	uint64_t *s = &t->seed;
	unsigned int r = rndn(s, 1000);

	t->ops++;
	if (!t->n || (r < 330 && t->n < NBLK)) {
		model_alloc(t);
	} else if (r < 580) {
		model_free(t, rndn(s, t->n));
	} else if (r < 730) {
		model_realloc(t, rndn(s, t->n));
	} else if (r < 830) {
		model_probe(t, rndn(s, t->n));
	} else if (r < 940) {
		model_batch(t);
	} else if (r < 970) {
		model_verify(t, &t->b[rndn(s, t->n)], "at random");
	} else if (r < 995) {
		model_zap(t);
	} else {
		model_remap(t);
	}
}

/* Thread 0 at a barrier: nobody else runs; compare STATS, maybe CLONE. */
static void model_epoch_check(struct mproc *p, uint64_t epoch)
{
	struct buddy_heap_stats st;
	uint64_t live = 0, bytes = 0;
	unsigned int i, k;
	int ret;

	for (i = 0; i < p->nthreads; i++)
		for (k = 0; k < p->th[i].n; k++) {
			live++;
			bytes += p->th[i].b[k].usable;
		}
	ret = heap_stats(p->fd, &st);
	count_res(&sh->all, ret);
	count_res(&sh->kind[_IOC_NR(BUDDY_IOC_STATS)], ret);
	atomic_fetch_add(&sh->stats_checks, 1);
	if (ret || st.live_blocks != live || st.bytes_in_use != bytes ||
	    st.heap_bytes > p->cap || st.bytes_in_use > st.heap_bytes)
		MFAIL(NULL, "model: STATS: %s live_blocks %" PRIu64 " (model %"
		      PRIu64 "), bytes_in_use %" PRIu64 " (model %" PRIu64
		      "), heap_bytes %" PRIu64, errname(-ret),
		      (uint64_t)st.live_blocks, live,
		      (uint64_t)st.bytes_in_use, bytes,
		      (uint64_t)st.heap_bytes);

	if (epoch % 4 == 1) {
		/* a copy of the heap holds every block with its contents */
		struct buddy_clone_args c;
		struct buddy_heap_stats cst;
		char *cbase;

		memset(&c, 0, sizeof(c));
		c.flags = O_CLOEXEC;
		ret = xioctl(p->fd, BUDDY_IOC_CLONE, &c);
		count_res(&sh->all, ret);
		count_res(&sh->kind[_IOC_NR(BUDDY_IOC_CLONE)], ret);
		if (ret == -ENOMEM)
			return;
		if (ret) {
			MFAIL(NULL, "model: CLONE: %s", errname(-ret));
			return;
		}
		cbase = mmap(NULL, p->window, PROT_READ, MAP_SHARED, c.fd, 0);
		if (cbase == MAP_FAILED) {
			MFAIL(NULL, "model: mmap of the clone: %s", strerror(errno));
			close(c.fd);
			return;
		}
		for (i = 0; i < p->nthreads; i++)
			for (k = 0; k < p->th[i].n; k++) {
				struct mblk *b = &p->th[i].b[k];

				if (pat_check(cbase + b->off, b->size, b->seed) >= 0)
					MFAIL(NULL, "model: the CLONE lacks block %#"
					      PRIx64, b->off);
			}
		ret = heap_stats(c.fd, &cst);
		if (ret || cst.live_blocks != live || cst.bytes_in_use != bytes)
			MFAIL(NULL, "model: the CLONE's STATS differ");
		munmap(cbase, p->window);
		close(c.fd);
		atomic_fetch_add(&sh->clone_checks, 1);
	}
}

static void model_free_all(struct mthread *t)
{
	while (t->n)
		model_free(t, t->n - 1);
}

/* Thread 0, all blocks freed: the heap is empty; swap in a fresh heap. */
static void model_reset(struct mproc *p)
{
	struct buddy_heap_stats st;
	int ret, fd;

	ret = heap_stats(p->fd, &st);
	if (ret || st.live_blocks || st.bytes_in_use)
		MFAIL(NULL, "model: heap not empty after freeing all: %" PRIu64
		      " blocks, %" PRIu64 " bytes", (uint64_t)st.live_blocks,
		      (uint64_t)st.bytes_in_use);
	fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		MFAIL(NULL, "model: reopen: %s", strerror(errno));
		return;
	}
	if (!map_window_at(fd, p->window, p->base)) {
		MFAIL(NULL, "model: map the new heap: %s", strerror(errno));
		close(fd);
		return;
	}
	close(p->fd);
	p->fd = fd;
	atomic_fetch_add(&sh->resets, 1);
}

static void *model_thread(void *arg)
{
	struct mthread *t = arg;
	struct mproc *p = t->p;
	uint64_t epoch = 0;
	unsigned int i;

	for (;;) {
		for (i = 0; i < p->epoch; i++)
			model_step(t);
		epoch++;
		/* every 8th epoch: everything freed, the heap replaced */
		if (epoch % 8 == 0)
			model_free_all(t);
		pthread_barrier_wait(&p->bar);
		if (t->id == 0) {
			if (epoch % 8 == 0)
				model_reset(p);
			model_epoch_check(p, epoch);
			atomic_fetch_add(&sh->epochs, 1);
			if (now_s() > p->deadline || t->ops >= p->ops_limit)
				atomic_store(&p->stop, true);
		}
		pthread_barrier_wait(&p->bar);
		if (atomic_load(&p->stop))
			break;
	}
	model_free_all(t);
	return NULL;
}

int model_proc(const struct opts *o, int idx)
{
	struct mproc p;
	struct buddy_info info;
	struct buddy_heap_stats st;
	pthread_t *tid;
	int i;

	memset(&p, 0, sizeof(p));
	p.fd = open_heap();
	info = get_info(p.fd);
	p.window = info.window_bytes;
	p.cap = info.cap_bytes;
	p.base = map_window_at(p.fd, p.window, NULL);
	if (!p.base)
		BAIL_ERRNO("map window");
	p.nthreads = o->threads;
	p.epoch = o->epoch;
	p.deadline = now_s() + o->seconds;
	p.ops_limit = o->ops;
	p.th = calloc(o->threads, sizeof(*p.th));
	tid = calloc(o->threads, sizeof(*tid));
	if (!p.th || !tid)
		BAIL_ERRNO("calloc");
	pthread_barrier_init(&p.bar, NULL, o->threads);
	for (i = 0; i < o->threads; i++) {
		p.th[i].p = &p;
		p.th[i].id = i;
		p.th[i].seed = o->seed * 1000003 + idx * 1009 + i * 7 + 1;
	}
	for (i = 0; i < o->threads; i++)
		if (pthread_create(&tid[i], NULL, model_thread, &p.th[i]))
			BAIL_ERRNO("pthread_create");
	for (i = 0; i < o->threads; i++)
		pthread_join(tid[i], NULL);
	if (heap_stats(p.fd, &st) || st.live_blocks || st.bytes_in_use)
		MFAIL(NULL, "model: heap not empty at the end: %" PRIu64
		      " blocks", (uint64_t)st.live_blocks);
	munmap(p.base, p.window);
	close(p.fd);
	free(tid);
	free(p.th);
	return 0;
}
