"""Every bad input gets a clear error, raised before any work starts."""

from __future__ import annotations

import numpy as np
import pytest

import synnet
from synnet.errors import ConfigError, DataError


def _net(k: int = 1, act: str = "sigmoid") -> synnet.Network:
    return synnet.Network([synnet.Dense(3, 4, "tanh"), synnet.Dense(4, k, act)], seed=0)


X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y = np.array([0.0, 0.0, 1.0, 1.0])


def _untouched(net: synnet.Network):  # type: ignore[no-untyped-def]
    before = net.get_weights()

    def check() -> None:
        for name, w in before.items():
            np.testing.assert_array_equal(net.params[name], w)
        assert net.epochs_trained == 0

    return check


@pytest.mark.parametrize("X_bad,y_bad,match", [
    (X[:3], Y, "3 rows but its targets have 4"),
    (np.ones((4, 2)), Y, "2 features but the network expects 3"),
    (np.where(X == 1, np.nan, X), Y, r"NaN or inf \(first at row 0, column 2\)"),
    (np.where(X == 1, np.inf, X), Y, "NaN or inf"),
    (X, np.array([0.0, np.nan, 1.0, 1.0]), "y contains NaN or inf"),
    (np.empty((0, 3)), np.empty(0), "empty"),
    (X[0], Y, "must be 2-D"),
    (np.array([["a", "b", "c"]] * 4), Y, "must be numeric"),
    (X, np.array(["a", "b", "a", "b"]), "y must be numeric"),
    (X, np.ones((4, 2)), r"y has shape \(4, 2\) but the network has 1 output"),
])
def test_bad_data(X_bad, y_bad, match: str) -> None:
    net = _net()
    check = _untouched(net)
    with pytest.raises(DataError, match=match):
        net.fit(X_bad, y_bad, loss="mse", epochs=3)
    check()


def test_layer_sizes_must_chain() -> None:
    with pytest.raises(ConfigError, match=r"layer 1 .*expects 5 inputs but the layer before"):
        synnet.Network([synnet.Dense(3, 4), synnet.Dense(5, 1)])


@pytest.mark.parametrize("make,match", [
    (lambda: synnet.Dense(3, 4, activation="swish"), "unknown activation 'swish'; known: "),
    (lambda: synnet.Dense(3, 4, init="orthogonal"), "unknown initializer 'orthogonal'; known"),
    (lambda: synnet.Dense(0, 4), "in_features must be >= 1"),
    (lambda: synnet.Dense(3, 2.5), "out_features must be an int >= 1"),
    (lambda: synnet.Dropout(1.0), r"dropout rate must be a finite number in \[0.0, 1.0\)"),
    (lambda: synnet.Dropout(-0.1), "dropout rate"),
    (lambda: synnet.Network([]), "at least one layer"),
    (lambda: synnet.Network([synnet.Dropout(0.1)]), "at least one Dense"),
    (lambda: synnet.Network([synnet.Dense(3, 1)], dtype="int32"), "float32 or float64"),
    (lambda: synnet.EarlyStopping(mode="up"), "unknown mode .up.; known: auto, max, min"),
])
def test_bad_configuration(make, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("kwargs,match", [
    ({"loss": "hinge"}, "unknown loss 'hinge'; known: .*mse"),
    ({"loss": "mse", "batch_size": 0}, "batch_size must be >= 1"),
    ({"loss": "mse", "epochs": -1}, "epochs must be >= 0"),
    ({"loss": "mse", "validation_split": 1.0},
     r"validation_split must be a finite number in \[0.0, 1.0\)"),
    ({"loss": "mse", "metrics": ["f1"]}, "unknown metric 'f1'"),
    ({"loss": "mse", "l2": -1.0}, "l2 must be"),
    ({"loss": "mse", "optimizer": synnet.SGD(lr=0.1), "validation_split": 0.5,
      "validation_data": (X, Y)}, "not both"),
    ({}, "no loss given"),
    ({"loss": "categorical_crossentropy"}, "needs an output layer with >= 2 units"),
    ({"loss": "binary_crossentropy", "metrics": []}, None),  # valid: control case
])
def test_bad_fit_arguments(kwargs, match: str | None) -> None:
    net = _net()
    check = _untouched(net)
    kwargs = {"epochs": 1, **kwargs}
    if match is None:
        net.fit(X, Y, **kwargs)
        return
    with pytest.raises(ConfigError, match=match):
        net.fit(X, Y, **kwargs)
    check()


def test_bad_targets_for_the_loss() -> None:
    with pytest.raises(DataError, match=r"targets in \[0, 1\]"):
        _net().fit(X, Y * 2, loss="binary_crossentropy")
    with pytest.raises(DataError, match=r"class labels must be in \[0, 3\)"):
        _net(3, "softmax").fit(X, np.array([0, 1, 2, 3]), loss="categorical_crossentropy")
    with pytest.raises(DataError, match="integer class labels"):
        _net(3, "softmax").fit(X, np.array([0.5, 1, 2, 0]), loss="categorical_crossentropy")
    with pytest.raises(DataError, match="Poisson loss needs targets >= 0"):
        _net(1, "exponential").fit(X, -Y - 1, loss="poisson")


def test_bad_sample_weight() -> None:
    with pytest.raises(DataError, match=r"sample_weight must have shape \(4,\)"):
        _net().fit(X, Y, loss="mse", sample_weight=[1, 2])
    with pytest.raises(DataError, match="finite and >= 0"):
        _net().fit(X, Y, loss="mse", sample_weight=[1, -2, 1, 1])
    with pytest.raises(DataError, match="zero for every sample"):
        _net().fit(X, Y, loss="mse", sample_weight=[0, 0, 0, 0])


def test_predict_checks_features() -> None:
    with pytest.raises(DataError, match="4 features but the network expects 3"):
        _net().predict(np.ones((2, 4)))
    with pytest.raises(DataError, match="NaN or inf"):
        _net().predict(np.array([[0.0, np.inf, 1.0]]))


def test_errors_are_value_errors_too() -> None:
    assert issubclass(DataError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(synnet.DivergenceError, ArithmeticError)
    with pytest.raises(TypeError, match="not a synnet Layer"):
        synnet.Network([object()])  # type: ignore[list-item]


def test_bad_validation_data_is_checked_before_training() -> None:
    net = _net()
    check = _untouched(net)
    with pytest.raises(DataError, match="X_val has 2 features"):
        net.fit(X, Y, loss="mse", validation_data=(np.ones((2, 2)), [0, 1]))
    check()


def test_a_network_ending_in_another_layer_predicts_but_does_not_train(tmp_path) -> None:
    net = synnet.Network([synnet.Dense(2, 3), synnet.Dense(3, 1), synnet.Dropout(0.5)], seed=0)
    X = np.ones((4, 2))
    out = net.predict(X)  # inference: dropout is the identity
    net.save(tmp_path / "n.synnet")  # files like this were written by 0.1.0: they must load
    np.testing.assert_array_equal(synnet.Network.load(tmp_path / "n.synnet").predict(X), out)
    before = net.get_weights()
    with pytest.raises(synnet.ConfigError, match="training needs a Dense last layer"):
        net.fit(X, np.ones(4), loss="mse", epochs=1)
    assert net.epochs_trained == 0 and all(
        np.array_equal(net.params[k], v) for k, v in before.items())


@pytest.mark.parametrize("make", [
    lambda: synnet.Dropout(10**400), lambda: synnet.SGD(lr=10**400),
    lambda: synnet.Adam(beta_1=float("nan")), lambda: synnet.LeakyReLU(alpha=-1)])
def test_every_range_check_gives_a_config_error(make) -> None:
    with pytest.raises(synnet.ConfigError, match="must be a finite number in"):
        make()


def test_zero_dimensional_arrays_count_as_numbers() -> None:
    X = np.ones((4, 2))
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    net.fit(X, np.ones(4), loss="mse", epochs=1, l2=np.array(0.1),
            optimizer=synnet.SGD(lr=np.array(0.01)))
    assert net.optimizer is not None and net.optimizer.lr == 0.01
