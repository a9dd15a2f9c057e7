"""RNNForecaster: windows in, forecasts out, recursive and direct, in model selection."""

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from rnnkit import RNNForecaster, RNNRegressor
from rnnkit.data import make_windows

SERIES = 10 + 3 * np.sin(np.arange(400) * 0.15)
SMALL = dict(cell="gru", hidden_sizes=(16,), max_epochs=12, learning_rate=0.01, random_state=0)


def _manual_recursive(model, context, steps):
    """The forecast written out: predict one step, append it, slide the window."""
    scaler, window, out = model.scaler_, model.scaler_.transform(context), []
    for _ in range(steps):
        value = model.regressor_.predict(window[None, -model.lookback :])
        window = np.vstack([window, value.reshape(1, -1)])
        out.append(value.reshape(-1))
    return scaler.inverse_transform(np.array(out))


@pytest.fixture(scope="module")
def recursive():
    return RNNForecaster(lookback=20, **SMALL).fit(SERIES[:300])


def test_recursive_forecast_equals_step_by_step_prediction(recursive):
    forecast = recursive.predict(15)
    assert forecast.shape == (15,)
    expected = _manual_recursive(recursive, SERIES[280:300, None], 15)[:, 0]
    np.testing.assert_allclose(forecast, expected, rtol=1e-12)


def test_forecast_follows_the_series(recursive):
    np.testing.assert_allclose(recursive.predict(10), SERIES[300:310], atol=0.5)
    assert recursive.score(SERIES[280:]) > 0.95


def test_history_continues_another_series(recursive):
    other = SERIES[100:170]
    forecast = recursive.predict(5, history=other)
    np.testing.assert_allclose(forecast, _manual_recursive(recursive, other[-20:, None], 5)[:, 0])
    several = recursive.predict(5, history=[other, SERIES[:60]])
    assert isinstance(several, list) and len(several) == 2
    np.testing.assert_allclose(several[0], forecast)


def test_direct_outputs_the_horizon_at_once_and_chains_blocks():
    model = RNNForecaster(lookback=20, horizon=4, strategy="direct", **SMALL).fit(SERIES[:300])
    assert model.regressor_.n_outputs_ == 4
    first = model.predict(4)
    window = model.scaler_.transform(SERIES[280:300, None])
    block = model.regressor_.predict(window[None]).reshape(4, 1)
    np.testing.assert_allclose(first, model.scaler_.inverse_transform(block)[:, 0])
    # Ten steps: three blocks, each read from the history extended by the last.
    ten = model.predict(10)
    np.testing.assert_array_equal(ten[:4], first)
    np.testing.assert_allclose(ten, SERIES[300:310], atol=0.6)


def test_score_is_r2_of_each_window_forecast(recursive):
    test = SERIES[250:]
    X, y = make_windows(test, 20, horizon=1)
    predictions = [recursive.predict(1, history=window[:, 0])[0] for window in X]
    residual = np.sum((y - predictions) ** 2)
    total = np.sum((y - y.mean()) ** 2)
    assert recursive.score(test) == pytest.approx(1 - residual / total, rel=1e-10)


def test_multivariate_and_several_series():
    t = np.arange(300) * 0.15
    pair = np.column_stack([np.sin(t), 2 * np.cos(t)])
    model = RNNForecaster(lookback=15, **SMALL).fit([pair[:150], pair[150:]])
    forecasts = model.predict(3)
    assert isinstance(forecasts, list) and [f.shape for f in forecasts] == [(3, 2), (3, 2)]
    assert model.n_features_in_ == 2
    np.testing.assert_allclose(forecasts[1], np.column_stack(
        [np.sin(np.arange(300, 303) * 0.15), 2 * np.cos(np.arange(300, 303) * 0.15)]
    ), atol=0.3)  # fmt: skip


def test_scale_false_trains_on_raw_values():
    model = RNNForecaster(lookback=10, scale=False, **SMALL).fit(SERIES[:100] - 10)
    assert model.scaler_ is None
    assert model.predict(2).shape == (2,)


def test_parameters_reach_the_regressor_and_clone():
    model = RNNForecaster(lookback=8, horizon=2, cell="rnn", hidden_sizes=(5,), max_epochs=2)
    params = model.get_params()
    assert params["cell"] == "rnn" and params["lookback"] == 8 and "return_sequences" not in params
    assert set(params) == {"lookback", "horizon", "strategy", "scale"} | (
        set(RNNRegressor().get_params()) - {"return_sequences"}
    )
    copy = clone(model).set_params(hidden_sizes=(3,))
    assert copy.hidden_sizes == (3,) and model.hidden_sizes == (5,)
    copy.fit(SERIES[:60])
    assert copy.regressor_.hidden_sizes == (3,) and copy.regressor_.cell == "rnn"
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['hiden_sizes'\]"):
        RNNForecaster(hiden_sizes=(3,))


def test_is_no_regressor_of_x():
    # Its predict takes a number of steps, not X: claiming to be a regressor let stacking,
    # voting and check_estimator take it for one, and fail in 26 of the checks.
    model = RNNForecaster(lookback=8, hidden_sizes=(3,), max_epochs=1)
    assert not is_regressor(model) and not is_classifier(model)
    assert model.__sklearn_tags__().estimator_type is None


def test_grid_search_with_a_time_series_split():
    grid = GridSearchCV(
        RNNForecaster(lookback=10, hidden_sizes=(8,), max_epochs=4, learning_rate=0.02,
                      random_state=0),
        {"cell": ["rnn", "gru"]},
        cv=TimeSeriesSplit(n_splits=3),
    ).fit(SERIES)  # fmt: skip
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.predict(3).shape == (3,)


@pytest.mark.parametrize(
    ("fit_args", "params", "match"),
    [
        ((SERIES[:25],), dict(lookback=20, horizon=6, strategy="direct"),
         r"series: has 25 steps, but lookback=20 \+ 6 target step\(s\) need at least 26"),
        ((np.r_[SERIES[:50], np.nan],), dict(lookback=5), "series contains NaN"),
        ((np.zeros((4, 5, 2)),), dict(lookback=2), "series: expected a 1-D series"),
        (([SERIES[:50], np.ones((50, 2))],), dict(lookback=5), "same number of features"),
        ((SERIES,), dict(lookback=0), "lookback"),
        ((SERIES,), dict(strategy="both"), "strategy"),
        ((SERIES,), dict(cell="cnn"), "cell"),
        ((np.array([]),), dict(lookback=5),
         r"^series: expected at least one step, got shape \(0,\)"),
        (([SERIES[:50], np.zeros((0, 1))],), dict(lookback=5),
         r"^series\[1\]: expected at least one step"),
        ((SERIES[:60],), dict(lookback=5, early_stopping=True, validation_fraction=0.001),
         r"^validation_fraction: 0.001 of 55 windows leaves 55 for training and 0 for "
         r"validation; early stopping needs at least 1 and 2"),
        ((SERIES[:60],), dict(lookback=5, early_stopping=True, validation_fraction=0.995),
         r"^validation_fraction: 0.995 of 55 windows leaves 0 for training and 55"),
        # One window to validate on: named as the forecaster's split, not as the
        # regressor's validation_data, which the user never gave.
        ((SERIES[:40],), dict(lookback=30, early_stopping=True),
         r"^validation_fraction: 0.1 of 10 windows leaves 9 for training and 1 for validation"),
        (([SERIES[:50], [[1.0, 2.0], [3.0]]],), dict(lookback=5),
         r"^series\[1\]: cannot be read as an array"),
        ((np.array(["1.5", "2.5"] * 20),), dict(lookback=5),
         r"^series: expected numbers, got an array of dtype <U3"),
    ],
)  # fmt: skip
def test_fit_errors(fit_args, params, match):
    with pytest.raises(ValueError, match=match):
        RNNForecaster(**{**SMALL, **params, "max_epochs": 1}).fit(*fit_args)


def test_predict_errors(recursive):
    with pytest.raises(NotFittedError):
        RNNForecaster().predict(3)
    with pytest.raises(ValueError, match="steps: expected an integer >= 1"):
        recursive.predict(0)
    # A scikit-learn scorer passes X: named by its shape, with the way out.
    with pytest.raises(ValueError, match=r"^steps: .*got an array of shape \(30,\); "
                       r"scikit-learn's scoring strings call predict\(X\)"):  # fmt: skip
        get_scorer("r2")(recursive, SERIES[:30], SERIES[:30])
    with pytest.raises(ValueError, match=r"^steps: .*got a list of 2 items; scikit-learn's"):
        recursive.predict([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"^steps: expected an integer >= 1, got '3'$"):
        recursive.predict("3")
    with pytest.raises(ValueError, match=r"history: has 5 steps, but needs at least 20"):
        recursive.predict(3, history=SERIES[:5])
    with pytest.raises(ValueError, match="history: has 2 features, but RNNForecaster"):
        recursive.predict(3, history=np.ones((30, 2)))
    with pytest.raises(
        ValueError,
        match=r"series: has 20 steps, but needs at least 21 \(lookback=20 \+ horizon=1\)",
    ):
        recursive.score(SERIES[:20])


def test_dataframe_columns_are_kept_and_checked():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"temp": SERIES[:120], "sales": 2 * SERIES[:120] + 5})
    model = RNNForecaster(lookback=10, **{**SMALL, "max_epochs": 2}).fit(frame)
    assert list(model.feature_names_in_) == ["temp", "sales"]
    swapped = frame[["sales", "temp"]]
    match = r"has columns \['sales', 'temp'\], but the forecaster was fitted on \['temp', 'sales'\]"
    with pytest.raises(ValueError, match="^history: " + match):
        model.predict(2, history=swapped)
    with pytest.raises(ValueError, match="^series: " + match):
        model.score(swapped)
    with pytest.raises(ValueError, match=r"^series: every series must have the same columns"):
        clone(model).fit([frame, swapped])
    # An array has no names to check; the same values forecast the same.
    np.testing.assert_array_equal(
        model.predict(2, history=frame.to_numpy()), model.predict(2, history=frame)
    )
    assert not hasattr(model.fit(frame.to_numpy()), "feature_names_in_")


def test_predict_keeps_the_fitted_windows_after_set_params():
    model = RNNForecaster(lookback=8, horizon=2, strategy="direct", **SMALL).fit(SERIES[:150])
    forecast, score = model.predict(5), model.score(SERIES[150:200])
    model.set_params(lookback=3, horizon=4, strategy="recursive")
    np.testing.assert_array_equal(model.predict(5), forecast)
    np.testing.assert_array_equal(model.predict(5, history=SERIES[:150]), forecast)
    assert model.score(SERIES[150:200]) == score


def test_a_forecaster_pickled_before_its_windows_were_recorded_still_forecasts():
    model = RNNForecaster(lookback=10, **{**SMALL, "max_epochs": 2}).fit(SERIES[:100])
    forecast, score = model.predict(3), model.score(SERIES[100:150])
    del model._design  # as unpickled from an rnnkit that did not keep it
    np.testing.assert_array_equal(model.predict(3), forecast)
    assert model.score(SERIES[100:150]) == score


def test_a_list_of_rows_gets_a_hint():
    with pytest.raises(ValueError, match=r"read as several series: pass a 2-D series as an array"):
        RNNForecaster(lookback=10, **SMALL).fit([[v] for v in SERIES[:100]])


def test_warm_start_keeps_the_scaling_and_checks_the_outputs():
    model = RNNForecaster(lookback=10, warm_start=True, **SMALL).fit(SERIES[:150])
    scaler = model.scaler_
    model.fit(SERIES[:150] * 3)  # another range: the weights still mean the old scale
    assert model.scaler_ is scaler
    with pytest.raises(ValueError, match="warm_start: the fitted network outputs 1 values"):
        model.set_params(strategy="direct", horizon=3).fit(SERIES[:150])
    with pytest.raises(ValueError, match=r"^series: has 2 feature\(s\), but the fitted network"):
        model.set_params(strategy="recursive").fit(np.ones((150, 2)))
    assert model.scaler_ is scaler and model.n_features_in_ == 1


def test_a_failed_warm_fit_keeps_the_fitted_model_and_its_settings():
    model = RNNForecaster(lookback=10, warm_start=True, **SMALL).fit(SERIES[:150])
    settings, forecast = model.regressor_.get_params(), model.predict(5)
    with pytest.raises(ValueError, match="The network changed since the last fit"):
        model.set_params(hidden_sizes=(8,)).fit(SERIES[:150])
    assert model.regressor_.get_params() == settings
    assert np.array_equal(model.predict(5), forecast)


def test_forecast_shape_follows_the_series_it_continues(recursive):
    assert recursive.predict(3, history=SERIES[:40, None]).shape == (3, 1)
    assert recursive.predict(3, history=SERIES[:40]).shape == (3,)


def test_early_stopping_validates_on_the_last_windows():
    model = RNNForecaster(lookback=10, early_stopping=True, validation_fraction=0.25, **SMALL).fit(
        SERIES[:110]
    )
    assert model.regressor_.validation_scores_ is not None
    # 100 windows: the first 75 train, the last 25 validate (time order, no shuffle).
    assert model.regressor_.history_["val_score"][-1] is not None
    X, y = make_windows(model.scaler_.transform(SERIES[:110, None]), 10)
    val_loss = np.mean((model.regressor_.predict(X[75:]) - y[75:, 0]) ** 2)
    best = int(np.argmax(model.history_["val_score"]))  # early stopping keeps that epoch
    assert model.history_["val_loss"][best] == pytest.approx(val_loss, rel=1e-5)
