"""Errors of RNNRegressor and RNNClassifier (DESIGN §5, "Errors").

Bad input (NaN/inf, wrong feature counts, empty or malformed X, mismatched y or
sample_weight, unknown labels) and bad parameters raise a ValueError / TypeError that says
what is wrong and where, before any work is done: the tests make building or running the
network fail, so an error raised after training started shows up as an AssertionError. A
model the user fitted is never lost because of an error. A loss that becomes non-finite
stops training with a FloatingPointError and keeps the weights of the last finished epoch;
Ctrl-C keeps them too, warns, and returns the estimator. A call that fails before one of
its epochs finishes leaves the estimator as it was before the call.

"Identical" means bitwise: the same random_state gives the same model bit for bit, so an
interrupted or failed run is compared with a clean run of the epochs that finished.
"""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from rnnkit import RNNClassifier, RNNRegressor, _losses, _network

# Every fit here is 2 epochs of a 4-unit network: far from converged, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = (RNNRegressor, RNNClassifier)
LAYOUTS = ("3d", "2d", "ragged")
N, T, F = 12, 5, 3
LENGTHS = (3, 5, 4, 2, 6, 3)

_rng = np.random.default_rng(0)
X3 = _rng.normal(size=(N, T, F))
X2 = _rng.normal(size=(N, T))
XR = [_rng.normal(size=(t, F)) for t in LENGTHS]
Y = _rng.normal(size=N)
Y_STEPS = _rng.normal(size=(N, T))
YR_STEPS = [_rng.normal(size=t) for t in LENGTHS]
NAN = float("nan")


def tiny(cls, **params):
    """A network small enough that a fit takes milliseconds. One thread: on problems this
    small threads only add synchronization, and results are the same bits for any n_jobs."""
    defaults = {"hidden_sizes": (4,), "max_epochs": 2, "random_state": 0, "n_jobs": 1}
    return cls(**{**defaults, **params})


def copy_x(X):
    return [a.copy() for a in X] if isinstance(X, list) else X.copy()


def make_data(cls, layout):
    """Fresh copies of (X, y) in ``layout``: values for the regressor, labels 0/1 for the
    classifier. Copies, so a test may spoil them."""
    X = copy_x({"3d": X3, "2d": X2, "ragged": XR}[layout])
    n = len(X)
    y = Y[:n].copy() if cls is RNNRegressor else np.arange(n) % 2
    return X, y


def spoil(X, value):
    """``X`` with one entry set to ``value``, and the name check_array reports for it."""
    X = copy_x(X)
    if isinstance(X, list):
        X[2][1, -1] = value
        return X, "X[2]"
    X[1, 2, ...] = value
    return X, "X"


def first_partial_fit(est, X, y):
    """A first ``partial_fit``; the classifier's needs ``classes``."""
    if isinstance(est, RNNClassifier):
        return est.partial_fit(X, y, classes=[0, 1])
    return est.partial_fit(X, y)


@pytest.fixture
def forbid_training(monkeypatch):
    """Call the returned function to make building or running the network fail, so an
    error expected "before any work is done" cannot be raised after training started."""

    def fail(*args, **kwargs):
        raise AssertionError("the network was built or run before the error was raised")

    def forbid():
        monkeypatch.setattr(_network, "init_params", fail)
        monkeypatch.setattr(_network, "forward", fail)

    return forbid


def snapshot(est):
    """Everything a user relies on in a fitted estimator, copied."""
    state = {
        "params_": {name: a.copy() for name, a in est.params_.items()},
        "n_iter_": est.n_iter_,
        "loss_curve_": list(est.loss_curve_),
        "n_features_in_": est.n_features_in_,
    }
    if hasattr(est, "n_outputs_"):  # the regressor
        state["n_outputs_"] = est.n_outputs_
    if hasattr(est, "classes_"):
        state["classes_"] = est.classes_.copy()
    return state


def assert_params_identical(actual, expected):
    assert list(actual) == list(expected)
    for name, a in expected.items():
        assert actual[name].dtype == a.dtype, name
        assert actual[name].shape == a.shape, name
        assert actual[name].tobytes() == a.tobytes(), name


def assert_unchanged(est, before):
    after = snapshot(est)
    assert_params_identical(after.pop("params_"), before["params_"])
    classes = after.pop("classes_", None)
    if classes is not None:
        assert np.array_equal(classes, before["classes_"])
    assert after == {k: v for k, v in before.items() if k not in ("params_", "classes_")}


def all_finite(params):
    return all(np.isfinite(a).all() for a in params.values())


# --------------------------------------------------------------------------------------------
# NaN and inf
# --------------------------------------------------------------------------------------------

NON_FINITE = [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("value, what", NON_FINITE)
@pytest.mark.parametrize("how", ["fresh", "warm_start", "partial_fit"])
def test_non_finite_X(cls, layout, value, what, how, forbid_training):
    # fresh: validation with reset=True; warm_start / partial_fit: reset=False, and the
    # model fitted before must come out of the failed call bit for bit as it went in.
    X, y = make_data(cls, layout)
    bad, where = spoil(X, value)
    est = tiny(cls)
    if how != "fresh":
        est.fit(X, y)
        est.set_params(warm_start=how == "warm_start")
        before = snapshot(est)
    forbid_training()
    with pytest.raises(ValueError, match=rf"^Input {re.escape(where)} contains {what}"):
        if how == "partial_fit":
            est.partial_fit(bad, y)
        else:
            est.fit(bad, y)
    if how != "fresh":
        assert_unchanged(est, before)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("value, what", NON_FINITE)
def test_non_finite_X_at_predict(cls, layout, value, what, forbid_training):
    X, y = make_data(cls, layout)
    est = tiny(cls).fit(X, y)
    bad, where = spoil(X, value)
    forbid_training()
    with pytest.raises(ValueError, match=rf"^Input {re.escape(where)} contains {what}"):
        est.predict(bad)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("value, what", NON_FINITE)
def test_non_finite_X_at_predict_in_fitted_dtype(cls, value, what, forbid_training):
    # A C-contiguous 3-D array already in the model's dtype skips check_array (the fast
    # path of batch-1 predict): it must be refused all the same, with the same message.
    X, y = make_data(cls, "3d")
    est = tiny(cls).fit(X, y)
    bad, where = spoil(X.astype(np.float32), value)
    assert bad.dtype == est.params_["output.weight"].dtype and bad.flags.c_contiguous
    forbid_training()
    with pytest.raises(ValueError, match=rf"^Input {re.escape(where)} contains {what}"):
        est.predict(bad)


@pytest.mark.parametrize("layout", ["3d", "ragged"])
@pytest.mark.parametrize("value, what", NON_FINITE)
@pytest.mark.parametrize("warm_start", [False, True])
def test_non_finite_y(layout, value, what, warm_start, forbid_training):
    X, y = make_data(RNNRegressor, layout)
    est = tiny(RNNRegressor, warm_start=warm_start).fit(X, y)
    before = snapshot(est)
    bad = y.copy()
    bad[3] = value
    forbid_training()
    with pytest.raises(ValueError, match=rf"^Input y contains {what}"):
        est.fit(X, bad)
    if warm_start:
        assert_unchanged(est, before)


def test_nan_label(forbid_training):
    y = (np.arange(N) % 2).astype(float)
    y[4] = np.nan
    forbid_training()
    with pytest.raises(ValueError, match="^Input y contains NaN"):
        tiny(RNNClassifier).fit(X3, y)


def test_non_finite_step_targets(forbid_training):
    y = Y_STEPS.copy()
    y[2, 3] = np.inf
    yr = [a.copy() for a in YR_STEPS]
    yr[1][0] = np.nan
    forbid_training()
    with pytest.raises(ValueError, match="^Input y contains infinity"):
        tiny(RNNRegressor, return_sequences=True).fit(X3, y)
    with pytest.raises(ValueError, match=r"^Input y\[1\] contains NaN"):
        tiny(RNNRegressor, return_sequences=True).fit(XR, yr)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("value, what", NON_FINITE)
@pytest.mark.parametrize("warm_start", [False, True])
def test_non_finite_sample_weight(cls, value, what, warm_start, forbid_training):
    X, y = make_data(cls, "3d")
    est = tiny(cls, warm_start=warm_start).fit(X, y)
    before = snapshot(est)
    weights = np.ones(N)
    weights[5] = value
    forbid_training()
    with pytest.raises(ValueError, match=rf"^Input sample_weight contains {what}"):
        est.fit(X, y, sample_weight=weights)
    if warm_start:
        assert_unchanged(est, before)


# --------------------------------------------------------------------------------------------
# Features at predict time
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_3d_wrong_feature_count(cls, forbid_training):
    est = tiny(cls).fit(*make_data(cls, "3d"))
    forbid_training()
    message = f"X has 2 features, but {cls.__name__} is expecting 3 features as input."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        est.predict(X3[:, :, :2])
    # a ragged list is checked per step like a 3-D array
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        est.predict([a[:, :2] for a in XR])
    # a 2-D array is univariate sequences: 1 feature per step
    with pytest.raises(ValueError, match=r"^X has 1 features, .* expecting 3 features"):
        est.predict(X2)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_2d_wrong_column_count(cls, forbid_training):
    est = tiny(cls).fit(*make_data(cls, "2d"))
    forbid_training()
    message = f"X has 4 features, but {cls.__name__} is expecting 5 features as input."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        est.predict(X2[:, :4])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_sequences_on_a_2d_fitted_model(cls, forbid_training):
    # 2-D input fixes the number of steps (sklearn's n_features_in_), so sequences of
    # other layouts cannot be told apart from a shape error: refused, naming the layout.
    est = tiny(cls).fit(*make_data(cls, "2d"))
    forbid_training()
    with pytest.raises(ValueError, match=r"fitted on 2-D input .*got a 3-D array of shape"):
        est.predict(X3)
    with pytest.raises(ValueError, match=r"fitted on 2-D input .*got a list of sequences"):
        est.predict(XR)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_ragged_sequences_with_different_feature_counts(cls, forbid_training):
    mixed = [XR[0], XR[1][:, :2], XR[2]]
    y = Y[:3] if cls is RNNRegressor else np.array([0, 1, 0])
    est = tiny(cls).fit(*make_data(cls, "ragged"))
    forbid_training()
    message = r"^X: every sequence needs the same number of features, got \[2, 3\]$"
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit(mixed, y)
    with pytest.raises(ValueError, match=message):
        est.predict(mixed)


# --------------------------------------------------------------------------------------------
# Empty and malformed X
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((0, T, F)), r"Found array with 0 sample\(s\) \(shape=\(0, 5, 3\)\)"),
        (np.zeros((4, 0, F)), r"X: every dimension must be at least 1, got shape \(4, 0, 3\)"),
        (np.zeros((4, T, 0)), r"X: every dimension must be at least 1, got shape \(4, 5, 0\)"),
        (np.zeros((0, T)), r"Found array with 0 sample\(s\) \(shape=\(0, 5\)\)"),
        (np.zeros((4, 0)), r"Found array with 0 feature\(s\) \(shape=\(4, 0\)\)"),
        ([], r"^X: expected at least one sequence, got an empty list$"),
    ],
    ids=["3d-0-samples", "3d-0-steps", "3d-0-features", "2d-0-samples", "2d-0-columns", "[]"],
)
def test_empty_X(cls, X, message, forbid_training):
    est = tiny(cls).fit(*make_data(cls, "3d"))
    forbid_training()
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match=message):
        est.predict(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_ragged_dataframes_are_checked_by_column_names(cls, forbid_training):
    pd = pytest.importorskip("pandas", reason="pandas is needed for DataFrame input")
    X = [pd.DataFrame(a, columns=["a", "b", "c"]) for a in XR]
    y = make_data(cls, "ragged")[1]
    est = tiny(cls).fit(X, y)
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    before = snapshot(est)
    forbid_training()
    reordered = [frame[["c", "b", "a"]] for frame in X]
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(reordered)
    with pytest.raises(ValueError, match=r"^X\[1\]: every sequence needs the same columns"):
        est.predict([X[0], reordered[1]])
    with pytest.raises(ValueError, match=r"^X\[1\]: every sequence needs the same columns"):
        tiny(cls).fit([X[0], reordered[1], X[2]], y[:3])
    assert_unchanged(est, before)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_an_object_array_of_sequences_is_a_ragged_list(cls):
    X, y = make_data(cls, "ragged")
    held = np.empty(len(X), dtype=object)
    held[:] = X
    from_list, from_array = tiny(cls).fit(X, y), tiny(cls).fit(held, y)
    assert_params_identical(from_array.params_, from_list.params_)
    assert np.array_equal(from_array.predict(held), from_list.predict(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    ("item", "message"),
    [
        (np.zeros((3, 2, F)), r"^X\[1\]: expected a sequence of shape \(T_i, n_features\) or "
         r"\(T_i,\), got shape \(3, 2, 3\)$"),
        ([[0.0, 1.0, 2.0], [0.0]], r"^X\[1\]: not a \(T_i, n_features\) sequence: "),
        (np.array([[0.0, None, 1.0]] * 3, dtype=object), r"^Input X\[1\] contains NaN"),
        (None, r"^X\[1\]: expected a sequence of shape \(T_i, n_features\) or \(T_i,\) like "
         r"the other items, got NoneType$"),
        (2.5, r"^X\[1\]: expected a sequence .* got float$"),
        (sp.csr_matrix(np.ones((3, F))), r"^X\[1\]: expected a sequence .* got csr_matrix$"),
    ],
    ids=["3d", "nested-of-two-lengths", "object-with-None", "None", "number", "sparse"],
)  # fmt: skip
def test_a_list_item_that_is_no_sequence_is_named(cls, item, message, forbid_training):
    # numpy's own "inhomogeneous shape" error named neither X nor the item.
    forbid_training()
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit([XR[0], item, XR[1]], [0, 1, 0])


def test_label_that_does_not_compare_with_the_classes_is_a_miss_in_score():
    X, y = make_data(RNNClassifier, "3d")
    est = tiny(RNNClassifier).fit(X, np.array(["a", "b"])[y])
    observed = np.array(["a", "b"], dtype=object)[y]
    observed[:3] = None  # np.searchsorted cannot compare None with the classes' strings
    predicted = est.predict(X)
    expected = np.mean(predicted[3:] == observed[3:]) * (N - 3) / N
    assert est.score(X, observed) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"^y: contains labels not in classes_ \['a', 'b'\]: "
                       r"\[None\]$"):  # fmt: skip
        est.partial_fit(X, observed)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_with_n_jobs_true(cls):
    est = tiny(cls).fit(*make_data(cls, "3d"))
    with pytest.raises(ValueError, match=r"^n_jobs: expected a positive number .*got True$"):
        est.set_params(n_jobs=True).predict(X3)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("empty", [np.zeros((0, F)), np.zeros(0), []], ids=["2d", "1d", "list"])
def test_ragged_list_with_an_empty_sequence(cls, empty, forbid_training):
    # The message must name the sequence: "0 sample(s)" alone points at the whole X.
    univariate = np.ndim(empty) == 1
    X = [XR[0][:, :1], empty, XR[1][:, :1]] if univariate else [XR[0], empty, XR[1]]
    if isinstance(empty, list):  # plain lists: no .shape to quote
        X = [a[:, 0].tolist() for a in X[::2]]
        X.insert(1, empty)
    forbid_training()
    with pytest.raises(ValueError, match=r"X\[1\]"):
        tiny(cls).fit(X, [0, 1, 0])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_1d_X(cls, forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^Expected 2D array, got 1D array instead"):
        tiny(cls).fit(np.ones(N), make_data(cls, "3d")[1])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_4d_X(cls, forbid_training):
    # 3-D input is accepted, so a message that says "dim <= 2 is required" misleads.
    est = tiny(cls).fit(*make_data(cls, "3d"))
    forbid_training()
    X4 = np.ones((N, T, F, 2))
    message = r"(?s)^(?=.*(dim 4|4-D))(?=.*3-D)"  # names the bad ndim and that 3-D is fine
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit(X4, make_data(cls, "3d")[1])
    with pytest.raises(ValueError, match=message):
        est.predict(X4)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("fmt", ["csr", "coo"])
def test_sparse_X(cls, fmt, forbid_training):
    # scikit-learn's TypeError for estimators that need dense data
    est = tiny(cls).fit(*make_data(cls, "2d"))
    forbid_training()
    X = sp.csr_matrix(X2).asformat(fmt)
    message = r"^Sparse data was passed for X, but dense data is required"
    with pytest.raises(TypeError, match=message):
        tiny(cls).fit(X, make_data(cls, "2d")[1])
    with pytest.raises(TypeError, match=message):
        est.predict(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_complex_X(cls, layout, forbid_training):
    X, y = make_data(cls, layout)
    X = [a + 1j for a in X] if isinstance(X, list) else X + 1j
    forbid_training()
    with pytest.raises(ValueError, match="^Complex data not supported"):
        tiny(cls).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "X",
    [
        np.full((N, T), "a"),
        np.full((N, T, F), "a"),
        np.full((N, T), "a", dtype=object),
        [np.array(["a", "b"]), np.array(["c"])] * (N // 2),
    ],
    ids=["2d-str", "3d-str", "2d-object", "ragged-str"],
)
def test_string_X(cls, X, forbid_training):
    # numpy's conversion error through check_array, as for scikit-learn's MLP
    forbid_training()
    with pytest.raises(ValueError, match="could not convert string to float"):
        tiny(cls).fit(X, make_data(cls, "3d")[1])


# --------------------------------------------------------------------------------------------
# X and y that do not match
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_X_and_y_of_different_lengths(cls, layout, forbid_training):
    X, y = make_data(cls, layout)
    forbid_training()
    n = len(X)
    message = rf"^Found input variables with inconsistent numbers of samples: \[{n}, {n - 1}\]"
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit(X, y[:-1])


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((N, T - 1)), r"expected shape \(12, 5\) .*got \(12, 4\)"),
        (np.zeros((N - 1, T)), r"expected shape \(12, 5\) .*got \(11, 5\)"),
        (np.zeros(N), r"expected shape \(12, 5\) .*got \(12,\)"),
    ],
    ids=["fewer-steps", "fewer-samples", "1d"],
)
def test_step_targets_shape(cls, y, message, forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: with return_sequences=True " + message):
        tiny(cls, return_sequences=True).fit(X3, y.astype(int))


def test_step_targets_wrong_ndim(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: .*got \(12, 5, 1, 1\)"):
        tiny(RNNRegressor, return_sequences=True).fit(X3, np.zeros((N, T, 1, 1)))
    with pytest.raises(ValueError, match=r"^y: .*one label per step.*got \(12, 5, 1\)"):
        tiny(RNNClassifier, return_sequences=True).fit(X3, np.zeros((N, T, 1), dtype=int))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_ragged_step_targets_mismatch(cls, forbid_training):
    y = [(a > 0).astype(int) for a in YR_STEPS]
    longer = list(y)
    longer[2] = np.zeros(LENGTHS[2] + 1, dtype=int)
    forbid_training()
    est = tiny(cls, return_sequences=True)
    with pytest.raises(
        ValueError, match=r"^y\[2\]: expected 4 steps like X\[2\], got shape \(5,\)"
    ):
        est.fit(XR, longer)
    with pytest.raises(ValueError, match=r"^y: expected 6 sequences like X, got 5$"):
        est.fit(XR, y[:5])
    # an array can stand for a ragged y only as (n, max T_i): (n,) is one value per sequence
    with pytest.raises(ValueError, match=r"^y: .*expected shape \(6, 6\) .*got \(6,\)"):
        est.fit(XR, np.zeros(len(XR), dtype=int))
    # A list y is checked item by item for a list X of one length as well.
    X_equal = [x[:2] for x in XR]
    with pytest.raises(
        ValueError, match=r"^y\[0\]: expected 2 steps like X\[0\], got shape \(3,\)"
    ):
        est.fit(X_equal, [a[:3] for a in y])
    mixed = [a[:2] for a in y]
    mixed[1] = mixed[1][:, None]
    with pytest.raises(ValueError, match=r"^y: every sequence needs the same number of outputs"):
        est.fit(X_equal, mixed)


def test_ragged_step_targets_wrong_ndim(forbid_training):
    # The message must say which y is wrong; scikit-learn's "Found array with dim 3"
    # names neither y nor the sequence.
    y = list(YR_STEPS)
    y[1] = np.zeros((LENGTHS[1], 2, 2))
    forbid_training()
    with pytest.raises(ValueError, match=r"y\[1\]"):
        tiny(RNNRegressor, return_sequences=True).fit(XR, y)


def test_3d_y_without_return_sequences(forbid_training):
    # (n, T, k) targets are per-step targets; the message must at least name y.
    forbid_training()
    with pytest.raises(ValueError, match=r"\by\b"):
        tiny(RNNRegressor).fit(X3, np.zeros((N, T, 2)))


def test_2d_labels_without_return_sequences(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y should be a 1d array, got .* shape \(12, 2\)"):
        tiny(RNNClassifier).fit(X3, np.zeros((N, 2), dtype=int))


def test_y_none(forbid_training):
    forbid_training()
    for cls in ESTIMATORS:
        with pytest.raises(ValueError, match=f"^{cls.__name__} requires y to be passed"):
            tiny(cls).fit(X3, None)


# --------------------------------------------------------------------------------------------
# Classifier labels
# --------------------------------------------------------------------------------------------


def test_partial_fit_unknown_label(forbid_training):
    est = tiny(RNNClassifier).partial_fit(X3, np.arange(N) % 2, classes=[0, 1])
    before = snapshot(est)
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: contains labels not in classes_ .*: \[2\]$"):
        est.partial_fit(X3, np.arange(N) % 3)
    with pytest.raises(ValueError, match=r": \[2, 9, 10, 100\]$"):  # numbers in order
        est.partial_fit(X3, np.array([0, 1, 9, 10, 100, 2] * (N // 6)))
    assert_unchanged(est, before)


def test_first_partial_fit_label_missing_from_classes(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: contains labels not in classes_ .*: \[2\]$"):
        tiny(RNNClassifier).partial_fit(X3, np.arange(N) % 3, classes=[0, 1])


def test_first_partial_fit_without_classes(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match="^classes: must be passed on the first call"):
        tiny(RNNClassifier).partial_fit(X3, np.arange(N) % 2)


def test_partial_fit_classes_changed(forbid_training):
    # scikit-learn's rule (SGDClassifier, MLPClassifier, naive Bayes): classes= on a later
    # call must equal classes_; silently ignoring it hides a bug in the caller.
    est = tiny(RNNClassifier).partial_fit(X3, np.arange(N) % 2, classes=[0, 1])
    forbid_training()
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X3, np.arange(N) % 2, classes=[0, 1, 2])


@pytest.mark.parametrize(
    "classes, message",
    [
        ([0, 1, NAN], r"^classes: contains NaN$"),
        ([0, 1, 2.5], r"^classes: Unknown label type: continuous"),
        (
            [[0, 1], [2, 3]],
            r"^classes: expected a non-empty 1-D array of labels, got shape \(2, 2\)",
        ),
        ([], r"^classes: expected a non-empty 1-D array of labels, got shape \(0,\)"),
        (3, r"^classes: expected a non-empty 1-D array of labels, got shape \(\)"),
        ([0, 1, None], r"^classes: labels must be of one sortable type"),
    ],
    ids=["nan", "continuous", "2d", "empty", "scalar", "none"],
)
def test_first_partial_fit_bad_classes(classes, message, forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=message):
        tiny(RNNClassifier).partial_fit(X3, np.arange(N) % 2, classes=classes)


def test_labels_of_mixed_types(forbid_training):
    forbid_training()
    labels = np.array(["a", None] * (N // 2), dtype=object)
    with pytest.raises(ValueError, match=r"^y: labels must be of one sortable type"):
        tiny(RNNClassifier).fit(X3, labels)


def test_continuous_labels(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match="^Unknown label type: continuous"):
        tiny(RNNClassifier).fit(X3, Y)


@pytest.mark.parametrize("label", [0, "a"])
def test_single_class(label, forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: .*at least 2 classes.*got 1 class"):
        tiny(RNNClassifier).fit(X3, np.full(N, label))
    with pytest.raises(ValueError, match=r"^y: .*at least 2 classes.*got 1 class"):
        tiny(RNNClassifier).partial_fit(X3, np.full(N, label), classes=[label])


def test_single_class_per_step(forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=r"^y: .*at least 2 classes.*got 1 class"):
        tiny(RNNClassifier, return_sequences=True).fit(X3, np.ones((N, T), dtype=int))


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

# (parameter, bad value, exception type, pattern); "IPE" stands for sklearn's
# InvalidParameterError message "The 'name' parameter of Estimator must be ...".
BAD_PARAMS = [
    ("cell", "foo", InvalidParameterError, "IPE"),
    ("cell", "LSTM", InvalidParameterError, "IPE"),
    ("hidden_sizes", (), ValueError, r"^hidden_sizes: expected at least one layer, got \(\)"),
    ("hidden_sizes", (0,), ValueError, r"^hidden_sizes: expected a tuple of positive integers"),
    ("hidden_sizes", (4, -1), ValueError, r"^hidden_sizes: expected a tuple of positive int"),
    ("hidden_sizes", (4.5,), ValueError, r"^hidden_sizes: expected a tuple of positive int"),
    ("hidden_sizes", True, InvalidParameterError, "IPE"),
    ("hidden_sizes", "abc", InvalidParameterError, "IPE"),
    ("hidden_sizes", 0, InvalidParameterError, "IPE"),
    ("hidden_sizes", None, InvalidParameterError, "IPE"),
    ("dense_sizes", (0,), ValueError, r"^dense_sizes: expected a tuple of positive integers"),
    ("dense_sizes", "x", InvalidParameterError, "IPE"),
    ("bidirectional", "yes", InvalidParameterError, "IPE"),
    ("activation", "sigmoid", InvalidParameterError, "IPE"),
    ("dropout", 1.0, InvalidParameterError, "IPE"),
    ("dropout", -0.1, InvalidParameterError, "IPE"),
    ("return_sequences", 2, InvalidParameterError, "IPE"),
    ("optimizer", "bad", InvalidParameterError, "IPE"),
    ("learning_rate", 0, InvalidParameterError, "IPE"),
    ("learning_rate", -1e-3, InvalidParameterError, "IPE"),
    ("learning_rate", NAN, InvalidParameterError, "IPE"),
    ("momentum", 1.5, InvalidParameterError, "IPE"),
    ("momentum", -0.1, InvalidParameterError, "IPE"),
    ("decay", -1.0, InvalidParameterError, "IPE"),
    ("alpha", -1.0, InvalidParameterError, "IPE"),
    ("clip_norm", -1, InvalidParameterError, "IPE"),
    ("clip_norm", 0, InvalidParameterError, "IPE"),
    ("clip_value", 0, InvalidParameterError, "IPE"),
    ("bptt_steps", 0, InvalidParameterError, "IPE"),
    ("bptt_steps", 2.5, InvalidParameterError, "IPE"),
    ("batch_size", 0, InvalidParameterError, "IPE"),
    ("max_epochs", 0, InvalidParameterError, "IPE"),
    ("early_stopping", None, InvalidParameterError, "IPE"),
    ("validation_fraction", 0, InvalidParameterError, "IPE"),
    ("validation_fraction", 1, InvalidParameterError, "IPE"),
    ("n_iter_no_change", 0, InvalidParameterError, "IPE"),
    ("tol", -1, InvalidParameterError, "IPE"),
    ("tol", NAN, InvalidParameterError, "IPE"),
    ("warm_start", "no", InvalidParameterError, "IPE"),
    ("random_state", "x", InvalidParameterError, "IPE"),
    ("n_jobs", 0, ValueError, r"^n_jobs: expected a positive number of threads, a negative one"),
    # scikit-learn's validation takes True and False for numbers
    ("n_jobs", True, InvalidParameterError, "IPE"),
    ("batch_size", True, InvalidParameterError, "IPE"),
    ("dropout", False, InvalidParameterError, "IPE"),
    ("random_state", True, InvalidParameterError, "IPE"),
    ("n_jobs", 1.5, InvalidParameterError, "IPE"),
    ("verbose", -1, InvalidParameterError, "IPE"),
    ("dtype", "float16", InvalidParameterError, "IPE"),
    ("dtype", np.float32, InvalidParameterError, "IPE"),
]
REGRESSOR_ONLY = [("loss", "bad", InvalidParameterError, "IPE")]
BAD_CLASS_WEIGHT = r"^class_weight: expected finite, non-negative weights, not all zero"
CLASSIFIER_ONLY = [
    ("class_weight", "bad", InvalidParameterError, "IPE"),
    ("class_weight", [1.0, 2.0], InvalidParameterError, "IPE"),
    ("class_weight", {0: -1.0, 1: 1.0}, ValueError, BAD_CLASS_WEIGHT),
    ("class_weight", {0: NAN, 1: 1.0}, ValueError, BAD_CLASS_WEIGHT),
    ("class_weight", {0: np.inf, 1: 1.0}, ValueError, BAD_CLASS_WEIGHT),
    ("class_weight", {0: 0.0, 1: 0.0}, ValueError, BAD_CLASS_WEIGHT),
]
PARAM_CASES = [
    pytest.param(cls, *case, id=f"{cls.__name__}-{case[0]}={case[1]!r}")
    for cls, cases in [
        (RNNRegressor, BAD_PARAMS + REGRESSOR_ONLY),
        (RNNClassifier, BAD_PARAMS + CLASSIFIER_ONLY),
    ]
    for case in cases
]


@pytest.mark.parametrize("cls, name, value, error, pattern", PARAM_CASES)
def test_bad_parameter(cls, name, value, error, pattern, forbid_training):
    if pattern == "IPE":
        pattern = rf"^The '{name}' parameter of {cls.__name__} must be"
    est = tiny(cls, **{name: value})  # __init__ only stores: sklearn's rule
    assert est.get_params()[name] is value
    X, y = make_data(cls, "3d")
    forbid_training()
    with pytest.raises(error, match=pattern):
        est.fit(X, y)
    with pytest.raises(error, match=pattern):
        first_partial_fit(est, X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_linear_activation_needs_rnn_cell(cls, cell, forbid_training):
    forbid_training()
    with pytest.raises(ValueError, match=rf"^activation='linear' .*cell='rnn', got cell='{cell}'"):
        tiny(cls, cell=cell, activation="linear").fit(*make_data(cls, "3d"))


def test_class_weight_with_an_unknown_label(forbid_training):
    # A key that is no class while class 1 has none: compute_class_weight's error is right,
    # but it must come before training starts. Raised from the first epoch, it leaves a
    # fresh estimator looking fitted (params_, n_iter_ = 0) with its random initial weights.
    forbid_training()
    with pytest.raises(ValueError, match=r"^The classes, \[1\], are not in class_weight"):
        tiny(RNNClassifier, class_weight={0: 2.0, 2: 1.0}).fit(X3, np.arange(N) % 2)


# --------------------------------------------------------------------------------------------
# sample_weight and validation_data
# --------------------------------------------------------------------------------------------


# Bad weights and the start of their message; {name} is the argument they were given as.
BAD_WEIGHTS = [
    pytest.param(np.ones(N - 2), r"sample_weight.shape == \(10,\), expected \(12,\)!", id="length"),
    pytest.param(-np.ones(N), r"Negative values in data passed to `sample_weight`", id="negative"),
    pytest.param(np.zeros(N), r"Sample weights must contain at least one non-zero", id="all-zero"),
    # (scikit-learn 1.7 and later add ", got 2D")
    pytest.param(np.ones((N, 2)), r"Sample weights must be 1D array or scalar", id="2d"),
    pytest.param(np.full(N, 1e308), r"{name}: the weights' sum overflows float64", id="overflow"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("weights, message", BAD_WEIGHTS)
@pytest.mark.parametrize("where", ["sample_weight", "validation_data"])
def test_bad_sample_weight(cls, weights, message, where, forbid_training):
    # As fit's sample_weight, or as the third element of validation_data.
    X, y = make_data(cls, "3d")
    forbid_training()
    if where == "sample_weight":
        with pytest.raises(ValueError, match="^" + message.format(name="sample_weight")):
            tiny(cls).fit(X, y, sample_weight=weights)
    else:
        pattern = "^validation_data: " + message.format(name="sample_weight_val")
        with pytest.raises(ValueError, match=pattern):
            tiny(cls).fit(X, y, validation_data=(X, y, weights))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "validation_data", [X3, (X3,), (X3, Y, np.ones(N), Y), 5], ids=["X", "1", "4", "5"]
)
def test_validation_data_not_a_pair_or_triple(cls, validation_data, forbid_training):
    X, y = make_data(cls, "3d")
    forbid_training()
    message = (
        r"^validation_data: expected a pair \(X_val, y_val\) or a triple \(X_val, y_val, "
        r"sample_weight_val\)$"
    )
    with pytest.raises(ValueError, match=message):
        tiny(cls).fit(X, y, validation_data=validation_data)


def test_validation_split_of_zero_weights(forbid_training):
    # Only the first sample has weight; a 50% split leaves the validation part without
    # any, and its loss and score would divide by 0.
    X, y = make_data(RNNRegressor, "3d")
    weights = np.zeros(N)
    weights[0] = 1.0
    forbid_training()
    message = (
        r"^sample_weight: every sequence of the validation split \(validation_fraction=0.5\) "
        "has weight 0"
    )
    est = tiny(RNNRegressor, early_stopping=True, validation_fraction=0.5, random_state=1)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, sample_weight=weights)


def test_training_split_of_zero_weights(forbid_training):
    # Only the sequences the 50% split validates on have weight: no batch would ever
    # update the weights, and every epoch would report a loss of 0.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, early_stopping=True, validation_fraction=0.5, random_state=1)
    _, val = est._validate_fit_data(X, y, None, None, True, False, None)  # fit's own split
    validated = [i for i in range(N) if (val[0].x == X[i].astype(np.float32)).all((1, 2)).any()]
    assert len(validated) == N // 2
    weights = np.zeros(N)
    weights[validated] = 1.0
    forbid_training()
    message = (
        r"^sample_weight: every sequence of the training split \(validation_fraction=0.5\) "
        "has weight 0, so there is nothing to train on$"
    )
    with pytest.raises(ValueError, match=message):
        tiny(RNNRegressor, early_stopping=True, validation_fraction=0.5, random_state=1).fit(
            X, y, sample_weight=weights
        )


@pytest.mark.parametrize("return_sequences", [False, True])
def test_class_weight_times_sample_weight_of_zero(return_sequences, forbid_training):
    # Class 0 weighs nothing and only class 0's samples have a sample weight.
    labels = np.arange(N) % 2
    y = np.repeat(labels[:, None], T, axis=1) if return_sequences else labels
    est = tiny(RNNClassifier, class_weight={0: 0.0, 1: 1.0}, return_sequences=return_sequences)
    forbid_training()
    message = (
        r"^sample_weight and class_weight: every sequence has weight 0 once its class weight "
        "multiplies its sample weight, so there is nothing to train on$"
    )
    with pytest.raises(ValueError, match=message):
        est.fit(X3, y, sample_weight=(labels == 0).astype(float))


def test_partial_fit_streams_past_a_chunk_of_no_weight():
    # As SGDClassifier.partial_fit: a chunk whose classes all weigh 0 changes nothing.
    labels = np.arange(N) % 2
    est = tiny(RNNClassifier, class_weight={0: 0.0, 1: 1.0}).fit(X3, labels)
    before = {name: p.copy() for name, p in est.params_.items()}
    est.partial_fit(X3, np.zeros(N, dtype=int))
    assert_params_identical(est.params_, before)


@pytest.mark.parametrize("seed", range(6))
def test_zero_weight_check_on_a_ragged_split_of_step_targets(seed):
    # The split cuts each half's x to its longest sequence but not its targets: the
    # weight check once indexed (n, 8) per-step weights with a (n, 3) mask whenever the
    # one long sequence went to validation.
    X = [np.full((8 if i == 0 else 3, 1), float(i)) for i in range(20)]
    y = [np.arange(len(x)) % 2 for x in X]
    est = tiny(
        RNNClassifier, return_sequences=True, early_stopping=True, validation_fraction=0.25,
        class_weight={0: 1.0, 1: 2.0}, random_state=seed,
    )  # fmt: skip
    assert est.fit(X, y).n_iter_ == 2


def test_balanced_class_weight_is_refused_by_partial_fit(forbid_training):
    X, y = make_data(RNNClassifier, "3d")
    est = tiny(RNNClassifier, class_weight="balanced").fit(X, y)
    before = {k: v.copy() for k, v in est.params_.items()}
    forbid_training()
    with pytest.raises(
        ValueError, match=r"^class_weight: 'balanced' is not supported for partial_fit"
    ):
        est.partial_fit(X, y)
    assert all(np.array_equal(before[k], v) for k, v in est.params_.items())
    with pytest.raises(ValueError, match=r"^class_weight: 'balanced' is not supported"):
        tiny(RNNClassifier, class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def _validation_cases():
    labels = np.arange(N) % 2
    nan_y = Y.copy()
    nan_y[0] = np.nan
    return [
        pytest.param(RNNClassifier, labels, (X3, np.arange(N) % 3), id="unknown-label"),
        pytest.param(RNNRegressor, Y, (X3, nan_y), id="nan-y"),
        pytest.param(RNNRegressor, Y, (X3, None), id="y-none"),
        pytest.param(RNNRegressor, Y, (X3[:, :, :2], Y), id="2-features"),
        pytest.param(RNNRegressor, Y, (X3, Y[:5]), id="length"),
    ]


@pytest.mark.parametrize("cls, y, validation_data", _validation_cases())
def test_bad_validation_data_is_named(cls, y, validation_data, forbid_training):
    # The training X and y are fine: a message about "X" or "y" alone sends the user to
    # the wrong arrays, so it must say the validation data is at fault.
    forbid_training()
    with pytest.raises(ValueError, match="validation_data"):
        tiny(cls).fit(X3, y, validation_data=validation_data)


# --------------------------------------------------------------------------------------------
# Not fitted, warm_start, failed refits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, method",
    [
        (RNNRegressor, "predict"),
        (RNNRegressor, "score"),
        (RNNClassifier, "predict"),
        (RNNClassifier, "predict_proba"),
        (RNNClassifier, "score"),
    ],
)
def test_not_fitted(cls, method):
    args = (X3, make_data(cls, "3d")[1]) if method == "score" else (X3,)
    with pytest.raises(NotFittedError, match=rf"^This {cls.__name__} instance is not fitted"):
        getattr(tiny(cls), method)(*args)


@pytest.mark.parametrize(
    "name, spoil, error, pattern",
    [
        (
            "weight_ih",
            lambda w: w[:, :-1].copy(),
            ValueError,
            r"expected shape \(16, 3\), got \(16, 2\)",
        ),
        ("weight_hh", lambda w: w.astype(np.float64), TypeError, r"expected dtype float32"),
        ("weight_hh", np.asfortranarray, ValueError, r"expected a C-contiguous array"),
    ],
    ids=["shape", "dtype", "layout"],
)
def test_predict_with_a_spoiled_fitted_weight(name, spoil, error, pattern):
    # The network passes the fitted weights to the kernels without ops.forward's checks
    # (ops._run_forward); _core's own checks must still stop a weight the user replaced
    # with one of another shape, dtype or layout, with an error naming it, not a crash.
    est = tiny(RNNRegressor, cell="lstm").fit(*make_data(RNNRegressor, "3d"))
    est.params_["rnn.0." + name] = spoil(est.params_["rnn.0." + name])
    with pytest.raises(error, match=f"^{name}: {pattern}"):
        est.predict(X3)


@pytest.mark.parametrize(
    "spoil, pattern",
    [
        (lambda p: p.update({"rnn.0.weight_ih": p["rnn.0.weight_ih"].T.copy()}),
         r"^params_\['rnn.0.weight_ih'\]: expected shape \(16, 3\), got \(3, 16\)$"),
        (lambda p: p.pop("output.bias"), r"missing \['output.bias'\], unexpected \[\]$"),
        (lambda p: p.update({"rnn.1.weight_ih": p["rnn.0.weight_ih"]}),
         r"missing \[\], unexpected \['rnn.1.weight_ih'\]$"),
    ],
    ids=["transposed", "missing", "unexpected"],
)  # fmt: skip
def test_warm_fit_with_spoiled_fitted_weights(spoil, pattern, forbid_training):
    # A warm fit reads params_ as one flat vector: a transposed weight was read in the
    # wrong layout without a word, and a missing one failed after a forward and backward
    # with an error naming an internal array.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, cell="lstm", warm_start=True).fit(X, y)
    spoil(est.params_)
    forbid_training()
    with pytest.raises(ValueError, match=pattern):
        est.fit(X, y)


def test_warm_fit_reads_params_in_the_networks_order():
    # Weights given back as a dict in another order (from a torch state_dict, say) were
    # concatenated in that order and read in the network's: each weight got another's.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, cell="lstm", warm_start=True, max_epochs=1).fit(X, y)
    same = pickle.loads(pickle.dumps(est))
    est.params_ = dict(reversed(list(est.params_.items())))
    assert_params_identical(est.fit(X, y).params_, same.fit(X, y).params_)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "change",
    [{"hidden_sizes": (5,)}, {"hidden_sizes": (4, 4)}, {"cell": "gru"}, {"bidirectional": True}],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_warm_start_after_a_shape_change(cls, change, forbid_training):
    X, y = make_data(cls, "3d")
    est = tiny(cls, warm_start=True).fit(X, y)
    before = snapshot(est)
    est.set_params(**change)
    forbid_training()
    with pytest.raises(ValueError, match=r"changed since the last fit"):
        est.fit(X, y)
    assert_unchanged(est, before)


def test_warm_start_after_a_dropout_change():
    # dropout has no weights: continuing with another rate (e.g. fine-tuning without
    # dropout) is allowed, and the new rate is the one used.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, warm_start=True).fit(X, y)
    est.set_params(dropout=0.5).fit(X, y)
    assert est.n_iter_ == 4 and est._spec_.dropout == 0.5


def test_failed_refit_keeps_the_regressor():
    # Nothing the user fitted is lost because of an error, warm_start or not: validation
    # used to record n_features_in_ of the rejected X, breaking the kept network.
    est = tiny(RNNRegressor).fit(X3, Y)
    before, predicted = snapshot(est), est.predict(X3)
    bad = Y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="^Input y contains NaN"):
        est.fit(X3[:, :, :2], bad)
    assert_unchanged(est, before)
    assert np.array_equal(est.predict(X3), predicted)


def test_failed_refit_keeps_the_classifier():
    # Worse than an error: classes_ of the rejected y with the old 2-class network makes
    # predict return labels silently wrong.
    est = tiny(RNNClassifier).fit(X3, np.arange(N) % 2)
    before, predicted = snapshot(est), est.predict(X3)
    with pytest.raises(ValueError, match="^Negative values in data passed to `sample_weight`"):
        est.fit(X3, np.arange(N) % 3 + 1, sample_weight=-np.ones(N))
    assert_unchanged(est, before)
    assert np.array_equal(est.predict(X3), predicted)


# --------------------------------------------------------------------------------------------
# A loss that becomes non-finite
# --------------------------------------------------------------------------------------------


def replace_call(monkeypatch, module, name, call, replacement):
    """Make the ``call``-th call (1-based) of ``module.<name>`` return
    ``replacement(real, *args, **kwargs)`` instead; the other calls run as usual."""
    real = getattr(module, name)
    calls = []

    def patched(*args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            return replacement(real, *args, **kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)


def nan_loss_at_call(monkeypatch, name, call):
    """Make ``_losses.<name>`` return a NaN loss on its ``call``-th call (1-based)."""

    def nan_loss(real, *args, **kwargs):
        return NAN, real(*args, **kwargs)[1]

    replace_call(monkeypatch, _losses, name, call, nan_loss)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_nan_loss_keeps_the_last_finished_epoch(cls, monkeypatch):
    # batch_size 4 on 12 sequences: 3 batches an epoch, so call 8 is in epoch 3.
    X, y = make_data(cls, "3d")
    params = {"batch_size": 4, "n_iter_no_change": 10}
    reference = tiny(cls, max_epochs=2, **params).fit(X, y)
    est = tiny(cls, max_epochs=5, **params)
    nan_loss_at_call(monkeypatch, "regression" if cls is RNNRegressor else "cross_entropy", 8)
    with pytest.raises(FloatingPointError, match=r"non-finite \(loss nan\) in epoch 3;"):
        est.fit(X, y)
    assert est.n_iter_ == 2
    assert est.loss_curve_ == reference.loss_curve_
    assert all_finite(est.params_)
    assert_params_identical(est.params_, reference.params_)
    assert np.array_equal(est.predict(X), reference.predict(X))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the divergence
def test_diverging_training_keeps_the_last_finished_epoch():
    # A relu RNN with plain SGD at learning rate 0.3 runs a few epochs, then blows up.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5, 3)), rng.normal(size=40)
    params = dict(cell="rnn", activation="relu", optimizer="sgd", learning_rate=0.3)
    params.update(hidden_sizes=(4,), batch_size=8, n_iter_no_change=15, random_state=0, n_jobs=1)
    est = RNNRegressor(max_epochs=15, **params)
    with pytest.raises(FloatingPointError, match=r"^The training loss or its gradient became non"):
        est.fit(X, y)
    assert 1 <= est.n_iter_ < 15
    reference = RNNRegressor(max_epochs=est.n_iter_, **params).fit(X, y)
    assert all_finite(est.params_)
    assert_params_identical(est.params_, reference.params_)
    assert est.loss_curve_ == reference.loss_curve_
    predicted = est.predict(X)
    assert np.isfinite(predicted).all()
    assert np.array_equal(predicted, reference.predict(X))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # on purpose
def test_overflowing_last_update_of_an_epoch_is_not_kept():
    # One batch an epoch: epoch 1's only update overflows the float32 weights to inf
    # with a finite loss and gradient. No epoch finished, so there is no model to keep.
    params = dict(cell="rnn", activation="linear", optimizer="sgd", learning_rate=1e38)
    est = tiny(RNNRegressor, batch_size=N, **params)
    with pytest.raises(FloatingPointError, match="non-finite"):
        est.fit(X3, Y)
    with pytest.raises(NotFittedError):
        est.predict(X3)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # on purpose
def test_a_refit_that_diverges_in_its_first_epoch_keeps_the_fitted_model():
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor).fit(X, y)
    before, predicted = snapshot(est), est.predict(X)
    with pytest.raises(FloatingPointError, match="non-finite"):
        est.set_params(optimizer="sgd", learning_rate=1e30).fit(X[:, :, :2], y * 1e10)
    assert_unchanged(est, before)
    assert np.array_equal(est.predict(X), predicted)


def fit_with_a_nan_loss_in_its_first_epoch(est, X, y, monkeypatch):
    """A fit of ``est`` whose loss is NaN at its second batch must raise and leave
    ``est`` as it was."""
    before = snapshot(est)
    with monkeypatch.context() as patch:
        nan_loss_at_call(patch, "regression" if type(est) is RNNRegressor else "cross_entropy", 2)
        with pytest.raises(FloatingPointError, match="non-finite"):
            est.fit(X, y)
    assert_unchanged(est, before)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_nan_loss_in_the_first_epoch_of_a_refit_leaves_no_trace(cls, monkeypatch):
    # The fitted attributes are put back, and so is the random state, which training
    # draws from: the next fit is the one that would have run without the failed call.
    X, y = make_data(cls, "3d")
    params = dict(dropout=0.3, batch_size=4, random_state=np.random.RandomState(3))
    reference = tiny(cls, **params)
    reference.fit(X, y).fit(X, y)
    params["random_state"] = np.random.RandomState(3)
    est = tiny(cls, **params).fit(X, y)
    fit_with_a_nan_loss_in_its_first_epoch(est, X, y, monkeypatch)
    est.fit(X, y)
    assert_params_identical(est.params_, reference.params_)
    assert est.loss_curve_ == reference.loss_curve_


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_nan_loss_in_the_first_epoch_of_a_warm_fit_keeps_the_model(cls, monkeypatch):
    # The weights are those the call started from; the optimizer's moments, which the
    # failed epoch updated in place, start afresh.
    X, y = make_data(cls, "3d")
    est = tiny(cls, warm_start=True, batch_size=4).fit(X, y)
    fit_with_a_nan_loss_in_its_first_epoch(est, X, y, monkeypatch)
    assert est.fit(X, y).n_iter_ == 4 and all_finite(est.params_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_network_too_large_to_allocate_keeps_the_fitted_model(cls):
    # 4 * 10^12 parameters: refused before numpy is asked for them. A system that
    # overcommits memory granted that allocation, and the test process was killed while
    # the weights were drawn (seen on a 128 GiB machine).
    X, y = make_data(cls, "3d")
    est = tiny(cls).fit(X, y)
    before, predicted = snapshot(est), est.predict(X)
    with pytest.raises(
        MemoryError, match=r"hidden_sizes=\(1000000,\).* 4,000,0\d\d,\d{3},\d{3} param"
    ):
        est.set_params(hidden_sizes=(10**6,)).fit(X[:, :, :2], y)
    est.set_params(hidden_sizes=(4,))
    assert_unchanged(est, before)
    assert np.array_equal(est.predict(X), predicted)
    est.partial_fit(X, y)  # still the model it was


# --------------------------------------------------------------------------------------------
# Ctrl-C
# --------------------------------------------------------------------------------------------


def interrupt_at_call(monkeypatch, call):
    """Make ``_network.backward`` raise KeyboardInterrupt on its ``call``-th call."""

    def interrupt(real, *args, **kwargs):
        raise KeyboardInterrupt

    replace_call(monkeypatch, _network, "backward", call, interrupt)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_interrupt_keeps_the_last_finished_epoch(cls, monkeypatch):
    # 3 batches an epoch: call 8 is the second batch of epoch 3, after one update in it.
    X, y = make_data(cls, "3d")
    params = {"batch_size": 4, "n_iter_no_change": 10}
    reference = tiny(cls, max_epochs=2, **params).fit(X, y)
    est = tiny(cls, max_epochs=5, **params)
    interrupt_at_call(monkeypatch, 8)
    with pytest.warns(UserWarning, match=r"interrupted: keeping the weights of epoch 2, the"):
        assert est.fit(X, y) is est
    assert est.n_iter_ == 2
    assert est.loss_curve_ == reference.loss_curve_
    assert_params_identical(est.params_, reference.params_)
    assert np.array_equal(est.predict(X), reference.predict(X))


@pytest.mark.parametrize("error", [MemoryError, TimeoutError])
def test_an_error_in_a_later_epoch_keeps_the_last_finished_epoch(error, monkeypatch):
    # Only Ctrl-C and a non-finite loss put the weights back: any other error half way
    # through epoch 3 left its updates in params_, which n_iter_ = 2 did not describe.
    X, y = make_data(RNNRegressor, "3d")
    params = {"batch_size": 4, "n_iter_no_change": 10}
    reference = tiny(RNNRegressor, max_epochs=2, **params).fit(X, y)
    est = tiny(RNNRegressor, max_epochs=5, **params)

    def fail(real, *args, **kwargs):
        raise error("raised in epoch 3")

    replace_call(monkeypatch, _network, "backward", 8, fail)  # after one update in epoch 3
    with pytest.raises(error, match="raised in epoch 3"):
        est.fit(X, y)
    assert est.n_iter_ == 2 and est.loss_curve_ == reference.loss_curve_
    assert_params_identical(est.params_, reference.params_)
    assert np.array_equal(est.predict(X), reference.predict(X))


def test_interrupt_in_the_first_epoch_of_a_warm_start(monkeypatch):
    # The last finished epoch is the one the previous fit ended with.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, batch_size=4, warm_start=True).fit(X, y)
    before = snapshot(est)
    interrupt_at_call(monkeypatch, 2)
    with pytest.warns(UserWarning, match=r"keeping the weights of epoch 2, the last finished"):
        est.fit(X, y)
    assert_unchanged(est, before)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_interrupt_in_the_first_epoch_propagates(cls, monkeypatch):
    # Not one epoch finished: there is no model to keep, so Ctrl-C means stop.
    X, y = make_data(cls, "3d")
    interrupt_at_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        tiny(cls, batch_size=4).fit(X, y)


def test_interrupt_in_the_first_epoch_leaves_no_model(monkeypatch):
    # After the propagated Ctrl-C the estimator must not pass for fitted with the
    # half-trained weights of an epoch that did not finish.
    X, y = make_data(RNNRegressor, "3d")
    est = tiny(RNNRegressor, batch_size=4)
    interrupt_at_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_partial_fit_refuses_early_stopping(forbid_training):
    # As scikit-learn's MLP: partial_fit trains on each chunk it is given, nothing held out.
    forbid_training()
    with pytest.raises(ValueError, match="^early_stopping: partial_fit does not support"):
        tiny(RNNRegressor, early_stopping=True).partial_fit(X3, Y)


def test_partial_fit_classes_message_shows_plain_labels(forbid_training):
    est = tiny(RNNClassifier).fit(X3, np.array(["a", "b"] * (N // 2)))
    forbid_training()
    with pytest.raises(
        ValueError, match=r"^classes: \['a', 'c'\] differs from the fitted classes_ \['a', 'b'\]$"
    ):
        est.partial_fit(X3, np.array(["a", "b"] * (N // 2)), classes=np.array(["a", "c"]))
    with pytest.raises(ValueError, match=r"^y: contains labels not in classes_ \['a', 'b'\]: "):
        est.partial_fit(X3, np.array(["a", "z"] * (N // 2)))


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_a_validation_set_too_small_to_score(cls, forbid_training):
    # R^2 of one sample is NaN, which no epoch improves on: early stopping stopped at
    # n_iter_no_change + 1 epochs whatever the model did. scikit-learn's MLP refuses it.
    y = Y if cls is RNNRegressor else np.arange(N) % 2
    forbid_training()
    split = (  # a stratified split is refused first, with train_test_split's reason
        r"^validation_fraction: 0.1 of 9 sequences leaves 1 sequence to validate on"
        if cls is RNNRegressor
        else r"^validation_fraction: The test_size = 1 should be greater or equal to the number"
    )
    with pytest.raises(ValueError, match=split):
        tiny(cls, early_stopping=True, validation_fraction=0.1).fit(X3[:9], y[:9])
    with pytest.raises(ValueError, match=r"^validation_data leaves 1 sequence to validate on"):
        tiny(cls, early_stopping=True).fit(X3, y, validation_data=(X3[:1], y[:1]))
    # One sequence of several steps has several rows to score with return_sequences.
    per_step = np.repeat(np.asarray(y)[:, None], X3.shape[1], axis=1)
    with pytest.raises(ValueError, match=r"^validation_data leaves 1 step to validate on"):
        tiny(cls, return_sequences=True, early_stopping=True).fit(
            X3, per_step, validation_data=([X3[0, :1]], [per_step[0, :1]])
        )


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_one_validation_sequence_is_recorded_without_early_stopping(cls):
    # Nothing stops on its score then: the loss is recorded each epoch, as before.
    y = Y if cls is RNNRegressor else np.arange(N) % 2
    est = tiny(cls).fit(X3, y, validation_data=(X3[:1], y[:1]))
    assert len(est.history_["val_loss"]) == est.n_iter_
    assert all(np.isfinite(est.history_["val_loss"]))
