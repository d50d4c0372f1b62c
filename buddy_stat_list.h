/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap-wide statistics, one BUDDY_STAT(name) each: the u64 fields of
 * struct buddy_stats, in the order of struct buddy_heap_stats in
 * include/uapi/linux/buddy.h (which spells them out for userspace).
 * The code that handles them all alike (the STATS ioctl's copy, debugfs's
 * stats file) defines BUDDY_STAT, includes this file and undefines it,
 * and its build checks that the list covers the uapi struct.
 *
 * No include guard: it is included once per use.
 */
BUDDY_STAT(heap_bytes)
BUDDY_STAT(peak_heap_bytes)
BUDDY_STAT(bytes_in_use)
BUDDY_STAT(peak_bytes_in_use)
BUDDY_STAT(bytes_free)
BUDDY_STAT(bytes_requested_total)
BUDDY_STAT(bytes_granted_total)
BUDDY_STAT(meta_bytes)
BUDDY_STAT(live_blocks)
BUDDY_STAT(nr_chunks)
BUDDY_STAT(nr_allocs)
BUDDY_STAT(nr_frees)
BUDDY_STAT(nr_reallocs)
BUDDY_STAT(nr_grows)
BUDDY_STAT(nr_shrinks)
BUDDY_STAT(nr_failed)
