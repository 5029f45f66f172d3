"""Output units: choose p(y | x) and the loss follows (L-OUT-1..4).

The network's last layer produces the pre-activation ``z``. An output unit
turns ``z`` into a distribution over ``y``:

========================  ===================  ============================  ==============
unit                      p(y | x)             nll(z, y) per example         mean(z)
========================  ===================  ============================  ==============
``Gaussian``              N(y; z, I)           ``1/2 ||y - z||^2`` (+ const)  ``z``
``Bernoulli``             Bernoulli(sigmoid z) ``softplus((1 - 2y) z)``       ``sigmoid(z)``
``Categorical``           Cat(softmax z)       ``logsumexp(z) - z_y``         ``softmax(z)``
========================  ===================  ============================  ==============

``nll`` averages over examples (weighted by ``sample_weight`` as scikit-learn
does) and sums over the independent outputs of one example, so it is the
negative log-likelihood of the data set divided by n.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional.losses import _unwrap
from ..tensor import _XP, Tensor, as_tensor
from .module import Module

__all__ = ["OutputUnit", "Gaussian", "Bernoulli", "Categorical", "OUTPUTS", "get_output", "register_output"]


def _like_input(z, value):
    """Return a Tensor for Tensor input, an array for array input."""
    return value if isinstance(z, Tensor) else value.data


def _data(z):
    """The array of ``z`` (a Tensor, an array of any device, or nested lists of numbers)."""
    z = _unwrap(z)
    return z if type(z) in _XP else np.asarray(z)


def _outputs(z) -> int:
    shape = z.shape  # once: a Tensor's shape is a property
    return shape[-1] if len(shape) > 1 else 1


class OutputUnit(Module):
    """Base of the output units: ``nll``, ``mean`` and ``predict`` from logits ``z``."""

    name = ""
    task = ""  # "regression" or "classification"
    mode_dependent = False

    def forward(self, z):
        return self.mean(z)

    def nll(self, z, y, sample_weight=None) -> Tensor:
        """The mean negative log-likelihood of targets ``y`` under the unit's distribution at ``z``."""
        return self._nll(z, y, sample_weight, trusted=False)

    def _nll(self, z, y, sample_weight, trusted: bool) -> Tensor:
        # The built-in units' loss; ``trusted`` skips the checks of the targets' values.
        raise NotImplementedError(f"{type(self).__name__} must define nll()")

    def _trusted_nll(self, z, y, sample_weight=None) -> Tensor:
        """``nll`` on targets already checked for the whole data set (the training loop's call).

        The built-in units skip the per-batch checks of the targets' values; a subclass that
        overrides ``nll`` gets its own ``nll`` called.
        """
        if type(self).nll is OutputUnit.nll:
            return self._nll(z, y, sample_weight, trusted=True)
        return self.nll(z, y, sample_weight)

    def mean(self, z):
        raise NotImplementedError

    def predict(self, z):
        """The prediction from logits ``z``, on ``z``'s device."""
        raise NotImplementedError


class Gaussian(OutputUnit):
    """Linear output unit = mean of a unit-variance Gaussian (L-OUT-1).

    ``nll = mean_i 1/2 ||y_i - z_i||^2``: maximum likelihood is least squares.
    """

    name = "gaussian"
    task = "regression"

    def _nll(self, z, y, sample_weight, trusted):
        z = as_tensor(z)
        # The factor inside the loss node: no separate multiply node per step.
        return F.mse_loss(z, y, sample_weight=sample_weight, _factor=_outputs(z) / 2, _trusted=trusted)

    def mean(self, z):
        return z

    def predict(self, z):
        return _data(z)


class Bernoulli(OutputUnit):
    """Sigmoid output unit = Bernoulli (L-OUT-2); several columns are independent labels.

    ``nll = mean_i sum_k softplus((1 - 2 y_ik) z_ik)``, computed stably.
    """

    name = "bernoulli"
    task = "classification"

    def _nll(self, z, y, sample_weight, trusted):
        z = as_tensor(z)
        # The factor inside the loss node: no separate multiply node per step.
        return F.binary_cross_entropy_with_logits(z, y, sample_weight=sample_weight, _factor=_outputs(z),
                                                  _trusted=trusted)

    def mean(self, z):
        return _like_input(z, F.sigmoid(z))

    def predict(self, z):
        # sigmoid(z) > 1/2 exactly when z > 0: no need to compute the sigmoid.
        return (_data(z) > 0).astype(np.int64)


class Categorical(OutputUnit):
    """Softmax output unit = categorical distribution over classes (L-OUT-3).

    ``nll = mean_i (logsumexp(z_i) - z_{i, y_i})``, labels are integers in ``[0, C)``.
    """

    name = "categorical"
    task = "classification"

    def _nll(self, z, y, sample_weight, trusted):
        return F.cross_entropy(z, y, sample_weight=sample_weight, _trusted=trusted)

    def mean(self, z):
        return _like_input(z, F.softmax(z, axis=-1))

    def predict(self, z):
        z = _data(z)
        return _XP[type(z)].argmax(z, axis=-1)


OUTPUTS: dict = {}
"""The output-unit registry: ``name`` -> class; the model file, the trainer, the CLI and the tests read it."""


def register_output(cls):
    """Class decorator: add an :class:`OutputUnit` subclass to :data:`OUTPUTS` under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, OutputUnit)):
        raise TypeError(f"register_output() takes an OutputUnit subclass, got {cls!r}")
    if not cls.name or cls.task not in ("regression", "classification"):
        raise ValueError(f"{cls.__name__} needs a name and task 'regression' or 'classification'")
    if OUTPUTS.get(cls.name, cls) is not cls:
        raise ValueError(f"output unit name {cls.name!r} is already registered to {OUTPUTS[cls.name].__name__}")
    OUTPUTS[cls.name] = cls
    return cls


for _cls in (Gaussian, Bernoulli, Categorical):
    register_output(_cls)


def get_output(spec) -> OutputUnit | None:
    """An output unit from a name (``"gaussian"``, ``"bernoulli"``, ``"categorical"``) or instance."""
    if spec is None or isinstance(spec, OutputUnit):
        return spec
    if isinstance(spec, type) and issubclass(spec, OutputUnit):
        return spec()
    if isinstance(spec, str) and spec.lower() in OUTPUTS:
        return OUTPUTS[spec.lower()]()
    raise ValueError(f"unknown output unit {spec!r}; expected one of {sorted(OUTPUTS)} or an OutputUnit")
