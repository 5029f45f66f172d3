"""Classifiers from geometry: half-planes, polygons, unions of polygons, and cylinders."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 30
TITLE = "MLPs are universal classifiers: half-planes, polygons, unions, cylinders"
QUOTE = (
    'MLPs 可以拟合任何分类边界 …… 单层MLP可以对任何分类边界进行建模 …… MLP是通用分类器',
    'MLPs can fit any classification boundary ... a single-layer MLP can model any classification boundary '
    '... the MLP is a universal classifier.',
)
CLAIM = (
    "One threshold unit is a separating hyperplane; a second layer with an AND unit gives any convex "
    "polygon; a third with an OR unit gives unions of polygons, i.e. non-convex regions (L-CLS-1). One "
    "hidden layer suffices to approximate any region: a sum of many 'cylinders' and a threshold (L-CLS-2)."
)

BOUNDS = (-1.2, 1.2, -1.2, 1.2)
MARGIN = 1e-3


def _grid(n):
    g = np.linspace(BOUNDS[0], BOUNDS[1], n)
    return np.array([(a, b) for b in g for a in g])


def _min_angle(v):
    a, b = np.roll(v, 1, axis=0) - v, np.roll(v, -1, axis=0) - v
    cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)).min())


def _output(net, P):
    import feedforward as ff

    with ff.no_grad():
        return net(ff.Tensor(P.astype(np.float32))).data.ravel()


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.construct import geometry as G

    n_grid = 201 if quick else 301
    P = _grid(n_grid)

    # --- L-CLS-1: half-plane, convex polygon, unions
    pentagon = G.regular_polygon(5, 0.9)
    star_outline, star = G.star_pieces(5, 1.05, 0.45)
    pentagons = G.two_pentagons(0.62, 0.75)
    normal, offset = np.array([1.0, 2.0]), -0.4
    cases = [
        ("half-plane x + 2y >= 0.4", G.halfplane_network(normal, offset, MARGIN), None,
         (P @ normal + offset) >= 0, np.abs(P @ normal + offset) / np.linalg.norm(normal) <= MARGIN),
        ("convex pentagon", G.polygon_network(pentagon, MARGIN), [pentagon], G.points_in_polygon(P, pentagon),
         G.distance_to_edges(P, pentagon) <= MARGIN / np.sin(_min_angle(pentagon) / 2)),
        ("two pentagons (union)", G.union_network(pentagons, MARGIN), pentagons,
         G.points_in_polygon(P, pentagons[0]) | G.points_in_polygon(P, pentagons[1]),
         np.min([G.distance_to_edges(P, p) for p in pentagons], axis=0)
         <= MARGIN / np.sin(min(_min_angle(p) for p in pentagons) / 2)),
        ("star = pentagon + 5 triangles", G.union_network(star, MARGIN), [star_outline],
         G.points_in_polygon(P, star_outline),
         G.distance_to_edges(P, star_outline) <= MARGIN / np.sin(min(_min_angle(p) for p in star) / 2)),
    ]
    region_rows, exact = [], {}
    outputs = []
    for name, net, outlines, truth, near in cases:
        out = _output(net, P)
        got = out > 0.5
        wrong = int(np.sum((got != truth) & ~near))
        exact[name] = wrong == 0
        outputs.append((name, out, outlines))
        region_rows.append([name, str(net.sizes), net.num_parameters(), len(P) - int(near.sum()),
                            int(near.sum()), wrong])

    # --- L-CLS-2: cylinders, one hidden layer
    n_dir = 16
    ks = (2, 4, 8, 12) if quick else (2, 4, 6, 8, 12, 16)
    P_eval = _grid(101 if quick else 161)
    truth = G.points_in_polygon(P_eval, star_outline)
    cyl_rows, err = [], {"indicator": [], "lstsq": []}
    widths, best = [], None
    for k in ks:
        row = [k * k, 2 * k * k * n_dir]
        for heights in ("indicator", "lstsq"):
            net = G.cylinders_network(star_outline, k, n_dir, BOUNDS, heights=heights,
                                      n_fit=61 if quick else 81)
            e = float(np.mean(G.decision(net, P_eval) != truth))
            err[heights].append(e)
            row.append(f"{e:.2%}")
            if heights == "lstsq":
                best = net
        widths.append(net.sizes[1])
        cyl_rows.append(row)

    # --- figures
    figures = []
    fig, axes = _plot.figure(1, 4, size=(15, 4.1))
    for ax, (name, out, outlines) in zip(axes, outputs):
        im = _plot.region_image(ax, out.reshape(n_grid, n_grid), BOUNDS)
        for v in outlines or []:
            _plot.draw_polygon(ax, v, label="polygon (reference)")
        if outlines is None:
            xs = np.linspace(BOUNDS[0], BOUNDS[1], 2)
            ax.plot(xs, (-offset - normal[0] * xs) / normal[1], color="crimson", lw=1.2,
                    label="line (reference)")
        ax.set(title=name, xlabel="x1", ylabel="x2", xlim=BOUNDS[:2], ylim=BOUNDS[2:])
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:1], labels[:1], loc="lower left", fontsize=8)
    fig.colorbar(im, ax=axes, label="network output (decision: > 1/2)", shrink=0.8)
    figures.append(("Decision regions built by construction (blue: output 1); red: the reference geometry.",
                    _plot.save(fig, out_dir, "geometry_regions.png")))

    fig, (ax0, ax1, ax2) = _plot.figure(1, 3, size=(15, 4.4))
    side = int(round(np.sqrt(len(P_eval))))
    one = G.cylinder_features(P_eval, [(0.0, 0.0)], 0.3, n_dir, 0.02).reshape(side, side)
    im0 = _plot.region_image(ax0, one, BOUNDS, cmap="viridis", vmin=0, vmax=n_dir / 2)
    fig.colorbar(im0, ax=ax0, shrink=0.8, label="sum of units - N/2")
    ax0.set(title=f"One 'cylinder': {n_dir} threshold units around a centre", xlabel="x1", ylabel="x2")
    _plot.region_image(ax1, G.decision(best, P_eval).reshape(side, side).astype(float), BOUNDS)
    _plot.draw_polygon(ax1, star_outline, label="star (target)")
    ax1.set(title=f"{ks[-1] ** 2} cylinders, one hidden layer ({widths[-1]} ReLUs)", xlabel="x1", ylabel="x2")
    ax1.legend(loc="lower left", fontsize=8)
    ax2.loglog(widths, err["indicator"], "o-", color=_plot.color("relu"), label="heights 1 inside (lecture's recipe)")
    ax2.loglog(widths, err["lstsq"], "s-", color=_plot.color("least squares"), label="heights fitted by least squares")
    ax2.set(title="Cylinders: misclassified area vs hidden units", xlabel="hidden ReLUs",
            ylabel="fraction of grid misclassified")
    ax2.set_xticks(widths, [str(w) for w in widths])
    ax2.xaxis.set_minor_formatter("")  # only the measured widths are labelled
    ax2.yaxis.set_minor_formatter("{x:.0%}")
    ax2.yaxis.set_major_formatter("{x:.0%}")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    figures.append(("One hidden layer approximating the star: a cylinder (left), the region from the largest "
                    "network (middle), and the error as units are added (right).",
                    _plot.save(fig, out_dir, "geometry_cylinders.png")))

    summary = (
        "Each threshold unit is two ReLUs, exactly 1 on its closed half-plane and exactly 0 farther than "
        f"margin = {MARGIN:g} outside; the AND unit (one ReLU) and the OR unit (one ReLU) are exact on such "
        f"inputs. On a {n_grid} x {n_grid} grid every region agrees with the point-in-polygon reference at "
        "every point outside a band of width margin / sin(alpha/2) along the edges (column 'near edges'). "
        f"Cylinders: {ks[-1] ** 2} cylinders of {n_dir} units each (one hidden layer) misclassify "
        f"{err['lstsq'][-1]:.1%} of the box with least-squares heights, down from {err['lstsq'][0]:.1%} "
        f"with {ks[0] ** 2}. With the lecture's recipe (height 1 for cylinders centred inside, best "
        f"threshold) the error falls more slowly, {err['indicator'][0]:.1%} to {err['indicator'][-1]:.1%}: "
        "a cylinder's sum falls off only like N r / (pi d) away from its centre, and the tails of many "
        "cylinders add up to a background that varies across the region; fitting the heights (the same "
        "fixed hidden layer, only the output weights are solved for) largely cancels it."
    )
    tables = [
        ("Regions by construction, compared with the reference on the grid",
         ["region", "MLP sizes", "parameters", "points compared", "near edges (skipped)", "mismatches"],
         region_rows),
        ("Cylinders approximating the star with one hidden layer (error: fraction of the box misclassified)",
         ["cylinders", "hidden ReLUs", "error, lecture recipe", "error, least-squares heights"], cyl_rows),
    ]
    checks = {f"exact_region: {name}": ok for name, ok in exact.items()}
    checks["cylinders_error_falls_with_units"] = bool(np.all(np.diff(err["lstsq"]) < 0))
    checks["cylinders_largest_below_5_percent"] = err["lstsq"][-1] < 0.05
    numbers = {"grid": n_grid, "margin": MARGIN, "regions": {r[0]: {"mismatches": r[5], "params": r[2]}
                                                            for r in region_rows},
               "cylinders": {"units": widths, "error_indicator": err["indicator"],
                             "error_lstsq": err["lstsq"]}}
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
