"""``Module`` and ``Parameter``: the containers every layer builds on (L-ARCH-1).

A module finds its parameters by walking its attributes (parameters,
sub-modules, and lists/tuples of sub-modules), in the order they were set,
like PyTorch and equinox.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import numpy as np

from ..backend.registry import device_of, to_device
from ..functional.chain import linear_chain
from ..functional.losses import _unwrap
from ..tensor import _XP, Tensor

__all__ = ["Parameter", "Module", "Sequential", "eval_mode"]


class Parameter(Tensor):
    """A tensor that is a learnable weight: ``requires_grad=True`` and found by ``Module.parameters()``.

    ``fold``: a learning rate while a plain SGD step is folded into the backward pass (the layer
    chain then updates the weight in place from its gradient product instead of setting
    ``.grad``; :meth:`feedforward.optim.SGD.folded`), else ``None``.
    """

    __slots__ = ("fold",)

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        self.fold = None
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter data must be floating point, got dtype {self.data.dtype}")

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and networks.

    Subclasses set parameters and sub-modules as attributes in ``__init__``
    and define ``forward``. ``self.training`` is per-module state (switched
    with :meth:`train` / :meth:`eval`), not a global flag.
    """

    training: bool = True
    # Whether forward() computes differently in training and evaluation (dropout-like
    # randomness, RReLU). The trainer flips train/eval flags only when some module says so.
    # True unless a class declares otherwise: a custom module is assumed to read self.training.
    mode_dependent: bool = True
    # How a Sequential may run this module inside one fused graph node
    # (feedforward.functional.chain): "affine" (Linear), "unit" (a hidden unit whose
    # ``_kernel()`` gives array kernels), "skip" (the identity), or None: layer by layer.
    # Read from the class's own __dict__, so a subclass that changes forward() is never fused.
    _chain = None

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ the walk
    def named_children(self):
        """``(name, module)`` for each direct sub-module, lists flattened as ``name.i``."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = ""):
        """This module and every descendant, depth first, with dotted names."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = ""):
        """``(dotted name, Parameter)`` for every parameter, each shared one once."""
        seen = set()
        for mname, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{mname}.{name}" if mname else name), value

    def parameters(self) -> list:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """Connections plus biases (L-ARCH-2)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------ devices
    def to(self, device) -> "Module":
        """Move every parameter (and its gradient) to ``device``, in place; returns ``self``.

        ``net.to("cuda")`` / ``net.to("cpu")`` as in PyTorch: the :class:`Parameter` objects stay
        the same (an optimizer built before keeps working), only their arrays move. Tensors held
        as plain attributes (buffers) move too. Nothing is copied for a parameter already there.
        """
        seen = set()
        for module in self.modules():
            for value in vars(module).values():
                if isinstance(value, Tensor) and id(value) not in seen:
                    seen.add(id(value))
                    value.data = to_device(value.data, device)
                    if value.grad is not None:
                        value.grad = to_device(value.grad, device)
        return self

    @property
    def device(self):
        """The device of the first parameter (``device('cpu')``, ``device('cuda:0')``), None without parameters."""
        for _, p in self.named_parameters():
            return device_of(p.data)
        return None

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode (RReLU samples its slopes); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode (RReLU uses its mean slope); returns self."""
        return self.train(False)

    # -------------------------------------------------------- state dicts
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter's array, by dotted name."""
        return OrderedDict((n, p.data.copy()) for n, p in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters, checking names, shapes and finiteness.

        Raises ``KeyError`` for missing/unexpected names (when ``strict``) and
        ``ValueError`` for a wrong shape; nothing is changed unless all checks pass.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        staged = []
        for name, p in params.items():
            if name not in state:
                continue
            value = _unwrap(state[name])
            if type(value) not in _XP:  # lists, numbers: arrays of any device are taken as they are
                value = np.asarray(value)
            if value.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {value.shape} in the state dict, "
                    f"but the model's parameter has shape {p.shape}"
                )
            if value.dtype.kind not in "iuf":
                raise TypeError(f"load_state_dict: {name!r} has non-numeric dtype {value.dtype}")
            staged.append((p, value))
        for p, value in staged:
            # A fresh array on the parameter's own device: never alias the caller's.
            value = to_device(value, device_of(p.data))
            p.data = _XP[type(value)].array(value, dtype=p.data.dtype, copy=True)

    # -------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for name, m in kids:
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"

    def summary(self, input_shape=None, file=None) -> str:
        """Print and return a table of layers, output shapes and parameter counts (L-ARCH-2)."""
        from .summary import summary

        return summary(self, input_shape=input_shape, file=file)


class Sequential(Module):
    """A chain of modules, ``h(k) = f_k(h(k-1))``: the network's depth is its length (L-ARCH-1)."""

    mode_dependent = False  # its children say for themselves

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, expected a Module")
        self.layers = list(layers)

    def forward(self, x):
        plan = self._chain_plan()
        if plan is not None:
            # The same numbers as the loop below, as one graph node (see functional/chain.py).
            return linear_chain(_as_input(x, plan[0][0]), plan)
        for layer in self.layers:
            x = layer(x)
        return x

    def _chain_plan(self):
        """``[(weight, bias, unit kernel), ...]`` when every layer can run fused, else None."""
        plan = []
        for m in self.layers:
            role = type(m).__dict__.get("_chain")
            if role is None or "forward" in m.__dict__:  # e.g. a diagnostics probe wraps forward
                return None
            if role == "affine":
                plan.append([m.weight, m.bias, None])
            elif role == "unit":
                kernel = m._kernel()
                if kernel is None or not plan or plan[-1][2] is not None:
                    return None  # a unit must follow an affine layer directly
                plan[-1][2] = kernel
        return plan or None

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(self.layers[i])
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def append(self, layer: Module) -> "Sequential":
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(layer).__name__}")
        self.layers.append(layer)
        return self


def _as_input(x, weight):
    """What ``Linear.forward`` does to its input: data (not a graph node) is brought to the
    layer's dtype, as Keras does, so float64 arrays do not make the network float64.

    The device is not changed: data on another device than the layer is refused by the layer,
    naming both (move it with ``Tensor.to``; the estimators and ``ff.fit`` move it once)."""
    if getattr(x, "requires_grad", False):
        return x
    data = x.data if isinstance(x, Tensor) else x if type(x) in _XP else np.asarray(x)
    if data.dtype != weight.data.dtype:
        if data.dtype.kind not in "iufb":
            raise TypeError(f"Linear: input must be numeric, got dtype {data.dtype}")
        return Tensor(data.astype(weight.data.dtype))
    return x


@contextlib.contextmanager
def eval_mode(module: Module):
    """Run a block in evaluation mode (RReLU at its mean slope), then restore every module's own mode."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode
