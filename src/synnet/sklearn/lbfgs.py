"""solver='lbfgs': scipy's L-BFGS-B on the full-batch loss from ``Network.loss_and_grads``.

The parameters travel to scipy as one float64 vector (every weight matrix, then
every bias, flattened: scikit-learn's layout, so that scipy's sums run in the
same order) and back into the network's own arrays, which keep their dtype.
Settings as in scikit-learn: ``maxiter=max_iter``, ``maxfun=max_fun``,
``gtol=tol``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from synnet.core.losses import Loss
from synnet.core.network import Network
from synnet.core.regularization import is_weight


def _order(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """All weight matrices, then all biases: scikit-learn's order, so scipy sums alike."""
    return [a for name, a in arrays.items() if is_weight(name)] + [
        a for name, a in arrays.items() if not is_weight(name)]


def _pack(arrays: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([a.ravel() for a in _order(arrays)]).astype(np.float64, copy=False)


def _unpack(theta: np.ndarray, params: dict[str, np.ndarray]) -> None:
    start = 0
    for p in _order(params):
        np.copyto(p, theta[start:start + p.size].reshape(p.shape), casting="same_kind")
        start += p.size


def fit_lbfgs(network: Network, X: Any, y: np.ndarray, loss: Loss, sample_weight: Any, *,
              alpha: float, max_iter: int, max_fun: int, tol: float,
              verbose: bool) -> tuple[int, float]:
    """Minimize the regularized loss in place; returns (n_iter_, loss_).

    Warns ConvergenceWarning (scikit-learn's message) when scipy stops without
    converging. As in scikit-learn, a loss that is never finite is not an error
    here: ``loss_`` is then nan (or inf), and the estimator refuses the weights
    only if they end non-finite.
    """
    params = network.params
    theta0 = _pack(params)
    last_value = [math.nan]  # the loss at the latest point, for verbose output

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        _unpack(theta, params)
        # As in scikit-learn, inf and nan are values like any other here: a far
        # line-search probe that overflows is a bad trial point, which scipy handles.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            value, grads = network.loss_and_grads(X, y, loss, sample_weight=sample_weight,
                                                  l2=alpha)
        last_value[0] = value
        return value, _pack(grads)

    iterations = itertools.count(1)

    def report(theta: np.ndarray) -> None:
        print(f"Iteration {next(iterations)}, loss = {last_value[0]:.8f}")

    result = scipy.optimize.minimize(
        value_and_grad, theta0, method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        callback=report if verbose else None,
    )
    _unpack(result.x, params)
    n_iter = min(int(result.nit), max_iter)
    if result.status != 0:
        msg = (f"lbfgs failed to converge after {n_iter} iteration(s) "
               f"(status={result.status}):\n{result.message}\n")
        if n_iter == max_iter:
            msg += ("\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={max_iter}).")
        msg += ("\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return n_iter, float(result.fun)
