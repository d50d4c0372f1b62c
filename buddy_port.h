/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only thing buddy_core.c knows about its host.
 *
 * In the kernel it pulls in the usual headers.  In userspace it provides
 * the handful of kernel types, macros and bit helpers the core uses, on top
 * of the C library's <string.h> and <errno.h>.  buddy_core.c calls nothing
 * that is not named here: memset(), memcpy() and memmove() (the only
 * undefined symbols of its object file, with libgcc's __popcountdi2 for
 * buddy_popcount64() in userspace builds without -mpopcnt), the bit
 * helpers below and the callbacks in struct buddy_ops.
 */
#ifndef _BUDDY_PORT_H
#define _BUDDY_PORT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/bits.h>
#include <linux/bitops.h>
#include <linux/log2.h>
#include <linux/math64.h>

/* Index of the lowest set bit; @x must not be 0. */
#define buddy_ctz64(x)		__ffs64(x)
/* 1-based index of the highest set bit, 0 for 0 (like fls64()). */
#define buddy_fls64(x)		((unsigned int)fls64(x))
#define buddy_popcount64(x)	((unsigned int)hweight64(x))
#define buddy_div64(a, b)	div64_u64(a, b)

#else /* !__KERNEL__ */

#include <stddef.h>
#include <stdbool.h>
/* <string.h> brings glibc's <sys/cdefs.h>: __always_inline, noinline's */
#include <string.h>
#include <errno.h>

/* the kernel's own definitions (include/uapi/asm-generic/int-ll64.h) */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed long long s64;

#ifndef EUCLEAN
#define EUCLEAN		117
#endif

#define BIT(nr)			(1UL << (nr))
#define BIT_ULL(nr)		(1ULL << (nr))
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* <linux/stddef.h>: MEMBERS both as they are and as a struct TAG NAME */
#define struct_group_tagged(TAG, NAME, MEMBERS...) \
	union { \
		struct { MEMBERS }; \
		struct TAG { MEMBERS } NAME; \
	}

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define noinline		__attribute_noinline__

static inline unsigned int buddy_ctz64(u64 x)
{
	return (unsigned int)__builtin_ctzll(x);
}

static inline unsigned int buddy_fls64(u64 x)
{
	return x ? 64 - (unsigned int)__builtin_clzll(x) : 0;
}

static inline unsigned int buddy_popcount64(u64 x)
{
	return (unsigned int)__builtin_popcountll(x);
}

static inline u64 buddy_div64(u64 a, u64 b)
{
	return a / b;
}

#endif /* __KERNEL__ */

#endif /* _BUDDY_PORT_H */
