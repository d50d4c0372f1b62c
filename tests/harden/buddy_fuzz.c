// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_fuzz - an ioctl fuzzer of /dev/buddy, run inside the test VM.
 *
 *	buddy_fuzz hostile [--procs P] [--threads T] [--calls N] [--seconds S]
 *			   [--min-calls N] [--seed X] [--user-limit BYTES]
 *	buddy_fuzz model   [--procs P] [--threads T] [--ops N] [--seconds S]
 *			   [--seed X] [--epoch E] [--label NAME]
 *
 * hostile: P processes x T threads issue N ioctls in all (or stop after S
 *   seconds): valid and invalid command numbers, wrong _IOC_SIZE, random
 *   and boundary values in every field, NULL / unmapped / kernel-half /
 *   read-only / page-straddling / in-window argument pointers, offsets
 *   inside, outside and between blocks, double frees, BATCH with bad
 *   counts, op sizes and pointers, CLONE; and racing with them, other
 *   threads remap, unmap, mprotect, madvise, mremap and touch the windows,
 *   close and reopen the heaps, fork, read the heaps' debugfs files and
 *   pin window pages in pipes (vmsplice).  The oracle: every ioctl returns
 *   0 or one of the errors the ABI allows, successful results are well
 *   formed, no process dies of an unexpected signal, and (vm/run) the
 *   kernel reports nothing.
 *
 *   With --user-limit BYTES, max_user_bytes is BYTES for the run, CLONE
 *   storms are more frequent and at least one must end with ENOMEM.
 *
 * model: P processes x T threads on one heap per process issue only valid
 *   operations (single ioctls and BATCH), write a pattern into every live
 *   block through the window and verify it before each free and realloc,
 *   zap the window's PTEs (MADV_DONTNEED) and remap it in place while the
 *   others work, and at every epoch barrier compare STATS (live_blocks,
 *   bytes_in_use) with the model and, now and then, CLONE the heap and
 *   verify every block in the copy.  Catches overlapping blocks, lost or
 *   corrupted data and accounting drift.
 *
 *	buddy_fuzz bench
 *
 * bench: what single calls cost in this guest (INFO, ENOTTY, MALLOC+FREE).
 *
 * Output is KTAP (tests/lib/ktap.h): the number of calls per result kind
 * as "# " lines, then "ok N ..." / "not ok N ..." lines and
 * "N passed, M failed".
 */
#include "harden.h"

#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Options and the shared (cross-process) results */

struct opts {
	int procs, threads;
	uint64_t calls;		/* hostile: total ioctls */
	uint64_t min_calls;	/* hostile: fewer than this fails the check */
	uint64_t ops;		/* model: operations per thread */
	double seconds;
	uint64_t seed;
	unsigned int epoch;
	const char *label;
	uint64_t user_limit;	/* hostile: max_user_bytes during the run */
};

#define NR_KIND		13	/* 10 commands, BATCH ops, invalid cmds, generic */
#define KIND_BATCHOP	10
#define KIND_BADCMD	11
#define KIND_GENERIC	12

static const char *const kind_name[NR_KIND] = {
	"INFO", "MALLOC", "CALLOC", "MEMALIGN", "FREE", "REALLOC",
	"USABLE_SIZE", "STATS", "BATCH", "CLONE", "batch ops",
	"bad commands", "generic ioctls",
};

#define MAX_MSGS	16

struct shared {
	struct counters all;		/* every ioctl */
	struct counters kind[NR_KIND];
	struct counters touch;		/* window reads/writes */
	struct counters mm;		/* mmap/munmap/mprotect/madvise/... */
	struct counters misc;		/* open/close/fork/debugfs/pipes */
	_Atomic uint64_t violations;	/* results the ABI does not allow */
	_Atomic uint64_t model_errors;
	_Atomic uint64_t stats_checks, clone_checks, verified_blocks;
	_Atomic uint64_t remaps, zaps, epochs, resets;
	_Atomic uint64_t fds_parked, fds_received, storms, storm_copies,
		storm_enomem;
	_Atomic uint64_t action_ns[9], action_n[9];
	_Atomic uint64_t kind_ns[NR_KIND], kind_sampled[NR_KIND];
	_Atomic uint32_t nmsgs;
	char msgs[MAX_MSGS][200];
};

static struct shared *sh;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remember one of the first MAX_MSGS problems for the final report. */
static void report(const char *fmt, ...)
{
	uint32_t i = atomic_fetch_add(&sh->nmsgs, 1);
	va_list ap;

	if (i >= MAX_MSGS)
		return;
	va_start(ap, fmt);
	vsnprintf(sh->msgs[i], sizeof(sh->msgs[i]), fmt, ap);
	va_end(ap);
}

static size_t page_size;
static bool storm_often;	/* --user-limit: CLONE storms 5x as often */

/* CPU time of this thread (user + kernel), for the cost accounting. */
static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Hostile mode */

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

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Is a successful allocation result well formed? */
static bool block_ok(uint64_t off, uint64_t usable, uint64_t window)
{
	return is_pow2(usable) && usable >= 16 && off % usable == 0 &&
	       off < window && usable <= window - off;
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

static int send_fd(int sock, int fd)
{
	char data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_DONTWAIT) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
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
			if (!send_fd(p->park[0], fd)) {
				p->parked++;
				atomic_fetch_add(&sh->fds_parked, 1);
			}
			close(fd);
		}
	} else if (r < 85 && p->parked) {
		fd = recv_fd(p->park[1]);
		if (fd >= 0) {
			p->parked--;
			atomic_fetch_add(&sh->fds_received, 1);
			memset(&a, 0, sizeof(a));
			a.size = 1 + rndn(s, 1 << 20);
			ret = xioctl(fd, BUDDY_IOC_MALLOC, &a);
			if (ret && ret != -ENOMEM)
				violation(t, "MALLOC in a received heap", BUDDY_IOC_MALLOC, ret);
			if (chance(s, 50) && !send_fd(p->park[0], fd))
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

static int hostile_proc(const struct opts *o, int idx)
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
	return 0;
}

/* Model mode */

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

static int model_proc(const struct opts *o, int idx)
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
	return 0;
}

/* bench: what one call costs here (TCG + KASAN + lockdep) */

static void bench(void)
{
	struct buddy_info info;
	uint64_t off;
	double t0;
	int fd = open_heap(), i, n = 3000, big_pairs;

	t0 = now_s();
	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		ioctl(fd, BUDDY_IOC_INFO, &info);
	}
	ktap_diag("bench: INFO %.1f us/call", (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	for (i = 0; i < n; i++)
		ioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0x55, struct buddy_info), &info);
	ktap_diag("bench: unknown command (ENOTTY) %.1f us/call",
		  (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	for (i = 0; i < n / 2; i++) {
		heap_malloc(fd, 16, 0, &off, NULL);
		heap_free(fd, off, NULL);
	}
	ktap_diag("bench: MALLOC 16 + FREE %.1f us/call",
		  (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	big_pairs = n / 30;
	for (i = 0; i < big_pairs; i++) {
		heap_malloc(fd, 2 * MiB, 0, &off, NULL);
		heap_free(fd, off, NULL);
	}
	ktap_diag("bench: MALLOC 2 MiB (new chunk) + FREE (chunk back) %.1f us/call",
		  (now_s() - t0) * 1e6 / (2.0 * big_pairs));
	close(fd);
}

static void usage(void)
{
	fprintf(stderr, "usage: buddy_fuzz hostile|model|bench [--procs P] [--threads T] "
		"[--calls N] [--min-calls N] [--ops N] [--seconds S] [--seed X] "
		"[--epoch E] [--label NAME] [--user-limit BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.procs = 4, .threads = 4, .calls = 100000, .ops = ~0ULL,
		.seconds = 60, .seed = 1, .epoch = 200, .label = NULL,
	};
	bool hostile;
	int i, status, bad_exit = 0;
	pid_t *pids;
	double t0, dt;
	uint64_t total;
	long long saved_limit = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (argc < 2)
		usage();
	ktap_begin("buddy_fuzz", argv[1]);
	if (!strcmp(argv[1], "bench")) {
		bench();
		return ktap_end();
	}
	if (!strcmp(argv[1], "hostile"))
		hostile = true;
	else if (!strcmp(argv[1], "model"))
		hostile = false;
	else
		usage();
	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--procs"))
			o.procs = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--threads"))
			o.threads = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--calls"))
			o.calls = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--min-calls"))
			o.min_calls = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--ops"))
			o.ops = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--seed"))
			o.seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--epoch"))
			o.epoch = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--user-limit"))
			o.user_limit = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--label"))
			o.label = argv[i + 1];
		else
			usage();
	}
	if (i != argc || o.procs < 1 || o.threads < 1 || o.epoch < 1)
		usage();
	if (!o.label)
		o.label = hostile ? "hostile" : "model";
	if (!o.min_calls || o.min_calls > o.calls)
		o.min_calls = o.calls;
	if (access(DEV, F_OK))
		BAIL_ERRNO(DEV " (is buddy.ko loaded?)");

	sh = shared_alloc(sizeof(*sh));
	guard_install();
	signal(SIGPIPE, SIG_IGN);
	ktap_diag("%s: %d processes x %d threads, seed %" PRIu64
		  ", limit %.0f s, %s %" PRIu64, o.label, o.procs, o.threads,
		  o.seed, o.seconds, hostile ? "calls" : "ops/thread",
		  hostile ? o.calls : o.ops);

	if (hostile && o.user_limit) {
		char v[32];

		storm_often = true;
		saved_limit = read_ll(USER_LIMIT_PARAM, NULL);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)o.user_limit);
		CHECK(saved_limit > 0 && !write_file(USER_LIMIT_PARAM, v),
		      "%s: max_user_bytes %s during the run (was %lld)", o.label,
		      v, saved_limit);
	}
	t0 = now_s();
	pids = calloc(o.procs, sizeof(*pids));
	for (i = 0; i < o.procs; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0)
			BAIL_ERRNO("fork");
		if (!pids[i])
			_exit(hostile ? hostile_proc(&o, i) : model_proc(&o, i));
	}
	for (i = 0; i < o.procs; i++) {
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad_exit++;
			ktap_diag("%s: process %d ended with status %#x%s%s",
				  o.label, i, status,
				  WIFSIGNALED(status) ? ", signal " : "",
				  WIFSIGNALED(status) ?
				  strsignal(WTERMSIG(status)) : "");
		}
	}
	free(pids);
	dt = now_s() - t0;
	if (saved_limit > 0) {
		char v[32];

		snprintf(v, sizeof(v), "%lld", saved_limit);
		CHECK(!write_file(USER_LIMIT_PARAM, v),
		      "%s: max_user_bytes restored to %s", o.label, v);
	}
	total = counters_total(&sh->all);

	ktap_diag("%s: %.1f s, %.0f ioctls/s", o.label, dt, total / dt);
	print_counters("ioctls: ", &sh->all);
	for (i = 0; i < NR_KIND; i++) {
		char prefix[64];

		if (!counters_total(&sh->kind[i]))
			continue;
		if (hostile && i != KIND_BATCHOP)
			snprintf(prefix, sizeof(prefix), "  %-14s %5.0f us CPU/call ",
				 kind_name[i], sh->kind_ns[i] / 1e3 /
				 (sh->kind_sampled[i] ? sh->kind_sampled[i] : 1));
		else
			snprintf(prefix, sizeof(prefix), "  %-14s ", kind_name[i]);
		print_counters(prefix, &sh->kind[i]);
	}
	if (hostile) {
		static const char *const an[] = {
			"ioctl", "touch", "mm", "reopen", "fork", "debugfs",
			"pipes", "scm", "clone-storm",
		};
		char line[512];
		size_t len = 0;

		line[0] = 0;
		for (i = 0; i < 9 && len < sizeof(line); i++)
			len += snprintf(line + len, sizeof(line) - len,
					" %s %.1f/%" PRIu64, an[i],
					16 * sh->action_ns[i] / 1e9,
					(uint64_t)sh->action_n[i]);
		ktap_diag("CPU seconds per action (sampled 1 in 16, scaled):%s",
			  line);
		print_counters("window touches: ", &sh->touch);
		print_counters("mm calls (mmap/munmap/mprotect/madvise/mremap/...): ",
			       &sh->mm);
		print_counters("other calls (open/close/fork/debugfs/pipes): ",
			       &sh->misc);
		ktap_diag("fd passing: %" PRIu64 " heaps parked in SCM_RIGHTS "
			  "messages, %" PRIu64 " taken back and grown; %" PRIu64
			  " CLONE storms, %" PRIu64 " copies, %" PRIu64
			  " stopped by ENOMEM (max_user_bytes %lld)",
			  (uint64_t)sh->fds_parked, (uint64_t)sh->fds_received,
			  (uint64_t)sh->storms, (uint64_t)sh->storm_copies,
			  (uint64_t)sh->storm_enomem,
			  o.user_limit ? (long long)o.user_limit : -1LL);
	} else {
		ktap_diag("model: %" PRIu64 " blocks verified, %" PRIu64
			  " STATS cross-checks, %" PRIu64 " CLONE checks, %" PRIu64
			  " epochs, %" PRIu64 " heap resets, %" PRIu64 " zaps, %"
			  PRIu64 " remaps", (uint64_t)sh->verified_blocks,
			  (uint64_t)sh->stats_checks, (uint64_t)sh->clone_checks,
			  (uint64_t)sh->epochs, (uint64_t)sh->resets,
			  (uint64_t)sh->zaps, (uint64_t)sh->remaps);
	}
	for (i = 0; i < MAX_MSGS && i < (int)sh->nmsgs; i++)
		ktap_diag("problem: %s", sh->msgs[i]);

	CHECK(bad_exit == 0, "%s: all %d processes exited normally (%d did not)",
	      o.label, o.procs, bad_exit);
	if (hostile) {
		CHECK(total >= o.min_calls, "%s: %" PRIu64 " ioctls (at least %"
		      PRIu64 " wanted, stopping at %" PRIu64 " or after %.0f s)",
		      o.label, total, o.min_calls, o.calls, o.seconds);
		CHECK(sh->violations == 0,
		      "%s: every result allowed by the ABI and well formed (%" PRIu64
		      " violations)", o.label, (uint64_t)sh->violations);
		CHECK(sh->fds_parked > 0 && sh->storms > 0,
		      "%s: heaps passed in SCM_RIGHTS messages (%" PRIu64
		      ") and CLONE storms (%" PRIu64 ") ran", o.label,
		      (uint64_t)sh->fds_parked, (uint64_t)sh->storms);
		if (o.user_limit)
			CHECK(sh->storm_enomem > 0,
			      "%s: the per-user bound stopped CLONE storms (%"
			      PRIu64 " of %" PRIu64 ")", o.label,
			      (uint64_t)sh->storm_enomem, (uint64_t)sh->storms);
	} else {
		CHECK(sh->model_errors == 0,
		      "%s: no lost, corrupted or overlapping data, STATS agree (%"
		      PRIu64 " errors in %" PRIu64 " calls, %" PRIu64
		      " verifications)", o.label, (uint64_t)sh->model_errors,
		      total, (uint64_t)sh->verified_blocks);
		CHECK(sh->stats_checks > 0 && sh->clone_checks > 0,
		      "%s: %" PRIu64 " STATS and %" PRIu64 " CLONE cross-checks ran",
		      o.label, (uint64_t)sh->stats_checks,
		      (uint64_t)sh->clone_checks);
	}
	return ktap_end();
}
