"""Functional kernels: forward and backpropagation through time of one recurrent layer.

One layer, one direction, batch-first arrays, float32 or float64 (the dtype of ``x``
decides and is never mixed). The semantics are those of
``torch.nn.RNN / LSTM / GRU(batch_first=True)`` for a single layer and direction, weight
layout and gate order included (LSTM ``i, f, g, o``; GRU ``r, z, n`` with ``b_hn`` inside
the reset product), so results can be checked against PyTorch and weights moved both ways.

``lengths`` follows PyTorch's packed sequences: step ``t`` of row ``b`` is processed iff
``t < lengths[b]``; ``output`` is 0 at the other steps and ``h_n`` is the state after the
last processed step. ``reverse=True`` runs each sequence from its last valid step back to
step 0, with ``output[:, t]`` still belonging to ``x[:, t]``.

``leak_rate=a`` (rnn only, 0 < a <= 1) makes the Elman cell a leaky integrator, as echo
state networks (reservoir computing) use: ``h_t = (1 - a) * h_{t-1} + a * act(W_ih x_t +
b_ih + W_hh h_{t-1} + b_hh)``. The default 1 is the plain cell, bit for bit; backward
supports any ``a``.

This module is the only importer of the compiled ``rnnkit._core``; it validates every
argument and raises ``ValueError`` / ``TypeError`` naming it before any work starts. Besides
the recurrent layers it carries ``matmul``, ``dropout`` and, for the estimators' optimizers,
the private ``_optimizer_update``.
"""

from __future__ import annotations

import numbers
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from . import _core

__all__ = [
    "forward",
    "backward",
    "step",
    "matmul",
    "dropout",
    "kernel_info",
    "ForwardResult",
    "Gradients",
    "GATES",
    "ACTIVATIONS",
]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
ACTIVATIONS = {
    "rnn": ("tanh", "relu", "linear"),
    "lstm": ("tanh", "relu"),
    "gru": ("tanh", "relu"),
}
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class ForwardResult:
    """What :func:`forward` returns.

    ``output`` (B, T, H): h_t at every step, 0 at padded steps. ``h_n`` (B, H): the
    state after the last processed step. ``c_n`` (B, H): the lstm cell state, else
    None. ``cache``: opaque, for one :func:`backward` call; None unless ``training``.
    """

    output: np.ndarray
    h_n: np.ndarray
    c_n: np.ndarray | None
    cache: _Cache | None


@dataclass(frozen=True)
class Gradients:
    """What :func:`backward` returns: gradients w.r.t. every input of :func:`forward`."""

    d_x: np.ndarray | None  # None for backward(..., input_grad=False)
    d_h0: np.ndarray
    d_c0: np.ndarray | None
    d_weight_ih: np.ndarray
    d_weight_hh: np.ndarray
    d_bias_ih: np.ndarray
    d_bias_hh: np.ndarray


class _Cache:
    """What backward needs from one forward call. Used once: backward consumes it."""

    def __init__(self, config, arrays, saved):
        self.config = config  # (cell, activation, reverse, leak_rate)
        self.arrays = arrays  # (gates, aux, h_prev, c_prev) from the kernel
        self.saved = saved  # (x, weight_ih, weight_hh, lengths), private copies
        self._lock = threading.Lock()
        self._used = False

    def consume(self):
        with self._lock:
            if self._used:
                raise ValueError(
                    "cache: already used by a backward call; run forward(training=True) "
                    "again for another backward"
                )
            self._used = True
        arrays, self.arrays = self.arrays, None  # free the memory once backward is done
        return arrays

    def _refuse_copy(self, *_):
        # A shallow copy would have a use of its own but the same arrays, which the
        # first backward overwrites: a second backward through it would return wrong
        # gradients. A deep copy or a pickle would be correct but copy the whole cache;
        # they failed on the lock with a message that said nothing of the cache.
        raise TypeError("cache: cannot be copied or pickled; it serves one backward call")

    __copy__ = __deepcopy__ = __reduce_ex__ = _refuse_copy

    def __repr__(self):
        cell, activation, reverse, leak_rate = self.config
        state = "used" if self._used else "unused"
        leak = f", leak_rate={leak_rate}" if leak_rate != 1.0 else ""
        return f"<rnnkit.ops cache: {cell}, {activation}, reverse={reverse}{leak}, {state}>"


def forward(
    cell,
    x,
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh,
    *,
    h0=None,
    c0=None,
    lengths=None,
    reverse=False,
    activation="tanh",
    training=False,
    n_threads=None,
    leak_rate=1.0,
    return_sequences=True,
):
    """Run one recurrent layer over a batch of sequences.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    x : array (B, T, I), float32 or float64; T, I >= 1. B may be 0, as in torch: empty
        results, and zero weight gradients from :func:`backward`
    weight_ih, weight_hh : arrays (G*H, I), (G*H, H); G = 1 rnn, 4 lstm, 3 gru
    bias_ih, bias_hh : arrays (G*H,)
    h0, c0 : arrays (B, H) or None for zeros; c0 only for lstm
    lengths : int array (B,) with 1 <= lengths[b] <= T, or None for all T
    reverse : run each sequence from its last valid step back to step 0
    activation : rnn: "tanh" | "relu" | "linear"; lstm, gru: "tanh" | "relu"
    training : keep what :func:`backward` needs in ``result.cache``
    n_threads : threads for the kernels; None uses all that OpenMP sees (respects
        OMP_NUM_THREADS). Results are bitwise identical for any value.
    leak_rate : real number a in (0, 1], rnn only (other cells accept only 1): the
        leaky-integrator state update h_t = (1 - a) * h_{t-1} + a * act(W_ih x_t + b_ih +
        W_hh h_{t-1} + b_hh) of echo state networks. 1 (the default) is the plain cell,
        with exactly the same results; :func:`backward` supports any a.
    return_sequences : False leaves ``result.output`` None and computes only ``h_n`` (and
        ``c_n``), as Keras' ``return_sequences=False``: a many-to-one model needs no
        (B, T, H) output. Training and :func:`backward` work the same (pass
        ``d_output=None``).

    Returns
    -------
    ForwardResult
    """
    _check_cell_activation(cell, activation)
    x = _as_input(x)
    B, T, Din = x.shape
    G = GATES[cell]
    weight_hh = _as_float(weight_hh, "weight_hh", x.dtype, ndim=2)
    H = weight_hh.shape[1]
    if H < 1:
        raise ValueError("weight_hh: expected at least one hidden unit (shape (G*H, H), H >= 1)")
    weight_hh = _as_float(weight_hh, "weight_hh", x.dtype, (G * H, H))
    weight_ih = _as_float(weight_ih, "weight_ih", x.dtype, (G * H, Din))
    bias_ih = _as_float(bias_ih, "bias_ih", x.dtype, (G * H,))
    bias_hh = _as_float(bias_hh, "bias_hh", x.dtype, (G * H,))
    if h0 is not None:
        h0 = _as_float(h0, "h0", x.dtype, (B, H))
    if c0 is not None:
        if cell != "lstm":
            raise ValueError(f"c0: only the lstm cell has a cell state, got cell={cell!r}")
        c0 = _as_float(c0, "c0", x.dtype, (B, H))
    lengths = _as_lengths(lengths, B, T)
    reverse = _as_bool(reverse, "reverse")
    training = _as_bool(training, "training")
    threads = _as_threads(n_threads)
    leak_rate = _as_leak_rate(leak_rate, cell)
    return_sequences = _as_bool(return_sequences, "return_sequences")

    return _run_forward(
        cell, x, (weight_ih, weight_hh, bias_ih, bias_hh), h0=h0, c0=c0, lengths=lengths,
        reverse=reverse, activation=activation, training=training, n_threads=threads,
        leak_rate=leak_rate, return_sequences=return_sequences, borrow=False, reuse=None,
    )  # fmt: skip


def _run_forward(
    cell, x, weights, *, h0, c0, lengths, reverse, activation, training, n_threads,
    leak_rate, return_sequences, borrow, reuse,
):  # fmt: skip
    """:func:`forward` past its checks, for arguments already in the form they leave
    them: C-contiguous arrays of x's dtype, ``lengths`` int64 or None, bools, an int
    ``n_threads``. rnnkit's network calls it directly with arrays it made itself: the
    checks cost a batch-1 prediction more than a layer's own arithmetic, and ``_core``
    checks every shape and dtype again, so nothing reaches a kernel out of bounds.

    ``borrow``: the cache references ``x``, the weights and ``lengths`` instead of
    copying them; the caller leaves them unchanged until :func:`backward`. ``reuse``:
    the arrays of a consumed cache (its ``arrays`` before :func:`backward`), reused for
    this call's cache when their shapes and dtype fit, so that training does not fault in
    fresh memory at every step; in inference the first, gates-shaped (T, B, G*H), holds
    the input projection of a batch smaller than a micro-kernel tile (larger ones need
    none). Both are for the network only, which is why :func:`forward` has neither."""
    B, T, _ = x.shape
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    H = weight_hh.shape[1]
    if B == 0:  # as torch: empty results, and nothing for the kernels to do
        output, h_n, c_n, arrays = _empty_batch_forward(cell, T, H, x.dtype, return_sequences)
    else:
        output, h_n, c_n, arrays = _core.forward(
            cell, activation, reverse, x, weight_ih, weight_hh, bias_ih, bias_hh,
            h0, c0, lengths, training, n_threads, leak_rate=leak_rate,
            return_sequences=return_sequences,
            reuse=_fitting(reuse, training, x.dtype, cell, B, T, H),
        )  # fmt: skip
    cache = None
    if training:
        # Private copies: the caller may update weights in place before backward.
        saved = tuple(
            a if a is None or borrow else np.array(a, copy=True)
            for a in (x, weight_ih, weight_hh, lengths)
        )
        cache = _Cache((cell, activation, reverse, leak_rate), arrays, saved)
    return ForwardResult(output, h_n, c_n, cache)


def _cache_shapes(cell, B, T, H):
    """The shapes of a training cache's arrays (gates, aux, h_prev, c_prev), step-major
    as _core makes them; aux is empty for rnn, c_prev for rnn and gru."""
    rows = (T, B, H)
    return (
        (T, B, GATES[cell] * H),
        (0,) if cell == "rnn" else rows,
        rows,
        rows if cell == "lstm" else (0,),
    )


def _empty_batch_forward(cell, T, H, dtype, return_sequences):
    """What _core.forward returns for a batch of 0 sequences: (output, h_n, c_n, the
    cache's arrays), each with a batch axis of 0."""
    arrays = tuple(np.zeros(shape, dtype) for shape in _cache_shapes(cell, 0, T, H))
    output = np.zeros((0, T, H), dtype) if return_sequences else None
    c_n = np.zeros((0, H), dtype) if cell == "lstm" else None
    return output, np.zeros((0, H), dtype), c_n, arrays


def _fitting(arrays, training, dtype, cell, B, T, H):
    """``arrays`` (a consumed cache's) if they can hold this call's cache (inference:
    if the first can hold its input projection), else None."""
    if arrays is None:
        return None
    shapes = _cache_shapes(cell, B, T, H)
    fits = arrays[0].dtype == dtype and arrays[0].shape == shapes[0]
    if not training:
        return arrays if fits else None
    fits = fits and all(a is not None and a.shape == s for a, s in zip(arrays, shapes))
    return arrays if fits else None


def backward(
    cache, d_output, d_h_n=None, d_c_n=None, *, bptt_steps=None, n_threads=None, input_grad=True
):
    """Backpropagation through time for one :func:`forward` call made with training=True.

    Parameters
    ----------
    cache : ``result.cache`` of that call (each cache serves one backward call)
    d_output : array (B, T, H), gradient w.r.t. ``output`` (ignored at padded steps), or
        None for zeros: only ``h_n`` (and ``c_n``) reach the loss, as in a many-to-one
        model, and no (B, T, H) array of zeros need be made. A forward with
        ``return_sequences=False`` returned no output but still computed every h_t:
        a d_output is then the gradient w.r.t. those states, as if it had returned them
    d_h_n, d_c_n : arrays (B, H) or None for zeros; d_c_n only for lstm
    bptt_steps : truncated BPTT window k, or None for full BPTT. Time is cut into
        windows [0, k), [k, 2k), ... of absolute step index and no gradient crosses a
        window boundary through h or c between two processed steps.
    n_threads : threads for the kernels; None uses all that OpenMP sees
    input_grad : False skips ``d_x`` (returned as None), as torch does for an input that
        does not require grad: a network's first layer has no use for it, and for a
        long sequence of few inputs it is a pass over all of the gate gradients

    Returns
    -------
    Gradients
    """
    if not isinstance(cache, _Cache):
        raise TypeError(
            f"cache: expected the .cache of forward(..., training=True), got {type(cache).__name__}"
        )
    cell, activation, reverse, leak_rate = cache.config
    x, weight_ih, weight_hh, lengths = cache.saved
    B, T, _ = x.shape
    H = weight_hh.shape[1]
    if d_output is not None:
        d_output = _as_float(d_output, "d_output", x.dtype, (B, T, H))
    if d_h_n is not None:
        d_h_n = _as_float(d_h_n, "d_h_n", x.dtype, (B, H))
    if d_c_n is not None:
        if cell != "lstm":
            raise ValueError(f"d_c_n: only the lstm cell has a cell state, got cell={cell!r}")
        d_c_n = _as_float(d_c_n, "d_c_n", x.dtype, (B, H))
    # A window of T steps or more is full BPTT; capping keeps it a C int64.
    window = 0 if bptt_steps is None else min(_as_positive_int(bptt_steps, "bptt_steps"), T)
    threads = _as_threads(n_threads)
    input_grad = _as_bool(input_grad, "input_grad")

    gates, aux, h_prev, c_prev = cache.consume()
    if B == 0:  # no sequence, no gradient: zeros, as torch gives
        return Gradients(
            np.zeros(x.shape, x.dtype) if input_grad else None,
            np.zeros((0, H), x.dtype),
            np.zeros((0, H), x.dtype) if cell == "lstm" else None,
            np.zeros_like(weight_ih),
            np.zeros_like(weight_hh),
            np.zeros(weight_hh.shape[0], x.dtype),
            np.zeros(weight_hh.shape[0], x.dtype),
        )
    grads = _core.backward(
        cell, activation, reverse, x, weight_ih, weight_hh, lengths, gates, aux, h_prev,
        c_prev, d_output, d_h_n, d_c_n, window, threads, leak_rate=leak_rate,
        input_grad=input_grad,
    )  # fmt: skip
    return Gradients(*grads)


def step(
    cell,
    x_t,
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh,
    h=None,
    c=None,
    *,
    activation="tanh",
    n_threads=None,
    leak_rate=1.0,
):
    """Advance one recurrent layer by one time step, from the state ``h`` (and ``c``).

    For a caller that produces the input as it goes (text generation, a closed-loop
    forecast) and must carry the state between calls instead of re-running the whole
    prefix. Calling it for t = 0, 1, ... with the state it returned gives, bit for bit,
    what :func:`forward` gives at each step of the whole sequence.

    Parameters
    ----------
    cell, weight_ih, weight_hh, bias_ih, bias_hh, activation, n_threads, leak_rate :
        as in :func:`forward`
    x_t : array (B, I), float32 or float64: the input at this step
    h, c : arrays (B, H): the state after the previous step, or None for zeros; ``c``
        only for lstm

    Returns
    -------
    (h, c) : the state after this step, each (B, H); ``c`` is None for rnn and gru.
    """
    x_t = _float_array(x_t, "x_t")
    if x_t.ndim != 2:
        raise ValueError(f"x_t: expected a 2-D array (batch, input), got shape {x_t.shape}")
    if x_t.shape[1] < 1:  # before forward, which would name its (B, 1, I) view x
        raise ValueError(f"x_t: expected at least 1 input, got shape {x_t.shape}")
    _check_cell_activation(cell, activation)
    if c is not None and cell != "lstm":
        raise ValueError(f"c: only the lstm cell has a cell state, got cell={cell!r}")
    hidden = _as_float(weight_hh, "weight_hh", x_t.dtype, ndim=2).shape[1]
    h = None if h is None else _as_float(h, "h", x_t.dtype, (len(x_t), hidden))
    c = None if c is None else _as_float(c, "c", x_t.dtype, (len(x_t), hidden))
    # The time loop with one step: the same code, hence the same bits, as forward.
    result = forward(
        cell, x_t[:, None, :], weight_ih, weight_hh, bias_ih, bias_hh,
        h0=h, c0=c, activation=activation, n_threads=n_threads, leak_rate=leak_rate,
    )  # fmt: skip
    return result.h_n, result.c_n


def matmul(a, b, *, n_threads=None):
    """``a @ b`` for 2-D float32 or float64 arrays, with rnnkit's GEMM.

    Unlike a BLAS call, every row of the result is computed the same way whatever the
    number of rows, the row's position and ``n_threads``: bitwise. Networks use it for
    dense layers so that a sample's prediction never depends on its batch. Transposed
    views (``w.T``) are read in place, without a copy.
    """
    a = _as_matrix(a, "a")
    b = _as_matrix(b, "b")
    if b.dtype != a.dtype:
        raise TypeError(f"b: expected dtype {a.dtype} (the dtype of a), got {b.dtype}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a, b: inner dimensions differ, got shapes {a.shape} and {b.shape}")
    threads = _as_threads(n_threads)  # checked whatever the shapes
    if min(a.shape[0], b.shape[1]) == 0 or a.shape[1] == 0:
        return np.zeros((a.shape[0], b.shape[1]), dtype=a.dtype)
    return _core.gemm(a, b, "best", threads)


def dropout(x, rate, *, seed, n_threads=None):
    """Inverted dropout of a float array: ``(x * mask, mask)``, where ``mask`` is 0 for a
    fraction ``rate`` of the elements and ``1 / (1 - rate)`` elsewhere (the backward is
    ``d_x = d_y * mask``).

    The mask depends only on ``seed`` (an integer in [0, 2^64)) and each element's
    position: element i is dropped when the 32-bit draw i of a SplitMix64 stream is below
    ``rate * 2^32``, so it is the same for any ``n_threads`` and needs no generator state.
    """
    array = _float_array(x, "x")
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate: expected a real number in [0, 1), got {rate!r}")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate: expected a real number in [0, 1), got {rate!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed: expected an integer in [0, 2**64), got {seed!r}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed: expected an integer in [0, 2**64), got {seed!r}")
    y, mask = _core.dropout(
        np.ascontiguousarray(array), float(rate), int(seed), _as_threads(n_threads)
    )
    return y.reshape(array.shape), mask.reshape(array.shape)  # ascontiguousarray made 0-d 1-d


def _optimizer_update(kind, params, grad, first, second, *, n_threads=None, **rule):
    """rnnkit's optimizers (``_optimizers.update``): one compiled pass that updates the
    1-D ``params`` and its moments in place; ``rule`` holds learning_rate, decay1,
    decay2, epsilon and t (see ``csrc/optim/update.hpp``). The caller owns and shapes
    every array; the compiled layer still checks dtype, shape and writeability."""
    _core.optimizer_update(kind, params, grad, first, second, n_threads=_as_threads(n_threads),
                           **rule)  # fmt: skip


def kernel_info():
    """What the kernels run with on this machine: ``{"isa": the widest instruction set
    of the GEMM and cell math ("avx512", "avx2", "neon" or "generic"), "threads": the threads
    OpenMP sees (n_threads=None), "openmp": whether this build has OpenMP}``. A build
    without it (Apple's clang with no libomp) runs every call on one thread, whatever
    ``n_threads`` asks, with the same results."""
    threads = 1 if _forked_after_threads else _thread_count(None)  # no call is made
    return {"isa": _core.best_isa(), "threads": threads, "openmp": _core.openmp}


def _as_matrix(value, name):
    """A 2-D float array whose strides the GEMM can read (positive, whole items)."""
    array = _float_array(value, name)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {array.shape}")
    if any(s <= 0 or s % array.itemsize for s in array.strides):
        array = np.ascontiguousarray(array)
    return array


def _check_cell_activation(cell, activation):
    if not isinstance(cell, str) or cell not in GATES:
        raise ValueError(f"cell: expected one of 'rnn', 'lstm', 'gru', got {cell!r}")
    allowed = ACTIVATIONS[cell]
    if not isinstance(activation, str) or activation not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"activation: expected one of {names} for cell={cell!r}, got {activation!r}"
        )


def _float_array(value, name, dtype=None):
    """``value`` as an array of float32 or float64 (exactly ``dtype`` when given, the
    input's dtype); never a silent cast, but a copy in native byte order where needed."""
    if isinstance(value, (str, bytes)) or value is None:
        want = "float32 or float64" if dtype is None else dtype
        raise TypeError(f"{name}: expected a {want} array, got {type(value).__name__}")
    array = np.asarray(value)
    if not array.dtype.isnative:  # the same numbers, as a layout to copy (big-endian)
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.aligned:  # a view at an odd byte offset: the kernels read whole T
        array = array.copy()
    if dtype is None and array.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the input's), got {array.dtype}")
    return array


def _as_input(x):
    x = _float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x: expected a 3-D array (batch, steps, input), got shape {x.shape}")
    if min(x.shape[1:]) < 1:  # a batch of 0 sequences is torch's empty batch
        raise ValueError(f"x: steps and inputs must be at least 1, got shape {x.shape}")
    return np.ascontiguousarray(x)


def _as_float(value, name, dtype, shape=None, ndim=None):
    """A C-contiguous array of `dtype` and `shape`; never a silent cast."""
    array = _float_array(value, name, dtype)
    expected_ndim = len(shape) if shape is not None else ndim
    if array.ndim != expected_ndim or (shape is not None and array.shape != tuple(shape)):
        want = f"shape {tuple(shape)}" if shape is not None else f"a {ndim}-D array"
        raise ValueError(f"{name}: expected {want}, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _as_lengths(lengths, batch, steps):
    if lengths is None:
        return None
    array = np.asarray(lengths)
    if array.size == 0 and not hasattr(lengths, "dtype"):  # np.asarray([]) is float64
        if batch > 0:  # say what is missing
            raise ValueError(
                f"lengths: expected one length per sequence, shape ({batch},), got none"
            )
        array = array.astype(np.int64)  # an empty batch's one length per sequence
    if array.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected an integer array, got dtype {array.dtype}")
    if array.shape != (batch,):
        raise ValueError(f"lengths: expected shape ({batch},), got {array.shape}")
    if array.size and (array.min() < 1 or array.max() > steps):
        bad = int(np.flatnonzero((array < 1) | (array > steps))[0])
        raise ValueError(
            f"lengths: expected values in [1, {steps}] (1 <= lengths[b] <= T), "
            f"got {array[bad]} at index {bad}"
        )
    return np.require(array, dtype=np.int64, requirements=["C", "A"])


def _as_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _as_leak_rate(value, cell):
    """The leak rate as a float in (0, 1]; other than 1 only for the rnn cell."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"leak_rate: expected a real number in (0, 1], got {value!r}")
    rate = float(value)
    if not 0.0 < rate <= 1.0:  # also rejects NaN
        raise ValueError(f"leak_rate: expected a real number in (0, 1], got {value!r}")
    if rate != 1.0 and cell != "rnn":
        raise ValueError(
            f"leak_rate: only the rnn cell has a leak rate (1 for the others), "
            f"got {value!r} with cell={cell!r}"
        )
    return rate


def _as_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value}")
    return int(value)


# More threads than cores only oversubscribe, and asking libgomp for thousands
# can abort the process when thread creation fails: requests are capped here.
_MAX_THREADS = max(256, os.cpu_count() or 1)


# libgomp's threads do not survive fork(): a process forked after its parent ran a
# parallel region hangs at its first region of more than one thread (torch's kernels
# hang the same way). multiprocessing forks on Linux unless told otherwise, so a child
# forked after this process's kernels asked for threads runs every kernel on one
# thread, with the same results, and says so once. spawn and forkserver children (and
# joblib's, which scikit-learn's n_jobs use) start fresh and keep their threads. Not
# seen: threads that another library started in the same libgomp (torch's wheels ship
# one of the same soname) before a fork; a process with other threads (OpenBLAS's)
# would run on one thread if any thread counted.
_threads_asked = False  # some kernel call of this process asked for more than one thread
_forked_after_threads = False  # this process was forked after its parent had asked
_fork_warned = False


def _after_fork_in_child():
    global _forked_after_threads, _fork_warned
    _forked_after_threads, _fork_warned = _threads_asked, False


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _thread_count(n_threads):
    """``n_threads`` checked and capped at _MAX_THREADS (the kernels' regions all ask
    OpenMP for this many, and as many of them work as each region's tasks keep busy);
    None is OpenMP's default (OMP_NUM_THREADS), capped like any other."""
    if n_threads is None:
        return min(_core.max_threads(), _MAX_THREADS)
    return min(_as_positive_int(n_threads, "n_threads"), _MAX_THREADS)


def _as_threads(n_threads):
    """Threads for a kernel call: :func:`_thread_count`'s, or 1 in a child forked after
    this process's kernels had asked for more (see above)."""
    global _threads_asked, _fork_warned
    threads = _thread_count(n_threads)
    if not _forked_after_threads:
        _threads_asked = _threads_asked or (threads > 1 and _core.openmp)
        return threads
    if threads > 1 and not _fork_warned:
        _fork_warned = True
        warnings.warn(
            "rnnkit: this process was forked from one that had run OpenMP threads, which "
            "do not survive fork(); its kernels run on one thread (with the same results). "
            "multiprocessing's 'spawn' and 'forkserver' start methods keep them.",
            RuntimeWarning,
            stacklevel=3,
        )
    return 1
