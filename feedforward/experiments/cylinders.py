"""Continuous 2-D functions as sums of scaled, shifted cylinders (L-PROP-4)."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 42
TITLE = "Constructions: any continuous 2-D function as a sum of cylinders"
QUOTE = (
    'MLP可以组成任意维数的任意函数! 只需要一层，由缩放和平移的圆柱体的和构成 …… '
    '通过使得圆柱体变“瘦”，实现任意精度',
    'An MLP can compose any function of any dimension! It takes only one layer, made of a sum of scaled and '
    'shifted cylinders ... arbitrary precision by making the cylinders "thinner".',
)
CLAIM = (
    "A continuous function on the square is approximated by a sum of cylinders, each a ring of threshold "
    "units around a centre, scaled by the function's value there; thinner cylinders (more of them) give a "
    "smaller error, falling like the cylinder width for a smooth function (first order). Square cylinders "
    "(4 threshold units each, thresholded once more) tile the square exactly; round ones (16 units, one "
    "layer) overlap, and their heights are fitted by least squares (L-PROP-4)."
)

BOUNDS = (-1.0, 1.0, -1.0, 1.0)


def target(P):
    """A smooth bump landscape on [-1, 1]^2."""
    x, y = P[:, 0], P[:, 1]
    return np.exp(-((x - 0.3) ** 2 + (y + 0.2) ** 2) * 3) + 0.6 * np.sin(2 * x) * np.cos(3 * y)


def _grid(m):
    """m x m cell midpoints: -1 + (2i + 1)/m never lies on a cylinder edge -1 + 2k/n when m is a
    power of 2 and a multiple of n (an edge point would belong to two adjacent square cylinders)."""
    g = -1 + (2 * np.arange(m) + 1) / m
    return np.array([(a, b) for b in g for a in g])


def box_cylinders(P, n_per_axis, margin):
    """Each cell's indicator as a network: 4 threshold units [n_i . (x - c) <= h/2] per cell
    (two ReLUs each, ramp width ``margin``) and a threshold unit on their sum (all four on)."""
    from feedforward.construct.geometry import cylinder_features

    h = 2.0 / n_per_axis
    c = -1 + h * (np.arange(n_per_axis) + 0.5)
    centres = np.array([(a, b) for b in c for a in c])
    ring = cylinder_features(P, centres, h / 2, 4, margin) + 2  # sum of the 4 units, in [0, 4]
    return np.clip(ring - 3, 0, 1), centres  # the second threshold: 1 only with all four on


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.construct.geometry import cylinder_features

    ns = (2, 4, 8, 16) if quick else (2, 4, 8, 16, 32)
    P = _grid(64 if quick else 128)
    f = target(P)
    rng_ = f.max() - f.min()
    box_err, round_err, surfaces = [], [], {}
    for n in ns:
        margin = 1e-3 * 2 / n
        feats, centres = box_cylinders(P, n, margin)
        approx = feats @ target(centres)  # the lecture's recipe: height = f at the centre
        box_err.append(float(np.max(np.abs(approx - f))))
        surfaces[n] = approx
        # round cylinders: 16 threshold units per centre, one hidden layer, heights by least squares
        # (up to 16 x 16 of them: the 32 x 32 least-squares problem alone would take most of the section's time)
        if n > 16:
            continue
        h = 2.0 / n
        c = -1 + h * (np.arange(n) + 0.5)
        cen = np.array([(a, b) for b in c for a in c])
        R = cylinder_features(P, cen, 0.6 * h, 16, margin)
        A = np.column_stack([R, np.ones(len(P))])
        coef, *_ = np.linalg.lstsq(A, f, rcond=None)
        round_err.append(float(np.max(np.abs(A @ coef - f))))
    ratios = [a / b for a, b in zip(box_err, box_err[1:])]
    # first-order bound: |f(x) - f(c)| <= max|grad f| * |x - c| <= L * h / sqrt(2) (half a cell's diagonal)
    eps = 1e-5
    grad = np.stack([(target(P + [eps, 0]) - target(P - [eps, 0])), (target(P + [0, eps]) - target(P - [0, eps]))],
                    axis=1) / (2 * eps)
    L = float(np.linalg.norm(grad, axis=1).max())
    bound = [float(L * (2.0 / n) / np.sqrt(2)) for n in ns]

    fig, axes = _plot.figure(1, 3, size=(15, 4.4))
    side = int(np.sqrt(len(P)))
    im = _plot.region_image(axes[0], f.reshape(side, side), BOUNDS, cmap="viridis", vmin=f.min(), vmax=f.max())
    axes[0].set(title="target f(x1, x2)", xlabel="x1", ylabel="x2")
    _plot.region_image(axes[1], surfaces[ns[-2]].reshape(side, side), BOUNDS, cmap="viridis", vmin=f.min(),
                       vmax=f.max())
    axes[1].set(title=f"{ns[-2] ** 2} square cylinders, heights f(centre)", xlabel="x1", ylabel="x2")
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="f")
    widths = [2.0 / n for n in ns]
    axes[2].loglog(widths, box_err, "o-", color=_plot.color("relu"), label="square cylinders, heights f(centre)")
    axes[2].loglog(widths[:len(round_err)], round_err, "s-", color=_plot.color("least squares"),
                   label="round cylinders (16 units), least-squares heights")
    axes[2].loglog(widths, box_err[0] * np.array(widths) / widths[0], "k:", label="slope 1")
    axes[2].set_xticks(widths, [f"{w:g}" for w in widths])
    axes[2].minorticks_off()
    axes[2].set(title="Max error vs cylinder width", xlabel="cylinder width h (square is 2 x 2)",
                ylabel="max |approximation - f| on the grid")
    axes[2].legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "cylinders.png")

    rows = [[n * n, f"{2 / n:.4g}", n * n * 4 * 2, f"{b:.4f}", f"{round_err[i]:.4f}" if i < len(round_err) else "-"]
            for i, (n, b) in enumerate(zip(ns, box_err))]
    summary = (
        f"Target: a smooth landscape on [-1, 1]^2 (range {rng_:.2f}), evaluated on a {side} x {side} grid. "
        "Square cylinders: per grid cell 4 threshold units (each two ReLUs with a ramp of 1/1000 of the cell) "
        "and one threshold on their sum, scaled by f at the cell's centre: the maximum error goes "
        + ", ".join(f"{e:.3f}" for e in box_err) + f" as the width halves from {2 / ns[0]:g} to {2 / ns[-1]:g} "
        f"(ratios {', '.join(f'{r:.2f}' for r in ratios)}: first order, as the function's slope times half a "
        "cell predicts; the bound max|grad f| h / sqrt(2) is " + ", ".join(f"{b:.3f}" for b in bound) + "). "
        "Round cylinders of 16 units in one hidden layer, as drawn on the slide, overlap and have long tails "
        "(a ring sum decays only like N r / (pi d) away from its centre), so their heights are fitted by least "
        "squares; their maximum error goes " + ", ".join(f"{e:.3f}" for e in round_err)
        + f": the last halving divides it by {round_err[-2] / round_err[-1]:.2f} against the square version's "
          f"{ratios[len(round_err) - 2]:.2f}; with a fixed 16 units per ring the tails do not shrink with the "
          "width, and the "
          "thinness the slide asks for needs more units per ring too (or the second threshold of the square "
          "version)."
    )
    checks = {
        "square cylinders: error falls at every halving of the width": all(r > 1 for r in ratios),
        "square cylinders: first order (each halving divides the error by 1.5 to 2.6)": all(
            1.5 <= r <= 2.6 for r in ratios[1:]),
        "square cylinders: error within the first-order bound max|grad f| h / sqrt(2) at every width": all(
            e <= b for e, b in zip(box_err, bound)),
    }
    numbers = {"n_per_axis": list(ns), "box_max_error": box_err, "round_max_error": round_err,
               "first_order_bound": bound}
    return {"summary": summary, "tables": [("Max error on the grid", ["cylinders", "width", "threshold ReLUs",
                                            "square cylinders", "round, least squares"], rows)],
            "figures": [("Left: the target. Middle: the sum of square cylinders. Right: the error falls in "
                         "proportion to the cylinder width.", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
