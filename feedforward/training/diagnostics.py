"""Dead and saturated hidden units, and per-layer gradient norms (L-ACT-7).

A rectifier unit (``ff.nn.activation.RECTIFIERS``: ReLU and its
generalisations, ELU) is **dead** on a data set when its pre-activation
``z`` is ``<= 0`` on every example: a ReLU then passes no gradient at all
and never recovers (a leaky/parametric/ELU unit still passes a small one).

A sigmoid or tanh unit (``SQUASHERS``) is **saturated** on an example when
its derivative has fallen below ``saturation_tol`` (default 0.1) times its
largest value ``g'(0)``: ``4 s (1 - s) < tol`` for the sigmoid (``|z| > 3.6``)
and ``1 - tanh(z)^2 < tol`` for tanh (``|z| > 1.8``). We report per layer the
fraction of units saturated on **every** example (``saturated_fraction``,
the analogue of dead) and the fraction of (example, unit) pairs saturated
(``saturation_rate``).

Layers are named by their dotted module names (``"layers.1"`` for the first
activation of an ``MLP``).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..nn.activation import RECTIFIERS, SQUASHERS, Sigmoid, Tanh
from ..tensor import Tensor

__all__ = ["ActivationProbe", "activation_report", "layer_grad_norms"]


class ActivationProbe:
    """Watch every rectifier and squasher module of ``model`` during forward passes.

    Use as a context manager around forward passes over a data set (in
    chunks is fine: statistics accumulate), then call :meth:`report`.
    While active, each watched module's ``forward`` is wrapped by an instance
    attribute; the wrapper only reads arrays, so values and gradients are unchanged.
    """

    def __init__(self, model, saturation_tol: float = 0.1):
        if not 0 < saturation_tol < 1:
            raise ValueError(f"saturation_tol must be in (0, 1), got {saturation_tol!r}")
        self.saturation_tol = float(saturation_tol)
        self.watched = []
        for name, m in model.named_modules():
            if isinstance(m, RECTIFIERS):
                self.watched.append((name or type(m).__name__, m, "rectifier"))
            elif isinstance(m, SQUASHERS):
                self.watched.append((name or type(m).__name__, m, "squasher"))
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
            if kind == "rectifier":
                zd = np.asarray(getattr(z, "data", z))
                flag = zd.reshape(-1, zd.shape[-1]) > 0 if zd.ndim else (zd > 0).reshape(1, 1)
                reduce_any = True
            else:
                od = np.asarray(getattr(out, "data", out))
                od = od.reshape(-1, od.shape[-1]) if od.ndim else od.reshape(1, 1)
                if isinstance(module, Sigmoid):
                    slope = 4.0 * od * (1.0 - od)  # g'(z) / g'(0)
                elif isinstance(module, Tanh):
                    slope = 1.0 - od * od
                else:  # pragma: no cover - SQUASHERS holds only Sigmoid and Tanh today
                    return out
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
