"""The CPU backend: NumPy arrays."""

from __future__ import annotations

import numpy as np

from .registry import Backend

__all__ = ["CPU"]


class CPU(Backend):
    type = "cpu"
    xp = np
    array_types = (np.ndarray,)

    def _load(self) -> None:  # NumPy is always there
        pass

    def asarray(self, a, index: int, dtype=None):
        return np.asarray(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return np.asarray(a)
