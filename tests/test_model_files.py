"""Model files: round trips, atomic saving, and the loader's refusals (one case each)."""

from __future__ import annotations

import io
import json
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import synnet
from synnet.errors import ConfigError, ModelFileError
from synnet.io import load_model, reader, save_model, writer
from synnet.tabular.model import Model, load
from synnet.tabular.preprocessing import Preprocessor
from synnet.tabular.target import TargetEncoder


def classes(labels: list) -> TargetEncoder:
    """A classification target with these labels."""
    return TargetEncoder.from_config({"task": "classification", "classes": labels})

def small_network(dtype: str = "float64", seed: int = 0) -> synnet.Network:
    return synnet.Network([synnet.Dense(3, 5, "leaky_relu"), synnet.Dropout(0.25),
                           synnet.Dense(5, 2, "softmax")], seed=seed, dtype=dtype)


def trained_network(dtype: str = "float64") -> synnet.Network:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3)).astype(dtype)
    y = (X[:, 0] > 0).astype(int)
    net = small_network(dtype)
    net.fit(X, y, "categorical_crossentropy", "adam", epochs=3, batch_size=8,
            validation_split=0.25, metrics=["accuracy"])
    return net


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(path: Path, files: dict[str, bytes],
                  compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network_round_trip_keeps_weights_dtype_loss_and_history(tmp_path, dtype):
    net = trained_network(dtype)
    path = tmp_path / "net.synnet"
    save_model(path, net)
    loaded = load_model(path).network
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert repr(loaded) == repr(net)
    for name, value in net.params.items():
        assert loaded.params[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded.params[name], value)
    assert loaded.loss is not None and loaded.loss.name == "categorical_crossentropy"
    assert loaded.epochs_trained == 3
    assert loaded.history is not None and net.history is not None
    assert loaded.history.epoch == net.history.epoch
    assert loaded.history.history == net.history.history
    X = np.random.default_rng(2).normal(size=(7, 3)).astype(dtype)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_same_model_gives_the_same_bytes(tmp_path):
    net = small_network()
    save_model(tmp_path / "a.synnet", net)
    save_model(tmp_path / "b.synnet", net)
    assert (tmp_path / "a.synnet").read_bytes() == (tmp_path / "b.synnet").read_bytes()


def test_optimizer_state_and_extras_round_trip_and_training_resumes_identically(tmp_path):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    net = synnet.Network([synnet.Dense(3, 4, "tanh"), synnet.Dense(4, 2, "softmax")], seed=5)
    net.fit(X, y, "categorical_crossentropy", synnet.Adam(lr=0.01), epochs=2, batch_size=32,
            shuffle=False)
    path = tmp_path / "ckpt.synnet"
    save_model(path, net, optimizer=net.optimizer, extra={"epoch": 2, "note": "resume"},
               extra_arrays={"order": np.arange(5), "mask": np.array([True, False])})
    loaded = load_model(path)
    assert loaded.extra == {"epoch": 2, "note": "resume"}
    np.testing.assert_array_equal(loaded.extra_arrays["order"], np.arange(5))
    assert loaded.extra_arrays["mask"].dtype == bool
    opt = loaded.optimizer
    assert isinstance(opt, synnet.Adam) and opt.iterations == 2 and opt.lr == 0.01
    # One more step from the file gives exactly what one more step in memory gives.
    net.fit(X, y, epochs=1, batch_size=32, shuffle=False)
    loaded.network.fit(X, y, epochs=1, batch_size=32, shuffle=False)
    for name in net.params:
        np.testing.assert_array_equal(loaded.network.params[name], net.params[name])


def test_model_with_preprocessing_and_labels_round_trips(tmp_path):
    cols = {"size": np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            "colour": np.array(["red", "blue", "red", "green", "blue", "red"], dtype=object)}
    labels = np.array(["cat", "dog", "cat", "dog", "dog", "cat"], dtype=object)
    pre = Preprocessor().fit(cols)
    target = TargetEncoder("classification", "animal").fit(labels)
    net = synnet.Network([synnet.Dense(pre.n_outputs, 1, "sigmoid")], seed=0)
    model = Model(net, pre, target, metadata={"feature_names": ["size", "colour"]})
    path = tmp_path / "m.synnet"
    model.save(path)
    loaded = synnet.load(path)
    assert loaded.task == "classification"
    assert list(loaded.classes) == ["cat", "dog"]
    assert loaded.feature_names == ["size", "colour"]
    np.testing.assert_array_equal(loaded.predict_proba(cols), model.predict_proba(cols))
    assert set(loaded.predict(cols)) <= {"cat", "dog"}
    proba = loaded.predict_proba(cols)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_a_target_config_and_feature_names_make_a_model(tmp_path):
    net = synnet.Network([synnet.Dense(2, 3, "softmax")], seed=0)
    path = tmp_path / "sk.synnet"
    save_model(path, net, target=classes([3, 5, 9]),
               metadata={"feature_names": ["a", "b"], "alpha": np.float64(1e-4)})
    model = load(path)
    assert model.task == "classification"
    assert model.classes.tolist() == [3, 5, 9]
    assert model.metadata["alpha"] == 1e-4
    pred = model.predict({"a": np.array([0.1, 2.0]), "b": np.array([1.0, -1.0])})
    assert set(pred.tolist()) <= {3, 5, 9}


def test_save_refuses_inconsistent_or_non_json_parts(tmp_path):
    net = synnet.Network([synnet.Dense(2, 3, "softmax")], seed=0)
    target = TargetEncoder.from_config({"task": "classification", "classes": list("abcd")})
    with pytest.raises(ConfigError, match=r"4 classes but the network has 3 outputs"):
        Model(net, target=target).save(tmp_path / "x.synnet")
    with pytest.raises(ConfigError, match="JSON"):
        save_model(tmp_path / "x.synnet", net, metadata={"f": object()})
    net.params["0.W"][0, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        save_model(tmp_path / "x.synnet", net)
    assert not list(tmp_path.iterdir())


# -- atomic saving ----------------------------------------------------------------------


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.synnet"
    save_model(path, small_network(seed=1))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.npformat, "write_array", broken)
    with pytest.raises(OSError, match="No space"):
        save_model(path, small_network(seed=2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.synnet"]


def test_save_fsyncs_then_replaces(tmp_path, monkeypatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"),
                                                     real_replace(a, b))[1])
    save_model(tmp_path / "m.synnet", small_network())
    assert calls[:2] == ["fsync", "replace"]


def test_save_to_a_folder_is_an_error(tmp_path):
    with pytest.raises(IsADirectoryError):
        save_model(tmp_path, small_network())


# -- the loader's refusals --------------------------------------------------------------


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "good.synnet"
    save_model(path, small_network())
    return path


def rewrite_header(path: Path, change) -> Path:
    files = members(path)
    header = json.loads(files["header.json"])
    change(header)
    files["header.json"] = json.dumps(header).encode()
    return write_members(path, files)


def test_newer_format_version_names_the_supported_one(saved):
    rewrite_header(saved, lambda h: h.update(format_version=2, library_version="9.0"))
    with pytest.raises(ModelFileError, match=r"version 2.*reads format version 1.*upgrade"):
        load_model(saved)


def test_pickle_file_is_refused_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "evil.synnet"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"hello, world\n", b"PK\x03\x04garbage"])
def test_foreign_or_empty_files(tmp_path, content):
    path = tmp_path / "x.synnet"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_zip_without_header_is_foreign(tmp_path):
    path = write_members(tmp_path / "x.zip", {"data.txt": b"hi"})
    with pytest.raises(ModelFileError, match="not a synnet model"):
        load_model(path)


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(saved)


def test_nan_weight_is_refused(saved):
    files = members(saved)
    w = np.lib.format.read_array(io.BytesIO(files["params/0.W.npy"]))
    w = w.copy()
    w[1, 1] = np.nan
    files["params/0.W.npy"] = npy(w)
    write_members(saved, files)
    with pytest.raises(ModelFileError, match="NaN or inf"):
        load_model(saved)


def test_wrong_shape_is_refused(saved):
    files = members(saved)
    files["params/0.W.npy"] = npy(np.zeros((5, 3)))
    write_members(saved, files)
    with pytest.raises(ModelFileError, match=r"params/0\.W"):
        load_model(saved)


def test_object_array_is_refused_without_unpickling(saved, monkeypatch):
    files = members(saved)
    files["params/0.b.npy"] = npy(np.array([{"x": 1}] * 5, dtype=object), allow_pickle=True)
    write_members(saved, files)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(ModelFileError):
        load_model(saved)


@pytest.mark.parametrize("name", ["../evil.npy", "/etc/passwd", "params/../../x.npy",
                                  "params/0.W.npy/extra"])
def test_extra_members_with_path_tricks_are_refused(saved, name, tmp_path):
    files = members(saved)
    files[name] = npy(np.zeros(3))
    write_members(saved, files)
    with pytest.raises(ModelFileError, match="unexpected members"):
        load_model(saved)
    assert not (tmp_path.parent / "evil.npy").exists()


def test_missing_member_is_refused(saved):
    files = members(saved)
    del files["params/2.b.npy"]
    write_members(saved, files)
    with pytest.raises(ModelFileError, match="missing members"):
        load_model(saved)


def test_compressed_members_are_refused(saved):
    write_members(saved, members(saved), compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="compressed"):
        load_model(saved)


def test_oversized_header_is_refused_before_reading(saved, monkeypatch):
    monkeypatch.setattr(reader, "MAX_HEADER_BYTES", 64)
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a: pytest.fail("read the header"))
    with pytest.raises(ModelFileError, match=r"header\.json is .* bytes"):
        load_model(saved)


def test_oversized_member_is_refused(saved):
    files = members(saved)
    files["params/0.b.npy"] += b"\0" * 10_000
    write_members(saved, files)
    with pytest.raises(ModelFileError, match="bytes"):
        load_model(saved)


def test_file_larger_than_max_bytes_is_refused(saved):
    with pytest.raises(ModelFileError, match="allowed"):
        load_model(saved, max_bytes=100)


def test_huge_declared_layer_is_refused_before_allocating(saved):
    def grow(h):
        h["network"]["layers"][0]["out_features"] = 10**9
        h["network"]["layers"][2]["in_features"] = 10**9
    rewrite_header(saved, grow)
    with pytest.raises(ModelFileError, match="more than the file holds"):
        load_model(saved)


@pytest.mark.parametrize("change, message", [
    (lambda h: h["network"]["layers"][0].update(kind="lambda"), "unknown layer kind"),
    (lambda h: h["network"]["layers"][0]["activation"].update(kind="eval"), "activation"),
    (lambda h: h["network"]["layers"][0].update(code="import os"), "layer 0"),
    (lambda h: h.update(loss="__import__('os')"), "unknown loss"),
    (lambda h: h.update(format="keras"), "not a synnet model"),
    (lambda h: h.update(surprise=1), "header keys"),
    (lambda h: h.update(format_version=True), "format_version"),
    (lambda h: h["arrays"]["params/0.W"].update(dtype="|O"), "dtype"),
    (lambda h: h["arrays"]["params/0.W"].update(shape=[3, 6]), "manifest"),
    (lambda h: h.update(preprocessing={"impute": None, "columns": "x"}), "columns"),
])
def test_bad_header_fields_are_refused(saved, change, message):
    rewrite_header(saved, change)
    with pytest.raises(ModelFileError, match=message):
        load(saved)  # the reader, then the preprocessing and target checks


def test_nan_literal_in_header_json_is_refused(saved):
    files = members(saved)
    files["header.json"] = files["header.json"].replace(b'"epochs_trained": 0',
                                                        b'"epochs_trained": NaN')
    assert b"NaN" in files["header.json"]
    write_members(saved, files)
    with pytest.raises(ModelFileError, match="non-finite"):
        load_model(saved)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.synnet")


def test_multilabel_model_from_metadata_predicts_an_indicator_matrix(tmp_path):
    net = synnet.Network([synnet.Dense(2, 3, "sigmoid")], seed=0)
    path = tmp_path / "ml.synnet"
    save_model(path, net, target=classes([0, 1, 2]))
    model = load(path)
    X = np.array([[0.5, -1.0], [2.0, 0.1]])
    assert model.multilabel
    out = net.predict(X)
    np.testing.assert_array_equal(model.predict_proba(X), out)
    np.testing.assert_array_equal(model.predict(X), (out > 0.5).astype(int))


def test_model_predicts_from_a_dataframe_with_missing_and_nullable_values(tmp_path):
    pd = pytest.importorskip("pandas")
    cols = {"n": np.array([1.0, 2.0, 3.0, 4.0]),
            "c": np.array(["a", "b", "a", "b"], dtype=object)}
    pre = Preprocessor(impute="most_frequent").fit(cols)
    net = synnet.Network([synnet.Dense(pre.n_outputs, 1)], seed=0)
    model = Model(net, pre, TargetEncoder("regression"))
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"),
                          "c": pd.array(["b", None], dtype="string")})
    expected = model.predict({"n": np.array([1.0, 1.0]),
                              "c": np.array(["b", "a"], dtype=object)})
    np.testing.assert_array_equal(model.predict(frame), expected)


def test_loader_caps_the_total_weights_a_header_declares(tmp_path: Path) -> None:
    """60 layers of 500 x 500, each alone small enough for the file, together 120 MB."""
    k = 500
    layers = [{"kind": "dense", "in_features": k, "out_features": k,
               "activation": {"kind": "identity"}, "bias": True} for _ in range(60)]
    header = json.dumps({"format": "synnet-model", "format_version": 1,
                         "library_version": "0", "arrays": {},
                         "network": {"layers": layers, "dtype": "float64"}})
    header += " " * ((k + 1) * k * 8 + 1000 - len(header))  # room for one layer's weights
    path = tmp_path / "bomb.synnet"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("header.json", header)
    tracemalloc.start()
    try:
        with pytest.raises(synnet.ModelFileError, match=r"declare .* bytes of weights"):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


# -- save and load accept the same layers ------------------------------------------------


def test_a_bare_activation_layer_trains_saves_and_loads(tmp_path):
    X = np.random.default_rng(0).normal(size=(32, 3))
    net = synnet.Network([synnet.Dense(3, 4), synnet.ReLU(), synnet.Dense(4, 1),
                          ], seed=0)
    net.fit(X, X.sum(axis=1), loss="mse", epochs=3)
    net.save(tmp_path / "relu.synnet")
    loaded = synnet.Network.load(tmp_path / "relu.synnet")
    assert [type(layer) for layer in loaded.layers] == [synnet.Dense, synnet.ReLU, synnet.Dense]
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    leaky = synnet.Network([synnet.Dense(3, 4), synnet.LeakyReLU(0.2), synnet.Dense(4, 1)])
    leaky.save(tmp_path / "leaky.synnet")
    assert synnet.Network.load(tmp_path / "leaky.synnet").layers[1].get_config() == {
        "kind": "leaky_relu", "alpha": 0.2}


class Doubler(synnet.Layer):
    kind = "doubler"

    def forward(self, x, training=False):
        return 2 * x


class Swish(synnet.Activation):
    kind = "swish"

    def _apply(self, x, out):
        return x * synnet.Sigmoid()(x)


class WideDense(synnet.Dense):
    """A subclass that would load back as a plain Dense."""


@pytest.mark.parametrize("layers, message", [
    (lambda: [synnet.Dense(3, 3), Doubler(), synnet.Dense(3, 1)], r"layer 1 \(Doubler\)"),
    (lambda: [synnet.Dense(3, 1, Swish())], "unknown activation"),
    (lambda: [WideDense(3, 1)], "would load back as a Dense"),
])
def test_the_writer_refuses_what_the_reader_would_refuse(tmp_path, layers, message):
    net = synnet.Network(layers(), seed=0)
    with pytest.raises(ConfigError, match=message):
        net.save(tmp_path / "x.synnet")
    assert list(tmp_path.iterdir()) == []


def test_predict_with_proba_gives_both_in_one_pass(tmp_path):
    net = synnet.Network([synnet.Dense(2, 3, "softmax")], seed=0)
    save_model(tmp_path / "m.synnet", net, target=classes(["a", "b", "c"]))
    model = load(tmp_path / "m.synnet")
    X = np.random.default_rng(1).normal(size=(5, 2))
    labels, proba = model.predict_with_proba(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(proba, model.predict_proba(X))
    regression = Model(synnet.Network([synnet.Dense(2, 1)], seed=0))
    values, none = regression.predict_with_proba(X)
    assert none is None and values.shape == (5, 1)


def test_what_save_model_refuses_is_refused_before_writing(tmp_path):
    net = synnet.Network([synnet.Dense(2, 1, "sigmoid")], seed=0)
    path = tmp_path / "x.synnet"
    with pytest.raises(ConfigError, match="5 classes but the network has 1 outputs"):
        net.save(path, target=classes([1, 2, 3, 4, 5]))
    pre = Preprocessor().fit({"a": np.array([1.0, 2.0]), "b": np.array([0.0, 1.0]),
                              "c": np.array([3.0, 4.0])})
    with pytest.raises(ConfigError, match="produces 3 features but the network has 2 inputs"):
        save_model(path, net, preprocessor=pre)
    with pytest.raises(ConfigError, match=r"metadata\['task'\] does not set the model's target"):
        save_model(path, net, metadata={"task": "classification", "classes": [0, 1]})
    assert list(tmp_path.iterdir()) == []


def test_big_integer_class_labels_and_missing_history_values_round_trip(tmp_path):
    net = synnet.Network([synnet.Dense(2, 1, "sigmoid")], seed=0)
    labels = [2**60, 2**60 + 1]
    save_model(tmp_path / "b.synnet", net, target=classes(labels),
               history={"loss": [1.0, None, float("inf")]})
    model = load(tmp_path / "b.synnet")
    assert model.classes.tolist() == labels
    logs = model.network.history.history["loss"]
    assert logs[0] == 1.0 and np.isnan(logs[1]) and logs[2] == np.inf


def test_a_loss_with_another_reduction_is_not_stored_under_its_name(tmp_path):
    X = np.ones((4, 2))
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    net.fit(X, np.ones(4), loss=synnet.MeanSquaredError(reduction="sum"), epochs=1)
    assert repr(net.loss) == "MeanSquaredError(reduction='sum')"
    net.save(tmp_path / "r.synnet")
    assert synnet.Network.load(tmp_path / "r.synnet").loss is None  # not a "mean" mse
