"""The fused operations of a training step: one contract, one implementation per backend.

The layer chain, the losses and the optimizers call these instead of composing array ops, so a
backend can replace each by one kernel (:mod:`feedforward.backend.cuda_kernels` does, on CUDA).
:class:`Kernels` is the reference: plain array-module code, in place where it can be, used on
the CPU (NumPy) and by any backend that has nothing faster. Every method returns what it computed.

Shapes follow the lecture: rows are examples, ``z = h W + b`` has shape ``(n, out)``.

On NumPy the elementwise work of a large layer (bias and unit, the unit's derivative) is cut
into blocks of rows that run on every core (:func:`~feedforward.backend.parallel.map_rows`):
NumPy releases the GIL inside its loops. Small arrays run inline: handing a block to a pool
thread and waiting for it costs as much as the elementwise work on a large block, which only a
large array pays back. With two cores it takes ``TWO_CORE_MIN_ELEMENTS`` values to gain at all
(figures in benchmarks/README.md); with more cores, :data:`~feedforward.backend.parallel.MIN_ELEMENTS`.
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .updates import UpdateKernels

__all__ = ["Kernels", "TWO_CORE_MIN_ELEMENTS"]

# Below this, on two cores, bias + unit and its derivative ran slower on two threads than on one:
# the hand-off to the pool thread outweighed the half of the work it took.
TWO_CORE_MIN_ELEMENTS = 1 << 19
_MIN_ELEMENTS = parallel.MIN_ELEMENTS  # read once: the layer kernels test it on every call


def _on_threads(a) -> bool:
    """Whether ``a`` (a NumPy array) is large enough to split over the cores (see above)."""
    k = parallel.num_threads()
    return k > 2 or (k == 2 and a.size >= TWO_CORE_MIN_ELEMENTS)


class Kernels(UpdateKernels):
    """Reference kernels on the array module ``xp``."""

    def __init__(self, xp):
        self.xp = xp
        self._dot = xp.dot  # bound once: the chain calls it several times per layer and step
        if type(self).dot is Kernels.dot:
            # The array module's own function, bound over the method: no Python frame on a tiny
            # network's hot path (a backend that overrides dot keeps its method).
            self.dot = xp.dot
        self._consts: dict = {}  # a key naming shape and dtype -> a constant array made once here

    # -- the layer chain
    def dot(self, a, b):
        """``a @ b`` for two matrices, either of which may be a transposed view: the layer chain's
        products (``h W``, ``h^T G``, ``G W^T``)."""
        return self._dot(a, b)

    def gemm(self, a, b, *, trans_a: bool = False, trans_b: bool = False, out=None,
             alpha: float = 1.0, beta: float = 0.0):
        """``alpha op(a) op(b) + beta out`` (``op``: transpose when asked), into ``out`` when given."""
        if trans_a:
            a = a.T
        if trans_b:
            b = b.T
        if out is None:
            r = self._dot(a, b)
            if alpha != 1.0:
                r *= alpha
            return r
        if beta == 0.0 and alpha == 1.0:
            return self._dot(a, b, out=out)
        r = self._dot(a, b)
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
        :class:`~feedforward.functional.activations.UnitKernel` or ``None`` (affine layer).

        ``z``: shape ``(n, out)``, a fresh array the caller gives up; ``bias``: ``(out,)``.
        """
        if z.size >= _MIN_ELEMENTS and self.xp is np and z.ndim == 2 and _on_threads(z):
            def block(zb):
                if bias is not None:
                    zb += bias
                if unit is not None:
                    r = unit.forward(zb, True)
                    if r is not zb:  # a unit that returns a new array (sigmoid, ELU): back into the block
                        zb[...] = r

            parallel.map_rows(block, z)
            return z
        if bias is not None:
            z += bias
        return z if unit is None else unit.forward(z, True)

    def unit_backward(self, g, y, unit, owned: bool):
        """``g * g'(a)`` from the unit's output ``y = g(a)``; over ``g`` when ``owned``.

        ``g``, ``y``: shape ``(n, out)``. ``g`` is only read unless ``owned``.
        """
        if g.size >= _MIN_ELEMENTS and owned and self.xp is np and g.ndim == 2 and _on_threads(g):
            def block(gb, yb):
                r = unit.backward(gb, yb, True)
                if r is not gb:
                    gb[...] = r

            parallel.map_rows(block, g, y)
            return g
        return unit.backward(g, y, owned)

    #: Whether folding a plain SGD update into the backward pass's products pays on this backend
    #: (``ff.fit`` does it only then; CUDA: yes, one cuBLAS call instead of two kernels).
    fold_update = False

    def weight_fold_(self, W, h, g, lr):
        """Plain SGD folded into the weight gradient: ``W <- W - lr h^T g`` in place, where
        ``h^T g = dL/dW`` (L-DEV-2). Reference: the product, then :meth:`sgd_`, the same numbers
        as the unfused step; a backend makes it one product with ``beta = 1``."""
        self.sgd_(W, self.gemm(h, g, trans_a=True), lr)
        return W

    def bias_fold_(self, b, g, lr):
        """``b <- b - lr 1^T g`` in place (the bias's share of :meth:`weight_fold_`)."""
        self.sgd_(b, self.bias_grad(g), lr)
        return b

    def bias_grad(self, g):
        """``dL/db``: the sum of ``g``'s rows, shape ``(out,)``.

        One matrix-vector product ``1^T g`` rather than ``g.sum(axis=0)``, which NumPy reduces
        more slowly on the shapes of a training step; the same accumulation in ``g``'s dtype as
        the weight gradient's product.
        """
        n = g.shape[0]
        ones = self._consts.get((n, g.dtype))  # looked up inline: this runs once per layer and step
        return self._dot(self._const_ones(n, g.dtype) if ones is None else ones, g)

    # -- the output unit
    def cross_entropy_rows(self, z, labels):
        """Per-row losses ``l_i = -log softmax(z_i)_{y_i}`` (shape ``(n,)``) and ``softmax(z)``
        (shape ``(n, C)``, a fresh array) from logits ``z`` ``(n, C)`` and int64 labels ``(n,)``.

        ``log softmax(z)_y = z_y - logsumexp(z)`` computed as ``log s - (z_y - m)`` with
        ``m`` the row's maximum and ``s = sum_j e^{z_j - m}``: subtracting ``m`` first keeps the
        O(1) part exact in float32 even for logits near 1e4.
        """
        losses, probs, _ = self._cross_entropy_rows(z, labels)
        return losses, probs

    def _cross_entropy_rows(self, z, labels):
        # cross_entropy_rows, and the flat indices of the true classes' logits for the gradient
        xp = self.xp
        n, C = z.shape
        consts = self._consts
        starts = consts.get(("rows", n, C))
        ones = consts.get((C, z.dtype))
        # Flat indices of the true classes' logits: 1-D fancy indexing does less work than
        # z[rows, y] (one index array, not two).
        flat = (self._const_row_starts(n, C) if starts is None else starts) + labels
        m = self._row_max(z)
        e = z - m
        xp.exp(e, out=e)  # in place: one (n, C) buffer for the shifted logits and their exponentials
        # sum_j e_ij as the product e 1: one BLAS call, where NumPy reduces short rows one at a time
        s = self._dot(e, self._const_ones(C, e.dtype) if ones is None else ones).reshape(n, 1)
        losses = xp.log(s[:, 0]) - (z.reshape(-1)[flat] - m[:, 0])
        e /= s  # softmax(z), from the exponentials already made
        return losses, e, flat

    def softmax_cross_entropy(self, z, labels, weights=None):
        """``(loss, dz)``: the categorical NLL of integer ``labels`` under ``softmax(z)`` and its gradient.

        ``z``: logits, shape ``(n, C)``; ``labels``: int64, shape ``(n,)``, in ``[0, C)`` (not
        checked here); ``weights``: per-row weights ``w`` of shape ``(n,)`` in ``z``'s dtype, or
        ``None`` (all ones). With ``l_i = logsumexp(z_i) - z_{i, y_i}``::

            loss = sum_i w_i l_i / sum_i w_i          (no weights: sum_i l_i / n)
            dz   = w_i (softmax(z_i) - onehot(y_i)) / sum_j w_j

        ``loss`` is a 0-d array in ``z``'s dtype on ``z``'s device (no host synchronisation);
        ``dz`` a fresh ``(n, C)`` array. These are the numbers of
        :func:`feedforward.functional.cross_entropy` with ``reduction="mean"``, which calls this.
        """
        xp = self.xp
        n = z.shape[0]
        losses, dz, flat = self._cross_entropy_rows(z, labels)
        if weights is None:
            loss = (_add_reduce(losses) if xp is np else losses.sum()) / n
            scale = 1.0 / n
        else:
            denom = weights.sum()
            loss = (losses * weights).sum() / denom
            scale = (weights / denom)[:, None]
        dz.reshape(-1)[flat] -= 1  # - onehot(y); dz is C-contiguous: a view
        dz *= scale
        return xp.asarray(loss, dtype=z.dtype), dz

    # -- helpers
    def _row_max(self, z):
        """The maximum of each row of ``z`` (n, C), shape (n, 1).

        NumPy reduces along short contiguous rows one row at a time; for the few classes of a
        classifier (C <= 32) the transposed copy turns that into C elementwise passes over
        contiguous rows of length n, which give the same numbers.
        """
        xp = self.xp
        if xp is np and z.shape[1] <= 32 and z.shape[0] > 1:
            return _max_reduce(np.ascontiguousarray(z.T), axis=0).reshape(-1, 1)
        return xp.max(z, axis=1, keepdims=True)

    def _const_ones(self, n: int, dtype):
        """``ones(n, dtype)`` on this backend, made once (read it, never write it)."""
        key = (n, dtype)  # the ones: the most used, with the shortest key
        a = self._consts.get(key)
        if a is None:
            a = self._const(key, lambda: self.xp.ones(n, dtype=dtype))
        return a

    def _const_row_starts(self, n: int, C: int):
        """``[0, C, 2C, ...]`` (n entries): the flat index of each row's first entry, made once."""
        key = ("rows", n, C)
        a = self._consts.get(key)
        if a is None:
            a = self._const(key, lambda: self.xp.arange(0, n * C, C))
        return a

    def _const(self, key, make):
        if len(self._consts) > 128:  # a process sees few batch sizes; bound it all the same
            self._consts.clear()
        a = self._consts[key] = make()
        if self.xp is np:
            a.flags.writeable = False  # shared by every step: a stray write must fail loudly
        return a


_add_reduce = np.add.reduce  # the ufunc reductions without ndarray.sum/max's Python wrappers
_max_reduce = np.maximum.reduce
