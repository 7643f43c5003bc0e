"""Data sources: streaming training equals in-memory training; shuffling; exact resume."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synnet
from synnet.data import ArraySource, CsvSource, IterableSource, ParquetSource, minibatches
from synnet.data.source import read_ahead
from synnet.errors import ConfigError, DataError
from test_checkpoint import _assert_identical, _kill_after_first_checkpoint

SCRIPT = Path(__file__).resolve().parent / "scripts" / "train_ckpt.py"
NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray, Path]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(float)
    d = tmp_path_factory.mktemp("table")
    frame = pd.DataFrame(X, columns=NAMES).assign(t=y)
    frame.to_parquet(d / "x.parquet", row_group_size=130)
    frame.to_csv(d / "x.csv.gz", index=False)
    frame.to_csv(d / "x.csv.xz", index=False)
    (d / "parts").mkdir()
    frame[:500].to_parquet(d / "parts" / "0.parquet", row_group_size=99)
    frame[500:].to_parquet(d / "parts" / "1.parquet", row_group_size=99)
    return X, y, d


def _net() -> synnet.Network:
    return synnet.Network([synnet.Dense(4, 8, "tanh"), synnet.Dense(8, 1, "sigmoid")], seed=1)


def _fit(data: object, **kwargs: object) -> dict[str, np.ndarray]:
    net = _net()
    net.fit(data, loss="binary_crossentropy", epochs=3, batch_size=32,  # type: ignore[arg-type]
            **kwargs)
    return net.get_weights()


def _source(kind: str, X: np.ndarray, y: np.ndarray, d: Path) -> object:
    if kind == "parquet":
        return ParquetSource(d / "x.parquet", NAMES, "t")
    if kind == "folder":
        return ParquetSource(d / "parts", NAMES, "t")
    if kind == "glob":
        return ParquetSource(str(d / "parts" / "*.parquet"), NAMES, "t")
    if kind in ("csv.gz", "csv.xz"):
        return CsvSource(d / f"x.{kind}", NAMES, "t", block_bytes=2048)
    if kind == "arrays":
        return ArraySource(X, y, block_rows=77)
    return IterableSource([(X[i:i + 77], y[i:i + 77]) for i in range(0, 1000, 77)])


@pytest.mark.parametrize("kind", ["parquet", "folder", "glob", "csv.gz", "csv.xz", "arrays",
                                  "iterable"])
def test_streaming_without_shuffling_equals_in_memory(table: tuple, kind: str) -> None:
    X, y, d = table
    expected = _net()
    expected.fit(X, y, loss="binary_crossentropy", epochs=3, batch_size=32, shuffle=False)
    got = _fit(_source(kind, X, y, d), shuffle=False)
    for k, v in expected.get_weights().items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)


def test_validation_source_scores_as_arrays(table: tuple) -> None:
    X, y, d = table
    w = np.linspace(0.5, 2.0, len(y))
    net = _net()
    net.fit(X, y, loss="binary_crossentropy", epochs=1, batch_size=32)
    expected = net.evaluate(X, y, loss="binary_crossentropy", metrics=["accuracy"])
    from synnet.core.losses import get_loss
    from synnet.core.metrics import get_metric
    from synnet.training.streaming import evaluate_source

    loss = get_loss("binary_crossentropy")
    got = evaluate_source(net, _source("parquet", X, y, d),  # type: ignore[arg-type]
                          loss, {"accuracy": get_metric("accuracy")}, 64)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-12)
    assert got["accuracy"] == pytest.approx(expected["accuracy"], rel=1e-12)
    weighted = evaluate_source(net, IterableSource([(X[:400], y[:400], w[:400]),
                                                    (X[400:], y[400:], w[400:])]), loss, {}, 64)
    raw = net.predict(X)
    value, _ = loss.evaluate(raw, y.reshape(-1, 1), w, grad=False)
    assert weighted["loss"] == pytest.approx(value, rel=1e-12)


def test_shuffled_streaming_is_deterministic_and_differs_from_unshuffled(table: tuple) -> None:
    d = table[2]
    a = _fit(ParquetSource(d / "x.parquet", NAMES, "t", shuffle_buffer=200))
    b = _fit(ParquetSource(d / "x.parquet", NAMES, "t", shuffle_buffer=200, read_ahead=0))
    c = _fit(ParquetSource(d / "x.parquet", NAMES, "t"), shuffle=False)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), block=st.integers(1, 50), batch=st.integers(1, 40),
       buffer=st.integers(1, 120), shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_an_epoch_holds_every_row_once_in_full_batches(n: int, block: int, batch: int,
                                                       buffer: int, shuffle: bool,
                                                       seed: int) -> None:
    rows = np.arange(n, dtype=float)
    source = ArraySource(rows[:, None], rows, block_rows=block, shuffle_buffer=buffer)
    rng = np.random.default_rng(seed) if shuffle else None
    batches = list(minibatches(source, batch, rng))
    sizes = [len(b[1]) for b in batches]
    assert all(s == batch for s in sizes[:-1]) and (not sizes or 0 < sizes[-1] <= batch)
    seen = np.concatenate([b[1] for b in batches]) if batches else np.zeros(0)
    assert np.array_equal(np.sort(seen), rows)
    assert all(np.array_equal(b[0][:, 0], b[1]) for b in batches)  # rows stay whole
    if not shuffle:
        assert np.array_equal(seen, rows)


def test_read_ahead_raises_the_readers_error_in_order() -> None:
    def items():  # type: ignore[no-untyped-def]
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(items(), 1):
            got.append(item)
    assert got == [1, 2]
    stopped = read_ahead(iter(range(1000)), 2)
    assert next(stopped) == 0
    stopped.close()  # the thread ends; nothing hangs


def test_closing_nested_read_ahead_stops_every_thread() -> None:
    """A reading thread whose items come from another reading thread (train --stream
    decodes in one and transforms in another): closing the outer stops both."""
    import threading
    import time

    def transformed():  # type: ignore[no-untyped-def]
        for item in read_ahead(iter(range(10_000)), 1):
            yield item * 2

    outer = read_ahead(transformed(), 1)
    assert [next(outer) for _ in range(3)] == [0, 2, 4]
    assert sum(t.name == "synnet-read-ahead" for t in threading.enumerate()) == 2
    outer.close()
    deadline = time.monotonic() + 5
    while any(t.name == "synnet-read-ahead" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a reading thread is still running"
        time.sleep(0.01)


def test_bad_sources_are_refused_before_training(table: tuple, tmp_path: Path) -> None:
    X, y, d = table
    with pytest.raises(DataError, match="no column 'zz'"):
        ParquetSource(d / "x.parquet", ["a", "zz"], "t")
    with pytest.raises(DataError, match="no such file"):
        ParquetSource(tmp_path / "missing.parquet", NAMES, "t")
    with pytest.raises(ConfigError, match="target"):
        CsvSource(d / "x.csv.gz", NAMES, None)
    with pytest.raises(ConfigError, match="columns"):
        ParquetSource(d / "x.parquet", transform=lambda cols: (cols["a"], cols["t"], None))
    net = _net()
    before = net.get_weights()
    source = ParquetSource(d / "x.parquet", NAMES, "t")
    with pytest.raises(ConfigError, match="leave y"):
        net.fit(source, y, loss="binary_crossentropy")
    with pytest.raises(ConfigError, match="batch_size"):
        net.fit(source, loss="binary_crossentropy", batch_size=None)
    with pytest.raises(ConfigError, match="validation_split"):
        net.fit(source, loss="binary_crossentropy", validation_split=0.2)
    one_shot = IterableSource(iter([(X, y)]))
    with pytest.raises(ConfigError, match="only once"):
        net.fit(one_shot, loss="binary_crossentropy", epochs=2)
    assert all(np.array_equal(before[k], v) for k, v in net.get_weights().items())
    with pytest.raises(DataError, match="tuple"):
        net.fit(IterableSource([X]), loss="binary_crossentropy")
    with pytest.raises(DataError, match="yielded no rows"):
        net.fit(IterableSource([]), loss="binary_crossentropy")
    with pytest.raises(DataError, match="validation source yielded no rows"):
        net.fit(source, loss="binary_crossentropy", validation_data=IterableSource([]))


def _run(out: Path, ckpt: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(out), str(ckpt), "--stream",
                           str(data), "--epochs", "25", *args],
                          capture_output=True, text=True, check=True, timeout=600)


def test_killed_streaming_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(tmp_path / "ref.npz", tmp_path / "ref-ckpt", data)
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path / "a.npz"), str(ckpt),
                             "--stream", str(data), "--epochs", "25"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code = _kill_after_first_checkpoint(proc, ckpt, signal.SIGKILL)
    if code == 0:
        pytest.skip("the run finished before the signal arrived")  # pragma: no cover
    assert code == -signal.SIGKILL
    done = _run(tmp_path / "b.npz", ckpt, data, "--resume")
    assert 1 <= int(done.stdout.strip().rsplit("=", 1)[1]) < 25
    _assert_identical(tmp_path / "ref.npz", tmp_path / "b.npz")


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=8), size=st.integers(1, 40),
       weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_the_shuffle_buffer_hands_out_every_row_once_whole(sizes: list[int], size: int,
                                                           weighted: bool, seed: int) -> None:
    """Blocks of any sizes and dtypes (float32 then float64 rows, int labels): every row
    goes out once, whole (X, y and w of one row together), in the widest dtype; the
    same generator state gives the same order; a row goes out within ``size`` pieces."""
    from synnet.data.source import _shuffle_buffer

    n = sum(sizes)
    ids = np.arange(n)
    blocks, at = [], 0
    for k, m in enumerate(sizes):
        rows = ids[at:at + m]
        X = np.stack([rows, -rows], axis=1).astype([np.float32, np.float64][k % 2])
        blocks.append((X, rows.copy(), rows * 0.5 if weighted else None))
        at += m
    out = list(_shuffle_buffer(iter(blocks), size, np.random.default_rng(seed)))
    again = list(_shuffle_buffer(iter(blocks), size, np.random.default_rng(seed)))
    X = np.concatenate([o[0] for o in out]) if out else np.zeros((0, 2))
    y = np.concatenate([o[1] for o in out]) if out else np.zeros(0, dtype=int)
    assert np.array_equal(np.sort(y), ids)
    assert np.array_equal(X[:, 0], y) and np.array_equal(X[:, 1], -y)
    if out and len(sizes) > 1 and any(sizes[1::2]):
        assert X.dtype == np.float64
    if weighted and out:
        assert np.array_equal(np.concatenate([o[2] for o in out]), y * 0.5)
    else:
        assert all(o[2] is None for o in out)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(out, again))
    assert len(out) == len(again)


def test_the_shuffle_buffer_mixes_rows_across_blocks() -> None:
    """A row can go out long after it came in, and rows of one block spread out."""
    from synnet.data.source import _shuffle_buffer

    blocks = [(np.arange(k, k + 100)[:, None] * 1.0, np.arange(k, k + 100), None)
              for k in range(0, 10_000, 100)]
    y = np.concatenate([o[1] for o in _shuffle_buffer(iter(blocks), 1000,
                                                      np.random.default_rng(0))])
    moved = np.abs(np.arange(len(y)) - y)
    assert np.array_equal(np.sort(y), np.arange(10_000))
    assert 200 < np.median(moved) < 2000  # mixed over about the buffer's size, not more
    first_block = np.flatnonzero(y < 100)
    assert first_block.max() - first_block.min() > 1000


def test_an_error_while_mixing_leaves_no_reading_thread() -> None:
    """A block with weights after blocks without: the DataError comes out, and the
    reading threads (the source's own one inside too) end, while the error is held."""
    import threading
    import time

    def blocks():  # type: ignore[no-untyped-def]
        for k in range(100):
            w = np.ones(8) if k >= 3 else None
            yield np.ones((8, 2)), np.zeros(8), w

    source = IterableSource(lambda: read_ahead(blocks(), 1), shuffle_buffer=16, read_ahead=2)
    with pytest.raises(DataError, match="sample weights") as caught:
        list(minibatches(source, 4, np.random.default_rng(0)))
    deadline = time.monotonic() + 5
    while any(t.name == "synnet-read-ahead" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a reading thread is still running"
        time.sleep(0.01)
    assert caught.value is not None  # held until here


def test_minibatches_leave_the_callers_generator_to_the_caller() -> None:
    """The reading thread mixes rows with a generator seeded from one draw of the
    caller's at the start: drawing from the caller's meanwhile changes nothing."""
    rows = np.arange(2000, dtype=float)
    orders = []
    for draw in (False, True, True):
        rng = np.random.default_rng(0)
        source = ArraySource(rows[:, None], rows, block_rows=50, shuffle_buffer=300)
        got = []
        for batch in minibatches(source, 32, rng):
            got.append(batch[1])
            if draw:
                rng.random(100)
        orders.append(np.concatenate(got))
    assert all(np.array_equal(orders[0], o) for o in orders[1:])
    assert not np.array_equal(orders[0], rows)


def test_the_shuffle_buffer_refuses_blocks_of_other_widths() -> None:
    from synnet.data.source import _shuffle_buffer

    blocks = [(np.ones((50, 3)), np.zeros(50), None), (np.ones((50, 4)), np.zeros(50), None)]
    with pytest.raises(DataError, match="X have different shapes"):
        list(_shuffle_buffer(iter(blocks), 40, np.random.default_rng(0)))
    with pytest.raises(DataError, match="X have different shapes"):
        list(_shuffle_buffer(iter(blocks), 400, np.random.default_rng(0)))
    small = [(b[0][:3], b[1][:3], None) for b in blocks]  # joined into one piece first
    with pytest.raises(DataError, match="X have different shapes"):
        list(_shuffle_buffer(iter(small), 400, np.random.default_rng(0)))


def test_the_shuffle_buffer_refuses_weights_in_some_blocks_only() -> None:
    from synnet.data.source import _shuffle_buffer

    blocks = [(np.ones((50, 1)), np.zeros(50), np.ones(50)), (np.ones((50, 1)), np.zeros(50),
                                                              None)]
    with pytest.raises(DataError, match="sample weights"):
        list(_shuffle_buffer(iter(blocks), 40, np.random.default_rng(0)))
