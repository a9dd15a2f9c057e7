"""rnnkit's own GEMM (rnnkit._core.gemm) against numpy's matmul."""

import numpy as np
import pytest

from rnnkit import _core

ISAS = [isa for isa in ("avx512", "avx2", "generic") if _core.isa_supported(isa)]
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
