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

    def _make_kernels(self):
        # NumPy's reference kernels, with the optimizer updates compiled into one pass each
        # when numba is installed (the `fast` extra).
        from .cpu_kernels import CpuKernels

        return CpuKernels()

    def asarray(self, a, index: int, dtype=None):
        return np.asarray(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return np.asarray(a)
