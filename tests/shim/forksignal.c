// SPDX-License-Identifier: GPL-2.0
/*
 * forksignal [ROUNDS]: fork from a signal handler that interrupts a fork.
 *
 * As glibc's tst-mallocfork, ROUNDS times: the parent forks a child that
 * signals it at once, and the handler forks again.  The signal lands while
 * the parent is still inside the shim's fork (whose heap copy makes that
 * window long); a shim that takes its fork locks in the handler's fork
 * then deadlocks (before the fix, 1 run in 6 of tst-mallocfork hung).
 * Exits 0 when every round ends; tests/shim/guest runs it under a timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void fork_in_handler(int sig)
{
	pid_t child = fork();

	(void)sig;
	if (child == 0)
		_exit(0);
	if (child > 0)
		while (waitpid(child, NULL, 0) < 0)
			;
	handled++;
}

int main(int argc, char **argv)
{
	long rounds = 30;
	struct sigaction sa;
	pid_t parent = getpid();

	if (argc > 1) {
		char *end;

		rounds = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end || rounds < 1 || rounds > 100000) {
			fprintf(stderr, "usage: forksignal [ROUNDS 1..100000]\n");
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fork_in_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		return perror("sigaction"), 1;
	free(malloc(64));	/* a heap to copy at every fork */
	for (long i = 0; i < rounds; i++) {
		pid_t child = fork();

		if (child < 0)
			return perror("fork"), 1;
		if (child == 0) {
			kill(parent, SIGALRM);
			_exit(0);
		}
		while (waitpid(child, NULL, 0) < 0)
			;
	}
	/* each signal was handled (at once, or when the fork was over) */
	printf("%ld rounds, %d signals handled\n", rounds, (int)handled);
	return handled == rounds ? 0 : 1;
}
