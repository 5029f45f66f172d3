"""Bad input raises a clear error naming what was wrong and what was expected (STYLE 8).

Every test asserts the message content, not only the exception type.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
import feedforward.functional as F
from feedforward import nn
from feedforward._rng import as_rng


def Z(*shape):
    return ff.Tensor(np.zeros(shape, dtype=np.float32), requires_grad=True)


# ------------------------------------------------------------------ tensor
def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 5\) are not aligned.*\(3\).*\(4\)"):
        Z(2, 3) @ Z(4, 5)
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        Z(3) @ Z(2)
    with pytest.raises(ValueError, match=r"at least 1 dimension.*\(\) and \(2,\)"):
        ff.matmul(Z(), Z(2))


def test_linear_feature_mismatch():
    message = r"input has shape \(4, 5\).*expects 3 features.*weight shape \(3, 2\)"
    with pytest.raises(ValueError, match=message):
        nn.Linear(3, 2, rng=0)(Z(4, 5))
    with pytest.raises(ValueError, match=r"weight must have shape \(in_features, out_features\), got \(3,\)"):
        F.linear(Z(2, 3), Z(3))


def test_backward_on_non_scalar_without_gradient():
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(2, 3\) needs a gradient argument"):
        (Z(2, 3) * 2.0).backward()


def test_backward_gradient_of_wrong_shape():
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected the tensor's shape \(2, 3\)"):
        (Z(2, 3) * 2.0).backward(np.ones(3))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ff.Tensor([1.0]).sum().backward()


def test_requires_grad_on_integer_data():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require a gradient; got dtype int"):
        ff.Tensor(np.arange(3), requires_grad=True)


def test_tensor_from_unsupported_data():
    with pytest.raises(TypeError, match="cannot make a tensor from str"):
        ff.Tensor("abc")
    with pytest.raises(TypeError, match="unsupported array dtype complex128"):
        ff.Tensor(np.ones(2, dtype=complex))


def test_shape_op_errors():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into"):
        Z(2, 3).reshape(4)
    with pytest.raises(ValueError, match="axis 2 is out of bounds for a tensor with 2 dimensions"):
        Z(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match=r"mean of an empty selection \(shape \(0, 3\)"):
        Z(0, 3).mean(axis=0)
    with pytest.raises(ValueError, match=r"max\(\) of an empty tensor"):
        Z(0).max()
    with pytest.raises(TypeError, match="condition must be a boolean mask, got dtype float"):
        ff.where(np.ones(3), Z(3), Z(3))
    with pytest.raises(ValueError, match="give at least one of min and max"):
        ff.clip(Z(3))
    with pytest.raises(ValueError, match="concatenate: need at least one tensor"):
        ff.concatenate([])
    with pytest.raises(ValueError, match="stack: need at least one tensor"):
        ff.stack([])


# ------------------------------------------------------------------ losses
def test_cross_entropy_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\), got 3 at row 1"):
        F.cross_entropy(Z(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\), got -1 at row 0"):
        F.cross_entropy(Z(2, 3), np.array([-1, 0]))


def test_cross_entropy_labels_not_integers():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\), got .*0\.5.* at row 1"):
        F.cross_entropy(Z(2, 3), np.array([1.0, 0.5]))
    with pytest.raises(TypeError, match=r"labels must be integers in \[0, 3\), got an array of dtype bool"):
        F.cross_entropy(Z(2, 3), np.array([True, False]))
    with pytest.raises(TypeError, match="dtype <U1"):
        F.cross_entropy(Z(2, 3), np.array(["a", "b"]))


def test_cross_entropy_label_and_input_shapes():
    with pytest.raises(ValueError, match=r"target must have shape \(2,\) \(one label per row\), got \(2, 1"):
        F.cross_entropy(Z(2, 3), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match=r"input must be logits of shape \(n, C\), got shape \(3,\)"):
        F.cross_entropy(Z(3), np.array([0]))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) \(one per class\), got \(2,\)"):
        F.cross_entropy(Z(2, 3), np.array([0, 1]), weight=np.ones(2))


def test_nan_in_loss_target():
    y = np.array([[0.0, np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"mse_loss target contains .*nan.* at index \(0, 1\); expected"):
        F.mse_loss(Z(1, 3), y)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits target contains .*nan"):
        F.binary_cross_entropy_with_logits(Z(1, 3), y)
    with pytest.raises(ValueError, match=r"cross_entropy labels contains .*nan"):
        F.cross_entropy(Z(2, 3), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"target contains .*inf"):
        F.mse_loss(Z(2), np.array([1.0, np.inf]))


def test_bad_loss_targets():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got .*2\.0"):
        F.binary_cross_entropy_with_logits(Z(3), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target has shape \(3,\), expected the input's shape \(2, 3\)"):
        F.mse_loss(Z(2, 3), np.zeros(3))
    with pytest.raises(TypeError, match="target must be numeric"):
        F.mse_loss(Z(2), np.array(["a", "b"]))


def test_bad_reduction():
    for loss in (lambda r: F.mse_loss(Z(2), np.zeros(2), reduction=r),
                 lambda r: F.cross_entropy(Z(2, 3), np.zeros(2, int), reduction=r)):
        with pytest.raises(ValueError, match=r"must be one of \('mean', 'sum', 'none'\), got 'avg'"):
            loss("avg")


@pytest.mark.parametrize(
    "weight, message",
    [(np.ones(3), r"sample_weight must have shape \(2,\) \(one weight per example\), got \(3,\)"),
     (np.array([1.0, -1.0]), r"sample_weight must be non-negative, got -1.0 at row 1"),
     (np.array([1.0, np.nan]), r"sample_weight contains .*nan.* at index 1"),
     (np.zeros(2), r"sample_weight sums to 0"),
     (np.ones((2, 1)), r"got \(2, 1\)")],
    ids=["length", "negative", "nan", "all_zero", "2d"],
)
@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
def test_bad_sample_weight(loss, weight, message):
    fn = {
        "mse": lambda w: F.mse_loss(Z(2, 3), np.zeros((2, 3)), sample_weight=w),
        "bce": lambda w: F.binary_cross_entropy_with_logits(Z(2, 3), np.zeros((2, 3)), sample_weight=w),
        "ce": lambda w: F.cross_entropy(Z(2, 3), np.array([0, 1]), sample_weight=w),
    }[loss]
    with pytest.raises(ValueError, match=message):
        fn(weight)


def test_sample_weight_needs_a_batch_axis():
    with pytest.raises(ValueError, match="sample_weight needs a batch axis"):
        F.mse_loss(Z(), np.zeros(()), sample_weight=np.ones(1))


# --------------------------------------------------------------- modules
def test_unknown_activation_and_output_names():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; expected one of \[.*'relu'.*\]"):
        nn.get_activation("swish")
    with pytest.raises(ValueError, match=r"unknown activation 'swish'"):
        nn.MLP([2, 3, 1], activation="swish")
    with pytest.raises(TypeError, match="activation must be a name, a Module class or a Module, got int"):
        nn.get_activation(3)
    with pytest.raises(ValueError, match=r"unknown output unit 'poisson'; expected one of \['bernoulli'"):
        nn.get_output("poisson")
    with pytest.raises(ValueError, match="unknown output unit"):
        nn.MLP([2, 1], output="softmax")


def test_bad_layer_sizes():
    """Issue 10: sizes go through the validation layer (TypeError for a type, ValueError for a value)."""
    with pytest.raises(TypeError, match=r"Linear: in_features must be an integer >= 1, got 2.5 \(float\)"):
        nn.Linear(2.5, 3)
    with pytest.raises(ValueError, match="Linear: out_features must be an integer >= 1, got 0"):
        nn.Linear(2, 0)
    with pytest.raises(ValueError, match=r"MLP: sizes must hold at least 2 widths .*, got \[3\]"):
        nn.MLP([3])
    with pytest.raises(ValueError, match=r"MLP: sizes\[1\] must be an integer >= 1, got 0"):
        nn.MLP([3, 0, 1])
    with pytest.raises(ValueError, match="PReLU: num_parameters must be an integer >= 1, got 0"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="RReLU: need 0 <= lower <= upper, got lower=0.5, upper=0.2"):
        nn.RReLU(0.5, 0.2)


def test_load_state_dict_missing_key_and_wrong_shape():
    net = nn.Linear(2, 3, rng=0)
    with pytest.raises(KeyError, match=r"missing keys \['bias'\]"):
        net.load_state_dict({"weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"'weight' has shape \(3, 2\) in the state dict.*shape \(2, 3\)"):
        net.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(3)})
    with pytest.raises(TypeError, match="non-numeric dtype"):
        net.load_state_dict({"weight": np.full((2, 3), "x"), "bias": np.zeros(3)})


def test_rng_argument_errors():
    with pytest.raises(ValueError, match="a seed must be a non-negative integer, got -1"):
        as_rng(-1)
    with pytest.raises(TypeError, match="rng must be None, an int seed or a numpy Generator, got str"):
        as_rng("seed")
    with pytest.raises(TypeError, match="got float"):
        nn.Linear(2, 2, rng=1.5)
    assert isinstance(as_rng(np.random.RandomState(0)), np.random.Generator)
