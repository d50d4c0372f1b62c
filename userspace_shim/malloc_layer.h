/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the malloc family (malloc.c) offers the files above it: the default
 * heap for buddy_default() (client.c), and its part of a fork (fork.c).
 */
#ifndef BUDDY_SHIM_MALLOC_LAYER_H
#define BUDDY_SHIM_MALLOC_LAYER_H

#include "heap.h"

struct buddy_handle *malloc_default_heap(void);
void malloc_fork_parent(void);
void malloc_fork_child(void);

#endif /* BUDDY_SHIM_MALLOC_LAYER_H */
