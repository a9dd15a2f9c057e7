"""The network behind the estimators: recurrent layers, dropout, a dense head, an output layer.

Parameters live in a plain dict of numpy arrays named like PyTorch's modules
(``rnn.0.weight_ih``, ``rnn.0.weight_ih_reverse``, ``dense.0.weight``, ``output.weight``),
so they pickle with the estimator and move to and from ``torch.nn.LSTM`` / ``Linear``
unchanged. Dense weights are (out, in), as in ``torch.nn.Linear``.

Data flows as (B, T, F) batches with optional ``lengths``:

- each recurrent layer runs :func:`rnnkit.ops.forward` once per direction; a
  bidirectional layer concatenates both directions on the last axis;
- the last recurrent layer gives either every step (``return_sequences``) or, per
  direction, the state after its last processed step (``h_n``: the last valid step
  forward, step 0 backward), which is what Keras' ``return_sequences=False`` returns;
- dropout (inverted, training only) follows every recurrent and dense layer;
- dense layers (relu) and the output layer act on each row, or on each step of each row.

Every matrix product goes through :func:`rnnkit.ops.matmul`, so a row's output never
depends on the other rows of its batch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import ops
from ._blas_free import one_blas_thread


@dataclass(frozen=True)
class NetworkSpec:
    """The architecture: everything needed to build, run and differentiate the network."""

    cell: str
    hidden_sizes: tuple[int, ...]
    bidirectional: bool
    activation: str
    dense_sizes: tuple[int, ...]
    dropout: float
    return_sequences: bool
    n_inputs: int
    n_outputs: int

    @property
    def directions(self):
        """Name suffix of each direction of a recurrent layer, PyTorch style."""
        return ("", "_reverse") if self.bidirectional else ("",)

    @property
    def recurrent_width(self):
        """Features leaving the last recurrent layer."""
        return self.hidden_sizes[-1] * len(self.directions)

    def shapes(self):
        """Name -> shape of every parameter, in a fixed order."""
        shapes = {}
        gates = ops.GATES[self.cell]
        width = self.n_inputs
        for layer, hidden in enumerate(self.hidden_sizes):
            for suffix in self.directions:
                prefix = f"rnn.{layer}."
                shapes[prefix + "weight_ih" + suffix] = (gates * hidden, width)
                shapes[prefix + "weight_hh" + suffix] = (gates * hidden, hidden)
                shapes[prefix + "bias_ih" + suffix] = (gates * hidden,)
                shapes[prefix + "bias_hh" + suffix] = (gates * hidden,)
            width = hidden * len(self.directions)
        for layer, size in enumerate(self.dense_sizes):
            shapes[f"dense.{layer}.weight"] = (size, width)
            shapes[f"dense.{layer}.bias"] = (size,)
            width = size
        shapes["output.weight"] = (self.n_outputs, width)
        shapes["output.bias"] = (self.n_outputs,)
        return shapes


def is_weight(name):
    """Whether a parameter is a weight matrix (L2-penalized), not a bias."""
    return ".weight" in name


def init_params(spec, rng, dtype):
    """Keras' defaults: Glorot-uniform input and dense weights, orthogonal recurrent
    weights, zero biases except LSTM forget gates (bias 1, Keras' ``unit_forget_bias``).

    ``rng`` is a numpy ``RandomState``; values are drawn in float64, then cast, so that
    float32 and float64 networks start from the same point.
    """
    _check_fits_in_memory(spec)
    params = {}
    for name, shape in spec.shapes().items():
        if ".weight_hh" in name:
            value = _orthogonal(rng, shape)
        elif is_weight(name):
            fan_out, fan_in = shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-limit, limit, size=shape)
        else:
            value = np.zeros(shape)
            if spec.cell == "lstm" and ".bias_ih" in name:
                hidden = shape[0] // 4
                value[hidden : 2 * hidden] = 1.0  # gate order i, f, g, o
        params[name] = np.ascontiguousarray(value, dtype=dtype)
    return params


def _check_fits_in_memory(spec):
    """A MemoryError, before anything is allocated, for a network whose parameters alone,
    as drawn in float64, exceed the machine's memory. numpy raises one itself where the
    system refuses such an allocation, but where it overcommits memory (Linux with
    vm.overcommit_memory=1, as some containers run) the allocation succeeds and the
    process is killed while the values are drawn, losing everything it held."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return
    count = sum(math.prod(shape) for shape in spec.shapes().values())
    if memory > 0 and 8 * count > memory:
        raise MemoryError(
            f"hidden_sizes={spec.hidden_sizes}, dense_sizes={spec.dense_sizes}: the network "
            f"has {count:,} parameters, {8 * count / 2**30:,.1f} GiB in float64 as they are "
            f"drawn, more than this machine's {memory / 2**30:,.1f} GiB of memory"
        )


def _orthogonal(rng, shape):
    """A (G*H, H) matrix with orthonormal columns, as Keras' orthogonal initializer gives
    its (H, G*H) recurrent kernel orthonormal rows."""
    # One BLAS thread: the same bits for any OMP_NUM_THREADS, and a multithreaded QR of
    # these small matrices gains nothing (it slowed to seconds on shared cores).
    with one_blas_thread():
        q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diag(r))  # sign fix: uniform over orthogonal matrices


@dataclass
class Tape:
    """What :func:`backward` needs from one training :func:`forward` call."""

    lengths: np.ndarray | None
    steps: int
    caches: list = field(default_factory=list)  # per layer, per direction: ops caches
    recurrent_masks: list = field(default_factory=list)  # per layer: dropout mask or None
    head_inputs: list = field(default_factory=list)  # input rows of each dense/output layer
    head_masks: list = field(default_factory=list)  # per dense layer: dropout mask or None
    workspace: dict | None = None  # see forward_from


def forward(
    spec, params, x, lengths=None, *, training=False, rng=None, n_threads=None, workspace=None
):
    """Run the network on ``x`` (B, T, F) with optional ``lengths`` (B,).

    Returns ``(output, tape)``: ``output`` is (B, n_outputs), or (B, T, n_outputs) with
    ``return_sequences`` (rows past a sequence's length are meaningless there); ``tape``
    is for :func:`backward` and None unless ``training``. Dropout needs ``rng`` (a numpy
    ``Generator``) when training. ``workspace``: see :func:`forward_from`.
    """
    output, tape, _ = forward_from(
        spec, params, x, lengths, None, training=training, rng=rng, n_threads=n_threads,
        workspace=workspace,
    )  # fmt: skip
    return output, tape


def forward_from(
    spec, params, x, lengths, state, *, training=False, rng=None, n_threads=None, workspace=None
):
    """:func:`forward` from the recurrent ``state`` a previous call returned (None: zeros),
    for a unidirectional network run a window of steps at a time.

    ``workspace``: a dict the caller keeps across calls, so that they do not fault in
    fresh memory (tens of MB a call for long sequences): in training, :func:`backward`
    puts each layer's consumed cache arrays in it and the next forward reuses them; in
    inference, each layer keeps the scratch of its input projection there (only batches
    smaller than a micro-kernel tile fill it; np.empty leaves it unfaulted otherwise).

    Returns ``(output, tape, state)``; ``state`` holds each layer's ``(h_n, c_n)`` (before
    dropout), ready for the next window.
    """
    if state is not None and spec.bidirectional:
        raise ValueError("a bidirectional network cannot continue from a state")
    batch, steps, _ = x.shape
    # ops.forward's checks, once: the layers below pass on what they get from each other.
    h = ops._as_input(x)
    lengths = ops._as_lengths(lengths, batch, steps)
    threads = ops._as_threads(n_threads)
    new_state = []
    tape = Tape(lengths, steps, workspace=workspace) if training else None
    dropout = spec.dropout if training else 0.0
    last_layer = len(spec.hidden_sizes) - 1
    for layer in range(len(spec.hidden_sizes)):
        h0, c0 = (None, None) if state is None else state[layer]
        final_only = layer == last_layer and not spec.return_sequences
        results = [
            ops._run_forward(
                spec.cell,
                h,
                _recurrent_params(params, layer, suffix),
                h0=h0,
                c0=c0,
                lengths=lengths,
                reverse=bool(suffix),
                activation=spec.activation,
                training=training,
                n_threads=threads,
                leak_rate=1.0,
                return_sequences=not final_only,
                borrow=True,  # nothing changes the inputs or weights before backward
                reuse=_reusable(workspace, (layer, suffix), training, spec, h, layer),
            )
            for suffix in spec.directions
        ]
        new_state.append((results[0].h_n, results[0].c_n))
        if final_only:
            h = _concat([r.h_n for r in results])
        else:
            h = _concat([r.output for r in results])
        h, mask = _dropout(h, dropout, rng, threads)
        if training:
            tape.caches.append([r.cache for r in results])
            tape.recurrent_masks.append(mask)

    out = _head(spec, params, h.reshape(-1, h.shape[-1]), dropout, rng, tape, threads)
    if spec.return_sequences:
        out = out.reshape(batch, steps, spec.n_outputs)
    return out, tape, new_state


def step(spec, params, x_t, state=None, *, n_threads=None):
    """Advance a unidirectional network by one time step.

    ``x_t`` (B, F) is the input at this step and ``state`` what the previous call
    returned (None: zeros). Returns ``(output, state)``: ``output`` (B, n_outputs) is
    what :func:`forward` gives at this step with ``return_sequences`` (without it, the
    output for the sequence read so far), so a generator feeds its own outputs back
    without re-running the prefix.
    """
    if spec.bidirectional:
        raise ValueError(
            "a bidirectional network reads each sequence from both ends; it cannot be run "
            "one step at a time"
        )
    new_state = []
    h = x_t
    for layer in range(len(spec.hidden_sizes)):
        h_prev, c_prev = (None, None) if state is None else state[layer]
        h, c = ops.step(
            spec.cell,
            h,
            *_recurrent_params(params, layer, ""),
            h_prev,
            c_prev,
            activation=spec.activation,
            n_threads=n_threads,
        )
        new_state.append((h, c))
    return _head(spec, params, h, 0.0, None, None, n_threads), new_state


def _head(spec, params, rows, dropout, rng, tape, n_threads):
    """Dense(relu) layers with dropout, then the output layer, on (N, width) rows;
    records what backward needs on ``tape`` unless it is None."""
    for layer in range(len(spec.dense_sizes)):
        if tape is not None:
            tape.head_inputs.append(rows)
        rows = _linear(rows, params, f"dense.{layer}", n_threads)
        np.maximum(rows, 0, out=rows)
        rows, mask = _dropout(rows, dropout, rng, n_threads)
        if tape is not None:
            tape.head_masks.append(mask)
    if tape is not None:
        tape.head_inputs.append(rows)
    return _linear(rows, params, "output", n_threads)


def backward(spec, params, tape, d_output, *, bptt_steps=None, n_threads=None):
    """Gradients of a scalar loss w.r.t. every parameter, given its gradient ``d_output``
    w.r.t. :func:`forward`'s output. Returns a dict with the names of ``params``."""
    grads = {}
    d_rows = d_output.reshape(-1, spec.n_outputs)
    d_rows = _linear_backward(d_rows, tape.head_inputs[-1], params, "output", grads, n_threads)
    for layer in reversed(range(len(spec.dense_sizes))):
        rows_in = tape.head_inputs[layer]
        if tape.head_masks[layer] is not None:
            d_rows = d_rows * tape.head_masks[layer]
        # relu'(z) from its output, which is what the next layer received
        d_rows = np.where(tape.head_inputs[layer + 1] > 0, d_rows, 0)
        d_rows = _linear_backward(d_rows, rows_in, params, f"dense.{layer}", grads, n_threads)

    last_layer = len(spec.hidden_sizes) - 1
    d_h = d_rows
    for layer in reversed(range(len(spec.hidden_sizes))):
        if tape.recurrent_masks[layer] is not None:
            d_h = d_h.reshape(tape.recurrent_masks[layer].shape) * tape.recurrent_masks[layer]
        hidden = spec.hidden_sizes[layer]
        final_only = layer == last_layer and not spec.return_sequences
        d_x = None
        for k, (suffix, cache) in enumerate(zip(spec.directions, tape.caches[layer])):
            if final_only:
                d_h_n = d_h.reshape(-1, d_h.shape[-1])[:, k * hidden : (k + 1) * hidden]
                d_out = None  # only h_n reaches the head
            else:
                d_out = d_h.reshape(-1, tape.steps, d_h.shape[-1])[
                    ..., k * hidden : (k + 1) * hidden
                ]
                d_h_n = None
            if tape.workspace is not None:  # consumed below, reusable by the next forward
                tape.workspace[(layer, suffix)] = cache.arrays
            # The first layer's d_x would be the gradient w.r.t. the data: not wanted.
            wanted = layer > 0
            g = ops.backward(
                cache, d_out, d_h_n, bptt_steps=bptt_steps, n_threads=n_threads, input_grad=wanted
            )
            prefix = f"rnn.{layer}."
            grads[prefix + "weight_ih" + suffix] = g.d_weight_ih
            grads[prefix + "weight_hh" + suffix] = g.d_weight_hh
            grads[prefix + "bias_ih" + suffix] = g.d_bias_ih
            grads[prefix + "bias_hh" + suffix] = g.d_bias_hh
            if wanted:
                d_x = g.d_x if d_x is None else d_x + g.d_x
        d_h = d_x
    return {name: grads[name] for name in params}


def _recurrent_params(params, layer, suffix):
    prefix = f"rnn.{layer}."
    return tuple(
        params[prefix + name + suffix] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )


def _reusable(workspace, key, training, spec, x, layer):
    """What ``ops._run_forward(reuse=...)`` can fill for layer ``key`` from ``workspace``:
    in training, the cache arrays the last backward consumed (None when there are none);
    in inference, a (T, B, G*H) scratch kept there for the next call of the same shape."""
    if workspace is None:
        return None
    if training:
        return workspace.pop(key, None)
    batch, steps, _ = x.shape
    shape = (steps, batch, ops.GATES[spec.cell] * spec.hidden_sizes[layer])
    arrays = workspace.get(key)
    if arrays is None or arrays[0].shape != shape or arrays[0].dtype != x.dtype:
        arrays = workspace[key] = (np.empty(shape, x.dtype), None, None, None)
    return arrays


def _concat(arrays):
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=-1)


def _dropout(h, rate, rng, n_threads):
    """Inverted dropout: training scales kept units by 1/(1-rate), inference does nothing.
    The mask comes from one 64-bit seed drawn from ``rng``."""
    if rate == 0.0:
        return h, None
    return ops.dropout(h, rate, seed=rng.bit_generator.random_raw(), n_threads=n_threads)


def _linear(rows, params, prefix, n_threads):
    out = ops.matmul(rows, params[prefix + ".weight"].T, n_threads=n_threads)
    out += params[prefix + ".bias"]
    return out


def _linear_backward(d_out, rows_in, params, prefix, grads, n_threads):
    """Fill the layer's gradients in ``grads``; return the gradient w.r.t. its input."""
    grads[prefix + ".weight"] = ops.matmul(d_out.T, rows_in, n_threads=n_threads)
    grads[prefix + ".bias"] = d_out.sum(axis=0)
    return ops.matmul(d_out, params[prefix + ".weight"], n_threads=n_threads)
