"""Property tests over random shapes (hypothesis): broadcasting pairs, axes, batched matmul (L-AD-1, L-AD-2).

The third independent check on gradients: for any shapes NumPy accepts, the
value and every input gradient equal torch's, and gradients come back in
their input's shape (broadcasting undone).
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from helpers import compare, torch_module  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import feedforward as ff  # noqa: E402
import feedforward.functional as F  # noqa: E402
from feedforward.autograd import unbroadcast  # noqa: E402

torch = torch_module()

seeds = st.integers(0, 2**32 - 1)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)

BINARY = {
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, None),
    "pow": (lambda a, b: a**b, None),
    "maximum": (ff.maximum, torch.maximum),
    "minimum": (ff.minimum, torch.minimum),
}


@given(shapes=pairs, op=st.sampled_from(sorted(BINARY)), seed=seeds)
def test_binary_ops_broadcast_like_torch(shapes, op, seed):
    """Any broadcastable pair of shapes: value and both gradients (reduced to each input's shape)."""
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    # Positive inputs keep / and ** defined; continuous values avoid max/min ties.
    a = rng.uniform(0.5, 2.0, size=a_shape)
    b = rng.uniform(0.5, 2.0, size=b_shape)
    fn, torch_fn = BINARY[op]
    out, (ta, tb) = compare(fn, [a, b], torch_fn)
    assert out.shape == shapes.result_shape
    assert ta.grad.shape == a_shape and tb.grad.shape == b_shape


@given(shapes=pairs, seed=seeds)
def test_where_broadcasts_like_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    mask = rng.random(shapes.result_shape) > 0.5
    compare(lambda a, b: ff.where(mask, a, b), [rng.standard_normal(a_shape), rng.standard_normal(b_shape)],
            lambda a, b: torch.where(torch.tensor(mask), a, b))


@given(data=st.data(), op=st.sampled_from(["sum", "mean", "max", "min"]), keepdims=st.booleans(), seed=seeds)
def test_reductions_over_any_axes_like_torch(data, op, keepdims, seed):
    shape = data.draw(shapes, label="shape")
    axes = data.draw(st.none() | hnp.valid_tuple_axes(len(shape), min_size=1), label="axes")
    x = np.random.default_rng(seed).standard_normal(shape)
    torch_op = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}[op]
    dims = tuple(range(len(shape))) if axes is None else axes

    def torch_fn(t):
        return getattr(t, torch_op)(dim=dims, keepdim=keepdims)

    out, (t,) = compare(lambda t: getattr(t, op)(axis=axes, keepdims=keepdims), [x], torch_fn)
    assert t.grad.shape == shape


@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=4),
       seed=seeds)
def test_matmul_any_shapes_like_torch(shapes, seed):
    """1-D, 2-D and batched operands with broadcast batch dimensions."""
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    out, (ta, tb) = compare(lambda a, b: a @ b, [rng.standard_normal(a_shape), rng.standard_normal(b_shape)])
    assert out.shape == shapes.result_shape


@given(data=st.data(), fn=st.sampled_from(["softmax", "log_softmax", "logsumexp"]), seed=seeds)
def test_softmax_family_any_axis_like_torch(data, fn, seed):
    shape = data.draw(shapes, label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = np.random.default_rng(seed).standard_normal(shape) * 5
    torch_fn = {"softmax": torch.softmax, "log_softmax": torch.log_softmax, "logsumexp": torch.logsumexp}[fn]
    compare(lambda t: getattr(F, fn)(t, axis=axis), [x], lambda t: torch_fn(t, axis))


@given(data=st.data(), seed=seeds)
def test_transpose_reshape_any_shape_like_torch(data, seed):
    shape = data.draw(shapes, label="shape")
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    x = np.random.default_rng(seed).standard_normal(shape)
    compare(lambda t: t.transpose(perm).reshape(-1, 1) * 1.0, [x],
            lambda t: t.permute(*perm).reshape(-1, 1) * 1.0)


@given(data=st.data(), seed=seeds)
def test_concatenate_and_stack_any_shape_like_torch(data, seed):
    shape = data.draw(shapes, label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    k = data.draw(st.integers(1, 3), label="k")
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal(shape[:axis] + (rng.integers(1, 4),) + shape[axis + 1:]) for _ in range(k)]
    compare(lambda *ts: ff.concatenate(ts, axis=axis), parts, lambda *ts: torch.cat(ts, dim=axis))
    same = [rng.standard_normal(shape) for _ in range(k)]
    compare(lambda *ts: ff.stack(ts, axis=axis), same, lambda *ts: torch.stack(ts, dim=axis))


@given(n=st.integers(1, 6), C=st.integers(1, 5), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=seeds)
def test_cross_entropy_any_size_like_torch(n, C, reduction, seed):
    rng = np.random.default_rng(seed)
    z, y = rng.standard_normal((n, C)) * 4, rng.integers(0, C, size=n)
    compare(lambda z, y: F.cross_entropy(z, y, reduction=reduction), [z, y],
            lambda z, y: torch.nn.functional.cross_entropy(z, y, reduction=reduction))


@given(shapes=pairs, seed=seeds)
def test_unbroadcast_equals_torch_sum_to_size(shapes, seed):
    """The one broadcasting helper is the adjoint of broadcast_to: torch's sum_to_size."""
    small, _ = shapes.input_shapes
    big = shapes.result_shape
    g = np.random.default_rng(seed).standard_normal(big)
    expected = torch.tensor(g).sum_to_size(small).numpy() if small else g.sum()
    np.testing.assert_allclose(unbroadcast(g, small), expected, rtol=1e-12, atol=1e-12)


@given(shape=shapes, seed=seeds, scale=st.floats(0.5, 4.0))
def test_backward_is_linear_in_the_cotangent(shape, seed, scale):
    """Vector-Jacobian products are linear: backward(scale * v) gives scale times the gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    v = rng.standard_normal(shape)
    grads = []
    for c in (1.0, scale):
        t = ff.Tensor(x, requires_grad=True)
        (F.tanh(t) * t.exp() + F.softplus(t)).backward(c * v)
        grads.append(t.grad)
    np.testing.assert_allclose(grads[1], scale * grads[0], rtol=1e-12, atol=1e-14)
