"""The network behind the estimators (rnnkit._network) and its losses (rnnkit._losses).

- Whole-network gradients: ``_network.forward`` + a loss + ``_network.backward`` against
  central finite differences, for every parameter (weights, biases, dense head, output
  layer), for each cell and activation, stacked and bidirectional layers, a relu dense
  head, many-to-one and many-to-many outputs, ragged ``lengths`` (the loss uses valid steps
  only, as the estimators' ``_rows`` does), every regression loss and both cross-entropies
  with non-uniform row weights, dropout with a fixed mask, and ``bptt_steps``.
- Padding never leaks: garbage at padded input steps changes neither valid outputs nor
  gradients.
- The losses alone: value and gradient against direct numpy formulas and finite
  differences; ``probabilities`` against sigmoid / softmax.
- ``init_params``: PyTorch names and shapes, orthonormal recurrent weights, LSTM forget
  bias, Glorot bound, the same start in float32 and float64.
- With torch installed: outputs and MSE gradients equal those of ``torch.nn.LSTM / GRU /
  RNN`` + ``Linear`` layers loaded with the same parameters, full-length and packed.

Everything is float64, so finite differences are accurate to about 1e-9. Kernels run with
n_threads=1: results do not depend on it, and OpenMP barriers on problems this small only
cost time (a lot of it on a busy machine).
"""

import numpy as np
import pytest

from _gradcheck import EPS, FD_TOL, assert_gradients_match_fd
from _problems import CELL_ACTIVATIONS
from rnnkit import _losses, _network

BATCH, STEPS, N_INPUTS = 4, 5, 3
LENGTHS = np.array([5, 1, 3, 4])  # a full row, a length-1 row and two in between
CLASSIFICATION = ("binary", "softmax")


# -- helpers -----------------------------------------------------------------------------


def make_spec(
    cell="lstm",
    hidden=(4,),
    *,
    bidirectional=False,
    activation="tanh",
    dense=(),
    dropout=0.0,
    return_sequences=False,
    n_outputs=1,
):
    return _network.NetworkSpec(
        cell=cell,
        hidden_sizes=tuple(hidden),
        bidirectional=bidirectional,
        activation=activation,
        dense_sizes=tuple(dense),
        dropout=dropout,
        return_sequences=return_sequences,
        n_inputs=N_INPUTS,
        n_outputs=n_outputs,
    )


def make_params(spec, seed=0):
    """init_params plus noise: biases become non-zero and the two biases of a gate differ,
    so that a gradient routed to the wrong bias or gate would show."""
    params = _network.init_params(spec, np.random.RandomState(seed), np.float64)
    rng = np.random.default_rng(seed + 100)
    return {name: p + rng.normal(0.0, 0.15, p.shape) for name, p in params.items()}


def make_inputs(ragged, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, N_INPUTS))
    return x, (LENGTHS.copy() if ragged else None)


def step_mask(lengths, batch, steps):
    """(B, T) valid steps, as Sequences.step_mask in rnnkit._inputs."""
    full = np.full(batch, steps) if lengths is None else lengths
    return np.arange(steps) < full[:, None]


def loss_and_grad(spec, kind, output, lengths, target, weight):
    """The estimators' loss on one batch (mirrors _base._rows): with return_sequences a row
    is one valid step, padded steps never reach the loss and get a zero gradient."""
    if spec.return_sequences:
        mask = step_mask(lengths, output.shape[0], output.shape[1])
        rows, target_rows = output[mask], target[mask]
        w_rows = np.broadcast_to(weight[:, None], mask.shape)[mask]
    else:
        rows, target_rows, w_rows = output, target, weight
    if kind in CLASSIFICATION:
        loss, d_rows = _losses.cross_entropy(rows, target_rows, w_rows)
    else:
        loss, d_rows = _losses.regression(kind, rows, target_rows, w_rows)
    if not spec.return_sequences:
        return loss, d_rows
    d_output = np.zeros_like(output)
    d_output[mask] = d_rows
    return loss, d_output


def make_targets(kind, output, rng):
    """Targets for the network's output at the base point. mae / huber targets sit at a
    distance from the output that finite differences cannot cross: |diff| in [0.3, 3] for
    mae (kink at 0), and in [0.2, 0.7] or [1.5, 3] for huber (kinks at 0 and 1), so both
    huber regimes are exercised."""
    lead = output.shape[:-1]
    k = output.shape[-1]
    if kind == "binary":
        return rng.integers(0, 2, lead)
    if kind == "softmax":
        return rng.integers(0, k, lead)
    if kind == "mse":
        return rng.normal(size=output.shape)
    sign = rng.choice([-1.0, 1.0], output.shape)
    if kind == "mae":
        return output + sign * rng.uniform(0.3, 3.0, output.shape)
    quadratic = rng.random(output.shape) < 0.5
    size = np.where(
        quadratic, rng.uniform(0.2, 0.7, output.shape), rng.uniform(1.5, 3.0, output.shape)
    )
    return output + sign * size


def network_problem(spec, kind, ragged, seed=0, mask_seed=7):
    """(params, loss_of(params), analytic gradients(params, bptt_steps))."""
    params = make_params(spec, seed)
    x, lengths = make_inputs(ragged, seed + 1)
    rng = np.random.default_rng(seed + 2)

    def run(p):
        # A fresh generator with one seed per call: the same dropout mask every time.
        return _network.forward(
            spec,
            p,
            x,
            lengths,
            training=True,
            rng=np.random.default_rng(mask_seed),
            n_threads=1,
        )

    target = make_targets(kind, run(params)[0], rng)
    weight = rng.uniform(0.2, 3.0, BATCH)  # non-uniform row weights

    def loss_of(p):
        return loss_and_grad(spec, kind, run(p)[0], lengths, target, weight)[0]

    def gradients(p, bptt_steps=None):
        output, tape = run(p)
        _, d_output = loss_and_grad(spec, kind, output, lengths, target, weight)
        return _network.backward(spec, p, tape, d_output, bptt_steps=bptt_steps, n_threads=1)

    return params, loss_of, gradients


# -- whole-network gradients -------------------------------------------------------------

# Architecture and loss per scenario; every scenario runs for each cell.
SCENARIOS = {
    "one-layer-mse": dict(spec=dict(hidden=(4,)), kind="mse", ragged=False),
    "multi-output-mse-ragged": dict(spec=dict(hidden=(3,), n_outputs=3), kind="mse", ragged=True),
    "stacked-bidir-mae-ragged": dict(
        spec=dict(hidden=(3, 4), bidirectional=True), kind="mae", ragged=True
    ),
    "dense-head-huber": dict(
        spec=dict(hidden=(4,), bidirectional=True, dense=(5, 3), n_outputs=2),
        kind="huber",
        ragged=True,
    ),
    "binary": dict(
        spec=dict(hidden=(3, 2), bidirectional=True, dense=(4,)), kind="binary", ragged=True
    ),
    "softmax": dict(spec=dict(hidden=(4,), dense=(3,), n_outputs=4), kind="softmax", ragged=False),
    "sequences-mse": dict(
        spec=dict(hidden=(3,), dense=(4,), return_sequences=True, n_outputs=2),
        kind="mse",
        ragged=False,
    ),
    "sequences-stacked-bidir-huber-ragged": dict(
        spec=dict(hidden=(4, 3), bidirectional=True, dense=(4,), return_sequences=True),
        kind="huber",
        ragged=True,
    ),
    "sequences-mae-ragged": dict(
        spec=dict(hidden=(2, 3), return_sequences=True, n_outputs=2), kind="mae", ragged=True
    ),
    "sequences-binary-ragged": dict(
        spec=dict(hidden=(3,), bidirectional=True, return_sequences=True),
        kind="binary",
        ragged=True,
    ),
    "sequences-softmax-ragged": dict(
        spec=dict(
            hidden=(3, 3), bidirectional=True, dense=(4,), return_sequences=True, n_outputs=3
        ),
        kind="softmax",
        ragged=True,
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_network_gradient_matches_finite_differences(cell, scenario):
    case = SCENARIOS[scenario]
    spec = make_spec(cell, **case["spec"])
    params, loss_of, gradients = network_problem(spec, case["kind"], case["ragged"])
    assert_gradients_match_fd(params, loss_of, gradients(params))


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("cell,activation", CELL_ACTIVATIONS)
def test_network_gradient_every_activation(cell, activation, return_sequences):
    spec = make_spec(
        cell,
        (4, 3),
        bidirectional=True,
        activation=activation,
        dense=(4,),
        return_sequences=return_sequences,
        n_outputs=2,
    )
    params, loss_of, gradients = network_problem(spec, "mse", ragged=True, seed=3)
    assert_gradients_match_fd(params, loss_of, gradients(params))


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_network_gradient_with_dropout(cell, return_sequences):
    # dropout after both recurrent layers and the dense layer; the mask is fixed by
    # giving every forward call a fresh generator with the same seed
    spec = make_spec(
        cell,
        (4, 3),
        bidirectional=True,
        dense=(5,),
        dropout=0.3,
        return_sequences=return_sequences,
        n_outputs=2,
    )
    kind = "huber" if return_sequences else "mse"
    params, loss_of, gradients = network_problem(spec, kind, ragged=True, seed=5)
    assert_gradients_match_fd(params, loss_of, gradients(params))


def test_dropout_mask_depends_on_rng_and_training_only():
    spec = make_spec("gru", (4, 3), bidirectional=True, dense=(5,), dropout=0.4)
    plain = make_spec("gru", (4, 3), bidirectional=True, dense=(5,))
    params = make_params(spec)
    x, lengths = make_inputs(ragged=True)

    def out(s, training, seed=0):
        rng = np.random.default_rng(seed)
        return _network.forward(s, params, x, lengths, training=training, rng=rng, n_threads=1)[0]

    np.testing.assert_array_equal(out(spec, True), out(spec, True))  # same seed, same mask
    assert not np.allclose(out(spec, True), out(plain, True))  # the mask drops units
    assert not np.allclose(out(spec, True, 0), out(spec, True, 1))
    # inference ignores dropout (and needs no rng)
    inference = _network.forward(spec, params, x, lengths, n_threads=1)[0]
    np.testing.assert_array_equal(inference, out(plain, False))


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bptt_steps_reaches_the_kernels(cell, return_sequences):
    spec = make_spec(
        cell, (3, 3), bidirectional=True, dense=(4,), return_sequences=return_sequences
    )
    params, _, gradients = network_problem(spec, "mse", ragged=True, seed=9)
    full = gradients(params)
    # a window of T steps or more is full BPTT
    for k in (STEPS, STEPS + 3, 10**6):
        windowed = gradients(params, bptt_steps=k)
        for name in params:
            np.testing.assert_allclose(windowed[name], full[name], rtol=1e-13, atol=1e-15)
    # a shorter window changes the recurrent gradients (so it is not dropped on the way),
    # but not those of the head, which no gradient through time reaches
    truncated = gradients(params, bptt_steps=2)
    for name in params:
        if name.startswith("rnn."):
            if ".weight_hh" in name:
                assert not np.allclose(truncated[name], full[name]), name
        else:
            np.testing.assert_array_equal(truncated[name], full[name], err_msg=name)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padding_does_not_leak(cell, return_sequences):
    # garbage at padded steps of x changes neither valid outputs nor any gradient: padded
    # steps are never processed, in either direction, and never reach the loss
    spec = make_spec(
        cell, (3, 4), bidirectional=True, dense=(4,), return_sequences=return_sequences
    )
    params = make_params(spec)
    x, lengths = make_inputs(ragged=True)
    mask = step_mask(lengths, BATCH, STEPS)
    garbage = x.copy()
    garbage[~mask] = np.random.default_rng(0).normal(0.0, 1e3, ((~mask).sum(), N_INPUTS))
    target = np.random.default_rng(1).normal(
        size=(BATCH, STEPS, 1) if return_sequences else (BATCH, 1)
    )
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    results = []
    for inputs in (x, garbage):
        output, tape = _network.forward(spec, params, inputs, lengths, training=True, n_threads=1)
        loss, d_output = loss_and_grad(spec, "mse", output, lengths, target, weight)
        grads = _network.backward(spec, params, tape, d_output, n_threads=1)
        results.append((output[mask] if return_sequences else output, loss, grads))
    (out_a, loss_a, grads_a), (out_b, loss_b, grads_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    assert loss_a == loss_b
    for name in params:
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


# -- losses alone ------------------------------------------------------------------------


def loss_case(kind, seed=0, n=6, k=3):
    """(output, target, weight); mae / huber differences kept away from their kinks."""
    rng = np.random.default_rng(seed)
    output = rng.normal(size=(n, 1 if kind == "binary" else k))
    weight = rng.uniform(0.1, 3.0, n)
    return output, make_targets(kind, output, rng), weight


def numpy_loss(kind, output, target, weight):
    """Direct formulas: (value, gradient w.r.t. output)."""
    scale = weight / weight.sum()
    if kind in ("mse", "mae", "huber"):
        diff = output - target
        k = output.shape[1]
        if kind == "mse":
            value, grad = diff**2, 2 * diff
        elif kind == "mae":
            value, grad = np.abs(diff), np.sign(diff)
        else:  # delta 1
            small = np.abs(diff) <= 1.0
            value = np.where(small, 0.5 * diff**2, np.abs(diff) - 0.5)
            grad = np.clip(diff, -1.0, 1.0)
        return np.sum(scale * value.mean(axis=1)), grad * scale[:, None] / k
    if kind == "binary":
        p = 1.0 / (1.0 + np.exp(-output[:, 0]))
        rows = -(target * np.log(p) + (1 - target) * np.log(1 - p))
        return np.sum(scale * rows), ((p - target) * scale)[:, None]
    e = np.exp(output)
    p = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(output.shape[1])[target]
    rows = -np.log(p[np.arange(len(target)), target])
    return np.sum(scale * rows), (p - onehot) * scale[:, None]


def library_loss(kind, output, target, weight):
    if kind in CLASSIFICATION:
        return _losses.cross_entropy(output, target, weight)
    return _losses.regression(kind, output, target, weight)


@pytest.mark.parametrize("kind", ["mse", "mae", "huber", "binary", "softmax"])
def test_loss_matches_formula_and_finite_differences(kind):
    output, target, weight = loss_case(kind)
    value, grad = library_loss(kind, output, target, weight)
    assert isinstance(value, float)
    assert grad.shape == output.shape and grad.dtype == np.float64
    expected_value, expected_grad = numpy_loss(kind, output, target, weight)
    np.testing.assert_allclose(value, expected_value, rtol=1e-13)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)
    fd = np.empty(output.size)
    for i in range(output.size):
        up, down = output.copy(), output.copy()
        up.flat[i] += EPS
        down.flat[i] -= EPS
        fd[i] = (
            library_loss(kind, up, target, weight)[0] - library_loss(kind, down, target, weight)[0]
        ) / (2 * EPS)
    np.testing.assert_allclose(grad.reshape(-1), fd, **FD_TOL)


def test_huber_regimes_are_both_exercised():
    # guards the test above: its huber case has differences on both sides of delta = 1
    output, target, _ = loss_case("huber")
    diff = np.abs(output - target)
    assert (diff < 1).any() and (diff > 1).any()


@pytest.mark.parametrize("kind", ["mse", "mae", "huber", "binary", "softmax"])
def test_integer_weights_equal_repeated_rows(kind):
    output, target, _ = loss_case(kind, seed=4)
    weight = np.array([2, 1, 3, 1, 1, 2])
    repeat = np.repeat(np.arange(len(weight)), weight)
    value, grad = library_loss(kind, output, target, weight)
    value_rep, grad_rep = library_loss(kind, output[repeat], target[repeat], np.ones(len(repeat)))
    np.testing.assert_allclose(value, value_rep, rtol=1e-13)
    # a row repeated r times collects r copies of the repeated rows' gradient
    summed = np.zeros_like(grad)
    np.add.at(summed, repeat, grad_rep)
    np.testing.assert_allclose(grad, summed, rtol=1e-12, atol=1e-15)


def test_zero_weight_rows_do_not_count():
    output, target, weight = loss_case("softmax", seed=2)
    weight[[1, 4]] = 0.0
    value, grad = _losses.cross_entropy(output, target, weight)
    keep = weight > 0
    value_kept, grad_kept = _losses.cross_entropy(output[keep], target[keep], weight[keep])
    np.testing.assert_allclose(value, value_kept, rtol=1e-13)
    np.testing.assert_array_equal(grad[~keep], 0.0)
    np.testing.assert_allclose(grad[keep], grad_kept, rtol=1e-13)


def test_cross_entropy_is_stable_for_large_logits():
    # log(1 + e^z) and the softmax are computed without overflow
    z = np.array([[800.0], [-800.0], [40.0], [-40.0]])
    y = np.array([0, 1, 1, 0])
    w = np.ones(4)
    value, grad = _losses.cross_entropy(z, y, w)
    np.testing.assert_allclose(value, (800 + 800 + np.log1p(np.exp(-40.0)) * 2) / 4, rtol=1e-13)
    # sigmoid(40) - 1 rounds to 0: exact to float64's absolute precision
    expected = np.array([1, -1, -np.exp(-40.0), np.exp(-40.0)]) / 4
    np.testing.assert_allclose(grad[:, 0], expected, rtol=1e-13, atol=1e-17)
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]])
    value, grad = _losses.cross_entropy(logits, np.array([2, 2]), np.ones(2))
    np.testing.assert_allclose(value, (2000 + (1 + np.log1p(np.exp(-1.0)))) / 2, rtol=1e-13)
    assert np.isfinite(grad).all()


def test_float32_output_gives_float32_gradient():
    for kind in ("mse", "mae", "huber", "binary", "softmax"):
        output, target, weight = loss_case(kind, seed=3)
        value, grad = library_loss(kind, output.astype(np.float32), target, weight)
        assert grad.dtype == np.float32, kind
        expected, _ = library_loss(
            kind, output.astype(np.float32).astype(np.float64), target, weight
        )
        np.testing.assert_allclose(value, expected, rtol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_probabilities(k):
    rng = np.random.default_rng(k)
    logits = rng.normal(0.0, 3.0, (7, k))
    logits[0] = 500.0  # large logits must not overflow
    p = _losses.probabilities(logits)
    assert p.shape == (7, max(k, 2))
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    if k == 1:
        sigmoid = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        np.testing.assert_allclose(p[:, 1], sigmoid, rtol=1e-14)
        np.testing.assert_allclose(p[:, 0], 1.0 - sigmoid, rtol=1e-12, atol=1e-300)
    else:
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(p, shifted / shifted.sum(axis=1, keepdims=True), rtol=1e-14)
    # the cross-entropy is the negative log of these probabilities
    target = rng.integers(0, max(k, 2), 7)
    value, _ = _losses.cross_entropy(logits[1:], target[1:], np.ones(6))
    np.testing.assert_allclose(value, -np.log(p[np.arange(1, 7), target[1:]]).mean(), rtol=1e-12)


# -- init_params -------------------------------------------------------------------------


def test_init_params_names_and_shapes():
    spec = make_spec("lstm", (4, 3), bidirectional=True, dense=(5, 2), n_outputs=2)
    params = _network.init_params(spec, np.random.RandomState(0), np.float64)
    expected = {}
    for layer, (width, hidden) in enumerate([(N_INPUTS, 4), (8, 3)]):
        for suffix in ("", "_reverse"):
            expected[f"rnn.{layer}.weight_ih{suffix}"] = (16 if layer == 0 else 12, width)
            expected[f"rnn.{layer}.weight_hh{suffix}"] = (4 * hidden, hidden)
            expected[f"rnn.{layer}.bias_ih{suffix}"] = (4 * hidden,)
            expected[f"rnn.{layer}.bias_hh{suffix}"] = (4 * hidden,)
    expected.update(
        {
            "dense.0.weight": (5, 6),  # (out, in) as torch.nn.Linear
            "dense.0.bias": (5,),
            "dense.1.weight": (2, 5),
            "dense.1.bias": (2,),
            "output.weight": (2, 2),
            "output.bias": (2,),
        }
    )
    assert list(params) == list(expected)  # PyTorch's order within each module
    assert {name: p.shape for name, p in params.items()} == expected
    assert spec.shapes() == expected
    for name, p in params.items():
        assert p.dtype == np.float64 and p.flags.c_contiguous, name
        # weights get the L2 penalty, biases do not
        assert _network.is_weight(name) == name.split(".")[-1].startswith("weight"), name
    unidirectional = make_spec("gru", (3,), n_outputs=1)
    assert list(_network.init_params(unidirectional, np.random.RandomState(0), np.float64)) == [
        "rnn.0.weight_ih",
        "rnn.0.weight_hh",
        "rnn.0.bias_ih",
        "rnn.0.bias_hh",
        "output.weight",
        "output.bias",
    ]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_init_params_values(cell):
    spec = make_spec(cell, (5, 4), bidirectional=True, dense=(6,), n_outputs=3)
    params = _network.init_params(spec, np.random.RandomState(3), np.float64)
    for name, p in params.items():
        if ".weight_hh" in name:
            # orthonormal columns, like Keras' orthogonal recurrent kernel (transposed)
            np.testing.assert_allclose(p.T @ p, np.eye(p.shape[1]), atol=1e-12, err_msg=name)
        elif _network.is_weight(name):
            fan_out, fan_in = p.shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(p).max() <= limit, name
            # uniform over the whole range, not a narrower one
            assert np.abs(p).max() > 0.5 * limit, name
        elif cell == "lstm" and ".bias_ih" in name:
            hidden = p.shape[0] // 4
            expected = np.zeros_like(p)
            expected[hidden : 2 * hidden] = 1.0  # forget gate (order i, f, g, o)
            np.testing.assert_array_equal(p, expected, err_msg=name)
        else:
            np.testing.assert_array_equal(p, 0.0, err_msg=name)
    # each direction draws its own weights
    assert not np.array_equal(params["rnn.0.weight_hh"], params["rnn.0.weight_hh_reverse"])


def test_init_params_same_start_in_float32_and_float64():
    spec = make_spec("lstm", (4, 3), bidirectional=True, dense=(5,), n_outputs=2)
    p64 = _network.init_params(spec, np.random.RandomState(11), np.float64)
    p32 = _network.init_params(spec, np.random.RandomState(11), np.float32)
    assert list(p32) == list(p64)
    for name in p64:
        assert p32[name].dtype == np.float32, name
        np.testing.assert_array_equal(p32[name], p64[name].astype(np.float32), err_msg=name)
    other = _network.init_params(spec, np.random.RandomState(12), np.float64)
    assert not np.array_equal(other["output.weight"], p64["output.weight"])


# -- against torch -----------------------------------------------------------------------

TORCH_TOL = dict(rtol=1e-10, atol=1e-12)


def torch_network(spec, params):
    """torch modules holding ``params``: recurrent stack, Linear+ReLU layers, output."""
    torch = pytest.importorskip("torch", reason="torch is the oracle here")
    # one torch module holds the stack, and torch gives all its layers one width
    assert len(set(spec.hidden_sizes)) == 1
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[spec.cell]
    kwargs = {"nonlinearity": spec.activation} if spec.cell == "rnn" else {}
    rnn = module(
        spec.n_inputs,
        spec.hidden_sizes[0],
        num_layers=len(spec.hidden_sizes),
        bidirectional=spec.bidirectional,
        batch_first=True,
        **kwargs,
    ).double()
    width = spec.recurrent_width
    dense = []
    for size in spec.dense_sizes:
        dense.append(torch.nn.Linear(width, size).double())
        width = size
    output = torch.nn.Linear(width, spec.n_outputs).double()
    torch_params = {}  # rnnkit name -> torch parameter
    for name, p in rnn.named_parameters():
        base, layer_suffix = name.split("_l")  # weight_ih_l1_reverse -> weight_ih, 1_reverse
        layer, _, suffix = layer_suffix.partition("_")
        torch_params[f"rnn.{layer}.{base}{'_' + suffix if suffix else ''}"] = p
    for i, linear in enumerate(dense):
        torch_params[f"dense.{i}.weight"] = linear.weight
        torch_params[f"dense.{i}.bias"] = linear.bias
    torch_params["output.weight"] = output.weight
    torch_params["output.bias"] = output.bias
    # the same names and shapes as rnnkit's, PyTorch's own order
    assert list(torch_params) == list(params)
    with torch.no_grad():
        for name, p in torch_params.items():
            assert tuple(p.shape) == params[name].shape, name
            p.copy_(torch.from_numpy(params[name]))
    return rnn, dense, output, torch_params


def torch_forward(spec, modules, x, lengths):
    """Keras semantics built from torch: many-to-one takes the last valid step forward and
    step 0 backward, i.e. the last layer's h_n."""
    torch = pytest.importorskip("torch", reason="torch is the oracle here")
    rnn, dense, output, _ = modules
    xt = torch.from_numpy(x)
    hidden = spec.hidden_sizes[-1]
    if lengths is None:
        seq, _ = rnn(xt)
        if spec.return_sequences:
            h = seq
        elif spec.bidirectional:
            h = torch.cat([seq[:, -1, :hidden], seq[:, 0, hidden:]], dim=1)
        else:
            h = seq[:, -1]
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
        )
        seq, h_n = rnn(packed)
        h_n = h_n[0] if spec.cell == "lstm" else h_n
        seq, _ = torch.nn.utils.rnn.pad_packed_sequence(
            seq, batch_first=True, total_length=x.shape[1]
        )
        if spec.return_sequences:
            h = seq
        elif spec.bidirectional:
            h = torch.cat([h_n[-2], h_n[-1]], dim=1)
        else:
            h = h_n[-1]
    for linear in dense:
        h = torch.relu(linear(h))
    return output(h)


TORCH_CASES = {
    "one-layer": dict(hidden=(4,)),
    "stacked-bidir-dense": dict(hidden=(4, 4), bidirectional=True, dense=(5, 3), n_outputs=2),
    "sequences-stacked-bidir-dense": dict(
        hidden=(3, 3), bidirectional=True, dense=(4,), return_sequences=True, n_outputs=2
    ),
}


@pytest.mark.parametrize("ragged", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("case", list(TORCH_CASES))
@pytest.mark.parametrize(
    "cell,activation", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
)
def test_network_matches_torch(cell, activation, case, ragged):
    torch = pytest.importorskip("torch", reason="torch is the oracle here")
    spec = make_spec(cell, activation=activation, **TORCH_CASES[case])
    params = make_params(spec, seed=21)
    modules = torch_network(spec, params)
    x, lengths = make_inputs(ragged, seed=22)
    rng = np.random.default_rng(23)
    out_shape = (BATCH, STEPS, spec.n_outputs) if spec.return_sequences else (BATCH, spec.n_outputs)
    target = rng.normal(size=out_shape)
    weight = rng.uniform(0.2, 3.0, BATCH)

    output, tape = _network.forward(spec, params, x, lengths, training=True, n_threads=1)
    inference, _ = _network.forward(spec, params, x, lengths, n_threads=1)
    np.testing.assert_array_equal(output, inference)
    loss, d_output = loss_and_grad(spec, "mse", output, lengths, target, weight)
    grads = _network.backward(spec, params, tape, d_output, n_threads=1)

    torch_out = torch_forward(spec, modules, x, lengths)
    mask = step_mask(lengths, BATCH, STEPS)
    if spec.return_sequences:  # padded steps are meaningless in both: compare valid ones
        np.testing.assert_allclose(output[mask], torch_out.detach().numpy()[mask], **TORCH_TOL)
        rows, target_rows = torch_out[torch.from_numpy(mask)], target[mask]
        w_rows = np.broadcast_to(weight[:, None], mask.shape)[mask]
    else:
        np.testing.assert_allclose(output, torch_out.detach().numpy(), **TORCH_TOL)
        rows, target_rows, w_rows = torch_out, target, weight
    w = torch.from_numpy(np.ascontiguousarray(w_rows))
    per_row = ((rows - torch.from_numpy(target_rows)) ** 2).mean(dim=1)
    torch_loss = (w * per_row).sum() / w.sum()
    torch_loss.backward()
    np.testing.assert_allclose(loss, torch_loss.item(), rtol=1e-12)
    for name, p in modules[3].items():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), **TORCH_TOL, err_msg=name)
