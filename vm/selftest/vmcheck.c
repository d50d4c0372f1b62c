// SPDX-License-Identifier: GPL-2.0
/*
 * vmcheck.ko - provokes, on request, each kind of kernel report vm/run must
 * turn into a failed run; vm/selftest/run loads it in the guest.
 *   insmod vmcheck.ko what=warn|leak|kasan|lockdep|none
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *what = "none";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "report to provoke: warn, leak, kasan, lockdep or none");

/* Overwritten right after each allocation, so kmemleak finds no reference. */
static void *volatile sink;

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);

static int __init vmcheck_init(void)
{
	if (!strcmp(what, "warn")) {
		WARN(1, "vmcheck: deliberate warning\n");
	} else if (!strcmp(what, "leak")) {
		int i;

		/*
		 * Several objects: a stale SLUB free pointer in a neighbour can
		 * still reference one of them, hiding it from a single scan.
		 */
		for (i = 0; i < 8; i++) {
			sink = kmalloc(1024, GFP_KERNEL);
			sink = NULL;
		}
	} else if (!strcmp(what, "kasan")) {
		char *p = kmalloc(8, GFP_KERNEL);

		if (p)
			pr_info("vmcheck: read past the end: %d\n", READ_ONCE(p[8]));
		kfree(p);
	} else if (!strcmp(what, "lockdep")) {
		/* A then B, then B then A: lockdep reports the possible deadlock. */
		mutex_lock(&lock_a);
		mutex_lock(&lock_b);
		mutex_unlock(&lock_b);
		mutex_unlock(&lock_a);
		mutex_lock(&lock_b);
		mutex_lock(&lock_a);
		mutex_unlock(&lock_a);
		mutex_unlock(&lock_b);
	} else if (strcmp(what, "none")) {
		return -EINVAL;
	}
	return 0;
}

static void __exit vmcheck_exit(void)
{
}

module_init(vmcheck_init);
module_exit(vmcheck_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vm/run self-test: provokes kernel reports on purpose");
