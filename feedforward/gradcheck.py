"""Numeric gradients by central differences (L-AD-4).

``dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h``, error O(h^2). Use float64
inputs: in float32 the rounding error of L swamps the difference.

Tensors on a device (a GPU) are checked there: ``f`` runs on the device, and the gradients
come back to the host (NumPy arrays) only to be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_bool, check_real
from .autograd import no_grad
from .backend.registry import to_numpy
from .tensor import Tensor

__all__ = ["numeric_grad", "gradcheck", "GradcheckResult"]


def numeric_grad(f, inputs, eps: float = 1e-6) -> list:
    """Central-difference gradient of the scalar ``f(*inputs)`` w.r.t. each input's data.

    Returns one float64 NumPy array per input, of its shape (on the host, whatever the device)."""
    eps = check_real(eps, "eps", 0, low_open=True)
    grads = []
    with no_grad():
        for t in inputs:
            g = np.zeros(t.data.shape, dtype=np.float64)
            # Index t.data itself (not a reshape, which copies a non-contiguous
            # array, so the perturbation would never reach f): perturb, restore.
            for i in np.ndindex(t.data.shape):
                old = t.data[i]
                t.data[i] = old + eps
                up = float(f(*inputs).data.sum())  # a method call: the array's own module
                t.data[i] = old - eps
                down = float(f(*inputs).data.sum())
                t.data[i] = old
                g[i] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`: ``ok`` and, per input, the worst relative error.

    The lists follow ``inputs``: entry ``i`` belongs to ``inputs[i]``, and is ``None`` for an
    input held constant (no ``requires_grad``).
    """

    ok: bool
    max_rel_error: list = field(default_factory=list)
    analytic: list = field(default_factory=list)
    numeric: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        errs = ", ".join(
            f"input {i}: {'constant' if e is None else f'{e:.2e}'}" for i, e in enumerate(self.max_rel_error)
        )
        return f"gradcheck {'passed' if self.ok else 'FAILED'} (worst relative error per input: {errs})"


def gradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              raise_exception: bool = False) -> GradcheckResult:
    """Compare ``f``'s backprop gradients with central differences.

    Parameters
    ----------
    f : callable
        Takes the tensors in ``inputs`` and returns a tensor; a non-scalar
        output is summed.
    inputs : sequence of Tensor
        Float64 tensors with ``requires_grad=True`` (others are held constant).
    eps : float
        The difference step ``h > 0``.
    atol, rtol : float
        Tolerances ``>= 0``.
    raise_exception : bool
        Raise ``AssertionError`` with the report instead of returning a failed result.

    The relative error of element i is ``|a_i - n_i| / max(1, |a_i|, |n_i|)``
    (absolute near zero, relative for large gradients); ``ok`` when it is at
    most ``atol + rtol`` everywhere. The result's lists, and its report, number
    the inputs by their position in ``inputs``.

    Examples
    --------
    >>> import numpy as np, feedforward as ff
    >>> x = ff.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> ff.gradcheck(lambda x: (x * x).exp().sum(), [x]).ok
    True
    """
    if not callable(f):
        raise TypeError(f"gradcheck: f must be a callable, got {type(f).__name__}")
    eps = check_real(eps, "eps", 0, low_open=True)
    atol = check_real(atol, "atol", 0)
    rtol = check_real(rtol, "rtol", 0)
    raise_exception = check_bool(raise_exception, "raise_exception")
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        t = inputs[i]
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 inputs for accurate differences, got {t.dtype} for input {i}"
            )
        t.grad = None
    out = f(*inputs)
    out.sum().backward() if out.size != 1 else out.backward()
    wanted = [inputs[i] for i in checked]
    analytic = [np.zeros(t.data.shape, t.data.dtype) if t.grad is None else np.array(to_numpy(t.grad))
                for t in wanted]
    numeric = numeric_grad(lambda *a: f(*inputs), wanted, eps)
    errors = []
    for a, n in zip(analytic, numeric):
        denom = np.maximum(1.0, np.maximum(np.abs(a), np.abs(n)))
        errors.append(float(np.max(np.abs(a - n) / denom)) if a.size else 0.0)
    ok = all(e <= atol + rtol for e in errors)

    def by_position(values):
        out = [None] * len(inputs)
        for i, v in zip(checked, values):
            out[i] = v
        return out

    result = GradcheckResult(ok, by_position(errors), by_position(analytic), by_position(numeric))
    if raise_exception and not ok:
        raise AssertionError(str(result))
    return result
