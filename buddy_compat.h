/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel version switch of buddy.ko, in one place.
 *
 * The module supports Debian 12's 6.1 and Debian 13's 6.12 LTS.  Each shim
 * below names the release whose API it papers over; nothing else in the
 * module tests LINUX_VERSION_CODE.
 */
#ifndef BUDDY_COMPAT_H
#define BUDDY_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

/*
 * 6.3 made vma->vm_flags read-only ("mm: introduce
 * vma->vm_flags wrapper functions"): the flags change through
 * vm_flags_set() and vm_flags_clear(), which 6.1 lacks.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#endif /* BUDDY_COMPAT_H */
