/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The side arena and the deferred frees used while a fork is pending
 * (side.c): the default heap must not change between its copy and the
 * fork, so allocations come from private memory and frees wait.
 */
#ifndef BUDDY_SHIM_SIDE_H
#define BUDDY_SHIM_SIDE_H

#include <stddef.h>
#include <stdint.h>

void *side_alloc(size_t n, size_t align, int zero);
int side_owns(const void *p);
size_t side_usable(const void *p);
void side_free(void *p);
/* A deferred offset with this bit is an object to put back in its slab. */
#define DEFER_SLAB	1u

int defer_free(uint64_t offset);
int defer_free_if(uint64_t offset, int (*confirm)(void *), void *arg);
int pop_deferred(uint64_t *offset);
int defer_uncounted(uint64_t *offset);
void side_fork_child(void);
extern uint64_t side_allocs;

#endif /* BUDDY_SHIM_SIDE_H */
