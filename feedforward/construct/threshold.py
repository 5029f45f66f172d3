"""Threshold units made from the engine's own ReLU layers (L-BOOL-1, L-CLS-1, L-REG-1).

The lecture's constructions (Boolean functions, polygons, pulses) are built from
*threshold units* ``[z >= theta]``. ``ff.nn`` has no step function (its gradient
would be zero everywhere), so a threshold unit is realised here by ReLUs:

    ramp(z) = clip(z, 0, 1) = relu(z) - relu(z - 1)

The realisation is **exact** for the Boolean constructions: with integer weights
and inputs in {0, 1} every pre-activation ``z`` is an integer, and on the
integers ``ramp(z)`` *is* the Heaviside step ``[z >= 1]``. For real-valued
inputs (polygons, pulses) the pre-activation is scaled by ``1 / margin`` so the
ramp is a step with a linear transition of width ``margin`` that the caller
controls; outside that band the unit is exactly 0 or 1.

Two ReLUs per unit are needed only when nothing is known about ``z``. When
``z <= 1`` always (an AND of literals: ``z = sum(literals) - (k - 1)``) the unit
is the single ReLU ``relu(z)``; when ``z >= 0`` always (an OR:
``z = sum(literals)``) it is ``1 - relu(1 - z)``, one ReLU whose ``1 - .`` is
folded into the next layer's weights and bias. Bounds on ``z`` come from
interval arithmetic over the inputs' bounds, so the choice is always safe.

A :class:`ThresholdCircuit` is the logical description (layers of threshold
units, each ``h = ramp(h_prev W + b)``, and an optional linear summing output);
:meth:`ThresholdCircuit.network` realises it as an ordinary
:class:`feedforward.nn.MLP` with ReLU hidden layers: trainable, savable, and
computing the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..nn.mlp import MLP

__all__ = ["ramp", "realise_threshold_layer", "ThresholdCircuit"]


def ramp(z):
    """``clip(z, 0, 1)``: the threshold unit; equals ``[z >= 1]`` on integer ``z``."""
    return np.clip(z, 0.0, 1.0)


def realise_threshold_layer(W, b, lower, upper):
    """ReLUs and a linear read-out that compute ``ramp(s W + b)`` for ``lower <= s W + b <= upper``.

    Parameters
    ----------
    W : array, shape (n_in, k)
        Weights of the ``k`` threshold units over their inputs ``s``.
    b : array, shape (k,)
    lower, upper : arrays, shape (k,)
        Bounds on each unit's pre-activation ``z = s W + b`` (``-inf`` / ``inf`` if unknown).

    Returns
    -------
    A : array, shape (n_in, r)
    c : array, shape (r,)
        The ReLU layer ``q = relu(s A + c)`` with ``r`` (``k <= r <= 2k``) units.
    R : array, shape (r, k)
    r0 : array, shape (k,)
        The read-out: ``ramp(s W + b) = q R + r0`` exactly, for every ``s`` within the bounds.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cols, biases, readout = [], [], []
    r0 = np.zeros(W.shape[1])
    for j in range(W.shape[1]):
        w, bj = W[:, j], b[j]
        if upper[j] <= 1:  # ramp(z) = relu(z): the z > 1 branch never happens (AND-like)
            cols.append(w), biases.append(bj), readout.append((j, 1.0))
        elif lower[j] >= 0:  # ramp(z) = 1 - relu(1 - z): the z < 0 branch never happens (OR-like)
            cols.append(-w), biases.append(1.0 - bj), readout.append((j, -1.0))
            r0[j] = 1.0
        else:  # both kinks reachable: relu(z) - relu(z - 1)
            cols.append(w), biases.append(bj), readout.append((j, 1.0))
            cols.append(w), biases.append(bj - 1.0), readout.append((j, -1.0))
    A = np.stack(cols, axis=1)
    R = np.zeros((len(cols), W.shape[1]))
    for row, (j, sign) in enumerate(readout):
        R[row, j] = sign
    return A, np.asarray(biases), R, r0


def _bounds(W, b, lo, hi):
    """Interval arithmetic: the range of ``s W + b`` for ``lo <= s <= hi`` elementwise."""
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (W.shape[0],))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (W.shape[0],))
    with np.errstate(invalid="ignore"):  # 0 * inf -> nan: a zero weight contributes nothing
        low = np.where(W > 0, W * lo[:, None], W * hi[:, None])
        high = np.where(W > 0, W * hi[:, None], W * lo[:, None])
    # every term of `low` is finite or -inf (and of `high` finite or +inf), so the sums are never nan
    low = np.where(W == 0, 0.0, low).sum(axis=0)
    high = np.where(W == 0, 0.0, high).sum(axis=0)
    return low + b, high + b


@dataclass
class ThresholdCircuit:
    """Layers of threshold units, ``h(k) = ramp(h(k-1) W(k) + b(k))``, and an optional summing output.

    Parameters
    ----------
    layers : list of (W, b)
        ``W`` of shape ``(n_prev, k)`` and ``b`` of shape ``(k,)``; ``n_prev`` is the
        input size for the first layer and the previous layer's width after that.
    output : (W, b) or None
        A final linear (summing) unit on the last layer's outputs; ``None``
        returns the last layer's threshold outputs themselves.
    input_bounds : (lo, hi)
        Bounds of the inputs (scalars or per-input arrays), ``(0, 1)`` for Boolean
        inputs; ``(-inf, inf)`` for real-valued ones.
    unit_names : list of list of str, optional
        A label per unit per layer (for tables and figures).
    """

    layers: list
    output: tuple | None = None
    input_bounds: tuple = (0.0, 1.0)
    unit_names: list = field(default_factory=list)

    def __post_init__(self):
        if not self.layers and self.output is None:
            raise ValueError("ThresholdCircuit needs at least one threshold layer or an output layer")
        layers, prev = [], None
        for i, (W, b) in enumerate(self.layers):
            W = np.atleast_2d(np.asarray(W, dtype=np.float64))
            b = np.asarray(b, dtype=np.float64).reshape(-1)
            if W.shape[1] != b.shape[0]:
                raise ValueError(f"layer {i}: W has {W.shape[1]} columns but b has {b.shape[0]} entries")
            if prev is not None and W.shape[0] != prev:
                raise ValueError(f"layer {i}: W has {W.shape[0]} rows, expected {prev} (the previous width)")
            layers.append((W, b))
            prev = W.shape[1]
        self.layers = layers
        if self.output is not None:
            W, b = self.output
            W = np.atleast_2d(np.asarray(W, dtype=np.float64))
            b = np.asarray(b, dtype=np.float64).reshape(-1)
            if prev is not None and W.shape[0] != prev:
                raise ValueError(f"output: W has {W.shape[0]} rows, expected {prev} (the last width)")
            self.output = (W, b)

    # ------------------------------------------------------------- facts
    @property
    def n_inputs(self) -> int:
        return (self.layers[0][0] if self.layers else self.output[0]).shape[0]

    @property
    def units(self) -> list:
        """Threshold units per layer (the lecture's count; the output unit is not included)."""
        return [W.shape[1] for W, _ in self.layers]

    @property
    def n_units(self) -> int:
        return int(sum(self.units))

    # --------------------------------------------------------- semantics
    def evaluate(self, X) -> np.ndarray:
        """The circuit's function in plain NumPy (float64): the reference for the network."""
        h = np.asarray(X, dtype=np.float64)
        for W, b in self.layers:
            h = ramp(h @ W + b)
        if self.output is not None:
            h = h @ self.output[0] + self.output[1]
        return h

    # ------------------------------------------------------- realisation
    def network(self, dtype=np.float32) -> MLP:
        """The circuit as an ``ff.nn.MLP`` with ReLU hidden layers (see the module docstring).

        Each threshold layer becomes one ReLU layer; its read-out ``q R + r0`` is
        folded into the next affine layer, and the last read-out (times the output
        unit, if any) is the network's final ``Linear``.
        """
        n_in = self.n_inputs
        R_prev, r0_prev = np.eye(n_in), np.zeros(n_in)  # the input, read out as itself
        lo, hi = self.input_bounds
        weights = []
        for W, b in self.layers:
            lower, upper = _bounds(W, b, lo, hi)
            A, c, R, r0 = realise_threshold_layer(W, b, lower, upper)
            weights.append((R_prev @ A, r0_prev @ A + c))
            R_prev, r0_prev = R, r0
            lo, hi = 0.0, 1.0  # a threshold unit's output lies in [0, 1]
        if self.output is not None:
            W_out, b_out = self.output
            weights.append((R_prev @ W_out, r0_prev @ W_out + b_out))
        else:
            weights.append((R_prev, r0_prev))
        sizes = [n_in] + [W.shape[1] for W, _ in weights]
        net = MLP(sizes, activation="relu", init="zeros", bias_init=0.0, dtype=dtype)
        for layer, (W, b) in zip(net.linears, weights):
            layer.weight.data = np.asarray(W, dtype=dtype)
            layer.bias.data = np.asarray(b, dtype=dtype)
        return net
