"""Compare rnnkit against PyTorch (and Keras) on the benchmark workloads.

Usage:
    python benchmarks/compare.py [--level LEVEL] [--threads N] [--repeat R]
                                 [--min-time S] [--workloads a,b] [--markdown]
    python benchmarks/compare.py --level all --quick   # one repeat, smoke test

LEVEL is one of the levels below (default ``ops``) or ``all``, every one of them. Every
library runs with the same thread count, and samples of the libraries are interleaved.

``--level ops``: the recurrent stack through ``rnnkit.ops`` against
``torch.nn.RNN / LSTM / GRU`` with the same weights:
  * training:  forward + backward through the whole L-layer stack,
  * inference: forward only,
reported as samples/s (batch size / median seconds per iteration) and rnnkit/torch.

``--level fit``: the whole model end to end (the workload's Keras tutorial: recurrent
stack, dropout, Dense head, output), as ``rnnkit.RNNRegressor`` / ``RNNClassifier``
against a PyTorch training loop of the same model (same parameters, loaded from rnnkit's)
and, when ``import tensorflow`` works, ``keras.Model.fit`` (tensorflow is optional):
  * fit:     one epoch of shuffled mini-batches of the workload's batch size, Adam(1e-3),
  * predict: predictions for the whole training set,
reported as samples/s (training-set size / median seconds) and rnnkit / peer.

``--level latency``: batch-1 inference, milliseconds per sequence: the fitted estimator's
``predict`` on one sequence against the same model in torch (``inference_mode``) and
Keras (``predict_on_batch``), and peer / rnnkit.

``--level scaling``: one epoch of rnnkit's ``fit`` with 1 thread and with N threads.

``--level long``: a long sequence (LSTM T5000) trained with truncated BPTT
(``bptt_steps=100``): one epoch of rnnkit's ``fit`` against a torch loop that carries the
state between windows, in samples/s, with the memory of each (as ``--level memory``).

``--level memory``: peak RSS of one training epoch per library and workload, each in a
fresh child process: the whole process' peak, and the growth during the epoch.

``--level peak``: the machine's SGEMM peak (a large square float32 matmul with rnnkit,
numpy and torch), and the GFLOP/s of training at the ops and fit levels as a % of it.

This file measures rnnkit and runs the levels; ``peers.py`` builds the torch and Keras
models, ``report.py`` writes the tables, ``timing.py`` takes the interleaved medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

# Running as `python benchmarks/compare.py` already puts this directory on sys.path;
# the insert makes the import work when compare.py is imported or run via runpy as well.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from estimators import (  # noqa: E402
    fit_epoch,
    fitted_for_predict,
    make_dataset,
    make_estimator,
    n_parameters,
)
from peers import (  # noqa: E402
    HIDE_TORCH,
    build_keras_model,
    build_torch_net,
    keras_fit_runners,
    load_keras,
    torch,
    torch_fit_runners,
    torch_runners,
    torch_state,
)
from report import (  # noqa: E402
    COLUMNS,
    FIT_MODES,
    MODES,
    efficiency_columns,
    efficiency_notes,
    efficiency_rows,
    fit_columns,
    fit_notes,
    fit_table_rows,
    latency_columns,
    latency_notes,
    latency_rows,
    load_average,
    long_columns,
    long_notes,
    long_rows,
    machine_line,
    memory_columns,
    memory_notes,
    memory_rows,
    ops_notes,
    render_markdown,
    render_plain,
    scaling_notes,
    scaling_rows,
    sgemm_notes,
    sgemm_rows,
    table_rows,
)
from timing import measure_rates, median_times  # noqa: E402
from workloads import (  # noqa: E402
    LONG_WORKLOADS,
    SEED,
    WORKLOADS,
    make_problem,
    stack_forward,
    stack_train_step,
)

import rnnkit  # noqa: E402

LEVELS = ("ops", "fit", "latency", "scaling", "long", "memory", "peak", "all")
LIBS = ("rnnkit", "torch")


# --------------------------------------------------------------------------- ops runners


def rnnkit_runners(wl, weights, x, d_out, n_threads):
    """Zero-argument callables running one rnnkit iteration per mode."""
    return {
        "train": lambda: stack_train_step(wl, weights, x, d_out, n_threads=n_threads),
        "infer": lambda: stack_forward(wl, weights, x, n_threads=n_threads),
    }


def bench_workload(wl, args, modes=MODES) -> dict:
    """samples/s keyed by (library, mode); None where a library cannot run it or the mode
    is not in ``modes``; and ("sgemm", "train"), the SGEMM peak in GFLOP/s measured among
    the training samples."""
    weights, x, d_out = make_problem(wl)
    runners = {"rnnkit": rnnkit_runners(wl, weights, x, d_out, args.threads)}
    if torch is not None and wl.torch_supported:
        runners["torch"] = torch_runners(wl, weights, x, d_out)

    result = dict.fromkeys(((lib, mode) for lib in LIBS for mode in MODES), None)
    peak = (sgemm_fns(args.threads), SGEMM_FLOP, ("train",))
    measure_rates(wl, runners, modes, result, wl.batch, args, peak)
    return result


# --------------------------------------------------------------------------- fit runners


def rnnkit_fit_runners(wl, X, y, n_threads):
    """Callables for one epoch of ``fit`` and for ``predict`` on ``X``, and the fitted
    estimator that ``predict`` uses (the peers copy its parameters).

    The epochs are timed the way the peers' are: each continues from the weights the last
    one left (``warm_start``); only the untimed warmup call initialises them. A cold
    ``fit`` adds the initialisation once (mnist: about 40 ms, mostly the QR of the
    orthogonal recurrent weights), a cost per fit, not per epoch."""
    estimator = make_estimator(wl, n_threads=n_threads, warm_start=True)
    predictor = fitted_for_predict(wl, X, y, n_threads=n_threads)
    runners = {"fit": lambda: fit_epoch(estimator, X, y), "predict": lambda: predictor.predict(X)}
    return runners, predictor


def bench_fit_workload(wl, args, keras, modes=FIT_MODES, peak_modes=("fit",)) -> dict:
    """samples/s keyed by (library, mode) for the modes in ``modes``, and the parameter
    count of each library's model keyed by ("params", library); a library that does not
    run has no keys. ("sgemm", mode): the SGEMM peak measured among the samples of each
    mode in ``peak_modes``."""
    X, y = make_dataset(wl)
    runners, result = {}, {}
    runners["rnnkit"], predictor = rnnkit_fit_runners(wl, X, y, args.threads)
    result["params", "rnnkit"] = n_parameters(predictor)
    if torch is not None:
        runners["torch"], result["params", "torch"] = torch_fit_runners(wl, X, y, predictor.params_)
        # Guaranteed by the strict load_state_dict; checked so a change there cannot
        # silently compare different models.
        assert result["params", "torch"] == result["params", "rnnkit"], result
    if keras is not None:
        runners["keras"], result["params", "keras"] = keras_fit_runners(keras, wl, X, y)

    peak = (sgemm_fns(args.threads), SGEMM_FLOP, peak_modes)
    measure_rates(wl, runners, modes, result, wl.samples, args, peak)
    return result


# --------------------------------------------------------------------------- latency


def bench_latency_workload(wl, args, keras) -> dict:
    """Median seconds to predict one sequence of ``wl`` (T steps), keyed by library.

    ``rnnkit ops`` is the recurrent stack alone through ``rnnkit.ops.forward``: next to
    ``rnnkit`` (the estimator's ``predict``) it shows what input validation and the head
    add to the kernels' time.
    """
    X, y = make_dataset(wl)
    x_one = X[:1]
    predictor = fitted_for_predict(wl, X, y, n_threads=args.threads)
    weights, x, _ = make_problem(wl)
    x_ops = x[:1]
    fns = {
        "rnnkit": lambda: predictor.predict(x_one),
        "rnnkit ops": lambda: stack_forward(wl, weights, x_ops, n_threads=args.threads),
    }
    if torch is not None:
        model = build_torch_net(wl)
        model.load_state_dict(torch_state(predictor.params_))
        model.eval()
        x_torch = torch.from_numpy(x_one)

        def torch_forward():
            with torch.inference_mode():
                return model(x_torch)

        fns["torch"] = torch_forward

        def torch_forward_one_thread():
            # torch's batch-1 forward opens a parallel region per step, and at batch 1 it
            # ran faster on one thread than on two: timed both ways, the faster one counts.
            torch.set_num_threads(1)
            try:
                return torch_forward()
            finally:
                torch.set_num_threads(args.threads)

        if args.threads > 1:
            fns["torch 1 thread"] = torch_forward_one_thread
    if keras is not None:
        keras_model = build_keras_model(keras, wl)
        # predict_on_batch runs the compiled predict step (traced in the warmup call).
        # Calling keras_model(x) instead runs eagerly, the recurrence one Python-level
        # step at a time, tens of times slower: that would time the interpreter.
        fns["keras"] = lambda: keras_model.predict_on_batch(x_one)
    print(f"  {wl.name:<14} latency", file=sys.stderr, flush=True)
    return median_times(fns, args.repeat, args.min_time)


# --------------------------------------------------------------------------- scaling


def many_threads(args) -> int:
    """The thread count that --level scaling compares with one thread."""
    return args.threads if args.threads > 1 else os.cpu_count() or 1


def bench_scaling_workload(wl, args) -> dict:
    """samples/s of one epoch of rnnkit's fit keyed by thread count: 1 and many."""
    X, y = make_dataset(wl)
    fns = {n: rnnkit_fit_runners(wl, X, y, n)[0]["fit"] for n in sorted({1, many_threads(args)})}
    print(f"  {wl.name:<14} scaling", file=sys.stderr, flush=True)
    return {n: wl.samples / s for n, s in median_times(fns, args.repeat, args.min_time).items()}


# --------------------------------------------------------------------------- memory

# rnnkit, then its peers; "none" (compare.py's own imports and the data only) measures the
# part of every child's RSS that is not the library's.
MEMORY_LIBS = ("rnnkit", "torch", "keras")
CHILD_LIBS = (*MEMORY_LIBS, "none")
ALL_WORKLOADS = {**WORKLOADS, **LONG_WORKLOADS}


def read_status_kib(*fields) -> dict:
    """Fields of /proc/self/status in KiB (Linux), e.g. VmRSS (resident set now) and
    VmHWM (its peak, the high-water mark)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in fields:
            values[key] = int(rest.split()[0])
    return values


def child_epoch(lib, wl, threads):
    """Build ``lib``'s data and model for ``wl``; return a callable running one epoch."""
    X, y = make_dataset(wl)
    if lib == "rnnkit":
        estimator = make_estimator(wl, n_threads=threads)
        return lambda: fit_epoch(estimator, X, y)
    if lib == "torch":
        if torch is None:
            raise ImportError("torch is not installed")
        return torch_fit_runners(wl, X, y)[0]["fit"]
    if lib == "keras":
        keras, status = load_keras(threads)
        if keras is None:
            raise ImportError(status)
        return keras_fit_runners(keras, wl, X, y)[0]["fit"]
    return lambda: None  # "none"


def run_memory_child(lib, name, threads) -> int:
    """Entry point of a memory child: one epoch, no warmup, then one JSON line on stdout
    with RSS figures in MiB (or ``{"error": ...}``).

    ``peak`` is the process' high-water mark (interpreter, imports, data, model and the
    epoch); ``growth`` is the epoch's own: the high-water mark is reset to the current
    RSS just before it (clear_refs 5) and read after, minus the RSS before, minus the
    shared-library code the epoch paged in (RssFile's growth: torch's first epoch maps
    12-19 MiB of it, which is not memory the epoch works in).
    """
    try:
        epoch = child_epoch(lib, ALL_WORKLOADS[name], threads)
        gc.collect()
        before = read_status_kib("VmRSS", "VmHWM", "RssFile")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:  # not Linux, or not allowed: the peak of the setup would leak in
            reset = False
        epoch()
        after = read_status_kib("VmHWM", "RssFile")
    except Exception as exc:  # reported in the table as n/a, with the reason on stderr
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 0
    code = max(0, after["RssFile"] - before["RssFile"])
    growth = (after["VmHWM"] - before["VmRSS"] - code) / 1024 if reset else None
    peak = max(after["VmHWM"], before["VmHWM"]) / 1024
    print(json.dumps({"peak": peak, "before": before["VmRSS"] / 1024, "growth": growth}))
    return 0


@functools.cache
def memory_usage(lib, name, threads) -> dict:
    """RSS figures of one epoch of ``lib`` on workload ``name`` (see run_memory_child),
    measured in a fresh child process so that no other measurement's memory counts;
    cached, as --level long and --level memory share rows."""
    print(f"  {name:<14} memory {lib}", file=sys.stderr, flush=True)
    env = dict(os.environ)
    if lib == "torch":
        env.pop(HIDE_TORCH, None)
    else:
        env[HIDE_TORCH] = "1"
    command = [sys.executable, str(Path(__file__).resolve()), "--child-memory", lib, name]
    command += ["--threads", str(threads)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        result = {"error": f"child exited with {proc.returncode}: {why}"}
    if "error" in result:
        print(f"  {name:<14} memory {lib}: {result['error']}", file=sys.stderr, flush=True)
    return result


# --------------------------------------------------------------------------- peak

SGEMM_SIZE = 2048
SGEMM_FLOP = 2 * SGEMM_SIZE**3


@functools.cache
def sgemm_operands():
    rng = np.random.default_rng(SEED)
    return tuple(rng.standard_normal((SGEMM_SIZE,) * 2, dtype=np.float32) for _ in range(2))


def sgemm_fns(threads) -> dict:
    """Callables of a SGEMM_SIZE square float32 matmul: rnnkit's and torch's, which take
    a thread count (numpy's BLAS needs threadpoolctl around its calls)."""
    a, b = sgemm_operands()
    fns = {"rnnkit": lambda: rnnkit.ops.matmul(a, b, n_threads=threads)}
    if torch is not None:
        a_torch, b_torch = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: torch.mm(a_torch, b_torch)
    return fns


def sgemm_rates(args) -> dict:
    """GFLOP/s of a SGEMM_SIZE square float32 matmul per library, at the run's threads.

    The best of them is what the hardware delivers to a well-tuned GEMM now. The % of
    peak columns divide by the peak measured among each workload's own samples (see
    measure_rates); this table shows every library's at one moment.
    """
    a, b = sgemm_operands()
    fns = {**sgemm_fns(args.threads), "numpy": lambda: a @ b}
    print(f"  sgemm {SGEMM_SIZE}", file=sys.stderr, flush=True)
    # At least 3 samples even with --quick: a call takes a fraction of a second, and a
    # single disturbed sample would misstate the peak that every % column divides by.
    # numpy's BLAS reads no thread argument; threadpoolctl limits it for the duration.
    with threadpool_limits(limits=args.threads, user_api="blas"):
        seconds = median_times(fns, max(args.repeat, 3), args.min_time)
    return {lib: SGEMM_FLOP / s / 1e9 for lib, s in seconds.items()}


# --------------------------------------------------------------------------- CLI


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--level",
        choices=LEVELS,
        default="ops",
        help="ops: the recurrent stack through rnnkit.ops vs torch (default); fit: the "
        "estimators end to end (one epoch of fit, predict) vs torch and keras; latency: "
        "predict on one sequence; scaling: fit with 1 thread and with N; long: a long "
        "sequence with truncated BPTT; memory: peak RSS of one epoch; peak: GFLOP/s of "
        "training as a %% of the SGEMM peak; all: every level",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for every library (default: all logical cores); --level scaling "
        "compares 1 thread with this many, or with all logical cores when it is 1",
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
        "--quick",
        action="store_true",
        help="smoke test: 1 repeat of a single iteration (or epoch) after one warmup call",
    )
    # Internal: the child process of --level memory (see memory_usage).
    p.add_argument(
        "--child-memory", nargs=2, metavar=("LIBRARY", "WORKLOAD"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)

    if args.quick:
        args.repeat, args.min_time = 1, 0.0
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    if args.child_memory:
        lib, name = args.child_memory
        if lib not in CHILD_LIBS or name not in ALL_WORKLOADS:
            p.error(f"--child-memory: choose from {CHILD_LIBS} and {list(ALL_WORKLOADS)}")
    if args.threads < 1 or args.repeat < 1:
        p.error("--threads and --repeat must be >= 1")
    if not 0 <= args.min_time < float("inf"):  # also refuses NaN
        p.error("--min-time must be a finite number >= 0")
    return args


@dataclasses.dataclass
class Run:
    """What the sections of one run share: the options, keras (or None), and the ops and
    fit results, which --level peak reuses when they were measured in this run."""

    args: argparse.Namespace
    keras: object
    ops: list | None = None
    fit: list | None = None

    @property
    def workloads(self) -> list:
        return [WORKLOADS[name] for name in self.args.workloads]

    @property
    def peers(self) -> list[str]:
        # A library that did not run at all gets no columns, rather than columns of n/a.
        return [lib for lib, mod in (("torch", torch), ("keras", self.keras)) if mod is not None]


def ops_section(run):
    run.ops = [(wl, bench_workload(wl, run.args)) for wl in run.workloads]
    return [(ops_notes(run.args), COLUMNS, table_rows(run.ops))]


def fit_section(run):
    run.fit = [(wl, bench_fit_workload(wl, run.args, run.keras)) for wl in run.workloads]
    rows = fit_table_rows(run.fit, run.peers)
    return [(fit_notes(run.args, run.fit), fit_columns(run.peers), rows)]


def latency_section(run):
    results = [(wl, bench_latency_workload(wl, run.args, run.keras)) for wl in run.workloads]
    notes = latency_notes(run.args, results, run.peers)
    return [(notes, latency_columns(run.peers), latency_rows(results, run.peers))]


def scaling_section(run):
    n = many_threads(run.args)
    results = [(wl, bench_scaling_workload(wl, run.args)) for wl in run.workloads]
    columns = ["workload", "model", "1 thread", f"{n} threads", "speedup"]
    return [(scaling_notes(run.args, n), columns, scaling_rows(results, n))]


def long_section(run):
    # keras is left out: its fit has no truncated BPTT, and no loop is written for it here.
    peers = [peer for peer in run.peers if peer != "keras"]
    workloads = list(LONG_WORKLOADS.values())
    results = [(wl, bench_fit_workload(wl, run.args, None, ("fit",), ())) for wl in workloads]
    memory = [(wl, workload_memory(wl, ("rnnkit", *peers), run.args)) for wl in workloads]
    return [(long_notes(run.args), long_columns(peers), long_rows(results, memory, peers))]


def workload_memory(wl, libs, args) -> dict:
    """memory_usage of each library in ``libs`` on ``wl``."""
    return {lib: memory_usage(lib, wl.name, args.threads) for lib in libs}


def memory_section(run):
    libs = ["rnnkit", *run.peers]
    memory = [(wl, workload_memory(wl, libs, run.args)) for wl in run.workloads]
    # keras is not run on the long sequences (see long_section).
    long_libs = [lib for lib in libs if lib != "keras"]
    memory += [(wl, workload_memory(wl, long_libs, run.args)) for wl in LONG_WORKLOADS.values()]
    for _, usage in memory:
        for lib in libs:
            usage.setdefault(lib, {})
    baseline = memory_usage("none", "stock", run.args.threads)
    return [(memory_notes(run.args, baseline), memory_columns(libs), memory_rows(memory, libs))]


def peak_section(run):
    rates = sgemm_rates(run.args)
    # Training rates from this run's ops and fit tables, or measured now for this table.
    ops = run.ops or [(wl, bench_workload(wl, run.args, ("train",))) for wl in run.workloads]
    fit = run.fit or [
        (wl, bench_fit_workload(wl, run.args, run.keras, ("fit",))) for wl in run.workloads
    ]
    return [
        (
            sgemm_notes(run.args, SGEMM_SIZE),
            ["library", "call", "GFLOP/s", "% of peak"],
            sgemm_rows(rates),
        ),
        (
            efficiency_notes(run.args, fit, run.peers),
            efficiency_columns(run.peers),
            efficiency_rows(ops, fit, run.peers),
        ),
    ]


# In the order --level all runs them: peak last, so that it reuses ops' and fit's rates.
SECTIONS = {
    "ops": ops_section,
    "fit": fit_section,
    "latency": latency_section,
    "scaling": scaling_section,
    "long": long_section,
    "memory": memory_section,
    "peak": peak_section,
}
KERAS_LEVELS = ("fit", "latency", "memory", "peak", "all")


def main(argv=None) -> int:
    args = parse_args(argv)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if args.child_memory:
        return run_memory_child(*args.child_memory, args.threads)
    keras, keras_status = None, None
    if args.level in KERAS_LEVELS:
        # Imported only here: TensorFlow is optional, slow to import, and must get its
        # thread count before it starts.
        keras, keras_status = load_keras(args.threads)
        if keras is None:
            print(f"keras {keras_status}", file=sys.stderr, flush=True)

    load = load_average()
    render = render_markdown if args.markdown else render_plain
    run = Run(args, keras)
    tables = []
    for level, section in SECTIONS.items():
        if args.level in (level, "all"):
            tables += section(run)
    print(machine_line(args, load, keras_status))
    for notes, columns, rows in tables:
        print(f"\n{render(notes, columns, rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
