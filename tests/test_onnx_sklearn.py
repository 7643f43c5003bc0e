"""synnet's estimators converted by skl2onnx, alone and in a Pipeline, run in onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("sklearn")

from sklearn.datasets import make_classification, make_multilabel_classification  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import synnet  # noqa: E402
from synnet.onnx import register_skl2onnx  # noqa: E402

# A few epochs are enough to compare predictions.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    register_skl2onnx()


def run(proto: Any, X: np.ndarray) -> dict[str, Any]:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"X": X})))


def close(got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(np.abs(want).max()))


def pipeline(estimator: Any) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("mlp", estimator)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes, labels", [
    (2, None), (3, ["setosa", "versicolor", "virginica"]), (4, [10, 20, 30, 40])])
def test_pipeline_classifier(n_classes, labels, dtype):
    X, y = make_classification(300, 6, n_informative=4, n_classes=n_classes, random_state=0)
    X = X.astype(dtype)
    if labels is not None:
        y = np.asarray(labels)[y]
    pipe = pipeline(synnet.MLPClassifier((16,), "tanh", max_iter=30, random_state=0)).fit(X, y)
    proto = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    out = run(proto, X)
    assert set(out) == {"label", "probabilities"}
    # float32 data is scaled in float32 by skl2onnx and by scikit-learn alike.
    close(out["probabilities"], pipe.predict_proba(X), 1e-5 if dtype == np.float32 else 1e-9)
    np.testing.assert_array_equal(out["label"], pipe.predict(X))


def test_zipmap_default_gives_one_dict_per_row():
    X, y = make_classification(100, 4, random_state=1)
    X = X.astype(np.float32)
    pipe = pipeline(synnet.MLPClassifier((8,), max_iter=20, random_state=0)).fit(X, y)
    out = run(skl2onnx.to_onnx(pipe, X[:1]), X)  # skl2onnx's names when it zips
    proba = pipe.predict_proba(X)
    np.testing.assert_array_equal(out["output_label"], pipe.predict(X))
    assert out["output_probability"][0].keys() == {0, 1}
    close(np.array([[row[0], row[1]] for row in out["output_probability"]]), proba, 1e-5)


def test_nocl_gives_class_indices():
    X, y = make_classification(100, 5, n_classes=3, n_informative=3, random_state=2)
    X = X.astype(np.float32)
    y = np.array(["a", "b", "c"])[y]
    pipe = pipeline(synnet.MLPClassifier((8,), max_iter=20, random_state=0)).fit(X, y)
    proto = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False, "nocl": True})
    out = run(proto, X)
    np.testing.assert_array_equal(out["label"], np.searchsorted(pipe.classes_, pipe.predict(X)))


def test_multilabel():
    X, Y = make_multilabel_classification(200, 5, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    clf = synnet.MLPClassifier((12,), "relu", max_iter=30, random_state=0).fit(X, Y)
    out = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    close(out["probabilities"], clf.predict_proba(X), 1e-5)


@pytest.mark.parametrize("loss, outputs", [("squared_error", 1), ("squared_error", 2),
                                           ("poisson", 1)])
def test_pipeline_regressor(loss, outputs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = np.abs(X @ rng.normal(size=(5, outputs))) + 1.0
    y = y[:, 0] if outputs == 1 else y
    pipe = pipeline(synnet.MLPRegressor(loss, (16,), "logistic", max_iter=40,
                                        random_state=0)).fit(X, y)
    out = run(skl2onnx.to_onnx(pipe, X[:1]), X)
    (pred,) = out.values()
    close(pred.reshape(len(X), -1), pipe.predict(X).reshape(len(X), -1), 1e-9)


def test_an_estimator_file_exports_through_synnet_load(tmp_path):
    X, y = make_classification(80, 4, random_state=3)
    clf = synnet.MLPClassifier((6,), max_iter=10, random_state=0).fit(X, np.array(["a", "b"])[y])
    clf.save(tmp_path / "clf.synnet")
    proto = synnet.load(tmp_path / "clf.synnet").to_onnx()
    out = run(proto, X)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    close(out["probabilities"], clf.predict_proba(X), 1e-9)


def test_an_estimator_with_a_custom_activation_is_refused_by_name():
    class Swish(synnet.Activation):
        kind = "swish"

        def _apply(self, x, out):
            return x * synnet.Sigmoid()(x)

    X, y = make_classification(60, 4, random_state=0)
    clf = synnet.MLPClassifier((4,), max_iter=5, random_state=0).fit(X, y)
    clf.network_.layers[0].activation = Swish()
    with pytest.raises(synnet.ConfigError, match="Swish"):
        skl2onnx.to_onnx(clf, X[:1].astype(np.float32))
