"""Shared matplotlib helpers for the experiments (optional extra: ``pip install feedforward[plot]``).

Figures are made with ``matplotlib.figure.Figure`` on an explicit Agg canvas,
never through ``pyplot``: no global backend switch, no figure registry that
leaks memory, nothing opens a window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["require_matplotlib", "figure", "save", "region_image", "draw_polygon", "INSIDE_CMAP"]

INSIDE_CMAP = "Blues"


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
