"""Classifiers from geometry: half-planes, convex polygons, unions, cylinders (L-CLS-1, L-CLS-2).

The lecture's picture, built by construction:

* one threshold unit = a **half-plane** (a separating hyperplane);
* threshold units, one per edge, and an **AND** unit = a **convex polygon**;
* polygons and an **OR** unit = a **union of polygons**, any (non-convex) region
  that is a union of convex pieces;
* one hidden layer only: a sum of many **"cylinders"** (each a ring of
  half-planes around a centre) and a threshold approximates any region.

Every network outputs an indicator in ``[0, 1]``; the decision region is
``{x : output > 1/2}`` (:func:`decision`). A half-plane unit is a threshold unit
with a linear transition of width ``margin`` on its *outer* side (see
:mod:`.threshold`): it is exactly 1 on the closed half-plane and exactly 0
farther than ``margin`` outside. So the polygon and union networks output
exactly 1 on the closed region and exactly 0 outside it, except in a band along
the boundary of width ``margin / sin(alpha / 2)`` (``alpha`` the sharpest
interior angle): the decision region is the polygon up to that band.
Coordinates are 2-D points ``(x, y)``; ``vertices`` have shape ``(k, 2)``.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_int, check_real
from .threshold import ThresholdCircuit

__all__ = [
    "halfplane_network", "polygon_circuit", "polygon_network", "union_circuit", "union_network",
    "decision", "points_in_polygon", "distance_to_edges", "check_convex", "regular_polygon",
    "star_pieces", "two_pentagons", "cylinder_features", "cylinders_network",
]


# ------------------------------------------------------------ reference geometry
def _as_vertices(vertices, name="vertices") -> np.ndarray:
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise ValueError(f"{name} must have shape (k, 2) with k >= 3 corner points, got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite numbers, got {v.tolist()}")
    return v


def _signed_area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def check_convex(vertices) -> np.ndarray:
    """The vertices of a strictly convex polygon in counter-clockwise order, or a ``ValueError``."""
    v = _as_vertices(vertices)
    area = _signed_area(v)
    if abs(area) < 1e-12:
        raise ValueError("the polygon has zero area: give at least three corners that are not collinear")
    if area < 0:
        v = v[::-1].copy()
    e = np.roll(v, -1, axis=0) - v
    cross = e[:, 0] * np.roll(e[:, 1], -1) - e[:, 1] * np.roll(e[:, 0], -1)
    turning = np.sum(np.arctan2(cross, np.sum(e * np.roll(e, -1, axis=0), axis=1)))
    if (cross <= 1e-12 * np.abs(e).max() ** 2).any() or not np.isclose(turning, 2 * np.pi):
        bad = int(np.argmax(cross <= 1e-12 * np.abs(e).max() ** 2))
        raise ValueError(
            f"the polygon is not strictly convex (at corner {(bad + 1) % len(v)}); "
            "split a non-convex region into convex pieces and use union_network"
        )
    return v


def points_in_polygon(points, vertices) -> np.ndarray:
    """Even-odd ray casting: which ``points`` ``(n, 2)`` lie inside the simple polygon ``vertices``.

    Points exactly on an edge may go either way (compare away from edges).
    """
    p = np.asarray(points, dtype=np.float64)
    v = _as_vertices(vertices)
    x, y = p[:, 0:1], p[:, 1:2]
    x1, y1 = v[:, 0], v[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return ((crosses & (x < x_at)).sum(axis=1) % 2) == 1


def distance_to_edges(points, vertices) -> np.ndarray:
    """Distance from each point ``(n, 2)`` to the nearest edge (segment) of the polygon."""
    p = np.asarray(points, dtype=np.float64)[:, None, :]
    a = _as_vertices(vertices)
    b = np.roll(a, -1, axis=0)
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.sum(ab * ab, axis=1), 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.sqrt(np.sum((p - nearest) ** 2, axis=2)).min(axis=1)


def regular_polygon(n_sides: int, radius: float = 1.0, center=(0.0, 0.0), rotation: float = np.pi / 2):
    """Vertices ``(n, 2)`` of a regular polygon, counter-clockwise, first corner at angle ``rotation``."""
    n_sides = check_int(n_sides, "n_sides", low=3)
    radius = check_real(radius, "radius", 0, low_open=True)
    rotation = check_real(rotation, "rotation")
    ang = rotation + 2 * np.pi * np.arange(n_sides) / n_sides
    return np.c_[radius * np.cos(ang), radius * np.sin(ang)] + np.asarray(center, dtype=np.float64)


def star_pieces(n_points: int = 5, outer: float = 1.0, inner: float = 0.45, center=(0.0, 0.0)):
    """A star as a union of convex pieces: ``(outline, pieces)``.

    ``outline`` ``(2 n, 2)`` is the (non-convex) star; ``pieces`` are its inner
    ``n``-gon and ``n`` triangles, one per point.
    """
    n_points = check_int(n_points, "n_points", low=3)
    outer = check_real(outer, "outer", 0, low_open=True)
    inner = check_real(inner, "inner (the valleys' radius, below outer)", 0, outer, low_open=True, high_open=True)
    ang = np.pi / 2 + np.pi * np.arange(2 * n_points) / n_points
    r = np.where(np.arange(2 * n_points) % 2 == 0, outer, inner)
    outline = np.c_[r * np.cos(ang), r * np.sin(ang)] + np.asarray(center, dtype=np.float64)
    tips, valleys = outline[0::2], outline[1::2]
    pieces = [valleys.copy()]
    for k in range(n_points):
        pieces.append(np.array([valleys[k - 1], tips[k], valleys[k]]))
    return outline, pieces


def two_pentagons(radius: float = 0.55, gap: float = 0.7):
    """The lecture's 'composition of polygons': two overlapping pentagons, a non-convex union."""
    gap = check_real(gap, "gap")
    left = regular_polygon(5, radius, (-gap / 2, -0.1))
    right = regular_polygon(5, radius, (gap / 2, 0.1), np.pi / 2 + 0.3)
    return [left, right]


# -------------------------------------------------------------- constructions
def _check_margin(margin) -> float:
    return check_real(margin, "margin (the width of the threshold's transition)", 0, low_open=True)


def _edge_units(v: np.ndarray, margin: float):
    """Threshold units ``ramp(d_e / margin + 1)``, ``d_e`` the signed distance inside edge ``e``."""
    e = np.roll(v, -1, axis=0) - v
    n = np.c_[-e[:, 1], e[:, 0]] / np.linalg.norm(e, axis=1, keepdims=True)  # inward normals (CCW)
    W = n.T / margin
    b = -np.sum(n * v, axis=1) / margin + 1.0
    return W, b


def halfplane_network(normal, offset: float, margin: float = 1e-3, dtype=np.float32):
    """One threshold unit: the half-space ``{x : normal . x + offset >= 0}`` (L-CLS-1).

    Returns ``MLP([d, 2, 1])`` whose output is exactly 1 on the closed half-space,
    exactly 0 farther than ``margin`` outside, and linear in between (the unit's
    two ReLUs realise ``ramp(signed distance / margin + 1)``).
    """
    w = np.asarray(normal, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(w)
    if not np.isfinite(w).all() or norm == 0:
        raise ValueError(f"normal must be a finite non-zero vector, got {w.tolist()}")
    offset = check_real(offset, "offset")
    margin = _check_margin(margin)
    W = (w / norm)[:, None] / margin
    b = np.array([offset / norm / margin + 1.0])
    return ThresholdCircuit([(W, b)], input_bounds=(-np.inf, np.inf)).network(dtype)


def polygon_circuit(vertices, margin: float = 1e-3) -> ThresholdCircuit:
    """Edge units and an AND unit for a convex polygon (see :func:`polygon_network`)."""
    v = check_convex(vertices)
    margin = _check_margin(margin)
    W, b = _edge_units(v, margin)
    k = len(v)
    AND = (np.ones((k, 1)), np.array([-(k - 1.0)]))  # [sum of k edge units >= k]
    return ThresholdCircuit([(W, b), AND], input_bounds=(-np.inf, np.inf))


def polygon_network(vertices, margin: float = 1e-3, dtype=np.float32):
    """A convex polygon region: one threshold unit per edge and an AND unit (L-CLS-1).

    Parameters
    ----------
    vertices : array_like, shape (k, 2)
        Corners of a strictly convex polygon, in either orientation.
    margin : float
        Width of each edge unit's transition (outside the polygon).

    Returns
    -------
    feedforward.nn.MLP
        ``MLP([2, 2k, 1, 1])``: input points ``(n, 2)``, output ``(n, 1)`` equal to 1
        on the closed polygon and 0 outside it (except within ``margin / sin(alpha/2)``).
    """
    return polygon_circuit(vertices, margin).network(dtype)


def union_circuit(polygons, margin: float = 1e-3) -> ThresholdCircuit:
    """Polygon units and an OR unit (see :func:`union_network`)."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 2:
        raise ValueError("polygons must be a list of vertex arrays; for one polygon use polygon_network")
    polygons = [check_convex(p) for p in polygons]
    if not polygons:
        raise ValueError("union_network needs at least one polygon")
    margin = _check_margin(margin)
    Ws, bs, sizes = [], [], []
    for v in polygons:
        W, b = _edge_units(v, margin)
        Ws.append(W), bs.append(b), sizes.append(len(v))
    W1, b1 = np.concatenate(Ws, axis=1), np.concatenate(bs)
    total, P = sum(sizes), len(polygons)
    W2, b2 = np.zeros((total, P)), np.zeros(P)
    start = 0
    for p, k in enumerate(sizes):  # AND of each polygon's own edges
        W2[start:start + k, p] = 1.0
        b2[p] = -(k - 1.0)
        start += k
    OR = (np.ones((P, 1)), np.zeros(1))  # [sum of polygon units >= 1]
    return ThresholdCircuit([(W1, b1), (W2, b2), OR], input_bounds=(-np.inf, np.inf))


def union_network(polygons, margin: float = 1e-3, dtype=np.float32):
    """A union of convex polygons: edge units, an AND per polygon, an OR on top (L-CLS-1).

    A non-convex region (the lecture's two pentagons, a star: :func:`two_pentagons`,
    :func:`star_pieces`) is the union of convex pieces. Returns
    ``MLP([2, 2 sum(k_p), P, 1, 1])``, output 1 on the closed union and 0 outside.
    """
    return union_circuit(polygons, margin).network(dtype)


def decision(net, points, level: float = 0.5, chunk: int = 4096) -> np.ndarray:
    """The decision region: ``net(points) > level`` as a boolean array ``(n,)``, ``chunk`` points at once."""
    from ..autograd import no_grad
    from ..tensor import Tensor

    level = check_real(level, "level")
    chunk = check_int(chunk, "chunk", low=1)
    dtype = net.parameters()[0].dtype if net.parameters() else np.float32
    points = np.asarray(points, dtype=dtype)
    out = np.empty(len(points), dtype=bool)
    with no_grad():
        for i in range(0, len(points), chunk):  # wide cylinder layers: keep the activations small
            part = net(Tensor(points[i:i + chunk])).data
            out[i:i + chunk] = part.reshape(len(part), -1)[:, 0] > level
    return out


# ----------------------------------------------------------------- cylinders
def _best_threshold(s: np.ndarray, y: np.ndarray) -> float:
    """The ``t`` for which ``s > t`` matches the labels ``y`` best (midway between scores)."""
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    # predicting 0 for s[:i + 1] and 1 for the rest costs (positives so far) + (negatives after)
    errors = np.cumsum(y) + (np.sum(~y) - np.cumsum(~y))
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    errors = np.where(last_of_tie, errors, np.iinfo(np.int64).max)
    i = int(np.argmin(errors))
    if np.sum(~y) <= errors[i]:  # everything positive is at least as good
        return float(s[0] - 1.0)
    return float(s[i] + (s[i + 1] - s[i]) / 2) if i + 1 < len(s) else float(s[i] + 1.0)


def _cylinder_layer(centers, radius, n_directions, margin):
    """Threshold units ``[n_i . (x - c) <= radius]`` for ``n_directions`` unit vectors around each centre."""
    theta = 2 * np.pi * np.arange(n_directions) / n_directions
    n = np.c_[np.cos(theta), np.sin(theta)]  # (N, 2)
    W = np.concatenate([-n.T for _ in centers], axis=1) / margin  # (2, K N)
    b = np.concatenate([(radius + n @ c) for c in centers]) / margin + 1.0
    return W, b


def cylinder_features(points, centers, radius, n_directions, margin):
    """Each cylinder's height ``sum_i u_i(x) - N/2`` at ``points``: shape ``(n, K)``.

    ``N/2`` at the centre region (every unit on), falling like ``N r / (pi d)`` far away.
    """
    W, b = _cylinder_layer(np.asarray(centers, dtype=np.float64), radius, n_directions, margin)
    u = np.clip(np.asarray(points, dtype=np.float64) @ W + b, 0.0, 1.0)
    return u.reshape(len(points), len(centers), n_directions).sum(axis=2) - n_directions / 2


def cylinders_network(region, n_per_axis: int, n_directions: int = 16, bounds=(-1.0, 1.0, -1.0, 1.0), *,
                      heights: str = "lstsq", radius: float | None = None, margin: float | None = None,
                      n_fit: int = 81, dtype=np.float32):
    """One hidden layer approximating any region: a sum of cylinders and a threshold (L-CLS-2).

    ``n_per_axis^2`` cylinders on a grid over ``bounds``; cylinder ``k`` is a ring of
    ``n_directions`` threshold units ``[n_i . (x - c_k) <= radius]`` whose sum minus
    ``N/2`` is ``N/2`` near ``c_k`` and decays away from it. The output is
    ``sum_k a_k cyl_k(x) + a_0`` and the decision is ``output > 1/2``.

    Parameters
    ----------
    region : callable or array_like (k, 2)
        ``region(points) -> bool array``, or the vertices of a simple polygon.
    n_per_axis : int
        Cylinders per axis (``K = n_per_axis^2``; hidden units ``2 K N``, two ReLUs each).
    n_directions : int
        Threshold units per cylinder (``N``).
    bounds : (xmin, xmax, ymin, ymax)
    heights : ``"indicator"`` or ``"lstsq"``
        ``"indicator"``: the lecture's recipe, height ``2/N`` for cylinders whose centre
        is in the region, 0 otherwise, and bias chosen on the fit grid. The cylinders'
        tails (``~ r / d``) add up, so its error stops falling; ``"lstsq"`` fits the
        heights and bias to the indicator by least squares on an ``n_fit x n_fit`` grid
        (still one hidden layer of fixed cylinders; only the output layer is fitted).
    radius, margin : float, optional
        Default: 0.6 and 0.05 times the cylinder spacing.

    Returns
    -------
    feedforward.nn.MLP
        ``MLP([2, 2 K N, 1])`` with ReLU units.
    """
    heights = check_choice(heights, "heights", ("indicator", "lstsq"))
    n_per_axis = check_int(n_per_axis, "n_per_axis", low=1)
    n_directions = check_int(n_directions, "n_directions", low=3)
    n_fit = check_int(n_fit, "n_fit", low=2)
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, (tuple, list, np.ndarray)):
        raise TypeError(f"bounds must be a tuple (xmin, xmax, ymin, ymax), got {bounds!r}")
    if len(bounds) != 4:
        raise ValueError(f"bounds must be a tuple (xmin, xmax, ymin, ymax), got {len(bounds)} values")
    xmin, xmax, ymin, ymax = (check_real(t, f"bounds[{i}]") for i, t in enumerate(bounds))
    if callable(region):
        inside = region
    else:
        outline = _as_vertices(region, "region")

        def inside(p):
            return points_in_polygon(p, outline)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(
            f"bounds must be (xmin, xmax, ymin, ymax) with xmin < xmax and ymin < ymax, got {bounds}"
        )
    cx = xmin + (np.arange(n_per_axis) + 0.5) * (xmax - xmin) / n_per_axis
    cy = ymin + (np.arange(n_per_axis) + 0.5) * (ymax - ymin) / n_per_axis
    centers = np.array([(a, c) for c in cy for a in cx])
    spacing = max(xmax - xmin, ymax - ymin) / n_per_axis
    radius = 0.6 * spacing if radius is None else check_real(radius, "radius", 0, low_open=True)
    margin = 0.05 * spacing if margin is None else _check_margin(margin)

    gx = np.linspace(xmin, xmax, n_fit)
    gy = np.linspace(ymin, ymax, n_fit)
    fit = np.array([(a, c) for c in gy for a in gx])
    target = np.asarray(inside(fit), dtype=np.float64)
    feats = cylinder_features(fit, centers, radius, n_directions, margin)
    if heights == "indicator":
        a = np.asarray(inside(centers), dtype=np.float64) * (2.0 / n_directions)
        a0 = 0.5 - _best_threshold(feats @ a, target > 0.5)
    else:
        A = np.c_[feats, np.ones(len(fit))]
        sol = np.linalg.lstsq(A, target, rcond=None)[0]
        a, a0 = sol[:-1], sol[-1]
    W1, b1 = _cylinder_layer(centers, radius, n_directions, margin)
    # output = sum_k a_k (sum_i u_ki - N/2) + a0: the -N/2 terms go into the bias
    out = (np.repeat(a, n_directions)[:, None], np.array([a0 - n_directions / 2 * a.sum()]))
    return ThresholdCircuit([(W1, b1)], output=out, input_bounds=(-np.inf, np.inf)).network(dtype)
