"""scikit-learn's own estimator checks, for each estimator and cell type."""

import pytest
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnkit import EchoStateClassifier, EchoStateRegressor, RNNClassifier, RNNRegressor

# Small networks and few epochs keep the checks fast; the checks that score training
# accuracy still need real learning, which these settings give.
_SMALL = dict(hidden_sizes=(16,), max_epochs=40, learning_rate=0.01, batch_size=16)
# One batch of every row, in float64: weighted and repeated rows then give the same
# updates up to rounding, which is what check_sample_weight_equivalence_* compares.
_FULL_BATCH = dict(hidden_sizes=(16,), max_epochs=100, learning_rate=0.03, batch_size=1000,
                   dtype="float64")  # fmt: skip

ESTIMATORS = [
    RNNRegressor(cell="lstm", **_SMALL),
    RNNRegressor(cell="gru", **_SMALL),
    RNNRegressor(cell="rnn", **_SMALL),
    RNNClassifier(cell="lstm", **_SMALL),
    RNNClassifier(cell="rnn", **_SMALL),
    RNNClassifier(cell="gru", bidirectional=True, dense_sizes=(8,), **_SMALL),
    RNNRegressor(cell="gru", **_FULL_BATCH),
    RNNClassifier(cell="lstm", **_FULL_BATCH),
    EchoStateRegressor(n_reservoir=50, random_state=0),
    EchoStateRegressor(n_reservoir=100, leak_rate=0.5, dtype="float32", random_state=0),
    EchoStateClassifier(n_reservoir=50, random_state=0),
]

EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: repeating a row changes which rows share a mini-batch, so "
        "the weighted and the repeated fit take different steps and end at different "
        "weights (predictions 10% apart); the full-batch float64 instances pass it"
    ),
}


def _expected_failed_checks(estimator):
    # Echo state networks fit in closed form: weighted and repeated rows give the same
    # normal equations, so they pass every check.
    if isinstance(estimator, (EchoStateClassifier, EchoStateRegressor)):
        return {}
    if estimator.batch_size >= 1000 and estimator.dtype == "float64":
        return {}
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_balanced_class_weight_passes_the_sample_weight_check():
    # "balanced" counts each label with its sample weight, so weight 2 is a repeated row
    # here too. Not among the instances above: the checks that call partial_fit would
    # fail, as partial_fit refuses "balanced" (as SGDClassifier's does).
    name = "check_sample_weight_equivalence_on_dense_data"
    check = getattr(estimator_checks, name, None)
    if check is None:
        pytest.skip(f"this scikit-learn has no {name}")
    estimator = RNNClassifier(cell="rnn", class_weight="balanced", **_FULL_BATCH)
    check(type(estimator).__name__, estimator)
