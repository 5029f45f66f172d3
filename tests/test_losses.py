"""Losses against PyTorch: mse_loss, binary_cross_entropy_with_logits, cross_entropy (L-OUT-1..3, L-AD-2).

Every reduction, per-example ``sample_weight`` normalised as scikit-learn
does (``sum_i w_i l_i / sum_i w_i``), per-class ``weight`` as torch's
``weight=``, float32 stability for logits of +-1e4, and each fused loss
against its unfused composition.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compare, torch_module

import feedforward as ff
import feedforward.functional as F

torch = torch_module()
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _tw(w):
    return torch.tensor(w)


# ---------------------------------------------------------------- mse_loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 3), (5, 1), (7,), (2, 3, 2)], ids=str)
def test_mse_loss_matches_torch(shape, reduction, rng):
    """L-OUT-1: mean squared error, value and gradient w.r.t. the prediction."""
    z, y = rng.standard_normal(shape), rng.standard_normal(shape)
    compare(lambda z, y: F.mse_loss(z, y, reduction=reduction), [z, y],
            lambda z, y: TF.mse_loss(z, y, reduction=reduction), const=(1,))


def test_mse_loss_accepts_vector_target_for_single_output(rng):
    """(n,) targets for an (n, 1) output are the same targets, not a broadcast to (n, n)."""
    z, y = rng.standard_normal((5, 1)), rng.standard_normal(5)
    compare(lambda z, y: F.mse_loss(z, y), [z, y], lambda z, y: TF.mse_loss(z, y[:, None]), const=(1,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 3), (6, 1), (6,)], ids=str)
def test_mse_loss_sample_weight_sklearn_normalisation(shape, reduction, rng):
    """Per-example weights: mean = sum_i w_i l_i / sum_i w_i, with l_i the mean over the example's outputs."""
    z, y = rng.standard_normal(shape), rng.standard_normal(shape)
    w = rng.uniform(0.0, 3.0, size=shape[0])

    def reference(z, y):
        elem = TF.mse_loss(z, y, reduction="none")
        wb = _tw(w).reshape((-1,) + (1,) * (elem.ndim - 1))
        if reduction == "none":
            return elem * wb
        if reduction == "sum":
            return (elem * wb).sum()
        per_example = elem.reshape(elem.shape[0], -1).mean(dim=1)
        return (_tw(w) * per_example).sum() / _tw(w).sum()

    compare(lambda z, y: F.mse_loss(z, y, reduction=reduction, sample_weight=w), [z, y], reference,
            const=(1,))


# ----------------------------------------------------------------- bce
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8, 1), (8,), (5, 3)], ids=str)
def test_bce_with_logits_matches_torch(shape, reduction, rng):
    """L-OUT-2: hard and soft targets, every reduction."""
    z = rng.standard_normal(shape) * 4
    for y in (rng.integers(0, 2, size=shape).astype(float), rng.uniform(0, 1, size=shape)):
        compare(lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction=reduction), [z, y],
                lambda z, y: TF.binary_cross_entropy_with_logits(z, y, reduction=reduction), const=(1,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_sample_weight_sklearn_normalisation(reduction, rng):
    z = rng.standard_normal((7, 2)) * 3
    y = rng.integers(0, 2, size=(7, 2)).astype(float)
    w = rng.uniform(0.1, 2.0, size=7)

    def reference(z, y):
        elem = TF.binary_cross_entropy_with_logits(z, y, reduction="none") * _tw(w)[:, None]
        if reduction == "none":
            return elem
        return elem.sum() if reduction == "sum" else elem.sum() / (2 * _tw(w).sum())

    compare(lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction=reduction, sample_weight=w),
            [z, y], reference, const=(1,))


def test_bce_equals_softplus_of_signed_logit(rng):
    """L-OUT-2: the fused loss equals softplus((1 - 2y) z) for y in {0, 1}, value and gradient."""
    z = rng.standard_normal((20, 3)) * 5
    y = rng.integers(0, 2, size=(20, 3)).astype(float)
    a, b = ff.Tensor(z, requires_grad=True), ff.Tensor(z, requires_grad=True)
    fused = F.binary_cross_entropy_with_logits(a, y)
    composed = F.softplus((1 - 2 * y) * b).mean()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-13)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)
    # ... and -log sigmoid((2y - 1) z), the lecture's form (fine at moderate z).
    c = ff.Tensor(z, requires_grad=True)
    lecture = -(ff.log(F.sigmoid((2 * y - 1) * c))).mean()
    np.testing.assert_allclose(lecture.item(), fused.item(), rtol=1e-10)


def test_bce_gradient_useful_when_wrong_and_saturated_when_right():
    """L-OUT-2: saturates only when the answer is right; wrong sign keeps gradient near -+1."""
    z = ff.Tensor(np.array([20.0, -20.0, 20.0, -20.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    loss.backward()
    np.testing.assert_allclose(z.grad, [-2.06e-9, 2.06e-9, 1.0, -1.0], rtol=1e-2, atol=1e-12)
    per = F.binary_cross_entropy_with_logits(ff.Tensor(z.data), y, reduction="none").data
    assert 0 < per[0] < 1e-8  # tiny but not rounded to zero
    np.testing.assert_allclose(per[2:], 20.0, rtol=1e-8)


# ----------------------------------------------------------- cross_entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n, C", [(6, 4), (1, 3), (5, 1), (9, 2)])
def test_cross_entropy_matches_torch(n, C, reduction, rng):
    """L-OUT-3: -log softmax(z)_y from integer labels, every reduction."""
    z, y = rng.standard_normal((n, C)) * 3, rng.integers(0, C, size=n)
    compare(lambda z, y: F.cross_entropy(z, y, reduction=reduction), [z, y],
            lambda z, y: TF.cross_entropy(z, y, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_weight_matches_torch_weight(reduction, rng):
    """Per-class ``weight`` behaves as torch's ``weight=`` (mean divides by sum of w[y])."""
    z, y = rng.standard_normal((10, 3)), rng.integers(0, 3, size=10)
    cw = np.array([0.2, 1.0, 3.0])
    compare(lambda z, y: F.cross_entropy(z, y, weight=cw, reduction=reduction), [z, y],
            lambda z, y: TF.cross_entropy(z, y, weight=_tw(cw), reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_class_weight", [False, True])
def test_cross_entropy_sample_weight_sklearn_normalisation(reduction, with_class_weight, rng):
    z, y = rng.standard_normal((9, 4)), rng.integers(0, 4, size=9)
    sw = rng.uniform(0.0, 2.0, size=9)
    cw = np.array([1.0, 0.5, 2.0, 1.5]) if with_class_weight else None
    w = sw * (cw[y] if with_class_weight else 1.0)

    def reference(z, y):
        per = TF.cross_entropy(z, y, reduction="none") * _tw(w)
        if reduction == "none":
            return per
        return per.sum() if reduction == "sum" else per.sum() / _tw(w).sum()

    compare(lambda z, y: F.cross_entropy(z, y, weight=cw, reduction=reduction, sample_weight=sw),
            [z, y], reference)


def test_cross_entropy_equals_negative_log_softmax_gathered(rng):
    """L-OUT-3: the fused loss and gradient softmax(z) - onehot(y) against the composition."""
    z, y = rng.standard_normal((12, 5)) * 4, rng.integers(0, 5, size=12)
    a, b = ff.Tensor(z, requires_grad=True), ff.Tensor(z, requires_grad=True)
    fused = F.cross_entropy(a, y)
    composed = -(F.log_softmax(b)[np.arange(12), y]).mean()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-13)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(a.grad, (F.softmax(ff.Tensor(z)).data - onehot) / 12, rtol=1e-12)


def test_mse_equals_composition(rng):
    z, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    a, b = ff.Tensor(z, requires_grad=True), ff.Tensor(z, requires_grad=True)
    fused, composed = F.mse_loss(a, y), ((b - y) ** 2).mean()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-14)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-13)


# ------------------------------------------------------------ sample weights
LOSSES = {
    "mse": (lambda z, y, **kw: F.mse_loss(z, y, **kw), lambda rng, n: rng.standard_normal((n, 2))),
    "bce": (lambda z, y, **kw: F.binary_cross_entropy_with_logits(z, y, **kw),
            lambda rng, n: rng.integers(0, 2, size=(n, 2)).astype(float)),
    "ce": (lambda z, y, **kw: F.cross_entropy(z, y, **kw), lambda rng, n: rng.integers(0, 2, size=n)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES, ids=str)
def test_unit_sample_weights_equal_no_weights(loss, reduction, rng):
    fn, target = LOSSES[loss]
    z, y = rng.standard_normal((6, 2)), target(rng, 6)
    plain = fn(ff.Tensor(z), y, reduction=reduction).data
    ones = fn(ff.Tensor(z), y, reduction=reduction, sample_weight=np.ones(6)).data
    np.testing.assert_allclose(ones, plain, rtol=1e-14)


@pytest.mark.parametrize("loss", LOSSES, ids=str)
def test_integer_sample_weights_equal_repeated_rows(loss, rng):
    """scikit-learn's meaning of sample_weight: weight 3 counts the example three times."""
    fn, target = LOSSES[loss]
    z, y = rng.standard_normal((5, 2)), target(rng, 5)
    w = np.array([1, 3, 0, 2, 1])
    a = ff.Tensor(z, requires_grad=True)
    fn(a, y, sample_weight=w.astype(float)).backward()
    rep = np.repeat(np.arange(5), w)
    b = ff.Tensor(z, requires_grad=True)
    fn(b[rep], y[rep]).backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-16)
    assert np.all(a.grad[2] == 0)  # a zero weight removes the example
    np.testing.assert_allclose(fn(ff.Tensor(z), y, sample_weight=2.5 * w).item(),
                               fn(ff.Tensor(z), y, sample_weight=w).item(), rtol=1e-13)  # scale-free


# ------------------------------------------------------------- stability
def test_bce_with_logits_float32_extreme_logits():
    """L-OUT-2: finite and correct in float32 for logits +-1e4 (no overflow, no NaN)."""
    z = ff.Tensor(np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=np.float32), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    per = F.binary_cross_entropy_with_logits(ff.Tensor(z.data), y, reduction="none").data
    assert per.dtype == np.float32
    np.testing.assert_allclose(per, [0.0, 0.0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    loss = F.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(z.grad, np.array([0.0, 0.0, 1.0, -1.0, -0.5]) / 5, rtol=1e-6)


def test_cross_entropy_float32_extreme_logits():
    """L-OUT-3: finite and correct in float32 for logits +-1e4."""
    z64 = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    y = np.array([0, 1, 0, 1])
    z = ff.Tensor(z64.astype(np.float32), requires_grad=True)
    per = F.cross_entropy(ff.Tensor(z.data), y, reduction="none").data
    assert per.dtype == np.float32
    np.testing.assert_allclose(per, [0.0, 2e4, 2e4, np.log(2)], rtol=1e-6)
    loss = F.cross_entropy(z, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
    tz = torch.tensor(z64, requires_grad=True)
    TF.cross_entropy(tz, torch.tensor(y)).backward()
    np.testing.assert_allclose(z.grad, tz.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loss.item(), (0 + 2e4 + 2e4 + np.log(2)) / 4, rtol=1e-6)


def test_losses_keep_float32():
    z = ff.Tensor(np.zeros((4, 3), dtype=np.float32), requires_grad=True)
    for loss in (F.mse_loss(z, np.ones((4, 3))), F.binary_cross_entropy_with_logits(z, np.ones((4, 3))),
                 F.cross_entropy(z, np.array([0, 1, 2, 0])),
                 F.cross_entropy(z, np.array([0, 1, 2, 0]), sample_weight=np.arange(4.0))):
        assert loss.dtype == np.float32
        z.grad = None
        loss.backward()
        assert z.grad.dtype == np.float32


def test_cross_entropy_accepts_integral_float_and_tensor_labels(rng):
    z = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    ref = F.cross_entropy(ff.Tensor(z), y).item()
    assert F.cross_entropy(ff.Tensor(z), y.astype(float)).item() == ref
    assert F.cross_entropy(ff.Tensor(z), ff.Tensor(y)).item() == ref
    assert F.cross_entropy(ff.Tensor(z), y.astype(np.uint8)).item() == ref
