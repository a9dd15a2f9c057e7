"""``python -m rnnkit demo``: three classic RNN workflows end to end, with pictures.

1. forecasting a noisy cosine wave (the SimpleRNN tutorial) with :class:`RNNForecaster`;
2. digits read row by row (the MNIST LSTM tutorial on scikit-learn's ``load_digits``);
3. next-letter prediction on a short text, then generating new text.

Each prints its score and seconds per epoch; the plots go to PNG files in ``out``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from . import ops
from ._estimators import RNNClassifier
from ._forecaster import RNNForecaster
from .text import Vocabulary, generate

# The opening of the US Declaration of Independence (public domain).
TEXT = (
    "When in the Course of human events, it becomes necessary for one people to dissolve "
    "the political bands which have connected them with another, and to assume among the "
    "powers of the earth, the separate and equal station to which the Laws of Nature and "
    "of Nature's God entitle them, a decent respect to the opinions of mankind requires "
    "that they should declare the causes which impel them to the separation. We hold "
    "these truths to be self-evident, that all men are created equal, that they are "
    "endowed by their Creator with certain unalienable Rights, that among these are Life, "
    "Liberty and the pursuit of Happiness. "
)


def demo(out="rnnkit-demo", *, small=False, seed=0, verbose=1, n_jobs=None):
    """Run the three workflows; return their scores. ``small``: a quick smoke run;
    ``n_jobs``: the estimators' (None: every core)."""
    out, plotting = plot_folder(out), _plotting()
    info = ops.kernel_info()
    threads = f"{info['threads']} threads" if n_jobs is None else f"n_jobs={n_jobs}"
    print(f"rnnkit demo: kernels {info['isa']}, {threads}")
    print(f"plots go to {out.resolve()}" if plotting else _NO_PLOTS)
    scores = {}
    with warnings.catch_warnings():
        # Each model has a fixed epoch budget; "not converged" would only be noise here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, run in (("cosine", _cosine), ("digits", _digits), ("text", _text)):
            start = time.perf_counter()
            options = dict(random_state=seed, verbose=verbose, n_jobs=n_jobs)
            scores[name] = run(out, plotting, small=small, seed=seed, options=options)
            print(f"  ({time.perf_counter() - start:.1f} s)\n")
    return scores


_NO_PLOTS = "matplotlib is not installed: no plots (pip install 'rnnkit[plot]')"


def plot_folder(out):
    """``out`` as a Path, made if the plots will be saved (matplotlib is there): without
    it no empty folder is left behind. OSError where it cannot be made."""
    out = Path(out)
    if _plotting() is not None:
        out.mkdir(parents=True, exist_ok=True)
    return out


def _cosine(out, plotting, *, small, seed, options):
    print("1. Forecast a noisy cosine: RNNForecaster(cell='rnn'), 40 steps of history")
    rng = np.random.default_rng(seed)
    t = np.arange(1200 if not small else 300) * 0.1
    series = np.cos(t) + 0.05 * rng.standard_normal(t.shape)
    split = int(0.8 * len(series))
    model = RNNForecaster(
        lookback=40, cell="rnn", hidden_sizes=(64,) if not small else (8,),
        max_epochs=150 if not small else 2, learning_rate=2e-3, tol=1e-6, **options,
    ).fit(series[:split])  # fmt: skip
    score = model.score(series[split - 40 :])
    _report(model, f"one-step R² on the last 20%: {score:.4f}")
    if plotting:
        steps = len(series) - split
        ax = plotting.plot_forecast(
            series[split:], model.predict(steps), history=series[:split],
            title=f"cosine: {steps} steps forecast from its own predictions",
        )  # fmt: skip
        _save(ax, out / "cosine_forecast.png")
        _save(plotting.plot_history(model, title="cosine: training loss"), out / "cosine_loss.png")
    return score


def _digits(out, plotting, *, small, seed, options):
    print("2. Digits read row by row: RNNClassifier(cell='lstm') on 8 rows of 8 pixels")
    digits = load_digits()
    X = digits.images / 16.0  # (n, 8 rows = steps, 8 pixels = features)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    model = RNNClassifier(
        cell="lstm", hidden_sizes=(128,) if not small else (8,),
        max_epochs=100 if not small else 2, learning_rate=5e-3, early_stopping=True,
        validation_fraction=0.15, **options,
    ).fit(X_train, y_train)  # fmt: skip
    score = model.score(X_test, y_test)
    _report(model, f"test accuracy: {score:.4f}")
    if plotting:
        ax = plotting.plot_sequence_probabilities(
            model, X_test[0], title=f"a {y_test[0]}: class probabilities as rows are read"
        )
        _save(ax, out / "digits_probabilities.png")
        _save(plotting.plot_history(model, title="digits: training loss"), out / "digits_loss.png")
    return score


def _text(out, plotting, *, small, seed, options):
    print("3. Next letter: RNNClassifier(cell='gru', return_sequences=True) on characters")
    text = TEXT if not small else TEXT[:200]
    vocabulary = Vocabulary(text)
    X, y = vocabulary.windows(text, 40, step=2)
    model = RNNClassifier(
        cell="gru", hidden_sizes=(128,) if not small else (8,), return_sequences=True,
        max_epochs=60 if not small else 2, learning_rate=1e-2, **options,
    ).fit(X, y)  # fmt: skip
    score = model.score(X, y)
    _report(model, f"next-letter accuracy on the text: {score:.4f}")
    for temperature in (0.2, 0.8):
        sample = generate(
            model, "We hold", 80, temperature, random_state=seed, vocabulary=vocabulary
        )
        print(f"   temperature {temperature}: {sample!r}")
    if plotting:
        _save(plotting.plot_history(model, title="text: training loss"), out / "text_loss.png")
    return score


def _report(model, score_line):
    times = model.history_["time"]
    print(f"   {score_line}; {len(times)} epochs, {np.median(times) * 1e3:.0f} ms/epoch (median)")


def _plotting():
    """rnnkit.plotting when matplotlib is importable, else None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from . import plotting

    return plotting


def _save(ax, path):
    ax.figure.savefig(path, dpi=100)
    print(f"   saved {path}")
