"""The dropout kernel (``ops.dropout``, ``_core.dropout``) against its numpy reference (bit
for bit), across thread counts, in its statistics, and its argument checks."""

import numpy as np
import pytest

from reference import dropout as reference_dropout
from rnnkit import _core, ops

SEED = 0x0123456789ABCDEF


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 13, 8191, 8193, 100_001])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_matches_reference_bit_for_bit(dtype, n, rate):
    h = np.random.default_rng(n).standard_normal(n).astype(dtype)
    out, mask = _core.dropout(h, rate, SEED, 2)
    want_out, want_mask = reference_dropout(h, rate, SEED)
    assert out.dtype == mask.dtype == dtype
    np.testing.assert_array_equal(mask, want_mask)
    np.testing.assert_array_equal(out, want_out)
    assert set(np.unique(mask)) <= {dtype(0), dtype(1.0 / (1.0 - rate))}


def test_keeps_the_shape():
    h = np.ones((3, 5, 7), np.float32)
    out, mask = _core.dropout(h, 0.5, SEED, 1)
    assert out.shape == mask.shape == h.shape
    np.testing.assert_array_equal(out.ravel(), reference_dropout(h.ravel(), 0.5, SEED)[0])


def test_same_bits_for_any_thread_count():
    h = np.random.default_rng(1).standard_normal((64, 100, 129)).astype(np.float32)
    runs = [_core.dropout(h, 0.3, SEED, k) for k in (1, 2, 3, 8)]
    for out, mask in runs[1:]:
        np.testing.assert_array_equal(out, runs[0][0])
        np.testing.assert_array_equal(mask, runs[0][1])


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5, 0.8])
def test_drops_a_fraction_rate_of_independent_elements(rate):
    n = 1_000_000
    _, mask = _core.dropout(np.ones(n, np.float32), rate, SEED, 2)
    dropped = mask == 0
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(dropped.mean() - rate) < 5 * sigma
    # Neighbours (the two halves of one 64-bit draw, and consecutive draws) and
    # elements a row apart are uncorrelated.
    for lag in (1, 2, 64):
        a, b = dropped[:-lag].astype(float), dropped[lag:].astype(float)
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(n), lag
    # Another seed, another mask.
    _, other = _core.dropout(np.ones(n, np.float32), rate, SEED + 1, 2)
    assert abs(np.mean((other == 0) & dropped) - rate**2) < 5 * np.sqrt(rate**2 / n)


def test_ops_dropout_keeps_a_scalar_a_scalar():
    out, mask = ops.dropout(np.float64(3.0), 0.5, seed=SEED)
    assert out.shape == mask.shape == ()
    want_out, want_mask = reference_dropout(np.array([3.0]), 0.5, SEED)
    assert out == want_out[0] and mask == want_mask[0]


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(rate=1.0), ValueError, r"rate: expected a number in \[0, 1\)"),
        (dict(rate=-0.1), ValueError, r"rate: expected a number in \[0, 1\)"),
        (dict(rate=float("nan")), ValueError, r"rate: expected a number in \[0, 1\)"),
        (dict(input=np.ones(4, np.int64)), TypeError, "input: expected dtype float32 or"),
        (dict(input=np.ones((4, 4), np.float32)[:, ::2]), ValueError, "input: expected a C-"),
        (dict(n_threads=0), ValueError, "n_threads: expected an integer"),
    ],
    ids=["rate 1", "negative rate", "nan rate", "dtype", "strided", "threads"],
)  # fmt: skip
def test_bad_arguments(changes, error, message):
    arguments = dict(input=np.ones(4, np.float32), rate=0.5, seed=SEED, n_threads=1)
    arguments.update(changes)
    with pytest.raises(error, match=message):
        _core.dropout(**arguments)


def test_ops_dropout_is_the_kernel():
    h = np.random.default_rng(2).standard_normal((4, 9, 5))
    out, mask = ops.dropout(h, 0.25, seed=SEED)
    want_out, want_mask = reference_dropout(h.ravel(), 0.25, SEED)
    np.testing.assert_array_equal(out.ravel(), want_out)
    np.testing.assert_array_equal(mask.ravel(), want_mask)
    assert out.shape == h.shape
    # A strided view is read as the array it shows.
    view = h[:, ::2]
    np.testing.assert_array_equal(ops.dropout(view, 0.5, seed=7)[0],
                                  ops.dropout(view.copy(), 0.5, seed=7)[0])  # fmt: skip


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(rate=1.0), ValueError, r"rate: expected a real number in \[0, 1\)"),
        (dict(rate="0.5"), TypeError, "rate: expected a real number"),
        (dict(rate=True), TypeError, "rate: expected a real number"),
        (dict(seed=-1), ValueError, r"seed: expected an integer in \[0, 2\*\*64\)"),
        (dict(seed=2**64), ValueError, "seed: expected an integer"),
        (dict(seed=1.0), TypeError, "seed: expected an integer"),
        (dict(x=np.ones(3, np.int32)), TypeError, "x"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ],
    ids=["rate 1", "rate str", "rate bool", "seed negative", "seed 2^64", "seed float",
         "x dtype", "threads"],
)  # fmt: skip
def test_ops_dropout_bad_arguments(changes, error, message):
    arguments = dict(x=np.ones(3, np.float32), rate=0.5, seed=1)
    arguments.update(changes)
    with pytest.raises(error, match=message):
        ops.dropout(**arguments)
