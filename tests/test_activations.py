"""Accuracy of the kernels' own sigmoid and tanh (common/activations.hpp), as the cells
compute them, on every ISA: within a few units in the last place of the exact value.

A layer with one input of weight 1 and no recurrent weights or biases makes each gate's
pre-activation exactly x (x * 1 + 0 rounds to x), so the rnn's output is tanh(x) and the
lstm's cached gates are sigmoid(x) (i, f, o) and tanh(x) (g). The exact values come from
numpy in float64: for float32 results their own error is far below a float32 ulp; for
float64 results it adds up to one ulp to the bound.
"""

import numpy as np
import pytest

from _problems import ISAS
from rnnkit import _core

DTYPES = [np.float32, np.float64]

# The most ulps between a result and the exact value, over the grid below. Measured:
# float32 tanh 1.19, sigmoid 2.24; float64 tanh 1.0 and sigmoid 4.0 from numpy's values.
MAX_ULPS = {
    (np.float32, "tanh"): 1.5,
    (np.float32, "sigmoid"): 3.0,
    (np.float64, "tanh"): 2.0,
    (np.float64, "sigmoid"): 5.0,
}


def grid(dtype):
    """Evenly spaced x past both saturations (+-120 for float32, +-800 for float64, where
    sigmoid's results fall below the smallest normal) and magnitudes from 1e-30 (1e-300)
    to 1 on a log scale, where tanh(x) ~ x must keep its relative accuracy."""
    end, tiny = (120, -30) if dtype == np.float32 else (800, -300)
    small = np.logspace(tiny, 0, 2**15)
    return np.concatenate([np.linspace(-end, end, 2**20 + 1), small, -small]).astype(dtype)


def activations(x, isa):
    """(tanh from the rnn cell, tanh from the lstm's g gate, sigmoid from its i gate)."""
    dtype = x.dtype
    batch = x.size
    seq = np.ascontiguousarray(x.reshape(batch, 1, 1))

    def layer(cell, gates):
        weights = (
            np.ones((gates, 1), dtype),
            np.zeros((gates, 1), dtype),
            np.zeros(gates, dtype),
            np.zeros(gates, dtype),
        )
        return _core.forward(
            cell, "tanh", False, seq, *weights, None, None, None, True, 1, isa
        )  # fmt: skip

    rnn_output = layer("rnn", 1)[0].reshape(batch)
    lstm_gates = layer("lstm", 4)[3][0].reshape(batch, 4)
    return rnn_output, lstm_gates[:, 2], lstm_gates[:, 0]


def ulp_errors(got, exact, dtype):
    """|got - exact| in units of the last place of exact rounded to dtype."""
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / ulp


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_and_sigmoid_within_a_few_ulps(dtype, isa):
    x = grid(dtype)
    rnn_tanh, lstm_tanh, sigmoid = activations(x, isa)
    exact_tanh = np.tanh(x.astype(np.float64))
    with np.errstate(over="ignore"):  # exp(800): inf, and sigmoid then 0
        exact_sigmoid = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))

    for name, got in (("rnn tanh", rnn_tanh), ("lstm tanh", lstm_tanh)):
        errors = ulp_errors(got, exact_tanh, dtype)
        worst = np.argmax(errors)
        assert errors[worst] <= MAX_ULPS[dtype, "tanh"], (name, x[worst], errors[worst])

    # Where sigmoid(x) is a normal number. Below it (x < -87 in float32, -708 in float64)
    # the kernels' flushing of denormals and the 0 selected past exp's range leave only
    # the absolute error bounded, by the smallest normal.
    smallest = np.finfo(dtype).tiny
    normal = exact_sigmoid >= smallest
    assert normal.any() and not normal.all()
    errors = ulp_errors(sigmoid[normal], exact_sigmoid[normal], dtype)
    worst = np.argmax(errors)
    assert errors[worst] <= MAX_ULPS[dtype, "sigmoid"], (x[normal][worst], errors[worst])
    assert np.max(np.abs(sigmoid[~normal] - exact_sigmoid[~normal])) <= smallest


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_saturation_symmetry_and_nan(dtype, isa):
    x = np.array([np.inf, -np.inf, 40.0, -40.0, np.nan, 0.0, -0.0], dtype)
    rnn_tanh, lstm_tanh, sigmoid = activations(x, isa)
    for got in (rnn_tanh, lstm_tanh):
        # Saturated exactly at +-1, NaN passed on, tanh(0) = 0.
        np.testing.assert_array_equal(got, [1, -1, 1, -1, np.nan, 0, 0])
    np.testing.assert_array_equal(sigmoid[[0, 2, 4, 5, 6]], [1, 1, np.nan, 0.5, 0.5])
    assert 0 <= sigmoid[1] <= np.finfo(dtype).tiny and 0 <= sigmoid[3] <= 1e-17

    # tanh is odd bit for bit, and sigmoid(-x) = 1 - sigmoid(x) to rounding.
    positive = grid(dtype)
    positive = positive[positive > 0]
    both = np.concatenate([positive, -positive])
    rnn_tanh, _, sigmoid = activations(both, isa)
    half = positive.size
    np.testing.assert_array_equal(rnn_tanh[half:], -rnn_tanh[:half])
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(sigmoid[half:], 1 - sigmoid[:half], rtol=0, atol=2 * eps)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_no_step_where_exp_range_ends(dtype, isa):
    """Past the range of the kernels' exp (float32 [-87.3, 88.3], float64 [-708, 709])
    sigmoid and tanh select their saturated values instead of computing them. Across
    each switch, 500 consecutive floating-point numbers on either side, both stay
    monotonic and end at exactly those values."""
    low, high = (-87.3, 88.3) if dtype == np.float32 else (-708.0, 709.0)
    # sigmoid(x) takes exp(-x): it switches at x = -low and x = -high; tanh takes
    # exp(2 |x|): at |x| = high / 2.
    edges = np.array([-high, -high / 2, high / 2, -low], dtype)
    steps = np.arange(-500, 501, dtype=np.int64)
    int_type = np.int32 if dtype == np.float32 else np.int64
    x = []
    for edge in edges:
        # Consecutive floats of one sign are consecutive integers in their bits.
        bits = np.asarray(edge).view(int_type) + steps.astype(int_type)
        x.append(np.sort(bits.view(dtype)))
    x = np.concatenate(x)
    assert np.all(np.diff(x) > 0)
    rnn_tanh, lstm_tanh, sigmoid = activations(x, isa)
    for got in (rnn_tanh, lstm_tanh, sigmoid):
        assert np.all(np.diff(got) >= 0)
    np.testing.assert_array_equal(rnn_tanh[[0, -1]], [-1, 1])
    np.testing.assert_array_equal(sigmoid[[0, -1]], [0, 1])
