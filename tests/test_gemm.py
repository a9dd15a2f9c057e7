"""rnnkit's own GEMM (rnnkit._core.gemm and its wrapper rnnkit.ops.matmul) against numpy's
matmul, and ops.matmul's argument checks."""

import numpy as np
import pytest

from _problems import ISAS
from rnnkit import _core, ops

SIZES = [1, 2, 7, 13, 31, 64, 129, 300]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_gemm_matches_numpy(isa, dtype, transpose_a, transpose_b):
    rng = np.random.default_rng(0)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for m, n, k in [(1, 1, 1), (7, 13, 300), (300, 7, 13), (129, 64, 31), (2, 300, 257)]:
        a = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
        a_op = a.T if transpose_a else a  # views: the GEMM reads the strides
        b_op = b.T if transpose_b else b
        got = _core.gemm(a_op, b_op, isa, 2)
        want = a_op.astype(np.float64) @ b_op.astype(np.float64)
        assert got.dtype == dtype and got.shape == (m, n)
        error = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)
        assert error <= tol, (m, n, k, error)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_awkward_shapes(dtype):
    rng = np.random.default_rng(1)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for m in SIZES:
        for n in SIZES:
            k = (m * 7 + n) % 300 + 1
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            want = a.astype(np.float64) @ b
            error = np.max(np.abs(_core.gemm(a, b) - want)) / max(np.max(np.abs(want)), 1e-30)
            assert error <= tol, (m, n, k, error)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_deep_product_same_bits_for_any_thread_count(isa, dtype):
    # A weight gradient's shape: a transposed A (d_gates^T) packed for all threads at
    # once, over depth blocks that alternate between two packed buffers, with a
    # partial last row panel and a partial last depth block.
    rng = np.random.default_rng(2)
    m, n, k = 37, 300, 1000
    a = rng.standard_normal((k, m)).astype(dtype).T
    b = rng.standard_normal((k, n)).astype(dtype)
    results = [_core.gemm(a, b, isa, threads) for threads in (1, 2, 3)]
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    want = a.astype(np.float64) @ b
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert np.max(np.abs(results[0] - want)) / np.max(np.abs(want)) <= tol


def test_gemm_rejects_bad_operands():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        _core.gemm(a, np.ones((5, 2), np.float32))
    with pytest.raises(TypeError, match="same dtype"):
        _core.gemm(a, np.ones((4, 2), np.float64))
    with pytest.raises(ValueError, match="2-D"):
        _core.gemm(a, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="isa"):
        _core.gemm(a, np.ones((4, 2), np.float32), "sse9")
    # A view at an odd byte offset: the kernels read whole floats, so the bindings refuse
    # it (undefined behaviour below them); ops.matmul copies it into place first.
    odd = np.frombuffer(np.zeros(4 * 12 + 1, np.uint8), np.float32, 12, offset=1).reshape(3, 4)
    assert not odd.flags.aligned
    with pytest.raises(ValueError, match="^a: expected an aligned array"):
        _core.gemm(odd, np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(ops.matmul(odd, np.ones((4, 2), np.float32)), np.zeros((3, 2)))


# -- the public wrapper, rnnkit.ops.matmul ------------------------------------------------


@pytest.mark.parametrize(
    "a, b, error, message",
    [
        (np.ones((3, 4)), np.ones((5, 4)), ValueError,
         r"^a, b: inner dimensions differ, got shapes \(3, 4\) and \(5, 4\)$"),
        (np.ones((3, 0)), np.ones((1, 2)), ValueError, r"^a, b: inner dimensions differ"),
        (np.ones((3, 4, 1)), np.ones((4, 5)), ValueError,
         r"^a: expected a 2-D array, got shape \(3, 4, 1\)$"),
        (np.ones((3, 4)), np.ones(4), ValueError, r"^b: expected a 2-D array, got shape \(4,\)$"),
        (np.ones((3, 4)), np.ones((4, 5), np.float32), TypeError,
         r"^b: expected dtype float64 \(the dtype of a\), got float32$"),
        (np.ones((3, 4), np.int64), np.ones((4, 5)), TypeError,
         r"^a: expected dtype float32 or float64, got int64$"),
        ("a", np.ones((4, 5)), TypeError, r"^a: expected a float32 or float64 array, got str$"),
        (np.ones((3, 4)), None, TypeError, r"^b: expected a float32 or float64 array"),
    ],
    ids=["inner", "inner-empty", "a-3d", "b-1d", "mixed-dtypes", "int", "str", "none"],
)  # fmt: skip
def test_matmul_bad_arguments(a, b, error, message):
    with pytest.raises(error, match=message):
        ops.matmul(a, b)


@pytest.mark.parametrize("n_threads", [0, -1, 2.5, "2"])
def test_matmul_bad_thread_count(n_threads):
    with pytest.raises((ValueError, TypeError), match="^n_threads: "):
        ops.matmul(np.ones((2, 2)), np.ones((2, 2)), n_threads=n_threads)
    with pytest.raises((ValueError, TypeError), match="^n_threads: "):  # an empty product too
        ops.matmul(np.ones((0, 2)), np.ones((2, 2)), n_threads=n_threads)


@pytest.mark.parametrize("m, k, n", [(0, 3, 4), (3, 0, 4), (3, 4, 0)])
def test_matmul_empty_operands(m, k, n):
    # An empty inner dimension sums nothing: zeros, as numpy gives.
    got = ops.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
    assert got.shape == (m, n) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.zeros((m, n)))


def test_matmul_reads_any_strides():
    # Transposes are read in place; reversed or sliced views give numpy's product too.
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((13, 7)), rng.standard_normal((7, 9))
    want = a @ b
    np.testing.assert_allclose(ops.matmul(a.T.copy().T, b), want, rtol=1e-12)
    np.testing.assert_allclose(ops.matmul(a[::-1], b)[::-1], want, rtol=1e-12)
    np.testing.assert_allclose(ops.matmul(a, b[:, ::2]), want[:, ::2], rtol=1e-12)
    np.testing.assert_array_equal(ops.matmul(a, b, n_threads=1), ops.matmul(a, b, n_threads=2))
