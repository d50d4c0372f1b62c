// SPDX-License-Identifier: GPL-2.0
/*
 * When the kernel cannot copy the heap at fork (here: no descriptor left for
 * the copy, RLIMIT_NOFILE), fork() must fail with ENOMEM instead of letting
 * parent and child share one heap; a fork that bypasses the library's
 * wrapper (libc's own symbol) sees the child exit 127.  Afterwards forks
 * work again and the heap is intact.
 */
#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"

int main(void)
{
	struct rlimit old, rl;
	char *p = malloc(100);
	int fds[64], n = 0, st;
	pid_t pid;

	strcpy(p, "intact");
	getrlimit(RLIMIT_NOFILE, &old);
	rl = old;
	rl.rlim_cur = 16;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	while (n < 64 && (fds[n] = dup(0)) >= 0)
		n++;

	errno = 0;
	pid = fork();
	if (pid == 0)
		_exit(0);	/* must not get here */
	CHECK(pid == -1 && errno == ENOMEM);

	/* libc's fork, not the wrapper: the child exits 127 */
	pid_t (*libc_fork)(void) = (pid_t (*)(void))dlsym(dlopen("libc.so.6", RTLD_NOW), "fork");
	CHECK(libc_fork != NULL);
	if (libc_fork) {
		pid = libc_fork();
		if (pid == 0)
			_exit(0);
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid &&
		      WIFEXITED(st) && WEXITSTATUS(st) == 127);
	}

	while (n)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
	pid = fork();
	if (pid == 0)
		_exit(strcmp(p, "intact") ? 1 : 0);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0);
	CHECK(!strcmp(p, "intact"));
	free(p);
	DONE();
}
