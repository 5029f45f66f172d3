"""Optimizer updates as kernels (reference implementations; :class:`~feedforward.backend.kernels.Kernels`
inherits them, a backend may fuse each into one kernel per parameter, and a group of parameters
into one kernel: ``sgd_group_`` / ``adam_group_``, what the optimizers call).

Each update is in place on the parameter ``p`` (and on its state: the momentum buffer, Adam's
moments) and gives the same numbers as ``torch.optim.SGD`` / ``torch.optim.Adam``. The gradient
``g`` is only read: it may be shared with the caller.

The updates run on one thread: cutting them into blocks of rows over the cores
(:func:`~feedforward.backend.parallel.map_rows`) made the Adam step of a 784-256-128-10 network
slower on two cores, where the BLAS threads of the matrix products hold both.
"""

from __future__ import annotations

import math
import threading

from .registry import to_numpy

__all__ = ["UpdateKernels"]


class UpdateKernels:
    """Reference optimizer updates on the array module ``self.xp``, in place on the parameter."""

    xp = None
    #: Whether ``*_group_`` updates a whole group in one pass (one kernel launch on a GPU); when
    #: not, the optimizers call the per-parameter update themselves (no list building per step).
    fuses_groups = False

    def sgd_(self, p, g, lr, *, momentum=0.0, buf=None, weight_decay=0.0, nesterov=False, dampening=0.0):
        """One SGD step on ``p`` (``torch.optim.SGD``); returns the momentum buffer.

        ``g <- g + weight_decay p``; with ``momentum = mu > 0``: ``b <- g`` when ``buf`` is None
        (the first step: a new buffer, returned), else ``b <- mu b + (1 - dampening) g`` in place;
        ``d = g + mu b`` (``nesterov``) or ``b``; then ``p <- p - lr d``. Returns ``buf`` (None
        without momentum). ``p``, ``buf``: shape of the parameter; ``g``: broadcastable to it.
        """
        xp = self.xp
        if weight_decay:
            g = g + weight_decay * p  # a new array: the caller's gradient is never written
        if momentum:
            if buf is None:
                buf = xp.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                if dampening:
                    buf += (1 - dampening) * g
                else:
                    buf += g
            g = g + momentum * buf if nesterov else buf
        if g.shape != p.shape or g.dtype != p.dtype or p.size < _WORK_MIN:
            # lr * g into a temporary: the same numbers as through the work buffer. For small
            # parameters (and broadcast or other-dtype gradients) the temporary is cheaper.
            p -= lr * g
            return buf
        tmp = self._work(p)
        xp.multiply(g, lr, out=tmp)
        p -= tmp
        return buf

    def adam_(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
        """One Adam step on ``p`` with moments ``m``, ``v`` at step ``t = step`` (``torch.optim.Adam``,
        ``AdamW`` when ``decoupled``), all in place::

            m <- m + (1 - beta1)(g - m),   v <- beta2 v + (1 - beta2) g^2
            p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

        The bias corrections are folded into two scalars, ``c = sqrt(1 - beta2^t)``:
        ``lr m_hat / (sqrt(v_hat) + eps) = (lr c / (1 - beta1^t)) m / (sqrt(v) + eps c)``, so the
        whole update is twelve in-place passes over the parameter, each through one work buffer.
        """
        xp = self.xp
        if weight_decay:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        if g.shape != p.shape or g.dtype != p.dtype:
            g = xp.broadcast_to(g, p.shape).astype(p.dtype)
        if not isinstance(step, int):  # a device step count (Adam(capturable=True)): one read here
            step = int(to_numpy(step).reshape(-1)[0])
        c = math.sqrt(1 - beta2**step)
        step_size = lr * c / (1 - beta1**step)
        eps_c = eps * c
        tmp = self._work(p)
        # m.lerp_(g, 1 - beta1) and v.mul_(beta2).addcmul_(g, g, 1 - beta2), as PyTorch orders them
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp += eps_c
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp

    # -- one parameter group
    def sgd_group_(self, params, grads, lr, *, momentum=0.0, bufs=None, weight_decay=0.0, nesterov=False,
                   dampening=0.0):
        """:meth:`sgd_` on every parameter of a group; returns the list of momentum buffers.

        ``params``, ``grads``: lists of arrays, ``grads[i]`` broadcastable to ``params[i]``;
        ``bufs``: the momentum buffers (None, or a list holding None for a parameter without one
        yet). The reference is one :meth:`sgd_` per parameter (so a backend's fused ``sgd_`` is
        used as it is); a GPU backend launches one kernel for the whole group.
        """
        if not momentum and not weight_decay:  # the plain step: a small network's hot path
            sgd_ = self.sgd_
            for p, g in zip(params, grads):
                sgd_(p, g, lr)
            return [None] * len(params)
        if bufs is None:
            bufs = [None] * len(params)
        return [self.sgd_(p, g, lr, momentum=momentum, buf=buf, weight_decay=weight_decay,
                          nesterov=nesterov, dampening=dampening)
                for p, g, buf in zip(params, grads, bufs)]

    def adam_group_(self, params, grads, ms, vs, *, lr, beta1, beta2, eps, steps, weight_decay=0.0,
                    decoupled=False):
        """:meth:`adam_` on every parameter of a group, in place.

        ``params``, ``grads``, ``ms``, ``vs``: lists of arrays (``ms[i]``, ``vs[i]`` of
        ``params[i]``'s shape and dtype); ``steps``: each parameter's step count ``t`` (a Python
        int, or a one-element device array for a captured step). The reference is one
        :meth:`adam_` per parameter; a GPU backend launches one kernel for the whole group.
        """
        for p, g, m, v, step in zip(params, grads, ms, vs, steps):
            self.adam_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                       weight_decay=weight_decay, decoupled=decoupled)

    # -- helpers
    def _work(self, p):
        """A work array of ``p``'s shape and dtype, reused from step to step.

        One per shape and dtype (and thread): a fresh temporary per step costs an allocation
        and, on large layers, page faults; parameters are updated one after another, so those
        of one shape can share it.
        """
        pool = getattr(_local, "pool", None)
        if pool is None:
            pool = _local.pool = {}
        key = (self.xp, str(getattr(p, "device", "")), p.shape, p.dtype)
        tmp = pool.get(key)
        if tmp is None:
            tmp = pool[key] = self.xp.empty(p.shape, dtype=p.dtype)
        return tmp


_local = threading.local()
_WORK_MIN = 1 << 12  # elements; below this a temporary per step costs less than the pool look-up
