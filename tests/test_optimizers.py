"""Optimizer steps recomputed by hand, including awkward settings."""

from __future__ import annotations

import math

import numpy as np
import pytest

import synnet
from synnet.errors import ConfigError


def _run(opt: synnet.Optimizer, grads_seq: list[np.ndarray], w0: np.ndarray) -> np.ndarray:
    params = {"0.W": w0.copy()}
    for g in grads_seq:
        opt.step(params, {"0.W": g.copy()})
    return params["0.W"]


W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
GRADS = [np.array([[0.1, -0.2], [0.3, 0.0]]), np.array([[-0.4, 0.5], [1.0, -2.0]]),
         np.array([[3.0, 0.1], [-0.2, 0.7]])]


@pytest.mark.parametrize("lr", [0.01, 1.0, 250.0])
def test_sgd_plain(lr: float) -> None:
    w = W0.copy()
    for g in GRADS:
        w = w - lr * g
    np.testing.assert_allclose(_run(synnet.SGD(lr=lr), GRADS, W0), w, rtol=1e-14)


@pytest.mark.parametrize("lr,mu", [(0.1, 0.9), (5.0, 0.5), (0.01, 0.99)])
def test_sgd_momentum(lr: float, mu: float) -> None:
    w, v = W0.copy(), np.zeros_like(W0)
    for g in GRADS:
        v = mu * v - lr * g
        w = w + v
    np.testing.assert_allclose(_run(synnet.SGD(lr=lr, momentum=mu), GRADS, W0), w, rtol=1e-13)


@pytest.mark.parametrize("lr,mu", [(0.1, 0.9), (5.0, 0.5)])
def test_sgd_nesterov(lr: float, mu: float) -> None:
    w, v = W0.copy(), np.zeros_like(W0)
    for g in GRADS:
        v = mu * v - lr * g
        w = w + mu * v - lr * g
    got = _run(synnet.SGD(lr=lr, momentum=mu, nesterov=True), GRADS, W0)
    np.testing.assert_allclose(got, w, rtol=1e-13)


@pytest.mark.parametrize("lr", [0.001, 0.5, 10.0])
def test_adam(lr: float) -> None:
    b1, b2, eps = 0.9, 0.999, 1e-8
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - lr_t * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(_run(synnet.Adam(lr=lr), GRADS, W0), w, rtol=1e-13)


def test_rmsprop() -> None:
    lr, rho, eps = 0.01, 0.9, 1e-8
    w, v = W0.copy(), np.zeros_like(W0)
    for g in GRADS:
        v = rho * v + (1 - rho) * g**2
        w = w - lr * g / (np.sqrt(v) + eps)
    np.testing.assert_allclose(_run(synnet.RMSprop(lr=lr), GRADS, W0), w, rtol=1e-13)


def test_weight_decay_applies_to_weights_not_biases() -> None:
    opt = synnet.SGD(lr=0.1, weight_decay=0.5)
    params = {"0.W": np.ones((2, 2)), "0.b": np.ones(2)}
    grads = {"0.W": np.zeros((2, 2)), "0.b": np.zeros(2)}
    opt.step(params, grads)
    np.testing.assert_allclose(params["0.W"], 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(params["0.b"], 1.0)
    np.testing.assert_array_equal(grads["0.W"], 0.0)  # the caller's gradient is untouched


def test_state_dict_round_trip_resumes_identically() -> None:
    a = synnet.Adam(lr=0.05)
    wa = _run(a, GRADS[:2], W0)
    state = a.state_dict()
    assert state["iterations"] == 2 and set(state["slots"]) == {"m", "v"}
    assert all(isinstance(v, np.ndarray) for v in state["slots"]["m"].values())
    b = synnet.Adam()
    b.load_state_dict(state)
    assert b.lr == 0.05
    ra, rb = _run(a, GRADS[2:], wa), _run(b, GRADS[2:], wa)
    np.testing.assert_array_equal(ra, rb)
    with pytest.raises(ConfigError, match="state is for optimizer"):
        synnet.SGD().load_state_dict(state)


@pytest.mark.parametrize("make,match", [
    (lambda: synnet.SGD(lr=-0.1), "lr must be"),
    (lambda: synnet.SGD(lr=float("nan")), "lr must be"),
    (lambda: synnet.SGD(momentum=1.5), "momentum must be"),
    (lambda: synnet.Adam(beta_1=1.5), "beta_1 must be"),
    (lambda: synnet.Adam(epsilon=0), "epsilon must be"),
    (lambda: synnet.RMSprop(rho=-1), "rho must be"),
    (lambda: synnet.Adam(weight_decay=-1), "weight_decay must be"),
])
def test_bad_hyperparameters(make, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_unknown_optimizer_name_lists_known() -> None:
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match="adam, rmsprop, sgd"):
        net.fit(np.ones((3, 2)), np.ones(3), loss="mse", optimizer="adagrad")


def test_weight_decay_and_fit_l2_share_one_rule_for_what_is_a_weight() -> None:
    """SGD(weight_decay=d) on a plain gradient equals plain SGD on the l2-penalized one."""
    X = np.random.default_rng(0).normal(size=(8, 3))
    y = X.sum(axis=1)

    def after_one_step(optimizer: synnet.Optimizer, l2: float) -> dict[str, np.ndarray]:
        net = synnet.Network([synnet.Dense(3, 4, "tanh"), synnet.Dense(4, 1)], seed=0)
        net.fit(X, y, loss="sse", optimizer=optimizer, epochs=1, batch_size=None, l2=l2)
        return net.get_weights()

    decayed = after_one_step(synnet.SGD(lr=0.1, weight_decay=0.5), 0.0)
    penalized = after_one_step(synnet.SGD(lr=0.1), 0.5)  # "sse" sums: l2 is not rescaled
    for name in decayed:
        np.testing.assert_allclose(decayed[name], penalized[name], rtol=1e-14)
