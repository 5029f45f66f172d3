"""Autograd semantics (L-AD-1): accumulation, grad mode, detach, retain_grad, graph freeing,
deep graphs, buffer ownership of .grad, dtypes, and the broadcasting helper."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import feedforward as ff
from feedforward.autograd import unbroadcast


def test_gradients_accumulate_across_backward_calls():
    """L-AD-1: a second backward adds to .grad (x.grad += ...), like PyTorch."""
    x = ff.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None


def test_reused_node_accumulates_within_one_graph():
    """A node used twice (y feeds two branches) receives the sum of both branch gradients."""
    x = ff.Tensor(2.0, requires_grad=True)
    y = x * x  # dy/dx = 4
    z = y * y + y * 3.0  # dz/dy = 2y + 3 = 11
    z.backward()
    assert x.grad == pytest.approx(44.0)


def test_no_grad_records_nothing_and_restores_mode():
    w = ff.Tensor([1.0, 2.0], requires_grad=True)
    assert ff.is_grad_enabled()
    with ff.no_grad():
        y = w * 2.0 + 1.0
        assert not ff.is_grad_enabled()
        with ff.enable_grad():
            z = w * 2.0
        assert not ff.is_grad_enabled()
    assert ff.is_grad_enabled()
    assert not y.requires_grad and y._parents == ()
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_as_decorator_with_and_without_parentheses():
    w = ff.Tensor([1.0], requires_grad=True)

    @ff.no_grad()
    def called():
        return (w * 2.0).requires_grad

    @ff.no_grad
    def bare():
        return (w * 2.0).requires_grad

    assert called() is False and called() is False and bare() is False
    assert ff.is_grad_enabled() and (w * 2.0).requires_grad


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with ff.no_grad():
            1 / 0
    assert ff.is_grad_enabled()


def test_no_grad_is_thread_local():
    """One thread's no_grad block does not switch off recording in another (no global flag)."""
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with ff.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = ff.is_grad_enabled()
    seen["op"] = (ff.Tensor([1.0], requires_grad=True) * 2.0).requires_grad
    release.set()
    t.join()
    assert seen == {"main": True, "op": True}


def test_detach_cuts_the_graph_and_shares_memory():
    x = ff.Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()  # d is a constant here: dy/dx = d
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    e = x.detach()
    assert np.shares_memory(e.data, x.data)


def test_retain_grad_keeps_intermediate_gradient():
    x = ff.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2.0
    h.retain_grad()
    other = x * 5.0
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)  # d(h^2)/dh
    assert other.grad is None  # not retained
    assert not h.is_leaf and x.is_leaf


def test_backward_twice_raises_unless_retain_graph():
    x = ff.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()  # allowed: the graph was retained
    np.testing.assert_allclose(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_with_explicit_gradient_is_a_vector_jacobian_product():
    x = ff.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * x
    v = np.array([1.0, 0.5, -1.0])
    y.backward(v)
    np.testing.assert_array_equal(x.grad, 2 * x.data * v)
    assert not np.shares_memory(x.grad, v)  # the caller's array never becomes a .grad
    z = ff.Tensor(np.ones(2), requires_grad=True)
    (z * 3.0).backward(ff.Tensor(np.array([1.0, 2.0])))  # a Tensor gradient works too
    np.testing.assert_array_equal(z.grad, [3.0, 6.0])


def test_leaf_backward():
    x = ff.Tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_deep_chain_of_100000_nodes_backprops_without_recursion():
    """L-AD-1: the topological order uses an explicit stack; 100,000 chained adds work."""
    x = ff.Tensor(np.float64(0.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert y.item() == 100_000.0
    assert x.grad == 1.0


def test_wide_fan_in_accumulates_every_path():
    """A leaf used by many nodes gets the sum over all paths (each visited once)."""
    x = ff.Tensor(np.float64(1.0), requires_grad=True)
    total = x * 0.0
    for k in range(1, 201):
        total = total + x * float(k)
    total.backward()
    assert x.grad == sum(range(1, 201))


def test_two_leaves_never_share_a_grad_buffer():
    """z = a + b hands the same upstream array to both leaves; their .grad must be distinct."""
    a = ff.Tensor([1.0, 2.0], requires_grad=True)
    b = ff.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 100.0  # in place, as an optimizer might
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    # The same for x + x, a reshape pass-through, and a leaf reached through a view-returning op.
    x = ff.Tensor(np.ones((2, 2)), requires_grad=True)
    y = ff.Tensor(np.ones(4), requires_grad=True)
    z = ff.Tensor(np.ones((2, 2)), requires_grad=True)
    out = x + x + y.reshape(2, 2) + z
    out.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, 2 * np.ones((2, 2)))
    grads = [x.grad, y.grad, z.grad]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(grads[i], grads[j])
    for g in grads:
        assert g.flags.writeable


def test_grad_of_broadcast_reduction_is_writeable_and_owned():
    """sum's backward broadcasts lazily (a read-only view); the leaf still gets its own array."""
    x = ff.Tensor(np.zeros((3, 4)), requires_grad=True)
    x.sum().backward()
    assert x.grad.flags.writeable and x.grad.flags.owndata
    x.grad *= 2.0
    np.testing.assert_array_equal(x.grad, 2.0)


def test_float32_default_and_float64_kept():
    assert ff.Tensor([1.0, 2.0]).dtype == np.float32
    assert ff.Tensor(3).dtype == np.float32
    assert ff.Tensor(np.zeros(2)).dtype == np.float64
    assert ff.Tensor(np.zeros(2, dtype=np.float16)).dtype == np.float32  # float16 computes in float32
    assert ff.Tensor(np.arange(3)).dtype == np.int64  # labels keep their integer dtype
    assert ff.Tensor([1.0], dtype=np.float64).dtype == np.float64
    x64 = ff.Tensor(np.ones(3), requires_grad=True)
    (x64 * 2.0).sum().backward()
    assert x64.grad.dtype == np.float64


@pytest.mark.parametrize(
    "expr",
    [lambda x: x + 1.5, lambda x: 1.5 + x, lambda x: x - 2, lambda x: 2 - x, lambda x: x * 0.1,
     lambda x: 0.1 * x, lambda x: x / 3.0, lambda x: 3.0 / x, lambda x: x**2.0, lambda x: 2.0**x,
     lambda x: x * np.float64(0.5), lambda x: ff.maximum(x, 0.0), lambda x: ff.where(x.data > 0, x, 0.0),
     lambda x: x.mean()],
    ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow", "np_scalar",
         "maximum", "where", "mean"],
)
def test_python_scalars_do_not_upcast_float32(expr):
    """Numbers take the tensor's dtype (NumPy 2's weak scalars): float32 stays float32, also in backward."""
    x = ff.Tensor([0.5, 1.5, 2.5], requires_grad=True)
    y = expr(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_ops_without_grad_inputs_record_nothing():
    a = ff.Tensor([1.0, 2.0])
    b = ff.Tensor([3.0, 4.0])
    c = a * b + 1.0
    assert not c.requires_grad and c.is_leaf and c._parents == ()


def test_only_the_inputs_that_need_it_get_a_gradient():
    a = ff.Tensor([1.0, 2.0], requires_grad=True)
    b = ff.Tensor([3.0, 4.0])
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    assert b.grad is None


def test_requires_grad_on_integer_data_is_refused():
    with pytest.raises(TypeError, match="only floating-point tensors can require a gradient.*int64"):
        ff.Tensor(np.array([1, 2, 3]), requires_grad=True)


@pytest.mark.parametrize(
    "grad_shape, shape",
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (1, 4)), ((3, 4), (3, 1)), ((2, 3, 4), ()),
     ((2, 3, 4), (3, 1)), ((2, 1, 4), (1, 1, 4)), ((5, 2, 3), (1, 3))],
)
def test_unbroadcast_sums_over_broadcast_dimensions(grad_shape, shape, rng):
    """The one helper that undoes broadcasting: result shape and values equal an explicit sum."""
    g = rng.standard_normal(grad_shape)
    out = unbroadcast(g, shape)
    assert out.shape == shape
    # Reference: the adjoint of broadcast_to, written as sum over every broadcast copy.
    ref = np.zeros(shape)
    for idx in np.ndindex(grad_shape):
        src = tuple(0 if n == 1 else i for i, n in zip(idx[len(grad_shape) - len(shape):], shape))
        ref[src] += g[idx]
    np.testing.assert_allclose(out, ref)


def test_backward_graph_is_freed_after_use():
    """Without retain_graph the closures (and their saved arrays) are dropped after backward."""
    x = ff.Tensor(np.ones(3), requires_grad=True)
    h = x.exp()
    y = h.sum()
    y.backward()
    assert h._parents == () and y._parents == ()
