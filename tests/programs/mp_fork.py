# SPDX-License-Identifier: GPL-2.0
# mp_fork.py METRIC [-m MIB] [-r REPS]: python3 multiprocessing's fork
# latency with MIB MiB of live heap in python objects (issue 13; bench/guest).
#
# Run with PYTHONMALLOC=malloc so the heap is malloc's (the shim's when
# preloaded), not pymalloc's arenas.  Builds MIB * 16 bytes objects of
# 64 KiB - 64 - sys.getsizeof(b"") bytes each (a malloc() of 64 KiB - 64
# bytes, as bench/alloc_bench.c's fork workload: no power-of-two rounding
# doubles the heap), every byte written, then times REPS rounds of
# Process(target=nothing).start() + join() with the 'fork' start method
# after one untimed warm-up, and prints, in bench/lib.sh's SAMPLE format,
#     SAMPLE METRIC <median ms> ms
#     SAMPLE METRIC.mib <MIB> MiB
import multiprocessing
import statistics
import sys
import time


def nothing():
    pass


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit("usage: mp_fork.py METRIC [-m MIB] [-r REPS]")
    metric, mib, reps = args[0], 1, 5
    i = 1
    while i < len(args):
        if i + 1 >= len(args) or args[i] not in ("-m", "-r"):
            sys.exit("usage: mp_fork.py METRIC [-m MIB] [-r REPS]")
        if args[i] == "-m":
            mib = int(args[i + 1])
        else:
            reps = int(args[i + 1])
        i += 2
    if mib < 1 or reps < 1:
        sys.exit("mp_fork.py: MIB and REPS must be >= 1")

    n = 65536 - 64 - sys.getsizeof(b"")
    heap = [bytes((k & 255,)) * n for k in range(mib * 16)]

    ctx = multiprocessing.get_context("fork")
    ts = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        p = ctx.Process(target=nothing)
        p.start()
        p.join()
        t = time.perf_counter() - t0
        if p.exitcode != 0:
            sys.exit("mp_fork.py: the child exited with %s" % p.exitcode)
        if r:
            ts.append(t)
    # the heap is still there, unchanged
    if len(heap) != mib * 16 or heap[-1][n - 1] != (mib * 16 - 1) & 255:
        sys.exit("mp_fork.py: the heap changed")
    print("SAMPLE %s %.6g ms" % (metric, statistics.median(ts) * 1e3))
    print("SAMPLE %s.mib %d MiB" % (metric, mib))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
