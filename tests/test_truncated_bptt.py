"""Truncated BPTT in the estimators: window by window, with memory bounded by the window.

``bptt_steps=k`` shorter than a batch makes :meth:`BaseRNN._windowed_gradient` run the
network one window at a time. Its gradient must equal the one-pass gradient (full forward,
truncated backward), and its memory must not grow with the sequence length.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import rnnkit._base
from rnnkit import RNNClassifier, RNNRegressor
from rnnkit._inputs import Sequences

# One-epoch fits build the networks; they are not meant to converge.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N, T, F = 6, 10, 2


def _batch(rng, ragged):
    x = rng.standard_normal((N, T, F))
    if not ragged:
        return Sequences(x, None)
    lengths = rng.integers(1, T + 1, N)
    lengths[0] = T  # the batch is as long as its longest sequence
    x[np.arange(T) >= lengths[:, None]] = 0.0
    return Sequences(x, lengths)


def _targets(rng, estimator, batch):
    """Targets in the encoded form ``_epoch`` passes: reals, or class indices (-1 on
    padded steps)."""
    per_step = (N, T) if estimator.return_sequences else (N,)
    if isinstance(estimator, RNNClassifier):
        labels = rng.integers(0, 3, per_step)
        if estimator.return_sequences:
            labels[~batch.step_mask()] = -1
        return labels
    return rng.standard_normal((*per_step, 2))


def _fitted(estimator, batch, target):
    """``estimator`` with its network built (fit for one epoch on the batch)."""
    y = target if not isinstance(estimator, RNNClassifier) else np.abs(target)
    X = batch.x if batch.lengths is None else [s[:n] for s, n in zip(batch.x, batch.lengths)]
    if isinstance(estimator, RNNClassifier) and estimator.return_sequences:
        y = [row[:n] for row, n in zip(y, batch.steps)]
    return estimator.fit(X, y)


CASES = {
    "many-to-one": dict(return_sequences=False),
    "sequences": dict(return_sequences=True),
}


@pytest.mark.parametrize("classifier", [False, True], ids=["regressor", "classifier"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ragged", [False, True], ids=["fixed", "ragged"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_windowed_gradient_equals_one_pass(cell, ragged, case, classifier):
    rng = np.random.default_rng(0)
    cls = RNNClassifier if classifier else RNNRegressor
    est = cls(cell=cell, hidden_sizes=(4, 5), dense_sizes=(3,), max_epochs=1, dtype="float64",
              n_jobs=1, random_state=0, **CASES[case])  # fmt: skip
    batch = _batch(rng, ragged)
    target = _targets(rng, est, batch)
    est = _fitted(est, batch, target)
    weight = rng.uniform(0.5, 2.0, N)
    for window in (1, 3, 7):
        est.bptt_steps = window
        one = est._gradient(batch, target, weight, np.random.default_rng(1), 1)
        windowed = est._windowed_gradient(batch, target, weight, np.random.default_rng(1), 1)
        assert windowed[0] == pytest.approx(one[0], rel=1e-12)  # loss
        assert windowed[2] == pytest.approx(one[2], rel=1e-12)  # weight sum
        assert list(windowed[1]) == list(one[1])
        for name, g in one[1].items():
            assert np.abs(g).max() > 0, name  # every parameter is reached
            np.testing.assert_allclose(windowed[1][name], g, rtol=1e-10, atol=1e-14,
                                       err_msg=f"{name}, window {window}")  # fmt: skip


def test_windowed_fit_matches_one_pass_fit(monkeypatch):
    """A whole fit (several updates, Adam) lands where the one-pass path does."""
    rng = np.random.default_rng(2)
    X = [rng.standard_normal((n, 3)) for n in rng.integers(3, 25, 40)]
    y = rng.standard_normal(40)
    params = dict(cell="lstm", hidden_sizes=(6, 4), bptt_steps=4, max_epochs=3, batch_size=8,
                  dtype="float64", random_state=0, n_jobs=1)  # fmt: skip
    windowed = RNNRegressor(**params).fit(X, y)
    monkeypatch.setattr(rnnkit._base.BaseRNN, "_windowed_gradient", rnnkit._base.BaseRNN._gradient)
    one_pass = RNNRegressor(**params).fit(X, y)
    np.testing.assert_allclose(windowed.loss_curve_, one_pass.loss_curve_, rtol=1e-10)
    for name, value in one_pass.params_.items():
        np.testing.assert_allclose(windowed.params_[name], value, rtol=1e-9, atol=1e-12)


def test_windowed_fit_with_dropout_is_reproducible():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((24, 30, 2)), rng.standard_normal(24)
    params = dict(hidden_sizes=(5, 5), dropout=0.3, bptt_steps=7, max_epochs=2,
                  random_state=4)  # fmt: skip
    a = RNNRegressor(**params, n_jobs=1).fit(X, y)
    b = RNNRegressor(**params, n_jobs=2).fit(X, y)
    for name, value in a.params_.items():
        np.testing.assert_array_equal(b.params_[name], value, err_msg=name)
    assert np.isfinite(a.loss_curve_).all()


def _training_peak_bytes(steps, bptt_steps):
    """Peak bytes numpy allocates during ``fit`` (the input is allocated before)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, steps, 2)).astype(np.float32)
    y = rng.standard_normal(16).astype(np.float32)
    est = RNNRegressor(hidden_sizes=(32,), bptt_steps=bptt_steps, batch_size=16, max_epochs=1,
                       random_state=0)  # fmt: skip
    tracemalloc.start()
    try:
        est.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_window_not_the_sequence():
    short, long = _training_peak_bytes(400, 20), _training_peak_bytes(3200, 20)
    # The input (converted once, 8x longer) is the only thing that grows with T.
    input_growth = 16 * (3200 - 400) * 2 * 4
    assert long - short < input_growth + 256 * 1024, (short, long)
    # Without truncation the caches (all gates at every step) grow with T.
    full_short, full_long = _training_peak_bytes(400, None), _training_peak_bytes(3200, None)
    assert full_long - full_short > 8 * input_growth, (full_short, full_long)
