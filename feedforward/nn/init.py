"""Weight initialisation schemes (L-ACT-6).

``fan_in`` / ``fan_out`` are a layer's input and output sizes. Glorot (Xavier)
keeps the variance of activations and gradients roughly constant for
symmetric squashing units: ``Var W = 2 / (fan_in + fan_out)``. He keeps it for
ReLUs, which zero half their inputs: ``Var W = 2 / fan_in``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._rng import as_rng
from .._validation import Choice, check_dtype, check_real

__all__ = [
    "INITS", "initialize", "check_init",
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros", "constant",
]


def glorot_uniform(shape, rng, dtype=np.float32):
    fan_in, fan_out = shape[0], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng, dtype=np.float32):
    fan_in, fan_out = shape[0], shape[-1]
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_uniform(shape, rng, dtype=np.float32):
    limit = np.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float32):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])).astype(dtype)


def zeros(shape, rng=None, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def constant(shape, value, dtype=np.float32):
    return np.full(shape, value, dtype=dtype)


INITS = {
    "glorot_uniform": glorot_uniform,
    "xavier_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "zeros": zeros,
}


_SCHEMES = Choice(*INITS)


def check_init(scheme, name: str = "init"):
    """``scheme`` if it is an init :func:`initialize` accepts (a name is returned in ``INITS``'
    spelling, a number as a float); TypeError for a wrong type, ValueError for a bad value."""
    if isinstance(scheme, numbers.Real) and not isinstance(scheme, (bool, np.bool_)):
        return check_real(scheme, name)
    if isinstance(scheme, str):
        return _SCHEMES(scheme, name)
    if not callable(scheme):
        raise TypeError(
            f"{name} must be {_SCHEMES.describe()}, a finite number or a callable (shape, rng, dtype) -> array, "
            f"got {scheme!r} ({type(scheme).__name__})"
        )
    return scheme


def initialize(scheme, shape, rng=None, dtype=np.float32, *, name: str = "init") -> np.ndarray:
    """An array of ``shape`` drawn by ``scheme``, in ``dtype`` (float32 or float64).

    ``scheme`` is a name from ``INITS`` (any case), a finite number (constant fill), or a
    callable ``(shape, rng, dtype) -> array``, whose result must have ``shape`` and be
    finite. ``name`` is the argument named in error messages (``"init"``, ``"bias_init"``).
    """
    dtype = check_dtype(dtype)
    scheme = check_init(scheme, name)
    if isinstance(scheme, float):
        return constant(shape, scheme, dtype)
    if isinstance(scheme, str):
        return INITS[scheme](shape, as_rng(rng), dtype)
    arr = np.asarray(scheme(shape, as_rng(rng), dtype), dtype=dtype)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} {scheme!r} returned shape {arr.shape}, expected {tuple(shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} {scheme!r} returned NaN or inf; the initial weights must be finite")
    return arr
