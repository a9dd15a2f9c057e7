"""``python -m rnnkit demo``: train a small LSTM on a cosine wave with rnnkit.ops."""

import argparse
import time

import numpy as np

from . import _core, ops


def _cosine_windows(n_windows, lookback, rng):
    """Windows of a noisy cosine and the value that follows each one."""
    t = np.arange(n_windows + lookback) * 0.1
    series = np.cos(t) + 0.05 * rng.standard_normal(t.shape)
    idx = np.arange(lookback)[None, :] + np.arange(n_windows)[:, None]
    x = series[idx][..., None].astype(np.float32)
    y = series[lookback : lookback + n_windows].astype(np.float32)
    return x, y


def demo(epochs=30, hidden=32, lookback=40, batch=64, seed=0):
    rng = np.random.default_rng(seed)
    x, y = _cosine_windows(1024, lookback, rng)
    gh = ops.GATES["lstm"] * hidden
    bound = 1 / np.sqrt(hidden)
    params = {
        "weight_ih": rng.uniform(-bound, bound, (gh, 1)),
        "weight_hh": rng.uniform(-bound, bound, (gh, hidden)),
        "bias_ih": np.zeros(gh),
        "bias_hh": np.zeros(gh),
        "out_w": rng.uniform(-bound, bound, hidden),
        "out_b": np.zeros(1),
    }
    params = {k: v.astype(np.float32) for k, v in params.items()}
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    lr, beta1, beta2, updates = 1e-2, 0.9, 0.999, 0
    print(f"rnnkit demo: LSTM(1 -> {hidden}) + Dense(1) on cosine windows of {lookback} steps")
    print(f"kernels: {_core.best_isa()}, {_core.max_threads()} threads")
    for epoch in range(1, epochs + 1):
        start, losses = time.perf_counter(), []
        for i in rng.permutation(len(x) // batch):
            xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
            res = ops.forward("lstm", xb, *(params[k] for k in list(params)[:4]), training=True)
            pred = res.h_n @ params["out_w"] + params["out_b"][0]
            err = pred - yb
            losses.append(float(np.mean(err**2)))
            d_pred = (2 / len(yb)) * err
            d_h_n = np.outer(d_pred, params["out_w"]).astype(np.float32)
            g = ops.backward(res.cache, np.zeros_like(res.output), d_h_n, None)
            grads = {
                "weight_ih": g.d_weight_ih,
                "weight_hh": g.d_weight_hh,
                "bias_ih": g.d_bias_ih,
                "bias_hh": g.d_bias_hh,
                "out_w": res.h_n.T @ d_pred,
                "out_b": np.array([d_pred.sum()], np.float32),
            }
            updates += 1
            for k, grad in grads.items():  # Adam
                m, v = moments[k]
                m += (1 - beta1) * (grad - m)
                v += (1 - beta2) * (grad * grad - v)
                m_hat, v_hat = m / (1 - beta1**updates), v / (1 - beta2**updates)
                params[k] -= (lr * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        if epoch == 1 or epoch % 5 == 0:
            seconds = time.perf_counter() - start
            print(f"epoch {epoch:3d}  mse {np.mean(losses):.5f}  {seconds * 1e3:6.1f} ms/epoch")
    return float(np.mean(losses))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnkit")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="train a small LSTM on a cosine wave")
    run.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(epochs=args.epochs)


if __name__ == "__main__":
    main()
