"""The kernels read the caller's arrays where they lie (x_t's rows in each step's input
product, a row-major A in a GEMM), a whole row panel at a time. Nothing past an array's
last row may be read: here the array ends where an inaccessible page begins, so such a
read would crash. It runs in a child process, so that a crash fails this test alone."""

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import ctypes, mmap
    import numpy as np
    from rnnkit import ops

    page = mmap.PAGESIZE
    memory = mmap.mmap(-1, 2 * page)
    libc = ctypes.CDLL(None, use_errno=True)
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    if libc.mprotect(ctypes.c_void_p(start + page), ctypes.c_size_t(page), 0) != 0:
        raise OSError(ctypes.get_errno(), "mprotect")

    def at_page_end(values):
        # A copy of values whose last byte is the last readable one.
        view = np.frombuffer(memory, values.dtype, values.size, page - values.nbytes)
        view[:] = values.ravel()
        return view.reshape(values.shape)

    rng = np.random.default_rng(0)
    T, I, H = 5, 7, 9
    runs = 0
    for dtype in (np.float32, np.float64):
        for cell, gates in (("rnn", 1), ("lstm", 4), ("gru", 3)):
            # 13: a last row panel of 5 rows (full kernel); 10: of 2 (half-row kernel).
            for batch in (10, 13):
                x = at_page_end(rng.standard_normal((batch, T, I)).astype(dtype))
                weights = [
                    rng.standard_normal(shape).astype(dtype) * 0.3
                    for shape in ((gates * H, I), (gates * H, H), (gates * H,), (gates * H,))
                ]
                result = ops.forward(cell, x, *weights, n_threads=2)
                assert np.all(np.isfinite(result.output))
                trained = ops.forward(cell, x, *weights, training=True, n_threads=2)
                grads = ops.backward(trained.cache, np.ones_like(trained.output), n_threads=2)
                assert np.all(np.isfinite(grads.d_x))
                runs += 1
        # A row-major A is read in place by the GEMM as well (13 rows: a last panel of 5).
        a = at_page_end(rng.standard_normal((13, 7)).astype(dtype))
        b = rng.standard_normal((7, 40)).astype(dtype)
        assert np.allclose(ops.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
        runs += 1
    print("ran", runs)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect via the C library")
def test_kernels_read_nothing_past_the_callers_arrays():
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert child.stdout.split() == ["ran", "14"]
