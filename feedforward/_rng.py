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


# ------------------------------------------------------------ state as JSON
# A generator's state goes into model files and checkpoints as plain JSON; no pickle.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_jsonable(value):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__", "dtype"}:
            if value["dtype"] not in ("uint32", "uint64"):
                raise ValueError(f"rng state: unexpected array dtype {value['dtype']!r}")
            try:
                return np.array(value["__ndarray__"], dtype=value["dtype"])
            except (TypeError, ValueError, OverflowError):
                raise ValueError("rng state: malformed array") from None
        return {k: _from_jsonable(v) for k, v in value.items()}
    return value


def rng_state_to_json(rng: np.random.Generator) -> dict:
    """``rng.bit_generator.state`` as plain JSON values (arrays become lists)."""
    return _jsonable(rng.bit_generator.state)


def rng_from_json(state, rng: np.random.Generator | None = None) -> np.random.Generator:
    """A Generator in the saved state (set on ``rng`` in place when it has the same bit generator)."""
    if not isinstance(state, dict) or state.get("bit_generator") not in BIT_GENERATORS:
        raise ValueError(f"rng state must be a dict with bit_generator in {BIT_GENERATORS}")
    kind = state["bit_generator"]
    value = _from_jsonable(state)
    if rng is None or type(rng.bit_generator).__name__ != kind:
        rng = np.random.Generator(getattr(np.random, kind)())
    try:
        rng.bit_generator.state = value
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"rng state is malformed ({exc})") from None
    return rng
