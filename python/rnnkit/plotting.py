"""Plots for fitted estimators and their predictions, drawn with matplotlib.

- :func:`plot_history`: training (and validation) loss per epoch, with the validation
  score on a second y-axis;
- :func:`plot_forecast`: actual vs predicted values, after the observed past;
- :func:`plot_sequence_probabilities`: a classifier's class probabilities step by step
  along one sequence.

matplotlib is an optional dependency (``pip install 'rnnkit[plot]'``): this module imports
it only when a function is called, so ``import rnnkit.plotting`` works without it.

Every function draws on ``ax`` when given, else on a new figure, and returns the Axes
(``ax.figure`` is the figure: Jupyter displays it as a cell's value, ``savefig`` saves
it). Nothing calls ``show()``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._base import BaseRNN
from ._inputs import TABLE

__all__ = ["plot_forecast", "plot_history", "plot_sequence_probabilities"]

_MISSING = "rnnkit.plotting needs matplotlib: pip install 'rnnkit[plot]'"
_HISTORY_COLOR = "0.6"  # neutral grey: the observed past is context, not a result


def _matplotlib():
    """``(Figure, MaxNLocator)``, imported on first use so that matplotlib stays optional."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as e:
        raise ImportError(_MISSING) from e
    return Figure, MaxNLocator


def _axes(ax, Figure):
    """``ax``, or the Axes of a new figure."""
    if ax is not None:
        return ax
    # A bare Figure rather than pyplot.subplots(): pyplot would pick a GUI backend and
    # register the figure in its global list, where it stays (and leaks memory) until
    # closed. A Figure is garbage-collected like any object, and still renders inline in
    # Jupyter and through savefig.
    return Figure(layout="constrained").subplots()


def _finish(ax, title):
    if title is not None:
        ax.set_title(title)
    return ax


# -- plot_history ------------------------------------------------------------------------


def _history(model):
    try:
        history = model.history_
    except NotFittedError as error:  # a property that checks, as RNNForecaster's does
        raise NotFittedError(f"plot_history: {error}") from None
    except AttributeError:
        history = None
    if history is None:
        if isinstance(model, BaseRNN):
            check_is_fitted(
                model, "history_", msg="plot_history: this %(name)s has no history_; fit it first"
            )
        raise TypeError(
            f"plot_history: {type(model).__name__} has no history_; expected a fitted "
            "RNNRegressor or RNNClassifier"
        )
    if not history.get("loss"):
        raise ValueError("plot_history: model.history_ holds no epoch; fit it first")
    return history


def _epoch_values(values):
    """A float array with NaN for epochs without a value, or None when none has one."""
    if values is None or all(v is None for v in values):
        return None
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def plot_history(model, *, ax=None, title=None):
    """Plot the loss per epoch of a fitted estimator, with its validation metrics.

    Parameters
    ----------
    model : RNNRegressor or RNNClassifier
        A fitted estimator; its ``history_`` is plotted.
    ax : matplotlib Axes or None, default=None
        Where to draw; None draws on a new figure.
    title : str or None, default=None

    Returns
    -------
    ax : matplotlib Axes
        The Axes of the losses: ``loss``, and ``val_loss`` when the model had validation
        data. The validation score (``val_score``: R² or accuracy) goes on a twin Axes
        sharing the x-axis, labelled "validation score", when the model had one.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The estimator was not fitted.
    TypeError
        ``model`` is not an rnnkit estimator (it has no ``history_``).
    """
    Figure, MaxNLocator = _matplotlib()
    history = _history(model)
    ax = _axes(ax, Figure)
    loss = np.asarray(history["loss"], dtype=np.float64)
    epochs = np.arange(1, len(loss) + 1)
    # One epoch is one point, which a line alone would not show.
    marker = "o" if len(loss) == 1 else None
    ax.plot(epochs, loss, color="C0", marker=marker, label="loss")
    val_loss = _epoch_values(history.get("val_loss"))
    if val_loss is not None:
        ax.plot(epochs, val_loss, color="C1", marker=marker, label="val_loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    legend_ax = ax
    val_score = _epoch_values(history.get("val_score"))
    if val_score is not None:
        twin = ax.twinx()
        # Explicit colours: the twin Axes starts its own colour cycle at C0, the loss's.
        twin.plot(epochs, val_score, color="C2", marker=marker, label="val_score")
        twin.set_ylabel("validation score")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
        legend_ax = twin  # the twin is drawn over ax: a legend on ax would be hidden
    legend_ax.legend(handles, labels)
    return _finish(ax, title)


# -- plot_forecast -----------------------------------------------------------------------


def _values(y, name):
    """``y`` as a float (n, k) array, and whether it was 1-D."""
    array = np.asarray(y, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise ValueError(
            f"{name}: expected a non-empty 1-D array or a 2-D (n_samples, n_outputs) array, "
            f"got shape {array.shape}"
        )
    return (array[:, None], True) if array.ndim == 1 else (array, False)


def _column_names(y_true, y_pred, n_columns):
    """Names that tell the columns apart: a DataFrame's column names, else 0..k-1."""
    for y in (y_true, y_pred):
        columns = getattr(y, "columns", None)
        if columns is not None and len(columns) == n_columns:
            return [str(c) for c in columns]
    return [str(j) for j in range(n_columns)]


def plot_forecast(
    y_true, y_pred, *, history=None, index=None, ax=None, title=None, labels=("actual", "predicted")
):
    """Plot actual against predicted values, optionally after the observed past.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, k), or None
        The actual values; None for a pure forecast (only the predictions are drawn).
    y_pred : array-like of shape (n,) or (n, k)
        The predicted values. With k outputs, each column gets its own pair of lines,
        labelled with the column (a DataFrame's column name, else its number).
    history : array-like of shape (m,) or (m, k), or None, default=None
        The observed past, drawn first in grey at x = 0..m-1 and labelled "history";
        ``y_true`` and ``y_pred`` then continue at x = m..m+n-1.
    index : array-like of length n, or m + n with ``history``, or None, default=None
        The x values of ``y_true`` and ``y_pred`` (dates, for example). With ``history``
        it gives the history's x values first: length m + n (the history's place
        cannot be told from the forecast's dates alone).
    ax : matplotlib Axes or None, default=None
        Where to draw; None draws on a new figure.
    title : str or None, default=None
    labels : pair of str, default=("actual", "predicted")
        Legend labels of ``y_true`` and ``y_pred``.

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ValueError
        Arrays of other than 1 or 2 dimensions, ``y_true`` and ``y_pred`` (or ``history``)
        of different shapes, ``index`` of the wrong length.
    """
    Figure, MaxNLocator = _matplotlib()
    pred, single = _values(y_pred, "y_pred")
    n, k = pred.shape
    true = None
    if y_true is not None:
        true, _ = _values(y_true, "y_true")
        if true.shape != pred.shape:
            raise ValueError(
                f"y_true and y_pred: expected the same shape, got {np.shape(y_true)} and "
                f"{np.shape(y_pred)}"
            )
    past = None
    if history is not None:
        past, _ = _values(history, "history")
        if np.ndim(history) != np.ndim(y_pred) or past.shape[1] != k:
            raise ValueError(
                f"history: expected shape (m,{'' if single else f' {k}'}) like y_pred's "
                f"{np.shape(y_pred)}, got {np.shape(history)}"
            )
    m = 0 if past is None else len(past)
    pair = [] if isinstance(labels, str) or not isinstance(labels, Iterable) else list(labels)
    if len(pair) != 2 or not all(isinstance(label, str) for label in pair):
        raise ValueError(f"labels: expected a pair (actual, predicted) of str, got {labels!r}")
    actual_label, predicted_label = pair

    if index is None:
        x_past, x = np.arange(m), np.arange(m, m + n)
    else:
        if np.ndim(index) != 1 or len(index) != m + n:
            expected = f"{n}" if m == 0 else f"{m + n} (history's {m} + y_pred's {n})"
            raise ValueError(
                f"index: expected a 1-D sequence of length {expected}, got shape {np.shape(index)}"
            )
        x_past, x = index[:m], index[m:]

    ax = _axes(ax, Figure)
    names = [""] if single or k == 1 else [f"[{c}]" for c in _column_names(y_true, y_pred, k)]
    for j, suffix in enumerate(names):
        if past is not None:
            # One legend entry for the history however many columns: they share the grey.
            label = "history" if j == 0 else "_history" + suffix
            ax.plot(x_past, past[:, j], color=_HISTORY_COLOR, label=label)
        # One output: two colours. Several: one colour per column, the style tells
        # actual (solid) from predicted (dashed).
        actual_color, predicted_color = ("C0", "C1") if len(names) == 1 else (f"C{j}",) * 2
        if true is not None:
            ax.plot(x, true[:, j], color=actual_color, label=actual_label + suffix)
        ax.plot(
            x, pred[:, j], color=predicted_color, linestyle="--", label=predicted_label + suffix
        )
    if index is None:
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return _finish(ax, title)


# -- plot_sequence_probabilities ---------------------------------------------------------


def _class_columns(model, classes):
    """Indices into ``model.classes_`` of the classes to draw, in the order given."""
    known = model.classes_.tolist()
    if classes is None:
        return list(range(len(known)))
    if isinstance(classes, (str, bytes)) or np.ndim(classes) == 0:
        classes = [classes]
    position = {c: i for i, c in enumerate(known)}
    unknown = [c for c in classes if c not in position]
    if unknown:
        raise ValueError(f"classes: {unknown!r} not in the model's classes_ {known!r}")
    return [position[c] for c in classes]


def _class_colors(n_classes):
    """A colour per class: the active style's colour cycle while it has enough (the
    default's 10, ggplot's 7), whose next colour would repeat its first; beyond, as many
    evenly spaced hues (a character model has dozens of classes)."""
    from matplotlib import colormaps, rcParams

    cycle = rcParams["axes.prop_cycle"].by_key().get("color", [])
    if n_classes <= len(cycle):
        return cycle[:n_classes]
    return [colormaps["hsv"](i / n_classes) for i in range(n_classes)]


def _step_probabilities(model, sequence):
    """(T, n_classes): the probabilities at each step of one sequence."""
    seq = np.asarray(sequence)
    if seq.ndim not in (1, 2) or len(seq) == 0:
        raise ValueError(
            "sequence: expected one sequence, a (T, n_features) array or a 1-D (T,) array "
            f"with T >= 1, got shape {seq.shape}; call once per sequence to plot several"
        )
    if getattr(model, "_layout", None) == TABLE:
        # Fitted on a 2-D table: every sequence must have the n_features_in_ steps of fit,
        # so there is no prediction after a shorter prefix.
        if seq.ndim == 2 and seq.shape[1] != 1:
            raise ValueError(
                f"sequence: {type(model).__name__} was fitted on 2-D input (univariate "
                f"sequences of {model.n_features_in_} steps); expected a 1-D sequence, got "
                f"shape {seq.shape}"
            )
        if not model._fitted_sequences:
            raise ValueError(
                f"plot_sequence_probabilities: {type(model).__name__} was fitted on 2-D input "
                f"(a table of {model.n_features_in_} steps) with return_sequences=False, so "
                "it cannot predict after each prefix of a sequence; fit it on 3-D input or a "
                "list of sequences"
            )
        if seq.size != model.n_features_in_:
            raise ValueError(
                f"sequence: has {seq.size} steps, but {type(model).__name__} was fitted on "
                f"2-D input of {model.n_features_in_} steps per sequence"
            )
        return np.asarray(model.predict_proba(seq.reshape(1, -1)))[0]
    if seq.ndim == 1:
        seq = seq[:, None]
    if seq.shape[1] != model.n_features_in_:
        raise ValueError(
            f"sequence: has {seq.shape[1]} features per step, but {type(model).__name__} "
            f"is expecting {model.n_features_in_}"
        )
    if model._fitted_sequences:
        return np.asarray(model.predict_proba(seq[None]))[0]
    # The prediction after reading steps 1..t, for every t in one call: the prefixes are a
    # ragged batch, padded to T steps that the kernels skip.
    return np.asarray(model.predict_proba([seq[:t] for t in range(1, len(seq) + 1)]))


def plot_sequence_probabilities(model, sequence, *, classes=None, ax=None, title=None):
    """Plot a classifier's class probabilities at each step of one sequence.

    With ``return_sequences=True`` these are the model's per-step predictions. With
    ``return_sequences=False`` the value at step t is the prediction after reading the
    prefix ``sequence[:t]``: how the decision forms as the sequence is read. The T
    prefixes go through ``predict_proba`` in one call; that costs O(T²) steps of work
    and a (T, T, n_features) padded batch, which for very long sequences is a lot.

    Parameters
    ----------
    model : RNNClassifier
        A fitted classifier.
    sequence : array-like of shape (T, n_features) or (T,)
        One sequence; 1-D for univariate sequences (or for a model fitted on a 2-D table
        of univariate sequences).
    classes : label, list of labels or None, default=None
        The classes to draw, in this order; None draws every class of ``classes_``.
    ax : matplotlib Axes or None, default=None
        Where to draw; None draws on a new figure.
    title : str or None, default=None

    Returns
    -------
    ax : matplotlib Axes
        One line per class, labelled with the class and coloured by its position in
        ``classes_`` (a class keeps its colour whichever are drawn); x = step 1..T,
        y limits [0, 1].

    Raises
    ------
    TypeError
        ``model`` is not a classifier of sequences (no ``predict_proba`` or
        ``return_sequences``).
    sklearn.exceptions.NotFittedError
        The classifier was not fitted.
    ValueError
        ``sequence`` is not one sequence or has another number of features (for a model
        fitted on a 2-D table, of steps) than the model reads, ``classes`` names an
        unknown class, or the model was fitted on a 2-D table with
        ``return_sequences=False`` (it predicts only after the table's full number of
        steps).
    """
    Figure, MaxNLocator = _matplotlib()
    if not (hasattr(model, "predict_proba") and hasattr(model, "return_sequences")):
        raise TypeError(
            "plot_sequence_probabilities: expected a fitted RNNClassifier, got "
            f"{type(model).__name__}"
        )
    check_is_fitted(model, "classes_")
    columns = _class_columns(model, classes)
    proba = _step_probabilities(model, sequence)
    ax = _axes(ax, Figure)
    steps = np.arange(1, len(proba) + 1)
    marker = "o" if len(proba) == 1 else None
    colors = _class_colors(len(model.classes_))
    for i in columns:
        label = str(model.classes_[i])
        ax.plot(steps, proba[:, i], color=colors[i], marker=marker, label=label)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel("probability")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="class")
    return _finish(ax, title)
