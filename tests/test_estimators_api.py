"""The public API of RNNRegressor and RNNClassifier, as DESIGN §5 (Estimators) promises it.

Input layouts (3-D, 2-D, lists, ragged lists) and output shapes, the bitwise guarantees
(a prediction never depends on its batch; the same seed gives the same model whatever
n_jobs), fitted attributes, the stopping rules, warm starts and partial_fit, persistence
and scikit-learn meta-estimators, sample and class weights, optimizers, truncated BPTT,
verbose output and scikit-learn's callback API.

Every model here is tiny and trains for a few epochs: the file checks the contract, not
how well the networks learn (tests/test_sklearn_checks.py covers learning).
"""

import pickle

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

import rnnkit._network
import rnnkit._progress
from _threads import threads_started
from rnnkit import RNNClassifier, RNNRegressor, ops

# Few epochs on purpose: "Maximum iterations reached" is expected noise here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# One kernel thread unless threads are the subject: on a busy 2-core machine OpenMP's
# spinning threads can make these tiny fits 100x slower. Threads are exercised where a
# bitwise guarantee is about them (batch independence, seeds).
SERIAL = dict(random_state=0, n_jobs=1)
TINY = dict(hidden_sizes=(3,), max_epochs=2, **SERIAL)
RAGGED_LENGTHS = (3, 7, 5, 2, 6, 4)


def _sequences(n=24, steps=5, features=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, steps, features))


def _ragged(features, seed=1):
    """Sequences of RAGGED_LENGTHS steps: (T_i, F) arrays, or (T_i,) when features is None."""
    rng = np.random.default_rng(seed)
    shape = () if features is None else (features,)
    return [rng.standard_normal((t, *shape)) for t in RAGGED_LENGTHS]


def _target(X):
    """A learnable target: the mean of the first feature over time."""
    return X[:, :, 0].mean(axis=1)


def _labels(X, n_classes):
    """String labels from the target, deliberately named out of sorted order."""
    names = np.array(["up", "down"] if n_classes == 2 else ["mid", "low", "high"])
    edges = [0.0] if n_classes == 2 else [-0.2, 0.2]
    return names[np.digitize(_target(X), edges)]


def _params_equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _copy_params(estimator):
    # params_ are views into the training vector: copy before training further.
    return {name: value.copy() for name, value in estimator.params_.items()}


# -- input layouts ------------------------------------------------------------------------


def test_3d_input_accepts_any_number_of_steps_at_predict():
    X = _sequences(steps=5, features=2)
    est = RNNRegressor(**TINY).fit(X, _target(X))
    assert est.n_features_in_ == 2
    for steps in (1, 3, 9):
        assert est.predict(_sequences(n=4, steps=steps, features=2)).shape == (4,)
    with pytest.raises(ValueError, match="X has 3 features, but RNNRegressor is expecting 2"):
        est.predict(_sequences(n=4, steps=5, features=3))


def test_2d_input_is_univariate_and_needs_the_same_columns():
    X = _sequences(steps=4, features=1)[:, :, 0]
    est = RNNRegressor(**TINY).fit(X, X.mean(axis=1))
    # scikit-learn's rule for 2-D input: the columns are the features.
    assert est.n_features_in_ == 4
    assert est.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="X has 3 features, but RNNRegressor is expecting 4"):
        est.predict(X[:, :3])
    # A 3-D array is not the layout it was fitted on.
    with pytest.raises(ValueError, match=r"^X: RNNRegressor was fitted on 2-D input"):
        est.predict(X[:, :, None])


def test_2d_input_to_a_univariate_3d_model_is_sequences_of_any_length():
    X = _sequences(steps=5, features=1)
    est = RNNRegressor(**TINY).fit(X, _target(X))
    longer = _sequences(n=6, steps=8, features=1, seed=3)
    assert np.array_equal(est.predict(longer[:, :, 0]), est.predict(longer))


def test_list_of_equal_length_lists_is_a_2d_array():
    X = _sequences(n=10, steps=4, features=1)[:, :, 0]
    y = X.sum(axis=1)
    from_array = RNNRegressor(**TINY).fit(X, y)
    from_lists = RNNRegressor(**TINY).fit(X.tolist(), y.tolist())
    assert from_lists.n_features_in_ == 4
    assert _params_equal(from_lists.params_, from_array.params_)
    assert np.array_equal(from_lists.predict(X.tolist()), from_array.predict(X))


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_list_of_equal_length_sequences_is_a_3d_array(cls):
    # As the README says: a list whose (T, F) sequences share one length is read as the
    # 3-D array it makes, and per-step predictions for it come back as one array.
    X = _sequences(n=10, steps=4, features=2)
    y = X[:, :, 0] > 0 if cls is RNNClassifier else X[:, :, 0]
    from_array = cls(return_sequences=True, **TINY).fit(X, y)
    from_list = cls(return_sequences=True, **TINY).fit(list(X), list(y))
    assert _params_equal(from_list.params_, from_array.params_)
    predicted = from_list.predict(list(X))
    assert isinstance(predicted, np.ndarray)
    assert np.array_equal(predicted, from_array.predict(X))
    assert np.array_equal(from_array.predict(X.tolist()), predicted)  # lists of lists alike


@pytest.mark.parametrize("features", [3, None], ids=["T_i-by-F", "1-D"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_ragged_list_predicts_each_sequence_as_if_alone(features, return_sequences):
    X = _ragged(features)
    if return_sequences:
        y = [x.reshape(len(x), -1)[:, 0] for x in X]
    else:
        y = [float(x.sum()) for x in X]
    # Stacked and bidirectional: the reverse direction must start at each row's own end.
    est = RNNRegressor(
        hidden_sizes=(3, 2), bidirectional=True, dense_sizes=(2,), max_epochs=2,
        return_sequences=return_sequences, **SERIAL,
    ).fit(X, y)  # fmt: skip
    assert est.n_features_in_ == (features or 1)
    est.set_params(n_jobs=2)  # predict with threads: rows must not interact
    batch = est.predict(X)
    if return_sequences:
        assert isinstance(batch, list)
        assert [p.shape for p in batch] == [(t,) for t in RAGGED_LENGTHS]
    else:
        assert batch.shape == (len(X),)
    for i, x in enumerate(X):
        alone = est.predict(x.reshape(1, len(x), -1))  # a plain (1, T_i, F) array
        assert np.array_equal(alone[0], batch[i]), f"sequence {i}"


def test_ragged_classifier_probabilities_match_each_sequence_alone():
    X = _ragged(2)
    y = np.array(["a", "b", "a", "b", "c", "c"])
    est = RNNClassifier(hidden_sizes=(3,), bidirectional=True, max_epochs=2, **SERIAL)
    est.fit(X, y).set_params(n_jobs=2)
    proba = est.predict_proba(X)
    for i, x in enumerate(X):
        assert np.array_equal(est.predict_proba(x[None])[0], proba[i])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predictions_are_float64(dtype):
    X = _sequences()
    reg = RNNRegressor(**TINY, dtype=dtype).fit(X, _target(X))
    assert reg.params_["output.weight"].dtype == np.dtype(dtype)
    assert reg.predict(X).dtype == np.float64
    clf = RNNClassifier(**TINY, dtype=dtype).fit(X, _labels(X, 3))
    assert clf.predict_proba(X).dtype == np.float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_does_not_depend_on_the_batch(dtype):
    # 1100 rows: several internal prediction chunks (of 256 rows here).
    X = _sequences(n=1100, steps=3, features=2, seed=5)
    fit_rows = slice(0, 40)
    est = RNNRegressor(
        hidden_sizes=(3,), bidirectional=True, dense_sizes=(2,), max_epochs=1,
        **SERIAL, dtype=dtype,
    ).fit(X[fit_rows], _target(X[fit_rows]))  # fmt: skip
    est.set_params(n_jobs=2)  # predict with threads: rows must not interact
    full = est.predict(X)
    perm = np.random.default_rng(0).permutation(len(X))
    assert np.array_equal(est.predict(X[perm])[np.argsort(perm)], full)
    assert np.array_equal(est.predict(X[:1]), full[:1])
    assert np.array_equal(est.predict(X[-7:]), full[-7:])
    clf = RNNClassifier(hidden_sizes=(3,), max_epochs=1, **SERIAL, dtype=dtype)
    clf.fit(X[fit_rows], _labels(X[fit_rows], 3)).set_params(n_jobs=2)
    proba = clf.predict_proba(X)
    assert np.array_equal(clf.predict_proba(X[perm])[np.argsort(perm)], proba)
    assert np.array_equal(clf.predict_proba(X[5:6]), proba[5:6])


def test_predict_runs_the_network_in_chunks_that_bound_memory(monkeypatch):
    # 256 rows per forward call; fewer, down to 64, where the widest per-step array
    # would pass 16 MiB: 16 MiB / (8192 steps * 4 units * 4 bytes) = 128 rows.
    rows = []
    forward = rnnkit._network.forward

    def counting_forward(spec, params, x, *args, **kwargs):
        rows.append(len(x))
        return forward(spec, params, x, *args, **kwargs)

    monkeypatch.setattr(rnnkit._network, "forward", counting_forward)
    X = _sequences(n=8, steps=3, features=1)
    est = RNNRegressor(hidden_sizes=(4,), max_epochs=1, **SERIAL).fit(X, _target(X))
    rows.clear()
    est.predict(np.zeros((600, 3, 1)))
    assert rows == [256, 256, 88]
    rows.clear()
    est.predict(np.zeros((200, 8192, 1)))
    assert rows == [128, 72]
    rows.clear()
    est.predict(np.zeros((100, 40_000, 1)))  # 26 rows would fit; never fewer than 64
    assert rows == [64, 36]
    # The widest layer, both directions, 8-byte floats: 16 MiB / (2048 * 2 * 4 * 8).
    est = RNNRegressor(
        hidden_sizes=(4, 2), bidirectional=True, max_epochs=1, dtype="float64", **SERIAL
    ).fit(X, _target(X))
    rows.clear()
    est.predict(np.zeros((200, 2048, 1)))
    assert rows == [128, 72]
    # With return_sequences the head's per-step outputs count too: 16 MiB / (2048 * 16 * 4).
    y = np.zeros((8, 3, 16))
    est = RNNRegressor(hidden_sizes=(4,), return_sequences=True, max_epochs=1, **SERIAL).fit(X, y)
    rows.clear()
    est.predict(np.zeros((200, 2048, 1)))
    assert rows == [128, 72]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_does_not_depend_on_the_form_of_X(dtype):
    # An array already in the model's dtype and C order takes a shorter validation path
    # than any other form of the same values; all must predict the same bits.
    X = _sequences(n=9, steps=4, features=2, seed=6).astype(np.float32)  # exact either way
    est = RNNRegressor(**TINY, dtype=dtype).fit(X, _target(X))
    same = np.ascontiguousarray(X, dtype=dtype)
    expected = est.predict(same)
    other = "float64" if dtype == "float32" else "float32"
    for form in (np.asfortranarray(same), same.astype(other), list(same), same.tolist()):
        assert np.array_equal(est.predict(form), expected)


# -- targets and output shapes ------------------------------------------------------------


@pytest.mark.parametrize("y_shape", [(24,), (24, 2), (24, 1)])
def test_regression_prediction_has_the_shape_of_y(y_shape):
    X = _sequences(n=24)
    y = np.random.default_rng(2).standard_normal(y_shape)
    est = RNNRegressor(**TINY).fit(X, y)
    assert est.predict(X).shape == y_shape
    assert est.params_["output.weight"].shape[0] == (y_shape[1] if len(y_shape) == 2 else 1)


@pytest.mark.parametrize("k", [None, 3])
def test_return_sequences_regression_on_arrays(k):
    X = _sequences(n=12, steps=5)
    rng = np.random.default_rng(3)
    y = rng.standard_normal((12, 5) if k is None else (12, 5, k))
    est = RNNRegressor(**TINY, return_sequences=True, dtype="float64").fit(X, y)
    pred = est.predict(X)
    assert pred.shape == y.shape and pred.dtype == np.float64
    # R² over every step (and the mean over outputs), as scikit-learn computes it.
    width = 1 if k is None else k
    expected = r2_score(y.reshape(-1, width), pred.reshape(-1, width))
    assert est.score(X, y) == pytest.approx(expected, rel=1e-9)
    # Any number of steps at predict time, one output per step.
    assert est.predict(_sequences(n=2, steps=8)).shape[:2] == (2, 8)


def test_return_sequences_regression_on_ragged_lists():
    X = _ragged(2)
    y = [x[:, 0] * 0.5 for x in X]
    est = RNNRegressor(**TINY, return_sequences=True, dtype="float64").fit(X, y)
    pred = est.predict(X)
    assert isinstance(pred, list)
    assert [p.shape for p in pred] == [(t,) for t in RAGGED_LENGTHS]
    assert all(p.dtype == np.float64 for p in pred)
    # Only valid steps count: padding never enters the score.
    expected = r2_score(np.concatenate(y), np.concatenate(pred))
    assert est.score(X, y) == pytest.approx(expected, rel=1e-9)


def test_return_sequences_classification_with_string_labels():
    X = _sequences(n=16, steps=5)
    y = np.array(["mid", "low", "high"])[np.digitize(X[:, :, 0], [-0.4, 0.4])]
    est = RNNClassifier(**TINY, return_sequences=True).fit(X, y)
    assert list(est.classes_) == ["high", "low", "mid"]
    pred = est.predict(X)
    proba = est.predict_proba(X)
    assert pred.shape == (16, 5) and set(np.unique(pred)) <= set(est.classes_)
    assert proba.shape == (16, 5, 3)
    assert_allclose(proba.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.array_equal(est.classes_[proba.argmax(axis=-1)], pred)
    assert est.score(X, y) == pytest.approx(np.mean(pred == y))

    ragged = _ragged(2)
    labels = [np.where(x[:, 0] > 0, "pos", "neg") for x in ragged]
    est = RNNClassifier(**TINY, return_sequences=True).fit(ragged, labels)
    pred = est.predict(ragged)
    proba = est.predict_proba(ragged)
    assert [p.shape for p in pred] == [(t,) for t in RAGGED_LENGTHS]
    assert [p.shape for p in proba] == [(t, 2) for t in RAGGED_LENGTHS]
    for p in proba:
        assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    # Accuracy over the valid steps only.
    expected = np.mean(np.concatenate(pred) == np.concatenate(labels))
    assert est.score(ragged, labels) == pytest.approx(expected)


# -- classifier ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_string_labels_and_output_layer(n_classes):
    X = _sequences(n=30)
    y = _labels(X, n_classes)
    est = RNNClassifier(**TINY).fit(X, y)
    assert list(est.classes_) == sorted(set(y))
    # 2 classes: one sigmoid logit; more: one softmax logit per class.
    assert est.params_["output.weight"].shape[0] == (1 if n_classes == 2 else n_classes)
    proba = est.predict_proba(X)
    assert proba.shape == (30, n_classes)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    pred = est.predict(X)
    assert pred.dtype.kind == "U"
    assert np.array_equal(est.classes_[proba.argmax(axis=1)], pred)
    assert est.score(X, y) == pytest.approx(np.mean(pred == y))


# -- fitted attributes --------------------------------------------------------------------


def test_params_names_and_shapes():
    X = _sequences(features=3)
    y = np.random.default_rng(0).standard_normal((len(X), 2))
    est = RNNRegressor(
        cell="lstm", hidden_sizes=(4, 5), bidirectional=True, dense_sizes=(6,),
        max_epochs=1, **SERIAL,
    ).fit(X, y)  # fmt: skip
    expected = {
        "output.weight": (2, 6),
        "output.bias": (2,),
        "dense.0.weight": (6, 10),  # (out, in) like torch.nn.Linear; in = 2 directions x 5
        "dense.0.bias": (6,),
    }
    for layer, (width, hidden) in enumerate([(3, 4), (8, 5)]):  # layer 1 reads 2 x 4
        for suffix in ("", "_reverse"):
            p = f"rnn.{layer}."
            expected[p + "weight_ih" + suffix] = (4 * hidden, width)  # 4 LSTM gates
            expected[p + "weight_hh" + suffix] = (4 * hidden, hidden)
            expected[p + "bias_ih" + suffix] = (4 * hidden,)
            expected[p + "bias_hh" + suffix] = (4 * hidden,)
    assert {name: a.shape for name, a in est.params_.items()} == expected
    assert all(isinstance(a, np.ndarray) for a in est.params_.values())

    gru = RNNClassifier(cell="gru", hidden_sizes=(4,), max_epochs=1, n_jobs=1).fit(X, _labels(X, 3))
    assert set(gru.params_) == {
        "rnn.0.weight_ih", "rnn.0.weight_hh", "rnn.0.bias_ih", "rnn.0.bias_hh",
        "output.weight", "output.bias",
    }  # fmt: skip
    assert gru.params_["rnn.0.weight_ih"].shape == (12, 3)  # 3 GRU gates


def test_history_and_curves_without_validation():
    X = _sequences()
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=4, n_iter_no_change=4, **SERIAL)
    est.fit(X, _target(X))
    assert set(est.history_) == {"loss", "val_loss", "val_score", "time"}
    assert est.n_iter_ == 4
    assert all(len(v) == 4 for v in est.history_.values())
    assert est.history_["val_loss"] == [None] * 4
    assert est.history_["val_score"] == [None] * 4
    assert all(t >= 0 for t in est.history_["time"])
    assert list(est.loss_curve_) == est.history_["loss"]
    assert est.validation_scores_ is None
    assert est.best_loss_ == min(est.loss_curve_)


def test_history_with_validation_data():
    X, X_val = _sequences(seed=0), _sequences(n=10, seed=1)
    est = RNNClassifier(hidden_sizes=(3,), max_epochs=3, n_iter_no_change=3, **SERIAL)
    est.fit(X, _labels(X, 2), validation_data=(X_val, _labels(X_val, 2)))
    assert est.n_iter_ == 3
    assert len(est.validation_scores_) == 3
    assert all(0.0 <= s <= 1.0 for s in est.validation_scores_)  # accuracy
    assert all(np.isfinite(v) and v > 0 for v in est.history_["val_loss"])
    assert list(est.validation_scores_) == est.history_["val_score"]
    assert est.best_loss_ == min(est.loss_curve_)


# -- stopping rules -----------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_early_stopping_with_validation_fraction(Estimator):
    X = _sequences(n=40)
    y = _target(X) if Estimator is RNNRegressor else _labels(X, 2)
    # A tol no score can beat: after the first epoch nothing counts as an improvement,
    # so, by scikit-learn MLP's rule (stop once more than n_iter_no_change epochs have not
    # improved), training stops after exactly 2 + n_iter_no_change epochs.
    est = Estimator(
        hidden_sizes=(3,), max_epochs=30, early_stopping=True, validation_fraction=0.25,
        n_iter_no_change=2, tol=100.0, **SERIAL,
    ).fit(X, y)  # fmt: skip
    assert est.n_iter_ == 4
    assert len(est.validation_scores_) == 4
    assert all(v is not None for v in est.history_["val_loss"])


def test_early_stopping_on_validation_data_keeps_the_best_epoch():
    X, X_val = _sequences(n=30, seed=0), _sequences(n=15, seed=1)
    # The validation target is the negated training target: the better the model learns,
    # the worse its validation score, so the score stops improving early.
    y_val = -_target(X_val)
    est = RNNRegressor(
        hidden_sizes=(4,), max_epochs=40, batch_size=64, learning_rate=0.02,
        early_stopping=True, n_iter_no_change=3, tol=0.0, **SERIAL,
    ).fit(X, _target(X), validation_data=(X_val, y_val))  # fmt: skip
    assert est.n_iter_ < 40
    assert len(est.validation_scores_) == est.n_iter_
    assert len(est.history_["val_loss"]) == est.n_iter_
    # The estimator keeps the weights of the best validation epoch (score reads y_val as
    # float64, the epochs' validation as the float32 model's targets: 1e-8 apart).
    assert est.score(X_val, y_val) == pytest.approx(max(est.validation_scores_), abs=1e-6)


def test_validation_data_without_early_stopping_stops_on_training_loss():
    X, X_val = _sequences(n=30, seed=0), _sequences(n=15, seed=1)
    y_val = -_target(X_val)  # validation score only gets worse (see above)
    common = dict(hidden_sizes=(4,), max_epochs=12, batch_size=64, learning_rate=0.02,
                  n_iter_no_change=3, tol=0.0, **SERIAL)  # fmt: skip
    est = RNNRegressor(**common).fit(X, _target(X), validation_data=(X_val, y_val))
    # Full-batch training keeps lowering the loss, so every epoch runs ...
    assert est.n_iter_ == 12
    assert len(est.validation_scores_) == 12
    # ... although the validation score stopped improving long before.
    best = int(np.argmax(est.validation_scores_))
    assert best < 12 - 3
    stopped = RNNRegressor(**common, early_stopping=True)
    stopped.fit(X, _target(X), validation_data=(X_val, y_val))
    assert stopped.n_iter_ < 12


def test_validation_split_keeps_its_sample_weights():
    # A third of the samples have weight 0 and a target replaced at random. Weighted as
    # scikit-learn's MLP weighs its validation split, they are invisible: two different
    # replacements give the same validation scores, bit for bit. (The regressor: the
    # classifier's split is stratified, so its labels choose the split.)
    X = _sequences(n=60)
    y = _target(X)
    zero = np.arange(len(X)) % 3 == 0
    weights = np.where(zero, 0.0, 1.0)

    def scores(seed, sample_weight):
        spoiled = y.copy()
        spoiled[zero] = np.random.default_rng(seed).permutation(y)[: zero.sum()]
        est = RNNRegressor(hidden_sizes=(3,), max_epochs=3, early_stopping=True,
                           validation_fraction=0.5, **SERIAL)  # fmt: skip
        est.fit(X, spoiled, sample_weight=sample_weight)
        assert all(np.isfinite(est.history_["val_loss"]))
        return est.validation_scores_

    assert scores(1, weights) == scores(2, weights)
    assert scores(1, None) != scores(2, None)  # unweighted, the spoiled samples count


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_validation_data_with_sample_weights(Estimator):
    # Keras' (X_val, y_val, sample_weight_val): the score and loss after the one epoch
    # are the weighted ones.
    X, X_val = _sequences(seed=0), _sequences(n=10, seed=1)
    target = _target if Estimator is RNNRegressor else lambda a: _labels(a, 2)
    w_val = np.arange(1.0, 11.0)
    est = Estimator(hidden_sizes=(3,), max_epochs=1, dtype="float64", **SERIAL)
    est.fit(X, target(X), validation_data=(X_val, target(X_val), w_val))
    assert est.validation_scores_[0] == est.score(X_val, target(X_val), sample_weight=w_val)
    assert est.validation_scores_[0] != est.score(X_val, target(X_val))
    if Estimator is RNNRegressor:
        errors = (est.predict(X_val) - target(X_val)) ** 2
        assert est.history_["val_loss"][0] == pytest.approx(np.average(errors, weights=w_val))


def test_training_loss_plateau_stops_without_early_stopping():
    X = _sequences()
    # tol larger than any loss: only the first epoch counts as an improvement, and MLP's
    # rule stops once more than n_iter_no_change epochs have not improved.
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=20, n_iter_no_change=3, tol=100.0, **SERIAL)
    est.fit(X, _target(X))
    assert est.n_iter_ == 1 + 3 + 1
    assert len(est.loss_curve_) == 5
    # n_iter_no_change=max_epochs: every epoch runs whatever the loss does.
    est.set_params(max_epochs=6, n_iter_no_change=6).fit(X, _target(X))
    assert est.n_iter_ == 6


# -- random_state -------------------------------------------------------------------------


# Networks wide enough that a step of a batch of 32 is split between threads (the kernels
# start one per 2^17 multiply-adds of a step: common/parallel.hpp); the last test below
# checks that n_jobs=2 does start them.
N_JOBS_CONFIGS = {
    "lstm-dropout": (RNNRegressor, dict(cell="lstm", hidden_sizes=(64, 32), dropout=0.3)),
    "bidirectional-gru": (
        RNNRegressor,
        dict(cell="gru", hidden_sizes=(64,), bidirectional=True, dense_sizes=(3,)),
    ),
    "rnn-classifier": (RNNClassifier, dict(cell="rnn", hidden_sizes=(128,), dropout=0.2)),
}


@pytest.mark.parametrize("name", sorted(N_JOBS_CONFIGS))
def test_same_seed_same_model_for_any_n_jobs(name):
    Estimator, config = N_JOBS_CONFIGS[name]
    X = _sequences(n=64, steps=6)
    y = _target(X) if Estimator is RNNRegressor else _labels(X, 3)

    def params(seed, n_jobs):
        est = Estimator(**config, max_epochs=2, batch_size=32, random_state=seed, n_jobs=n_jobs)
        return est.fit(X, y).params_

    reference = params(7, 1)
    assert _params_equal(params(7, 2), reference)
    assert _params_equal(params(7, 1), reference)
    other = params(8, 1)
    assert not any(np.array_equal(other[k], reference[k]) for k in reference if "weight" in k)


def test_same_model_for_any_number_of_blas_threads():
    # numpy's dot products and norms run in its BLAS, whose threads split the sums: the
    # gradient norm that clip_norm divides by came out in other bits with two BLAS
    # threads (OMP_NUM_THREADS=2) than with one, and so did every weight after it.
    X = _sequences(n=64, steps=10, features=3)

    def fit(blas_threads):
        est = RNNRegressor(hidden_sizes=(128,), clip_norm=0.01, alpha=1e-3, max_epochs=2,
                           dtype="float64", random_state=0, n_jobs=1)  # fmt: skip
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            return est.fit(X, _target(X))

    one, two = fit(1), fit(2)
    assert _params_equal(one.params_, two.params_)
    assert one.loss_curve_ == two.loss_curve_  # the losses' sums and the L2 term too


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_n_jobs_reaches_the_kernels(n_jobs):
    # What makes the test above mean something: with n_jobs=2 a fit of its networks runs
    # on more than one thread, with n_jobs=1 on one.
    setup = (
        "import numpy as np; from rnnkit import RNNRegressor; "
        "X = np.random.default_rng(0).standard_normal((64, 6, 2)); y = X[:, :, 0].mean(axis=1)"
    )
    call = (
        "RNNRegressor(cell='lstm', hidden_sizes=(64, 32), max_epochs=1, batch_size=32, "
        f"random_state=0, n_jobs={n_jobs}).fit(X, y)"
    )
    started = threads_started(setup, call)
    assert started > 0 if n_jobs > 1 and ops.kernel_info()["openmp"] else started == 0


# -- warm_start and partial_fit -----------------------------------------------------------


def test_warm_start_continues_and_cold_start_restarts():
    X = _sequences(n=30)
    y = _target(X)
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=4, n_iter_no_change=4, batch_size=64,
                       learning_rate=0.01, warm_start=True, **SERIAL)  # fmt: skip
    est.fit(X, y)
    first = _copy_params(est)
    est.fit(X, y)
    assert est.n_iter_ == 8
    assert len(est.loss_curve_) == 8
    assert not _params_equal(est.params_, first)
    assert np.mean(est.loss_curve_[4:]) < np.mean(est.loss_curve_[:4])
    # warm_start=False: a new network from the same seed, the same one as the first fit.
    est.set_params(warm_start=False).fit(X, y)
    assert est.n_iter_ == 4
    assert len(est.loss_curve_) == 4
    assert _params_equal(est.params_, first)


def test_partial_fit_regressor_runs_one_epoch_per_call():
    X = _sequences()
    est = RNNRegressor(hidden_sizes=(3,), **SERIAL)
    before = None
    for call in range(1, 4):
        est.partial_fit(X, _target(X))
        assert est.n_iter_ == call
        assert len(est.loss_curve_) == call
        if before is not None:
            assert not _params_equal(est.params_, before)
        before = _copy_params(est)


def test_partial_fit_classifier_with_classes_then_subsets():
    X = _sequences(n=30)
    y = _labels(X, 3)
    est = RNNClassifier(hidden_sizes=(3,), **SERIAL)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y)
    # The first call names every class, even those missing from its data.
    first = y != "high"
    est.partial_fit(X[first], y[first], classes=["mid", "low", "high"])
    assert list(est.classes_) == ["high", "low", "mid"]
    assert est.n_iter_ == 1
    assert est.params_["output.weight"].shape[0] == 3
    only_low = y == "low"
    est.partial_fit(X[only_low], y[only_low])
    est.partial_fit(X, y)
    assert est.n_iter_ == 3
    assert est.predict_proba(X).shape == (30, 3)


# -- persistence and scikit-learn tools ---------------------------------------------------


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_pickle_and_joblib_round_trips(Estimator, tmp_path):
    X = _sequences()
    y = _target(X) if Estimator is RNNRegressor else _labels(X, 3)
    est = Estimator(hidden_sizes=(3,), dense_sizes=(2,), max_epochs=2, **SERIAL).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    method = "predict" if Estimator is RNNRegressor else "predict_proba"
    for loaded in (pickle.loads(pickle.dumps(est)), joblib.load(path)):
        assert np.array_equal(getattr(loaded, method)(X), getattr(est, method)(X))
        assert _params_equal(loaded.params_, est.params_)


def test_pickled_model_trains_on_exactly_like_the_original():
    # The optimizer state and the random generator travel with the estimator.
    X = _sequences()
    y = _target(X)
    est = RNNRegressor(hidden_sizes=(3,), dropout=0.2, max_epochs=2, batch_size=8,
                       **SERIAL).fit(X, y)  # fmt: skip
    copy = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    assert _params_equal(copy.params_, est.params_)


def test_clone_is_unfitted_with_the_same_params():
    X = _sequences()
    est = RNNClassifier(hidden_sizes=(4, 2), bidirectional=True, class_weight="balanced",
                        max_epochs=1, random_state=3, n_jobs=1).fit(X, _labels(X, 2))  # fmt: skip
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)
    assert not hasattr(cloned, "params_")


def test_pipeline_with_a_scaler_on_2d_input():
    X = _sequences(n=30, steps=6, features=1)[:, :, 0] * 10 + 3
    y = X.mean(axis=1)
    pipe = Pipeline([("scale", StandardScaler()), ("rnn", RNNRegressor(**TINY))]).fit(X, y)
    assert pipe.named_steps["rnn"].n_features_in_ == 6
    pred = pipe.predict(X)
    assert pred.shape == (30,)
    scaled = pipe.named_steps["scale"].transform(X)
    assert np.array_equal(pred, pipe.named_steps["rnn"].predict(scaled))


def test_grid_search_in_parallel():
    X = _sequences(n=30)
    y = _labels(X, 2)

    def search(n_jobs):
        grid = GridSearchCV(
            RNNClassifier(max_epochs=2, **SERIAL),
            {"hidden_sizes": [(4,), (8,)]},
            cv=2,
            n_jobs=n_jobs,
        )
        return grid.fit(X, y)

    parallel, serial = search(2), search(1)
    # Fits in joblib's worker processes are the same bits as in this one.
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        assert np.array_equal(parallel.cv_results_[key], serial.cv_results_[key]), key
    assert parallel.best_params_ == serial.best_params_
    assert np.array_equal(
        parallel.best_estimator_.predict_proba(X), serial.best_estimator_.predict_proba(X)
    )


# -- sample and class weights -------------------------------------------------------------

# One full batch of deterministic gradient descent: then sum(w * loss) / sum(w) makes a
# weighted fit and a fit on repeated rows the same computation up to summation order.
FULL_BATCH = dict(hidden_sizes=(3,), max_epochs=4, n_iter_no_change=4, batch_size=1000,
                  dtype="float64", optimizer="sgd", momentum=0.0, learning_rate=0.1,
                  dropout=0.0, **SERIAL)  # fmt: skip


def _assert_params_close(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert_allclose(a[name], b[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_integer_sample_weights_equal_repeated_rows(Estimator):
    X = _sequences(n=12)
    y = _target(X) if Estimator is RNNRegressor else _labels(X, 3)
    w = np.array([1, 2, 3, 1, 1, 2, 1, 1, 1, 3, 1, 2])
    weighted = Estimator(**FULL_BATCH).fit(X, y, sample_weight=w)
    repeated_rows = np.repeat(np.arange(12), w)
    repeated = Estimator(**FULL_BATCH).fit(X[repeated_rows], y[repeated_rows])
    _assert_params_close(weighted.params_, repeated.params_)
    # The weights matter: unweighted training ends elsewhere.
    plain = Estimator(**FULL_BATCH).fit(X, y)
    assert not np.allclose(plain.params_["output.weight"], weighted.params_["output.weight"])


def test_zero_sample_weight_equals_removing_the_row():
    X = _sequences(n=12)
    y = _target(X)
    w = np.ones(12)
    w[[3, 8]] = 0.0
    weighted = RNNRegressor(**FULL_BATCH).fit(X, y, sample_weight=w)
    kept = w > 0
    removed = RNNRegressor(**FULL_BATCH).fit(X[kept], y[kept])
    _assert_params_close(weighted.params_, removed.params_)


def test_class_weight():
    X = _sequences(n=12)
    y = _labels(X, 3)
    assert len(set(y)) == 3
    plain = RNNClassifier(**FULL_BATCH).fit(X, y)

    # A dict multiplies each sample's weight by its class's weight, 0 included.
    class_weight = {"low": 2.0, "mid": 1.0, "high": 0.0}
    by_class = RNNClassifier(**FULL_BATCH, class_weight=class_weight).fit(X, y)
    by_sample = RNNClassifier(**FULL_BATCH).fit(
        X, y, sample_weight=np.array([class_weight[label] for label in y])
    )
    assert _params_equal(by_class.params_, by_sample.params_)
    assert not _params_equal(by_class.params_, plain.params_)
    # A zero-weight class still has its output: classes_ come from y, not from weights.
    assert list(by_class.classes_) == ["high", "low", "mid"]

    balanced = RNNClassifier(**FULL_BATCH, class_weight="balanced").fit(X, y)
    per_class = compute_class_weight("balanced", classes=np.unique(y), y=y)
    by_sample = RNNClassifier(**FULL_BATCH).fit(
        X, y, sample_weight=per_class[np.searchsorted(np.unique(y), y)]
    )
    _assert_params_close(balanced.params_, by_sample.params_)
    assert len(set(np.unique(y, return_counts=True)[1])) > 1  # unequal counts: weights != 1
    assert not _params_equal(balanced.params_, plain.params_)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_balanced_class_weight_counts_the_sample_weights(return_sequences):
    # "balanced" counted each label once whatever its sample weight, so a weight of 0 was
    # not the same as leaving the sample out (predictions 0.46 apart); scikit-learn's
    # compute_class_weight counts weighted labels, and LogisticRegression passes them.
    X = _sequences(n=18)
    if return_sequences:  # each step's label, counted with its sequence's weight
        y = np.array(["mid", "low", "high"])[np.digitize(X[:, :, 0], [-0.4, 0.4])]
    else:
        y = _labels(X, 3)
    weights = np.ones(len(X))
    weights[:5] = 0.0
    keep = weights > 0
    options = dict(FULL_BATCH, class_weight="balanced", return_sequences=return_sequences)
    weighted = RNNClassifier(**options).fit(X, y, sample_weight=weights)
    left_out = RNNClassifier(**options).fit(X[keep], y[keep])
    assert list(weighted.classes_) == list(left_out.classes_)
    _assert_params_close(weighted.params_, left_out.params_)
    assert not _params_equal(weighted.params_, RNNClassifier(**options).fit(X, y).params_)


def test_balanced_class_weight_of_huge_sample_weights():
    # Only the weights' ratios matter: n_classes * count overflowed to inf for a class
    # holding a weight near float64's limit, and its class weight became 0.
    X = _sequences(n=20)
    y = np.repeat(["a", "b"], 10)
    weights = np.ones(20)
    weights[0] = 1e308
    est = RNNClassifier(hidden_sizes=(3,), class_weight="balanced", max_epochs=1, **SERIAL)
    est.fit(X, y, sample_weight=weights)
    targets = np.repeat([0, 1], 10)
    huge, scaled = (
        est._target_weights(targets, weights),
        est._target_weights(targets, weights * 1e-300),
    )
    assert_allclose(huge, scaled, rtol=1e-12)  # class weights: ratios of the weights
    assert huge[0] > 0 and huge[10] > huge[0]


# -- optimization -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [dict(optimizer="adam"), dict(optimizer="sgd", learning_rate=0.1),
     dict(optimizer="rmsprop"), dict(decay=0.1), dict(alpha=0.1),
     dict(clip_norm=0.1), dict(clip_value=0.01)],
    ids=["adam", "sgd", "rmsprop", "decay", "alpha", "clip_norm", "clip_value"],
)  # fmt: skip
def test_optimizer_options_reduce_the_training_loss(options):
    X = _sequences(n=30, steps=6)
    y = X[:, -1, 0]  # the last step's input: easy to learn
    options = {"learning_rate": 0.01, **options}
    est = RNNRegressor(hidden_sizes=(4,), max_epochs=15, n_iter_no_change=15, batch_size=8,
                       **SERIAL, **options).fit(X, y)  # fmt: skip
    assert all(np.isfinite(est.loss_curve_))
    assert est.loss_curve_[-1] < 0.75 * est.loss_curve_[0]


def test_alpha_shrinks_the_weights():
    X = _sequences(n=30, steps=6)
    y = X[:, -1, 0]

    def weight_norm(alpha):
        est = RNNRegressor(hidden_sizes=(4,), max_epochs=15, batch_size=8, learning_rate=0.01,
                           alpha=alpha, **SERIAL).fit(X, y)  # fmt: skip
        return {k: np.linalg.norm(v) for k, v in est.params_.items() if ".weight" in k}

    penalized, free = weight_norm(1.0), weight_norm(0.0)
    assert all(penalized[k] < free[k] for k in free)


@pytest.mark.parametrize("clip", ["clip_value", "clip_norm"])
def test_clipping_bounds_one_sgd_step(clip):
    # Plain SGD with learning rate 1 on one full batch: an update is minus the clipped
    # gradient, so its size is bounded by the clip threshold.
    X = _sequences(n=12)
    est = RNNRegressor(**{**FULL_BATCH, "learning_rate": 1.0, "max_epochs": 1},
                       **{clip: 1e-3}).fit(X, _target(X))  # fmt: skip
    before = np.concatenate([v.ravel() for v in est.params_.values()])
    est.set_params(warm_start=True).fit(X, _target(X))  # exactly one more update
    step = np.concatenate([v.ravel() for v in est.params_.values()]) - before
    size = np.abs(step).max() if clip == "clip_value" else np.linalg.norm(step)
    # The raw gradient is far larger than 1e-3, so the bound is reached (clip_norm's
    # factor divides by the norm plus 1e-6, as torch's clip_grad_norm_).
    assert size == pytest.approx(1e-3, rel=1e-5)
    assert size < 1e-3 * (1 + 1e-9)  # never past the bound, but for rounding


def test_bptt_steps():
    X = _sequences(n=20, steps=6)
    y = _target(X)

    def params(bptt_steps):
        est = RNNRegressor(hidden_sizes=(3,), max_epochs=2, batch_size=8, **SERIAL,
                           bptt_steps=bptt_steps).fit(X, y)  # fmt: skip
        assert all(np.isfinite(est.loss_curve_))
        return est.params_

    full = params(None)
    assert not _params_equal(params(2), full)  # truncation changes the gradient
    assert _params_equal(params(6), full)  # a window of T steps is full BPTT
    assert _params_equal(params(100), full)


# -- verbose ------------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [1, True])  # True, as scikit-learn's MLP and Keras take
def test_verbose_progress_bar_with_tqdm(capsys, verbose):
    pytest.importorskip("tqdm")
    assert rnnkit._progress.tqdm is not None
    X = _sequences()
    RNNRegressor(**TINY, verbose=verbose).fit(X, _target(X))
    err = capsys.readouterr().err  # tqdm writes to stderr
    assert "Epoch 1/2" in err and "Epoch 2/2" in err
    assert "loss" in err


def test_verbose_lines_without_tqdm(capsys, monkeypatch):
    monkeypatch.setattr(rnnkit._progress, "tqdm", None)
    X = _sequences()
    RNNRegressor(**TINY, verbose=1).fit(X, _target(X), validation_data=(X, _target(X)))
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - loss")
    assert lines[1].startswith("Epoch 2/2 - loss")
    assert all("val_score" in line for line in lines)


def test_verbose_zero_prints_nothing(capsys):
    X = _sequences()
    RNNRegressor(**TINY, verbose=0).fit(X, _target(X))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# -- scikit-learn callbacks ---------------------------------------------------------------


class _EpochRecorder:
    """A FitCallback that records each epoch and can ask to stop after ``stop_after``."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.setups = self.teardowns = self.fit_ends = 0
        self.losses, self.predictions = [], []

    def setup(self, estimator, context):
        self.setups += 1

    def teardown(self, estimator, context):
        self.teardowns += 1

    def on_fit_task_begin(
        self, estimator, context, *, X=None, y=None, metadata=None, fitted_estimator=None
    ):
        pass

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, metadata=None, fitted_estimator=None
    ):
        if context.parent is None:  # the root task: the whole fit
            self.fit_ends += 1
            return False
        # The epoch's metrics are read from the estimator's history, not from metadata:
        # in sklearn.callback, metadata is fit metadata (sample_weight) that scorers take
        # as keyword arguments (see test_scoring_monitor_callback).
        self.losses.append(estimator.history_["loss"][-1])
        assert fitted_estimator is not estimator
        self.predictions.append(fitted_estimator.predict(X))
        return self.stop_after is not None and len(self.losses) >= self.stop_after


def test_callback_sees_every_epoch():
    pytest.importorskip("sklearn.callback")
    X = _sequences()
    recorder = _EpochRecorder()
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=3, n_iter_no_change=3, **SERIAL)
    est.set_callbacks(recorder)
    est.fit(X, _target(X))
    assert (recorder.setups, recorder.teardowns, recorder.fit_ends) == (1, 1, 1)
    assert len(recorder.losses) == est.n_iter_ == 3
    assert recorder.losses == list(est.loss_curve_)  # each hook ran after its own epoch
    # fitted_estimator is the model as it stood at the end of that epoch.
    assert all(p.shape == (len(X),) for p in recorder.predictions)
    assert np.array_equal(recorder.predictions[-1], est.predict(X))
    assert not np.array_equal(recorder.predictions[0], recorder.predictions[-1])


def test_callback_can_stop_training():
    pytest.importorskip("sklearn.callback")
    X = _sequences()
    recorder = _EpochRecorder(stop_after=2)
    est = RNNClassifier(hidden_sizes=(3,), max_epochs=10, n_iter_no_change=10, **SERIAL)
    est.set_callbacks(recorder).fit(X, _labels(X, 2))
    assert est.n_iter_ == 2
    assert len(est.loss_curve_) == 2
    assert len(recorder.losses) == 2
    assert recorder.teardowns == 1
    assert np.array_equal(recorder.predictions[-1], est.predict(X))


class _FailingCallback(_EpochRecorder):
    """Raises as the first epoch begins, after the fit has set its callbacks up."""

    def on_fit_task_begin(self, estimator, context, **data):
        if context.parent is not None:
            raise RuntimeError("callback failed")


def test_callbacks_are_torn_down_when_the_first_epoch_fails():
    # A fit that fails before its first epoch ends puts the estimator back as it was. It
    # put back the callback API's own attributes too, so scikit-learn never called
    # teardown, and a ProgressBar's thread then kept the interpreter from exiting.
    pytest.importorskip("sklearn.callback")
    X = _sequences()
    callback = _FailingCallback()
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=3, **SERIAL).set_callbacks(callback)
    with pytest.raises(RuntimeError, match="callback failed"):
        est.fit(X, _target(X))
    assert (callback.setups, callback.teardowns) == (1, 1)
    assert not hasattr(est, "params_")  # put back as it was
    assert not hasattr(est, "_callback_fit_ctx")  # scikit-learn removed it after teardown
    fitted = RNNRegressor(hidden_sizes=(3,), max_epochs=1, **SERIAL).fit(X, _target(X))
    before = {name: value.copy() for name, value in fitted.params_.items()}
    fitted.set_params(warm_start=True).set_callbacks(callback)
    with pytest.raises(RuntimeError, match="callback failed"):  # a warm fit's first epoch
        fitted.fit(X, _target(X))
    assert (callback.setups, callback.teardowns) == (2, 2)
    assert all(np.array_equal(fitted.params_[name], before[name]) for name in before)


def test_scoring_monitor_callback():
    # DESIGN §5 names scikit-learn's scoring monitors among the callbacks the estimators
    # accept. ScoringMonitor calls scorer(fitted_estimator, X, y, **metadata) at the end
    # of every task, so metadata may only hold what a scorer takes (sample_weight).
    callback = pytest.importorskip("sklearn.callback")
    X = _sequences()
    y = _target(X)
    monitor = callback.ScoringMonitor(scoring="r2")
    est = RNNRegressor(hidden_sizes=(3,), max_epochs=3, n_iter_no_change=3, **SERIAL)
    est.set_callbacks(monitor).fit(X, y)
    rows = [row for row in monitor.get_logs().data if "r2" in row]
    assert len(rows) == 3  # one score per epoch
    # The last epoch's score is the fitted model's (the estimator scores float32 targets).
    assert rows[-1]["r2"] == pytest.approx(est.score(X, y), abs=1e-8)


def test_ragged_per_step_labels_keep_every_label():
    # The padded labels took the first sequence's dtype: "NNS" after "NN" became "NN"
    # and 300 after int8 labels became 44, silently, in training and in score.
    X = [np.ones((2, 3)), np.ones((3, 3)), np.ones((2, 3))]
    tags = [["DT", "NN"], ["DT", "NNS", "VBZ"], ["NN", "VB"]]
    est = RNNClassifier(return_sequences=True, **TINY).fit(X, tags, validation_data=(X, tags))
    assert est.classes_.tolist() == ["DT", "NN", "NNS", "VB", "VBZ"]
    numbers = [np.array([0, 1], np.int8), np.array([0, 300, 2]), np.array([1, 2])]
    est = RNNClassifier(return_sequences=True, **TINY).fit(X, numbers)
    assert est.classes_.tolist() == [0, 1, 2, 300]


@pytest.mark.parametrize("return_sequences", [False, True])
def test_classifier_score_counts_an_unseen_label_as_a_miss(return_sequences):
    # As accuracy_score(y, predict(X)) does (ClassifierMixin.score): a cross-validation
    # fold holding a class the model never saw scores, it does not raise.
    X = _sequences(n=12)
    labels = np.array(["a", "b", "c"] * 4)
    y = np.repeat(labels[:, None], 5, axis=1) if return_sequences else labels
    est = RNNClassifier(return_sequences=return_sequences, **TINY).fit(X, y)
    unseen = y.copy()
    unseen[:4] = "z"
    predicted = est.predict(X)
    expected = np.mean(np.asarray(predicted) == unseen)
    assert est.score(X, unseen) == pytest.approx(expected, abs=1e-12)


def test_predict_and_score_keep_the_fitted_return_sequences():
    # set_params changes the next fit, not the fitted model: predict read the new value
    # and failed (IndexError) on ragged X, score asked for per-step targets.
    X, y = _ragged(2), [float(len(x)) for x in _ragged(2)]
    est = RNNRegressor(**TINY).fit(X, y)
    predicted, score = est.predict(X), est.score(X, y)
    est.set_params(return_sequences=True)
    assert_allclose(est.predict(X), predicted, rtol=0, atol=0)
    assert est.score(X, y) == score


def test_score_reads_y_as_given_not_in_the_model_dtype():
    # A float32 model rounded y to float32 before R^2: 0.947 against r2_score's 0.937
    # for targets near 3e7.
    X = _sequences(n=40)
    y = 3e7 + 1e6 * _target(X) + np.arange(40) * 0.3
    est = RNNRegressor(dtype="float32", **TINY).fit(X, y)
    assert est.score(X, y) == pytest.approx(r2_score(y, est.predict(X)), abs=1e-12)


def test_n_jobs_minus_one_counts_the_cores_this_process_may_use(monkeypatch):
    # joblib's count follows CPU affinity and cgroup quotas; os.cpu_count() counted the
    # host's cores, more threads than n_jobs=None gets in a limited container.
    monkeypatch.setattr(joblib, "cpu_count", lambda *args, **kwargs: 3)
    assert RNNRegressor(n_jobs=-1)._threads() == 3
    assert RNNRegressor(n_jobs=-2)._threads() == 2
    assert RNNRegressor(n_jobs=-5)._threads() == 1


def _ragged_fit_predict(X, y):
    return RNNRegressor(return_sequences=True, **TINY).fit(X, y).predict(X)


def _same_per_sample(a, b):
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


def test_ragged_targets_in_object_arrays_read_as_lists():
    # numpy's own holder of sequences of different lengths: X accepted an object array
    # already, y failed with numpy's "setting an array element with a sequence".
    X = _ragged(2)
    y = [x[:, 0].cumsum() for x in X]
    X_object, y_object = np.empty(len(X), object), np.empty(len(y), object)
    X_object[:], y_object[:] = X, y
    assert _same_per_sample(_ragged_fit_predict(X_object, y_object), _ragged_fit_predict(X, y))


def test_ragged_sequences_in_pandas_series_read_as_lists():
    pandas = pytest.importorskip("pandas")
    X = _ragged(2)
    y = [x[:, 0].cumsum() for x in X]
    got = _ragged_fit_predict(pandas.Series(X), pandas.Series(y))
    assert _same_per_sample(got, _ragged_fit_predict(X, y))
