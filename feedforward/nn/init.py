"""Weight initialisation schemes (L-ACT-6).

``fan_in`` / ``fan_out`` are a layer's input and output sizes. Glorot (Xavier)
keeps the variance of activations and gradients roughly constant for
symmetric squashing units: ``Var W = 2 / (fan_in + fan_out)``. He keeps it for
ReLUs, which zero half their inputs: ``Var W = 2 / fan_in``.
"""

from __future__ import annotations

import numpy as np

from .._rng import as_rng

__all__ = [
    "INITS", "initialize", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros", "constant",
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


def initialize(scheme, shape, rng=None, dtype=np.float32) -> np.ndarray:
    """An array of ``shape`` drawn by ``scheme``.

    ``scheme`` is a name from ``INITS``, a number (constant fill), or a
    callable ``(shape, rng, dtype) -> array``.
    """
    if isinstance(scheme, (int, float)) and not isinstance(scheme, bool):
        return constant(shape, scheme, dtype)
    if callable(scheme):
        arr = np.asarray(scheme(shape, as_rng(rng), dtype), dtype=dtype)
    elif isinstance(scheme, str) and scheme in INITS:
        arr = INITS[scheme](shape, as_rng(rng), dtype)
    else:
        raise ValueError(f"unknown init {scheme!r}; expected one of {sorted(INITS)}, a number or a callable")
    if arr.shape != tuple(shape):
        raise ValueError(f"init {scheme!r} returned shape {arr.shape}, expected {tuple(shape)}")
    return arr
