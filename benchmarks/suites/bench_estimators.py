"""asv benchmarks of the rnnkit estimators end to end: one epoch of fit (time and peak
memory), predict on the training set, predict on one sequence (latency), and the long
sequence trained with truncated BPTT.

The models and data come from ``estimators.py`` (the workloads of ``workloads.py`` as
their Keras tutorials build them); ``compare.py`` times the same against PyTorch and Keras
(``--level fit``, ``latency``, ``long``, ``memory``).

asv's ``peakmem_`` benchmarks report the peak RSS of the process that ran the benchmark:
unlike ``compare.py --level memory`` that includes the imports and the setup, so compare
them between commits, not with the growth figures of compare.py.
"""

import sys
from pathlib import Path

# estimators.py and workloads.py live one level up, shared with compare.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import fit_epoch, fitted_for_predict, make_dataset, make_estimator  # noqa: E402
from workloads import LONG_WORKLOADS, WORKLOADS  # noqa: E402

# None lets rnnkit pick its default thread count, as in bench_ops.py.
N_THREADS = None


class _Estimator:
    params = [list(WORKLOADS)]
    param_names = ["workload"]
    # One call is a whole epoch (seconds on a small machine): no looping within a sample.
    number = 1
    timeout = 300
    # The table ``params`` names come from; the long-sequence benchmarks use their own.
    workloads = WORKLOADS

    def setup(self, workload):
        # asv re-runs setup before every sample, so it must stay cheap.
        self.wl = self.workloads[workload]
        self.X, self.y = make_dataset(self.wl)


class _Fit(_Estimator):
    def setup(self, workload):
        super().setup(workload)
        self.estimator = make_estimator(self.wl, n_threads=N_THREADS)


class TimeFit(_Fit):
    """``fit`` with max_epochs=1: initialisation, validation and one epoch of training."""

    def time_fit_epoch(self, workload):
        fit_epoch(self.estimator, self.X, self.y)


class PeakMemFit(_Fit):
    """Peak RSS of the process running one epoch of ``fit`` (see the module docstring)."""

    def peakmem_fit_epoch(self, workload):
        fit_epoch(self.estimator, self.X, self.y)


class _Predict(_Estimator):
    def setup(self, workload):
        super().setup(workload)
        self.estimator = fitted_for_predict(self.wl, self.X, self.y, n_threads=N_THREADS)


class TimePredict(_Predict):
    """``predict`` on the whole training set."""

    def time_predict(self, workload):
        self.estimator.predict(self.X)


class TimeLatency(_Predict):
    """``predict`` on one sequence: batch-1 inference latency, per-call overheads included."""

    # A call takes about a millisecond: let asv loop it to time it well.
    number = 0

    def setup(self, workload):
        super().setup(workload)
        self.x_one = self.X[:1]

    def time_predict_one(self, workload):
        self.estimator.predict(self.x_one)


class _LongSequence(_Fit):
    # Truncated BPTT on long sequences: T5000, and T1000 to see whether memory follows T.
    params = [list(LONG_WORKLOADS)]
    workloads = LONG_WORKLOADS
    # One epoch takes tens of seconds on a loaded 2-core machine.
    timeout = 600


class TimeLongSequence(_LongSequence):
    """One epoch of ``fit`` with bptt_steps=100 on LSTM T5000 (and T1000) sequences."""

    def time_fit_epoch(self, workload):
        fit_epoch(self.estimator, self.X, self.y)


class PeakMemLongSequence(_LongSequence):
    """Peak RSS of the process through the same epoch. It includes the setup's data,
    which grows with T (X of T5000 is 7.8 MiB more than T1000's); the epoch's own memory
    is bounded by bptt_steps, not T: compare.py's ``long`` growth column shows that."""

    def peakmem_fit_epoch(self, workload):
        fit_epoch(self.estimator, self.X, self.y)
