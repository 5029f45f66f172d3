"""Shared matplotlib helpers for the experiments (optional extra: ``pip install feedforward[plot]``).

Figures are made with ``matplotlib.figure.Figure`` on an explicit Agg canvas,
never through ``pyplot``: no global backend switch, no figure registry that
leaks memory, nothing opens a window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["require_matplotlib", "figure", "save", "region_image", "draw_polygon", "plot_confusion", "INSIDE_CMAP",
           "COLORS", "color"]

INSIDE_CMAP = "Blues"

# One colour per method across every figure of the report, so that a student who has learned
# "ReLU is blue" or "backprop is black-green" in one section reads the next figure without a legend
# hunt. Keys are the names the experiments use; `color()` raises on a name not listed here, so a
# new method gets its colour here, once, instead of matplotlib's cycle picking one per figure.
COLORS = {
    # references
    "target": "black", "truth": "black", "least squares": "0.45",
    # hidden units (activations and the Boolean/threshold constructions)
    "relu": "#1f77b4", "leaky_relu": "#17becf", "prelu": "#9edae5", "rrelu": "#aec7e8", "elu": "#2ca02c",
    "sigmoid": "#ff7f0e", "tanh": "#d62728", "linear": "#7f7f7f", "softplus": "#bcbd22",
    # ways through the data (Algorithms 1 and 2, minibatches)
    "stochastic": "#e377c2", "minibatch": "#9467bd", "batch": "#8c564b",
    "lecture minibatch": "#c5b0d5", "growing batch": "#17becf",
    # ways to learn the weights
    "backprop": "#2ca02c", "finite_differences": "#d62728", "weight_perturbation": "#ff7f0e",
    "keep_if_better": "#1f77b4", "node_perturbation": "#9467bd",
    # models compared in the applications
    "MLP": "#d62728", "naive": "#1f77b4", "seasonal naive": "#17becf", "linear model": "#7f7f7f",
    "PCA": "#7f7f7f", "autoencoder": "#d62728",
    # divergences and distributions (review)
    "p": "black", "KL(p||q)": "#1f77b4", "KL(q||p)": "#d62728",
    # losses (output units)
    "cross-entropy": "#2ca02c", "squared error": "#ff7f0e",
}


def color(name: str) -> str:
    """The report's fixed colour for ``name`` (a method, unit or model of :data:`COLORS`)."""
    try:
        return COLORS[name]
    except KeyError:
        raise KeyError(f"no report colour for {name!r}; add it to experiments._plot.COLORS "
                       f"(known: {', '.join(sorted(COLORS))})") from None


def require_matplotlib():
    """Import matplotlib or raise an ImportError that names the extra to install."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the lecture report's figures need matplotlib: pip install feedforward[plot]"
        ) from exc


def figure(nrows: int = 1, ncols: int = 1, size=(6.4, 4.8), **subplot_kw):
    """A new ``(fig, axes)`` on an Agg canvas; ``axes`` is a single Axes or an array of them."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    return fig, axes


def save(fig, out_dir, filename: str, dpi: int = 110) -> str:
    """Write ``fig`` as PNG into ``out_dir``; returns ``filename`` (relative, for the report)."""
    path = Path(out_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return filename


def region_image(ax, values: np.ndarray, bounds, *, cmap=INSIDE_CMAP, vmin=0.0, vmax=1.0, label=None,
                 fig=None):
    """Show a grid of values (rows = y ascending, columns = x ascending) over ``bounds``."""
    xmin, xmax, ymin, ymax = bounds
    im = ax.imshow(values, origin="lower", extent=(xmin, xmax, ymin, ymax), cmap=cmap, vmin=vmin, vmax=vmax,
                   interpolation="nearest", aspect="equal")
    if fig is not None and label is not None:
        fig.colorbar(im, ax=ax, label=label, shrink=0.8)
    return im


def draw_polygon(ax, vertices, **kw):
    """Outline of a polygon (closed)."""
    v = np.asarray(vertices)
    closed = np.vstack([v, v[:1]])
    kw.setdefault("color", "crimson")
    kw.setdefault("linewidth", 1.2)
    return ax.plot(closed[:, 0], closed[:, 1], **kw)


def plot_confusion(cm, labels, out_dir, filename, title) -> str:
    """Save a confusion-matrix figure (true class in rows, predicted in columns); returns ``filename``."""
    cm = np.asarray(cm)
    k = len(cm)
    fig, ax = figure(size=(0.5 * k + 3.2, 0.5 * k + 2.4))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, shrink=0.8)
    short = [str(s)[:11] for s in labels]
    ax.set_xticks(range(k), short, rotation=45 if max(map(len, short)) > 2 else 0,
                  ha="right" if max(map(len, short)) > 2 else "center")
    ax.set_yticks(range(k), short)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    top = cm.max() if cm.size else 0
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > top / 2 else "black")
    ax.set_title(f"{title}\naccuracy {np.trace(cm) / max(cm.sum(), 1):.4f}")
    return save(fig, out_dir, filename)
