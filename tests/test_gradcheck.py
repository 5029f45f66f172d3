"""Central differences in float64 for every op and unit (L-AD-2, L-AD-4), and ``ff.gradcheck`` itself.

The second of the three independent checks on every gradient (torch is the
first, hypothesis properties the third).
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
import feedforward.functional as F
from feedforward.tensor import Tensor

IDX = np.array([1, 1, 0, 2])
MASK = np.array([[True, False, True], [False, True, True]])
LABELS = np.array([0, 2])
BIN = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
W = np.array([0.5, 2.0])

# name, function, input shapes, domain ("real", "positive", "away" from kinks)
OPS = [
    ("add_broadcast", lambda a, b: a + b, [(2, 3), (3,)], "real"),
    ("sub_broadcast", lambda a, b: a - b, [(2, 1), (1, 3)], "real"),
    ("mul_broadcast", lambda a, b: a * b, [(2, 3), (2, 1)], "real"),
    ("div", lambda a, b: a / b, [(2, 3), (3,)], "positive"),
    ("neg", lambda a: -a, [(2, 3)], "real"),
    ("pow_scalar", lambda a: a**3, [(2, 3)], "real"),
    ("pow_fractional", lambda a: a**1.5, [(2, 3)], "positive"),
    ("pow_tensor", lambda a, b: a**b, [(2, 3), (2, 3)], "positive"),
    ("rpow", lambda a: 3.0**a, [(2, 3)], "real"),
    ("matmul_2d", lambda a, b: a @ b, [(2, 3), (3, 2)], "real"),
    ("matmul_1d", lambda a, b: a @ b, [(3,), (3, 2)], "real"),
    ("matmul_batched_broadcast", lambda a, b: a @ b, [(2, 1, 2, 3), (2, 3, 2)], "real"),
    ("getitem_slice", lambda a: a[:, 1:], [(2, 3)], "real"),
    ("getitem_repeated", lambda a: a[IDX], [(3, 2)], "real"),
    ("getitem_mask", lambda a: a[MASK], [(2, 3)], "real"),
    ("sum_axis_keepdims", lambda a: a.sum(axis=1, keepdims=True), [(2, 3)], "real"),
    ("mean_axes", lambda a: a.mean(axis=(0, 2)), [(2, 3, 2)], "real"),
    ("max_axis", lambda a: a.max(axis=0), [(3, 2)], "real"),
    ("min_all", lambda a: a.min(), [(3, 2)], "real"),
    ("exp", ff.exp, [(2, 3)], "real"),
    ("log", ff.log, [(2, 3)], "positive"),
    ("abs", ff.abs, [(2, 3)], "away"),
    ("maximum", ff.maximum, [(2, 3), (3,)], "real"),
    ("minimum", ff.minimum, [(2, 3), (2, 1)], "real"),
    ("where", lambda a, b: ff.where(MASK, a, b), [(2, 3), (3,)], "real"),
    ("clip", lambda a: ff.clip(a, -0.5, 0.5), [(2, 3)], "away"),
    ("reshape", lambda a: a.reshape(3, 2) * np.arange(6.0).reshape(3, 2), [(2, 3)], "real"),
    ("transpose", lambda a: a.transpose(2, 0, 1) * np.arange(12.0).reshape(2, 2, 3), [(2, 3, 2)], "real"),
    ("T", lambda a: a.T @ a, [(2, 3)], "real"),
    ("concatenate", lambda a, b: ff.concatenate([a, b], axis=0) ** 2, [(1, 3), (2, 3)], "real"),
    ("stack", lambda a, b: ff.stack([a, b], axis=1) ** 2, [(2, 3), (2, 3)], "real"),
    ("astype_roundtrip", lambda a: a.astype(np.float64) * a, [(2, 3)], "real"),
    # units
    ("relu", F.relu, [(2, 3)], "away"),
    ("abs_rectify", F.abs_rectify, [(2, 3)], "away"),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.1), [(2, 3)], "away"),
    ("prelu_shared", F.prelu, [(2, 3), (1,)], "away"),
    ("prelu_per_unit", F.prelu, [(2, 3), (3,)], "away"),
    ("rrelu_eval", F.rrelu, [(2, 3)], "away"),
    ("rrelu_train_fixed_seed", lambda a: F.rrelu(a, training=True, rng=0), [(2, 3)], "away"),
    ("elu", F.elu, [(2, 3)], "away"),
    ("sigmoid", F.sigmoid, [(2, 3)], "real"),
    ("tanh", F.tanh, [(2, 3)], "real"),
    ("softplus", F.softplus, [(2, 3)], "real"),
    ("logsumexp", F.logsumexp, [(2, 3)], "real"),
    ("softmax", lambda a: F.softmax(a) * np.arange(6.0).reshape(2, 3), [(2, 3)], "real"),
    ("log_softmax", lambda a: F.log_softmax(a, axis=0) * np.arange(6.0).reshape(2, 3), [(2, 3)], "real"),
    ("linear", F.linear, [(2, 3), (3, 2), (2,)], "real"),
    # losses
    ("mse_loss", lambda a: F.mse_loss(a, BIN), [(2, 3)], "real"),
    ("mse_loss_weighted", lambda a: F.mse_loss(a, BIN, sample_weight=W), [(2, 3)], "real"),
    ("bce_with_logits", lambda a: F.binary_cross_entropy_with_logits(a, BIN), [(2, 3)], "real"),
    ("bce_weighted_sum",
     lambda a: F.binary_cross_entropy_with_logits(a, BIN, reduction="sum", sample_weight=W),
     [(2, 3)], "real"),
    ("cross_entropy", lambda a: F.cross_entropy(a, LABELS), [(2, 3)], "real"),
    ("cross_entropy_weighted", lambda a: F.cross_entropy(a, LABELS, weight=np.array([1.0, 2.0, 3.0]),
                                                         sample_weight=W), [(2, 3)], "real"),
    ("cross_entropy_none", lambda a: F.cross_entropy(a, LABELS, reduction="none") * np.array([1.0, -2.0]),
     [(2, 3)], "real"),
]


def _inputs(shapes, domain, seed):
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if domain == "positive":
            x = rng.uniform(0.5, 2.0, size=shape)
        elif domain == "away":
            x = rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        else:
            x = rng.standard_normal(shape)
        out.append(ff.Tensor(x, requires_grad=True))
    return out


@pytest.mark.parametrize("name, fn, shapes, domain", OPS, ids=[o[0] for o in OPS])
def test_gradcheck_every_op(name, fn, shapes, domain):
    """L-AD-2: backprop agrees with float64 central differences for every op, unit and loss."""
    result = ff.gradcheck(fn, _inputs(shapes, domain, seed=len(name)))
    assert result.ok, str(result)
    assert len(result.max_rel_error) == len(shapes)
    assert max(result.max_rel_error) < 1e-6


def test_gradcheck_detects_a_wrong_gradient():
    """L-AD-4: a deliberately wrong rule fails, and the report names the worst error per input."""

    def bad_square(a, b):
        def backward(g):
            return g * a.data, g * 2 * b.data  # wrong for a (missing factor 2), right for b

        return Tensor._make(a.data**2 + b.data**2, (a, b), backward, "bad_square")

    a, b = _inputs([(3,), (3,)], "positive", seed=0)
    result = ff.gradcheck(bad_square, [a, b])
    assert not result.ok and not bool(result)
    assert result.max_rel_error[0] > 0.1 and result.max_rel_error[1] < 1e-8
    text = str(result)
    assert "FAILED" in text and "input 0" in text and "input 1" in text
    np.testing.assert_allclose(result.numeric[0], 2 * a.data, rtol=1e-6)
    np.testing.assert_allclose(result.analytic[0], a.data)
    with pytest.raises(AssertionError, match="gradcheck FAILED"):
        ff.gradcheck(bad_square, [a, b], raise_exception=True)


def test_gradcheck_reports_passed_and_restores_inputs():
    x = ff.Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    before = x.data.copy()
    result = ff.gradcheck(lambda x: (x * x).exp().sum(), [x])
    assert result.ok and "passed" in str(result)
    np.testing.assert_array_equal(x.data, before)  # every perturbation was undone


def test_gradcheck_non_contiguous_input():
    """The perturbation must reach f also when the input's array is a transposed view."""
    data = np.random.default_rng(0).standard_normal((3, 4)).T
    assert not data.flags.c_contiguous
    x = ff.Tensor(data, requires_grad=True)
    result = ff.gradcheck(lambda x: (x * x * np.arange(12.0).reshape(4, 3)).sum(), [x])
    assert result.ok, str(result)


def test_gradcheck_holds_constants_fixed():
    """Inputs without requires_grad are constants: checked only the others, listed as None."""
    x = ff.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = ff.Tensor(np.array([3.0, 4.0]))
    result = ff.gradcheck(lambda x, c: x * c, [x, c])
    assert result.ok and len(result.max_rel_error) == 2 and result.max_rel_error[1] is None
    assert result.analytic[1] is None and result.numeric[1] is None
    np.testing.assert_allclose(result.numeric[0], [3.0, 4.0], rtol=1e-8)
    assert "input 1: constant" in str(result)


def test_gradcheck_numbers_inputs_by_their_position_in_inputs():
    """Issue 10 (audit): with a constant first, a wrong gradient of inputs[2] is reported as input 2.

    The old report numbered only the inputs that need a gradient, so it blamed "input 1".
    """

    def bad(c, a, b):
        def backward(g):
            return None, g * 2 * a.data, g * b.data  # right for a, wrong for b (missing 2)

        return Tensor._make(c.data + a.data**2 + b.data**2, (c, a, b), backward, "bad")

    c = ff.Tensor(np.ones(3))
    a, b = _inputs([(3,), (3,)], "positive", seed=1)
    result = ff.gradcheck(bad, [c, a, b])
    assert not result.ok
    assert result.max_rel_error[0] is None
    assert result.max_rel_error[1] < 1e-8 and result.max_rel_error[2] > 0.1
    text = str(result)
    assert "input 0: constant" in text
    worst = max((e, i) for i, e in enumerate(result.max_rel_error) if e is not None)[1]
    assert worst == 2 and f"input 2: {result.max_rel_error[2]:.2e}" in text


def test_gradcheck_validates_its_numbers():
    """Issue 10: eps, atol, rtol and raise_exception through the validation layer."""
    x = ff.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got 0.0"):
        ff.gradcheck(lambda x: x * 2.0, [x], eps=0.0)
    with pytest.raises(TypeError, match=r"atol must be a finite number >= 0, got '1e-5' \(str\)"):
        ff.gradcheck(lambda x: x * 2.0, [x], atol="1e-5")
    with pytest.raises(ValueError, match=r"rtol must be a finite number >= 0, got nan"):
        ff.gradcheck(lambda x: x * 2.0, [x], rtol=float("nan"))
    with pytest.raises(TypeError, match="raise_exception must be True or False, got 1"):
        ff.gradcheck(lambda x: x * 2.0, [x], raise_exception=1)
    with pytest.raises(TypeError, match="f must be a callable"):
        ff.gradcheck("x * 2", [x])
    with pytest.raises(ValueError, match="eps must be"):
        ff.numeric_grad(lambda x: x.sum(), [x], eps=-1e-6)


def test_numeric_grad_of_known_function():
    x = ff.Tensor(np.array([0.0, 1.0, -2.0]))
    (g,) = ff.numeric_grad(lambda x: (x**3).sum(), [x])
    np.testing.assert_allclose(g, 3 * x.data**2, rtol=1e-7, atol=1e-8)


def test_gradcheck_rejects_float32_and_no_grad_inputs():
    with pytest.raises(TypeError, match="float64"):
        ff.gradcheck(lambda x: x * 2.0, [ff.Tensor([1.0, 2.0], requires_grad=True)])
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        ff.gradcheck(lambda x: x * 2.0, [ff.Tensor(np.ones(2))])
