"""ONNX export, checked by running every export in onnxruntime beside synnet's own predict.

Tolerances: float32 outputs agree to 1e-5 and float64 to 1e-9, relative to the
largest output of the batch (ONNX runtimes sum matrix products in their own
order, so outputs near zero differ in absolute, not relative, terms); labels
agree exactly.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import synnet  # noqa: E402
from synnet import Dense, Dropout, Network, Sigmoid, Tanh  # noqa: E402
from synnet.cli import main  # noqa: E402
from synnet.core.activations import ACTIVATIONS, Activation  # noqa: E402
from synnet.errors import ConfigError  # noqa: E402
from synnet.tabular.files import read_table  # noqa: E402
from synnet.tabular.model import Model  # noqa: E402
from synnet.tabular.preprocessing import Preprocessor  # noqa: E402
from synnet.tabular.target import TargetEncoder, check_classes  # noqa: E402

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}
KINDS = sorted({cls.kind for cls in ACTIVATIONS.values()})


def session(proto: Any) -> Any:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def assert_close(got: np.ndarray, want: np.ndarray, computed_in: Any = None) -> None:
    """Same dtype and shape; equal to RTOL (of the dtype the network computed in, by default
    the outputs') relative to the largest |want|."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape,
                                                                want.dtype, want.shape)
    rtol = RTOL[np.dtype(computed_in or want.dtype)]
    with np.errstate(under="ignore"):  # tiny probabilities times rtol
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(np.abs(want).max()))


# -- Network.to_onnx -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_every_activation_matches_predict(kind, dtype):
    # The activation in a hidden layer, as a bare layer, and at the output.
    net = Network([Dense(5, 16, kind), Dropout(0.3), Dense(16, 8), ACTIVATIONS[kind](),
                   Dense(8, 3, kind)], seed=3, dtype=dtype)
    proto = net.to_onnx()
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 2.0, (300, 5)).astype(dtype)
    X[0] = 40.0  # sigmoid, softmax and exp saturate or clip here
    X[1] = -40.0
    (got,) = session(proto).run(None, {"X": X})
    assert_close(got, net.predict(X))


def test_leaky_relu_alpha_and_no_bias_in_float64():
    net = Network([Dense(3, 6, synnet.LeakyReLU(0.3), bias=False), Dense(6, 2)], seed=0,
                  dtype=np.float64)
    X = np.random.default_rng(1).normal(size=(50, 3))
    (got,) = session(net.to_onnx()).run(None, {"X": X})
    assert_close(got, net.predict(X))


def test_batch_dimension_is_dynamic_and_the_file_is_written(tmp_path):
    net = Network([Dense(4, 8, "tanh"), Dense(8, 2, "sigmoid")], seed=0, dtype=np.float32)
    path = tmp_path / "net.onnx"
    proto = net.to_onnx(path, input_name="features", output_name="scores")
    assert onnx.load(path) == proto
    assert proto.ir_version == 8
    assert {(o.domain, o.version) for o in proto.opset_import} == {("", 17)}
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 4
    run = session(proto)
    for n in (1, 7, 1000):
        X = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
        assert_close(run.run(["scores"], {"features": X})[0], net.predict(X))


@pytest.mark.parametrize("names", [("X", "X"), ("", "y"), ("X", None)])
def test_bad_input_and_output_names_are_refused(names):
    with pytest.raises(ConfigError, match="name"):
        Network([Dense(2, 1)], seed=0).to_onnx(input_name=names[0], output_name=names[1])


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_opsets(opset):
    net = Network([Dense(4, 5, "softmax")], seed=0)
    proto = net.to_onnx(opset=opset)
    X = np.random.default_rng(0).normal(size=(9, 4))
    assert_close(session(proto).run(None, {"X": X})[0], net.predict(X))


@pytest.mark.parametrize("opset", [12, 99, 17.0, "17"])
def test_bad_opset_is_refused(opset):
    with pytest.raises(ConfigError, match="opset") as info:
        Network([Dense(2, 1)], seed=0).to_onnx(opset=opset)
    assert info.value.params == ("opset",)


class Swish(Activation):
    kind = "swish"

    def _apply(self, x, out):
        return x / (1.0 + np.exp(-x))


class MySigmoid(Sigmoid):
    """A subclass that changes the maths: ONNX cannot know it."""

    def _apply(self, x, out):
        return 0.5 * Tanh()(x) + 0.5


class Scale(synnet.Layer):
    kind = "scale"

    def forward(self, x, training=False):
        return 2 * x


@pytest.mark.parametrize("layers, named", [
    ([Dense(2, 3, Swish()), Dense(3, 1)], "Swish"),
    ([Dense(2, 3), MySigmoid(), Dense(3, 1)], "MySigmoid"),
    ([Dense(2, 3), Scale(), Dense(3, 1)], "Scale"),
])
def test_what_onnx_cannot_express_is_refused_by_name(layers, named, tmp_path):
    path = tmp_path / "x.onnx"
    with pytest.raises(ConfigError, match=f"cannot export to ONNX.*{named}"):
        Network(layers, seed=0).to_onnx(path)
    assert not path.exists()


# -- Model.to_onnx ---------------------------------------------------------------------------


def columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(5.0, 3.0, n), "count": rng.integers(0, 9, n),
            "city": rng.choice(np.array(["Paris", "Lyon", "Nice"], dtype=object), n)}


def feed(proto: Any, data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The ONNX inputs for named columns: numbers as double (n, 1), text as str (n, 1)."""
    feeds = {}
    for info in proto.graph.input:
        col = np.asarray(data[info.name])
        if info.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            col = np.array(["" if v is None else str(v) for v in col], dtype=object)
        else:
            col = col.astype(np.float64)
        feeds[info.name] = col.reshape(-1, 1)
    return feeds


def build_model(task: str, outputs: int, out_act: str, dtype: Any, *, classes: Any = None,
                preprocess: bool = True) -> tuple[Model, dict[str, np.ndarray]]:
    """An (untrained) model over three columns; the export does not care about training."""
    data = columns(200, 0)
    pre = Preprocessor().fit(data) if preprocess else None
    n_in = pre.n_outputs if pre is not None else 2
    net = Network([Dense(n_in, 16, "relu"), Dense(16, outputs, out_act)], seed=2, dtype=dtype)
    target = TargetEncoder(task, "y")
    if task == "classification":
        target.classes = check_classes(classes)
    else:
        target.mean, target.scale = [10.0] * outputs, [3.0] * outputs
    if pre is None:
        data = {"X": np.column_stack([data["x"], data["count"]]).astype(dtype)}
    return Model(net, pre, target), data


def run_model(model: Model, data: dict[str, np.ndarray]) -> tuple[Any, ...]:
    proto = model.to_onnx()
    feeds = feed(proto, data) if model.preprocessor is not None else data
    got = session(proto).run(None, feeds)
    want = model.predict_with_proba(data["X"] if model.preprocessor is None else data)
    return got, want


CLASSIFIERS = [
    ("binary sigmoid", 1, "sigmoid", ["no", "yes"]),
    ("binary logits", 1, "identity", [0, 1]),
    ("multiclass softmax", 3, "softmax", ["a", "b", "c"]),
    ("two softmax units", 2, "softmax", ["a", "b"]),
    ("multiclass logits", 4, "identity", [1.5, 2.5, 7.0, 9.0]),
    ("booleans", 1, "sigmoid", [False, True]),
    ("multilabel", 3, "sigmoid", ["red", "green", "blue"]),
]


@pytest.mark.parametrize("preprocess", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, outputs, act, classes", CLASSIFIERS)
def test_classifier_labels_and_probabilities(name, outputs, act, classes, dtype, preprocess):
    model, data = build_model("classification", outputs, act, dtype, classes=classes,
                              preprocess=preprocess)
    (label, proba), (want_label, want_proba) = run_model(model, data)
    assert_close(proba, want_proba)
    if model.multilabel:
        assert label.dtype == np.int64
    np.testing.assert_array_equal(label, want_label)
    assert label.dtype == want_label.dtype


@pytest.mark.parametrize("preprocess", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("outputs, act", [(1, "identity"), (2, "identity"), (1, "exponential")])
def test_regression_in_target_units(outputs, act, dtype, preprocess):
    model, data = build_model("regression", outputs, act, dtype, preprocess=preprocess)
    (pred,), (want, _) = run_model(model, data)
    # Decoded to float64 from the network's output, which is float32 for float32 inputs.
    assert_close(pred, want, computed_in=np.float64 if preprocess else dtype)


def test_model_without_target_gives_the_network_output():
    model, data = build_model("regression", 2, "identity", np.float64)
    model.target = None
    proto = model.to_onnx()
    assert [o.name for o in proto.graph.output] == ["output"]
    (got,) = session(proto).run(None, feed(proto, data))
    assert_close(got, model.predict(data))


def test_a_column_kind_the_export_does_not_know_is_refused_by_name():
    model, _ = build_model("regression", 1, "identity", np.float64)
    model.preprocessor.columns[0] = {**model.preprocessor.columns[0], "kind": "date"}
    with pytest.raises(ConfigError, match=r"'x'.*'date'"):
        model.to_onnx()


@pytest.mark.parametrize("where", ["column", "preprocessing", "target"])
def test_settings_the_export_does_not_read_are_refused_not_ignored(where, monkeypatch):
    # e.g. rare-category grouping fitted by a newer preprocessing: exporting the
    # column without it would give other numbers than predict.
    model, _ = build_model("classification", 3, "softmax", np.float64, classes=[1, 2, 3])
    if where == "column":
        model.preprocessor.columns[2] = {**model.preprocessor.columns[2], "rare": ["Nice"]}
    else:
        part = model.preprocessor if where == "preprocessing" else model.target
        config = part.to_config()
        monkeypatch.setattr(part, "to_config", lambda: {**config, "rare": ["Nice"]})
    with pytest.raises(ConfigError, match="'rare'"):
        model.to_onnx()


def test_a_column_named_like_an_output_is_refused():
    data = {"label": np.arange(10.0), "z": np.arange(10.0) ** 2}
    pre = Preprocessor().fit(data)
    model = Model(Network([Dense(2, 1)], seed=0), pre, None)
    with pytest.raises(ConfigError, match="'label'"):
        model.to_onnx()


def test_column_names_with_spaces_slashes_and_accents():
    data = {"a b/c": np.arange(6.0), "é x": np.array(["u", "v", "u", "v", "w", "u"], dtype=object),
            "mean": np.arange(6.0) ** 2}  # the name of a constant the graph also uses
    pre = Preprocessor().fit(data)
    model = Model(Network([Dense(pre.n_outputs, 2, "tanh")], seed=0), pre, None)
    proto = model.to_onnx()
    assert [i.name for i in proto.graph.input] == list(data)
    (got,) = session(proto).run(None, feed(proto, data))
    assert_close(got, model.predict(data))


def test_imputing_model_fills_nan_and_empty_text_as_predict_fills_missing_values():
    data = columns(100, 1)
    data["x"][[3, 5]] = np.nan
    data["city"][[4, 6]] = None
    pre = Preprocessor(impute="median").fit(data)
    net = Network([Dense(pre.n_outputs, 4, "tanh"), Dense(4, 3, "softmax")], seed=0)
    target = TargetEncoder("classification", "y")
    target.classes = check_classes([1, 2, 3])
    model = Model(net, pre, target)
    new = columns(60, 2)
    new["x"][[0, 9]] = np.nan
    new["city"][[1, 2]] = None
    new["city"][[7, 8]] = "Marseille"  # unseen: all zeros, as predict does
    with pytest.warns(UserWarning, match="Marseille"):
        want_label, want_proba = model.predict_with_proba(new)
    proto = model.to_onnx()
    label, proba = session(proto).run(None, feed(proto, new))
    assert_close(proba, want_proba)
    np.testing.assert_array_equal(label, want_label)


# -- a model trained by the command line ----------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def table(n: int, seed: int, cities: list[str]) -> tuple[list[str], list[list[Any]]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).round(3)
    count = rng.integers(0, 10, n)
    city = rng.choice(cities, n)
    colour = rng.choice(["red", "green"], n)
    label = np.where(x + (city == cities[0]) > 0.3, "yes", np.where(count > 5, "maybe", "no"))
    score = (2.0 * x + 0.1 * count + (colour == "red")).round(4)
    rows = [[x[i], count[i], city[i], colour[i], label[i], score[i]] for i in range(n)]
    return ["x", "count", "city", "colour", "label", "score"], rows


@pytest.mark.parametrize("target, drop, dtype", [("label", "score", "float32"),
                                                 ("score", "label", "float64")])
def test_cli_model_with_text_columns_and_unseen_categories(tmp_path, capsys, target, drop,
                                                           dtype):
    train = write_csv(tmp_path / "train.csv", *table(120, 0, ["Paris", "Lyon", "Nice"]))
    new = write_csv(tmp_path / "new.csv", *table(40, 1, ["Paris", "Lyon", "Brest", "Nice"]))
    model_path, onnx_path = tmp_path / "m.synnet", tmp_path / "m.onnx"
    assert main(["train", str(train), "-t", target, "--drop", drop, "-o", str(model_path),
                 "--epochs", "5", "--seed", "1", "--dtype", dtype, "-q"]) == 0
    assert main(["export", str(model_path), "-o", str(onnx_path)]) == 0
    assert "ONNX model written" in capsys.readouterr().err
    model = synnet.load(model_path)
    data = read_table(new).columns
    assert "Brest" in set(data["city"])
    with pytest.warns(UserWarning, match="Brest"):
        want, want_proba = model.predict_with_proba(data)
    proto = onnx.load(onnx_path)
    assert [i.name for i in proto.graph.input] == ["x", "count", "city", "colour"]
    got = session(proto).run(None, feed(proto, data))
    if target == "label":
        np.testing.assert_array_equal(got[0], want.astype(object))
        assert_close(got[1], want_proba)
    else:
        assert_close(got[0], want)


def test_cli_model_with_grouped_categories_and_imputation(tmp_path, capsys):
    """Infrequent categories share one input (and the fill may be one of them)."""
    cities = [f"city{k:02d}" for k in range(12)]
    header, rows = table(300, 0, cities)
    for i in range(0, 300, 17):
        rows[i][2] = ""  # missing: imputed with the most frequent city
    train = write_csv(tmp_path / "train.csv", header, rows)
    new = write_csv(tmp_path / "new.csv", *table(60, 1, [*cities, "Brest"]))
    model_path, onnx_path = tmp_path / "m.synnet", tmp_path / "m.onnx"
    for grouping in (["--max-categories", "4"], ["--max-categories", "1"]):
        assert main(["train", str(train), "-t", "label", "--drop", "score", "-o",
                     str(model_path), "--epochs", "3", "--seed", "1", "-q", "--impute",
                     "most_frequent", *grouping]) == 0
        assert main(["export", str(model_path), "-o", str(onnx_path)]) == 0
        capsys.readouterr()
        model = synnet.load(model_path)
        city = model.preprocessor.columns[2]
        assert city["infrequent"] and len(city["categories"]) == int(grouping[1]) - 1
        data = read_table(new).columns
        data["city"][[3, 9]] = None
        with pytest.warns(UserWarning, match="Brest"):
            want, want_proba = model.predict_with_proba(data)
        proto = onnx.load(onnx_path)
        got = session(proto).run(None, feed(proto, data))
        np.testing.assert_array_equal(got[0], want.astype(object))
        assert_close(got[1], want_proba)


def test_cli_export_errors(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", *table(40, 0, ["Paris", "Lyon"]))
    model_path = tmp_path / "m.synnet"
    assert main(["train", str(train), "-t", "label", "-o", str(model_path), "--epochs", "1",
                 "-q"]) == 0
    capsys.readouterr()
    assert main(["export", str(model_path), "-o", str(tmp_path / "m.onnx"),
                 "--opset", "9"]) == 2
    err = capsys.readouterr().err
    assert "opset" in err and "--opset" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(model_path), "-o", str(tmp_path / "no" / "m.onnx")]) == 2
    assert main(["export", str(tmp_path / "absent.synnet"), "-o", str(tmp_path / "m.onnx")]) == 2
    before = model_path.read_bytes()
    assert main(["export", str(model_path), "-o", str(model_path)]) == 2
    assert "is the MODEL file itself" in capsys.readouterr().err
    assert model_path.read_bytes() == before


def test_cli_export_to_stdout(tmp_path):
    train = write_csv(tmp_path / "train.csv", *table(40, 0, ["Paris", "Lyon"]))
    model_path, onnx_path = tmp_path / "m.synnet", tmp_path / "m.onnx"
    assert main(["train", str(train), "-t", "label", "-o", str(model_path), "--epochs", "1",
                 "-q"]) == 0
    assert main(["export", str(model_path), "-o", str(onnx_path)]) == 0
    done = subprocess.run([sys.executable, "-m", "synnet", "export", str(model_path), "-o", "-"],
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert onnx.load_from_string(done.stdout) == onnx.load(onnx_path)


def test_without_onnx_the_error_names_the_extra(tmp_path, capsys, monkeypatch):
    train = write_csv(tmp_path / "train.csv", *table(40, 0, ["Paris", "Lyon"]))
    model_path = tmp_path / "m.synnet"
    assert main(["train", str(train), "-t", "label", "-o", str(model_path), "--epochs", "1",
                 "-q"]) == 0
    capsys.readouterr()
    for name in [m for m in sys.modules if m == "synnet.onnx" or m.startswith("synnet.onnx.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(ImportError, match=r"synnet\[onnx\]"):
        Network([Dense(2, 1)], seed=0).to_onnx()
    assert main(["export", str(model_path), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "synnet[onnx]" in err and "Traceback" not in err
