// SPDX-License-Identifier: GPL-2.0
/*
 * The buddy.h client API: heaps of one's own, next to the default heap that
 * serves malloc.  Built twice: against libbuddy.so and against libbuddy.a.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buddy.h"
#include "t.h"

static volatile size_t vs;

static size_t V(size_t n)
{
	vs = n;
	return vs;
}

int main(void)
{
	struct buddy_heap_stats st;
	buddy_t *h = buddy_open(), *h2, *d = buddy_default();
	char *p, *q;

	CHECK(h != NULL);
	CHECK(d != NULL);	/* linking libbuddy puts malloc on the device */
	if (!h || !d)
		DONE();
	CHECK(buddy_info(h)->abi_version == BUDDY_ABI_VERSION);
	CHECK(buddy_base(h) != buddy_base(d));
	CHECK(((uintptr_t)buddy_base(h) & (buddy_window_size(h) - 1)) == 0);
	CHECK(fcntl(buddy_fd(h), F_GETFD) & FD_CLOEXEC);

	p = buddy_malloc(h, V(100));
	CHECK(p && buddy_usable_size(h, p) == 128);
	CHECK(p >= (char *)buddy_base(h) &&
	      p < (char *)buddy_base(h) + buddy_window_size(h));
	/* a block of one heap is not a block of the other */
	CHECK(buddy_usable_size(d, p) == 0);
	CHECK(buddy_free(d, p) == BUDDY_REASON_OUTSIDE && errno == EINVAL);
	CHECK(buddy_free(h, p + 16) == BUDDY_REASON_NOT_BLOCK_START);
	strcpy(p, "hello");
	q = buddy_realloc(h, p, V(5000));
	CHECK(q && !strcmp(q, "hello"));
	CHECK(buddy_free(h, q) == 0);
	CHECK(buddy_free(h, q) == BUDDY_REASON_ALREADY_FREE);
	CHECK(buddy_realloc(h, q, V(10)) == NULL && errno == EINVAL);
	CHECK(buddy_free(h, NULL) == 0);

	errno = 0;
	CHECK(buddy_malloc(h, V(SIZE_MAX)) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(buddy_calloc(h, V(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(buddy_memalign(h, V(48), 10) == NULL && errno == EINVAL);
	p = buddy_memalign(h, V(65536), 10);
	CHECK(p && ((uintptr_t)p & 65535) == 0);
	buddy_free(h, p);
	p = buddy_calloc(h, 10, V(10));
	CHECK(p && !p[0] && !p[99]);
	CHECK(buddy_realloc(h, p, V(0)) == NULL);	/* frees */

	CHECK(buddy_stats(h, &st) == 0);
	CHECK(st.live_blocks == 0 && st.nr_allocs >= 3);
	if (st.live_blocks || st.nr_allocs < 3)
		printf("live %llu allocs %llu frees %llu in_use %llu\n",
		       (unsigned long long)st.live_blocks,
		       (unsigned long long)st.nr_allocs,
		       (unsigned long long)st.nr_frees,
		       (unsigned long long)st.bytes_in_use);

	/* fork: the child has its own copy of this heap too */
	p = buddy_malloc(h, V(64));
	strcpy(p, "parent");
	pid_t pid = fork();
	if (pid == 0) {
		int ok = !strcmp(p, "parent");

		strcpy(p, "child");
		ok &= buddy_free(h, p) == 0;
		q = buddy_malloc(h, 64);
		ok &= q != NULL;
		_exit(ok ? 0 : 1);
	}
	int status;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!strcmp(p, "parent"));
	CHECK(buddy_usable_size(h, p) == 64);
	CHECK(buddy_free(h, p) == 0);

	h2 = buddy_open();
	CHECK(h2 && buddy_close(h2) == 0);
	CHECK(buddy_close(d) == -1 && errno == EINVAL);
	CHECK(buddy_close(h) == 0);
	DONE();
}
