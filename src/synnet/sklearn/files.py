"""Saving and loading the scikit-learn estimators in synnet's safe model format.

An estimator's file is an ordinary synnet model file: the network's weights,
the optimizer's state, and as metadata the task, the classes and the feature
names (so :func:`synnet.load` gives a :class:`synnet.tabular.model.Model` that predicts
the same labels), plus the estimator's parameters and fitted attributes (so
``MLPClassifier.load`` rebuilds the estimator itself). Nothing is pickled.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from synnet.errors import ConfigError, ModelFileError
from synnet.io.json_codec import encode
from synnet.io.reader import load_model
from synnet.io.writer import save_model
from synnet.tabular.target import TargetEncoder

# Fitted attributes stored as JSON (numbers, lists, None; NaN and inf through the codec).
_FITTED = ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
           "validation_loss_curve_", "best_validation_score_", "n_layers_", "n_outputs_",
           "out_activation_", "n_features_in_")


def _legacy(value: Any) -> Any:
    """Non-finite floats as files of synnet 0.1.0 wrote them here ("inf", "-inf", "nan")."""
    if isinstance(value, list):
        return [_legacy(v) for v in value]
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def save_estimator(est: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted estimator to ``path`` atomically."""
    params: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in est.get_params(deep=False).items():
        if name == "class_weight" and isinstance(value, dict):  # JSON keys are strings
            value = {"pairs": [[k, v] for k, v in value.items()]}
        try:
            params[name] = encode(value, name)
        except ConfigError:  # callbacks, a RandomState: not data, so not saved
            params[name] = None
            skipped.append(name)
    metadata: dict[str, Any] = {
        "estimator": type(est).__name__,
        "params": params,
        "params_not_saved": skipped,
        # Only the attributes the estimator has: None is a value (best_loss_ with
        # early stopping), not a stand-in for "absent".
        "fitted": {name: getattr(est, name) for name in _FITTED if hasattr(est, name)},
        "fitted_complete": True,
    }
    if hasattr(est, "feature_names_in_"):
        metadata["feature_names"] = [str(n) for n in est.feature_names_in_]
    if hasattr(est, "classes_"):
        classes = [c.item() if isinstance(c, np.generic) else c for c in est.classes_]
        if len(classes) < 2:  # scikit-learn fits one class; a model file needs two
            raise ModelFileError(f"this {type(est).__name__} was fitted on a single class "
                                 f"({classes[0]!r}); a synnet model file holds at least two. "
                                 "Keep it with joblib or pickle instead.")
        metadata.update(task="classification", classes=classes,
                        y_type=est._label_binarizer.y_type_)
        # Checked as synnet.load will check it: what saves also loads.
        target = TargetEncoder.from_config({"task": "classification", "classes": classes})
    else:
        metadata["task"] = "regression"
        target = TargetEncoder("regression")
    save_model(path, est.network_, target=target, metadata=metadata,
               optimizer=est.network_.optimizer)


def load_estimator(cls: type, path: str | os.PathLike[str]) -> Any:
    """Rebuild an estimator of class ``cls`` saved by :func:`save_estimator`."""
    loaded = load_model(path)
    meta = loaded.metadata
    if meta.get("estimator") != cls.__name__:
        raise ModelFileError(f"{os.fspath(path)} holds a {meta.get('estimator') or 'plain'} "
                             f"model, not a {cls.__name__}; load it with synnet.load")
    params = {name: _legacy(value) for name, value in meta["params"].items()}
    if isinstance(params.get("class_weight"), dict):
        params["class_weight"] = {k: v for k, v in params["class_weight"]["pairs"]}
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    est = cls(**params)
    est.network_ = loaded.network
    # Files of synnet 0.1.0 wrote None for absent attributes too: skip None there.
    complete = meta.get("fitted_complete") is True
    for name, value in meta["fitted"].items():
        if name in _FITTED and (complete or value is not None):
            setattr(est, name, _legacy(value))
    if "feature_names" in meta:
        est.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    if "classes" in meta:
        binarizer = LabelBinarizer()
        if meta["y_type"] == "multilabel-indicator":
            binarizer.fit(np.eye(len(meta["classes"]), dtype=int))
        else:
            binarizer.fit(np.asarray(meta["classes"]))
        est._label_binarizer = binarizer
        est.classes_ = binarizer.classes_
    return est
