"""Echo state networks against gradient-trained RNNs on one-step-ahead prediction.

An echo state network (ESN) draws a random recurrent reservoir once and fits only a
linear readout, in closed form; a GRU or LSTM trains every weight by backpropagation
through time. Two tasks, each predicting the next value from the values before it:

(a) a cosine, 0.1 time units per sample;
(b) the chaotic Mackey-Glass series (tau=17, one time unit per sample), the classic
    ESN benchmark.

Each model sees the same standardized series and is scored on the same held-out last
20% of the steps. The ESN is run two ways: on the same sliding windows as the RNNs
(a state from zero for every window), and over the whole series at once with
``return_sequences=True`` (one state carried from step to step, the first ``washout``
steps left out of the fit), the usual way to run a reservoir. Its leak rate is chosen
from a small grid on a validation part of the training steps, never the test steps; the
RNNs stop early on a validation split.

NRMSE is the RMSE divided by the standard deviation of the test targets: 1 is no better
than predicting their mean. The RNNs' "fit s" is their whole training; the ESNs' is
one fit with the chosen leak rate (the grid search costs one fit per value).

    python examples/echo_state.py            # reservoir 400, GRU(64) and LSTM(64)
    python examples/echo_state.py --small    # reservoir 50, GRU(8), a few epochs
"""

from __future__ import annotations

import time

import numpy as np
from _shared import example_parser, parse, save_plots
from sklearn.metrics import r2_score

from rnnkit import EchoStateRegressor, RNNRegressor
from rnnkit.data import mackey_glass, make_windows
from rnnkit.plotting import plot_forecast


def parse_args(argv=None):
    parser = example_parser(__doc__)
    return parse(parser, argv)


def nrmse(y_true, y_pred):
    return np.sqrt(np.mean((y_true - y_pred) ** 2)) / np.std(y_true)


# Both ways of feeding a model return its predictions of series[cut:] and its fit time,
# so that every model is scored on the same steps.


def fit_windows(model, series, cut, lookback):
    """Train on the windows whose target comes before ``cut``; predict the rest."""
    X, y = make_windows(series, lookback)
    n_train = cut - lookback  # window i predicts series[i + lookback]
    started = time.perf_counter()
    model.fit(X[:n_train], y[:n_train])
    seconds = time.perf_counter() - started
    return model.predict(X[n_train:]), seconds


def fit_sequence(model, series, cut):
    """Train on series[:cut] read as one sequence, each step predicting the next; then
    read the whole series and keep the predictions of series[cut:]."""
    started = time.perf_counter()
    model.fit(series[None, : cut - 1, None], series[None, 1:cut])
    seconds = time.perf_counter() - started
    # Step j of the output predicts series[j + 1].
    return model.predict(series[None, :-1, None])[0, cut - 1 :], seconds


def choose_leak_rate(make_esn, fit, series, cut, grid):
    """The leak rate with the lowest NRMSE on the last 20% of the training steps."""
    inner = int(0.8 * cut)
    errors = {}
    for leak_rate in grid:
        predicted, _ = fit(make_esn(leak_rate), series[:cut], inner)
        errors[leak_rate] = nrmse(series[inner:cut], predicted)
    return min(errors, key=errors.get), errors


def compare(name, series, cut, lookback, sizes, args):
    """Fit every model on one task, print its table, return the whole-series ESN's
    test predictions for the plot."""
    reservoir, grid, rnns, washout = sizes

    def esn(return_sequences):
        return lambda leak_rate: EchoStateRegressor(
            n_reservoir=reservoir,
            spectral_radius=0.95,
            leak_rate=leak_rate,
            input_scaling=0.5,
            ridge=1e-6,
            return_sequences=return_sequences,
            washout=washout if return_sequences else 0,
            random_state=args.seed,
            n_jobs=args.n_jobs,
        )

    def by_windows(model, part, part_cut):
        return fit_windows(model, part, part_cut, lookback)

    rows = []
    esn_predictions = None
    for label, make, fit in [
        (f"ESN({reservoir}), windows", esn(False), by_windows),
        (f"ESN({reservoir}), whole series", esn(True), fit_sequence),
    ]:
        leak_rate, errors = choose_leak_rate(make, fit, series, cut, grid)
        tried = ", ".join(f"{rate}: {error:.2e}" for rate, error in errors.items())
        print(f"  {label}: validation NRMSE by leak rate {{{tried}}}")
        predicted, seconds = fit(make(leak_rate), series, cut)
        rows.append((f"{label}, leak {leak_rate}", predicted, seconds))
        esn_predictions = predicted
    for cell, hidden, epochs in rnns:
        model = RNNRegressor(
            cell=cell,
            hidden_sizes=(hidden,),
            learning_rate=3e-3,
            max_epochs=epochs,
            early_stopping=True,
            # The validation R2 of a good model is within 1e-4 of 1 long before its
            # error stops falling; the default tol would stop it there.
            tol=1e-7,
            random_state=args.seed,
            n_jobs=args.n_jobs,
        )
        predicted, seconds = by_windows(model, series, cut)
        times = model.history_["time"]
        label = f"{cell.upper()}({hidden}), {len(times)} epochs x {np.mean(times):.3f} s"
        rows.append((label, predicted, seconds))

    y_test = series[cut:]
    print(f"score table: {name}, {len(y_test)} test steps")
    width = max(len(label) for label, _, _ in rows)
    print(f"  {'model':<{width}}  {'test NRMSE':>10}  {'R2':>10}  {'fit s':>6}")
    for label, predicted, seconds in rows:
        print(
            f"  {label:<{width}}  {nrmse(y_test, predicted):>10.2e}  "
            f"{r2_score(y_test, predicted):>10.8f}  {seconds:>6.2f}"
        )
    return esn_predictions


def standardized(series, cut):
    """The series scaled by the mean and std of its training part."""
    train = series[:cut]
    return (series - train.mean()) / train.std()


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    if args.small:
        n_steps, lookback = 500, 20
        sizes = (50, (0.5, 1.0), [("gru", 8, 15)], 20)
    else:
        n_steps, lookback = 3000, 50
        sizes = (400, (0.3, 0.6, 1.0), [("gru", 64, 100), ("lstm", 64, 100)], 100)
    cut = int(0.8 * n_steps)  # the first test target

    cosine = standardized(np.cos(0.1 * np.arange(n_steps)), cut)
    print(f"(a) cosine: windows of {lookback} steps, {cut} training steps")
    compare("cosine, one step ahead", cosine, cut, lookback, sizes, args)

    glass = standardized(mackey_glass(n_steps, random_state=args.seed), cut)
    print(f"(b) Mackey-Glass (tau=17): windows of {lookback} steps, {cut} training steps")
    predicted = compare("Mackey-Glass, one step ahead", glass, cut, lookback, sizes, args)
    print(f"total {time.perf_counter() - started:.1f} s")

    save_plots(
        args.out,
        {
            "echo_state_mackey_glass.png": lambda: plot_forecast(
                glass[cut:],
                predicted,
                history=glass[cut - 2 * lookback : cut],
                title="ESN over the whole series: Mackey-Glass, one step ahead",
            )
        },
    )


if __name__ == "__main__":
    main()
