// SPDX-License-Identifier: GPL-2.0
/*
 * forkstress [FORKS_PER_THREAD]: threads allocate and check blocks while
 * some of them fork.  Each child checks that it sees every block its forking
 * thread and the main thread had (same addresses, same contents), scribbles
 * over them, allocates and frees on its own, and exits; the parent then
 * checks that none of the child's writes reached it.  Grandchildren too.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"

enum { THREADS = 4, BLOCKS = 64 };

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static struct blk shared[BLOCKS];	/* made by main before the threads */
static long forks_per_thread = 10;
static int errors;

static void bad(const char *what)
{
	__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
	printf("FAIL: %s\n", what);
	fflush(stdout);
}

static void make(struct blk *b, size_t n, uint64_t tag)
{
	b->n = n;
	b->tag = tag;
	b->p = malloc(n);
	if (!b->p) {
		bad("malloc");
		return;
	}
	t_fill(b->p, n, tag);
}

static int check_all(const struct blk *b, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i].p && !t_verify(b[i].p, b[i].n, b[i].tag))
			return 0;
	return 1;
}

/* In a child: our copy must be complete, private and usable. */
static int child(struct blk *mine, int depth)
{
	struct blk fresh[32];

	if (!check_all(shared, BLOCKS) || !check_all(mine, BLOCKS))
		return 10;
	/* scribble over everything we inherited: the parent must not see it */
	for (int i = 0; i < BLOCKS; i++) {
		memset(shared[i].p, 0xee, shared[i].n);
		memset(mine[i].p, 0xee, mine[i].n);
	}
	/* free half of the inherited blocks, allocate new ones */
	for (int i = 0; i < BLOCKS; i += 2) {
		free(shared[i].p);
		free(mine[i].p);
	}
	for (int i = 0; i < 32; i++)
		make(&fresh[i], (size_t)i * 97 + 1, 7000 + i);
	if (!check_all(fresh, 32))
		return 11;
	if (depth == 0) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			_exit(check_all(fresh, 32) ? 0 : 12);
		if (pid < 0 || waitpid(pid, &st, 0) != pid ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			return 13;
	}
	for (int i = 0; i < 32; i++)
		free(fresh[i].p);
	return 0;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct blk mine[BLOCKS];
	uint64_t seed = 77 + (uint64_t)id;

	for (int i = 0; i < BLOCKS; i++)
		make(&mine[i], xorshift(&seed) % 5000, (uint64_t)(id << 20 | i));
	for (long f = 0; f < forks_per_thread; f++) {
		/* churn a little so the heap changes between forks */
		int k = (int)(xorshift(&seed) % BLOCKS);

		if (!t_verify(mine[k].p, mine[k].n, mine[k].tag))
			bad("parent block changed before fork");
		free(mine[k].p);
		make(&mine[k], xorshift(&seed) % 5000,
		     (uint64_t)(id << 20 | (f + 1) << 8 | k));
		if (id % 2 == 0) {
			pid_t pid = fork();
			int st;

			if (pid == 0)
				_exit(child(mine, 0));
			if (pid < 0) {
				bad("fork failed");
				continue;
			}
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
			    WEXITSTATUS(st)) {
				printf("child status %d\n", st);
				bad("child failed");
			}
			if (!check_all(shared, BLOCKS) || !check_all(mine, BLOCKS))
				bad("child's writes reached the parent");
		}
	}
	if (!check_all(mine, BLOCKS))
		bad("parent blocks changed at end");
	for (int i = 0; i < BLOCKS; i++)
		free(mine[i].p);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];

	if (argc > 1)
		forks_per_thread = strtol(argv[1], NULL, 10);
	for (int i = 0; i < BLOCKS; i++)
		make(&shared[i], (size_t)i * 131 + 1, (uint64_t)i);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (!check_all(shared, BLOCKS))
		bad("shared blocks changed");
	printf("forkstress: %d threads, %ld forks each from %d of them, %d errors\n",
	       THREADS, forks_per_thread, THREADS / 2, errors);
	return errors ? 1 : 0;
}
