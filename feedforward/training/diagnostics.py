"""Dead and saturated hidden units, and per-layer gradient norms (L-ACT-7).

Units are told apart by the kind they declare in the unit registry
(``Unit.kind``, :mod:`feedforward.nn.activation`), so a new unit is covered the
moment it is registered.

A unit of kind ``"rectifier"`` (ReLU and its generalisations, ELU) is **dead** on
a data set when it is inactive on every example: its pre-activation is ``z <= 0``
everywhere. ``z = 0`` counts as inactive: there a ReLU outputs 0 and its
derivative is the left one, 0 (L-AD-3), so a unit at exactly 0 everywhere learns
nothing, like one below 0. A ReLU then passes no gradient at all and never
recovers (a leaky/parametric/ELU unit still passes a small one).

A unit of kind ``"squasher"`` (sigmoid, tanh) is **saturated** on an example
when its derivative has fallen below ``saturation_tol`` (default 0.1) times its
largest value ``g'(0)``: ``4 s (1 - s) < tol`` for the sigmoid (``|z| > 3.6``)
and ``1 - tanh(z)^2 < tol`` for tanh (``|z| > 1.8``). The derivative comes from
the unit's own gradient rule (autograd), not from a formula written again here.
We report per layer the fraction of units saturated on **every** example
(``saturated_fraction``, the analogue of dead) and the fraction of (example,
unit) pairs saturated (``saturation_rate``).

Layers are named by their dotted module names (``"layers.1"`` for the first
activation of an ``MLP``).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import Real
from ..autograd import enable_grad, no_grad
from ..nn.activation import unit_kind
from ..tensor import Tensor

__all__ = ["ActivationProbe", "activation_report", "layer_grad_norms"]


class ActivationProbe:
    """Watch every rectifier and squasher unit of ``model`` during forward passes.

    Use as a context manager around forward passes over a data set (in
    chunks is fine: statistics accumulate), then call :meth:`report`.
    While active, each watched module's ``forward`` is wrapped by an instance
    attribute; the wrapper only reads arrays, so values and gradients are unchanged.
    """

    def __init__(self, model, saturation_tol: float = 0.1):
        self.saturation_tol = Real(0, 1, low_open=True, high_open=True)(saturation_tol, "saturation_tol")
        self.watched = []
        for name, m in model.named_modules():
            kind = unit_kind(m)
            if kind in ("rectifier", "squasher"):
                self.watched.append((name or type(m).__name__, m, kind))
        self.reset()

    def reset(self) -> None:
        self._stats = {name: {"any": None, "all": None, "hits": 0, "count": 0} for name, _, _ in self.watched}

    def __enter__(self):
        self._saved = []
        for name, module, kind in self.watched:
            self._saved.append((module, module.__dict__.get("forward")))
            module.forward = self._wrap(name, module, kind, module.forward)
        return self

    def __exit__(self, *exc):
        for module, previous in self._saved:
            if previous is None:
                module.__dict__.pop("forward", None)
            else:
                module.forward = previous
        self._saved = []
        return False

    def _wrap(self, name, module, kind, forward):
        stats = self._stats[name]
        tol = self.saturation_tol

        def watched_forward(z, *args, **kwargs):
            out = forward(z, *args, **kwargs)
            zd = np.asarray(getattr(z, "data", z))
            zd = zd.reshape(-1, zd.shape[-1]) if zd.ndim else zd.reshape(1, 1)
            if kind == "rectifier":
                flag = zd > 0  # active; z == 0 is not (see the module docstring)
                reduce_any = True
            else:
                slope = _derivative(module, forward, zd) / _derivative(module, forward, np.zeros_like(zd[:1]))
                flag = slope < tol
                reduce_any = False
                stats["hits"] += int(flag.sum())
                stats["count"] += flag.size
            if reduce_any:
                part = flag.any(axis=0)
                stats["any"] = part if stats["any"] is None else stats["any"] | part
            else:
                part = flag.all(axis=0)
                stats["all"] = part if stats["all"] is None else stats["all"] & part
            return out

        return watched_forward

    def report(self) -> dict:
        """Per layer name: ``dead_fraction``, ``saturated_fraction`` and ``saturation_rate`` (dicts)."""
        dead, saturated, rate = {}, {}, {}
        for name, _, kind in self.watched:
            s = self._stats[name]
            if kind == "rectifier" and s["any"] is not None:
                dead[name] = float(1.0 - s["any"].mean())
            elif kind == "squasher" and s["all"] is not None:
                saturated[name] = float(s["all"].mean())
                rate[name] = s["hits"] / s["count"] if s["count"] else math.nan
        return {"dead_fraction": dead, "saturated_fraction": saturated, "saturation_rate": rate}


def _derivative(module, forward, z: np.ndarray) -> np.ndarray:
    """``g'(z)`` of an element-wise unit, from its own gradient rule: the backward pass of ``g``
    at ``z`` with a cotangent of ones. A graph of its own, so it works inside ``no_grad`` and
    leaves the training graph alone; a unit's own parameters keep the gradients they had."""
    kept = [(p, p.grad) for p in module.parameters()]
    with enable_grad():
        t = Tensor(z, requires_grad=True)
        forward(t).backward(np.ones_like(z))
    for p, g in kept:
        p.grad = g
    return t.grad


def layer_grad_norms(model) -> dict:
    """``{module name: ||gradient of its own parameters||_2}`` from the current ``.grad`` arrays."""
    out = {}
    for name, module in model.named_modules():
        total, has = 0.0, False
        for value in vars(module).values():
            if isinstance(value, Tensor) and value.requires_grad and value.grad is not None:
                g = value.grad.astype(np.float64, copy=False).ravel()
                total += float(np.dot(g, g))
                has = True
        if has:
            out[name or type(module).__name__] = math.sqrt(total)
    return out


def activation_report(model, X, *, chunk_size: int = 4096, saturation_tol: float = 0.1) -> dict:
    """Dead and saturated units of ``model`` on the data ``X`` (eval mode, no graph).

    Parameters
    ----------
    model : Module
    X : array, shape (n, n_features)
    chunk_size : int
        Rows per forward pass.

    Returns
    -------
    dict
        See :meth:`ActivationProbe.report`.

    Examples
    --------
    >>> import numpy as np, feedforward as ff
    >>> net = ff.nn.MLP([2, 4, 1], activation="relu", rng=0)
    >>> sorted(activation_report(net, np.ones((3, 2))))
    ['dead_fraction', 'saturated_fraction', 'saturation_rate']
    """
    X = np.asarray(getattr(X, "data", X))
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"activation_report: X must be a non-empty 2-D array, got shape {X.shape}")
    probe = ActivationProbe(model, saturation_tol)
    was_training = model.training
    model.eval()
    try:
        with no_grad(), probe:
            for s in range(0, len(X), chunk_size):
                model(Tensor(X[s : s + chunk_size]))
    finally:
        model.train(was_training)
    return probe.report()
