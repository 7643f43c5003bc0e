"""Finite-difference gradient checks for every layer, activation and loss (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import synnet
from synnet.core.activations import ACTIVATIONS, get_activation

ACTIVATION_NAMES = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "exponential"]


def _data(n: int = 6, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _numeric_input_grad(f, x: np.ndarray, g: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d(sum(f(x) * g))/dx by central differences."""
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        out[idx] = (np.sum(f(xp) * g) - np.sum(f(xm) * g)) / (2 * eps)
    return out


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_backward_matches_finite_differences(name: str) -> None:
    act = get_activation(name)
    # Keep ReLU-family inputs away from the kink at 0, where the derivative jumps.
    x = _data() + np.where(_data() > 0, 0.1, -0.1) if "relu" in name else _data()
    g = np.random.default_rng(1).normal(size=x.shape)
    act.forward(x, training=True)
    analytic = act.backward(g)
    numeric = _numeric_input_grad(lambda v: get_activation(name)(v), x, g)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_registry_covers_the_checked_names() -> None:
    assert set(ACTIVATION_NAMES) <= set(ACTIVATIONS)


@pytest.mark.parametrize("activation", ["identity", "sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_network_gradients(activation: str, bias: bool) -> None:
    net = synnet.Network([synnet.Dense(4, 5, activation, bias=bias),
                          synnet.Dense(5, 2, activation, bias=bias)], seed=0)
    X, y = _data(), np.random.default_rng(2).normal(size=(6, 2))
    result = synnet.gradcheck(net, X, y, "mse")
    assert result.ok, result.errors


def test_dense_input_gradient() -> None:
    layer = synnet.Dense(4, 3, "tanh")
    layer.build(np.random.default_rng(0), None, np.dtype(np.float64))
    x = _data()
    g = np.random.default_rng(3).normal(size=(6, 3))
    layer.forward(x, training=True)
    analytic = layer.backward(g)
    numeric = _numeric_input_grad(lambda v: layer.forward(v), x, g)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_dropout_gradient_with_replayed_mask() -> None:
    net = synnet.Network([synnet.Dense(4, 8, "tanh"), synnet.Dropout(0.5),
                          synnet.Dense(8, 1)], seed=3)
    result = synnet.gradcheck(net, _data(), np.arange(6.0), "mse")
    assert result.ok, result.errors


def test_dropout_backward_uses_the_forward_mask() -> None:
    drop = synnet.Dropout(0.5)
    drop.build(np.random.default_rng(0), None, np.dtype(np.float64))
    x = np.ones((50, 20))
    y = drop.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0}
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), y)
    np.testing.assert_array_equal(drop.forward(x, training=False), x)


LOSS_CASES = [
    ("sse", "sigmoid", 1, lambda rng, n: rng.random((n, 1))),
    ("mse", "identity", 3, lambda rng, n: rng.normal(size=(n, 3))),
    ("mse", "tanh", 2, lambda rng, n: rng.normal(size=(n, 2))),
    ("binary_crossentropy", "sigmoid", 1, lambda rng, n: rng.integers(0, 2, (n, 1))),
    ("binary_crossentropy", "sigmoid", 3, lambda rng, n: rng.integers(0, 2, (n, 3))),
    ("categorical_crossentropy", "softmax", 4, lambda rng, n: rng.integers(0, 4, n)),
    ("categorical_crossentropy", "softmax", 3,
     lambda rng, n: np.eye(3)[rng.integers(0, 3, n)]),
    ("categorical_crossentropy", "sigmoid", 3, lambda rng, n: rng.integers(0, 3, n)),
    ("poisson", "exponential", 1, lambda rng, n: rng.poisson(2.0, (n, 1))),
    ("poisson", "sigmoid", 2, lambda rng, n: rng.poisson(1.0, (n, 2))),
]


@pytest.mark.parametrize("loss,out_act,k,make_y", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_gradients(loss: str, out_act: str, k: int, make_y, weighted: bool) -> None:
    rng = np.random.default_rng(5)
    net = synnet.Network([synnet.Dense(4, 6, "tanh"), synnet.Dense(6, k, out_act)], seed=1)
    y = make_y(rng, 6)
    w = rng.random(6) + 0.1 if weighted else None
    result = synnet.gradcheck(net, _data(), y, loss, sample_weight=w)
    assert result.ok, result.errors


def test_unfused_bce_gradient() -> None:
    """BCE after a non-sigmoid output goes through the probability form."""
    class Squash(synnet.Sigmoid):  # same function, but not *the* Sigmoid: no fusing
        kind = "squash"

    net = synnet.Network([synnet.Dense(4, 3, "tanh"), synnet.Dense(3, 2, Squash())], seed=2)
    assert not synnet.BinaryCrossEntropy().fuses(net.output_layer.activation)
    y = np.random.default_rng(0).integers(0, 2, (6, 2))
    assert synnet.gradcheck(net, _data(), y, "binary_crossentropy").ok


def test_fused_and_unfused_losses_agree() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3))
    labels = rng.integers(0, 3, 5)
    cce = synnet.CategoricalCrossEntropy()
    fused, gz = cce.evaluate(z, labels, logits=True)
    p = synnet.Softmax()(z)
    plain, gp = cce.evaluate(p, labels)
    assert fused == pytest.approx(plain, rel=1e-12)
    s = synnet.Softmax()
    s.forward(z, training=True)
    np.testing.assert_allclose(gz, s.backward(gp), rtol=1e-9, atol=1e-12)


def test_l2_penalty_gradient() -> None:
    net = synnet.Network([synnet.Dense(4, 5, "tanh"), synnet.Dense(5, 1)], seed=0)
    result = synnet.gradcheck(net, _data(), np.arange(6.0), "mse", l2=0.3)
    assert result.ok, result.errors
    value, _ = net.loss_and_grads(_data(), np.arange(6.0), "mse", l2=0.3)
    plain, _ = net.loss_and_grads(_data(), np.arange(6.0), "mse")
    penalty = 0.5 * 0.3 * sum(np.sum(p**2) for k, p in net.params.items() if k.endswith("W")) / 6
    assert value == pytest.approx(plain + penalty, rel=1e-12)


def test_gradcheck_detects_a_wrong_gradient() -> None:
    """The checker itself can fail: break Tanh's derivative and it must notice."""
    class BadTanh(synnet.Tanh):
        def _grad(self, grad_y, y):  # type: ignore[no-untyped-def]
            return grad_y * (1 - y)  # wrong on purpose

    net = synnet.Network([synnet.Dense(4, 3, BadTanh()), synnet.Dense(3, 1)], seed=0)
    assert not synnet.gradcheck(net, _data(), np.arange(6.0), "mse").ok


def test_stable_activations_and_losses_at_extreme_logits() -> None:
    """No overflow/underflow errors (np.seterr is 'raise' in every test) at |z| ~ 1e4."""
    z = np.array([[-1e4, 0.0, 1e4], [3e3, -3e3, 50.0]])
    for name in ("sigmoid", "softmax", "tanh", "exponential"):
        assert np.isfinite(get_activation(name)(z)).all()
    for z32 in (z.astype(np.float32),):
        assert np.isfinite(get_activation("sigmoid")(z32)).all()
        assert np.isfinite(get_activation("softmax")(z32)).all()
    value, g = synnet.CategoricalCrossEntropy().evaluate(z, np.array([0, 1]), logits=True)
    assert np.isfinite(value) and np.isfinite(g).all()
    value, g = synnet.BinaryCrossEntropy().evaluate(z, (z > 0).astype(float), logits=True)
    assert np.isfinite(value) and np.isfinite(g).all()


def test_soft_targets_whose_rows_do_not_sum_to_one() -> None:
    net = synnet.Network([synnet.Dense(3, 4, "softmax")], seed=0)
    y = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0.5, 0, 0, 0]], dtype=float)
    X = np.random.default_rng(0).normal(size=(3, 3))
    assert synnet.gradcheck(net, X, y, "categorical_crossentropy").ok


@pytest.mark.parametrize("reduction", ["sum", "mean", "sample_mean"])
@pytest.mark.parametrize("cls, out_act, k", [
    (synnet.MeanSquaredError, "identity", 3), (synnet.SumSquaredError, "tanh", 2),
    (synnet.BinaryCrossEntropy, "sigmoid", 3), (synnet.CategoricalCrossEntropy, "softmax", 3),
    (synnet.Poisson, "exponential", 2)])
def test_every_reduction_of_every_loss_has_the_right_gradient(cls, out_act, k,
                                                               reduction) -> None:
    rng = np.random.default_rng(2)
    loss = cls(reduction=reduction)
    net = synnet.Network([synnet.Dense(4, 5, "tanh"), synnet.Dense(5, k, out_act)], seed=3)
    y = rng.integers(0, 2, (6, k)).astype(float)
    w = rng.random(6) + 0.1
    assert synnet.gradcheck(net, _data(), y, loss, sample_weight=w, l2=0.3).ok


def test_reductions_relate_as_documented() -> None:
    rng = np.random.default_rng(0)
    pred, y, w = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.random(5) + 0.5
    total = {r: synnet.MeanSquaredError(reduction=r).evaluate(pred, y, w, grad=False)[0]
             for r in ("sum", "mean", "sample_mean")}
    elem = ((pred - y) ** 2 * w[:, None]).sum()
    np.testing.assert_allclose([total["sum"], total["sample_mean"], total["mean"]],
                               [elem, elem / w.sum(), elem / (3 * w.sum())], rtol=1e-13)
    with pytest.raises(synnet.ConfigError, match="unknown reduction 'avg'"):
        synnet.MeanSquaredError(reduction="avg")
