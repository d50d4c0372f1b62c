// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_fuzz - an ioctl fuzzer of /dev/buddy, run inside the test VM.
 *
 *	buddy_fuzz hostile [--procs P] [--threads T] [--calls N] [--seconds S]
 *			   [--min-calls N] [--seed X] [--user-limit BYTES]
 *	buddy_fuzz model   [--procs P] [--threads T] [--ops N] [--seconds S]
 *			   [--seed X] [--epoch E] [--label NAME]
 *
 * hostile: P processes x T threads issue N ioctls in all (or stop after S
 *   seconds): valid and invalid command numbers, wrong _IOC_SIZE, random
 *   and boundary values in every field, NULL / unmapped / kernel-half /
 *   read-only / page-straddling / in-window argument pointers, offsets
 *   inside, outside and between blocks, double frees, BATCH with bad
 *   counts, op sizes and pointers, CLONE; and racing with them, other
 *   threads remap, unmap, mprotect, madvise, mremap and touch the windows,
 *   close and reopen the heaps, fork, read the heaps' debugfs files and
 *   pin window pages in pipes (vmsplice).  The oracle: every ioctl returns
 *   0 or one of the errors the ABI allows, successful results are well
 *   formed, no process dies of an unexpected signal, and (vm/run) the
 *   kernel reports nothing.
 *
 *   With --user-limit BYTES, max_user_bytes is BYTES for the run, CLONE
 *   storms are more frequent and at least one must end with ENOMEM.
 *
 * model: P processes x T threads on one heap per process issue only valid
 *   operations (single ioctls and BATCH), write a pattern into every live
 *   block through the window and verify it before each free and realloc,
 *   zap the window's PTEs (MADV_DONTNEED) and remap it in place while the
 *   others work, and at every epoch barrier compare STATS (live_blocks,
 *   bytes_in_use) with the model and, now and then, CLONE the heap and
 *   verify every block in the copy.  Catches overlapping blocks, lost or
 *   corrupted data and accounting drift.
 *
 *	buddy_fuzz bench
 *
 * bench: what single calls cost in this guest (INFO, ENOTTY, MALLOC+FREE).
 *
 * The modes are in fuzz_hostile.c and fuzz_model.c; this file parses the
 * options, forks the processes, adds up their results and runs bench.
 *
 * Output is KTAP (tests/lib/ktap.h): the number of calls per result kind
 * as "# " lines, then "ok N ..." / "not ok N ..." lines and
 * "N passed, M failed".
 */
#include "buddy_fuzz.h"

static const char *const kind_name[NR_KIND] = {
	"INFO", "MALLOC", "CALLOC", "MEMALIGN", "FREE", "REALLOC",
	"USABLE_SIZE", "STATS", "BATCH", "CLONE", "batch ops",
	"bad commands", "generic ioctls",
};

struct shared *sh;
size_t page_size;
bool storm_often;

void report(const char *fmt, ...)
{
	uint32_t i = atomic_fetch_add(&sh->nmsgs, 1);
	va_list ap;

	if (i >= MAX_MSGS)
		return;
	va_start(ap, fmt);
	vsnprintf(sh->msgs[i], sizeof(sh->msgs[i]), fmt, ap);
	va_end(ap);
}

/* bench: what one call costs here (TCG + KASAN + lockdep) */

static void bench(void)
{
	struct buddy_info info;
	uint64_t off;
	double t0;
	int fd = open_heap(), i, n = 3000, big_pairs;

	t0 = now_s();
	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		ioctl(fd, BUDDY_IOC_INFO, &info);
	}
	ktap_diag("bench: INFO %.1f us/call", (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	for (i = 0; i < n; i++)
		ioctl(fd, _IOWR(BUDDY_IOC_MAGIC, 0x55, struct buddy_info), &info);
	ktap_diag("bench: unknown command (ENOTTY) %.1f us/call",
		  (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	for (i = 0; i < n / 2; i++) {
		heap_malloc(fd, 16, 0, &off, NULL);
		heap_free(fd, off, NULL);
	}
	ktap_diag("bench: MALLOC 16 + FREE %.1f us/call",
		  (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	big_pairs = n / 30;
	for (i = 0; i < big_pairs; i++) {
		heap_malloc(fd, 2 * MiB, 0, &off, NULL);
		heap_free(fd, off, NULL);
	}
	ktap_diag("bench: MALLOC 2 MiB (new chunk) + FREE (chunk back) %.1f us/call",
		  (now_s() - t0) * 1e6 / (2.0 * big_pairs));
	close(fd);
}

static void usage(void)
{
	fprintf(stderr, "usage: buddy_fuzz hostile|model|bench [--procs P] [--threads T] "
		"[--calls N] [--min-calls N] [--ops N] [--seconds S] [--seed X] "
		"[--epoch E] [--label NAME] [--user-limit BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.procs = 4, .threads = 4, .calls = 100000, .ops = ~0ULL,
		.seconds = 60, .seed = 1, .epoch = 200, .label = NULL,
	};
	bool hostile;
	int i, status, bad_exit = 0;
	pid_t *pids;
	double t0, dt;
	uint64_t total;
	long long saved_limit = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (argc < 2)
		usage();
	ktap_begin("buddy_fuzz", argv[1]);
	if (!strcmp(argv[1], "bench")) {
		bench();
		return ktap_end();
	}
	if (!strcmp(argv[1], "hostile"))
		hostile = true;
	else if (!strcmp(argv[1], "model"))
		hostile = false;
	else
		usage();
	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--procs"))
			o.procs = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--threads"))
			o.threads = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--calls"))
			o.calls = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--min-calls"))
			o.min_calls = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--ops"))
			o.ops = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--seed"))
			o.seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--epoch"))
			o.epoch = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--user-limit"))
			o.user_limit = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--label"))
			o.label = argv[i + 1];
		else
			usage();
	}
	if (i != argc || o.procs < 1 || o.threads < 1 || o.epoch < 1)
		usage();
	if (!o.label)
		o.label = hostile ? "hostile" : "model";
	if (!o.min_calls || o.min_calls > o.calls)
		o.min_calls = o.calls;
	if (access(DEV, F_OK))
		BAIL_ERRNO(DEV " (is buddy.ko loaded?)");

	sh = shared_alloc(sizeof(*sh));
	guard_install();
	signal(SIGPIPE, SIG_IGN);
	ktap_diag("%s: %d processes x %d threads, seed %" PRIu64
		  ", limit %.0f s, %s %" PRIu64, o.label, o.procs, o.threads,
		  o.seed, o.seconds, hostile ? "calls" : "ops/thread",
		  hostile ? o.calls : o.ops);

	if (hostile && o.user_limit) {
		char v[32];

		storm_often = true;
		saved_limit = read_ll(USER_LIMIT_PARAM, NULL);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)o.user_limit);
		CHECK(saved_limit > 0 && !write_file(USER_LIMIT_PARAM, v),
		      "%s: max_user_bytes %s during the run (was %lld)", o.label,
		      v, saved_limit);
	}
	t0 = now_s();
	pids = calloc(o.procs, sizeof(*pids));
	for (i = 0; i < o.procs; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0)
			BAIL_ERRNO("fork");
		if (!pids[i])
			_exit(hostile ? hostile_proc(&o, i) : model_proc(&o, i));
	}
	for (i = 0; i < o.procs; i++) {
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad_exit++;
			ktap_diag("%s: process %d ended with status %#x%s%s",
				  o.label, i, status,
				  WIFSIGNALED(status) ? ", signal " : "",
				  WIFSIGNALED(status) ?
				  strsignal(WTERMSIG(status)) : "");
		}
	}
	free(pids);
	dt = now_s() - t0;
	if (saved_limit > 0) {
		char v[32];

		snprintf(v, sizeof(v), "%lld", saved_limit);
		CHECK(!write_file(USER_LIMIT_PARAM, v),
		      "%s: max_user_bytes restored to %s", o.label, v);
	}
	total = counters_total(&sh->all);

	ktap_diag("%s: %.1f s, %.0f ioctls/s", o.label, dt, total / dt);
	print_counters("ioctls: ", &sh->all);
	for (i = 0; i < NR_KIND; i++) {
		char prefix[64];

		if (!counters_total(&sh->kind[i]))
			continue;
		if (hostile && i != KIND_BATCHOP)
			snprintf(prefix, sizeof(prefix), "  %-14s %5.0f us CPU/call ",
				 kind_name[i], sh->kind_ns[i] / 1e3 /
				 (sh->kind_sampled[i] ? sh->kind_sampled[i] : 1));
		else
			snprintf(prefix, sizeof(prefix), "  %-14s ", kind_name[i]);
		print_counters(prefix, &sh->kind[i]);
	}
	if (hostile) {
		static const char *const an[] = {
			"ioctl", "touch", "mm", "reopen", "fork", "debugfs",
			"pipes", "scm", "clone-storm",
		};
		char line[512];
		size_t len = 0;

		line[0] = 0;
		for (i = 0; i < 9 && len < sizeof(line); i++)
			len += snprintf(line + len, sizeof(line) - len,
					" %s %.1f/%" PRIu64, an[i],
					16 * sh->action_ns[i] / 1e9,
					(uint64_t)sh->action_n[i]);
		ktap_diag("CPU seconds per action (sampled 1 in 16, scaled):%s",
			  line);
		print_counters("window touches: ", &sh->touch);
		print_counters("mm calls (mmap/munmap/mprotect/madvise/mremap/...): ",
			       &sh->mm);
		print_counters("other calls (open/close/fork/debugfs/pipes): ",
			       &sh->misc);
		ktap_diag("fd passing: %" PRIu64 " heaps parked in SCM_RIGHTS "
			  "messages, %" PRIu64 " taken back and grown; %" PRIu64
			  " CLONE storms, %" PRIu64 " copies, %" PRIu64
			  " stopped by ENOMEM (max_user_bytes %lld)",
			  (uint64_t)sh->fds_parked, (uint64_t)sh->fds_received,
			  (uint64_t)sh->storms, (uint64_t)sh->storm_copies,
			  (uint64_t)sh->storm_enomem,
			  o.user_limit ? (long long)o.user_limit : -1LL);
	} else {
		ktap_diag("model: %" PRIu64 " blocks verified, %" PRIu64
			  " STATS cross-checks, %" PRIu64 " CLONE checks, %" PRIu64
			  " epochs, %" PRIu64 " heap resets, %" PRIu64 " zaps, %"
			  PRIu64 " remaps", (uint64_t)sh->verified_blocks,
			  (uint64_t)sh->stats_checks, (uint64_t)sh->clone_checks,
			  (uint64_t)sh->epochs, (uint64_t)sh->resets,
			  (uint64_t)sh->zaps, (uint64_t)sh->remaps);
	}
	for (i = 0; i < MAX_MSGS && i < (int)sh->nmsgs; i++)
		ktap_diag("problem: %s", sh->msgs[i]);

	CHECK(bad_exit == 0, "%s: all %d processes exited normally (%d did not)",
	      o.label, o.procs, bad_exit);
	if (hostile) {
		CHECK(total >= o.min_calls, "%s: %" PRIu64 " ioctls (at least %"
		      PRIu64 " wanted, stopping at %" PRIu64 " or after %.0f s)",
		      o.label, total, o.min_calls, o.calls, o.seconds);
		CHECK(sh->violations == 0,
		      "%s: every result allowed by the ABI and well formed (%" PRIu64
		      " violations)", o.label, (uint64_t)sh->violations);
		CHECK(sh->fds_parked > 0 && sh->storms > 0,
		      "%s: heaps passed in SCM_RIGHTS messages (%" PRIu64
		      ") and CLONE storms (%" PRIu64 ") ran", o.label,
		      (uint64_t)sh->fds_parked, (uint64_t)sh->storms);
		if (o.user_limit)
			CHECK(sh->storm_enomem > 0,
			      "%s: the per-user bound stopped CLONE storms (%"
			      PRIu64 " of %" PRIu64 ")", o.label,
			      (uint64_t)sh->storm_enomem, (uint64_t)sh->storms);
	} else {
		CHECK(sh->model_errors == 0,
		      "%s: no lost, corrupted or overlapping data, STATS agree (%"
		      PRIu64 " errors in %" PRIu64 " calls, %" PRIu64
		      " verifications)", o.label, (uint64_t)sh->model_errors,
		      total, (uint64_t)sh->verified_blocks);
		CHECK(sh->stats_checks > 0 && sh->clone_checks > 0,
		      "%s: %" PRIu64 " STATS and %" PRIu64 " CLONE cross-checks ran",
		      o.label, (uint64_t)sh->stats_checks,
		      (uint64_t)sh->clone_checks);
	}
	return ktap_end();
}
