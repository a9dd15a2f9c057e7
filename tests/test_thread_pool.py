"""The kernels keep OpenMP's pool of threads from one region to the next.

libgomp ends the threads of its pool that a region leaves out and starts new ones when a
later region asks for more, so regions that asked for teams of different sizes in turn (a
GEMM on 8 threads, a time loop on 4, a copy on 2) started threads all the time: 58 per
training step of the stock LSTM on 16 threads. Every region now asks for the caller's
whole count and leaves the threads it does not need idle (common/parallel.hpp).
"""

import pytest

from _threads import threads_replaced
from rnnkit import ops

# A training step of a two-layer LSTM through every parallel kernel: the time loops (32
# rows in few row panels: fewer workers than threads), the GEMMs (the projections and the
# weight gradients: all of them), the thin layer's column sums, dropout and ops.matmul.
_SETUP = """
import numpy as np
from rnnkit import ops
rng = np.random.default_rng(0)
B, T, H, n = 32, 30, 50, 8

def layer(inputs):
    return [rng.standard_normal(s).astype(np.float32) * 0.1
            for s in ((4 * H, inputs), (4 * H, H), (4 * H,), (4 * H,))]

weights = [layer(1), layer(H)]
x = rng.standard_normal((B, T, 1)).astype(np.float32)
head = rng.standard_normal((H, 1)).astype(np.float32)

def step():
    first = ops.forward("lstm", x, *weights[0], training=True, n_threads=n)
    dropped, _ = ops.dropout(first.output, 0.2, seed=1, n_threads=n)
    second = ops.forward("lstm", dropped, *weights[1], training=True, n_threads=n)
    ops.matmul(second.h_n, head, n_threads=n)
    d_x = ops.backward(second.cache, np.ones_like(second.output), n_threads=n).d_x
    ops.backward(first.cache, d_x, n_threads=n, input_grad=False)
"""


def test_regions_keep_the_thread_pool():
    if not ops.kernel_info()["openmp"]:
        pytest.skip("this build of rnnkit has no OpenMP: it starts no threads")
    alive, replaced = threads_replaced(_SETUP, "step()")
    assert alive > 1, "the step ran on one thread: it shows nothing about the pool"
    assert replaced == 0, f"a second step ended or started {replaced} threads"
