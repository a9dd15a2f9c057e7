"""Forecasting a series with a recurrent network: :class:`RNNForecaster`."""

from __future__ import annotations

import inspect
from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.metrics import r2_score
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _get_feature_names, check_array, check_is_fitted

from ._estimators import RNNRegressor
from ._inputs import as_array
from .data import make_windows

# The forecaster decides the network's output itself: one value per series feature
# and forecast step, never one per input step.
_REGRESSOR_PARAMS = {
    name: parameter
    for name, parameter in inspect.signature(RNNRegressor).parameters.items()
    if name != "return_sequences"
}


class RNNForecaster(BaseEstimator):
    """Forecast a series with a recurrent network trained on its sliding windows.

    ``fit(series)`` cuts the series into windows of ``lookback`` steps, each labelled
    with the steps that follow it, and trains an :class:`RNNRegressor` on them;
    ``predict(steps)`` continues the series.

    It is no scikit-learn regressor (``is_regressor`` is False): its ``predict`` takes
    a number of steps, not X, so what needs a model of X -> y (stacking, voting,
    scoring strings, ``check_estimator``) does not apply to it. ``GridSearchCV`` and
    ``cross_val_score`` with a ``TimeSeriesSplit`` and the default ``scoring=None`` use
    its :meth:`score`.

    Parameters
    ----------
    lookback : int, default=60
        Steps of history the network reads for each forecast.
    horizon : int, default=1
        "direct": steps the network outputs at once. Also the number of steps ahead
        that :meth:`score` evaluates.
    strategy : {"recursive", "direct"}, default="recursive"
        "recursive": the network predicts one step, which is appended to the history
        for the next. "direct": it predicts ``horizon`` steps at once. Either way
        ``predict`` continues for any number of steps, block after block.
    scale : bool, default=True
        Scale each feature of the series to [0, 1] (a ``MinMaxScaler`` fitted on the
        training series) before the network sees it, and back afterwards. Several
        series share one scaler, as they share one network, which must read a value
        the same way whatever series it comes from: a series whose range is a sliver
        of the others' is barely seen. Standardize such series each on its own first,
        or fit one forecaster per series.
    **regressor_params
        Any parameter of :class:`RNNRegressor` except ``return_sequences``, e.g.
        ``cell``, ``hidden_sizes``, ``max_epochs``, ``random_state``.

    Attributes
    ----------
    regressor_ : RNNRegressor
        The fitted network, on scaled windows.
    scaler_ : MinMaxScaler or None
    n_features_in_ : int
        Features per step of the series.
    feature_names_in_ : array of str
        The columns of a fitted DataFrame (only then); ``predict``'s ``history`` and
        ``score``'s series must have the same columns in the same order.
    history_ : dict of lists
        The regressor's training history (``loss``, ``val_loss``, ...).
    loss_curve_ : list of float
        The regressor's training loss per epoch (``history_["loss"]``).
    last_windows_ : list of arrays (lookback, n_features)
        The end of each fitted series, which ``predict`` continues.
    """

    _parameter_constraints: dict = {
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"recursive", "direct"})],
        "scale": ["boolean"],
        **{
            name: constraint
            for name, constraint in RNNRegressor._parameter_constraints.items()
            if name in _REGRESSOR_PARAMS
        },
    }

    def __init__(
        self, lookback=60, horizon=1, strategy="recursive", scale=True, **regressor_params
    ):
        unknown = sorted(set(regressor_params) - set(_REGRESSOR_PARAMS))
        if unknown:
            raise TypeError(f"RNNForecaster got unexpected keyword arguments {unknown}")
        self.lookback = lookback
        self.horizon = horizon
        self.strategy = strategy
        self.scale = scale
        for name, parameter in _REGRESSOR_PARAMS.items():
            setattr(self, name, regressor_params.get(name, parameter.default))

    # scikit-learn reads an estimator's parameters from its __init__ signature
    # (get_params, clone, repr). Spelling out RNNRegressor's parameters here would keep
    # a second copy of that list to maintain; the signature is derived from it instead.
    __init__.__signature__ = inspect.Signature(
        [
            *list(inspect.signature(__init__).parameters.values())[:5],
            *(
                parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                for parameter in _REGRESSOR_PARAMS.values()
            ),
        ]
    )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, series, y=None):
        """Train on one series ((T,) or (T, n_features)) or a list of such series.

        A Python list whose items are sequences is read as several series; give a 2-D
        series as an array. ``y`` is ignored: the targets are the series' own next
        values. It exists so that ``GridSearchCV(..., cv=TimeSeriesSplit())`` can call
        ``fit(series)``. With ``warm_start``, training continues from the fitted weights
        and the fitted scaling. ``predict`` and ``score`` keep to the ``lookback``,
        ``horizon`` and ``strategy`` of the last fit.
        """
        many, parts = _as_series(series, "series")
        n_features = parts[0].shape[1]
        if any(part.shape[1] != n_features for part in parts):
            raise ValueError(
                f"series: every series must have the same number of features, got "
                f"{[part.shape[1] for part in parts]}"
            )
        names = _feature_names(series, many, "series")
        design = _Design(self.lookback, self.horizon, self.strategy)
        target_steps = design.block
        for i, part in enumerate(parts):
            if len(part) < self.lookback + target_steps:
                where = f"series[{i}]" if many else "series"
                hint = (
                    "; a list of sequences is read as several series: pass a 2-D series "
                    "as an array (np.asarray(series))"
                    if many
                    else ""
                )
                raise ValueError(
                    f"{where}: has {len(part)} steps, but lookback={self.lookback} + "
                    f"{target_steps} target step(s) need at least "
                    f"{self.lookback + target_steps}{hint}"
                )
        warm = self.warm_start and hasattr(self, "regressor_")
        if warm and n_features != self.n_features_in_:
            raise ValueError(
                f"series: has {n_features} feature(s), but the fitted network reads "
                f"{self.n_features_in_}; fit with warm_start=False"
            )
        if warm:
            _check_names(getattr(self, "feature_names_in_", None), names, "series")
        if warm and self.regressor_.n_outputs_ != target_steps * n_features:
            raise ValueError(
                f"warm_start: the fitted network outputs {self.regressor_.n_outputs_} values, "
                f"but strategy={self.strategy!r}, horizon={self.horizon} and "
                f"{n_features} feature(s) need {target_steps * n_features}; fit with "
                "warm_start=False"
            )
        if warm:  # the weights were trained on the fitted scale: keep it
            scaler = self.scaler_
        else:
            scaler = MinMaxScaler().fit(np.concatenate(parts)) if self.scale else None
        scaled = [part if scaler is None else scaler.transform(part) for part in parts]
        windows = [make_windows(part, self.lookback, horizon=target_steps) for part in scaled]
        # Early stopping validates on the last windows of each series, in time order: a
        # random split would validate on near copies of the overlapping training windows.
        cuts = [
            len(X_part) - int(round(self.validation_fraction * len(X_part)))
            if self.early_stopping
            else len(X_part)
            for X_part, _ in windows
        ]
        X, y = _stack([(X_p[:cut], y_p[:cut]) for (X_p, y_p), cut in zip(windows, cuts)])
        validation = None
        if self.early_stopping:
            validation = _stack([(X_p[cut:], y_p[cut:]) for (X_p, y_p), cut in zip(windows, cuts)])
            # The regressor's own check would name validation_data, which the user never
            # gave: at least 2 windows to score (R² of one is undefined) and 1 to train on.
            if len(validation[0]) < 2 or len(X) == 0:
                raise ValueError(
                    f"validation_fraction: {self.validation_fraction} of "
                    f"{sum(len(X_part) for X_part, _ in windows)} windows leaves "
                    f"{len(X)} for training and {len(validation[0])} for validation; early "
                    "stopping needs at least 1 and 2: give a longer series or another "
                    "validation_fraction"
                )

        regressor = RNNRegressor(**{name: getattr(self, name) for name in _REGRESSOR_PARAMS})
        if warm:
            previous = self.regressor_.get_params()
            regressor = self.regressor_.set_params(**regressor.get_params())
        try:
            regressor.fit(X, y, validation_data=validation)
        except BaseException:
            if warm:  # the fitted regressor keeps its model (fit saw to that) and settings
                self.regressor_.set_params(**previous)
            raise

        self.regressor_ = regressor
        self.scaler_ = scaler
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._design = design
        self.last_windows_ = [part[-self.lookback :].copy() for part in parts]
        self._fitted_many = many
        self._univariate = _univariate(series, many)
        return self

    @property
    def history_(self):
        check_is_fitted(self, "regressor_")
        return self.regressor_.history_

    @property
    def loss_curve_(self):
        check_is_fitted(self, "regressor_")
        return self.regressor_.loss_curve_

    def predict(self, steps, history=None):
        """The next ``steps`` values after the fitted series, or after ``history``.

        Parameters
        ----------
        steps : int >= 1
        history : series or list of series, optional
            Continue these instead; each needs at least ``lookback`` steps, of which
            the last ``lookback`` are used.

        Returns
        -------
        array (steps,) for a 1-D series, (steps, n_features) for a 2-D one; a list of
        them when the model was fitted on (or ``history`` is) a list of series. The
        series is ``history`` when given, else the fitted one.
        """
        check_is_fitted(self, "regressor_")
        # A scorer's predict(X): say so rather than print X (a str is no such X).
        if hasattr(steps, "__len__") and not isinstance(steps, str):
            got = (
                f"an array of shape {steps.shape}"
                if hasattr(steps, "shape")
                else f"a {type(steps).__name__} of {len(steps)} items"
            )
            raise ValueError(
                f"steps: expected an integer >= 1, got {got}; scikit-learn's scoring strings "
                "call predict(X), which a forecaster does not take: leave scoring=None to "
                "use its score (R² of rolling forecasts)"
            )
        if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
            raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
        if history is None:
            many, contexts = self._fitted_many, self.last_windows_
            univariate = self._univariate
        else:
            many, parts = self._checked_series(history, "history")
            univariate = _univariate(history, many)
            for i, part in enumerate(parts):
                self._check_context(part, f"history[{i}]" if many else "history")
            contexts = [part[-self._fitted_design.lookback :] for part in parts]
        contexts = [self._scaled(context) for context in contexts]
        forecast = self._unscaled(self._forecast(np.stack(contexts), int(steps)))
        # A 1-D series is continued as 1-D values, as the user gave it.
        forecast = [f[:, 0] if univariate else f for f in forecast]
        return forecast if many else forecast[0]

    def score(self, series, y=None):
        """R² of the ``horizon``-step forecasts from every window of ``series``.

        Each window of ``lookback`` steps is continued for ``horizon`` steps and compared
        with what follows it in ``series``: a rolling-origin evaluation, which is what
        a time-series split in ``GridSearchCV`` asks of the held-out segment.
        """
        check_is_fitted(self, "regressor_")
        _, parts = self._checked_series(series, "series")
        lookback, horizon = self._fitted_design.lookback, self._fitted_design.horizon
        truths, forecasts = [], []
        for i, part in enumerate(parts):
            where = f"series[{i}]" if len(parts) > 1 else "series"
            self._check_context(part, where, extra=horizon)
            X, y_true = make_windows(part, lookback, horizon=horizon)
            scaled = np.stack([self._scaled(window) for window in X])
            forecast = self._unscaled(self._forecast(scaled, horizon))
            truths.append(np.asarray(y_true).reshape(len(X), -1))
            forecasts.append(forecast.reshape(len(X), -1))
        return r2_score(np.concatenate(truths), np.concatenate(forecasts))

    # -- helpers -------------------------------------------------------------------------

    @property
    def _fitted_design(self):
        """The windows of the last fit; for a model pickled before rnnkit recorded them,
        the current settings."""
        design = getattr(self, "_design", None)
        return design if design is not None else _Design(self.lookback, self.horizon, self.strategy)

    def _checked_series(self, value, name):
        """``_as_series(value, name)``, its columns checked against the fitted ones."""
        many, parts = _as_series(value, name)
        _check_names(
            getattr(self, "feature_names_in_", None), _feature_names(value, many, name), name
        )
        return many, parts

    def _forecast(self, contexts, steps):
        """Scaled (B, lookback, F) histories -> scaled (B, steps, F) continuations, one
        network call per block of steps, each block appended to the history."""
        batch, _, n_features = contexts.shape
        block, lookback = self._fitted_design.block, self._fitted_design.lookback
        produced = []
        for _ in range(-(-steps // block)):
            predicted = self.regressor_.predict(contexts).reshape(batch, block, n_features)
            produced.append(predicted)
            contexts = np.concatenate([contexts, predicted], axis=1)[:, -lookback:]
        return np.concatenate(produced, axis=1)[:, :steps]

    def _check_context(self, part, where, extra=0):
        """``part`` has the features and at least ``lookback + extra`` steps."""
        if part.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{where}: has {part.shape[1]} features, but RNNForecaster is expecting "
                f"{self.n_features_in_} features as input"
            )
        lookback = self._fitted_design.lookback
        if len(part) < lookback + extra:
            raise ValueError(
                f"{where}: has {len(part)} steps, but needs at least "
                f"{lookback + extra} (lookback={lookback}"
                + (f" + horizon={extra})" if extra else ")")
            )
        return part

    def _scaled(self, part):
        return part if self.scaler_ is None else self.scaler_.transform(part)

    def _unscaled(self, forecast):
        if self.scaler_ is None:
            return forecast
        rows = forecast.reshape(-1, forecast.shape[-1])
        return self.scaler_.inverse_transform(rows).reshape(forecast.shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = True
        tags.requires_fit = True
        tags.target_tags.required = False
        return tags


class _Design(NamedTuple):
    """The windows a fit trained on, which predict and score keep to whatever
    set_params has changed since."""

    lookback: int
    horizon: int
    strategy: str

    @property
    def block(self):
        """Steps the network outputs per call."""
        return self.horizon if self.strategy == "direct" else 1


def _feature_names(value, many, name):
    """The column names of a DataFrame series (the same for each of a list), or None."""
    names = [_get_feature_names(item) for item in (value if many else [value])]
    first = names[0]
    if any(
        (other is None) != (first is None) or (other is not None and list(other) != list(first))
        for other in names
    ):
        raise ValueError(f"{name}: every series must have the same columns in the same order")
    return first


def _check_names(fitted, given, name):
    """Columns given to predict or score against the fitted ones: a mismatch is an
    error, as in scikit-learn; a side without names (an array) is accepted."""
    if fitted is not None and given is not None and list(fitted) != list(given):
        raise ValueError(
            f"{name}: has columns {list(given)}, but the forecaster was fitted on "
            f"{list(fitted)}; the columns must match, in the same order"
        )


def _stack(pairs):
    """Windows of several series as one (X, y); y is (n, ...) flattened to (n,) or (n, k)."""
    X = np.concatenate([X_part for X_part, _ in pairs])
    # reshape(n, -1) cannot size an empty part: its width is that of a step's target
    y = np.concatenate([y_part.reshape(len(y_part), np.prod(y_part.shape[1:], dtype=int))
                        for _, y_part in pairs])  # fmt: skip
    return X, y[:, 0] if y.shape[1] == 1 else y


def _univariate(value, many):
    """Whether every series in ``value`` is 1-D."""
    return all(np.ndim(item) == 1 for item in (value if many else [value]))


def _as_series(value, name):
    """``(many, parts)``: whether ``value`` is a list of series, and each as a float64
    (T, F) array checked for NaN/inf. A list whose items are sequences is several series;
    a 2-D series is given as an array."""
    many = isinstance(value, (list, tuple)) and len(value) > 0 and np.ndim(value[0]) >= 1
    items = value if many else [value]
    parts = []
    for i, item in enumerate(items):
        where = f"{name}[{i}]" if many else name
        try:
            array = as_array(item)
        except ValueError as error:  # a ragged nested list; say which argument it was
            raise ValueError(f"{where}: cannot be read as an array ({error})") from None
        if array.ndim not in (1, 2):
            raise ValueError(
                f"{where}: expected a 1-D series (T,) or a 2-D series (T, n_features), got "
                f"shape {array.shape}"
            )
        if len(array) == 0:
            raise ValueError(f"{where}: expected at least one step, got shape {array.shape}")
        if array.dtype.kind not in "biufO":
            raise ValueError(f"{where}: expected numbers, got an array of dtype {array.dtype}")
        array = check_array(
            array[:, None] if array.ndim == 1 else array,
            dtype=np.float64,
            input_name=where,
            ensure_min_samples=1,
        )
        parts.append(array)
    return many, parts
