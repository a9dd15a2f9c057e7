"""rnnkit.ops.step: one step from a given state equals the full forward, step by step."""

import numpy as np
import pytest

from _problems import CELL_ACTIVATION_LEAKS, make_problem
from rnnkit import ops

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@pytest.mark.parametrize(("cell", "activation", "leak_rate"), CELL_ACTIVATION_LEAKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("batch", "inputs", "hidden"), [(1, 1, 1), (7, 3, 13), (13, 7, 7)])
@pytest.mark.parametrize("start_state", [False, True])
def test_step_by_step_equals_forward_bitwise(
    cell, activation, leak_rate, dtype, batch, inputs, hidden, start_state
):
    p = make_problem(cell, batch, 6, inputs, hidden, dtype=dtype, h0=start_state)
    weights = [p[name] for name in WEIGHTS]
    full = ops.forward(
        cell, p["x"], *weights, h0=p["h0"], c0=p["c0"], activation=activation,
        leak_rate=leak_rate,
    )  # fmt: skip
    h, c = p["h0"], p["c0"]
    for t in range(p["x"].shape[1]):
        h, c = ops.step(
            cell, p["x"][:, t], *weights, h, c, activation=activation, leak_rate=leak_rate
        )
        np.testing.assert_array_equal(h, full.output[:, t])
        assert h.dtype == dtype
    np.testing.assert_array_equal(h, full.h_n)
    if cell == "lstm":
        np.testing.assert_array_equal(c, full.c_n)
    else:
        assert c is None


def test_step_does_not_modify_its_state():
    p = make_problem("lstm", 3, 1, 2, 5)
    h0, c0 = p["h0"].copy(), p["c0"].copy()
    ops.step("lstm", p["x"][:, 0], *(p[n] for n in WEIGHTS), p["h0"], p["c0"])
    np.testing.assert_array_equal(p["h0"], h0)
    np.testing.assert_array_equal(p["c0"], c0)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(x_t=np.zeros((3, 1, 2))), ValueError, r"x_t: expected a 2-D array"),
        (dict(x_t=np.zeros((3, 2), np.int64)), TypeError, r"x_t: expected dtype float32"),
        (dict(x_t="abc"), TypeError, r"x_t: expected a float32 or float64 array"),
        (dict(h=np.zeros((3, 4))), ValueError, r"h: expected shape \(3, 5\)"),
        (
            dict(h=np.zeros((3, 5), np.float32)),
            TypeError,
            r"^h: expected dtype float64 \(the input's\), got float32",
        ),
        (
            dict(x_t=np.zeros((3, 0))),
            ValueError,
            r"^x_t: expected at least 1 input, got shape \(3, 0\)",
        ),
        (dict(c=np.zeros((3, 5))), ValueError, r"c: only the lstm cell"),
        (dict(cell="cnn"), ValueError, r"cell: expected one of"),
        (dict(leak_rate=0.0), ValueError, r"leak_rate"),
    ],
)
def test_step_errors_name_the_argument(change, error, match):
    p = make_problem("gru", 3, 1, 2, 5)
    args = dict(cell="gru", x_t=p["x"][:, 0], h=p["h0"], c=None, leak_rate=1.0)
    args.update(change)
    with pytest.raises(error, match=match):
        ops.step(
            args["cell"], args["x_t"], *(p[n] for n in WEIGHTS), args["h"], args["c"],
            leak_rate=args["leak_rate"],
        )  # fmt: skip
