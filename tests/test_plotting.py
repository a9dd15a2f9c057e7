"""rnnkit.plotting: what is drawn equals the model's history, the inputs and predict_proba."""

from __future__ import annotations

import importlib
import re
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip(
    "matplotlib", reason="rnnkit.plotting needs matplotlib (the 'plot' extra)"
)
matplotlib.use("Agg")  # before pyplot is imported: no display in tests

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no figure is opened)
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import same_color, to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

from rnnkit import RNNClassifier, RNNForecaster, RNNRegressor, plotting  # noqa: E402
from rnnkit.plotting import (  # noqa: E402
    plot_forecast,
    plot_history,
    plot_sequence_probabilities,
)

# Three epochs do not converge, and need not: only what is drawn is tested.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLASSES = np.array(["ant", "bee", "cow"])


def labels_of(ax):
    return [line.get_label() for line in ax.get_lines()]


def line(ax, label):
    (found,) = [li for li in ax.get_lines() if li.get_label() == label]
    return found


def other_axes(ax):
    return [a for a in ax.figure.axes if a is not ax]


# -- fitted models, once per module ------------------------------------------------------


@pytest.fixture(scope="module")
def windows():
    """Next value of a cosine from its last 8 values: X (52, 8, 1), y (52,)."""
    series = np.cos(np.linspace(0, 12, 60))
    X = np.lib.stride_tricks.sliding_window_view(series[:-1], 8)[:, :, None]
    return np.ascontiguousarray(X), series[8:]


def _regressor(**params):
    params = {"cell": "rnn", "hidden_sizes": (4,), "max_epochs": 3, "random_state": 0, **params}
    return RNNRegressor(**params)


@pytest.fixture(scope="module")
def regressor(windows):
    return _regressor().fit(*windows)


@pytest.fixture(scope="module")
def regressor_val(windows):
    X, y = windows
    return _regressor().fit(X[10:], y[10:], validation_data=(X[:10], y[:10]))


@pytest.fixture(scope="module")
def sequences():
    """30 sequences of 6 steps and 2 features; per-sequence and per-step labels."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6, 2))
    y = CLASSES[np.arange(30) % 3]
    y_steps = CLASSES[rng.integers(0, 3, size=(30, 6))]
    return X, y, y_steps


def _classifier(**params):
    return RNNClassifier(hidden_sizes=(4,), max_epochs=3, random_state=0, **params)


@pytest.fixture(scope="module")
def classifier(sequences):
    X, y, _ = sequences
    return _classifier(early_stopping=True, validation_fraction=0.3).fit(X, y)


@pytest.fixture(scope="module")
def step_classifier(sequences):
    X, _, y_steps = sequences
    return _classifier(return_sequences=True).fit(X, y_steps)


# -- plot_history ------------------------------------------------------------------------


def test_history_without_validation_is_the_loss_alone(regressor):
    ax = plot_history(regressor)
    assert isinstance(ax, Axes)
    assert labels_of(ax) == ["loss"]
    np.testing.assert_array_equal(line(ax, "loss").get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(line(ax, "loss").get_ydata(), regressor.history_["loss"])
    assert other_axes(ax) == []  # no twin for a score that does not exist
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss"]


@pytest.mark.parametrize("name", ["regressor_val", "classifier"])
def test_history_with_validation_has_val_loss_and_a_score_axis(name, request):
    model = request.getfixturevalue(name)  # validation_data / early_stopping split
    ax = plot_history(model, title="training")
    assert labels_of(ax) == ["loss", "val_loss"]
    np.testing.assert_array_equal(line(ax, "loss").get_ydata(), model.history_["loss"])
    np.testing.assert_array_equal(line(ax, "val_loss").get_ydata(), model.history_["val_loss"])
    (twin,) = other_axes(ax)
    assert twin.get_ylabel() == "validation score"
    assert labels_of(twin) == ["val_score"]
    np.testing.assert_array_equal(line(twin, "val_score").get_ydata(), model.history_["val_score"])
    np.testing.assert_array_equal(line(twin, "val_score").get_xdata(), np.arange(1, 4))
    # One legend for both axes, on the twin so that its lines do not cover it.
    assert [t.get_text() for t in twin.get_legend().get_texts()] == [
        "loss",
        "val_loss",
        "val_score",
    ]
    assert not same_color(line(ax, "loss").get_color(), line(twin, "val_score").get_color())
    assert ax.get_title() == "training"


def test_history_draws_on_the_given_ax(regressor):
    ax = Figure().subplots()
    assert plot_history(regressor, ax=ax) is ax
    assert labels_of(ax) == ["loss"]


def test_history_of_one_epoch_is_a_visible_point(windows):
    model = _regressor(max_epochs=1).fit(*windows)
    assert line(plot_history(model), "loss").get_marker() == "o"


def test_history_needs_a_fitted_rnnkit_model(windows):
    with pytest.raises(NotFittedError, match="plot_history: .*has no history_; fit it first"):
        plot_history(_regressor())
    with pytest.raises(NotFittedError, match="plot_history: This RNNForecaster instance is not"):
        plot_history(RNNForecaster())
    X, y = windows
    with pytest.raises(TypeError, match="LinearRegression has no history_"):
        plot_history(LinearRegression().fit(X[:, :, 0], y))


# -- plot_forecast -----------------------------------------------------------------------


def test_forecast_actual_and_predicted(regressor, windows):
    X, y = windows
    y_pred = regressor.predict(X)
    ax = plot_forecast(y, y_pred, title="cosine")
    assert isinstance(ax, Axes)
    assert labels_of(ax) == ["actual", "predicted"]
    np.testing.assert_array_equal(line(ax, "actual").get_ydata(), y)
    np.testing.assert_array_equal(line(ax, "predicted").get_ydata(), y_pred)
    np.testing.assert_array_equal(line(ax, "predicted").get_xdata(), np.arange(len(y)))
    assert line(ax, "predicted").get_linestyle() == "--"
    assert ax.get_title() == "cosine"


def test_forecast_continues_after_the_history():
    past, y_true, y_pred = np.arange(5.0), np.array([5.0, 6, 7]), np.array([5.5, 6.5, 6.8])
    ax = plot_forecast(y_true, y_pred, history=past, labels=("truth", "model"))
    assert labels_of(ax) == ["history", "truth", "model"]
    history = line(ax, "history")
    np.testing.assert_array_equal(history.get_xdata(), np.arange(5))
    np.testing.assert_array_equal(history.get_ydata(), past)
    assert same_color(history.get_color(), "0.6")  # neutral, not one of the cycle's
    for label, values in [("truth", y_true), ("model", y_pred)]:
        np.testing.assert_array_equal(line(ax, label).get_xdata(), [5, 6, 7])
        np.testing.assert_array_equal(line(ax, label).get_ydata(), values)


def test_forecast_index_gives_the_x_values():
    y_true, y_pred = np.array([1.0, 2, 3]), np.array([1.1, 2.1, 2.9])
    ax = plot_forecast(y_true, y_pred, index=[10, 20, 30])
    np.testing.assert_array_equal(line(ax, "actual").get_xdata(), [10, 20, 30])
    assert ax.get_xlabel() == ""  # the unit of a user's index is unknown
    # With a history, an index of length m + n places the history too (dates here).
    days = np.arange("2024-01-01", "2024-01-06", dtype="datetime64[D]")
    ax = plot_forecast(y_true, y_pred, history=[0.0, 0.5], index=days)
    np.testing.assert_array_equal(line(ax, "history").get_xdata(), days[:2])
    np.testing.assert_array_equal(line(ax, "predicted").get_xdata(), days[2:])


def test_forecast_labels_may_be_any_pair_of_str():
    for labels in (["truth", "model"], np.array(["truth", "model"]), iter(("truth", "model"))):
        ax = plot_forecast([1.0, 2.0], [1.5, 2.5], labels=labels)
        assert [line.get_label() for line in ax.get_lines()] == ["truth", "model"]


def test_forecast_without_actual_values_draws_the_prediction_only():
    ax = plot_forecast(None, [1.0, 2.0], history=[0.0, 0.5])
    assert labels_of(ax) == ["history", "predicted"]
    np.testing.assert_array_equal(line(ax, "predicted").get_xdata(), [2, 3])


def test_forecast_multi_output_draws_a_pair_per_column():
    y_true = np.arange(8.0).reshape(4, 2)
    y_pred = y_true + 0.5
    past = np.zeros((3, 2))
    ax = Figure().subplots()
    assert plot_forecast(y_true, y_pred, history=past, ax=ax) is ax
    assert labels_of(ax) == [
        "history",
        "actual[0]",
        "predicted[0]",
        "_history[1]",  # one legend entry for the grey history lines
        "actual[1]",
        "predicted[1]",
    ]
    for j in range(2):
        np.testing.assert_array_equal(line(ax, f"actual[{j}]").get_ydata(), y_true[:, j])
        np.testing.assert_array_equal(line(ax, f"predicted[{j}]").get_ydata(), y_pred[:, j])
        np.testing.assert_array_equal(line(ax, f"predicted[{j}]").get_xdata(), [3, 4, 5, 6])
        assert line(ax, f"actual[{j}]").get_color() == line(ax, f"predicted[{j}]").get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "history",
        "actual[0]",
        "predicted[0]",
        "actual[1]",
        "predicted[1]",
    ]


def test_forecast_labels_columns_with_dataframe_names():
    pd = pytest.importorskip("pandas")
    y_true = pd.DataFrame({"north": [1.0, 2.0], "south": [3.0, 4.0]})
    ax = plot_forecast(y_true, y_true.to_numpy() + 1)
    assert labels_of(ax) == [
        "actual[north]",
        "predicted[north]",
        "actual[south]",
        "predicted[south]",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0, 3.0]}, "y_true and y_pred: .*same shape"),
        ({"y_true": None, "y_pred": np.zeros((2, 2, 2))}, r"y_pred: .*got shape \(2, 2, 2\)"),
        ({"y_true": None, "y_pred": []}, "y_pred: expected a non-empty"),
        ({"y_true": None, "y_pred": [1.0], "history": np.zeros((2, 2))}, "history: "),
        ({"y_true": None, "y_pred": [1.0, 2.0], "index": [1, 2, 3]}, "index: .*length 2"),
        (
            {"y_true": None, "y_pred": [1.0, 2.0], "history": [0.0], "index": [1]},
            r"index: expected a 1-D sequence of length 3 \(history's 1 \+ y_pred's 2\)",
        ),
        (  # an index for y_pred alone would leave the history's dates unknown
            {"y_true": None, "y_pred": [1.0, 2.0], "history": [0.0], "index": [5, 6]},
            r"index: expected a 1-D sequence of length 3 \(history's 1 \+ y_pred's 2\)",
        ),
        ({"y_true": None, "y_pred": [1.0], "labels": ("one",)}, "labels: expected a pair"),
        (
            {"y_true": None, "y_pred": [1.0], "labels": (1, 2)},
            r"labels: expected a pair .*\(1, 2\)",
        ),
    ],
)
def test_forecast_errors_name_the_argument(kwargs, match):
    y_true, y_pred = kwargs.pop("y_true"), kwargs.pop("y_pred")
    with pytest.raises(ValueError, match=match):
        plot_forecast(y_true, y_pred, **kwargs)


# -- plot_sequence_probabilities ---------------------------------------------------------


def test_sequence_probabilities_per_step_with_return_sequences(step_classifier, sequences):
    sequence = sequences[0][4]
    ax = plot_sequence_probabilities(step_classifier, sequence)
    assert isinstance(ax, Axes)
    assert labels_of(ax) == list(CLASSES)
    expected = step_classifier.predict_proba(sequence[None])[0]  # (T, n_classes)
    for i, name in enumerate(CLASSES):
        np.testing.assert_array_equal(line(ax, name).get_xdata(), np.arange(1, 7))
        np.testing.assert_array_equal(line(ax, name).get_ydata(), expected[:, i])
    # The same as a ragged list of one sequence, which predict_proba answers with a list.
    (as_list,) = step_classifier.predict_proba([sequence])
    np.testing.assert_array_equal(as_list, expected)
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_legend().get_title().get_text() == "class"


def test_sequence_probabilities_are_those_of_each_prefix(classifier, sequences):
    sequence = sequences[0][7]
    ax = plot_sequence_probabilities(classifier, sequence, title="reading")
    one_at_a_time = np.concatenate(
        [classifier.predict_proba(sequence[None, :t]) for t in range(1, 7)]
    )
    for i, name in enumerate(CLASSES):
        np.testing.assert_allclose(line(ax, name).get_ydata(), one_at_a_time[:, i], rtol=1e-12)
    # The last step has read the whole sequence: the model's prediction for it.
    last = [line(ax, name).get_ydata()[-1] for name in CLASSES]
    np.testing.assert_allclose(last, classifier.predict_proba(sequence[None])[0], rtol=1e-12)
    assert ax.get_title() == "reading"


def test_sequence_probabilities_keep_the_fitted_return_sequences(sequences):
    # set_params since the fit changes the next fit, not how the fitted model predicts
    # (an IndexError before: the plot read the new setting, predict_proba the fitted one).
    X, y, _ = sequences
    model = _classifier().fit(X, y)
    expected = [line.get_ydata() for line in plot_sequence_probabilities(model, X[7]).get_lines()]
    model.set_params(return_sequences=True)
    got = [line.get_ydata() for line in plot_sequence_probabilities(model, X[7]).get_lines()]
    np.testing.assert_array_equal(got, expected)


def test_sequence_probabilities_of_a_univariate_1d_sequence():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 5, 1))
    model = _classifier().fit(X, CLASSES[np.arange(20) % 2])  # two classes: a sigmoid
    ax = plot_sequence_probabilities(model, X[3, :, 0])
    expected = plot_sequence_probabilities(model, X[3]).get_lines()
    assert labels_of(ax) == ["ant", "bee"]
    for got, want in zip(ax.get_lines(), expected):
        np.testing.assert_array_equal(got.get_ydata(), want.get_ydata())
    total = sum(li.get_ydata() for li in ax.get_lines())
    np.testing.assert_allclose(total, 1.0)


def test_sequence_probabilities_of_a_model_fitted_on_a_table(sequences):
    X, y, y_steps = sequences
    table = X[:, :, 0]  # (30, 6): univariate sequences as columns
    per_step = _classifier(return_sequences=True).fit(table, y_steps)
    ax = plot_sequence_probabilities(per_step, table[2])
    np.testing.assert_array_equal(
        line(ax, "bee").get_ydata(), per_step.predict_proba(table[2:3])[0, :, 1]
    )
    # A table model predicts only after all 6 steps: there are no prefixes to plot.
    with pytest.raises(ValueError, match="fitted on 2-D input .*return_sequences=False"):
        plot_sequence_probabilities(_classifier().fit(table, y), table[2])
    with pytest.raises(ValueError, match="expected a 1-D sequence"):
        plot_sequence_probabilities(per_step, X[2])
    with pytest.raises(ValueError, match=r"^sequence: has 4 steps, but RNNClassifier was "
                       r"fitted on 2-D input of 6 steps per sequence$"):  # fmt: skip
        plot_sequence_probabilities(per_step, table[2, :4])


def test_sequence_probabilities_of_selected_classes(classifier, sequences):
    ax = Figure().subplots()
    assert (
        plot_sequence_probabilities(classifier, sequences[0][0], classes=["cow", "ant"], ax=ax)
        is ax
    )
    assert labels_of(ax) == ["cow", "ant"]
    # A class keeps the colour of its position in classes_, whichever are drawn.
    assert same_color(line(ax, "cow").get_color(), "C2")
    assert same_color(line(ax, "ant").get_color(), "C0")
    ax = plot_sequence_probabilities(classifier, sequences[0][0], classes="bee")
    assert labels_of(ax) == ["bee"]


def test_sequence_probabilities_of_many_classes_have_a_colour_each(sequences):
    # Past matplotlib's 10-colour cycle C10 would be C0 again: a character model's
    # dozens of classes got lines of one colour.
    X = sequences[0]
    model = _classifier().fit(X, np.arange(len(X)) % 12)
    colors = [to_hex(line.get_color()) for line in plot_sequence_probabilities(model, X[0]).lines]
    assert len(set(colors)) == 12
    # A style's shorter cycle (ggplot's 7 colours) repeats sooner: 8 classes then need hues.
    X8 = X[:24]
    model = _classifier().fit(X8, np.arange(len(X8)) % 8)
    with matplotlib.style.context("ggplot"):
        ax = plot_sequence_probabilities(model, X8[0])
        subset = plot_sequence_probabilities(model, X8[0], classes=[7, 2])
    assert len({to_hex(line.get_color()) for line in ax.lines}) == 8
    # A class keeps its colour whichever are drawn.
    assert same_color(line(subset, "7").get_color(), line(ax, "7").get_color())


def test_sequence_probabilities_errors(classifier, regressor, sequences):
    sequence = sequences[0][0]
    with pytest.raises(ValueError, match=r"classes: \['emu'\] not in the model's classes_"):
        plot_sequence_probabilities(classifier, sequence, classes=["ant", "emu"])
    with pytest.raises(ValueError, match=r"sequence: expected one sequence.*\(1, 6, 2\)"):
        plot_sequence_probabilities(classifier, sequence[None])
    with pytest.raises(ValueError, match="sequence: .*got shape"):
        plot_sequence_probabilities(classifier, np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"^sequence: has 1 features per step, but "
                       r"RNNClassifier is expecting 2$"):  # fmt: skip
        plot_sequence_probabilities(classifier, sequence[:, :1])
    with pytest.raises(TypeError, match="expected a fitted RNNClassifier, got RNNRegressor"):
        plot_sequence_probabilities(regressor, sequence)
    with pytest.raises(NotFittedError):
        plot_sequence_probabilities(_classifier(), sequence)


# -- no pyplot, no hard dependency -------------------------------------------------------


def test_new_figures_do_not_go_through_pyplot(regressor_val, classifier, sequences):
    plt.close("all")
    axes = [
        plot_history(regressor_val),
        plot_forecast([1.0, 2.0], [1.5, 2.5], history=[0.0]),
        plot_sequence_probabilities(classifier, sequences[0][0]),
    ]
    assert plt.get_fignums() == []
    assert all(isinstance(ax.figure, Figure) for ax in axes)
    assert len({id(ax.figure) for ax in axes}) == 3  # a new figure each


def test_without_matplotlib_the_module_imports_and_calls_explain(monkeypatch, regressor):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import of it now fails
    module = importlib.reload(plotting)  # the import itself needs no matplotlib
    message = re.escape("rnnkit.plotting needs matplotlib: pip install 'rnnkit[plot]'")
    with pytest.raises(ImportError, match=message):
        module.plot_history(regressor)
    with pytest.raises(ImportError, match=message):
        module.plot_forecast(None, [1.0])
    with pytest.raises(ImportError, match=message):
        module.plot_sequence_probabilities(regressor, [1.0])
