"""Losses as negative log-likelihoods (L-OUT-1..3).

Each loss is one fused graph node: the forward value and the gradient with
respect to the logits ``z`` are computed together in NumPy, which is both
faster and more stable than composing primitives.

``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``, as in
PyTorch. ``sample_weight`` (shape ``(n,)``) weights each example; the mean
is then normalised as scikit-learn does, ``sum_i w_i l_i / sum_i w_i``.

The private ``_trusted=True`` skips the per-call checks of the targets' values (labels in
range, targets in [0, 1], finite): the training loop checks the whole data set once before
the first epoch (:func:`feedforward.training.data.prepare`) and then calls the losses on its slices every step.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_finite, check_labels, check_sample_weight
from ..tensor import Tensor, as_tensor
from ._constants import ones, row_starts

__all__ = ["mse_loss", "binary_cross_entropy_with_logits", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def _target_array(y, z: Tensor, name: str, finite: bool = True) -> np.ndarray:
    y = np.asarray(getattr(y, "data", y))
    if y.dtype.kind not in "iufb":
        raise TypeError(f"{name}: target must be numeric, got dtype {y.dtype}")
    y = y.astype(z.dtype, copy=False)
    if y.shape != z.shape:
        if y.ndim == z.ndim - 1 and z.shape[-1] == 1 and y.shape == z.shape[:-1]:
            y = y.reshape(z.shape)  # (n,) targets for an (n, 1) output
        else:
            raise ValueError(f"{name}: target has shape {y.shape}, expected the input's shape {z.shape}")
    if finite:
        check_finite(y, f"{name} target")
    return y


def _reduce(z: Tensor, elem: np.ndarray, d_elem, sample_weight, reduction: str, op: str,
            factor: float = 1.0) -> Tensor:
    """Turn elementwise losses ``elem`` (shape of z) and ``d elem / d z`` into one node.

    ``d_elem`` is a function returning the derivative array: it is called only
    by the backward pass, so evaluation under ``no_grad`` never computes it.
    Examples are rows (axis 0); an example's loss is the mean of its elements.
    ``factor`` multiplies the reduced loss (and its gradient) inside this node: the output
    units' NLLs are a loss times a constant, and a separate multiply node costs a graph
    record per step for nothing (``reduction`` "mean" or "sum" only).
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    n = elem.shape[0] if elem.ndim else 1
    w = None if sample_weight is None else check_sample_weight(sample_weight, n, z.dtype)
    if w is not None and elem.ndim == 0:
        raise ValueError(f"{op}: sample_weight needs a batch axis, got a scalar input")
    wb = None if w is None else w.reshape((n,) + (1,) * (elem.ndim - 1))  # broadcast over outputs
    if reduction == "none":
        out = elem if wb is None else elem * wb
        scale = None if wb is None else wb
    else:
        per_example = elem.size // n if elem.ndim else 1
        if wb is None:
            total = _add_reduce(elem, axis=None)
            denom = elem.size if reduction == "mean" else 1
            out = total / denom if reduction == "mean" else total
            scale = 1.0 / denom if reduction == "mean" else None
        else:
            # "mean": sum_i w_i l_i / sum_i w_i with l_i the mean over example i's
            # outputs (scikit-learn); "sum": sum_i w_i sum_k l_ik, so that unit
            # weights give exactly the unweighted value for every reduction.
            denom = per_example * w.sum() if reduction == "mean" else 1
            out = (elem * wb).sum() / denom
            scale = wb / denom
        out = np.asarray(out, dtype=z.dtype)
        if factor != 1.0:
            out = out * z.dtype.type(factor)  # as `loss * factor` in z's dtype
            scale = factor if scale is None else scale * factor

    def backward(g):
        grad = d_elem()
        if scale is not None:
            grad *= scale  # d_elem() is a fresh array: scale it in place
        if reduction == "none":
            grad *= g
        else:
            c = g.item()
            if c != 1.0:  # backward() of the loss itself seeds 1: skip a pass over grad
                grad *= c
        return (grad,)

    return Tensor._make(out, (z,), backward, op)


def mse_loss(input, target, reduction: str = "mean", sample_weight=None, *, _factor=1.0,
             _trusted=False) -> Tensor:
    """Mean squared error ``mean (z - y)^2``, as ``torch.nn.functional.mse_loss``.

    The Gaussian output unit's NLL (L-OUT-1) is ``1/2 ||y - z||^2`` per example,
    i.e. ``mse_loss * n_outputs / 2`` (see :class:`feedforward.nn.Gaussian`).
    """
    z = as_tensor(input)
    y = _target_array(target, z, "mse_loss", finite=not _trusted)
    diff = z.data - y
    return _reduce(z, diff * diff, lambda: 2 * diff, sample_weight, reduction, "mse_loss", _factor)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean", sample_weight=None, *,
                                     _factor=1.0, _trusted=False) -> Tensor:
    """Bernoulli NLL from logits, ``-log sigmoid((2y - 1) z) = softplus((1 - 2y) z)`` (L-OUT-2).

    Computed as ``max(z, 0) - y z + log(1 + e^{-|z|})``, which equals
    ``softplus((1 - 2y) z)`` for ``y`` in {0, 1}, also admits soft targets in
    [0, 1], never overflows, and keeps the tiny loss of a confident right
    answer (z = 20, y = 1 gives 2e-9, not 0). It saturates only when the
    answer is right; when z has the wrong sign the gradient ``sigmoid(z) - y``
    stays close to +-1.
    """
    z = input if isinstance(input, Tensor) else as_tensor(input)
    name = "binary_cross_entropy_with_logits"
    y = _target_array(target, z, name, finite=False)
    # 0 <= min and max <= 1 also rules out NaN and inf (NaN fails every comparison), so the
    # separate finiteness pass is only needed to name the problem when this check fails.
    if not _trusted and y.size and not (_min_reduce(y, axis=None) >= 0 and _max_reduce(y, axis=None) <= 1):
        check_finite(y, f"{name} target")
        bad = y[(y < 0) | (y > 1)][0]
        raise ValueError(f"binary_cross_entropy_with_logits: targets must lie in [0, 1], got {bad!r}")
    zd = z.data
    # e = exp(-|z|) is kept for the backward pass's sigmoid; the same operations in the same
    # order as max(z, 0) - z y + log1p(e), without the temporaries.
    e = np.abs(zd)
    np.negative(e, out=e)
    np.exp(e, out=e)
    elem = np.maximum(zd, zd.dtype.type(0))
    elem -= zd * y
    elem += np.log1p(e)

    def d_elem():  # sigmoid(z) - y, only when a backward pass asks for it
        # sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0 (never overflows).
        grad = np.where(zd >= 0, zd.dtype.type(1), e)
        grad /= 1 + e
        grad -= y
        return grad

    return _reduce(z, elem, d_elem, sample_weight, reduction, "binary_cross_entropy_with_logits", _factor)


def cross_entropy(input, target, weight=None, reduction: str = "mean", sample_weight=None, *,
                  _trusted=False) -> Tensor:
    """Categorical NLL ``-log softmax(z)_y`` from logits and integer labels (L-OUT-3).

    ``log softmax(z)_y = z_y - logsumexp(z)`` is stable for any logits; the
    fused gradient is ``softmax(z) - onehot(y)``.

    Parameters
    ----------
    input : Tensor, shape (n, C)
        Logits ``z``.
    target : array of int, shape (n,)
        Class labels in ``[0, C)``.
    weight : array, shape (C,), optional
        Per-class weights, as in PyTorch (combined with ``sample_weight``).
    """
    z = as_tensor(input)
    if z.ndim != 2:
        raise ValueError(f"cross_entropy: input must be logits of shape (n, C), got shape {z.shape}")
    n, C = z.shape
    y = np.asarray(getattr(target, "data", target))
    if y.shape != (n,):
        raise ValueError(f"cross_entropy: target must have shape ({n},) (one label per row), got {y.shape}")
    if y.dtype.kind in "iu" and n:
        # One reduction checks both ends: as unsigned, a negative label is huge.
        # (The training loop calls this on every minibatch; check_labels takes two.)
        y64 = y if y.dtype == np.int64 else y.astype(np.int64)
        if not _trusted and _max_reduce(y64.view(np.uint64)) >= C:
            check_labels(y, C, "cross_entropy labels")  # raises, naming the bad label
        y = y64
    else:
        y = check_labels(y, C, "cross_entropy labels")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    w = None if sample_weight is None else check_sample_weight(sample_weight, n, z.dtype)
    if weight is not None:
        cw = np.asarray(getattr(weight, "data", weight), dtype=z.dtype)
        if cw.shape != (C,):
            raise ValueError(f"cross_entropy: weight must have shape ({C},) (one per class), got {cw.shape}")
        w = cw[y] if w is None else w * cw[y]
    zd = z.data
    # Flat indices of the true classes' logits: 1-D fancy indexing does less work than
    # zd[rows, y] (one index array, not two), and the backward pass reuses them.
    flat = row_starts(n, C) + y
    m = _row_max(zd)
    e = zd - m
    np.exp(e, out=e)  # in place: one (n, C) buffer for the shifted logits and their exponentials
    # sum_j e_ij as the product e 1: one BLAS call, where NumPy reduces short rows one at a time
    s = _dot(e, ones(C, e.dtype)).reshape(n, 1)
    # logsumexp(z) - z_y as log(s) - (z_y - m): subtracting m first keeps the
    # O(1) part exact in float32 even when the logits are ~1e4.
    losses = np.log(s[:, 0]) - (zd.reshape(-1)[flat] - m[:, 0])
    if reduction == "none":
        out = losses if w is None else losses * w
        scale = w
    elif w is None:
        out = _add_reduce(losses) / (n if reduction == "mean" else 1)
        scale = 1.0 / n if reduction == "mean" else None
    else:
        denom = w.sum() if reduction == "mean" else 1
        out = (losses * w).sum() / denom
        scale = w / denom
    out = np.asarray(out, dtype=z.dtype)

    def backward(g):
        grad = e / s  # softmax(z), reusing the forward pass's exponentials
        grad.reshape(-1)[flat] -= 1  # - onehot(y); grad is a fresh C-contiguous array: a view
        if scale is not None:
            grad *= scale if np.isscalar(scale) else scale[:, None]
        if reduction == "none":
            grad *= g[:, None]
        else:
            c = g.item()
            if c != 1.0:  # backward() of the loss itself seeds 1: skip a pass over grad
                grad *= c
        return (grad,)

    return Tensor._make(out, (z,), backward, "cross_entropy")


_add_reduce = np.add.reduce  # the ufunc reductions without ndarray.sum/max's Python wrappers
_dot = np.dot
_max_reduce = np.maximum.reduce
_min_reduce = np.minimum.reduce


def _row_max(z: np.ndarray) -> np.ndarray:
    """The maximum of each row of ``z`` (n, C), shape (n, 1).

    NumPy reduces along short contiguous rows one row at a time; for the few classes of a
    classifier (C <= 32) the transposed copy turns that into C elementwise passes over
    contiguous rows of length n, which give the same numbers.
    """
    if z.shape[1] <= 32 and z.shape[0] > 1:
        return _max_reduce(np.ascontiguousarray(z.T), axis=0).reshape(-1, 1)
    return _max_reduce(z, axis=1, keepdims=True)
