"""Compact row storage for the encoder: latents (n, dim) float32 or levels (n,) float64 held in
one array that grows in place, instead of a Python object per 20 ms (docs/batch.md: a 1 h
two-pass encode keeps 180 000 of them until its end)."""
from __future__ import annotations

import numpy as np


class RowBuffer:
    """Rows appended at the end and dropped from the front, in one array of ``dtype``.

    The array grows by ``ndarray.resize`` (a ``realloc``: large blocks move by remapping, not
    copying), so the rows are never held twice; :meth:`take` hands the array itself over.
    No view of the internal array outlives a call: :meth:`rows` and :meth:`pop_front` copy."""

    def __init__(self, dim: int | None, dtype, capacity: int = 256):
        self._shape = () if dim is None else (int(dim),)
        self._dtype = np.dtype(dtype)
        self._a = np.empty((capacity,) + self._shape, self._dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, rows) -> None:
        rows = np.asarray(rows, self._dtype).reshape((-1,) + self._shape)
        need = self._n + rows.shape[0]
        if need > self._a.shape[0]:
            cap = max(need, self._a.shape[0] + self._a.shape[0] // 2)
            self._a.resize((cap,) + self._shape, refcheck=False)  # only this object refers to it
        self._a[self._n:need] = rows
        self._n = need

    def rows(self, start: int, stop: int) -> np.ndarray:
        """A copy of rows ``start:stop`` (clipped to the rows held)."""
        return self._a[start:min(stop, self._n)].copy()

    def pop_front(self, k: int) -> np.ndarray:
        """Remove the first ``k`` rows and return them (a copy); the rest move to the front."""
        k = min(int(k), self._n)
        out = self._a[:k].copy()
        self._a[: self._n - k] = self._a[k:self._n]
        self._n -= k
        return out

    def take(self) -> np.ndarray:
        """All rows as one array (the buffer itself, trimmed in place); the buffer is left empty."""
        a = self._a
        a.resize((self._n,) + self._shape, refcheck=False)
        self._a = np.empty((0,) + self._shape, self._dtype)
        self._n = 0
        return a
