"""Network and fit behaviour as users of Keras and scikit-learn expect it."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import synnet


def _blobs(n: int = 120, seed: int = 0, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 3
    return X.astype(dtype), y


def _classifier(seed: int = 0, dropout: float = 0.0) -> synnet.Network:
    layers = [synnet.Dense(4, 16, "relu")]
    if dropout:
        layers.append(synnet.Dropout(dropout))
    layers.append(synnet.Dense(16, 3, "softmax"))
    return synnet.Network(layers, seed=seed)


def test_learns_a_classification_problem() -> None:
    X, y = _blobs()
    net = _classifier()
    history = net.fit(X, y, loss="categorical_crossentropy", optimizer=synnet.Adam(0.01),
                      epochs=60, batch_size=16, metrics=["accuracy"])
    assert history.history["accuracy"][-1] > 0.95
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    assert np.mean(np.argmax(net.predict(X), axis=1) == y) > 0.95


def test_fit_continues_from_current_weights() -> None:
    X, y = _blobs()
    a, b = _classifier(seed=1), _classifier(seed=1)
    a.fit(X, y, loss="categorical_crossentropy", optimizer="sgd", epochs=4, batch_size=None)
    b.fit(X, y, loss="categorical_crossentropy", optimizer="sgd", epochs=2, batch_size=None)
    b.fit(X, y, epochs=2, batch_size=None)  # loss and optimizer carried over
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-12)
    assert b.epochs_trained == 4
    assert b.history is not None and b.history.epoch == [2, 3]


def test_same_seed_same_result_and_shuffle_uses_the_network_generator() -> None:
    X, y = _blobs()
    runs = []
    for seed in (3, 3, 4):
        net = _classifier(seed=seed, dropout=0.3)
        net.fit(X, y, loss="categorical_crossentropy", epochs=3, batch_size=10)
        runs.append(net.predict(X))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_generator_and_randomstate_seeds() -> None:
    g = synnet.Network([synnet.Dense(3, 2)], seed=np.random.default_rng(7))
    h = synnet.Network([synnet.Dense(3, 2)], seed=7)
    np.testing.assert_array_equal(g.params["0.W"], h.params["0.W"])
    with pytest.raises(TypeError, match="seed must be"):
        synnet.Network([synnet.Dense(3, 2)], seed="7")  # type: ignore[arg-type]


def test_float32_stays_float32_and_integers_become_float64() -> None:
    X, y = _blobs(dtype=np.float32)
    net = _classifier()
    net.fit(X, y, loss="categorical_crossentropy", epochs=1)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.predict(X).dtype == np.float32
    ints = synnet.Network([synnet.Dense(3, 1, "sigmoid")], seed=0)
    ints.fit(np.array([[0, 1, 1], [1, 0, 1]]), np.array([0, 1]), loss="sse", epochs=1)
    assert ints.params["0.W"].dtype == np.float64


def test_full_batch_uses_the_data_without_copying(monkeypatch: pytest.MonkeyPatch) -> None:
    """With batch_size=None the step sees the caller's array itself: the planned step
    (synnet.training.plan) and, where no plan applies, the layers."""
    import synnet.training.fit as fit_module

    X, y = _blobs(dtype=np.float32)
    planned = []
    make_plan = fit_module.plan_full_batch

    def spy_plan(network, loss, optimizer, data, l2, fused):  # type: ignore[no-untyped-def]
        plan = make_plan(network, loss, optimizer, data, l2, fused)
        planned.append(plan)
        return plan

    monkeypatch.setattr(fit_module, "plan_full_batch", spy_plan)
    _classifier().fit(X, y, loss="categorical_crossentropy", epochs=1, batch_size=None)
    assert planned[0] is not None and planned[0].data.X is X

    monkeypatch.setattr(fit_module, "plan_full_batch", lambda *args: None)
    net = _classifier()
    seen = []
    original = net.layers[0].forward_linear

    def spy(x, training=False):  # type: ignore[no-untyped-def]
        seen.append(x)
        return original(x, training)

    net.layers[0].forward_linear = spy  # type: ignore[method-assign]
    net.fit(X, y, loss="categorical_crossentropy", epochs=1, batch_size=None)
    assert seen[0] is X


def test_validation_data_split_and_metrics() -> None:
    X, y = _blobs()
    net = _classifier()
    h = net.fit(X, y, loss="categorical_crossentropy", epochs=3, validation_split=0.25,
                metrics=["accuracy", "mae", "mse"])
    assert set(h.history) == {"loss", "accuracy", "mae", "mse", "val_loss", "val_accuracy",
                              "val_mae", "val_mse"}
    assert all(len(v) == 3 for v in h.history.values())
    h2 = net.fit(X[:90], y[:90], epochs=1, validation_data=(X[90:], y[90:]))
    manual = net.evaluate(X[90:], y[90:])
    assert h2.history["val_loss"][0] == pytest.approx(manual["loss"], rel=1e-12)


def test_early_stopping_restores_best_weights() -> None:
    X, y = _blobs()
    net = _classifier()
    best_weights = {}

    class Spy(synnet.Callback):
        def on_epoch_end(self, epoch, logs):  # type: ignore[no-untyped-def]
            best_weights[epoch] = (logs["val_loss"], self.network.get_weights())

    stop = synnet.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # A huge learning rate makes validation loss bounce, so stopping must happen.
    net.fit(X, y, loss="categorical_crossentropy", optimizer=synnet.SGD(lr=2.0), epochs=200,
            batch_size=8, validation_split=0.3, callbacks=[Spy(), stop])
    assert stop.stopped_epoch is not None and stop.stopped_epoch < 199
    best_epoch = min(best_weights, key=lambda e: best_weights[e][0])
    assert stop.best_epoch == best_epoch
    for name, w in best_weights[best_epoch][1].items():
        np.testing.assert_array_equal(net.params[name], w)


def test_progress_bar_and_print_every(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _blobs()
    buf = io.StringIO()
    net = _classifier()
    net.fit(X, y, loss="categorical_crossentropy", epochs=5, metrics=["mae"],
            callbacks=[synnet.ProgressBar(file=buf), synnet.PrintEvery(2)])
    assert "5/5" in buf.getvalue()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("Error:") for line in lines)
    net.fit(X, y, epochs=2, progress=True)
    assert "2/2" in capsys.readouterr().err


def test_progress_is_off_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _blobs()
    _classifier().fit(X, y, loss="categorical_crossentropy", epochs=2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_divergence_stops_with_finite_weights() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 100
    y = X @ rng.normal(size=(4, 1)) * 1e3
    for optimizer in (synnet.SGD(lr=1e6), synnet.SGD(lr=1e6, momentum=0.9, nesterov=True),
                      synnet.Adam(lr=1e200), synnet.RMSprop(lr=1e200)):
        net = synnet.Network([synnet.Dense(4, 8, "tanh"), synnet.Dense(8, 1)], seed=0)
        with pytest.raises(synnet.DivergenceError, match="smaller learning rate"):
            net.fit(X, y, loss="mse", optimizer=optimizer, epochs=500, batch_size=8)
        assert all(np.isfinite(p).all() for p in net.params.values())
        assert np.isfinite(net.predict(X)).all()


def test_loss_and_grads_contract() -> None:
    X, y = _blobs(n=10)
    net = _classifier(dropout=0.3)  # names follow layer indices: the dropout layer is 1
    value, grads = net.loss_and_grads(X, y, "categorical_crossentropy")
    assert isinstance(value, float)
    assert set(grads) == set(net.params) == {"0.W", "0.b", "2.W", "2.b"}
    assert all(grads[k].shape == net.params[k].shape for k in grads)


def test_summary_repr_and_counts() -> None:
    net = _classifier(dropout=0.5)
    assert net.count_params() == 4 * 16 + 16 + 16 * 3 + 3
    text = net.summary()
    assert "Dropout(rate=0.5)" in text and "131" in text
    assert "Dense(" in repr(net)


def test_import_synnet_imports_no_optional_dependency() -> None:
    code = ("import sys, synnet; bad = [m for m in ('sklearn', 'pandas', 'matplotlib', 'scipy', "
            "'torch', 'onnx', 'dask') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_divergence_keeps_the_last_finite_step() -> None:
    """The weights after divergence are those the last finite step produced."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4)) * 100
    y = X @ rng.normal(size=(4, 1)) * 1e3
    net = synnet.Network([synnet.Dense(4, 8, "tanh"), synnet.Dense(8, 1)], seed=0)
    seen = []
    spy = synnet.LambdaCallback(on_batch_end=lambda b, logs: seen.append(net.get_weights()))
    with pytest.raises(synnet.DivergenceError, match="last finite step"):
        net.fit(X, y, loss="mse", optimizer=synnet.SGD(lr=1e6), epochs=500, batch_size=8,
                callbacks=[spy])
    assert seen, "at least one step completed before the divergence"
    for name, w in seen[-1].items():
        np.testing.assert_array_equal(net.params[name], w)


def test_overflow_in_validation_is_divergence_too() -> None:
    X, _ = _blobs()
    y = X.sum(axis=1)
    net = synnet.Network([synnet.Dense(4, 8, "relu"), synnet.Dense(8, 1)], seed=0)
    # Finite validation inputs whose squared error overflows float64.
    with pytest.raises(synnet.DivergenceError, match=r"epoch 0 \(validation"):
        net.fit(X, y, loss="mse", epochs=2, validation_data=(X[:5] * 1e200, y[:5]))
    assert all(np.isfinite(p).all() for p in net.params.values())


def test_summary_shows_whole_layer_descriptions() -> None:
    net = synnet.Network([synnet.Dense(4, 64, "leaky_relu"), synnet.Dense(64, 3, "softmax")])
    assert "activation={'kind': 'leaky_relu', 'alpha': 0.01}, bias=True)" in net.summary()


def test_divergence_inside_the_update_restores_the_fit_start() -> None:
    net = synnet.Network([synnet.Dense(1, 1)], seed=0)
    before = net.get_weights()
    with pytest.raises(synnet.DivergenceError, match="when this fit started"):
        net.fit(np.full((4, 1), 1e-3), np.full(4, 100.0), loss="mse",
                optimizer=synnet.SGD(lr=1e306), epochs=3, batch_size=None)
    for name, w in before.items():
        np.testing.assert_array_equal(net.params[name], w)


def test_setting_the_generator_reaches_dropout() -> None:
    net = synnet.Network([synnet.Dense(3, 4), synnet.Dropout(0.5), synnet.Dense(4, 1)], seed=0)
    X = np.ones((8, 3))

    def masked_output(seed: int) -> np.ndarray:
        net.rng = np.random.default_rng(seed)
        return net.forward(X, training=True)

    np.testing.assert_array_equal(masked_output(5), masked_output(5))
    assert not np.array_equal(masked_output(5), masked_output(6))


def test_the_public_training_step_is_loss_and_grads_without_the_checks() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    net = synnet.Network([synnet.Dense(3, 5, "relu"), synnet.Dense(5, 3, "softmax")], seed=0)
    value, grads = net.loss_and_grads(X, y, "categorical_crossentropy", l2=0.1)
    expected = {name: g.copy() for name, g in grads.items()}
    loss = synnet.CategoricalCrossEntropy()
    step_value, out = net.train_step(X, loss.prepare_targets(y, 3, X.dtype), loss, l2=0.1,
                                     want_output=True)
    assert step_value == value
    for name, g in expected.items():
        np.testing.assert_array_equal(net.grads[name], g)
    np.testing.assert_allclose(out, net.predict(X))
