"""Tests of the numpy reference implementation (tests/reference.py) itself.

* central finite differences (float64) of the forward against every gradient of backward,
  the leaky rnn (leak_rate < 1) included,
* the leaky rnn's forward against a plain loop over scalars,
* truncated BPTT against finite differences of an independent window-by-window implementation
  in which the state entering each window is a constant ("detached"),
* forward values and all gradients against torch.nn.RNN / LSTM / GRU when torch is installed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import reference  # noqa: E402
from _gradcheck import central_difference  # noqa: E402
from reference import backward, forward  # noqa: E402

CELL_ACTS = [
    ("rnn", "tanh"),
    ("rnn", "relu"),
    ("rnn", "linear"),
    ("lstm", "tanh"),
    ("lstm", "relu"),
    ("gru", "tanh"),
    ("gru", "relu"),
]
# CELL_ACTS with leak rate 1 (the plain cells), and the rnn cell again as a leaky integrator.
LEAK_CELL_ACTS = [(cell, act, 1.0) for cell, act in CELL_ACTS] + [
    (cell, act, 0.3) for cell, act in CELL_ACTS if cell == "rnn"
]
TORCH_CELL_ACTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
EPS = 1e-6


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def make_case(cell, B, T, D, H, seed, lengths=None, dtype=np.float64):
    """Random inputs, parameters and upstream gradients for one layer."""
    rng = np.random.default_rng(seed)
    G = reference.NUM_GATES[cell]
    arrs = dict(
        x=rng.normal(0.0, 1.0, (B, T, D)),
        weight_ih=rng.normal(0.0, 0.6, (G * H, D)),
        weight_hh=rng.normal(0.0, 0.6, (G * H, H)),
        bias_ih=rng.normal(0.0, 0.3, (G * H,)),
        bias_hh=rng.normal(0.0, 0.3, (G * H,)),
        h0=rng.normal(0.0, 0.5, (B, H)),
    )
    if cell == "lstm":
        arrs["c0"] = rng.normal(0.0, 0.5, (B, H))
    arrs = {k: v.astype(dtype) for k, v in arrs.items()}
    ups = dict(
        d_output=rng.normal(0.0, 1.0, (B, T, H)),  # also nonzero at padded steps on purpose
        d_h_n=rng.normal(0.0, 1.0, (B, H)),
        d_c_n=rng.normal(0.0, 1.0, (B, H)) if cell == "lstm" else None,
    )
    return arrs, ups, (None if lengths is None else np.asarray(lengths))


def run_forward(cell, arrs, **kw):
    return forward(
        cell,
        arrs["x"],
        arrs["weight_ih"],
        arrs["weight_hh"],
        arrs["bias_ih"],
        arrs["bias_hh"],
        h0=arrs.get("h0"),
        c0=arrs.get("c0"),
        **kw,
    )


def objective(output, h_n, c_n, ups, lengths=None):
    """sum(d_output*output) + sum(d_h_n*h_n) + sum(d_c_n*c_n) (output is 0 at padded steps)."""
    total = np.sum(ups["d_output"] * output) + np.sum(ups["d_h_n"] * h_n)
    if c_n is not None:
        total += np.sum(ups["d_c_n"] * c_n)
    return float(total)


def finite_difference(fn, arrs, eps=EPS):
    """Central finite differences of scalar fn(arrs) w.r.t. every array in arrs."""
    grads = {}
    for name, a in arrs.items():
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            g[idx] = central_difference(lambda: fn(arrs), a, idx, eps)
        grads[name] = g
    return grads


def check_grads(got, want, rtol=1e-6, atol=1e-7):
    for name, g in want.items():
        np.testing.assert_allclose(got["d_" + name], g, rtol=rtol, atol=atol, err_msg=name)


def assert_no_relu_kinks(cache, margin=1e-4):
    """Pre-activations fed to relu must stay away from 0 for finite differences to be valid."""
    if cache["activation"] != "relu":
        return
    keys = ("a", "a_g", "c_new", "a_n")
    for valid, sc in cache["steps"].values():
        for key in keys:
            if key in sc:
                assert np.all(np.abs(sc[key][valid]) > margin), "relu kink too close; reseed"


# --------------------------------------------------------------------------------------------
# finite differences of the full-BPTT gradient
# --------------------------------------------------------------------------------------------

FD_SHAPES = [
    # (B, T, D, H, lengths)
    (1, 4, 1, 1, None),
    (3, 5, 3, 4, [5, 2, 4]),
    (2, 6, 2, 3, [1, 6]),
]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", FD_SHAPES, ids=lambda s: "B{}T{}D{}H{}".format(*s[:4]))
@pytest.mark.parametrize("cell,activation,leak_rate", LEAK_CELL_ACTS)
def test_gradients_match_finite_differences(cell, activation, leak_rate, shape, reverse):
    B, T, D, H, lengths = shape
    arrs, ups, lengths = make_case(cell, B, T, D, H, seed=B * 100 + T, lengths=lengths)
    kw = dict(lengths=lengths, reverse=reverse, activation=activation, leak_rate=leak_rate)

    out, h_n, c_n, cache = run_forward(cell, arrs, **kw)
    assert_no_relu_kinks(cache)
    got = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])

    def loss(a):
        return objective(*run_forward(cell, a, **kw)[:3], ups)

    check_grads(got, finite_difference(loss, arrs))
    if cell != "lstm":
        assert got["d_c0"] is None


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("activation", reference.ACTIVATIONS["rnn"])
def test_leaky_rnn_matches_scalar_loop(activation, reverse):
    """h_t = (1 - a) h_{t-1} + a act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), one number at a
    time; padded steps carry the state and output 0. leak_rate=1 equals the default."""
    B, T, D, H, a = 3, 5, 2, 4, 0.3
    lengths = np.array([5, 2, 3])
    arrs, _, _ = make_case("rnn", B, T, D, H, seed=12)
    out, h_n, _, _ = run_forward(
        "rnn", arrs, lengths=lengths, reverse=reverse, activation=activation, leak_rate=a
    )
    f = {"tanh": np.tanh, "relu": lambda v: max(v, 0.0), "linear": lambda v: v}[activation]
    w_ih, w_hh, b_ih, b_hh = (arrs[name] for name in PARAM_NAMES)
    want_out = np.zeros((B, T, H))
    want_h = np.zeros((B, H))
    for b in range(B):
        h = [float(v) for v in arrs["h0"][b]]
        steps = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in steps:
            pre = [
                sum(w_ih[j, i] * arrs["x"][b, t, i] for i in range(D))
                + b_ih[j]
                + sum(w_hh[j, k] * h[k] for k in range(H))
                + b_hh[j]
                for j in range(H)
            ]
            h = [(1 - a) * h[j] + a * f(pre[j]) for j in range(H)]
            want_out[b, t] = h
        want_h[b] = h
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n, want_h, rtol=1e-12, atol=1e-14)
    # leak_rate=1 is the plain cell, and leak really changes the result
    plain = run_forward("rnn", arrs, lengths=lengths, reverse=reverse, activation=activation)
    one = run_forward(
        "rnn", arrs, lengths=lengths, reverse=reverse, activation=activation, leak_rate=1.0
    )
    for u, v in zip(plain[:2], one[:2]):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(plain[0], out)


@pytest.mark.parametrize("cell,activation", CELL_ACTS)
def test_defaults_zero_state_and_none_upstream(cell, activation):
    """h0/c0 None means zeros; d_h_n/d_c_n None means zeros; d_h0 is still returned."""
    arrs, ups, _ = make_case(cell, 2, 3, 2, 3, seed=7)
    zero = {k: np.zeros_like(v) for k, v in arrs.items() if k in ("h0", "c0")}
    no_state = {k: v for k, v in arrs.items() if k not in ("h0", "c0")}
    a = run_forward(cell, no_state, activation=activation)
    b = run_forward(cell, {**arrs, **zero}, activation=activation)
    for u, v in zip(a[:3], b[:3]):
        if u is None:
            assert v is None
        else:
            np.testing.assert_array_equal(u, v)
    ga = backward(a[3], ups["d_output"])
    d_c_n = np.zeros_like(ups["d_h_n"]) if cell == "lstm" else None
    gb = backward(b[3], ups["d_output"], np.zeros_like(ups["d_h_n"]), d_c_n)
    for key in gb:
        if gb[key] is None:
            assert ga[key] is None
        else:
            np.testing.assert_array_equal(ga[key], gb[key])
    assert ga["d_h0"].shape == (2, 3)
    assert (ga["d_c0"] is not None) == (cell == "lstm")


# --------------------------------------------------------------------------------------------
# packed-sequence semantics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell,activation,leak_rate", LEAK_CELL_ACTS)
def test_variable_length_semantics(cell, activation, leak_rate, reverse):
    B, T, D, H = 3, 5, 2, 3
    lengths = np.array([2, 5, 3])
    arrs, ups, _ = make_case(cell, B, T, D, H, seed=3)
    kw = dict(reverse=reverse, activation=activation, leak_rate=leak_rate)
    out, h_n, c_n, cache = run_forward(cell, arrs, lengths=lengths, **kw)
    g = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    d_out_masked = ups["d_output"].copy()
    for b, L in enumerate(lengths):
        assert np.all(out[b, L:] == 0)
        assert np.all(g["d_x"][b, L:] == 0)
        d_out_masked[b, L:] = 1e3  # garbage at padded steps must be ignored
        last = 0 if reverse else L - 1
        np.testing.assert_array_equal(h_n[b], out[b, last])
        # each sequence equals an independent run over its own valid prefix
        single = {k: v[b : b + 1] for k, v in arrs.items() if k in ("x", "h0", "c0")}
        single["x"] = single["x"][:, :L]
        o1, h1, c1, _ = run_forward(cell, {**arrs, **single}, **kw)
        np.testing.assert_allclose(out[b : b + 1, :L], o1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h_n[b : b + 1], h1, rtol=1e-12, atol=1e-12)
        if cell == "lstm":
            np.testing.assert_allclose(c_n[b : b + 1], c1, rtol=1e-12, atol=1e-12)
    g2 = backward(cache, d_out_masked, ups["d_h_n"], ups["d_c_n"])
    for key in g:
        if g[key] is not None:
            np.testing.assert_array_equal(g[key], g2[key])


def test_relu_derivative_at_zero_is_zero():
    """All-zero inputs/parameters: every relu pre-activation is exactly 0 and relu'(0) = 0."""
    for cell in ("rnn", "lstm", "gru"):
        arrs, ups, _ = make_case(cell, 2, 3, 2, 2, seed=0)
        arrs = {k: np.zeros_like(v) for k, v in arrs.items()}
        out, h_n, c_n, cache = run_forward(cell, arrs, activation="relu")
        g = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])
        assert np.all(out == 0)
        if cell == "rnn":
            # h_t = relu(0) = 0 and relu'(0) = 0: no gradient anywhere
            for v in g.values():
                assert v is None or np.all(v == 0)
    assert np.all(reference.act_grad("relu", np.array([-1.0, 0.0, 2.0])) == [0.0, 0.0, 1.0])


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("lstm", "relu"), ("gru", "tanh")])
def test_float32_input(cell, activation):
    arrs, ups, _ = make_case(cell, 3, 4, 2, 3, seed=11)
    lengths = np.array([4, 1, 3])
    a64 = run_forward(cell, arrs, lengths=lengths, activation=activation)
    arrs32 = {k: v.astype(np.float32) for k, v in arrs.items()}
    a32 = run_forward(cell, arrs32, lengths=lengths, activation=activation)
    g64 = backward(a64[3], ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    g32 = backward(a32[3], ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    for u, v in list(zip(a64[:3], a32[:3])) + [(g64[k], g32[k]) for k in g64]:
        if u is None:
            assert v is None
            continue
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-5)


def test_rejects_bad_arguments():
    arrs, _, _ = make_case("gru", 2, 3, 2, 2, seed=0)
    with pytest.raises(ValueError, match="^activation 'linear' not supported for gru$"):
        run_forward("gru", arrs, activation="linear")
    with pytest.raises(ValueError, match=r"^lengths must be \(B,\) ints in \[1, T\], got \[0 3\]$"):
        run_forward("gru", arrs, lengths=[0, 3])
    with pytest.raises(ValueError, match=r"^lengths must be \(B,\) ints in \[1, T\], got \[4 3\]$"):
        run_forward("gru", arrs, lengths=[4, 3])
    with pytest.raises(ValueError, match="^bptt_steps must be a positive int or None, got 0$"):
        run_forward("gru", arrs, bptt_steps=0)
    with pytest.raises(ValueError, match="^c0 is only meaningful for lstm$"):
        run_forward("gru", {**arrs, "c0": arrs["h0"]})
    with pytest.raises(ValueError, match="leak_rate"):
        run_forward("gru", arrs, leak_rate=0.5)
    rnn_arrs, _, _ = make_case("rnn", 2, 3, 2, 2, seed=0)
    for bad in (0.0, -0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="leak_rate"):
            run_forward("rnn", rnn_arrs, leak_rate=bad)
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="leak_rate"):
            run_forward("rnn", rnn_arrs, leak_rate=bad)


# --------------------------------------------------------------------------------------------
# truncated BPTT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell,activation", CELL_ACTS)
def test_bptt_steps_at_least_T_is_full(cell, activation, reverse):
    B, T, D, H = 3, 5, 2, 3
    arrs, ups, lengths = make_case(cell, B, T, D, H, seed=5, lengths=[5, 3, 1])
    kw = dict(lengths=lengths, reverse=reverse, activation=activation)
    out, h_n, c_n, cache = run_forward(cell, arrs, **kw)
    full = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    for k in (T, T + 3):
        # via forward (stored in the cache) and via backward's keyword
        out_k, h_k, c_k, cache_k = run_forward(cell, arrs, bptt_steps=k, **kw)
        np.testing.assert_array_equal(out_k, out)
        np.testing.assert_array_equal(h_k, h_n)
        for g in (
            backward(cache_k, ups["d_output"], ups["d_h_n"], ups["d_c_n"]),
            backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"], bptt_steps=k),
        ):
            for key in full:
                if full[key] is not None:
                    np.testing.assert_array_equal(g[key], full[key])


def windowed_objective(
    cell, arrs, ups, lengths, k, reverse, activation, detached=None, leak_rate=1.0
):
    """Independent truncated-BPTT surrogate.

    Each sequence b is split into windows [j*k, (j+1)*k) of absolute time (clipped to its
    length) and run window by window (in processing order) with separate forward calls on the
    valid slice only -- no length masking involved.  The state entering every window but the
    first processed one is taken from ``detached`` (a constant) when given.  The gradient of
    this surrogate at the point where ``detached`` was recorded is the truncated-BPTT gradient.

    Returns (objective, states entering each window) so that the constants can be recorded.
    """
    B = arrs["x"].shape[0]
    is_lstm = cell == "lstm"
    total = 0.0
    entering = {}
    for b in range(B):
        L = int(lengths[b])
        windows = [(lo, min(lo + k, L)) for lo in range(0, L, k)]
        if reverse:
            windows = windows[::-1]
        h = arrs["h0"][b : b + 1]
        c = arrs["c0"][b : b + 1] if is_lstm else None
        for j, (lo, hi) in enumerate(windows):
            if j > 0:
                entering[b, j] = (h.copy(), None if c is None else c.copy())
                if detached is not None:
                    h, c = detached[b, j]
            window = {**arrs, "x": arrs["x"][b : b + 1, lo:hi], "h0": h}
            if is_lstm:
                window["c0"] = c
            out, h, c, _ = run_forward(
                cell, window, reverse=reverse, activation=activation, leak_rate=leak_rate
            )
            total += np.sum(ups["d_output"][b, lo:hi] * out[0])
        total += np.sum(ups["d_h_n"][b] * h[0])
        if is_lstm:
            total += np.sum(ups["d_c_n"][b] * c[0])
    return float(total), entering


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell,activation,leak_rate", LEAK_CELL_ACTS)
def test_truncated_bptt_matches_detached_windows(cell, activation, leak_rate, reverse, k):
    B, T, D, H = 3, 6, 2, 2
    seed = 17 + k + (0 if leak_rate == 1.0 else 100)  # relu pre-activations away from 0
    arrs, ups, lengths = make_case(cell, B, T, D, H, seed=seed, lengths=[6, 5, 2])
    kw = dict(lengths=lengths, reverse=reverse, activation=activation, leak_rate=leak_rate)
    out, h_n, c_n, cache = run_forward(cell, arrs, **kw)
    assert_no_relu_kinks(cache)
    got = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"], bptt_steps=k)

    # the windowed forward reproduces the real objective (the forward is unaffected by k)
    window_kw = dict(reverse=reverse, activation=activation, leak_rate=leak_rate)
    value, detached = windowed_objective(cell, arrs, ups, lengths, k, **window_kw)
    np.testing.assert_allclose(value, objective(out, h_n, c_n, ups), rtol=1e-12)

    def loss(a):
        return windowed_objective(cell, a, ups, lengths, k, detached=detached, **window_kw)[0]

    check_grads(got, finite_difference(loss, arrs))

    # truncation really changes something (sequences longer than k cross a window border)
    full = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    assert any(not np.allclose(full[key], got[key]) for key in full if full[key] is not None)


def test_truncated_bptt_padding_never_cuts():
    """d_h_n reaches the window of the last valid step; d_h0 gets the first window's gradient."""
    cell, B, T, D, H, k = "gru", 2, 6, 2, 3, 2
    arrs, ups, lengths = make_case(cell, B, T, D, H, seed=1, lengths=[3, 6])
    for reverse in (False, True):
        _, _, _, cache = run_forward(cell, arrs, lengths=lengths, reverse=reverse)
        only_hn = backward(cache, np.zeros((B, T, H)), ups["d_h_n"], bptt_steps=k)
        # forward: last valid step of b=0 is t=2 (window [2,4)); reverse: it is t=0 ([0,2))
        nonzero = [2] if not reverse else [0, 1]
        for t in range(T):
            assert np.any(only_hn["d_x"][0, t] != 0) == (t in nonzero), (reverse, t)
        # d_h0 of b=0 only sees gradient from the first processed window
        first_window = [0, 1] if not reverse else [2]
        for t in range(T):
            d_out = np.zeros((B, T, H))
            d_out[:, t] = 1.0
            g = backward(cache, d_out, bptt_steps=k)
            assert np.any(g["d_h0"][0] != 0) == (t in first_window), (reverse, t)


# --------------------------------------------------------------------------------------------
# comparison with torch
# --------------------------------------------------------------------------------------------

TORCH_SHAPES = [
    # (B, T, D, H, lengths)
    (1, 4, 1, 1, None),
    (1, 5, 5, 7, [3]),
    (3, 6, 5, 7, [6, 1, 4]),
    (3, 5, 1, 7, None),
    (3, 4, 5, 1, [2, 4, 3]),
]


def flip_within_lengths(a, lengths):
    """a[b, :L] reversed in time for each b; padded positions untouched."""
    out = a.copy()
    for b, L in enumerate(lengths):
        out[b, :L] = a[b, L - 1 :: -1] if L > 0 else a[b, :0]
    return out


def torch_run(torch, cell, activation, arrs, ups, lengths):
    """Forward + backward of torch.nn.{RNN,LSTM,GRU}(batch_first=True) in float64."""
    # tiny problems: a single thread avoids heavy thread-pool overhead (restored afterwards)
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _torch_run(torch, cell, activation, arrs, ups, lengths)
    finally:
        torch.set_num_threads(num_threads)


def _torch_run(torch, cell, activation, arrs, ups, lengths):
    B, T, D = arrs["x"].shape
    H = arrs["weight_hh"].shape[1]
    if cell == "rnn":
        mod = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True)
    elif cell == "lstm":
        mod = torch.nn.LSTM(D, H, batch_first=True)
    else:
        mod = torch.nn.GRU(D, H, batch_first=True)
    mod = mod.double()
    with torch.no_grad():
        for name in PARAM_NAMES:
            getattr(mod, name + "_l0").copy_(torch.from_numpy(arrs[name]))
    x = torch.tensor(arrs["x"], requires_grad=True)
    h0 = torch.tensor(arrs["h0"][None], requires_grad=True)
    c0 = torch.tensor(arrs["c0"][None], requires_grad=True) if cell == "lstm" else None
    state = (h0, c0) if cell == "lstm" else h0
    if lengths is None:
        out, hn = mod(x, state)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out, hn = mod(packed, state)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    hn, cn = hn if cell == "lstm" else (hn, None)
    loss = (out * torch.from_numpy(ups["d_output"])).sum()
    loss = loss + (hn[0] * torch.from_numpy(ups["d_h_n"])).sum()
    if cn is not None:
        loss = loss + (cn[0] * torch.from_numpy(ups["d_c_n"])).sum()
    loss.backward()
    res = dict(
        output=out.detach().numpy(),
        h_n=hn[0].detach().numpy(),
        c_n=None if cn is None else cn[0].detach().numpy(),
        d_x=x.grad.numpy(),
        d_h0=h0.grad[0].numpy(),
        d_c0=None if c0 is None else c0.grad[0].numpy(),
    )
    for name in PARAM_NAMES:
        res["d_" + name] = getattr(mod, name + "_l0").grad.numpy()
    return res


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=lambda s: "B{}T{}D{}H{}".format(*s[:4]))
@pytest.mark.parametrize("cell,activation", TORCH_CELL_ACTS)
def test_matches_torch(cell, activation, shape, reverse):
    torch = pytest.importorskip("torch", reason="torch is needed for the torch comparison")
    B, T, D, H, lengths = shape
    arrs, ups, lengths = make_case(cell, B, T, D, H, seed=B + 10 * T + 100 * H, lengths=lengths)

    out, h_n, c_n, cache = run_forward(
        cell, arrs, lengths=lengths, reverse=reverse, activation=activation
    )
    got = backward(cache, ups["d_output"], ups["d_h_n"], ups["d_c_n"])
    got.update(output=out, h_n=h_n, c_n=c_n)

    if reverse:
        # torch runs forward over each sequence reversed within its length
        lens = np.full(B, T) if lengths is None else lengths
        t_arrs = {**arrs, "x": flip_within_lengths(arrs["x"], lens)}
        t_ups = {**ups, "d_output": flip_within_lengths(ups["d_output"], lens)}
        want = torch_run(torch, cell, activation, t_arrs, t_ups, lengths)
        want["output"] = flip_within_lengths(want["output"], lens)
        want["d_x"] = flip_within_lengths(want["d_x"], lens)
    else:
        want = torch_run(torch, cell, activation, arrs, ups, lengths)

    for key, w in want.items():
        if w is None:
            assert got[key] is None, key
        else:
            np.testing.assert_allclose(got[key], w, rtol=1e-10, atol=1e-12, err_msg=key)
