"""Compare rnnkit against torch.nn.RNN/LSTM/GRU on the benchmark workloads.

Usage:
    python benchmarks/compare.py [--threads N] [--repeat R] [--workloads a,b] [--markdown]
    python benchmarks/compare.py --quick        # one repeat, CI smoke test

For every workload it times, with the same thread count for both libraries:
  * training:  forward + backward through the whole L-layer stack,
  * inference: forward only,
and reports samples/s (batch size / median seconds per iteration) and rnnkit/torch.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Running as `python benchmarks/compare.py` already puts this directory on sys.path;
# the insert makes the import work when compare.py is imported or run via runpy as well.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import WORKLOADS, make_problem, stack_forward, stack_train_step  # noqa: E402

import rnnkit  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

MODES = ("train", "infer")
LIBS = ("rnnkit", "torch")
NA = "n/a"


# --------------------------------------------------------------------------- timing


def calls_per_sample(fn, min_time: float) -> int:
    """Warm ``fn`` up, then pick how many calls make a sample of at least ``min_time`` s.

    The first call pays for thread pools, allocations and cold caches; the second is
    timed so that fast workloads are looped and not dominated by timer resolution.
    """
    fn()
    start = time.perf_counter()
    fn()
    single = time.perf_counter() - start
    return max(1, math.ceil(min_time / single)) if min_time > 0 else 1


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


# --------------------------------------------------------------------------- runners


def rnnkit_runners(wl, weights, x, d_out, n_threads):
    """Zero-argument callables running one rnnkit iteration per mode."""
    return {
        "train": lambda: stack_train_step(wl, weights, x, d_out, n_threads=n_threads),
        "infer": lambda: stack_forward(wl, weights, x, n_threads=n_threads),
    }


def build_torch_model(wl, weights):
    """A torch module with num_layers=L holding exactly the rnnkit weights."""
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[wl.cell]
    kwargs = {"nonlinearity": wl.activation} if wl.cell == "rnn" else {}
    model = cls(wl.inputs, wl.hidden, num_layers=wl.layers, batch_first=True, **kwargs)
    with torch.no_grad():
        for layer, params in enumerate(weights):
            for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params):
                getattr(model, f"{name}_l{layer}").copy_(torch.from_numpy(value))
    return model


def torch_runners(wl, weights, x, d_out):
    """Zero-argument callables running one torch iteration per mode."""
    model = build_torch_model(wl, weights)
    x_t = torch.from_numpy(x)
    # rnnkit always returns d_x of the first layer, so ask torch for it too.
    x_train = x_t.clone().requires_grad_(True)
    d_out_t = torch.from_numpy(d_out)

    def train():
        # Dropping old grads makes torch allocate fresh ones each step, like rnnkit does,
        # instead of accumulating into existing buffers.
        model.zero_grad(set_to_none=True)
        x_train.grad = None
        out, _ = model(x_train)
        out.backward(d_out_t)

    def infer():
        with torch.no_grad():
            model(x_t)

    return {"train": train, "infer": infer}


def bench_workload(wl, args) -> dict:
    """samples/s keyed by (library, mode); None where a library cannot run it."""
    weights, x, d_out = make_problem(wl)
    runners = {"rnnkit": rnnkit_runners(wl, weights, x, d_out, args.threads)}
    if torch is not None and wl.torch_supported:
        runners["torch"] = torch_runners(wl, weights, x, d_out)

    result = dict.fromkeys(((lib, mode) for lib in LIBS for mode in MODES), None)
    for mode in MODES:
        print(f"  {wl.name:<14} {mode}", file=sys.stderr, flush=True)
        fns = {lib: r[mode] for lib, r in runners.items()}
        for lib, seconds in median_times(fns, args.repeat, args.min_time).items():
            result[lib, mode] = wl.batch / seconds
    return result


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> str:
    # Recorded because other processes on a small machine can distort timings a lot
    # (rnnkit and torch synchronise their threads at every time step).
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def header_lines(args, load: str) -> list[str]:
    rk_version = rnnkit.__version__
    torch_version = torch.__version__ if torch is not None else "not installed"
    return [
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores) | threads: {args.threads} | "
        f"numpy {np.__version__} | torch {torch_version} | rnnkit {rk_version} | "
        f"1-min load before run: {load}",
        f"samples/s = batch / median seconds per iteration (repeat={args.repeat}, "
        f"min {args.min_time:g} s per sample, after warmup); ratio = rnnkit / torch "
        "(> 1: rnnkit faster)",
        "train = forward + backward through the whole stack, d_x of layer 1 included for "
        "both libraries; infer = forward only (torch under no_grad)",
    ]


def fmt_rate(value) -> str:
    if value is None:
        return NA
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def fmt_ratio(num, den) -> str:
    if num is None or den is None:
        return NA
    return f"{num / den:.2f}x"


def table_rows(results) -> list[list[str]]:
    rows = []
    for wl, res in results:
        row = [wl.name, wl.describe()]
        for mode in MODES:
            rk, th = res["rnnkit", mode], res["torch", mode]
            row += [fmt_rate(rk), fmt_rate(th), fmt_ratio(rk, th)]
        rows.append(row)
    return rows


COLUMNS = [
    "workload",
    "config",
    "train rnnkit",
    "train torch",
    "train ratio",
    "infer rnnkit",
    "infer torch",
    "infer ratio",
]


def render_plain(header, rows) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]

    def line(cells):
        # Text columns left-aligned, numbers right-aligned so digits line up.
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([*header, "", line(COLUMNS), sep, *(line(r) for r in rows)])


def render_markdown(header, rows) -> str:
    align = ["---", "---"] + ["---:"] * (len(COLUMNS) - 2)
    table = [f"| {' | '.join(cells)} |" for cells in (COLUMNS, align, *rows)]
    return "\n".join([*(f"{h}  " for h in header), "", *table])


# --------------------------------------------------------------------------- CLI


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for both libraries (default: all logical cores)",
    )
    p.add_argument("--repeat", type=int, default=7, help="timed samples per measurement")
    p.add_argument(
        "--min-time",
        type=float,
        default=0.5,
        help="minimum seconds per sample; fast iterations are looped",
    )
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of: {', '.join(WORKLOADS)}",
    )
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument(
        "--quick", action="store_true", help="smoke test: 1 repeat of a single iteration"
    )
    args = p.parse_args(argv)

    if args.quick:
        args.repeat, args.min_time = 1, 0.0
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    if args.threads < 1 or args.repeat < 1:
        p.error("--threads and --repeat must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if torch is not None:
        torch.set_num_threads(args.threads)

    load = load_average()
    results = [(WORKLOADS[name], bench_workload(WORKLOADS[name], args)) for name in args.workloads]
    render = render_markdown if args.markdown else render_plain
    print(render(header_lines(args, load), table_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
