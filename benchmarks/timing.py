"""Timing for compare.py: medians of interleaved samples, each long enough to time."""

from __future__ import annotations

import math
import statistics
import sys
import time


def calls_per_sample(fn, min_time: float) -> int:
    """Warm ``fn`` up, then pick how many calls make a sample of at least ``min_time`` s.

    The first call pays for thread pools, allocations and cold caches (and, for Keras,
    tracing); the second is timed so that fast workloads are looped and not dominated by
    timer resolution. Without a minimum time there is nothing to calibrate.
    """
    fn()
    if min_time <= 0:
        return 1
    start = time.perf_counter()
    fn()
    single = time.perf_counter() - start
    return max(1, math.ceil(min_time / single))


def time_sample(fn, number: int) -> float:
    """Seconds per call of ``fn``, averaged over ``number`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def median_times(fns: dict, repeat: int, min_time: float) -> dict:
    """Median seconds per call for each callable in ``fns``.

    Samples of the different callables are interleaved (a, b, a, b, ...) rather than run
    in blocks, so a burst of background load on a small machine slows both libraries
    instead of skewing the ratio between them.
    """
    numbers = {key: calls_per_sample(fn, min_time) for key, fn in fns.items()}
    samples = {key: [] for key in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            samples[key].append(time_sample(fn, numbers[key]))
    return {key: statistics.median(times) for key, times in samples.items()}


def measure_rates(wl, runners, modes, result, samples, args):
    """Fill ``result[lib, mode]`` with ``samples`` per second, for every runner and mode."""
    for mode in modes:
        print(f"  {wl.name:<14} {mode}", file=sys.stderr, flush=True)
        fns = {lib: r[mode] for lib, r in runners.items()}
        for lib, seconds in median_times(fns, args.repeat, args.min_time).items():
            result[lib, mode] = samples / seconds
