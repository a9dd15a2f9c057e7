"""asv timings of rnnkit.ops on the shared workloads (same table as compare.py)."""

import sys
from pathlib import Path

# The workload table lives one level up so that compare.py can share it without
# being part of the asv suite package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from workloads import WORKLOADS, make_problem, stack_forward, stack_train_step  # noqa: E402

from rnnkit import ops  # noqa: E402

# None lets rnnkit pick its default thread count; compare.py is the place for
# controlled thread-count comparisons against torch.
N_THREADS = None


class _Workload:
    params = [list(WORKLOADS)]
    param_names = ["workload"]
    # cosine training on a small machine takes a noticeable fraction of a second per call;
    # leave room for asv's repeats.
    timeout = 300

    def setup(self, workload):
        self.wl = WORKLOADS[workload]
        self.weights, self.x, self.d_out = make_problem(self.wl)


class TimeInference(_Workload):
    """ops.forward(training=False) through the whole L-layer stack."""

    def time_forward(self, workload):
        stack_forward(self.wl, self.weights, self.x, n_threads=N_THREADS)


class TimeTraining(_Workload):
    """ops.forward(training=True) then ops.backward, top layer to bottom."""

    def time_forward_backward(self, workload):
        stack_train_step(self.wl, self.weights, self.x, self.d_out, n_threads=N_THREADS)


class TimeTrainingStepParts(_Workload):
    """The two element-wise passes of a training step besides the layers: dropout of one
    layer's output (B, T, H) and an Adam update of all the stack's weights."""

    def setup(self, workload):
        super().setup(workload)
        from rnnkit import _optimizers  # the estimators' optimizer, as fit runs it

        self.h = np.ascontiguousarray(self.x[..., :1].repeat(self.wl.hidden, axis=-1))
        self.flat = np.concatenate([w.ravel() for layer in self.weights for w in layer])
        self.grad = np.full_like(self.flat, 1e-3)
        self.state = _optimizers.init_state("adam", self.flat)
        self.update = _optimizers.update

    def time_dropout(self, workload):
        ops.dropout(self.h, 0.2, seed=1, n_threads=N_THREADS)

    def time_adam_update(self, workload):
        self.update(self.state, self.flat, self.grad, learning_rate=1e-3, momentum=0.0,
                    decay=0.0, n_threads=N_THREADS)  # fmt: skip
