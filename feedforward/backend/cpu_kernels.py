"""The CPU's kernels: the optimizer updates as one compiled pass per parameter (numba).

NumPy runs an update as a chain of whole-array passes: Adam's reference
(:meth:`~feedforward.backend.updates.UpdateKernels.adam_`) is twelve of them, each reading and
writing the parameter-sized work buffer, so on a 784 x 256 weight Adam costs several times the
plain SGD update and a step of a 784-256-128-10 network 1.6 x the SGD step. One loop that reads
``p, g, m, v`` once and writes ``p, m, v`` once does the same arithmetic in one pass.

The loops are compiled with numba, an optional extra (``pip install "feedforward[fast]"``).
Without it, or for what the loops do not take (a gradient of another shape or dtype, arrays
that are not C-contiguous, dtypes other than float32 and float64, small parameters), the
NumPy reference runs: same numbers, no warning. numba is imported on the first update of a
parameter of at least :data:`ADAM_MIN` elements, so scripts that train small networks never
pay its import (0.2 s). Each loop compiles on its first call per dtype (0.1 to 0.4 s) and is
cached on disk in ``__pycache__`` (or numba's user-wide cache when the package directory is
read-only; without any writable cache it compiles once per process).

The numbers are those of the reference, bit for bit: every scalar is cast to the parameter's
dtype first (as NumPy casts a Python float against a float32 array), the operations run in
the reference's order, and without ``fastmath`` the compiler neither reassociates nor fuses a
multiply and an add.
"""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np

from .kernels import Kernels
from .updates import _WORK_MIN

__all__ = ["ADAM_MIN", "SGD_MIN", "CpuKernels"]

# Elements; below these the NumPy reference runs. Measured on the 2-core development machine
# (float32, one thread): the fused Adam loop beats the reference's
# twelve NumPy calls at every size (3.3 against 5.2 us at 128 elements, 35 against 187 us at
# 784 x 256), but a network whose parameters are all small (XOR, digits' 64-32-10) should not
# pay numba's import and first load (about 0.4 s per process, 0.6 s when it compiles) to save a
# few microseconds per step. Plain SGD is two NumPy passes: one numba dispatch (~2.5 us) beats
# them only from about 2^15 elements (3.9 against 4.9 us; 16 against 30 us at 784 x 256).
ADAM_MIN = 1 << 12
SGD_MIN = 1 << 15

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class CpuKernels(Kernels):
    """:class:`~feedforward.backend.kernels.Kernels` on NumPy, with ``adam_`` and ``sgd_`` fused
    into one compiled loop per parameter when numba is installed."""

    def __init__(self):
        super().__init__(np)

    def adam_(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
        """One Adam step on ``p`` in place; see :meth:`UpdateKernels.adam_
        <feedforward.backend.updates.UpdateKernels.adam_>` for the update and its arguments.

        ``p, g, m, v``: the parameter's shape. One pass: for each element ``i``,
        ``p_i <- (1 - lr wd) p_i`` (decoupled), ``g_i <- g_i + wd p_i`` (coupled),
        ``m_i <- m_i + (1 - beta1)(g_i - m_i)``, ``v_i <- beta2 v_i + (1 - beta2) g_i^2``,
        ``p_i <- p_i - s m_i / (sqrt(v_i) + eps c)`` with the reference's ``s`` and ``c``.
        """
        # The size first: small parameters (all of a small network's) go to the reference at the
        # least extra cost, without looking for numba.
        if p.size < ADAM_MIN or (loops := _loops()) is None or not _fusable(p, g, m, v):
            return _reference_adam(self, p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                                   weight_decay=weight_decay, decoupled=decoupled)
        t = p.dtype.type
        # The scalars as the reference computes them (in Python floats), then cast to p's dtype
        # as NumPy casts a Python float operand of a float32 array.
        c = math.sqrt(1 - beta2**step)
        step_size = lr * c / (1 - beta1**step)
        coupled = bool(weight_decay) and not decoupled
        shrink = bool(weight_decay) and decoupled
        loops.adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                   t(1 - beta1), t(1 - beta2), t(beta2), t(eps * c), t(step_size),
                   coupled, t(weight_decay), shrink, t(1 - lr * weight_decay))

    def sgd_(self, p, g, lr, *, momentum=0.0, buf=None, weight_decay=0.0, nesterov=False, dampening=0.0):
        """One SGD step on ``p`` in place; returns the momentum buffer. See :meth:`UpdateKernels.sgd_
        <feedforward.backend.updates.UpdateKernels.sgd_>` for the update and its arguments.

        One pass: ``g_i <- g_i + wd p_i``; ``b_i <- g_i`` (first step) or ``mu b_i + (1 - dampening) g_i``;
        ``d_i = g_i + mu b_i`` (Nesterov) or ``b_i``; ``p_i <- p_i - lr d_i``.
        """
        if not momentum and not weight_decay and p.size < _WORK_MIN:
            # A small parameter's plain step, as the reference takes it, without two more calls:
            # it is most of a small network's update.
            p -= lr * g
            return buf
        if (p.size < SGD_MIN or (loops := _loops()) is None
                or not _fusable(p, g, *(() if buf is None else (buf,)))):
            return _reference_sgd(self, p, g, lr, momentum=momentum, buf=buf, weight_decay=weight_decay,
                                  nesterov=nesterov, dampening=dampening)
        t = p.dtype.type
        first = bool(momentum) and buf is None
        if first:
            buf = np.empty_like(p)
        # Without momentum the loop never touches the buffer: p stands in for it (numba wants an array).
        b = buf if momentum else p
        loops.sgd(p.reshape(-1), g.reshape(-1), b.reshape(-1), t(lr),
                  bool(weight_decay), t(weight_decay), bool(momentum), t(momentum), first,
                  bool(dampening), t(1 - dampening), bool(nesterov))
        return buf


# The NumPy updates, called directly rather than through super(): a small parameter's update
# should cost no more than the reference's (super() and the extra look-ups were 0.2 us a call,
# 2% of an XOR epoch).
_reference_adam = Kernels.adam_
_reference_sgd = Kernels.sgd_


def _fusable(p, *others) -> bool:
    """Whether the compiled loops take ``p`` and its companions: one shape, one float dtype,
    all C-contiguous (so ``reshape(-1)`` is a view) and ``p`` writable."""
    if p.dtype not in _FLOATS or not p.flags.c_contiguous or not p.flags.writeable:
        return False
    for a in others:
        if type(a) is not np.ndarray or a.shape != p.shape or a.dtype != p.dtype or not a.flags.c_contiguous:
            return False
    return True


# -------------------------------------------------------------- the loops (compiled by numba)
# Plain Python at module level, compiled on first use: numba's cache keys them by this file.
# Each scalar arrives in the arrays' dtype, so float32 arithmetic stays float32 as in NumPy;
# each operation is written in the order the reference runs its passes.

def _adam_loop(p, g, m, v, one_minus_beta1, one_minus_beta2, beta2, eps_c, step_size,
               coupled, weight_decay, shrink, keep):
    for i in range(p.shape[0]):
        pi = p[i]
        if shrink:  # decoupled weight decay (AdamW): p *= 1 - lr wd, before the update
            pi = pi * keep
        gi = g[i]
        if coupled:  # g + wd p, with p before the update
            gi = gi + weight_decay * pi
        mi = m[i]
        mi = mi + (gi - mi) * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        p[i] = pi - (mi / (np.sqrt(vi) + eps_c)) * step_size


def _sgd_loop(p, g, b, lr, decay, weight_decay, has_momentum, momentum, first, damped, one_minus_dampening,
              nesterov):
    for i in range(p.shape[0]):
        gi = g[i]
        if decay:
            gi = gi + weight_decay * p[i]
        if has_momentum:
            if first:
                bi = gi
            elif damped:
                bi = b[i] * momentum + one_minus_dampening * gi
            else:
                bi = b[i] * momentum + gi
            b[i] = bi
            gi = gi + momentum * bi if nesterov else bi
        p[i] = p[i] - lr * gi


class _Loops:
    """The compiled loops: ``adam`` and ``sgd``."""

    def __init__(self, numba):
        self.adam = _compile(numba, _adam_loop)
        self.sgd = _compile(numba, _sgd_loop)


def _compile(numba, fn):
    """``fn`` as a numba function (serial, no ``fastmath``: the reference's exact arithmetic), cached
    on disk where numba finds a writable place for it."""
    try:
        return numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    except RuntimeError:
        # numba raises when it has no writable cache directory (a read-only install and no
        # writable home): compile in memory, once per process.
        return numba.njit(cache=False, nogil=True, error_model="numpy")(fn)


_UNSET = object()
_state = _UNSET  # a _Loops, or None without numba; found on the first large update
_lock = threading.Lock()


def _loops():
    """The compiled loops, or ``None`` when numba cannot be imported (the reference then runs)."""
    global _state
    if _state is _UNSET:
        with _lock:
            if _state is _UNSET:
                try:
                    import numba
                except ImportError:
                    _state = None
                else:
                    with warnings.catch_warnings():
                        # numba's own deprecation notices are not the user's business
                        warnings.simplefilter("ignore", DeprecationWarning)
                        _state = _Loops(numba)
    return _state
