"""Golden tests: the tutorial's published numbers (``synnet.tutorial.PUBLISHED_*``, copied from
the tutorial's text) to a relative 1e-10."""

from __future__ import annotations

import numpy as np
import pytest

import synnet
from reference import part2_trace
from synnet import tutorial

RTOL = 1e-10


def test_tutorial_init_draws_the_tutorials_weights() -> None:
    net = tutorial.network(3, 4, 1)
    rs = np.random.RandomState(1)
    np.testing.assert_array_equal(net.params["0.W"], 2 * rs.random_sample((3, 4)) - 1)
    np.testing.assert_array_equal(net.params["1.W"], 2 * rs.random_sample((4, 1)) - 1)
    assert set(net.params) == {"0.W", "1.W"}  # bias=False: no bias parameters


def test_two_layer_output_after_training() -> None:
    out = tutorial.two_layer()
    np.testing.assert_allclose(out.ravel(), tutorial.PUBLISHED_2LAYER_OUTPUT, rtol=1e-6)
    # The published figures have 8 decimals; check ours to the full 1e-10 against the
    # tutorial's own loop too.
    rs = np.random.RandomState(1)
    syn0 = 2 * rs.random_sample((3, 1)) - 1
    X, y = tutorial.X, tutorial.Y_AND
    for _ in range(10000):
        l1 = 1 / (1 + np.exp(-np.dot(X, syn0)))
        syn0 += np.dot(X.T, (y - l1) * (l1 * (1 - l1)))
    np.testing.assert_allclose(out, l1, rtol=RTOL)


def test_issue_api_snippet_reproduces_three_layer_trace() -> None:
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = np.array([[0, 0, 1, 1]]).T
    net = synnet.Network(
        [synnet.Dense(3, 4, activation="sigmoid", bias=False),
         synnet.Dense(4, 1, activation="sigmoid", bias=False)],
        init="tutorial",
        seed=np.random.RandomState(1),
    )
    history = net.fit(X, y, loss="sse", optimizer=synnet.SGD(lr=1.0),
                      epochs=60000, batch_size=None, shuffle=False, metrics=["mae"])
    trace = history.history["mae"][::10000]
    np.testing.assert_allclose(trace, tutorial.PUBLISHED_3LAYER_ERRORS, rtol=RTOL)
    assert net.predict(X).shape == (4, 1)
    assert len(history.history["loss"]) == 60000


def test_xor_trace() -> None:
    trace = tutorial.error_trace(tutorial.Y_XOR)
    np.testing.assert_allclose(trace, tutorial.PUBLISHED_XOR_ERRORS, rtol=RTOL)


@pytest.mark.parametrize("hidden", [4, 32])
@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.1, 1, 10, 100, 1000])
def test_part2_learning_rate_sweep(alpha: float, hidden: int) -> None:
    """Part 2 of the series: seed reset before every run, SGD(lr=alpha), XOR target."""
    ours = tutorial.error_trace(tutorial.Y_XOR, hidden=hidden, lr=alpha)
    theirs = part2_trace(tutorial.X, tutorial.Y_XOR, alpha, hidden)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_tutorial_main_prints_both_columns(capsys: pytest.CaptureFixture[str]) -> None:
    tutorial.main()
    out = capsys.readouterr().out
    assert "0.4685343254580603" in out and "synnet" in out and "tutorial" in out
    assert out.count("step ") == 12
