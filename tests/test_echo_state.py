"""Echo state networks: the reservoir, the closed-form readout, and what they learn."""

import numpy as np
import pytest
from numpy.random import RandomState
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from rnnkit import EchoStateClassifier, EchoStateRegressor
from rnnkit.data import mackey_glass, make_windows


def _reservoir_states(reservoir, x, leak_rate):
    """The leaky reservoir written out in numpy: h_t for every step of x (n, T, F)."""
    w_in, w, b = reservoir["weight_ih"], reservoir["weight_hh"], reservoir["bias_ih"]
    h = np.zeros((x.shape[0], w.shape[0]))
    states = []
    for t in range(x.shape[1]):
        h = (1 - leak_rate) * h + leak_rate * np.tanh(x[:, t] @ w_in.T + b + h @ w.T)
        states.append(h)
    return np.stack(states, axis=1)


def test_reservoir_has_the_requested_radius_sparsity_and_scaling():
    model = EchoStateRegressor(
        n_reservoir=300, spectral_radius=0.8, sparsity=0.95, input_scaling=0.3, random_state=0
    ).fit(np.zeros((2, 5, 3)), [0.0, 1.0])
    w = model.reservoir_["weight_hh"]
    assert np.abs(np.linalg.eigvals(w)).max() == pytest.approx(0.8, rel=1e-10)
    assert np.mean(w == 0) == pytest.approx(0.95, abs=0.01)
    assert np.abs(model.reservoir_["weight_ih"]).max() <= 0.3
    assert model.reservoir_["weight_ih"].shape == (300, 3)


@pytest.mark.parametrize("leak_rate", [1.0, 0.3])
@pytest.mark.parametrize("sample_weight", [False, True])
def test_readout_equals_a_ridge_solve_on_the_reservoir_states(leak_rate, sample_weight):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((80, 12, 2)), rng.standard_normal((80, 2))
    weights = rng.uniform(0.5, 2.0, 80) if sample_weight else None
    model = EchoStateRegressor(n_reservoir=40, leak_rate=leak_rate, ridge=0.5, random_state=1)
    model.fit(X, y, sample_weight=weights)
    states = _reservoir_states(model.reservoir_, X, leak_rate)
    ridge = Ridge(alpha=0.5).fit(states[:, -1], y, sample_weight=weights)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, ridge.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.predict(X), ridge.predict(states[:, -1]), atol=1e-9)


def test_weights_near_the_float64_limit_fit_as_their_ratios_to_ridge_do():
    # Weights of 1e308 overflowed the weighted sums (LinAlgError from the solve); only
    # their ratio to ridge matters, so they equal unit weights with ridge / 1e308.
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 10, 1)), rng.standard_normal(60)
    huge = EchoStateRegressor(n_reservoir=20, ridge=1e300, random_state=0)
    huge.fit(X, y, sample_weight=np.full(60, 1e308))
    unit = EchoStateRegressor(n_reservoir=20, ridge=1e-8, random_state=0).fit(X, y)
    np.testing.assert_allclose(huge.coef_, unit.coef_, rtol=1e-7)
    np.testing.assert_allclose(huge.predict(X), unit.predict(X), rtol=1e-7, atol=1e-12)


def test_tiny_weights_with_a_large_ridge_are_not_rescaled():
    # Scaling to the largest weight is for weights above 1: by 1e-316 it made ridge inf
    # (LinAlgError from the solve). A ridge that large leaves coefficients near 0.
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 6, 1)), rng.standard_normal(30)
    for weights, ridge in ((np.full(30, 1e-316), 1e-6), (np.full(30, 0.25), 1e308)):
        model = EchoStateRegressor(n_reservoir=10, ridge=ridge, random_state=0)
        model.fit(X, y, sample_weight=weights)
        assert np.isfinite(model.coef_).all() and np.abs(model.coef_).max() < 1e-6


def test_return_sequences_fits_every_step_after_the_washout():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 30, 1)), rng.standard_normal((6, 30))
    model = EchoStateRegressor(
        n_reservoir=25, washout=10, ridge=1e-3, return_sequences=True, random_state=0
    ).fit(X, y)
    states = _reservoir_states(model.reservoir_, X, 1.0)[:, 10:].reshape(-1, 25)
    ridge = Ridge(alpha=1e-3).fit(states, y[:, 10:].reshape(-1))
    np.testing.assert_allclose(model.coef_[0], ridge.coef_, rtol=1e-6, atol=1e-9)
    assert model.predict(X).shape == (6, 30)


def test_score_counts_the_steps_the_readout_is_fitted_on():
    # The washout's steps are left out of the fit, so out of the score too: counting
    # them made any washout > 0 look worse in a grid search.
    rng = np.random.default_rng(4)
    X = [rng.standard_normal((n, 1)) for n in (8, 30, 12)]
    y = [np.cumsum(x[:, 0]) for x in X]
    labels = [(target > 0).astype(int) for target in y]
    regressor = EchoStateRegressor(n_reservoir=20, washout=10, return_sequences=True)
    classifier = EchoStateClassifier(n_reservoir=20, washout=10, return_sequences=True)
    regressor.fit(X, y)
    classifier.fit(X, labels)
    kept = [slice(10, None)] * 3
    truth = np.concatenate([target[s] for target, s in zip(y, kept)])
    predicted = np.concatenate([p[s] for p, s in zip(regressor.predict(X), kept)])
    assert regressor.score(X, y) == pytest.approx(r2_score(truth, predicted), rel=1e-12)
    hits = sum(np.sum(p[10:] == t[10:]) for p, t in zip(classifier.predict(X), labels))
    assert classifier.score(X, labels) == pytest.approx(hits / 22, rel=1e-12)
    with pytest.raises(ValueError, match=r"^X: no sequence is longer than washout=10 steps"):
        regressor.score([x[:10] for x in X], [t[:10] for t in y])
    # The fitted washout, whatever set_params has changed since (as predict keeps to
    # the fitted model).
    score = regressor.score(X, y)
    assert regressor.set_params(washout=0).score(X, y) == score


def test_ragged_sequences_never_fit_their_padding():
    rng = np.random.default_rng(2)
    X = [rng.standard_normal((n, 2)) for n in (5, 9, 14, 20)]
    y = [np.cumsum(x[:, 0]) for x in X]
    model = EchoStateRegressor(n_reservoir=30, return_sequences=True, random_state=0).fit(X, y)
    rows = np.concatenate([_reservoir_states(model.reservoir_, x[None], 1.0)[0] for x in X])
    ridge = Ridge(alpha=1e-6).fit(rows, np.concatenate(y))
    np.testing.assert_allclose(model.coef_[0], ridge.coef_, rtol=1e-5, atol=1e-8)
    predictions = model.predict(X)
    assert [len(p) for p in predictions] == [5, 9, 14, 20]
    # Alone or in a padded batch, a sequence gets the same predictions.
    np.testing.assert_allclose(predictions[0], model.predict([X[0]])[0], rtol=0, atol=0)


def test_mackey_glass_one_step_ahead_is_learned():
    series = mackey_glass(2500)
    x, y = series[None, :-1, None], series[None, 1:]
    model = EchoStateRegressor(
        n_reservoir=300, spectral_radius=0.95, leak_rate=0.3, washout=100, ridge=1e-8,
        return_sequences=True, random_state=0,
    ).fit(x[:, :2000], y[:, :2000])  # fmt: skip
    error = model.predict(x)[0, 2000:] - y[0, 2000:]
    assert np.sqrt(np.mean(error**2)) / series.std() < 0.01


def test_cosine_windows_are_learned():
    series = np.cos(np.arange(1200) * 0.1)
    X, y = make_windows(series, 20)
    model = EchoStateRegressor(n_reservoir=100, random_state=0).fit(X[:900], y[:900])
    assert model.score(X[900:], y[900:]) > 0.999


def test_classifier_reads_sequences_into_labels():
    rng = np.random.default_rng(3)
    X = 0.5 * rng.standard_normal((300, 15, 1))
    labels = np.array(["falling", "flat", "rising"])
    trend = rng.integers(0, 3, 300)
    X[:, :, 0] += (trend[:, None] - 1) * np.linspace(0, 2, 15)
    y = labels[trend]
    model = EchoStateClassifier(n_reservoir=100, random_state=0).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) > 0.9
    assert list(model.classes_) == list(labels)
    assert model.decision_function(X[:3]).shape == (3, 3)
    binary = EchoStateClassifier(n_reservoir=50, random_state=0).fit(X[:200], trend[:200] == 2)
    assert binary.decision_function(X[:3]).shape == (3,)
    np.testing.assert_array_equal(binary.predict(X[:20]), binary.decision_function(X[:20]) > 0)


def test_same_seed_same_model_any_thread_count():
    X, y = np.random.default_rng(4).standard_normal((50, 10, 2)), np.arange(50.0)
    a = EchoStateRegressor(n_reservoir=64, random_state=7, n_jobs=1).fit(X, y)
    b = EchoStateRegressor(n_reservoir=64, random_state=7, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_same_model_for_any_number_of_blas_threads():
    # The spectral radius (LAPACK's eigenvalues) and the readout's products and solve ran
    # in numpy's BLAS: two BLAS threads gave another reservoir_ and coef_ than one.
    X = np.random.default_rng(0).standard_normal((2000, 20, 3))
    y = X[:, -3:, 0].sum(axis=1)

    def fit(blas_threads):
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            return EchoStateRegressor(n_reservoir=300, random_state=0, n_jobs=1).fit(X, y)

    one, two = fit(1), fit(2)
    assert all(np.array_equal(one.reservoir_[k], two.reservoir_[k]) for k in one.reservoir_)
    assert np.array_equal(one.coef_, two.coef_)
    assert np.array_equal(one.intercept_, two.intercept_)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(washout=12, return_sequences=True), "washout: 12 steps leave none"),
        (dict(spectral_radius=0), "spectral_radius"),
        (dict(leak_rate=1.5), "leak_rate"),
        (dict(sparsity=1.0), "sparsity"),
        (dict(n_reservoir=0), "n_reservoir"),
        # scikit-learn's validation takes booleans for numbers
        (dict(n_reservoir=True), "^The 'n_reservoir' parameter .* must be a non-boolean"),
        (dict(washout=True, return_sequences=True), "^The 'washout' parameter"),
        (dict(random_state=True), "^The 'random_state' parameter"),
        (dict(ridge=False), "^The 'ridge' parameter"),
        (dict(n_jobs=True), "^The 'n_jobs' parameter"),
        (dict(n_jobs=0), "^n_jobs: expected a positive number of threads"),
        (dict(input_scaling=1e308), "^input_scaling: 1e\\+308 is too large"),
        # Drawn in float64, beyond float32 once cast: LAPACK failed in the readout.
        (dict(input_scaling=1e39, dtype="float32"),
         r"^input_scaling: 1e\+39 makes reservoir weights too large for float32"),
        (dict(spectral_radius=1e39, sparsity=0.0, n_reservoir=10, dtype="float32"),
         r"^spectral_radius: 1e\+39 makes reservoir weights too large for float32"),
    ],
)  # fmt: skip
def test_bad_parameters(params, match, monkeypatch):
    # Refused before the reservoir is drawn (an eigendecomposition of N x N), except
    # the scales, whose draw is the check; refused before the reservoir runs, then.
    drawn = "input_scaling" in params or "dtype" in params
    monkeypatch.setattr(EchoStateRegressor, "_states" if drawn else "_draw_reservoir", None)
    X, y = np.zeros((4, 12, 1)), np.zeros((4, 12))
    with pytest.raises(ValueError, match=match):
        EchoStateRegressor(**params).fit(X, y if params.get("return_sequences") else y[:, 0])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_a_sequence_predicts_the_same_alone_or_in_a_batch(return_sequences):
    rng = np.random.default_rng(8)
    X = [rng.standard_normal((n, 2)) for n in (5, 9, 3, 7, 6)]
    y = [x[:, 0] for x in X] if return_sequences else np.arange(5.0)
    model = EchoStateRegressor(n_reservoir=20, return_sequences=return_sequences, washout=1)
    model.fit(X, y)
    together = model.predict(X)
    for x, predicted in zip(X, together):
        np.testing.assert_array_equal(model.predict([x])[0], predicted)


def test_a_failed_fit_keeps_the_fitted_model():
    X = np.random.default_rng(5).standard_normal((6, 5, 2))
    model = EchoStateClassifier(n_reservoir=10, random_state=0).fit(X, [0, 1, 2, 0, 1, 2])
    before = model.predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.fit(X, np.zeros(6))
    np.testing.assert_array_equal(model.predict(X), before)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(np.zeros((6, 5, 3)), [0, 1, 2, 0, 1])
    assert model.n_features_in_ == 2
    np.testing.assert_array_equal(model.predict(X), before)


def test_a_failed_fit_puts_back_the_random_state():
    # The draw of a reservoir too large for float32 is refused after the draw: the given
    # RandomState had moved on, so a retry drew another reservoir than a first fit would.
    X, y = np.random.default_rng(5).standard_normal((6, 5, 2)), np.arange(6.0)
    model = EchoStateRegressor(n_reservoir=10, input_scaling=1e39, dtype="float32",
                               random_state=RandomState(3))  # fmt: skip
    with pytest.raises(ValueError, match="too large for float32"):
        model.fit(X, y)
    model.set_params(input_scaling=1.0).fit(X, y)
    first = EchoStateRegressor(n_reservoir=10, dtype="float32", random_state=RandomState(3))
    expected = first.fit(X, y).reservoir_
    assert all(np.array_equal(model.reservoir_[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1, -1, 1, 1], "Negative values in data passed to `sample_weight`"),
        # Only the sequence of 3 steps has weight, and the washout takes all of it.
        ([0, 0, 1, 0], "sample_weight: the samples \\(or steps past the washout\\)"),
        # Refused by scikit-learn 1.7 and later, and by rnnkit itself on 1.6.
        ([0, 0, 0, 0], "Sample weights must contain at least one non-zero number"),
    ],
)
def test_sample_weights_are_checked_before_the_reservoir_runs(weights, match):
    rng = np.random.default_rng(6)
    X = [rng.standard_normal((n, 1)) for n in (5, 9, 3, 7)]
    y = [x[:, 0] for x in X]
    model = EchoStateRegressor(n_reservoir=10, return_sequences=True, washout=3)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, sample_weight=weights)
    assert not hasattr(model, "reservoir_")


@pytest.mark.parametrize("return_sequences", [False, True])
def test_predict_reads_out_a_chunk_of_sequences_at_a_time(return_sequences, monkeypatch):
    # The rule of the trained networks' predict: 256 sequences per reservoir call, fewer
    # (down to 64) where the float64 states of a call would pass 16 MiB, here
    # 16 MiB / (2000 steps * 100 units * 8 bytes) = 10. The readout of a chunk follows
    # its reservoir call, so only one chunk's states are ever held.
    from rnnkit import ops

    calls = []
    forward, matmul = ops.forward, ops.matmul

    def counting_forward(cell, x, *args, **kwargs):
        calls.append(("reservoir", len(x)))
        return forward(cell, x, *args, **kwargs)

    def counting_matmul(a, b, **kwargs):
        calls.append(("readout", len(a)))
        return matmul(a, b, **kwargs)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 5, 1))
    y = X[:, :, 0] if return_sequences else X[:, -1, 0]
    model = EchoStateRegressor(n_reservoir=100, return_sequences=return_sequences, washout=0)
    model.fit(X, y)
    monkeypatch.setattr(ops, "forward", counting_forward)
    monkeypatch.setattr(ops, "matmul", counting_matmul)
    for n, T, chunks in ((600, 5, [256, 256, 88]), (100, 2000, [64, 36])):
        X_new = rng.standard_normal((n, T, 1))
        calls.clear()
        predicted = model.predict(X_new)
        readout_rows = [c * (T if return_sequences else 1) for c in chunks]  # one per step
        expected = [call for c, r in zip(chunks, readout_rows)
                    for call in (("reservoir", c), ("readout", r))]  # fmt: skip
        assert calls == expected
        # The same bits as sequences predicted on their own.
        for i in (0, chunks[0], n - 1):
            assert np.array_equal(predicted[i : i + 1], model.predict(X_new[i : i + 1]))
