"""Gradient-descent updates on one flat parameter vector.

The estimators keep all parameters in one contiguous vector (the ``params_`` arrays are
views into it), so an update is one call whatever the number of layers. The learning
rate at update t (counting from 0) is ``lr / (1 + decay * t)``.

- "adam": Kingma & Ba with bias correction, in PyTorch's form (beta1 0.9, beta2 0.999,
  eps 1e-8 added to the corrected sqrt(v));
- "sgd": momentum in PyTorch's form, ``v = momentum * v + g; p -= lr * v``;
- "rmsprop": Keras' (rho 0.9, eps 1e-7 inside the root), ``s = 0.9 s + 0.1 g^2;
  p -= lr g / sqrt(s + 1e-7)``. PyTorch adds its eps after the root instead, which for
  gradients far below sqrt(eps) (3e-4) takes steps many times larger.

Each update is one compiled pass over the parameters, the gradient and the moments
(``ops._optimizer_update``), with the element arithmetic in the parameters' dtype.

The state is a dict of arrays and numbers, so it pickles with the estimator and
``warm_start`` / ``partial_fit`` continue where the last call stopped.
"""

from __future__ import annotations

import numpy as np

from . import ops
from ._blas_free import norm

OPTIMIZERS = ("adam", "sgd", "rmsprop")

_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_RMSPROP_RHO = 0.9
_RMSPROP_EPS = 1e-7
_CLIP_NORM_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s
_MOMENTS = {"adam": ("m", "v"), "sgd": ("velocity",), "rmsprop": ("square",)}


def init_state(name, flat):
    """Fresh optimizer state for a parameter vector ``flat``."""
    state = {"name": name, "size": flat.size, "updates": 0}
    for moment in _MOMENTS[name]:
        state[moment] = np.zeros_like(flat)
    return state


def matches(state, name, flat):
    """Whether ``state`` can go on updating ``flat`` with optimizer ``name``."""
    return state is not None and state["name"] == name and state["size"] == flat.size


def update(state, flat, grad, *, learning_rate, momentum, decay, n_threads=None):
    """One step on ``flat`` and the state's moments in place, in one compiled pass
    (``csrc/optim/update.cpp``; ``tests/reference.py`` has it in numpy)."""
    name = state["name"]
    lr = learning_rate / (1.0 + decay * state["updates"])
    state["updates"] += 1
    if name == "adam":
        first, second = state["m"], state["v"]
        decay1, decay2, eps = *_ADAM_BETAS, _ADAM_EPS
    elif name == "sgd":
        first, second, decay1, decay2, eps = state["velocity"], None, momentum, 0.0, 0.0
    else:
        first, second = state["square"], None
        decay1, decay2, eps = _RMSPROP_RHO, 0.0, _RMSPROP_EPS
    ops._optimizer_update(
        name, flat, grad, first, second, learning_rate=lr, decay1=decay1, decay2=decay2,
        epsilon=eps, t=state["updates"], n_threads=n_threads,
    )  # fmt: skip


def clip(grad, *, clip_value, clip_norm):
    """Clip each component to [-clip_value, clip_value], then the whole vector to norm
    ``clip_norm``: PyTorch's ``clip_grad_value_`` and ``clip_grad_norm_`` (over all
    parameters at once), whose factor ``clip_norm / (norm + 1e-6)`` applies when below 1."""
    if clip_value is not None:
        np.clip(grad, -clip_value, clip_value, out=grad)
    if clip_norm is not None:
        factor = clip_norm / (norm(grad) + _CLIP_NORM_EPS)
        if factor < 1.0:
            grad *= grad.dtype.type(factor)
