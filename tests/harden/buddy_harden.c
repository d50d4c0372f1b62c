// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_harden - fault injection, isolation/privilege and lifecycle checks
 * of /dev/buddy, run as root inside the debug-kernel test VM.
 *
 *	buddy_harden faults [--short]
 *	buddy_harden isolation
 *	buddy_harden lifecycle MODULE.ko [--kills N] [--kmemleak]
 *
 * faults: failslab and fail_page_alloc (which also fails vmalloc's pages)
 *   are pointed at one thread (task-filter + /proc/thread-self/make-it-fail)
 *   that runs valid operations on a model heap; every call must succeed
 *   or fail with ENOMEM.  After each round, with injection off, every
 *   block of the model must still hold its pattern, STATS must agree and
 *   frees must succeed.
 * isolation: another process's offsets are refused or reach only one's
 *   own blocks, its data is never visible, fresh blocks carry no residue
 *   of a closed heap, reopening through /proc gives a new heap, mapping
 *   tricks the device tests do not cover are refused (offset past the
 *   window, O_RDONLY + PROT_WRITE, READ_IMPLIES_EXEC, mremap regrowth,
 *   PROT_EXEC on a split piece), an unprivileged user (nobody) can use
 *   /dev/buddy but not debugfs, fault injection or the module, and a
 *   memcg at its memory.max gets ENOMEM from every allocating path.
 * lifecycle: rmmod is refused while a heap is reachable in any way (a
 *   CLONE fd, a clone's mapping, an fd in flight in a unix socket, an fd
 *   held by a child, an open debugfs file) and works once nothing is left;
 *   processes SIGKILLed at random moments during BATCH, CLONE and faults
 *   leave nothing behind (rmmod works, optionally kmemleak is clean).
 *
 * This file has main and what the tests share (a model heap, the kernel
 * log's reports); the tests are in harden_faults.c, harden_isolation.c
 * and harden_lifecycle.c.
 *
 * Output is KTAP (tests/lib/ktap.h): "ok N ..." / "not ok N ..." lines,
 * "# " details and "N passed, M failed".
 */
#include "buddy_harden.h"

size_t page_size;

/*
 * The kernel log since the last call: the first line that looks like a
 * report (warn_alloc splats, WARNING, BUG, KASAN, lockdep) goes to @first;
 * returns how many such lines there were.
 */
int kmsg_reports(char *first, size_t size)
{
	static unsigned long seen;
	static const char *const pats[] = {
		"vmalloc error", "page allocation failure", "WARNING:", "BUG:",
		"KASAN", "possible circular locking", "Call Trace",
	};
	char line[512];
	unsigned long n = 0;
	unsigned int i;
	int hits = 0;
	FILE *p = popen("dmesg 2>/dev/null", "r");

	first[0] = 0;
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		if (n++ < seen)
			continue;
		for (i = 0; i < ARRAY_SIZE(pats); i++)
			if (strstr(line, pats[i]))
				break;
		if (i == ARRAY_SIZE(pats))
			continue;
		if (!hits++)
			snprintf(first, size, "%.*s", (int)strcspn(line, "\n"), line);
	}
	pclose(p);
	seen = n;
	return hits;
}

/* Fault in @bytes of stack now, so that later calls need no new pages. */
void __attribute__((noinline)) prefault_stack(size_t bytes)
{
	/* cppcheck-suppress allocaCalled ; the point is to grow the stack */
	volatile char *p = alloca(bytes);
	size_t i;

	for (i = 0; i < bytes; i += 4096)
		p[i] = 0;
}

/* The model heap of the faults and memcg tests (buddy_harden.h) */

void fh_open(struct fheap *h)
{
	struct buddy_info info;

	memset(h, 0, sizeof(*h));
	h->fd = open_heap();
	info = get_info(h->fd);
	h->window = info.window_bytes;
	h->base = map_window_at(h->fd, h->window, NULL);
	if (!h->base)
		BAIL_ERRNO("map window");
}

void fh_add(struct fheap *h, uint64_t off, uint64_t size, uint64_t usable,
	    bool fill)
{
	struct fblk *b = &h->b[h->n++];

	b->off = off;
	b->size = size;
	b->usable = usable;
	b->seed = 0x5eed0000u + ++h->gen;
	if (fill)
		pat_fill(h->base + off, size, b->seed);
}

/* Every block holds its pattern, USABLE_SIZE and STATS agree. */
bool fh_verify(struct fheap *h, char *why, size_t whylen)
{
	struct buddy_heap_stats st;
	uint64_t bytes = 0, usable;
	unsigned int i;
	int ret;

	for (i = 0; i < h->n; i++) {
		struct fblk *b = &h->b[i];

		if (pat_check(h->base + b->off, b->size, b->seed) >= 0) {
			snprintf(why, whylen, "block %#" PRIx64 " lost its data",
				 b->off);
			return false;
		}
		ret = heap_usable(h->fd, b->off, &usable, NULL);
		if (ret || usable != b->usable) {
			snprintf(why, whylen, "USABLE_SIZE %#" PRIx64 ": %s %" PRIu64,
				 b->off, errname(-ret), usable);
			return false;
		}
		bytes += b->usable;
	}
	ret = heap_stats(h->fd, &st);
	if (ret || st.live_blocks != h->n || st.bytes_in_use != bytes) {
		snprintf(why, whylen, "STATS %s: %" PRIu64 " blocks, %" PRIu64
			 " bytes (model %u, %" PRIu64 ")", errname(-ret),
			 (uint64_t)st.live_blocks, (uint64_t)st.bytes_in_use,
			 h->n, bytes);
		return false;
	}
	snprintf(why, whylen, "%u blocks, %" PRIu64 " bytes", h->n, bytes);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: buddy_harden faults [--short]\n"
		"       buddy_harden isolation\n"
		"       buddy_harden lifecycle MODULE.ko [--kills N] [--kmemleak]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	ktap_begin("buddy_harden", argv[1]);
	if (!strcmp(argv[1], "faults")) {
		cmd_faults(argc > 2 && !strcmp(argv[2], "--short"));
	} else if (!strcmp(argv[1], "isolation")) {
		cmd_isolation();
	} else if (!strcmp(argv[1], "lifecycle")) {
		int kills = 20, i;
		bool leak = false;

		if (argc < 3)
			usage();
		for (i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--kills") && i + 1 < argc)
				kills = (int)strtol(argv[++i], NULL, 10);
			else if (!strcmp(argv[i], "--kmemleak"))
				leak = true;
			else
				usage();
		}
		cmd_lifecycle(argv[2], kills, leak);
	} else {
		usage();
	}
	return ktap_end();
}
