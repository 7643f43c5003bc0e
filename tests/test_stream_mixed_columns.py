"""A CSV column that reads as numbers in some chunks and as text in others ("007" early,
"abc" later) is text throughout in a whole-file read, every value as written. The
streaming job (statistics and the training transform) must read it the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synnet.tabular import chunks
from synnet.tabular.files import read_table
from synnet.tabular.model import load
from test_cli import run


def _write(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(4)
    lines = ["code,x,size,label"]
    for i in range(n):
        code = ["007", "012", "3", "0"][int(rng.integers(0, 4))]
        if i >= 300 and i % 7 == 0:
            code = "abc"  # text only after row 300: the early chunks read as numbers
        size = f"{rng.integers(0, 9)}" if i < 330 else "\"1,234\""  # "1,234" late: text numbers
        x = rng.normal()
        lines.append(f"{code},{x:.5f},{size},{['no', 'yes'][int(x + (code == '007') > 0.3)]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("impute", [None, "most_frequent"])
def test_streamed_job_reads_a_mixed_column_as_the_whole_file_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        impute: str | None) -> None:
    from synnet.tabular import train_stream

    data = _write(tmp_path / "d.csv")
    monkeypatch.setattr(train_stream, "TRAIN_CHUNK_ROWS", 32)  # tiny chunks
    kinds = [t.columns["code"].dtype.kind for _, t in chunks.read_chunks(data, 32)]
    assert kinds[0] == "i" and kinds[-1] == "O"  # typed per chunk: 7 early, "abc" late
    whole = read_table(data)
    assert "007" in set(whole.columns["code"].tolist())  # as written, in a whole-file read
    configs = []
    for mode in ("--stream", "--no-stream"):
        model = tmp_path / f"m{mode}.synnet"
        extra = ["--impute", impute] if impute else []
        code, _, err = run(capsys, "train", data, "--target", "label", "-o", model, mode,
                           "--valid-fraction", "0", "--epochs", "2", "--seed", "1", "-q",
                           "--categorical", "code",
                           *extra)
        assert code == 0, err
        configs.append(load(model).preprocessor.to_config())  # type: ignore[union-attr]
    streamed, in_memory = configs
    code_spec = next(c for c in in_memory["columns"] if c["name"] == "code")
    assert {"007", "012", "abc"} <= set(code_spec["categories"])
    for a, b in zip(in_memory["columns"], streamed["columns"], strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == (pytest.approx(a[key], rel=1e-12) if isinstance(a[key], float)
                              else a[key]), (a["name"], key)
    # The streaming transform (what training reads) equals the in-memory one, row for row.
    pre = load(tmp_path / "m--stream.synnet").preprocessor
    assert pre is not None
    features = {k: v for k, v in whole.columns.items() if k != "label"}
    expected = pre.transform(features, warn_unknown=False)
    parts = [pre.transform({k: v for k, v in t.columns.items() if k != "label"},
                           warn_unknown=False)
             for _, t in chunks.read_chunks(data, 32, text=["code", "size"])]
    np.testing.assert_array_equal(np.concatenate(parts), expected)
    unread = [pre.transform({k: v for k, v in t.columns.items() if k != "label"},
                            warn_unknown=False) for _, t in chunks.read_chunks(data, 32)]
    assert not np.array_equal(np.concatenate(unread), expected)  # the bug this guards
