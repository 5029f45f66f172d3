"""The fused operations of a training step: one contract, one implementation per backend.

The layer chain, the losses and the optimizers call these instead of composing array ops, so a
backend can replace each by one kernel (:mod:`feedforward.backend.cuda_kernels` does, on CUDA).
:class:`Kernels` is the reference: plain array-module code, in place where it can be, used on
the CPU (NumPy) and by any backend that has nothing faster. Every method returns what it computed.

Shapes follow the lecture: rows are examples, ``z = h W + b`` has shape ``(n, out)``.
"""

from __future__ import annotations

from .updates import UpdateKernels

__all__ = ["Kernels"]


class Kernels(UpdateKernels):
    """Reference kernels on the array module ``xp``."""

    def __init__(self, xp):
        self.xp = xp

    # -- the layer chain
    def gemm(self, a, b, *, trans_a: bool = False, trans_b: bool = False, out=None,
             alpha: float = 1.0, beta: float = 0.0):
        """``alpha op(a) op(b) + beta out`` (``op``: transpose when asked), into ``out`` when given."""
        xp = self.xp
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        if out is None:
            r = xp.dot(a, b)
            if alpha != 1.0:
                r *= alpha
            return r
        if beta == 0.0 and alpha == 1.0:
            return xp.dot(a, b, out=out)
        r = xp.dot(a, b)
        if alpha != 1.0:
            r *= alpha
        if beta == 0.0:
            out[...] = r
        else:
            if beta != 1.0:
                out *= beta
            out += r
        return out

    def bias_unit(self, z, bias, unit):
        """``g(z + b)``, written over ``z``; ``bias`` may be ``None``, ``unit`` a
        :class:`~feedforward.functional.activations.UnitKernel` or ``None`` (affine layer)."""
        if bias is not None:
            z += bias
        return z if unit is None else unit.forward(z, True)

    def unit_backward(self, g, y, unit, owned: bool):
        """``g * g'(a)`` from the unit's output ``y = g(a)``; over ``g`` when ``owned``."""
        return unit.backward(g, y, owned)

    def bias_grad(self, g):
        """``dL/db``: the sum of ``g``'s rows, shape ``(out,)``."""
        return self.xp.dot(self.xp.ones(g.shape[0], g.dtype), g)
