"""Plain numpy reference of one RNN layer, one direction (test oracle).

Implements the forward pass and backpropagation through time (BPTT) of Elman RNN, LSTM and
GRU with the semantics of ``torch.nn.RNN`` / ``torch.nn.LSTM`` / ``torch.nn.GRU`` with
``batch_first=True`` (single layer, single direction), plus:

* variable sequence lengths with PyTorch packed-sequence semantics,
* reverse processing (the backward half of a bidirectional layer),
* a configurable activation (replacing ``tanh`` everywhere it appears, as Keras does),
* truncated BPTT over windows of absolute time index,
* a leak rate ``a`` in (0, 1] for the Elman cell (a leaky integrator, as in echo state
  networks): ``h_t = (1 - a) * h_{t-1} + a * act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``;
  ``a = 1`` is the plain cell.

The code is written for clarity, not speed.  All arithmetic is done in float64; results are
cast back to the dtype of ``x`` (float32 input gives float32 results computed in float64).

Layout
------
* ``x``: (B, T, D) (D = input size); ``weight_ih``: (G*H, D); ``weight_hh``: (G*H, H);
  biases: (G*H,); ``h0``, ``c0``: (B, H).  G = 1 (rnn), 4 (lstm, gate order i, f, g, o) or
  3 (gru, gate order r, z, n).
* ``lengths``: (B,) ints in [1, T]; step t is *valid* for sequence b iff t < lengths[b].
  At invalid steps the state is carried unchanged and the output is 0.

Public API: :func:`forward` and :func:`backward`; and :func:`optimizer_update`, the
reference of the optimizer kernel (``_core.optimizer_update``), which unlike the rest
computes in the parameters' dtype, step by step in the kernel's order, so that the two
agree bit for bit.
"""

import numpy as np

NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
ACTIVATIONS = {
    "rnn": ("tanh", "relu", "linear"),
    "lstm": ("tanh", "relu"),
    "gru": ("tanh", "relu"),
}


# --------------------------------------------------------------------------------------------
# Elementwise functions
# --------------------------------------------------------------------------------------------


def sigmoid(a):
    """Logistic function, written to avoid overflow warnings for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def act(name, a):
    """Apply activation ``name`` to pre-activation ``a``."""
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "linear":
        return a.copy()
    raise ValueError(f"unknown activation {name!r}")


def act_grad(name, a):
    """Derivative of activation ``name`` at pre-activation ``a`` (relu'(0) = 0)."""
    if name == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


def _split(a, n):
    """Split the last axis of ``a`` into ``n`` equal blocks."""
    return np.split(a, n, axis=-1)


# --------------------------------------------------------------------------------------------
# Single-step cells.  Each step function maps (x_t, h, c) -> (h_new, c_new, step_cache) for the
# whole batch; the matching backward maps (step_cache, dh_new, dc_new) to the gradients
# (dx_t, dh, dc, (dW_ih, dW_hh, db_ih, db_hh)).  c / dc are None for rnn and gru.  Options
# of one cell only (the rnn's leak_rate) are keyword arguments of that cell's pair.
# --------------------------------------------------------------------------------------------


def rnn_step(x_t, h, c, params, activation, leak_rate=1.0):
    w_ih, w_hh, b_ih, b_hh = params
    a = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    y = act(activation, a)
    # leaky integrator: keep (1 - leak_rate) of the old state (leak_rate = 1: h_new = y)
    h_new = (1.0 - leak_rate) * h + leak_rate * y
    return h_new, None, dict(x=x_t, h=h, a=a)


def rnn_step_backward(sc, dh_new, dc_new, params, activation, leak_rate=1.0):
    w_ih, w_hh, _, _ = params
    # h_new = (1 - leak_rate) * h + leak_rate * act(a)
    da = leak_rate * dh_new * act_grad(activation, sc["a"])
    dh_direct = (1.0 - leak_rate) * dh_new
    dx = da @ w_ih
    dh = dh_direct + da @ w_hh
    grads = (da.T @ sc["x"], da.T @ sc["h"], da.sum(0), da.sum(0))
    return dx, dh, None, grads


def lstm_step(x_t, h, c, params, activation):
    w_ih, w_hh, b_ih, b_hh = params
    gates = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    a_i, a_f, a_g, a_o = _split(gates, 4)
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = act(activation, a_g)
    o = sigmoid(a_o)
    c_new = f * c + i * g
    h_new = o * act(activation, c_new)
    sc = dict(x=x_t, h=h, c=c, a_g=a_g, i=i, f=f, g=g, o=o, c_new=c_new)
    return h_new, c_new, sc


def lstm_step_backward(sc, dh_new, dc_new, params, activation):
    w_ih, w_hh, _, _ = params
    i, f, g, o, c_new = sc["i"], sc["f"], sc["g"], sc["o"], sc["c_new"]
    # h_new = o * act(c_new)
    d_o = dh_new * act(activation, c_new)
    dc_total = dc_new + dh_new * o * act_grad(activation, c_new)
    # c_new = f * c + i * g
    d_f = dc_total * sc["c"]
    d_i = dc_total * g
    d_g = dc_total * i
    dc = dc_total * f
    # through the gate nonlinearities to the pre-activations
    da_i = d_i * i * (1.0 - i)
    da_f = d_f * f * (1.0 - f)
    da_g = d_g * act_grad(activation, sc["a_g"])
    da_o = d_o * o * (1.0 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=-1)
    dx = da @ w_ih
    dh = da @ w_hh
    grads = (da.T @ sc["x"], da.T @ sc["h"], da.sum(0), da.sum(0))
    return dx, dh, dc, grads


def gru_step(x_t, h, c, params, activation):
    w_ih, w_hh, b_ih, b_hh = params
    gi_r, gi_z, gi_n = _split(x_t @ w_ih.T + b_ih, 3)
    gh_r, gh_z, gh_n = _split(h @ w_hh.T + b_hh, 3)
    r = sigmoid(gi_r + gh_r)
    z = sigmoid(gi_z + gh_z)
    a_n = gi_n + r * gh_n
    n = act(activation, a_n)
    h_new = (1.0 - z) * n + z * h
    sc = dict(x=x_t, h=h, r=r, z=z, gh_n=gh_n, a_n=a_n, n=n)
    return h_new, None, sc


def gru_step_backward(sc, dh_new, dc_new, params, activation):
    w_ih, w_hh, _, _ = params
    r, z, n, h, gh_n = sc["r"], sc["z"], sc["n"], sc["h"], sc["gh_n"]
    # h_new = (1 - z) * n + z * h
    d_n = dh_new * (1.0 - z)
    d_z = dh_new * (h - n)
    dh_direct = dh_new * z
    # n = act(gi_n + r * gh_n)
    da_n = d_n * act_grad(activation, sc["a_n"])
    d_r = da_n * gh_n
    d_gh_n = da_n * r
    # r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z)
    da_r = d_r * r * (1.0 - r)
    da_z = d_z * z * (1.0 - z)
    d_gi = np.concatenate([da_r, da_z, da_n], axis=-1)
    d_gh = np.concatenate([da_r, da_z, d_gh_n], axis=-1)
    dx = d_gi @ w_ih
    dh = dh_direct + d_gh @ w_hh
    grads = (d_gi.T @ sc["x"], d_gh.T @ h, d_gi.sum(0), d_gh.sum(0))
    return dx, dh, None, grads


CELLS = {
    "rnn": (rnn_step, rnn_step_backward),
    "lstm": (lstm_step, lstm_step_backward),
    "gru": (gru_step, gru_step_backward),
}


# --------------------------------------------------------------------------------------------
# Generic time loop
# --------------------------------------------------------------------------------------------


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _check_leak_rate(cell, leak_rate):
    if isinstance(leak_rate, bool) or not isinstance(leak_rate, (int, float, np.floating)):
        raise TypeError(f"leak_rate must be a real number, got {leak_rate!r}")
    if not 0.0 < leak_rate <= 1.0:
        raise ValueError(f"leak_rate must be in (0, 1], got {leak_rate!r}")
    if leak_rate != 1.0 and cell != "rnn":
        raise ValueError(f"leak_rate: only the rnn cell has a leak rate, got cell {cell!r}")
    return float(leak_rate)


def _check_bptt_steps(k):
    if k is None:
        return None
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"bptt_steps must be a positive int or None, got {k!r}")
    return int(k)


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
    bptt_steps=None,
    leak_rate=1.0,
):
    """Run one RNN layer in one direction.

    Returns ``(output, h_n, c_n, cache)``: output (B, T, H) is h_t at valid steps and 0 at
    invalid (padded) steps; h_n, c_n (B, H) are the state after the last processed valid step;
    c_n is None unless ``cell == "lstm"``.  ``cache`` is an opaque object for :func:`backward`.

    ``bptt_steps`` does not affect the forward values; it is stored in the cache and used by
    :func:`backward` unless :func:`backward` is given its own ``bptt_steps``.

    ``leak_rate`` (rnn only, in (0, 1]) makes the Elman cell a leaky integrator; it is kept in
    the cache for :func:`backward`.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}")
    if activation not in ACTIVATIONS[cell]:
        raise ValueError(f"activation {activation!r} not supported for {cell}")
    dtype = np.asarray(x).dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, got {dtype}")
    x = _f64(x)
    params = tuple(_f64(p) for p in (weight_ih, weight_hh, bias_ih, bias_hh))
    B, T, D = x.shape
    G = NUM_GATES[cell]
    H = params[1].shape[1]
    expected = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    for name, p, shape in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params, expected):
        if p.shape != shape:
            raise ValueError(f"{name} has shape {p.shape}, expected {shape}")
    is_lstm = cell == "lstm"
    leak_rate = _check_leak_rate(cell, leak_rate)
    cell_options = {"leak_rate": leak_rate} if cell == "rnn" else {}  # keywords of rnn_step
    if c0 is not None and not is_lstm:
        raise ValueError("c0 is only meaningful for lstm")

    h = np.zeros((B, H)) if h0 is None else _f64(h0).copy()
    c = (np.zeros((B, H)) if c0 is None else _f64(c0).copy()) if is_lstm else None
    if h.shape != (B, H) or (is_lstm and c.shape != (B, H)):
        raise ValueError("h0 / c0 must have shape (B, H)")

    if lengths is None:
        lengths = np.full(B, T, dtype=np.int64)
    else:
        lengths = np.asarray(lengths).astype(np.int64).reshape(-1)
        if lengths.shape != (B,) or np.any(lengths < 1) or np.any(lengths > T):
            raise ValueError(f"lengths must be (B,) ints in [1, T], got {lengths}")

    step, _ = CELLS[cell]
    order = list(range(T - 1, -1, -1)) if reverse else list(range(T))
    output = np.zeros((B, T, H))
    steps = {}  # t -> (valid mask (B,), step cache)
    for t in order:
        valid = t < lengths  # (B,) bool
        h_new, c_new, sc = step(x[:, t], h, c, params, activation, **cell_options)
        m = valid[:, None]
        h = np.where(m, h_new, h)  # invalid steps carry the state unchanged
        if is_lstm:
            c = np.where(m, c_new, c)
        output[:, t] = np.where(m, h_new, 0.0)
        steps[t] = (valid, sc)

    cache = dict(
        cell=cell,
        activation=activation,
        cell_options=cell_options,
        dtype=dtype,
        params=params,
        shape=(B, T, D, H),
        order=order,
        steps=steps,
        bptt_steps=_check_bptt_steps(bptt_steps),
    )
    c_n = c.astype(dtype) if is_lstm else None
    return output.astype(dtype), h.astype(dtype), c_n, cache


def backward(cache, d_output, d_h_n=None, d_c_n=None, *, bptt_steps=None):
    """Backpropagation through time for a :func:`forward` call.

    Returns the gradients of ``sum(d_output*output) + sum(d_h_n*h_n) + sum(d_c_n*c_n)`` as a
    dict with keys d_x, d_h0, d_c0 (None unless lstm), d_weight_ih, d_weight_hh, d_bias_ih,
    d_bias_hh.  Entries of ``d_output`` at invalid steps are ignored; d_x is 0 there.

    Truncated BPTT (``bptt_steps=k``; falls back to the value given to :func:`forward`; None
    means full BPTT): going from the state produced at processed step s to the step s'
    processed just before it, the gradient (h and c) of sequence b is zeroed iff both s and s'
    are valid for b and ``s // k != s' // k``.
    """
    cell = cache["cell"]
    activation = cache["activation"]
    cell_options = cache["cell_options"]
    params = cache["params"]
    B, T, D, H = cache["shape"]
    order = cache["order"]
    steps = cache["steps"]
    k = _check_bptt_steps(bptt_steps)
    if k is None:
        k = cache["bptt_steps"]
    is_lstm = cell == "lstm"
    _, step_backward = CELLS[cell]

    d_output = np.zeros((B, T, H)) if d_output is None else _f64(d_output)
    if d_output.shape != (B, T, H):
        raise ValueError(f"d_output has shape {d_output.shape}, expected {(B, T, H)}")
    dh = np.zeros((B, H)) if d_h_n is None else _f64(d_h_n).copy()
    dc = (np.zeros((B, H)) if d_c_n is None else _f64(d_c_n).copy()) if is_lstm else None
    if d_c_n is not None and not is_lstm:
        raise ValueError("d_c_n is only meaningful for lstm")

    d_x = np.zeros((B, T, D))
    d_params = [np.zeros_like(p) for p in params]

    for idx in range(len(order) - 1, -1, -1):
        t = order[idx]
        valid, sc = steps[t]
        m = valid[:, None].astype(np.float64)
        # gradient w.r.t. h_new / c_new of the step (only valid sequences take part)
        dh_step = (dh + d_output[:, t]) * m
        dc_step = dc * m if is_lstm else None
        dx_t, dh_prev, dc_prev, grads = step_backward(
            sc, dh_step, dc_step, params, activation, **cell_options
        )
        d_x[:, t] = dx_t
        for acc, g in zip(d_params, grads):
            acc += g
        # invalid sequences carried the state unchanged: pass their gradient straight through
        dh = dh_prev + (1.0 - m) * dh
        if is_lstm:
            dc = dc_prev + (1.0 - m) * dc
        # truncation between this step and the one processed before it
        if k is not None and idx > 0:
            t_prev = order[idx - 1]
            valid_prev = steps[t_prev][0]
            cut = valid & valid_prev & (t // k != t_prev // k)
            dh[cut] = 0.0
            if is_lstm:
                dc[cut] = 0.0

    dtype = cache["dtype"]
    return dict(
        d_x=d_x.astype(dtype),
        d_h0=dh.astype(dtype),
        d_c0=dc.astype(dtype) if is_lstm else None,
        d_weight_ih=d_params[0].astype(dtype),
        d_weight_hh=d_params[1].astype(dtype),
        d_bias_ih=d_params[2].astype(dtype),
        d_bias_hh=d_params[3].astype(dtype),
    )


# --------------------------------------------------------------------------------------------
# Optimizer updates
# --------------------------------------------------------------------------------------------


def optimizer_update(kind, params, grad, first, second, *, learning_rate, decay1, decay2,
                     epsilon, t):  # fmt: skip
    """Adam / SGD with momentum / RMSprop on 1-D arrays, in place, as the kernel does it:
    coefficients computed in double and rounded to the dtype once, then every element
    operation in the dtype (numpy scalars of that type, so nothing is promoted)."""
    dt = params.dtype.type
    g = grad
    if kind == "adam":
        b1, c1, b2, c2 = dt(decay1), dt(1.0 - decay1), dt(decay2), dt(1.0 - decay2)
        bias2 = dt(np.sqrt(1.0 - decay2**t))
        step = dt(learning_rate / (1.0 - decay1**t))
        first[:] = first * b1 + c1 * g
        second[:] = second * b2 + c2 * (g * g)
        params[:] = params - step * (first / (np.sqrt(second) / bias2 + dt(epsilon)))
    elif kind == "sgd":
        first[:] = first * dt(decay1) + g
        params[:] = params - dt(learning_rate) * first
    elif kind == "rmsprop":
        first[:] = first * dt(decay1) + dt(1.0 - decay1) * (g * g)
        params[:] = params - dt(learning_rate) * (g / np.sqrt(first + dt(epsilon)))
    else:
        raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------


def _splitmix64(seed, k):
    """Output number k (an array of them) of SplitMix64 started at ``seed``; uint64
    arithmetic wraps modulo 2^64 as the algorithm needs."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (k.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def dropout(h, rate, seed):
    """(h * mask, mask) of the dropout kernel: element i's 32-bit draw is the low (i even)
    or high (i odd) half of SplitMix64 output i // 2, and the element is dropped when the
    draw is below ceil(rate * 2^32) (at most 2^32 - 1)."""
    index = np.arange(h.size)
    words = _splitmix64(seed, index // 2)
    draws = np.where(index % 2 == 0, words & np.uint64(0xFFFFFFFF), words >> np.uint64(32))
    threshold = np.uint64(min(np.ceil(rate * 2.0**32), 2.0**32 - 1))
    scale = h.dtype.type(1.0 / (1.0 - rate))
    mask = np.where(draws >= threshold, scale, h.dtype.type(0)).reshape(h.shape)
    return h * mask, mask
