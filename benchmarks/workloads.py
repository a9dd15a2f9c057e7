"""Workload table and rnnkit helpers shared by the asv suites and ``compare.py``.

Each workload is the network of a classic Keras tutorial. The ops-level benchmarks use
its recurrent stack (cell, B, T, I, H, L); the end-to-end estimator benchmarks
(``estimators.py``) use the whole model: dense head, dropout, output and training set.

Only numpy and rnnkit are needed here, so the asv suites never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rnnkit import ops

SEED = 1234


@dataclass(frozen=True)
class Workload:
    name: str
    cell: str
    batch: int
    steps: int
    inputs: int
    hidden: int
    layers: int
    activation: str = "tanh"
    # The rest describes the whole model, for the estimator benchmarks only.
    dense: tuple[int, ...] = ()  # hidden Dense(relu) widths between recurrent stack and output
    dropout: float = 0.0  # after every recurrent and dense layer, as rnnkit's `dropout`
    classes: int = 0  # 0: regression with one output; otherwise a classifier
    samples: int = 1024  # training-set size: one epoch is samples / batch mini-batches
    bptt_steps: int | None = None  # truncated BPTT window of the estimator; None: full BPTT

    @property
    def torch_supported(self) -> bool:
        # torch.nn.RNN only offers tanh/relu nonlinearities.
        return self.activation in ("tanh", "relu")

    def describe(self) -> str:
        kind = self.cell.upper()
        if self.cell == "rnn":
            kind += f"({self.activation})"
        text = f"{kind} B{self.batch} T{self.steps} I{self.inputs} H{self.hidden} L{self.layers}"
        if self.bptt_steps:
            text += f" bptt{self.bptt_steps}"
        return text

    def describe_model(self) -> str:
        """``describe()`` plus the head, dropout and training-set size of the whole model."""
        parts = [self.describe()]
        parts += [f"D{size}" for size in self.dense]
        if self.dropout:
            parts.append(f"p{self.dropout:g}")
        parts.append(f"C{self.classes}" if self.classes else "reg")
        parts.append(f"N{self.samples}")
        return " ".join(parts)


WORKLOADS = {
    w.name: w
    for w in (
        Workload("stock", "lstm", batch=32, steps=60, inputs=1, hidden=50, layers=4, dropout=0.2),
        Workload(
            "mnist",
            "lstm",
            batch=32,
            steps=28,
            inputs=28,
            hidden=256,
            layers=2,
            dense=(32,),
            dropout=0.2,
            classes=10,
            samples=2048,
        ),
        Workload(
            "cosine", "rnn", batch=100, steps=500, inputs=1, hidden=200, layers=1, samples=1000
        ),
        Workload(
            "cosine_linear",
            "rnn",
            batch=100,
            steps=500,
            inputs=1,
            hidden=200,
            layers=1,
            activation="linear",
            samples=1000,
        ),
        Workload("gru", "gru", batch=64, steps=100, inputs=16, hidden=128, layers=1, samples=2048),
    )
}


# Long sequences trained with truncated BPTT: the memory of training should depend on the
# window (bptt_steps), not on T. Kept apart from WORKLOADS because one epoch costs many
# times the others'; the T1000 variant is there so that memory can be compared across T.
LONG = Workload(
    "long", "lstm", batch=16, steps=5000, inputs=8, hidden=128, layers=1, samples=64, bptt_steps=100
)
LONG_WORKLOADS = {w.name: w for w in (LONG, replace(LONG, name="long_t1000", steps=1000))}


def forward_flops(wl: Workload) -> int:
    """Floating-point operations of the recurrent stack's forward pass for one sequence.

    Per step and layer the gates cost 2·(I + H)·G·H (a multiply and an add per weight;
    I = H above the first layer). Element-wise gate math, the head and the loss are left
    out: they are small next to the matrix products and no GEMM peak applies to them.
    Training (forward + backward) counts as 3x this: backward does two products of the
    same size per weight matrix, one for the inputs' gradient and one for the weights'.
    """
    gates = ops.GATES[wl.cell] * wl.hidden
    per_step = sum(
        2 * ((wl.inputs if layer == 0 else wl.hidden) + wl.hidden) * gates
        for layer in range(wl.layers)
    )
    return per_step * wl.steps


def make_weights(wl: Workload, rng: np.random.Generator) -> list[tuple[np.ndarray, ...]]:
    """Per-layer (weight_ih, weight_hh, bias_ih, bias_hh), initialised like torch does.

    Matching torch's U(-1/sqrt(H), 1/sqrt(H)) keeps activations in the same range as the
    torch baseline, so neither side benefits from saturated (cheap-to-evaluate) gates.
    """
    rows = ops.GATES[wl.cell] * wl.hidden
    bound = 1.0 / np.sqrt(wl.hidden)

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    layers = []
    for layer in range(wl.layers):
        n_in = wl.inputs if layer == 0 else wl.hidden
        layers.append((uniform(rows, n_in), uniform(rows, wl.hidden), uniform(rows), uniform(rows)))
    return layers


def make_data(wl: Workload, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random input x (B, T, I) and upstream gradient d_output (B, T, H)."""
    x = rng.standard_normal((wl.batch, wl.steps, wl.inputs)).astype(np.float32)
    d_out = rng.standard_normal((wl.batch, wl.steps, wl.hidden)).astype(np.float32)
    return x, d_out


def make_problem(wl: Workload, seed: int = SEED):
    """Weights, input and output gradient for ``wl`` from a fixed seed."""
    rng = np.random.default_rng(seed)
    weights = make_weights(wl, rng)
    x, d_out = make_data(wl, rng)
    return weights, x, d_out


def stack_forward(wl: Workload, weights, x, *, training=False, n_threads=None):
    """Run the L-layer stack; returns (top output, per-layer caches or [])."""
    caches = []
    h = x
    for w in weights:
        res = ops.forward(
            wl.cell, h, *w, activation=wl.activation, training=training, n_threads=n_threads
        )
        h = res.output
        if training:
            caches.append(res.cache)
    return h, caches


def stack_backward(caches, d_out, *, n_threads=None):
    """Backpropagate through the stack top-down; layer l+1's d_x is layer l's d_output."""
    grads = []
    d = d_out
    for cache in reversed(caches):
        g = ops.backward(cache, d, n_threads=n_threads)
        grads.append(g)
        d = g.d_x
    return grads


def stack_train_step(wl: Workload, weights, x, d_out, *, n_threads=None):
    """Forward with caches plus full backward: one training iteration without the update."""
    _, caches = stack_forward(wl, weights, x, training=True, n_threads=n_threads)
    return stack_backward(caches, d_out, n_threads=n_threads)


def train_gflop(wl) -> float:
    """GFLOP of a training step through ``rnnkit.ops`` (and torch's at --level ops, whose
    input requires grad) on one sequence: 3x the recurrent stack's forward."""
    return 3 * forward_flops(wl) / 1e9


def fit_gflop(wl) -> float:
    """GFLOP of training on one sequence through ``fit``: as train_gflop, less the first
    layer's input gradient (2·T·I·G·H), which no library's fit computes (rnnkit passes
    input_grad=False, torch's and Keras' inputs need no gradient)."""
    input_grad = 2 * wl.steps * wl.inputs * ops.GATES[wl.cell] * wl.hidden
    return train_gflop(wl) - input_grad / 1e9
