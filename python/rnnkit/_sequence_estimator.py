"""What every rnnkit estimator shares, trained by gradient (RNN*) or in closed form
(EchoState*): reading sequences for predict, targets per sequence or per step, kernel
threads, scikit-learn tags."""

from __future__ import annotations

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import r2_score
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._inputs import step_targets, unpad, validate_sequences

# Rows per network (or reservoir) call at predict time. More rows pack each layer's
# weights and pay Python's per-call overhead fewer times: 256 predicted stock 1.09x and
# mnist 1.06x faster than 64, the other workloads alike, where 1024 made stock's 0.70x
# as fast, its state and gates out of cache (benchmarks/compare.py workloads, 2026-11).
# Long sequences get fewer, down to 64, so that the widest (rows, T, features) array of
# a call stays near _PREDICT_LAYER_BYTES: a predict's memory is bounded by the chunk,
# not by len(X).
_PREDICT_ROWS = 256
_PREDICT_MIN_ROWS = 64
_PREDICT_LAYER_BYTES = 16 << 20


def predict_rows(steps, width, itemsize):
    """Rows per call for sequences of ``steps`` whose widest per-step array has ``width``
    features, in a dtype of ``itemsize`` bytes."""
    fitting = _PREDICT_LAYER_BYTES // (steps * width * itemsize)
    return max(_PREDICT_MIN_ROWS, min(_PREDICT_ROWS, fitting))


# sklearn.callback (1.9+) sets these as a fit starts and, after the fit returns or raises,
# reads them to tear its callbacks down (a ProgressBar joins its thread there): a failed
# fit that put back what it found would hide them, and the interpreter would hang at exit.
_CALLBACK_LIFECYCLE = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


class SequenceEstimator(BaseEstimator):
    """Base of the estimators; subclasses say which dtype their fitted model computes in,
    and which attribute only a fitted model has."""

    # check_is_fitted looks for this one attribute instead of scanning them all (1.8
    # against 4.4 us, 1% of a batch-1 predict).
    _fitted_attribute: str

    def _fitted_dtype(self):
        raise NotImplementedError

    def _restore(self, state):
        """Put back every attribute as ``dict(vars(self))`` recorded it, except those
        through which scikit-learn's callback API tears down this call's callbacks."""
        current = vars(self)
        lifecycle = {name: current[name] for name in _CALLBACK_LIFECYCLE if name in current}
        current.clear()
        current.update(state)
        current.update(lifecycle)

    def _saved_generators(self, *others):
        """Saves the state of each RandomState among ``random_state`` and ``others``;
        returns the function that puts them back, for a call that fails, so that a
        retry draws what a first call would have."""
        generators = {
            id(g): g for g in (self.random_state, *others) if isinstance(g, np.random.RandomState)
        }
        states = [(g, g.get_state()) for g in generators.values()]

        def restore():
            for generator, state in states:
                generator.set_state(state)

        return restore

    def _check_parameter_types(self):
        """scikit-learn's parameter validation takes True and False for numbers (bool is
        an int in Python): a parameter that is not a boolean one refuses them. ``verbose``
        takes them, as scikit-learn's MLP and Keras do (True: the progress bar)."""
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            takes_bool = "boolean" in constraints or "verbose" in constraints
            if isinstance(value, (bool, np.bool_)) and not takes_bool:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a non-boolean value. "
                    f"Got {value!r} instead."
                )

    def _require_y(self, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )

    def _threads(self):
        """Kernel threads from ``n_jobs``, joblib's way: -1 is every core, -2 all but one.
        scikit-learn's parameter validation takes True for an integer: refused here."""
        if isinstance(self.n_jobs, bool) or self.n_jobs == 0:
            raise ValueError(
                "n_jobs: expected a positive number of threads, a negative one as joblib's (-1 "
                f"every core, -2 all but one) or None, got {self.n_jobs!r}"
            )
        if self.n_jobs is None:
            return None
        if self.n_jobs < 0:  # the cores this process may use (affinity, cgroup quota)
            return max(1, joblib.cpu_count() + 1 + self.n_jobs)
        return self.n_jobs

    def _sequences_for_predict(self, X):
        check_is_fitted(self, self._fitted_attribute)
        return validate_sequences(self, X, reset=False, dtype=self._fitted_dtype())

    def _in_chunks(self, seqs, size, run):
        """``run(part)`` on ``size`` sequences at a time, results stacked: (n, ...), or
        (n, T, ...) with ``return_sequences``, a chunk trimmed to its longest sequence
        padded back to T. Chunks bound the memory of a large predict."""
        parts = []
        for start in range(0, len(seqs), size):
            part = seqs.take(slice(start, start + size))
            result = run(part)
            if self._fitted_sequences and result.shape[1] < seqs.x.shape[1]:
                padded = np.zeros((len(part), seqs.x.shape[1], *result.shape[2:]), result.dtype)
                padded[:, : result.shape[1]] = result
                result = padded
            parts.append(result)
        return np.concatenate(parts)

    def _score(self, X, y, sample_weight):
        """``score``: the validation score of the predictions, over every valid step with
        ``return_sequences``. Subclasses give ``_predicted_rows`` and ``_validation_score``."""
        seqs = self._sequences_for_predict(X)
        targets = self._validate_targets(y, seqs, reset=False, scoring=True)
        weights = _check_sample_weight(sample_weight, seqs.x[:, 0, 0], dtype=np.float64)
        return self._validation_score(*self._predicted_rows(seqs, targets, weights))

    def _per_sample(self, seqs, values):
        """Per-step results as a list of (T_i, ...) arrays when ``X`` was a ragged list."""
        if self._fitted_sequences and seqs.ragged:
            return unpad(values, seqs.lengths)
        return values

    @property
    def _fitted_sequences(self):
        """``return_sequences`` as the last fit saw it, which predict and score keep to:
        set_params since then changes the next fit, not the fitted model."""
        return getattr(self, "_fit_return_sequences", self.return_sequences)

    def _record_return_sequences(self, reset):
        """Whether ``y`` has a target per step: the fitted setting, or, for a fit
        (``reset``), the current one, recorded as the fitted one."""
        if reset:
            self._fit_return_sequences = bool(self.return_sequences)
        return self._fitted_sequences

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def step_rows(mask, output, target, weight):
    """The rows of the steps ``mask`` (n, T') marks: ``output`` (n, T', ...) and ``target``
    (n, T[, ...]) entries, and the weight of each, per sample (n,) or per step (n, T).
    Targets and weights are cut to T', as for a batch trimmed to its longest sequence."""
    steps = mask.shape[1]
    weight = weight[:, None] if weight.ndim == 1 else weight[:, :steps]
    return output[mask], target[:, :steps][mask], np.broadcast_to(weight, mask.shape)[mask]


class RegressionTargets:
    """Real targets: (n, k), or (n, T, k) per step with ``return_sequences``; scored by
    R²."""

    def _validate_targets(self, y, seqs, *, reset, classes=None, scoring=False):
        # score compares the predictions with y as given, not rounded to the model's dtype
        dtype = np.float64 if scoring else seqs.x.dtype
        per_step = self._record_return_sequences(reset)
        if per_step:
            y = step_targets(y, seqs, dtype=dtype)
        else:
            y = check_array(y, ensure_2d=False, allow_nd=True, dtype=dtype, input_name="y")
            if y.ndim > 2:
                raise ValueError(
                    "y: expected shape (n_samples,) or (n_samples, n_outputs), got "
                    f"{y.shape}; per-step targets need return_sequences=True"
                )
            check_consistent_length(seqs.x, y)
        single = y.ndim == (2 if per_step else 1)
        if single:
            y = y[..., None]
        if reset:
            self._single_output = single
            self.n_outputs_ = y.shape[-1]
        elif y.shape[-1] != self.n_outputs_:
            raise ValueError(
                f"y: expected {self.n_outputs_} outputs like in fit, got {y.shape[-1]}"
            )
        return y

    def _n_outputs(self):
        return self.n_outputs_

    def _validation_score(self, output, target, weight):
        return float(r2_score(target, output.astype(np.float64), sample_weight=weight))


class ClassificationTargets:
    """Labels of any type, encoded as indices into ``classes_``; -1 marks padded steps."""

    def _validate_targets(self, y, seqs, *, reset, classes=None, scoring=False):
        """Labels as indices into ``classes_``. For ``score`` (``scoring``), a label the
        model never saw is a miss (index ``len(classes_)``), as accuracy_score counts it."""
        if self._record_return_sequences(reset):
            labels = step_targets(y, seqs)
            if labels.ndim != 2:
                raise ValueError(
                    f"y: with return_sequences=True expected one label per step, shape "
                    f"(n_samples, n_timesteps), got {labels.shape}"
                )
            valid = seqs.step_mask()
        else:
            labels = column_or_1d(y, warn=True)
            check_consistent_length(seqs.x, labels)
            valid = np.ones(labels.shape, dtype=bool)
        observed = check_array(labels[valid], ensure_2d=False, dtype=None, input_name="y")
        if reset:
            unique = _unique_labels(observed, "y")
            check_classification_targets(observed)
            self.classes_ = unique if classes is None else _classes(classes)
            if len(self.classes_) < 2:
                raise ValueError(
                    "y: the classifier needs samples of at least 2 classes in the data; "
                    f"got 1 class: {self.classes_.tolist()[0]!r}"
                )
        codes, unknown = _encode(self.classes_, observed)
        if unknown.any() and scoring:
            codes[unknown] = len(self.classes_)
        elif unknown.any():
            raise ValueError(
                f"y: contains labels not in classes_ {self.classes_.tolist()}: "
                f"{_sorted_for_message(set(observed[unknown].tolist()))}"
            )
        encoded = np.full(labels.shape, -1, dtype=np.int64)  # -1: padding, never in the loss
        encoded[valid] = codes
        return encoded

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)


def _encode(classes, labels):
    """Each label's index in the sorted ``classes`` (0 where absent), and which labels
    are absent. Labels that do not compare with the classes (None among strings, as
    ``score`` may get) are looked up one by one instead of by binary search."""
    try:
        codes = np.minimum(np.searchsorted(classes, labels), len(classes) - 1)
        return codes, classes[codes] != labels
    except TypeError:
        index = {label: i for i, label in enumerate(classes.tolist())}
        codes = np.array([index.get(label, -1) for label in labels.tolist()], dtype=np.int64)
        unknown = codes < 0
        codes[unknown] = 0
        return codes, unknown


def _sorted_for_message(labels):
    """``labels`` in order, or by their repr where they do not compare (None, "a")."""
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=repr)


def _unique_labels(labels, name):
    """The sorted distinct labels; labels that cannot be sorted (None among strings, or
    labels of mixed types) are an error naming ``name``."""
    try:
        return np.unique(labels)
    except TypeError:
        raise ValueError(
            f"{name}: labels must be of one sortable type (all numbers or all strings), got "
            f"{sorted({type(v).__name__ for v in np.ravel(labels)})}"
        ) from None


def _classes(classes):
    """``partial_fit``'s ``classes``: a non-empty 1-D array of distinct-able labels, none
    of them NaN and none continuous, or a ValueError naming ``classes``."""
    array = np.asarray(classes)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"classes: expected a non-empty 1-D array of labels, got shape {array.shape}"
        )
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError("classes: contains NaN")
    unique = _unique_labels(array, "classes")
    try:
        check_classification_targets(array)
    except ValueError as e:
        raise ValueError(f"classes: {e}") from None
    return unique
