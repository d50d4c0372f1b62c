// SPDX-License-Identifier: GPL-2.0
/*
 * forkcache [FORKS]: fork while other threads are in the middle of moving
 * small blocks into, out of and through their per-thread caches (pushes,
 * pops, refills and flushes of full bins), and check in each child that
 * every such block is either the program's (the child can free it) or back
 * in the heap, never orphaned: allocated in the kernel's copy yet freed as
 * far as the shim says, where nobody can ever free it (issue #13).
 *
 * Workers malloc and free bursts of 16..4096-byte blocks, saying in shared
 * memory what each slot is doing (MALLOCING, HELD, FREEING, EMPTY) around
 * every call.  A child, with one thread, looks at every slot:
 *   HELD      the block is the child's: live to the shim and in the
 *             kernel's copy (a 64 KiB slab holding it there), and free()
 *             must take it;
 *   FREEING   the free was under way: unless another slot holds the
 *             block (freed, then handed out again), if malloc_usable_size()
 *             still knows it, the free had not happened and the child frees
 *             it; if not, the kernel's copy must not hold it as a block of
 *             its own (an orphan; an orphaned slab object keeps its slab,
 *             which the count below finds);
 *   MALLOCING an allocation under way may leave one block nobody can name.
 * (Blocks from the fork side arena are not the kernel's: HELD ones are
 * freed, FREEING ones left alone, as their usable size says nothing.)
 * A child that aborts (free() refusing a block, or the shim's child
 * handler replaying a deferred free the copy does not hold) fails too.
 * Then, its cache flushed (and with it every slab no object is used of),
 * the child's heap may hold only what the program held before the workers
 * started, plus one block per MALLOCING slot.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buddy.h"
#include "t.h"

enum { WORKERS = 3, SLOTS = 1200, SLAB_BYTES = 64 << 10 };
enum { EMPTY, MALLOCING, HELD, FREEING };

struct slot {
	int state;
	void *p;
};

static struct slot slots[WORKERS][SLOTS];
static buddy_t *dev;
static int stop;
static pthread_barrier_t ready, go;

static void set(struct slot *s, int state)
{
	__atomic_store_n(&s->state, state, __ATOMIC_SEQ_CST);
}

static uint64_t live(void)
{
	struct buddy_heap_stats st;

	if (buddy_stats(dev, &st))
		return (uint64_t)-1;
	return st.live_blocks;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct slot *s = slots[id];
	uint64_t seed = 1234567 + (uint64_t)id * 7919;

	/* this thread's cache exists before the baseline is taken */
	free(malloc(16));
	buddy_cache_flush();
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);	/* the baseline is taken */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		/* a burst of one size: bins run empty and full again */
		size_t size = (size_t)16 << (xorshift(&seed) % 9);
		int n = 64 + (int)(xorshift(&seed) % SLOTS);

		if (n > SLOTS)
			n = SLOTS;
		for (int i = 0; i < n; i++) {
			set(&s[i], MALLOCING);
			__atomic_store_n(&s[i].p, malloc(size - xorshift(&seed) % 8),
					 __ATOMIC_SEQ_CST);
			set(&s[i], s[i].p ? HELD : EMPTY);
		}
		for (int i = 0; i < n; i++) {
			if (s[i].state != HELD)
				continue;
			set(&s[i], FREEING);
			free(s[i].p);
			__atomic_store_n(&s[i].p, NULL, __ATOMIC_SEQ_CST);
			set(&s[i], EMPTY);
		}
	}
	buddy_cache_flush();
	return NULL;
}

static void say(const char *msg)
{
	(void)!write(1, msg, strlen(msg));
}

static int in_window(const void *p)
{
	return (uintptr_t)p - (uintptr_t)buddy_base(dev) < buddy_window_size(dev);
}

/* Whether the kernel's copy holds a 64 KiB slab where p is. */
static int in_slab(const void *p)
{
	uintptr_t slab = (uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1);

	return buddy_usable_size(dev, (void *)slab) == SLAB_BYTES;
}

/* A slot the child finds wrong (snprintf of numbers does not allocate). */
static void bad_slot(const char *what, int w, int i, const struct slot *s)
{
	char buf[200];

	snprintf(buf, sizeof(buf),
		 "# child: %s: worker %d slot %d state %d %p: shim %zu, kernel %zu bytes\n",
		 what, w, i, s->state, s->p, malloc_usable_size(s->p),
		 buddy_usable_size(dev, s->p));
	say(buf);
}

/*
 * Whether another slot holds p: a free under way may have given the block
 * back to the kernel, and another thread got it, before the fork.
 */
static int held_elsewhere(const struct slot *self, const void *p)
{
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < SLOTS; i++) {
			const struct slot *s = &slots[w][i];

			if (s != self && s->p == p &&
			    (s->state == HELD || s->state == MALLOCING))
				return 1;
		}
	return 0;
}

/*
 * In the child: nothing here may allocate (write(2), not stdio).  Returns
 * 0, 1 for a wrong block, 2 for blocks lost.
 */
static int child(uint64_t base)
{
	uint64_t allowance = 0, now;
	int wrong = 0;

	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < SLOTS; i++) {
			struct slot *s = &slots[w][i];
			int held = s->state == HELD ||
				   (s->state == MALLOCING && s->p);

			if (!s->p || !in_window(s->p)) {
				/* side arena blocks: not the kernel's */
				if (held)
					free(s->p);
				else if (s->state == MALLOCING)
					allowance++;
				continue;
			}
			if (held) {
				/* the child's: both the shim and its copy know it */
				if (!malloc_usable_size(s->p) ||
				    !(buddy_usable_size(dev, s->p) ||
				      in_slab(s->p))) {
					bad_slot("a held block is not live", w, i, s);
					wrong++;
				} else {
					free(s->p);
				}
			} else if (s->state == FREEING &&
				   !held_elsewhere(s, s->p)) {
				if (malloc_usable_size(s->p)) {
					free(s->p);	/* not freed yet */
				} else if (buddy_usable_size(dev, s->p) &&
					   !in_slab(s->p)) {
					bad_slot("a block being freed is orphaned", w, i, s);
					wrong++;
				}
			}
		}
	buddy_cache_flush();
	now = live();
	if (now > base + allowance) {
		char buf[120];

		snprintf(buf, sizeof(buf), "# child: %llu blocks lost (%llu allowed)\n",
			 (unsigned long long)(now - base), (unsigned long long)allowance);
		say(buf);
		for (int w = 0; w < WORKERS; w++)
			for (int i = 0; i < SLOTS; i++)
				if (slots[w][i].state == MALLOCING ||
				    slots[w][i].state == FREEING)
					bad_slot("under way", w, i, &slots[w][i]);
	}
	return wrong ? 1 : now > base + allowance ? 2 : 0;
}

int main(int argc, char **argv)
{
	long forks = argc > 1 ? strtol(argv[1], NULL, 10) : 150;
	int failed[3] = { 0 };
	pthread_t t[WORKERS];
	uint64_t seed = 99, base;

	printf("# forkcache: %d workers, %ld forks\n", WORKERS, forks);
	fflush(stdout);			/* stdout's buffer, before the baseline */
	dev = buddy_default();
	CHECK(dev != NULL);
	if (!dev)
		DONE();
	pthread_barrier_init(&ready, NULL, WORKERS + 1);
	pthread_barrier_init(&go, NULL, WORKERS + 1);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&ready);
	buddy_cache_flush();
	base = live();
	pthread_barrier_wait(&go);
	for (long f = 0; f < forks; f++) {
		struct timespec ts = { 0, (long)(xorshift(&seed) % 2000000) };
		int st = -1;
		pid_t pid;

		nanosleep(&ts, NULL);
		pid = fork();
		if (pid == 0)
			_exit(child(base));
		CHECK(pid > 0);
		if (pid < 0)
			break;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) <= 2)
			failed[WEXITSTATUS(st)]++;
		else
			CHECK(!"the child died");
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	printf("# %d children fine, %d saw a wrong block, %d lost blocks\n",
	       failed[0], failed[1], failed[2]);
	CHECK(failed[1] == 0);
	CHECK(failed[2] == 0);
	/* the parent lost nothing either */
	buddy_cache_flush();
	printf("# live blocks: %llu before the workers, %llu after\n",
	       (unsigned long long)base, (unsigned long long)live());
	CHECK(live() == base);
	DONE();
}
