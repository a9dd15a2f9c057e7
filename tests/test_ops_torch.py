"""rnnkit.ops against torch.nn.RNN / LSTM / GRU (batch_first=True, one layer, one direction).

Forward values and every gradient, with h0 / c0, variable lengths (packed sequences), reverse
processing (torch on each sequence flipped within its length) and truncated BPTT (torch window
by window with the state detached between windows).
"""

import numpy as np
import pytest

from _problems import kernel_run

torch = pytest.importorskip("torch", reason="torch is needed for the comparison with torch.nn")

CELL_ACTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
DTYPES = [np.float64, np.float32]
TOLERANCE = {
    np.float64: dict(rtol=1e-10, atol=1e-12),
    np.float32: dict(rtol=1e-4, atol=1e-5),
}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

CONFIGS = {  # B, T, D, H, h0 given, lengths, reverse, d_h_n given
    "all-ones": dict(B=1, T=1, D=1, H=1, h0=False, lengths=None, reverse=False, d_h_n=True),
    "B1-H1-reverse": dict(B=1, T=5, D=3, H=1, h0=True, lengths=None, reverse=True, d_h_n=True),
    "h0": dict(B=3, T=5, D=4, H=7, h0=True, lengths=None, reverse=False, d_h_n=True),
    "lengths": dict(
        B=5, T=6, D=3, H=9, h0=True, lengths=[6, 1, 3, 6, 2], reverse=False, d_h_n=True
    ),
    "lengths-reverse": dict(
        B=5, T=6, D=3, H=9, h0=True, lengths=[6, 1, 3, 6, 2], reverse=True, d_h_n=True
    ),
    "reverse-no-h0": dict(B=4, T=4, D=2, H=5, h0=False, lengths=None, reverse=True, d_h_n=True),
    "odd-lengths-reverse": dict(
        B=13, T=7, D=5, H=37, h0=True, lengths="random", reverse=True, d_h_n=True
    ),
    "odd-lengths": dict(
        B=13, T=7, D=5, H=37, h0=False, lengths="random", reverse=False, d_h_n=True
    ),
    "no-d_h_n": dict(B=2, T=9, D=17, H=33, h0=True, lengths=[9, 4], reverse=False, d_h_n=False),
    "length-1": dict(B=3, T=4, D=2, H=3, h0=True, lengths=[1, 1, 1], reverse=True, d_h_n=True),
}


def torch_module(cell, activation, D, H, dtype, seed):
    torch.manual_seed(seed)
    if cell == "rnn":
        module = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True)
    elif cell == "lstm":
        module = torch.nn.LSTM(D, H, batch_first=True)
    else:
        module = torch.nn.GRU(D, H, batch_first=True)
    module = module.to(TORCH_DTYPE[dtype])
    with torch.no_grad():  # larger than the default init, so that every term matters
        for name in PARAM_NAMES:
            getattr(module, f"{name}_l0").mul_(1.5)
    return module


def params_of(module, dtype):
    return {
        name: getattr(module, f"{name}_l0").detach().numpy().astype(dtype, copy=True)
        for name in PARAM_NAMES
    }


def make_inputs(cell, dtype, B, T, D, H, h0, lengths, d_h_n, seed):
    rng = np.random.default_rng(seed)
    if isinstance(lengths, str):
        lengths = rng.integers(1, T + 1, B)
        lengths[0], lengths[-1] = T, 1
    return dict(
        x=rng.normal(size=(B, T, D)).astype(dtype),
        h0=rng.normal(0.0, 0.5, (B, H)).astype(dtype) if h0 else None,
        c0=rng.normal(0.0, 0.5, (B, H)).astype(dtype) if h0 and cell == "lstm" else None,
        lengths=None if lengths is None else np.asarray(lengths, dtype=np.int64),
        d_output=rng.normal(size=(B, T, H)).astype(dtype),
        d_h_n=rng.normal(size=(B, H)).astype(dtype) if d_h_n else None,
        d_c_n=rng.normal(size=(B, H)).astype(dtype) if d_h_n and cell == "lstm" else None,
    )


def rnnkit_run(cell, activation, params, inputs, *, reverse, bptt_steps=None):
    grads_in = (inputs["d_output"], inputs["d_h_n"], inputs["d_c_n"])
    fwd, grads = kernel_run(
        cell,
        {**params, **inputs},
        grads_in,
        reverse=reverse,
        activation=activation,
        bptt_steps=bptt_steps,
        n_threads=2,
    )
    result = dict(output=fwd.output, h_n=fwd.h_n, c_n=fwd.c_n)
    for name in ("d_x", "d_h0", "d_c0", *(f"d_{p}" for p in PARAM_NAMES)):
        result[name] = getattr(grads, name)
    return result


def torch_initial_state(cell, inputs, module):
    B, _, _ = inputs["x"].shape
    H = module.hidden_size
    dtype = module.weight_hh_l0.dtype
    h0 = torch.zeros(B, H, dtype=dtype) if inputs["h0"] is None else torch.tensor(inputs["h0"])
    h0 = h0[None].clone().requires_grad_(True)
    c0 = None
    if cell == "lstm":
        c0 = torch.zeros(B, H, dtype=dtype) if inputs["c0"] is None else torch.tensor(inputs["c0"])
        c0 = c0[None].clone().requires_grad_(True)
    return h0, c0


def torch_loss(out, h_n, c_n, inputs):
    loss = (out * torch.tensor(inputs["d_output"])).sum()
    if inputs["d_h_n"] is not None:
        loss = loss + (h_n * torch.tensor(inputs["d_h_n"])).sum()
    if inputs["d_c_n"] is not None:
        loss = loss + (c_n * torch.tensor(inputs["d_c_n"])).sum()
    return loss


def torch_results(cell, module, x, h0, c0, out, h_n, c_n):
    result = dict(
        output=out.detach().numpy(),
        h_n=h_n.detach().numpy(),
        c_n=None if c_n is None else c_n.detach().numpy(),
        d_x=x.grad.numpy(),
        d_h0=h0.grad[0].numpy(),
        d_c0=None if c0 is None else c0.grad[0].numpy(),
    )
    for name in PARAM_NAMES:
        result[f"d_{name}"] = getattr(module, f"{name}_l0").grad.numpy()
    return result


def torch_run(cell, module, inputs, *, reverse):
    """Full BPTT with torch; reverse via flipping each sequence within its length."""
    B, T, D = inputs["x"].shape
    H = module.hidden_size
    lengths = inputs["lengths"]
    full = np.full(B, T) if lengths is None else lengths
    x = torch.tensor(inputs["x"], requires_grad=True)
    h0, c0 = torch_initial_state(cell, inputs, module)
    hx = (h0, c0) if cell == "lstm" else h0
    if reverse:
        index = np.array([[L - 1 - t if t < L else t for t in range(T)] for L in full])
        index = torch.tensor(index)
        x_in = x.gather(1, index[:, :, None].expand(B, T, D))
    else:
        x_in = x
    if lengths is None:
        out, hidden = module(x_in, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x_in, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out_packed, hidden = module(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_packed, batch_first=True, total_length=T
        )
    if reverse:
        out = out.gather(1, index[:, :, None].expand(B, T, H))
    h_n, c_n = hidden if cell == "lstm" else (hidden, None)
    h_n = h_n[0]
    c_n = None if c_n is None else c_n[0]
    torch_loss(out, h_n, c_n, inputs).backward()
    return torch_results(cell, module, x, h0, c0, out, h_n, c_n)


def assert_results_close(actual, expected, dtype, names=None):
    tol = TOLERANCE[dtype]
    for name in names or expected:
        a, e = actual[name], expected[name]
        if e is None:
            assert a is None, name
            continue
        assert a.dtype == dtype, name
        assert a.shape == e.shape, name
        np.testing.assert_allclose(a, e, **tol, err_msg=name)


@pytest.mark.parametrize("cell, activation", CELL_ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_torch(cell, activation, dtype, config):
    cfg = CONFIGS[config]
    seed = sorted(CONFIGS).index(config)
    module = torch_module(cell, activation, cfg["D"], cfg["H"], dtype, seed)
    params = params_of(module, dtype)
    inputs = make_inputs(
        cell,
        dtype,
        cfg["B"],
        cfg["T"],
        cfg["D"],
        cfg["H"],
        cfg["h0"],
        cfg["lengths"],
        cfg["d_h_n"],
        seed + 100,
    )
    expected = torch_run(cell, module, inputs, reverse=cfg["reverse"])
    actual = rnnkit_run(cell, activation, params, inputs, reverse=cfg["reverse"])
    assert_results_close(actual, expected, dtype)
    if inputs["lengths"] is not None:  # padded steps: output 0 and no gradient to x
        padded = np.arange(cfg["T"])[None, :] >= inputs["lengths"][:, None]
        assert np.all(actual["output"][padded] == 0)
        assert np.all(actual["d_x"][padded] == 0)


def torch_run_truncated(cell, module, inputs, k):
    """Torch window by window over [0, k), [k, 2k), ... with the state detached in between."""
    B, T, D = inputs["x"].shape
    x = torch.tensor(inputs["x"], requires_grad=True)
    h0, c0 = torch_initial_state(cell, inputs, module)
    hx = (h0, c0) if cell == "lstm" else h0
    outs = []
    for start in range(0, T, k):
        out, hidden = module(x[:, start : start + k], hx)
        outs.append(out)
        if cell == "lstm":
            hx = (hidden[0].detach(), hidden[1].detach())
        else:
            hx = hidden.detach()
    h_n, c_n = hidden if cell == "lstm" else (hidden, None)
    h_n = h_n[0]
    c_n = None if c_n is None else c_n[0]
    out = torch.cat(outs, dim=1)
    torch_loss(out, h_n, c_n, inputs).backward()
    return torch_results(cell, module, x, h0, c0, out, h_n, c_n)


@pytest.mark.parametrize("cell, activation", CELL_ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_truncated_bptt_matches_torch(cell, activation, dtype, k):
    B, T, D, H = 4, 7, 3, 11
    module = torch_module(cell, activation, D, H, dtype, seed=40 + k)
    params = params_of(module, dtype)
    inputs = make_inputs(cell, dtype, B, T, D, H, True, None, True, seed=50 + k)
    expected = torch_run_truncated(cell, module, inputs, k)
    actual = rnnkit_run(cell, activation, params, inputs, reverse=False, bptt_steps=k)
    assert_results_close(actual, expected, dtype)
    if k < T:  # the truncation matters: full BPTT gives other weight gradients
        full = rnnkit_run(cell, activation, params, inputs, reverse=False)
        assert not np.allclose(full["d_weight_hh"], actual["d_weight_hh"], **TOLERANCE[dtype])
