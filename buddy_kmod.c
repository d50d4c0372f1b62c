// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_kmod - /dev/buddy: a buddy allocator heap per open file.
 *
 * Each open of /dev/buddy makes a heap (buddy_heap.c); release gives every
 * page and all metadata back.  The process maps the heap's window once with
 * MAP_SHARED at offset 0; pages are inserted lazily by the fault handler
 * from the heap's chunks of pages, so the heap can grow without remapping
 * and an offset outside the live chunks raises SIGBUS.  The ioctls of
 * include/uapi/linux/buddy.h speak in window offsets.
 *
 * Every heap has its own inode from a small pseudo filesystem (as DRM does
 * for its devices) and the file's f_mapping points at it: before a chunk
 * is freed, its range is unmapped from exactly that heap's mappings.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/nospec.h>
#include <linux/pseudo_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "buddy_compat.h"
#include "buddy_heap.h"

static unsigned long long max_heap_bytes = SZ_1G;
module_param(max_heap_bytes, ullong, 0444);
MODULE_PARM_DESC(max_heap_bytes,
		 "Most bytes one heap may hold; the mmap window is this rounded up to a power of two (default 1 GiB)");

static unsigned long long min_chunk_bytes = SZ_64K;
module_param(min_chunk_bytes, ullong, 0444);
MODULE_PARM_DESC(min_chunk_bytes,
		 "First chunk and smallest growth step of a heap; a power of two >= PAGE_SIZE (default 64 KiB)");

static unsigned long long low_water_bytes = SZ_1M;
module_param(low_water_bytes, ullong, 0444);
MODULE_PARM_DESC(low_water_bytes,
		 "Wholly free chunks go back to the kernel only while a heap keeps at least this much (default 1 MiB)");

/* Read at each open; a value out of range is refused, at load too. */
static int defer_depth_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, BUDDY_DEFER_DEPTH);
}

static const struct kernel_param_ops defer_depth_ops = {
	.set = defer_depth_set,
	.get = param_get_uint,
};

static unsigned int defer_depth = BUDDY_DEFER_DEPTH;
module_param_cb(defer_depth, &defer_depth_ops, &defer_depth, 0644);
MODULE_PARM_DESC(defer_depth,
		 "Deferred coalescing: freed blocks of up to 4 KiB a new heap holds back per size, unmerged, for the next allocation; 0 (off) to 16 (default 16); root may change it at any time");

static unsigned long long trim_block_bytes = SZ_8K;
module_param(trim_block_bytes, ullong, 0444);
MODULE_PARM_DESC(trim_block_bytes,
		 "Allocations that need a block of this size or more hold only their size rounded up to 256 B, the rest of the block going back to the heap; a power of two > 256, or 0 for whole power-of-two blocks (default 8 KiB)");

static unsigned long long max_user_bytes;
module_param(max_user_bytes, ullong, 0644);
MODULE_PARM_DESC(max_user_bytes,
		 "Most bytes all heaps opened or cloned by one user may hold together; root may change it at any time (default at load: half of RAM)");

static struct buddy_kheap_params buddy_params __ro_after_init;

/* The pseudo filesystem holding one inode per heap. */
#define BUDDY_FS_MAGIC	0x62756479	/* "budy" */

static struct vfsmount *buddy_mnt;
static int buddy_mnt_count;

static int buddy_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, BUDDY_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type buddy_fs_type = {
	.name		= "buddy",
	.owner		= THIS_MODULE,
	.init_fs_context = buddy_fs_init_fs_context,
	.kill_sb	= kill_anon_super,
};

static struct inode *buddy_inode_new(void)
{
	struct inode *inode;
	int ret;

	ret = simple_pin_fs(&buddy_fs_type, &buddy_mnt, &buddy_mnt_count);
	if (ret)
		return ERR_PTR(ret);
	inode = alloc_anon_inode(buddy_mnt->mnt_sb);
	if (IS_ERR(inode))
		simple_release_fs(&buddy_mnt, &buddy_mnt_count);
	return inode;
}

static void buddy_inode_put(struct inode *inode)
{
	iput(inode);
	simple_release_fs(&buddy_mnt, &buddy_mnt_count);
}

/* Mappings of the window */

static void buddy_vm_open(struct vm_area_struct *vma)
{
	struct buddy_kheap *kh = vma->vm_file->private_data;

	atomic_inc(&kh->nr_vmas);
}

static void buddy_vm_close(struct vm_area_struct *vma)
{
	struct buddy_kheap *kh = vma->vm_file->private_data;

	atomic_dec(&kh->nr_vmas);
}

static vm_fault_t buddy_vm_fault(struct vm_fault *vmf)
{
	return buddy_kheap_fault(vmf->vma->vm_file->private_data, vmf);
}

static const struct vm_operations_struct buddy_vm_ops = {
	.open	= buddy_vm_open,
	.close	= buddy_vm_close,
	.fault	= buddy_vm_fault,
};

static int buddy_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct buddy_kheap *kh = file->private_data;

	/*
	 * MAP_PRIVATE would copy pages the kernel may later change or free.
	 * VM_MAYSHARE, not VM_SHARED: do_mmap() clears VM_SHARED (and
	 * VM_MAYWRITE) for a MAP_SHARED mapping of a file not open for
	 * writing, which is then a read-only view of the heap.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > kh->window_bytes)
		return -EINVAL;

	/*
	 * VM_DONTEXPAND: mremap() may not grow it.  VM_MIXEDMAP: the fault
	 * handler inserts refcounted pages itself, under the heap's lock.
	 * VM_DONTCOPY: a child forked without asking for a copy of the heap
	 * (BUDDY_IOC_CLONE) must not silently allocate in and write to its
	 * parent's; it inherits the fd and may map the heap again on purpose
	 * (or the owner may madvise(MADV_DOFORK) the window).
	 */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_MIXEDMAP |
		     VM_DONTCOPY);
	vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_ops = &buddy_vm_ops;
	atomic_inc(&kh->nr_vmas);
	return 0;
}

/* Files */

static int buddy_open(struct inode *inode, struct file *file)
{
	struct buddy_kheap_params p = buddy_params;
	struct buddy_kheap *kh;
	struct inode *hinode;

	hinode = buddy_inode_new();
	if (IS_ERR(hinode))
		return PTR_ERR(hinode);

	p.defer_depth = READ_ONCE(defer_depth);
	kh = buddy_kheap_create(&p, hinode);
	if (IS_ERR(kh)) {
		buddy_inode_put(hinode);
		return PTR_ERR(kh);
	}
	/* The misc core left the miscdevice here; the heap replaces it. */
	file->private_data = kh;
	file->f_mapping = hinode->i_mapping;
	return 0;
}

static int buddy_release(struct inode *inode, struct file *file)
{
	struct buddy_kheap *kh = file->private_data;
	struct inode *hinode = kh->inode;

	buddy_kheap_destroy(kh);
	buddy_inode_put(hinode);
	return 0;
}

static const struct file_operations buddy_fops;

/*
 * BUDDY_IOC_CLONE: a new file with its own inode and a copy of the heap.
 * The fd is installed only once nothing can fail any more.
 */
static int buddy_ioctl_clone(struct buddy_kheap *kh,
			     struct buddy_clone_args *args,
			     void __user *uarg, size_t usize)
{
	struct buddy_kheap *nkh;
	struct inode *hinode;
	struct file *nfile;
	int fd, ret;

	ret = buddy_kheap_clone_check(args);
	if (ret)
		return ret;

	hinode = buddy_inode_new();
	if (IS_ERR(hinode))
		return PTR_ERR(hinode);

	nkh = buddy_kheap_clone(kh, hinode);
	if (IS_ERR(nkh)) {
		ret = PTR_ERR(nkh);
		goto err_inode;
	}

	fd = get_unused_fd_flags(args->flags);
	if (fd < 0) {
		ret = fd;
		goto err_heap;
	}

	/*
	 * The file's dentry takes one inode reference, the heap keeps its
	 * own (dropped in buddy_release() like for an opened file).  The
	 * file drops a module reference on its last fput().
	 */
	ihold(hinode);
	__module_get(THIS_MODULE);
	nfile = alloc_file_pseudo(hinode, buddy_mnt, "buddy", O_RDWR,
				  &buddy_fops);
	if (IS_ERR(nfile)) {
		ret = PTR_ERR(nfile);
		module_put(THIS_MODULE);
		iput(hinode);
		goto err_fd;
	}
	nfile->private_data = nkh;

	args->fd = fd;
	if (copy_to_user(uarg, args, min(sizeof(*args), usize))) {
		fput(nfile);	/* buddy_release() frees heap and inode */
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, nfile);
	return 0;

err_fd:
	put_unused_fd(fd);
err_heap:
	buddy_kheap_destroy(nkh);
err_inode:
	buddy_inode_put(hinode);
	return ret;
}

/*
 * Read @batch's operations into @ops.  An op_size other than this kernel's
 * struct buddy_op is read with copy_struct_from_user()'s rules, one
 * operation at a time (a longer one must have a zero tail).  Then write
 * them back unchanged, so a result that cannot be returned is -EFAULT
 * before any operation ran.
 */
static int buddy_batch_read(const struct buddy_batch *batch,
			    struct buddy_op *ops)
{
	u8 __user *uops = u64_to_user_ptr(batch->ops);
	size_t n = batch->count, usize = batch->op_size;
	size_t i;
	int ret;

	if (usize == sizeof(*ops)) {
		if (copy_from_user(ops, uops, n * sizeof(*ops)) ||
		    copy_to_user(uops, ops, n * sizeof(*ops)))
			return -EFAULT;
		return 0;
	}
	for (i = 0; i < n; i++) {
		ret = copy_struct_from_user(&ops[i], sizeof(*ops),
					    uops + i * usize, usize);
		if (ret)
			return ret;
		if (copy_to_user(uops + i * usize, &ops[i], sizeof(*ops)))
			return -EFAULT;
	}
	return 0;
}

/* Give every operation carried out its result, at the caller's stride. */
static int buddy_batch_write(const struct buddy_batch *batch,
			     const struct buddy_op *ops)
{
	u8 __user *uops = u64_to_user_ptr(batch->ops);
	size_t usize = batch->op_size;
	size_t i;

	if (usize == sizeof(*ops))
		return copy_to_user(uops, ops, batch->done * sizeof(*ops)) ?
		       -EFAULT : 0;
	for (i = 0; i < batch->done; i++)
		if (copy_to_user(uops + i * usize, &ops[i], sizeof(*ops)))
			return -EFAULT;
	return 0;
}

static int buddy_ioctl_batch(struct buddy_kheap *kh, struct buddy_batch *batch)
{
	struct buddy_op *ops;
	int ret;

	ret = buddy_kheap_batch_check(batch);
	if (ret)
		return ret;
	if (!batch->count) {
		batch->done = 0;
		return 0;
	}

	/* A failure is the caller's -ENOMEM, not a warning in the kernel log. */
	ops = kvmalloc_array(batch->count, sizeof(*ops),
			     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!ops)
		return -ENOMEM;
	ret = buddy_batch_read(batch, ops);
	if (ret)
		goto out;
	ret = buddy_kheap_batch(kh, batch, ops);
	if (!ret)
		ret = buddy_batch_write(batch, ops);
out:
	kvfree(ops);
	return ret;
}

/*
 * BUDDY_IOC_MALLOC, CALLOC and MEMALIGN: the operation a batch would carry.
 * CALLOC's element count and MEMALIGN's alignment go in its arg; the
 * fields a command has no use for must be zero, as must the reserved one.
 */
static int buddy_ioctl_alloc(struct buddy_kheap *kh, u32 opcode,
			     struct buddy_alloc_args *args,
			     void __user *uarg, size_t len)
{
	bool calloc = opcode == BUDDY_OP_CALLOC;
	struct buddy_op op = {
		.op = opcode,
		.flags = args->flags,
		.size = args->size,
		.arg = calloc ? args->nmemb : args->align,
	};
	int ret;

	if (args->reserved || (calloc ? args->align : args->nmemb) ||
	    (opcode == BUDDY_OP_MALLOC && args->align))
		return -EINVAL;
	ret = buddy_kheap_op(kh, &op);
	if (ret)
		return ret;
	args->offset = op.offset;
	args->usable = op.usable;
	if (copy_to_user(uarg, args, len)) {
		/* The caller cannot learn the offset: take it back. */
		struct buddy_op undo = {
			.op = BUDDY_OP_FREE,
			.offset = op.offset,
		};

		buddy_kheap_op(kh, &undo);
		return -EFAULT;
	}
	return 0;
}

/*
 * BUDDY_IOC_FREE, REALLOC and USABLE_SIZE: the operation a batch would
 * carry.  A refused offset is reported with its reason: @args goes back
 * to the caller with -EINVAL too.
 */
static int buddy_ioctl_block(struct buddy_kheap *kh, u32 opcode,
			     struct buddy_block_args *args,
			     void __user *uarg, size_t len)
{
	struct buddy_op op = {
		.op = opcode,
		.flags = args->flags,
		.offset = args->offset,
		.size = args->size,
		.reason = args->reason,
	};
	int ret;

	ret = buddy_kheap_op(kh, &op);
	args->reason = op.reason;
	if (ret && !(ret == -EINVAL && op.reason))
		return ret;
	if (!ret && opcode == BUDDY_OP_REALLOC)
		args->new_offset = op.offset;
	if (!ret && opcode != BUDDY_OP_FREE)
		args->usable = op.usable;
	if (copy_to_user(uarg, args, len))
		return -EFAULT;
	return ret;
}

union buddy_ioc_args {
	struct buddy_info info;
	struct buddy_alloc_args alloc;
	struct buddy_block_args block;
	struct buddy_heap_stats stats;
	struct buddy_batch batch;
	struct buddy_clone_args clone;
};

/**
 * struct buddy_ioc_cmd - what buddy_ioctl() checks before running a command
 * @size: the command's struct as this kernel knows it.
 * @min_size: the shortest one it accepts: the first ABI version's struct up
 *	to the end of the last field the command writes back (a caller that
 *	cannot receive the offset or the fd would leak the block or the heap).
 * @writes: the command changes the heap, so the caller's bytes are written
 *	back before it runs.
 */
struct buddy_ioc_cmd {
	unsigned short size;
	unsigned short min_size;
	bool writes;
};

/* @cmd's entry: its struct @type, accepted down to the end of @last. */
#define BUDDY_IOC_CMD(cmd, type, last, writes_heap)			\
	[_IOC_NR(cmd)] = {						\
		.size = sizeof(type),					\
		.min_size = offsetofend(type, last),			\
		.writes = writes_heap,					\
	}

static const struct buddy_ioc_cmd buddy_ioc_cmds[] = {
	BUDDY_IOC_CMD(BUDDY_IOC_INFO, struct buddy_info, heap_id, false),
	BUDDY_IOC_CMD(BUDDY_IOC_MALLOC, struct buddy_alloc_args, usable, true),
	BUDDY_IOC_CMD(BUDDY_IOC_CALLOC, struct buddy_alloc_args, usable, true),
	BUDDY_IOC_CMD(BUDDY_IOC_MEMALIGN, struct buddy_alloc_args, usable, true),
	BUDDY_IOC_CMD(BUDDY_IOC_FREE, struct buddy_block_args, reason, true),
	BUDDY_IOC_CMD(BUDDY_IOC_REALLOC, struct buddy_block_args, usable, true),
	BUDDY_IOC_CMD(BUDDY_IOC_USABLE_SIZE, struct buddy_block_args, usable,
		      false),
	BUDDY_IOC_CMD(BUDDY_IOC_STATS, struct buddy_heap_stats, extfrag_index,
		      false),
	BUDDY_IOC_CMD(BUDDY_IOC_BATCH, struct buddy_batch, done, true),
	BUDDY_IOC_CMD(BUDDY_IOC_CLONE, struct buddy_clone_args, fd, true),
};

/*
 * Commands are matched on type and number; the size in the command is the
 * caller's struct size: below the command's min_size it is -EINVAL, shorter
 * structs are zero-extended, longer ones must have a zero tail
 * (copy_struct_from_user()), and min(size) is copied back.  Commands that
 * change the heap first write the caller's own bytes back, so a struct the
 * kernel can read but not write fails with -EFAULT before anything
 * changed.  No user memory is touched with the heap's lock held: the fault
 * handler takes that lock under mmap_lock.
 *
 * The command is decoded here, once: the single-block ones become the
 * struct buddy_op a BUDDY_IOC_BATCH would carry, so the heap only ever
 * sees operations.
 */
static long buddy_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct buddy_kheap *kh = file->private_data;
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);
	const struct buddy_ioc_cmd *c;
	union buddy_ioc_args k;
	unsigned int nr = _IOC_NR(cmd);
	size_t len;
	int ret;

	if (_IOC_TYPE(cmd) != BUDDY_IOC_MAGIC ||
	    _IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) ||
	    nr >= ARRAY_SIZE(buddy_ioc_cmds))
		return -ENOTTY;
	nr = array_index_nospec(nr, ARRAY_SIZE(buddy_ioc_cmds));
	c = &buddy_ioc_cmds[nr];
	if (usize < c->min_size)
		return -EINVAL;

	ret = copy_struct_from_user(&k, c->size, uarg, usize);
	if (ret)
		return ret;
	len = min_t(size_t, c->size, usize);
	if (c->writes && copy_to_user(uarg, &k, len))
		return -EFAULT;

	switch (nr) {
	case _IOC_NR(BUDDY_IOC_INFO):
		ret = buddy_kheap_info(kh, &k.info);
		break;
	case _IOC_NR(BUDDY_IOC_MALLOC):
		return buddy_ioctl_alloc(kh, BUDDY_OP_MALLOC, &k.alloc, uarg, len);
	case _IOC_NR(BUDDY_IOC_CALLOC):
		return buddy_ioctl_alloc(kh, BUDDY_OP_CALLOC, &k.alloc, uarg, len);
	case _IOC_NR(BUDDY_IOC_MEMALIGN):
		return buddy_ioctl_alloc(kh, BUDDY_OP_MEMALIGN, &k.alloc, uarg,
					 len);
	case _IOC_NR(BUDDY_IOC_FREE):
		return buddy_ioctl_block(kh, BUDDY_OP_FREE, &k.block, uarg, len);
	case _IOC_NR(BUDDY_IOC_REALLOC):
		return buddy_ioctl_block(kh, BUDDY_OP_REALLOC, &k.block, uarg,
					 len);
	case _IOC_NR(BUDDY_IOC_USABLE_SIZE):
		return buddy_ioctl_block(kh, BUDDY_OP_USABLE_SIZE, &k.block,
					 uarg, len);
	case _IOC_NR(BUDDY_IOC_STATS):
		ret = buddy_kheap_stats(kh, &k.stats);
		break;
	case _IOC_NR(BUDDY_IOC_BATCH):
		ret = buddy_ioctl_batch(kh, &k.batch);
		break;
	case _IOC_NR(BUDDY_IOC_CLONE):
		return buddy_ioctl_clone(kh, &k.clone, uarg, usize);
	default:
		return -ENOTTY;
	}

	if (ret)
		return ret;
	if (copy_to_user(uarg, &k, len))
		return -EFAULT;
	return 0;
}

static const struct file_operations buddy_fops = {
	.owner		= THIS_MODULE,
	.open		= buddy_open,
	.release	= buddy_release,
	.unlocked_ioctl	= buddy_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= buddy_mmap,
	.fsync		= noop_fsync,
	.llseek		= noop_llseek,
};

/* Any user may have heaps: each is charged to its owner's memcg. */
static struct miscdevice buddy_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "buddy",
	.fops	= &buddy_fops,
	.mode	= 0666,
};

static struct dentry *buddy_debugfs_root;

static int __init buddy_init(void)
{
	int ret;

	buddy_params.cap_bytes = max_heap_bytes;
	buddy_params.min_chunk_bytes = min_chunk_bytes;
	buddy_params.low_water_bytes = low_water_bytes;
	buddy_params.trim_block_bytes = trim_block_bytes;
	if (!max_user_bytes)
		max_user_bytes = (u64)totalram_pages() << PAGE_SHIFT >> 1;
	buddy_params.user_limit = &max_user_bytes;
	if (buddy_kheap_check_params(&buddy_params)) {
		pr_err("bad parameters: min_chunk_bytes must be a power of two >= %lu, max_heap_bytes in [min_chunk_bytes, %llu], trim_block_bytes 0 or a power of two in (%llu, %llu]\n",
		       PAGE_SIZE, BUDDY_GRAIN << BUDDY_MAX_ORDER,
		       BUDDY_TRIM_UNIT, BUDDY_GRAIN << BUDDY_MAX_ORDER);
		return -EINVAL;
	}

	/* Without debugfs the device still works, just without the files. */
	buddy_debugfs_root = debugfs_create_dir("buddy", NULL);
	buddy_params.debugfs_root = buddy_debugfs_root;

	ret = misc_register(&buddy_misc);
	if (ret) {
		debugfs_remove_recursive(buddy_debugfs_root);
		return ret;
	}
	return 0;
}

static void __exit buddy_exit(void)
{
	misc_deregister(&buddy_misc);
	debugfs_remove_recursive(buddy_debugfs_root);
}

module_init(buddy_init);
module_exit(buddy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("/dev/buddy: a kernel-side buddy allocator heap per open file");
MODULE_VERSION("0.1");
MODULE_AUTHOR("buddy-kmod developers");
