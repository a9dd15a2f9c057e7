"""What ``verbose=1`` shows while an estimator trains.

One tqdm progress bar per epoch, over its mini-batches, with the running loss and, at
the end of the epoch, the validation metrics (Keras' layout). tqdm is optional: without
it each epoch prints one line with the same numbers, like scikit-learn's MLP.
"""

from __future__ import annotations

import sys

try:
    from tqdm.auto import tqdm
except ImportError:  # optional dependency
    tqdm = None


class EpochProgress:
    """Reports one epoch; ``verbose=0`` makes every method a no-op."""

    def __init__(self, verbose, label, n_batches):
        self.enabled = bool(verbose)
        self.label = label
        self.bar = None
        if self.enabled and tqdm is not None:
            self.bar = tqdm(total=n_batches, desc=self.label, unit="batch", leave=True)

    def batch(self, loss):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def close(self, metrics):
        """``metrics``: name -> value for the epoch (None values are left out), or None
        when the epoch did not finish."""
        if not self.enabled:
            return
        shown = {name: value for name, value in (metrics or {}).items() if value is not None}
        if self.bar is not None:
            self.bar.set_postfix({name: f"{value:.4g}" for name, value in shown.items()})
            self.bar.close()
        elif shown:
            text = " - ".join(f"{name} {value:.4g}" for name, value in shown.items())
            print(f"{self.label} - {text}", file=sys.stdout, flush=True)
