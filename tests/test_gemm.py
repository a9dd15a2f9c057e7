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


# Shapes that take each path: products with a handful of columns (run as their
# transpose), single rows (the single-row kernel), more columns than are packed
# at once (2048), and depths over one block (256).
PATH_SHAPES = [
    (300, 1, 513),
    (5000, 3, 40),
    (1, 300, 257),
    (2, 4100, 3),
    (37, 2, 700),
    (64, 64, 64),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_bits_do_not_depend_on_the_path(isa, dtype):
    # Each element of C is one multiply-add chain over k whatever the path:
    # the transposed product, a single row of A, and any thread count give the
    # same bits.
    rng = np.random.default_rng(2)
    for m, n, k in PATH_SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        c = _core.gemm(a, b, isa, 1)
        want = a.astype(np.float64) @ b.astype(np.float64)
        tol = 1e-12 if dtype == np.float64 else 2e-5
        assert np.max(np.abs(c - want)) <= tol * max(np.max(np.abs(want)), 1e-30) * np.sqrt(k)
        np.testing.assert_array_equal(_core.gemm(b.T, a.T, isa, 2).T, c)
        for threads in (2, 3):
            np.testing.assert_array_equal(_core.gemm(a, b, isa, threads), c)
        for i in {0, m // 2, m - 1}:
            np.testing.assert_array_equal(_core.gemm(a[i : i + 1], b, isa, 2), c[i : i + 1])
