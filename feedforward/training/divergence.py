"""When a training run has diverged (checked at the end of every epoch, whatever ``train_eval``).

An epoch has diverged when

1. a minibatch loss, the training loss ``J(w)`` or ``||grad J(w)||`` is NaN or infinite;
2. a weight is NaN or infinite;
3. the model's outputs ``z`` on the training data are not all finite in the model's dtype
   (float32 overflows at 3.4e38 while the weights are still finite);
4. or ``J(w)`` has grown more than :data:`GROWTH_LIMIT` (``1e6``) times over its reference:
   the larger of the first update's loss (the loss at the initial weights) and the loss of an
   uninformed prediction (``z = 0`` for a classification unit: ``log C`` for a categorical
   one; ``z`` = the targets' mean for a Gaussian one: half their variance). A run that is
   learning never gets there; a learning rate far too large gets there in an epoch or two
   while everything stays finite (Adam at ``lr=1e6``: a loss of 1e25). With
   ``train_eval="batches"``, ``J(w)`` is the mean of the epoch's minibatch losses.

Then the loop stops with ``stop_reason == "diverged"``, a :class:`DivergenceWarning`, and the
weights and optimizer state of the last epoch that passed every check (so its outputs on the
training data were finite), or the initial weights when no epoch did.

Check 3 costs next to nothing. With ``train_eval`` ``"grad"`` or ``"loss"`` (and in batch
mode) the epoch-end pass computes every output anyway. With ``"batches"`` there is no such
pass: a bound on ``|z|`` over the training data computed from the weights alone
(:func:`output_bound`, one pass over the weights, as the snapshot's copy is) proves the outputs
finite; only when the bound itself overflows are the outputs computed.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..backend import to_numpy
from ..nn.activation import UNITS
from ..nn.linear import Linear
from ..nn.module import Sequential
from ..tensor import Tensor
from .evaluation import Evaluation

__all__ = ["DivergenceWarning", "GROWTH_LIMIT", "Guard", "uninformed_loss", "output_bound"]

GROWTH_LIMIT = 1e6


class DivergenceWarning(RuntimeWarning):
    """Training diverged (see :mod:`feedforward.training.divergence`); it stopped and the last
    good weights were put back."""


def uninformed_loss(output, part, n_outputs: int) -> float:
    """The loss of a prediction that knows nothing about ``x``: ``z = 0`` for a classification
    unit, ``z`` = the (weighted) mean of the targets for a regression one."""
    part = part.host  # on the host: computed at most once per run
    y, n = part.y, part.n
    z = np.zeros((n, n_outputs), dtype=part.X.dtype)
    if output.task == "regression":
        z += np.average(y.reshape(n, -1), axis=0, weights=part.w).astype(z.dtype)
    with no_grad():
        return float(output._trusted_nll(Tensor(z), y, sample_weight=part.w).data)


class Guard:
    """The divergence checks of one run on its training part ``train`` (module docstring).

    ``first_loss``: the loss of the run's first update, once known (a resumed or continued run
    passes its own). The uninformed prediction's loss is computed only when a loss is large
    enough for it to matter, so a healthy run never pays for it.
    """

    def __init__(self, evaluator, train, dtype, output, n_outputs: int, first_loss: float | None = None):
        self.evaluator, self.train, self.dtype = evaluator, train, dtype
        self.output, self.n_outputs = output, n_outputs
        self.first = first_loss
        self._floor = None
        self._x_bound = None

    def first_loss(self, loss) -> None:
        """See the loss of an epoch's first update; only the run's very first one is kept."""
        if self.first is None and loss is not None:
            self.first = float(loss)

    def reference(self) -> float:
        """The reference of check 4: the larger of the first loss and the uninformed prediction's."""
        if self._floor is None:
            self._floor = self._uninformed_loss()
        first = self.first
        return first if first is not None and first > self._floor else self._floor

    def problem(self, ev: Evaluation, weights_finite) -> str | None:
        """What went wrong at the end of this epoch, or None. ``weights_finite()`` checks the
        weights (the snapshot's check, which also copies them)."""
        if not math.isfinite(ev.loss):
            return f"the training loss at the end of the epoch is {ev.loss}"
        if ev.grad_norm is not None and not math.isfinite(ev.grad_norm):
            return f"the gradient norm at the end of the epoch is {ev.grad_norm}"
        if not weights_finite():
            return "the weights are no longer finite"
        if not (ev.outputs_finite if ev.outputs_finite is not None else self._outputs_finite()):
            return f"the model's outputs on the training data are no longer finite in {self.dtype.name}"
        first = self.first
        if first is not None and math.isfinite(first) and ev.loss <= GROWTH_LIMIT * first:
            return None  # below the limit of any reference (it is at least the first loss)
        reference = self.reference()
        if reference > 0 and ev.loss > GROWTH_LIMIT * reference:
            return (
                f"the training loss {ev.loss:.3g} is more than {GROWTH_LIMIT:g} times its reference "
                f"{reference:.3g} (the larger of the initial loss and an uninformed prediction's)"
            )
        return None

    def _uninformed_loss(self) -> float:
        return uninformed_loss(self.output, self.train, self.n_outputs)

    def _input_bound(self) -> float:
        """``max |x|`` over the training inputs (a data-parallel guard takes it over every shard)."""
        # Two plain reductions, no |X| temporary of the data's size.
        X = self.train.host.X  # the host copy of device data: no device round trip
        return max(float(X.max()), -float(X.min()))

    def _outputs_finite(self) -> bool:
        if self._x_bound is None:
            # One bound for every feature (per-feature bounds are tighter, but slower to get
            # than they are worth here).
            self._x_bound = np.full(self.train.X.shape[1], self._input_bound())
        # Half the largest float: the bound, computed in float64, is proof with room to spare.
        limit = float(np.finfo(self.dtype).max) / 2
        bound = output_bound(self.evaluator.model, self._x_bound, limit=limit)
        if bound is not None and bound < limit:
            return True
        return self.evaluator.outputs_finite(self.train)


def output_bound(model, x_bound: np.ndarray, *, limit: float = math.inf) -> float | None:
    """An upper bound on ``|z|`` (and on every value computed on the way) for inputs with
    ``|x_j| <= x_bound[j]``, or None when ``model`` is not a chain of ``Linear`` layers and
    registered units (then only a forward pass can tell). Computed in each layer's dtype, as
    the model computes; infinite once a value on the way may reach ``limit`` (a later
    squashing unit does not make an overflowed value good).

    ``Linear``: ``|x W + b|_k <= sum_j |x_j| |W_jk| + |b_k|``. A unit: every registered unit is
    element-wise and monotone on each side of 0, so on ``|z| <= c`` its output is at most
    ``max(|g(-c)|, |g(0)|, |g(c)|)``, evaluated with the unit itself (eval mode: RReLU at its
    mean slope, as predictions are made).
    """
    layers = _chain(model)
    if layers is None:
        return None
    c = np.asarray(x_bound, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in layers:
            if isinstance(layer, Linear):
                # In the layer's dtype, as the model computes: inf on overflow. A device's weights
                # come to the host (one copy per layer and epoch, no copy for NumPy arrays).
                W = to_numpy(layer.weight.data)
                c = np.abs(W).T @ c.astype(W.dtype, copy=False)
                if layer.bias is not None:
                    c += np.abs(to_numpy(layer.bias.data))
            else:
                c = _unit_bound(layer, c)
            if not (c < limit).all():  # NaN too
                return math.inf
    return float(c.max()) if c.size else 0.0


def _chain(model):
    """The layers of a plain ``Sequential`` (nested ones flattened), or None."""
    if not (isinstance(model, Sequential) and type(model).forward is Sequential.forward):
        return None
    out = []
    for layer in model.layers:
        if "forward" in vars(layer):  # wrapped (e.g. by a diagnostics probe): unknown
            return None
        if isinstance(layer, Sequential):
            inner = _chain(layer)
            if inner is None:
                return None
            out.extend(inner)
        elif (isinstance(layer, Linear) and type(layer).forward is Linear.forward) or type(layer) in UNITS.values():
            out.append(layer)
        else:
            return None
    return out


def _unit_bound(unit, c: np.ndarray) -> np.ndarray:
    """``max(|g(-c)|, |g(0)|, |g(c)|)`` per unit, through the unit's array kernel when it has one."""
    probe = np.stack([-c, np.zeros_like(c), c])
    kernel = unit._kernel() if type(unit).__dict__.get("_chain") == "unit" else None
    if kernel is not None:
        out = kernel.forward(probe)
    elif type(unit).__dict__.get("_chain") == "skip":
        out = probe
    else:
        was = unit.training
        unit.training = False
        try:
            with no_grad():
                out = unit(Tensor(probe)).data
        finally:
            unit.training = was
    return np.abs(out).max(axis=0)
