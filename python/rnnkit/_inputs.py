"""Sequence inputs and targets: from what users pass to padded arrays with lengths.

Three layouts of ``X`` are accepted (DESIGN §5, Inputs):

- a 3-D array (n_samples, n_timesteps, n_features): ``n_features_in_`` is F and any
  number of steps is accepted at predict time;
- a 2-D array (n_samples, n_timesteps), or a list of equal-length lists of numbers:
  univariate sequences read as a table, so ``n_features_in_`` is the number of columns
  and predict needs the same number (scikit-learn's rule for 2-D input);
- a list of (T_i, F) or (T_i,) arrays of different lengths: packed into a zero-padded
  (n, max T_i, F) array and ``lengths``; the kernels never process the padding.

Validation goes through scikit-learn's own helpers, so messages read as its users expect.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse import issparse
from sklearn.utils import check_array
from sklearn.utils.validation import _check_feature_names, _check_sample_weight, validate_data

TABLE = "table"  # 2-D input: columns are time steps, n_features_in_ counts them
SEQUENCES = "sequences"  # 3-D or ragged input: n_features_in_ counts features per step


@dataclass(frozen=True)
class Sequences:
    """A batch of sequences: ``x`` (n, T, F) zero-padded, ``lengths`` (n,) int64 or None
    when every sequence has T steps; ``ragged`` when the user passed a list."""

    x: np.ndarray
    lengths: np.ndarray | None
    ragged: bool = False

    def __len__(self):
        return self.x.shape[0]

    @property
    def steps(self):
        """Valid steps of each sequence, (n,) int64."""
        if self.lengths is None:
            return np.full(len(self), self.x.shape[1], dtype=np.int64)
        return self.lengths

    def take(self, index):
        """The sequences at ``index``, trimmed to the longest of them."""
        if self.lengths is None:
            return Sequences(self.x[index], None, self.ragged)
        lengths = self.lengths[index]
        steps = int(lengths.max())
        return Sequences(np.ascontiguousarray(self.x[index, :steps]), lengths, self.ragged)

    def step_mask(self):
        """(n, T) bool: which steps are valid."""
        return np.arange(self.x.shape[1]) < self.steps[:, None]


# numpy.exceptions from numpy 1.25 on, the main namespace before (numpy 2 dropped it there).
_RaggedListWarning = getattr(np, "exceptions", np).VisibleDeprecationWarning


def as_array(value):
    """``np.asarray(value)``, where a nested list of two lengths is a ValueError on every
    numpy: from 1.24 numpy refuses one, before it made an object array with a warning,
    made an error here so that both say the same."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _RaggedListWarning)
            return np.asarray(value)
    except _RaggedListWarning as warning:
        raise ValueError(str(warning)) from None


def _sequence_list(value):
    """A 1-D object array or pandas Series of sequences as a list: numpy's and pandas' own
    ways of holding sequences of different lengths. Anything else as it is."""
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "O" and getattr(value, "ndim", 0) == 1:
        items = list(value)
        if all(np.ndim(item) >= 1 for item in items):
            return items
    return value


def validate_sequences(estimator, X, *, reset, dtype):
    """Check ``X`` and return it as :class:`Sequences` in ``dtype``.

    ``reset=True`` (fit) records ``n_features_in_``, feature names and the layout;
    ``reset=False`` (predict) checks ``X`` against them.
    """
    X = _sequence_list(X)
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError("X: expected at least one sequence, got an empty list")
    items = _ragged_items(X)
    if items is not None:
        return _pack(estimator, X, items, reset=reset, dtype=dtype)
    ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
    if ndim > 3:
        raise ValueError(
            "X: expected a 2-D (n_samples, n_timesteps) or 3-D (n_samples, n_timesteps, "
            f"n_features) array or a list of sequences, got a {ndim}-D array of shape "
            f"{np.shape(X)}"
        )
    layout = getattr(estimator, "_layout", None)
    if ndim == 3:
        _check_not_table(estimator, reset, f"a 3-D array of shape {np.shape(X)}")
        if not reset and _is_checked_array(X, dtype, estimator):
            _check_features(estimator, X.shape[2], reset=False)
            return Sequences(X, None)
        x = check_array(X, allow_nd=True, dtype=dtype, input_name="X", estimator=estimator)
        if min(x.shape) < 1:
            raise ValueError(f"X: every dimension must be at least 1, got shape {x.shape}")
        _check_features(estimator, x.shape[2], reset=reset)
        _check_feature_names(estimator, x, reset=reset)
        _set_layout(estimator, SEQUENCES, reset)
        return Sequences(x, None)
    if not reset and layout == SEQUENCES:
        # 2-D input to a model fitted on sequences: univariate sequences of any length.
        x = check_array(X, dtype=dtype, input_name="X", estimator=estimator)
        _check_features(estimator, 1, reset=False)
        return Sequences(x[:, :, None], None)
    x = validate_data(estimator, X, reset=reset, dtype=dtype)
    _set_layout(estimator, TABLE, reset)
    return Sequences(x[:, :, None], None)


def _is_checked_array(X, dtype, estimator):
    """Whether ``X`` is already what ``check_array`` would return at predict time: a
    non-empty, finite, C-contiguous numpy array of ``dtype``, for a model fitted without
    feature names. Such input skips scikit-learn's dataframe probing, a third of the time
    of a batch-1 ``predict``; anything else takes the full path and its messages."""
    return (
        type(X) is np.ndarray
        and X.dtype == dtype
        and X.flags.c_contiguous
        and X.size > 0
        and getattr(estimator, "feature_names_in_", None) is None
        and bool(np.isfinite(X).all())
    )


def _check_not_table(estimator, reset, got):
    """Sequences (3-D, ragged) cannot go to a model fitted on 2-D input."""
    if not reset and getattr(estimator, "_layout", None) == TABLE:
        raise ValueError(
            f"X: {type(estimator).__name__} was fitted on 2-D input (n_samples, "
            f"n_timesteps) with {estimator.n_features_in_} steps; got {got}"
        )


def _set_layout(estimator, layout, reset):
    if reset:
        estimator._layout = layout


def _check_features(estimator, n_features, *, reset):
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def _ragged_items(X):
    """The list's items as arrays when ``X`` is a non-empty list of sequences, else None.

    A list of equal-length 1-D items is a table (scikit-learn's 2-D input), not ragged.
    Items of object dtype (DataFrames with pandas' nullable columns, arrays of Python
    numbers) stay sequences: ``_pack`` converts each with ``check_array``, as it does
    the others. An item that is no sequence of steps is an error naming it.
    """
    if not isinstance(X, (list, tuple)):
        return None
    sequence_like = [hasattr(item, "__len__") and not isinstance(item, (str, bytes)) for item in X]
    if not any(sequence_like):  # numbers: a 1-D X, which the table path refuses
        return None
    items = []
    for i, item in enumerate(X):
        if not sequence_like[i] or issparse(item):
            raise ValueError(
                f"X[{i}]: expected a sequence of shape (T_i, n_features) or (T_i,) like the "
                f"other items, got {type(item).__name__}"
            )
        try:
            array = as_array(item)
        except ValueError as e:  # numpy's "inhomogeneous shape": nested lists of two lengths
            raise ValueError(f"X[{i}]: not a (T_i, n_features) sequence: {e}") from None
        if array.dtype == object and any(np.ndim(value) > 0 for value in array.flat):
            raise ValueError(
                f"X[{i}]: not a (T_i, n_features) sequence: its steps are sequences of "
                "different lengths"
            )
        if array.ndim not in (1, 2):
            raise ValueError(
                f"X[{i}]: expected a sequence of shape (T_i, n_features) or (T_i,), got "
                f"shape {array.shape}"
            )
        items.append(array)
    if all(a.ndim == 1 for a in items) and len({len(a) for a in items}) == 1:
        return None
    return items


def _check_item_columns(items):
    """DataFrames in a list of sequences must all have the same columns, in the same
    order: their names are checked at predict time like a single DataFrame's."""
    columns = [list(item.columns) if hasattr(item, "columns") else None for item in items]
    for i, names in enumerate(columns):
        if names != columns[0]:
            raise ValueError(
                f"X[{i}]: every sequence needs the same columns in the same order as X[0] "
                f"({columns[0]}), got {names}"
            )


def _pack(estimator, X, items, *, reset, dtype):
    """``items``: the arrays of the list ``X``, whose DataFrames, if any, give the
    feature names."""
    _check_not_table(estimator, reset, "a list of sequences")
    _check_item_columns(X)
    arrays = []
    for i, item in enumerate(items):
        if len(item) == 0:
            raise ValueError(f"X[{i}]: a sequence needs at least 1 step, got shape {item.shape}")
        array = check_array(
            item, ensure_2d=False, dtype=dtype, input_name=f"X[{i}]", estimator=estimator
        )
        arrays.append(array[:, None] if array.ndim == 1 else array)
    widths = {a.shape[1] for a in arrays}
    if len(widths) != 1:
        raise ValueError(
            f"X: every sequence needs the same number of features, got {sorted(widths)}"
        )
    _check_features(estimator, widths.pop(), reset=reset)
    _check_feature_names(estimator, X[0], reset=reset)
    _set_layout(estimator, SEQUENCES, reset)
    x, lengths = pad(arrays)
    if (lengths == lengths[0]).all():  # one length: the 3-D array it equals, and as such
        return Sequences(x, None)  # its per-step predictions come back as one array
    return Sequences(x, lengths, ragged=True)


def fit_sample_weight(sample_weight, seqs):
    """A fit's sample weights as float64 (n,), ones for None: one per sequence,
    non-negative and not all zero, or scikit-learn's ValueError. scikit-learn 1.6 (the
    last for Python 3.9) accepts all-zero weights, which newer ones refuse with the
    message raised here: a fit on no weight at all has nothing to learn from."""
    weights = _check_sample_weight(
        sample_weight, seqs.x[:, 0, 0], dtype=np.float64, ensure_non_negative=True
    )
    if not np.any(weights):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


def pad(arrays):
    """Stack (T_i, ...) arrays into a zero-padded (n, max T_i, ...) array and lengths, of
    the dtype that holds them all (as np.asarray would make of equal lengths): the first
    one's cut later labels short ("NNS" to "NN" after "NN", 1.5 to 1 after ints)."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    # promote_types pairwise: result_type takes at most 64 arguments.
    dtype = functools.reduce(np.promote_types, (a.dtype for a in arrays))
    out = np.zeros((len(arrays), int(lengths.max()), *arrays[0].shape[1:]), dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out, lengths


def unpad(array, lengths):
    """The inverse of :func:`pad`: a list of ``array[i, :lengths[i]]``."""
    return [array[i, :n] for i, n in enumerate(lengths)]


def step_targets(y, seqs, *, dtype=None):
    """Per-step targets for ``return_sequences``: (n, T[, k]) aligned with ``seqs``.

    ``y`` is an array (n, T[, k]) for array ``X`` or a list of (T_i[, k]) arrays matching
    a ragged ``X``. ``dtype=None`` keeps labels as they are (classification).
    """
    n, steps = len(seqs), seqs.steps
    y = _sequence_list(y)
    if isinstance(y, (list, tuple)):  # one array per sequence, checked one by one
        if len(y) != n:
            raise ValueError(f"y: expected {n} sequences like X, got {len(y)}")
        arrays = []
        for i, item in enumerate(y):
            a = np.asarray(item)
            if a.ndim not in (1, 2) or len(a) != steps[i]:
                raise ValueError(
                    f"y[{i}]: expected {steps[i]} steps like X[{i}], got shape {a.shape}"
                )
            if dtype is not None:
                a = check_array(a, ensure_2d=False, dtype=dtype, input_name=f"y[{i}]")
            arrays.append(a)
        if len({a.shape[1:] for a in arrays}) != 1:
            raise ValueError("y: every sequence needs the same number of outputs per step")
        return pad(arrays)[0]
    y = (
        np.asarray(y)
        if dtype is None
        else check_array(y, ensure_2d=False, allow_nd=True, dtype=dtype, input_name="y")
    )
    want = (n, seqs.x.shape[1])
    if y.ndim not in (2, 3) or y.shape[:2] != want:
        raise ValueError(
            f"y: with return_sequences=True expected shape {want} or {want + ('k',)} "
            f"(one target per step), got {y.shape}"
        )
    return y
