// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_heap - one /dev/buddy heap in the kernel: the core's callbacks,
 * every ioctl as a plain function on kernel structs and the fault-path
 * lookup; its debugfs files are in buddy_debugfs.c.  No module_init
 * here: buddy_kmod.c owns the device and the KUnit suite #includes this
 * file.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/log2.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "buddy_debugfs.h"
#include "buddy_heap.h"
#include "buddy_pages.h"

/*
 * Past 64 MiB a heap grows by 64 MiB (or an eighth of itself, whichever is
 * more) instead of doubling, unless a block needs a larger chunk.  A
 * clone's first change to a chunk copies the chunk's metadata, 2.4% of
 * it: 1.5 MiB here, where a doubled chunk is half the heap.
 */
#define BUDDY_KHEAP_STEP_BYTES	SZ_64M

/* Heaps are numbered for debugfs: buddy/<tgid>-<id>. */
static atomic64_t buddy_kheap_next_id = ATOMIC64_INIT(0);

/*
 * Chunks and metadata are charged to the memcg of the task that opened or
 * cloned the heap (kh->memcg, made the active memcg around each
 * allocation), not to whichever task makes the heap grow: a process that
 * received the fd, or a forked child.  __GFP_RETRY_MAYFAIL
 * makes a memcg at its limit fail the charge (-ENOMEM to the caller) instead
 * of invoking the OOM killer; __GFP_NOWARN keeps the failure quiet.
 */
#define BUDDY_KHEAP_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

/*
 * Per-user accounting.  Heap memory is unswappable and is not counted in
 * any rlimit or in the OOM killer's view of a process until it is faulted
 * in, and a heap outlives its opener when its fd is passed on or parked in
 * an SCM_RIGHTS message.  So every chunk and its metadata are charged to
 * the user (real uid) that opened or cloned the heap, whoever makes it
 * grow, against params.user_limit (the max_user_bytes parameter, which
 * root may change at any time); a charge beyond it fails with -ENOMEM.
 */
struct buddy_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;		/* heaps charged to this user */
	atomic64_t bytes;	/* bytes charged */
};

#define BUDDY_USER_HASH_BITS	6
static DEFINE_HASHTABLE(buddy_users, BUDDY_USER_HASH_BITS);
static DEFINE_SPINLOCK(buddy_users_lock);

static struct buddy_user *buddy_user_get(kuid_t uid)
{
	struct buddy_user *u, *nu;

	nu = kzalloc(sizeof(*nu), GFP_KERNEL);
	if (!nu)
		return NULL;
	spin_lock(&buddy_users_lock);
	hash_for_each_possible(buddy_users, u, node, __kuid_val(uid)) {
		if (uid_eq(u->uid, uid)) {
			refcount_inc(&u->ref);
			spin_unlock(&buddy_users_lock);
			kfree(nu);
			return u;
		}
	}
	nu->uid = uid;
	refcount_set(&nu->ref, 1);
	atomic64_set(&nu->bytes, 0);
	hash_add(buddy_users, &nu->node, __kuid_val(uid));
	spin_unlock(&buddy_users_lock);
	return nu;
}

static void buddy_user_put(struct buddy_user *u)
{
	if (!u)
		return;
	spin_lock(&buddy_users_lock);
	if (!refcount_dec_and_test(&u->ref)) {
		spin_unlock(&buddy_users_lock);
		return;
	}
	hash_del(&u->node);
	spin_unlock(&buddy_users_lock);
	/* every heap gave its chunks back before dropping its reference */
	WARN_ON_ONCE(atomic64_read(&u->bytes));
	kfree(u);
}

static int buddy_kheap_charge(struct buddy_kheap *kh, u64 bytes)
{
	struct buddy_user *u = kh->user;
	u64 limit;
	s64 old;

	if (!u)
		return 0;
	limit = READ_ONCE(*kh->params.user_limit);
	old = atomic64_read(&u->bytes);
	do {
		if (bytes > limit || (u64)old > limit - bytes)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(&u->bytes, &old, old + bytes));
	return 0;
}

static void buddy_kheap_uncharge(struct buddy_kheap *kh, u64 bytes)
{
	if (kh->user)
		atomic64_sub(bytes, &kh->user->bytes);
}

/**
 * buddy_kheap_user_bytes() - bytes charged to a heap's user, all heaps
 * @kh: the heap
 *
 * Return: the bytes, or -1 without per-user accounting.
 */
s64 buddy_kheap_user_bytes(const struct buddy_kheap *kh)
{
	return kh->user ? atomic64_read(&kh->user->bytes) : -1;
}

/* What a chunk of @bytes costs its user: its pages and its page array. */
static u64 buddy_kheap_chunk_charge(u64 bytes)
{
	return bytes + buddy_pages_array_bytes(bytes >> PAGE_SHIFT);
}

/* A chunk is an array of pages (buddy_pages.c), so that clones share it. */
static void *buddy_kheap_chunk_alloc(void *ctx, u64 bytes)
{
	u64 charge = buddy_kheap_chunk_charge(bytes);
	struct buddy_kheap *kh = ctx;
	struct buddy_pages *bp;

	if (bytes > ULONG_MAX || buddy_kheap_charge(kh, charge))
		return NULL;
	bp = buddy_pages_alloc(bytes >> PAGE_SHIFT, kh->memcg);
	if (!bp)
		buddy_kheap_uncharge(kh, charge);
	return bp;
}

/*
 * Whether a page of a heap being cloned may be pinned for DMA: pins are
 * taken through a mapping, and the cloning task's is the one that matters
 * (the shim clones at fork).  A pin through another process's mapping of
 * the same heap is not seen; the clone then shares that page like any.
 */
static bool buddy_kheap_may_be_pinned(void)
{
	return current->mm && test_bit(MMF_HAS_PINNED, &current->mm->flags);
}

/*
 * A clone's chunk shares the source's pages (the source's window was
 * unmapped first: buddy_kheap_clone()).  It is charged to the clone's user
 * in full, as if copied, since either side may come to own every page.  A
 * fatal signal stops the clone, which is then thrown away.
 */
static void *buddy_kheap_chunk_clone(void *ctx, const void *mem, u64 bytes)
{
	u64 charge = buddy_kheap_chunk_charge(bytes);
	struct buddy_kheap *kh = ctx;
	struct buddy_pages *bp;

	if (buddy_kheap_charge(kh, charge))
		return NULL;
	bp = buddy_pages_share(mem, buddy_kheap_may_be_pinned(), kh->memcg);
	if (!bp) {
		buddy_kheap_uncharge(kh, charge);
		if (fatal_signal_pending(current))
			kh->clone_aborted = true;
	}
	return bp;
}

/*
 * Zap every user mapping of the chunk at @mem, so no stale PTE survives it.
 * The core does not pass the chunk's offset to chunk_free, so look it up by
 * address among the live chunks.  Memory that is not among them was never
 * a live chunk of this heap (add_chunk() or a clone failing half-way), so
 * nothing can have mapped it: the fault handler only maps live chunks.
 */
static void buddy_kheap_unmap_chunk(struct buddy_kheap *kh, const void *mem,
				    u64 bytes)
{
	unsigned int i;

	if (!kh->inode)
		return;
	for (i = 0; i < kh->core.nr_chunks; i++) {
		if (kh->core.chunks[i].mem == mem) {
			unmap_mapping_range(kh->inode->i_mapping,
					    kh->core.chunks[i].offset, bytes, 1);
			return;
		}
	}
}

static void buddy_kheap_chunk_free(void *ctx, void *mem, u64 bytes)
{
	struct buddy_kheap *kh = ctx;

	buddy_kheap_unmap_chunk(kh, mem, bytes);
	buddy_pages_free(mem);
	buddy_kheap_uncharge(kh, buddy_kheap_chunk_charge(bytes));
}

/*
 * Metadata that a clone shares with its source until either side writes to
 * it (ops->meta_share): a CLONE then copies no bitmaps, 2.4% of the heap.
 * @users counts the heaps using @words.  buddy_core.c writes only what a
 * heap holds alone, and only that heap (under its lock) could share it
 * again, so the words are read and copied without a lock.
 */
struct buddy_kheap_meta {
	refcount_t users;
	u64 words[];
};

static struct buddy_kheap_meta *buddy_kheap_meta_of(void *mem)
{
	return container_of(mem, struct buddy_kheap_meta, words[0]);
}

/*
 * Metadata above a page comes straight from vmalloc: kvmalloc() with
 * __GFP_RETRY_MAYFAIL would first try a high-order kmalloc hard (reclaim
 * and compaction, under the heap's lock) and the metadata does not need
 * physically contiguous memory.  Charged to the heap's memcg; the caller
 * charges the heap's user.
 */
static void *buddy_kheap_meta_new(struct buddy_kheap *kh, size_t bytes,
				  gfp_t gfp)
{
	struct buddy_kheap_meta *meta;
	size_t size = struct_size(meta, words, bytes / sizeof(u64));
	struct mem_cgroup *old;

	old = set_active_memcg(kh->memcg);
	if (size > PAGE_SIZE)
		meta = __vmalloc(size, gfp);
	else
		meta = kmalloc(size, gfp);
	set_active_memcg(old);
	if (!meta)
		return NULL;
	refcount_set(&meta->users, 1);
	return meta->words;
}

static void buddy_kheap_meta_put(void *mem)
{
	struct buddy_kheap_meta *meta = buddy_kheap_meta_of(mem);

	if (refcount_dec_and_test(&meta->users))
		kvfree(meta);
}

static void *buddy_kheap_meta_alloc(void *ctx, size_t bytes)
{
	struct buddy_kheap *kh = ctx;
	void *mem;

	if (buddy_kheap_charge(kh, bytes))
		return NULL;
	mem = buddy_kheap_meta_new(kh, bytes, BUDDY_KHEAP_GFP | __GFP_ZERO);
	if (!mem)
		buddy_kheap_uncharge(kh, bytes);
	return mem;
}

static void buddy_kheap_meta_free(void *ctx, void *mem, size_t bytes)
{
	buddy_kheap_meta_put(mem);
	buddy_kheap_uncharge(ctx, bytes);
}

/*
 * The clone's user is charged for the metadata as if it were copied, so
 * that the copy a write makes later needs no charge that could fail.
 */
static bool buddy_kheap_meta_share(void *ctx, void *mem, size_t bytes)
{
	if (buddy_kheap_charge(ctx, bytes))
		return false;
	refcount_inc(&buddy_kheap_meta_of(mem)->users);
	return true;
}

/*
 * A free must not fail, so its copy is __GFP_NOFAIL (which may go over
 * the memcg's limit, as the kernel's own unfailable allocations do).
 */
static bool buddy_kheap_meta_unshare(void *ctx, void **mem, size_t bytes,
				     bool must)
{
	struct buddy_kheap *kh = ctx;
	void *copy;

	if (refcount_read(&buddy_kheap_meta_of(*mem)->users) == 1)
		return true;
	copy = buddy_kheap_meta_new(kh, bytes, must ?
				    GFP_KERNEL_ACCOUNT | __GFP_NOFAIL :
				    BUDDY_KHEAP_GFP);
	if (!copy)
		return false;
	memcpy(copy, *mem, bytes);
	buddy_kheap_meta_put(*mem);
	*mem = copy;
	return true;
}

/*
 * realloc's copies and calloc's zeroing write to pages a clone may share:
 * those are copied first, charged to this heap's memcg (-ENOMEM undoes the
 * operation).  A realloc always completes otherwise, since other holders
 * of the heap's fd may own the block.
 */
static int buddy_kheap_copy(void *ctx, void *dst, u64 dst_off,
			    const void *src, u64 src_off, u64 bytes)
{
	struct buddy_kheap *kh = ctx;

	return buddy_pages_copy(dst, dst_off, src, src_off, bytes, kh->memcg);
}

static int buddy_kheap_zero(void *ctx, void *mem, u64 off, u64 bytes)
{
	struct buddy_kheap *kh = ctx;

	return buddy_pages_zero(mem, off, bytes, kh->memcg);
}

static const struct buddy_ops buddy_kheap_ops = {
	.chunk_alloc	= buddy_kheap_chunk_alloc,
	.chunk_free	= buddy_kheap_chunk_free,
	.meta_alloc	= buddy_kheap_meta_alloc,
	.meta_free	= buddy_kheap_meta_free,
	.copy		= buddy_kheap_copy,
	.zero		= buddy_kheap_zero,
	.chunk_clone	= buddy_kheap_chunk_clone,
	.meta_share	= buddy_kheap_meta_share,
	.meta_unshare	= buddy_kheap_meta_unshare,
};

/**
 * buddy_kheap_check_params() - check heap limits before using them
 * @p: the limits (usually the module parameters)
 *
 * The minimum chunk must be a power of two of at least a page (chunks are
 * mapped page by page), the cap at least one minimum chunk, and the window
 * (the cap rounded up to a power of two) no larger than the core supports.
 * Trimming, when on, starts at a power of two above BUDDY_TRIM_UNIT that
 * the core supports.
 *
 * Return: 0 if usable, -EINVAL if not.
 */
int buddy_kheap_check_params(const struct buddy_kheap_params *p)
{
	const u64 max = BUDDY_GRAIN << BUDDY_MAX_ORDER;

	if (!p->min_chunk_bytes || !is_power_of_2(p->min_chunk_bytes) ||
	    p->min_chunk_bytes < PAGE_SIZE || p->min_chunk_bytes > max)
		return -EINVAL;
	if (p->cap_bytes < p->min_chunk_bytes || p->cap_bytes > max)
		return -EINVAL;
	if (p->defer_depth > BUDDY_DEFER_DEPTH)
		return -EINVAL;
	if (p->trim_block_bytes &&
	    (!is_power_of_2(p->trim_block_bytes) ||
	     p->trim_block_bytes <= BUDDY_TRIM_UNIT || p->trim_block_bytes > max))
		return -EINVAL;
	return 0;
}

static struct buddy_kheap *buddy_kheap_new(const struct buddy_kheap_params *p,
					   struct inode *inode)
{
	struct buddy_kheap *kh;

	if (buddy_kheap_check_params(p))
		return ERR_PTR(-EINVAL);

	kh = kzalloc(sizeof(*kh), GFP_KERNEL_ACCOUNT);
	if (!kh)
		return ERR_PTR(-ENOMEM);

	mutex_init(&kh->lock);
	kh->params = *p;
	kh->window_bytes = roundup_pow_of_two(p->cap_bytes);
	kh->id = atomic64_inc_return(&buddy_kheap_next_id);
	kh->tgid = task_tgid_nr(current);
	kh->inode = inode;
	atomic_set(&kh->nr_vmas, 0);
	if (p->user_limit) {
		kh->user = buddy_user_get(current_uid());
		if (!kh->user) {
			kfree(kh);
			return ERR_PTR(-ENOMEM);
		}
	}
	/* NULL without memcg: then the allocating task's is charged */
	kh->memcg = get_mem_cgroup_from_mm(current->mm);
	return kh;
}

static void buddy_kheap_free(struct buddy_kheap *kh)
{
	mem_cgroup_put(kh->memcg);
	buddy_user_put(kh->user);
	mutex_destroy(&kh->lock);
	kfree(kh);
}

/**
 * buddy_kheap_create() - make an empty heap
 * @p: its limits, checked with buddy_kheap_check_params()
 * @inode: inode whose mapping holds the user mappings of the heap's window
 *	(NULL when the heap is never mapped, as in tests)
 *
 * The heap keeps a pointer to @inode but no reference: the caller keeps
 * @inode alive until after buddy_kheap_destroy().
 *
 * Return: the heap, or an ERR_PTR().
 */
struct buddy_kheap *buddy_kheap_create(const struct buddy_kheap_params *p,
				       struct inode *inode)
{
	struct buddy_config cfg;
	struct buddy_kheap *kh;
	int ret;

	kh = buddy_kheap_new(p, inode);
	if (IS_ERR(kh))
		return kh;

	cfg.max_order = ilog2(kh->window_bytes) - BUDDY_GRAIN_SHIFT;
	cfg.min_chunk_order = ilog2(p->min_chunk_bytes) - BUDDY_GRAIN_SHIFT;
	cfg.cap_bytes = p->cap_bytes;
	cfg.low_water_bytes = p->low_water_bytes;
	cfg.max_step_order = min_t(unsigned int, cfg.max_order,
				   ilog2(BUDDY_KHEAP_STEP_BYTES) -
				   BUDDY_GRAIN_SHIFT);
	/* a block larger than the window is never taken: no need to trim it */
	cfg.trim_order = 0;
	if (p->trim_block_bytes && p->trim_block_bytes <= kh->window_bytes)
		cfg.trim_order = ilog2(p->trim_block_bytes) - BUDDY_GRAIN_SHIFT;
	/* a CLONE (fork) copies a chunk's metadata on its first change */
	cfg.own_first = true;
	ret = buddy_heap_init(&kh->core, &cfg, &buddy_kheap_ops, kh);
	if (!ret)
		ret = buddy_heap_set_defer_depth(&kh->core, p->defer_depth);
	if (ret) {
		buddy_kheap_free(kh);
		return ERR_PTR(ret);
	}
	buddy_debugfs_add(kh);
	return kh;
}

/**
 * buddy_kheap_clone() - make a new heap holding a copy of @src
 * @src: the heap to copy (its lock is taken)
 * @inode: as for buddy_kheap_create(), for the new heap
 *
 * The copy has the same limits, the same blocks at the same offsets and
 * the same contents; afterwards the two heaps are independent.  It is
 * charged to the calling task's user.  A fatal signal stops the copy.
 *
 * No byte is copied: the copy shares @src's pages until either side
 * writes to one, or maps it (buddy_pages.h).  Its contents are @src's when
 * the lock was taken: @src's window is unmapped first, so a write by
 * another thread after that faults, waits for the lock and then goes to a
 * page of @src's own.
 *
 * Return: the new heap, or an ERR_PTR() (-EINTR for a fatal signal).
 */
struct buddy_kheap *buddy_kheap_clone(struct buddy_kheap *src,
				      struct inode *inode)
{
	struct buddy_kheap *kh;
	int ret;

	kh = buddy_kheap_new(&src->params, inode);
	if (IS_ERR(kh))
		return kh;

	if (mutex_lock_killable(&src->lock)) {
		buddy_kheap_free(kh);
		return ERR_PTR(-EINTR);
	}
	if (src->inode)
		unmap_mapping_range(src->inode->i_mapping, 0,
				    src->window_bytes, 1);
	ret = buddy_heap_clone(&kh->core, &src->core, kh);
	mutex_unlock(&src->lock);
	if (kh->clone_aborted)
		ret = -EINTR;
	if (ret) {
		buddy_heap_destroy(&kh->core);
		buddy_kheap_free(kh);
		return ERR_PTR(ret);
	}
	buddy_debugfs_add(kh);
	return kh;
}

/**
 * buddy_kheap_destroy() - free a heap: every chunk, all metadata, debugfs
 * @kh: the heap (NULL is ignored); nobody else may use it any more
 */
void buddy_kheap_destroy(struct buddy_kheap *kh)
{
	if (!kh)
		return;
	/* Waits for debugfs readers, which take kh->lock. */
	buddy_debugfs_remove(kh);
	buddy_heap_destroy(&kh->core);
	buddy_kheap_free(kh);
}

/**
 * buddy_kheap_info() - BUDDY_IOC_INFO
 * @kh: the heap
 * @info: reserved fields checked; every other field filled in
 *
 * Return: 0, or -EINVAL for non-zero reserved fields.
 */
int buddy_kheap_info(struct buddy_kheap *kh, struct buddy_info *info)
{
	if (info->reserved[0] || info->reserved[1])
		return -EINVAL;

	info->abi_version = BUDDY_ABI_VERSION;
	info->grain_shift = BUDDY_GRAIN_SHIFT;
	info->max_order = ilog2(kh->window_bytes) - BUDDY_GRAIN_SHIFT;
	info->batch_max = BUDDY_BATCH_MAX;
	info->window_bytes = kh->window_bytes;
	info->cap_bytes = kh->params.cap_bytes;
	info->features = BUDDY_FEATURE_BATCH | BUDDY_FEATURE_CLONE;
	if (!IS_ERR_OR_NULL(kh->debugfs))
		info->features |= BUDDY_FEATURE_DEBUGFS;
	info->heap_id = kh->id;
	return 0;
}

/* Core errors about an offset become -EINVAL with a reason for the user. */
static int buddy_kheap_offset_error(int err, struct buddy_op *op)
{
	switch (err) {
	case -BUDDY_ERR_OUTSIDE:
		op->reason = BUDDY_REASON_OUTSIDE;
		return -EINVAL;
	case -BUDDY_ERR_NOT_START:
		op->reason = BUDDY_REASON_NOT_BLOCK_START;
		return -EINVAL;
	case -BUDDY_ERR_FREE:
		op->reason = BUDDY_REASON_ALREADY_FREE;
		return -EINVAL;
	}
	return err;
}

/* The fields each operation reads; every other one must be 0. */
#define BUDDY_FIELD_OFFSET	BIT(0)
#define BUDDY_FIELD_SIZE	BIT(1)
#define BUDDY_FIELD_ARG		BIT(2)
#define BUDDY_FIELD_FLAGS	BIT(3)

static const u8 buddy_op_fields[] = {
	[BUDDY_OP_MALLOC] = BUDDY_FIELD_SIZE | BUDDY_FIELD_FLAGS,
	[BUDDY_OP_CALLOC] = BUDDY_FIELD_SIZE | BUDDY_FIELD_ARG |
			    BUDDY_FIELD_FLAGS,
	[BUDDY_OP_MEMALIGN] = BUDDY_FIELD_SIZE | BUDDY_FIELD_ARG |
			      BUDDY_FIELD_FLAGS,
	[BUDDY_OP_REALLOC] = BUDDY_FIELD_OFFSET | BUDDY_FIELD_SIZE |
			     BUDDY_FIELD_FLAGS,
	[BUDDY_OP_FREE] = BUDDY_FIELD_OFFSET,
	[BUDDY_OP_USABLE_SIZE] = BUDDY_FIELD_OFFSET,
};

/* Is @op well formed?  A known operation, no field it does not read set. */
static int buddy_kheap_op_check(const struct buddy_op *op)
{
	u8 fields;

	if (op->op >= ARRAY_SIZE(buddy_op_fields) || !buddy_op_fields[op->op])
		return -EINVAL;
	fields = buddy_op_fields[op->op];
	if (op->reason || (op->flags & ~BUDDY_ALLOC_ZERO) ||
	    (op->offset && !(fields & BUDDY_FIELD_OFFSET)) ||
	    (op->size && !(fields & BUDDY_FIELD_SIZE)) ||
	    (op->arg && !(fields & BUDDY_FIELD_ARG)) ||
	    (op->flags && !(fields & BUDDY_FIELD_FLAGS)))
		return -EINVAL;
	/* an alignment, unlike a calloc count, is never 0 */
	if (op->op == BUDDY_OP_MEMALIGN && !is_power_of_2(op->arg))
		return -EINVAL;
	return 0;
}

/* Usable size of the block at @offset, or a core error about @offset. */
static int buddy_kheap_usable(struct buddy_kheap *kh, u64 offset, u64 *usable)
{
	if (offset >= kh->window_bytes)
		return -BUDDY_ERR_OUTSIDE;
	return buddy_heap_usable_size(&kh->core, offset, usable);
}

/*
 * Carry out one operation under kh->lock.  Fills op->offset and op->usable
 * on success, op->reason when an offset is refused; returns 0 or -errno.
 */
static int buddy_kheap_do_op(struct buddy_kheap *kh, struct buddy_op *op)
{
	const u64 window = kh->window_bytes;
	u64 size = op->size, offset = 0, usable = 0;
	int ret;

	lockdep_assert_held(&kh->lock);

	ret = buddy_kheap_op_check(op);
	op->reason = BUDDY_REASON_NONE;
	if (ret)
		return ret;

	switch (op->op) {
	case BUDDY_OP_MALLOC:
	case BUDDY_OP_CALLOC:
		if (op->op == BUDDY_OP_CALLOC &&
		    check_mul_overflow(op->arg, op->size, &size))
			return -ENOMEM;
		if (size > window)
			return -ENOMEM;
		ret = buddy_heap_alloc(&kh->core, size,
				       op->op == BUDDY_OP_CALLOC ?
				       BUDDY_ALLOC_ZERO : op->flags, &offset);
		break;
	case BUDDY_OP_MEMALIGN:
		if (size > window || op->arg > window)
			return -ENOMEM;
		ret = buddy_heap_alloc_aligned(&kh->core, size, op->arg, op->flags,
					       &offset);
		break;
	case BUDDY_OP_REALLOC:
		if (size > window) {
			/* A bad offset is reported before the size. */
			ret = buddy_kheap_usable(kh, op->offset, &usable);
			return buddy_kheap_offset_error(ret ?: -ENOMEM, op);
		}
		if (op->offset >= window)
			return buddy_kheap_offset_error(-BUDDY_ERR_OUTSIDE, op);
		ret = buddy_heap_realloc(&kh->core, op->offset, size, op->flags,
					 &offset);
		if (ret)
			return buddy_kheap_offset_error(ret, op);
		break;
	case BUDDY_OP_FREE:
		if (op->offset >= window)
			return buddy_kheap_offset_error(-BUDDY_ERR_OUTSIDE, op);
		ret = buddy_heap_free(&kh->core, op->offset);
		if (ret)
			return buddy_kheap_offset_error(ret, op);
		op->usable = 0;
		return 0;
	case BUDDY_OP_USABLE_SIZE:
		ret = buddy_kheap_usable(kh, op->offset, &usable);
		if (ret)
			return buddy_kheap_offset_error(ret, op);
		op->usable = usable;
		return 0;
	}
	if (ret)
		return ret;

	op->offset = offset;
	ret = buddy_heap_usable_size(&kh->core, offset, &usable);
	op->usable = ret ? 0 : usable;
	return 0;
}

/**
 * buddy_kheap_op() - run one operation: a single-operation ioctl
 * @kh: the heap
 * @op: the operation, as one of a BUDDY_IOC_BATCH; checked, then its out
 *	fields filled in
 *
 * The device layer maps BUDDY_IOC_MALLOC, CALLOC, MEMALIGN, FREE, REALLOC
 * and USABLE_SIZE to the operation a batch would carry; this runs it under
 * the heap's lock, like one operation of buddy_kheap_batch().  An offset
 * that is not the start of a live block fails with -EINVAL, @op->reason
 * saying why; the heap is then unchanged.  @op->result is not touched.
 *
 * Return: 0; -EINVAL for a malformed operation (unknown op or flags, a
 * field the operation does not use, an alignment that is not a power of
 * two) or a refused offset; -ENOMEM when the heap cannot hold the block
 * (cap, memcg, overflowing size; REALLOC leaves the block intact); -EINTR
 * for a fatal signal while waiting for the heap.
 */
int buddy_kheap_op(struct buddy_kheap *kh, struct buddy_op *op)
{
	int ret;

	if (mutex_lock_killable(&kh->lock))
		return -EINTR;
	ret = buddy_kheap_do_op(kh, op);
	mutex_unlock(&kh->lock);
	return ret;
}

/**
 * buddy_kheap_snapshot() - the heap's statistics, taken under its lock
 * @kh: the heap
 *
 * Return: a kmalloc'd snapshot for the caller to kfree(), or an ERR_PTR():
 * -ENOMEM, -EINTR (a fatal signal while waiting for the heap).
 */
struct buddy_stats *buddy_kheap_snapshot(struct buddy_kheap *kh)
{
	struct buddy_stats *st;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return ERR_PTR(-ENOMEM);
	if (mutex_lock_killable(&kh->lock)) {
		kfree(st);
		return ERR_PTR(-EINTR);
	}
	buddy_get_stats(&kh->core, st);
	mutex_unlock(&kh->lock);
	return st;
}

/*
 * Where each statistic of buddy_stat_list.h is in the core's snapshot and
 * in the STATS ioctl's struct: the copy goes by these, so a statistic
 * added to the list reaches userspace without another line here.
 */
#define BUDDY_STAT(name)	offsetof(struct buddy_stats, name),
static const u16 buddy_stat_core[] = {
#include "buddy_stat_list.h"
};

#undef BUDDY_STAT

#define BUDDY_STAT(name)	offsetof(struct buddy_heap_stats, name),
static const u16 buddy_stat_uapi[] = {
#include "buddy_stat_list.h"
};

#undef BUDDY_STAT

/**
 * buddy_kheap_stats() - BUDDY_IOC_STATS
 * @kh: the heap
 * @st: flags and reserved checked, then every field filled in
 *
 * Return: 0, -EINVAL for non-zero flags or reserved, -ENOMEM, -EINTR
 * (a fatal signal while waiting for the heap).
 */
int buddy_kheap_stats(struct buddy_kheap *kh, struct buddy_heap_stats *st)
{
	struct buddy_stats *cs;
	unsigned int i, n;

	BUILD_BUG_ON(BUDDY_MAX_ORDER + 1 > BUDDY_STATS_ORDERS);
	/*
	 * The list holds every u64 before largest_free_order, in the core's
	 * struct and in the uapi one (whose layout is the ABI).
	 */
	BUILD_BUG_ON(ARRAY_SIZE(buddy_stat_core) * sizeof(u64) !=
		     offsetof(struct buddy_stats, largest_free_order));
	BUILD_BUG_ON(ARRAY_SIZE(buddy_stat_uapi) * sizeof(__u64) !=
		     offsetof(struct buddy_heap_stats, largest_free_order) -
		     offsetof(struct buddy_heap_stats, heap_bytes));

	if (st->flags || st->reserved)
		return -EINVAL;

	cs = buddy_kheap_snapshot(kh);
	if (IS_ERR(cs))
		return PTR_ERR(cs);

	memset(st, 0, sizeof(*st));
	n = min_t(unsigned int, cs->nr_orders, BUDDY_STATS_ORDERS);
	st->nr_orders = n;
	for (i = 0; i < ARRAY_SIZE(buddy_stat_core); i++)
		*(__u64 *)((u8 *)st + buddy_stat_uapi[i]) =
			*(const u64 *)((const u8 *)cs + buddy_stat_core[i]);
	st->largest_free_order = cs->largest_free_order;
	for (i = 0; i < n; i++) {
		st->free_blocks[i] = cs->free_blocks[i];
		st->unusable_index[i] = cs->unusable_index[i];
		st->extfrag_index[i] = cs->extfrag_index[i];
	}
	kfree(cs);
	return 0;
}

/**
 * buddy_kheap_batch_check() - check a BUDDY_IOC_BATCH header
 * @batch: the header, before its operations are read
 *
 * @batch->op_size may exceed this kernel's struct buddy_op (a newer one;
 * its tail must then be zero), up to BUDDY_OP_SIZE_MAX, but not fall short
 * of it: the results are at its end.
 *
 * Return: 0, or -EINVAL for too many operations, an @batch->op_size out of
 * range, unknown flags or non-zero reserved fields.
 */
int buddy_kheap_batch_check(const struct buddy_batch *batch)
{
	if (batch->count > BUDDY_BATCH_MAX ||
	    batch->op_size < sizeof(struct buddy_op) ||
	    batch->op_size > BUDDY_OP_SIZE_MAX ||
	    (batch->flags & ~BUDDY_BATCH_STOP_ON_ERROR) || batch->reserved)
		return -EINVAL;
	return 0;
}

/**
 * buddy_kheap_batch() - BUDDY_IOC_BATCH on operations already in the kernel
 * @kh: the heap
 * @batch: the header (checked again here); @batch->done is set
 * @ops: @batch->count operations; each gets its result
 *
 * The operations run in order under one hold of the heap's lock.  With
 * BUDDY_BATCH_STOP_ON_ERROR the first failing one ends the batch (it is
 * counted in @batch->done and carries its error).  A fatal signal ends it
 * too, after the operations counted in @batch->done.
 *
 * Return: 0, -EINVAL for a malformed header, -EINTR for a fatal signal.
 */
int buddy_kheap_batch(struct buddy_kheap *kh, struct buddy_batch *batch,
		      struct buddy_op *ops)
{
	u32 i;
	int ret;

	ret = buddy_kheap_batch_check(batch);
	if (ret)
		return ret;

	batch->done = 0;
	if (mutex_lock_killable(&kh->lock))
		return -EINTR;
	for (i = 0; i < batch->count; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ops[i].result = buddy_kheap_do_op(kh, &ops[i]);
		batch->done = i + 1;
		if (ops[i].result && (batch->flags & BUDDY_BATCH_STOP_ON_ERROR))
			break;
		if ((i & 63) == 63)
			cond_resched();
	}
	mutex_unlock(&kh->lock);
	return ret;
}

/**
 * buddy_kheap_clone_check() - check BUDDY_IOC_CLONE arguments
 * @args: the arguments
 *
 * Return: 0, or -EINVAL for flags other than O_CLOEXEC or non-zero reserved.
 */
int buddy_kheap_clone_check(const struct buddy_clone_args *args)
{
	if ((args->flags & ~O_CLOEXEC) || args->reserved)
		return -EINVAL;
	return 0;
}

/*
 * The page array of the live chunk holding window @offset and, in *@index,
 * the index of @offset's page in it; NULL if no live chunk holds @offset.
 */
static struct buddy_pages *buddy_kheap_pages_at(struct buddy_kheap *kh,
						u64 offset,
						unsigned long *index)
{
	const struct buddy_chunk *c;

	if (offset >= kh->window_bytes)
		return NULL;
	c = buddy_chunk_at(&kh->core, offset);
	if (!c)
		return NULL;
	*index = (offset - c->offset) >> PAGE_SHIFT;
	return c->mem;
}

/*
 * Pages mapped per fault: the faulting one and the rest of its aligned
 * group of BUDDY_FAULT_AROUND pages that lie in live chunks (like the page
 * cache's fault-around; the memory is there anyway, only PTEs are added),
 * except pages a clone shares: those are copied only when touched.
 */
#define BUDDY_FAULT_AROUND	16

/* Best effort: map pages [first, last) of the file near a fault. */
static void buddy_kheap_fault_around(struct buddy_kheap *kh,
				     struct vm_area_struct *vma,
				     pgoff_t first, pgoff_t last, pgoff_t skip)
{
	pgoff_t vma_first = vma->vm_pgoff;
	pgoff_t vma_last = vma_first + vma_pages(vma);
	struct buddy_pages *bp;
	unsigned long i;
	pgoff_t pg;

	first = max(first, vma_first);
	last = min(last, vma_last);
	for (pg = first; pg < last; pg++) {
		if (pg == skip)
			continue;
		bp = buddy_kheap_pages_at(kh, (u64)pg << PAGE_SHIFT, &i);
		if (!bp || buddy_pages_shared(bp, i))
			continue;
		if (vm_insert_page(vma, vma->vm_start +
				   ((pg - vma_first) << PAGE_SHIFT),
				   bp->array->pages[i]) == -ENOMEM)
			break;
	}
}

/**
 * buddy_kheap_fault() - map the page under a faulting window address
 * @kh: the heap the mapping belongs to
 * @vmf: the fault, in a VM_MIXEDMAP mapping of the window at offset 0
 *
 * The page is inserted with vm_insert_page() (refcounted, so get_user_pages
 * works on it) with the heap's lock held, so a chunk cannot be released
 * between finding its page and mapping it: chunk_free zaps the chunk's
 * range under the same lock before freeing it.  Neighbouring pages of the
 * same live chunks are mapped too (BUDDY_FAULT_AROUND).
 *
 * A page shared with a clone is never mapped: the faulting heap first
 * swaps in a copy of its own, charged to its memcg, whether the access
 * reads or writes.  Copying on reads too costs memory only while a clone
 * lives; in exchange no page is ever mapped read-only, so the window needs
 * no write-notify (page_mkwrite), which would cost every heap, forked or
 * not, a second fault per page, and mprotect() cannot make a shared page
 * writable.  When the copy fails (the memcg at its limit) the fault gives
 * VM_FAULT_SIGBUS: VM_FAULT_OOM would retry the fault for ever.
 *
 * A fatal signal while waiting for the heap's lock gives VM_FAULT_SIGBUS:
 * the task is dying anyway (a kernel access gets -EFAULT), and returning
 * VM_FAULT_RETRY would mean dropping the mmap or VMA lock ourselves.
 *
 * Return: VM_FAULT_NOPAGE once mapped, VM_FAULT_SIGBUS for offsets outside
 * live chunks, a fatal signal or a failed copy, VM_FAULT_OOM.
 */
vm_fault_t buddy_kheap_fault(struct buddy_kheap *kh, struct vm_fault *vmf)
{
	vm_fault_t ret = VM_FAULT_SIGBUS;
	pgoff_t pgoff = vmf->pgoff;
	struct buddy_pages *bp;
	unsigned long i;
	int err;

	if (pgoff >= kh->window_bytes >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;

	if (mutex_lock_killable(&kh->lock))
		return VM_FAULT_SIGBUS;
	bp = buddy_kheap_pages_at(kh, (u64)pgoff << PAGE_SHIFT, &i);
	if (bp && !buddy_pages_unshare(bp, i, kh->memcg)) {
		err = vm_insert_page(vmf->vma, vmf->address, bp->array->pages[i]);
		if (!err || err == -EBUSY)	/* -EBUSY: another thread won */
			ret = VM_FAULT_NOPAGE;
		else if (err == -ENOMEM)
			ret = VM_FAULT_OOM;
	}
	if (ret == VM_FAULT_NOPAGE) {
		pgoff_t first = round_down(pgoff, BUDDY_FAULT_AROUND);

		buddy_kheap_fault_around(kh, vmf->vma, first,
					 first + BUDDY_FAULT_AROUND, pgoff);
	}
	mutex_unlock(&kh->lock);
	return ret;
}
