"""Central finite differences against analytic gradients, parameter by parameter: the
check the network tests and the estimator tests share. Everything it is used with is
float64, so the differences are accurate to about 1e-9."""

import numpy as np

EPS = 1e-6  # central differences: truncation ~EPS**2, round-off ~1e-16 / EPS
FD_TOL = dict(rtol=1e-6, atol=1e-9)
ENTRIES_PER_PARAM = 6  # random entries checked per parameter, besides the first and last


def central_difference(loss, array, index, eps=EPS):
    """(loss() with array[index] + eps - the same with - eps) / (2 eps), the entry
    restored afterwards: the derivative of loss() along that one entry."""
    saved = array[index]
    array[index] = saved + eps
    up = loss()
    array[index] = saved - eps
    down = loss()
    array[index] = saved
    return (up - down) / (2 * eps)


def fd_entries(shape, rng):
    """Flat indices to check: the first, the last and a few random ones."""
    size = int(np.prod(shape))
    if size <= ENTRIES_PER_PARAM + 2:
        return np.arange(size)
    picked = rng.choice(np.arange(1, size - 1), ENTRIES_PER_PARAM, replace=False)
    return np.concatenate([[0], np.sort(picked), [size - 1]])


def assert_gradients_match_fd(params, loss_of, grads, seed=0):
    """``grads`` (analytic, by name) against central differences of ``loss_of(params)``
    at a few entries of every parameter, which is perturbed in place."""
    assert list(grads) == list(params)  # every parameter, in the params' order
    rng = np.random.default_rng(seed)
    for name, value in params.items():
        assert grads[name].shape == value.shape, name
        assert grads[name].dtype == np.float64, name
        # a parameter the loss does not reach would make the comparison below vacuous
        assert np.abs(grads[name]).max() > 1e-6, f"{name}: zero gradient"
        entries = fd_entries(value.shape, rng)
        flat = value.reshape(-1)  # a view: perturbs params[name] in place
        fd = np.array([central_difference(lambda: loss_of(params), flat, i) for i in entries])
        np.testing.assert_allclose(
            grads[name].reshape(-1)[entries], fd, **FD_TOL, err_msg=f"gradient of {name}"
        )
