"""What the page draws, computed from a session: one *frame* as a JSON-able dict.

* the **region**: the output unit's mean over a grid of the plane (``p(y=1|x)`` for
  Bernoulli, the most probable class and its probability for Categorical, the fitted value
  for Gaussian), or the fitted curve over a line for 1-D data;
* every hidden **unit**'s own output over the same grid (a thumbnail), with the units that
  are **dead** (a rectifier inactive, ``z <= 0``, on every training example) or **saturated**
  (a squasher whose derivative is below ``tol g'(0)`` on every training example) marked: the
  rules of :mod:`feedforward.training.diagnostics`, per unit instead of per layer;
* the **weights** of every affine layer (the page draws them as edges);
* the numbers: epoch, updates, train / test loss and accuracy (R^2 for regression),
  ``||grad J||``, updates per second, and the new points of the curves.

Grids travel as base64 bytes (0..255), a few kilobytes a frame.
"""

from __future__ import annotations

import base64
import math
import time

import numpy as np

from ..autograd import enable_grad, no_grad
from ..nn.activation import Unit
from ..nn.linear import Linear
from ..nn.module import eval_mode
from ..tensor import Tensor
from .datasets import EXTENT, features_for, featurize
from .session import MAX_CURVE_POINTS, Session

__all__ = ["frame", "grad_norm", "unit_flags", "GRID", "LINE"]

GRID = 48  # region resolution (GRID x GRID points); unit thumbnails take every other point
LINE = 200  # points of a 1-D curve
SATURATION_TOL = 0.1  # the diagnostics' default (feedforward.training.diagnostics)


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def _bytes(v: np.ndarray, lo: float, hi: float) -> str:
    scale = (hi - lo) or 1.0
    return _b64(np.clip(np.round((v - lo) / scale * 255), 0, 255))


def _grid(dim: int) -> np.ndarray:
    """The points of the picture: row-major from the top-left corner (x2 = +EXTENT) for 2-D."""
    if dim == 1:
        return np.linspace(-EXTENT, EXTENT, LINE)[:, None]
    ticks = np.linspace(-EXTENT, EXTENT, GRID)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.c_[x1.ravel(), x2.ravel()]


def _forward(model, X: np.ndarray):
    """``(z, [each hidden unit layer's output], [its pre-activation])`` for data ``X``, no graph."""
    hidden, pre = [], []
    with no_grad(), eval_mode(model):
        h = Tensor(X)
        for layer in model.layers:
            if isinstance(layer, Unit):
                pre.append(h.data)
            h = layer(h)
            if isinstance(layer, Unit):
                hidden.append(h.data)
    return h.data, hidden, pre


def unit_flags(model, X: np.ndarray, tol: float = SATURATION_TOL) -> list:
    """Per hidden layer, per unit: ``"dead"``, ``"saturated"`` or ``""`` on the data ``X``."""
    _, _, pre = _forward(model, X)
    units = [m for m in model.layers if isinstance(m, Unit)]
    out = []
    for unit, z in zip(units, pre):
        if unit.kind == "rectifier":
            flags = np.where((z <= 0).all(axis=0), "dead", "")
        elif unit.kind == "squasher":
            slope = _derivative(unit, z) / _derivative(unit, np.zeros_like(z[:1]))
            flags = np.where((slope < tol).all(axis=0), "saturated", "")
        else:
            flags = np.full(z.shape[1], "")
        out.append([str(f) for f in flags])
    return out


def _derivative(unit, z: np.ndarray) -> np.ndarray:
    # g'(z) from the unit's own gradient rule, as the diagnostics compute it.
    with enable_grad():
        t = Tensor(z, requires_grad=True)
        unit(t).backward(np.ones_like(z))
    return t.grad


def grad_norm(session: Session) -> float:
    """``||grad J(w)||_2`` over the whole training set at the current weights, with the L2 term
    ``lambda w`` when weight decay is on: what the trainer compares with ``theta``."""
    t, model = session.trainer, session.model
    for p in t.params:
        p.grad = None
    with eval_mode(model), enable_grad():
        t.output.nll(model(Tensor(session.X_train)), session.targets(session.y_train)).backward()
    total = 0.0
    for p in t.params:
        g = (0.0 if p.grad is None else p.grad.astype(np.float64)) + t.l2 * p.data.astype(np.float64)
        total += float(np.sum(g * g))
        p.grad = None
    return math.sqrt(total)


def _metrics(session: Session, X, y) -> tuple:
    """(loss, accuracy or R^2) of the model on ``(X, y)``."""
    model, unit = session.model, session.model.output
    with no_grad(), eval_mode(model):
        z = model(Tensor(X))
        loss = float(unit.nll(z, session.targets(y)).data)
        pred = unit.predict(z.data)
    if unit.task == "classification":
        return loss, float(np.mean(pred.reshape(-1) == y))
    resid = np.sum((pred.reshape(-1) - y) ** 2)
    total = np.sum((y - y.mean()) ** 2) or 1.0
    return loss, float(1 - resid / total)


def _region(session: Session, z: np.ndarray, dim: int) -> dict:
    unit = session.model.output
    if dim == 1:
        return {"kind": "curve", "values": [round(float(v), 4) for v in z[:, 0]]}
    if unit.name == "bernoulli":
        p = 1 / (1 + np.exp(-np.clip(z[:, 0], -60, 60)))
        return {"kind": "probability", "values": _bytes(p, 0, 1)}
    if unit.name == "categorical":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return {"kind": "classes", "classes": _b64(p.argmax(1)), "values": _bytes(p.max(1), 0, 1),
                "n_classes": int(z.shape[1])}
    lo, hi = _value_range(session)
    return {"kind": "value", "values": _bytes(z[:, 0], lo, hi), "low": lo, "high": hi}


def _value_range(session) -> tuple:
    y = session.points[1] if session.dataset.task == "regression" else np.array([0.0, 1.0])
    return float(np.min(y)), float(np.max(y))


def _units(hidden: list, dim: int) -> list:
    out = []
    for h in hidden:
        layer = []
        for j in range(h.shape[1]):
            v = h[:, j]
            if dim == 2:
                v = v.reshape(GRID, GRID)[::2, ::2].ravel()
            m = float(np.max(np.abs(v))) or 1.0
            layer.append({"scale": round(m, 4), "values": _bytes(v, -m, m)})
        out.append(layer)
    return out


def _weights(model) -> list:
    return [{"W": np.round(m.weight.data.astype(np.float64), 4).tolist(),
             "b": np.round(m.bias.data.astype(np.float64), 4).tolist() if m.bias is not None else None}
            for m in model.layers if isinstance(m, Linear)]


def _points(session: Session) -> dict:
    Xtr, ytr, Xte, yte = session.points
    def r(a):
        return np.round(np.asarray(a, dtype=np.float64), 3).tolist()

    return {"train": {"X": r(Xtr), "y": r(ytr)}, "test": {"X": r(Xte), "y": r(yte)}}


def frame(session: Session, *, points: bool = False) -> dict:
    """The frame of ``session`` now (takes its lock); ``points``: include the data points."""
    with session.lock:
        model = session.model
        dim = session.dataset.dim
        if session.imported:  # a loaded model: the plane if it reads x2 at all
            dim = 2 if set(session.features) - {"x1", "x1^2", "sin x1"} else 1
        grid = _grid(dim)
        z, hidden, _ = _forward(model, featurize(grid, session.features))
        out = {
            "type": "frame",
            "epoch": session.epoch,
            "updates": session.updates,
            "playing": session.playing,
            "status": session.status,
            "imported": session.imported,
            "dim": dim,
            "region": _region(session, z, dim),
            "units": _units(hidden, dim),
            "flags": [],
            "weights": _weights(model),
            "sizes": list(model.sizes),
            "features": list(session.features),
            "output": model.output.name,
        }
        compatible = not session.imported or (
            session.features == features_for(session.dataset, session.config.features)
            and model.output.task == session.dataset.task
            and model.sizes[-1] == (session.dataset.classes if model.output.name == "categorical" else 1))
        if compatible:
            out["flags"] = unit_flags(model, session.X_train)
            train_loss, train_acc = _metrics(session, session.X_train, session.y_train)
            test_loss, test_acc = _metrics(session, session.X_test, session.y_test)
            g = grad_norm(session) if not session.imported else None
            now = time.perf_counter()
            t0, u0 = session.rate_mark
            rate = (session.updates - u0) / (now - t0) if now > t0 and session.playing else 0.0
            session.rate_mark = (now, session.updates)
            point = {"epoch": session.epoch, "updates": session.updates,
                     "train_loss": train_loss, "test_loss": test_loss,
                     "train_acc": train_acc, "test_acc": test_acc, "grad_norm": g}
            out.update(point, updates_per_second=rate, metric="accuracy" if model.output.task ==
                       "classification" else "r2")
            _add_curve_point(session, point)
        out["curves"] = {"reset": session.curves_reset, "points": session.curves[session.curves_sent:]}
        session.curves_sent, session.curves_reset = len(session.curves), False
        if points:
            out["points"] = _points(session)
        return out


def _add_curve_point(session: Session, point: dict) -> None:
    curves = session.curves
    if curves and curves[-1]["updates"] == point["updates"]:
        return  # no update since the last point: nothing new to plot
    curves.append({k: (round(v, 5) if isinstance(v, float) else v) for k, v in point.items()})
    if len(curves) > MAX_CURVE_POINTS:
        # Thin the older half: the curve keeps its shape and its memory stays bounded.
        half = len(curves) // 2
        curves[:half] = curves[:half:2]
        session.curves_reset, session.curves_sent = True, 0
