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
    instead of skewing the ratio between them; the order rotates at every repeat (b, a,
    ...), so that no callable always runs right after the same other one.
    """
    numbers = {key: calls_per_sample(fn, min_time) for key, fn in fns.items()}
    samples = {key: [] for key in fns}
    keys = list(fns)
    for r in range(repeat):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            samples[key].append(time_sample(fns[key], numbers[key]))
    return {key: statistics.median(times) for key, times in samples.items()}


def measure_rates(wl, runners, modes, result, samples, args, peak=None):
    """Fill ``result[lib, mode]`` with ``samples`` per second, for every runner and mode.

    ``peak``: (callables, FLOP per call, modes), or None. In those modes the callables
    (square SGEMMs) are timed among the libraries' samples, and ``result["sgemm", mode]``
    is the best of them in GFLOP/s: a peak measured at the same moments as the rates
    that are divided by it, on a machine whose speed drifts within minutes.
    """
    for mode in modes:
        print(f"  {wl.name:<14} {mode}", file=sys.stderr, flush=True)
        fns = {lib: r[mode] for lib, r in runners.items()}
        peak_fns = peak[0] if peak is not None and mode in peak[2] else {}
        fns.update({("sgemm", name): fn for name, fn in peak_fns.items()})
        seconds = median_times(fns, args.repeat, args.min_time)
        for lib in runners:
            result[lib, mode] = samples / seconds[lib]
        if peak_fns:
            result["sgemm", mode] = max(peak[1] / seconds["sgemm", n] / 1e9 for n in peak_fns)
