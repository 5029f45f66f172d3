"""Hidden units, the softmax family and ``linear`` against PyTorch (L-ACT-1..5, L-AD-2, L-AD-3, L-OUT-3).

Values and gradients in float64 on shapes with size-1 dims; the kink at 0 of
every ReLU-type unit; numerical stability in float32; each fused rule
against its unfused composition of primitives.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare, randn, torch_module

import feedforward as ff
import feedforward.functional as F

torch = torch_module()
TF = torch.nn.functional

ACTIVATION_CASES = [
    # name, ff function, torch function
    ("relu", F.relu, torch.relu),
    ("relu_method", lambda z: z.relu(), torch.relu),
    ("abs_rectify", F.abs_rectify, torch.abs),
    ("leaky_relu_default", F.leaky_relu, TF.leaky_relu),
    ("leaky_relu_0.2", lambda z: F.leaky_relu(z, 0.2), lambda z: TF.leaky_relu(z, 0.2)),
    ("generalized_relu_-0.5", lambda z: F.generalized_relu(z, -0.5),
     lambda z: torch.where(z > 0, z, -0.5 * z)),
    ("rrelu_eval", F.rrelu, lambda z: TF.rrelu(z, training=False)),
    ("rrelu_eval_interval", lambda z: F.rrelu(z, 0.1, 0.3), lambda z: TF.rrelu(z, 0.1, 0.3, training=False)),
    ("elu", F.elu, TF.elu),
    ("elu_alpha", lambda z: F.elu(z, 0.5), lambda z: TF.elu(z, 0.5)),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("sigmoid_method", lambda z: z.sigmoid(), torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("tanh_method", lambda z: z.tanh(), torch.tanh),
    ("softplus", F.softplus, TF.softplus),
    ("identity", lambda z: F.identity(z) * 1.0, lambda z: z * 1.0),
    ("softmax", F.softmax, lambda z: torch.softmax(z, dim=-1)),
    ("softmax_axis0", lambda z: F.softmax(z, axis=0), lambda z: torch.softmax(z, dim=0)),
    ("softmax_method", lambda z: z.softmax(), lambda z: torch.softmax(z, dim=-1)),
    ("log_softmax", F.log_softmax, lambda z: torch.log_softmax(z, dim=-1)),
    ("log_softmax_axis0", lambda z: F.log_softmax(z, axis=0), lambda z: torch.log_softmax(z, dim=0)),
    ("log_softmax_method", lambda z: z.log_softmax(), lambda z: torch.log_softmax(z, dim=-1)),
    ("logsumexp", F.logsumexp, lambda z: torch.logsumexp(z, dim=-1)),
    ("logsumexp_axis0_keepdims", lambda z: F.logsumexp(z, axis=0, keepdims=True),
     lambda z: torch.logsumexp(z, dim=0, keepdim=True)),
    ("logsumexp_all", lambda z: F.logsumexp(z, axis=None),
     lambda z: torch.logsumexp(z, dim=tuple(range(z.ndim)))),
]

SHAPES = [(4, 5), (1, 3), (6, 1), (2, 3, 4), (7,)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, fn, torch_fn", ACTIVATION_CASES, ids=[c[0] for c in ACTIVATION_CASES])
def test_activation_matches_torch(name, fn, torch_fn, shape, rng):
    """L-ACT-1..5: value and gradient equal torch's in float64 (random z, away from exact zeros)."""
    compare(fn, [randn(rng, shape) * 3.0], torch_fn)


# ------------------------------------------------------------ kink at 0 (L-AD-3)
KINK_CASES = [
    # name, ff function, torch function, the one-sided derivative at z = 0
    ("relu", F.relu, torch.relu, 0.0),
    ("leaky_relu", lambda z: F.leaky_relu(z, 0.05), lambda z: TF.leaky_relu(z, 0.05), 0.05),
    ("elu", lambda z: F.elu(z, 0.7), lambda z: TF.elu(z, 0.7), 0.7),
    ("rrelu_eval", lambda z: F.rrelu(z, 0.1, 0.3), lambda z: TF.rrelu(z, 0.1, 0.3, training=False), 0.2),
    ("abs_rectify", F.abs_rectify, torch.abs, 0.0),
]


@pytest.mark.parametrize("name, fn, torch_fn, d0", KINK_CASES, ids=[c[0] for c in KINK_CASES])
def test_kink_at_zero_one_sided_like_torch(name, fn, torch_fn, d0):
    """L-AD-3: at z = 0 ReLU-type units take PyTorch's one-sided derivative (relu 0, leaky a, elu alpha)."""
    z = np.array([-1.0, 0.0, 0.0, 1.0])
    compare(fn, [z], torch_fn)
    t = ff.Tensor(z, requires_grad=True)
    fn(t).sum().backward()
    assert t.grad[1] == d0 and t.grad[2] == d0


def test_relu_is_not_maximum_at_zero():
    """tinygrad's trap: maximum(z, 0) splits the gradient (1/2) at 0; relu must give 0."""
    z = ff.Tensor(np.zeros(3), requires_grad=True)
    F.relu(z).sum().backward()
    np.testing.assert_array_equal(z.grad, 0.0)
    w = ff.Tensor(np.zeros(3), requires_grad=True)
    ff.maximum(w, 0.0).sum().backward()
    np.testing.assert_array_equal(w.grad, 0.5)


# ------------------------------------------------------------------ PReLU
@pytest.mark.parametrize("n_slopes", [1, 5], ids=["shared", "per_unit"])
def test_prelu_matches_torch_including_slope_gradient(n_slopes, rng):
    """L-ACT-2: PReLU value, d/dz and d/da (shared slope or one per unit) equal torch's."""
    z = rng.standard_normal((6, 5)) * 2.0
    z[0, :] = 0.0  # the kink: d/dz = a, d/da = 0
    a = rng.uniform(0.05, 0.5, size=n_slopes)
    compare(F.prelu, [z, a], TF.prelu)
    tz, ta = ff.Tensor(z, requires_grad=True), ff.Tensor(a, requires_grad=True)
    F.prelu(tz, ta).sum().backward()
    np.testing.assert_array_equal(tz.grad[0], np.broadcast_to(a, (5,)))  # left slope a at the kink
    expected_da = np.minimum(z, 0).sum(axis=0)  # d/da sum(a min(0, z))
    np.testing.assert_allclose(ta.grad, expected_da.sum(keepdims=True) if n_slopes == 1 else expected_da)


def test_prelu_three_dimensional_input_per_unit(rng):
    """Per-unit slopes broadcast along the last axis for any leading shape."""
    z = rng.standard_normal((2, 3, 4))
    a = rng.uniform(0.1, 0.4, size=4)
    compare(F.prelu, [z, a], lambda z, a: torch.where(z > 0, z, a * z))


# ------------------------------------------------------------------ RReLU
def test_rrelu_train_draws_one_slope_per_negative_element():
    """L-ACT-2: in training out = z * a with a ~ U(lower, upper) per element; the gradient is that same a."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((50, 40))
    z[0, :4] = 0.0
    lower, upper = 0.1, 0.3
    t = ff.Tensor(z, requires_grad=True)
    out = F.rrelu(t, lower, upper, training=True, rng=7)
    out.backward(np.ones_like(z))
    neg, pos = z < 0, z > 0
    # The slopes this call sampled, read off the output (z < 0) and the gradient (z == 0).
    slopes = np.ones_like(z)
    slopes[neg] = out.data[neg] / z[neg]
    slopes[z == 0] = t.grad[z == 0]
    assert np.all((lower <= slopes[~pos]) & (slopes[~pos] <= upper))
    assert slopes[neg].std() > 0.03  # one random slope per element, not the mean slope
    assert abs(slopes[neg].mean() - (lower + upper) / 2) < 0.01
    np.testing.assert_array_equal(out.data[pos], z[pos])
    # Torch autograd of the same function with the same sampled slopes.
    tz = torch.tensor(z, requires_grad=True)
    tout = tz * torch.tensor(slopes)
    tout.backward(torch.ones_like(tz))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(t.grad, tz.grad.numpy(), rtol=1e-14)


def test_rrelu_train_differs_between_calls_but_is_seeded():
    z = -np.ones((4, 4))
    gen = np.random.default_rng(3)
    a = F.rrelu(ff.Tensor(z), training=True, rng=gen).data
    b = F.rrelu(ff.Tensor(z), training=True, rng=gen).data
    c = F.rrelu(ff.Tensor(z), training=True, rng=np.random.default_rng(3)).data
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_rrelu_eval_uses_the_mean_slope():
    out = F.rrelu(ff.Tensor(np.array([-2.0, 3.0])), 0.1, 0.3, training=False)
    np.testing.assert_allclose(out.data, [-0.4, 3.0])


# -------------------------------------------------------------- linear (fused)
@pytest.mark.parametrize("x_shape", [(5, 3), (1, 3), (2, 4, 3), (3,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(x_shape, bias, rng):
    """L-ARCH-1: the fused x @ W + b equals torch's matmul + add (W of shape (in, out))."""
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal((3, 2)), rng.standard_normal(2)
    if bias:
        compare(F.linear, [x, W, b], lambda x, W, b: x @ W + b)
    else:
        compare(F.linear, [x, W], lambda x, W: x @ W)


def test_linear_skips_input_gradient_when_not_needed(rng):
    """The network input needs no gradient: linear's backward returns None for it."""
    x = ff.Tensor(rng.standard_normal((4, 3)))
    W = ff.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = ff.Tensor(rng.standard_normal(2), requires_grad=True)
    out = F.linear(x, W, b)
    gx, gW, gb = out._backward(np.ones((4, 2)))
    assert gx is None
    np.testing.assert_allclose(gW, x.data.T @ np.ones((4, 2)))
    np.testing.assert_allclose(gb, [4.0, 4.0])


def test_linear_equals_unfused_composition(rng):
    """The fused rule against its composition of primitives (matmul then add)."""
    x = rng.standard_normal((6, 4))
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    fused = [ff.Tensor(a, requires_grad=True) for a in (x, W, b)]
    plain = [ff.Tensor(a, requires_grad=True) for a in (x, W, b)]
    g = rng.standard_normal((6, 3))
    F.linear(*fused).backward(g)
    (plain[0] @ plain[1] + plain[2]).backward(g)
    for f, p in zip(fused, plain):
        np.testing.assert_allclose(f.grad, p.grad, rtol=1e-13)


# ------------------------------------------------------------------ stability
def test_sigmoid_finite_and_exact_at_extremes():
    """L-ACT-4: sigmoid(+-1000) is exactly 1 and 0, finite, no overflow warning, in both dtypes."""
    for dtype in (np.float32, np.float64):
        z = ff.Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype), requires_grad=True)
        s = F.sigmoid(z)
        assert s.dtype == dtype
        assert s.data[0] == 0.0 and s.data[-1] == 1.0 and s.data[2] == 0.5
        s.sum().backward()
        assert np.all(np.isfinite(z.grad)) and z.grad[0] == 0.0 and z.grad[-1] == 0.0
    tiny = F.sigmoid(ff.Tensor(np.array([-50.0]))).data[0]
    assert tiny == pytest.approx(np.exp(-50.0), rel=1e-12)  # the left tail keeps its precision


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_equals_two_sigmoid_two_z_minus_one(dtype):
    """L-ACT-5: tanh(z) == 2 sigmoid(2z) - 1 to float precision, over the whole range."""
    z = np.linspace(-30, 30, 2001).astype(dtype)
    lhs = F.tanh(ff.Tensor(z)).data
    rhs = (2 * F.sigmoid(ff.Tensor(2 * z)) - 1).data
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=4 * eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_stable_at_large_magnitude(dtype):
    """softplus(z) = z for large z, e^z for very negative z, never inf/nan; gradient is sigmoid."""
    z = ff.Tensor(np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4], dtype=dtype), requires_grad=True)
    out = F.softplus(z)
    assert out.dtype == dtype and np.all(np.isfinite(out.data))
    np.testing.assert_allclose(out.data[[4, 5, 6]], [40.0, 800.0, 1e4], rtol=np.finfo(dtype).eps)
    assert out.data[0] == 0.0 and out.data[3] == pytest.approx(np.log(2.0), rel=1e-6)
    assert out.data[2] == pytest.approx(np.exp(-40.0), rel=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(z.grad, F.sigmoid(ff.Tensor(z.data)).data)


def test_elu_no_overflow_for_large_positive_input():
    z = ff.Tensor(np.array([1000.0, -1000.0], dtype=np.float32), requires_grad=True)
    out = F.elu(z)
    np.testing.assert_array_equal(out.data, [1000.0, -1.0])
    out.sum().backward()
    np.testing.assert_array_equal(z.grad, [1.0, 0.0])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.logsumexp], ids=["softmax", "log_softmax", "lse"])
def test_softmax_family_finite_for_huge_logits_float32(fn):
    z = ff.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32), requires_grad=True)
    out = fn(z)
    assert out.dtype == np.float32 and np.all(np.isfinite(out.data))
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert np.all(np.isfinite(z.grad))


def test_softmax_values_for_huge_logits():
    p = F.softmax(ff.Tensor(np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]], dtype=np.float32))).data
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-6)
    lp = F.log_softmax(ff.Tensor(np.array([[1e4, -1e4, 0.0]], dtype=np.float32))).data
    np.testing.assert_array_equal(lp, [[0.0, -2e4, -1e4]])
    # The O(1) part survives next to 1e4 in float32 (z - m first, then - log sum).
    lp2 = F.log_softmax(ff.Tensor(np.array([[1e4, 1e4, -1e4]], dtype=np.float32))).data
    np.testing.assert_allclose(lp2, [[-np.log(2), -np.log(2), -2e4 - np.log(2)]], rtol=1e-6)


# ------------------------------------------- fused rules vs their compositions
def _same_value_and_grad(fused, composed, z, rtol=1e-12):
    a = ff.Tensor(z, requires_grad=True)
    b = ff.Tensor(z, requires_grad=True)
    g = np.random.default_rng(1).standard_normal(fused(ff.Tensor(z)).shape)
    fa, cb = fused(a), composed(b)
    np.testing.assert_allclose(fa.data, cb.data, rtol=rtol, atol=1e-13)
    fa.backward(g)
    cb.backward(g)
    np.testing.assert_allclose(a.grad, b.grad, rtol=rtol, atol=1e-13)


FUSED = [
    ("log_softmax = z - logsumexp", F.log_softmax, lambda z: z - F.logsumexp(z, axis=-1, keepdims=True)),
    ("log_softmax = z - log sum exp",
     F.log_softmax, lambda z: z - ff.log(ff.exp(z).sum(axis=-1, keepdims=True))),
    ("softmax = exp(log_softmax)", F.softmax, lambda z: ff.exp(F.log_softmax(z))),
    ("softmax = exp / sum exp", F.softmax, lambda z: ff.exp(z) / ff.exp(z).sum(axis=-1, keepdims=True)),
    ("logsumexp = log sum exp", F.logsumexp, lambda z: ff.log(ff.exp(z).sum(axis=-1))),
    ("sigmoid = 1 / (1 + e^-z)", F.sigmoid, lambda z: 1.0 / (1.0 + ff.exp(-z))),
    ("softplus = log(1 + e^z)", F.softplus, lambda z: ff.log(1.0 + ff.exp(z))),
    ("tanh = 2 sigmoid(2z) - 1", F.tanh, lambda z: 2.0 * F.sigmoid(2.0 * z) - 1.0),
    ("relu = where(z > 0, z, 0)", F.relu, lambda z: ff.where(z.data > 0, z, 0.0)),
    ("leaky = max(0,z) + a min(0,z)", lambda z: F.leaky_relu(z, 0.1),
     lambda z: ff.where(z.data > 0, z, 0.0) + 0.1 * ff.where(z.data > 0, 0.0, z)),
    ("elu = where(z > 0, z, e^z - 1)", F.elu,
     lambda z: ff.where(z.data > 0, z, ff.exp(ff.minimum(z, 0.0)) - 1.0)),
    ("abs_rectify = abs", F.abs_rectify, ff.abs),
]


@pytest.mark.parametrize("name, fused, composed", FUSED, ids=[c[0] for c in FUSED])
def test_fused_rule_equals_composition(name, fused, composed, rng):
    """STYLE 1: each fused rule agrees with its composition of primitives (value and gradient)."""
    _same_value_and_grad(fused, composed, rng.standard_normal((4, 6)) * 3.0, rtol=1e-11)


def test_softmax_rows_sum_to_one_and_gradient_of_sum_is_zero(rng):
    z = ff.Tensor(rng.standard_normal((5, 7)) * 10, requires_grad=True)
    p = F.softmax(z)
    np.testing.assert_allclose(p.data.sum(axis=1), 1.0, rtol=1e-14)
    p.sum().backward()  # sum of a distribution is constant: zero gradient
    np.testing.assert_allclose(z.grad, 0.0, atol=1e-14)


def test_rrelu_rejects_bad_interval_and_missing_rng():
    with pytest.raises(ValueError, match="lower <= upper"):
        F.rrelu(ff.Tensor([1.0]), lower=0.5, upper=0.1)
    with pytest.raises(ValueError, match="explicit rng"):
        F.rrelu(ff.Tensor([1.0]), training=True)
