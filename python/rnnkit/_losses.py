"""Losses on the network's raw outputs, weighted per row.

Each loss takes ``output`` (N, k) — one row per sample, or per valid step of a sequence —
the targets and row weights ``w`` (N,), and returns the weighted mean
``sum(w * loss_row) / sum(w)`` and its gradient w.r.t. ``output``. With integer weights
that equals repeating rows, as in scikit-learn. A row's loss is the mean over its k
outputs for regression (Keras' reduction), and the cross-entropy of its label for
classification, whose output is a logit (2 classes) or k logits (softmax).
"""

from __future__ import annotations

import numpy as np

from ._blas_free import dot

HUBER_DELTA = 1.0


def _mse(diff):
    return diff * diff, 2.0 * diff


def _mae(diff):
    return np.abs(diff), np.sign(diff)


def _huber(diff):
    small = np.abs(diff) <= HUBER_DELTA
    value = np.where(small, 0.5 * diff * diff, HUBER_DELTA * (np.abs(diff) - 0.5 * HUBER_DELTA))
    grad = np.where(small, diff, HUBER_DELTA * np.sign(diff))
    return value, grad


_REGRESSION = {"mse": _mse, "mae": _mae, "huber": _huber}
REGRESSION_LOSSES = tuple(_REGRESSION)


def regression(name, output, target, weight):
    """``target`` (N, k) in the output's dtype."""
    value, grad = _REGRESSION[name](output - target)
    k = output.shape[1]
    scale = weight / weight.sum()
    loss = dot(scale, value.sum(axis=1)) / k
    d_output = grad * (scale / k)[:, None].astype(output.dtype)
    return loss, d_output.astype(output.dtype, copy=False)


def cross_entropy(output, target, weight):
    """``target`` (N,) integer class indices; ``output`` (N, 1) for two classes (logit of
    class 1) or (N, k) logits."""
    scale = (weight / weight.sum())[:, None]
    if output.shape[1] == 1:
        z = output[:, 0].astype(np.float64)
        y = target.astype(np.float64)
        # log(1 + e^z) - y z, stable for large |z|
        rows = np.logaddexp(0.0, z) - y * z
        d_output = (_sigmoid(z) - y)[:, None]
    else:
        z = output.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        picked = np.arange(len(target)), target
        rows = -log_p[picked]
        d_output = np.exp(log_p)
        d_output[picked] -= 1.0
    loss = dot(scale[:, 0], rows)
    return loss, (d_output * scale).astype(output.dtype)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def probabilities(output):
    """Class probabilities (N, n_classes) from :func:`cross_entropy`'s outputs."""
    z = output.astype(np.float64)
    if z.shape[1] == 1:
        p = _sigmoid(z[:, 0])
        return np.stack([1.0 - p, p], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
