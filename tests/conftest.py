"""Shared fixtures and settings for the whole test suite.

Randomness is explicit and seeded: tests take the ``rng`` fixture (a fresh
``np.random.Generator`` per test), and hypothesis runs derandomized, so a
failure reproduces exactly on every machine.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Make `from helpers import ...` work however pytest was invoked.
sys.path.insert(0, os.path.dirname(__file__))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a test extra; property tests skip without it
    pass
else:
    # Small example counts and no deadline: the suite runs on 2 shared cores.
    settings.register_profile(
        "feedforward",
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("feedforward")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for each test."""
    return np.random.default_rng(20230)


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    # The whole suite, however invoked (make test also sets OPENBLAS_NUM_THREADS=1).
    # Two pytest workers on two cores: threaded BLAS would oversubscribe the machine
    # (measured: the same run 5-10x slower under contention).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture
def strict():
    """Device ``"strict"``: a GPU-like array library that refuses NumPy (tests/strict_backend.py).

    Yields the counters of host synchronisations and transfers, reset to zero.
    """
    from strict_backend import StrictBackend, counts

    from feedforward import backend

    backend.register(StrictBackend())
    for k in counts:
        counts[k] = 0
    try:
        yield counts
    finally:
        backend.unregister("strict")
