/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every buddy-kmod KUnit module shares: the heap consistency checks.
 *
 * Each module #includes the sources it tests (../buddy_core.c first) before
 * this header, so buddy_check() and its structures are in scope.
 *
 * HEAP_CHECK() is the mid-case assertion: a case uses it where it asserts
 * something about the heap at that point.  buddy_test_expect_whole() is the
 * end-of-case one: the fixtures run it from their kunit resource release on
 * every heap a case leaves live, so every case ends with buddy_check() on
 * what it leaves behind, however it ends.  It must not abort (a release
 * cannot), so it marks the case failed instead.
 */
#ifndef BUDDY_TEST_H
#define BUDDY_TEST_H

#include <kunit/test.h>

#define HEAP_CHECK(test, h)						\
	do {								\
		struct buddy_violation __v = { };			\
		int __r = buddy_check(h, &__v);				\
									\
		KUNIT_ASSERT_EQ_MSG(test, __r, 0,			\
				    "buddy_check: %s (offset %llu order %u)", \
				    __v.what ? __v.what : "?",		\
				    __v.offset, __v.order);		\
	} while (0)

/* Fail @test, without aborting it, if @heap does not pass buddy_check(). */
static inline void buddy_test_expect_whole(struct kunit *test,
					   const struct buddy_heap *heap)
{
	struct buddy_violation v = { };

	if (buddy_check(heap, &v))
		KUNIT_FAIL(test,
			   "the case left an inconsistent heap: buddy_check: %s (offset %llu order %u)",
			   v.what ? v.what : "?", v.offset, v.order);
}

#endif /* BUDDY_TEST_H */
