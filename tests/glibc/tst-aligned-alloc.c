/* Test for aligned_alloc, glibc 2.36 semantics.
   SPDX-License-Identifier: GPL-2.0

   glibc 2.36 ships no tst-aligned-alloc.c: it came with glibc 2.38, together
   with 2.38's stricter aligned_alloc (EINVAL for an alignment that is not a
   power of two).  In 2.36 aligned_alloc is an alias of memalign: an
   alignment up to MALLOC_ALIGNMENT is plain malloc, any other alignment is
   rounded up to a power of two, only one above SIZE_MAX / 2 + 1 is EINVAL,
   and the size need not be a multiple of the alignment.  This test checks
   that contract in the style of glibc's own tests (support/check.h,
   support/test-driver.c); tests/glibc/build uses it only when the source
   tree has no tst-aligned-alloc.c of its own.  */

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libc-diag.h>
#include <support/check.h>

static size_t
round_pow2 (size_t a)
{
  size_t r = 1;
  while (r < a)
    r <<= 1;
  return r;
}

static int
do_test (void)
{
  void *p;
  size_t sizes[] = { 0, 1, 15, 16, 100, 4096, 100000 };

  for (size_t align = 1; align <= (1u << 20); align <<= 1)
    for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++)
      {
        p = aligned_alloc (align, sizes[i]);
        TEST_VERIFY_EXIT (p != NULL);
        TEST_VERIFY (((uintptr_t) p & (align - 1)) == 0);
        TEST_VERIFY (malloc_usable_size (p) >= sizes[i]);
        memset (p, 0xa5, sizes[i]);
        free (p);
      }

  /* Not a power of two: rounded up (2.36), not rejected (2.38).  */
  size_t odd[] = { 3, 24, 48, 100, 1000, 4097, 65537 };
  for (size_t i = 0; i < sizeof (odd) / sizeof (odd[0]); i++)
    {
      p = aligned_alloc (odd[i], 10);
      TEST_VERIFY_EXIT (p != NULL);
      if (odd[i] > 16)
        TEST_VERIFY (((uintptr_t) p & (round_pow2 (odd[i]) - 1)) == 0);
      free (p);
    }

  /* The size need not be a multiple of the alignment.  */
  p = aligned_alloc (64, 65);
  TEST_VERIFY_EXIT (p != NULL);
  TEST_VERIFY (((uintptr_t) p & 63) == 0);
  free (p);

  DIAG_PUSH_NEEDS_COMMENT;
#if __GNUC_PREREQ (7, 0)
  DIAG_IGNORE_NEEDS_COMMENT (7, "-Walloc-size-larger-than=");
#endif
  errno = 0;
  TEST_VERIFY (aligned_alloc (SIZE_MAX / 2 + 2, 1) == NULL);
  TEST_VERIFY (errno == EINVAL);
  errno = 0;
  TEST_VERIFY (aligned_alloc (SIZE_MAX, 1) == NULL);
  TEST_VERIFY (errno == EINVAL);
  errno = 0;
  TEST_VERIFY (aligned_alloc (64, SIZE_MAX) == NULL);
  TEST_VERIFY (errno == ENOMEM);
  errno = 0;
  TEST_VERIFY (aligned_alloc (64, (size_t) PTRDIFF_MAX + 1) == NULL);
  TEST_VERIFY (errno == ENOMEM);
  DIAG_POP_NEEDS_COMMENT;

  return 0;
}

#include <support/test-driver.c>
