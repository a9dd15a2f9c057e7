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
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

# Running as `python benchmarks/compare.py` already puts this directory on sys.path;
# the insert makes the import work when compare.py is imported or run via runpy as well.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from estimators import (  # noqa: E402
    PREDICT_BATCH,
    fit_epoch,
    fitted_for_predict,
    make_dataset,
    make_estimator,
    n_parameters,
)
from workloads import (  # noqa: E402
    LONG_WORKLOADS,
    SEED,
    WORKLOADS,
    forward_flops,
    make_problem,
    stack_forward,
    stack_train_step,
)

import rnnkit  # noqa: E402

# A memory child that does not measure torch gets this variable (see memory_usage), so
# that its RSS holds the library it measures and not torch as well.
HIDE_TORCH = "COMPARE_HIDE_TORCH"
if os.environ.get(HIDE_TORCH):
    torch = None
else:
    try:
        import torch
    except ImportError:
        torch = None

LEVELS = ("ops", "fit", "latency", "scaling", "long", "memory", "peak", "all")
MODES = ("train", "infer")
LIBS = ("rnnkit", "torch")
FIT_MODES = ("fit", "predict")
NA = "n/a"
# Marks torch numbers of a model torch cannot build exactly (the linear RNN runs as tanh).
APPROX = "~"


# --------------------------------------------------------------------------- timing


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


# --------------------------------------------------------------------------- ops runners


def rnnkit_runners(wl, weights, x, d_out, n_threads):
    """Zero-argument callables running one rnnkit iteration per mode."""
    return {
        "train": lambda: stack_train_step(wl, weights, x, d_out, n_threads=n_threads),
        "infer": lambda: stack_forward(wl, weights, x, n_threads=n_threads),
    }


def torch_recurrent(wl, **kwargs):
    """torch's batch-first RNN/LSTM/GRU stack of ``wl``; torch has no linear RNN, so that
    one runs as tanh."""
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[wl.cell]
    if wl.cell == "rnn":
        kwargs["nonlinearity"] = wl.activation if wl.torch_supported else "tanh"
    return cls(wl.inputs, wl.hidden, num_layers=wl.layers, batch_first=True, **kwargs)


def build_torch_model(wl, weights):
    """A torch module with num_layers=L holding exactly the rnnkit weights."""
    model = torch_recurrent(wl)
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


def bench_workload(wl, args, modes=MODES) -> dict:
    """samples/s keyed by (library, mode); None where a library cannot run it or the mode
    is not in ``modes``."""
    weights, x, d_out = make_problem(wl)
    runners = {"rnnkit": rnnkit_runners(wl, weights, x, d_out, args.threads)}
    if torch is not None and wl.torch_supported:
        runners["torch"] = torch_runners(wl, weights, x, d_out)

    result = dict.fromkeys(((lib, mode) for lib in LIBS for mode in MODES), None)
    measure_rates(wl, runners, modes, result, wl.batch, args)
    return result


# --------------------------------------------------------------------------- fit runners


def rnnkit_fit_runners(wl, X, y, n_threads):
    """Callables for one epoch of ``fit`` and for ``predict`` on ``X``, and the fitted
    estimator that ``predict`` uses (the peers copy its parameters)."""
    estimator = make_estimator(wl, n_threads=n_threads)
    predictor = fitted_for_predict(wl, X, y, n_threads=n_threads)
    runners = {"fit": lambda: fit_epoch(estimator, X, y), "predict": lambda: predictor.predict(X)}
    return runners, predictor


def build_torch_net(wl):
    """The workload's model in torch, with the module names that rnnkit's ``params_``
    mirror (``rnn``, ``dense.k``, ``output``), so its state_dict maps one to one.

    Dropout follows every recurrent and dense layer as in rnnkit (and Keras): torch's
    ``dropout=`` covers the outputs of all recurrent layers but the last, ``self.drop``
    the last one and the dense layers. torch has no linear RNN; that one runs as tanh.
    """
    nn = torch.nn
    kwargs = {}
    if wl.layers > 1:
        kwargs["dropout"] = wl.dropout  # torch warns when given dropout with one layer
    assert wl.classes != 2, "two classes need rnnkit's single-logit output: not modelled"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch_recurrent(wl, **kwargs)
            self.drop = nn.Dropout(wl.dropout) if wl.dropout else nn.Identity()
            widths = (wl.hidden, *wl.dense)
            self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
            self.output = nn.Linear(widths[-1], wl.classes or 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            # The top layer's last step is its h_n: Keras' return_sequences=False.
            h = self.drop(out[:, -1])
            for layer in self.dense:
                h = self.drop(torch.relu(layer(h)))
            return self.output(h)

    return Net()


def torch_state(params):
    """rnnkit ``params_`` under torch's names: ``rnn.<l>.weight_ih`` -> ``rnn.weight_ih_l<l>``;
    dense and output layers are named alike already."""
    state = {}
    for name, value in params.items():
        if name.startswith("rnn."):
            _, layer, param = name.split(".")
            name = f"rnn.{param}_l{layer}"
        state[name] = torch.from_numpy(np.array(value))  # a copy: torch trains it in place
    return state


def torch_truncated_forward(wl, model):
    """``model``'s forward for ``wl.bptt_steps`` windows: what rnnkit's truncated BPTT
    computes for a many-to-one loss.

    The windows are rnnkit's, ``[0, k), [k, 2k), ...`` of absolute step index. Only the
    last one can receive a gradient (the loss is on the last step, and none crosses a
    window boundary), so the others run under no_grad, carrying their state forward
    detached, and only the last window is kept for backward: memory bounded by the
    window, as a PyTorch user would write it.
    """
    assert not wl.dense and not wl.dropout, "the truncated loop models recurrent stack + output"
    window = wl.bptt_steps
    last = (wl.steps - 1) // window * window

    def forward(x):
        state = None
        with torch.no_grad():
            for start in range(0, last, window):
                _, state = model.rnn(x[:, start : start + window], state)
        out, _ = model.rnn(x[:, last:], state)
        return model.output(out[:, -1])

    return forward


def torch_fit_runners(wl, X, y, params=None):
    """The torch model holding rnnkit's ``params`` (its only parameters: load_state_dict is
    strict, so both count the same; None keeps torch's own initialisation), and
    callables for one epoch and for predict. With ``wl.bptt_steps`` the epoch trains
    with truncated BPTT (``torch_truncated_forward``)."""
    model = build_torch_net(wl)
    if params is not None:
        model.load_state_dict(torch_state(params))
    train_forward = torch_truncated_forward(wl, model) if wl.bptt_steps else model
    X_t = torch.from_numpy(X)
    if wl.classes:
        y_t, loss_fn = torch.from_numpy(y).long(), torch.nn.CrossEntropyLoss()
    else:
        y_t, loss_fn = torch.from_numpy(y)[:, None], torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(SEED)
    n = len(X)

    def fit():
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, wl.batch):
            index = order[start : start + wl.batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(train_forward(X_t[index]), y_t[index])
            loss.backward()
            optimizer.step()

    def predict():
        model.eval()
        with torch.inference_mode():
            out = torch.cat([model(X_t[i : i + PREDICT_BATCH]) for i in range(0, n, PREDICT_BATCH)])
        # Labels or values as numpy, as rnnkit's predict returns them.
        return out.argmax(1).numpy() if wl.classes else out[:, 0].numpy()

    n_torch = sum(p.numel() for p in model.parameters())
    return {"fit": fit, "predict": predict}, n_torch


def load_keras(threads):
    """(keras, description) when TensorFlow imports, else (None, why not)."""
    # TensorFlow's C++ start-up messages would clutter the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except Exception as exc:  # ImportError, or a broken installation
        return None, f"skipped: import tensorflow failed ({type(exc).__name__}: {exc})"
    try:
        # intra-op threads do the kernels' work; one inter-op thread keeps TensorFlow from
        # running independent ops side by side on top of them, beyond the thread budget.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as exc:  # TensorFlow already initialised in this process
        return None, f"skipped: cannot set TensorFlow's thread count ({exc})"
    # Every workload's model traces its own predict and train functions; TensorFlow counts
    # those as retracing and warns about it, which is expected here.
    tf.get_logger().setLevel("ERROR")
    keras = tf.keras
    return keras, f"tensorflow {tf.__version__}, keras {getattr(keras, '__version__', '?')}"


def build_keras_model(keras, wl):
    """The workload's Keras tutorial model: Dropout after every recurrent and Dense layer."""
    cell = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    layers = [keras.Input(shape=(wl.steps, wl.inputs))]
    for layer in range(wl.layers):
        last = layer == wl.layers - 1
        layers.append(cell[wl.cell](wl.hidden, activation=wl.activation, return_sequences=not last))
        if wl.dropout:
            layers.append(keras.layers.Dropout(wl.dropout))
    for size in wl.dense:
        layers.append(keras.layers.Dense(size, activation="relu"))
        if wl.dropout:
            layers.append(keras.layers.Dropout(wl.dropout))
    if wl.classes:
        layers.append(keras.layers.Dense(wl.classes, activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    else:
        layers.append(keras.layers.Dense(1))
        loss = "mse"
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss)
    return model


def keras_fit_runners(keras, wl, X, y):
    """Callables for one epoch of ``Model.fit`` and for ``Model.predict`` on ``X``, and the
    model's parameter count (LSTM and SimpleRNN layers have one bias vector, not two)."""
    model = build_keras_model(keras, wl)

    def fit():
        model.fit(X, y, batch_size=wl.batch, epochs=1, shuffle=True, verbose=0)

    def predict():
        out = model.predict(X, batch_size=PREDICT_BATCH, verbose=0)
        return out.argmax(1) if wl.classes else out[:, 0]

    return {"fit": fit, "predict": predict}, model.count_params()


def bench_fit_workload(wl, args, keras, modes=FIT_MODES) -> dict:
    """samples/s keyed by (library, mode) for the modes in ``modes``, and the parameter
    count of each library's model keyed by ("params", library); a library that does not
    run has no keys."""
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

    measure_rates(wl, runners, modes, result, wl.samples, args)
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
    RSS just before it (clear_refs 5) and read after, minus the RSS before.
    """
    try:
        epoch = child_epoch(lib, ALL_WORKLOADS[name], threads)
        gc.collect()
        before = read_status_kib("VmRSS", "VmHWM")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:  # not Linux, or not allowed: the peak of the setup would leak in
            reset = False
        epoch()
        after = read_status_kib("VmHWM")["VmHWM"]
    except Exception as exc:  # reported in the table as n/a, with the reason on stderr
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 0
    growth = (after - before["VmRSS"]) / 1024 if reset else None
    peak = max(after, before["VmHWM"]) / 1024
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


def blas_name() -> str:
    """numpy's BLAS as numpy was built with it, e.g. ``scipy-openblas 0.3.31``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):  # numpy < 1.26 has no mode="dicts"
        return "numpy's BLAS"


def sgemm_rates(args) -> dict:
    """GFLOP/s of a SGEMM_SIZE square float32 matmul per library, at the run's threads.

    The machine's peak for this run is the best of them: what the hardware delivers to a
    well-tuned GEMM now, under the same load as the other measurements.
    """
    rng = np.random.default_rng(SEED)
    a, b = (rng.standard_normal((SGEMM_SIZE,) * 2, dtype=np.float32) for _ in range(2))
    fns = {
        "rnnkit": lambda: rnnkit.ops.matmul(a, b, n_threads=args.threads),
        "numpy": lambda: a @ b,
    }
    if torch is not None:
        a_torch, b_torch = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: torch.mm(a_torch, b_torch)
    print(f"  sgemm {SGEMM_SIZE}", file=sys.stderr, flush=True)
    # At least 3 samples even with --quick: a call takes a fraction of a second, and a
    # single disturbed sample would misstate the peak that every % column divides by.
    # numpy's BLAS reads no thread argument; threadpoolctl limits it for the duration.
    with threadpool_limits(limits=args.threads, user_api="blas"):
        seconds = median_times(fns, max(args.repeat, 3), args.min_time)
    return {lib: 2 * SGEMM_SIZE**3 / s / 1e9 for lib, s in seconds.items()}


def train_gflop(wl) -> float:
    """GFLOP of training on one sequence: 3x the recurrent stack's forward."""
    return 3 * forward_flops(wl) / 1e9


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
        "rnnkit RNNRegressor/RNNClassifier.fit(max_epochs=1) (which re-initialises the "
        "weights, as scikit-learn's fit does), a torch training loop, keras "
        "Model.fit(epochs=1); predict = the N training sequences (torch and keras in "
        f"batches of {PREDICT_BATCH}, rnnkit in its own chunks)",
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
                mark = APPROX if peer == "torch" and not wl.torch_supported else ""
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
        "is lower; target: >= 3x vs torch)",
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
        columns += [f"{peer} ms", f"vs {peer}"]
    return columns


def latency_rows(results, peers) -> list[list[str]]:
    rows = []
    for wl, seconds in results:
        rk = seconds["rnnkit"]
        row = [wl.name, wl.describe(), fmt_ms(rk), fmt_ms(seconds["rnnkit ops"])]
        for peer in peers:
            mark = APPROX if peer == "torch" and not wl.torch_supported else ""
            value = seconds.get(peer)
            row += [fmt_ms(value, mark), fmt_ratio(value, rk, mark)]
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
        "building its data and model and running one epoch of fit as --level fit does (no "
        f"warmup: torch's first-call allocations and keras' tracing count; {args.threads} "
        "threads)",
        "peak = the process' high-water mark (VmHWM: interpreter, imports, data, model, "
        "epoch); growth = the high-water mark during the epoch (reset just before it via "
        "/proc/self/clear_refs) minus the RSS before it: the epoch's own memory",
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


def sgemm_notes(args) -> list[str]:
    n = SGEMM_SIZE
    return [
        f"SGEMM peak: ({n} x {n}) @ ({n} x {n}) float32, 2*{n}^3 FLOP per call, median "
        f"of {max(args.repeat, 3)} samples after a warmup call, {args.threads} threads for "
        "every library (numpy's BLAS limited by threadpoolctl); peak = the best library, "
        "measured in this run",
    ]


def efficiency_columns(peers) -> list[str]:
    columns = ["workload", "config", "GFLOP/seq", "ops rnnkit"]
    columns += ["ops torch"] if "torch" in peers else []
    return columns + ["fit rnnkit", *(f"fit {peer}" for peer in peers)]


def efficiency_rows(ops_results, fit_results, peers, peak) -> list[list[str]]:
    rows = []
    for (wl, ops_res), (_, fit_res) in zip(ops_results, fit_results):
        gflop = train_gflop(wl)
        mark = "" if wl.torch_supported else APPROX
        row = [
            wl.name,
            wl.describe(),
            f"{gflop:.4f}",
            fmt_gflops(ops_res["rnnkit", "train"], gflop, peak),
        ]
        if "torch" in peers:
            row.append(fmt_gflops(ops_res["torch", "train"], gflop, peak))
        row.append(fmt_gflops(fit_res.get(("rnnkit", "fit")), gflop, peak))
        for peer in peers:
            peer_mark = mark if peer == "torch" else ""
            row.append(fmt_gflops(fit_res.get((peer, "fit")), gflop, peak, peer_mark))
        rows.append(row)
    return rows


def efficiency_notes(args, fit_results, peers) -> list[str]:
    return [
        "GFLOP/s of training (% of the SGEMM peak above) = samples/s of train at --level "
        "ops, of fit at --level fit, x GFLOP/seq; target: mnist >= 60%",
        "GFLOP/seq = training on one sequence = 3 x forward (backward: two products per "
        "forward one); forward = sum over layers of 2*T*(I + H)*G*H (G = 4 lstm, 3 gru, 1 "
        "rnn; I = H above the first layer); element-wise gate math, the head, the loss and "
        "the optimizer are not counted, so fit is slightly under-credited",
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
        help="threads for every library (default: all logical cores)",
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
    results = [(wl, bench_fit_workload(wl, run.args, None, ("fit",))) for wl in workloads]
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
    peak = max(rates.values())
    return [
        (sgemm_notes(run.args), ["library", "call", "GFLOP/s", "% of peak"], sgemm_rows(rates)),
        (
            efficiency_notes(run.args, fit, run.peers),
            efficiency_columns(run.peers),
            efficiency_rows(ops, fit, run.peers, peak),
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
