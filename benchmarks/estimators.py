"""rnnkit estimators and data for the end-to-end benchmarks: one epoch of ``fit``, ``predict``.

Each workload of ``workloads.WORKLOADS`` becomes the estimator its Keras tutorial builds
(recurrent stack, Dense(relu) head, dropout, one regression output or a softmax over
``classes``) and a random training set of ``samples`` sequences from a fixed seed: the
values do not matter for timing, only the shapes do.

Shared by the asv suite (``suites/bench_estimators.py``) and ``compare.py``; only numpy
and rnnkit (with its own dependency scikit-learn) are imported, never torch.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from workloads import SEED, Workload

from rnnkit import RNNClassifier, RNNRegressor

# Rows per predict call of the peers in compare.py (torch loop, keras.Model.predict);
# rnnkit's predict chunks the rows itself.
PREDICT_BATCH = 256


def make_estimator(wl: Workload, *, n_threads=None, warm_start=False):
    """The unfitted rnnkit estimator of ``wl``, set up so that ``fit`` runs one epoch;
    with ``warm_start`` every fit after the first continues from the weights the last one
    left, as another epoch of a torch loop or of ``keras.Model.fit`` does."""
    cls = RNNClassifier if wl.classes else RNNRegressor
    return cls(
        warm_start=warm_start,
        cell=wl.cell,
        hidden_sizes=(wl.hidden,) * wl.layers,
        activation=wl.activation,
        dense_sizes=wl.dense,
        dropout=wl.dropout,
        batch_size=wl.batch,
        max_epochs=1,
        bptt_steps=wl.bptt_steps,
        random_state=SEED,
        n_jobs=n_threads,
    )


def make_dataset(wl: Workload, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Random training set: X (samples, T, I) float32 and y, values or integer labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((wl.samples, wl.steps, wl.inputs), dtype=np.float32)
    if wl.classes:
        y = rng.integers(wl.classes, size=wl.samples)
    else:
        y = rng.standard_normal(wl.samples, dtype=np.float32)
    return X, y


def fit_epoch(estimator, X, y):
    """``estimator.fit(X, y)``: one epoch, from freshly initialised weights unless the
    estimator has ``warm_start`` and has been fitted.

    With ``max_epochs=1`` the MLP-style stopping rule never fires, so every fit would
    warn that training has not converged; that is the point here, so it is silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def fitted_for_predict(wl: Workload, X, y, *, n_threads=None):
    """An estimator trained on the first mini-batch only: prediction time depends on the
    network's shapes, not on how well it is trained, so this is a cheap setup."""
    estimator = make_estimator(wl, n_threads=n_threads)
    X, y = X[: wl.batch], y[: wl.batch]
    if wl.classes:
        # A small batch may miss a class; the output layer must still have them all.
        return estimator.partial_fit(X, y, classes=np.arange(wl.classes))
    return estimator.partial_fit(X, y)


def n_parameters(estimator) -> int:
    """Trainable scalars of a fitted estimator."""
    return sum(a.size for a in estimator.params_.values())
