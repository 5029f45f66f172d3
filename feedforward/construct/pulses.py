"""Regression from square pulses (L-REG-1).

The lecture: a 3-unit MLP (two threshold units and a summing output unit)
makes a "square pulse" that is 1 only for ``T1 < x < T2``; a weighted sum of
many narrow pulses approximates any function of one input.

Here each threshold unit is a ramp of width ``width`` centred on its threshold
(two ReLUs, see :mod:`.threshold`), so the pulse

    pulse(x) = ramp((x - T1) / width + 1/2) - ramp((x - T2) / width + 1/2)

is exactly 1 on ``[T1 + width/2, T2 - width/2]``, exactly 0 outside
``(T1 - width/2, T2 + width/2)``, and 1/2 at ``T1`` and ``T2``. Neighbouring
pulses ``(t_k, t_k+1)`` and ``(t_k+1, t_k+2)`` then add up to exactly 1 across
their shared edge: the pulses are a partition of unity and ``sum_k f(c_k)
pulse_k(x)`` is the piecewise-constant approximation of ``f`` (with short
linear blends of width ``width`` between pieces). Its error falls as ``1/n``
for a smooth ``f``.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_dtype, check_int, check_real
from .threshold import ThresholdCircuit

__all__ = ["square_pulse_network", "pulse_network", "pulse_heights"]


def _steps(thresholds, width):
    """Threshold units ``ramp((x - t) / width + 1/2)`` on a scalar input, one per threshold."""
    t = np.asarray(thresholds, dtype=np.float64)
    return (np.full((1, len(t)), 1.0 / width), 0.5 - t / width)


def square_pulse_network(t1: float, t2: float, width: float | None = None, dtype=np.float32):
    """The lecture's square pulse: two threshold units and a summing output unit.

    Parameters
    ----------
    t1, t2 : float
        The pulse is 1 on ``(t1, t2)`` (``t1 < t2``) and 0 outside.
    width : float, optional
        Width of each transition (default ``(t2 - t1) / 100``); at most ``t2 - t1``.

    Returns
    -------
    feedforward.nn.MLP
        ``MLP([1, 4, 1])``: input ``(n, 1)``, output ``(n, 1)``.

    Examples
    --------
    >>> import feedforward as ff
    >>> net = square_pulse_network(0.0, 1.0, width=0.1)
    >>> net(ff.Tensor([[-0.5], [0.5], [1.5]])).data.ravel().tolist()
    [0.0, 1.0, 0.0]
    """
    t1, t2 = check_real(t1, "t1"), check_real(t2, "t2")
    dtype = check_dtype(dtype)
    if not t1 < t2:
        raise ValueError(f"a pulse needs t1 < t2, got t1={t1}, t2={t2}")
    if width is None:
        width = (t2 - t1) / 100
    width = check_real(width, "width (at most t2 - t1)", 0, t2 - t1, low_open=True)
    W, b = _steps([t1, t2], width)
    summing = (np.array([[1.0], [-1.0]]), np.zeros(1))
    return ThresholdCircuit([(W, b)], output=summing, input_bounds=(-np.inf, np.inf)).network(dtype)


def pulse_heights(f, a: float, b: float, n_pulses: int):
    """Edges ``t_0 < ... < t_n`` of ``n_pulses`` equal bins of ``[a, b]`` and heights ``f(bin centres)``."""
    a, b = check_real(a, "a"), check_real(b, "b")
    if not a < b:
        raise ValueError(f"need a < b, got a={a}, b={b}")
    n_pulses = check_int(n_pulses, "n_pulses", low=1)
    if not callable(f):
        raise TypeError(f"f must be a function of a 1-D array, got {type(f).__name__}")
    edges = np.linspace(a, b, n_pulses + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    heights = np.asarray(f(centres), dtype=np.float64).reshape(-1)
    if heights.shape != (n_pulses,):
        raise ValueError(
            f"f must map an array of {n_pulses} points to {n_pulses} values, got shape {heights.shape}"
        )
    if not np.isfinite(heights).all():
        raise ValueError("f returned NaN or inf at a bin centre")
    return edges, heights


def pulse_network(f, a: float, b: float, n_pulses: int, transition: float = 0.1, dtype=np.float32):
    """Approximate ``f`` on ``[a, b]`` by a sum of ``n_pulses`` scaled square pulses (L-REG-1).

    Parameters
    ----------
    f : callable
        Vectorised function of a 1-D array.
    a, b : float
        The interval.
    n_pulses : int
        Number of pulses (equal bins; heights are ``f`` at the bin centres).
    transition : float
        Width of each pulse's edges as a fraction of the bin width, in ``(0, 1]``. Small
        values give the piecewise-constant approximation (error ``~ max|f'| (b - a) / (2 n)``);
        ``1`` makes neighbouring edges overlap fully, which gives the piecewise-linear
        interpolation of the centre values (error ``~ 1/n^2`` between the first and last
        bin centres; the outer half bins stay constant, so the error over all of ``[a, b]``
        is still ``~ 1/n``).

    Returns
    -------
    feedforward.nn.MLP
        ``MLP([1, 4 n, 1])``: two threshold units (four ReLUs) per pulse and a summing output.
        The outermost edges sit half a transition outside ``[a, b]`` so the end bins are full.
    """
    transition = check_real(transition, "transition (a fraction of the bin width)", 0, 1, low_open=True)
    dtype = check_dtype(dtype)
    edges, heights = pulse_heights(f, a, b, n_pulses)
    width = transition * (edges[1] - edges[0])
    lo, hi = edges[:-1].copy(), edges[1:].copy()
    lo[0] -= width / 2
    hi[-1] += width / 2
    thresholds = np.ravel(np.column_stack([lo, hi]))  # (t1, t2) of pulse 0, then of pulse 1, ...
    W, bias = _steps(thresholds, width)
    summing = (np.ravel(np.column_stack([heights, -heights]))[:, None], np.zeros(1))
    return ThresholdCircuit([(W, bias)], output=summing, input_bounds=(-np.inf, np.inf)).network(dtype)
