"""A chain of affine layers and hidden units as one graph node (L-ARCH-1, L-BP-1).

Forward, for layers ``k = 1 .. L`` (rows are examples)::

    a(k) = h(k-1) W(k) + b(k)          h(0) = x
    h(k) = g(k)(a(k))                   (or h(k) = a(k) for a layer without a unit)

Backward is the lecture's backprop recursion, from the gradient ``G = dL/dh(L)``::

    G <- G * g(k)'(a(k))                the unit's derivative, from its output h(k)
    dL/dW(k) = h(k-1)^T G,  dL/db(k) = sum over rows of G
    G <- G W(k)^T                       (skipped for the input when it needs no gradient)

Why one node: the composition of ``linear`` and unit ops gives the same numbers (the tests check
bit for bit) but records 2L graph nodes per forward pass, and each node costs Python time that
dominates small networks. Inside the chain the pre-activations ``a(k)`` are never seen by
anyone else, so the unit overwrites them in place, and the backward pass owns every ``G`` after
the first layer's product, so the unit derivative is applied in place too: fewer temporaries
than the modular graph on large layers.

:class:`feedforward.nn.Sequential` (and so :class:`~feedforward.nn.MLP`) uses it whenever every
layer is a plain ``Linear`` or a unit with a :class:`~feedforward.functional.activations.UnitKernel`;
anything else (a PReLU, an RReLU, a hook that replaces a module's ``forward``) takes the
layer-by-layer path.

Every array operation goes through the kernels of the input's backend
(:mod:`feedforward.backend.kernels`: ``dot``, ``bias_unit``, ``unit_backward``, ``bias_grad``),
on the CPU too: one code path, and a backend replaces each step by its own fused kernel.
"""

from __future__ import annotations

from ..autograd import _mode as _grad_mode
from ..backend.registry import _BY_TYPE, array_namespace, backend_of
from ..tensor import Tensor, as_tensor

__all__ = ["linear_chain"]


def linear_chain(x, layers) -> Tensor:
    """``h(L)`` of the chain ``layers``: a sequence of ``(weight, bias or None, unit kernel or None)``.

    ``weight`` has shape ``(in, out)`` (``x @ weight``), ``bias`` ``(out,)``; the unit kernel is
    a :class:`~feedforward.functional.activations.UnitKernel` or ``None`` for an affine layer.
    ``x`` has shape ``(..., in)``. The result equals applying
    :func:`~feedforward.functional.linear` and the units one after the other, value and gradients.
    """
    x = x if isinstance(x, Tensor) else as_tensor(x)
    xd = x.data
    if not layers:
        raise ValueError("linear_chain: needs at least one layer")
    if xd.ndim == 0:
        raise ValueError(f"linear_chain: input must have a feature axis, got shape {xd.shape}")
    kernels = (_BY_TYPE.get(type(xd)) or backend_of(xd)).kernels
    dot, bias_unit = kernels.dot, kernels.bias_unit
    flat = xd.ndim == 2
    h = xd if flat else xd.reshape(-1, xd.shape[-1])
    parents = [x]
    for W, b, _ in layers:
        parents.append(W)
        if b is not None:
            parents.append(b)
    parents = tuple(parents)
    record = False
    if _grad_mode.enabled:
        for p in parents:
            if p.requires_grad:
                record = True
                break
    saved = []  # (h(k-1), W(k), h(k)) per layer: what the backward pass reads
    for k, (W, b, unit) in enumerate(layers):
        Wd = W.data
        if Wd.ndim != 2:
            raise ValueError(f"linear_chain: layer {k}'s weight must have shape (in, out), got {Wd.shape}")
        if h.shape[1] != Wd.shape[0]:
            shape = x.shape if k == 0 else h.shape
            raise ValueError(
                f"linear_chain: layer {k}'s input has shape {shape}, but the layer expects {Wd.shape[0]} "
                f"features in its last dimension (weight shape {Wd.shape})"
            )
        if type(Wd) is not type(xd):
            array_namespace(xd, Wd)  # on two devices: a ValueError naming both
        # a(k) = h W + b is private to the chain: the unit overwrites it with h(k)
        out = bias_unit(dot(h, Wd), None if b is None else b.data, unit)
        if record:
            saved.append((h, Wd, out))
        h = out
    result = h if flat else h.reshape(xd.shape[:-1] + (h.shape[1],))
    if not record:
        return Tensor._make(result, parents, None, "linear_chain")

    def backward(g):
        unit_backward, bias_grad = kernels.unit_backward, kernels.bias_grad
        G = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        owned = False  # the incoming gradient may be shared: never written to
        grads = []
        for k in range(len(layers) - 1, -1, -1):
            W, b, unit = layers[k]
            h_in, Wd, h_out = saved[k]
            if unit is not None:
                G = unit_backward(G, h_out, unit, owned)
                owned = True
            lr = getattr(W, "fold", None)
            if lr is not None and W.requires_grad:
                # A plain SGD step folded into the products (SGD.folded): G W^T first, from the
                # weight before its update; then W and b take their step, and get no .grad.
                G_next = dot(G, Wd.T) if k or x.requires_grad else None
                if b is not None:
                    if getattr(b, "fold", None) is not None:
                        kernels.bias_fold_(b.data, G, b.fold)
                        grads.append(None)
                    else:
                        grads.append(bias_grad(G) if b.requires_grad else None)
                kernels.weight_fold_(Wd, h_in, G, lr)
                grads.append(None)
                if G_next is not None:
                    G, owned = G_next, True
                continue
            if b is not None:
                grads.append(bias_grad(G) if b.requires_grad else None)
            grads.append(dot(h_in.T, G) if W.requires_grad else None)
            if k or x.requires_grad:
                G = dot(G, Wd.T)
                owned = True
        gx = G.reshape(xd.shape) if x.requires_grad else None
        grads.append(gx)
        grads.reverse()
        return grads

    return Tensor._make(result, parents, backward, "linear_chain")
