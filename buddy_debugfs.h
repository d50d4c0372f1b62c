/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_debugfs - the debugfs files of a heap (buddy_debugfs.c):
 * buddy/<tgid>-<id>/{buddyinfo,stats,unusable_index,extfrag_index,map}.
 */
#ifndef _BUDDY_DEBUGFS_H
#define _BUDDY_DEBUGFS_H

struct buddy_kheap;

void buddy_debugfs_add(struct buddy_kheap *kh);
void buddy_debugfs_remove(struct buddy_kheap *kh);

#endif /* _BUDDY_DEBUGFS_H */
