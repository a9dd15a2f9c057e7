"""Forecast a "stock price" with the 4-layer LSTM of the classic tutorial, honestly.

The tutorial stacks four ``LSTM(50)`` layers with ``Dropout(0.2)``, reads 60 days of
min-max scaled prices and predicts the next day. Here the price is a generated geometric
random walk (seeded), and ``RNNForecaster`` does the windowing and scaling.

A random walk's best forecast of tomorrow is today's price, so the script reports the
naive last-value forecast's R2 next to the LSTM's. The high R2 such tutorials show comes
from the price level persisting from day to day, not from the network predicting
moves; the baseline makes that visible. The min-max scaler is fitted on the training
years, and a price that leaves that range puts the network on inputs it never saw.

    python examples/stock_lstm.py            # 4 x LSTM(50), lookback 60
    python examples/stock_lstm.py --small    # 4 x LSTM(16), lookback 20, 10 epochs
"""

from __future__ import annotations

import numpy as np
from _shared import example_parser, fit_and_report, parse, save_plots
from sklearn.metrics import mean_squared_error, r2_score

from rnnkit import RNNForecaster
from rnnkit.data import make_windows
from rnnkit.plotting import plot_forecast, plot_history


def parse_args(argv=None):
    parser = example_parser(__doc__)
    return parse(parser, argv)


def random_walk_prices(n_days, rng, start=100.0, drift=0.0003, volatility=0.015):
    """Daily closes of a geometric Brownian motion: log returns are i.i.d. normal."""
    log_returns = (drift - volatility**2 / 2) + volatility * rng.standard_normal(n_days - 1)
    return start * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))


def main(argv=None):
    args = parse_args(argv)
    if args.small:
        # Few epochs need larger steps to get anywhere.
        n_days, lookback, units, epochs, rate, ahead = 400, 20, 16, 10, 1e-2, 20
    else:
        n_days, lookback, units, epochs, rate, ahead = 1500, 60, 50, 50, 1e-3, 60

    prices = random_walk_prices(n_days, np.random.default_rng(args.seed))
    n_train = int(0.8 * n_days)
    train = prices[:n_train]
    # The test windows start lookback days before the split, so that the first test day
    # is predicted too; every target is a test day.
    test = prices[n_train - lookback :]

    forecaster = RNNForecaster(
        lookback=lookback,
        scale=True,
        cell="lstm",
        hidden_sizes=(units,) * 4,
        dropout=0.2,
        learning_rate=rate,
        max_epochs=epochs,
        early_stopping=not args.small,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    print(
        f"training 4 x LSTM({units}) + Dropout(0.2) on {n_train} days of a random walk, "
        f"lookback {lookback}; testing on the last {n_days - n_train} days"
    )
    print(
        f"price range: train {train.min():.1f}-{train.max():.1f}, "
        f"test {prices[n_train:].min():.1f}-{prices[n_train:].max():.1f}"
    )
    fit_and_report(forecaster, train)

    X_test, y_test = make_windows(test, lookback)
    naive = X_test[:, -1, 0]  # tomorrow = today
    print(
        f"score: next-day test R2 {forecaster.score(test):.4f} "
        f"(naive last-value R2 {r2_score(y_test, naive):.4f})"
    )

    # Recursive: each predicted day is fed back as input for the next, so errors compound.
    forecast = forecaster.predict(ahead)
    actual = prices[n_train : n_train + ahead]
    flat = np.full(ahead, train[-1])
    print(
        f"{ahead}-day recursive forecast from the end of training: RMSE "
        f"{mean_squared_error(actual, forecast) ** 0.5:.2f} "
        f"(flat last-price forecast {mean_squared_error(actual, flat) ** 0.5:.2f})"
    )

    past = train[-3 * lookback :]
    save_plots(
        args.out,
        {
            "stock_forecast.png": lambda: plot_forecast(
                actual, forecast, history=past, title=f"LSTM: {ahead}-day recursive forecast"
            ),
            "stock_history.png": lambda: plot_history(forecaster, title="LSTM training"),
        },
    )


if __name__ == "__main__":
    main()
