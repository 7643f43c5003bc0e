"""Encoded rows: the preprocessed feature matrix without its one-hot part (NumPy only).

A :class:`Preprocessor` output is numeric and date features (dense floats) and
one-hot blocks (one per categorical column). :class:`EncodedRows` keeps the
dense part as it is, (n, numeric outputs), and each categorical column as one
integer code per row, (n, categorical columns), so memory never grows as rows x
categories. Rows are expanded to the exact matrix the Preprocessor's
transform builds, only when asked for: ``X[idx]`` / ``np.take(X, idx, axis=0,
out=buf)`` for a minibatch, and ``X @ W`` block by block (what a network's
first Dense layer computes in inference mode). :func:`expand_into` is the one
expansion, used by the Preprocessor's own transform too.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

#: Rows are expanded about this many matrix cells at a time (32 MiB of float64) in ``@``.
EXPAND_CELLS = 1 << 22


#: The output columns of a layout in runs: (dense runs, one-hot runs); a dense run is
#: (first column, stop, its first column in the dense part), a one-hot run (first, stop).
Runs = tuple[list[tuple[int, int, int]], list[tuple[int, int]]]


def column_runs(dense_at: np.ndarray, n_outputs: int) -> Runs:
    """The columns ``dense_at`` (d,) of an (n, ``n_outputs``) matrix, and the others,
    as runs of consecutive columns: rows are then written a slice at a time."""
    dense: list[tuple[int, int, int]] = []
    for j, at in enumerate(int(a) for a in dense_at):
        if dense and dense[-1][1] == at:
            first, _, src = dense[-1]
            dense[-1] = (first, at + 1, src)
        else:
            dense.append((at, at + 1, j))
    gaps: list[tuple[int, int]] = []
    at = 0
    for first, stop, _ in [*dense, (n_outputs, n_outputs, 0)]:
        if first > at:
            gaps.append((at, first))
        at = stop
    return dense, gaps


def expand_into(out: np.ndarray, dense: np.ndarray, runs: Runs, codes: np.ndarray,
                code_at: np.ndarray) -> np.ndarray:
    """Write rows into ``out`` (k, n_outputs): ``dense`` (k, d) to its columns, given as
    ``runs`` (see :func:`column_runs`), and a 1 at column ``code_at[j] + codes[:, j]`` for
    each categorical column j of ``codes`` (k, m); a negative code (a category unseen in
    training) writes nothing.

    ``out`` may hold anything before: every cell is written.
    """
    dense_runs, gaps = runs
    for first, stop in gaps:  # slices, not fancy indexing: no index arrays, fewer passes
        out[:, first:stop] = 0
    for first, stop, src in dense_runs:
        out[:, first:stop] = dense[:, src:src + stop - first]
    if codes.size:
        k, width = out.shape
        # Flat positions of the ones (cheaper than 2-D fancy indexing on small batches).
        at = codes + (np.arange(0, k * width, width)[:, None] + code_at)
        if codes.min() < 0:
            at = at[codes >= 0]
        if out.flags.c_contiguous:
            out.reshape(-1)[at.ravel()] = 1
        else:
            out[at // width, at % width] = 1
    return out


class EncodedRows:
    """An (n, n_outputs) feature matrix held as dense columns plus category codes.

    Args:
        dense: (n, d) numeric and date outputs, already in the matrix's dtype.
        dense_at: (d,) their columns in the full matrix.
        codes: (n, m) int32 category codes within each categorical column's block
            (-1: unseen in training).
        code_at: (m,) the first column of each categorical block.
        n_outputs: columns of the full matrix.

    Indexing with row numbers (``X[idx]``) and ``np.take(X, idx, axis=0,
    out=...)`` give dense rows; a slice ``X[a:b]`` is a view, still encoded,
    as an array's slice is. The values are finite by construction (checked once,
    when the network takes the data). A network trains on it in shuffled
    minibatches (gathered dense) and predicts from it; a training step on the
    encoded matrix itself (unshuffled or full-batch fits) is refused.
    """

    ndim = 2
    expands_rows = True  # how synnet._validation.is_encoded recognises it

    def __init__(self, dense: np.ndarray, dense_at: np.ndarray, codes: np.ndarray,
                 code_at: np.ndarray, n_outputs: int) -> None:
        self.dense, self.codes = dense, codes
        self.dense_at, self.code_at = dense_at, code_at
        self.runs = column_runs(dense_at, n_outputs)
        self.shape = (len(dense), n_outputs)
        self.dtype = dense.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"EncodedRows(shape={self.shape}, dtype={self.dtype}, "
                f"categorical columns={self.codes.shape[1]})")

    @property
    def arrays(self) -> list[np.ndarray]:
        """What determines the matrix (for digests): dense part, codes, and the layout."""
        layout = np.concatenate([self.dense_at, self.code_at, [self.shape[1]]]).astype(np.int64)
        return [self.dense, self.codes, layout]

    def _rows(self, dense: np.ndarray, codes: np.ndarray) -> EncodedRows:
        return EncodedRows(dense, self.dense_at, codes, self.code_at, self.shape[1])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self._rows(self.dense[key], self.codes[key])
        return self.take(np.asarray(key))

    def take(self, indices: Any, axis: int = 0, out: np.ndarray | None = None,
             mode: Literal["raise", "wrap", "clip"] = "raise") -> np.ndarray:
        """Dense rows ``indices`` (k,) -> (k, n_outputs), into ``out`` when given.

        The signature of ``ndarray.take`` (rows only), so ``np.take`` works on it.
        """
        if axis != 0:
            raise ValueError("EncodedRows.take gathers rows only (axis=0)")
        idx = np.asarray(indices)
        if out is None:
            out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
        return expand_into(out, self.dense.take(idx, axis=0, mode=mode), self.runs,
                           self.codes.take(idx, axis=0, mode=mode), self.code_at)

    def toarray(self) -> np.ndarray:
        """The whole (n, n_outputs) matrix (rows x outputs of memory)."""
        out = np.empty(self.shape, dtype=self.dtype)
        return expand_into(out, self.dense, self.runs, self.codes, self.code_at)

    @property
    def T(self) -> np.ndarray:  # ndarray's name: what Dense.backward asks for
        raise TypeError("EncodedRows trains in shuffled minibatches only (Network.fit with "
                        "shuffle=True and batch_size below the rows), which gather dense "
                        "rows; for other fits pass X.toarray()")

    def astype(self, dtype: Any) -> EncodedRows:
        """The same rows in ``dtype`` (the dense part converted; codes shared)."""
        return self._rows(self.dense.astype(dtype), self.codes)

    def __matmul__(self, W: np.ndarray) -> np.ndarray:
        """``X @ W`` (n, n_outputs) @ (n_outputs, k) -> (n, k), expanding a block of rows
        at a time; one block (the same product as on the dense matrix) when small."""
        n = self.shape[0]
        step = max(1, EXPAND_CELLS // max(1, self.shape[1]))
        if n <= step:
            return np.dot(self.toarray(), W)
        out = np.empty((n, W.shape[1]), dtype=np.result_type(self.dtype, W.dtype))
        buf = np.empty((step, self.shape[1]), dtype=self.dtype)
        for start in range(0, n, step):
            block = self[start:start + step]
            rows = expand_into(buf[:len(block)], block.dense, self.runs, block.codes,
                               self.code_at)
            np.dot(rows, W, out=out[start:start + len(block)])
        return out
