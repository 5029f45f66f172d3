"""The reverse-mode engine: grad mode, graph records, topological order, backward.

L-AD-1. Every differentiable op produces a :class:`~feedforward.tensor.Tensor`
whose ``_parents`` are the tensors it was computed from and whose
``_backward`` maps the gradient of the output to the gradients of the parents
(one array or ``None`` per parent). :func:`backward` walks the graph once in
reverse topological order, accumulating gradients with ``+``.

Only leaves (tensors created by the user, e.g. parameters) keep ``.grad``,
as in PyTorch; intermediate gradients live in a dictionary for the duration
of one backward pass.
"""

from __future__ import annotations

import contextlib
import itertools
import threading

import numpy as np

from .backend.registry import array_namespace

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "unbroadcast", "backward"]


class _GradMode(threading.local):
    # Thread-local (not a global flag on Tensor): one thread's no_grad block
    # does not switch off recording in another.
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside a :func:`no_grad` block."""
    return _mode.enabled


class _set_grad_enabled(contextlib.ContextDecorator):
    """Set the grad mode for a block (or a decorated function), restoring it afterwards.

    A class rather than a generator-based context manager: the training loop enters one
    every epoch, and ``@contextmanager`` creates and drives a generator on every entry.
    """

    def __init__(self, flag: bool):
        self.flag = flag
        self.previous = None

    def _recreate_cm(self):
        # As a decorator: a fresh manager per call, so that recursive or concurrent
        # calls never share the saved mode.
        return type(self)(self.flag)

    def __enter__(self):
        self.previous = _mode.enabled
        _mode.enabled = self.flag
        return None

    def __exit__(self, *exc):
        _mode.enabled = self.previous
        return False


def no_grad(func=None):
    """Context manager (and decorator, ``@no_grad`` or ``@no_grad()``) in which no graph is recorded.

    >>> import feedforward as ff
    >>> w = ff.Tensor([1.0, 2.0], requires_grad=True)
    >>> with ff.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    if func is not None:  # used bare as a decorator
        return _set_grad_enabled(False)(func)
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager that switches recording back on inside :func:`no_grad`."""
    return _set_grad_enabled(True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo NumPy broadcasting: sum ``grad`` down to ``shape``.

    The one place where broadcasting is reversed (L-AD-1). A forward op that
    broadcast an input of ``shape`` to ``grad.shape`` must add up the
    gradient over every copy: over the leading dimensions that broadcasting
    prepended and over the dimensions that were 1 in ``shape``.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad


def _graph_freed(_grad):
    raise RuntimeError(
        "Trying to backward through the graph a second time: its saved arrays were "
        "freed after the first backward(). Call backward(retain_graph=True) the first "
        "time if you need to backward twice."
    )


_next_pass = itertools.count(1).__next__  # atomic under the GIL


def _topological_order(root) -> list:
    """Nodes that need a gradient, parents before children.

    Built with an explicit stack (a recursive walk would hit Python's
    recursion limit on deep graphs: micrograd's trap). Leaves (no parents)
    go straight into the order when first met instead of through the stack:
    they have nothing to wait for, and they are half the nodes of a network.
    A node is marked visited with this pass's number (``_mark``) and its gathered
    gradient (``_pending``) is cleared as it is met: no ``id()``-keyed set or dict.
    """
    mark = _next_pass()
    root._mark = mark
    root._pending = None
    order = []
    append = order.append
    # Each stack entry is (node, index of the next parent to visit).
    stack = [(root, 0)]
    while stack:
        node, i = stack.pop()
        parents = node._parents
        n = len(parents)
        while i < n:
            p = parents[i]
            i += 1
            if p.requires_grad and p._mark != mark:
                p._mark = mark
                p._pending = None
                if p._parents:
                    stack.append((node, i))
                    stack.append((p, 0))
                    break
                append(p)
        else:
            append(node)
    return order


def _owner(a: np.ndarray):
    return a if a.base is None else a.base


def _accumulate_leaf(leaf, g: np.ndarray, handed: set) -> None:
    """``leaf.grad += g``, never letting two leaves share one buffer."""
    if leaf.grad is not None:
        leaf.grad += g
        return
    owner = _owner(g)
    if (
        id(owner) in handed
        or not getattr(g.flags, "writeable", True)
        or g.dtype != leaf.data.dtype
        or g.shape != leaf.data.shape
    ):
        # A gradient that passed unchanged through `+`, `reshape` or a
        # broadcast may be shared with another leaf or be a read-only view:
        # copy it so that an in-place update of one .grad never changes another.
        xp = array_namespace(g)
        g = xp.array(xp.broadcast_to(g, leaf.data.shape), dtype=leaf.data.dtype)
        owner = g
    handed.add(id(owner))
    leaf.grad = g


def backward(root, gradient=None, retain_graph: bool = False) -> None:
    """Back-propagate from ``root`` (see :meth:`Tensor.backward`)."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward() called on a tensor that does not require grad: no input of "
            "the computation had requires_grad=True (or it ran under no_grad())."
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a non-scalar tensor of shape {root.data.shape} needs a "
                "gradient argument of the same shape (the vector in the "
                "vector-Jacobian product); reduce it first, e.g. loss.sum().backward()."
            )
        gradient = (np if type(root.data) is np.ndarray else array_namespace(root.data)).empty_like(root.data)
        gradient.fill(1)  # np.ones_like, without its Python-level wrapper
    else:
        gradient = gradient.data if hasattr(gradient, "_parents") else gradient
        xp = array_namespace(root.data)
        if type(gradient) is not type(root.data) and not isinstance(gradient, (list, tuple, float, int)):
            array_namespace(root.data, gradient)  # on another device: a clear error
        gradient = xp.asarray(gradient, dtype=root.data.dtype)
        if gradient.shape != root.data.shape:
            raise ValueError(
                f"backward(): gradient has shape {gradient.shape}, expected the "
                f"tensor's shape {root.data.shape}."
            )
    handed = {id(_owner(gradient))}  # the caller's array must not become a .grad
    order = _topological_order(root)
    root._pending = gradient
    try:
        for node in reversed(order):
            g = node._pending
            if g is None:
                continue
            node._pending = None
            fn = node._backward
            if fn is None:  # a leaf
                if node.grad is None and g.base is None and getattr(g.flags, "writeable", True) \
                        and id(g) not in handed \
                        and g.dtype == node.data.dtype and g.shape == node.data.shape:
                    # The common case, inlined: a fresh array of the right kind becomes .grad.
                    handed.add(id(g))
                    node.grad = g
                else:
                    _accumulate_leaf(node, g, handed)
                continue
            if node._retains_grad:
                _accumulate_leaf(node, g, handed)
            parents = node._parents
            parent_grads = fn(g)
            for p, pg in zip(parents, parent_grads):
                if pg is None or not p.requires_grad:
                    continue
                prev = p._pending
                # Not `+=`: the stored array may be shared with another branch.
                p._pending = pg if prev is None else prev + pg
            if not retain_graph:
                # Free the saved arrays (closures) now: peak memory stays at one
                # graph, and a second backward gets a clear error.
                node._backward = _graph_freed
                node._parents = ()
    except BaseException:
        for node in order:  # no gradient of a failed pass stays attached to the graph
            node._pending = None
        raise
