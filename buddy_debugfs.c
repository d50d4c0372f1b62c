// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_debugfs - a heap's files in debugfs, buddy/<tgid>-<id>/:
 *
 *   buddyinfo       free blocks per order, like /proc/buddyinfo
 *   stats           the heap's limits and every counter, "name value"
 *   unusable_index  per order, like mm/vmstat.c's unusable_index
 *   extfrag_index   per order, like mm/vmstat.c's extfrag_index
 *   map             every block: offset, order, free or allocated
 *
 * Each read takes the heap's lock (a snapshot of the statistics, or one
 * batch of the map), so the files never see a heap half changed.
 */
#include <linux/debugfs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/stringify.h>

#include "buddy_debugfs.h"
#include "buddy_heap.h"

/* The files that print one number per order. */
enum buddy_debugfs_per_order {
	BUDDY_DEBUGFS_BUDDYINFO,
	BUDDY_DEBUGFS_UNUSABLE_INDEX,
	BUDDY_DEBUGFS_EXTFRAG_INDEX,
};

/*
 * "heap <id> " and one number per order, as mm/vmstat.c prints them:
 * free blocks as frag_show_print() does ("%6lu "), the unusable index as
 * unusable_show_print() does ("%d.%03d "), the extfrag index as
 * extfrag_show_print() does ("%2d.%03d ", -1.000 when a request of that
 * order would succeed).
 */
static int buddy_debugfs_per_order_show(struct seq_file *m,
					enum buddy_debugfs_per_order what)
{
	struct buddy_kheap *kh = m->private;
	struct buddy_stats *st;
	unsigned int i;
	int x;

	st = buddy_kheap_snapshot(kh);
	if (IS_ERR(st))
		return PTR_ERR(st);
	seq_printf(m, "heap %llu ", kh->id);
	for (i = 0; i < st->nr_orders; i++) {
		switch (what) {
		case BUDDY_DEBUGFS_BUDDYINFO:
			seq_printf(m, "%6llu ", st->free_blocks[i]);
			break;
		case BUDDY_DEBUGFS_UNUSABLE_INDEX:
			x = st->unusable_index[i];
			seq_printf(m, "%d.%03d ", x / 1000, x % 1000);
			break;
		case BUDDY_DEBUGFS_EXTFRAG_INDEX:
			x = st->extfrag_index[i];
			seq_printf(m, "%2d.%03d ", x / 1000, x % 1000);
			break;
		}
	}
	seq_putc(m, '\n');
	kfree(st);
	return 0;
}

static int buddyinfo_show(struct seq_file *m, void *v)
{
	return buddy_debugfs_per_order_show(m, BUDDY_DEBUGFS_BUDDYINFO);
}
DEFINE_SHOW_ATTRIBUTE(buddyinfo);

static int unusable_index_show(struct seq_file *m, void *v)
{
	return buddy_debugfs_per_order_show(m, BUDDY_DEBUGFS_UNUSABLE_INDEX);
}
DEFINE_SHOW_ATTRIBUTE(unusable_index);

static int extfrag_index_show(struct seq_file *m, void *v)
{
	return buddy_debugfs_per_order_show(m, BUDDY_DEBUGFS_EXTFRAG_INDEX);
}
DEFINE_SHOW_ATTRIBUTE(extfrag_index);

/* The statistics of buddy_stat_list.h: names and places in a snapshot. */
#define BUDDY_STAT(name)	__stringify(name),
static const char * const buddy_stat_name[] = {
#include "buddy_stat_list.h"
};

#undef BUDDY_STAT

#define BUDDY_STAT(name)	offsetof(struct buddy_stats, name),
static const u16 buddy_stat_offset[] = {
#include "buddy_stat_list.h"
};

#undef BUDDY_STAT

/* The heap's limits, then every statistic: "name value" lines. */
static int stats_show(struct seq_file *m, void *v)
{
	struct buddy_kheap *kh = m->private;
	struct buddy_stats *st;
	unsigned int i;

	st = buddy_kheap_snapshot(kh);
	if (IS_ERR(st))
		return PTR_ERR(st);
	seq_printf(m, "heap_id %llu\n", kh->id);
	seq_printf(m, "tgid %d\n", kh->tgid);
	seq_printf(m, "window_bytes %llu\n", kh->window_bytes);
	seq_printf(m, "cap_bytes %llu\n", kh->params.cap_bytes);
	seq_printf(m, "min_chunk_bytes %llu\n", kh->params.min_chunk_bytes);
	seq_printf(m, "low_water_bytes %llu\n", kh->params.low_water_bytes);
	seq_printf(m, "trim_block_bytes %llu\n", kh->params.trim_block_bytes);
	seq_printf(m, "mappings %d\n", atomic_read(&kh->nr_vmas));
	seq_printf(m, "user_bytes %lld\n", buddy_kheap_user_bytes(kh));
	for (i = 0; i < ARRAY_SIZE(buddy_stat_offset); i++)
		seq_printf(m, "%s %llu\n", buddy_stat_name[i],
			   *(const u64 *)((const u8 *)st + buddy_stat_offset[i]));
	seq_printf(m, "largest_free_order %d\n", st->largest_free_order);
	kfree(st);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/*
 * map: one line per block, "0x<offset> <order> free|allocated|continued"
 * (continued: the next block of a trimmed run), in offset order.  Read
 * in batches of BUDDY_MAP_BATCH blocks, each under the heap's lock; a
 * batch resumes the walk at the offset where the previous one
 * ended (buddy_walk_from()), so reading the whole map costs O(N) and the
 * lock is dropped (and the CPU offered) between batches.  Not a snapshot:
 * the heap may change between batches.  Only a seek to another position
 * walks from the start.
 */
#define BUDDY_MAP_BATCH	64

struct buddy_map_rec {
	u64 offset;
	unsigned int order;
	enum buddy_block_state state;
};

struct buddy_map_iter {
	struct buddy_kheap *kh;
	loff_t base;		/* index of rec[0] */
	unsigned int n;		/* records held */
	u64 next;		/* window offset the next batch starts at */
	loff_t skip;		/* blocks to pass over first (after a seek) */
	struct buddy_map_rec rec[BUDDY_MAP_BATCH];
};

static int buddy_map_collect(void *arg, u64 offset, unsigned int order,
			     enum buddy_block_state state)
{
	struct buddy_map_iter *it = arg;

	if (it->skip) {
		it->skip--;
		return 0;
	}
	if (it->n == BUDDY_MAP_BATCH)
		return 1;	/* full: stop the walk */
	it->rec[it->n].offset = offset;
	it->rec[it->n].order = order;
	it->rec[it->n].state = state;
	it->n++;
	return 0;
}

static void *buddy_map_get(struct buddy_map_iter *it, loff_t pos)
{
	const struct buddy_map_rec *last;

	if (pos >= it->base && pos < it->base + it->n)
		return &it->rec[pos - it->base];

	if (pos != it->base + it->n || !pos) {
		/* not the batch after the one held: count from the start */
		it->next = 0;
		it->skip = pos;
	}
	it->base = pos;
	it->n = 0;
	cond_resched();
	if (mutex_lock_killable(&it->kh->lock))
		return ERR_PTR(-EINTR);
	buddy_walk_from(&it->kh->core, it->next, buddy_map_collect, it);
	mutex_unlock(&it->kh->lock);
	if (!it->n)
		return NULL;
	last = &it->rec[it->n - 1];
	it->next = last->offset + (BUDDY_GRAIN << last->order);
	return &it->rec[0];
}

static void *buddy_map_start(struct seq_file *m, loff_t *pos)
{
	return buddy_map_get(m->private, *pos);
}

static void *buddy_map_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return buddy_map_get(m->private, *pos);
}

static void buddy_map_stop(struct seq_file *m, void *v)
{
}

static int buddy_map_show(struct seq_file *m, void *v)
{
	static const char * const state_name[] = {
		[BUDDY_BLOCK_FREE]	= "free",
		[BUDDY_BLOCK_ALLOCATED]	= "allocated",
		[BUDDY_BLOCK_CONTINUED]	= "continued",
	};
	const struct buddy_map_rec *r = v;

	seq_printf(m, "0x%llx %u %s\n", r->offset, r->order,
		   state_name[r->state]);
	return 0;
}

static const struct seq_operations buddy_map_sops = {
	.start	= buddy_map_start,
	.next	= buddy_map_next,
	.stop	= buddy_map_stop,
	.show	= buddy_map_show,
};

static int buddy_map_open(struct inode *inode, struct file *file)
{
	struct buddy_map_iter *it;

	it = __seq_open_private(file, &buddy_map_sops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->kh = inode->i_private;
	it->n = 0;
	it->base = -1;
	return 0;
}

static const struct file_operations buddy_map_fops = {
	.owner		= THIS_MODULE,
	.open		= buddy_map_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= seq_release_private,
};

/**
 * buddy_debugfs_add() - make a heap's debugfs directory and files
 * @kh: the heap; its directory goes under @kh->params.debugfs_root
 *
 * Without a root (NULL or an ERR_PTR: no debugfs) the heap has no files
 * and @kh->debugfs stays NULL; debugfs failures are not errors either.
 */
void buddy_debugfs_add(struct buddy_kheap *kh)
{
	struct dentry *root = kh->params.debugfs_root;
	char name[32];

	if (IS_ERR_OR_NULL(root))
		return;
	snprintf(name, sizeof(name), "%d-%llu", kh->tgid, kh->id);
	kh->debugfs = debugfs_create_dir(name, root);
	debugfs_create_file("buddyinfo", 0444, kh->debugfs, kh,
			    &buddyinfo_fops);
	debugfs_create_file("stats", 0444, kh->debugfs, kh, &stats_fops);
	debugfs_create_file("unusable_index", 0444, kh->debugfs, kh,
			    &unusable_index_fops);
	debugfs_create_file("extfrag_index", 0444, kh->debugfs, kh,
			    &extfrag_index_fops);
	debugfs_create_file("map", 0444, kh->debugfs, kh, &buddy_map_fops);
}

/**
 * buddy_debugfs_remove() - remove a heap's debugfs directory
 * @kh: the heap
 *
 * Waits for readers of its files (which take @kh->lock), so the heap may
 * be freed afterwards.
 */
void buddy_debugfs_remove(struct buddy_kheap *kh)
{
	debugfs_remove_recursive(kh->debugfs);
	kh->debugfs = NULL;
}
