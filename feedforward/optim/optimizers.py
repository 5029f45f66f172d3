"""Optimizers: the update ``w <- w - eta * direction`` with its variants (L-SGD-7).

Every optimizer keeps a reference to the parameters it was built on and, on
:meth:`Optimizer.step`, reads each ``p.grad`` (never writing to it: a
gradient array may be shared with the caller) and updates ``p.data`` **in
place**, so arrays held elsewhere (a view, a buffer the training loop reuses)
see the new weights and nothing is reallocated.

The update itself is a kernel of the parameter's backend, called once per group of parameters of
one backend, dtype and device (``backend_of(p.data).kernels.sgd_group_`` / ``adam_group_``,
:mod:`feedforward.backend.updates`): one pass per parameter on the CPU, one fused kernel for the
whole group on a GPU. The state (momentum buffers, moments) lives on the parameter's device and
follows the parameter when it moves (``model.to("cuda")`` between steps).

Notation: the lecture's ``eta`` is the learning rate ``lr``. The lecture's
backprop slide calls ``eta`` "weight decay"; that is an erratum. Weight decay
is the L2 penalty ``(lambda / 2) ||w||^2`` added to the loss, whose gradient
``lambda w`` is added to every parameter's gradient (``weight_decay=lambda``).
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np

from .._validation import Bool, Int, Real
from ..backend import backend_of, device_of, to_device, to_numpy
from ..backend.updates import _WORK_MIN as _INLINE  # below it the reference updates a parameter inline
from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]

_POSITIVE = Real(0, low_open=True)  # lr
_NON_NEGATIVE = Real(0)  # weight_decay, eps
_DECAY_RATE = Real(0, 1, high_open=True)  # momentum, dampening, betas: in [0, 1)
_COUNT = Int(0)  # step counts in a state dict


class Optimizer:
    """Base class: holds the parameters, their per-parameter state and ``lr``.

    Parameters
    ----------
    params : iterable of Tensor
        The tensors to update, typically ``model.parameters()``. Each must be a
        floating-point tensor with ``requires_grad=True``; duplicates are an error.
    lr : float
        Learning rate ``eta > 0``.

    Attributes
    ----------
    params : list of Tensor
    state : list of dict
        Per-parameter buffers (``state[i]`` belongs to ``params[i]``), arrays
        of the parameter's shape and dtype.
    step_count : int
        Number of :meth:`step` calls so far.
    """

    #: Hyper-parameter names saved by :meth:`state_dict` (besides ``lr``).
    _hyper: tuple = ()
    #: Whether :meth:`step` can be captured once and replayed (a CUDA graph, ``ff.fit(capture=)``):
    #: nothing it reads from the host may change between steps except ``lr``, on which the loop
    #: captures again. Adam's step count does change: it is capturable only with ``capturable=True``.
    capturable: bool = True

    def __init__(self, params, lr: float):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of tensors (e.g. model.parameters()), got one Tensor")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list: the model has no parameters to train")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}] is a {type(p).__name__}, expected a Tensor / Parameter")
            if not p.requires_grad or p.data.dtype.kind != "f":
                raise ValueError(f"params[{i}] must be a floating-point tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"params[{i}] appears twice in the parameter list")
            seen.add(id(p))
        self.params = params
        self.lr = lr
        self.state = [{} for _ in params]
        self.step_count = 0

    @property
    def lr(self) -> float:
        """The learning rate ``eta`` (a schedule may change it between steps)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _POSITIVE(value, "lr (learning rate)")

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``p.grad = None``; the next backward writes a fresh one)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update from the current ``p.grad`` (parameters without a gradient are skipped)."""
        raise NotImplementedError

    def _replayed(self) -> None:
        """The host bookkeeping of a step that ran as a replay of a captured one (no Python ran)."""
        self.step_count += 1
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                for name in getattr(self, "_counters", ()):
                    if name in state:
                        state[name] += 1

    def reset(self) -> None:
        """Forget the accumulated state (momentum buffers, moments, step count)."""
        self.state = [{} for _ in self.params]
        self.step_count = 0

    # -------------------------------------------------------- state dicts
    def hyperparameters(self) -> dict:
        """``lr`` and the other hyper-parameters as plain Python values."""
        out = {"lr": self.lr}
        for name in self._hyper:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def state_dict(self) -> dict:
        """A copy of everything :meth:`step` depends on.

        ``{"type": class name, "hyper": {...}, "step_count": int,
        "state": [{buffer name: array copy}, ...]}`` (one dict per parameter). The buffers are
        NumPy copies whatever the device (a state dict is written to files);
        :meth:`load_state_dict` puts them back on the parameters' device.
        """
        return {
            "type": type(self).__name__,
            "hyper": self.hyperparameters(),
            "step_count": self.step_count,
            "state": [
                {k: (v if isinstance(v, int) else np.array(to_numpy(v), copy=True)) for k, v in s.items()
                 if k != "device_step"}  # the device copy of "step" (capturable Adam)
                for s in self.state
            ],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict`, checking the type, parameter count, shapes and dtypes."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = {"type", "hyper", "step_count", "state"} - set(state_dict)
        if missing:
            raise ValueError(f"optimizer state_dict is missing {sorted(missing)}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(
                f"optimizer state_dict is for {state_dict['type']}, this optimizer is {type(self).__name__}"
            )
        states = state_dict["state"]
        if not isinstance(states, (list, tuple)) or len(states) != len(self.params):
            n = len(states) if isinstance(states, (list, tuple)) else type(states).__name__
            raise ValueError(
                f"optimizer state_dict has state for {n} parameters, this optimizer has {len(self.params)}"
            )
        step_count = _COUNT(state_dict["step_count"], "optimizer state_dict: step_count")
        hyper = state_dict["hyper"]
        if not isinstance(hyper, dict):
            raise TypeError(f"optimizer state_dict: hyper must be a dict, got {type(hyper).__name__}")
        unknown = set(hyper) - {"lr", *self._hyper}
        if unknown:
            raise ValueError(
                f"optimizer state_dict: unknown hyper-parameter(s) {sorted(unknown)} for {type(self).__name__}; "
                f"expected {sorted({'lr', *self._hyper})}"
            )
        staged = []
        for i, (p, s) in enumerate(zip(self.params, states)):
            if not isinstance(s, dict):
                raise ValueError(f"optimizer state_dict: state[{i}] must be a dict, got {type(s).__name__}")
            new = {}
            for name, value in s.items():
                if name in self._counters:
                    new[name] = _COUNT(value, f"optimizer state_dict: state[{i}][{name!r}]")
                    continue
                if name not in self._buffers:
                    raise ValueError(
                        f"optimizer state_dict: unknown buffer {name!r} for {type(self).__name__}"
                    )
                arr = _host(value)
                if arr.shape != p.shape or arr.dtype != p.dtype:
                    raise ValueError(
                        f"optimizer state_dict: state[{i}][{name!r}] has shape {arr.shape} "
                        f"and dtype {arr.dtype}, "
                        f"expected the parameter's {p.shape} and {p.dtype}"
                    )
                new[name] = to_device(arr.copy(), device_of(p.data))
            staged.append(new)
        # Set and check the hyper-parameters together; a bad one leaves the optimizer as it was.
        before = {name: getattr(self, name) for name in ("lr",) + self._hyper}
        try:
            for name, value in hyper.items():
                setattr(self, name, tuple(value) if isinstance(value, list) else value)
            self._validate()
        except (TypeError, ValueError):
            for name, value in before.items():
                setattr(self, name, value)
            raise
        self.state = staged
        self.step_count = int(step_count)

    #: Names of per-parameter arrays (shape and dtype of the parameter) and of integer counters.
    _buffers: tuple = ()
    _counters: tuple = ()

    def _validate(self) -> None:
        """Check the hyper-parameters (subclasses)."""

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

    The update, per parameter ``w`` with gradient ``g`` (exactly ``torch.optim.SGD``)::

        g <- g + weight_decay * w                 (the L2 penalty's gradient)
        b <- g                                     at the first step, then
        b <- momentum * b + (1 - dampening) * g    (the velocity)
        d <- g + momentum * b   if nesterov  else  b      (d = g when momentum = 0)
        w <- w - lr * d

    Parameters
    ----------
    params : iterable of Tensor
        Usually ``model.parameters()``.
    lr : float
        The learning rate, the lecture's ``eta`` (step size). The lecture's
        backprop example calls ``eta`` "weight decay": that is an erratum.
    momentum : float
        ``mu`` in ``[0, 1)``; 0 is plain gradient descent ``w <- w - eta g``.
    nesterov : bool
        Nesterov's accelerated gradient (needs ``momentum > 0`` and ``dampening = 0``).
    weight_decay : float
        The L2 penalty coefficient ``lambda``: minimises ``J(w) + lambda/2 ||w||^2``
        (applied to every parameter, biases included, as PyTorch does).
    dampening : float
        Scales the new gradient in the velocity (PyTorch's option; default 0).

    Examples
    --------
    >>> import feedforward as ff
    >>> net = ff.nn.MLP([2, 3, 1], rng=0)
    >>> opt = ff.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    >>> loss = (net(ff.Tensor([[1.0, 2.0]])) ** 2).sum()
    >>> opt.zero_grad(); loss.backward(); opt.step()
    >>> opt.step_count
    1
    """

    _hyper = ("momentum", "dampening", "nesterov", "weight_decay")
    _buffers = ("momentum_buffer",)

    def __init__(
        self,
        params,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ):
        super().__init__(params, lr)
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.dampening = dampening
        self._validate()

    def _validate(self) -> None:
        self.momentum = _DECAY_RATE(self.momentum, "momentum")
        self.dampening = _DECAY_RATE(self.dampening, "dampening")
        self.weight_decay = _NON_NEGATIVE(self.weight_decay, "weight_decay")
        self.nesterov = Bool()(self.nesterov, "nesterov")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")

    @property
    def foldable(self) -> bool:
        """Whether a step is plain ``w <- w - lr g`` (no momentum, no weight decay), which the
        backward pass can apply itself (:meth:`folded`)."""
        return self.momentum == 0 and self.weight_decay == 0

    @contextlib.contextmanager
    def folded(self):
        """Inside, a backward pass through the layer chain applies this (plain) step itself, folded
        into each weight's gradient product: ``W <- W - lr h^T G`` as one product with ``beta = 1``
        (L-DEV-2), and leaves those parameters' ``.grad`` unset, so :meth:`step` skips them.
        Parameters outside a chain keep their gradient and take the step in :meth:`step`."""
        if not self.foldable:
            raise ValueError("SGD.folded(): only a plain step (momentum=0, weight_decay=0) can be folded")
        lr = self.lr
        marked = []
        try:
            for p in self.params:
                if hasattr(type(p), "fold"):  # a Parameter
                    p.fold = lr
                    marked.append(p)
            yield self
        finally:
            for p in marked:
                p.fold = None

    def step(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        kind = kernels = None
        for p, state in zip(self.params, self.state):
            g = p.grad
            if g is None:
                continue
            w = p.data
            if type(w) is not kind:  # the parameters share one backend: looked up once per step
                first = kind is None
                kind, kernels = type(w), backend_of(w).kernels
                if first and kernels.fuses_groups:  # one launch per group (CUDA), before any update
                    self._step_groups(lr, mu, wd)
                    return
            # Elsewhere one update call per parameter: the cheapest for a small network, whose
            # whole step takes a few tens of microseconds.
            if mu == 0:
                if not wd and kind is np.ndarray and w.size < _INLINE:
                    # A small NumPy parameter's plain step, the reference kernel's own arithmetic:
                    # here the call into the kernels would cost as much as the update.
                    w -= lr * g
                elif wd:
                    kernels.sgd_(w, g, lr, weight_decay=wd)
                else:
                    kernels.sgd_(w, g, lr)
                continue
            buf = state.get("momentum_buffer")
            if buf is not None:
                buf = _follow(buf, w)
            state["momentum_buffer"] = kernels.sgd_(w, g, lr, momentum=mu, buf=buf, weight_decay=wd,
                                                    nesterov=self.nesterov, dampening=self.dampening)
        self.step_count += 1

    def _step_groups(self, lr, mu, wd) -> None:
        if mu == 0:  # no state to read or keep
            for kernels, ws, gs, _ in _groups(self.params, None):
                if wd:
                    kernels.sgd_group_(ws, gs, lr, weight_decay=wd)
                else:
                    kernels.sgd_group_(ws, gs, lr)
            self.step_count += 1
            return
        for kernels, ws, gs, states in _groups(self.params, self.state):
            bufs = []
            for w, state in zip(ws, states):
                buf = state.get("momentum_buffer")
                bufs.append(None if buf is None else _follow(buf, w))
            bufs = kernels.sgd_group_(ws, gs, lr, momentum=mu, bufs=bufs, weight_decay=wd,
                                      nesterov=self.nesterov, dampening=self.dampening)
            for state, buf in zip(states, bufs):
                state["momentum_buffer"] = buf
        self.step_count += 1


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, exactly as ``torch.optim.Adam``.

    Per parameter ``w`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g <- g + weight_decay * w                  (L2 penalty; AdamW instead decays w directly)
        m <- beta1 m + (1 - beta1) g               (first moment)
        v <- beta2 v + (1 - beta2) g^2             (second moment)
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)     (bias correction)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Step size ``eta`` (default 1e-3).
    betas : (float, float)
        Decay rates of the moment estimates, each in ``[0, 1)``.
    eps : float
        Added to ``sqrt(v_hat)`` for numerical stability.
    weight_decay : float
        L2 penalty coefficient ``lambda`` (gradient ``lambda w`` added to ``g``).
    decoupled : bool
        If True, decay the weights directly, ``w <- w (1 - lr lambda)``, before the
        Adam step (AdamW, ``torch.optim.AdamW``) instead of adding the L2 gradient.
    capturable : bool
        Keep each parameter's step count ``t`` on its device as well, advanced there, so a step
        captured as a CUDA graph replays with the current ``t`` (as ``torch.optim.Adam(capturable=True)``).
        ``ff.fit`` turns it on where it captures; on the CPU it changes nothing.
    """

    _hyper = ("betas", "eps", "weight_decay", "decoupled")
    _buffers = ("exp_avg", "exp_avg_sq")
    _counters = ("step",)  # per parameter, as PyTorch: a parameter without a gradient does not advance

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        capturable: bool = False,
    ):
        super().__init__(params, lr)
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.decoupled = decoupled
        self.capturable = capturable
        self._validate()

    def _validate(self) -> None:
        betas = self.betas
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        self.betas = (_DECAY_RATE(betas[0], "betas[0]"), _DECAY_RATE(betas[1], "betas[1]"))
        self.eps = _NON_NEGATIVE(self.eps, "eps")
        self.weight_decay = _NON_NEGATIVE(self.weight_decay, "weight_decay")
        self.decoupled = Bool()(self.decoupled, "decoupled")
        self.capturable = Bool()(self.capturable, "capturable")

    def step(self) -> None:
        lr, wd, eps, decoupled = self.lr, self.weight_decay, self.eps, self.decoupled
        beta1, beta2 = self.betas
        self.step_count += 1
        for kernels, ws, gs, states in _groups(self.params, self.state):
            ms, vs, steps = [], [], []
            for w, state in zip(ws, states):
                if "exp_avg" not in state:
                    xp = kernels.xp
                    state["exp_avg"] = xp.zeros_like(w)
                    state["exp_avg_sq"] = xp.zeros_like(w)
                    state["step"] = 0
                ms.append(_follow(state["exp_avg"], w))
                vs.append(_follow(state["exp_avg_sq"], w))
                state["exp_avg"], state["exp_avg_sq"] = ms[-1], vs[-1]
                state["step"] += 1
                t = state["step"]
                if self.capturable and type(w) is not np.ndarray:
                    t = state.get("device_step")
                    if t is None or type(t) is not type(w):
                        t = state["device_step"] = kernels.xp.asarray([state["step"] - 1], dtype=np.int64)
                    t += 1  # on the device: a replayed graph advances it too
                steps.append(t)
            kernels.adam_group_(ws, gs, ms, vs, lr=lr, beta1=beta1, beta2=beta2, eps=eps, steps=steps,
                                weight_decay=wd, decoupled=decoupled)


def _groups(params, states):
    """The parameters that have a gradient, as ``(kernels, arrays, gradients, states)`` per group
    of one backend, dtype and device: each group is one call of the backend's ``*_group_`` update
    (one kernel launch per group on a GPU, as PyTorch's fused optimizers). Parameters keep their
    order within a group; groups come in the order of their first parameter. ``states`` None:
    the groups' state lists stay empty."""
    # NOTE: this runs on every step, and a small network's step is a few microseconds: no key is
    # built or hashed per parameter. NumPy parameters of the current group's dtype (almost always
    # all of them) take one identity test; anything else searches the groups made so far.
    groups = []
    host_dtype = None  # the current group's dtype when it holds NumPy arrays
    for p, state in zip(params, itertools.repeat(None) if states is None else states):
        g = p.grad
        if g is None:
            continue
        w = p.data
        if w.dtype is not host_dtype or type(w) is not np.ndarray:
            _, ws, gs, sts = _group_of(w, groups)
            host_dtype = w.dtype if type(w) is np.ndarray else None
        ws.append(w)
        gs.append(g)
        if states is not None:
            sts.append(state)
    return groups


def _group_of(w, groups: list) -> tuple:
    """The group of ``groups`` that array ``w`` belongs to (same type, dtype and device), appended
    to ``groups`` when there is none yet."""
    for group in groups:
        first = group[1][0]
        if type(first) is type(w) and first.dtype == w.dtype and \
                (type(w) is np.ndarray or device_of(first) == device_of(w)):
            return group
    group = (backend_of(w).kernels, [], [], [])
    groups.append(group)
    return group


def _follow(buf, w):
    """``buf`` on ``w``'s device: a parameter moved between steps (``model.to``) takes its state along."""
    if type(buf) is type(w) and (type(w) is np.ndarray or device_of(buf) == device_of(w)):
        return buf
    return to_device(buf, device_of(w))


def _host(value) -> np.ndarray:
    """A state dict's buffer as a NumPy array (device arrays are copied to the host)."""
    if isinstance(value, (np.ndarray, np.generic, list, tuple, int, float)):
        return np.asarray(value)
    try:
        return to_numpy(value)
    except TypeError:
        return np.asarray(value)
