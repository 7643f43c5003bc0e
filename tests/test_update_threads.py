"""Adam's and RMSprop's updates in two halves on two threads (set_update_threads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import synnet
from synnet import Dense, Network
from synnet.core import optimizers
from synnet.core.optimizers import SPLIT_MIN, Adam, RMSprop, set_update_threads


@pytest.fixture
def two_threads() -> Iterator[None]:
    old = set_update_threads(2)
    yield
    set_update_threads(old)


def _steps(make: Any, threads: int, steps: int = 4) -> tuple[dict[str, np.ndarray], Any]:
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((SPLIT_MIN // 64 + 1, 64)).astype(np.float32),
              "b": rng.standard_normal(64).astype(np.float32)}  # odd split, and a small one
    opt = make()
    old = set_update_threads(threads)
    try:
        for _ in range(steps):
            grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
            opt.step(params, grads)
    finally:
        set_update_threads(old)
    return params, opt.state_dict()


@pytest.mark.parametrize("make", [lambda: Adam(0.01), lambda: RMSprop(0.01),
                                  lambda: Adam(0.01, weight_decay=0.1)])
def test_two_threads_give_the_same_bits(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    submit = optimizers.elementwise

    def counting(fn: Any, arrays: Any) -> None:
        calls.append(arrays[0].size)
        submit(fn, arrays)

    monkeypatch.setattr(optimizers, "elementwise", counting)
    one, state_one = _steps(make, 1)
    two, state_two = _steps(make, 2)
    assert max(calls) >= SPLIT_MIN  # the large parameter was really split
    for name in one:
        np.testing.assert_array_equal(one[name], two[name])
    for slot, arrays in state_one["slots"].items():
        for name, value in arrays.items():
            np.testing.assert_array_equal(value, state_two["slots"][slot][name])


def test_a_fit_with_two_threads_is_the_same_fit(two_threads: None) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 600)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    nets = []
    for threads in (1, 2):
        set_update_threads(threads)
        net = Network([Dense(600, 128, "relu"), Dense(128, 3, "softmax")], seed=0)
        net.fit(X, y, loss="categorical_crossentropy", optimizer=Adam(0.01), epochs=2,
                batch_size=16)
        nets.append(net)
    for name in nets[0].params:
        np.testing.assert_array_equal(nets[0].params[name], nets[1].params[name])


def test_the_helper_thread_keeps_the_error_state(two_threads: None) -> None:
    param = np.ones(SPLIT_MIN, dtype=np.float32)
    grad = np.zeros_like(param)
    grad[-1] = np.float32(3e38)  # in the second half: the helper thread's part
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        RMSprop(0.01).step({"W": param}, {"W": grad})


def test_set_update_threads_checks_its_argument() -> None:
    for bad in (0, 1.5, "2", None):
        with pytest.raises(synnet.ConfigError, match="threads"):
            set_update_threads(bad)  # type: ignore[arg-type]
    old = set_update_threads(5)  # more than 2 counts as 2
    assert set_update_threads(old) == 2
