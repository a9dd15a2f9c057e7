"""Gradient-descent updates on one flat parameter vector.

The estimators keep all parameters in one contiguous vector (the ``params_`` arrays are
views into it), so an update is a handful of numpy operations whatever the number of
layers. The learning rate at update t (counting from 0) is ``lr / (1 + decay * t)``.

- "adam": Kingma & Ba with bias correction, in PyTorch's form (beta1 0.9, beta2 0.999,
  eps 1e-8 added to the corrected sqrt(v));
- "sgd": momentum in PyTorch's form, ``v = momentum * v + g; p -= lr * v``;
- "rmsprop": Keras' defaults, ``s = 0.9 s + 0.1 g^2; p -= lr g / (sqrt(s) + 1e-7)``.

The state is a dict of arrays and numbers, so it pickles with the estimator and
``warm_start`` / ``partial_fit`` continue where the last call stopped.
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("adam", "sgd", "rmsprop")

_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_RMSPROP_RHO = 0.9
_RMSPROP_EPS = 1e-7
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


def update(state, flat, grad, *, learning_rate, momentum, decay):
    """One step on ``flat`` in place; ``grad`` may be overwritten."""
    name = state["name"]
    lr = learning_rate / (1.0 + decay * state["updates"])
    state["updates"] += 1
    if name == "adam":
        beta1, beta2 = _ADAM_BETAS
        t = state["updates"]
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        grad *= grad
        v += (1.0 - beta2) * grad
        denominator = np.sqrt(v)
        denominator /= np.sqrt(1.0 - beta2**t)
        denominator += _ADAM_EPS
        flat -= (lr / (1.0 - beta1**t)) * (m / denominator)
    elif name == "sgd":
        velocity = state["velocity"]
        velocity *= momentum
        velocity += grad
        flat -= lr * velocity
    else:
        square = state["square"]
        square *= _RMSPROP_RHO
        square += (1.0 - _RMSPROP_RHO) * (grad * grad)
        denominator = np.sqrt(square)
        denominator += _RMSPROP_EPS
        flat -= lr * (grad / denominator)


def clip(grad, *, clip_value, clip_norm):
    """Clip each component to [-clip_value, clip_value], then the whole vector to norm
    ``clip_norm`` (PyTorch's ``clip_grad_norm_``, over all parameters at once)."""
    if clip_value is not None:
        np.clip(grad, -clip_value, clip_value, out=grad)
    if clip_norm is not None:
        norm = float(np.sqrt(np.dot(grad, grad)))
        if norm > clip_norm:
            grad *= grad.dtype.type(clip_norm / norm)
