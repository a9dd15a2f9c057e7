"""Echo state networks: a fixed random reservoir and a ridge readout fitted in closed form.

The reservoir is a leaky Elman layer,
``h_t = (1 - a) h_{t-1} + a tanh(W_in x_t + b + W h_{t-1})``, run by the same C++ kernel
as :func:`rnnkit.ops.forward` (``cell="rnn"``, ``leak_rate=a``). Its weights are drawn
once and never trained: ``W`` is sparse and scaled to a chosen spectral radius so that
the state fades its memory of old inputs (the echo state property). Only the linear
readout from the state to the targets is fitted, by one ridge regression, so fitting
takes a single forward pass of the reservoir.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from . import ops
from ._blas_free import one_blas_thread
from ._inputs import fit_sample_weight, validate_sequences
from ._sequence_estimator import (
    ClassificationTargets,
    RegressionTargets,
    SequenceEstimator,
    predict_rows,
    step_rows,
)


class BaseEchoState(SequenceEstimator):
    """Base class; use :class:`EchoStateRegressor` or :class:`EchoStateClassifier`."""

    _fitted_attribute = "coef_"  # the readout, fitted last

    _parameter_constraints: dict = {
        "n_reservoir": [Interval(Integral, 1, None, closed="left")],
        "spectral_radius": [Interval(Real, 0, None, closed="neither")],
        "leak_rate": [Interval(Real, 0, 1, closed="right")],
        "input_scaling": [Interval(Real, 0, None, closed="neither")],
        "sparsity": [Interval(Real, 0, 1, closed="left")],
        "washout": [Interval(Integral, 0, None, closed="left")],
        "ridge": [Interval(Real, 0, None, closed="left")],
        "return_sequences": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(
        self,
        *,
        n_reservoir=200,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        sparsity=0.9,
        washout=0,
        ridge=1e-6,
        return_sequences=False,
        random_state=None,
        n_jobs=None,
        dtype="float64",
    ):
        self.n_reservoir = n_reservoir
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.sparsity = sparsity
        self.washout = washout
        self.ridge = ridge
        self.return_sequences = return_sequences
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Run the reservoir over ``X`` and fit the readout to ``y`` by ridge regression.

        ``X`` and ``y`` as for :class:`~rnnkit.RNNRegressor`. With ``return_sequences``,
        the first ``washout`` steps of each sequence are left out of the fit: the state
        there still depends on the arbitrary zero state it started from.
        """
        fitted_state = dict(vars(self))
        restore_generators = self._saved_generators()
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            # Validation records n_features_in_, classes_, ...: a failed call must not
            # leave them describing data the fitted readout never saw, nor a RandomState
            # advanced by a reservoir it dropped.
            self._restore(fitted_state)
            restore_generators()
            raise

    def _fit(self, X, y, sample_weight):
        self._check_parameter_types()
        self._threads()  # n_jobs' errors before the reservoir is drawn
        self._require_y(y)
        seqs = validate_sequences(self, X, reset=True, dtype=np.dtype(self.dtype))
        targets = self._validate_targets(y, seqs, reset=True)
        weights = fit_sample_weight(sample_weight, seqs)
        if self.return_sequences and self.washout >= seqs.steps.max():
            raise ValueError(
                f"washout: {self.washout} steps leave none of the sequences (the longest has "
                f"{seqs.steps.max()}) to fit the readout on; use a smaller washout"
            )
        # With return_sequences the readout is fitted on the valid steps past the washout;
        # fit_sample_weight has made sure some sample, not some such step, has weight.
        fit_mask = self._readout_steps(seqs, self.washout)
        if self.return_sequences and not (weights[:, None] * fit_mask).sum() > 0:
            raise ValueError(
                "sample_weight: the samples (or steps past the washout) the readout is "
                "fitted on all have weight 0"
            )
        self.reservoir_ = self._draw_reservoir(seqs.x.shape[2], np.dtype(self.dtype))
        features = self._in_chunks(seqs, self._chunk_rows(seqs), self._states)
        if self.return_sequences:
            features, targets, weights = step_rows(fit_mask, features, targets, weights)
        self.coef_, self.intercept_ = ridge_readout(
            features, self._readout_targets(targets), weights, self.ridge, self._threads()
        )
        self._fit_washout = self.washout  # score keeps to it, whatever set_params does
        return self

    def _fitted_dtype(self):
        return self.reservoir_["weight_hh"].dtype

    def _draw_reservoir(self, n_inputs, dtype):
        """Input weights uniform in [-input_scaling, input_scaling] (a bias likewise);
        recurrent weights sparse normal, scaled to the spectral radius."""
        rng = check_random_state(self.random_state)
        n = self.n_reservoir
        try:
            weight_ih = rng.uniform(-self.input_scaling, self.input_scaling, (n, n_inputs))
            bias_ih = rng.uniform(-self.input_scaling, self.input_scaling, n)
        except OverflowError:  # the range's width 2 * input_scaling is not a float
            raise ValueError(
                f"input_scaling: {self.input_scaling!r} is too large to draw weights from"
            ) from None
        weight_hh = rng.standard_normal((n, n)) * (rng.random_sample((n, n)) >= self.sparsity)
        with one_blas_thread():  # the same reservoir for any OMP_NUM_THREADS
            radius = np.abs(np.linalg.eigvals(weight_hh)).max()
        if radius > 0:  # an all-zero draw (tiny, very sparse reservoirs) stays zero
            weight_hh *= self.spectral_radius / radius
        arrays = {
            "weight_ih": weight_ih,
            "weight_hh": weight_hh,
            "bias_ih": bias_ih,
            "bias_hh": np.zeros(n),
        }
        with np.errstate(over="ignore"):  # float32 cannot hold a large scale: refused below
            reservoir = {name: np.ascontiguousarray(a, dtype=dtype) for name, a in arrays.items()}
        scaled_by = {"weight_ih": "input_scaling", "bias_ih": "input_scaling",
                     "weight_hh": "spectral_radius"}  # fmt: skip
        for name, parameter in scaled_by.items():
            if not np.isfinite(reservoir[name]).all():
                raise ValueError(
                    f"{parameter}: {getattr(self, parameter)!r} makes reservoir weights too "
                    f"large for {dtype} (their largest finite value is {np.finfo(dtype).max:.3g})"
                )
        return reservoir

    def _states(self, part):
        """Reservoir states of the sequences ``part``, float64: (n, T, N) every step, or
        (n, N) after the last."""
        weights = tuple(
            self.reservoir_[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        result = ops.forward(
            "rnn", part.x, *weights, lengths=part.lengths, leak_rate=self.leak_rate,
            n_threads=self._threads(),
        )  # fmt: skip
        states = result.output if self._fitted_sequences else result.h_n
        return states.astype(np.float64, copy=False)

    def _chunk_rows(self, seqs):
        """Sequences per reservoir call: the widest per-step array is the states."""
        return predict_rows(seqs.x.shape[1], self.n_reservoir, np.dtype(np.float64).itemsize)

    def _decision(self, X):
        """Readout outputs: (n, k), or (n, T, k) per step."""
        seqs = self._sequences_for_predict(X)
        return seqs, self._readout(seqs)

    def _readout(self, seqs):
        """Readout outputs of ``seqs``, a chunk of sequences at a time: only a chunk's
        states are held, never all of them (n_reservoir times the input's size per step)."""

        def run(part):
            # rnnkit's GEMM rather than numpy's: a row's sums are the same bits whatever
            # rows come with it (OpenBLAS rounds a one-row product differently from a
            # batch's), so a sequence gets the same prediction alone or in a batch.
            states = self._states(part)
            rows = ops.matmul(
                states.reshape(-1, states.shape[-1]), self.coef_.T, n_threads=self._threads()
            )
            return rows.reshape(*states.shape[:-1], -1) + self.intercept_

        return self._in_chunks(seqs, self._chunk_rows(seqs), run)

    def _readout_steps(self, seqs, washout):
        """(n, T) mask of the steps the readout is fitted and scored on: the valid ones
        past the washout."""
        return seqs.step_mask() & (np.arange(seqs.x.shape[1]) >= washout)

    def _predicted_rows(self, seqs, targets, weights):
        """Outputs, targets and weights of every sequence, or of every step the readout
        is fitted on, for ``score``."""
        output = self._readout(seqs)
        if not self._fitted_sequences:
            return output, targets, weights
        washout = getattr(self, "_fit_washout", self.washout)  # older pickles: the current
        steps = self._readout_steps(seqs, washout)
        if not steps.any():
            raise ValueError(
                f"X: no sequence is longer than washout={washout} steps, so there is no step "
                "to score"
            )
        return step_rows(steps, output, targets, weights)


def ridge_readout(features, targets, weights, ridge, n_threads):
    """Weighted ridge regression with an unpenalized intercept, in closed form.

    Minimizes ``sum_i w_i |y_i - W f_i - b|^2 + ridge |W|^2`` over ``W`` (k, N) and ``b``
    (k,), the objective of scikit-learn's ``Ridge``: centre features and targets on their
    weighted means, then solve ``(F^T diag(w) F + ridge I) W^T = F^T diag(w) Y``. The
    products run on rnnkit's GEMM (``n_threads``), which takes one dtype: features,
    targets and weights are float64, as ``_states``, ``_readout_targets`` and the sample
    weights give them. The solve runs on one BLAS thread: the same bits for any thread
    count (see ``_blas_free``).
    """
    # Only the weights' ratio to ridge matters: dividing both by a power of two near the
    # largest weight is exact, and keeps weights near float64's limit from overflowing
    # the sums and the Gram matrix. Only large weights: dividing by a tiny one would
    # overflow ridge instead.
    if weights.max() > 1.0:
        scale = np.ldexp(1.0, np.frexp(weights.max())[1] - 1)
        weights, ridge = weights / scale, ridge / scale

    def product(a, b):
        return ops.matmul(a, b, n_threads=n_threads)

    total = weights.sum()
    feature_mean = product(weights[None], features)[0] / total
    target_mean = product(weights[None], targets)[0] / total
    centred = features - feature_mean
    weighted = centred * weights[:, None]
    gram = product(centred.T, weighted)
    gram[np.diag_indices_from(gram)] += ridge
    # lstsq, not solve: with ridge=0 the Gram matrix of a small sample is singular.
    with one_blas_thread():
        coef = np.linalg.lstsq(gram, product(weighted.T, targets - target_mean), rcond=None)[0].T
    return coef, target_mean - product(coef, feature_mean[:, None])[:, 0]


class EchoStateRegressor(RegressorMixin, RegressionTargets, BaseEchoState):
    """Echo state network regressor: a fixed random reservoir, a ridge readout.

    Parameters
    ----------
    n_reservoir : int, default=200
        Units in the reservoir.
    spectral_radius : float > 0, default=0.9
        Largest absolute eigenvalue of the recurrent weights; below 1 the reservoir
        forgets its start, longer memory as it nears 1.
    leak_rate : float in (0, 1], default=1.0
        ``h_t = (1 - leak_rate) h_{t-1} + leak_rate tanh(...)``: smaller is slower.
    input_scaling : float > 0, default=1.0
        Input weights and biases are uniform in ``[-input_scaling, input_scaling]``.
    sparsity : float in [0, 1), default=0.9
        Fraction of recurrent weights that are zero.
    washout : int, default=0
        With ``return_sequences``: steps at the start of each sequence left out of the
        readout's fit.
    ridge : float >= 0, default=1e-6
        L2 penalty of the readout.
    return_sequences : bool, default=False
        False: predict from the state after the last step. True: one prediction per step.
    random_state : int, RandomState instance or None
        Draws the reservoir.
    n_jobs : int or None
        Threads for the reservoir kernel.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the reservoir run. The readout is always solved in float64: with a
        small ``ridge`` the solve needs it.

    Attributes
    ----------
    reservoir_ : dict of arrays
        ``weight_ih`` (N, F), ``weight_hh`` (N, N), ``bias_ih``, ``bias_hh`` (N,), in the
        layout of :func:`rnnkit.ops.forward`.
    coef_ : array (n_outputs, N)
    intercept_ : array (n_outputs,)
    n_features_in_ : int
    """

    def predict(self, X):
        """Predicted values: (n,) or (n, k); with ``return_sequences`` (n, T[, k]), or a
        list of (T_i[, k]) arrays for a ragged ``X``."""
        seqs, output = self._decision(X)
        if self._single_output:
            output = output[..., 0]
        return self._per_sample(seqs, output)

    def score(self, X, y, sample_weight=None):
        """R² of the predictions; with ``return_sequences``, over the valid steps past
        the washout, those the readout is fitted on."""
        return self._score(X, y, sample_weight)

    def _readout_targets(self, targets):
        return targets.astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class EchoStateClassifier(ClassifierMixin, ClassificationTargets, BaseEchoState):
    """Echo state network classifier: a ridge readout to ±1 class indicators, as
    scikit-learn's ``RidgeClassifier``; the predicted class has the largest output.

    Parameters and attributes as :class:`EchoStateRegressor`, plus ``classes_``. Labels
    may be of any type (strings too).
    """

    def decision_function(self, X):
        """Readout outputs: (n,) for two classes (positive: ``classes_[1]``), else
        (n, n_classes); per step with ``return_sequences``."""
        seqs, output = self._decision(X)
        if output.shape[-1] == 1:
            output = output[..., 0]
        return self._per_sample(seqs, output)

    def predict(self, X):
        """Predicted labels: (n,), or (n, T) / a list of (T_i,) with ``return_sequences``."""
        seqs, output = self._decision(X)
        return self._per_sample(seqs, self.classes_[self._class_indices(output)])

    def score(self, X, y, sample_weight=None):
        """Accuracy; with ``return_sequences``, over the valid steps past the washout,
        those the readout is fitted on."""
        return self._score(X, y, sample_weight)

    def _validation_score(self, output, target, weight):
        return float(np.average(self._class_indices(output) == target, weights=weight))

    def _class_indices(self, output):
        if output.shape[-1] == 1:
            return (output[..., 0] > 0).astype(np.int64)
        return output.argmax(axis=-1)

    def _readout_targets(self, codes):
        """Class indices -> ±1 indicators: one column for two classes, else one each."""
        n_classes = len(self.classes_)
        if n_classes == 2:
            return np.where(codes == 1, 1.0, -1.0)[:, None]
        indicators = -np.ones((len(codes), n_classes))
        indicators[np.arange(len(codes)), codes] = 1.0
        return indicators

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
