"""Training and prediction shared by :class:`RNNRegressor` and :class:`RNNClassifier`.

The estimator owns the sklearn side (parameters, validation, fitted attributes); the
network (:mod:`rnnkit._network`) owns the math. The training loop here is mini-batch
gradient descent with the stopping rules of scikit-learn's MLP, per-epoch history,
optional validation, sklearn callbacks where scikit-learn has them, and two guarantees:

- a non-finite loss or gradient stops training with a ``FloatingPointError`` (a
  ``ValueError`` would be mistaken for bad input) and keeps the weights of the call's
  last finished epoch;
- Ctrl-C (``KeyboardInterrupt``) keeps the weights of the last finished epoch, warns, and
  returns the fitted estimator, as scikit-learn's MLP does;
- a call that fails before one of its epochs finishes, whatever the error, puts the
  estimator back as it was: a first fit leaves it unfitted, a later one keeps the model
  fitted before (Ctrl-C then warns and returns it); only the optimizer's moments,
  updated in place, restart.

All parameters live in one flat vector; ``params_`` holds views into it, so the optimizer
updates everything in a few vector operations.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _blas_free, _callbacks, _network, _optimizers
from ._inputs import TABLE, Sequences, fit_sample_weight, validate_sequences
from ._progress import EpochProgress
from ._sequence_estimator import SequenceEstimator, predict_rows, step_rows

try:  # scikit-learn >= 1.9: estimators accept sklearn.callback callbacks
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover - depends on the installed scikit-learn

    class CallbackSupportMixin:
        """Stand-in when scikit-learn has no callback API."""


def _positive_sizes(value, name, *, allow_empty):
    """``value`` as a tuple of positive ints (an int means one layer)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(f"{name}: expected a tuple of positive integers, got {value!r}")
    if not sizes and not allow_empty:
        raise ValueError(f"{name}: expected at least one layer, got {value!r}")
    return tuple(int(s) for s in sizes)


class BaseRNN(CallbackSupportMixin, SequenceEstimator):
    """Base class; use :class:`RNNRegressor` or :class:`RNNClassifier`."""

    _fitted_attribute = "params_"

    _parameter_constraints: dict = {
        "cell": [StrOptions({"lstm", "gru", "rnn"})],
        "hidden_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "activation": [StrOptions({"tanh", "relu", "linear"})],
        "dense_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "return_sequences": ["boolean"],
        "optimizer": [StrOptions(set(_optimizers.OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "decay": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "bptt_steps": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def _store_init_arguments(self, arguments):
        """The body of each estimator's ``__init__``: keep every argument as given.

        scikit-learn's rules: ``__init__`` validates nothing and sets only its arguments;
        each estimator spells out its own signature, which ``get_params`` reads.
        """
        for name, value in arguments.items():
            if name != "self":
                setattr(self, name, value)

    # -- hooks the estimators implement ------------------------------------------------

    def _validate_targets(self, y, seqs, *, reset, classes=None):
        """``y`` as an array aligned with ``seqs``; sets the target attributes on reset."""
        raise NotImplementedError

    def _n_outputs(self):
        raise NotImplementedError

    def _loss(self, output, target, weight):
        """(loss, d_output) for rows of network output, targets and weights."""
        raise NotImplementedError

    def _target_weights(self, target, weights):
        """Per-row factors multiplying ``sample_weight`` (class weights), or None;
        ``weights``: the sample weights of ``target``'s rows."""
        return None

    def _validation_score(self, output, target, weight):
        """The estimator's score (R², accuracy) on rows of output, targets and weights."""
        raise NotImplementedError

    # -- fitting -------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, validation_data=None):
        """Train on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array (n_samples, n_timesteps, n_features), array (n_samples, n_timesteps),
            or a list of (T_i, n_features) / (T_i,) arrays of different lengths.
        y : targets, one per sequence, or one per step with ``return_sequences=True``.
        sample_weight : array (n_samples,), optional. A batch's loss is
            ``sum(w * loss) / sum(w)``.
        validation_data : (X_val, y_val) or (X_val, y_val, sample_weight_val), optional.
            Scored after every epoch; with ``early_stopping`` it replaces the
            ``validation_fraction`` split, whose sequences keep their ``sample_weight``.
            It is used as given: in a Pipeline, the steps before the estimator do not
            transform it, so pass it transformed as they would transform X.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, validation_data, incremental=False)

    def _fit(self, X, y, sample_weight, validation_data, *, incremental, classes=None):
        first_pass = not hasattr(self, "params_") or not (self.warm_start or incremental)
        # What a call that ends before one of its epochs finishes puts back: the fitted
        # attributes and the state of the generators it draws from (random_state when
        # it is a RandomState, and the one the last fit kept). The optimizer's moments,
        # updated in place, are not copied (a partial_fit of one mini-batch of the mnist
        # LSTM took 7% longer): such a call restarts them instead.
        fitted_state = dict(vars(self))
        restore_generators = self._saved_generators(fitted_state.get("_random_state"))
        epochs_before = None
        try:
            train, val = self._validate_fit_data(
                X, y, sample_weight, validation_data, first_pass, incremental, classes
            )
            dtype = np.dtype(self.dtype)
            if first_pass:
                self._init_state(self._spec(), dtype)
            flat = self._flat_params(dtype)
            epochs_before = self.n_iter_
            epochs = 1 if incremental else self.max_epochs
            self._train(flat, train, val, epochs, stop_early=not incremental, X=X, y=y,
                        sample_weight=sample_weight)  # fmt: skip
        except BaseException as error:
            if epochs_before is not None and self.n_iter_ > epochs_before:
                raise  # _train kept the weights of this call's last finished epoch
            # Bad input, a network too large to allocate, a loss that turned non-finite
            # or Ctrl-C in the call's first epoch: the estimator is what it was before.
            self._restore(fitted_state)
            restore_generators()
            if epochs_before is not None and not first_pass:  # updated by the failed epoch
                self._optimizer_state = None
            if isinstance(error, KeyboardInterrupt) and hasattr(self, "params_"):
                warnings.warn(
                    f"Training interrupted: keeping the weights of epoch {self.n_iter_}, the "
                    "last finished one.",
                    UserWarning,
                    stacklevel=3,
                )
                return self
            raise
        return self

    def _validate_fit_data(self, X, y, sample_weight, validation_data, first_pass, incremental,
                           classes):  # fmt: skip
        """Check everything a fit call gets, before any training; returns the training
        data (sequences, targets, weights) and the validation data or None."""
        self._check_parameter_types()
        self._check_architecture()
        if incremental and self.early_stopping:
            raise ValueError(
                "early_stopping: partial_fit does not support early_stopping=True (as in "
                "scikit-learn's MLP): it trains on each chunk it is given; use fit"
            )
        if not first_pass:  # before the targets, which a changed return_sequences reshapes
            self._check_same_network()
        self._require_y(y)
        dtype = np.dtype(self.dtype)
        seqs = validate_sequences(self, X, reset=first_pass, dtype=dtype)
        targets = self._validate_targets(y, seqs, reset=first_pass, classes=classes)
        weights = _checked_sample_weight(sample_weight, seqs, "sample_weight")
        self._target_weights(targets, weights)  # class_weight errors come before training
        if first_pass or not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        split = self.early_stopping and not incremental and validation_data is None
        if validation_data is not None:
            val = self._validation_set(validation_data, dtype)
            if self.early_stopping:  # otherwise its scores are only recorded
                self._check_validation_size(val[0], "validation_data")
            train = (seqs, targets, weights)
        elif split:
            train, val = self._split(seqs, targets, weights)
            self._check_validation_size(
                val[0], f"validation_fraction: {self.validation_fraction} of {len(seqs)} sequences"
            )
            if not val[2].any():  # the validation loss and score divide by its weights' sum
                raise ValueError(
                    f"sample_weight: every sequence of the validation split "
                    f"(validation_fraction={self.validation_fraction}) has weight 0; give "
                    "validation_data or a larger validation_fraction"
                )
        else:
            train, val = (seqs, targets, weights), None
        # partial_fit streams past a chunk of no weight, as SGDClassifier's does.
        if not incremental:
            self._check_training_weight(train, split=split)
        return train, val

    def _check_training_weight(self, train, *, split):
        """Some sample (with ``return_sequences``, some valid step) of ``train`` must have
        weight once class weights multiply the sample weights: without one every epoch
        would end without an update, reporting a loss of 0. ``split``: ``train`` is what
        early stopping's validation split left. (The class weights of fit's classes are
        never all 0, so with them some sample_weight was given.)"""
        seqs, targets, weights = train
        factors = self._target_weights(targets, weights)
        weights = _weighed(weights, factors)
        if weights.ndim == 2:  # per step: padded steps never reach the loss
            mask = seqs.step_mask()  # a split's x is cut to its longest sequence, y is not
            weights = weights[:, : mask.shape[1]][mask]
        if weights.any():
            return
        sequences = "every sequence"
        if split:
            sequences += f" of the training split (validation_fraction={self.validation_fraction})"
        if factors is None:
            message = f"sample_weight: {sequences} has weight 0"
        else:
            message = (
                f"sample_weight and class_weight: {sequences} has weight 0 once its class "
                "weight multiplies its sample weight"
            )
        raise ValueError(f"{message}, so there is nothing to train on")

    def _check_same_network(self):
        """warm_start and partial_fit continue the fitted network: everything but dropout
        (which has no weights) must be as it was; dropout may change between calls."""
        spec = self._spec()
        changed = [
            field.name
            for field in dataclasses.fields(spec)
            if field.name != "dropout"
            and getattr(spec, field.name) != getattr(self._spec_, field.name)
        ]
        if changed:
            raise ValueError(
                f"The network changed since the last fit ({', '.join(changed)}); set "
                "warm_start=False to train a new one"
            )
        self._spec_ = spec

    def _check_architecture(self):
        if self.activation == "linear" and self.cell != "rnn":
            raise ValueError(
                f"activation='linear' is only available for cell='rnn', got cell={self.cell!r}"
            )
        self._hidden_sizes = _positive_sizes(self.hidden_sizes, "hidden_sizes", allow_empty=False)
        self._dense_sizes = _positive_sizes(self.dense_sizes, "dense_sizes", allow_empty=True)
        self._threads()  # n_jobs' errors before any training

    def _spec(self):
        return _network.NetworkSpec(
            cell=self.cell,
            hidden_sizes=self._hidden_sizes,
            bidirectional=bool(self.bidirectional),
            activation=self.activation,
            dense_sizes=self._dense_sizes,
            dropout=float(self.dropout),
            return_sequences=bool(self.return_sequences),
            n_inputs=self._n_inputs(),
            n_outputs=self._n_outputs(),
        )

    def _n_inputs(self):
        return 1 if self._layout == TABLE else self.n_features_in_

    def _init_state(self, spec, dtype):
        self._spec_ = spec
        self.params_ = _network.init_params(spec, self._random_state, dtype)
        self._optimizer_state = None
        self.history_ = {"loss": [], "val_loss": [], "val_score": [], "time": []}
        self.n_iter_ = 0
        self.best_loss_ = np.inf

    def _flat_params(self, dtype):
        """Move ``params_`` into one flat vector, in the network's order, and make
        ``params_`` views into it."""
        shapes = self._spec_.shapes()
        self._check_params(shapes)
        flat = np.concatenate([np.asarray(self.params_[name], dtype).ravel() for name in shapes])
        self._bind(flat)
        state = self._optimizer_state
        if _optimizers.matches(state, self.optimizer, flat):
            cast = {k: v.astype(dtype, copy=False) for k, v in state.items() if hasattr(v, "dtype")}
            state.update(cast)
        else:
            self._optimizer_state = _optimizers.init_state(self.optimizer, flat)
        return flat

    def _check_params(self, shapes):
        """A warm fit continues from ``params_``, which the user may have replaced (with
        a torch model's weights, say): each must be there with its shape, since the flat
        vector would read a transposed weight, or a dict in another order, in the wrong
        layout without a word."""
        missing = [name for name in shapes if name not in self.params_]
        unexpected = [name for name in self.params_ if name not in shapes]
        if missing or unexpected:
            raise ValueError(
                f"params_: expected the fitted network's parameters {list(shapes)}; missing "
                f"{missing}, unexpected {unexpected}"
            )
        for name, shape in shapes.items():
            if np.shape(self.params_[name]) != shape:
                raise ValueError(
                    f"params_[{name!r}]: expected shape {shape}, got {np.shape(self.params_[name])}"
                )

    def _bind(self, flat):
        params, offset = {}, 0
        for name, shape in self._spec_.shapes().items():
            size = int(np.prod(shape))
            params[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        self.params_ = params

    def _validation_set(self, validation_data, dtype):
        """(sequences, targets, weights) of ``validation_data``: (X_val, y_val) or, as in
        Keras, (X_val, y_val, sample_weight_val)."""
        try:
            X_val, y_val, *w_val = validation_data
            if len(w_val) > 1:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                "validation_data: expected a pair (X_val, y_val) or a triple (X_val, y_val, "
                "sample_weight_val)"
            ) from None
        try:
            if y_val is None:
                raise ValueError("y_val is None")
            seqs = validate_sequences(self, X_val, reset=False, dtype=dtype)
            targets = self._validate_targets(y_val, seqs, reset=False)
            weights = _checked_sample_weight(w_val[0] if w_val else None, seqs, "sample_weight_val")
        except ValueError as e:
            raise ValueError(f"validation_data: {e}") from e
        return seqs, targets, weights

    def _check_validation_size(self, seqs, what):
        """At least 2 scored rows (sequences, or steps with return_sequences) for early
        stopping, as scikit-learn's MLP asks of its split: R² of one is undefined (NaN,
        which no epoch improves on, so training stopped after n_iter_no_change epochs)."""
        rows = int(seqs.step_mask().sum()) if self._fitted_sequences else len(seqs)
        if rows < 2:
            unit = "step" if self._fitted_sequences else "sequence"
            raise ValueError(
                f"{what} leaves {rows} {unit} to validate on, too few to score (at least 2); "
                "give more data or a larger validation set"
            )

    def _split(self, seqs, targets, weights):
        index = np.arange(len(seqs))
        stratify = None
        if hasattr(self, "classes_") and not self.return_sequences:
            counts = np.bincount(targets)
            stratify = targets if counts[counts > 0].min() >= 2 else None
        try:
            train_index, val_index = train_test_split(
                index,
                test_size=self.validation_fraction,
                random_state=self._random_state,
                stratify=stratify,
            )
        except ValueError as e:  # a stratified split smaller than the classes
            raise ValueError(f"validation_fraction: {e}") from None
        train = (seqs.take(train_index), targets[train_index], weights[train_index])
        return train, (seqs.take(val_index), targets[val_index], weights[val_index])

    def _train(self, flat, train, val, epochs, *, stop_early, X, y, sample_weight):
        """Run up to ``epochs`` epochs; ``stop_early`` applies the MLP's stopping rules."""
        history = self.history_
        stopper = _Stopper(self, use_validation=val is not None and self.early_stopping)
        last_good = flat.copy()  # weights after the last finished epoch
        generator = np.random.default_rng(self._random_state.randint(np.iinfo(np.int32).max))
        callbacks = _callbacks.start(self, epochs, X, y, sample_weight)
        first_epoch = self.n_iter_
        row_weights = self._target_weights(train[1], train[2])
        l2 = self._l2_factors()
        try:
            for epoch in range(first_epoch + 1, first_epoch + epochs + 1):
                epoch_context = callbacks.begin_epoch() if callbacks else None
                started = time.perf_counter()
                progress = EpochProgress(
                    self.verbose, f"Epoch {epoch}/{first_epoch + epochs}",
                    n_batches=-(-len(train[0]) // self.batch_size),
                )  # fmt: skip
                metrics = None
                try:
                    loss = self._epoch(flat, train, row_weights, l2, generator, progress)
                    val_loss, val_score = self._evaluate(*val) if val else (None, None)
                    metrics = {"loss": loss, "val_loss": val_loss, "val_score": val_score,
                               "time": time.perf_counter() - started}  # fmt: skip
                finally:
                    progress.close(metrics)
                if not np.isfinite(flat).all():  # the epoch's last update overflowed
                    raise FloatingPointError(
                        f"The weights became non-finite in epoch {epoch}; training stopped "
                        "and the estimator keeps the weights of the last finished epoch. Try "
                        "a lower learning_rate, clip_norm, or scaled inputs and targets."
                    )
                self.n_iter_ = epoch
                for name, value in metrics.items():
                    history[name].append(value)
                last_good[...] = flat
                self.best_loss_ = min(self.best_loss_, loss)
                stop = stopper.update(loss, val_score, flat)
                if callbacks and callbacks.end_epoch(epoch_context):
                    break  # a callback asked to stop
                if stop_early and stop:
                    break
            else:
                if stop_early:  # every epoch ran and the stopping rule never fired
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({epochs}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=5,
                    )
            if stop_early:
                stopper.restore_best(flat)
        except KeyboardInterrupt:
            if self.n_iter_ == first_epoch:
                raise  # not one epoch of this call finished: _fit puts back the estimator
            flat[...] = last_good
            warnings.warn(
                f"Training interrupted: keeping the weights of epoch {self.n_iter_}, the last "
                "finished one.",
                UserWarning,
                stacklevel=5,
            )
        except BaseException:
            # A non-finite loss, or anything else that stops an epoch half way (no
            # memory, a timeout's signal): the weights go back to the last finished
            # epoch, which n_iter_ and history_ describe, and the optimizer's moments
            # (non-finite, or moved by the unfinished epoch) restart.
            flat[...] = last_good
            self._optimizer_state = None
            raise
        finally:
            self.loss_curve_ = history["loss"]
            self.validation_scores_ = history["val_score"] if val is not None else None
            if callbacks:
                callbacks.end()

    def _epoch(self, flat, train, row_weights, l2, generator, progress):
        """One pass over the data in shuffled mini-batches; returns the mean loss.
        ``row_weights``: class weights per sample or step, or None; ``l2``: see
        :meth:`_l2_factors`."""
        seqs, targets, weights = train
        threads = self._threads()
        order = generator.permutation(len(seqs))
        total, total_weight = 0.0, 0.0
        workspace = {}  # cache arrays handed from one step's backward to the next forward
        for start in range(0, len(seqs), self.batch_size):
            index = order[start : start + self.batch_size]
            batch = seqs.take(index)
            factors = None if row_weights is None else row_weights[index]
            w = _weighed(weights[index], factors)
            loss, grad, w_sum = self._batch_gradient(
                flat, batch, targets[index], w, l2, generator, threads, workspace
            )
            if w_sum == 0.0:
                progress.batch(0.0)
                continue
            if not (np.isfinite(loss) and np.isfinite(grad).all()):
                raise FloatingPointError(
                    f"The training loss or its gradient became non-finite (loss {loss}) in "
                    f"epoch {self.n_iter_ + 1}; training stopped and the estimator keeps the "
                    "weights of the last finished epoch. Try a lower learning_rate, "
                    "clip_norm, or scaled inputs and targets."
                )
            _optimizers.clip(grad, clip_value=self.clip_value, clip_norm=self.clip_norm)
            _optimizers.update(
                self._optimizer_state, flat, grad,
                learning_rate=self.learning_rate, momentum=self.momentum, decay=self.decay,
                n_threads=threads,
            )  # fmt: skip
            total += loss * w_sum
            total_weight += w_sum
            progress.batch(loss)
        return total / total_weight if total_weight else 0.0

    def _batch_gradient(self, flat, batch, target, weight, l2, generator, threads,
                        workspace=None):  # fmt: skip
        """(loss, gradient, weight sum) of one mini-batch at the weights ``flat`` (which
        ``params_`` views): the weighted mean loss plus the L2 penalty, and its gradient
        as one vector like ``flat``; (0.0, None, 0.0) for a batch of weight 0. ``weight``:
        per row (sample, or step with ``return_sequences``), class weights included; ``l2``:
        see :meth:`_l2_factors`."""
        window = self.bptt_steps
        if window is not None and window < batch.x.shape[1] and not self._spec_.bidirectional:
            gradient = self._windowed_gradient
        else:
            gradient = self._gradient
        loss, grads, w_sum = gradient(batch, target, weight, generator, threads, workspace)
        if w_sum == 0.0:
            return 0.0, None, 0.0
        grad = np.concatenate([g.ravel() for g in grads.values()])
        if l2 is not None:
            penalty_grad = l2 * flat
            loss += 0.5 * _blas_free.dot(penalty_grad, flat)
            grad += penalty_grad
        return loss, grad, w_sum

    def _gradient(self, batch, target, weight, generator, threads, workspace=None):
        """(loss, gradients by parameter name, weight sum) of one mini-batch: one forward
        over all its steps, one backward (truncated to ``bptt_steps`` windows, if set)."""
        output, tape = _network.forward(
            self._spec_, self.params_, batch.x, batch.lengths,
            training=True, rng=generator, n_threads=threads, workspace=workspace,
        )  # fmt: skip
        out_rows, target_rows, w_rows, scatter = self._rows(batch, output, target, weight)
        w_sum = float(w_rows.sum())
        if w_sum == 0.0:
            return 0.0, None, 0.0
        loss, d_rows = self._loss(out_rows, target_rows, w_rows)
        grads = _network.backward(
            self._spec_, self.params_, tape, scatter(d_rows),
            bptt_steps=self.bptt_steps, n_threads=threads,
        )  # fmt: skip
        return loss, grads, w_sum

    def _windowed_gradient(self, batch, target, weight, generator, threads, workspace=None):
        """:meth:`_gradient` for truncated BPTT, one ``bptt_steps`` window at a time: the
        network runs a window forward from the state the previous one left and
        backpropagates it at once, so memory is bounded by the window, not by the
        sequence. No gradient crosses a window boundary either way (the semantics of
        ``ops.backward(bptt_steps=...)``), so the gradient equals :meth:`_gradient`'s up to
        the order of summation; dropout masks are drawn window by window.

        Each window's loss is the weighted mean of its own rows (a step with
        ``return_sequences``, else a sequence whose last step falls in the window), so
        losses and gradients are summed weighted by each window's total weight and
        divided by the batch's at the end.
        """
        spec, window = self._spec_, self.bptt_steps
        steps, ends = batch.x.shape[1], batch.steps
        rows = np.arange(len(batch))  # sequences not yet finished
        state = None
        loss, grads, w_sum = 0.0, None, 0.0
        for start in range(0, steps, window):
            stop = min(start + window, steps)
            alive = ends[rows] > start
            if not alive.all():
                rows = rows[alive]
                state = [(h[alive], None if c is None else c[alive]) for h, c in state]
            lengths = None if batch.lengths is None else np.minimum(ends[rows], stop) - start
            ending = ends[rows] <= stop
            # A window no loss reaches needs no caches, only its state; with dropout it
            # still runs as training, whose masks shape what the next window reads.
            backprop = self.return_sequences or ending.any()
            output, tape, state = _network.forward_from(
                spec, self.params_, batch.x[rows, start:stop], lengths, state,
                training=backprop or spec.dropout > 0, rng=generator, n_threads=threads,
                workspace=workspace,
            )  # fmt: skip
            if not backprop:
                continue
            if self.return_sequences:
                part = Sequences(output, lengths)
                w_part = weight[rows] if weight.ndim == 1 else weight[rows, start:stop]
                out_rows, target_rows, w_rows, scatter = self._rows(
                    part, output, target[rows, start:stop], w_part
                )
            else:  # only sequences ending in this window reach the loss
                out_rows, target_rows, w_rows = (
                    output[ending],
                    target[rows][ending],
                    weight[rows][ending],
                )
                scatter = partial(_scatter_rows, ending, output.shape)
            part_sum = float(w_rows.sum())
            if part_sum == 0.0:
                continue
            part_loss, d_rows = self._loss(out_rows, target_rows, w_rows)
            part_grads = _network.backward(
                spec, self.params_, tape, scatter(d_rows), n_threads=threads
            )
            loss += part_loss * part_sum
            w_sum += part_sum
            if grads is None:
                grads = {name: g * part_sum for name, g in part_grads.items()}
            else:
                for name, g in part_grads.items():
                    grads[name] += g * part_sum
        if w_sum == 0.0:
            return 0.0, None, 0.0
        for g in grads.values():
            g /= w_sum
        return loss / w_sum, grads, w_sum

    def _rows(self, batch, output, target, weight):
        """Network outputs, targets and weights as loss rows, plus the map from a
        gradient on those rows back to the output's shape. With ``return_sequences`` a row
        is one valid step; padded steps never reach the loss."""
        if not self._fitted_sequences:
            return output, target, weight, lambda d_rows: d_rows
        mask = batch.step_mask()
        return (
            *step_rows(mask, output, target, weight),
            partial(_scatter_rows, mask, output.shape),
        )

    def _l2_factors(self):
        """``alpha`` on every weight matrix entry and 0 on biases, as one flat vector."""
        if self.alpha == 0:
            return None
        dtype = np.dtype(self.dtype)
        parts = [
            np.full(int(np.prod(shape)), self.alpha if _network.is_weight(name) else 0.0, dtype)
            for name, shape in self._spec_.shapes().items()
        ]
        return np.concatenate(parts)

    # -- prediction ----------------------------------------------------------------------

    def _fitted_dtype(self):
        return next(iter(self.params_.values())).dtype

    def _outputs(self, seqs):
        """Raw network outputs for every sequence: (n, k) or (n, T, k), in chunks."""
        threads = self._threads()
        workspace = {}  # each layer's projection scratch, from one chunk to the next
        spec = self._spec_
        # Per step: the input, each recurrent layer's output (both directions) and, with
        # return_sequences, the head's layers too.
        widths = [spec.n_inputs, max(spec.hidden_sizes) * len(spec.directions)]
        if spec.return_sequences:
            widths += [*spec.dense_sizes, spec.n_outputs]
        return self._in_chunks(
            seqs,
            predict_rows(seqs.x.shape[1], max(widths), seqs.x.dtype.itemsize),
            lambda part: _network.forward(
                spec, self.params_, part.x, part.lengths, n_threads=threads,
                workspace=workspace,
            )[0],
        )  # fmt: skip

    def _step(self, x_t, state=None):
        """Raw network outputs (B, k) for one more step ``x_t`` (B, F) of B sequences,
        and the state to pass with the next step (None starts the sequences)."""
        check_is_fitted(self, self._fitted_attribute)
        x_t = np.ascontiguousarray(x_t, dtype=self._fitted_dtype())
        return _network.step(self._spec_, self.params_, x_t, state, n_threads=self._threads())

    def _predicted_rows(self, seqs, targets, weights):
        """Predictions, targets and weights as loss rows, without dropout."""
        out_rows, target_rows, w_rows, _ = self._rows(seqs, self._outputs(seqs), targets, weights)
        return out_rows, target_rows, w_rows

    def _evaluate(self, seqs, targets, weights):
        """(loss, score) on held-out data, each sequence weighted by its sample weight (not
        by class weights, which apply to training only, as in Keras)."""
        rows = self._predicted_rows(seqs, targets, weights)
        loss, _ = self._loss(*rows)
        return loss, self._validation_score(*rows)


def _weighed(weights, factors):
    """Sample weights (n,) times class weights ``factors``, per sample (n,) or, with
    return_sequences, per step (n, T); ``weights`` as they are for None."""
    if factors is None:
        return weights
    return weights * factors if factors.ndim == 1 else weights[:, None] * factors


def _checked_sample_weight(sample_weight, seqs, name):
    """Sample weights as float64 (n,), ones for None: non-negative, not all zero, with a
    finite sum, or a ValueError naming ``name``."""
    weights = fit_sample_weight(sample_weight, seqs)
    with np.errstate(over="ignore"):
        total = weights.sum()
    if not np.isfinite(total):  # a batch's loss divides by its weights' sum
        raise ValueError(
            f"{name}: the weights' sum overflows float64; scale them down (only their "
            "ratios matter)"
        )
    return weights


def _scatter_rows(selected, shape, d_rows):
    """The gradient on the ``selected`` rows (or steps) of an output of ``shape``; 0 on
    the others."""
    d_output = np.zeros(shape, dtype=d_rows.dtype)
    d_output[selected] = d_rows
    return d_output


class _Stopper:
    """scikit-learn MLP's stopping rules: stop after ``n_iter_no_change`` epochs without
    the training loss improving by ``tol`` or, with early stopping, without the
    validation score improving by ``tol``; then keep the best validation epoch."""

    def __init__(self, estimator, *, use_validation):
        self.patience = estimator.n_iter_no_change
        self.tol = estimator.tol
        self.use_validation = use_validation
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.best_flat = None
        self.count = 0

    def update(self, loss, val_score, flat):
        """Record an epoch; True when training should stop."""
        if self.use_validation:
            improved = val_score > self.best_score + self.tol
            if val_score > self.best_score:
                self.best_score, self.best_flat = val_score, flat.copy()
        else:
            improved = loss < self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
        self.count = 0 if improved else self.count + 1
        return self.count > self.patience  # MLP's rule: patience epochs, then one more

    def restore_best(self, flat):
        if self.best_flat is not None:
            flat[...] = self.best_flat
