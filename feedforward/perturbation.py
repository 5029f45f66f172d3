"""Learning without backpropagation: the lecture's "first ideas" as baselines (L-BP-2).

The slides ("how to learn the weights?"):

* **perturb one weight** and see whether performance improves, keep the change
  (:func:`keep_if_better_sweep`); or measure the change precisely, one weight
  at a time, i.e. the **finite-difference** gradient
  (:func:`finite_difference_gradient`). Either way every weight costs at least
  one forward pass over the whole training set: ``O(#weights)`` passes per update.
* **perturb all weights at once** and correlate the change in performance with
  the change in the weights (**weight perturbation**,
  :func:`weight_perturbation_gradient`): each random direction costs two
  passes and tells only the slope along that direction, so a gradient estimate
  of comparable quality also needs ``O(#weights)`` directions.

Backpropagation gets the exact gradient for one forward and one backward pass.
:func:`train` runs any of the four on an ``ff.nn`` regression network
(loss ``1/2 mean ||y - f(x)||^2``, the Gaussian output unit's NLL) and counts
the forward passes.

``theta`` is a host (NumPy) vector whatever the model's device: the perturbation methods are
bookkeeping on the host; the forward passes run where the model is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import functional as F
from ._rng import as_rng
from ._validation import check_choice, check_int, check_real
from .autograd import no_grad
from .backend.registry import device_of, to_device, to_numpy
from .tensor import Tensor

__all__ = [
    "METHODS", "flat_parameters", "set_flat_parameters", "CountingLoss", "finite_difference_gradient",
    "weight_perturbation_gradient", "keep_if_better_sweep", "PerturbationResult", "train",
]

METHODS = ("backprop", "finite_differences", "weight_perturbation", "keep_if_better")


def flat_parameters(model) -> np.ndarray:
    """All parameters concatenated into one float64 vector ``theta`` (``model.parameters()`` order)."""
    return np.concatenate([to_numpy(p.data).astype(np.float64).ravel() for p in model.parameters()])


def set_flat_parameters(model, theta) -> None:
    """Write the vector ``theta`` back into the model's parameters (shapes and dtypes kept)."""
    theta = np.asarray(theta, dtype=np.float64)
    params = model.parameters()
    total = sum(p.size for p in params)
    if theta.shape != (total,):
        raise ValueError(f"theta must have shape ({total},) (one entry per weight), got {theta.shape}")
    start = 0
    for p in params:
        p.data = to_device(theta[start:start + p.size].reshape(p.shape).astype(p.dtype), device_of(p.data))
        start += p.size


def _loss_tensor(model, X, Y):
    out = model(X)
    k = out.shape[-1] if out.ndim > 1 else 1
    return F.mse_loss(out, Y) * (k / 2.0)  # 1/2 mean_n ||y - f(x)||^2


class CountingLoss:
    """``theta -> J(theta)``: one forward pass of ``model`` over all of ``(X, Y)``, counted in ``.passes``."""

    def __init__(self, model, X, Y):
        dtype = model.parameters()[0].dtype
        where = device_of(model.parameters()[0].data)
        self.model = model
        self.X = Tensor(np.asarray(X, dtype=dtype), device=where)
        self.Y = to_device(np.asarray(Y, dtype=dtype).reshape(len(X), -1), where)
        self.passes = 0

    def __call__(self, theta) -> float:
        set_flat_parameters(self.model, theta)
        self.passes += 1
        with no_grad():
            return float(_loss_tensor(self.model, self.X, self.Y).item())


def finite_difference_gradient(loss_fn, theta, eps: float, base: float | None = None):
    """Perturb one weight at a time: ``g_i = (J(theta + eps e_i) - J(theta)) / eps``.

    Costs one forward pass per weight (plus one for ``J(theta)`` if ``base`` is not given).
    Returns ``(g, J(theta))``.
    """
    theta = np.asarray(theta, dtype=np.float64)
    base = loss_fn(theta) if base is None else base
    g = np.empty_like(theta)
    for i in range(theta.size):
        step = theta.copy()
        step[i] += eps
        g[i] = (loss_fn(step) - base) / eps
    return g, base


def weight_perturbation_gradient(loss_fn, theta, eps: float, n_directions: int, rng):
    """Perturb all weights at once along random ``+-1`` directions ``u`` and correlate:
    ``g = mean_u [(J(theta + eps u) - J(theta - eps u)) / (2 eps)] u``.

    Unbiased to first order (``E[u u^T] = I``); two forward passes per direction.
    """
    theta = np.asarray(theta, dtype=np.float64)
    rng = as_rng(rng)
    g = np.zeros_like(theta)
    for _ in range(n_directions):
        u = rng.choice((-1.0, 1.0), size=theta.size)
        slope = (loss_fn(theta + eps * u) - loss_fn(theta - eps * u)) / (2 * eps)
        g += slope * u
    return g / n_directions


def keep_if_better_sweep(loss_fn, theta, base: float, step: float, rng):
    """The slides' first idea, literally: for each weight in random order, perturb it by
    ``step * N(0, 1)`` and keep the change if the loss went down. One pass per weight.
    Returns ``(theta, J(theta))``."""
    theta = np.array(theta, dtype=np.float64)
    rng = as_rng(rng)
    for i in rng.permutation(theta.size):
        trial = theta.copy()
        trial[i] += step * rng.standard_normal()
        value = loss_fn(trial)
        if value < base:
            theta, base = trial, value
    return theta, base


@dataclass
class PerturbationResult:
    """What :func:`train` measured.

    ``losses[t]`` is ``J`` after ``t`` updates (``losses[0]`` at the start);
    ``forward_passes[t]`` the passes over the training set used by then;
    ``passes_per_update`` the forward passes one update costs (backprop also does one backward);
    ``seconds`` the wall time of the updates (recording ``losses`` excluded).
    """

    method: str
    n_weights: int
    losses: list = field(default_factory=list)
    forward_passes: list = field(default_factory=list)
    passes_per_update: int = 0
    seconds: float = 0.0


def train(model, X, Y, method: str = "finite_differences", *, lr: float = 0.1, n_updates: int = 100,
          eps: float | None = None, n_directions: int | None = None, step: float = 0.05,
          rng=None) -> PerturbationResult:
    """Train ``model`` (in place) on ``(X, Y)`` with backprop or one of the perturbation methods.

    Parameters
    ----------
    model : ff.nn.Module
        A regression network; its parameters are updated in place.
    X : array, shape (n, d)
    Y : array, shape (n, K) or (n,)
    method : str
        ``"backprop"``, ``"finite_differences"``, ``"weight_perturbation"`` or ``"keep_if_better"``.
    lr : float
        Gradient-descent step ``eta`` (not used by ``keep_if_better``).
    n_updates : int
        Updates to make; an update of ``keep_if_better`` is one sweep over all weights.
    eps : float, optional
        Perturbation size; default ``1e-6`` for float64 models, ``1e-3`` for float32.
    n_directions : int, optional
        Random directions per weight-perturbation update; default: the number of weights.
    step : float
        Standard deviation of a ``keep_if_better`` trial change.
    rng : int, Generator or None
        Randomness of the perturbation methods.
    """
    method = check_choice(method, "method", METHODS)
    n_updates = check_int(n_updates, "n_updates", low=0)
    lr = check_real(lr, "lr", 0, low_open=True)
    eps = check_real(eps, "eps", 0, low_open=True, none=True)
    n_directions = check_int(n_directions, "n_directions", low=1, none=True)
    step = check_real(step, "step", 0, low_open=True)
    rng = as_rng(rng)
    J = CountingLoss(model, X, Y)
    theta = flat_parameters(model)
    P = theta.size
    if eps is None:
        eps = 1e-6 if model.parameters()[0].dtype == np.float64 else 1e-3
    if n_directions is None:
        n_directions = P
    per_update = {"backprop": 1, "finite_differences": P + 1, "weight_perturbation": 2 * n_directions,
                  "keep_if_better": P}[method]
    result = PerturbationResult(method, P, passes_per_update=per_update)
    base = J(theta)
    result.losses.append(base)
    result.forward_passes.append(0)  # the starting loss is bookkeeping, not part of learning
    J.passes = 0
    for _ in range(n_updates):
        start = time.perf_counter()
        if method == "backprop":
            set_flat_parameters(model, theta)
            model.zero_grad()
            loss = _loss_tensor(model, J.X, J.Y)
            J.passes += 1
            loss.backward()
            grad = np.concatenate([to_numpy(p.grad).astype(np.float64).ravel() for p in model.parameters()])
            theta = theta - lr * grad
        elif method == "finite_differences":
            grad, _ = finite_difference_gradient(J, theta, eps)  # J(theta) is one of its P + 1 passes
            theta = theta - lr * grad
        elif method == "weight_perturbation":
            theta = theta - lr * weight_perturbation_gradient(J, theta, eps, n_directions, rng)
        else:
            theta, base = keep_if_better_sweep(J, theta, base, step, rng)
        result.seconds += time.perf_counter() - start
        passes = J.passes
        # the loss after the update, for the record (not counted: it is not needed to learn)
        result.losses.append(base if method == "keep_if_better" else J(theta))
        J.passes = passes
        result.forward_passes.append(passes)
    set_flat_parameters(model, theta)
    return result
