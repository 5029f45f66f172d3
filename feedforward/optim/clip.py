"""Gradient clipping by global norm (L-SGD-7)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_real
from ..backend import array_namespace
from ..tensor import Tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "global_grad_norm"]


def _norm_squared(params):
    """``sum ||g||^2`` over the gradients, a float64 0-d array on their device (no host sync)."""
    total = None
    for p in params:
        g = p.grad
        if g is not None:
            flat = g.astype(np.float64, copy=False).ravel()
            sq = array_namespace(flat).dot(flat, flat)
            total = sq if total is None else total + sq
    return total


def global_grad_norm(params) -> float:
    """``||g||_2`` over all parameters' gradients together (missing gradients count as 0).

    Accumulated in float64 so that a float32 network's norm does not lose digits.
    """
    squared = _norm_squared(params)
    return 0.0 if squared is None else math.sqrt(float(squared))


def clip_grad_norm(params, max_norm: float) -> float:
    """Rescale the gradients so that their global norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: with total norm ``N`` over all
    gradients, every gradient is multiplied by ``max_norm / (N + 1e-6)`` when
    that is below 1. The gradients are replaced (``p.grad = p.grad * c``), not
    scaled in place, because a gradient array may be shared with the caller.

    Parameters
    ----------
    params : iterable of Tensor
        Parameters whose ``.grad`` to clip (``None`` gradients are skipped).
    max_norm : float
        Largest allowed global norm, ``> 0``.

    Returns
    -------
    float
        The total norm before clipping (``inf`` or ``nan`` when a gradient is
        not finite; the gradients are then left unchanged).
    """
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    max_norm = check_real(max_norm, "max_norm", 0, low_open=True)
    total = global_grad_norm(params)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * p.grad.dtype.type(coef)
    return total


def clip_grad_norm_(params, max_norm: float):
    """:func:`clip_grad_norm` without a host synchronisation: for a training step on a device.

    The norm ``N`` and the factor ``min(1, max_norm / (N + 1e-6))`` stay on the device and every
    gradient is multiplied by it (by exactly 1 when no clipping is needed: the same numbers as
    :func:`clip_grad_norm`). A NaN or infinite ``N`` makes the gradients NaN: the caller reads
    the returned norm (a float64 0-d array on the device) and discards the update.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    squared = _norm_squared(params)
    if squared is None:
        return 0.0
    xp = array_namespace(squared)
    total = xp.sqrt(squared)
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for p in params:
        if p.grad is not None:
            p.grad = p.grad * coef.astype(p.grad.dtype)
    return total
