"""Classifiers from geometry: half-planes, polygons, unions, cylinders (L-CLS-1, L-CLS-2)."""

import numpy as np
import pytest

import feedforward as ff
from feedforward.construct import geometry as G

MARGIN = 1e-3


def grid(lo=-1.2, hi=1.2, n=241):
    g = np.linspace(lo, hi, n)
    return np.array([(a, b) for b in g for a in g])


def band(vertices_list, alpha_min):
    """Half-width of the band where the ramp of the threshold units is allowed to differ."""
    return MARGIN / np.sin(alpha_min / 2) * 1.01


def near_any_edge(P, polygons, width):
    return np.min([G.distance_to_edges(P, v) for v in polygons], axis=0) <= width


def min_interior_angle(v):
    v = G.check_convex(v)
    a, b = np.roll(v, 1, axis=0) - v, np.roll(v, -1, axis=0) - v
    cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(np.arccos(np.clip(cos, -1, 1)).min())


def test_point_in_polygon_reference():
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    P = np.array([(0.5, 0.5), (1.5, 0.5), (-0.1, 0.2), (0.99, 0.01)])
    assert G.points_in_polygon(P, square).tolist() == [True, False, False, True]
    np.testing.assert_allclose(G.distance_to_edges(P, square), [0.5, 0.5, 0.1, 0.01])


def test_halfplane_is_one_threshold_unit_L_CLS_1():
    net = G.halfplane_network([1.0, 2.0], -0.5, margin=MARGIN)
    assert net.sizes == [2, 2, 1]
    P = grid()
    signed = (P @ [1.0, 2.0] - 0.5) / np.sqrt(5)
    got = G.decision(net, P)
    far = np.abs(signed) > MARGIN
    np.testing.assert_array_equal(got[far], signed[far] > 0)
    with ff.no_grad():
        out = net(ff.Tensor(P.astype(np.float32))).data.ravel()
    np.testing.assert_allclose(out[signed >= 0], 1.0, atol=1e-3)  # 1 on the closed half-plane
    np.testing.assert_allclose(out[signed <= -MARGIN], 0.0, atol=1e-3)


@pytest.mark.parametrize("vertices", [
    G.regular_polygon(5, 0.9),
    np.array([(-0.8, -0.5), (0.9, -0.7), (0.3, 0.9)]),  # a triangle, clockwise order given below
    np.array([(-0.8, -0.5), (0.3, 0.9), (0.9, -0.7)]),
    G.regular_polygon(12, 1.0, (0.1, -0.1)),
])
def test_convex_polygon_region_is_exact_on_a_grid_L_CLS_1(vertices):
    net = G.polygon_network(vertices, margin=MARGIN)
    k = len(vertices)
    assert net.sizes == [2, 2 * k, 1, 1]  # k edge units (2 ReLUs each), an AND unit, the read-out
    P = grid()
    want = G.points_in_polygon(P, vertices)
    keep = ~near_any_edge(P, [vertices], band([vertices], min_interior_angle(vertices)))
    assert keep.mean() > 0.97
    np.testing.assert_array_equal(G.decision(net, P)[keep], want[keep])


def test_polygon_output_is_one_inside_zero_outside():
    v = G.regular_polygon(6, 0.8)
    net = G.polygon_network(v, margin=MARGIN, dtype=np.float64)
    P = grid(n=121)
    with ff.no_grad():
        out = net(ff.Tensor(P)).data.ravel()
    inside = G.points_in_polygon(P, v)
    far = ~near_any_edge(P, [v], band([v], min_interior_angle(v)))
    np.testing.assert_allclose(out[inside], 1.0, atol=1e-9)  # the closed polygon: exactly 1
    np.testing.assert_allclose(out[~inside & far], 0.0, atol=1e-9)


def test_star_as_union_of_convex_pieces_L_CLS_1():
    outline, pieces = G.star_pieces(5, 1.0, 0.45)
    net = G.union_network(pieces, margin=MARGIN)
    assert net.sizes == [2, 2 * (5 + 5 * 3), 6, 1, 1]  # edges, one AND per piece, the OR, read-out
    P = grid()
    want = G.points_in_polygon(P, outline)  # the non-convex star itself
    alpha = min(min_interior_angle(p) for p in pieces)
    keep = ~near_any_edge(P, [outline], band(pieces, alpha))
    assert keep.mean() > 0.97
    np.testing.assert_array_equal(G.decision(net, P)[keep], want[keep])


def test_two_pentagons_union_L_CLS_1():
    polys = G.two_pentagons()
    net = G.union_network(polys, margin=MARGIN)
    P = grid()
    want = G.points_in_polygon(P, polys[0]) | G.points_in_polygon(P, polys[1])
    keep = ~near_any_edge(P, polys, band(polys, min(min_interior_angle(p) for p in polys)))
    np.testing.assert_array_equal(G.decision(net, P)[keep], want[keep])
    # the union is not convex: the midpoint of two inside points can be outside
    pts = np.array([[-0.35, 0.4], [0.187, 0.58], [-0.08, 0.49]])  # two top corners and their midpoint
    ref = G.points_in_polygon(pts, polys[0]) | G.points_in_polygon(pts, polys[1])
    assert ref.tolist() == [True, True, False]
    assert G.decision(net, pts).tolist() == [True, True, False]


def test_non_convex_polygon_is_rejected_with_advice():
    outline, _ = G.star_pieces()
    with pytest.raises(ValueError, match="union_network"):
        G.polygon_network(outline)
    with pytest.raises(ValueError, match="zero area"):
        G.polygon_network([(0, 0), (1, 1), (2, 2)])
    with pytest.raises(ValueError, match="shape"):
        G.polygon_network([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="margin"):
        G.polygon_network(G.regular_polygon(4), margin=0)


def test_cylinders_error_falls_as_units_are_added_L_CLS_2():
    outline, _ = G.star_pieces()
    P = grid(n=101)
    want = G.points_in_polygon(P, outline)
    errors, widths = [], []
    for k in (2, 4, 8):
        net = G.cylinders_network(outline, k, 12, bounds=(-1.2, 1.2, -1.2, 1.2), n_fit=61)
        assert len(net.linears) == 2  # one hidden layer
        widths.append(net.sizes[1])
        errors.append(np.mean(G.decision(net, P) != want))
    assert widths == sorted(widths)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.06


def test_cylinder_is_a_bump_of_height_half_n():
    f = G.cylinder_features(np.array([[0.0, 0.0], [0.05, 0.0]]), [(0.0, 0.0)], 0.1, 16, 1e-3)
    assert f.ravel().tolist() == [8.0, 8.0]  # N/2 inside the radius
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    ring = 50 * np.c_[np.cos(angles), np.sin(angles)]
    far = G.cylinder_features(ring, [(0.0, 0.0)], 0.1, 16, 1e-3).ravel()
    assert far.min() >= 0 and far.mean() < 0.1  # decays (like N r / (pi d)) far away


def test_constructed_networks_save_and_load_unchanged(tmp_path):
    pytest.importorskip("safetensors")
    from feedforward.construct import boolean, pulses, xor

    P = grid(n=41)
    nets = {
        "union": (G.union_network(G.two_pentagons()), P),
        "cylinders": (G.cylinders_network(G.regular_polygon(5), 3, 8, n_fit=21), P),
        "formula": (boolean.formula_network(boolean.LECTURE_FORMULA), boolean.all_inputs(4)),
        "pulses": (pulses.pulse_network(np.sin, 0, 3, 5), np.linspace(0, 3, 50)[:, None]),
        "xor": (xor.xor_network(), xor.xor_data()[0]),
    }
    for name, (net, X) in nets.items():
        path = tmp_path / f"{name}.safetensors"
        ff.save(net, path)
        back = ff.load(path)
        with ff.no_grad():
            want = net(ff.Tensor(X.astype(np.float32))).data
            got = back(ff.Tensor(X.astype(np.float32))).data
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: G.polygon_network(G.regular_polygon(4), margin="0.1"), TypeError,
         r"margin .*got '0.1' \(str\)"),
        (lambda: G.halfplane_network([1, 0], float("nan")), ValueError, r"offset must be a finite number"),
        (lambda: G.regular_polygon(2), ValueError, r"n_sides must be an integer >= 3, got 2"),
        (lambda: G.regular_polygon(4.0), TypeError, r"n_sides must be an integer >= 3, got 4.0"),
        (lambda: G.regular_polygon(4, radius=0), ValueError, r"radius must be a finite number > 0"),
        (lambda: G.star_pieces(5, inner=1.5), ValueError, r"inner .* must be a finite number > 0 and < 1"),
        (lambda: G.cylinders_network(G.regular_polygon(4), 0), ValueError, r"n_per_axis must be an integer >= 1"),
        (lambda: G.cylinders_network(G.regular_polygon(4), 2, heights="mean"), ValueError,
         r"heights must be one of 'indicator', 'lstsq', got 'mean'"),
        (lambda: G.cylinders_network(G.regular_polygon(4), 2, bounds=(0, 1, 0)), ValueError,
         r"bounds must be a tuple \(xmin, xmax, ymin, ymax\), got 3 values"),
        (lambda: G.cylinders_network(G.regular_polygon(4), 2, bounds="0,1,0,1"), TypeError,
         r"bounds must be a tuple"),
        (lambda: G.cylinders_network(G.regular_polygon(4), 2, bounds=(0, 1, 0, np.nan)), ValueError,
         r"bounds\[3\] must be a finite number, got nan"),
        (lambda: G.decision(G.polygon_network(G.regular_polygon(4)), np.zeros((3, 2)), chunk=0), ValueError,
         r"chunk must be an integer >= 1, got 0"),
    ],
)
def test_geometry_arguments_go_through_the_validation_layer(call, error, message):
    """Issue 10: TypeError for a wrong type, ValueError for a bad value, the argument named."""
    with pytest.raises(error, match=message):
        call()
