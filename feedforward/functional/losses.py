"""Losses as negative log-likelihoods (L-OUT-1..3).

Each loss is one fused graph node: the forward value and the gradient with
respect to the logits ``z`` are computed together, with the array module of ``z``
(NumPy, CuPy), which is both faster and more stable than composing primitives.
The categorical NLL is the backend's fused kernel
(:meth:`~feedforward.backend.kernels.Kernels.softmax_cross_entropy`).

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
from ..backend.registry import array_namespace, backend_of, device_of, to_device, to_numpy
from ..tensor import _XP, Tensor, _ns, as_tensor

__all__ = ["mse_loss", "binary_cross_entropy_with_logits", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def _unwrap(x):
    """A Tensor's array; anything else as it is. (Not ``getattr(x, "data", x)``: an array's own
    ``.data`` is its memory buffer, which NumPy would read back as a host array.)"""
    return x.data if isinstance(x, Tensor) else x


def _on_device_of(zd, y, name: str):
    """``y`` (an array, a list, a number) as an array on the device of the logits ``zd``.

    Lists and numbers are converted there; an array must already be there: moving it is the
    caller's explicit choice (``Tensor.to``), as in PyTorch.
    """
    if type(y) not in _XP:
        y = np.asarray(y)
        return y if type(zd) is np.ndarray else to_device(y, device_of(zd))
    if type(y) is not type(zd):
        try:
            array_namespace(zd, y)
        except ValueError:
            raise ValueError(
                f"{name} is on {device_of(y)} but the input is on {device_of(zd)}; move it first "
                f"(Tensor(..., device='{device_of(zd)}') or Tensor.to)"
            ) from None
    return y


def _check_finite(a, name: str) -> None:
    """:func:`check_finite` on any device: a device array is checked there, and copied to the
    host (explicitly) only to name the bad value. Never on the training loop's trusted path."""
    if type(a) is np.ndarray:
        check_finite(a, name)
    elif a.dtype.kind in "fc" and not bool(_XP[type(a)].isfinite(a).all()):
        check_finite(to_numpy(a), name)


def _sample_weight(sample_weight, n: int, zd, trusted: bool):
    """Per-example weights of shape ``(n,)`` in the logits' dtype, on their device (or None).

    On the host every call checks them (:func:`check_sample_weight`); on a device the values
    are checked on the host only when not ``trusted`` (the training loop checked the whole
    data set once), so a step costs no host synchronisation.
    """
    if sample_weight is None:
        return None
    w = _on_device_of(zd, _unwrap(sample_weight), "sample_weight")
    if type(w) is np.ndarray:
        return check_sample_weight(w, n, zd.dtype)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"sample_weight must be numeric, got an array of dtype {w.dtype}")
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one weight per example), got {w.shape}")
    if not trusted:
        check_sample_weight(to_numpy(w), n, zd.dtype)
    return w.astype(zd.dtype, copy=False)


def _target_array(y, z: Tensor, name: str, finite: bool = True):
    zd = z.data  # the array's attributes, not the Tensor's properties: this runs every step
    y = y.data if isinstance(y, Tensor) else y
    if type(y) is not type(zd):
        y = _on_device_of(zd, y, f"{name}: target")
    if y.dtype.kind not in "iufb":
        raise TypeError(f"{name}: target must be numeric, got dtype {y.dtype}")
    y = y.astype(zd.dtype, copy=False)
    shape = zd.shape
    if y.shape != shape:
        if y.ndim == zd.ndim - 1 and shape[-1] == 1 and y.shape == shape[:-1]:
            y = y.reshape(shape)  # (n,) targets for an (n, 1) output
        else:
            raise ValueError(f"{name}: target has shape {y.shape}, expected the input's shape {shape}")
    if finite:
        _check_finite(y, f"{name} target")
    return y


def _reduce(z: Tensor, elem, d_elem, sample_weight, reduction: str, op: str,
            factor: float = 1.0, trusted: bool = False) -> Tensor:
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
    zd = z.data
    xp = np if type(zd) is np.ndarray else _ns(zd)  # (not elem's: for a 0-d input it is a NumPy scalar)
    n = elem.shape[0] if elem.ndim else 1
    w = None if sample_weight is None else _sample_weight(sample_weight, n, zd, trusted)
    if w is not None and elem.ndim == 0:
        raise ValueError(f"{op}: sample_weight needs a batch axis, got a scalar input")
    wb = None if w is None else w.reshape((n,) + (1,) * (elem.ndim - 1))  # broadcast over outputs
    if reduction == "none":
        out = elem if wb is None else elem * wb
        scale = None if wb is None else wb
    else:
        per_example = elem.size // n if elem.ndim else 1
        if wb is None:
            total = _add_reduce(elem, axis=None) if xp is np else elem.sum()
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
        out = xp.asarray(out, dtype=zd.dtype)
        if factor != 1.0:
            out = out * zd.dtype.type(factor)  # as `loss * factor` in z's dtype
            scale = factor if scale is None else scale * factor

    def backward(g):
        grad = d_elem()
        if scale is not None:
            grad *= scale  # d_elem() is a fresh array: scale it in place
        if reduction == "none" or xp is not np:
            grad *= g  # on a device without reading g back: no host synchronisation
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
    return _reduce(z, diff * diff, lambda: 2 * diff, sample_weight, reduction, "mse_loss", _factor, _trusted)


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
    if not _trusted and y.size and not _in_unit_interval(y):
        host = to_numpy(y)  # the error path: the bad value is named from a host copy
        check_finite(host, f"{name} target")
        bad = host[(host < 0) | (host > 1)][0]
        raise ValueError(f"binary_cross_entropy_with_logits: targets must lie in [0, 1], got {bad!r}")
    zd = z.data
    xp = _XP[type(zd)]
    # e = exp(-|z|) is kept for the backward pass's sigmoid; the same operations in the same
    # order as max(z, 0) - z y + log1p(e), without the temporaries.
    e = xp.abs(zd)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    elem = xp.maximum(zd, zd.dtype.type(0))
    elem -= zd * y
    elem += xp.log1p(e)

    def d_elem():  # sigmoid(z) - y, only when a backward pass asks for it
        # sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0 (never overflows).
        grad = xp.where(zd >= 0, zd.dtype.type(1), e)
        grad /= 1 + e
        grad -= y
        return grad

    return _reduce(z, elem, d_elem, sample_weight, reduction, "binary_cross_entropy_with_logits", _factor,
                   _trusted)


def _in_unit_interval(y) -> bool:
    """Whether every target lies in [0, 1] (one host synchronisation on a device)."""
    # 0 <= min and max <= 1 also rules out NaN and inf (NaN fails every comparison).
    if type(y) is np.ndarray:
        return bool(_min_reduce(y, axis=None) >= 0 and _max_reduce(y, axis=None) <= 1)
    return bool(((y >= 0) & (y <= 1)).all())


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
    z = input if isinstance(input, Tensor) else as_tensor(input)
    zd = z.data
    if zd.ndim != 2:
        raise ValueError(f"cross_entropy: input must be logits of shape (n, C), got shape {zd.shape}")
    n, C = zd.shape
    y = target.data if isinstance(target, Tensor) else target
    if type(y) is not type(zd):
        y = _on_device_of(zd, y, "cross_entropy: target")
    if y.shape != (n,):
        raise ValueError(f"cross_entropy: target must have shape ({n},) (one label per row), got {y.shape}")
    if type(y) is not np.ndarray:
        # On a device the labels are checked on a host copy, and only when not trusted: the
        # training loop's steps make no host synchronisation.
        if not _trusted or y.dtype.kind not in "iu":
            check_labels(to_numpy(y), C, "cross_entropy labels")
        y = y.astype(np.int64, copy=False)
    elif y.dtype.kind in "iu" and n:
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
    w = None if sample_weight is None else _sample_weight(sample_weight, n, zd, _trusted)
    if weight is not None:
        cw = _on_device_of(zd, _unwrap(weight), "cross_entropy: weight").astype(z.dtype, copy=False)
        if cw.shape != (C,):
            raise ValueError(f"cross_entropy: weight must have shape ({C},) (one per class), got {cw.shape}")
        w = cw[y] if w is None else w * cw[y]
    kernels = backend_of(zd).kernels
    on_host = type(zd) is np.ndarray
    if reduction == "mean":
        # The training step's case: one fused kernel gives the loss and its gradient.
        out, dz = kernels.softmax_cross_entropy(zd, y, w)
        if on_host:
            dz.flags.writeable = False  # handed to every backward call: nobody may write it
    else:
        losses, probs = kernels.cross_entropy_rows(zd, y)
        if reduction == "none":
            out = losses if w is None else losses * w
        else:
            out = (_add_reduce(losses) if on_host else losses.sum()) if w is None else (losses * w).sum()
        out = _XP[type(zd)].asarray(out, dtype=zd.dtype)

    def backward(g):
        if reduction == "mean":
            if not on_host:
                return (dz * g,)  # without reading g back: no host synchronisation
            c = g.item()
            # backward() of the loss itself seeds 1: the kernel's gradient as it is
            return (dz if c == 1.0 else dz * dz.dtype.type(c),)
        grad = probs.copy()  # a fresh array per call: backward may run twice (retain_graph)
        grad.reshape(-1)[kernels._const_row_starts(n, C) + y] -= 1  # - onehot(y)
        if w is not None:
            grad *= w[:, None]
        grad *= g[:, None] if reduction == "none" else g
        return (grad,)

    return Tensor._make(out, (z,), backward, "cross_entropy")


_add_reduce = np.add.reduce  # the ufunc reductions without ndarray.sum/max's Python wrappers
_max_reduce = np.maximum.reduce
_min_reduce = np.minimum.reduce
