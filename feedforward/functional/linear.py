"""The affine map ``h = x W + b``, fused into one node (L-ARCH-1).

The lecture writes a layer as ``h = g(W^T x + b)`` for a column ``x``; for a
batch ``X`` of shape ``(n, in)`` stacked as rows this is ``X W + b`` with
``W`` of shape ``(in, out)``: the slides' ``XW + c``, where adding the row
``c`` to every row is broadcasting.
"""

from __future__ import annotations

from ..backend.registry import array_namespace, backend_of
from ..tensor import Tensor, _ns, as_tensor


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight + bias`` with ``x`` (..., in), ``weight`` (in, out), ``bias`` (out,).

    One graph node instead of two: the bias is added in place to the fresh
    matmul result, and the backward skips ``dL/dx`` when ``x`` needs no
    gradient (the network's input), saving a third of the first layer's work.
    """
    # isinstance before as_tensor: this runs once per layer and step, and the call adds up.
    x = x if isinstance(x, Tensor) else as_tensor(x)
    W = weight if isinstance(weight, Tensor) else as_tensor(weight)
    Wd = W.data
    xd = x.data
    if Wd.ndim != 2:
        raise ValueError(f"linear: weight must have shape (in_features, out_features), got {W.shape}")
    if xd.ndim == 0 or xd.shape[-1] != Wd.shape[0]:
        raise ValueError(
            f"linear: input has shape {x.shape}, but the layer expects {Wd.shape[0]} features "
            f"in its last dimension (weight shape {W.shape})"
        )
    if type(xd) is not type(Wd):
        array_namespace(xd, Wd)  # on two devices: a ValueError naming both
    flat = xd.ndim == 2
    x2 = xd if flat else xd.reshape(-1, xd.shape[-1])
    dot = _ns(Wd).dot  # the array module of the weights; an input elsewhere is refused by it
    out = dot(x2, Wd)  # dot: the same GEMM as @ for 2-D, with less dispatch overhead
    if bias is not None:
        b = bias if isinstance(bias, Tensor) else as_tensor(bias)
        out += b.data  # in place into the fresh product: no second (n, out) array
        parents = (x, W, b)
    else:
        b = None
        parents = (x, W)
    if not flat:
        out = out.reshape(xd.shape[:-1] + (Wd.shape[1],))

    def backward(g):
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        gx = dot(g2, Wd.T).reshape(xd.shape) if x.requires_grad else None
        gW = dot(x2.T, g2) if W.requires_grad else None
        if b is None:
            return gx, gW
        return gx, gW, (bias_grad(g2) if b.requires_grad else None)

    return Tensor._make(out, parents, backward, "linear")


def bias_grad(g):
    """``dL/db = sum over the rows of g`` for ``g`` of shape (n, out), as the product ``1^T g``.

    The backend's kernel (:meth:`~feedforward.backend.kernels.Kernels.bias_grad`): on NumPy one
    BLAS matrix-vector product instead of the reduction ``g.sum(axis=0)``, which is slower on
    the shapes of a training step (figures in benchmarks/README.md), with the same accumulation
    in the dtype of ``g`` as the weight gradient's product ``x^T g``.
    """
    return backend_of(g).kernels.bias_grad(g)
