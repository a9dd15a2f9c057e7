"""Predict the next value of a noisy cosine with a linear SimpleRNN.

The Keras tutorial ``SimpleRNN(200, activation="linear")`` + ``Dense(1)`` on sliding
windows of a cosine, written with rnnkit: ``make_windows`` cuts the series, an
``RNNRegressor(cell="rnn", activation="linear")`` learns the next value, and the last
20% of the windows (their targets never seen in training) is the test set.

A cosine obeys a linear recurrence, so a linear RNN can predict it exactly; the noise
added to the series is what keeps the task from being trivial. The script prints the
noise floor (the test MSE of the noiseless cosine itself), the best MSE any model can
expect on average.

    python examples/cosine_simplernn.py            # SimpleRNN(200)
    python examples/cosine_simplernn.py --small    # SimpleRNN(16), 5 epochs
"""

from __future__ import annotations

import time

import numpy as np
from _shared import example_parser, parse, save_plots
from sklearn.metrics import mean_squared_error, r2_score

from rnnkit import RNNRegressor
from rnnkit.data import make_windows
from rnnkit.plotting import plot_forecast, plot_history


def parse_args(argv=None):
    parser = example_parser(__doc__)
    parser.add_argument(
        "--noise", type=float, default=0.1, help="std of the noise added (0: a pure cosine)"
    )
    return parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if args.small:
        n_steps, lookback, hidden, epochs = 400, 20, 16, 5
    else:
        n_steps, lookback, hidden, epochs = 2000, 50, 200, 40

    rng = np.random.default_rng(args.seed)
    # 0.1 time units per sample: about 63 samples per period, so a window of 50 sees
    # most of one.
    clean = np.cos(0.1 * np.arange(n_steps))
    series = clean + args.noise * rng.standard_normal(n_steps)
    X, y = make_windows(series, lookback)
    n_train = int(0.8 * len(X))
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]

    model = RNNRegressor(
        cell="rnn",
        hidden_sizes=(hidden,),
        activation="linear",
        max_epochs=epochs,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    print(
        f"training SimpleRNN({hidden}, linear) + Dense(1) on {len(X_train)} windows of "
        f"{lookback} steps (noise std {args.noise}), {len(X_test)} test windows"
    )
    started = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    epoch_times = model.history_["time"]
    print(
        f"{len(epoch_times)} epochs in {seconds:.1f} s, {np.mean(epoch_times):.3f} s/epoch, "
        f"final loss {model.history_['loss'][-1]:.5f}"
    )

    predicted = model.predict(X_test)
    # y_test[i] is series[lookback + n_train + i]: the noiseless value at the same step is
    # the ideal prediction, and its error is all noise.
    floor = mean_squared_error(y_test, clean[lookback + n_train :])
    print(
        f"score: test R2 {r2_score(y_test, predicted):.4f}, MSE "
        f"{mean_squared_error(y_test, predicted):.5f} (noise floor {floor:.5f})"
    )

    first = lookback + n_train
    past = series[max(0, first - 3 * lookback) : first]
    save_plots(
        args.out,
        {
            "cosine_forecast.png": lambda: plot_forecast(
                y_test, predicted, history=past, title="SimpleRNN: next value on the test tail"
            ),
            "cosine_history.png": lambda: plot_history(model, title="SimpleRNN training"),
        },
    )


if __name__ == "__main__":
    main()
