"""The public estimators: :class:`RNNRegressor` and :class:`RNNClassifier`."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight

from . import _losses
from ._base import BaseRNN
from ._sequence_estimator import ClassificationTargets, RegressionTargets

_COMMON_DOC = """
    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrent cell, with PyTorch's equations and weight layout.
    hidden_sizes : tuple of int, default=(64,)
        Width of each stacked recurrent layer.
    bidirectional : bool, default=False
        Run every recurrent layer in both directions and concatenate the outputs.
    activation : {"tanh", "relu", "linear"}, default="tanh"
        Candidate/output activation of the cells; "linear" only for ``cell="rnn"``.
    dense_sizes : tuple of int, default=()
        Hidden Dense(relu) layers between the recurrent stack and the output layer.
    dropout : float in [0, 1), default=0.0
        Dropout on the outputs of every recurrent and dense layer, training only.
    return_sequences : bool, default=False
        False: one output per sequence. True: one output per time step.
{extra}    optimizer : {"adam", "sgd", "rmsprop"}, default="adam"
    learning_rate : float, default=1e-3
    momentum : float, default=0.9
        Momentum of "sgd".
    decay : float, default=0.0
        The learning rate at update t is ``learning_rate / (1 + decay * t)``.
    alpha : float, default=0.0
        L2 penalty ``alpha / 2 * sum(W ** 2)`` over weight matrices (not biases), added
        to each mini-batch's mean loss: its gradient ``alpha * W`` is PyTorch's
        ``weight_decay`` on the weights. scikit-learn's MLP divides its ``alpha`` by the
        batch's size (weight sum), so the same value here penalizes ``batch_size`` times
        more. Like a Keras regularizer, the penalty's gradient is clipped with the rest.
    clip_norm, clip_value : float or None, default=None
        Clip each gradient component to ``[-clip_value, clip_value]``, then the whole
        gradient (all parameters at once) to norm ``clip_norm``, as PyTorch's
        ``clip_grad_value_`` and ``clip_grad_norm_``.
    bptt_steps : int or None, default=None
        Truncated backpropagation through time: windows of this many steps. A
        unidirectional network then trains one window at a time, so memory is bounded
        by the window, not by the sequence length.
    batch_size : int, default=32
    max_epochs : int, default=100
    early_stopping : bool, default=False
        Stop when the validation score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs and keep the best epoch. The validation set is
        ``validation_data`` when given to ``fit``, else a ``validation_fraction`` split.
        Without it, training stops when the training loss stops improving likewise.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    warm_start : bool, default=False
        ``fit`` continues from the current weights and optimizer state.
    random_state : int, RandomState instance or None, default=None
        The same seed gives the same model, bit for bit, whatever ``n_jobs``.
    n_jobs : int or None, default=None
        Threads for the kernels; None uses all that OpenMP sees, -1 all cores. Use 1
        while other programs keep the cores busy: threads that wait for each other
        then run many times slower than one (see the README).
    verbose : int or bool, default=0
        1 (or True): a progress bar per epoch with the loss and validation metrics.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation. Predictions are float64 either way.

    Attributes
    ----------
    n_features_in_ : int
        Features per step (3-D or list input), or columns of a 2-D input.
    params_ : dict of str to ndarray
        Weights with PyTorch-style names (``rnn.0.weight_ih``, ``dense.0.weight``,
        ``output.weight``, ...).
    history_ : dict of lists
        Per epoch: ``loss``, ``val_loss``, ``val_score``, ``time`` (seconds).
    loss_curve_ : list of float
    validation_scores_ : list of float or None
    best_loss_ : float
    n_iter_ : int
        Epochs run.
{attributes}"""

_LOSS_DOC = """    loss : {"mse", "mae", "huber"}, default="mse"
        Keras' and PyTorch's losses (mean over the outputs; huber with delta 1).
        "mse" has no factor 1/2, so ``loss_curve_`` is twice scikit-learn MLP's.
"""
_CLASS_WEIGHT_DOC = """    class_weight : dict, "balanced" or None, default=None
        Weights of each class's samples (or steps), multiplying ``sample_weight``, in
        training only (the validation loss and score use ``sample_weight`` alone, as in
        Keras). "balanced" is ``n_samples / (n_classes * count)`` from the labels ``fit``
        trains on (not an ``early_stopping`` split's), each counted with its
        ``sample_weight`` as scikit-learn's ``compute_class_weight`` counts them, so a
        weight of 0 is the same as leaving the sample out; ``partial_fit`` refuses it,
        as scikit-learn's ``SGDClassifier`` does.
"""


class RNNRegressor(RegressorMixin, RegressionTargets, BaseRNN):
    """Recurrent network regressor: sequences in, a value (or one per step) out.

    Several targets per sample (or per step) train one output each.
    """

    __doc__ += _COMMON_DOC.replace("{extra}", _LOSS_DOC).replace(
        "{attributes}",
        "    n_outputs_ : int\n        Values predicted per sample (or per step).\n",
    )

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "loss": [StrOptions(set(_losses.REGRESSION_LOSSES))],
    }

    def __init__(
        self,
        *,
        cell="lstm",
        hidden_sizes=(64,),
        bidirectional=False,
        activation="tanh",
        dense_sizes=(),
        dropout=0.0,
        return_sequences=False,
        loss="mse",
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        decay=0.0,
        alpha=0.0,
        clip_norm=None,
        clip_value=None,
        bptt_steps=None,
        batch_size=32,
        max_epochs=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        n_jobs=None,
        verbose=0,
        dtype="float32",
    ):
        self._store_init_arguments(locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``, ``y`` from the current weights (first call: new ones)."""
        return self._fit(X, y, sample_weight, None, incremental=True)

    def predict(self, X):
        """Predicted values: (n,) or (n, k) per sequence; with ``return_sequences``
        (n, T[, k]), or a list of (T_i[, k]) arrays for a ragged ``X``. float64."""
        seqs = self._sequences_for_predict(X)
        values = self._outputs(seqs).astype(np.float64)
        if self._single_output:
            values = values[..., 0]
        return self._per_sample(seqs, values)

    def score(self, X, y, sample_weight=None):
        """R² of the predictions (over every valid step with ``return_sequences``)."""
        return self._score(X, y, sample_weight)

    def _loss(self, output, target, weight):
        return _losses.regression(self.loss, output, target, weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class RNNClassifier(ClassifierMixin, ClassificationTargets, BaseRNN):
    """Recurrent network classifier: sequences in, a label (or one per step) out.

    Two classes use one sigmoid output, more use a softmax; the loss is cross-entropy.
    Labels may be of any type (strings too).
    """

    __doc__ += _COMMON_DOC.replace("{extra}", _CLASS_WEIGHT_DOC).replace(
        "{attributes}", "    classes_ : ndarray\n        The labels, sorted.\n"
    )

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        *,
        cell="lstm",
        hidden_sizes=(64,),
        bidirectional=False,
        activation="tanh",
        dense_sizes=(),
        dropout=0.0,
        return_sequences=False,
        class_weight=None,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        decay=0.0,
        alpha=0.0,
        clip_norm=None,
        clip_value=None,
        bptt_steps=None,
        batch_size=32,
        max_epochs=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        n_jobs=None,
        verbose=0,
        dtype="float32",
    ):
        self._store_init_arguments(locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``X``, ``y`` from the current weights. The first call needs
        ``classes``: every label that will ever appear."""
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            # Balanced from each call's labels alone, a class's weight would swing with
            # the mix of every chunk (as scikit-learn's SGDClassifier, refuse it).
            raise ValueError(
                "class_weight: 'balanced' is not supported for partial_fit, which sees one "
                "chunk of the data at a time; pass the dict of "
                "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, "
                "y=y) over all (or a large sample of) the labels"
            )
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes: must be passed on the first call to partial_fit")
        if (
            hasattr(self, "classes_")
            and classes is not None
            and not np.array_equal(np.unique(classes), self.classes_)
        ):
            raise ValueError(
                f"classes: {np.asarray(classes).tolist()!r} differs from the fitted classes_ "
                f"{self.classes_.tolist()!r}"
            )
        return self._fit(X, y, sample_weight, None, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities: (n, n_classes), or (n, T, n_classes) / a list of
        (T_i, n_classes) arrays with ``return_sequences``."""
        seqs = self._sequences_for_predict(X)
        output = self._outputs(seqs)
        proba = _losses.probabilities(output.reshape(-1, output.shape[-1]))
        return self._per_sample(seqs, proba.reshape(*output.shape[:-1], -1))

    def predict(self, X):
        """Predicted labels: (n,), or (n, T) / a list of (T_i,) arrays with
        ``return_sequences``."""
        proba = self.predict_proba(X)
        if isinstance(proba, list):
            return [self.classes_[p.argmax(axis=-1)] for p in proba]
        return self.classes_[proba.argmax(axis=-1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy (over every valid step with ``return_sequences``)."""
        return self._score(X, y, sample_weight)

    def _loss(self, output, target, weight):
        return _losses.cross_entropy(output, target, weight)

    def _target_weights(self, target, weights):
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            # Counts weighted by sample_weight, as scikit-learn's compute_class_weight
            # counts them (1.9): a weight of 0 is the same as leaving the sample out.
            observed = target >= 0  # padded steps of ragged per-step targets are -1
            step_weights = (
                weights if target.ndim == 1 else np.broadcast_to(weights[:, None], target.shape)
            )
            counts = np.bincount(target[observed], step_weights[observed], n_classes)
            # A class with no weight has no sample for its factor to multiply. Divided
            # before the class's count multiplies in: weights near float64's limit
            # overflowed n_classes * count to inf, and that class's factor to 0.
            per_class = np.ones(n_classes)
            np.divide(counts.sum() / n_classes, counts, out=per_class, where=counts > 0)
        else:
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=self.classes_
            )
            # A negative weight would maximise its class's loss; zeros everywhere leave no
            # loss at all; NaN or inf would surface only as a non-finite loss mid-training.
            if not (np.isfinite(per_class).all() and (per_class >= 0).all() and per_class.any()):
                raise ValueError(
                    "class_weight: expected finite, non-negative weights, not all zero; got "
                    f"{self.class_weight!r}"
                )
        return per_class[target]

    def _validation_score(self, output, target, weight):
        predicted = _losses.probabilities(output).argmax(axis=1)
        return float(np.average(predicted == target, weights=weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
