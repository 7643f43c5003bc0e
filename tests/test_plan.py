"""The planned full-batch step (synnet.training.plan) against the reference layer path.

Each case trains twice from the same weights, once with the plan and once with
``plan_full_batch`` switched off (the layers' forward/backward, ``train_step``
and ``optimizer.step``), and requires bit-identical weights, optimizer state and
loss history.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import synnet
import synnet.training.fit as fit_module
from synnet import Dense, Network
from synnet.core.batch import Batch
from synnet.core.losses import MeanSquaredError, get_loss
from synnet.core.optimizers import SGD, Adam, RMSprop
from synnet.training.callbacks import LearningRateScheduler
from synnet.training.plan import FullBatchPlan, plan_full_batch


def _data(n: int, d: int, k: int, dtype: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d)).astype(dtype)
    if kind == "labels":
        return X, rng.integers(0, k, n)
    if kind == "binary":
        return X, rng.integers(0, 2, (n, k)).astype(dtype)
    return X, rng.standard_normal((n, k)).astype(dtype)


def _net(acts: list[str | None], sizes: list[int], bias: bool, dtype: Any) -> Network:
    layers = [Dense(a, b, activation=act, bias=bias)
              for a, b, act in zip(sizes, sizes[1:], acts)]
    return Network(layers, seed=7, dtype=dtype)


def _train(planned: bool, monkeypatch: pytest.MonkeyPatch, make_opt: Any, **kw: Any
           ) -> tuple[Network, Any]:
    with monkeypatch.context() as m:
        if not planned:
            m.setattr(fit_module, "plan_full_batch", lambda *a, **k: None)
        net = _net(kw["acts"], kw["sizes"], kw["bias"], kw["dtype"])
        try:  # a diverging case must diverge the same way on both paths
            net.fit(kw["X"], kw["y"], loss=kw["loss"], optimizer=make_opt(),
                    epochs=kw["epochs"], batch_size=None, shuffle=False,
                    sample_weight=kw.get("w"), callbacks=kw.get("callbacks", ()))
            error = None
        except synnet.errors.DivergenceError as exc:
            error = str(exc)
    return net, (error, net.history.history if net.history else None)


CASES = [
    # activations (hidden..., output), loss, target kind
    (["sigmoid", "sigmoid"], "sse", "values"),
    (["tanh", "identity"], "mse", "values"),
    (["relu", None], "sse", "values"),
    (["relu", "tanh", "sigmoid"], "binary_crossentropy", "binary"),  # fused output
    (["relu", "softmax"], "categorical_crossentropy", "labels"),  # fused output
    (["sigmoid", "relu"], "poisson", "counts"),
]
OPTIMIZERS = {
    "sgd lr=1": lambda: SGD(lr=1.0),
    "sgd lr=0.1": lambda: SGD(lr=0.1),
    "sgd momentum": lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
    "sgd weight decay": lambda: SGD(lr=0.05, weight_decay=0.01),
    "adam": lambda: Adam(lr=0.01),
    "rmsprop": lambda: RMSprop(lr=0.01),
}


@pytest.mark.parametrize("acts,loss,kind", CASES)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plan_is_bit_identical_to_the_layer_path(acts: list[str | None], loss: str, kind: str,
                                                 opt: str, dtype: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    k = 3 if kind == "labels" else 2
    sizes = [4] + [5] * (len(acts) - 1) + [k]
    X, y = _data(9, 4, k, dtype, kind)
    if kind == "counts":
        y = np.abs(y).round()
    bias = acts[0] != "sigmoid"  # with and without biases
    kw = dict(acts=acts, sizes=sizes, bias=bias, dtype=dtype, X=X, y=y, loss=loss, epochs=25)
    net = _net(acts, sizes, bias, dtype)
    data = Batch(X.astype(dtype), get_loss(loss).prepare_targets(y, k, np.dtype(dtype)), None)
    fused = get_loss(loss).fuses(net.output_layer.activation)
    assert isinstance(plan_full_batch(net, get_loss(loss), SGD(), data, 0.0, fused),
                      FullBatchPlan)  # the plan really runs in this case
    a, ha = _train(True, monkeypatch, OPTIMIZERS[opt], **kw)
    b, hb = _train(False, monkeypatch, OPTIMIZERS[opt], **kw)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)
        np.testing.assert_array_equal(a.grads[name], b.grads[name], err_msg=name)
    assert ha == hb
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()  # type: ignore[union-attr]
    assert sa["iterations"] == sb["iterations"]
    for slot in sa["slots"]:
        for name in sa["slots"][slot]:
            np.testing.assert_array_equal(sa["slots"][slot][name], sb["slots"][slot][name])


def test_plan_with_sample_weights_and_a_scheduled_learning_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(8, 3, 1, np.float64, "values")
    w = np.linspace(0.0, 2.0, 8)
    for loss in ("sse", "mse"):
        kw = dict(acts=["sigmoid", "sigmoid"], sizes=[3, 4, 1], bias=True, dtype=np.float64,
                  X=X, y=y, loss=loss, epochs=20, w=w)
        schedule = [LearningRateScheduler(lambda e, lr: 1.0 if e < 10 else 0.3)]
        a, ha = _train(True, monkeypatch, lambda: SGD(lr=1.0), callbacks=schedule, **kw)
        schedule = [LearningRateScheduler(lambda e, lr: 1.0 if e < 10 else 0.3)]
        b, hb = _train(False, monkeypatch, lambda: SGD(lr=1.0), callbacks=schedule, **kw)
        for name in a.params:
            np.testing.assert_array_equal(a.params[name], b.params[name])
        assert ha == hb


def test_no_plan_where_the_layer_path_must_run() -> None:
    X, y = _data(6, 3, 1, np.float64, "values")
    data = Batch(X, y, None)
    sse = get_loss("sse")
    plain = _net(["sigmoid", "sigmoid"], [3, 4, 1], True, np.float64)
    assert plan_full_batch(plain, sse, SGD(), data, 0.0, False) is not None
    assert plan_full_batch(plain, sse, SGD(), data, 0.5, False) is None  # L2
    leaky = _net(["leaky_relu", None], [3, 4, 1], True, np.float64)
    assert plan_full_batch(leaky, sse, SGD(), data, 0.0, False) is None
    dropout = Network([Dense(3, 4, "relu"), synnet.Dropout(0.5), Dense(4, 1)], seed=0)
    assert plan_full_batch(dropout, sse, SGD(), data, 0.0, False) is None
    sparse = pytest.importorskip("scipy.sparse")
    assert plan_full_batch(plain, sse, SGD(), Batch(sparse.csr_matrix(X), y, None), 0.0,
                           False) is None


def test_plan_divergence_keeps_the_last_finite_weights() -> None:
    X = np.array([[1e300, 1.0]])
    net = _net([None], [2, 1], True, np.float64)
    before = net.get_weights()
    with pytest.raises(synnet.errors.DivergenceError):
        net.fit(X, np.array([0.0]), loss="sse", optimizer=SGD(lr=1.0), epochs=3,
                batch_size=None)
    for name, value in before.items():
        np.testing.assert_array_equal(net.params[name], value)


class _EveryEpoch(synnet.Callback):
    """Observes every epoch, so the fit loop runs the planned steps epoch by epoch."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.last: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.seen.append(epoch)

    def on_train_end(self, logs: dict[str, float]) -> None:
        self.last = dict(logs)


class _TrainEnd(synnet.Callback):
    """Only sees the end of training: the planned steps may run in a row."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def on_train_end(self, logs: dict[str, float]) -> None:
        self.last = dict(logs)


@pytest.mark.parametrize("loss,opt", [("sse", "sgd lr=1"), ("sse", "sgd lr=0.1"),
                                      ("mse", "adam")])
def test_steps_in_a_row_equal_epoch_by_epoch(loss: str, opt: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The run of planned steps (plan.run) against the per-epoch planned step, across
    two fits on the same network, with the same logs handed to on_train_end."""
    calls: list[int] = []
    original = FullBatchPlan.run

    def counting(self: FullBatchPlan, count: int, *a: Any) -> None:
        calls.append(count)
        original(self, count, *a)

    monkeypatch.setattr(FullBatchPlan, "run", counting)
    X, y = _data(6, 3, 1, np.float64, "values")
    nets, ends = [], []
    for callback in (_TrainEnd(), _EveryEpoch()):
        net = _net(["sigmoid", "sigmoid"], [3, 4, 1], False, np.float64)
        for epochs in (7, 5):  # a second fit continues the epoch count
            net.fit(X, y, loss=loss, optimizer=OPTIMIZERS[opt](), epochs=epochs,
                    batch_size=None, shuffle=False, callbacks=[callback])
        nets.append(net)
        ends.append(callback.last)
    assert calls == [7, 5]  # only the first network ran its steps in a row
    a, b = nets
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        np.testing.assert_array_equal(a.grads[name], b.grads[name])
    assert a.history.history == b.history.history  # type: ignore[union-attr]
    assert a.history.epoch == b.history.epoch == list(range(7, 12))  # type: ignore[union-attr]
    assert a.epochs_trained == b.epochs_trained == 12
    assert ends[0] == ends[1] == {"loss": b.history["loss"][-1]}  # type: ignore[index]


def test_nonfinite_continue_runs_on_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(9, 4, 2, np.float64, "values")
    runs = []
    for planned in (True, False):
        with monkeypatch.context() as m:
            if not planned:
                m.setattr(fit_module, "plan_full_batch", lambda *a, **k: None)
            net = _net(["relu", None], [4, 5, 2], True, np.float64)
            with np.errstate(all="ignore"):
                net.fit(X, y * 1e3, loss="sse", optimizer=SGD(lr=1.0), epochs=30,
                        batch_size=None, shuffle=False, nonfinite="continue")
            runs.append(net)
    losses = [np.array(net.history["loss"]) for net in runs]  # type: ignore[index]
    assert not np.isfinite(losses[0]).all()  # the case really goes non-finite
    np.testing.assert_array_equal(losses[0], losses[1])
    for name in runs[0].params:
        np.testing.assert_array_equal(runs[0].params[name], runs[1].params[name])


class _Interrupting(MeanSquaredError):
    """MSE that raises KeyboardInterrupt at its sixth evaluation."""

    calls = 0

    def evaluate(self, *a: Any, **k: Any) -> Any:
        self.calls += 1
        if self.calls == 6:
            raise KeyboardInterrupt
        return super().evaluate(*a, **k)


def test_an_interrupt_in_a_row_keeps_the_finished_epochs() -> None:
    X, y = _data(6, 3, 1, np.float64, "values")
    net = _net(["tanh", None], [3, 4, 1], True, np.float64)
    opt = SGD(lr=0.1)
    callback = _TrainEnd()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, loss=_Interrupting(), optimizer=opt, epochs=10, batch_size=None,
                shuffle=False, callbacks=[callback])
    assert net.epochs_trained == 5 and opt.iterations == 5
    assert net.history.epoch == list(range(5))  # type: ignore[union-attr]
    assert callback.last == {"loss": net.history["loss"][-1]}  # type: ignore[index]
