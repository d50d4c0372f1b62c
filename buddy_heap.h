/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_heap - the kernel side of one /dev/buddy heap.
 *
 * A struct buddy_kheap wraps a struct buddy_heap from the core with what the
 * kernel needs around it: a mutex, chunks of pages (buddy_pages.c, shared
 * with clones) charged to the caller's memcg, the address_space whose user
 * mappings are zapped before a chunk goes back or a clone shares it, and a
 * debugfs directory (buddy_debugfs.c).  Every request is
 * a plain function here taking kernel copies of the uapi structs, so the
 * KUnit suites can drive the device logic without a file.  The heap knows
 * operations, not ioctl commands: buddy_kmod.c decodes each command once,
 * maps the single-block ones to the struct buddy_op a BUDDY_IOC_BATCH would
 * carry (buddy_kheap_op()), copies to and from user memory and owns the
 * misc device, the mmap and the pseudo filesystem.
 */
#ifndef _BUDDY_HEAP_H
#define _BUDDY_HEAP_H

#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <linux/buddy.h>

#include "buddy_core.h"

struct dentry;
struct inode;
struct mem_cgroup;

/**
 * struct buddy_kheap_params - limits for a new heap (module parameters)
 * @cap_bytes: most chunk bytes the heap may hold.
 * @min_chunk_bytes: first chunk and smallest growth step; a power of two,
 *	at least PAGE_SIZE.
 * @low_water_bytes: wholly free chunks go back to the kernel only while the
 *	heap keeps at least this much.
 * @defer_depth: the core's deferred coalescing, 0 (off) to
 *	BUDDY_DEFER_DEPTH: see buddy_heap_set_defer_depth().
 * @trim_block_bytes: 0, or the smallest block trimmed to its request
 *	rounded up to BUDDY_TRIM_UNIT (a power of two, more than
 *	BUDDY_TRIM_UNIT): the core's cfg.trim_order.
 * @debugfs_root: directory for the heap's debugfs files, or NULL/ERR_PTR
 *	for none.
 * @user_limit: most chunk and metadata bytes all heaps created by one
 *	user (real uid) may hold together, read at every charge (a writable
 *	module parameter); NULL for no per-user accounting (tests).
 */
struct buddy_kheap_params {
	u64 cap_bytes;
	u64 min_chunk_bytes;
	u64 low_water_bytes;
	unsigned int defer_depth;
	u64 trim_block_bytes;
	struct dentry *debugfs_root;
	const u64 *user_limit;
};

struct buddy_user;

/* Largest struct buddy_op (BATCH op_size) accepted from a newer caller. */
#define BUDDY_OP_SIZE_MAX	4096

/**
 * struct buddy_kheap - one heap, the private data of one /dev/buddy file
 * @lock: serialises every use of @core (ioctls, faults, debugfs).
 * @core: the allocator; its chunks are page arrays, its metadata kvmalloc'd.
 * @params: the limits it was made with.
 * @window_bytes: size of the mmap window (BUDDY_GRAIN << max_order).
 * @id: unique number, names the debugfs directory.
 * @tgid: thread group that created the heap.
 * @inode: the heap's own inode (set by the device layer, may be NULL); user
 *	mappings of the heap live in @inode->i_mapping, and the range of a
 *	chunk is unmapped there before the chunk is freed.
 * @nr_vmas: user mappings currently referring to the heap.
 * @debugfs: the heap's debugfs directory (NULL or ERR_PTR if none).
 * @user: the user every chunk and its metadata are charged to (the one
 *	that opened or cloned the heap), NULL without per-user accounting.
 * @memcg: the memory cgroup every chunk and its metadata are charged to
 *	(the opener's or cloner's, referenced; NULL without memcg).
 * @clone_aborted: a fatal signal stopped buddy_kheap_clone() filling the
 *	heap; it is discarded.
 */
struct buddy_kheap {
	struct mutex lock;		/* serialises core, faults, debugfs */
	struct buddy_heap core;
	struct buddy_kheap_params params;
	u64 window_bytes;
	u64 id;
	pid_t tgid;
	struct inode *inode;
	atomic_t nr_vmas;
	struct dentry *debugfs;
	struct buddy_user *user;
	struct mem_cgroup *memcg;
	bool clone_aborted;
};

/*
 * Module parameter checking, shared with the tests: returns 0 when @p
 * describes a usable heap geometry, -EINVAL otherwise.
 */
int buddy_kheap_check_params(const struct buddy_kheap_params *p);

struct buddy_kheap *buddy_kheap_create(const struct buddy_kheap_params *p,
				       struct inode *inode);
struct buddy_kheap *buddy_kheap_clone(struct buddy_kheap *src,
				      struct inode *inode);
void buddy_kheap_destroy(struct buddy_kheap *kh);

int buddy_kheap_info(struct buddy_kheap *kh, struct buddy_info *info);
int buddy_kheap_op(struct buddy_kheap *kh, struct buddy_op *op);
int buddy_kheap_stats(struct buddy_kheap *kh, struct buddy_heap_stats *st);
struct buddy_stats *buddy_kheap_snapshot(struct buddy_kheap *kh);
int buddy_kheap_batch_check(const struct buddy_batch *batch);
int buddy_kheap_batch(struct buddy_kheap *kh, struct buddy_batch *batch,
		      struct buddy_op *ops);
int buddy_kheap_clone_check(const struct buddy_clone_args *args);
s64 buddy_kheap_user_bytes(const struct buddy_kheap *kh);

vm_fault_t buddy_kheap_fault(struct buddy_kheap *kh, struct vm_fault *vmf);

#endif /* _BUDDY_HEAP_H */
