"""The estimators' own training objective: the loss and gradient of one mini-batch as
``fit`` computes them (``BaseRNN._batch_gradient``: the ``loss`` parameter, sample and
class weights, the rows of ``return_sequences``, the ``alpha`` penalty) against central
finite differences of that same loss, and its value against numpy formulas; and the
learning rate schedule of ``decay`` on plain SGD steps.

tests/test_network_gradients.py checks the network's gradients with its own loss
assembly; this file checks what the estimators put around the network. Everything is
float64, without dropout, on one thread.
"""

import numpy as np
import pytest

from _gradcheck import assert_gradients_match_fd
from rnnkit import RNNClassifier, RNNRegressor
from rnnkit._base import _weighed
from rnnkit._inputs import validate_sequences

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N, T, F = 9, 4, 2
LENGTHS = (4, 1, 3, 2, 4, 3, 2, 4, 1)
COMMON = dict(hidden_sizes=(3,), dense_sizes=(2,), max_epochs=1, batch_size=N,
              dtype="float64", random_state=0, n_jobs=1)  # fmt: skip

_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, T, F))
XR = [_rng.normal(size=(t, F)) for t in LENGTHS]
SAMPLE_WEIGHT = _rng.uniform(0.2, 3.0, N)


def batch_objective(est, X, y, sample_weight):
    """f() -> (loss, gradient as one flat vector) of (X, y) as one mini-batch, with every
    weight ``fit`` applies, at the estimator's current weights: ``params_``, which become
    views of the flat vector f reads."""
    dtype = np.dtype(est.dtype)
    flat = est._flat_params(dtype)
    seqs = validate_sequences(est, X, reset=False, dtype=dtype)
    targets = est._validate_targets(y, seqs, reset=False)
    weights = np.ones(len(seqs)) if sample_weight is None else np.asarray(sample_weight)
    weights = _weighed(weights, est._target_weights(targets, weights))
    l2 = est._l2_factors()
    generator = np.random.default_rng(0)  # no dropout: never drawn from

    def objective():
        loss, grad, _ = est._batch_gradient(flat, seqs, targets, weights, l2, generator, 1)
        return loss, grad

    return objective


def check_batch_gradient(est, X, y, sample_weight):
    """The batch gradient against finite differences of the batch loss, parameter by
    parameter; returns the loss."""
    objective = batch_objective(est, X, y, sample_weight)
    loss, grad = objective()
    params = est.params_
    ends = np.cumsum([p.size for p in params.values()])[:-1]  # the flat vector's order
    grads = {name: g.reshape(p.shape) for (name, p), g in zip(params.items(), np.split(grad, ends))}
    assert_gradients_match_fd(params, lambda _: objective()[0], grads)
    return loss


def penalty(est):
    """``alpha / 2 * sum(W ** 2)`` over the weight matrices."""
    weights = [p for name, p in est.params_.items() if name.endswith("weight") or "weight_" in name]
    return 0.5 * est.alpha * sum(float(np.sum(w * w)) for w in weights)


REGRESSION_LOSSES = {
    "mse": lambda d: d * d,
    "mae": np.abs,
    "huber": lambda d: np.where(np.abs(d) <= 1.0, 0.5 * d * d, np.abs(d) - 0.5),
}


@pytest.mark.parametrize("loss", sorted(REGRESSION_LOSSES))
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_regressor_batch_gradient(loss, alpha):
    y = np.stack([X[:, :, 0].sum(axis=1), 2.0 * X[:, -1, 1]], axis=1)  # two outputs
    est = RNNRegressor(**COMMON, loss=loss, alpha=alpha).fit(X, y)
    value = check_batch_gradient(est, X, y, SAMPLE_WEIGHT)
    # The value is the named loss: mean over the outputs, weighted mean over samples.
    per_sample = REGRESSION_LOSSES[loss](est.predict(X) - y).mean(axis=1)
    expected = np.average(per_sample, weights=SAMPLE_WEIGHT) + penalty(est)
    assert value == pytest.approx(expected, rel=1e-12)
    assert (penalty(est) > 0) == (alpha > 0)


def test_regressor_batch_gradient_per_step_of_ragged_sequences():
    # return_sequences: a row of the loss is one valid step, weighted by its sample's
    # weight; padded steps never reach it.
    y = [x[:, 0] * 0.5 - x[:, 1] for x in XR]
    est = RNNRegressor(**COMMON, loss="huber", alpha=0.1, return_sequences=True).fit(XR, y)
    value = check_batch_gradient(est, XR, y, SAMPLE_WEIGHT)
    errors = np.concatenate([REGRESSION_LOSSES["huber"](p - t) for p, t in zip(est.predict(XR), y)])
    step_weights = np.repeat(SAMPLE_WEIGHT, LENGTHS)
    expected = np.average(errors, weights=step_weights) + penalty(est)
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "n_classes, class_weight",
    [(2, {0: 3.0, 1: 0.5}), (3, "balanced"), (3, None)],
    ids=["binary-dict", "softmax-balanced", "softmax"],
)
def test_classifier_batch_gradient(n_classes, class_weight):
    y = np.array([0, 1, 1, 0, 1, 1, 0, 1, 1]) if n_classes == 2 else np.arange(N) % 3
    y[:2] = [0, 2] if n_classes == 3 else y[:2]
    est = RNNClassifier(**COMMON, class_weight=class_weight, alpha=0.2).fit(X, y)
    value = check_batch_gradient(est, X, y, SAMPLE_WEIGHT)
    # Cross-entropy of each sample's label, weighted by sample weight times class weight.
    proba = est.predict_proba(X)
    per_class = np.ones(n_classes)
    if class_weight == "balanced":  # classes counted with their sample weights
        counts = np.bincount(y, weights=SAMPLE_WEIGHT)
        per_class = SAMPLE_WEIGHT.sum() / (n_classes * counts)
    elif class_weight is not None:
        per_class = np.array([class_weight[c] for c in range(n_classes)])
    weights = SAMPLE_WEIGHT * per_class[y]
    expected = np.average(-np.log(proba[np.arange(N), y]), weights=weights) + penalty(est)
    assert value == pytest.approx(expected, rel=1e-9)


def test_decay_divides_each_sgd_step():
    # Plain SGD (no momentum) on one full batch: update t moves the weights by
    # -learning_rate / (1 + decay * t) times that batch's gradient.
    y = X[:, :, 0].sum(axis=1)
    est = RNNRegressor(**COMMON, optimizer="sgd", momentum=0.0, learning_rate=0.1, decay=0.5)
    est.set_params(warm_start=True)
    est.fit(X, y)  # update t = 0
    for t in (1, 2):
        _, grad = batch_objective(est, X, y, None)()
        start = np.concatenate([p.ravel() for p in est.params_.values()])
        est.fit(X, y)  # update t
        moved = np.concatenate([p.ravel() for p in est.params_.values()]) - start
        np.testing.assert_allclose(moved, -0.1 / (1 + 0.5 * t) * grad, rtol=1e-10, atol=1e-15)
