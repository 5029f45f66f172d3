"""The estimators' checks of their data: widths, targets' shape, the cast to the network's dtype, scale.

scikit-learn's ``validate_data`` has already checked ``X`` and ``y`` (2-D, numeric,
finite); what is left is what only this package knows: the dtype the network computes
in, and whether the inputs are of a size a network can learn from.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from .._validation import check_int
from ..nn.output import OUTPUTS

__all__ = ["output_names", "hidden_sizes", "column_to_1d", "as_dtype", "max_abs", "warn_if_huge", "inputs_hint"]

# max |X| above which a warning about a run that failed suggests scaling the inputs, and above
# which fit warns before training (data this large is surely not scaled; 1e3 may just be raw units).
_LARGE_INPUT = 1e3
_HUGE_INPUT = 1e6


def output_names(task: str) -> set:
    """The registered output units for ``task``, and ``"auto"``."""
    return {"auto"} | {name for name, unit in OUTPUTS.items() if unit.task == task}


def hidden_sizes(value) -> list:
    """``hidden_layer_sizes`` as a list of widths >= 1 (an int is one hidden layer)."""
    sizes = [value] if isinstance(value, Integral) else list(value)
    return [check_int(s, f"hidden_layer_sizes[{i}]", low=1) for i, s in enumerate(sizes)]


def column_to_1d(y):
    """A column vector ``(n, 1)`` becomes ``(n,)`` with scikit-learn's DataConversionWarning."""
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of "
                      "y to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=5)
        return y.ravel()
    return y


def as_dtype(a: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``a`` (checked finite) as a C-contiguous ``dtype`` array; a ValueError if a value does not fit.

    Only a cast to a narrower float can fail: 1e39 is finite in float64 and inf in float32.
    """
    if a.dtype.itemsize <= dtype.itemsize:
        return np.ascontiguousarray(a, dtype=dtype)
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(out).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(
            f"{name} holds {float(a[where]):g} at index {where if len(where) > 1 else where[0]}, beyond the "
            f"largest {dtype.name} ({float(np.finfo(dtype).max):.4g}), the dtype this estimator computes in; "
            "scale the data (e.g. StandardScaler) or compute in float64 (dtype='float64')"
        )
    return out


def max_abs(X) -> float:
    """``max |X|`` without a copy of ``X``."""
    return max(float(X.max()), -float(X.min()))


def warn_if_huge(X, largest: float, name: str) -> None:
    """Warn before training on inputs so large that the run can only fit nonsense.

    Pre-activations grow with the inputs: at this size the loss is astronomical, the
    updates lurch and a "converged" run (tol) has learned nothing; the user should hear why.
    """
    if largest <= _HUGE_INPUT:
        return
    row, col = np.unravel_index(int(np.argmax(np.abs(X))), X.shape)
    warnings.warn(
        f"{name}: the inputs are very large (max |X| = {largest:.3g}, at row {row}, column {col}); a network "
        f"trains on inputs of order 1: scale them, e.g. make_pipeline(StandardScaler(), {name}(...)).",
        ConvergenceWarning, stacklevel=5,
    )


def inputs_hint(largest: float) -> str:
    """Advice for a run that did not converge: scale the inputs (empty when they are of moderate size)."""
    if largest <= _LARGE_INPUT:
        return ""
    return f" The inputs are large (max |X| = {largest:.3g}): scale them, e.g. with StandardScaler."
