"""Small constant arrays that every training step needs, made once (read-only) and reused.

A step of a small network is a handful of NumPy calls on small arrays, so building
``np.ones(n)`` or ``np.arange(0, n C, C)`` again in every step would be a visible share of it. The caches are keyed by
shape and dtype and stay small (a process sees few batch sizes); they are cleared if they grow.
"""

from __future__ import annotations

import numpy as np

_CACHE: dict = {}


def _cached(key, make) -> np.ndarray:
    a = _CACHE.get(key)
    if a is None:
        if len(_CACHE) > 128:
            _CACHE.clear()
        a = _CACHE[key] = make()
        a.flags.writeable = False
    return a


def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.ones(n, dtype)``, read-only (``dtype`` a NumPy dtype object, e.g. ``array.dtype``)."""
    a = _CACHE.get((n, dtype))  # looked up inline: this runs several times per step
    return a if a is not None else _cached((n, dtype), lambda: np.ones(n, dtype=dtype))


def row_starts(n: int, C: int) -> np.ndarray:
    """``[0, C, 2C, ...]`` (n entries), read-only: the flat index of each row's first entry."""
    a = _CACHE.get(("rows", n, C))
    return a if a is not None else _cached(("rows", n, C), lambda: np.arange(0, n * C, C))
