"""Lecture mode: the exact networks of :mod:`feedforward.construct`, shown layer by layer.

* ``xor``: the hand solution of XOR (L-XOR-3): ``XW``, ``XW + c``, ``max(0, XW + c)`` and the
  output for the four inputs, from :func:`~feedforward.construct.xor_layers`, and the region
  the network draws on the plane around them;
* ``polygon``: a convex polygon (:func:`~feedforward.construct.polygon_network`) or a union of
  them (:func:`~feedforward.construct.union_network`) from the vertices clicked on the canvas
  (L-CLS-1): the region and the layer sizes, one threshold unit per edge, an AND per polygon,
  an OR on top;
* ``pulses``: a sum of square pulses (:func:`~feedforward.construct.pulse_network`, L-REG-1)
  against a target curve, with the number of pulses from a slider and the largest error.

Every input is checked (vertices: numbers on the plane, at most :data:`MAX_VERTICES` per
polygon and :data:`MAX_POLYGONS` polygons; pulses in ``[1, MAX_PULSES]``): a concave or
degenerate polygon is the construction's own ``ValueError``, shown on the page.
"""

from __future__ import annotations

import numpy as np

from .._validation import Choice, Int, Real
from ..construct import decision, polygon_network, pulse_network, union_network, xor_layers, xor_network
from .datasets import EXTENT
from .views import GRID, LINE, _b64

__all__ = ["lecture", "MAX_VERTICES", "MAX_POLYGONS", "MAX_PULSES", "TARGETS"]

MAX_VERTICES = 12
MAX_POLYGONS = 4
MAX_PULSES = 50

TARGETS = {
    "sine": lambda x: np.sin(np.pi * x / 1.5),
    "parabola": lambda x: x * x / 2 - 1,
    "bump": lambda x: 2 * np.exp(-2 * x * x) - 1,
}


def _matrix(a) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 4).tolist()


FINE = 2 * GRID  # the constructions' regions have sharp edges: a finer grid than training's


def _plane(lo: float, hi: float) -> np.ndarray:
    ticks = np.linspace(lo, hi, FINE)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.c_[x1.ravel(), x2.ravel()]


def _sizes(net) -> list:
    return list(net.sizes)


def xor() -> dict:
    net = xor_network()
    layers = xor_layers()
    lo, hi = -0.5, 1.5
    inside = decision(net, _plane(lo, hi), level=0.5)
    hidden, out = net.linears
    return {
        "kind": "xor",
        "inputs": [[0, 0], [0, 1], [1, 0], [1, 1]],
        "steps": [{"name": k, "values": _matrix(v)} for k, v in layers.items()],
        "W": _matrix(hidden.weight.data), "c": _matrix(hidden.bias.data),
        "w": _matrix(out.weight.data[:, 0]), "b": float(out.bias.data[0]),
        "sizes": _sizes(net), "extent": [lo, hi], "region": _b64(inside * 255),
    }


def polygon(polygons) -> dict:
    if not isinstance(polygons, list) or not polygons:
        raise ValueError("polygons must be a non-empty list of polygons (lists of [x, y] vertices)")
    if len(polygons) > MAX_POLYGONS:
        raise ValueError(f"at most {MAX_POLYGONS} polygons, got {len(polygons)}")
    vertices = []
    coordinate = Real(-EXTENT, EXTENT)
    for i, poly in enumerate(polygons):
        if not isinstance(poly, list) or not 3 <= len(poly) <= MAX_VERTICES:
            raise ValueError(f"polygon {i + 1} needs 3 to {MAX_VERTICES} vertices, got "
                             f"{len(poly) if isinstance(poly, list) else type(poly).__name__}")
        pts = []
        for j, v in enumerate(poly):
            if not isinstance(v, list) or len(v) != 2:
                raise ValueError(f"polygon {i + 1}, vertex {j + 1} must be [x, y], got {v!r}"[:200])
            pts.append([coordinate(c, f"polygon {i + 1}, vertex {j + 1}") for c in v])
        vertices.append(np.array(pts))
    net = polygon_network(vertices[0]) if len(vertices) == 1 else union_network(vertices)
    inside = decision(net, _plane(-EXTENT, EXTENT), level=0.5)
    sizes = _sizes(net)
    edges = sum(len(v) for v in vertices)
    if len(vertices) == 1:
        story = (f"{edges} edges -> {sizes[1]} ReLUs (two per threshold unit, one unit per edge) "
                 f"-> an AND unit")
    else:
        story = (f"{edges} edges -> {sizes[1]} ReLUs -> an AND unit per polygon ({len(vertices)}) "
                 f"-> an OR unit")
    return {"kind": "polygon", "sizes": sizes, "story": story, "extent": [-EXTENT, EXTENT],
            "region": _b64(inside * 255), "polygons": [_matrix(v) for v in vertices]}


def pulses(n, target) -> dict:
    n = Int(1, MAX_PULSES)(n, "pulses")
    target = Choice(*TARGETS)(target, "target")
    f = TARGETS[target]
    net = pulse_network(f, -EXTENT, EXTENT, n)
    x = np.linspace(-EXTENT, EXTENT, LINE)
    from ..autograd import no_grad
    from ..tensor import Tensor

    with no_grad():
        fit = net(Tensor(x[:, None].astype(np.float32))).data[:, 0].astype(np.float64)
    return {"kind": "pulses", "n": n, "target_name": target, "sizes": _sizes(net),
            "x": _matrix(x), "fit": _matrix(fit), "target": _matrix(f(x)),
            "max_error": float(np.max(np.abs(fit - f(x))))}


def lecture(message: dict) -> dict:
    """Answer a page's ``{"type": "lecture", "kind": ...}`` message."""
    kind = Choice("xor", "polygon", "pulses")(message.get("kind"), "lecture kind")
    if kind == "xor":
        out = xor()
    elif kind == "polygon":
        out = polygon(message.get("polygons"))
    else:
        out = pulses(message.get("n", 8), message.get("target", "sine"))
    return {"type": "lecture", **out}
