"""Gradient clipping by global norm (L-SGD-7)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_real
from ..tensor import Tensor

__all__ = ["clip_grad_norm", "global_grad_norm"]


def global_grad_norm(params) -> float:
    """``||g||_2`` over all parameters' gradients together (missing gradients count as 0).

    Accumulated in float64 so that a float32 network's norm does not lose digits.
    """
    total = 0.0
    for p in params:
        if p.grad is not None:
            g = p.grad.astype(np.float64, copy=False)
            total += float(np.dot(g.ravel(), g.ravel()))
    return math.sqrt(total)


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
