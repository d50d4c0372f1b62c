// SPDX-License-Identifier: GPL-2.0
/*
 * pkgdemo - a client built only with what `make install` laid out:
 *
 *   cc pkgdemo.c $(pkg-config --cflags --libs buddy)
 *
 * Uses the client API of buddy.h and the uapi header linux/buddy.h.
 * Prints "pkgdemo ok" and exits 0 when the heap works.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <buddy.h>
#include <linux/buddy.h>

int main(void)
{
	struct buddy_heap_stats st;
	buddy_t *h = buddy_open();
	char *p, *q;

	if (!h) {
		perror("pkgdemo: buddy_open");
		return 1;
	}
	if (buddy_info(h)->abi_version != BUDDY_ABI_VERSION) {
		fprintf(stderr, "pkgdemo: ABI %u, built for %d\n",
			buddy_info(h)->abi_version, BUDDY_ABI_VERSION);
		return 1;
	}
	p = buddy_malloc(h, 100);
	q = buddy_memalign(h, 4096, 10);
	if (!p || !q || ((uintptr_t)q & 4095)) {
		fprintf(stderr, "pkgdemo: allocation failed\n");
		return 1;
	}
	snprintf(p, 100, "hello from /dev/buddy");
	if (buddy_usable_size(h, p) != 128 || buddy_stats(h, &st) ||
	    st.live_blocks != 2) {
		fprintf(stderr, "pkgdemo: usable size or stats wrong\n");
		return 1;
	}
	if (buddy_free(h, p) || buddy_free(h, q) || buddy_close(h)) {
		fprintf(stderr, "pkgdemo: free or close failed\n");
		return 1;
	}
	/* Linking libbuddy puts malloc on /dev/buddy too. */
	p = strdup("malloc works");
	printf("pkgdemo ok (%s, heap via %s)\n", p ? p : "-",
	       buddy_default() ? "/dev/buddy" : "glibc fallback");
	free(p);
	return 0;
}
