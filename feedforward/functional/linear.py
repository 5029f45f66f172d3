"""The affine map ``h = x W + b``, fused into one node (L-ARCH-1).

The lecture writes a layer as ``h = g(W^T x + b)`` for a column ``x``; for a
batch ``X`` of shape ``(n, in)`` stacked as rows this is ``X W + b`` with
``W`` of shape ``(in, out)``: the slides' ``XW + c``, where adding the row
``c`` to every row is broadcasting.
"""

from __future__ import annotations

from ..tensor import Tensor, as_tensor


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight + bias`` with ``x`` (..., in), ``weight`` (in, out), ``bias`` (out,).

    One graph node instead of two: the bias is added in place to the fresh
    matmul result, and the backward skips ``dL/dx`` when ``x`` needs no
    gradient (the network's input), saving a third of the first layer's work.
    """
    x = as_tensor(x)
    W = as_tensor(weight)
    if W.ndim != 2:
        raise ValueError(f"linear: weight must have shape (in_features, out_features), got {W.shape}")
    if x.ndim == 0 or x.shape[-1] != W.shape[0]:
        raise ValueError(
            f"linear: input has shape {x.shape}, but the layer expects {W.shape[0]} features "
            f"in its last dimension (weight shape {W.shape})"
        )
    xd = x.data
    lead = xd.shape[:-1]
    x2 = xd.reshape(-1, xd.shape[-1]) if xd.ndim != 2 else xd
    out = x2 @ W.data
    if bias is not None:
        b = as_tensor(bias)
        out += b.data
        parents = (x, W, b)
    else:
        parents = (x, W)
    if xd.ndim != 2:
        out = out.reshape(lead + (W.shape[1],))

    def backward(g):
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        gx = (g2 @ W.data.T).reshape(x.shape) if x.requires_grad else None
        gW = x2.T @ g2 if W.requires_grad else None
        if len(parents) == 2:
            return gx, gW
        gb = g2.sum(axis=0) if parents[2].requires_grad else None
        return gx, gW, gb

    return Tensor._make(out, parents, backward, "linear")
