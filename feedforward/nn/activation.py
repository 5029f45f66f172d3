"""Hidden-unit modules (L-ACT-1..5) and the registry that maps names to them.

One registry (``ACTIVATIONS``) instead of parallel tables of functions and
derivatives kept in sync by hand: each module calls its function in
:mod:`feedforward.functional`, whose op carries its own gradient.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional import activations as FA
from .._rng import as_rng
from .module import Module, Parameter

__all__ = [
    "ReLU", "AbsRectify", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Identity",
    "ACTIVATIONS", "get_activation",
]


class ReLU(Module):
    """``max(0, z)`` (L-ACT-1)."""

    _chain = "unit"

    def _kernel(self):
        return FA.RELU

    def forward(self, z):
        return F.relu(z)


class AbsRectify(Module):
    """``|z|``: the generalised ReLU with ``a = -1`` (L-ACT-2)."""

    def forward(self, z):
        return F.abs_rectify(z)


class LeakyReLU(Module):
    """``max(0, z) + a min(0, z)`` with a small fixed ``a`` (default 0.01) (L-ACT-2)."""

    _chain = "unit"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def _kernel(self):
        a = self.negative_slope
        return FA.RELU if a == 0 else FA.slope_kernel(a) if a > 0 else None

    def forward(self, z):
        return F.leaky_relu(z, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Generalised ReLU with a learned slope ``a`` (L-ACT-2).

    ``num_parameters=1`` shares one slope across units; ``num_parameters=units``
    learns one per unit (the last axis of the input). ``init`` is the starting slope.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full((num_parameters,), init, dtype=dtype))

    def forward(self, z):
        if self.num_parameters > 1 and z.shape[-1] != self.num_parameters:
            raise ValueError(f"PReLU has {self.num_parameters} slopes but the input has {z.shape[-1]} units")
        return F.prelu(z, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized ReLU (L-ACT-2): slope ``a ~ U(lower, upper)`` per element in training, the mean in eval."""

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3, rng=None):
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = float(lower), float(upper)
        self.rng = as_rng(rng)

    def forward(self, z):
        return F.rrelu(z, self.lower, self.upper, training=self.training, rng=self.rng)

    def extra_repr(self):
        return f"lower={self.lower:.4g}, upper={self.upper:.4g}"


class ELU(Module):
    """``z if z > 0 else alpha (e^z - 1)`` (L-ACT-3)."""

    _chain = "unit"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def _kernel(self):
        return FA.elu_kernel(self.alpha) if self.alpha > 0 else None

    def forward(self, z):
        return F.elu(z, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    """``1 / (1 + e^-z)`` (L-ACT-4)."""

    _chain = "unit"

    def _kernel(self):
        return FA.SIGMOID

    def forward(self, z):
        return F.sigmoid(z)


class Tanh(Module):
    """``tanh(z) = 2 sigmoid(2z) - 1`` (L-ACT-5)."""

    _chain = "unit"

    def _kernel(self):
        return FA.TANH

    def forward(self, z):
        return F.tanh(z)


class Identity(Module):
    """The linear unit: ``z`` unchanged."""

    _chain = "skip"

    def forward(self, z):
        return z


ACTIVATIONS = {
    "relu": ReLU,
    "abs": AbsRectify,
    "abs_rectify": AbsRectify,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "rrelu": RReLU,
    "elu": ELU,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,  # scikit-learn's name
    "tanh": Tanh,
    "identity": Identity,
    "linear": Identity,
}

# Units whose derivative is zero on a half-line (can "die") vs units that saturate.
RECTIFIERS = (ReLU, LeakyReLU, PReLU, RReLU, ELU, AbsRectify)
SQUASHERS = (Sigmoid, Tanh)


def get_activation(spec, *, units: int | None = None, rng=None, dtype=np.float32) -> Module:
    """A fresh activation module from a name, a class or a module instance.

    ``units`` sizes a per-unit PReLU (``"prelu"`` shares one slope unless ``units`` is given);
    ``rng`` seeds an RReLU.
    """
    if isinstance(spec, Module):
        return spec
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, str):
        key = spec.lower()
        if key not in ACTIVATIONS:
            raise ValueError(f"unknown activation {spec!r}; expected one of {sorted(ACTIVATIONS)}")
        cls = ACTIVATIONS[key]
        if cls is RReLU:
            return RReLU(rng=rng)
        if cls is PReLU:
            return PReLU(units or 1, dtype=dtype)
        return cls()
    raise TypeError(f"activation must be a name, a Module class or a Module, got {type(spec).__name__}")
