"""Whether the training inputs look unscaled, and the warning that says so (issue 14).

A network's initial weights are drawn for inputs of order 1 (Glorot / He scale the weights
by the fan-in, not by the data): ``ff.fit`` on raw units trains slowly or diverges with
nothing to say why. ``ff.fit`` checks the training inputs' columns once per call
(:func:`warn_if_unscaled`); ``ff.Trainer`` does when its ``warn_unscaled`` is set.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

__all__ = ["UnscaledInputWarning", "SCALE_LIMITS", "warn_if_unscaled"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside this package (Python 3.11 has no
    ``skip_file_prefixes``): the warning points at the user's ``ff.fit`` / ``fit`` line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


class UnscaledInputWarning(UserWarning):
    """The training inputs look unscaled (a column's mean or spread far from order 1)."""


#: (large, small): a column whose |mean| or standard deviation exceeds ``large``, or whose values
#: are all below ``small`` in size (not all 0), looks unscaled. Raw units (a price in dollars, a
#: length in mm) exceed 1e2; [0, 1] pixels do not, even one lit in a single image (its spread
#: is tiny, its values are not).
SCALE_LIMITS = (1e2, 1e-2)


def warn_if_unscaled(X: np.ndarray, name: str = "X", sample: int = 4096) -> bool:
    """Warn (once) when a column of ``X`` looks unscaled; returns whether it warned.

    A network's initial weights are drawn for inputs of order 1: a column of values around 1e4
    saturates or blows up the first layer, one of values around 1e-4 is all but ignored, and the
    run trains slowly or diverges with nothing to say why. The columns' largest sizes are exact
    (a max and a min over ``X``); their mean and spread come from at most ``sample`` evenly spaced
    rows in float64: an order of magnitude needs no more, and this runs on every ``ff.fit``.
    """
    n = len(X)
    if n < 2 or X.dtype.kind not in "iuf":
        return False
    largest = np.maximum(np.abs(X.max(axis=0).astype(np.float64)), np.abs(X.min(axis=0).astype(np.float64)))
    rows = X[:: -(-n // sample)].astype(np.float64)  # every k-th row: at most `sample` of them
    mean = rows.mean(axis=0)
    std = np.sqrt(np.maximum(np.einsum("ij,ij->j", rows, rows) / len(rows) - mean * mean, 0.0))
    large, small = SCALE_LIMITS
    # The largest offender first: its column is the one named.
    size = np.maximum(np.abs(mean), std)
    j = int(np.argmax(size))
    if size[j] > large:
        what = f"mean {mean[j]:.3g}" if abs(mean[j]) >= std[j] else f"standard deviation {std[j]:.3g}"
    else:
        tiny = (largest > 0) & (largest < small)
        if not tiny.any():
            return False
        j = int(np.flatnonzero(tiny)[np.argmin(largest[tiny])])
        what = f"standard deviation {std[j]:.3g}, every value at most {largest[j]:.3g} in size"
    warnings.warn(
        f"{name} looks unscaled: column {j} has {what}. A network learns best from inputs of order 1: "
        "standardise the columns first (ff.data.Standardizer, or scikit-learn's StandardScaler), with the "
        "training data's mean and scale",
        UnscaledInputWarning, stacklevel=_caller_level(),
    )
    return True

