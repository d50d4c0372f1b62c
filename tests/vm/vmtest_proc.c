// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest_proc.c - buddy_vmtest's checks with several tasks: two processes
 * with heaps of their own, a child forked without CLONE, threads sharing
 * one heap, and a task killed while waiting for the heap's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

/* Two processes */

/*
 * What a forked child's checks added to the counts it started with.  The
 * two-process test runs its child by hand (they talk while it runs, which
 * in_child() does not allow), so it counts the child's results itself.
 */
struct child_counts {
	unsigned int passed, failed, skipped;
};

static struct child_counts counts_now(void)
{
	struct child_counts c = {
		ktap_passed(), ktap_failed(), ktap_skipped(),
	};

	return c;
}

/*
 * In a child: send the results printed since @start to the parent.  Only
 * the child runs checks meanwhile, so its numbers follow the parent's.
 */
static bool send_counts(int fd, struct child_counts start)
{
	struct child_counts c = counts_now();

	c.passed -= start.passed;
	c.failed -= start.failed;
	c.skipped -= start.skipped;
	return write(fd, &c, sizeof(c)) == sizeof(c);
}

/* In the parent: count what the child printed (nothing if it died). */
static void add_child_counts(int fd)
{
	struct child_counts c;

	if (read(fd, &c, sizeof(c)) == sizeof(c))
		ktap_add_counts(c.passed, c.failed, c.skipped);
}

static void isolated_child(void *arg)
{
	int pfd = *(int *)arg;
	struct buddy_info info;
	uint64_t off;
	char *base, c = 0;
	int fd;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "child: MALLOC");
	memset(base + off, 0xcc, 4096);
	if (write(pfd, &off, sizeof(off)) != sizeof(off) ||
	    read(pfd, &c, 1) != 1)
		CHECK(0, "child: talks to the parent");
	CHECK(all_bytes(base + off, 0xcc, 4096),
	      "child: its block kept its contents while the parent wrote");
	CHECK(get_stats(fd).live_blocks == 1, "child: its heap has one block");
	munmap(base, info.window_bytes);
	close(fd);
}

void test_processes(void)
{
	struct child_counts start;
	struct buddy_info info;
	uint64_t off, coff = 0;
	int sp[2], fd, status;
	bool heard, told;
	char *base;
	pid_t pid;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	CHECK_ERR(heap_malloc(fd, 4096, 0, &off, NULL), 0, "parent: MALLOC");
	memset(base + off, 0xaa, 4096);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		die("socketpair");
	fflush(stdout);
	start = counts_now();	/* the child's results are those after this */
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(sp[0]);
		close(fd);	/* the child has only its own heap */
		munmap(base, info.window_bytes);
		isolated_child(&sp[1]);
		ktap_diag("child: %u passed, %u failed",
			  ktap_passed() - start.passed,
			  ktap_failed() - start.failed);
		_exit(send_counts(sp[1], start) &&
		      ktap_failed() == start.failed ? 0 : 1);
	}
	close(sp[1]);
	/*
	 * The child numbers its results after ours: the parent's own checks
	 * wait until the child has sent its counts back.
	 */
	heard = read(sp[0], &coff, sizeof(coff)) == sizeof(coff);
	memset(base + off, 0xab, 4096);
	told = write(sp[0], "x", 1) == 1;
	add_child_counts(sp[0]);
	waitpid(pid, &status, 0);
	if (!heard)
		CHECK(0, "parent: hears from the child");
	CHECK(coff == off, "two heaps, independent offsets (both %#" PRIx64 ")",
	      coff);
	if (!told)
		CHECK(0, "parent: talks to the child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child process: its heap was its own");
	CHECK(all_bytes(base + off, 0xab, 4096),
	      "parent: its block untouched by the child");
	CHECK(get_stats(fd).live_blocks == 1, "parent: its heap has one block");
	close(sp[0]);
	munmap(base, info.window_bytes);
	close(fd);
}

/* A child forked without BUDDY_IOC_CLONE */

struct nocopy {
	int fd;
	char *base;
	uint64_t off;
	uint64_t window;
};

/* Whether the kernel can read @p in this process (no SIGSEGV taken). */
static bool kernel_can_read(const void *p)
{
	int pfd[2];
	bool ok;

	if (pipe(pfd))
		die("pipe");
	ok = write(pfd[1], p, 1) == 1;
	close(pfd[0]);
	close(pfd[1]);
	return ok;
}

/* Whether the VMA holding @addr shows @flag in /proc/self/smaps. */
static bool vma_has_flag(const void *addr, const char *flag)
{
	unsigned long start, end, a = (unsigned long)addr;
	bool in_vma = false, found = false;
	char line[512], *p;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		die("/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		/* a VMA's first line: "start-end perms offset dev inode path" */
		start = strtoul(line, &p, 16);
		if (p != line && *p == '-') {
			end = strtoul(p + 1, &p, 16);
			if (*p == ' ') {
				in_vma = start <= a && a < end;
				continue;
			}
		}
		if (in_vma && !strncmp(line, "VmFlags:", 8)) {
			char *tok, *save = NULL;

			for (tok = strtok_r(line + 8, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save))
				found |= !strcmp(tok, flag);
			break;
		}
	}
	fclose(f);
	return found;
}

static void raw_child(void *arg)
{
	struct nocopy *nc = arg;
	char *mine;

	CHECK(!kernel_can_read(nc->base + nc->off),
	      "raw child: the parent's window is not inherited");
	/* the fd is: mapping it again shares the parent's heap on purpose */
	mine = map_window(nc->fd, nc->window);
	CHECK(all_bytes(mine + nc->off, 0x5a, 64),
	      "raw child: its own mapping of the inherited fd shows the parent's block");
	memset(mine + nc->off, 0x5b, 64);
	munmap(mine, nc->window);
}

static void dofork_child(void *arg)
{
	struct nocopy *nc = arg;

	CHECK(kernel_can_read(nc->base + nc->off) &&
	      all_bytes(nc->base + nc->off, 0x5b, 64),
	      "MADV_DOFORK child: inherits the window, the parent's heap");
}

/*
 * The window is VM_DONTCOPY: a child forked without asking for a copy
 * (a raw fork(), _Fork(), clone()) does not silently share the parent's
 * heap through an inherited mapping.  It keeps the fd and may map the heap
 * on purpose, and MADV_DOFORK opts the window into being inherited.
 */
void test_fork_no_clone(void)
{
	struct buddy_info info;
	struct nocopy nc;

	nc.fd = open_heap();
	info = get_info(nc.fd);
	nc.window = info.window_bytes;
	nc.base = map_window(nc.fd, nc.window);
	CHECK_ERR(heap_malloc(nc.fd, 4096, 0, &nc.off, NULL), 0,
		  "fork without CLONE: MALLOC");
	memset(nc.base + nc.off, 0x5a, 4096);
	CHECK(vma_has_flag(nc.base, "dc"),
	      "the window is VM_DONTCOPY (smaps VmFlags dc)");

	in_child("raw fork", raw_child, &nc);
	CHECK(all_bytes(nc.base + nc.off, 0x5b, 64),
	      "parent: sees what the child wrote through its own mapping");

	CHECK(!madvise(nc.base, nc.window, MADV_DOFORK) &&
	      !vma_has_flag(nc.base, "dc"), "MADV_DOFORK clears it");
	in_child("fork after MADV_DOFORK", dofork_child, &nc);
	CHECK(get_stats(nc.fd).live_blocks == 1,
	      "fork without CLONE: the parent's heap has its one block");
	munmap(nc.base, nc.window);
	close(nc.fd);
}

/* Threads: allocations, frees, chunk give-backs and faults at once */

struct thr {
	int fd;
	char *base;
	unsigned int seed;
	int errors;
};

static void *thread_fn(void *varg)
{
	struct thr *t = varg;
	uint64_t offs[32], sz[32];
	unsigned int i, j;

	memset(offs, 0, sizeof(offs));
	for (i = 0; i < 3000; i++) {
		j = rand_r(&t->seed) % 32;
		if (offs[j]) {
			uint64_t o = offs[j] - 1;

			if (t->base[o] != (char)j || t->base[o + sz[j] - 1] != (char)j)
				t->errors++;
			if (heap_free(t->fd, offs[j] - 1, NULL))
				t->errors++;
			offs[j] = 0;
			continue;
		}
		sz[j] = 1 + rand_r(&t->seed) % (rand_r(&t->seed) % 8 ? 4096 : 2 * MiB);
		if (heap_malloc(t->fd, sz[j], 0, &offs[j], NULL)) {
			t->errors++;
			continue;
		}
		t->base[offs[j]] = (char)j;
		t->base[offs[j] + sz[j] - 1] = (char)j;
		offs[j]++;	/* 0 means empty */
	}
	for (j = 0; j < 32; j++)
		if (offs[j] && heap_free(t->fd, offs[j] - 1, NULL))
			t->errors++;
	return NULL;
}

void test_threads(void)
{
	struct thr t[4];
	pthread_t tid[4];
	struct buddy_info info;
	char *base;
	int fd, i, errors = 0;

	fd = open_heap();
	info = get_info(fd);
	base = map_window(fd, info.window_bytes);
	for (i = 0; i < 4; i++) {
		t[i].fd = fd;
		t[i].base = base;
		t[i].seed = 1234 + i;
		t[i].errors = 0;
		pthread_create(&tid[i], NULL, thread_fn, &t[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		errors += t[i].errors;
	}
	CHECK(errors == 0, "4 threads x 3000 malloc/touch/free: %d errors",
	      errors);
	CHECK(get_stats(fd).live_blocks == 0, "threads: heap empty afterwards");
	munmap(base, info.window_bytes);
	close(fd);
}

/* SIGKILL while waiting for a heap's lock */

/* CALLOC the whole @bytes chunk and free it again; 0 or -errno. */
static int calloc_free(int fd, uint64_t bytes)
{
	uint64_t off;
	int ret;

	ret = heap_alloc(fd, BUDDY_IOC_CALLOC, bytes, 1, 0, 0, &off, NULL);
	if (!ret)
		ret = heap_free(fd, off, NULL);
	return ret;
}

/*
 * Run the calling task on CPU 0 only.  A waiter on another CPU than the
 * lock's holder spins on the mutex while the holder runs, and a fatal
 * signal does not stop that spinning; on the holder's CPU it sleeps in
 * mutex_lock_killable(), which is what is under test.
 */
static void on_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(3);
}

/*
 * kill_lock_waiter() - time how long a task blocked on the heap's lock
 * takes to die on SIGKILL: a holder loops on CALLOC + FREE of the heap's
 * one @bytes chunk (the kernel zeroes it all with the lock held, letting
 * others run every MiB: @t_hold each), a waiter on the same CPU loops on
 * STATS, and the waiter is killed a tenth of a CALLOC after one began.
 */
static double kill_lock_waiter(int fd, uint64_t bytes, double t_hold)
{
	pid_t holder, waiter;
	int status, pfd[2];
	double t0, t_kill;
	char ch;

	waiter = fork();
	if (waiter < 0)
		die("fork");
	if (!waiter) {
		on_cpu0();
		for (;;)
			get_stats(fd);
	}
	if (pipe(pfd))
		die("pipe");
	holder = fork();
	if (holder < 0)
		die("fork");
	if (!holder) {
		close(pfd[0]);
		on_cpu0();
		for (;;) {
			if (write(pfd[1], "c", 1) != 1)
				_exit(1);
			calloc_free(fd, bytes);
		}
	}
	close(pfd[1]);
	for (int begun = 0; begun < 2; begun++)	/* the second CALLOC has begun */
		if (read(pfd[0], &ch, 1) != 1)
			break;
	usleep((useconds_t)(t_hold * 1e6 / 10));
	t0 = now_s();
	kill(waiter, SIGKILL);
	waitpid(waiter, &status, 0);
	t_kill = now_s() - t0;
	close(pfd[0]);
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	return t_kill;
}

/*
 * A task waiting for the heap's lock behind a long request dies at once on
 * SIGKILL.  (CLONE used to be that long request, copying the heap; it
 * shares the pages now.  A CALLOC of a chunk that is not fresh zeroes all
 * of it under the lock.)
 */
void test_killable(void)
{
	double t_hold, t_kill = 0, t0;
	uint64_t off, size = 512 * MiB;
	int fd, ret;

	fd = open_heap();
	/*
	 * One 512 MiB chunk, kept when free: it is the whole heap.  Under
	 * load a kill takes a fixed while; a longer hold keeps it below half.
	 */
	ret = heap_malloc(fd, size, 0, &off, NULL);
	if (!ret)
		ret = heap_free(fd, off, NULL);
	t0 = now_s();
	if (!ret)
		ret = calloc_free(fd, size);
	t_hold = now_s() - t0;
	CHECK(!ret, "killable: CALLOC + FREE of a used 512 MiB chunk in %.3f s (%s)",
	      t_hold, ret ? strerror(-ret) : "ok");
	if (ret) {
		close(fd);
		return;
	}
	/*
	 * One that could not be killed would wait out most of the CALLOC
	 * (~0.9 t_hold).  A killed waiter can still spin on the mutex while
	 * the holder runs, and on a busy host the holder's vCPU is descheduled
	 * at random: a trial over the bound is retried, the bound unchanged.
	 */
	if (t_hold < 0.1) {
		ktap_diag("killable: a CALLOC of %.3f s is too short to time a kill behind it",
			  t_hold);
	} else {
		for (int tries = 0; tries < 5; tries++) {
			t_kill = kill_lock_waiter(fd, size, t_hold);
			if (t_kill < t_hold / 2)
				break;
			ktap_diag("killable: the lock waiter took %.3f s to die, retried",
				  t_kill);
		}
		CHECK(t_kill < t_hold / 2,
		      "killable: SIGKILL while waiting for the heap behind a CALLOC: dead "
		      "in %.3f s (a CALLOC takes %.3f s)", t_kill, t_hold);
	}
	/* the holder died between CALLOC and FREE, or not */
	if (get_stats(fd).live_blocks)
		heap_free(fd, off, NULL);
	CHECK(get_stats(fd).live_blocks == 0 && get_stats(fd).nr_chunks == 1,
	      "killable: the heap is intact (at most the holder's block was left)");
	close(fd);
}
