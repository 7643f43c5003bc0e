"""A trained model ready to predict: network + preprocessing + target encoding.

``synnet.load(path)`` returns a :class:`Model`. It takes raw data the way the
model was trained on it (named columns: a dict of arrays, a pandas DataFrame,
a :class:`synnet.tabular.files.Table`; or a 2-D array with the columns in
training order), applies the stored preprocessing, runs the network and maps
the outputs back to the original class labels or target units.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from synnet.core.activations import Sigmoid, Softmax
from synnet.core.network import Network
from synnet.errors import ConfigError, DataError, ModelFileError
from synnet.io.model_file import DEFAULT_MAX_BYTES, ModelFile
from synnet.io.reader import load_model
from synnet.io.writer import save_model
from synnet.tabular.columns import written_as_number
from synnet.tabular.files import Coded, Table, frame_to_table
from synnet.tabular.memory import memory_guard
from synnet.tabular.preprocessing import CATEGORICAL, Preprocessor
from synnet.tabular.target import TargetEncoder


def _columns_of(X: Any) -> Mapping[str, Any] | None:
    """Named columns of X (dict, DataFrame, Table), or None for a plain array."""
    if hasattr(X, "columns") and isinstance(X.columns, Mapping):
        return X.columns  # a synnet Table
    if isinstance(X, Mapping):
        return X
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # a pandas DataFrame
        return frame_to_table(X).columns
    return None


def _coded_of(X: Any) -> Mapping[str, Coded] | None:
    """A Table's text columns as codes (each label then looked up once), else None."""
    return X.coded if isinstance(X, Table) else None


class Model:
    """A network with its preprocessing and target encoding.

    Args:
        network: the trained network.
        preprocessor: fitted feature preprocessing, or None (the network takes
            the features as they are).
        target: the target encoding, or None (predictions are the raw outputs).
        metadata, training: free JSON kept with the model.
        header: the model file's header, when loaded from a file.
    """

    def __init__(self, network: Network, preprocessor: Preprocessor | None = None,
                 target: TargetEncoder | None = None, *, metadata: dict[str, Any] | None = None,
                 training: dict[str, Any] | None = None,
                 header: dict[str, Any] | None = None) -> None:
        self.network = network
        self.preprocessor = preprocessor
        self.target = target
        self.metadata = dict(metadata or {})
        self.training = dict(training or {})
        self.header = dict(header or {})

    @classmethod
    def from_file(cls, loaded: ModelFile) -> Model:
        """The model a loaded file describes; ModelFileError if its parts do not fit."""
        try:
            pre = loaded.preprocessing
            preprocessor = None if pre is None else Preprocessor.from_config(pre)
            target = None if loaded.target is None else TargetEncoder.from_config(loaded.target)
        except ValueError as exc:  # ConfigError included
            raise ModelFileError(f"{loaded.path}: {exc}") from None
        for part in (preprocessor, target):
            problem = None if part is None else part.mismatch(loaded.network)
            if problem:
                raise ModelFileError(f"{loaded.path}: {problem}")
        names = loaded.metadata.get("feature_names")
        if names is not None:  # free JSON in the file, but predict relies on it
            if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
                    and len(set(names)) == len(names)):
                raise ModelFileError(f"{loaded.path}: metadata.feature_names must be a list "
                                     "of distinct column names (strings)")
            if preprocessor is None and len(names) != loaded.network.n_inputs:
                raise ModelFileError(f"{loaded.path}: metadata.feature_names lists "
                                     f"{len(names)} column(s) but the network takes "
                                     f"{loaded.network.n_inputs} input(s)")
        return cls(loaded.network, preprocessor, target, metadata=loaded.metadata,
                   training=loaded.training, header=loaded.header)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Load a model file (see :func:`load`)."""
        return load(path)

    def save(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write the model file atomically (``kwargs`` go to :func:`synnet.io.save_model`).

        Raises ConfigError, before anything is written, if the preprocessing or
        the target do not fit the network.
        """
        kwargs.setdefault("metadata", self.metadata)
        kwargs.setdefault("training", self.training)
        save_model(path, self.network, preprocessor=self.preprocessor, target=self.target,
                   **kwargs)

    def to_onnx(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """The model, preprocessing included, as a checked ``onnx.ModelProto``.

        One input per column; ``label``/``probabilities`` or ``prediction`` out
        (see :func:`synnet.onnx.model_to_onnx`, which ``kwargs`` such as
        ``opset`` go to). Written to ``path`` if given. Needs the ``onnx`` extra.
        """
        from synnet.onnx.export import model_to_onnx

        return model_to_onnx(self, path, **kwargs)

    # -- description ----------------------------------------------------------------
    @property
    def task(self) -> str | None:
        """"classification", "regression", or None when the target is unknown."""
        return None if self.target is None else self.target.task

    @property
    def classes(self) -> np.ndarray | None:
        """The original class labels, in the order of ``predict_proba``'s columns."""
        return None if self.target is None else self.target.classes

    @property
    def feature_names(self) -> list[str] | None:
        """The input column names, when known."""
        if self.preprocessor is not None:
            return self.preprocessor.input_names
        names = self.metadata.get("feature_names")
        return list(names) if isinstance(names, list) else None

    def text_columns(self, target: str | None = None) -> list[str]:
        """The columns to read as text from a file (``read_chunks(text=...)``), whatever
        its cells hold, so that a chunk of all-digit codes keeps "007" as training had
        it, not the number 7: the categorical inputs that training read as text, and
        the target column (``target``, default the one trained on) when its classes are
        text. A categorical column whose categories are all numbers as a number read
        writes them ("7", "1.5") was read as numbers, and stays so."""
        text = [] if self.preprocessor is None else [
            c["name"] for c in self.preprocessor.columns if c["kind"] == CATEGORICAL
            and not all(map(written_as_number, [*c["categories"], *c.get("infrequent", ())]))]
        classes = self.classes
        name = target or (self.target.name if self.target is not None else None)
        if classes is not None and classes.dtype.kind == "O" and name and name not in text:
            text.append(name)
        return text

    def __repr__(self) -> str:
        return (f"Model(task={self.task!r}, features={self.feature_names!r}, "
                f"layers={len(self.network.layers)}, params={self.network.count_params():,})")

    # -- prediction -----------------------------------------------------------------
    def transform(self, X: Any, first_row: int = 1) -> np.ndarray:
        """Raw data -> the network's input matrix (n, n_inputs)."""
        if self.preprocessor is not None:
            return self.preprocessor.transform(self._named_columns(X), first_row,
                                               coded=_coded_of(X))
        return self._plain_input(X)

    def _named_columns(self, X: Any) -> Mapping[str, Any]:
        """X as named columns for the preprocessing (a 2-D array: in training order)."""
        columns = _columns_of(X)
        if columns is None:
            names = self.feature_names or []
            arr = np.asarray(X, dtype=object)
            if arr.ndim != 2 or arr.shape[1] != len(names):
                raise DataError(f"X has shape {arr.shape}; pass named columns or a 2-D "
                                f"array with the {len(names)} columns "
                                f"{', '.join(map(repr, names))}")
            columns = {name: arr[:, j] for j, name in enumerate(names)}
        return columns

    def _plain_input(self, X: Any) -> np.ndarray:
        """The input of a model without preprocessing: numeric columns in training order."""
        columns = _columns_of(X)
        names = self.feature_names
        if columns is not None:
            if names is None:
                raise DataError("this model does not know its column names; pass a 2-D array "
                                "with the features in training order")
            absent = [n for n in names if n not in columns]
            if absent:
                raise DataError(f"the data lacks column(s) {', '.join(map(repr, absent))} that "
                                "the model was trained on")
            try:
                return np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names])
            except (TypeError, ValueError):
                raise DataError("every column must be numeric for a model without "
                                "preprocessing") from None
        return np.asarray(X)

    def _output(self, X: Any, first_row: int = 1) -> np.ndarray:
        """The network's outputs; with preprocessing, computed block by block, so memory
        never holds the whole input matrix (rows x one-hot inputs)."""
        with memory_guard("predict", "fewer rows at a time (split the data file)"):
            if self.preprocessor is None:
                return self.network.predict(self._plain_input(X))
            # float64 features, as one whole transform gives them (the network computes
            # in float64 on them, which the ONNX export reproduces)
            blocks = [self.network.predict(block) for block in
                      self.preprocessor.transform_blocks(self._named_columns(X), first_row,
                                                         coded=_coded_of(X))]
            if not blocks:
                return self.network.predict(np.empty((0, self.network.n_inputs)))
            return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in the order of :attr:`classes`.

        For multilabel models each column is that label's own probability.
        """
        if self.task != "classification":
            raise ConfigError("predict_proba needs a classification model; this one is "
                              f"{self.task or 'without a target'}")
        return self.proba_from_output(self._output(X))

    @property
    def multilabel(self) -> bool:
        """Whether each class is a separate yes/no label (k sigmoid outputs, k > 1)."""
        return (self.task == "classification" and self.network.n_outputs > 1
                and isinstance(self.network.output_layer.activation, Sigmoid))

    def proba_from_output(self, out: np.ndarray) -> np.ndarray:
        """Probabilities from network outputs; identity outputs are taken as logits."""
        activation = self.network.output_layer.activation
        with np.errstate(under="ignore"):
            if out.shape[1] == 1:  # binary: one unit, P(second class)
                p = out[:, 0] if isinstance(activation, Sigmoid) else Sigmoid()(out[:, 0])
                return np.column_stack([1.0 - p, p])
            if isinstance(activation, (Softmax, Sigmoid)):  # Sigmoid: multilabel
                return out
            return Softmax()(out)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (n,) for classification, or a 0/1 matrix (n, k) for multilabel
        models; values (n,) or (n, k) for regression."""
        return self.predict_with_proba(X)[0]

    def predict_with_proba(self, X: Any, first_row: int = 1,
                           ) -> tuple[np.ndarray, np.ndarray | None]:
        """(predictions, probabilities) from one pass over X.

        Predictions are as :meth:`predict` gives them; probabilities as
        :meth:`predict_proba` gives them for classification models, else None.
        ``first_row``: the number messages give X's first row (for chunks of a file).
        """
        out = self._output(X, first_row)
        if self.task != "classification":
            return (out if self.target is None else self.target.decode(out)), None
        proba = self.proba_from_output(out)
        if self.multilabel:
            return (proba > 0.5).astype(np.int64), proba
        assert self.target is not None
        return self.target.labels(np.argmax(proba, axis=1)), proba


def load(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
    """``synnet.load``: a model file as a :class:`Model` (predict, predict_proba).

    Reads any synnet model file: one written by ``synnet train``, by an
    estimator's ``save``, by ``Network.save`` or a checkpoint. Files larger than
    ``max_bytes`` (default 4 GiB) are refused before reading.
    """
    return Model.from_file(load_model(path, max_bytes=max_bytes))
