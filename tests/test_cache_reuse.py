"""Training reuses the cache arrays of a consumed backward for the next forward (the
network's ``workspace``, ``ops._run_forward(reuse=...)``): the same results bit for bit, the
same arrays, fresh ones when the shapes change, and checked arguments."""

import numpy as np
import pytest
from test_network_gradients import make_inputs, make_params, make_spec

from rnnkit import _core, _network, ops

CELLS = ["rnn", "lstm", "gru"]


def forward_reusing(cell, x, weights, reuse, training=False):
    """ops.forward for arguments already checked, with the network's ``reuse``."""
    return ops._run_forward(
        cell, x, tuple(weights), h0=None, c0=None, lengths=None, reverse=False,
        activation="tanh", training=training, n_threads=1, leak_rate=1.0,
        return_sequences=True, borrow=False, reuse=reuse,
    )  # fmt: skip


@pytest.mark.parametrize("cell", CELLS)
def test_network_steps_reuse_caches_with_the_same_results(cell):
    spec = make_spec(cell, (4, 3), bidirectional=True, dense=(5,), dropout=0.3, n_outputs=2)
    params = make_params(spec)
    x, lengths = make_inputs(ragged=True)
    d_output = np.random.default_rng(3).normal(size=(x.shape[0], 2))

    def step(workspace, seed):
        rng = np.random.default_rng(seed)
        out, tape = _network.forward(spec, params, x, lengths, training=True, rng=rng,
                                     n_threads=2, workspace=workspace)  # fmt: skip
        caches = [c.arrays for layer in tape.caches for c in layer]
        return out, _network.backward(spec, params, tape, d_output, n_threads=2), caches

    workspace, previous = {}, None
    for seed in (0, 1, 2):  # the second and third steps run on reused arrays
        out, grads, caches = step(workspace, seed)
        fresh_out, fresh_grads, _ = step(None, seed)
        np.testing.assert_array_equal(out, fresh_out)
        for name in grads:
            np.testing.assert_array_equal(grads[name], fresh_grads[name], err_msg=name)
        if previous is not None:  # the very arrays the previous backward consumed
            # (lengths compared first: zip(strict=True) needs Python 3.10, rnnkit 3.9)
            assert [len(arrays) for arrays in caches] == [len(arrays) for arrays in previous]
            for now, before in zip(caches, previous):
                assert all(a is b for a, b in zip(now, before))
        previous = caches
    assert len(workspace) == 4  # two layers, two directions, waiting for the next step


@pytest.mark.parametrize("cell", CELLS)
def test_ops_reuse_only_fitting_arrays(cell):
    rng = np.random.default_rng(0)
    G, H, n_in = ops.GATES[cell], 5, 3
    weights = [rng.normal(size=s) for s in ((G * H, n_in), (G * H, H), (G * H,), (G * H,))]

    def run(batch, reuse):
        x = np.random.default_rng(batch).normal(size=(batch, 7, n_in))
        result = forward_reusing(cell, x, weights, reuse, training=True)
        arrays = result.cache.arrays
        return result, arrays, ops.backward(result.cache, np.ones((batch, 7, H)))

    first, spent, _ = run(4, None)
    again, reused, grads = run(4, spent)
    fresh, _, fresh_grads = run(4, None)
    assert all(a is b for a, b in zip(reused, spent))
    np.testing.assert_array_equal(again.output, fresh.output)
    for name in ("d_x", "d_weight_ih", "d_weight_hh", "d_bias_ih", "d_bias_hh"):
        np.testing.assert_array_equal(getattr(grads, name), getattr(fresh_grads, name))
    # Another batch size: the spent arrays do not fit and fresh ones are made.
    _, other, _ = run(3, reused)
    assert not any(a is b for a, b in zip(other, reused))
    # Inference keeps no cache and ignores them.
    assert forward_reusing(cell, np.ones((4, 7, n_in)), weights, spent).cache is None


def test_core_checks_reused_arrays():
    x = np.ones((2, 3, 1))
    weights = [np.zeros((4, 1)), np.zeros((4, 1)), np.zeros(4), np.zeros(4)]
    good = (np.empty((3, 2, 4)), np.empty((3, 2, 1)), np.empty((3, 2, 1)), np.empty((3, 2, 1)))

    def call(reuse):
        return _core.forward("lstm", "tanh", False, x, *weights, None, None, None, True, 1,
                             reuse=reuse)  # fmt: skip

    call(good)
    read_only = np.empty((3, 2, 4))
    read_only.flags.writeable = False
    cases = [
        ((read_only, *good[1:]), "reuse\\[0\\]: expected a writeable array"),
        ((np.empty((3, 2, 5)), *good[1:]), "reuse\\[0\\]: expected shape \\(3, 2, 4\\)"),
        ((good[0], good[1], np.empty((3, 2, 1), np.float32), good[3]), "reuse\\[2\\]"),
        (good[:3], "reuse: expected None or 4 cache arrays"),
        ((good[0].tolist(), *good[1:]), "reuse\\[0\\]: expected a numpy array, got list"),
    ]
    for reuse, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            call(reuse)


@pytest.mark.parametrize("cell", CELLS)
def test_inference_projects_into_a_kept_scratch(cell):
    spec = make_spec(cell, (4, 3), bidirectional=True, dense=(5,), n_outputs=2)
    params = make_params(spec)
    x, lengths = make_inputs(ragged=True)
    # 3 rows: fewer than any micro-kernel's full tile (generic 4, avx2 6, avx512 8), so
    # the input product is projected into the scratch on every ISA instead of fused.
    x, lengths = x[:3], lengths[:3]
    fresh = _network.forward(spec, params, x, lengths, n_threads=2)[0]
    workspace = {}
    first = _network.forward(spec, params, x, lengths, n_threads=2, workspace=workspace)[0]
    kept = {key: arrays[0] for key, arrays in workspace.items()}
    again = _network.forward(spec, params, x, lengths, n_threads=2, workspace=workspace)[0]
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(again, fresh)
    assert len(kept) == 4 and all(workspace[key][0] is kept[key] for key in kept)
    # Each scratch holds its layer's input projection (the first layer's has bias + x W^T).
    G, H = ops.GATES[cell], 4
    projection = np.einsum("bti,gi->tbg", x, params["rnn.0.weight_ih"])
    bias = params["rnn.0.bias_ih"] + params["rnn.0.bias_hh"]
    if cell == "gru":  # b_hn stays inside the reset product
        bias[2 * H :] = params["rnn.0.bias_ih"][2 * H :]
    np.testing.assert_allclose(kept[(0, "")], projection + bias, rtol=1e-12, atol=1e-12)
    assert kept[(0, "")].shape == (x.shape[1], x.shape[0], G * H)


def test_inference_scratch_of_another_shape_is_not_used():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=s) for s in ((8, 3), (8, 2), (8,), (8,))]  # lstm, H = 2
    x = rng.normal(size=(4, 7, 3))
    wrong = np.full((7, 5, 8), np.nan)  # batch 5, not 4
    result = forward_reusing("lstm", x, weights, (wrong, None, None, None))
    np.testing.assert_array_equal(result.output, ops.forward("lstm", x, *weights).output)
    assert np.isnan(wrong).all()  # untouched
    with pytest.raises(ValueError, match="reuse\\[0\\]: expected shape \\(7, 4, 8\\)"):
        _core.forward("lstm", "tanh", False, x, *weights, None, None, None, False, 1,
                      reuse=(wrong, None, None, None))  # fmt: skip
