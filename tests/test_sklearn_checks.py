"""scikit-learn's own estimator checks, for each estimator and cell type."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnkit import EchoStateClassifier, EchoStateRegressor, RNNClassifier, RNNRegressor

# Small networks and few epochs keep the checks fast; the checks that score training
# accuracy still need real learning, which these settings give.
_SMALL = dict(hidden_sizes=(16,), max_epochs=40, learning_rate=0.01, batch_size=16)

ESTIMATORS = [
    RNNRegressor(cell="lstm", **_SMALL),
    RNNRegressor(cell="gru", **_SMALL),
    RNNRegressor(cell="rnn", **_SMALL),
    RNNClassifier(cell="lstm", **_SMALL),
    RNNClassifier(cell="rnn", **_SMALL),
    RNNClassifier(cell="gru", bidirectional=True, dense_sizes=(8,), **_SMALL),
    EchoStateRegressor(n_reservoir=50, random_state=0),
    EchoStateRegressor(n_reservoir=100, leak_rate=0.5, dtype="float32", random_state=0),
    EchoStateClassifier(n_reservoir=50, random_state=0),
]

EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch stochastic training: repeating a row changes which rows share a "
        "mini-batch and the order of the float sums, so weighted and repeated fits agree "
        "only approximately (tests/test_estimators_api.py checks the equivalence for "
        "one full batch)"
    ),
}


def _expected_failed_checks(estimator):
    # Echo state networks fit in closed form: weighted and repeated rows give the same
    # normal equations, so they pass every check.
    if isinstance(estimator, (EchoStateClassifier, EchoStateRegressor)):
        return {}
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
