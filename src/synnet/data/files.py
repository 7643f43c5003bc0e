"""Parquet and CSV files as data sources, read with pyarrow block by block.

Only the named columns are read. A block becomes ``(X, y, w)`` through
``transform(columns)``, a function of a dict {name: NumPy array}; the default
stacks the feature columns into a float matrix and takes the target (and the
weight) column as they are. The table job passes its preprocessing here.
"""

from __future__ import annotations

import glob
import lzma
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synnet._validation import check_int
from synnet.data.source import DEFAULT_SHUFFLE_BUFFER, Chunk, Source
from synnet.errors import ConfigError, DataError

Transform = Callable[[dict[str, np.ndarray]], Chunk]


def pyarrow_modules() -> Any:
    """pyarrow with its dataset and csv modules; ImportError naming the extra if missing."""
    try:
        import pyarrow
        import pyarrow.csv
        import pyarrow.dataset
    except ImportError as exc:
        raise ImportError("reading Parquet and CSV files in blocks needs pyarrow: "
                          "pip install 'synnet[parquet]'") from exc
    return pyarrow


def _paths(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> list[Path]:
    """A file, the matching files of a folder (recursively), or a glob's files; sorted."""
    text = os.fspath(path)
    p = Path(text)
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(suffixes))
    elif p.is_file():
        found = [p]
    else:
        found = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
    if not found:
        raise DataError(f"{text}: no such file, or no {'/'.join(suffixes)} file in it",
                        params=["path"])
    return found


class _FileSource(Source):
    def __init__(self, path: str | os.PathLike[str], features: Sequence[str] | None,
                 target: str | None, weight: str | None, transform: Transform | None,
                 columns: Sequence[str] | None, shuffle_buffer: int, read_ahead: int,
                 suffixes: tuple[str, ...]) -> None:
        super().__init__(shuffle_buffer, read_ahead)
        pyarrow_modules()
        self.paths = _paths(path, suffixes)
        if transform is None and (features is None or target is None):
            raise ConfigError("name the feature columns and the target column "
                              "(features=[...], target=...), or give a transform",
                              params=["features", "target"])
        self.features = None if features is None else list(features)
        self.target, self.weight, self.transform = target, weight, transform
        named = [*(self.features or []), *([target] if target else []),
                 *([weight] if weight else [])]
        self.columns = list(columns) if columns is not None else named
        if not self.columns:
            raise ConfigError("name the columns to read (columns=[...]) for the transform",
                              params=["columns"])

    def describe(self) -> dict[str, Any]:
        files = []
        for p in self.paths:
            st = p.stat()
            files.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
        return {"kind": type(self).__name__, "files": files, "columns": self.columns,
                "target": self.target, "weight": self.weight}

    def _chunk(self, columns: dict[str, np.ndarray]) -> Chunk:
        if self.transform is not None:
            return self.transform(columns)
        assert self.features is not None and self.target is not None
        X = np.empty((len(columns[self.target]), len(self.features)), dtype=self.dtype)
        for j, name in enumerate(self.features):
            X[:, j] = columns[name]
        return X, columns[self.target], None if self.weight is None else columns[self.weight]


def _to_numpy(batch: Any) -> dict[str, np.ndarray]:
    return {name: batch.column(i).to_numpy(zero_copy_only=False)
            for i, name in enumerate(batch.schema.names)}


class ParquetSource(_FileSource):
    """A Parquet file, a folder of them, or a glob, through ``pyarrow.dataset``.

    A block is one row group; their order is shuffled each epoch when training
    shuffles. Only ``columns`` (by default the features, target and weight) are read.
    """

    def __init__(self, path: str | os.PathLike[str], features: Sequence[str] | None = None,
                 target: str | None = None, *, weight: str | None = None,
                 transform: Transform | None = None, columns: Sequence[str] | None = None,
                 shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER, read_ahead: int = 2) -> None:
        super().__init__(path, features, target, weight, transform, columns, shuffle_buffer,
                         read_ahead, (".parquet", ".pq"))
        pa = pyarrow_modules()
        try:
            dataset = pa.dataset.dataset([str(p) for p in self.paths], format="parquet")
            self._groups = [g for f in dataset.get_fragments() for g in f.split_by_row_group()]
            sizes = [g.row_groups[0].num_rows for g in self._groups]
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self.paths[0]}: not a readable Parquet dataset ({exc})") from None
        missing = sorted(set(self.columns) - set(dataset.schema.names))
        if missing:
            raise DataError(f"no column {', '.join(map(repr, missing))} in {self.paths[0]}; it "
                            f"has {', '.join(dataset.schema.names[:20])}", params=["columns"])
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_blocks, self.n_rows = len(self._groups), int(self._starts[-1])

    def block_starts(self) -> np.ndarray | None:
        return self._starts[:-1]

    def read(self, order: Sequence[int] | None = None) -> Iterator[tuple[int, Chunk]]:
        for b in (range(self.n_blocks or 0) if order is None else order):
            table = self._groups[b].to_table(columns=self.columns)
            yield int(self._starts[b]), self._chunk(_to_numpy(table.combine_chunks()))


class CsvSource(_FileSource):
    """A CSV file (or several), plain or compressed (.gz, .bz2, .zst, .xz), read in order.

    pyarrow's streaming reader parses ``block_bytes`` at a time. Feature
    columns are read as float64; give ``column_types`` for others (text).
    """

    def __init__(self, path: str | os.PathLike[str], features: Sequence[str] | None = None,
                 target: str | None = None, *, weight: str | None = None,
                 transform: Transform | None = None, columns: Sequence[str] | None = None,
                 column_types: dict[str, Any] | None = None, sep: str = ",",
                 block_bytes: int = 1 << 22, shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
                 read_ahead: int = 2) -> None:
        super().__init__(path, features, target, weight, transform, columns, shuffle_buffer,
                         read_ahead, (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.xz"))
        pa = pyarrow_modules()
        self.sep, self.block_bytes = sep, int(check_int("block_bytes", block_bytes, 1 << 10) or 0)
        types = {name: pa.float64() for name in self.features or ()}
        types.update(column_types or {})
        self.column_types = types

    def _stream(self, path: Path) -> Any:
        pa = pyarrow_modules()
        if path.name.endswith(".xz"):  # pyarrow has no xz codec
            return lzma.open(path, "rb")
        return pa.input_stream(str(path), compression="detect")

    def read(self, order: Sequence[int] | None = None) -> Iterator[tuple[int, Chunk]]:
        pa = pyarrow_modules()
        start = 0
        for path in self.paths:
            with self._stream(path) as stream:
                try:
                    reader = pa.csv.open_csv(
                        stream, read_options=pa.csv.ReadOptions(block_size=self.block_bytes),
                        parse_options=pa.csv.ParseOptions(delimiter=self.sep),
                        convert_options=pa.csv.ConvertOptions(
                            include_columns=self.columns, column_types=self.column_types))
                    for batch in reader:
                        if batch.num_rows:
                            yield start, self._chunk(_to_numpy(batch))
                            start += batch.num_rows
                except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
                    raise DataError(f"{path} (after row {start}): {exc}") from None

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "sep": self.sep}
