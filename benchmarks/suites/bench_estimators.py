"""asv timings of the rnnkit estimators end to end: one epoch of fit, and predict.

The models and data come from ``estimators.py`` (the workloads of ``workloads.py`` as
their Keras tutorials build them); ``compare.py --level fit`` times the same against
PyTorch and Keras.
"""

import sys
from pathlib import Path

# estimators.py and workloads.py live one level up, shared with compare.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import fit_epoch, fitted_for_predict, make_dataset, make_estimator  # noqa: E402
from workloads import WORKLOADS  # noqa: E402

# None lets rnnkit pick its default thread count, as in bench_ops.py.
N_THREADS = None


class _Estimator:
    params = [list(WORKLOADS)]
    param_names = ["workload"]
    # One call is a whole epoch (seconds on a small machine): no looping within a sample.
    number = 1
    timeout = 300

    def setup(self, workload):
        # asv re-runs setup before every sample, so it must stay cheap.
        self.wl = WORKLOADS[workload]
        self.X, self.y = make_dataset(self.wl)


class TimeFit(_Estimator):
    """``fit`` with max_epochs=1: initialisation, validation and one epoch of training."""

    def setup(self, workload):
        super().setup(workload)
        self.estimator = make_estimator(self.wl, n_threads=N_THREADS)

    def time_fit_epoch(self, workload):
        fit_epoch(self.estimator, self.X, self.y)


class TimePredict(_Estimator):
    """``predict`` on the whole training set."""

    def setup(self, workload):
        super().setup(workload)
        self.estimator = fitted_for_predict(self.wl, self.X, self.y, n_threads=N_THREADS)

    def time_predict(self, workload):
        self.estimator.predict(self.X)
