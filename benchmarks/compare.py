"""Compare rnnkit against PyTorch (and Keras) on the benchmark workloads.

Usage:
    python benchmarks/compare.py [--level ops|fit|all] [--threads N] [--repeat R]
                                 [--min-time S] [--workloads a,b] [--markdown]
    python benchmarks/compare.py --quick        # one repeat, CI smoke test

Two levels, each timed with the same thread count for every library:

``--level ops`` (default): the recurrent stack through ``rnnkit.ops`` against
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

``--level all`` prints both tables.
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

from estimators import (  # noqa: E402
    PREDICT_BATCH,
    fit_epoch,
    fitted_for_predict,
    make_dataset,
    make_estimator,
    n_parameters,
)
from workloads import SEED, WORKLOADS, make_problem, stack_forward, stack_train_step  # noqa: E402

import rnnkit  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

LEVELS = ("ops", "fit", "all")
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


def bench_workload(wl, args) -> dict:
    """samples/s keyed by (library, mode); None where a library cannot run it."""
    weights, x, d_out = make_problem(wl)
    runners = {"rnnkit": rnnkit_runners(wl, weights, x, d_out, args.threads)}
    if torch is not None and wl.torch_supported:
        runners["torch"] = torch_runners(wl, weights, x, d_out)

    result = dict.fromkeys(((lib, mode) for lib in LIBS for mode in MODES), None)
    measure_rates(wl, runners, MODES, result, wl.batch, args)
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


def torch_fit_runners(wl, X, y, params):
    """The torch model holding rnnkit's ``params`` (its only parameters: load_state_dict is
    strict, so both count the same), and callables for one epoch and for predict."""
    model = build_torch_net(wl)
    model.load_state_dict(torch_state(params))
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
            loss = loss_fn(model(X_t[index]), y_t[index])
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


def bench_fit_workload(wl, args, keras) -> dict:
    """samples/s keyed by (library, mode), and the parameter count of each library's model
    keyed by ("params", library); a library that does not run has no keys."""
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

    measure_rates(wl, runners, FIT_MODES, result, wl.samples, args)
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
    if any(("torch", "fit") in res and not wl.torch_supported for wl, res in results):
        notes.append(
            f"{APPROX}: torch has no linear RNN, so these torch columns run its tanh RNN "
            "(same shapes and parameter count)"
        )
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
        "estimators end to end (one epoch of fit, predict) vs torch and keras; all: both",
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
    keras, keras_status = None, None
    if args.level in ("fit", "all"):
        # Imported only here: TensorFlow is optional, slow to import, and must get its
        # thread count before it starts.
        keras, keras_status = load_keras(args.threads)
        if keras is None:
            print(f"keras {keras_status}", file=sys.stderr, flush=True)

    load = load_average()
    workloads = [WORKLOADS[name] for name in args.workloads]
    render = render_markdown if args.markdown else render_plain
    sections = []
    if args.level in ("ops", "all"):
        results = [(wl, bench_workload(wl, args)) for wl in workloads]
        sections.append(render(ops_notes(args), COLUMNS, table_rows(results)))
    if args.level in ("fit", "all"):
        results = [(wl, bench_fit_workload(wl, args, keras)) for wl in workloads]
        # A library that did not run at all gets no columns, rather than columns of n/a.
        peers = [lib for lib, mod in (("torch", torch), ("keras", keras)) if mod is not None]
        rows = fit_table_rows(results, peers)
        sections.append(render(fit_notes(args, results), fit_columns(peers), rows))
    print(machine_line(args, load, keras_status))
    for section in sections:
        print(f"\n{section}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
