"""Explicit randomness: every random choice takes an ``rng`` argument.

There is no hidden global generator. ``rng`` may be a seed (int), a
``np.random.Generator`` (used as is, so successive calls advance it), or
``None`` (fresh OS entropy, not reproducible, like ``random_state=None`` in
scikit-learn).
"""

from __future__ import annotations

import numbers

import numpy as np


def as_rng(rng=None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"a seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.RandomState):
        # scikit-learn passes RandomState objects around; derive a Generator from it.
        return np.random.default_rng(rng.randint(0, 2**31 - 1))
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")
