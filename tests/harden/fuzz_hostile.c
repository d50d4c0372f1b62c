// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_hostile.c - buddy_fuzz hostile: P processes x T threads issue
 * random ioctls with hostile arguments (bad commands and sizes, boundary
 * values, bad pointers, offsets in and between blocks, BATCH and CLONE
 * abuse) while other threads remap, unmap, mprotect and touch the
 * windows, reopen the heaps, fork, read debugfs, pin window pages in
 * pipes and pass heaps in SCM_RIGHTS messages.  Every result must be one
 * the ABI allows and well formed (see buddy_fuzz.c for the whole story).
 */
#include "buddy_fuzz.h"

/* CPU time of this thread (user + kernel), for the cost accounting. */
static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#define NSLOTS		2	/* heaps per process */
#define POOL		4096	/* offsets seen, shared by a process's threads */

struct slot {
	_Atomic int fd;
	char *base;		/* the window's address: always ours */
	char *spare;		/* a reserved area for mremap moves */
	uint64_t window;
	pthread_mutex_t lock;	/* serialises reopen */
};

struct hproc {
	struct slot slot[NSLOTS];
	uint64_t cap;
	_Atomic uint64_t pool[POOL];
	_Atomic int clone_busy;	/* one CLONE in flight per process */
	pthread_mutex_t park_lock;
	int park[2];		/* heap fds in flight in SCM_RIGHTS messages */
	int parked;
	_Atomic bool stop;
	_Atomic uint64_t calls;	/* ioctls issued by this process */
	uint64_t calls_limit;
	double deadline;
};

struct hthread {
	struct hproc *p;
	uint64_t seed;
	int id;
	char *buf;		/* 2 pages RW, then a PROT_NONE page */
	char *ro;		/* 1 page read-only */
	char *hole;		/* a PROT_NONE page */
	struct buddy_op *ops;	/* BUDDY_BATCH_MAX + 1 ops, then PROT_NONE */
	char *opsend;
	int pipe[2];
	bool sample;		/* measure this action's CPU time */
};

/* Values at and around the edges of every field. */
static uint64_t boundary(uint64_t *s, uint64_t window, uint64_t cap)
{
	unsigned int k;

	switch (rndn(s, 14)) {
	case 0:	return 0;
	case 1:	return 1;
	case 2:	return rndn(s, 64);
	case 3:
		k = rndn(s, 64);
		return (1ULL << k) + rndn(s, 3) - 1;	/* 2^k - 1, 2^k, 2^k + 1 */
	case 4:	return ~0ULL - rndn(s, 4);
	case 5:	return window + rndn(s, 3) - 1;
	case 6:	return cap + rndn(s, 3) - 1;
	case 7:	return 1ULL << 63;
	case 8:	return rnd(s);
	case 9:	return 0x7fffffffULL + rndn(s, 3) - 1;
	case 10: return 0xffffffffULL + rndn(s, 3) - 1;
	case 11: return window - 16 * (1 + rndn(s, 4));
	case 12: return ~0ULL / 16 + rndn(s, 3) - 1;	/* size * 16 overflows */
	default: return (2 * window) + rndn(s, 3) - 1;
	}
}

/*
 * Sizes: mostly small.  Big ones (a new chunk: vmalloc, zeroing, and the
 * heap's lock held all along) are a few percent, so that the fuzzer
 * spends its time on many calls rather than on memset.
 */
static uint64_t gen_size(uint64_t *s, uint64_t window, uint64_t cap)
{
	uint64_t v;

	switch (rndn(s, 100)) {
	case 0 ... 59:
		return 1 + rndn(s, 1 << (4 + rndn(s, 9)));	/* up to 4 KiB */
	case 60 ... 74:
		return 1 + rndn(s, 64 * KiB);
	case 75 ... 77:
		return 1 + rndn(s, 1 * MiB);
	case 78 ... 79:
		return 0;
	default:
		/* past-the-cap and overflowing sizes fail fast; keep a few
		 * of the big ones that fit */
		v = boundary(s, window, cap);
		if (v >= 64 * KiB && v <= cap && !chance(s, 5))
			v = 1 + rndn(s, 4096);
		return v;
	}
}

/* Alignments: powers of two, mostly small (a big one needs a big block). */
static uint64_t gen_align(uint64_t *s, uint64_t window, uint64_t cap)
{
	switch (rndn(s, 20)) {
	case 0:
		return boundary(s, window, cap);
	case 1:
		return 1ULL << rndn(s, 64);
	case 2:
		return 1ULL << (12 + rndn(s, 12));
	default:
		return 1ULL << rndn(s, 13);
	}
}

static uint64_t pool_pick(struct hproc *p, uint64_t *s)
{
	return atomic_load_explicit(&p->pool[rndn(s, POOL)],
				    memory_order_relaxed);
}

static void pool_add(struct hproc *p, uint64_t *s, uint64_t off)
{
	atomic_store_explicit(&p->pool[rndn(s, POOL)], off,
			      memory_order_relaxed);
}

static uint64_t gen_offset(struct hproc *p, uint64_t *s, uint64_t window)
{
	uint64_t o = pool_pick(p, s);

	switch (rndn(s, 10)) {
	case 0: case 1: case 2: case 3:
		return o;				/* live, freed, or another heap's */
	case 4:
		return o + 16 * (1 + rndn(s, 64));	/* inside or between */
	case 5:
		return o + 1 + rndn(s, 15);		/* misaligned */
	case 6:
		return o - 16 * (1 + rndn(s, 4));
	case 7:
		return rndn(s, window) & ~15ULL;
	default:
		return boundary(s, window, p->cap);
	}
}

static uint32_t gen_flags(uint64_t *s)
{
	switch (rndn(s, 10)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		return 0;
	case 7: case 8:
		return BUDDY_ALLOC_ZERO;
	default:
		return (uint32_t)rnd(s);
	}
}

/* Mostly 0 (valid); otherwise a boundary value. */
static uint64_t gen_zero(uint64_t *s, unsigned int pct_bad, uint64_t window,
			 uint64_t cap)
{
	return chance(s, pct_bad) ? boundary(s, window, cap) : 0;
}

static void gen_op(struct hthread *t, struct buddy_op *op, uint64_t window)
{
	uint64_t *s = &t->seed;
	struct hproc *p = t->p;

	memset(op, 0, sizeof(*op));
	op->op = chance(s, 92) ? 1 + rndn(s, 6) :
		 (uint32_t)boundary(s, window, p->cap);
	op->flags = gen_flags(s);
	if (op->op == BUDDY_OP_FREE || op->op == BUDDY_OP_USABLE_SIZE)
		op->flags = chance(s, 90) ? 0 : op->flags;
	switch (op->op) {
	case BUDDY_OP_FREE:
	case BUDDY_OP_USABLE_SIZE:
		op->offset = gen_offset(p, s, window);
		op->size = gen_zero(s, 5, window, p->cap);
		break;
	case BUDDY_OP_REALLOC:
		op->offset = gen_offset(p, s, window);
		op->size = gen_size(s, window, p->cap);
		break;
	case BUDDY_OP_CALLOC:
		op->size = gen_size(s, window, p->cap);
		op->arg = chance(s, 80) ? 1 + rndn(s, 4) :
			  boundary(s, window, p->cap);
		break;
	case BUDDY_OP_MEMALIGN:
		op->size = gen_size(s, window, p->cap);
		op->arg = gen_align(s, window, p->cap);
		break;
	default:
		op->size = gen_size(s, window, p->cap);
		op->arg = gen_zero(s, 5, window, p->cap);
		op->offset = gen_zero(s, 5, window, p->cap);
		break;
	}
	if (chance(s, 5))
		op->reason = (uint32_t)rnd(s);
	op->usable = chance(s, 50) ? rnd(s) : 0;
	op->result = (int32_t)rnd(s);
}

/* Fill the argument struct of a valid command with hostile values. */
static void gen_args(struct hthread *t, unsigned int nr, void *arg,
		     uint64_t window, bool *batch_ok)
{
	uint64_t *s = &t->seed;
	struct hproc *p = t->p;

	switch (nr) {
	case _IOC_NR(BUDDY_IOC_INFO): {
		struct buddy_info *i = arg;

		memset(i, 0, sizeof(*i));
		if (chance(s, 20))
			i->window_bytes = rnd(s);
		i->reserved[rndn(s, 2)] = gen_zero(s, 10, window, p->cap);
		break;
	}
	case _IOC_NR(BUDDY_IOC_MALLOC):
	case _IOC_NR(BUDDY_IOC_CALLOC):
	case _IOC_NR(BUDDY_IOC_MEMALIGN): {
		struct buddy_alloc_args *a = arg;

		a->size = gen_size(s, window, p->cap);
		a->nmemb = gen_zero(s, 10, window, p->cap);
		a->align = gen_zero(s, 10, window, p->cap);
		if (nr == _IOC_NR(BUDDY_IOC_CALLOC))
			a->nmemb = chance(s, 80) ? 1 + rndn(s, 4) :
				   boundary(s, window, p->cap);
		if (nr == _IOC_NR(BUDDY_IOC_MEMALIGN))
			a->align = gen_align(s, window, p->cap);
		a->flags = gen_flags(s);
		a->reserved = (uint32_t)gen_zero(s, 10, window, p->cap);
		a->offset = chance(s, 50) ? rnd(s) : 0;
		a->usable = chance(s, 50) ? rnd(s) : 0;
		break;
	}
	case _IOC_NR(BUDDY_IOC_FREE):
	case _IOC_NR(BUDDY_IOC_REALLOC):
	case _IOC_NR(BUDDY_IOC_USABLE_SIZE): {
		struct buddy_block_args *b = arg;

		b->offset = gen_offset(p, s, window);
		b->size = nr == _IOC_NR(BUDDY_IOC_REALLOC) ?
			  gen_size(s, window, p->cap) :
			  gen_zero(s, 10, window, p->cap);
		b->flags = nr == _IOC_NR(BUDDY_IOC_REALLOC) || chance(s, 10) ?
			   gen_flags(s) : 0;
		b->reason = (uint32_t)gen_zero(s, 5, window, p->cap);
		b->new_offset = chance(s, 50) ? rnd(s) : 0;
		b->usable = chance(s, 50) ? rnd(s) : 0;
		break;
	}
	case _IOC_NR(BUDDY_IOC_STATS): {
		struct buddy_heap_stats *st = arg;

		if (chance(s, 50))
			memset(st, 0, sizeof(*st));
		st->flags = (uint32_t)gen_zero(s, 10, window, p->cap);
		st->reserved = (uint32_t)gen_zero(s, 10, window, p->cap);
		break;
	}
	case _IOC_NR(BUDDY_IOC_BATCH): {
		struct buddy_batch *b = arg;
		unsigned int i, n;

		switch (rndn(s, 100)) {
		case 0:	n = BUDDY_BATCH_MAX; break;
		case 1:	n = BUDDY_BATCH_MAX + 1; break;
		case 2 ... 4: n = (uint32_t)boundary(s, window, p->cap); break;
		case 5 ... 9: n = 0; break;
		case 10 ... 19: n = 1 + rndn(s, 64); break;
		default: n = 1 + rndn(s, 8); break;
		}
		b->count = n;
		b->op_size = chance(s, 88) ? sizeof(struct buddy_op) :
			     (uint32_t)(chance(s, 50) ?
					sizeof(struct buddy_op) + rndn(s, 17) - 8 :
					boundary(s, window, p->cap));
		b->flags = chance(s, 70) ? 0 : chance(s, 70) ?
			   BUDDY_BATCH_STOP_ON_ERROR : (uint32_t)rnd(s);
		b->reserved = gen_zero(s, 5, window, p->cap);
		b->done = (uint32_t)rnd(s);
		/* the ops themselves: in our array or somewhere hostile */
		n = n > BUDDY_BATCH_MAX ? BUDDY_BATCH_MAX : n;
		for (i = 0; i < n; i++)
			gen_op(t, &t->ops[i], window);
		*batch_ok = false;
		switch (rndn(s, 20)) {
		case 0:	b->ops = 0; break;
		case 1:	b->ops = (uintptr_t)t->hole; break;
		case 2:	b->ops = 0xffff888000000000ULL; break;
		case 3:	b->ops = (uintptr_t)t->ro; break;
		case 4:	/* runs into the guard page */
			b->ops = (uintptr_t)(t->opsend -
					     rndn(s, n + 1) * sizeof(struct buddy_op) -
					     rndn(s, 48));
			break;
		case 5: {
			struct slot *sl = &p->slot[rndn(s, NSLOTS)];

			b->ops = (uintptr_t)(sl->base +
					     (rndn(s, sl->window - 64 * KiB) & ~7ULL));
			break;
		}
		default:
			b->ops = (uintptr_t)t->ops;
			/* results at another stride are not checked */
			*batch_ok = b->op_size == sizeof(struct buddy_op);
			break;
		}
		break;
	}
	case _IOC_NR(BUDDY_IOC_CLONE): {
		struct buddy_clone_args *c = arg;

		c->flags = chance(s, 45) ? 0 : chance(s, 80) ? O_CLOEXEC :
			   (uint32_t)boundary(s, window, p->cap);
		c->fd = (int32_t)rnd(s);
		c->reserved = gen_zero(s, 5, window, p->cap);
		break;
	}
	}
}

static const unsigned long valid_cmds[] = {
	BUDDY_IOC_INFO, BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC, BUDDY_IOC_MEMALIGN,
	BUDDY_IOC_FREE, BUDDY_IOC_REALLOC, BUDDY_IOC_USABLE_SIZE,
	BUDDY_IOC_STATS, BUDDY_IOC_BATCH, BUDDY_IOC_CLONE,
};

static const unsigned long generic_cmds[] = {
	FIONREAD, FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, 0x2 /* FIGETBSZ */,
	0x80086601 /* FS_IOC_GETFLAGS */, 0x40086602 /* FS_IOC_SETFLAGS */,
	0x1 /* FIBMAP */,
};

/* Smallest _IOC_SIZE a command accepts: the end of its last output. */
static unsigned int min_ioc_size(unsigned int nr)
{
	switch (nr) {
	case _IOC_NR(BUDDY_IOC_INFO):
		return offsetof(struct buddy_info, reserved);
	case _IOC_NR(BUDDY_IOC_FREE):
		return offsetof(struct buddy_block_args, new_offset);
	case _IOC_NR(BUDDY_IOC_BATCH):
		return offsetof(struct buddy_batch, reserved);
	case _IOC_NR(BUDDY_IOC_CLONE):
		return offsetof(struct buddy_clone_args, reserved);
	}
	return _IOC_SIZE(valid_cmds[nr]);
}

static void violation(struct hthread *t, const char *what, unsigned long cmd,
		      int ret)
{
	atomic_fetch_add(&sh->violations, 1);
	report("hostile: %s (cmd %#lx, ret %d %s)", what, cmd, ret,
	       errname(-ret));
	(void)t;
}

/* Errors an ioctl on /dev/buddy may return to a hostile caller. */
static bool allowed_errno(int ret)
{
	switch (-ret) {
	case 0: case EINVAL: case ENOMEM: case EFAULT: case ENOTTY: case E2BIG:
	case EBADF:	/* another thread closed the fd */
	case EMFILE:	/* CLONE: no fd left */
		return true;
	}
	return false;
}

/* One random ioctl. */
static void hostile_ioctl(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct hproc *p = t->p;
	struct slot *sl = &p->slot[rndn(s, NSLOTS)];
	unsigned long cmd;
	unsigned int nr = 0, kind, size = 0;
	bool exact = false, batch_ok = false, clone_held = false;
	bool valid_ptr = false;
	int fd = atomic_load(&sl->fd), ret;
	void *arg;
	uint64_t window = sl->window;
	unsigned int r = rndn(s, 100);

	/* the command */
	if (r < 60) {
		nr = rndn(s, ARRAY_SIZE(valid_cmds));
		/* copies are slow, BATCH and STATS slower than the rest */
		if ((nr == _IOC_NR(BUDDY_IOC_CLONE) && rndn(s, 100) >= 1) ||
		    ((nr == _IOC_NR(BUDDY_IOC_BATCH) ||
		      nr == _IOC_NR(BUDDY_IOC_STATS)) && chance(s, 40)))
			nr = rndn(s, _IOC_NR(BUDDY_IOC_STATS));
		cmd = valid_cmds[nr];
		kind = nr;
		exact = true;
		size = _IOC_SIZE(cmd);
		if (r >= 52) {
			/* the right command with the wrong size */
			static const int deltas[] = { -8, -4, -1, 1, 4, 8, 64 };

			switch (rndn(s, 5)) {
			case 0:
				size = rndn(s, _IOC_SIZEMASK + 1);
				break;
			case 1:
				size = rndn(s, 16);
				break;
			case 2:
				/* anything from 0 to 64 bytes past the struct */
				size = rndn(s, size + 65);
				break;
			default:
				size += deltas[rndn(s, ARRAY_SIZE(deltas))];
				break;
			}
			size &= _IOC_SIZEMASK;
			cmd = ioc_resize(cmd, size);
			exact = size == _IOC_SIZE(valid_cmds[nr]);
		}
	} else if (r < 66) {
		/* wrong direction */
		static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE };
		unsigned long c = valid_cmds[rndn(s, ARRAY_SIZE(valid_cmds))];

		cmd = _IOC(dirs[rndn(s, 3)], _IOC_TYPE(c), _IOC_NR(c), _IOC_SIZE(c));
		kind = KIND_BADCMD;
	} else if (r < 72) {
		/* another type */
		unsigned long c = valid_cmds[rndn(s, ARRAY_SIZE(valid_cmds))];
		unsigned int type = rndn(s, 256);

		if (type == BUDDY_IOC_MAGIC)
			type++;
		cmd = _IOC(_IOC_READ | _IOC_WRITE, type, _IOC_NR(c), _IOC_SIZE(c));
		kind = KIND_BADCMD;
	} else if (r < 82) {
		/* numbers past the last command */
		cmd = _IOWR(BUDDY_IOC_MAGIC, 10 + rndn(s, 246),
			    struct buddy_alloc_args);
		if (chance(s, 30))
			cmd = ioc_resize(cmd, rndn(s, _IOC_SIZEMASK + 1));
		kind = KIND_BADCMD;
	} else if (r < 90) {
		cmd = (uint32_t)rnd(s);
		kind = KIND_BADCMD;
	} else {
		cmd = generic_cmds[rndn(s, ARRAY_SIZE(generic_cmds))];
		kind = KIND_GENERIC;
	}

	if (kind < KIND_BATCHOP) {
		gen_args(t, nr, t->buf, window, &batch_ok);
		if (nr == _IOC_NR(BUDDY_IOC_CLONE)) {
			int busy = 0;

			if (!atomic_compare_exchange_strong(&p->clone_busy, &busy, 1)) {
				/* one copy of a heap at a time: INFO instead */
				nr = _IOC_NR(BUDDY_IOC_INFO);
				cmd = BUDDY_IOC_INFO;
				kind = nr;
				size = _IOC_SIZE(cmd);
				exact = true;
				memset(t->buf, 0, sizeof(struct buddy_info));
			} else {
				clone_held = true;
			}
		}
	} else {
		memset(t->buf, 0, 64);
		if (chance(s, 50))
			*(uint64_t *)t->buf = rnd(s);
	}

	/* the argument pointer */
	switch (rndn(s, 40)) {
	case 0:	arg = NULL; break;
	case 1:	arg = t->hole; break;
	case 2:	arg = (void *)0xffff888000000000ULL; break;
	case 3:	arg = (void *)(0xffffffff81000000ULL + rndn(s, 1 << 20)); break;
	case 4:	arg = (void *)0x0000800000000000ULL; break;	/* non-canonical */
	case 5:	arg = (void *)(~0UL - rndn(s, 64)); break;
	case 6:	/* a copy in read-only memory: read fine, write-back fails */
		if (kind < KIND_BATCHOP) {
			mprotect(t->ro, page_size, PROT_READ | PROT_WRITE);
			memcpy(t->ro, t->buf, page_size);
			mprotect(t->ro, page_size, PROT_READ);
		}
		arg = t->ro;
		break;
	case 7:	/* the struct runs 1 to size - 1 bytes into an unmapped page */
		arg = t->buf + 2 * page_size -
		      (size > 1 && size < page_size ? 1 + rndn(s, size - 1) : 1);
		if (kind < KIND_BATCHOP)
			memmove(arg, t->buf, t->buf + 2 * page_size - (char *)arg);
		break;
	case 8: /* inside a window: faults through the heap's own handler */
		if (nr == _IOC_NR(BUDDY_IOC_CLONE) && kind < KIND_BATCHOP) {
			arg = t->buf;	/* its fd must come back */
			valid_ptr = true;
			break;
		}
		/* whole: the write-back stays inside the window */
		arg = p->slot[rndn(s, NSLOTS)].base +
		      (rndn(s, window - 2 * page_size) & ~7ULL);
		break;
	default:
		arg = t->buf;
		valid_ptr = true;
		break;
	}

	if (t->sample) {
		double t0 = cpu_s();

		ret = xioctl(fd, cmd, arg);
		atomic_fetch_add_explicit(&sh->kind_ns[kind],
					  (uint64_t)((cpu_s() - t0) * 1e9),
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->kind_sampled[kind], 1,
					  memory_order_relaxed);
	} else {
		ret = xioctl(fd, cmd, arg);
	}
	atomic_fetch_add_explicit(&p->calls, 1, memory_order_relaxed);
	count_res(&sh->all, ret);
	count_res(&sh->kind[kind], ret);

	if (kind < KIND_BATCHOP && !allowed_errno(ret))
		violation(t, "error the ABI does not allow", cmd, ret);
	if (kind < KIND_BATCHOP && ret != -EINVAL && ret != -EBADF &&
	    size < min_ioc_size(nr))
		violation(t, "a size below the command's outputs not refused "
			  "with EINVAL", cmd, ret);
	if (kind == KIND_BADCMD && ret != -ENOTTY && ret != -EBADF &&
	    !(_IOC_TYPE(cmd) == BUDDY_IOC_MAGIC && _IOC_NR(cmd) < 10 &&
	      _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE)))
		violation(t, "unknown command not refused with ENOTTY", cmd, ret);

	if (clone_held) {
		if (!ret && valid_ptr) {
			int nfd = ((struct buddy_clone_args *)arg)->fd;

			if (nfd < 0) {
				violation(t, "CLONE succeeded with a negative fd", cmd, ret);
			} else if (chance(s, 20)) {
				/* the clone replaces a heap (a racing dup2) */
				struct slot *d = &p->slot[rndn(s, NSLOTS)];

				pthread_mutex_lock(&d->lock);
				count_res(&sh->misc, dup2(nfd, atomic_load(&d->fd)) < 0 ? -errno : 0);
				pthread_mutex_unlock(&d->lock);
				close(nfd);
			} else {
				count_res(&sh->misc, close(nfd) ? -errno : 0);
			}
		} else if (!ret) {
			violation(t, "CLONE succeeded through an unusable pointer", cmd, ret);
		}
		atomic_store(&p->clone_busy, 0);
	}

	if (ret || !valid_ptr || !exact || kind >= KIND_BATCHOP)
		return;

	/* successful, well-formed request: the results must be too */
	switch (nr) {
	case _IOC_NR(BUDDY_IOC_MALLOC):
	case _IOC_NR(BUDDY_IOC_CALLOC):
	case _IOC_NR(BUDDY_IOC_MEMALIGN): {
		struct buddy_alloc_args *a = arg;

		if (!block_ok(a->offset, a->usable, window))
			violation(t, "malformed allocation result", cmd, ret);
		pool_add(p, s, a->offset);
		break;
	}
	case _IOC_NR(BUDDY_IOC_REALLOC): {
		struct buddy_block_args *b = arg;

		if (!block_ok(b->new_offset, b->usable, window))
			violation(t, "malformed REALLOC result", cmd, ret);
		pool_add(p, s, b->new_offset);
		break;
	}
	case _IOC_NR(BUDDY_IOC_USABLE_SIZE): {
		struct buddy_block_args *b = arg;

		if (!block_ok(b->offset, b->usable, window))
			violation(t, "malformed USABLE_SIZE result", cmd, ret);
		break;
	}
	case _IOC_NR(BUDDY_IOC_BATCH): {
		struct buddy_batch *b = arg;
		unsigned int i;

		if (!batch_ok)
			break;
		if (b->done > b->count)
			violation(t, "BATCH done > count", cmd, ret);
		for (i = 0; i < b->done && i < BUDDY_BATCH_MAX; i++) {
			struct buddy_op *op = &t->ops[i];

			count_res(&sh->kind[KIND_BATCHOP], op->result);
			if (!allowed_errno(op->result) || op->result == -EFAULT ||
			    op->result == -ENOTTY)
				violation(t, "BATCH op result the ABI does not allow",
					  cmd, op->result);
			if (op->result)
				continue;
			if (op->op != BUDDY_OP_FREE &&
			    !block_ok(op->offset, op->usable, window))
				violation(t, "malformed BATCH op result", cmd, 0);
			if (op->op != BUDDY_OP_FREE &&
			    op->op != BUDDY_OP_USABLE_SIZE)
				pool_add(p, s, op->offset);
		}
		break;
	}
	case _IOC_NR(BUDDY_IOC_INFO): {
		struct buddy_info *i = arg;

		if (i->window_bytes != window || i->abi_version != BUDDY_ABI_VERSION)
			violation(t, "INFO changed", cmd, ret);
		break;
	}
	}
}

/* Read or write a byte somewhere in a window (maybe unmapped, maybe not). */
static void hostile_touch(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	uint64_t off = chance(s, 60) ? pool_pick(t->p, s) + rndn(s, 64) :
		       rndn(s, sl->window);
	int sig;

	if (off >= sl->window)
		off %= sl->window;
	sig = guarded_touch(sl->base + off, chance(s, 50), (char)rnd(s));
	atomic_fetch_add_explicit(&sh->touch.res[sig ? RES_SIGNAL : 0], 1,
				  memory_order_relaxed);
}

static void count_mm(int ret)
{
	count_res(&sh->mm, ret ? -errno : 0);
}

/* Re-reserve [p, p + len) as ours (PROT_NONE) after an munmap. */
static void reserve(void *p, size_t len)
{
	if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
		 MAP_NORESERVE, -1, 0) == MAP_FAILED)
		abort();	/* the window would no longer be ours */
}

/* Change the window's mapping under the other threads' feet. */
static void hostile_mm(struct hthread *t)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT,
		MADV_RANDOM, MADV_SEQUENTIAL, MADV_DONTFORK, MADV_DOFORK,
		MADV_DONTDUMP, MADV_DODUMP, MADV_POPULATE_READ,
		MADV_POPULATE_WRITE, MADV_REMOVE, MADV_FREE, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_NORMAL, MADV_HWPOISON + 1000,
	};
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC, PROT_WRITE,
	};
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	uint64_t pages = sl->window / page_size;
	uint64_t first = rndn(s, pages), n = 1 + rndn(s, pages - first);
	char *a = sl->base + first * page_size;
	size_t len = n * page_size;
	int fd = atomic_load(&sl->fd);
	void *q;

	if (chance(s, 95) && n > 64) {
		n = 1 + rndn(s, 64);
		len = n * page_size;
	}
	switch (rndn(s, 12)) {
	case 0:	/* map the whole window again */
		q = mmap(sl->base, sl->window, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		count_mm(q == MAP_FAILED);
		if (q == MAP_FAILED)
			reserve(sl->base, sl->window);
		break;
	case 1:	/* a piece of the window at the wrong place, offset 0 */
		q = mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 fd, 0);
		count_mm(q == MAP_FAILED);
		if (q == MAP_FAILED)
			reserve(a, len);
		break;
	case 2:	/* unmap it all */
		reserve(sl->base, sl->window);
		count_mm(0);
		break;
	case 3:	/* munmap a piece */
		count_mm(munmap(a, len));
		reserve(a, len);
		break;
	case 4:
		count_mm(mprotect(a, len, prots[rndn(s, ARRAY_SIZE(prots))]));
		break;
	case 5: case 6:
		count_mm(madvise(a, len, advice[rndn(s, ARRAY_SIZE(advice))]));
		break;
	case 7:	/* shrink, then try to grow back (VM_DONTEXPAND) */
		q = mremap(sl->base, sl->window, sl->window / 2, 0);
		count_mm(q == MAP_FAILED);
		q = mremap(sl->base, sl->window / 2, sl->window, 0);
		count_mm(q == MAP_FAILED);
		if (q == MAP_FAILED)
			reserve(sl->base + sl->window / 2, sl->window / 2);
		break;
	case 8:	/* move a piece away and back */
		q = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   sl->spare + first * page_size);
		count_mm(q == MAP_FAILED);
		if (q != MAP_FAILED) {
			reserve(a, len);
			q = mremap(sl->spare + first * page_size, len, len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, a);
			count_mm(q == MAP_FAILED);
			/* moved back or not, the spare slot is reserved again */
			reserve(sl->spare + first * page_size, len);
		}
		break;
	case 9:
		count_mm(msync(a, len, chance(s, 50) ? MS_SYNC | MS_INVALIDATE :
			       MS_ASYNC));
		break;
	case 10: {
		unsigned char vec[64];

		count_mm(mincore(a, n > 64 ? 64 * page_size : len, vec));
		break;
	}
	default:
		count_mm(chance(s, 50) ? mlock(a, len) : munlock(a, len));
		break;
	}
}

/* Close a heap and open another in its place, under the others' feet. */
static void hostile_reopen(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	int nfd, old;

	pthread_mutex_lock(&sl->lock);
	nfd = open(DEV, O_RDWR | O_CLOEXEC);
	count_res(&sh->misc, nfd < 0 ? -errno : 0);
	if (nfd >= 0) {
		old = atomic_exchange(&sl->fd, nfd);
		if (chance(s, 70)) {
			void *q = mmap(sl->base, sl->window, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, nfd, 0);

			count_mm(q == MAP_FAILED);
			if (q == MAP_FAILED)
				reserve(sl->base, sl->window);
		}
		count_res(&sh->misc, close(old) ? -errno : 0);
	}
	pthread_mutex_unlock(&sl->lock);
}

/* A child shares the mapping (MAP_SHARED), pokes it and the fd, exits. */
static void hostile_fork(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	pid_t pid;
	int status;

	pid = fork();
	count_res(&sh->misc, pid < 0 ? -errno : 0);
	if (pid < 0)
		return;
	if (!pid) {
		struct buddy_alloc_args a = { .size = 1 + rndn(s, 100000) };
		int i, fd = atomic_load(&sl->fd);

		for (i = 0; i < 8; i++)
			guarded_touch(sl->base + (rndn(s, sl->window) & ~15ULL),
				      true, 1);
		if (!ioctl(fd, BUDDY_IOC_MALLOC, &a))
			guarded_touch(sl->base + a.offset, true, 1);
		if (chance(s, 50))
			kill(getpid(), SIGKILL);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
		atomic_fetch_add(&sh->violations, 1);
		report("hostile: forked child ended with status %#x", status);
	}
}

/* Read a debugfs file of one of our heaps, maybe into the window. */
static void hostile_debugfs(struct hthread *t)
{
	static const char *const files[] = {
		"buddyinfo", "stats", "unusable_index", "extfrag_index", "map",
	};
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	struct buddy_info info;
	char path[128];
	int fd, n;

	memset(&info, 0, sizeof(info));
	if (xioctl(atomic_load(&sl->fd), BUDDY_IOC_INFO, &info))
		return;
	snprintf(path, sizeof(path), DEBUGFS "/%d-%" PRIu64 "/%s", getpid(),
		 (uint64_t)info.heap_id, files[rndn(s, ARRAY_SIZE(files))]);
	fd = open(path, O_RDONLY);
	count_res(&sh->misc, fd < 0 ? -errno : 0);	/* ENOENT: reopened meanwhile */
	if (fd < 0)
		return;
	if (chance(s, 30)) {
		/* read into the window (which may be gone) */
		n = read(fd, sl->base + (rndn(s, sl->window) & ~4095ULL), 4096);
	} else {
		n = read(fd, t->buf, 2 * page_size);
	}
	count_res(&sh->misc, n < 0 ? -errno : 0);
	close(fd);
}

/* Pin window pages in a pipe, copy through the window, process_vm_*v. */
static void hostile_pipes(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct slot *sl = &t->p->slot[rndn(s, NSLOTS)];
	uint64_t off = chance(s, 60) ? pool_pick(t->p, s) & ~4095ULL :
		       rndn(s, sl->window) & ~4095ULL;
	size_t len = page_size * (1 + rndn(s, 8));
	struct iovec local, remote;
	ssize_t n;

	if (off >= sl->window)
		off %= sl->window;
	if (off + len > sl->window)
		len = sl->window - off;
	remote.iov_base = sl->base + off;
	remote.iov_len = len;
	switch (rndn(s, 5)) {
	case 0:
		n = vmsplice(t->pipe[1], &remote, 1, SPLICE_F_NONBLOCK);
		break;
	case 1:
		n = write(t->pipe[1], sl->base + off, len);
		break;
	case 2:
		n = read(t->pipe[0], sl->base + off, len);
		break;
	case 3:
		local.iov_base = t->buf;
		local.iov_len = len > 2 * (size_t)page_size ? 2 * page_size : len;
		remote.iov_len = local.iov_len;
		n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		break;
	default:
		local.iov_base = t->buf;
		local.iov_len = len > 2 * (size_t)page_size ? 2 * page_size : len;
		remote.iov_len = local.iov_len;
		n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
		break;
	}
	count_res(&sh->misc, n < 0 ? -errno : 0);
	if (chance(s, 50)) {
		/* drain (the pipe holds page references until read) */
		while (read(t->pipe[0], t->buf, 2 * page_size) > 0)
			;
	}
}

/*
 * Heaps passed around in SCM_RIGHTS messages: park a heap (or a fresh
 * CLONE of one) in this process's socket and close our copy, take one
 * out and grow it, or close the socket with everything in flight.  The
 * per-user bound (max_user_bytes) must hold through all of it: growing
 * gives ENOMEM once the user's heaps are at it, never an unexpected error.
 */
static void hostile_scm(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct hproc *p = t->p;
	struct slot *sl = &p->slot[rndn(s, NSLOTS)];
	struct buddy_clone_args c;
	struct buddy_alloc_args a;
	unsigned int r = rndn(s, 100);
	int fd, ret;

	pthread_mutex_lock(&p->park_lock);
	if (p->park[0] < 0 && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, p->park))
		goto out;
	if (r < 50 && p->parked < 64) {
		fd = open(DEV, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && chance(s, 10)) {
			/* a CLONE of a live heap instead of an empty one (slow) */
			memset(&c, 0, sizeof(c));
			c.flags = O_CLOEXEC;
			ret = xioctl(atomic_load(&sl->fd), BUDDY_IOC_CLONE, &c);
			if (!allowed_errno(ret) || ret == -EFAULT)
				violation(t, "CLONE to park", BUDDY_IOC_CLONE, ret);
			if (!ret) {
				close(fd);
				fd = c.fd;
			}
		}
		if (fd >= 0) {
			memset(&a, 0, sizeof(a));
			a.size = 1 + rndn(s, 1 << 20);
			ret = xioctl(fd, BUDDY_IOC_MALLOC, &a);
			if (ret && ret != -ENOMEM)
				violation(t, "MALLOC in a heap to park", BUDDY_IOC_MALLOC, ret);
			if (!send_fd(p->park[0], fd, MSG_DONTWAIT)) {
				p->parked++;
				atomic_fetch_add(&sh->fds_parked, 1);
			}
			close(fd);
		}
	} else if (r < 85 && p->parked) {
		fd = recv_fd(p->park[1], MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (fd >= 0) {
			p->parked--;
			atomic_fetch_add(&sh->fds_received, 1);
			memset(&a, 0, sizeof(a));
			a.size = 1 + rndn(s, 1 << 20);
			ret = xioctl(fd, BUDDY_IOC_MALLOC, &a);
			if (ret && ret != -ENOMEM)
				violation(t, "MALLOC in a received heap", BUDDY_IOC_MALLOC, ret);
			if (chance(s, 50) && !send_fd(p->park[0], fd, MSG_DONTWAIT))
				p->parked++;
			close(fd);
		}
	} else {
		close(p->park[0]);
		close(p->park[1]);
		p->park[0] = p->park[1] = -1;
		p->parked = 0;
	}
out:
	pthread_mutex_unlock(&p->park_lock);
	count_res(&sh->misc, 0);
}

/*
 * CLONE one heap again and again, keeping every copy, until the per-user
 * bound (or 32 copies) stops it; only ENOMEM or EMFILE may end it.
 */
static void hostile_clone_storm(struct hthread *t)
{
	uint64_t *s = &t->seed;
	struct hproc *p = t->p;
	struct slot *sl = &p->slot[rndn(s, NSLOTS)];
	struct buddy_clone_args c;
	int fds[32], n, i, ret = 0, busy = 0;

	if (!atomic_compare_exchange_strong(&p->clone_busy, &busy, 1))
		return;
	for (n = 0; n < 32; n++) {
		memset(&c, 0, sizeof(c));
		c.flags = O_CLOEXEC;
		ret = xioctl(atomic_load(&sl->fd), BUDDY_IOC_CLONE, &c);
		if (ret)
			break;
		fds[n] = c.fd;
	}
	if (ret && ret != -ENOMEM && ret != -EMFILE && ret != -EBADF)
		violation(t, "CLONE storm ended with an error the ABI does not "
			  "allow", BUDDY_IOC_CLONE, ret);
	atomic_fetch_add(&sh->storms, 1);
	atomic_fetch_add(&sh->storm_copies, n);
	if (ret == -ENOMEM)
		atomic_fetch_add(&sh->storm_enomem, 1);
	for (i = 0; i < n; i++)
		close(fds[i]);
	atomic_store(&p->clone_busy, 0);
	(void)s;
}

static void *hostile_thread(void *arg)
{
	struct hthread *t = arg;
	struct hproc *p = t->p;
	uint64_t iter = 0;

	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		unsigned int r = rndn(&t->seed, 1000), a;
		double t0;

		/* CPU time costs a syscall: measure one action in 16 */
		t->sample = (iter & 15) == 0;
		t0 = t->sample ? cpu_s() : 0;
		/*
		 * Mostly ioctls; the rest (faults, mm changes, heap
		 * replacement, forks, debugfs, pipes) is costlier per call:
		 * about a third of the CPU time in all.
		 */
		if (r < 930) {
			a = 0;
			hostile_ioctl(t);
		} else if (r < 965) {
			a = 1;
			hostile_touch(t);
		} else if (r < 971) {
			a = 2;
			hostile_mm(t);
		} else if (r < 972) {
			a = 3;
			hostile_reopen(t);
		} else if (r < 973 && chance(&t->seed, 30)) {
			a = 4;
			hostile_fork(t);
		} else if (r < 978) {
			a = 5;
			hostile_debugfs(t);
		} else if (r < 981) {
			a = 7;
			hostile_scm(t);
		} else if (r < 982 && (storm_often || chance(&t->seed, 20))) {
			a = 8;
			hostile_clone_storm(t);
		} else {
			a = 6;
			hostile_pipes(t);
		}
		if (t->sample)
			atomic_fetch_add_explicit(&sh->action_ns[a],
						  (uint64_t)((cpu_s() - t0) * 1e9),
						  memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->action_n[a], 1,
					  memory_order_relaxed);
		if ((++iter & 255) == 0 &&
		    (atomic_load(&p->calls) >= p->calls_limit ||
		     now_s() > p->deadline))
			atomic_store(&p->stop, true);
	}
	return NULL;
}

static void *map_guarded(size_t rw_bytes, char **end)
{
	char *p;

	rw_bytes = (rw_bytes + page_size - 1) & ~(page_size - 1);
	p = mmap(NULL, rw_bytes + page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		BAIL_ERRNO("mmap");
	if (mprotect(p + rw_bytes, page_size, PROT_NONE))
		BAIL_ERRNO("mprotect");
	if (end)
		*end = p + rw_bytes;
	return p;
}

int hostile_proc(const struct opts *o, int idx)
{
	struct hproc *p;
	struct hthread *t;
	pthread_t *tid;
	struct buddy_info info;
	int i;

	p = calloc(1, sizeof(*p));
	t = calloc(o->threads, sizeof(*t));
	tid = calloc(o->threads, sizeof(*tid));
	if (!p || !t || !tid)
		BAIL_ERRNO("calloc");
	p->calls_limit = o->calls / o->procs + (idx < (int)(o->calls % o->procs));
	pthread_mutex_init(&p->park_lock, NULL);
	p->park[0] = p->park[1] = -1;
	p->deadline = now_s() + o->seconds;
	for (i = 0; i < NSLOTS; i++) {
		struct slot *sl = &p->slot[i];
		int fd = open_heap();

		info = get_info(fd);
		p->cap = info.cap_bytes;
		sl->window = info.window_bytes;
		atomic_store(&sl->fd, fd);
		pthread_mutex_init(&sl->lock, NULL);
		sl->base = map_window_at(fd, sl->window, NULL);
		if (!sl->base)
			BAIL_ERRNO("map window");
		sl->spare = mmap(NULL, sl->window, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (sl->spare == MAP_FAILED)
			BAIL_ERRNO("mmap spare");
	}
	for (i = 0; i < o->threads; i++) {
		struct hthread *h = &t[i];
		char *end;

		h->p = p;
		h->id = i;
		h->seed = o->seed * 1000003 + idx * 1009 + i * 7 + 1;
		h->buf = map_guarded(2 * page_size, NULL);
		h->ro = map_guarded(page_size, NULL);
		memset(h->ro, 0, page_size);
		mprotect(h->ro, page_size, PROT_READ);
		h->hole = h->ro + page_size;
		h->ops = map_guarded((BUDDY_BATCH_MAX + 1) * sizeof(struct buddy_op),
				     &end);
		h->opsend = end;
		if (pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC))
			BAIL_ERRNO("pipe");
	}
	for (i = 0; i < o->threads; i++)
		if (pthread_create(&tid[i], NULL, hostile_thread, &t[i]))
			BAIL_ERRNO("pthread_create");
	for (i = 0; i < o->threads; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < NSLOTS; i++)
		close(atomic_load(&p->slot[i].fd));
	free(tid);
	free(t);
	free(p);
	return 0;
}
