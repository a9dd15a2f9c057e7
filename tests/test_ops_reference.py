"""rnnkit.ops against the numpy reference over a grid of cells, options, dtypes and shapes
(the rnn cell also with a leak rate)."""

import numpy as np
import pytest

import reference
from _problems import (
    CELL_ACTIVATION_LEAKS,
    GRADIENTS,
    forward_inputs,
    kernel_run,
    make_output_grads,
    make_problem,
)
from rnnkit import ops

# Sizes of 1 and odd sizes that fit no vector width or tile: (B, T, I, H).
SHAPES = [(1, 1, 1, 1), (3, 5, 7, 13), (13, 4, 1, 37), (9, 6, 5, 33), (2, 3, 17, 70)]
# Error relative to the largest magnitude of each result: float64 kernels agree
# with the float64 reference to rounding, float32 to float32 rounding.
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}


def assert_close(name, expected, actual, tol):
    assert actual.dtype == expected.dtype, name
    assert actual.shape == expected.shape, name
    scale = max(np.max(np.abs(expected)), 1e-30)
    error = np.max(np.abs(expected.astype(np.float64) - actual)) / scale
    assert error <= tol, f"{name}: relative error {error:.3g} > {tol:.0g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}T{}I{}H{}".format(*s))
@pytest.mark.parametrize("cell,activation,leak_rate", CELL_ACTIVATION_LEAKS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"reverse": True},
        {"lengths": True},
        {"lengths": True, "reverse": True, "bptt_steps": 2},
        {"h0": False, "bptt_steps": 1},
    ],
    ids=["plain", "reverse", "lengths", "lengths-reverse-bptt2", "zero-state-bptt1"],
)
def test_matches_reference(cell, activation, leak_rate, shape, dtype, options):
    batch, steps, inputs, hidden = shape
    reverse = options.get("reverse", False)
    bptt = options.get("bptt_steps")
    problem = make_problem(
        cell, *shape, dtype=dtype, h0=options.get("h0", True), lengths=options.get("lengths")
    )
    grads = make_output_grads(cell, batch, steps, hidden, dtype=dtype)

    res, got = kernel_run(
        cell,
        problem,
        grads,
        reverse=reverse,
        activation=activation,
        bptt_steps=bptt,
        leak_rate=leak_rate,
    )
    out, h_n, c_n, cache = reference.forward(
        cell,
        **forward_inputs(problem),
        reverse=reverse,
        activation=activation,
        leak_rate=leak_rate,
    )
    want = reference.backward(cache, *grads, bptt_steps=bptt)

    tol = TOLERANCE[dtype]
    assert_close("output", out, res.output, tol)
    assert_close("h_n", h_n, res.h_n, tol)
    if cell == "lstm":
        assert_close("c_n", c_n, res.c_n, tol)
    else:
        assert res.c_n is None and got.d_c0 is None
    for name in GRADIENTS:
        if want[name] is not None:
            assert_close(name, want[name], getattr(got, name), tol)


@pytest.mark.parametrize("cell,activation,leak_rate", CELL_ACTIVATION_LEAKS)
def test_nan_propagates_like_torch(cell, activation, leak_rate):
    # A NaN input makes its row's state NaN from that step on, whatever the activation
    # (torch.relu(nan) is nan: a relu written x > 0 ? x : 0 gave 0), and only its row.
    # relu' at a NaN output is 1, as in torch's threshold_backward: the gradient flows on
    # and reaches the weights, whose gradients pair it with the NaN states.
    problem = make_problem(cell, 2, 4, 3, 5)
    problem["x"][0, 1, 0] = np.nan
    grads = make_output_grads(cell, 2, 4, 5)
    res, got = kernel_run(cell, problem, grads, activation=activation, leak_rate=leak_rate)
    assert np.isnan(res.output[0, 1:]).all() and np.isfinite(res.output[0, :1]).all()
    assert np.isfinite(res.output[1]).all()
    assert np.isnan(got.d_weight_hh).any()
    assert np.isfinite(got.d_x[1]).all()


def test_padded_steps_are_zero_and_ignore_d_output():
    cell, shape = "lstm", (4, 6, 3, 5)
    problem = make_problem(cell, *shape)
    problem["lengths"] = np.array([6, 1, 3, 4])
    d_output, d_h_n, d_c_n = make_output_grads(cell, 4, 6, 5)
    res, grads = kernel_run(cell, problem, (d_output, d_h_n, d_c_n))
    garbage = d_output.copy()
    for b, length in enumerate(problem["lengths"]):
        assert not res.output[b, length:].any()
        assert not grads.d_x[b, length:].any()
        garbage[b, length:] = 1e6
    _, grads_garbage = kernel_run(cell, problem, (garbage, d_h_n, d_c_n))
    for name in GRADIENTS:
        np.testing.assert_array_equal(getattr(grads, name), getattr(grads_garbage, name))


@pytest.mark.parametrize("cell,activation,leak_rate", CELL_ACTIVATION_LEAKS)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_match_finite_differences(cell, activation, leak_rate, reverse):
    """Central differences of a scalar loss in float64, for every input of forward."""
    shape = (2, 4, 3, 5)
    batch, steps, _, hidden = shape
    problem = make_problem(cell, *shape, seed=3, lengths=True)
    problem["lengths"] = np.array([4, 2])
    grads = make_output_grads(cell, batch, steps, hidden, seed=4)
    d_output, d_h_n, d_c_n = grads

    options = dict(reverse=reverse, activation=activation, leak_rate=leak_rate)

    def loss(p):
        res, _ = kernel_run(cell, p, grads, **options)
        total = np.sum(res.output * d_output) + np.sum(res.h_n * d_h_n)
        return total + (np.sum(res.c_n * d_c_n) if cell == "lstm" else 0.0)

    _, got = kernel_run(cell, problem, grads, **options)
    names = {"x": "d_x", "h0": "d_h0", "weight_ih": "d_weight_ih", "weight_hh": "d_weight_hh",
             "bias_ih": "d_bias_ih", "bias_hh": "d_bias_hh"}  # fmt: skip
    if cell == "lstm":
        names["c0"] = "d_c0"
    rng = np.random.default_rng(5)
    eps = 1e-6
    for arg, grad_name in names.items():
        analytic = getattr(got, grad_name)
        # A few random coordinates per argument keep the test fast.
        for flat in rng.choice(analytic.size, size=min(6, analytic.size), replace=False):
            index = np.unravel_index(flat, analytic.shape)
            plus, minus = dict(problem), dict(problem)
            plus[arg] = problem[arg].copy()
            minus[arg] = problem[arg].copy()
            plus[arg][index] += eps
            minus[arg][index] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert abs(numeric - analytic[index]) <= 1e-6 * (1 + abs(numeric)), (
                f"{grad_name}{index}: finite difference {numeric}, kernel {analytic[index]}"
            )


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_float32_bias_gradient_of_many_rows_keeps_float32_precision(cell):
    # d_bias adds up every (row, step) of d_gates. A float32 running total over these
    # 300,000 was 1e-5 off (1% over 10^6 rows of 0.1); torch's reduction stays near 3e-7.
    # Zero weights and one step make d_gates known exactly: for the linear rnn d_output
    # itself, for gru's n gate d_output * (1 - z) * r with z = r = 1/2 (d_bias_hh).
    B, H = 300_000, 3
    G = 3 if cell == "gru" else 1
    x = np.zeros((B, 1, 1), np.float32)
    w_ih, w_hh = np.zeros((G * H, 1), np.float32), np.zeros((G * H, H), np.float32)
    bias = np.zeros(G * H, np.float32)
    options = dict(activation="linear") if cell == "rnn" else {}
    fwd = ops.forward(cell, x, w_ih, w_hh, bias, bias, training=True, **options)
    d_output = np.random.default_rng(3).uniform(0.0, 1.0, (B, 1, H)).astype(np.float32)
    grads = ops.backward(fwd.cache, d_output)
    exact = d_output.astype(np.float64).sum(axis=(0, 1))
    d_bias = grads.d_bias_ih if cell == "rnn" else grads.d_bias_hh[2 * H :] * 4.0  # exact
    error = np.max(np.abs(d_bias - exact) / exact)
    assert error < 2e-7, f"relative error {error:.2g}"
