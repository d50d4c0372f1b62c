// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_abi.c - buddy_vmtest's checks of the ioctl ABI: INFO, the
 * allocation commands and STATS, every malformed field refused, BATCH,
 * every struct size, results that cannot be written back (EFAULT), and how
 * a heap grows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmtest.h"

/* INFO */

void test_info(void)
{
	struct buddy_info info, info2;
	bool debugfs;
	int fd, fd2;

	fd = open_heap();
	fd2 = open_heap();
	info = get_info(fd);
	info2 = get_info(fd2);

	CHECK(info.abi_version == BUDDY_ABI_VERSION, "INFO: abi_version %u",
	      info.abi_version);
	CHECK(info.grain_shift == 4, "INFO: grain_shift %u", info.grain_shift);
	CHECK(info.batch_max == BUDDY_BATCH_MAX, "INFO: batch_max %u",
	      info.batch_max);
	CHECK(info.window_bytes && !(info.window_bytes & (info.window_bytes - 1)),
	      "INFO: window_bytes %" PRIu64 " is a power of two",
	      (uint64_t)info.window_bytes);
	CHECK(info.window_bytes == 16ULL << info.max_order,
	      "INFO: window_bytes == 16 << max_order (%u)", info.max_order);
	CHECK(info.cap_bytes == 1 * GiB && info.window_bytes == 1 * GiB,
	      "INFO: default cap and window 1 GiB (cap %" PRIu64 ")",
	      (uint64_t)info.cap_bytes);
	CHECK((info.features & BUDDY_FEATURE_BATCH) &&
	      (info.features & BUDDY_FEATURE_CLONE),
	      "INFO: features BATCH|CLONE (%#" PRIx64 ")",
	      (uint64_t)info.features);
	debugfs = access(DEBUGFS, F_OK) == 0;
	CHECK(!!(info.features & BUDDY_FEATURE_DEBUGFS) == debugfs,
	      "INFO: feature DEBUGFS matches " DEBUGFS " (%d)", debugfs);
	CHECK(info.heap_id != info2.heap_id, "INFO: two opens, two heap ids");
	CHECK(!info.reserved[0] && !info.reserved[1],
	      "INFO: reserved come back zero");
	close(fd);
	close(fd2);
}

/* MALLOC, CALLOC, MEMALIGN, FREE, REALLOC, USABLE_SIZE, STATS */

void test_alloc(void)
{
	struct buddy_info info;
	struct buddy_alloc_args a;
	uint64_t off, off2, use, noff;
	uint32_t reason;
	char *base;
	int fd, i;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);

	CHECK_ERR(heap_malloc(fd, 1, 0, &off, &use), 0, "MALLOC 1");
	CHECK(use == 16 && off % 16 == 0, "MALLOC 1: usable %" PRIu64
	      ", offset %#" PRIx64 " 16-aligned", use, off);
	CHECK(all_bytes(base + off, 0, 16), "MALLOC: fresh memory is zero");
	CHECK_ERR(heap_malloc(fd, 0, 0, &off2, &use), 0, "MALLOC 0");
	CHECK(use == 16 && off2 != off, "MALLOC 0: a distinct 16-byte block");
	CHECK_ERR(heap_malloc(fd, 100, 0, &off, &use), 0, "MALLOC 100");
	CHECK(use == 128 && off % 128 == 0, "MALLOC 100: usable 128, aligned");
	memset(base + off, 0xab, 100);
	CHECK(all_bytes(base + off, (char)0xab, 100),
	      "MALLOC: block writable through the window");

	CHECK_ERR(heap_malloc(fd, info.window_bytes + 1, 0, &off, NULL), ENOMEM,
		  "MALLOC window+1");
	CHECK_ERR(heap_malloc(fd, UINT64_MAX, 0, &off, NULL), ENOMEM,
		  "MALLOC 2^64-1");

	/* ZERO: dirty a block, free it, get it back zeroed. */
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "MALLOC 4096");
	memset(base + off, 0x77, 4096);
	CHECK_ERR(heap_free(fd, off, NULL), 0, "FREE it");
	CHECK_ERR(heap_malloc(fd, 4096, BUDDY_ALLOC_ZERO, &off2, NULL), 0,
		  "MALLOC 4096 ZERO");
	CHECK(off2 == off && all_bytes(base + off2, 0, 4096),
	      "MALLOC ZERO: the reused block reads zero");

	/* CALLOC */
	memset(&a, 0, sizeof(a));
	CHECK_ERR(heap_free(fd, off2, NULL), 0, "FREE again");
	memset(base + off2, 0x55, 4096);	/* user scribbles on free memory */
	a.nmemb = 64;
	a.size = 64;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), 0, "CALLOC 64 x 64");
	CHECK(a.usable == 4096 && all_bytes(base + a.offset, 0, 4096),
	      "CALLOC: usable 4096, zeroed over old contents");
	memset(&a, 0, sizeof(a));
	a.nmemb = 1ULL << 33;
	a.size = 1ULL << 33;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), ENOMEM,
		  "CALLOC nmemb*size overflows");
	a.nmemb = UINT64_MAX;
	a.size = 2;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), ENOMEM,
		  "CALLOC (2^64-1) x 2 overflows");
	a.nmemb = 0;
	a.size = 10;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CALLOC, &a), 0, "CALLOC 0 x 10");

	/* MEMALIGN: offsets aligned (absolute alignment is tested below) */
	for (i = 4; i <= 16; i++) {
		uint64_t al = 1ULL << i;
		int ret = heap_memalign(fd, al, 24, &off);

		CHECK(!ret && off % al == 0, "MEMALIGN %" PRIu64 ", 24: offset %#"
		      PRIx64 " (%s)", al, off, ret ? strerror(-ret) : "ok");
	}
	CHECK_ERR(heap_memalign(fd, 1ULL << 40, 16, &off), ENOMEM,
		  "MEMALIGN align 2^40 > window");
	CHECK_ERR(heap_memalign(fd, 1, 16, &off), 0, "MEMALIGN align 1");

	/* FREE: bad offsets are refused with a reason, heap unchanged */
	{
		struct buddy_heap_stats s0, s1;

		CHECK_ERR(heap_malloc(fd, 256, 0, &off, NULL), 0, "MALLOC 256");
		s0 = get_stats(fd);
		CHECK_ERR(heap_free(fd, off + 16, &reason), EINVAL,
			  "FREE inside a block");
		CHECK(reason == BUDDY_REASON_NOT_BLOCK_START,
		      "FREE inside a block: reason NOT_BLOCK_START (%u)", reason);
		CHECK_ERR(heap_free(fd, info.window_bytes - 16, &reason), EINVAL,
			  "FREE outside the live chunks");
		CHECK(reason == BUDDY_REASON_OUTSIDE,
		      "FREE outside: reason OUTSIDE (%u)", reason);
		CHECK_ERR(heap_free(fd, UINT64_MAX & ~15ULL, &reason), EINVAL,
			  "FREE 2^64-16");
		CHECK(reason == BUDDY_REASON_OUTSIDE,
		      "FREE 2^64-16: reason OUTSIDE (%u)", reason);
		s1 = get_stats(fd);
		CHECK(s0.live_blocks == s1.live_blocks &&
		      s0.bytes_in_use == s1.bytes_in_use &&
		      !memcmp(s0.free_blocks, s1.free_blocks,
			      sizeof(s0.free_blocks)),
		      "FREE refused: heap unchanged");
		CHECK(s1.nr_failed > s0.nr_failed, "STATS: nr_failed counts them");
		CHECK_ERR(heap_free(fd, off, &reason), 0, "FREE the block");
		CHECK_ERR(heap_free(fd, off, &reason), EINVAL, "FREE it twice");
		CHECK(reason == BUDDY_REASON_ALREADY_FREE,
		      "double FREE: reason ALREADY_FREE (%u)", reason);
		CHECK_ERR(heap_usable(fd, off, NULL, &reason), EINVAL,
			  "USABLE_SIZE of a freed block");
		CHECK(reason == BUDDY_REASON_ALREADY_FREE,
		      "USABLE_SIZE freed: reason ALREADY_FREE (%u)", reason);
	}

	/* REALLOC and USABLE_SIZE */
	CHECK_ERR(heap_malloc(fd, 100, 0, &off, NULL), 0, "MALLOC 100");
	for (i = 0; i < 100; i++)
		base[off + i] = (char)i;
	CHECK_ERR(heap_usable(fd, off, &use, NULL), 0, "USABLE_SIZE");
	CHECK(use == 128, "USABLE_SIZE 100 -> 128 (%" PRIu64 ")", use);
	CHECK_ERR(heap_realloc(fd, off, 64 * KiB, BUDDY_ALLOC_ZERO, &noff, &use),
		  0, "REALLOC grow to 64 KiB with ZERO");
	for (i = 0; i < 100 && base[noff + i] == (char)i; i++)
		;
	CHECK(i == 100 && use == 64 * KiB, "REALLOC grow: contents kept");
	CHECK(all_bytes(base + noff + 128, 0, 64 * KiB - 128),
	      "REALLOC ZERO: the gained part is zero");
	CHECK_ERR(heap_realloc(fd, noff, 20, 0, &off, &use), 0,
		  "REALLOC shrink to 20");
	for (i = 0; i < 20 && base[off + i] == (char)i; i++)
		;
	CHECK(i == 20 && use == 32 && off == noff,
	      "REALLOC shrink: in place, contents kept, usable 32");
	CHECK_ERR(heap_realloc(fd, off, info.window_bytes * 2, 0, &noff, NULL),
		  ENOMEM, "REALLOC to 2 x window");
	CHECK_ERR(heap_usable(fd, off, &use, NULL), 0,
		  "REALLOC failed: old block still live");
	CHECK(use == 32 && base[off + 19] == 19,
	      "REALLOC failed: old block intact");
	{
		struct buddy_block_args b = { .offset = off + 16, .size = 64 };

		CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, &b), EINVAL,
			  "REALLOC inside a block");
		CHECK(b.reason == BUDDY_REASON_NOT_BLOCK_START,
		      "REALLOC inside: reason NOT_BLOCK_START (%u)", b.reason);
		b.offset = info.window_bytes + 4096;
		b.reason = 0;
		b.size = info.window_bytes * 4;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, &b), EINVAL,
			  "REALLOC outside, huge size");
		CHECK(b.reason == BUDDY_REASON_OUTSIDE,
		      "REALLOC outside: reason OUTSIDE before ENOMEM (%u)",
		      b.reason);
	}

	/* STATS */
	{
		struct buddy_heap_stats st = get_stats(fd);
		uint64_t free_bytes = 0;
		unsigned int k;

		CHECK(st.nr_orders == info.max_order + 1,
		      "STATS: nr_orders %u", st.nr_orders);
		for (k = 0; k < st.nr_orders; k++)
			free_bytes += st.free_blocks[k] << (k + 4);
		CHECK(free_bytes == st.bytes_free,
		      "STATS: free_blocks add up to bytes_free (%" PRIu64 ")",
		      free_bytes);
		CHECK(st.heap_bytes == st.bytes_in_use + st.bytes_free,
		      "STATS: heap_bytes = in use + free");
		CHECK(st.live_blocks > 0 && st.nr_allocs >= st.live_blocks &&
		      st.nr_frees > 0 && st.nr_reallocs >= 2 && st.nr_chunks > 0,
		      "STATS: counters (%" PRIu64 " live, %" PRIu64 " allocs)",
		      (uint64_t)st.live_blocks, (uint64_t)st.nr_allocs);
		CHECK(st.meta_bytes > 0 && st.meta_bytes * 100 <= st.heap_bytes * 3,
		      "STATS: metadata within 3%% (%" PRIu64 " of %" PRIu64 ")",
		      (uint64_t)st.meta_bytes, (uint64_t)st.heap_bytes);
		CHECK(st.largest_free_order >= 0 &&
		      st.free_blocks[st.largest_free_order] > 0,
		      "STATS: largest_free_order %d", st.largest_free_order);
		for (k = st.nr_orders; k < BUDDY_STATS_ORDERS; k++)
			if (st.free_blocks[k] || st.unusable_index[k] ||
			    st.extfrag_index[k])
				break;
		CHECK(k == BUDDY_STATS_ORDERS, "STATS: unused orders zero");
		for (k = 0; k < st.nr_orders; k++)
			if (st.unusable_index[k] < 0 ||
			    st.unusable_index[k] > 1000 ||
			    st.extfrag_index[k] < -1000 ||
			    st.extfrag_index[k] > 1000)
				break;
		CHECK(k == st.nr_orders, "STATS: indices in range");
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* Rejection paths, one bad field at a time */

struct alloc_case {
	const char *what;
	unsigned long cmd;
	struct buddy_alloc_args a;
	int err;
};

struct block_case {
	const char *what;
	unsigned long cmd;
	struct buddy_block_args b;	/* .offset is filled in */
	int err;
};

struct op_case {
	const char *what;
	struct buddy_op op;		/* FREE/REALLOC/USABLE: live offset */
	bool live;
	int err;
};

void test_reject(void)
{
	static const struct alloc_case ac[] = {
		{ "MALLOC nmemb!=0", BUDDY_IOC_MALLOC, { .size = 16, .nmemb = 1 }, EINVAL },
		{ "MALLOC align!=0", BUDDY_IOC_MALLOC, { .size = 16, .align = 16 }, EINVAL },
		{ "MALLOC flags bit 1", BUDDY_IOC_MALLOC, { .size = 16, .flags = 2 }, EINVAL },
		{ "MALLOC flags bit 31", BUDDY_IOC_MALLOC, { .size = 16, .flags = 1U << 31 }, EINVAL },
		{ "MALLOC reserved", BUDDY_IOC_MALLOC, { .size = 16, .reserved = 1 }, EINVAL },
		{ "MALLOC ok (control)", BUDDY_IOC_MALLOC, { .size = 16, .offset = 123, .usable = 7 }, 0 },
		{ "CALLOC align!=0", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .align = 16 }, EINVAL },
		{ "CALLOC flags bit 1", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .flags = 2 }, EINVAL },
		{ "CALLOC reserved", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 1, .reserved = 1 }, EINVAL },
		{ "CALLOC overflow", BUDDY_IOC_CALLOC, { .size = 1ULL << 32, .nmemb = 1ULL << 32 }, ENOMEM },
		{ "CALLOC ok (control)", BUDDY_IOC_CALLOC, { .size = 16, .nmemb = 3 }, 0 },
		{ "MEMALIGN nmemb!=0", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .nmemb = 1 }, EINVAL },
		{ "MEMALIGN align 0", BUDDY_IOC_MEMALIGN, { .size = 16 }, EINVAL },
		{ "MEMALIGN align 3", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 3 }, EINVAL },
		{ "MEMALIGN align 48", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 48 }, EINVAL },
		{ "MEMALIGN align 2^63+1", BUDDY_IOC_MEMALIGN, { .size = 16, .align = (1ULL << 63) + 1 }, EINVAL },
		{ "MEMALIGN align 2^63", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 1ULL << 63 }, ENOMEM },
		{ "MEMALIGN flags bit 1", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .flags = 2 }, EINVAL },
		{ "MEMALIGN reserved", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64, .reserved = 1 }, EINVAL },
		{ "MEMALIGN huge size", BUDDY_IOC_MEMALIGN, { .size = UINT64_MAX, .align = 64 }, ENOMEM },
		{ "MEMALIGN ok (control)", BUDDY_IOC_MEMALIGN, { .size = 16, .align = 64 }, 0 },
	};
	static const struct block_case bc[] = {
		{ "FREE size!=0", BUDDY_IOC_FREE, { .size = 1 }, EINVAL },
		{ "FREE flags ZERO", BUDDY_IOC_FREE, { .flags = BUDDY_ALLOC_ZERO }, EINVAL },
		{ "FREE flags bit 7", BUDDY_IOC_FREE, { .flags = 1U << 7 }, EINVAL },
		{ "FREE reason!=0", BUDDY_IOC_FREE, { .reason = 1 }, EINVAL },
		{ "REALLOC flags bit 1", BUDDY_IOC_REALLOC, { .size = 32, .flags = 2 }, EINVAL },
		{ "REALLOC reason!=0", BUDDY_IOC_REALLOC, { .size = 32, .reason = 3 }, EINVAL },
		{ "USABLE_SIZE size!=0", BUDDY_IOC_USABLE_SIZE, { .size = 1 }, EINVAL },
		{ "USABLE_SIZE flags!=0", BUDDY_IOC_USABLE_SIZE, { .flags = 1 }, EINVAL },
		{ "USABLE_SIZE reason!=0", BUDDY_IOC_USABLE_SIZE, { .reason = 2 }, EINVAL },
		{ "USABLE_SIZE ok (control)", BUDDY_IOC_USABLE_SIZE, { .new_offset = 5, .usable = 5 }, 0 },
	};
	static const struct op_case oc[] = {
		{ "op 0", { .op = 0, .size = 16 }, false, EINVAL },
		{ "op 7", { .op = 7, .size = 16 }, false, EINVAL },
		{ "op 2^31", { .op = 1U << 31, .size = 16 }, false, EINVAL },
		{ "MALLOC offset!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .offset = 16 }, false, EINVAL },
		{ "MALLOC arg!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .arg = 1 }, false, EINVAL },
		{ "MALLOC flags bit 1", { .op = BUDDY_OP_MALLOC, .size = 16, .flags = 2 }, false, EINVAL },
		{ "MALLOC reason!=0", { .op = BUDDY_OP_MALLOC, .size = 16, .reason = 1 }, false, EINVAL },
		{ "MALLOC huge", { .op = BUDDY_OP_MALLOC, .size = UINT64_MAX }, false, ENOMEM },
		{ "CALLOC offset!=0", { .op = BUDDY_OP_CALLOC, .size = 16, .arg = 2, .offset = 32 }, false, EINVAL },
		{ "CALLOC overflow", { .op = BUDDY_OP_CALLOC, .size = 1ULL << 40, .arg = 1ULL << 40 }, false, ENOMEM },
		{ "MEMALIGN arg 0", { .op = BUDDY_OP_MEMALIGN, .size = 16 }, false, EINVAL },
		{ "MEMALIGN arg 12", { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 12 }, false, EINVAL },
		{ "MEMALIGN offset!=0", { .op = BUDDY_OP_MEMALIGN, .size = 16, .arg = 64, .offset = 64 }, false, EINVAL },
		{ "REALLOC arg!=0", { .op = BUDDY_OP_REALLOC, .size = 64, .arg = 1 }, true, EINVAL },
		{ "REALLOC flags bit 2", { .op = BUDDY_OP_REALLOC, .size = 64, .flags = 4 }, true, EINVAL },
		{ "FREE size!=0", { .op = BUDDY_OP_FREE, .size = 1 }, true, EINVAL },
		{ "FREE flags!=0", { .op = BUDDY_OP_FREE, .flags = 1 }, true, EINVAL },
		{ "FREE arg!=0", { .op = BUDDY_OP_FREE, .arg = 1 }, true, EINVAL },
		{ "FREE reason!=0", { .op = BUDDY_OP_FREE, .reason = 1 }, true, EINVAL },
		{ "USABLE_SIZE size!=0", { .op = BUDDY_OP_USABLE_SIZE, .size = 1 }, true, EINVAL },
		{ "USABLE_SIZE flags!=0", { .op = BUDDY_OP_USABLE_SIZE, .flags = 1 }, true, EINVAL },
		{ "USABLE_SIZE arg!=0", { .op = BUDDY_OP_USABLE_SIZE, .arg = 8 }, true, EINVAL },
		{ "USABLE_SIZE ok (control)", { .op = BUDDY_OP_USABLE_SIZE, .usable = 1, .result = 9 }, true, 0 },
	};
	static const unsigned long cmds[] = {
		BUDDY_IOC_INFO, BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC,
		BUDDY_IOC_MEMALIGN, BUDDY_IOC_FREE, BUDDY_IOC_REALLOC,
		BUDDY_IOC_USABLE_SIZE, BUDDY_IOC_STATS, BUDDY_IOC_BATCH,
		BUDDY_IOC_CLONE,
	};
	struct buddy_heap_stats s0, s1;
	struct buddy_info info;
	uint64_t live, use;
	unsigned int i;
	int fd;

	fd = open_heap();
	CHECK_ERR(heap_malloc(fd, 48, 0, &live, NULL), 0, "MALLOC a live block");

	for (i = 0; i < sizeof(ac) / sizeof(ac[0]); i++) {
		struct buddy_alloc_args a = ac[i].a;

		CHECK_ERR(xioctl(fd, ac[i].cmd, &a), ac[i].err, "%s", ac[i].what);
	}
	s0 = get_stats(fd);
	for (i = 0; i < sizeof(bc) / sizeof(bc[0]); i++) {
		struct buddy_block_args b = bc[i].b;
		int ret;

		b.offset = live;
		ret = xioctl(fd, bc[i].cmd, &b);
		/* malformed: refused without a reason, struct not written */
		CHECK(ret == -bc[i].err && (ret || b.usable == 64) &&
		      (!ret || b.reason == bc[i].b.reason),
		      "%s: %s (want %s)", bc[i].what,
		      ret ? strerror(-ret) : "success",
		      bc[i].err ? strerror(bc[i].err) : "success");
	}
	s1 = get_stats(fd);
	CHECK(s0.live_blocks == s1.live_blocks &&
	      s0.bytes_in_use == s1.bytes_in_use &&
	      heap_usable(fd, live, &use, NULL) == 0 && use == 64,
	      "malformed FREE/REALLOC/USABLE_SIZE left the heap unchanged");

	/* INFO and STATS reserved fields */
	memset(&info, 0, sizeof(info));
	info.reserved[0] = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_INFO, &info), EINVAL, "INFO reserved[0]");
	memset(&info, 0, sizeof(info));
	info.reserved[1] = 1ULL << 63;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_INFO, &info), EINVAL, "INFO reserved[1]");
	memset(&s0, 0, sizeof(s0));
	s0.flags = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_STATS, &s0), EINVAL, "STATS flags");
	memset(&s0, 0, sizeof(s0));
	s0.reserved = 1;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_STATS, &s0), EINVAL, "STATS reserved");

	/* CLONE arguments */
	{
		struct buddy_clone_args c = { .flags = O_WRONLY };

		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags O_WRONLY");
		c.flags = O_NONBLOCK;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags O_NONBLOCK");
		c.flags = 1U << 31;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE flags bit 31");
		c.flags = 0;
		c.reserved = 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, &c), EINVAL, "CLONE reserved");
	}

	/* BATCH header */
	{
		struct buddy_op ops[2] = {
			{ .op = BUDDY_OP_MALLOC, .size = 16 },
			{ .op = BUDDY_OP_MALLOC, .size = 16 },
		};
		struct buddy_batch b, base = {
			.ops = (uintptr_t)ops, .count = 2,
			.op_size = sizeof(struct buddy_op),
		};

		b = base;
		b.count = BUDDY_BATCH_MAX + 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH count > max");
		b = base;
		b.op_size = sizeof(struct buddy_op) - 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH op_size short");
		b.op_size = 4097;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL,
			  "BATCH op_size beyond 4096");
		{
			/* a newer, longer struct buddy_op: zero tail accepted */
			struct {
				struct buddy_op op;
				uint64_t tail;
			} big[2];
			uint64_t o;

			memset(big, 0, sizeof(big));
			big[0].op.op = BUDDY_OP_MALLOC;
			big[0].op.size = 16;
			big[1].op.op = BUDDY_OP_MALLOC;
			big[1].op.size = 100;
			b.ops = (uintptr_t)big;
			b.op_size = sizeof(big[0]);
			CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0,
				  "BATCH op_size %zu, zero tails", sizeof(big[0]));
			CHECK(b.done == 2 && !big[0].op.result && !big[1].op.result &&
			      big[0].op.usable == 16 && big[1].op.usable == 128 &&
			      !big[0].tail && !big[1].tail,
			      "BATCH with longer ops: results at the caller's stride");
			o = big[1].op.offset;
			heap_free(fd, big[0].op.offset, NULL);
			heap_free(fd, o, NULL);
			memset(big, 0, sizeof(big));
			big[0].op.op = BUDDY_OP_MALLOC;
			big[0].op.size = 16;
			big[1].op.op = BUDDY_OP_MALLOC;
			big[1].op.size = 16;
			big[1].tail = 1;
			CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), E2BIG,
				  "BATCH with longer ops, a non-zero tail");
			CHECK(!big[0].op.result && !big[0].op.offset,
			      "... refused before any ran");
			b.ops = base.ops;
		}
		b.op_size = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH op_size 0");
		b = base;
		b.flags = 2;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH flags bit 1");
		b = base;
		b.reserved = 1;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EINVAL, "BATCH reserved");
		b = base;
		b.ops = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops NULL");
		b.ops = 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops 0x8");
		b.ops = UINT64_MAX - 8;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT, "BATCH ops at -8");
		b = base;
		b.count = 0;
		b.ops = 0;
		b.done = 77;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of 0 ops");
		CHECK(b.done == 0, "BATCH of 0 ops: done 0");
	}

	/* BATCH operations, each malformed in one field */
	for (i = 0; i < sizeof(oc) / sizeof(oc[0]); i++) {
		struct buddy_op op = oc[i].op;
		struct buddy_batch b = {
			.ops = (uintptr_t)&op, .count = 1,
			.op_size = sizeof(op),
		};
		int ret;

		if (oc[i].live)
			op.offset = live;
		ret = xioctl(fd, BUDDY_IOC_BATCH, &b);
		CHECK(ret == 0 && b.done == 1 && op.result == -oc[i].err,
		      "BATCH op %s: result %s (want %s)", oc[i].what,
		      op.result ? strerror(-op.result) : "success",
		      oc[i].err ? strerror(oc[i].err) : "success");
	}
	CHECK(heap_usable(fd, live, &use, NULL) == 0 && use == 64,
	      "malformed BATCH ops left the live block alone");

	/* Unknown commands */
	CHECK_ERR(xioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0x0a, struct buddy_info), &info),
		  ENOTTY, "command nr 0x0a");
	CHECK_ERR(xioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0xff, struct buddy_info), &info),
		  ENOTTY, "command nr 0xff");
	CHECK_ERR(xioctl(fd, _IOWR('B', 0x00, struct buddy_info), &info),
		  ENOTTY, "command type 'B'");
	CHECK_ERR(xioctl(fd, _IOR(BUDDY_IOC_MAGIC, 0x00, struct buddy_info), &info),
		  ENOTTY, "INFO as _IOR");
	CHECK_ERR(xioctl(fd, _IO(BUDDY_IOC_MAGIC, 0x01), NULL),
		  ENOTTY, "MALLOC as _IO");
	CHECK_ERR(xioctl(fd, FIONREAD, &i), ENOTTY, "FIONREAD");

	/* Bad user pointers, for every command */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		CHECK_ERR(xioctl(fd, cmds[i], NULL), EFAULT,
			  "command nr %lu with a NULL pointer", _IOC_NR(cmds[i]));
		CHECK_ERR(xioctl(fd, cmds[i], (void *)(uintptr_t)-4096), EFAULT,
			  "command nr %lu with a kernel pointer", _IOC_NR(cmds[i]));
	}

	/* Struct sizes: shorter accepted, longer with a non-zero tail refused */
	{
		struct {
			struct buddy_alloc_args a;
			uint64_t tail[2];
		} big;
		unsigned char raw[sizeof(struct buddy_info) + 8];
		struct buddy_info ri;

		memset(&big, 0, sizeof(big));
		big.a.size = 16;
		big.tail[1] = 1;
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, sizeof(big)), &big),
			  E2BIG, "MALLOC with a longer struct, non-zero tail");
		big.tail[1] = 0;
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, sizeof(big)), &big),
			  0, "MALLOC with a longer struct, zero tail");
		CHECK(big.a.usable == 16 && !big.tail[0] && !big.tail[1],
		      "longer struct: known part filled, tail untouched");

		/* below the end of the outputs: refused (the caller could not
		 * learn what it got); down to it: accepted, nothing written
		 * beyond the caller's size */
		memset(raw, 0xee, sizeof(raw));
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_INFO, 8), raw), EINVAL,
			  "INFO with an 8-byte struct");
		memset(raw, 0xee, sizeof(raw));
		memset(raw, 0, offsetof(struct buddy_info, reserved));
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_INFO,
						 offsetof(struct buddy_info, reserved)),
				 raw), 0, "INFO without its reserved tail");
		memcpy(&ri, raw, sizeof(ri));
		CHECK(ri.abi_version == BUDDY_ABI_VERSION && ri.grain_shift == 4 &&
		      ri.heap_id && all_bytes((char *)raw + offsetof(struct buddy_info, reserved),
					      (char)0xee, sizeof(raw) -
					      offsetof(struct buddy_info, reserved)),
		      "short struct: heap_id written, nothing beyond");
		memset(raw, 0xee, sizeof(raw));
		memset(raw, 0, 16);
		CHECK_ERR(xioctl(fd, ioc_resize(BUDDY_IOC_MALLOC, 16), raw), EINVAL,
			  "MALLOC with a 16-byte struct (no room for the offset)");
		CHECK(all_bytes((char *)raw + 16, (char)0xee, sizeof(raw) - 16),
		      "short MALLOC: nothing written beyond 16 bytes");
	}

	/* A read-only struct: the result cannot be copied back */
	{
		struct buddy_alloc_args *ro;
		struct buddy_heap_stats t0, t1;

		ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ro == MAP_FAILED)
			die("mmap");
		memset(ro, 0, sizeof(*ro));
		ro->size = 4096;
		mprotect(ro, 4096, PROT_READ);
		t0 = get_stats(fd);
		CHECK_ERR(xioctl(fd, BUDDY_IOC_MALLOC, ro), EFAULT,
			  "MALLOC into a read-only struct");
		t1 = get_stats(fd);
		CHECK(t0.live_blocks == t1.live_blocks,
		      "MALLOC whose result cannot be returned is undone");
		munmap(ro, 4096);
	}
	close(fd);
}

/* BATCH */

void test_batch(void)
{
	static struct buddy_op ops[BUDDY_BATCH_MAX];
	struct buddy_batch b;
	struct buddy_info info;
	char *base;
	unsigned int i, n = BUDDY_BATCH_MAX;
	bool ok;
	int fd;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);

	memset(ops, 0, sizeof(ops));
	for (i = 0; i < n; i++) {
		ops[i].op = BUDDY_OP_MALLOC;
		ops[i].size = 16 + i;
		ops[i].result = 99;
	}
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)ops;
	b.count = n;
	b.op_size = sizeof(ops[0]);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of %u MALLOCs", n);
	ok = b.done == n;
	for (i = 0; i < n && ok; i++) {
		ok = !ops[i].result && ops[i].usable >= 16 + i &&
		     ops[i].offset % 16 == 0;
		if (ok)
			memset(base + ops[i].offset, (char)i, 16 + i);
	}
	CHECK(ok, "BATCH: every MALLOC succeeded (done %u)", b.done);
	for (i = 0; i < n && ok; i++)
		ok = all_bytes(base + ops[i].offset, (char)i, 16 + i);
	CHECK(ok, "BATCH: blocks are disjoint");
	CHECK(get_stats(fd).live_blocks == n, "BATCH: STATS live_blocks %u", n);

	for (i = 0; i < n; i++) {
		ops[i].op = BUDDY_OP_FREE;
		ops[i].size = 0;
		ops[i].usable = 0;
	}
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH of %u FREEs", n);
	for (i = 0, ok = b.done == n; i < n && ok; i++)
		ok = !ops[i].result;
	CHECK(ok && get_stats(fd).live_blocks == 0,
	      "BATCH: every FREE succeeded, heap empty");

	/* A failing op in the middle: reported, the rest still run */
	memset(ops, 0, 5 * sizeof(ops[0]));
	ops[0].op = BUDDY_OP_MALLOC;
	ops[0].size = 100;
	ops[1].op = BUDDY_OP_FREE;
	ops[1].offset = info.window_bytes - 16;
	ops[2].op = BUDDY_OP_CALLOC;
	ops[2].size = 10;
	ops[2].arg = 10;
	ops[3].op = BUDDY_OP_MEMALIGN;
	ops[3].size = 10;
	ops[3].arg = 4096;
	ops[4].op = BUDDY_OP_USABLE_SIZE;
	{
		uint64_t o;

		if (heap_malloc(fd, 256, 0, &o, NULL))
			die("MALLOC 256");
		ops[4].offset = o + 16;
	}
	b.count = 5;
	b.flags = 0;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "mixed BATCH");
	CHECK(b.done == 5 && !ops[0].result && ops[1].result == -EINVAL &&
	      ops[1].reason == BUDDY_REASON_OUTSIDE && !ops[2].result &&
	      ops[2].usable == 128 && !ops[3].result &&
	      ops[3].offset % 4096 == 0 && ops[4].result == -EINVAL &&
	      ops[4].reason == BUDDY_REASON_NOT_BLOCK_START,
	      "mixed BATCH: per-op results and reasons (done %u, %d %d %d %d %d)",
	      b.done, ops[0].result, ops[1].result, ops[2].result,
	      ops[3].result, ops[4].result);

	memset(ops, 0, 3 * sizeof(ops[0]));
	ops[0].op = BUDDY_OP_MALLOC;
	ops[0].size = 32;
	ops[1].op = BUDDY_OP_MALLOC;
	ops[1].size = 32;
	ops[1].flags = 8;		/* bad */
	ops[2].op = BUDDY_OP_MALLOC;
	ops[2].size = 32;
	ops[2].result = 99;
	b.count = 3;
	b.flags = BUDDY_BATCH_STOP_ON_ERROR;
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), 0, "BATCH with STOP_ON_ERROR");
	CHECK(b.done == 2 && !ops[0].result && ops[1].result == -EINVAL &&
	      ops[2].result == 99,
	      "STOP_ON_ERROR: stops after the failing op (done %u)", b.done);

	/* The results cannot be written back: -EFAULT */
	{
		struct buddy_op *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (ro == MAP_FAILED)
			die("mmap");
		memset(ro, 0, sizeof(*ro));
		ro->op = BUDDY_OP_MALLOC;
		ro->size = 16;
		mprotect(ro, 4096, PROT_READ);
		b.ops = (uintptr_t)ro;
		b.count = 1;
		b.flags = 0;
		CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT,
			  "BATCH with read-only ops");
		munmap(ro, 4096);
	}
	munmap(base, info.window_bytes);
	close(fd);
}

/* Struct sizes, and results that cannot be written back */

/* Smallest _IOC_SIZE each command accepts (the end of its last output). */
static unsigned int min_size(unsigned int nr)
{
	switch (nr) {
	case _IOC_NR(BUDDY_IOC_INFO):
		return offsetof(struct buddy_info, reserved);
	case _IOC_NR(BUDDY_IOC_FREE):
		return offsetof(struct buddy_block_args, new_offset);
	case _IOC_NR(BUDDY_IOC_BATCH):
		return offsetof(struct buddy_batch, reserved);
	case _IOC_NR(BUDDY_IOC_CLONE):
		return offsetof(struct buddy_clone_args, reserved);
	case _IOC_NR(BUDDY_IOC_STATS):
		return sizeof(struct buddy_heap_stats);
	}
	return _IOC_NR(BUDDY_IOC_MALLOC) <= nr && nr <= _IOC_NR(BUDDY_IOC_MEMALIGN) ?
	       sizeof(struct buddy_alloc_args) : sizeof(struct buddy_block_args);
}

/* Every command with every size from 0 to 64 bytes beyond its struct. */
void test_sizes(void)
{
	static const unsigned long cmds[] = {
		BUDDY_IOC_INFO, BUDDY_IOC_MALLOC, BUDDY_IOC_CALLOC,
		BUDDY_IOC_MEMALIGN, BUDDY_IOC_FREE, BUDDY_IOC_REALLOC,
		BUDDY_IOC_USABLE_SIZE, BUDDY_IOC_STATS, BUDDY_IOC_BATCH,
		BUDDY_IOC_CLONE,
	};
	static unsigned char buf[sizeof(struct buddy_heap_stats) + 64];
	struct buddy_op op;
	unsigned int i, size, bad;
	int fd, ret;

	fd = open_heap();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		unsigned int nr = _IOC_NR(cmds[i]), min = min_size(nr);
		unsigned int full = _IOC_SIZE(cmds[i]);
		unsigned long long live0 = get_stats(fd).live_blocks;
		unsigned int below_ok = 0, above_bad = 0;

		bool blk = nr >= _IOC_NR(BUDDY_IOC_FREE) &&
			   nr <= _IOC_NR(BUDDY_IOC_USABLE_SIZE);

		for (size = 0; size <= full + 64; size++) {
			uint64_t off = 0;

			memset(buf, 0, sizeof(buf));
			/* a block to work on, for the commands that take one */
			if (blk && heap_malloc(fd, 16, 0, &off, NULL))
				die("MALLOC");
			switch (nr) {
			case _IOC_NR(BUDDY_IOC_MALLOC):
				((struct buddy_alloc_args *)buf)->size = 16;
				break;
			case _IOC_NR(BUDDY_IOC_CALLOC):
				((struct buddy_alloc_args *)buf)->size = 16;
				((struct buddy_alloc_args *)buf)->nmemb = 2;
				break;
			case _IOC_NR(BUDDY_IOC_MEMALIGN):
				((struct buddy_alloc_args *)buf)->size = 16;
				((struct buddy_alloc_args *)buf)->align = 64;
				break;
			case _IOC_NR(BUDDY_IOC_FREE):
			case _IOC_NR(BUDDY_IOC_USABLE_SIZE):
				((struct buddy_block_args *)buf)->offset = off;
				break;
			case _IOC_NR(BUDDY_IOC_REALLOC):
				((struct buddy_block_args *)buf)->offset = off;
				((struct buddy_block_args *)buf)->size = 100;
				break;
			case _IOC_NR(BUDDY_IOC_BATCH):
				memset(&op, 0, sizeof(op));
				op.op = BUDDY_OP_MALLOC;
				op.size = 16;
				((struct buddy_batch *)buf)->ops = (uintptr_t)&op;
				((struct buddy_batch *)buf)->count = 1;
				((struct buddy_batch *)buf)->op_size = sizeof(op);
				break;
			}
			ret = xioctl(fd, ioc_resize(cmds[i], size), buf);
			if (size < min) {
				if (ret != -EINVAL)
					below_ok++;
			} else if (ret) {
				above_bad++;
			}
			/* give back what a successful call made */
			if (!ret) {
				switch (nr) {
				case _IOC_NR(BUDDY_IOC_MALLOC):
				case _IOC_NR(BUDDY_IOC_CALLOC):
				case _IOC_NR(BUDDY_IOC_MEMALIGN):
					heap_free(fd, ((struct buddy_alloc_args *)buf)->offset, NULL);
					break;
				case _IOC_NR(BUDDY_IOC_REALLOC):
					off = ((struct buddy_block_args *)buf)->new_offset;
					break;
				case _IOC_NR(BUDDY_IOC_BATCH):
					if (!op.result)
						heap_free(fd, op.offset, NULL);
					break;
				case _IOC_NR(BUDDY_IOC_CLONE):
					close(((struct buddy_clone_args *)buf)->fd);
					break;
				}
			}
			if (blk && (nr != _IOC_NR(BUDDY_IOC_FREE) || ret))
				heap_free(fd, off, NULL);
		}
		bad = get_stats(fd).live_blocks != live0;
		CHECK(!below_ok && !above_bad && !bad,
		      "sizes: command nr %u: every size below %u refused with EINVAL "
		      "(%u not), %u..%u accepted (%u not), no block leaked (%s)",
		      nr, min, below_ok, min, full + 64, above_bad,
		      bad ? "leaked" : "none");
	}
	close(fd);
}

/* A result that can be read but not written: -EFAULT, heap unchanged. */
void test_efault(void)
{
	struct buddy_heap_stats t0, t1;
	struct buddy_block_args *rb;
	struct buddy_batch b;
	struct buddy_clone_args *rc;
	struct buddy_op *rops;
	uint64_t off, use, window;
	char *page, *base;
	int fd, probe, next, i, ret;

	fd = open_heap();
	window = get_info(fd).window_bytes;
	base = map_window(fd, window);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");

	/* REALLOC that has to move the block */
	CHECK_ERR(heap_malloc(fd, 64, 0, &off, NULL), 0, "efault: MALLOC 64");
	{
		uint64_t o2;

		CHECK_ERR(heap_malloc(fd, 64, 0, &o2, NULL), 0,
			  "efault: MALLOC its buddy (REALLOC must move)");
	}
	memset(base + off, 0x3c, 64);
	memset(page, 0, 4096);
	rb = (struct buddy_block_args *)page;
	rb->offset = off;
	rb->size = 4096;
	mprotect(page, 4096, PROT_READ);
	t0 = get_stats(fd);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_REALLOC, rb), EFAULT,
		  "efault: REALLOC into a read-only struct");
	t1 = get_stats(fd);
	ret = heap_usable(fd, off, &use, NULL);
	CHECK(ret == 0 && use == 64 &&
	      all_bytes(base + off, 0x3c, 64) &&
	      t1.nr_reallocs == t0.nr_reallocs && t1.bytes_in_use == t0.bytes_in_use,
	      "efault: the old block is still live and intact (usable %llu, "
	      "reallocs %llu -> %llu)", (unsigned long long)use,
	      (unsigned long long)t0.nr_reallocs,
	      (unsigned long long)t1.nr_reallocs);

	/* BATCH whose ops cannot be written back */
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
	memset(page, 0, 4096);
	rops = (struct buddy_op *)page;
	for (i = 0; i < 8; i++) {
		rops[i].op = BUDDY_OP_MALLOC;
		rops[i].size = 32;
	}
	mprotect(page, 4096, PROT_READ);
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)rops;
	b.count = 8;
	b.op_size = sizeof(*rops);
	t0 = get_stats(fd);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_BATCH, &b), EFAULT,
		  "efault: BATCH with read-only ops");
	t1 = get_stats(fd);
	CHECK(t1.live_blocks == t0.live_blocks && t1.nr_allocs == t0.nr_allocs,
	      "efault: ... ran none of them (live blocks %llu -> %llu)",
	      (unsigned long long)t0.live_blocks,
	      (unsigned long long)t1.live_blocks);

	/* CLONE into a read-only struct: no heap copied, no fd */
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
	memset(page, 0, 4096);
	rc = (struct buddy_clone_args *)page;
	rc->fd = -1;
	mprotect(page, 4096, PROT_READ);
	probe = dup(0);
	close(probe);
	CHECK_ERR(xioctl(fd, BUDDY_IOC_CLONE, rc), EFAULT,
		  "efault: CLONE into a read-only struct");
	next = dup(0);
	close(next);
	CHECK(next == probe, "efault: ... installed no fd");

	munmap(page, 4096);
	munmap(base, window);
	close(fd);
}

/*
 * Growth: the chunk sizes a heap adds as 1 MiB blocks fill it, seen in
 * STATS.  It doubles up to 64 MiB and grows by 64 MiB steps from there
 * (BUDDY_KHEAP_STEP_BYTES: a clone's first change to a chunk copies that
 * chunk's metadata, which a doubling heap's newest chunk makes half of it).
 */
void test_growth(void)
{
	static const uint64_t want_mib[] = { 1, 1, 2, 4, 8, 16, 32, 64, 64, 64 };
	uint64_t seen_mib[sizeof(want_mib) / sizeof(want_mib[0])];
	unsigned int n = 0, i, allocs = 0;
	uint64_t heap = 0, off;
	char got[256] = "", want[256] = "";
	int fd = open_heap();

	while (n < sizeof(want_mib) / sizeof(want_mib[0]) && allocs++ < 400) {
		struct buddy_heap_stats st;

		if (heap_malloc(fd, MiB, 0, &off, NULL))
			break;
		st = get_stats(fd);
		if (st.heap_bytes != heap)
			seen_mib[n++] = (st.heap_bytes - heap) / MiB;
		heap = st.heap_bytes;
	}
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %" PRIu64,
			 seen_mib[i]);
	for (i = 0; i < sizeof(want_mib) / sizeof(want_mib[0]); i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 " %" PRIu64, want_mib[i]);
	CHECK(!strcmp(got, want),
	      "growth: chunks of%s MiB (want%s): doubling up to 64 MiB, then 64 MiB steps",
	      got, want);
	close(fd);
}

/*
 * Trimmed runs (the module's trim_block_bytes, 8 KiB by default): a
 * request that needs a block of 8 KiB or more holds its size rounded up to
 * 256 B, and the rest of the block is free for others at once.
 */
void test_trim(void)
{
	struct buddy_info info;
	struct buddy_heap_stats s0, s1;
	uint64_t off, off2, noff, use, i;
	uint32_t reason;
	unsigned char *base;
	int fd = open_heap();

	info = get_info(fd);
	base = (unsigned char *)map_window(fd, info.window_bytes);
	s0 = get_stats(fd);
	CHECK_ERR(heap_malloc(fd, 5000, 0, &off, &use), 0, "trim: MALLOC 5000");
	CHECK(use == 5120, "trim: MALLOC 5000 holds 5120 bytes, not 8192 (%"
	      PRIu64 ")", use);
	s1 = get_stats(fd);
	CHECK(s1.bytes_in_use - s0.bytes_in_use == 5120 &&
	      s1.live_blocks - s0.live_blocks == 1,
	      "trim: STATS count 5120 bytes in one block (%" PRIu64 ", %" PRIu64
	      ")", (uint64_t)(s1.bytes_in_use - s0.bytes_in_use),
	      (uint64_t)(s1.live_blocks - s0.live_blocks));
	CHECK_ERR(heap_malloc(fd, 1000, 0, &off2, NULL), 0, "trim: MALLOC 1000");
	CHECK(off2 == off + 5120,
	      "trim: the next 1 KiB block is the trimmed tail (+%" PRIu64 ")",
	      off2 - off);

	/* the second block of the run is not an allocation of its own */
	s0 = get_stats(fd);
	CHECK_ERR(heap_free(fd, off + 4096, &reason), EINVAL,
		  "trim: FREE at the run's second block");
	CHECK(reason == BUDDY_REASON_NOT_BLOCK_START,
	      "trim: ... reason NOT_BLOCK_START (%u)", reason);
	CHECK_ERR(heap_usable(fd, off + 4096, NULL, &reason), EINVAL,
		  "trim: USABLE_SIZE at the run's second block");
	s1 = get_stats(fd);
	CHECK(s0.bytes_in_use == s1.bytes_in_use &&
	      s0.live_blocks == s1.live_blocks &&
	      !memcmp(s0.free_blocks, s1.free_blocks, sizeof(s0.free_blocks)),
	      "trim: refused, the heap unchanged");

	/* realloc grows into the tail once it is free again, and shrinks */
	for (i = 0; i < 5000; i++)
		base[off + i] = (unsigned char)(i * 7);
	CHECK_ERR(heap_free(fd, off2, NULL), 0, "trim: FREE the 1000");
	CHECK_ERR(heap_realloc(fd, off, 7000, BUDDY_ALLOC_ZERO, &noff, &use),
		  0, "trim: REALLOC 5000 -> 7000");
	for (i = 0; i < 5000 && base[off + i] == (unsigned char)(i * 7); i++)
		;
	CHECK(noff == off && use == 7168 && i == 5000 &&
	      all_bytes((char *)base + off + 5120, 0, 7168 - 5120),
	      "trim: REALLOC grew in place to 7168, contents kept, the gain zeroed (+%"
	      PRIu64 ", %" PRIu64 ")", noff - off, use);
	CHECK_ERR(heap_realloc(fd, off, 4200, 0, &noff, &use), 0,
		  "trim: REALLOC 7000 -> 4200");
	CHECK(noff == off && use == 4352, "trim: REALLOC shrank in place to 4352 (%"
	      PRIu64 ")", use);

	/* a realloc that must move gets the whole block: room to grow */
	CHECK_ERR(heap_malloc(fd, 1000, 0, &off2, NULL), 0, "trim: MALLOC 1000");
	CHECK(off2 == off + 5120, "trim: ... in the run's tail again (+%" PRIu64 ")",
	      off2 - off);
	CHECK_ERR(heap_realloc(fd, off, 7000, 0, &noff, &use), 0,
		  "trim: REALLOC 4352 -> 7000 past the 1000");
	for (i = 0; i < 4352 && base[noff + i] == (unsigned char)(i * 7); i++)
		;
	CHECK(noff != off && use == 8192 && i == 4352,
	      "trim: REALLOC moved into a whole 8 KiB block, contents kept (%"
	      PRIu64 ", %" PRIu64 " kept)", use, i);
	off = noff;
	/* past the block's 8 KiB: the run claims the free space after it */
	CHECK_ERR(heap_realloc(fd, off, 12000, BUDDY_ALLOC_ZERO, &noff, &use),
		  0, "trim: REALLOC 7000 -> 12000");
	for (i = 0; i < 4352 && base[noff + i] == (unsigned char)(i * 7); i++)
		;
	CHECK(noff == off && use == 12032 && i == 4352 &&
	      all_bytes((char *)base + off + 8192, 0, 12032 - 8192),
	      "trim: ... then grew in place past its block to 12032, contents kept, the gain zeroed (+%"
	      PRIu64 ", %" PRIu64 ", %" PRIu64 " kept)", noff - off, use, i);
	CHECK_ERR(heap_free(fd, off2, NULL), 0, "trim: FREE the 1000");
	CHECK_ERR(heap_free(fd, off, NULL), 0, "trim: FREE the moved block");

	/* sizes that fill their block stay one block; large ones are trimmed */
	CHECK_ERR(heap_malloc(fd, 8192, 0, &off, &use), 0, "trim: MALLOC 8192");
	CHECK(use == 8192, "trim: MALLOC 8192 holds 8192 (%" PRIu64 ")", use);
	CHECK_ERR(heap_malloc(fd, MiB + 1, 0, &off2, &use), 0,
		  "trim: MALLOC 1 MiB + 1");
	CHECK(use == MiB + 256, "trim: MALLOC 1 MiB + 1 holds 1 MiB + 256 (%"
	      PRIu64 ")", use);
	CHECK_ERR(heap_malloc(fd, 4000, 0, &off, &use), 0, "trim: MALLOC 4000");
	CHECK(use == 4096, "trim: below 8 KiB blocks stay powers of two (%"
	      PRIu64 ")", use);
	munmap(base, info.window_bytes);
	close(fd);
}
