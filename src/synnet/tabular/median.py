"""Exact medians of columns read in chunks, in bounded memory, over a few more passes.

The median of n numbers is the value at rank (n - 1) // 2 and n // 2 of their
sorted order (the mean of the two, as ``np.median`` takes it). Each rank is
found by narrowing: numbers are mapped to integer keys in the same order (their
float64 bits, negatives flipped), and a pass over the chunks counts the keys
still in play in :data:`BINS` bins; the bin holding the rank, from its smallest
key to its largest, becomes the new range (so a value repeated many times is
found at once). Once a range holds at most :data:`COLLECT` numbers, the next pass
collects them and picks the rank, exactly. Every histogram pass divides the key
range by :data:`BINS`, so a rank takes at most four of them and one collecting
pass (on ordinary data, one of each); all columns share the passes. Memory is
:data:`BINS` counts, or :data:`COLLECT` numbers, per rank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

#: Bins per histogram pass, and the most numbers a collecting pass keeps (per rank).
BINS = 1 << 16
COLLECT = 1 << 16
_SIGN = np.int64(0x7FFF_FFFF_FFFF_FFFF)


def keys(x: np.ndarray) -> np.ndarray:
    """int64 keys of float64 numbers, in the numbers' order (-0.0 as 0.0)."""
    bits = (np.asarray(x, dtype=np.float64) + 0.0).view(np.int64)
    return np.where(bits < 0, bits ^ _SIGN, bits)


def number(key: int) -> float:
    """The float64 number of a key (the inverse of :func:`keys`)."""
    bits = np.int64(key)
    return float(np.array([bits ^ _SIGN if bits < 0 else bits]).view(np.float64)[0])


@dataclass
class _Rank:
    """The search for the number at ``rank`` (0-based) of a column's sorted numbers."""

    rank: int
    lo: int  # keys in play: lo..hi
    hi: int
    below: int = 0  # numbers with keys under lo
    inside: int = 0  # numbers with keys in lo..hi
    counts: np.ndarray | None = None  # this pass's histogram, and each bin's key range
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None
    values: list[np.ndarray] = field(default_factory=list)  # this pass's collected numbers
    found: float | None = None

    @property
    def collecting(self) -> bool:
        return self.inside <= COLLECT

    def width(self) -> int:
        return -(-(self.hi - self.lo + 1) // BINS)

    def add(self, k: np.ndarray, x: np.ndarray) -> None:
        inside = (k >= self.lo) & (k <= self.hi)
        if self.collecting:
            self.values.append(x[inside])
            return
        # Offsets from lo in uint64: the difference is below 2**64 even for the full range.
        k = k[inside]
        offset = k.astype(np.uint64) - np.uint64(self.lo % 2**64)
        bins = (offset // np.uint64(self.width())).astype(np.intp)
        counts = np.bincount(bins, minlength=BINS)
        if self.counts is None or self.mins is None or self.maxs is None:
            self.counts = counts
            self.mins = np.full(BINS, np.iinfo(np.int64).max, dtype=np.int64)
            self.maxs = np.full(BINS, np.iinfo(np.int64).min, dtype=np.int64)
        else:
            self.counts += counts
        np.minimum.at(self.mins, bins, k)
        np.maximum.at(self.maxs, bins, k)

    def finish_pass(self) -> None:
        if self.collecting:
            ordered = np.sort(np.concatenate(self.values)) if self.values else np.zeros(0)
            self.found = float(ordered[self.rank - self.below])
            return
        counts = self.counts if self.counts is not None else np.zeros(BINS, dtype=np.intp)
        before = self.below + np.cumsum(counts)
        b = int(np.searchsorted(before, self.rank, side="right"))  # first bin past the rank
        assert self.mins is not None and self.maxs is not None  # the rank's bin has numbers
        self.below = int(before[b] - counts[b])
        self.lo, self.hi = int(self.mins[b]), int(self.maxs[b])
        self.inside, self.counts, self.mins, self.maxs = int(counts[b]), None, None, None
        if self.lo == self.hi:  # one key left: one number, however often it occurs
            self.found = number(self.lo)


def median_of_sorted(low: float, high: float, n: int) -> float:
    """The median from the numbers at ranks (n - 1) // 2 and n // 2, as np.median gives it."""
    if n % 2:
        return low
    return float(np.mean(np.array([low, high])))


def exact_medians(columns: dict[str, tuple[int, float, float]],
                  passes: Callable[[], Iterable[dict[str, np.ndarray]]]) -> dict[str, float]:
    """{name: median} of columns given as {name: (count, smallest, largest)}.

    ``passes()`` reads the data once more: per chunk, {name: its numbers (any
    order, no missing values)}. Called as many times as the narrowing needs.
    """
    ranks = {name: [_Rank(r, int(keys(np.array([lo]))[0]), int(keys(np.array([hi]))[0]),
                          inside=n) for r in sorted({(n - 1) // 2, n // 2})]
             for name, (n, lo, hi) in columns.items() if n}
    for searches in ranks.values():
        for s in searches:
            if s.lo == s.hi:
                s.found = number(s.lo)
    while any(s.found is None for searches in ranks.values() for s in searches):
        active = {name: [s for s in searches if s.found is None]
                  for name, searches in ranks.items()}
        for chunk in passes():
            for name, searches in active.items():
                if searches:
                    x = chunk[name]
                    k = keys(x)
                    for s in searches:
                        s.add(k, x)
        for searches in active.values():
            for s in searches:
                s.finish_pass()
                s.values = []
    out = {}
    for name, searches in ranks.items():
        low, high = searches[0].found, searches[-1].found
        assert low is not None and high is not None
        out[name] = median_of_sorted(low, high, columns[name][0])
    return out
