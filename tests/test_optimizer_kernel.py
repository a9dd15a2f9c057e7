"""The optimizer kernel (``_core.optimizer_update``) against its numpy reference (bit for
bit), against itself across thread counts, against ``torch.optim``, and its argument
checks."""

import numpy as np
import pytest

from reference import optimizer_update as reference_update
from rnnkit import _core
from rnnkit import _optimizers as optimizers

# Sizes below and across a vector width and a task block (4096), and one that splits
# between threads.
SIZES = [1, 7, 13, 4095, 4097, 70_001]
RULES = {
    "adam": dict(decay1=0.9, decay2=0.999, epsilon=1e-8),
    "sgd": dict(decay1=0.9, decay2=0.0, epsilon=0.0),
    "rmsprop": dict(decay1=0.9, decay2=0.0, epsilon=1e-7),
}


def _state(kind, n, dtype, seed):
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(n).astype(dtype)
    first = rng.standard_normal(n).astype(dtype) * dtype(0.1)
    if kind == "rmsprop":
        first = np.abs(first)
    second = np.abs(rng.standard_normal(n)).astype(dtype) * dtype(0.01) if kind == "adam" else None
    return params, first, second


def _grads(n, dtype, steps, seed):
    rng = np.random.default_rng(seed)
    # Magnitudes from 1e-30 (squares underflow to subnormals and zero) to 1e3.
    # The first is of order 1, so that every update moves something.
    scale = 10.0 ** rng.uniform(-30, 3, size=n)
    scale[0] = 1.0
    return [(rng.standard_normal(n) * scale).astype(dtype) for _ in range(steps)]


def _run(update, kind, state, grads, **options):
    params, first, second = (None if a is None else a.copy() for a in state)
    for t, grad in enumerate(grads, start=1):
        update(kind, params, grad, first, second, learning_rate=0.01 / t, t=t,
               **RULES[kind], **options)  # fmt: skip
    return params, first, second


@pytest.mark.parametrize("kind", sorted(RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_matches_reference_bit_for_bit(kind, dtype, n):
    state = _state(kind, n, dtype, seed=n)
    grads = _grads(n, dtype, steps=3, seed=n + 1)
    got = _run(_core.optimizer_update, kind, state, grads, n_threads=2)
    want = _run(reference_update, kind, state, grads)
    for g, w in zip(got, want):
        if w is not None:
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, w)
    assert not np.array_equal(got[0], state[0])  # the update did move the parameters


@pytest.mark.parametrize("kind", sorted(RULES))
def test_same_bits_for_any_thread_count(kind):
    n = 300_007  # enough work for several threads
    state = _state(kind, n, np.float32, seed=3)
    grads = _grads(n, np.float32, steps=2, seed=4)
    runs = [_run(_core.optimizer_update, kind, state, grads, n_threads=k) for k in (1, 2, 3, 8)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            if a is not None:
                np.testing.assert_array_equal(a, b)


def _update_problem():
    """A parameter vector and three gradients whose magnitudes span 1e-6 to 1e1, so that
    where an epsilon sits changes the steps."""
    rng = np.random.default_rng(5)
    n = 1001
    flat = rng.standard_normal(n)
    grads = [rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 1, size=n) for _ in range(3)]
    return flat, grads


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_estimator_update_matches_torch_optim(kind):
    """Three updates of ``_optimizers.update`` (the estimators' path) against torch.optim's
    Adam and SGD(momentum), in float64."""
    torch = pytest.importorskip("torch", reason="torch is the oracle here")
    lr, momentum, decay = 0.01, 0.8, 0.1
    flat, grads = _update_problem()

    weight = torch.nn.Parameter(torch.from_numpy(flat.copy()))
    make = {
        "adam": lambda: torch.optim.Adam([weight], lr=lr, foreach=False),
        "sgd": lambda: torch.optim.SGD([weight], lr=lr, momentum=momentum, foreach=False),
    }
    optimizer = make[kind]()
    # rnnkit's decay is an inverse-time schedule, lr / (1 + decay * t): torch's LambdaLR.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + decay * t))
    state = optimizers.init_state(kind, flat)
    for grad in grads:
        weight.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        schedule.step()
        optimizers.update(state, flat, grad.copy(), learning_rate=lr, momentum=momentum,
                          decay=decay, n_threads=2)  # fmt: skip
    np.testing.assert_allclose(flat, weight.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_estimator_rmsprop_matches_keras():
    """Three RMSprop updates against Keras' (epsilon inside the square root, unlike
    torch's), with an inverse-time learning rate decay, in float64. Keras keeps its
    learning rate and its schedule in float32: the steps agree to a few 1e-8."""
    keras = pytest.importorskip("keras", reason="keras is needed for its RMSprop")
    lr, decay = 0.01, 0.1
    flat, grads = _update_problem()
    schedule = keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)
    optimizer = keras.optimizers.RMSprop(learning_rate=schedule)
    weight = keras.Variable(flat.copy(), dtype="float64")
    state = optimizers.init_state("rmsprop", flat)
    for grad in grads:  # each update's step, from the same weights
        start = flat.copy()
        weight.assign(start)
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad), weight)])
        optimizers.update(state, flat, grad.copy(), learning_rate=lr, momentum=0.0,
                          decay=decay, n_threads=2)  # fmt: skip
        step = keras.ops.convert_to_numpy(weight) - start
        np.testing.assert_allclose(flat - start, step, rtol=1e-6, atol=0)


def test_rmsprop_epsilon_sits_inside_the_root():
    # One step from zero moments: s = 0.1 g^2, so the step is lr g / sqrt(0.1 g^2 + 1e-7).
    # With eps after the root (torch's form) a gradient of 1e-5 would step 97 times
    # further.
    grad = np.array([1e-5, 1e-3, 1.0])
    flat = np.zeros(3)
    optimizers.update(optimizers.init_state("rmsprop", flat), flat, grad.copy(),
                      learning_rate=1.0, momentum=0.0, decay=0.0)  # fmt: skip
    np.testing.assert_allclose(-flat, grad / np.sqrt(0.1 * grad**2 + 1e-7), rtol=1e-14)


@pytest.mark.parametrize("clip_value", [None, 0.5])
@pytest.mark.parametrize("clip_norm", [None, 1e-3, 2.0, 1e6])
def test_clip_matches_torch(clip_value, clip_norm):
    """``_optimizers.clip`` against torch's clip_grad_value_ then clip_grad_norm_ over
    two parameters (a norm below, near and far above the gradient's), in float64."""
    torch = pytest.importorskip("torch", reason="torch is the oracle here")
    grad = np.random.default_rng(7).standard_normal(1001)
    clipped = grad.copy()
    optimizers.clip(clipped, clip_value=clip_value, clip_norm=clip_norm)

    parts = [torch.nn.Parameter(torch.zeros(n, dtype=torch.float64)) for n in (600, 401)]
    parts[0].grad, parts[1].grad = (torch.from_numpy(g.copy()) for g in np.split(grad, [600]))
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(parts, clip_value, foreach=False)
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(parts, clip_norm, foreach=False)
    want = np.concatenate([p.grad.numpy() for p in parts])
    np.testing.assert_allclose(clipped, want, rtol=1e-14, atol=0)
    if clip_value is not None or clip_norm in (1e-3, 2.0):
        assert not np.array_equal(clipped, grad)  # the case does clip


def _arguments(**changes):
    n = 5
    arguments = dict(
        kind="adam", params=np.zeros(n, np.float32), grad=np.ones(n, np.float32),
        first=np.zeros(n, np.float32), second=np.zeros(n, np.float32), learning_rate=0.1,
        decay1=0.9, decay2=0.999, epsilon=1e-8, t=1, n_threads=1,
    )  # fmt: skip
    arguments.update(changes)
    return arguments


def _read_only(n=5):
    array = np.zeros(n, np.float32)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(kind="adagrad"), ValueError, "kind: expected 'adam', 'sgd' or 'rmsprop'"),
        (dict(grad=np.ones(5, np.float64)), TypeError, "grad: expected dtype float32"),
        (dict(first=np.zeros(4, np.float32)), ValueError, r"first: expected shape \(5,\)"),
        (dict(params=np.zeros((5, 1), np.float32)), ValueError, "params: expected a 1-D"),
        (dict(second=_read_only()), ValueError, "second: expected a writeable array"),
        (dict(params=_read_only()), ValueError, "params: expected a writeable array"),
        (dict(second=None), ValueError, "second: expected an array for adam"),
        # A list was converted into a temporary array the update then wrote after its free.
        (dict(second=[0.0] * 5), TypeError, "second: expected a numpy array, got list"),
        (dict(kind="sgd"), ValueError, "second: expected an array for adam and None"),
        (dict(t=0), ValueError, "t: expected a positive integer"),
        (dict(n_threads=0), ValueError, "n_threads: expected an integer"),
    ],
    ids=["kind", "dtype", "shape", "ndim", "read-only second", "read-only params",
         "adam without second", "list second", "sgd with second", "t", "threads"],
)  # fmt: skip
def test_bad_arguments_are_refused_before_any_write(changes, error, message):
    arguments = _arguments(**changes)
    before = {k: v.copy() for k, v in arguments.items() if isinstance(v, np.ndarray)}
    with pytest.raises(error, match=message):
        _core.optimizer_update(**arguments)
    for name, value in before.items():
        np.testing.assert_array_equal(arguments[name], value)
