"""Every primitive op of ``ff.Tensor`` against PyTorch autograd, value and gradient (L-AD-1, L-AD-2).

Each case runs one lambda on float64 inputs in feedforward and in torch and
compares the output and every input's gradient (see ``helpers.compare``).
Shapes include broadcasting and size-1 dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from helpers import compare, randn, torch_module

import feedforward as ff

torch = torch_module()


@dataclass
class Case:
    name: str
    fn: object
    shapes: list
    torch_fn: object = None
    domain: str = "real"
    extra: list = field(default_factory=list)  # constant (non-float) inputs appended after the floats


IDX = np.array([2, 0, 2, 2, 1])  # repeated indices: their gradients must add up
ROWS = np.array([0, 2, 2])
COLS = np.array([1, 1, 3])
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])

CASES = [
    # ---- arithmetic, with broadcasting and size-1 dims
    Case("add", lambda a, b: a + b, [(3, 4), (3, 4)]),
    Case("add_broadcast_row", lambda a, b: a + b, [(3, 4), (4,)]),
    Case("add_broadcast_size1", lambda a, b: a + b, [(2, 1, 4), (3, 1)]),
    Case("add_scalar_tensor", lambda a, b: a + b, [(3, 4), ()]),
    Case("radd_number", lambda a: 2.5 + a, [(3, 4)]),
    Case("sub", lambda a, b: a - b, [(3, 1), (1, 4)]),
    Case("rsub_number", lambda a: 1.5 - a, [(2, 3)]),
    Case("mul", lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    Case("mul_self", lambda a: a * a, [(5,)]),
    Case("rmul_number", lambda a: 3.0 * a, [(4,)]),
    Case("div", lambda a, b: a / b, [(3, 4), (1, 4)], domain="positive"),
    Case("rdiv_number", lambda a: 2.0 / a, [(3, 4)], domain="positive"),
    Case("neg", lambda a: -a, [(3, 4)]),
    Case("pow_scalar_2", lambda a: a**2, [(3, 4)]),
    Case("pow_scalar_3", lambda a: a**3, [(3, 4)]),
    Case("pow_scalar_half", lambda a: a**0.5, [(3, 4)], domain="positive"),
    Case("pow_scalar_negative", lambda a: a**-1.5, [(3, 4)], domain="positive"),
    Case("pow_tensor", lambda a, b: a**b, [(3, 4), (3, 4)], domain="positive"),
    Case("pow_tensor_broadcast", lambda a, b: a**b, [(3, 4), (4,)], domain="positive"),
    Case("rpow_number", lambda a: 2.0**a, [(3, 4)]),
    # ---- matmul: 2-D, 1-D, batched, broadcasting batch dims
    Case("matmul_2d", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    Case("matmul_1d_2d", lambda a, b: a @ b, [(4,), (4, 5)]),
    Case("matmul_2d_1d", lambda a, b: a @ b, [(3, 4), (4,)]),
    Case("matmul_1d_1d", lambda a, b: a @ b, [(4,), (4,)]),
    Case("matmul_batched", lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    Case("matmul_batched_2d", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    Case("matmul_broadcast_batch", lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)]),
    Case("matmul_1d_batched", lambda a, b: a @ b, [(4,), (2, 4, 5)]),
    Case("matmul_batched_1d", lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    Case("matmul_size1", lambda a, b: a @ b, [(1, 1), (1, 3)]),
    Case("ff_matmul_function", ff.matmul, [(3, 4), (4, 2)], torch_fn=lambda a, b: torch.matmul(a, b)),
    # ---- indexing
    Case("index_int", lambda a: a[1], [(3, 4)]),
    Case("index_slice", lambda a: a[:, 1:3], [(3, 4)]),
    Case("index_step", lambda a: a[..., ::2], [(2, 3, 4)]),
    Case("index_none", lambda a: a[None, 1], [(3, 4)]),
    Case("index_negative_step", lambda a: a[::-1], [(4, 2)], torch_fn=lambda a: torch.flip(a, dims=(0,))),
    Case("gather_repeated", lambda a: a[IDX], [(3, 4)], torch_fn=lambda a: a[torch.tensor(IDX)]),
    Case("gather_pairs_repeated", lambda a: a[ROWS, COLS], [(3, 4)],
         torch_fn=lambda a: a[torch.tensor(ROWS), torch.tensor(COLS)]),
    Case("gather_list", lambda a: a[[1, 1, 0]], [(3, 4)]),
    Case("gather_tensor_index", lambda a: a[ff.Tensor(IDX)], [(3, 4)],
         torch_fn=lambda a: a[torch.tensor(IDX)]),
    Case("boolean_mask", lambda a: a[MASK], [(3, 4)], torch_fn=lambda a: a[torch.tensor(MASK)]),
    # ---- reductions
    Case("sum_all", lambda a: a.sum(), [(3, 4)]),
    Case("sum_axis", lambda a: a.sum(axis=1), [(3, 4)], torch_fn=lambda a: a.sum(dim=1)),
    Case("sum_axis_keepdims", lambda a: a.sum(axis=0, keepdims=True), [(3, 4)],
         torch_fn=lambda a: a.sum(dim=0, keepdim=True)),
    Case("sum_axes_tuple", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)], torch_fn=lambda a: a.sum(dim=(0, 2))),
    Case("sum_negative_axis", lambda a: a.sum(axis=-1), [(2, 3, 4)], torch_fn=lambda a: a.sum(dim=-1)),
    Case("mean_all", lambda a: a.mean(), [(3, 4)]),
    Case("mean_axis_keepdims", lambda a: a.mean(axis=1, keepdims=True), [(3, 4)],
         torch_fn=lambda a: a.mean(dim=1, keepdim=True)),
    Case("mean_axes_tuple", lambda a: a.mean(axis=(1, 2)), [(2, 3, 4)],
         torch_fn=lambda a: a.mean(dim=(1, 2))),
    Case("max_all", lambda a: a.max(), [(3, 4)]),
    Case("max_axis", lambda a: a.max(axis=0), [(3, 4)], torch_fn=lambda a: a.amax(dim=0)),
    Case("max_axis_keepdims", lambda a: a.max(axis=-1, keepdims=True), [(2, 3, 4)],
         torch_fn=lambda a: a.amax(dim=-1, keepdim=True)),
    Case("min_all", lambda a: a.min(), [(3, 4)]),
    Case("min_axis", lambda a: a.min(axis=1), [(3, 4)], torch_fn=lambda a: a.amin(dim=1)),
    Case("min_axes_keepdims", lambda a: a.min(axis=(0, 1), keepdims=True), [(2, 3, 4)],
         torch_fn=lambda a: a.amin(dim=(0, 1), keepdim=True)),
    # ---- elementwise functions
    Case("exp", lambda a: a.exp(), [(3, 4)]),
    Case("ff_exp", ff.exp, [(3, 4)], torch_fn=torch.exp),
    Case("log", lambda a: a.log(), [(3, 4)], domain="positive"),
    Case("ff_log", ff.log, [(3, 4)], torch_fn=torch.log, domain="positive"),
    Case("abs", lambda a: a.abs(), [(3, 4)], domain="away"),
    Case("ff_abs", ff.abs, [(3, 4)], torch_fn=torch.abs, domain="away"),
    Case("maximum", ff.maximum, [(3, 4), (4,)], torch_fn=torch.maximum),
    Case("minimum", ff.minimum, [(3, 1), (1, 4)], torch_fn=torch.minimum),
    Case("maximum_number", lambda a: ff.maximum(a, 0.2), [(3, 4)],
         torch_fn=lambda a: torch.clamp(a, min=0.2), domain="away"),
    Case("where", lambda a, b: ff.where(MASK, a, b), [(3, 4), (4,)],
         torch_fn=lambda a, b: torch.where(torch.tensor(MASK), a, b)),
    Case("where_number", lambda a: ff.where(MASK, a, 0.0), [(3, 4)],
         torch_fn=lambda a: torch.where(torch.tensor(MASK), a, 0.0)),
    Case("clip_both", lambda a: ff.clip(a, -0.5, 0.5), [(3, 4)],
         torch_fn=lambda a: torch.clamp(a, -0.5, 0.5)),
    Case("clip_method_min", lambda a: a.clip(min=0.0), [(3, 4)], torch_fn=lambda a: torch.clamp(a, min=0.0)),
    Case("clip_max", lambda a: ff.clip(a, max=0.1), [(3, 4)], torch_fn=lambda a: torch.clamp(a, max=0.1)),
    # ---- shapes
    Case("reshape", lambda a: a.reshape(4, -1), [(2, 3, 2)]),
    Case("reshape_tuple", lambda a: a.reshape((6,)), [(2, 3)], torch_fn=lambda a: a.reshape(6)),
    Case("flatten", lambda a: a.flatten(1), [(2, 3, 2)], torch_fn=lambda a: a.flatten(1)),
    Case("transpose_2d", lambda a: a.transpose(), [(3, 4)], torch_fn=lambda a: a.t()),
    Case("T_2d", lambda a: a.T, [(3, 4)]),
    Case("T_3d", lambda a: a.T, [(2, 3, 4)], torch_fn=lambda a: a.permute(2, 1, 0)),
    Case("transpose_axes", lambda a: a.transpose(1, 0, 2), [(2, 3, 4)],
         torch_fn=lambda a: a.permute(1, 0, 2)),
    Case("transpose_axes_tuple", lambda a: a.transpose((2, 0, 1)), [(2, 3, 4)],
         torch_fn=lambda a: a.permute(2, 0, 1)),
    Case("concatenate", lambda a, b: ff.concatenate([a, b], axis=1), [(2, 3), (2, 1)],
         torch_fn=lambda a, b: torch.cat([a, b], dim=1)),
    Case("concatenate_three_negative_axis", lambda a, b, c: ff.concatenate([a, b, c], axis=-2),
         [(2, 1, 3), (2, 2, 3), (2, 1, 3)], torch_fn=lambda a, b, c: torch.cat([a, b, c], dim=-2)),
    Case("stack", lambda a, b: ff.stack([a, b]), [(2, 3), (2, 3)], torch_fn=lambda a, b: torch.stack([a, b])),
    Case("stack_last_axis", lambda a, b, c: ff.stack([a, b, c], axis=-1), [(3,), (3,), (3,)],
         torch_fn=lambda a, b, c: torch.stack([a, b, c], dim=-1)),
    # ---- a composite expression reusing nodes (accumulation inside one graph)
    Case("diamond", lambda a, b: ((a * b).exp() + a @ b.T @ a).sum(axis=0) * a.mean(), [(3, 4), (3, 4)],
         torch_fn=lambda a, b: ((a * b).exp() + a @ b.T @ a).sum(dim=0) * a.mean()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_primitive_matches_torch(case, rng):
    """L-AD-2: value and every input gradient of each primitive op equal torch's in float64."""
    inputs = [randn(rng, s, case.domain) for s in case.shapes] + case.extra
    compare(case.fn, inputs, case.torch_fn)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_primitive_float32_stays_float32(case, rng):
    """Speed by design: a float32 graph produces float32 values and float32 gradients (no silent upcast)."""
    tensors = [ff.Tensor(randn(rng, s, case.domain).astype(np.float32), requires_grad=True)
               for s in case.shapes]
    out = case.fn(*tensors)
    assert out.dtype == np.float32
    # The op's own rule, before the engine casts anything into a leaf's .grad:
    raw = out._backward(np.ones(out.shape, dtype=np.float32))
    assert all(g is None or g.dtype == np.float32 for g in raw), [None if g is None else g.dtype for g in raw]
    out.backward(np.ones(out.shape, dtype=np.float32))
    for t in tensors:
        assert t.grad.dtype == np.float32
        assert t.grad.shape == t.shape


def test_max_ties_share_gradient_like_torch():
    """Ties in max/min split the gradient evenly, as torch.amax and torch.max() do."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare(lambda a: a.max(axis=1), [x], lambda a: a.amax(dim=1))
    compare(lambda a: a.max(), [x], lambda a: a.max())
    compare(lambda a: a.min(axis=0), [x], lambda a: a.amin(dim=0))


def test_maximum_minimum_ties_split_like_torch():
    """maximum(a, b) at a == b gives each side half the gradient, as torch.maximum."""
    a = np.array([1.0, 2.0, -1.0])
    b = np.array([1.0, 0.0, -1.0])
    compare(ff.maximum, [a, b], torch.maximum)
    compare(ff.minimum, [a, b], torch.minimum)


def test_clip_at_the_bounds_like_torch():
    """At exactly min or max, torch.clamp passes the gradient (1); so do we."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    compare(lambda a: ff.clip(a, -0.5, 0.5), [x], lambda a: torch.clamp(a, -0.5, 0.5))


def test_abs_at_zero_like_torch():
    """L-AD-3: d|x|/dx at 0 is 0 (sign(0)), as torch.abs."""
    compare(lambda a: a.abs(), [np.array([-1.0, 0.0, 2.0])], torch.abs)


def test_pow_edges_like_torch():
    """x**0 has gradient 0 everywhere (also at x = 0); 0**b has d/db = 0 for b >= 0, as torch.pow."""
    compare(lambda a: a**0, [np.array([0.0, 1.0, -2.0])])
    compare(lambda a, b: a**b, [np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])])


def test_astype_casts_value_and_gradient_back(rng):
    """astype is differentiable: the value is cast, the gradient comes back in the input's dtype."""
    x = rng.standard_normal((3, 4))
    out, (t,) = compare(lambda a: a.astype(np.float32) * 2.0, [x], lambda a: a.to(torch.float32) * 2.0,
                        rtol=1e-6, atol=1e-6, out_dtype=np.float32)
    assert t.grad.dtype == np.float64
    cotangent = np.random.default_rng(0).standard_normal((3, 4))  # the one compare() used
    np.testing.assert_array_equal(t.grad, 2.0 * cotangent.astype(np.float32))
    same = ff.Tensor(x, requires_grad=True)
    assert same.astype(np.float64) is same  # no copy, no graph node for a no-op cast


@pytest.mark.parametrize(
    "expr",
    [lambda A, x: A @ x, lambda A, x: A.T + x, lambda A, x: A.T - x, lambda A, x: A.T * x,
     lambda A, x: A.T / x, lambda A, x: A.T ** x],
    ids=["matmul", "add", "sub", "mul", "div", "pow"],
)
def test_numpy_array_on_the_left_defers_to_tensor(expr, rng):
    """ndarray (op) Tensor gives a Tensor in the graph (NumPy defers via __array_ufunc__ = None)."""
    A = rng.uniform(0.5, 2.0, size=(2, 3))
    x = rng.uniform(0.5, 2.0, size=(3, 2))
    compare(lambda x: expr(A, x), [x], lambda x: expr(torch.tensor(A), x))


def test_comparisons_are_masks_without_graph(rng):
    """Comparison operators give boolean masks, never recorded in the graph."""
    x = ff.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    cases = [(x > 0, x.data > 0), (x <= 0.5, x.data <= 0.5), (x == x, np.ones((3, 4), bool)),
             (x != 0, x.data != 0), (x < x.data, np.zeros((3, 4), bool)), (x >= 0, x.data >= 0)]
    for mask, expected in cases:
        assert mask.dtype == bool and not mask.requires_grad
        np.testing.assert_array_equal(mask.data, expected)


def test_tensor_facts_and_conversions():
    """shape/dtype/ndim/size/len/item/tolist/numpy/__array__ mirror the NumPy array underneath."""
    x = ff.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (x.shape, x.ndim, x.size, len(x), x.dtype) == ((2, 3), 2, 6, 2, np.float32)
    assert x.numpy() is x.data
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert ff.Tensor(7.0).item() == 7.0
    np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), x.data.astype(np.float64))
    assert "requires_grad=True" in repr(ff.Tensor([1.0], requires_grad=True))
    assert "float64" in repr(ff.Tensor(np.zeros(2)))
    assert ff.tensor([1, 2]).dtype == np.float32


def test_zero_dim_results_are_arrays():
    """Ops on 0-d tensors keep .data an ndarray (NumPy ufuncs would return scalars)."""
    s = ff.Tensor(np.float64(2.0), requires_grad=True)
    for out in [s.exp(), s * s, s + 1.0, ff.log(s), -s, s**2]:
        assert type(out.data) is np.ndarray and out.shape == ()
    (s * s).backward()
    assert type(s.grad) is np.ndarray and s.grad == 4.0


def test_truth_value_of_multi_element_tensor_is_an_error():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ff.Tensor([1.0, 2.0]))
    assert bool(ff.Tensor([1.0]))


def test_setitem_is_refused():
    """In-place assignment would corrupt arrays saved for backward: a clear TypeError instead."""
    x = ff.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="in-place assignment"):
        x[0] = 3.0
