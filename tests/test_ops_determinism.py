"""Bitwise reproducibility of rnnkit.ops and rnnkit._core.gemm.

* forward outputs and every backward gradient are the same bits for any n_threads,
* a row's forward result does not depend on the rest of its batch,
* concurrent calls from Python threads give the same bits as serial calls,
* a smaller OpenMP team than asked for (OMP_THREAD_LIMIT) gives the same bits,
* the GEMM and the cell math give the same bits for every ISA and thread count,
* all of that for the leaky rnn (leak_rate < 1) too, and leak_rate=1 is the default's bits.
"""

import json
import multiprocessing
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import reference
from _problems import CELL_ACTIVATION_LEAKS as CELL_ACT_LEAKS
from _problems import CELL_ACTIVATIONS as CELL_ACTS
from _problems import GRADIENTS as GRAD_NAMES
from _problems import ISAS, forward_inputs, kernel_run
from _threads import threads_started
from rnnkit import _core, ops

DTYPES = [np.float32, np.float64]
# (B, T, D, H). 13 and 64 rows give every thread its own run of rows (no barrier between
# steps), runs that need not start at a multiple of the kernel's panel of rows (8 with
# AVX-512: 13 = 6 + 7 on two threads, 64 = 21 + 21 + 22 on three); 40 rows and batch 1
# share each step's tiles between the threads. The kernels start a thread per 2^17
# multiply-adds of a step (common/parallel.hpp): B * G*H * H of 40 x 90 and 64 x 64 is
# enough for two or more threads with every cell.
SHAPES = [(13, 7, 5, 37), (1, 3, 1, 1), (40, 5, 9, 90), (64, 6, 3, 64)]  # (B, T, D, H)


def make_case(cell, dtype, B, T, D, H, seed=0, var_lengths=False):
    rng = np.random.default_rng(seed)
    G = ops.GATES[cell]
    scale = 1.0 / np.sqrt(H)
    case = dict(
        x=rng.normal(size=(B, T, D)).astype(dtype),
        weight_ih=rng.uniform(-scale, scale, (G * H, D)).astype(dtype),
        weight_hh=rng.uniform(-scale, scale, (G * H, H)).astype(dtype),
        bias_ih=rng.uniform(-scale, scale, G * H).astype(dtype),
        bias_hh=rng.uniform(-scale, scale, G * H).astype(dtype),
        h0=rng.normal(0.0, 0.5, (B, H)).astype(dtype),
        c0=rng.normal(0.0, 0.5, (B, H)).astype(dtype) if cell == "lstm" else None,
        lengths=None,
        d_output=rng.normal(size=(B, T, H)).astype(dtype),
        d_h_n=rng.normal(size=(B, H)).astype(dtype),
        d_c_n=rng.normal(size=(B, H)).astype(dtype) if cell == "lstm" else None,
    )
    if var_lengths:
        lengths = rng.integers(1, T + 1, B)
        lengths[0] = T
        lengths[-1] = 1
        case["lengths"] = lengths
    return case


def run(
    cell,
    activation,
    case,
    *,
    reverse,
    n_threads,
    bptt_steps=None,
    backward=True,
    leak_rate=None,
):
    """(forward result, gradients or None); leak_rate None: not passed (the default)."""
    if not backward:
        options = {} if leak_rate is None else {"leak_rate": leak_rate}
        fwd = ops.forward(
            cell,
            **forward_inputs(case),
            reverse=reverse,
            activation=activation,
            n_threads=n_threads,
            **options,
        )
        return fwd, None
    grads = (case["d_output"], case["d_h_n"], case["d_c_n"])
    return kernel_run(
        cell,
        case,
        grads,
        reverse=reverse,
        activation=activation,
        bptt_steps=bptt_steps,
        n_threads=n_threads,
        leak_rate=leak_rate,
    )


def assert_bitwise(a, b, what=""):
    fa, ga = a
    fb, gb = b
    pairs = [(name, getattr(fa, name), getattr(fb, name)) for name in ("output", "h_n", "c_n")]
    if ga is None:
        assert gb is None
    else:
        pairs += [(name, getattr(ga, name), getattr(gb, name)) for name in GRAD_NAMES]
    for name, x, y in pairs:
        if x is None:
            assert y is None, name
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what} {name}"
        assert np.array_equal(x, y), f"{what} {name} differs"


# --------------------------------------------------------------------------------------------
# thread count
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("cell", sorted(ops.GATES))
def test_thread_count_reaches_the_kernels(cell, n_threads):
    # The comparisons below mean something only if the larger SHAPES do run on several
    # threads: n_threads=2 starts OpenMP workers on the 64 x 64 shape, n_threads=1 none
    # (and a build without OpenMP none for any count).
    B, T, D, H = SHAPES[-1]
    rows = ops.GATES[cell] * H
    setup = (
        "import numpy as np; from rnnkit import ops; "
        f"x = np.full(({B}, {T}, {D}), 0.5, np.float32); "
        f"w_ih = np.full(({rows}, {D}), 0.01, np.float32); "
        f"w_hh = np.full(({rows}, {H}), 0.01, np.float32); b = np.zeros({rows}, np.float32)"
    )
    call = f"ops.forward({cell!r}, x, w_ih, w_hh, b, b, training=True, n_threads={n_threads})"
    started = threads_started(setup, call)
    assert started > 0 if n_threads > 1 and ops.kernel_info()["openmp"] else started == 0


@pytest.mark.parametrize("cell, activation, leak_rate", CELL_ACT_LEAKS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(
    "var_lengths, reverse", [(False, False), (True, False), (False, True), (True, True)]
)
def test_thread_count_does_not_change_bits(
    cell, activation, leak_rate, dtype, shape, var_lengths, reverse
):
    case = make_case(cell, dtype, *shape, var_lengths=var_lengths)
    options = dict(reverse=reverse, leak_rate=leak_rate)
    for bptt_steps in (None, 2):
        results = [
            run(cell, activation, case, n_threads=n, bptt_steps=bptt_steps, **options)
            for n in (1, 2, 3)
        ]
        for n, result in zip((2, 3), results[1:]):
            assert_bitwise(results[0], result, f"n_threads={n} bptt_steps={bptt_steps}")
    # inference (training=False) gives the same forward bits as training
    fwd, _ = run(cell, activation, case, n_threads=2, backward=False, **options)
    assert_bitwise((fwd, None), (results[0][0], None), "training=False")


@pytest.mark.parametrize("cell", sorted(ops.GATES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(40, 5, 9, 90), (1, 6, 4, 300)], ids=["40x5x9x90", "1x6x4x300"])
def test_idle_threads_change_no_bits(cell, dtype, shape):
    """Every region asks OpenMP for all n_threads and only some of them work (the rest
    wait at its end): with 16 threads, the time loops of these shapes share each step's
    tiles between 2 to 10 workers, which meet at their own barrier after every step."""
    case = make_case(cell, dtype, *shape, seed=5, var_lengths=True)
    for reverse in (False, True):
        one, many = (run(cell, "tanh", case, reverse=reverse, n_threads=n) for n in (1, 16))
        assert_bitwise(one, many, f"n_threads=16 reverse={reverse}")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gates_side_by_side_or_per_gate_give_the_same_bits(cell, dtype):
    """A step's tile holds a row's gates side by side (columns g * H + j) where that saves
    padding and loses no thread, else a tile per gate and block of units. 8 rows (one row
    panel) of 37 units with 300 inputs: one thread takes them side by side, two a tile per
    gate each (they would have only one row panel to share); the bits must agree."""
    case = make_case(cell, dtype, 8, 4, 300, 37, seed=12)
    one, two = (run(cell, "tanh", case, reverse=False, n_threads=n) for n in (1, 2))
    assert_bitwise(one, two, "side by side (1 thread) against per gate (2 threads)")


@pytest.mark.parametrize("cell, activation, leak_rate", CELL_ACT_LEAKS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_default_thread_count_and_sanity(cell, activation, leak_rate, dtype):
    """n_threads=None gives the same bits; the values agree with the numpy reference."""
    case = make_case(cell, dtype, 13, 7, 5, 37, seed=3, var_lengths=True)
    options = dict(reverse=True, bptt_steps=3, leak_rate=leak_rate)
    expected = run(cell, activation, case, n_threads=1, **options)
    result = run(cell, activation, case, n_threads=None, **options)
    assert_bitwise(expected, result, "n_threads=None")

    ref_out, ref_h, ref_c, cache = reference.forward(
        cell, **forward_inputs(case), reverse=True, activation=activation, leak_rate=leak_rate
    )
    ref_grads = reference.backward(
        cache, case["d_output"], case["d_h_n"], case["d_c_n"], bptt_steps=3
    )
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    fwd, grads = result
    np.testing.assert_allclose(fwd.output, ref_out, **tol)
    np.testing.assert_allclose(fwd.h_n, ref_h, **tol)
    if cell == "lstm":
        np.testing.assert_allclose(fwd.c_n, ref_c, **tol)
    for name in GRAD_NAMES:
        if ref_grads[name] is None:
            assert getattr(grads, name) is None
        else:
            np.testing.assert_allclose(getattr(grads, name), ref_grads[name], **tol, err_msg=name)


@pytest.mark.parametrize("cell, activation", CELL_ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_leak_rate_one_is_the_default(cell, activation, dtype):
    """leak_rate=1 (float, int or numpy scalar) gives the default's bits, forward and backward;
    an rnn with leak_rate < 1 really differs."""
    case = make_case(cell, dtype, 9, 6, 5, 13, seed=11, var_lengths=True)
    options = dict(reverse=False, n_threads=2, bptt_steps=4)
    default = run(cell, activation, case, **options)
    for one in (1.0, 1, np.float32(1.0), np.float64(1.0)):
        assert_bitwise(default, run(cell, activation, case, leak_rate=one, **options), repr(one))
    if cell == "rnn":
        leaky, _ = run(cell, activation, case, leak_rate=0.3, **options)
        assert not np.array_equal(leaky.output, default[0].output)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_bptt_steps_at_least_T_is_full_bptt(cell, reverse):
    T = 6
    case = make_case(cell, np.float64, 5, T, 4, 11, seed=8, var_lengths=True)
    full = run(cell, "tanh", case, reverse=reverse, n_threads=2)
    for k in (T, T + 1, 10**6):
        assert_bitwise(full, run(cell, "tanh", case, reverse=reverse, n_threads=2, bptt_steps=k))


# --------------------------------------------------------------------------------------------
# instruction set
# --------------------------------------------------------------------------------------------


def core_run(cell, activation, case, isa, leak_rate=1.0):
    """Forward and backward through _core directly: only it takes an ISA override."""
    x, lengths = case["x"], case["lengths"]
    lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    weights = [case[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    output, h_n, c_n, cache = _core.forward(
        cell, activation, False, x, *weights, case["h0"], case["c0"], lengths, True, 2, isa,
        leak_rate=leak_rate,
    )  # fmt: skip
    grads = _core.backward(
        cell, activation, False, x, weights[0], weights[1], lengths, *cache,
        case["d_output"], case["d_h_n"], case["d_c_n"], 0, 2, isa, leak_rate=leak_rate,
    )  # fmt: skip
    return [output, h_n, c_n, *grads]


def assert_same_bits_on_every_isa(cell, activation, case, leak_rate=1.0, label=()):
    results = {isa: core_run(cell, activation, case, isa, leak_rate) for isa in ISAS}
    for isa in ISAS[1:]:
        for i, (a, b) in enumerate(zip(results[ISAS[0]], results[isa])):
            assert (a is None and b is None) or np.array_equal(a, b), (*label, isa, i)


@pytest.mark.skipif(len(ISAS) < 2, reason="this build or CPU has only the portable kernels")
@pytest.mark.parametrize("cell, activation, leak_rate", CELL_ACT_LEAKS)
@pytest.mark.parametrize("dtype", DTYPES)
# 12 and 13 rows: a last row panel that the kernel of half the rows computes (4 of 8
# rows for avx512, 1 of 6 for avx2) next to ISAs that compute it whole. Hidden 37 ends
# in a tile of 5 units (the cells' masked last vector alone), 59 in one of 27 or 11
# (whole and half-width vectors first; see cells/lanes.hpp).
@pytest.mark.parametrize("batch, hidden", [(13, 37), (12, 37), (13, 59), (1, 7), (1, 37), (1, 150)])
def test_isa_does_not_change_bits(cell, activation, leak_rate, dtype, batch, hidden):
    """The cells are compiled once per ISA; wider vectors must not change a bit. Batch 1
    takes the single-row kernels, whose width follows the hidden size."""
    case = make_case(cell, dtype, batch, 5, 7, hidden, seed=5, var_lengths=batch > 1)
    assert_same_bits_on_every_isa(cell, activation, case, leak_rate)


@pytest.mark.skipif(len(ISAS) < 2, reason="this build or CPU has only the portable kernels")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_remainder_of_a_row_gives_the_same_bits(cell, dtype):
    """The cells' last units run as a masked vector after whole and half-width ones
    (cells/lanes.hpp), the portable build's as scalar code. Hidden sizes 1 to 40 give
    every remainder of a tile's units for 16, 8, 4 and 2 lanes, alone and after whole and
    half-width vectors; 9 rows put 8 in a full row panel and 1 in the last."""
    for hidden in range(1, 41):
        case = make_case(cell, dtype, 9, 3, 2, hidden, seed=hidden)
        assert_same_bits_on_every_isa(cell, "tanh", case, label=(hidden,))


def test_non_finite_padding_stays_out_of_gradients():
    """Values past a sequence's length are never read: not even as 0 * NaN."""
    case = make_case("lstm", np.float64, 4, 6, 3, 5, seed=6, var_lengths=True)
    clean = run("lstm", "tanh", case, reverse=False, n_threads=1)
    dirty = dict(case, x=case["x"].copy())
    for b, length in enumerate(case["lengths"]):
        dirty["x"][b, length:] = np.nan
    assert_bitwise(clean, run("lstm", "tanh", dirty, reverse=False, n_threads=1))


# --------------------------------------------------------------------------------------------
# a row does not depend on its batch
# --------------------------------------------------------------------------------------------


def sub_case(case, rows):
    return {
        key: None if value is None else value[rows]
        for key, value in case.items()
        if key in ("x", "h0", "c0", "lengths", "d_output", "d_h_n", "d_c_n")
    } | {key: case[key] for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


@pytest.mark.parametrize("cell, activation", CELL_ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
# hidden: batch 1 takes 7 and 37 units' gates in one single-row kernel (float32, AVX-512),
# 150 a kernel per gate, and 260 (lstm, gru) splits each step's units between two threads;
# 300 inputs: two depth blocks of the input product
@pytest.mark.parametrize("hidden, inputs", [(7, 7), (37, 7), (150, 7), (260, 7), (37, 300)])
def test_row_independent_of_batch(cell, activation, dtype, reverse, hidden, inputs):
    # Batches of a full tile's rows or more add x_t W_ih^T inside each step's tile, smaller
    # ones project all steps before the loop: a row must get the same bits either way.
    B = 21
    case = make_case(cell, dtype, B, 6, inputs, hidden, seed=4, var_lengths=True)
    full, _ = run(cell, activation, case, reverse=reverse, n_threads=2, backward=False)
    rng = np.random.default_rng(9)

    def check(rows, result, what):
        assert np.array_equal(result.output, full.output[rows]), what
        assert np.array_equal(result.h_n, full.h_n[rows]), what
        if cell == "lstm":
            assert np.array_equal(result.c_n, full.c_n[rows]), what

    for b in range(B):  # each row alone, batch of one, on one thread or two
        rows = np.array([b])
        single, _ = run(
            cell,
            activation,
            sub_case(case, rows),
            reverse=reverse,
            n_threads=1 + b % 2,
            backward=False,
        )
        check(rows, single, f"row {b} alone")
    for n_rows in (3, 5, 12):  # a tile's rows padded; a last panel of a kernel's half rows
        rows = rng.permutation(B)[:n_rows]
        few, _ = run(
            cell, activation, sub_case(case, rows), reverse=reverse, n_threads=2, backward=False
        )
        check(rows, few, f"{n_rows} rows")
    for n_threads in (1, 3):  # shuffled batch
        rows = rng.permutation(B)
        shuffled, _ = run(
            cell,
            activation,
            sub_case(case, rows),
            reverse=reverse,
            n_threads=n_threads,
            backward=False,
        )
        check(rows, shuffled, "shuffled")
    # rows repeated inside a larger batch, so each lands in other tiles
    rows = np.concatenate([rng.permutation(B), rng.integers(0, B, 30)])
    bigger, _ = run(
        cell, activation, sub_case(case, rows), reverse=reverse, n_threads=2, backward=False
    )
    check(rows, bigger, "bigger batch")


# --------------------------------------------------------------------------------------------
# concurrent Python threads
# --------------------------------------------------------------------------------------------


def test_concurrent_python_threads_match_serial():
    jobs = [
        ("lstm", "tanh", make_case("lstm", np.float64, 16, 12, 9, 48, seed=20, var_lengths=True)),
        ("gru", "relu", make_case("gru", np.float32, 11, 10, 5, 37, seed=21)),
        ("rnn", "tanh", make_case("rnn", np.float64, 7, 15, 3, 70, seed=22, var_lengths=True)),
        ("lstm", "relu", make_case("lstm", np.float32, 9, 8, 13, 33, seed=23)),
    ]
    settings = [
        dict(reverse=False, n_threads=1, bptt_steps=None),
        dict(reverse=True, n_threads=2, bptt_steps=3),
        dict(reverse=True, n_threads=1, bptt_steps=None),
        dict(reverse=False, n_threads=2, bptt_steps=2),
    ]
    serial = [run(cell, act, case, **kw) for (cell, act, case), kw in zip(jobs, settings)]

    def worker(k):
        cell, act, case = jobs[k]
        return [run(cell, act, case, **settings[k]) for _ in range(6)]

    repeats = 3
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(worker, k) for _ in range(repeats) for k in range(len(jobs))]
        outcomes = [f.result() for f in futures]
    for i, results in enumerate(outcomes):
        k = i % len(jobs)
        for result in results:
            assert_bitwise(serial[k], result, f"job {k}")


# Forward, backward and a GEMM on argv[2] threads, saved to argv[1].
_CHILD_SCRIPT = """
import sys
import numpy as np
from rnnkit import _core, ops
path, threads = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6, 3))
w_ih, w_hh = rng.normal(0, 0.2, (256, 3)), rng.normal(0, 0.2, (256, 64))
b = rng.normal(0, 0.2, 256)
res = ops.forward("lstm", x, w_ih, w_hh, b, b, training=True, n_threads=threads)
g = ops.backward(res.cache, np.ones_like(res.output), n_threads=threads)
a, m = rng.normal(size=(300, 513)), rng.normal(size=(513, 64))
product = _core.gemm(a, m, "best", threads)
np.savez(path, output=res.output, d_weight_hh=g.d_weight_hh, d_x=g.d_x, product=product)
"""


def test_smaller_openmp_team_than_asked_for(tmp_path):
    """OpenMP may run a region on fewer threads than asked (a thread limit, a nested
    region): the kernels share the work out between the threads they get."""

    def child(name, threads, **env):
        path = tmp_path / f"{name}.npz"
        command = [sys.executable, "-c", _CHILD_SCRIPT, str(path), str(threads)]
        subprocess.run(command, env=dict(os.environ, **env), check=True)
        return np.load(path)

    limited = child("limited", 3, OMP_THREAD_LIMIT="1")  # asks for 3, gets 1
    alone = child("alone", 1)
    for name in ("output", "d_weight_hh", "d_x", "product"):
        assert np.array_equal(limited[name], alone[name]), name


# --------------------------------------------------------------------------------------------
# GEMM
# --------------------------------------------------------------------------------------------

GEMM_SHAPES = [  # (m, k, n)
    (1, 1, 1),
    (7, 13, 300),
    (300, 7, 13),
    (97, 257, 129),
    (64, 64, 513),
    (64, 513, 64),
    (7, 300, 13),
    (13, 300, 7),
    (33, 1, 17),
    # Each path of the GEMM: a handful of columns (run as the transposed product),
    # a single row (the single-row kernel), more columns than are packed at once
    # (2048), and depths of several blocks (256).
    (300, 513, 1),
    (5000, 40, 3),
    (1, 257, 300),
    (2, 3, 4100),
    (37, 700, 2),
]


def test_generic_isa_always_supported():
    assert "generic" in ISAS
    assert _core.isa_supported("best")
    assert _core.best_isa() == ISAS[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_bitwise_across_isa_and_threads(dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    expected = _core.gemm(a, b, "generic", 1)
    assert expected.dtype == dtype and expected.shape == (m, n)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(expected, a.astype(np.float64) @ b.astype(np.float64), **tol)
    for isa in [*ISAS, "best"]:
        for n_threads in (1, 2, 3):
            c = _core.gemm(a, b, isa, n_threads)
            assert c.dtype == dtype and c.shape == (m, n)
            assert np.array_equal(c, expected), (isa, n_threads)
    # strided and transposed views of the same values give the same bits; a Fortran-order A
    # is read in place where C has at most 4 column panels (whole row panels; the rest packed)
    c = _core.gemm(np.asfortranarray(a), b.T.copy().T, ISAS[0], 2)
    assert np.array_equal(c, expected)
    # each element is one multiply-add chain over k, whatever the path: the transposed
    # product and any single row of A give the same bits
    assert np.array_equal(_core.gemm(b.T, a.T, ISAS[0], 2).T, expected)
    for i in {0, m // 2, m - 1}:
        assert np.array_equal(_core.gemm(a[i : i + 1], b, ISAS[0], 2), expected[i : i + 1])


def _run_python(script, **environment):
    """stdout of ``script`` run by a fresh Python with ``environment`` added to ours."""
    env = dict(os.environ, **environment)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kernel_info_describes_the_build():
    """kernel_info says which kernels run and on how many threads by default: OpenMP's
    default (OMP_NUM_THREADS) in a build with OpenMP, 1 in a build without it."""
    script = "import json; from rnnkit import ops; print(json.dumps(ops.kernel_info()))"
    stdout = _run_python(script, OMP_NUM_THREADS="3")
    info = json.loads(stdout)
    assert set(info) == {"isa", "threads", "openmp"}
    assert info["isa"] == ISAS[0] and isinstance(info["openmp"], bool)
    assert info["threads"] == (3 if info["openmp"] else 1)


def test_default_threads_keep_to_the_thread_limit():
    """OMP_THREAD_LIMIT caps every team; kernel_info reported OMP_NUM_THREADS past it."""
    script = "from rnnkit import ops; print(ops.kernel_info()['threads'])"
    stdout = _run_python(script, OMP_NUM_THREADS="3", OMP_THREAD_LIMIT="2")
    assert int(stdout) == (2 if ops.kernel_info()["openmp"] else 1)


def _forward_sum(n_threads):
    x = np.ones((16, 20, 8))
    weights = [np.full(shape, 0.1) for shape in [(128, 8), (128, 32), (128,), (128,)]]
    return float(ops.forward("lstm", x, *weights, n_threads=n_threads).h_n.sum())


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork() on this platform"
)
def test_a_process_forked_after_threads_ran_runs_on_one_thread():
    """libgomp's threads do not survive fork(): a child forked after its parent ran a
    parallel region hung at its first region of two threads. It now runs on one thread,
    with the same bits, and warns once."""
    expected = _forward_sum(2)  # the parent's threads, started
    with warnings.catch_warnings():  # Python 3.12+ warns of forking a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        with multiprocessing.get_context("fork").Pool(1) as pool:
            child = pool.apply_async(_forked_child_sums)
            sums, caught = child.get(timeout=120)  # a hang fails here, not forever
    assert sums == [expected, expected]
    if ops.kernel_info()["openmp"]:
        assert len(caught) == 1 and "forked" in caught[0]  # once, for two calls
    else:  # no threads, nothing to lose in a fork
        assert caught == []


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork() on this platform"
)
def test_a_process_forked_before_threads_ran_keeps_them():
    """Only kernels that asked for threads make a fork's child run on one: asking
    kernel_info, or kernels on one thread, do not (a fresh process, to know that)."""
    script = (
        "import multiprocessing, warnings\n"
        "import numpy as np\n"
        "from rnnkit import ops\n"
        "x = np.ones((16, 20, 8))\n"
        "w = [np.full(s, 0.1) for s in [(128, 8), (128, 32), (128,), (128,)]]\n"
        "def child():\n"
        "    with warnings.catch_warnings():\n"
        "        warnings.simplefilter('error', RuntimeWarning)\n"
        "        ops.forward('lstm', x, *w, n_threads=2)\n"
        "    return ops.kernel_info()['threads']\n"
        "if __name__ == '__main__':\n"
        "    ops.kernel_info(); ops.forward('lstm', x, *w, n_threads=1)\n"
        "    with multiprocessing.get_context('fork').Pool(1) as pool:\n"
        "        print(pool.apply_async(child).get(timeout=120))\n"
    )
    stdout = _run_python(script, OMP_NUM_THREADS="2")
    assert int(stdout) == (2 if ops.kernel_info()["openmp"] else 1)


def _forked_child_sums():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sums = [_forward_sum(2), _forward_sum(None)]
    return sums, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_default_threads_are_capped_like_explicit_ones():
    """n_threads=None is OpenMP's default, OMP_NUM_THREADS: above the kernels' own limit
    (4096) it is capped like an explicit count, not refused as an argument never passed."""
    script = (
        "import numpy as np; from rnnkit import ops; "
        "x = np.ones((2, 3, 1)); w = np.full((4, 1), 0.1); u = np.full((4, 4), 0.1); "
        "b = np.zeros(4); print(ops.forward('rnn', x, w, u, b, b).h_n.sum(), "
        "ops.kernel_info()['threads'])"
    )
    stdout = _run_python(script, OMP_NUM_THREADS="5000")
    total, threads = stdout.split()
    assert float(total) > 0 and int(threads) <= max(256, os.cpu_count() or 1)
