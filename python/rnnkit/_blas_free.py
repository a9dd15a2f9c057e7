"""Arithmetic whose bits do not depend on how many threads numpy's BLAS runs.

numpy hands dot products, norms, matrix products and LAPACK's solvers to the BLAS it was
built with, whose threads split the sums, and so change their rounding, by
``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS`` (OpenBLAS splits a float64 dot product
of 10^4 to 10^5 elements and more). Training and echo state fits give the same bits for
any thread count, theirs and the environment's alike: their sums go through numpy's
own reductions (pairwise, on one thread) or rnnkit's GEMM, and LAPACK runs on one
BLAS thread.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from threadpoolctl import ThreadpoolController


def dot(a, b):
    """``sum(a * b)`` of two 1-D arrays, as a float."""
    return float(np.add.reduce(a * b))


def norm(x):
    """The Euclidean norm of a 1-D array, as a float."""
    return math.sqrt(dot(x, x))


def one_blas_thread():
    """A context in which numpy's BLAS (and LAPACK through it) runs on one thread."""
    return _controller().limit(limits=1, user_api="blas")


@functools.cache
def _controller():
    """numpy's BLAS, found once: threadpool_limits would scan the loaded libraries on
    every call (0.4 ms, twice per fit of a two-layer network)."""
    return ThreadpoolController()
