"""Best-of timing shared by the benchmarks."""

import time


def best_times(functions, repeats, rounds, clock=time.perf_counter):
    """Best time of each function, in blocks of ``repeats`` taken in turns (a, b, a, b),
    so that a machine that speeds up or slows down during the run favours none of them.
    Each block starts with an untimed warm-up (caches, lazy imports, thread pools) after
    a pause: OpenCV's and OpenBLAS's worker threads spin for a while after a call and
    would take cores from whatever runs next. ``clock``: `time.process_time` times the
    CPU of all threads, which other processes on a busy machine disturb less than the
    wall clock."""
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for i, function in enumerate(functions):
            time.sleep(0.2)
            function()
            for _ in range(repeats):
                start = clock()
                function()
                best[i] = min(best[i], clock() - start)
    return best
