"""Optimizer updates as kernels (reference implementations; :class:`~feedforward.backend.kernels.Kernels`
inherits them, a backend may fuse each into one kernel per parameter)."""

from __future__ import annotations

__all__ = ["UpdateKernels"]


class UpdateKernels:
    """Reference optimizer updates on the array module ``self.xp``, in place on the parameter."""

    xp = None
