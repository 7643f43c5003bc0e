"""Property tests (hypothesis): shapes, dtypes and gradients over random networks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import synnet

ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# ReLU's derivative jumps at 0, where dropout or zero biases can put a pre-activation
# exactly; finite differences are meaningless there, so gradients are checked on the
# smooth activations (and ReLU away from its kink in test_gradients.py).
SMOOTH = ["identity", "sigmoid", "tanh"]


@st.composite
def networks(draw, acts: list[str] = ACTS):  # type: ignore[no-untyped-def]
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    layers: list[synnet.Layer] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(synnet.Dense(a, b, draw(st.sampled_from(acts)), bias=draw(st.booleans())))
        if i < len(sizes) - 2 and draw(st.booleans()):
            layers.append(synnet.Dropout(draw(st.floats(0.0, 0.9))))
    return synnet.Network(layers, seed=draw(st.integers(0, 2**32 - 1))), sizes


@settings(max_examples=40, deadline=None)
@given(networks(), st.integers(1, 20), st.sampled_from([np.float32, np.float64]),
       st.one_of(st.none(), st.integers(1, 25)), st.data())
def test_fit_and_predict_shapes_and_dtypes(net_sizes, n, dtype, batch_size, data) -> None:  # type: ignore[no-untyped-def]
    net, sizes = net_sizes
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    y = rng.normal(size=(n, sizes[-1])).astype(dtype)
    history = net.fit(X, y, loss="mse", optimizer=synnet.SGD(lr=0.01), epochs=2,
                      batch_size=batch_size)
    assert len(history.history["loss"]) == 2
    out = net.predict(X)
    assert out.shape == (n, sizes[-1]) and out.dtype == dtype
    assert all(p.dtype == dtype for p in net.params.values())
    value, grads = net.loss_and_grads(X, y, "mse")
    assert np.isfinite(value)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in net.params.items()}
    assert all(g.dtype == dtype for g in grads.values())


@settings(max_examples=25, deadline=None)
@given(networks(SMOOTH), st.integers(1, 8), st.integers(0, 1000))
def test_gradients_match_finite_differences(net_sizes, n, seed) -> None:  # type: ignore[no-untyped-def]
    net, sizes = net_sizes
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    y = rng.normal(size=(n, sizes[-1]))
    result = synnet.gradcheck(net, X, y, "mse", eps=1e-6, tolerance=1e-5)
    assert result.ok, result.errors


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 7), st.integers(1, 9000))
def test_predict_in_chunks_equals_one_pass(n, k, chunk) -> None:  # type: ignore[no-untyped-def]
    net = synnet.Network([synnet.Dense(3, 5, "tanh"), synnet.Dense(5, k, "softmax")], seed=1)
    X = np.random.default_rng(n).normal(size=(n, 3))
    # Different row counts may take different BLAS kernels: equal to rounding, not bitwise.
    np.testing.assert_allclose(net.predict(X, batch_size=chunk), net.predict(X), rtol=1e-12)
    np.testing.assert_allclose(net.predict(X).sum(axis=1), 1.0, rtol=1e-12)
