"""Sequence data helpers: windows from a series, padding ragged lists, a benchmark series.

- :func:`make_windows` turns one long series into supervised ``(X, y)`` windows, the
  loop that the Keras stock-price and cosine tutorials write by hand; the windows are
  read-only views, so a long series is not copied ``lookback`` times.
- :func:`pad_sequences` and :func:`to_ragged` convert between a list of sequences of
  different lengths and one padded array plus ``lengths``, the layout that
  :mod:`rnnkit.ops` and the estimators take.
- :func:`mackey_glass` generates the chaotic Mackey–Glass series, a standard benchmark
  for recurrent forecasting.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.utils import check_random_state

from ._inputs import as_array

__all__ = ["mackey_glass", "make_windows", "pad_sequences", "to_ragged"]

_SIDES = ("pre", "post")


def make_windows(series, lookback, horizon=1, step=1):
    """Cut a series into supervised windows: ``lookback`` steps in, ``horizon`` steps out.

    Window ``i`` is ``series[i*step : i*step + lookback]`` and its target is the
    ``horizon`` values that follow it, ``series[i*step + lookback : i*step + lookback +
    horizon]``.

    Parameters
    ----------
    series : array-like of shape (T,) or (T, F)
        The series, one row per time step. Float arrays keep their dtype; integer and
        bool values are converted to float64. NaN values are not checked for and pass
        through to the windows.
    lookback : int
        Steps in each input window, at least 1.
    horizon : int, default=1
        Steps to predict after each window, at least 1.
    step : int, default=1
        Distance between the starts of consecutive windows, at least 1.

    Returns
    -------
    X : ndarray of shape (n, lookback, F)
        The input windows; ``F`` is 1 for a 1-D series.
    y : ndarray
        The targets: shape (n,) for a 1-D series and (n, F) for a 2-D series when
        ``horizon == 1``; (n, horizon) and (n, horizon, F) otherwise.

    Here ``n = (T - lookback - horizon) // step + 1``.

    Raises
    ------
    TypeError
        If ``lookback``, ``horizon`` or ``step`` is not an integer, or ``series`` is not
        numeric.
    ValueError
        If ``lookback``, ``horizon`` or ``step`` is below 1, ``series`` is not 1-D or
        2-D, is empty, has no features, or is shorter than ``lookback + horizon``.

    Notes
    -----
    ``X`` and ``y`` are read-only views of ``series`` (made with
    :func:`numpy.lib.stride_tricks.sliding_window_view`), so windows overlap in memory
    and nothing is copied. When ``series`` is a list or needs a dtype conversion, the
    converted array is the one copy they view. Writing to them raises an error; call
    ``np.array(X)`` for a writable copy, and note that changing ``series`` afterwards
    changes the windows.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = make_windows(np.arange(6.0), lookback=3)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    """
    lookback = _check_count(lookback, "lookback")
    horizon = _check_count(horizon, "horizon")
    step = _check_count(step, "step")
    array = _as_series(series)
    steps = array.shape[0]
    if steps < lookback + horizon:
        raise ValueError(
            f"series: has {steps} steps, but lookback={lookback} + horizon={horizon} "
            f"needs at least {lookback + horizon}"
        )
    n = (steps - lookback - horizon) // step + 1
    # Working on a (T, F) view lets one code path serve both layouts; the feature axis
    # is dropped from y again for a 1-D series, as a tutorial's y would look.
    table = array if array.ndim == 2 else array[:, None]
    # sliding_window_view appends the window axis last: (windows, F, lookback).
    windows = sliding_window_view(table, lookback, axis=0)
    X = windows[: (n - 1) * step + 1 : step].transpose(0, 2, 1)
    # y is a window view too, even of one step: numpy lets a plain slice of a writable
    # series be made writable again, and a write to it would reach the series.
    y = sliding_window_view(table[lookback:], horizon, axis=0)[: (n - 1) * step + 1 : step]
    y = y.transpose(0, 2, 1)  # (windows, horizon, F)
    if horizon == 1:
        y = y[:, 0]
    if array.ndim == 1:
        y = y[..., 0]
    return X, y


def pad_sequences(
    sequences,
    maxlen=None,
    *,
    dtype=None,
    padding="post",
    truncating="post",
    value=0.0,
):
    """Pad a list of sequences of different lengths into one array, with their lengths.

    Like Keras' ``pad_sequences``, with these differences: this one returns the
    lengths as well; it pads and truncates at the end (``padding="post"``,
    ``truncating="post"``) by default, where Keras does both at the start; its result
    keeps a float dtype (Keras' default is int32); and a result of an integer or bool
    dtype must hold every value exactly, where Keras casts NaN, fractions and values
    out of range silently. rnnkit's ``lengths`` follow PyTorch's packed sequences: the
    valid steps of row ``b`` are the first ``lengths[b]``, so post-padding is what
    :func:`rnnkit.ops.forward` and the estimators expect. Pass
    ``truncating="pre"`` to keep the last steps of long sequences, as Keras does.

    Parameters
    ----------
    sequences : list of array-like of shape (T_i,) or (T_i, F)
        The sequences, all 1-D or all 2-D with the same ``F``, each at least 1 step long.
    maxlen : int or None, default=None
        Steps of the result, at least 1; None means the longest sequence's length.
    dtype : dtype or None, default=None
        Dtype of the result. None keeps the common float dtype of the sequences
        (float32 stays float32) and gives float64 for integer or bool sequences.
    padding : {"post", "pre"}, default="post"
        Pad after each sequence ("post") or before it ("pre").
    truncating : {"post", "pre"}, default="post"
        For sequences longer than ``maxlen``: drop their last steps ("post") or their
        first steps ("pre").
    value : float, default=0.0
        The value of the padding.

    Returns
    -------
    padded : ndarray of shape (n, maxlen) or (n, maxlen, F)
        The padded sequences, a new array.
    lengths : ndarray of shape (n,), dtype int64
        The valid steps of each row, ``min(T_i, maxlen)``.

    Raises
    ------
    TypeError
        If a sequence is not numeric, ``maxlen`` is not an integer or None, ``dtype`` is
        not a numeric dtype or ``value`` not a real number.
    ValueError
        If ``sequences`` is empty, a sequence is empty, not 1-D or 2-D, or differs from
        the first in dimensions or features, ``maxlen`` is below 1, ``padding`` or
        ``truncating`` is not "pre" or "post", ``dtype`` cannot hold ``value`` (NaN or
        0.5 in an integer dtype, 1e300 in float32), an integer or bool ``dtype``
        cannot hold a sequence's values exactly (NaN, 2.5, 300 in uint8), or a float
        ``dtype`` cannot hold their range (1e5 in float16).

    See Also
    --------
    to_ragged : The inverse: from a padded array and lengths back to a list.

    Examples
    --------
    >>> padded, lengths = pad_sequences([[1, 2, 3], [4]])
    >>> padded
    array([[1., 2., 3.],
           [4., 0., 0.]])
    >>> lengths
    array([3, 1])
    """
    _check_side(padding, "padding")
    _check_side(truncating, "truncating")
    if maxlen is not None:
        maxlen = _check_count(maxlen, "maxlen")
    items = [np.asarray(item) for item in sequences]
    if not items:
        raise ValueError("sequences: is empty; expected at least one sequence")
    first = items[0]
    for index, item in enumerate(items):
        name = f"sequences[{index}]"
        if item.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected real numbers, got dtype {item.dtype}")
        if item.ndim not in (1, 2):
            raise ValueError(
                f"{name}: expected a 1-D (T,) or 2-D (T, F) array, got shape {item.shape}"
            )
        if item.ndim != first.ndim:
            raise ValueError(
                f"{name}: is {item.ndim}-D but sequences[0] is {first.ndim}-D; "
                "all sequences must have the same number of dimensions"
            )
        if item.shape[0] == 0:
            raise ValueError(f"{name}: is empty (0 steps); every sequence needs at least 1")
        if item.ndim == 2:
            if item.shape[1] == 0:
                raise ValueError(f"{name}: has 0 features, shape {item.shape}")
            if item.shape[1] != first.shape[1]:
                raise ValueError(
                    f"{name}: has {item.shape[1]} features but sequences[0] has {first.shape[1]}"
                )
    if dtype is None:
        # promote_types pairwise: result_type takes at most 64 arguments.
        dtype = functools.reduce(np.promote_types, (item.dtype for item in items))
        if dtype.kind != "f":
            dtype = np.dtype(np.float64)
    dtype = _numeric_dtype(dtype)
    _check_pad_value(value, dtype)
    longest = max(item.shape[0] for item in items)
    steps = longest if maxlen is None else maxlen
    kept = items if maxlen is None else [_truncated(item, steps, truncating) for item in items]
    _check_cast(kept, dtype)
    padded = np.full((len(items), steps) + first.shape[1:], value, dtype=dtype)
    lengths = np.empty(len(items), dtype=np.int64)
    for row, item in enumerate(kept):
        length = item.shape[0]
        lengths[row] = length
        if padding == "post":
            padded[row, :length] = item
        else:
            padded[row, steps - length :] = item
    return padded, lengths


def _check_cast(items, dtype):
    """Refuse what a cast of ``items`` to ``dtype`` would change silently: NaN, fractions
    and values out of range in an integer or bool dtype (which must hold them exactly),
    values a float dtype would turn into inf (it may round them). One pass over all the
    values: a check per sequence cost ten times the padding itself for many short ones."""
    safe = {kind: np.can_cast(kind, dtype) for kind in {item.dtype for item in items}}
    unchecked = [i for i, item in enumerate(items) if not safe[item.dtype]]
    if not unchecked:  # safe casts change nothing
        return
    values = np.concatenate([items[i].reshape(-1) for i in unchecked])
    with np.errstate(invalid="ignore", over="ignore"):
        cast = values.astype(dtype)
    if dtype.kind == "f":
        changed = np.isinf(cast) & ~np.isinf(values)
        reason = (
            f"values beyond the range of dtype {dtype} (largest {np.finfo(dtype).max:.4g}); "
            "pass a wider float dtype"
        )
    else:
        changed = cast != values
        reason = (
            f"values that dtype {dtype} cannot hold exactly (NaN, fractions or values out of "
            "its range); pass a float dtype"
        )
    if changed.any():
        ends = np.cumsum([items[i].size for i in unchecked])
        index = unchecked[int(np.searchsorted(ends, np.argmax(changed), side="right"))]
        raise ValueError(f"sequences[{index}]: has {reason}")


def _truncated(item, steps, truncating):
    """``item``'s steps that a padded row of ``steps`` keeps: its first ones ("post") or
    its last ones ("pre")."""
    if item.shape[0] <= steps:
        return item
    return item[:steps] if truncating == "post" else item[item.shape[0] - steps :]


def _random_source(random_state):
    """A numpy Generator as it is; anything else through scikit-learn's
    check_random_state (an int seed, a RandomState, or None for numpy's global one).
    Both kinds offer the draws used here (uniform, choice)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def _numeric_dtype(dtype, kinds="biuf"):
    """``dtype`` as a numpy dtype of one of ``kinds`` (bool, signed and unsigned
    integers, floats), or a TypeError naming ``dtype``: a str dtype would make strings."""
    names = [name for kind, name in zip("biuf", ("bool", "integer", "", "float")) if kind in kinds]
    expected = ", ".join(n for n in names[:-1] if n) + " or " + names[-1]
    try:
        checked = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a numeric dtype ({expected}), got {dtype!r}") from None
    if checked.kind not in kinds:
        raise TypeError(f"dtype: expected a numeric dtype ({expected}), got {checked}")
    return checked


def _check_pad_value(value, dtype):
    """pad_sequences' value: a real number that ``dtype`` holds exactly (NaN and inf
    only in a float dtype, whole numbers in an integer one)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"value: expected a real number, got {value!r}")
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            overflows = np.isfinite(value) and not np.isfinite(dtype.type(value))
        if overflows:
            raise ValueError(f"value: {value!r} is beyond the range of the result's dtype {dtype}")
        return
    if not np.isfinite(value) or value != np.asarray(value).astype(dtype):
        raise ValueError(f"value: {value!r} is not a value of the result's dtype {dtype}")


def to_ragged(padded, lengths, *, padding="post"):
    """Split a padded array into a list of its valid parts: the inverse of
    :func:`pad_sequences`.

    Parameters
    ----------
    padded : array-like of shape (n, T) or (n, T, ...)
        The padded sequences.
    lengths : array-like of int, shape (n,)
        The valid steps of each row, each in [1, T].
    padding : {"post", "pre"}, default="post"
        Where the padding is: after the valid steps ("post", so row ``i`` gives
        ``padded[i, :lengths[i]]``) or before them ("pre", the last ``lengths[i]``
        steps).

    Returns
    -------
    list of ndarray
        One array per row, of shape (lengths[i],) or (lengths[i], ...): views of
        ``padded`` (of the array made from it when it is not an ndarray), so writing
        to them writes to ``padded``.

    Raises
    ------
    TypeError
        If ``lengths`` is not integer.
    ValueError
        If ``padded`` has fewer than 2 dimensions, ``lengths`` does not have shape
        (n,) or has values outside [1, T], or ``padding`` is not "pre" or "post".

    Examples
    --------
    >>> import numpy as np
    >>> to_ragged(np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]), [3, 1])
    [array([1., 2., 3.]), array([4.])]
    """
    _check_side(padding, "padding")
    array = np.asarray(padded)
    if array.ndim < 2:
        raise ValueError(
            f"padded: expected an array of shape (n, T) or (n, T, F), got shape {array.shape}"
        )
    n, steps = array.shape[:2]
    counts = np.asarray(lengths)
    if counts.size == 0 and counts.dtype.kind == "f":  # np.asarray([]) is float64
        counts = counts.astype(np.int64)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected an integer array, got dtype {counts.dtype}")
    if counts.shape != (n,):
        raise ValueError(f"lengths: expected shape ({n},), got {counts.shape}")
    if n and (counts.min() < 1 or counts.max() > steps):
        raise ValueError(
            f"lengths: expected values in [1, {steps}] (1 <= lengths[i] <= T), got "
            f"values from {counts.min()} to {counts.max()}"
        )
    if padding == "post":
        return [array[row, :count] for row, count in enumerate(counts.tolist())]
    return [array[row, steps - count :] for row, count in enumerate(counts.tolist())]


# Integration steps mackey_glass takes at most: about a minute of its scalar loop.
_MAX_GRID = 1e8


def mackey_glass(
    n_steps,
    *,
    tau=17,
    beta=0.2,
    gamma=0.1,
    n=10,
    x0=1.2,
    dt=0.1,
    subsample=10,
    random_state=None,
):
    """The Mackey–Glass series, a chaotic benchmark for sequence forecasting.

    Integrates the delay differential equation

    .. math:: \\frac{dx}{dt} = \\beta \\frac{x(t - \\tau)}{1 + x(t - \\tau)^n}
              - \\gamma x(t)

    with 4th-order Runge–Kutta at step ``dt``, from a history ``x(t) = x0`` for
    ``t <= 0``. The first 500 time units are discarded as a transient; then a sample is
    kept every ``subsample`` steps, ``subsample * dt`` time units apart (1 with the
    defaults). With ``tau=17`` (the default) the series is chaotic.

    Parameters
    ----------
    n_steps : int
        Number of samples to return, at least 1.
    tau : float, default=17
        The delay, at least ``dt``.
    beta, gamma, n : float, default=0.2, 0.1, 10
        The equation's coefficients.
    x0 : float, default=1.2
        The constant initial history.
    dt : float, default=0.1
        The integration step, greater than 0.
    subsample : int, default=10
        Integration steps between returned samples, at least 1.
    random_state : int, RandomState instance, Generator or None, default=None
        None gives the deterministic series. Otherwise each point of the initial
        history gets an independent uniform jitter in ``[-0.01, 0.01] * x0``, so
        different seeds give different series (chaos makes them diverge).

    Returns
    -------
    ndarray of shape (n_steps,), dtype float64
        The samples.

    Raises
    ------
    TypeError
        If ``n_steps`` or ``subsample`` is not an integer, or another argument (other
        than ``random_state``) is not a real number.
    ValueError
        If ``n_steps`` or ``subsample`` is below 1, a real argument is not finite, ``dt``
        is not greater than 0, ``tau`` is below ``dt``, ``beta`` or ``gamma`` is
        negative, ``n`` or ``x0`` is not positive, or the integration would take more
        than 10^8 steps.

    Notes
    -----
    The delayed value ``x(t - tau)`` at each Runge–Kutta stage is interpolated
    linearly between the stored steps; when ``dt`` divides ``tau`` it lies on the grid
    and the half-step stages take the mean of its two neighbours. The stages never need
    a value later than ``t`` because ``tau >= dt``.

    References
    ----------
    M. C. Mackey and L. Glass, "Oscillation and chaos in physiological control systems",
    Science 197 (1977), 287–289.

    Examples
    --------
    >>> series = mackey_glass(1000)
    >>> X, y = make_windows(series, lookback=50)
    >>> X.shape, y.shape
    ((950, 50, 1), (950,))
    """
    n_steps = _check_count(n_steps, "n_steps")
    subsample = _check_count(subsample, "subsample")
    dt = _check_real(dt, "dt")
    tau = _check_real(tau, "tau")
    if not dt > 0:
        raise ValueError(f"dt: must be greater than 0, got {dt}")
    if not tau > 0:
        raise ValueError(f"tau: must be greater than 0, got {tau}")
    if tau < dt:
        # The last Runge-Kutta stage needs x(t + dt - tau), which would not be known yet.
        raise ValueError(f"tau: must be at least dt={dt}, got {tau}")
    beta = _check_real(beta, "beta")
    gamma = _check_real(gamma, "gamma")
    n = _check_real(n, "n")
    x0 = _check_real(x0, "x0")
    # The model's domain: positive rates and exponent, a positive series (a negative x
    # to a fractional power is complex; a negative decay rate grows without bound).
    for name, value in (("beta", beta), ("gamma", gamma)):
        if value < 0:
            raise ValueError(f"{name}: must be at least 0, got {value}")
    for name, value in (("n", n), ("x0", x0)):
        if not value > 0:
            raise ValueError(f"{name}: must be greater than 0, got {value}")
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(f"random_state: expected an int, a generator or None, got {random_state}")
    grid = (500 + tau) / dt + (n_steps - 1) * subsample
    if grid > _MAX_GRID:
        raise ValueError(
            f"dt: {dt} needs about {grid:.3g} integration steps (at most {_MAX_GRID:.0e}); "
            "use a larger dt, a smaller tau or fewer samples"
        )

    delay = tau / dt
    if abs(delay - round(delay)) < 1e-9:
        # Keep the delay on the grid despite rounding (e.g. 17 / 0.1), so the stages read
        # stored values exactly as the grid-aligned scheme does.
        delay = float(round(delay))
    transient = int(round(500 / dt))
    total = transient + (n_steps - 1) * subsample
    history = math.ceil(delay) + 1
    if random_state is None:
        start = [x0] * history
    else:
        rng = _random_source(random_state)
        start = (x0 + x0 * rng.uniform(-0.01, 0.01, size=history)).tolist()
    # Python floats in a list: this scalar loop is several times faster than on numpy
    # scalars, and the recursion cannot be vectorised.
    x = start + [0.0] * total
    # Stage c in {0, 1/2, 1} needs x at grid position k + c - delay: the stored value at
    # k + offset[c] and the next one, weighted (1 - w[c], w[c]).
    taps = []
    for c in (0.0, 0.5, 1.0):
        position = c - delay
        offset = math.floor(position)
        taps.append((offset, position - offset))
    (o0, w0), (o1, w1), (o2, w2) = taps

    def rate(value, delayed):
        if not delayed >= 0.0:  # the exact series stays positive; a step too long left it
            raise _Diverged
        try:  # beta * delayed first: the rounding every published series was made with
            feedback = beta * delayed / (1.0 + delayed**n)
        except OverflowError:  # delayed**n beyond float64: the feedback is 0 to precision
            feedback = 0.0
        return feedback - gamma * value

    half = 0.5 * dt
    try:
        for k in range(history - 1, history - 1 + total):
            d0 = (1.0 - w0) * x[k + o0] + (w0 * x[k + o0 + 1] if w0 else 0.0)
            d1 = (1.0 - w1) * x[k + o1] + (w1 * x[k + o1 + 1] if w1 else 0.0)
            d2 = (1.0 - w2) * x[k + o2] + (w2 * x[k + o2 + 1] if w2 else 0.0)
            xk = x[k]
            k1 = rate(xk, d0)
            k2 = rate(xk + half * k1, d1)
            k3 = rate(xk + half * k2, d1)
            k4 = rate(xk + dt * k3, d2)
            x[k + 1] = xk + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        first = history - 1 + transient
        samples = np.array(x[first : first + (n_steps - 1) * subsample + 1 : subsample])
        if not np.isfinite(samples).all():
            raise _Diverged
    except _Diverged:
        # With decay, a step too long for it (RK4 is stable to dt * gamma of about 2.8);
        # without, only growth beyond float64.
        raise ValueError(
            f"dt: the integration at dt={dt} diverged (the series left [0, inf)); use a "
            f"smaller dt, below about 2.8 / gamma = {2.8 / gamma:.3g}"
            if gamma > 0
            else f"beta: {beta} with gamma=0 grows the series beyond float64's range"
        ) from None
    return samples


class _Diverged(Exception):
    """mackey_glass' integration left the series' domain."""


def _check_count(value, name):
    """``value`` as an int >= 1; bools and floats are refused rather than converted."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= 1, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name}: must be at least 1, got {value}")
    return int(value)


def _check_real(value, name):
    """``value`` as a finite Python float (fast in the integration loop)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: must be finite, got {value}")
    return value


def _check_side(value, name):
    if not isinstance(value, str) or value not in _SIDES:
        raise ValueError(f"{name}: expected 'pre' or 'post', got {value!r}")


def _as_series(series):
    """``series`` as a 1-D or 2-D float array, without a copy when it already is one."""
    try:
        array = as_array(series)
    except ValueError as error:  # a ragged nested list; say which argument it was
        raise ValueError(f"series: cannot be read as an array ({error})") from None
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise TypeError(f"series: expected real numbers, got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(
            f"series: expected a 1-D (T,) or 2-D (T, F) array, got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"series: is empty, shape {array.shape}")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"series: has 0 features, shape {array.shape}")
    return array
