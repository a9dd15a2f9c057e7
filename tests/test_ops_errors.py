"""Argument validation of rnnkit.ops and rnnkit._core.

Bad input raises ValueError / TypeError naming the argument and never crashes; valid input is
never modified; non-contiguous views and any integer dtype of ``lengths`` are accepted and give
the same bits as contiguous int64 copies.
"""

import copy
import pickle
import threading

import numpy as np
import pytest

from _problems import GRADIENTS as GRAD_NAMES
from rnnkit import _core, ops

CELLS = ("rnn", "lstm", "gru")
DTYPES = (np.float32, np.float64)
B, T, D, H = 3, 4, 5, 6


def make_args(cell, dtype=np.float64, b=B, t=T, i=D, h=H, seed=0):
    """Valid positional arrays of forward as a dict (x, weights, biases)."""
    rng = np.random.default_rng(seed)
    g = ops.GATES[cell]
    return dict(
        x=rng.normal(size=(b, t, i)).astype(dtype),
        weight_ih=rng.normal(0.0, 0.5, (g * h, i)).astype(dtype),
        weight_hh=rng.normal(0.0, 0.5, (g * h, h)).astype(dtype),
        bias_ih=rng.normal(0.0, 0.2, (g * h,)).astype(dtype),
        bias_hh=rng.normal(0.0, 0.2, (g * h,)).astype(dtype),
    )


def call_forward(cell, args, **kwargs):
    return ops.forward(cell, **args, **kwargs)


def training_result(cell, dtype=np.float64, **kwargs):
    args = make_args(cell, dtype)
    return call_forward(cell, args, training=True, **kwargs)


def d_out(dtype=np.float64, b=B, t=T, h=H, seed=1):
    return np.random.default_rng(seed).normal(size=(b, t, h)).astype(dtype)


def assert_grads_equal(a, b):
    for name in GRAD_NAMES:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
        else:
            assert x.dtype == y.dtype, name
            assert np.array_equal(x, y), name


# --------------------------------------------------------------------------------------------
# cell, activation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstmx", "RNN", "", None, 3, b"rnn"])
def test_unknown_cell(cell):
    args = make_args("rnn")
    with pytest.raises(ValueError, match="cell"):
        call_forward(cell, args)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("activation", ["sigmoid", "TANH", "", None, 1])
def test_unknown_activation(cell, activation):
    args = make_args(cell)
    with pytest.raises(ValueError, match="activation"):
        call_forward(cell, args, activation=activation)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_linear_only_for_rnn(cell):
    args = make_args(cell)
    with pytest.raises(ValueError, match="activation"):
        call_forward(cell, args, activation="linear")


def test_linear_for_rnn_is_accepted():
    result = call_forward("rnn", make_args("rnn"), activation="linear")
    assert result.output.shape == (B, T, H)


# --------------------------------------------------------------------------------------------
# x
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(B, T), (B * T * D,), (1, B, T, D), ()])
def test_x_not_3d(shape):
    args = make_args("rnn")
    args["x"] = np.zeros(shape)
    with pytest.raises(ValueError, match=r"^x: expected a 3-D array \(batch, steps, input\)"):
        call_forward("rnn", args)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("axis", [1, 2])
def test_x_zero_dimension(cell, axis):
    args = make_args(cell)
    shape = [B, T, D]
    shape[axis] = 0
    args["x"] = np.zeros(shape)
    with pytest.raises(ValueError, match=r"^x: steps and inputs must be at least 1"):
        call_forward(cell, args)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_an_empty_batch_gives_empty_results_and_zero_gradients(cell, return_sequences):
    # As torch: a batch of 0 sequences runs, with empty outputs and states, and
    # backward gives zero weight gradients.
    args = make_args(cell, b=0)
    result = call_forward(cell, args, training=True, return_sequences=return_sequences,
                          h0=np.zeros((0, H)))  # fmt: skip
    assert result.h_n.shape == (0, H)
    assert (result.output.shape == (0, T, H)) if return_sequences else result.output is None
    assert (result.c_n.shape == (0, H)) if cell == "lstm" else result.c_n is None
    grads = ops.backward(result.cache, d_out(b=0) if return_sequences else None)
    assert grads.d_x.shape == (0, T, D) and grads.d_h0.shape == (0, H)
    for name in ("d_weight_ih", "d_weight_hh", "d_bias_ih", "d_bias_hh"):
        gradient, weight = getattr(grads, name), args[name[2:]]
        assert gradient.shape == weight.shape and not gradient.any(), name
    with pytest.raises(ValueError, match="^cache: already used"):  # one backward per cache
        ops.backward(result.cache, None)
    h, _ = ops.step(cell, np.zeros((0, D)), *(args[n] for n in list(args)[1:]))
    assert h.shape == (0, H)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.float16, np.complex128, object])
def test_x_bad_dtype(dtype):
    args = make_args("lstm")
    args["x"] = np.ones((B, T, D), dtype=dtype)
    with pytest.raises(TypeError, match=r"^x: expected dtype float32 or float64"):
        call_forward("lstm", args)


@pytest.mark.parametrize("value", ["abc", b"abc", None])
def test_x_not_an_array(value):
    args = make_args("gru")
    args["x"] = value
    with pytest.raises(TypeError, match=r"^x: expected a float32 or float64 array"):
        call_forward("gru", args)


def test_big_endian_arrays_are_read_as_their_numbers():
    # Another byte order is a layout, copied like a strided view; before, ">f8" was
    # refused as if it were not float64.
    for cell in ("lstm", "gru"):
        args = make_args(cell)
        expected = call_forward(cell, args, h0=np.ones((B, H)))
        swapped = {
            name: array.astype(array.dtype.newbyteorder(">")) for name, array in args.items()
        }
        result = call_forward(cell, swapped, h0=np.ones((B, H), ">f8"))
        assert np.array_equal(result.output, expected.output)
        assert np.array_equal(result.h_n, expected.h_n)
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    assert np.array_equal(ops.matmul(a.astype(">f8"), b), ops.matmul(a, b))
    assert np.array_equal(ops.dropout(a.astype(">f4"), 0.5, seed=3)[0],
                          ops.dropout(a.astype("<f4"), 0.5, seed=3)[0])  # fmt: skip


def test_arrays_at_odd_byte_offsets_are_copied_into_place():
    # The kernels read whole floats: an unaligned view is undefined behaviour below the
    # bindings, which refuse it; ops copies it, as it copies any layout it cannot read.
    args = make_args("gru")
    expected = call_forward("gru", args, lengths=np.array([4, 2, 3]))
    raw = np.zeros(args["x"].nbytes + 1, np.uint8)
    odd = np.frombuffer(raw, np.float64, args["x"].size, offset=1).reshape(args["x"].shape)
    odd[...] = args["x"]
    odd_lengths = np.frombuffer(bytearray(b"\0" + np.array([4, 2, 3]).tobytes()), np.int64, 3, 1)
    assert not odd.flags.aligned and not odd_lengths.flags.aligned
    result = call_forward("gru", {**args, "x": odd}, lengths=odd_lengths)
    assert np.array_equal(result.output, expected.output)
    with pytest.raises(ValueError, match="^x: expected an aligned array"):
        _core.forward("gru", "tanh", False, odd, *(args[n] for n in list(args)[1:]),
                      None, None, None, False, 1)  # fmt: skip


def test_x_nested_list_is_an_array():
    args = make_args("rnn")
    expected = call_forward("rnn", args)
    args["x"] = args["x"].tolist()
    result = call_forward("rnn", args)
    assert np.array_equal(result.output, expected.output)


# --------------------------------------------------------------------------------------------
# weights and biases
# --------------------------------------------------------------------------------------------


def bad_parameter_shapes(cell):
    g = ops.GATES[cell]
    return {
        "weight_ih": [(g * H, D + 1), (g * H + 1, D), (g * H * D,), (1, g * H, D), (D, g * H)],
        "weight_hh": [(g * H, H + 1), (g * H + 1, H), (g * H * H,), (1, g * H, H), (g * H, 0)],
        "bias_ih": [(g * H + 1,), (g * H - 1,), (1, g * H), ()],
        "bias_hh": [(g * H + 1,), (g * H - 1,), (g * H, 1), ()],
    }


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
def test_parameter_wrong_shape(cell, name):
    for shape in bad_parameter_shapes(cell)[name]:
        args = make_args(cell)
        args[name] = np.zeros(shape)
        with pytest.raises(ValueError, match=name):
            call_forward(cell, args)


@pytest.mark.parametrize("cell", CELLS)
def test_weight_hh_first_dimension_not_gates_times_hidden(cell):
    g = ops.GATES[cell]
    for rows in {(g + 1) * H, g * H - 1, H if g > 1 else 2 * H, g * H + 1}:
        args = make_args(cell)
        args["weight_hh"] = np.zeros((rows, H))
        with pytest.raises(ValueError, match="weight_hh"):
            call_forward(cell, args)


@pytest.mark.parametrize("name", ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
@pytest.mark.parametrize("value", ["abc", None])
def test_parameter_not_an_array(name, value):
    args = make_args("lstm")
    args[name] = value
    with pytest.raises(TypeError, match=name):
        call_forward("lstm", args)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
@pytest.mark.parametrize("x_dtype", DTYPES)
def test_parameter_mixed_dtype(cell, name, x_dtype):
    other = np.float64 if x_dtype == np.float32 else np.float32
    args = make_args(cell, x_dtype)
    args[name] = args[name].astype(other)
    with pytest.raises(TypeError, match=name):
        call_forward(cell, args)


@pytest.mark.parametrize("name", ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
def test_parameter_int_dtype(name):
    args = make_args("rnn")
    args[name] = args[name].astype(np.int64)
    with pytest.raises(TypeError, match=name):
        call_forward("rnn", args)


# --------------------------------------------------------------------------------------------
# h0, c0
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("x_dtype", DTYPES)
def test_h0_c0_mixed_dtype(cell, x_dtype):
    other = np.float64 if x_dtype == np.float32 else np.float32
    args = make_args(cell, x_dtype)
    with pytest.raises(TypeError, match="h0"):
        call_forward(cell, args, h0=np.zeros((B, H), other))
    if cell == "lstm":
        with pytest.raises(TypeError, match="c0"):
            call_forward(cell, args, c0=np.zeros((B, H), other))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", [(B, H + 1), (B + 1, H), (H,), (1, B, H), (B * H,), ()])
def test_h0_c0_wrong_shape(cell, shape):
    args = make_args(cell)
    with pytest.raises(ValueError, match="h0"):
        call_forward(cell, args, h0=np.zeros(shape))
    if cell == "lstm":
        with pytest.raises(ValueError, match="c0"):
            call_forward(cell, args, c0=np.zeros(shape))


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_c0_only_for_lstm(cell):
    args = make_args(cell)
    with pytest.raises(ValueError, match="c0"):
        call_forward(cell, args, c0=np.zeros((B, H)))


def test_h0_c0_strings():
    args = make_args("lstm")
    with pytest.raises(TypeError, match="h0"):
        call_forward("lstm", args, h0="zeros")
    with pytest.raises(TypeError, match="c0"):
        call_forward("lstm", args, c0="zeros")


# --------------------------------------------------------------------------------------------
# lengths
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.complex64])
def test_lengths_not_integer(dtype):
    args = make_args("gru")
    with pytest.raises(TypeError, match="lengths"):
        call_forward("gru", args, lengths=np.full(B, 2).astype(dtype))


def test_lengths_string():
    with pytest.raises(TypeError, match="lengths"):
        call_forward("gru", make_args("gru"), lengths="abc")


@pytest.mark.parametrize("shape", [(B + 1,), (B - 1,), (B, 1), (1, B), ()])
def test_lengths_wrong_shape(shape):
    args = make_args("lstm")
    with pytest.raises(ValueError, match="lengths"):
        call_forward("lstm", args, lengths=np.full(shape, 2, dtype=np.int64))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bad", [0, T + 1, -1, -(2**40), 2**40])
@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_lengths_out_of_range(cell, bad, dtype):
    if np.iinfo(dtype).min > bad or np.iinfo(dtype).max < bad:
        dtype = np.int64
    args = make_args(cell)
    lengths = np.array([T, bad, 1], dtype=dtype)
    with pytest.raises(ValueError, match="lengths"):
        call_forward(cell, args, lengths=lengths)


def test_lengths_empty():
    # np.asarray([]) is float64: the error is the missing lengths, not their dtype.
    with pytest.raises(
        ValueError, match=rf"^lengths: expected one length per sequence, shape \({B},\)"
    ):
        call_forward("rnn", make_args("rnn"), lengths=[])


def test_lengths_empty_list_for_an_empty_batch():
    # One length per sequence of none: the same as an empty integer array.
    args = make_args("rnn", b=0)
    from_list = call_forward("rnn", args, lengths=[])
    expected = call_forward("rnn", args, lengths=np.zeros(0, dtype=np.int64))
    assert from_list.output.shape == expected.output.shape == (0, T, H)


def test_lengths_empty_array_of_another_dtype():
    # Only a list's emptiness stands for integers; an array says what it holds.
    with pytest.raises(TypeError, match=r"^lengths: expected an integer array, got dtype float64"):
        call_forward("rnn", make_args("rnn", b=0), lengths=np.zeros(0))


def test_lengths_unsigned_out_of_range():
    args = make_args("rnn")
    with pytest.raises(ValueError, match="lengths"):
        call_forward("rnn", args, lengths=np.array([1, 2, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError, match="lengths"):
        call_forward("rnn", args, lengths=np.array([1, 0, 2], dtype=np.uint8))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_integer_dtypes_agree(cell, reverse):
    args = make_args(cell)
    dout = d_out()
    values = [T, 1, 3]
    results = []
    for lengths in (
        np.array(values, dtype=np.int64),
        np.array(values, dtype=np.int32),
        np.array(values, dtype=np.int16),
        np.array(values, dtype=np.uint8),
        np.array(values, dtype=np.uint64),
        values,
    ):
        fwd = call_forward(cell, args, lengths=lengths, reverse=reverse, training=True)
        results.append((fwd, ops.backward(fwd.cache, dout)))
    fwd0, grads0 = results[0]
    for fwd, grads in results[1:]:
        assert np.array_equal(fwd.output, fwd0.output)
        assert np.array_equal(fwd.h_n, fwd0.h_n)
        if cell == "lstm":
            assert np.array_equal(fwd.c_n, fwd0.c_n)
        assert_grads_equal(grads, grads0)


# --------------------------------------------------------------------------------------------
# flags, threads
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reverse", "training", "return_sequences"])
@pytest.mark.parametrize("value", [1, 0, "yes", "", None, 1.0, np.int64(1), [True]])
def test_flags_not_bool(name, value):
    args = make_args("rnn")
    with pytest.raises(TypeError, match=name):
        call_forward("rnn", args, **{name: value})


@pytest.mark.parametrize("name", ["reverse", "training"])
def test_flags_numpy_bool_accepted(name):
    args = make_args("rnn")
    expected = call_forward("rnn", args, **{name: True})
    result = call_forward("rnn", args, **{name: np.bool_(True)})
    assert np.array_equal(result.output, expected.output)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_return_sequences_false_gives_only_the_final_state(cell, reverse):
    # A many-to-one model: no (B, T, H) output, the same h_n and c_n, and the same
    # gradients from them.
    lengths = np.array([T, 1, T - 2])  # B = 3: full, one step, padded
    args = make_args(cell)
    full = call_forward(cell, args, lengths=lengths, reverse=reverse, training=True)
    final = call_forward(
        cell, args, lengths=lengths, reverse=reverse, training=True, return_sequences=False
    )
    assert final.output is None and full.output.shape == (B, T, H)
    np.testing.assert_array_equal(final.h_n, full.h_n)
    if cell == "lstm":
        np.testing.assert_array_equal(final.c_n, full.c_n)
    d_h_n = d_out()[:, 0]
    assert_grads_equal(
        ops.backward(final.cache, None, d_h_n), ops.backward(full.cache, np.zeros((B, T, H)), d_h_n)
    )


@pytest.mark.parametrize("value", [1, 0, "no", None])
def test_input_grad_not_bool(value):
    with pytest.raises(TypeError, match="input_grad"):
        ops.backward(training_result("gru").cache, d_out(), input_grad=value)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_grad_false_skips_only_d_x(cell, dtype):
    full = ops.backward(training_result(cell, dtype).cache, d_out(dtype))
    without = ops.backward(training_result(cell, dtype).cache, d_out(dtype), input_grad=False)
    assert without.d_x is None and full.d_x.shape == (B, T, D)
    for name in GRAD_NAMES:
        if name != "d_x":
            x, y = getattr(full, name), getattr(without, name)
            assert (x is None and y is None) or np.array_equal(x, y), name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
def test_d_output_none_is_zeros(cell, dtype, reverse):
    # A many-to-one model's gradient reaches only h_n (and c_n).
    lengths = np.array([T, 1, T - 2])  # B = 3: full, one step, padded
    d_h_n = d_out(dtype)[:, 0]
    d_c_n = d_out(dtype, seed=2)[:, 0] if cell == "lstm" else None

    def run(d_output):
        result = training_result(cell, dtype, lengths=lengths, reverse=reverse)
        return ops.backward(result.cache, d_output, d_h_n, d_c_n)

    without = run(None)
    assert_grads_equal(without, run(np.zeros((B, T, H), dtype)))
    assert np.any(without.d_weight_hh != 0)  # the gradient from h_n did flow


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (np.int64(0), ValueError),
        (1.5, TypeError),
        (2.0, TypeError),
        ("2", TypeError),
        (True, TypeError),
        (np.float64(2.0), TypeError),
        ([2], TypeError),
    ],
)
def test_n_threads_invalid(value, error):
    args = make_args("lstm")
    with pytest.raises(error, match="n_threads"):
        call_forward("lstm", args, n_threads=value)
    fwd = call_forward("lstm", args, training=True)
    with pytest.raises(error, match="n_threads"):
        ops.backward(fwd.cache, d_out(), n_threads=value)
    ops.backward(fwd.cache, d_out())  # the failed call did not consume the cache


def test_n_threads_numpy_integer_accepted():
    args = make_args("gru")
    expected = call_forward("gru", args, n_threads=1)
    result = call_forward("gru", args, n_threads=np.int32(2))
    assert np.array_equal(result.output, expected.output)


def test_huge_n_threads_means_one_thread_per_task():
    args = make_args("rnn")
    expected = call_forward("rnn", args, n_threads=1)
    assert np.array_equal(call_forward("rnn", args, n_threads=2**40).output, expected.output)
    fwd = training_result("rnn")
    grads = ops.backward(fwd.cache, d_out(), n_threads=2**40)
    assert_grads_equal(grads, ops.backward(training_result("rnn").cache, d_out()))


def test_huge_bptt_steps_equals_full_bptt():
    grads = ops.backward(training_result("lstm").cache, d_out(), bptt_steps=2**70)
    assert_grads_equal(grads, ops.backward(training_result("lstm").cache, d_out()))


# --------------------------------------------------------------------------------------------
# leak_rate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, 0.0, -0.0, -0.3, -1, 1.0000001, 1.5, 2, np.nan, np.inf, -np.inf, np.float32(0.0),
     np.float64(1.5), np.int64(2)],
)  # fmt: skip
def test_leak_rate_out_of_range(value):
    args = make_args("rnn")
    with pytest.raises(ValueError, match="leak_rate"):
        call_forward("rnn", args, leak_rate=value)


@pytest.mark.parametrize(
    "value",
    [True, False, np.bool_(True), "0.5", "", None, [0.5], (0.5,), np.array(0.5), 0.5 + 0j, b"1"],
)
def test_leak_rate_not_a_real_number(value):
    args = make_args("rnn")
    with pytest.raises(TypeError, match="leak_rate"):
        call_forward("rnn", args, leak_rate=value)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("value", [0.5, 0.999, 1e-9, np.float64(0.3)])
def test_leak_rate_only_for_rnn(cell, value):
    args = make_args(cell)
    with pytest.raises(ValueError, match="leak_rate: only the rnn cell"):
        call_forward(cell, args, leak_rate=value)
    with pytest.raises(ValueError, match="leak_rate"):
        call_forward(cell, args, leak_rate=value + 1.5)  # out of range too: still leak_rate
    with pytest.raises(TypeError, match="leak_rate"):
        call_forward(cell, args, leak_rate=True)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("one", [1.0, 1, np.float32(1.0), np.int64(1)])
def test_leak_rate_one_accepted_for_every_cell(cell, one):
    args = make_args(cell)
    expected = call_forward(cell, args, training=True)
    result = call_forward(cell, args, training=True, leak_rate=one)
    assert np.array_equal(result.output, expected.output)
    assert np.array_equal(result.h_n, expected.h_n)
    assert_grads_equal(ops.backward(result.cache, d_out()), ops.backward(expected.cache, d_out()))


def test_leak_rate_real_types_agree():
    """Any real number is read as the float it equals: numpy scalars and Fractions too."""
    from fractions import Fraction

    args = make_args("rnn")
    expected = call_forward("rnn", args, leak_rate=0.25)
    for value in (np.float64(0.25), np.float32(0.25), Fraction(1, 4)):
        assert np.array_equal(call_forward("rnn", args, leak_rate=value).output, expected.output)
    assert not np.array_equal(call_forward("rnn", args).output, expected.output)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leak_rate_kept_for_backward(dtype):
    """backward uses the forward's leak rate: its gradients differ from the plain cell's, and
    the leak rate shows in the cache's repr."""
    args = make_args("rnn", dtype)
    leaky = call_forward("rnn", args, training=True, leak_rate=0.3)
    plain = call_forward("rnn", args, training=True)
    assert "leak_rate=0.3" in repr(leaky.cache) and "leak_rate" not in repr(plain.cache)
    g_leaky = ops.backward(leaky.cache, d_out(dtype))
    g_plain = ops.backward(plain.cache, d_out(dtype))
    for name in GRAD_NAMES:
        if getattr(g_plain, name) is not None:
            assert getattr(g_leaky, name).dtype == dtype, name
            assert not np.array_equal(getattr(g_leaky, name), getattr(g_plain, name)), name


# --------------------------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bptt_steps_invalid(value, error):
    fwd = training_result("gru")
    with pytest.raises(error, match="bptt_steps"):
        ops.backward(fwd.cache, d_out(), bptt_steps=value)
    for other in ("2", True, 2.0, np.float64(3.0)):
        with pytest.raises(TypeError, match="bptt_steps"):
            ops.backward(fwd.cache, d_out(), bptt_steps=other)
    ops.backward(fwd.cache, d_out(), bptt_steps=2)  # not consumed by the failed calls


@pytest.mark.parametrize("cache", [None, {}, "cache", (1, 2, 3), object()])
def test_backward_not_a_cache(cache):
    with pytest.raises(TypeError, match="cache"):
        ops.backward(cache, d_out())


def test_backward_forward_result_is_not_a_cache():
    fwd = training_result("rnn")
    with pytest.raises(TypeError, match="cache"):
        ops.backward(fwd, d_out())
    ops.backward(fwd.cache, d_out())


def test_no_cache_without_training():
    fwd = call_forward("lstm", make_args("lstm"))
    assert fwd.cache is None
    with pytest.raises(TypeError, match="cache"):
        ops.backward(fwd.cache, d_out())


@pytest.mark.parametrize("cell", CELLS)
def test_backward_twice(cell):
    fwd = training_result(cell)
    ops.backward(fwd.cache, d_out())
    with pytest.raises(ValueError, match="already"):
        ops.backward(fwd.cache, d_out())
    with pytest.raises(ValueError, match="already"):
        ops.backward(fwd.cache, d_out(), bptt_steps=1, n_threads=1)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps])
def test_a_cache_cannot_be_copied(duplicate):
    # A shallow copy shares the arrays the first backward overwrites: a second backward
    # through it returned wrong gradients instead of the "already used" error.
    fwd = training_result("gru")
    with pytest.raises(TypeError, match=r"^cache: cannot be copied or pickled"):
        duplicate(fwd.cache)
    expected = ops.backward(training_result("gru").cache, d_out())
    assert_grads_equal(ops.backward(fwd.cache, d_out()), expected)  # still usable once


def test_backward_concurrent_same_cache_runs_once():
    fwd = training_result("lstm")
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def run(k):
        barrier.wait()
        try:
            outcomes[k] = ops.backward(fwd.cache, d_out())
        except ValueError as error:
            outcomes[k] = error

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes if isinstance(o, ValueError)]
    grads = [o for o in outcomes if isinstance(o, ops.Gradients)]
    assert len(errors) == 1 and len(grads) == 1
    assert "already" in str(errors[0])
    assert_grads_equal(grads[0], ops.backward(training_result("lstm").cache, d_out()))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "shape", [(B, T, H + 1), (B, T + 1, H), (B + 1, T, H), (B, T), (B, T, H, 1), ()]
)
def test_backward_d_output_wrong_shape_keeps_cache(cell, shape):
    fwd = training_result(cell)
    with pytest.raises(ValueError, match="d_output"):
        ops.backward(fwd.cache, np.zeros(shape))
    grads = ops.backward(fwd.cache, d_out())
    assert_grads_equal(grads, ops.backward(training_result(cell).cache, d_out()))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("x_dtype", DTYPES)
def test_backward_mixed_dtypes_keep_cache(cell, x_dtype):
    other = np.float64 if x_dtype == np.float32 else np.float32
    fwd = training_result(cell, x_dtype)
    with pytest.raises(TypeError, match="d_output"):
        ops.backward(fwd.cache, d_out(other))
    with pytest.raises(TypeError, match="d_h_n"):
        ops.backward(fwd.cache, d_out(x_dtype), np.zeros((B, H), other))
    if cell == "lstm":
        with pytest.raises(TypeError, match="d_c_n"):
            ops.backward(fwd.cache, d_out(x_dtype), None, np.zeros((B, H), other))
    with pytest.raises(TypeError, match="d_output"):
        ops.backward(fwd.cache, d_out().astype(np.int64))
    with pytest.raises(TypeError, match="d_output"):
        ops.backward(fwd.cache, "d_output")
    grads = ops.backward(fwd.cache, d_out(x_dtype))
    assert grads.d_x.dtype == x_dtype


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", [(B, H + 1), (B + 1, H), (H,), (1, B, H)])
def test_backward_d_h_n_d_c_n_wrong_shape(cell, shape):
    fwd = training_result(cell)
    with pytest.raises(ValueError, match="d_h_n"):
        ops.backward(fwd.cache, d_out(), np.zeros(shape))
    if cell == "lstm":
        with pytest.raises(ValueError, match="d_c_n"):
            ops.backward(fwd.cache, d_out(), None, np.zeros(shape))
    ops.backward(fwd.cache, d_out())


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_d_c_n_only_for_lstm(cell):
    fwd = training_result(cell)
    with pytest.raises(ValueError, match="d_c_n"):
        ops.backward(fwd.cache, d_out(), None, np.zeros((B, H)))
    with pytest.raises(ValueError, match="d_c_n"):
        ops.backward(fwd.cache, d_out(), d_c_n=np.zeros((B, H)))
    ops.backward(fwd.cache, d_out())


def test_cache_repr():
    fwd = training_result("gru", reverse=True)
    assert "unused" in repr(fwd.cache)
    ops.backward(fwd.cache, d_out())
    assert "used" in repr(fwd.cache) and "unused" not in repr(fwd.cache)


# --------------------------------------------------------------------------------------------
# inputs are never modified; in-place updates after forward do not change backward
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_inputs_not_modified(cell, dtype, reverse):
    rng = np.random.default_rng(5)
    args = make_args(cell, dtype)
    extra = dict(h0=rng.normal(size=(B, H)).astype(dtype), lengths=np.array([2, T, 1]))
    if cell == "lstm":
        extra["c0"] = rng.normal(size=(B, H)).astype(dtype)
    d_output = d_out(dtype)
    d_h_n = rng.normal(size=(B, H)).astype(dtype)
    d_c_n = rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None
    everything = dict(args, **extra, d_output=d_output, d_h_n=d_h_n)
    if d_c_n is not None:
        everything["d_c_n"] = d_c_n
    before = {k: v.copy() for k, v in everything.items()}
    fwd = call_forward(cell, args, **extra, reverse=reverse, training=True)
    ops.backward(fwd.cache, d_output, d_h_n, d_c_n, bptt_steps=2)
    for key, value in everything.items():
        assert value.dtype == before[key].dtype, key
        assert np.array_equal(value, before[key]), key


@pytest.mark.parametrize("cell", CELLS)
def test_in_place_update_after_forward_does_not_change_backward(cell):
    args = make_args(cell)
    lengths = np.array([2, T, 1])
    expected = ops.backward(call_forward(cell, args, lengths=lengths, training=True).cache, d_out())
    fwd = call_forward(cell, args, lengths=lengths, training=True)
    for value in (*args.values(), lengths):
        value[...] = 1
    grads = ops.backward(fwd.cache, d_out())
    assert_grads_equal(grads, expected)


@pytest.mark.parametrize("cell", CELLS)
def test_outputs_do_not_alias_inputs(cell):
    args = make_args(cell)
    h0 = np.zeros((B, H))
    fwd = call_forward(cell, args, h0=h0, training=True)
    grads = ops.backward(fwd.cache, d_out())
    outputs = [fwd.output, fwd.h_n, fwd.c_n, *(getattr(grads, n) for n in GRAD_NAMES)]
    for out in outputs:
        if out is None:
            continue
        assert out.flags.writeable
        for value in (*args.values(), h0):
            assert not np.shares_memory(out, value)


# --------------------------------------------------------------------------------------------
# non-contiguous inputs
# --------------------------------------------------------------------------------------------


def fortran(a):
    return np.asfortranarray(a)


def transposed_view(a):
    return a.T.copy().T


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_non_contiguous_inputs(cell, dtype, reverse):
    rng = np.random.default_rng(11)
    args = make_args(cell, dtype)
    h0 = rng.normal(size=(B, H)).astype(dtype)
    c0 = rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None
    lengths = np.array([2, T, 3])
    d_output = d_out(dtype)
    d_h_n = rng.normal(size=(B, H)).astype(dtype)
    d_c_n = rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None

    fwd = call_forward(cell, args, h0=h0, c0=c0, lengths=lengths, reverse=reverse, training=True)
    grads = ops.backward(fwd.cache, d_output, d_h_n, d_c_n, bptt_steps=3)

    wide_x = np.zeros((B, 2 * T, D), dtype)
    wide_x[:, ::2] = args["x"]
    wide_bias = np.zeros((args["bias_hh"].size, 2), dtype)
    wide_bias[:, 0] = args["bias_hh"]
    wide_lengths = np.zeros(2 * B, np.int64)
    wide_lengths[::2] = lengths
    wide_d_output = np.zeros((B, T, 2 * H), dtype)
    wide_d_output[:, :, ::2] = d_output
    views = dict(
        x=wide_x[:, ::2],
        weight_ih=fortran(args["weight_ih"]),
        weight_hh=transposed_view(args["weight_hh"]),
        bias_ih=np.repeat(args["bias_ih"], 2)[::2],
        bias_hh=wide_bias[:, 0],
    )
    assert not views["x"].flags.c_contiguous
    assert not views["weight_ih"].flags.c_contiguous
    assert not views["weight_hh"].flags.c_contiguous
    assert not views["bias_hh"].flags.c_contiguous
    fwd_v = call_forward(
        cell,
        views,
        h0=fortran(h0),
        c0=None if c0 is None else transposed_view(c0),
        lengths=wide_lengths[::2],
        reverse=reverse,
        training=True,
    )
    grads_v = ops.backward(
        fwd_v.cache,
        wide_d_output[:, :, ::2],
        fortran(d_h_n),
        None if d_c_n is None else transposed_view(d_c_n),
        bptt_steps=3,
    )
    assert np.array_equal(fwd_v.output, fwd.output)
    assert np.array_equal(fwd_v.h_n, fwd.h_n)
    if cell == "lstm":
        assert np.array_equal(fwd_v.c_n, fwd.c_n)
    assert_grads_equal(grads_v, grads)


def test_negative_stride_x_matches_copy():
    args = make_args("gru")
    flipped = dict(args, x=args["x"][::-1, ::-1, ::-1])
    copied = dict(args, x=flipped["x"].copy())
    a = call_forward("gru", flipped, lengths=np.array([1, 2, 3]))
    b = call_forward("gru", copied, lengths=np.array([1, 2, 3]))
    assert np.array_equal(a.output, b.output) and np.array_equal(a.h_n, b.h_n)


# --------------------------------------------------------------------------------------------
# rnnkit._core directly: never a crash
# --------------------------------------------------------------------------------------------


def core_forward_args(cell, dtype=np.float64, training=True):
    args = make_args(cell, dtype)
    rng = np.random.default_rng(3)
    return dict(
        cell=cell,
        activation="tanh",
        reverse=False,
        **args,
        h0=rng.normal(size=(B, H)).astype(dtype),
        c0=rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None,
        lengths=np.array([T, 1, 2], dtype=np.int64),
        training=training,
        n_threads=2,
    )


def core_forward(kw):
    return _core.forward(**kw)


def core_backward_args(cell, dtype=np.float64):
    fkw = core_forward_args(cell, dtype)
    _, _, _, (gates, aux, h_prev, c_prev) = core_forward(fkw)
    rng = np.random.default_rng(4)
    return dict(
        cell=cell,
        activation="tanh",
        reverse=False,
        x=fkw["x"],
        weight_ih=fkw["weight_ih"],
        weight_hh=fkw["weight_hh"],
        lengths=fkw["lengths"],
        gates=gates,
        aux=aux,
        h_prev=h_prev,
        c_prev=c_prev,
        d_output=rng.normal(size=(B, T, H)).astype(dtype),
        d_h_n=rng.normal(size=(B, H)).astype(dtype),
        d_c_n=rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None,
        bptt_steps=0,
        n_threads=2,
    )


def core_backward(kw):
    return _core.backward(**kw)


def core_forward_cases(cell, dtype):
    g = ops.GATES[cell]
    other = np.float32 if dtype == np.float64 else np.float64
    base = core_forward_args(cell, dtype)
    cases = []

    def case(name, error, **changes):
        cases.append((name, error, changes))

    case("cell", ValueError, cell="lstmx")
    case("activation", ValueError, activation="sigmoid")
    case("x", ValueError, x=np.zeros((B, T), dtype))
    case("x", ValueError, x=np.zeros((B, 0, D), dtype))
    case("x", TypeError, x=np.zeros((B, T, D), np.int64))
    case("x", TypeError, x=np.zeros((B, T, D), np.float16))
    case("x", ValueError, x=np.zeros((B, 2 * T, D), dtype)[:, ::2])
    case("weight_hh", ValueError, weight_hh=np.zeros(g * H, dtype))
    case("weight_hh", ValueError, weight_hh=np.zeros((g * H + 1, H), dtype))
    case("weight_hh", ValueError, weight_hh=np.zeros((g * H, 0), dtype))
    case("weight_hh", ValueError, weight_hh=fortran(base["weight_hh"]))
    case("weight_hh", TypeError, weight_hh=base["weight_hh"].astype(other))
    case("weight_ih", ValueError, weight_ih=np.zeros((g * H, D + 1), dtype))
    case("weight_ih", ValueError, weight_ih=np.zeros((g * H - 1, D), dtype))
    case("weight_ih", ValueError, weight_ih=np.zeros((g * H, D, 1), dtype))
    case("weight_ih", ValueError, weight_ih=fortran(base["weight_ih"]))
    case("weight_ih", TypeError, weight_ih=base["weight_ih"].astype(other))
    case("bias_ih", ValueError, bias_ih=np.zeros(g * H + 1, dtype))
    case("bias_ih", ValueError, bias_ih=np.zeros((1, g * H), dtype))
    case("bias_ih", ValueError, bias_ih=np.zeros(2 * g * H, dtype)[::2])
    case("bias_ih", TypeError, bias_ih=base["bias_ih"].astype(other))
    case("bias_hh", ValueError, bias_hh=np.zeros(g * H - 1, dtype))
    case("bias_hh", TypeError, bias_hh=base["bias_hh"].astype(np.int32))
    case("h0", ValueError, h0=np.zeros((B, H + 1), dtype))
    case("h0", ValueError, h0=np.zeros((B + 1, H), dtype))
    case("h0", ValueError, h0=fortran(np.zeros((B, H), dtype)))
    case("h0", TypeError, h0=np.zeros((B, H), other))
    if cell == "lstm":
        case("c0", ValueError, c0=np.zeros((B, H - 1), dtype))
        case("c0", ValueError, c0=np.zeros((H, B), dtype).T)
        case("c0", TypeError, c0=np.zeros((B, H), other))
    else:
        case("c0", ValueError, c0=np.zeros((B, H), dtype))
    case("lengths", ValueError, lengths=np.array([T, 0, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([T + 1, 1, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1, -1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1, -(2**62)], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1, 2**62], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1, 1, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 9, 1, 9, 1, 9], np.int64)[::2])
    case("lengths", TypeError, lengths=np.array([1, 1, 1], np.int32))
    case("lengths", TypeError, lengths=np.array([1.0, 1.0, 1.0]))
    # Lists: converted, their temporary arrays were freed before the kernels read them.
    case("lengths: expected a numpy array, got list", TypeError, lengths=[T, 1, 2])
    case("h0: expected a numpy array, got list", TypeError, h0=base["h0"].tolist())
    if cell == "lstm":
        case("c0: expected a numpy array, got tuple", TypeError, c0=tuple(base["c0"].tolist()))
    case("n_threads", ValueError, n_threads=0)
    case("n_threads", ValueError, n_threads=-4)
    add_leak_rate_cases(case, cell)
    return cases


def add_leak_rate_cases(case, cell):
    """_core checks the leak rate as ops does: in (0, 1], and 1 for lstm and gru."""
    for rate in (0.0, -0.5, 1.5, float("nan"), float("inf")):
        case("leak_rate: expected a number in", ValueError, leak_rate=rate)
    if cell != "rnn":
        case("leak_rate: only the rnn cell", ValueError, leak_rate=0.5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_core_forward_rejects_bad_arguments(cell, dtype):
    good = core_forward_args(cell, dtype)
    reference = core_forward(good)
    for name, error, changes in core_forward_cases(cell, dtype):
        for training in (False, True):
            kw = dict(good, **changes, training=training)
            with pytest.raises(error, match=name):
                core_forward(kw)
    # the module still works after all that
    again = core_forward(good)
    for a, b in zip(reference[:2], again[:2]):
        assert np.array_equal(a, b)


def test_core_forward_wrong_python_types():
    good = core_forward_args("rnn")
    for changes in (
        dict(x=[[[1.0]]]),
        dict(x="x"),
        dict(weight_ih=None),
        dict(reverse="yes"),
        dict(leak_rate="0.5"),
        dict(leak_rate=None),
        dict(n_threads="2"),
        dict(n_threads=2**40),
    ):
        # _core is internal: pybind11's own conversion refuses these (rnnkit.ops checks
        # them first and names the argument; see the tests of ops above).
        with pytest.raises(TypeError, match="incompatible function arguments"):
            core_forward(dict(good, **changes))


def core_backward_cases(cell, dtype):
    g = ops.GATES[cell]
    other = np.float32 if dtype == np.float64 else np.float64
    base = core_backward_args(cell, dtype)
    cases = []

    def case(name, error, **changes):
        cases.append((name, error, changes))

    case("cell", ValueError, cell="cell")
    case("activation", ValueError, activation="")
    case("x", ValueError, x=np.zeros((B, T, D, 1), dtype))
    case("x", TypeError, x=base["x"].astype(np.int32))
    case("x", ValueError, x=np.zeros((B, T, 2 * D), dtype)[:, :, ::2])
    case("x", ValueError, x=np.zeros((B + 1, T, D), dtype))
    case("weight_ih", ValueError, weight_ih=np.zeros((g * H, D + 1), dtype))
    case("weight_ih", TypeError, weight_ih=base["weight_ih"].astype(other))
    case("weight_ih", ValueError, weight_ih=fortran(base["weight_ih"]))
    case("weight_hh", ValueError, weight_hh=np.zeros((g * H + 1, H), dtype))
    case("weight_hh", ValueError, weight_hh=np.zeros((g * H,), dtype))
    case("weight_hh", TypeError, weight_hh=base["weight_hh"].astype(other))
    case("lengths", ValueError, lengths=np.array([0, 1, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, T + 1, 1], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1, -5], np.int64))
    case("lengths", ValueError, lengths=np.array([1, 1], np.int64))
    case("lengths", TypeError, lengths=np.array([1, 1, 1], np.uint32))
    case("gates", ValueError, gates=np.zeros((B, T, g * H + 1), dtype))
    case("gates", ValueError, gates=np.zeros((B, T), dtype))
    case("gates", ValueError, gates=np.zeros((B, 2 * T, g * H), dtype)[:, ::2])
    case("gates", TypeError, gates=base["gates"].astype(other))
    read_only = base["gates"].copy()
    read_only.flags.writeable = False  # the backward writes the gradients over it
    case("gates.*writeable", ValueError, gates=read_only)
    case("h_prev", ValueError, h_prev=np.zeros((B, T, H + 1), dtype))
    case("h_prev", ValueError, h_prev=np.zeros((B, T - 1, H), dtype))
    case("h_prev", TypeError, h_prev=base["h_prev"].astype(other))
    case("h_prev", ValueError, h_prev=np.zeros(0, dtype))
    if cell != "rnn":
        case("aux", ValueError, aux=np.zeros((B, T, H - 1), dtype))
        case("aux", ValueError, aux=np.zeros(0, dtype))
        case("aux", TypeError, aux=base["aux"].astype(other))
    if cell == "gru":  # its recurrent n-gate gradients are written over aux
        read_only = base["aux"].copy()
        read_only.flags.writeable = False
        case("aux.*writeable", ValueError, aux=read_only)
    if cell == "lstm":
        case("c_prev", ValueError, c_prev=np.zeros((B, T), dtype))
        case("c_prev", ValueError, c_prev=np.zeros(0, dtype))
        case("c_prev", TypeError, c_prev=base["c_prev"].astype(other))
        case("d_c_n", ValueError, d_c_n=np.zeros((B, H + 1), dtype))
        case("d_c_n", TypeError, d_c_n=np.zeros((B, H), other))
    else:
        case("d_c_n", ValueError, d_c_n=np.zeros((B, H), dtype))
    case("d_output", ValueError, d_output=np.zeros((B, T, H + 1), dtype))
    case("d_output", ValueError, d_output=np.zeros((B, T), dtype))
    case("d_output", ValueError, d_output=fortran(base["d_output"]))
    case("d_output", TypeError, d_output=base["d_output"].astype(other))
    case("d_h_n", ValueError, d_h_n=np.zeros((B + 1, H), dtype))
    case("d_h_n", TypeError, d_h_n=np.zeros((B, H), other))
    for name in ("lengths", "d_output", "d_h_n") + (("d_c_n",) if cell == "lstm" else ()):
        case(f"{name}: expected a numpy array, got list", TypeError, **{name: base[name].tolist()})
    case("bptt_steps", ValueError, bptt_steps=-1)
    case("n_threads", ValueError, n_threads=0)
    add_leak_rate_cases(case, cell)
    return cases


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_core_backward_rejects_bad_arguments(cell, dtype):
    good = core_backward_args(cell, dtype)
    pristine = {k: v.copy() for k, v in good.items() if isinstance(v, np.ndarray)}

    def fresh_cache():  # a good call consumes the cache: its gates become the gradients
        return dict(good, gates=good["gates"].copy(), aux=good["aux"].copy())  # gru: aux too

    reference = core_backward(fresh_cache())
    for name, error, changes in core_backward_cases(cell, dtype):
        with pytest.raises(error, match=name):
            core_backward(dict(good, **changes))
    for key, value in pristine.items():  # nothing was written before the error
        assert np.array_equal(good[key], value, equal_nan=True), key
    again = core_backward(fresh_cache())
    for a, b in zip(reference, again):
        if a is None:
            assert b is None
        else:
            assert np.array_equal(a, b)


def test_core_gemm_rejects_bad_arguments():
    a = np.ones((3, 4))
    b = np.ones((4, 5))
    with pytest.raises(ValueError, match="^a and b: inner dimensions differ"):
        _core.gemm(a, np.ones((5, 4)), "generic", 1)
    with pytest.raises(ValueError, match="^a: expected a 2-D array"):
        _core.gemm(np.ones((3, 4, 1)), b, "generic", 1)
    with pytest.raises(ValueError, match="^b: expected a 2-D array"):
        _core.gemm(a, np.ones(4), "generic", 1)
    with pytest.raises(TypeError, match="^a and b: expected the same dtype"):
        _core.gemm(a, b.astype(np.float32), "generic", 1)
    with pytest.raises(TypeError, match="^a and b: expected the same dtype"):
        _core.gemm(a.astype(np.float32), b, "generic", 1)
    with pytest.raises(TypeError, match="^a: expected dtype float32 or float64"):
        _core.gemm(a.astype(np.int64), b.astype(np.int64), "generic", 1)
    with pytest.raises(ValueError, match="isa"):
        _core.gemm(a, b, "sse9", 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.gemm(a, b, "generic", 0)
    with pytest.raises(ValueError, match="isa"):
        _core.isa_supported("neon9")
    for isa in ("avx512", "avx2", "neon"):
        if not _core.isa_supported(isa):
            with pytest.raises(ValueError, match="isa"):
                _core.gemm(a, b, isa, 1)


def test_core_gemm_empty_and_strided():
    assert np.array_equal(_core.gemm(np.ones((3, 0)), np.ones((0, 4))), np.zeros((3, 4)))
    assert _core.gemm(np.ones((0, 3)), np.ones((3, 4))).shape == (0, 4)
    assert _core.gemm(np.ones((2, 3)), np.ones((3, 0))).shape == (2, 0)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(9, 14))
    b = rng.normal(size=(14, 11))
    expected = _core.gemm(a, b, "generic", 1)
    for va, vb in (
        (a[::-1][::-1], fortran(b)),
        (fortran(a), b.T.copy().T),
        (np.repeat(a, 2, axis=1)[:, ::2], np.repeat(b, 3, axis=0)[::3]),
    ):
        assert np.array_equal(_core.gemm(va, vb, "generic", 2), expected)
    broadcast = np.broadcast_to(np.arange(3.0), (4, 3))
    assert np.array_equal(_core.gemm(broadcast, np.ones((3, 2))), np.full((4, 2), 3.0))


def test_core_rejects_absurd_thread_counts():
    a = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="n_threads"):
        _core.gemm(a, a, "best", 100_000)
