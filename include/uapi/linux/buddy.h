/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/buddy - a kernel-side buddy allocator that a process lives on.
 *
 * Each open of /dev/buddy is a heap of its own.  The process maps the heap's
 * window once:
 *
 *	base = mmap(NULL, info.window_bytes, PROT_READ | PROT_WRITE,
 *		    MAP_SHARED, fd, 0);
 *
 * (aligned to info.window_bytes, so that every block is naturally aligned
 * in absolute terms) and then asks for blocks with the ioctls below.  The
 * ioctls speak in offsets into the window: a block lives at base + offset.
 * The heap's bookkeeping lives in the kernel, out of the process's reach.
 *
 * Rules for every ioctl: fields marked "in" are read, "out" are written;
 * reserved fields and flags not defined here must be zero (else -EINVAL).
 * Unknown commands fail with -ENOTTY.  Structures may grow at their end in
 * later ABI versions; the kernel accepts longer (newer) ones as long as
 * what it does not know is zero (else -E2BIG), and shorter ones down to
 * the end of the last "out" field the command fills in (else -EINVAL):
 * INFO through heap_id, FREE through reason, BATCH through done, CLONE
 * through fd, the others whole.
 *
 * Commands that change the heap first write the caller's bytes back: an
 * argument that can be read but not written is -EFAULT with the heap
 * unchanged.  (Should the caller unmap it during the call, a MALLOC,
 * CALLOC or MEMALIGN is undone and a CLONE discarded; a FREE, REALLOC or
 * BATCH stays done, its result lost.)  A fatal signal while waiting for
 * the heap gives -EINTR.  Growth beyond the per-heap cap, the bound on all
 * heaps of the opener's user (module parameter max_user_bytes) or the
 * opener's memory cgroup gives -ENOMEM.
 */
#ifndef _UAPI_LINUX_BUDDY_H
#define _UAPI_LINUX_BUDDY_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BUDDY_ABI_VERSION	1

/* Entries in the per-order arrays of struct buddy_heap_stats. */
#define BUDDY_STATS_ORDERS	40

/* Most operations one BUDDY_IOC_BATCH call takes. */
#define BUDDY_BATCH_MAX		1024

/* struct buddy_info.features */
#define BUDDY_FEATURE_BATCH	(1ULL << 0)
#define BUDDY_FEATURE_CLONE	(1ULL << 1)
#define BUDDY_FEATURE_DEBUGFS	(1ULL << 2)

/*
 * Allocation flags (struct buddy_alloc_args, buddy_block_args, buddy_op),
 * spelt as in buddy_core.h so the module can include both headers.
 */
#define BUDDY_ALLOC_ZERO	0x1u	/* zero the block's usable size */

/*
 * Why an offset was refused (struct buddy_block_args.reason and
 * struct buddy_op.reason, set alongside -EINVAL).
 */
#define BUDDY_REASON_NONE		0
#define BUDDY_REASON_OUTSIDE		1	/* not in the heap */
#define BUDDY_REASON_NOT_BLOCK_START	2	/* inside a block, not its start */
#define BUDDY_REASON_ALREADY_FREE	3	/* in a free block: double free */

/**
 * struct buddy_info - BUDDY_IOC_INFO
 * @abi_version:	out: BUDDY_ABI_VERSION
 * @grain_shift:	out: log2 of the smallest block (16 bytes: 4)
 * @max_order:		out: largest block is 1 << (grain_shift + max_order)
 * @batch_max:		out: BUDDY_BATCH_MAX
 * @window_bytes:	out: length to mmap; align the mapping to it
 * @cap_bytes:		out: most bytes this heap may hold
 * @features:		out: BUDDY_FEATURE_*
 * @heap_id:		out: names this heap in debugfs (buddy/<pid>-<heap_id>)
 * @reserved:		must be zero
 */
struct buddy_info {
	__u32 abi_version;
	__u32 grain_shift;
	__u32 max_order;
	__u32 batch_max;
	__u64 window_bytes;
	__u64 cap_bytes;
	__u64 features;
	__u64 heap_id;
	__u64 reserved[2];
};

/**
 * struct buddy_alloc_args - BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC, BUDDY_IOC_MEMALIGN
 * @size:	in: bytes wanted (CALLOC: bytes per element)
 * @nmemb:	in: CALLOC: element count (product overflow: -ENOMEM);
 *		otherwise must be zero
 * @align:	in: MEMALIGN: a power of two; otherwise must be zero
 * @flags:	in: BUDDY_ALLOC_ZERO (CALLOC zeroes anyway)
 * @reserved:	must be zero
 * @offset:	out: the block's offset in the window
 * @usable:	out: the block's usable size (a power of two >= 16)
 */
struct buddy_alloc_args {
	__u64 size;
	__u64 nmemb;
	__u64 align;
	__u32 flags;
	__u32 reserved;
	__u64 offset;
	__u64 usable;
};

/**
 * struct buddy_block_args - BUDDY_IOC_FREE, BUDDY_IOC_REALLOC, BUDDY_IOC_USABLE_SIZE
 * @offset:	in: start of a live block
 * @size:	in: REALLOC: new size; otherwise must be zero
 * @flags:	in: REALLOC: BUDDY_ALLOC_ZERO zeroes what the block gains;
 *		otherwise must be zero
 * @reason:	must be zero in; out: BUDDY_REASON_* when @offset is refused
 * @new_offset:	out: REALLOC: where the block is now (contents kept up to
 *		the smaller size; the old block is intact on failure)
 * @usable:	out: REALLOC, USABLE_SIZE: the block's usable size
 */
struct buddy_block_args {
	__u64 offset;
	__u64 size;
	__u32 flags;
	__u32 reason;
	__u64 new_offset;
	__u64 usable;
};

/* struct buddy_op.op */
#define BUDDY_OP_MALLOC		1
#define BUDDY_OP_CALLOC		2
#define BUDDY_OP_MEMALIGN	3
#define BUDDY_OP_REALLOC	4
#define BUDDY_OP_FREE		5
#define BUDDY_OP_USABLE_SIZE	6

/**
 * struct buddy_op - one operation of a BUDDY_IOC_BATCH
 * @op:		in: BUDDY_OP_*
 * @flags:	in: as for the single ioctl
 * @offset:	in: FREE, REALLOC, USABLE_SIZE: the block; must be zero for
 *		the others.  out: the resulting block (MALLOC, CALLOC,
 *		MEMALIGN, REALLOC)
 * @size:	in: as for the single ioctl
 * @arg:	in: MEMALIGN: alignment; CALLOC: element count; otherwise zero
 * @usable:	out: usable size of the resulting block
 * @result:	out: 0 or a negative errno, as the single ioctl would return
 * @reason:	must be zero in; out: BUDDY_REASON_* with -EINVAL
 */
struct buddy_op {
	__u32 op;
	__u32 flags;
	__u64 offset;
	__u64 size;
	__u64 arg;
	__u64 usable;
	__s32 result;
	__u32 reason;
};

/* struct buddy_batch.flags */
#define BUDDY_BATCH_STOP_ON_ERROR	(1U << 0)

/**
 * struct buddy_batch - BUDDY_IOC_BATCH: many operations in one call
 * @ops:	in: user pointer to @count struct buddy_op
 * @count:	in: number of operations, at most BUDDY_BATCH_MAX
 * @op_size:	in: sizeof(struct buddy_op) as the caller knows it: at least
 *		this version's (48), at most 4096; the kernel reads a longer
 *		one's tail as zero (else -E2BIG) and writes results back at
 *		this stride
 * @flags:	in: BUDDY_BATCH_*
 * @done:	out: operations carried out (each has its @result set)
 * @reserved:	must be zero
 *
 * Operations run in order under one lock.  The call returns 0 once every
 * operation was tried (each reports its own result), or stops early at the
 * first failing one with BUDDY_BATCH_STOP_ON_ERROR; -EFAULT if @ops cannot
 * be read or written.
 */
struct buddy_batch {
	__u64 ops;
	__u32 count;
	__u32 op_size;
	__u32 flags;
	__u32 done;
	__u64 reserved;
};

/**
 * struct buddy_heap_stats - BUDDY_IOC_STATS
 * @flags:		must be zero
 * @nr_orders:		out: entries used in the per-order arrays
 * @heap_bytes:		out: bytes in the heap's chunks
 * @peak_heap_bytes:	out: largest @heap_bytes so far
 * @bytes_in_use:	out: bytes in allocated blocks
 * @peak_bytes_in_use:	out: largest @bytes_in_use so far
 * @bytes_free:		out: bytes in free blocks
 * @bytes_requested_total: out: bytes asked for over the heap's life
 * @bytes_granted_total: out: block bytes handed out over the heap's life
 * @meta_bytes:		out: kernel bytes of out-of-band metadata
 * @live_blocks:	out: allocated blocks
 * @nr_chunks:		out: chunks in the heap
 * @nr_allocs:		out: successful allocations (any kind)
 * @nr_frees:		out: successful frees
 * @nr_reallocs:	out: successful reallocs
 * @nr_grows:		out: chunks added
 * @nr_shrinks:		out: chunks given back
 * @nr_failed:		out: failed operations
 * @largest_free_order:	out: order of the largest free block, -1 if none
 * @reserved:		must be zero
 * @free_blocks:	out: free blocks per order, like /proc/buddyinfo
 * @unusable_index:	out: per order, unusable free space index x 1000
 * @extfrag_index:	out: per order, external fragmentation index x 1000
 *			(-1000: an allocation of that order would succeed)
 */
struct buddy_heap_stats {
	__u32 flags;
	__u32 nr_orders;
	__u64 heap_bytes;
	__u64 peak_heap_bytes;
	__u64 bytes_in_use;
	__u64 peak_bytes_in_use;
	__u64 bytes_free;
	__u64 bytes_requested_total;
	__u64 bytes_granted_total;
	__u64 meta_bytes;
	__u64 live_blocks;
	__u64 nr_chunks;
	__u64 nr_allocs;
	__u64 nr_frees;
	__u64 nr_reallocs;
	__u64 nr_grows;
	__u64 nr_shrinks;
	__u64 nr_failed;
	__s32 largest_free_order;
	__u32 reserved;
	__u64 free_blocks[BUDDY_STATS_ORDERS];
	__s32 unusable_index[BUDDY_STATS_ORDERS];
	__s32 extfrag_index[BUDDY_STATS_ORDERS];
};

/**
 * struct buddy_clone_args - BUDDY_IOC_CLONE: copy this heap into a new one
 * @flags:	in: O_CLOEXEC or 0
 * @fd:		out: a new /dev/buddy file holding a copy of the heap (same
 *		offsets, same contents, as they were when CLONE began);
 *		map it like the original.  The copy shares the heap's
 *		pages copy-on-write.
 * @reserved:	must be zero
 */
struct buddy_clone_args {
	__u32 flags;
	__s32 fd;
	__u64 reserved;
};

#define BUDDY_IOC_MAGIC		'J'

#define BUDDY_IOC_INFO		_IOWR(BUDDY_IOC_MAGIC, 0x00, struct buddy_info)
#define BUDDY_IOC_MALLOC	_IOWR(BUDDY_IOC_MAGIC, 0x01, struct buddy_alloc_args)
#define BUDDY_IOC_CALLOC	_IOWR(BUDDY_IOC_MAGIC, 0x02, struct buddy_alloc_args)
#define BUDDY_IOC_MEMALIGN	_IOWR(BUDDY_IOC_MAGIC, 0x03, struct buddy_alloc_args)
#define BUDDY_IOC_FREE		_IOWR(BUDDY_IOC_MAGIC, 0x04, struct buddy_block_args)
#define BUDDY_IOC_REALLOC	_IOWR(BUDDY_IOC_MAGIC, 0x05, struct buddy_block_args)
#define BUDDY_IOC_USABLE_SIZE	_IOWR(BUDDY_IOC_MAGIC, 0x06, struct buddy_block_args)
#define BUDDY_IOC_STATS		_IOWR(BUDDY_IOC_MAGIC, 0x07, struct buddy_heap_stats)
#define BUDDY_IOC_BATCH		_IOWR(BUDDY_IOC_MAGIC, 0x08, struct buddy_batch)
#define BUDDY_IOC_CLONE		_IOWR(BUDDY_IOC_MAGIC, 0x09, struct buddy_clone_args)

#endif /* _UAPI_LINUX_BUDDY_H */
