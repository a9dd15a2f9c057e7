"""rnnkit.data: windows, padding and the Mackey–Glass series."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit.data
from rnnkit.data import mackey_glass, make_windows, pad_sequences, to_ragged

PARAMS = [
    # (lookback, horizon, step): 1s, odd values, a step larger than the window, and
    # lengths where the last window ends exactly at the end of the series.
    (1, 1, 1),
    (3, 1, 1),
    (5, 3, 2),
    (4, 2, 3),
    (7, 5, 1),
    (2, 1, 9),
    (17, 3, 5),
    (21, 2, 1),
]


def naive_windows(series, lookback, horizon, step):
    """The tutorials' loop, written as plainly as possible."""
    series = np.asarray(series, dtype=np.float64)
    xs, ys = [], []
    start = 0
    while start + lookback + horizon <= len(series):
        window = series[start : start + lookback]
        xs.append(window if series.ndim == 2 else window[:, None])
        target = series[start + lookback : start + lookback + horizon]
        ys.append(target[0] if horizon == 1 else target)
        start += step
    return np.array(xs), np.array(ys)


def autocorrelation(series, lag):
    centred = series - series.mean()
    return float(np.mean(centred[:-lag] * centred[lag:]) / centred.var())


def test_all_names_are_public():
    assert sorted(rnnkit.data.__all__) == [
        "mackey_glass",
        "make_windows",
        "pad_sequences",
        "to_ragged",
    ]
    for name in rnnkit.data.__all__:
        assert callable(getattr(rnnkit.data, name))


# make_windows -------------------------------------------------------------------------


@pytest.mark.parametrize("lookback, horizon, step", PARAMS)
@pytest.mark.parametrize("n_features", [None, 1, 3])
def test_make_windows_matches_the_loop(lookback, horizon, step, n_features):
    rng = np.random.default_rng(lookback * 100 + horizon * 10 + step)
    shape = (24,) if n_features is None else (24, n_features)
    series = rng.normal(size=shape)
    X, y = make_windows(series, lookback, horizon, step)
    X_loop, y_loop = naive_windows(series, lookback, horizon, step)
    n = (24 - lookback - horizon) // step + 1
    assert len(X_loop) == n
    features = 1 if n_features is None else n_features
    assert X.shape == (n, lookback, features)
    if n_features is None:
        assert y.shape == ((n,) if horizon == 1 else (n, horizon))
    else:
        assert y.shape == ((n, features) if horizon == 1 else (n, horizon, features))
    np.testing.assert_array_equal(X, X_loop)
    np.testing.assert_array_equal(y, y_loop)


def test_make_windows_small_example():
    X, y = make_windows(np.arange(10.0), lookback=3, horizon=2, step=3)
    np.testing.assert_array_equal(X[:, :, 0], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(y, [[3, 4], [6, 7]])


@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("shape", [(50,), (50, 4)])
def test_make_windows_returns_read_only_views(shape, horizon):
    series = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    X, y = make_windows(series, 6, horizon, 2)
    assert np.shares_memory(X, series)
    assert np.shares_memory(y, series)
    assert X.dtype == y.dtype == np.float32
    assert not X.flags.writeable
    assert not y.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        y[0] = 1.0
    for window in (X, y):  # nor can they be made writable, a step to the series
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            window.flags.writeable = True
    # The series itself stays writable, and the windows show what it holds.
    series[6] = -1.0
    assert y.flat[0] == -1.0


def test_make_windows_views_a_strided_series():
    # A column of a table is not contiguous; it must still be viewed, not copied.
    table = np.arange(60.0).reshape(20, 3)
    column = table[:, 1]
    X, y = make_windows(column, 4)
    assert np.shares_memory(X, table)
    X_loop, y_loop = naive_windows(column, 4, 1, 1)
    np.testing.assert_array_equal(X, X_loop)
    np.testing.assert_array_equal(y, y_loop)


def test_make_windows_converts_lists_and_integers_to_float64():
    X, y = make_windows([1, 2, 3, 4, 5], 2)
    assert X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(X[:, :, 0], [[1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5])
    X, y = make_windows(np.array([True, False, True]), 1, 1)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(y, [0.0, 1.0])
    assert make_windows(np.arange(5, dtype=np.int32), 2)[0].dtype == np.float64


def test_make_windows_minimum_length_gives_one_window():
    X, y = make_windows(np.arange(11.0), lookback=8, horizon=3, step=4)
    assert X.shape == (1, 8, 1)
    np.testing.assert_array_equal(y, [[8, 9, 10]])


def test_make_windows_accepts_numpy_integers():
    X, _ = make_windows(np.arange(10.0), np.int64(3), np.int32(2), np.uint8(2))
    assert X.shape == (3, 3, 1)


@pytest.mark.parametrize("name", ["lookback", "horizon", "step"])
@pytest.mark.parametrize("bad", [2.5, "3", True, None, 3.0])
def test_make_windows_rejects_non_integer_counts(name, bad):
    kwargs = {"lookback": 2, "horizon": 1, "step": 1, name: bad}
    with pytest.raises(TypeError, match=f"{name}: expected an integer >= 1, got"):
        make_windows(np.arange(20.0), **kwargs)


@pytest.mark.parametrize("name", ["lookback", "horizon", "step"])
@pytest.mark.parametrize("bad", [0, -1])
def test_make_windows_rejects_counts_below_one(name, bad):
    kwargs = {"lookback": 2, "horizon": 1, "step": 1, name: bad}
    with pytest.raises(ValueError, match=f"{name}: must be at least 1, got {bad}"):
        make_windows(np.arange(20.0), **kwargs)


def test_make_windows_rejects_a_short_series():
    message = r"series: has 10 steps, but lookback=8 \+ horizon=3 needs at least 11"
    with pytest.raises(ValueError, match=message):
        make_windows(np.arange(10.0), 8, 3)
    with pytest.raises(ValueError, match=r"has 3 steps, but lookback=3 \+ horizon=1"):
        make_windows(np.ones((3, 2)), 3)


@pytest.mark.parametrize(
    "series, message",
    [
        (np.array([]), r"series: is empty, shape \(0,\)"),
        (np.empty((0, 3)), r"series: is empty, shape \(0, 3\)"),
        (np.empty((5, 0)), r"series: has 0 features, shape \(5, 0\)"),
        (np.float64(3.0), r"series: expected a 1-D \(T,\) or 2-D \(T, F\) array, got shape \(\)"),
        (np.ones((4, 2, 2)), r"series: expected a 1-D .* got shape \(4, 2, 2\)"),
        ([[1.0, 2.0], [3.0]], "series: cannot be read as an array"),
    ],
)
def test_make_windows_rejects_bad_series_shapes(series, message):
    with pytest.raises(ValueError, match=message):
        make_windows(series, 1)


@pytest.mark.parametrize(
    "series, dtype",
    [
        (["a", "b", "c"], "<U1"),
        (np.array([1 + 2j, 3, 4]), "complex128"),
        (np.array([1.0, None, 2.0], dtype=object), "object"),
    ],
)
def test_make_windows_rejects_non_numeric_series(series, dtype):
    with pytest.raises(TypeError, match=f"series: expected real numbers, got dtype {dtype}"):
        make_windows(series, 1)


# pad_sequences and to_ragged ----------------------------------------------------------


def ragged(rng, lengths, n_features=None):
    shape = () if n_features is None else (n_features,)
    return [rng.normal(size=(length, *shape)) for length in lengths]


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("n_features", [None, 1, 3])
def test_pad_then_to_ragged_round_trip(padding, n_features):
    rng = np.random.default_rng(0)
    items = ragged(rng, [5, 1, 7, 3], n_features)
    padded, lengths = pad_sequences(items, padding=padding, value=-9.0)
    tail = () if n_features is None else (n_features,)
    assert padded.shape == (4, 7, *tail)
    assert padded.dtype == np.float64
    assert lengths.dtype == np.int64
    np.testing.assert_array_equal(lengths, [5, 1, 7, 3])
    back = to_ragged(padded, lengths, padding=padding)
    assert len(back) == len(items)
    for item, restored in zip(items, back):
        np.testing.assert_array_equal(restored, item)
        assert np.shares_memory(restored, padded)


@pytest.mark.parametrize("n_features", [None, 2])
def test_pad_sequences_places_padding_and_values(n_features):
    tail = () if n_features is None else (n_features,)
    items = [np.full((length, *tail), length + 0.5) for length in (3, 1, 2)]
    post, _ = pad_sequences(items, value=7.0)
    pre, _ = pad_sequences(items, padding="pre", value=7.0)
    valid = np.arange(3) < np.array([3, 1, 2])[:, None]  # (n, T) for "post"
    for padded, mask in ((post, valid), (pre, valid[:, ::-1])):
        assert np.all(padded[~mask] == 7.0)
        rows = np.broadcast_to(np.array([3.5, 1.5, 2.5])[:, None], mask.shape)
        expected = rows[mask]
        if n_features is not None:
            expected = np.repeat(expected[:, None], n_features, axis=1)
        np.testing.assert_array_equal(padded[mask], expected)


def test_pad_sequences_small_example():
    padded, lengths = pad_sequences([[1, 2, 3], [4]], padding="pre", value=-1)
    np.testing.assert_array_equal(padded, [[1, 2, 3], [-1, -1, 4]])
    np.testing.assert_array_equal(lengths, [3, 1])


@pytest.mark.parametrize(
    "truncating, padding, expected",
    [
        ("post", "post", [[1, 2, 3], [6, 7, 0], [9, 0, 0]]),
        ("pre", "post", [[3, 4, 5], [6, 7, 0], [9, 0, 0]]),
        ("post", "pre", [[1, 2, 3], [0, 6, 7], [0, 0, 9]]),
        ("pre", "pre", [[3, 4, 5], [0, 6, 7], [0, 0, 9]]),
    ],
)
def test_pad_sequences_truncates_to_a_shorter_maxlen(truncating, padding, expected):
    items = [[1, 2, 3, 4, 5], [6, 7], [9]]
    padded, lengths = pad_sequences(items, maxlen=3, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(padded, expected)
    np.testing.assert_array_equal(lengths, [3, 2, 1])
    back = to_ragged(padded, lengths, padding=padding)
    kept = [item[:3] if truncating == "post" else item[-3:] for item in items]
    for item, restored in zip(kept, back):
        np.testing.assert_array_equal(restored, item)


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_pad_sequences_pads_to_a_longer_maxlen(padding):
    rng = np.random.default_rng(1)
    items = ragged(rng, [2, 4], 3)
    padded, lengths = pad_sequences(items, maxlen=9, padding=padding, value=np.nan)
    assert padded.shape == (2, 9, 3)
    np.testing.assert_array_equal(lengths, [2, 4])
    assert np.isnan(padded).sum() == (7 + 5) * 3
    for item, restored in zip(items, to_ragged(padded, lengths, padding=padding)):
        np.testing.assert_array_equal(restored, item)


def test_pad_sequences_maxlen_one_keeps_one_step():
    padded, lengths = pad_sequences([[1, 2], [3]], maxlen=1, truncating="pre")
    np.testing.assert_array_equal(padded, [[2], [3]])
    np.testing.assert_array_equal(lengths, [1, 1])


def test_pad_sequences_dtypes():
    floats32 = [np.ones(2, np.float32), np.ones(3, np.float32)]
    assert pad_sequences(floats32)[0].dtype == np.float32
    assert pad_sequences([[1, 2], [3]])[0].dtype == np.float64
    assert pad_sequences([np.array([True]), np.array([1, 2])])[0].dtype == np.float64
    mixed = [np.ones(2, np.float32), np.ones(2, np.float64)]
    assert pad_sequences(mixed)[0].dtype == np.float64
    assert pad_sequences(floats32, dtype=np.float64)[0].dtype == np.float64
    padded, _ = pad_sequences([[1, 2], [3]], dtype="int32", value=-1)
    assert padded.dtype == np.int32
    np.testing.assert_array_equal(padded, [[1, 2], [3, -1]])


def test_pad_sequences_copies_its_input():
    item = np.arange(4.0)
    padded, _ = pad_sequences([item])
    assert not np.shares_memory(padded, item)


def test_pad_sequences_accepts_many_items():
    # More items than np.result_type takes arguments.
    items = [np.ones(i % 5 + 1, np.float32) for i in range(200)]
    padded, lengths = pad_sequences(items)
    assert padded.shape == (200, 5)
    assert padded.dtype == np.float32
    assert lengths.sum() == sum(i % 5 + 1 for i in range(200))


@pytest.mark.parametrize(
    "sequences, message",
    [
        ([], "sequences: is empty"),
        ([[1.0], np.ones((2, 1))], r"sequences\[1\]: is 2-D but sequences\[0\] is 1-D"),
        (
            [np.ones((2, 2)), np.ones((2, 2)), np.ones((3, 1))],
            r"sequences\[2\]: has 1 features but sequences\[0\] has 2",
        ),
        ([[1.0], [], [2.0]], r"sequences\[1\]: is empty \(0 steps\)"),
        ([np.ones((3, 0))], r"sequences\[0\]: has 0 features"),
        (
            [[1.0], np.ones((2, 2, 2))],
            r"sequences\[1\]: expected a 1-D \(T,\) or 2-D \(T, F\) array, got shape \(2, 2, 2\)",
        ),
        ([[1.0], 3.0], r"sequences\[1\]: expected a 1-D .* got shape \(\)"),
    ],
)
def test_pad_sequences_rejects_bad_items(sequences, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(sequences)


def test_pad_sequences_rejects_non_numeric_items():
    with pytest.raises(TypeError, match=r"sequences\[1\]: expected real numbers, got dtype <U"):
        pad_sequences([[1.0], ["a", "b"]])


@pytest.mark.parametrize(
    "options, error, message",
    [
        (dict(dtype=int, value=np.nan), ValueError, "value: nan is not a value of the .* int64"),
        (dict(dtype=int, value=0.5), ValueError, "value: 0.5 is not a value of the .* int64"),
        (dict(dtype=np.int8, value=300), ValueError, "value: 300 is not a value of the"),
        (
            dict(dtype=np.float32, value=1e300),
            ValueError,
            "value: 1e[+]300 is beyond the range of the result's dtype float32",
        ),
        (dict(value=None), TypeError, "value: expected a real number, got None"),
        (dict(value="x"), TypeError, "value: expected a real number, got 'x'"),
        (dict(dtype=str), TypeError, r"dtype: expected a numeric dtype \(bool, integer or"),
        (dict(dtype="foo"), TypeError, r"dtype: expected a numeric dtype \(bool, .*got 'foo'"),
    ],
)
def test_pad_sequences_rejects_a_value_its_dtype_cannot_hold(options, error, message):
    with pytest.raises(error, match=message):
        pad_sequences([[1, 2], [3]], **options)
    assert pad_sequences([[1, 2], [3]], dtype=int, value=-1)[0].tolist() == [[1, 2], [3, -1]]
    assert np.isnan(pad_sequences([[1.0, 2.0], [3.0]], value=np.nan)[0][1, 1])


def test_pad_sequences_rejects_values_an_integer_dtype_cannot_hold():
    # Keras casts these silently (NaN to INT64_MIN, 300 to 44 in uint8).
    for sequences, dtype in [
        ([[1.0, np.nan], [2.0]], np.int64),
        ([[1.0, 2.5]], np.int32),
        ([np.array([300, 2])], np.uint8),
        ([[0.0, 2.0]], bool),
    ]:
        with pytest.raises(ValueError, match=r"^sequences\[0\]: has values that dtype"):
            pad_sequences(sequences, dtype=dtype)
    exact = pad_sequences([[1.0, 2.0], np.array([255], np.int64)], dtype=np.uint8)[0]
    np.testing.assert_array_equal(exact, [[1, 2], [255, 0]])
    # A float dtype rounds, as any cast to it does, but turns no value into inf; an inf
    # that was there stays.
    assert pad_sequences([[0.1]], dtype=np.float32)[0][0, 0] == np.float32(0.1)
    with pytest.raises(ValueError, match=r"^sequences\[1\]: has values beyond the range of "
                       r"dtype float16 \(largest 6\.55e\+04\)"):  # fmt: skip
        pad_sequences([[1.0], [1e5, 2.0]], dtype=np.float16)
    assert pad_sequences([[np.inf, 1.0]], dtype=np.float16)[0][0, 0] == np.inf
    # Only the steps a padded row keeps are checked: truncation drops the others.
    for truncating, sequence in (("post", [1.0, 1e300]), ("pre", [1e300, 1.0])):
        kept = pad_sequences([sequence], maxlen=1, truncating=truncating, dtype=np.float32)[0]
        assert kept.tolist() == [[1.0]]
    assert pad_sequences([[1, 300]], maxlen=1, dtype=np.uint8)[0].tolist() == [[1]]


@pytest.mark.parametrize("name", ["padding", "truncating"])
@pytest.mark.parametrize("bad", ["left", "PRE", None])
def test_pad_sequences_rejects_bad_sides(name, bad):
    with pytest.raises(ValueError, match=f"{name}: expected 'pre' or 'post', got {bad!r}"):
        pad_sequences([[1.0]], **{name: bad})


def test_pad_sequences_rejects_bad_maxlen():
    with pytest.raises(ValueError, match="maxlen: must be at least 1, got 0"):
        pad_sequences([[1.0]], maxlen=0)
    with pytest.raises(TypeError, match="maxlen: expected an integer >= 1, got 2.5"):
        pad_sequences([[1.0]], maxlen=2.5)
    with pytest.raises(TypeError, match="maxlen: expected an integer >= 1, got True"):
        pad_sequences([[1.0]], maxlen=True)


def test_to_ragged_pre_takes_the_last_steps():
    padded = np.array([[0, 0, 1, 2], [3, 4, 5, 6]])
    back = to_ragged(padded, np.array([2, 4], dtype=np.int32), padding="pre")
    np.testing.assert_array_equal(back[0], [1, 2])
    np.testing.assert_array_equal(back[1], [3, 4, 5, 6])
    post = to_ragged(padded, [1, 3])
    np.testing.assert_array_equal(post[0], [0])
    np.testing.assert_array_equal(post[1], [3, 4, 5])


def test_to_ragged_of_no_rows_is_an_empty_list():
    assert to_ragged(np.zeros((0, 3)), []) == []  # np.asarray([]) is float64


def test_to_ragged_returns_views():
    padded = np.zeros((2, 3, 2))
    back = to_ragged(padded, [3, 1])
    back[1][0, 1] = 5.0
    assert padded[1, 0, 1] == 5.0


def test_to_ragged_errors():
    padded = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"padded: expected an array of shape \(n, T\)"):
        to_ragged(np.zeros(4), [1])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\), got \(3,\)"):
        to_ragged(padded, [1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\), got \(2, 1\)"):
        to_ragged(padded, [[1], [2]])
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 4\].* 0 to 2"):
        to_ragged(padded, [0, 2])
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 4\].* 1 to 5"):
        to_ragged(padded, [1, 5])
    with pytest.raises(TypeError, match="lengths: expected an integer array, got dtype float64"):
        to_ragged(padded, [1.0, 2.0])
    with pytest.raises(TypeError, match="lengths: expected an integer array, got dtype bool"):
        to_ragged(padded, [True, True])
    with pytest.raises(ValueError, match="padding: expected 'pre' or 'post', got 'both'"):
        to_ragged(padded, [1, 2], padding="both")


# mackey_glass -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chaotic():
    return mackey_glass(2000)


def test_mackey_glass_range_and_mean(chaotic):
    assert chaotic.shape == (2000,)
    assert chaotic.dtype == np.float64
    assert np.all(np.isfinite(chaotic))
    assert 0.0 < chaotic.min() and chaotic.max() < 1.5
    # The tau=17 attractor's long-run mean is about 0.93.
    assert 0.8 < chaotic.mean() < 1.0


def test_mackey_glass_is_not_periodic(chaotic):
    assert autocorrelation(chaotic, 50) < 0.8
    # No shift brings the series back onto itself...
    gaps = [np.abs(chaotic[lag:] - chaotic[:-lag]).max() for lag in range(10, 300)]
    assert min(gaps) > 0.1
    # ...while with tau=10 the same check finds the period (the equation has a limit
    # cycle there), so it can tell the two apart.
    cycle = mackey_glass(2000, tau=10)
    gaps = [np.abs(cycle[lag:] - cycle[:-lag]).max() for lag in range(10, 300)]
    assert min(gaps) < 0.01


def test_mackey_glass_is_the_textbook_rk4_to_the_bit():
    # The scheme written out on the grid (tau a multiple of dt: the delayed value at a
    # half step is the mean of its two neighbours), with the rate as the equation reads,
    # beta * x_d / (1 + x_d**n): one rounding order, which a change of it (beta times
    # the fraction) moved by 2e-11 within 2000 samples and, the series being chaotic,
    # by 0.85 by 10,000.
    beta, gamma, n, dt, delay, transient = 0.2, 0.1, 10, 0.1, 170, 5000

    def rate(value, delayed):
        return beta * delayed / (1 + delayed**n) - gamma * value

    x = [1.2] * (delay + 1)
    for _ in range(transient + 299 * 10):
        now, back, next_back = x[-1], x[-1 - delay], x[-delay]
        middle = 0.5 * (back + next_back)
        k1 = rate(now, back)
        k2 = rate(now + dt / 2 * k1, middle)
        k3 = rate(now + dt / 2 * k2, middle)
        k4 = rate(now + dt * k3, next_back)
        x.append(now + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    expected = np.array(x[delay + transient :: 10])
    np.testing.assert_array_equal(mackey_glass(300), expected)


@pytest.mark.parametrize("beta, gamma, n", [(0.2, 0.1, 10), (0.2, 0.15, 10), (0.3, 0.1, 4)])
def test_mackey_glass_short_delay_settles_on_the_fixed_point(beta, gamma, n):
    # beta / (1 + x**n) = gamma at the fixed point x = (beta / gamma - 1) ** (1 / n),
    # which is stable for a short delay.
    series = mackey_glass(10, tau=2, beta=beta, gamma=gamma, n=n)
    np.testing.assert_allclose(series, (beta / gamma - 1) ** (1 / n), atol=1e-8)


@pytest.mark.parametrize("tau", [17, 17.05])
def test_mackey_glass_converges_with_the_step(tau):
    # A ten times finer step gives the same series (over a horizon shorter than the
    # chaos needs to amplify the difference); tau=17.05 puts the delay off the grid, so
    # the interpolation of the delayed value is tested too.
    coarse = mackey_glass(40, tau=tau)
    fine = mackey_glass(40, tau=tau, dt=0.01, subsample=100)
    np.testing.assert_allclose(coarse, fine, atol=2e-3)


def test_mackey_glass_samples_one_time_unit_apart(chaotic):
    # Half the subsample: samples half a time unit apart, every other one the default's.
    dense = mackey_glass(20, subsample=5)
    np.testing.assert_array_equal(dense[::2], chaotic[:10])


def test_mackey_glass_is_deterministic(chaotic):
    np.testing.assert_array_equal(mackey_glass(2000), chaotic)
    np.testing.assert_array_equal(mackey_glass(300)[:300], chaotic[:300])
    seeded = mackey_glass(300, random_state=0)
    np.testing.assert_array_equal(mackey_glass(300, random_state=0), seeded)
    np.testing.assert_array_equal(mackey_glass(300, random_state=np.random.RandomState(0)), seeded)
    assert not np.allclose(seeded, chaotic[:300], atol=1e-3)
    assert not np.allclose(mackey_glass(300, random_state=1), seeded, atol=1e-3)
    generated = mackey_glass(300, random_state=np.random.default_rng(0))
    assert np.all((generated > 0) & (generated < 1.5))


def test_mackey_glass_feedback_vanishes_where_its_power_overflows():
    # x(t - tau)**n beyond float64 (an OverflowError from Python's float power) is a
    # feedback of 0 to precision: the series only decays, at rate gamma.
    for kwargs in ({"x0": 1e40}, {"n": 5000.0}):
        series = mackey_glass(50, **kwargs)
        assert np.isfinite(series).all() and (series > 0).all()
    decayed = mackey_glass(3, x0=1e40, tau=1.0, dt=0.01, subsample=100)
    np.testing.assert_allclose(
        decayed, 1e40 * np.exp(-0.1 * np.array([500.0, 501, 502])), rtol=1e-6
    )


def test_mackey_glass_works_with_make_windows():
    X, y = make_windows(mackey_glass(100), lookback=20, horizon=5)
    assert X.shape == (76, 20, 1)
    assert y.shape == (76, 5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_steps": 0}, ValueError, "n_steps: must be at least 1, got 0"),
        ({"n_steps": 2.0}, TypeError, "n_steps: expected an integer >= 1"),
        ({"subsample": 0}, ValueError, "subsample: must be at least 1, got 0"),
        ({"tau": 0}, ValueError, "tau: must be greater than 0, got 0.0"),
        ({"tau": -3}, ValueError, "tau: must be greater than 0, got -3.0"),
        ({"tau": 0.05}, ValueError, "tau: must be at least dt=0.1, got 0.05"),
        ({"dt": 0}, ValueError, "dt: must be greater than 0, got 0.0"),
        ({"dt": -0.1}, ValueError, "dt: must be greater than 0, got -0.1"),
        ({"dt": float("nan")}, ValueError, "dt: must be finite, got nan"),
        ({"beta": "0.2"}, TypeError, "beta: expected a real number, got '0.2'"),
        # outside the model's domain: complex values, overflow, division by zero
        ({"n": 9.5, "x0": -1.2}, ValueError, "x0: must be greater than 0, got -1.2"),
        ({"gamma": -1.0}, ValueError, "gamma: must be at least 0, got -1.0"),
        ({"n": -1, "x0": 0.0}, ValueError, "n: must be greater than 0, got -1.0"),
        ({"dt": 1e-310}, ValueError, "dt: 1e-310 needs about inf integration steps"),
        ({"tau": 1e18}, ValueError, "dt: 0.1 needs about 1e.19 integration steps"),
        ({"random_state": True}, TypeError, "random_state: expected an int, a generator"),
        # a step too long for the decay leaves the positive series, and growth without
        # decay float64's range (an OverflowError from Python's float power before)
        ({"dt": 2.0, "gamma": 3.0, "n": 9.5}, ValueError,
         r"^dt: the integration at dt=2.0 diverged .*below about 2.8 / gamma = 0.933"),
        ({"gamma": 0.0, "beta": 1e300, "n": 0.5}, ValueError,
         r"^beta: 1e\+300 with gamma=0 grows the series beyond float64's range"),
    ],
)  # fmt: skip
def test_mackey_glass_errors(kwargs, error, message):
    kwargs = {"n_steps": 10, **kwargs}
    with pytest.raises(error, match=message):
        mackey_glass(**kwargs)
