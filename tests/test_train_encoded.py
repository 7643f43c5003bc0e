"""In-memory training on encoded rows (categories as codes, one-hot rows per minibatch).

The other side is always run: the Preprocessor's dense transform, Network.fit on
it, and ``train`` with the whole feature matrix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet import Network
from synnet.cli import main
from synnet.core.layers import Dense
from synnet.errors import DataError
from synnet.tabular import train as train_module
from synnet.tabular.encoded import EncodedRows
from synnet.tabular.files import Table
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor, UnknownCategoryWarning
from synnet.tabular.settings import Settings
from synnet.training.checkpoint import digest


def _columns(n: int, seed: int = 0, missing: bool = False) -> dict[str, np.ndarray]:
    """Numeric, date, and two categorical columns (one of 60 values); blanks if ``missing``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = np.array([f"c{k}" for k in rng.integers(0, 60, n)], dtype=object)
    plan = np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, n)]
    day = np.array([f"2024-0{1 + k % 9}-1{k % 10}" for k in rng.integers(0, 90, n)],
                   dtype=object)
    if missing:
        city[::7] = None
        x[::5] = np.nan
    return {"city": city, "x": x, "day": day, "plan": plan,
            "label": np.where(rng.normal(size=n) + (plan == "a") > 0.5, "yes", "no")}


def _fitted(data: dict[str, np.ndarray], **kwargs: Any) -> Preprocessor:
    return Preprocessor(**kwargs).fit(data, ["city", "x", "day", "plan"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [{}, {"max_categories": 8}, {"impute": "median"},
                                    {"impute": "most_frequent", "min_frequency": 5}])
def test_encoded_rows_expand_to_the_transform(dtype: Any, kwargs: dict[str, Any]) -> None:
    data = _columns(300, missing="impute" in kwargs)
    pre = _fitted(data, **kwargs)
    dense = pre.transform(data, dtype=dtype)
    rows = pre.encode(data, dtype=dtype)
    assert rows.shape == dense.shape and rows.dtype == dense.dtype
    assert rows.codes.shape == (300, 2) and rows.dense.shape == (300, pre.n_outputs_dense)
    assert np.array_equal(rows.toarray(), dense)
    idx = np.random.default_rng(1).permutation(300)[:37]
    assert np.array_equal(rows[idx], dense[idx])
    buf = np.full((37, dense.shape[1]), 7.0, dtype=dtype)  # a reused buffer holds old rows
    assert np.array_equal(np.take(rows, idx, axis=0, out=buf, mode="clip"), dense[idx])
    assert isinstance(rows[10:50], EncodedRows)
    assert np.array_equal(rows[10:50].toarray(), dense[10:50])
    W = np.random.default_rng(2).normal(size=(dense.shape[1], 5)).astype(dtype)
    assert np.array_equal(rows @ W, np.dot(dense, W))  # one block: the same product


def test_expand_into_a_strided_buffer() -> None:
    from synnet.tabular.encoded import expand_into
    data = _columns(40)
    pre = _fitted(data)
    rows = pre.encode(data)
    rows.codes[5, 1] = -1  # unseen: no one in that block
    out = np.full((40, 2 * pre.n_outputs), 9.0)[:, ::2]
    expand_into(out, rows.dense, rows.runs, rows.codes, rows.code_at)
    assert np.array_equal(out, rows.toarray())
    assert out[5].sum() == rows.toarray()[5].sum() and np.isin(out, [0, 1]).sum() > 0


def test_encoded_product_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from synnet.tabular import encoded
    data = _columns(500)
    pre = _fitted(data)
    monkeypatch.setattr(encoded, "EXPAND_CELLS", 7 * pre.n_outputs)  # blocks of 7 rows
    W = np.random.default_rng(0).normal(size=(pre.n_outputs, 3))
    assert np.allclose(pre.encode(data) @ W, pre.transform(data) @ W, rtol=1e-12, atol=1e-12)


def test_unseen_categories_encode_as_zeros_and_warn_once() -> None:
    data = _columns(200)
    pre = _fitted(data)
    other = _columns(50, seed=3)
    other["city"][[3, 9]] = "never-seen"
    with pytest.warns(UnknownCategoryWarning, match="never-seen") as caught:
        rows = pre.encode(other)
    assert len(caught) == 1
    assert rows.codes[3, 0] == -1 and rows.codes[9, 0] == -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(rows.toarray(), pre.transform(other))


def test_digest_of_encoded_rows_follows_the_data() -> None:
    from synnet.core.batch import Batch
    data = _columns(100)
    pre = _fitted(data)
    y = np.zeros(100)
    a = digest(Batch(pre.encode(data), y, None))
    assert a == digest(Batch(pre.encode(data), y, None))
    data["plan"][0] = "b" if data["plan"][0] != "b" else "c"
    assert a != digest(Batch(pre.encode(data), y, None))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_network_fit_on_encoded_rows_equals_dense(dtype: Any) -> None:
    data = _columns(400)
    pre = _fitted(data)
    y = (data["label"] == "yes").astype(dtype)
    runs = []
    for X in (pre.transform(data, dtype=dtype), pre.encode(data, dtype=dtype)):
        net = Network([Dense(pre.n_outputs, 16, "relu"), Dense(16, 1, "sigmoid")], seed=4,
                      dtype=dtype)
        history = net.fit(X[:300], y[:300], "binary_crossentropy", "adam", epochs=4,
                          batch_size=16, validation_data=(X[300:], y[300:]),
                          metrics=["accuracy"], sample_weight=np.linspace(0.5, 2, 300))
        runs.append((net.get_weights(), history.history, net.predict(X)))
    (w_dense, h_dense, p_dense), (w_enc, h_enc, p_enc) = runs
    assert w_dense.keys() == w_enc.keys()
    for name in w_dense:
        assert np.array_equal(w_dense[name], w_enc[name]), name
    assert h_dense == h_enc
    assert np.array_equal(p_dense, p_enc)


def test_fits_that_would_step_on_the_encoded_matrix_say_so() -> None:
    data = _columns(60)
    pre = _fitted(data)
    X, y = pre.encode(data), (data["label"] == "yes").astype(float)
    for kwargs in ({"shuffle": False, "batch_size": 16}, {"batch_size": 60}):
        net = Network([Dense(pre.n_outputs, 4, "relu"), Dense(4, 1, "sigmoid")], seed=0)
        with pytest.raises(TypeError, match="shuffled minibatches only"):
            net.fit(X, y, "binary_crossentropy", "adam", epochs=1, **kwargs)


def _table(n: int = 600, seed: int = 0, missing: bool = False) -> Table:
    return Table(_columns(n, seed, missing), "test.csv")


def _train(monkeypatch: pytest.MonkeyPatch, encoded: bool, table: Table,
           **settings: Any) -> train_module.Result:
    monkeypatch.setattr(train_module, "ONE_HOT_BUDGET", -1 if encoded else 1 << 60)
    seen: list[Any] = []
    original = Network.fit

    def spy(self: Network, X: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(X)
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(Network, "fit", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_module.train(table, Settings(**{"target": "label", "seed": 3,
                                                        "epochs": 6, "hidden": [8],
                                                        "batch_size": 16, **settings}))
    assert isinstance(seen[0], EncodedRows) is encoded  # the path asked for was taken
    return result


def _same_models(a: Model, b: Model) -> None:
    wa, wb = a.network.get_weights(), b.network.get_weights()
    assert wa.keys() == wb.keys()
    for name in wa:
        assert np.array_equal(wa[name], wb[name]), name
    assert a.preprocessor.to_config() == b.preprocessor.to_config()


@pytest.mark.parametrize("settings", [
    {},
    {"dtype": "float32", "patience": 2, "class_weight": "balanced", "dropout": 0.2},
    {"task": "regression", "target": "x", "impute": "mean", "max_categories": None},
    {"impute": "most_frequent", "min_frequency": 3, "l2": 0.01},
])
def test_train_on_encoded_rows_equals_the_dense_path(monkeypatch: pytest.MonkeyPatch,
                                                     settings: dict[str, Any]) -> None:
    table = _table(missing="impute" in settings)
    if settings.get("target") == "x":  # a numeric target without blanks
        table.columns["x"] = np.random.default_rng(5).normal(size=table.n_rows)
    dense = _train(monkeypatch, False, table, **settings)
    encoded = _train(monkeypatch, True, table, **settings)
    _same_models(dense.model, encoded.model)
    assert dense.scores == encoded.scores
    assert (dense.epochs_run, dense.best_epoch) == (encoded.epochs_run, encoded.best_epoch)


def test_unseen_validation_category_and_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(200)
    table.columns["city"][-1] = "only-once"  # lands in training or validation rows
    for rows in (table, _table(22)):  # 18 training rows: a batch of 16 and one of 2
        _same_models(_train(monkeypatch, False, rows).model,
                     _train(monkeypatch, True, rows).model)


def test_full_batch_trains_on_the_whole_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    # a batch as large as the data is the whole matrix anyway: nothing to encode
    monkeypatch.setattr(train_module, "ONE_HOT_BUDGET", -1)
    pre = _fitted(_columns(50))
    assert not train_module.encode_categories(pre, 50, np.dtype("float64"), 50)
    assert train_module.encode_categories(pre, 50, np.dtype("float64"), 49)


def test_hostile_tables_fail_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "ONE_HOT_BUDGET", -1)
    blank = _table(50)
    blank.columns["plan"] = np.full(50, None, dtype=object)
    with pytest.raises(DataError, match="'plan' has no values"):
        train_module.train(blank, Settings(target="label", impute="most_frequent",
                                           keep_columns=["city"]))
    one = Table({k: v[:1] for k, v in _columns(5).items()}, "one.csv")
    with pytest.raises(DataError):
        train_module.train(one, Settings(target="label", seed=0))
    empty = Table({k: v[:0] for k, v in _columns(5).items()}, "empty.csv")
    with pytest.raises(DataError):
        train_module.train(empty, Settings(target="label", seed=0))


def test_resume_on_encoded_rows_matches_uninterrupted(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    table = _table(300)
    whole = _train(monkeypatch, True, table, epochs=5, patience=0)
    ckpt = tmp_path / "ckpt"
    _train(monkeypatch, True, table, epochs=2, patience=0, checkpoint_dir=str(ckpt))
    resumed = _train(monkeypatch, True, table, epochs=5, patience=0,
                     checkpoint_dir=str(ckpt), resume=True)
    assert resumed.resumed_from == 2
    _same_models(whole.model, resumed.model)


def test_cli_trains_many_categories_without_the_whole_matrix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    path = tmp_path / "ids.csv"
    code = rng.integers(0, 1500, n)
    lines = [f"k{c},{v:.3f},{'yes' if v > 0 else 'no'}" for c, v in
             zip(code, rng.normal(size=n))]
    path.write_text("key,v,label\n" + "\n".join(lines) + "\n")
    monkeypatch.setattr(train_module, "ONE_HOT_BUDGET", 1 << 20)  # 2400 x 1500 x 8 is over
    seen: list[Any] = []
    original = Network.fit
    monkeypatch.setattr(Network, "fit", lambda self, X, *a, **k: (seen.append(X),
                                                                   original(self, X, *a, **k))[1])
    out = tmp_path / "m.synnet"
    assert main(["train", str(path), "-t", "label", "-o", str(out), "--max-categories", "none",
                 "--keep-columns", "key", "--epochs", "2", "--hidden", "4", "--seed", "1",
                 "-q"]) == 0
    assert isinstance(seen[0], EncodedRows) and seen[0].shape[1] > 1000
    assert main(["predict", str(out), str(path), "-o", str(tmp_path / "p.csv")]) == 0
    capsys.readouterr()


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(["dense", "onehot"]), min_size=1, max_size=12),
       seed=st.integers(0, 2**16))
def test_expand_into_any_layout_equals_indexing_column_by_column(kinds: list[str],
                                                                  seed: int) -> None:
    """Dense and one-hot columns interleaved in any order: the runs write what indexing
    each column does."""
    from synnet.tabular.encoded import column_runs, expand_into
    rng = np.random.default_rng(seed)
    dense_at = np.array([j for j, k in enumerate(kinds) if k == "dense"], dtype=np.intp)
    code_at_list: list[int] = []
    widths: list[int] = []  # each run of one-hot columns is one categorical block
    for j, kind in enumerate(kinds):
        if kind == "onehot":
            if j and kinds[j - 1] == "onehot":
                widths[-1] += 1
            else:
                code_at_list.append(j)
                widths.append(1)
    code_at = np.array(code_at_list, dtype=np.intp)
    k = 6
    dense = rng.normal(size=(k, len(dense_at)))
    codes = np.stack([rng.integers(-1, w, k) for w in widths], axis=1) if widths else \
        np.zeros((k, 0), dtype=np.int64)
    want = np.zeros((k, len(kinds)))
    want[:, dense_at] = dense
    for j, a in enumerate(code_at):
        for i in range(k):
            if codes[i, j] >= 0:
                want[i, a + codes[i, j]] = 1
    out = np.full((k, len(kinds)), 7.0)
    expand_into(out, dense, column_runs(dense_at, len(kinds)), codes, code_at)
    assert np.array_equal(out, want)
