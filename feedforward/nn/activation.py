"""Hidden units (L-ACT-1..5) and the one registry every other part reads.

A hidden unit is one class here, registered with :func:`register`. The class
declares everything the rest of the package needs to know about it:

``name`` / ``aliases``
    What users type (``"relu"``; scikit-learn's ``"logistic"`` for the sigmoid).
``kind``
    ``"rectifier"`` (derivative zero on a half-line: can die), ``"squasher"``
    (saturates at both ends) or ``"linear"``; the dead/saturated diagnostics and
    the default weight init read it.
``hparams``
    Constructor keyword -> constraint (:mod:`feedforward._validation`): checked
    when the unit is built by hand, by name, or from a model file.
``mode_dependent``
    Whether it computes differently in training and evaluation (RReLU).

From that declaration the model file saves and rebuilds the unit
(:meth:`Unit.config` / :meth:`Unit.from_config`), the trainer knows whether
train/eval flags matter, the CLI and the estimators list the names, and the
contract tests (``tests/test_output_units.py``, ``tests/test_io.py``,
``tests/test_chain.py``) cover it the moment it is registered.

Each module calls its function in :mod:`feedforward.functional`, whose op
carries its own gradient; units with an array kernel (``_kernel``) also run
inside the fused layer chain (:mod:`feedforward.functional.chain`).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._rng import as_rng, rng_from_json, rng_state_to_json
from .._validation import Choice, Dtype, Int, Real
from ..functional import activations as FA
from .module import Module, Parameter

__all__ = [
    "Unit", "register",
    "ReLU", "AbsRectify", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Identity",
    "ACTIVATIONS", "UNITS", "KINDS", "RECTIFIERS", "SQUASHERS", "get_activation", "unit_kind",
]

KINDS = ("rectifier", "squasher", "linear")

ACTIVATIONS: dict = {}
"""Every accepted name (aliases included) -> unit class."""

UNITS: dict = {}
"""Each registered unit's own ``name`` -> class (no aliases): one entry per unit."""


def register(cls):
    """Class decorator: add a :class:`Unit` subclass to the registry under its ``name`` and ``aliases``."""
    if not (isinstance(cls, type) and issubclass(cls, Unit)):
        raise TypeError(f"register() takes a Unit subclass, got {cls!r}")
    if not cls.name or cls.name != cls.name.lower():
        raise ValueError(f"{cls.__name__}.name must be a non-empty lower-case string, got {cls.name!r}")
    Choice(*KINDS)(cls.kind, f"{cls.__name__}.kind")
    for key in (cls.name, *cls.aliases):
        if ACTIVATIONS.get(key, cls) is not cls:
            raise ValueError(f"unit name {key!r} is already registered to {ACTIVATIONS[key].__name__}")
    for key in (cls.name, *cls.aliases):
        ACTIVATIONS[key] = cls
    UNITS[cls.name] = cls
    return cls


class Unit(Module):
    """Base of the hidden units: the declaration the registry reads (see the module docstring)."""

    name: str = ""
    aliases: tuple = ()
    kind: str = "linear"
    hparams: dict = {}
    mode_dependent = False

    @classmethod
    def _checked(cls, **values) -> dict:
        """Each declared hyper-parameter through its constraint; unknown keywords refused."""
        unknown = set(values) - set(cls.hparams)
        if unknown:
            expected = sorted(cls.hparams) or "none"
            raise TypeError(f"{cls.__name__}: unknown hyper-parameter(s) {sorted(unknown)}; expected {expected}")
        return {k: cls.hparams[k](v, f"{cls.__name__}: {k}") for k, v in values.items()}

    def config(self) -> dict:
        """The hyper-parameters, as JSON values: ``type(self).from_config(self.config())`` rebuilds it."""
        return {k: getattr(self, k) for k in self.hparams}

    @classmethod
    def from_config(cls, config: dict, *, dtype=np.float32, rng=None) -> "Unit":
        """A new unit from :meth:`config`'s dict (checked: a model file is untrusted input)."""
        if not isinstance(config, dict):
            raise ValueError(f"{cls.__name__}: config must be a dict, got {type(config).__name__}")
        missing = set(cls.hparams) - set(config)
        if missing:
            raise ValueError(f"{cls.__name__}: config lacks {sorted(missing)}")
        return cls.build(dtype=dtype, rng=rng, **cls._checked(**config))

    @classmethod
    def build(cls, *, units: int | None = None, dtype=np.float32, rng=None, **hparams) -> "Unit":
        """The unit for a layer of ``units`` units (a per-unit PReLU sizes itself from it)."""
        return cls(**hparams)

    @classmethod
    def param_shapes(cls, config: dict) -> dict:
        """Name -> shape of the parameters a unit with this (checked) config allocates.

        A model file is checked against it before anything is built, so a hostile
        size in a file never allocates.
        """
        return {}

    def state(self):
        """Mutable state beyond the parameters, as JSON (RReLU's generator), or None."""
        return None

    def load_state(self, state) -> None:
        """Put back what :meth:`state` returned."""

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.config().items())


@register
class ReLU(Unit):
    """``max(0, z)`` (L-ACT-1)."""

    name = "relu"
    kind = "rectifier"
    _chain = "unit"

    def _kernel(self):
        return FA.RELU

    def forward(self, z):
        return F.relu(z)


@register
class AbsRectify(Unit):
    """``|z|``: the generalised ReLU with ``a = -1`` (L-ACT-2)."""

    name = "abs"
    aliases = ("abs_rectify",)
    kind = "rectifier"

    def forward(self, z):
        return F.abs_rectify(z)


@register
class LeakyReLU(Unit):
    """``max(0, z) + a min(0, z)`` with a small fixed ``a`` (default 0.01) (L-ACT-2)."""

    name = "leaky_relu"
    kind = "rectifier"
    hparams = {"negative_slope": Real()}
    _chain = "unit"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = self._checked(negative_slope=negative_slope)["negative_slope"]

    def _kernel(self):
        a = self.negative_slope
        return FA.RELU if a == 0 else FA.slope_kernel(a) if a > 0 else None

    def forward(self, z):
        return F.leaky_relu(z, self.negative_slope)


@register
class PReLU(Unit):
    """Generalised ReLU with a learned slope ``a`` (L-ACT-2).

    ``num_parameters=1`` shares one slope across units; ``num_parameters=units``
    learns one per unit (the last axis of the input). ``init`` is the starting slope.
    The slope count is ``self.weight.shape[0]`` (``num_parameters()`` stays the
    :class:`Module` method that counts parameters).
    """

    name = "prelu"
    kind = "rectifier"
    hparams = {"num_parameters": Int(1), "init": Real()}

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        hp = self._checked(num_parameters=num_parameters, init=init)
        dtype = Dtype()(dtype, "PReLU: dtype")
        self.weight = Parameter(np.full((hp["num_parameters"],), hp["init"], dtype=dtype))

    @property
    def slopes(self) -> int:
        """Number of learned slopes: 1 (shared) or one per unit."""
        return self.weight.data.shape[0]

    @classmethod
    def build(cls, *, units=None, dtype=np.float32, rng=None, **hparams):
        hparams.setdefault("num_parameters", units or 1)
        return cls(dtype=dtype, **hparams)

    @classmethod
    def param_shapes(cls, config: dict) -> dict:
        return {"weight": (config["num_parameters"],)}

    def config(self) -> dict:
        # ``init`` is only the starting value: the saved slopes are in the weights.
        return {"num_parameters": self.slopes, "init": 0.25}

    def forward(self, z):
        if self.slopes > 1 and z.shape[-1] != self.slopes:
            raise ValueError(f"PReLU has {self.slopes} slopes but the input has {z.shape[-1]} units")
        return F.prelu(z, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.slopes}"


@register
class RReLU(Unit):
    """Randomized ReLU (L-ACT-2): slope ``a ~ U(lower, upper)`` per element in training, the mean in eval."""

    name = "rrelu"
    kind = "rectifier"
    hparams = {"lower": Real(0), "upper": Real(0)}
    mode_dependent = True

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3, rng=None):
        hp = self._checked(lower=lower, upper=upper)
        if not hp["lower"] <= hp["upper"]:
            raise ValueError(f"RReLU: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = hp["lower"], hp["upper"]
        self.rng = as_rng(rng)

    @classmethod
    def build(cls, *, units=None, dtype=np.float32, rng=None, **hparams):
        return cls(rng=rng, **hparams)

    def state(self):
        return {"rng": rng_state_to_json(self.rng)}

    def load_state(self, state) -> None:
        if not isinstance(state, dict) or set(state) != {"rng"}:
            raise ValueError("RReLU: state must be {'rng': <generator state>}")
        self.rng = rng_from_json(state["rng"], self.rng)

    def forward(self, z):
        return F.rrelu(z, self.lower, self.upper, training=self.training, rng=self.rng)


@register
class ELU(Unit):
    """``z if z > 0 else alpha (e^z - 1)`` (L-ACT-3)."""

    name = "elu"
    kind = "rectifier"
    hparams = {"alpha": Real()}
    _chain = "unit"

    def __init__(self, alpha: float = 1.0):
        self.alpha = self._checked(alpha=alpha)["alpha"]

    def _kernel(self):
        return FA.elu_kernel(self.alpha) if self.alpha > 0 else None

    def forward(self, z):
        return F.elu(z, self.alpha)


@register
class Sigmoid(Unit):
    """``1 / (1 + e^-z)`` (L-ACT-4)."""

    name = "sigmoid"
    aliases = ("logistic",)  # scikit-learn's name
    kind = "squasher"
    _chain = "unit"

    def _kernel(self):
        return FA.SIGMOID

    def forward(self, z):
        return F.sigmoid(z)


@register
class Tanh(Unit):
    """``tanh(z) = 2 sigmoid(2z) - 1`` (L-ACT-5)."""

    name = "tanh"
    kind = "squasher"
    _chain = "unit"

    def _kernel(self):
        return FA.TANH

    def forward(self, z):
        return F.tanh(z)


@register
class Identity(Unit):
    """The linear unit: ``z`` unchanged."""

    name = "identity"
    aliases = ("linear",)
    kind = "linear"
    _chain = "skip"

    def forward(self, z):
        return z


def unit_kind(module) -> str | None:
    """``"rectifier"``, ``"squasher"``, ``"linear"`` for a hidden unit, None for any other module."""
    return module.kind if isinstance(module, Unit) else None


# The built-in units by kind, for isinstance checks (read ``Unit.kind`` for units added later).
RECTIFIERS = tuple(c for c in UNITS.values() if c.kind == "rectifier")
SQUASHERS = tuple(c for c in UNITS.values() if c.kind == "squasher")


def get_activation(spec, *, units: int | None = None, rng=None, dtype=np.float32) -> Module:
    """A fresh activation module from a name, a class or a module instance.

    ``units`` sizes a per-unit PReLU (``"prelu"`` shares one slope unless ``units`` is given);
    ``rng`` seeds an RReLU. A module instance is returned as is.
    """
    if isinstance(spec, Module):
        return spec
    if isinstance(spec, type) and issubclass(spec, Unit):
        return spec.build(units=units, dtype=dtype, rng=rng)
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, str):
        cls = ACTIVATIONS.get(spec.lower())
        if cls is None:
            raise ValueError(f"unknown activation {spec!r}; expected one of {sorted(ACTIVATIONS)}")
        return cls.build(units=units, dtype=dtype, rng=rng)
    raise TypeError(f"activation must be a name, a Module class or a Module, got {type(spec).__name__}")
