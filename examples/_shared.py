"""What every example script shares: its command line and saving its plots.

Each script imports this module from its own folder (``python examples/<script>.py``
puts that folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def example_parser(doc):
    """The options of every example; a script may add its own before parsing."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, a few seconds (CI)")
    parser.add_argument("--out", type=Path, default=Path("rnnkit-examples"), help="PNG folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    return parser


def parse(parser, argv=None):
    args = parser.parse_args(argv)
    if args.small:
        # A few epochs on purpose: the warning that training did not converge is noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
    return args


def save_plots(out, plots):
    """Draw and save each ``name -> function returning an Axes``, if matplotlib is here."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'rnnkit[plot]')")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in plots.items():
        path = out / name
        draw().figure.savefig(path, dpi=100)
        print(f"saved {path}")


def fit_and_report(model, *data):
    """``model.fit(*data)``, then print its epochs and seconds; returns the model."""
    started = time.perf_counter()
    model.fit(*data)
    seconds = time.perf_counter() - started
    epoch_times = model.history_["time"]
    print(f"{len(epoch_times)} epochs in {seconds:.1f} s, {np.mean(epoch_times):.3f} s/epoch")
    return model
