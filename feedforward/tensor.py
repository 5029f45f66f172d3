"""``Tensor``: an n-d NumPy array that records how it was computed (L-AD-1).

Each primitive op below computes its forward value and defines its gradient
rule right beside it, as a closure ``backward(g) -> (grad_parent_0, ...)``
that receives the gradient of the loss with respect to the op's output
(same shape as the output) and returns one gradient per parent (or ``None``
when that parent needs none). :mod:`feedforward.autograd` does the rest.

Composite functions (activations, losses) live in :mod:`feedforward.functional`.

Dtypes: Python numbers and lists become float32 (the default, for speed);
float arrays keep their dtype, so float64 stays float64 (gradient
checks need it); integer and bool arrays keep their dtype (labels,
masks) but cannot require a gradient.

Devices: ``.data`` is an array of a backend (:mod:`feedforward.backend`): a NumPy array on
``"cpu"``, a CuPy array on ``"cuda"``. Every op computes with the module of its operands'
arrays (``xp``), so one code path serves both; operands must share a device, as in PyTorch.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import autograd
from .autograd import unbroadcast
from .backend import registry as _registry
from .backend.device import Device

__all__ = [
    "Tensor", "tensor", "as_tensor", "DEFAULT_DTYPE",
    "exp", "log", "abs", "maximum", "minimum", "where", "clip",
    "concatenate", "stack", "matmul",
]

DEFAULT_DTYPE = np.float32
_new = object.__new__
_grad_mode = autograd._mode  # thread-local; read directly in the hot path
_XP = _registry._XP  # array type -> array module


def _ns(a):
    """The array module of ``a`` (NumPy, CuPy, ...)."""
    return _XP.get(type(a)) or _registry.array_namespace(a)


def _to_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if type(data) is not np.ndarray and type(data) in _XP:  # another backend's array: keep it there
        if dtype is not None:
            return data.astype(dtype, copy=False)
        kind = data.dtype.kind
        if kind == "f" and data.dtype.itemsize < 4:
            return data.astype(DEFAULT_DTYPE)
        if kind in "fiub":
            return data
        raise TypeError(f"Tensor: unsupported array dtype {data.dtype}; expected a float, int or bool array.")
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "f" and data.dtype.itemsize >= 4:
            return data
        if data.dtype.kind == "f":  # float16: compute in float32
            return data.astype(DEFAULT_DTYPE)
        if data.dtype.kind in "iub":
            return data
        raise TypeError(f"Tensor: unsupported array dtype {data.dtype}; expected a float, int or bool array.")
    if isinstance(data, np.generic):
        return _to_array(np.asarray(data))
    arr = np.asarray(data)
    if arr.dtype.kind in "iufb":
        return arr.astype(DEFAULT_DTYPE)
    raise TypeError(
        f"Tensor: cannot make a tensor from {type(data).__name__} "
        f"(NumPy dtype {arr.dtype}); expected numbers, nested lists of numbers or an array."
    )


def _axis_tuple(axis, ndim: int):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral):
        axis = (int(axis),)
    out = []
    for a in axis:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    return tuple(out)


class Tensor:
    """An n-d array with reverse-mode autodiff.

    Parameters
    ----------
    data : array_like
        Numbers, nested lists, a NumPy array or an array of another backend (CuPy).
    requires_grad : bool
        Record operations on this tensor so that ``backward()`` fills ``.grad``.
    dtype : numpy dtype, optional
        Force a dtype (e.g. ``np.float64`` for gradient checks).
    device : str or Device, optional
        Put the data there (``"cpu"``, ``"cuda"``, ``"cuda:1"``); by default it stays where it is.

    Examples
    --------
    >>> import feedforward as ff
    >>> x = ff.Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.]], dtype=float32)
    """

    __slots__ = (
        "data", "grad", "requires_grad", "_parents", "_backward", "_op", "_retains_grad", "__weakref__",
        # Backward-pass bookkeeping on the node itself (no id()-keyed set and dict per pass):
        # the number of the last pass that reached it, and its gradient gathered so far.
        "_mark", "_pending",
    )
    # Make NumPy defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None):
        self.data = _to_array(data, dtype)
        if device is not None:
            self.data = _registry.to_device(self.data, device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require a gradient; got dtype {self.data.dtype}. "
                "Pass float data or dtype=np.float32."
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""
        self._retains_grad = False
        self._mark = 0

    def __setstate__(self, state):
        # Pickles from before the backward bookkeeping slots: give them their default.
        self._mark = 0
        d, slots = state if isinstance(state, tuple) else (state, None)
        for mapping in (d, slots):
            for k, v in (mapping or {}).items():
                setattr(self, k, v)

    # ------------------------------------------------------------------ graph
    @classmethod
    def _make(cls, data: np.ndarray, parents: tuple, backward, op: str) -> "Tensor":
        """Wrap an op's result; record the graph edge only if a parent needs a gradient."""
        # Every op goes through here, so its fixed cost is paid many times per step: plain
        # attribute stores and a loop, no generator or function call.
        out = _new(cls)
        # A ufunc on 0-d arrays returns a NumPy scalar: keep .data an ndarray.
        out.data = data if type(data) is np.ndarray or type(data) in _XP else np.asarray(data)
        out.grad = None
        out._retains_grad = False
        out._op = op
        out._mark = 0
        if _grad_mode.enabled:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        return out

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients accumulate into ``leaf.grad`` (call ``zero_grad()`` between steps).
        A non-scalar tensor needs ``gradient``, the vector of the vector-Jacobian product.
        The graph is freed afterwards unless ``retain_graph=True``.
        """
        autograd.backward(self, gradient, retain_graph)

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor during backward (as in PyTorch)."""
        self._retains_grad = True
        return self

    # ------------------------------------------------------------- devices
    @property
    def device(self) -> Device:
        """Where ``.data`` lives: ``device('cpu')``, ``device('cuda:0')``."""
        return _registry.device_of(self.data)

    def to(self, device=None, dtype=None) -> "Tensor":
        """This tensor on ``device`` and/or as ``dtype`` (itself when nothing changes); gradients flow back."""
        a = self
        data = a.data if dtype is None else a.data.astype(dtype, copy=False)
        if device is not None:
            data = _registry.to_device(data, device)
        if data is a.data:
            return a
        home = a.device

        def backward(g):
            return (_registry.to_device(g, home, a.data.dtype),)

        return Tensor._make(data, (a,), backward, "to")

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> "Tensor":
        return self.to("cuda" if index is None else f"cuda:{index}")

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, like PyTorch)."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------ array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied); a tensor on a GPU must come to the CPU first."""
        if type(self.data) is not np.ndarray:
            if _registry.backend_of(self.data).type != "cpu":
                raise TypeError(f"can't convert a tensor on {self.device} to a NumPy array; use .cpu().numpy() "
                                "(an explicit copy to the host)")
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(_registry.to_numpy(self.data), separator=", ", prefix="Tensor(")
        extra = f", dtype={self.data.dtype}" if self.data.dtype != DEFAULT_DTYPE else ""
        dev = self.device
        where = f", device='{dev}'" if dev.type != "cpu" else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{extra}{where}{grad})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all() on .data"
            )
        return bool(self.data)

    __hash__ = object.__hash__  # identity, since == is elementwise

    # ---------------------------------------------------------- elementwise
    def __add__(self, other):
        other = _operand(other, self)
        a, b = self, other

        def backward(g):
            return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

        return Tensor._make(a.data + b.data, (a, b), backward, "add")

    def __radd__(self, other):
        return _operand(other, self).__add__(self)

    def __sub__(self, other):
        other = _operand(other, self)
        a, b = self, other

        def backward(g):
            return unbroadcast(g, a.shape), unbroadcast(-g, b.shape) if b.requires_grad else None

        return Tensor._make(a.data - b.data, (a, b), backward, "sub")

    def __rsub__(self, other):
        return _operand(other, self).__sub__(self)

    def __mul__(self, other):
        other = _operand(other, self)
        a, b = self, other

        def backward(g):
            ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
            gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(a.data * b.data, (a, b), backward, "mul")

    def __rmul__(self, other):
        return _operand(other, self).__mul__(self)

    def __truediv__(self, other):
        other = _operand(other, self)
        a, b = self, other
        out = a.data / b.data

        def backward(g):
            ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
            # d(a/b)/db = -a/b^2 = -out/b
            gb = unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(out, (a, b), backward, "div")

    def __rtruediv__(self, other):
        return _operand(other, self).__truediv__(self)

    def __neg__(self):
        def backward(g):
            return (-g,)

        return Tensor._make(-self.data, (self,), backward, "neg")

    def __pow__(self, exponent):
        a = self
        if isinstance(exponent, numbers.Number):
            p = exponent
            out = a.data ** p

            def backward(g):
                # p * x^(p-1); written without x**(p-1) when p == 2 to stay exact.
                # NOTE: p == 0 must give 0, not 0 * x^-1 = nan at x = 0 (as torch.pow).
                if p == 0:
                    return (_ns(g).zeros_like(g),)
                return (g * (2 * a.data if p == 2 else p * a.data ** (p - 1)),)

            return Tensor._make(out, (a,), backward, "pow")
        b = _operand(exponent, self)
        out = a.data ** b.data

        def backward_t(g):
            ga = gb = None
            # Same conventions as torch.pow at the edges: the gradient w.r.t. the base
            # is 0 where b == 0, and w.r.t. the exponent 0 where a == 0 and b >= 0
            # (0^b is constant there); elsewhere NumPy's inf/nan pass through silently.
            xp = _ns(g)
            with np.errstate(divide="ignore", invalid="ignore"):
                if a.requires_grad:
                    ga = xp.where(b.data == 0, 0, g * b.data * a.data ** (b.data - 1))
                    ga = unbroadcast(ga, a.shape)
                if b.requires_grad:
                    # d(a^b)/db = a^b log a
                    gb = xp.where((a.data == 0) & (b.data >= 0), 0, g * out * xp.log(a.data))
                    gb = unbroadcast(gb, b.shape)
            return ga, gb

        return Tensor._make(out, (a, b), backward_t, "pow")

    def __rpow__(self, base):
        return _operand(base, self).__pow__(self)

    # ------------------------------------------------------------- matmul
    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_operand(other, self), self)

    # --------------------------------------------------------- comparisons
    # Comparisons give boolean masks: not differentiable, no graph.
    def _compare(self, other, name):
        other = _operand(other, self).data
        return Tensor(getattr(_ns(self.data), name)(self.data, other))

    def __lt__(self, other):
        return self._compare(other, "less")

    def __le__(self, other):
        return self._compare(other, "less_equal")

    def __gt__(self, other):
        return self._compare(other, "greater")

    def __ge__(self, other):
        return self._compare(other, "greater_equal")

    def __eq__(self, other):
        return self._compare(other, "equal")

    def __ne__(self, other):
        return self._compare(other, "not_equal")

    # ------------------------------------------------------------ indexing
    def __getitem__(self, index):
        a = self
        index = _index_data(index, a.data)
        out = a.data[index]
        basic = _is_basic_index(index)

        def backward(g):
            xp = _ns(g)
            ga = xp.zeros_like(a.data)
            if basic:
                ga[index] = g  # basic indexing selects each element at most once
            else:
                # Integer arrays may repeat an index (x[[0, 0]]): add, do not overwrite.
                xp.add.at(ga, index, g)
            return (ga,)

        return Tensor._make(out, (a,), backward, "getitem")

    def __setitem__(self, index, value):
        raise TypeError(
            "in-place assignment to a Tensor is not supported (it would corrupt arrays "
            "saved for backward); build a new tensor with ff.where or ff.concatenate, "
            "or assign to .data under no_grad if you know it is safe."
        )

    # ---------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False):
        """Sum over ``axis`` (all by default), like ``np.sum``."""
        a = self
        axes = _axis_tuple(axis, a.ndim)
        out = a.data.sum(axis=axes, keepdims=keepdims)

        def backward(g):
            xp = _ns(g)
            if not keepdims:
                g = xp.expand_dims(g, axes)
            return (xp.broadcast_to(g, a.shape),)

        return Tensor._make(out, (a,), backward, "sum")

    def mean(self, axis=None, keepdims: bool = False):
        """Mean over ``axis`` (all by default), like ``np.mean``."""
        axes = _axis_tuple(axis, self.ndim)
        count = 1
        for ax in axes:
            count *= self.shape[ax]
        if count == 0:
            raise ValueError(f"mean of an empty selection (shape {self.shape}, axis {axis})")
        return self.sum(axis=axes, keepdims=keepdims) * (1.0 / count)

    def _extremum(self, axis, keepdims, op):
        a = self
        axes = _axis_tuple(axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"{op}() of an empty tensor (shape {a.shape}) has no value")
        out_k = getattr(a.data, op)(axis=axes, keepdims=True)
        out = out_k if keepdims else out_k.squeeze(axis=axes)

        def backward(g):
            if not keepdims:
                g = _ns(g).expand_dims(g, axes)
            # Ties share the gradient evenly, as torch.amax / torch.max() do.
            mask = a.data == out_k
            # Count in g's dtype: an int64 count would promote a float32 gradient to float64.
            return (mask * (g / mask.sum(axis=axes, keepdims=True, dtype=g.dtype)),)

        return Tensor._make(out, (a,), backward, op)

    def max(self, axis=None, keepdims: bool = False):
        """Maximum over ``axis``; ties share the gradient evenly (as ``torch.amax``)."""
        return self._extremum(axis, keepdims, "max")

    def min(self, axis=None, keepdims: bool = False):
        """Minimum over ``axis``; ties share the gradient evenly (as ``torch.amin``)."""
        return self._extremum(axis, keepdims, "min")

    # ------------------------------------------------------------- shapes
    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        a = self
        try:
            out = a.data.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}"
            ) from None

        def backward(g):
            return (g.reshape(a.shape),)

        return Tensor._make(out, (a,), backward, "reshape")

    def flatten(self, start_axis: int = 0):
        """Merge the axes from ``start_axis`` on (``flatten(1)`` keeps the batch axis)."""
        return self.reshape(self.shape[:start_axis] + (-1,))

    def transpose(self, *axes):
        """Permute axes like ``np.transpose`` (reverse them when none are given)."""
        if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
            axes = tuple(axes[0])
        a = self
        axes = tuple(axes) if axes else tuple(reversed(range(a.ndim)))
        inverse = tuple(np.argsort(axes))
        out = a.data.transpose(axes)

        def backward(g):
            return (g.transpose(inverse),)

        return Tensor._make(out, (a,), backward, "transpose")

    @property
    def T(self):
        return self.transpose()

    def astype(self, dtype):
        """Cast to ``dtype``; the gradient is cast back."""
        a = self
        dtype = np.dtype(dtype)
        if dtype == a.dtype:
            return a

        def backward(g):
            return (g.astype(a.dtype),)

        return Tensor._make(a.data.astype(dtype), (a,), backward, "astype")

    # ----------------------------------------------- unary math (primitives)
    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def abs(self):
        return abs(self)

    __abs__ = abs

    def clip(self, min=None, max=None):
        return clip(self, min, max)

    # ------------------------------------------ activations (see functional)
    def relu(self):
        from .functional import relu

        return relu(self)

    def tanh(self):
        from .functional import tanh

        return tanh(self)

    def sigmoid(self):
        from .functional import sigmoid

        return sigmoid(self)

    def softmax(self, axis=-1):
        from .functional import softmax

        return softmax(self, axis=axis)

    def log_softmax(self, axis=-1):
        from .functional import log_softmax

        return log_softmax(self, axis=axis)


# ------------------------------------------------------------------ helpers
def tensor(data, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """``ff.tensor(data)``: same as ``ff.Tensor(data)`` (PyTorch spelling)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def as_tensor(x, dtype=None) -> Tensor:
    """Return ``x`` if it is a Tensor; wrap numbers and arrays (no copy)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number) and dtype is not None and np.dtype(dtype).kind == "f":
        # A Python number takes the other operand's float dtype (NumPy 2's
        # "weak scalar" rule), so x * 2.0 stays float32.
        return Tensor(np.asarray(x, dtype=dtype))
    return Tensor(x)


def _operand(x, like: Tensor) -> Tensor:
    """The other operand of a binary op with ``like``, as a tensor on ``like``'s device.

    A Python number takes ``like``'s float dtype (NumPy 2's "weak scalar" rule, so ``x * 2.0``
    stays float32) and device; a tensor on another device is an error, as in PyTorch.
    """
    if isinstance(x, Tensor):
        if type(x.data) is not type(like.data):
            _same_device(like, x)
        return x
    ld = like.data
    if isinstance(x, numbers.Number) and ld.dtype.kind == "f":
        if type(ld) is np.ndarray:
            return Tensor(np.asarray(x, dtype=ld.dtype))
        return Tensor(_device_constant(x, ld, ld.dtype))
    t = Tensor(x)
    if type(t.data) is not type(ld):
        if isinstance(x, numbers.Number):
            return Tensor(_device_constant(x, ld, t.data.dtype))
        _same_device(like, t)
    return t


_CONSTANTS: dict = {}


def _device_constant(x, like, dtype):
    """The number ``x`` as a 0-d array of ``dtype`` on ``like``'s device, made once: a training
    step's constants (``1/n``, ``0.5``) would otherwise cost a host-to-device copy each time.
    Nothing writes into an op's operands, so the arrays can be shared."""
    key = (type(like), _registry.device_of(like).index, x, type(x), str(x).startswith("-"), dtype)  # -0.0 is not 0.0
    a = _CONSTANTS.get(key)
    if a is None:
        if len(_CONSTANTS) >= 4096:  # bounded: a loop over ever-new numbers must not grow it
            _CONSTANTS.clear()
        a = _CONSTANTS[key] = _ns(like).asarray(x, dtype=dtype)
    return a


def _same_device(a: Tensor, b: Tensor) -> None:
    if _registry.backend_of(a.data) is not _registry.backend_of(b.data):
        raise ValueError(
            f"expected both operands on one device, got {a.device} and {b.device}; "
            "move one with .to(device)"
        )


def _index_data(index, data):
    """Index arrays on ``data``'s device (host lists and arrays are moved there)."""
    if isinstance(index, tuple):
        return tuple(_index_data(i, data) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, list):
        index = np.asarray(index)
    if type(index) is np.ndarray and type(data) is not np.ndarray:
        index = _ns(data).asarray(index)
    return index


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral)) and not isinstance(i, bool)
        for i in items
    )


# ------------------------------------------------ module-level primitives
def exp(x) -> Tensor:
    """``e^x``; gradient ``e^x``."""
    x = as_tensor(x)
    out = _ns(x.data).exp(x.data)

    def backward(g):
        return (g * out,)

    return Tensor._make(out, (x,), backward, "exp")


def log(x) -> Tensor:
    """Natural logarithm; gradient ``1/x``."""
    x = as_tensor(x)

    def backward(g):
        return (g / x.data,)

    return Tensor._make(_ns(x.data).log(x.data), (x,), backward, "log")


def abs(x) -> Tensor:  # noqa: A001 - mirrors np.abs / torch.abs
    """``|x|``; gradient ``sign(x)``, 0 at 0 (as PyTorch)."""
    x = as_tensor(x)

    xp = _ns(x.data)

    def backward(g):
        return (g * xp.sign(x.data),)

    return Tensor._make(xp.abs(x.data), (x,), backward, "abs")


def _pair(a, b):
    """Two operands as tensors on one device (numbers take the other's dtype and device)."""
    if isinstance(a, Tensor):
        return a, _operand(b, a)
    b = as_tensor(b)
    return _operand(a, b), b


def _min_max(a, b, op):
    a, b = _pair(a, b)
    out = getattr(_ns(a.data), op)(a.data, b.data)

    def backward(g):
        # Where a == b the gradient is split in half, as PyTorch does; ReLU
        # is therefore its own op (maximum(x, 0) would give 1/2 at x = 0).
        a_wins = (a.data == out).astype(g.dtype)
        b_wins = (b.data == out).astype(g.dtype)
        share = a_wins + b_wins
        ga = unbroadcast(g * a_wins / share, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * b_wins / share, b.shape) if b.requires_grad else None
        return ga, gb

    return Tensor._make(out, (a, b), backward, op)


def maximum(a, b) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly (as ``torch.maximum``)."""
    return _min_max(a, b, "maximum")


def minimum(a, b) -> Tensor:
    """Elementwise minimum; ties split the gradient evenly (as ``torch.minimum``)."""
    return _min_max(a, b, "minimum")


def where(condition, a, b) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (broadcasting like ``np.where``)."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    if type(cond) not in _XP:
        cond = np.asarray(cond)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be a boolean mask, got dtype {cond.dtype}")
    a, b = _pair(a, b)
    xp = _registry.array_namespace(cond, a.data, b.data)
    out = xp.where(cond, a.data, b.data)

    def backward(g):
        ga = unbroadcast(xp.where(cond, g, 0), a.shape) if a.requires_grad else None
        gb = unbroadcast(xp.where(cond, 0, g), b.shape) if b.requires_grad else None
        return ga, gb

    return Tensor._make(out, (a, b), backward, "where")


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002 - mirrors np.clip
    """Clamp to ``[min, max]``; gradient 1 inside, including the ends (as ``torch.clamp``)."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    x = as_tensor(x)
    xp = _ns(x.data)
    out = xp.clip(x.data, min, max)

    def backward(g):
        inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x.data >= min
        if max is not None:
            inside &= x.data <= max
        return (g * inside,)

    return Tensor._make(out, (x,), backward, "clip")


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's rules (1-D operands, batch broadcasting)."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last dimension of "
            f"the left operand ({k_a}) must equal the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} dimension of the right one ({k_b})"
        )
    out = a.data @ b.data

    def backward(g):
        A = a.data if a.ndim > 1 else a.data[None, :]
        B = b.data if b.ndim > 1 else b.data[:, None]
        # Restore the dimensions that 1-D operands dropped from the output.
        G = g
        if b.ndim == 1:
            G = G[..., None]
        if a.ndim == 1:
            G = G[..., None, :]
        ga = gb = None
        xp = _ns(g)
        if a.requires_grad:
            ga = G @ xp.swapaxes(B, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
            ga = unbroadcast(ga, a.shape)
        if b.requires_grad:
            gb = xp.swapaxes(A, -1, -2) @ G
            if b.ndim == 1:
                gb = gb[..., 0]
            gb = unbroadcast(gb, b.shape)
        return ga, gb

    return Tensor._make(out, (a, b), backward, "matmul")


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, like ``np.concatenate``."""
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    xp = _registry.array_namespace(*(t.data for t in tensors))
    out = xp.concatenate([t.data for t in tensors], axis=axis)
    ax = axis % out.ndim
    bounds = [int(b) for b in np.cumsum([t.shape[ax] for t in tensors])[:-1]]

    def backward(g):
        return tuple(xp.split(g, bounds, axis=ax))

    return Tensor._make(out, tensors, backward, "concatenate")


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors along a new axis, like ``np.stack``."""
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    xp = _registry.array_namespace(*(t.data for t in tensors))
    out = xp.stack([t.data for t in tensors], axis=axis)
    ax = axis % out.ndim

    def backward(g):
        return tuple(xp.take(g, i, axis=ax) for i in range(len(tensors)))

    return Tensor._make(out, tensors, backward, "stack")
