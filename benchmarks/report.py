"""compare.py's tables: the machine line, the notes above each table, its rows, and
plain-text or Markdown rendering."""

from __future__ import annotations

import os
import platform
from dataclasses import replace
from pathlib import Path

import numpy as np
from estimators import PREDICT_BATCH
from peers import torch
from workloads import fit_gflop, train_gflop

import rnnkit

# The modes of the ops and fit tables, in column order.
MODES = ("train", "infer")
FIT_MODES = ("fit", "predict")
NA = "n/a"
# Marks torch numbers of a model torch cannot build exactly (the linear RNN runs as tanh).
APPROX = "~"


def approx_mark(wl, peer) -> str:
    """APPROX on ``peer``'s figures for ``wl`` when they come from a stand-in model."""
    return APPROX if peer == "torch" and not wl.torch_supported else ""


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


def machine_line(args, load: str, keras_status: str | None) -> str:
    torch_version = torch.__version__ if torch is not None else "not installed"
    line = (
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores) | threads: {args.threads} | "
        f"numpy {np.__version__} | torch {torch_version} | rnnkit {rnnkit.__version__}"
    )
    if keras_status is not None:
        line += f" | keras: {keras_status}"
    return f"{line} | 1-min load before run: {load}"


def ops_notes(args) -> list[str]:
    return [
        f"samples/s = batch / median seconds per iteration (repeat={args.repeat}, "
        f"min {args.min_time:g} s per sample, after warmup); ratio = rnnkit / torch "
        "(> 1: rnnkit faster)",
        "train = forward + backward through the whole stack, d_x of layer 1 included for "
        "both libraries; infer = forward only (torch under no_grad)",
    ]


def fit_notes(args, results) -> list[str]:
    notes = [
        f"samples/s = training-set size N / median seconds per call (repeat={args.repeat}, "
        f"min {args.min_time:g} s per sample, after warmup); vs = rnnkit / that library "
        "(> 1: rnnkit faster)",
        "fit = one epoch in shuffled mini-batches of B, Adam(lr=1e-3), MSE or cross-entropy: "
        "rnnkit RNNRegressor/RNNClassifier.fit(max_epochs=1, warm_start=True), a torch "
        "training loop, keras Model.fit(epochs=1), each epoch continuing from the weights "
        "the last one left (only the untimed warmup call initialises rnnkit's); predict = "
        f"the N training sequences (torch and keras in batches of {PREDICT_BATCH}, rnnkit "
        "in its own chunks)",
        "model: D = Dense(relu) widths, p = dropout after every recurrent and dense layer, "
        "C = classes (reg: one regression output); torch holds rnnkit's parameters, so the "
        "counts match",
    ]
    if any(("torch", "fit") in res for _, res in results):
        notes += linear_note(results, ["torch"])
    for wl, res in results:
        n_keras, n_rnnkit = res.get(("params", "keras")), res["params", "rnnkit"]
        if n_keras is not None and n_keras != n_rnnkit:
            # Keras' LSTM and SimpleRNN keep one bias vector per layer, rnnkit and torch two.
            notes.append(f"{wl.name}: keras has {n_keras:,} parameters (one bias per layer)")
    return notes


def fmt_rate(value, mark="") -> str:
    if value is None:
        return NA
    return mark + (f"{value:,.0f}" if value >= 100 else f"{value:.1f}")


def fmt_ratio(num, den, mark="") -> str:
    if num is None or den is None:
        return NA
    return f"{mark}{num / den:.2f}x"


def table_rows(results) -> list[list[str]]:
    rows = []
    for wl, res in results:
        row = [wl.name, wl.describe()]
        for mode in MODES:
            rk, th = res["rnnkit", mode], res["torch", mode]
            row += [fmt_rate(rk), fmt_rate(th), fmt_ratio(rk, th)]
        rows.append(row)
    return rows


def fit_columns(peers) -> list[str]:
    columns = ["workload", "model", "params"]
    for mode in FIT_MODES:
        columns.append(f"{mode} rnnkit")
        for peer in peers:
            columns += [f"{mode} {peer}", f"vs {peer}"]
    return columns


def fit_table_rows(results, peers) -> list[list[str]]:
    rows = []
    for wl, res in results:
        row = [wl.name, wl.describe_model(), f"{res['params', 'rnnkit']:,}"]
        for mode in FIT_MODES:
            rk = res.get(("rnnkit", mode))
            row.append(fmt_rate(rk))
            for peer in peers:
                mark = approx_mark(wl, peer)
                value = res.get((peer, mode))
                row += [fmt_rate(value, mark), fmt_ratio(rk, value, mark)]
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


def timing_note(args) -> str:
    """How every table's figures were taken."""
    return (
        f"median of repeat={args.repeat} samples of at least {args.min_time:g} s, after a "
        f"warmup call; {args.threads} threads for every library"
    )


def linear_note(results, peers) -> list[str]:
    """The note for the ``~`` marks, when a table has any."""
    if "torch" in peers and any(not wl.torch_supported for wl, _ in results):
        return [
            f"{APPROX}: torch has no linear RNN, so these torch columns run its tanh RNN "
            "(same shapes and parameter count)"
        ]
    return []


def fmt_ms(seconds, mark="") -> str:
    if seconds is None:
        return NA
    ms = seconds * 1e3
    return mark + (f"{ms:.3f}" if ms < 10 else f"{ms:,.1f}")


def fmt_mib(value) -> str:
    if value is None:
        return NA
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def fmt_gflops(rate, gflop, peak, mark="") -> str:
    """``rate`` sequences/s at ``gflop`` per sequence as GFLOP/s and % of ``peak``."""
    if rate is None:
        return NA
    achieved = rate * gflop
    return f"{mark}{achieved:,.1f} ({100 * achieved / peak:.0f}%)"


def latency_notes(args, results, peers) -> list[str]:
    return [
        f"ms = milliseconds per call on one sequence of the workload's T steps ("
        f"{timing_note(args)}); vs = that library's ms / rnnkit's (> 1: rnnkit's latency "
        "is lower; target: >= 3x vs torch); vs torch takes the faster of torch at the run's "
        "thread count and at one thread",
        "rnnkit = the fitted estimator's predict(X[:1]) (validation, recurrent stack, "
        "head); rnnkit ops = the recurrent stack alone through rnnkit.ops.forward; torch = "
        "the same model holding rnnkit's parameters, eval() under inference_mode; keras = "
        "Model.predict_on_batch (compiled; calling the model directly runs eagerly, the "
        "recurrence step by step from Python, tens of times slower)",
        *linear_note(results, peers),
    ]


def latency_columns(peers) -> list[str]:
    columns = ["workload", "config", "rnnkit ms", "rnnkit ops ms"]
    for peer in peers:
        columns += [f"{peer} ms"]
        if peer == "torch":
            columns += ["torch 1 thread ms"]
        columns += [f"vs {peer}"]
    return columns


def latency_rows(results, peers) -> list[list[str]]:
    rows = []
    for wl, seconds in results:
        rk = seconds["rnnkit"]
        config = replace(wl, batch=1).describe()  # one sequence, whatever wl's batch
        row = [wl.name, config, fmt_ms(rk), fmt_ms(seconds["rnnkit ops"])]
        for peer in peers:
            mark = approx_mark(wl, peer)
            value = seconds.get(peer)
            row += [fmt_ms(value, mark)]
            if peer == "torch":  # vs torch: the faster of its thread counts
                one = seconds.get("torch 1 thread")
                row += [fmt_ms(one, mark)]
                value = min((v for v in (value, one) if v is not None), default=None)
            row += [fmt_ratio(value, rk, mark)]
        rows.append(row)
    return rows


def scaling_notes(args, n) -> list[str]:
    return [
        f"samples/s of one epoch of rnnkit's fit, as --level fit, with n_jobs=1 and "
        f"n_jobs={n} (median of repeat={args.repeat} samples of at least "
        f"{args.min_time:g} s, after a warmup epoch); speedup = {n} threads / 1 thread "
        "(target: >= 1.7x with 2 threads on mnist, cosine and gru)",
    ]


def scaling_rows(results, n) -> list[list[str]]:
    rows = []
    for wl, rates in results:
        row = [wl.name, wl.describe_model(), fmt_rate(rates[1]), fmt_rate(rates[n])]
        rows.append([*row, fmt_ratio(rates[n], rates[1])])
    return rows


def memory_columns(libs) -> list[str]:
    columns = ["workload", "model"]
    columns += [f"peak {lib}" for lib in libs] + [f"growth {lib}" for lib in libs]
    if "torch" in libs:
        columns += ["peak rnnkit/torch", "growth rnnkit/torch"]
    return columns


def memory_rows(memory, libs) -> list[list[str]]:
    """Rows of ``memory``: (workload, {library: memory_usage result})."""
    rows = []
    for wl, usage in memory:
        row = [wl.name, wl.describe_model()]
        for key in ("peak", "growth"):
            row += [fmt_mib(usage[lib].get(key)) for lib in libs]
        if "torch" in libs:
            rk, th = usage["rnnkit"], usage["torch"]
            row += [fmt_ratio(rk.get(key), th.get(key)) for key in ("peak", "growth")]
        rows.append(row)
    return rows


def memory_notes(args, baseline) -> list[str]:
    return [
        "MiB of resident memory (RSS) of a fresh child process per library and workload, "
        "building its data and model and running its first epoch of fit (rnnkit's "
        "initialises the weights; no warmup: torch's first-call allocations and keras' "
        f"tracing count; {args.threads} threads)",
        "peak = the process' high-water mark (VmHWM: interpreter, imports, data, model, "
        "epoch); growth = the high-water mark during the epoch (reset just before it via "
        "/proc/self/clear_refs) minus the RSS before it and minus the library code the "
        "epoch paged in (RssFile's growth): the epoch's own memory, which for rnnkit "
        "includes its weights and optimizer state, created by the first fit (torch's and "
        "keras' weights exist before the epoch)",
        "every child imports compare.py's modules (numpy, scikit-learn, rnnkit: "
        f"{fmt_mib(baseline.get('peak'))} MiB peak alone, part of every peak), the torch "
        "child torch too, the keras child TensorFlow; rnnkit/torch < 1: rnnkit uses less "
        "(target: <= 1)",
        "long*: truncated BPTT (bptt_steps=100), whose growth should be bounded by the "
        "window, the same for T1000 and T5000; keras not run (no truncated-BPTT loop for "
        "it here)",
    ]


def long_columns(peers) -> list[str]:
    columns = ["workload", "model", "fit rnnkit"]
    for peer in peers:
        columns += [f"fit {peer}", f"vs {peer}"]
    for key in ("peak", "growth"):
        columns += [f"{key} {lib}" for lib in ("rnnkit", *peers)]
    return columns


def long_rows(results, memory, peers) -> list[list[str]]:
    rows = []
    for (wl, res), (_, usage) in zip(results, memory):
        rk = res["rnnkit", "fit"]
        row = [wl.name, wl.describe_model(), fmt_rate(rk)]
        for peer in peers:
            row += [fmt_rate(res[peer, "fit"]), fmt_ratio(rk, res[peer, "fit"])]
        for key in ("peak", "growth"):
            row += [fmt_mib(usage[lib].get(key)) for lib in ("rnnkit", *peers)]
        rows.append(row)
    return rows


def long_notes(args) -> list[str]:
    return [
        f"fit = samples/s of one epoch ({timing_note(args)}); vs = rnnkit / torch (> 1: "
        "rnnkit faster); rnnkit RNNRegressor(bptt_steps=100) against a torch loop over the "
        "same 100-step windows: all but the last under no_grad carrying (h, c) forward, "
        "the last with grad, the loss on its final step, backward, Adam step (the only "
        "window a many-to-one loss reaches under truncated BPTT)",
        "peak / growth: MiB of RSS as in --level memory; target: growth bounded by the "
        "window (long_t1000 and long alike) and <= torch's; keras not run",
    ]


def sgemm_rows(rates) -> list[list[str]]:
    peak = max(rates.values())
    calls = {"rnnkit": "rnnkit.ops.matmul", "numpy": f"a @ b ({blas_name()})", "torch": "torch.mm"}
    return [
        [lib, calls[lib], f"{rate:,.1f}", f"{100 * rate / peak:.0f}%"]
        for lib, rate in rates.items()
    ]


def sgemm_notes(args, n: int) -> list[str]:
    return [
        f"SGEMM peak: ({n} x {n}) @ ({n} x {n}) float32, 2*{n}^3 FLOP per call, median "
        f"of {max(args.repeat, 3)} samples after a warmup call, {args.threads} threads for "
        "every library (numpy's BLAS limited by threadpoolctl); peak = the best library, "
        "measured in this run",
    ]


def efficiency_columns(peers) -> list[str]:
    columns = ["workload", "config", "GFLOP/seq ops", "peak ops", "ops rnnkit"]
    columns += ["ops torch"] if "torch" in peers else []
    columns += ["GFLOP/seq fit", "peak fit", "fit rnnkit"]
    return columns + [f"fit {peer}" for peer in peers]


def efficiency_rows(ops_results, fit_results, peers) -> list[list[str]]:
    rows = []
    for (wl, ops_res), (_, fit_res) in zip(ops_results, fit_results):
        gflop, peak = train_gflop(wl), ops_res["sgemm", "train"]
        row = [wl.name, wl.describe(), f"{gflop:.4f}", f"{peak:,.1f}"]
        row.append(fmt_gflops(ops_res["rnnkit", "train"], gflop, peak))
        if "torch" in peers:
            row.append(fmt_gflops(ops_res["torch", "train"], gflop, peak))
        gflop, peak = fit_gflop(wl), fit_res["sgemm", "fit"]
        row += [f"{gflop:.4f}", f"{peak:,.1f}"]
        row.append(fmt_gflops(fit_res.get(("rnnkit", "fit")), gflop, peak))
        for peer in peers:
            mark = approx_mark(wl, peer)
            row.append(fmt_gflops(fit_res.get((peer, "fit")), gflop, peak, mark))
        rows.append(row)
    return rows


def efficiency_notes(args, fit_results, peers) -> list[str]:
    return [
        "GFLOP/s of training (% of peak) = samples/s of train at --level ops, of fit at "
        "--level fit, x GFLOP/seq; target: mnist >= 60%",
        "peak = GFLOP/s of the best of rnnkit's and torch's square SGEMM above, timed "
        "among the same workload's samples (interleaved with them), so that a peak and "
        "the rates divided by it come from the same minutes of a machine whose speed "
        "drifts",
        "GFLOP/seq ops = a training step on one sequence = 3 x forward (backward: two "
        "products per forward one); forward = sum over layers of 2*T*(I + H)*G*H (G = 4 "
        "lstm, 3 gru, 1 rnn; I = H above the first layer); GFLOP/seq fit leaves out the "
        "first layer's input gradient, 2*T*I*G*H, which no library's fit computes; "
        "element-wise gate math, the head, the loss and the optimizer are not counted",
        *linear_note(fit_results, peers),
    ]


def render_plain(header, columns, rows) -> str:
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]

    def line(cells):
        # Text columns left-aligned, numbers right-aligned so digits line up.
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([*header, "", line(columns), sep, *(line(r) for r in rows)])


def render_markdown(header, columns, rows) -> str:
    align = ["---", "---"] + ["---:"] * (len(columns) - 2)
    table = [f"| {' | '.join(cells)} |" for cells in (columns, align, *rows)]
    return "\n".join([*(f"{h}  " for h in header), "", *table])


def blas_name() -> str:
    """numpy's BLAS as numpy was built with it, e.g. ``scipy-openblas 0.3.31``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):  # numpy < 1.26 has no mode="dicts"
        return "numpy's BLAS"
