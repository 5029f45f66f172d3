"""Hidden units and the softmax family (L-ACT-1..5, L-OUT-3).

Every rectifier here is the lecture's generalised ReLU
``g(z, a) = max(0, z) + a min(0, z)`` for some slope ``a``. At the kink
z = 0 each uses the one-sided derivative from the left (L-AD-3): 0 for ReLU,
``a`` for the others, exactly as PyTorch does.

Fused rules (one graph node, forward and backward side by side) are used
where they are cheaper or more stable than the composition of primitives;
each is tested against that composition.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np

from ..backend.registry import device_of, to_device
from ..tensor import Tensor, _axis_tuple, _ns, as_tensor

__all__ = [
    "relu", "abs_rectify", "generalized_relu", "leaky_relu", "prelu", "rrelu", "elu",
    "sigmoid", "tanh", "softplus", "logsumexp", "softmax", "log_softmax", "identity",
]


class UnitKernel(NamedTuple):
    """A hidden unit's forward and derivative as array kernels, shared by its graph op and the fused
    layer chain (:func:`feedforward.functional.chain.linear_chain`).

    ``forward(z, inplace)`` returns ``g(z)`` (written over ``z`` when ``inplace``);
    ``backward(grad, out, inplace)`` returns ``grad * g'(z)`` computed from the output ``out = g(z)``
    alone (written over ``grad`` when ``inplace``): the pre-activation need not be kept. Both
    compute with the array module of their arguments (NumPy, CuPy), so one kernel serves every
    device.

    The same two rules as CUDA C++ expressions, for a backend that compiles one elementwise
    kernel per unit (:mod:`feedforward.backend.cuda_kernels`); ``None`` when the unit cannot be
    written so. They are the only copy of the unit's formula in CUDA: nothing else spells it.

    ``cuda_forward``
        An expression in ``z`` (the pre-activation, of type ``T``) giving ``g(z)``.
    ``cuda_backward``
        An expression in ``g`` (the upstream gradient, ``T``) and ``y`` (the unit's output
        ``g(z)``, ``T``) giving ``g * g'(z)``.
    ``cuda_params``
        ``(name, value)`` pairs: floats passed to the kernel as ``T`` arguments of those names.

    The expressions may use ``T(...)`` casts, ``exp``, ``expm1``, ``tanh``, ``log1p``, ``fabs``,
    ``max``, ``min`` and ``?:``; they follow the NumPy kernels operation for operation (a NaN
    goes through both the same way), and ``tests/test_backend_engine.py`` compiles them with
    the host's C++ compiler and compares their values with the NumPy kernels'.
    """

    forward: Callable
    backward: Callable
    cuda_forward: str | None = None
    cuda_backward: str | None = None
    cuda_params: tuple = ()


def _relu_forward(z, inplace=False):
    # max(z, 0) against a zero of z's dtype (a Python 0 is converted on every call).
    xp = np if type(z) is np.ndarray else _ns(z)  # (inline: this runs once per layer and step)
    return xp.maximum(z, z.dtype.type(0), out=z if inplace else None)


def _relu_backward(g, out, inplace=False):
    # z <= 0 takes the left derivative 0 (L-AD-3). out > 0 exactly where z > 0, so the
    # mask comes from the output instead of being kept alive.
    # dtype=: the bool mask is cast inside the ufunc's loop instead of through NumPy's
    # default buffered cast of a bool operand (same values, one pass less).
    xp = np if type(g) is np.ndarray else _ns(g)
    return xp.multiply(g, out > 0, out=g if inplace else None, dtype=g.dtype)


# NOTE: "z <= 0 ? 0 : z", not "z > 0 ? z : 0": a NaN must come out as NaN, as from np.maximum
# (the divergence check looks for it). The backward multiplies by the mask, as NumPy does, so an
# infinite gradient times a dead unit is NaN on both.
RELU = UnitKernel(_relu_forward, _relu_backward,
                  cuda_forward="z <= T(0) ? T(0) : z",
                  cuda_backward="g * T(y > T(0))")


@functools.lru_cache(maxsize=64)
def slope_kernel(a: float) -> UnitKernel:
    """``g(z, a) = max(0, z) + a min(0, z)`` for a fixed slope ``a > 0``: then ``g(z) > 0`` exactly
    where ``z > 0``, so the derivative (1 or ``a``, the left one at 0: L-AD-3) comes from the output."""
    if not a > 0:
        raise ValueError(f"slope_kernel needs a > 0, got {a}")

    def forward(z, inplace=False):
        s = z.dtype.type(a)
        xp = _ns(z)
        if not inplace or xp is not np:  # CuPy's ufuncs take no where=
            return xp.where(z > 0, z, z * s)
        np.multiply(z, s, out=z, where=z <= 0)  # a NaN is kept, as the np.where above keeps it
        return z

    def backward(g, out, inplace=False):
        return _ns(g).where(out > 0, g, g * g.dtype.type(a))

    return UnitKernel(forward, backward,
                      cuda_forward="z > T(0) ? z : z * a",
                      cuda_backward="y > T(0) ? g : g * a",
                      cuda_params=(("a", float(a)),))


def _rectifier(z: Tensor, a: float, op: str) -> Tensor:
    """g(z, a) = max(0, z) + a min(0, z) for a fixed slope ``a``."""
    z = z if isinstance(z, Tensor) else as_tensor(z)
    zd = z.data
    if a >= 0:
        kernel = RELU if a == 0 else slope_kernel(a)
        out = kernel.forward(zd)
        unit_backward = kernel.backward

        def backward(g):
            return (unit_backward(g, out),)

        return Tensor._make(out, (z,), backward, op)
    # A negative slope: g(z) > 0 also for z < 0, so the derivative needs the input's sign.
    xp = _ns(zd)
    positive = zd > 0
    out = xp.where(positive, zd, zd * zd.dtype.type(a))

    def backward_slope(g):
        # z <= 0 takes the left derivative a: L-AD-3.
        return (xp.where(positive, g, g * g.dtype.type(a)),)

    return Tensor._make(out, (z,), backward_slope, op)


def relu(z) -> Tensor:
    """Rectified linear unit ``max(0, z)`` (L-ACT-1); derivative 0 at z = 0."""
    return _rectifier(z, 0.0, "relu")


def abs_rectify(z) -> Tensor:
    """Absolute value rectification ``g(z, -1) = |z|`` (L-ACT-2).

    The derivative is ``sign(z)``. At the kink we follow ``torch.abs``
    (``sign(0) = 0``) rather than the generalised ReLU's left slope ``-1``,
    so that the two libraries agree; the point has measure zero.
    """
    z = as_tensor(z)
    xp = _ns(z.data)
    out = xp.abs(z.data)

    def backward(g):
        return (g * xp.sign(z.data),)

    return Tensor._make(out, (z,), backward, "abs_rectify")


def generalized_relu(z, a) -> Tensor:
    """The lecture's ``g(z, a) = max(0, z) + a min(0, z)`` for a fixed number ``a``."""
    return _rectifier(z, float(a), "generalized_relu")


def leaky_relu(z, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU: ``g(z, a)`` with a small fixed slope ``a = 0.01`` (L-ACT-2)."""
    return _rectifier(z, float(negative_slope), "leaky_relu")


def prelu(z, weight) -> Tensor:
    """Parametric ReLU: ``g(z, a)`` with a learned slope ``a`` (L-ACT-2).

    ``weight`` has shape ``(1,)`` (one slope shared by all units) or
    ``(units,)`` (one per unit, broadcast along the last axis of ``z``).
    """
    z = as_tensor(z)
    a = as_tensor(weight, z.dtype)
    xp = _ns(z.data)
    positive = z.data > 0
    negative_part = xp.where(positive, z.dtype.type(0), z.data)
    out = xp.where(positive, z.data, a.data * z.data)

    def backward(g):
        gz = xp.where(positive, g, g * a.data) if z.requires_grad else None
        # d/da [a min(0, z)] = min(0, z), summed over everything a was broadcast to.
        ga = _reduce_to(g * negative_part, a.shape) if a.requires_grad else None
        return gz, ga

    return Tensor._make(out, (z, a), backward, "prelu")


def _reduce_to(g, shape):
    from ..autograd import unbroadcast

    if shape == (1,) and g.ndim:
        return g.sum(keepdims=True).astype(g.dtype, copy=False).reshape(1)
    return unbroadcast(g, shape)


def rrelu(z, lower: float = 1 / 8, upper: float = 1 / 3, training: bool = False, rng=None) -> Tensor:
    """Randomized ReLU (L-ACT-2).

    In training each element gets its own slope ``a ~ U(lower, upper)``,
    drawn from ``rng``; in evaluation the slope is the interval's mean
    ``(lower + upper) / 2``. Defaults follow Xu et al. 2015 and PyTorch.
    """
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return _rectifier(z, (lower + upper) / 2, "rrelu")
    if rng is None:
        raise ValueError("rrelu in training mode needs an explicit rng (np.random.Generator or seed)")
    from .._rng import as_rng

    z = as_tensor(z)
    # Drawn on the host by the seeded generator (the same slopes on every device), then moved.
    slopes = to_device(as_rng(rng).uniform(lower, upper, size=z.shape).astype(z.dtype), device_of(z.data))
    slopes = _ns(slopes).where(z.data > 0, z.dtype.type(1), slopes)
    out = z.data * slopes

    def backward(g):
        return (g * slopes,)

    return Tensor._make(out, (z,), backward, "rrelu")


def _elu_value(z, alpha):
    # expm1 on the non-positive part only: no overflow for large positive z.
    xp = _ns(z)
    return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, z.dtype.type(0)))).astype(z.dtype, copy=False)


@functools.lru_cache(maxsize=64)
def elu_kernel(alpha: float) -> UnitKernel:
    """ELU for ``alpha > 0``: ``g(z) > 0`` exactly where ``z > 0``, and for ``z <= 0`` the derivative
    ``alpha e^z`` is ``g(z) + alpha``, so both come from the output."""
    if not alpha > 0:
        raise ValueError(f"elu_kernel needs alpha > 0, got {alpha}")

    def forward(z, inplace=False):
        return _elu_value(z, alpha)

    def backward(g, out, inplace=False):
        # alpha e^z = out + alpha for z <= 0 (the left derivative at 0).
        return _ns(g).where(out > 0, g, g * (out + alpha)).astype(g.dtype, copy=False)

    # expm1 only where z <= 0 (the ternary evaluates one branch): no overflow for large z.
    return UnitKernel(forward, backward,
                      cuda_forward="z > T(0) ? z : alpha * expm1(z)",
                      cuda_backward="y > T(0) ? g : g * (y + alpha)",
                      cuda_params=(("alpha", float(alpha)),))


def elu(z, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit ``z if z > 0 else alpha (e^z - 1)`` (L-ACT-3)."""
    z = as_tensor(z)
    if alpha > 0:
        kernel = elu_kernel(float(alpha))
        out = kernel.forward(z.data)
        unit_backward = kernel.backward

        def backward(g):
            return (unit_backward(g, out),)

        return Tensor._make(out, (z,), backward, "elu")
    # alpha <= 0: the output's sign no longer tells z > 0, so the mask is kept.
    xp = _ns(z.data)
    positive = z.data > 0
    out = _elu_value(z.data, alpha)

    def backward_any_alpha(g):
        # derivative alpha e^z = out + alpha for z <= 0 (left derivative at 0).
        return (xp.where(positive, g, g * (out + alpha)).astype(g.dtype, copy=False),)

    return Tensor._make(out, (z,), backward_any_alpha, "elu")


def _stable_sigmoid(x):
    # e = exp(-|x|) never overflows; for x >= 0: 1/(1+e), for x < 0: e/(1+e).
    xp = _ns(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sigmoid_forward(z, inplace=False):
    return _stable_sigmoid(z)


def _sigmoid_backward(g, s, inplace=False):
    # g s (1 - s): the derivative from the output (L-ACT-4).
    d = _ns(g).multiply(g, s, out=g if inplace else None)
    d *= 1 - s
    return d


# The forward's two branches are the stable forms above: exp of a non-positive number only.
SIGMOID = UnitKernel(_sigmoid_forward, _sigmoid_backward,
                     cuda_forward="z >= T(0) ? T(1) / (T(1) + exp(-z)) : exp(z) / (T(1) + exp(z))",
                     cuda_backward="g * y * (T(1) - y)")


def sigmoid(z) -> Tensor:
    """Logistic sigmoid ``1 / (1 + e^-z)``, stable in both tails (L-ACT-4)."""
    z = as_tensor(z)
    s = _stable_sigmoid(z.data)

    def backward(g):
        return (_sigmoid_backward(g, s),)

    return Tensor._make(s, (z,), backward, "sigmoid")


def _tanh_forward(z, inplace=False):
    return _ns(z).tanh(z, out=z if inplace else None)


def _tanh_backward(g, t, inplace=False):
    xp = _ns(g)
    d = t * t
    xp.subtract(t.dtype.type(1), d, out=d)  # 1 - tanh(z)^2 (L-ACT-5), from the output
    return xp.multiply(g, d, out=g if inplace else d)


TANH = UnitKernel(_tanh_forward, _tanh_backward,
                  cuda_forward="tanh(z)",
                  cuda_backward="g * (T(1) - y * y)")


def tanh(z) -> Tensor:
    """Hyperbolic tangent; derivative ``1 - tanh(z)^2`` (L-ACT-5)."""
    z = as_tensor(z)
    t = _tanh_forward(z.data)

    def backward(g):
        return (_tanh_backward(g, t),)

    return Tensor._make(t, (z,), backward, "tanh")


def identity(z) -> Tensor:
    """The linear unit: returns ``z`` unchanged."""
    return as_tensor(z)


def _softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, no loss of the small tail.
    xp = _ns(x)
    return xp.maximum(x, x.dtype.type(0)) + xp.log1p(xp.exp(-xp.abs(x)))


def softplus(z) -> Tensor:
    """``log(1 + e^z)``, stable for large |z|; derivative ``sigmoid(z)``."""
    z = as_tensor(z)

    def backward(g):
        return (g * _stable_sigmoid(z.data),)

    return Tensor._make(_softplus(z.data), (z,), backward, "softplus")


def _logsumexp(x, axis):
    xp = _ns(x)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, x.dtype.type(0))  # all -inf row: avoid inf - inf
    return m + xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True))


def logsumexp(z, axis=-1, keepdims: bool = False) -> Tensor:
    """``log sum_i e^{z_i}`` along ``axis``, shifted by the max for stability."""
    z = as_tensor(z)
    axis = _axis_tuple(axis, z.ndim)  # None means all axes; squeeze/expand_dims need a tuple
    xp = _ns(z.data)
    lse = _logsumexp(z.data, axis)
    out = lse if keepdims else xp.squeeze(lse, axis=axis)

    def backward(g):
        if not keepdims:
            g = xp.expand_dims(g, axis)
        return (g * xp.exp(z.data - lse),)  # softmax

    return Tensor._make(out, (z,), backward, "logsumexp")


def softmax(z, axis=-1) -> Tensor:
    """``softmax(z)_i = e^{z_i} / sum_j e^{z_j}`` (L-OUT-3)."""
    z = as_tensor(z)
    xp = _ns(z.data)
    e = xp.exp(z.data - xp.max(z.data, axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)

    def backward(g):
        # J^T g = p * (g - <g, p>)
        return (p * (g - xp.sum(g * p, axis=axis, keepdims=True)),)

    return Tensor._make(p, (z,), backward, "softmax")


def log_softmax(z, axis=-1) -> Tensor:
    """``log softmax(z)_i = z_i - logsumexp(z)`` (L-OUT-3), stable for large logits."""
    z = as_tensor(z)
    # (z - m) - log sum e^(z - m), not z - (m + log sum ...): with |z| ~ 1e4 in
    # float32, m + log 2 rounds to a multiple of 2^-10 and the small term is lost.
    xp = _ns(z.data)
    m = xp.max(z.data, axis=axis, keepdims=True)
    shifted = z.data - xp.where(xp.isfinite(m), m, m.dtype.type(0))
    out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def backward(g):
        return (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),)

    return Tensor._make(out, (z,), backward, "log_softmax")
