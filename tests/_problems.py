"""Random problems for the kernel tests: one place that builds inputs for rnnkit.ops."""

import numpy as np

from rnnkit import _core, ops

# The instruction sets this build and CPU run, widest first (ISAS[0] is "best"; the
# portable "generic" is always there).
ISAS = [isa for isa in ("avx512", "avx2", "neon", "generic") if _core.isa_supported(isa)]
# Every (cell, activation) pair the kernels accept.
CELL_ACTIVATIONS = [(cell, act) for cell, acts in ops.ACTIVATIONS.items() for act in acts]
# Fields of ops.Gradients.
GRADIENTS = ("d_x", "d_h0", "d_c0", "d_weight_ih", "d_weight_hh", "d_bias_ih", "d_bias_hh")


def make_problem(
    cell, batch, steps, inputs, hidden, *, dtype=np.float64, seed=0, h0=True, lengths=False
):
    """Inputs of ops.forward as a dict, with weights scaled so that no gate saturates."""
    rng = np.random.default_rng(seed)
    gh = ops.GATES[cell] * hidden

    def rand(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    problem = {
        "x": rand(batch, steps, inputs),
        "weight_ih": rand(gh, inputs, scale=0.6 / np.sqrt(inputs)),
        "weight_hh": rand(gh, hidden, scale=0.6 / np.sqrt(hidden)),
        "bias_ih": rand(gh, scale=0.1),
        "bias_hh": rand(gh, scale=0.1),
        "h0": rand(batch, hidden, scale=0.5) if h0 else None,
        "c0": rand(batch, hidden, scale=0.5) if h0 and cell == "lstm" else None,
        "lengths": rng.integers(1, steps + 1, batch) if lengths else None,
    }
    return problem


def make_output_grads(cell, batch, steps, hidden, *, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    d_output = rng.standard_normal((batch, steps, hidden)).astype(dtype)
    d_h_n = rng.standard_normal((batch, hidden)).astype(dtype)
    d_c_n = rng.standard_normal((batch, hidden)).astype(dtype) if cell == "lstm" else None
    return d_output, d_h_n, d_c_n


# The array arguments of ops.forward (and reference.forward), by name.
FORWARD_INPUTS = ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0", "c0", "lengths")


def forward_inputs(case):
    """The entries of `case` that ops.forward takes, ready for ``**``."""
    return {name: case[name] for name in FORWARD_INPUTS if name in case}


# Leak rates the kernel tests run: 1 is the plain cell (every cell), 0.3 a leaky rnn.
LEAK_RATES = (1.0, 0.3)
# Every (cell, activation, leak_rate) the kernels accept, among LEAK_RATES.
CELL_ACTIVATION_LEAKS = [
    (cell, act, leak)
    for cell, act in CELL_ACTIVATIONS
    for leak in LEAK_RATES
    if cell == "rnn" or leak == 1.0
]


def kernel_run(
    cell,
    problem,
    grads,
    *,
    reverse=False,
    activation="tanh",
    bptt_steps=None,
    n_threads=None,
    leak_rate=None,
):
    """(forward result, gradients) of rnnkit.ops for one problem; leak_rate None: not passed."""
    options = {} if leak_rate is None else {"leak_rate": leak_rate}
    res = ops.forward(
        cell,
        **forward_inputs(problem),
        reverse=reverse,
        activation=activation,
        training=True,
        n_threads=n_threads,
        **options,
    )
    return res, ops.backward(res.cache, *grads, bptt_steps=bptt_steps, n_threads=n_threads)
