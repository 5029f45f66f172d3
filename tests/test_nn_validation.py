"""Bad arguments to the layer builders are refused clearly (issue 10, the outside audit).

``ff.nn.MLP([3, 2.5, 2])`` used to build width 2, ``[3, True, 2]`` width 1, ``bias_init=nan``
NaN biases, ``dtype=np.float16`` a float32 network; ``[3, nan, 2]``, ``"3,4,2"``, ``None`` and
``dtype="foo"`` gave raw NumPy or ``int()`` errors. Now every argument goes through
``feedforward._validation``: TypeError for a wrong type, ValueError for a bad value, and the
message names the argument, what was given and what was expected.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import feedforward as ff
from feedforward import nn
from feedforward.nn import init as ffinit
from feedforward.nn.activation import Unit


@pytest.mark.parametrize(
    "sizes, error, message",
    [
        ([3, 2.5, 2], TypeError, r"MLP: sizes\[1\] must be an integer >= 1, got 2.5 \(float\)"),
        ([3, True, 2], TypeError, r"MLP: sizes\[1\] must be an integer >= 1, got True \(bool\)"),
        ([3, float("nan"), 2], TypeError, r"MLP: sizes\[1\] must be an integer >= 1, got nan \(float\)"),
        ([3, 0, 2], ValueError, r"MLP: sizes\[1\] must be an integer >= 1, got 0"),
        ([3, -4, 2], ValueError, r"MLP: sizes\[1\] must be an integer >= 1, got -4"),
        ([3], ValueError, r"MLP: sizes must hold at least 2 widths"),
        ("3,4,2", TypeError, r"MLP: sizes must be a list of integer layer widths .*got '3,4,2' \(str\)"),
        (None, TypeError, r"MLP: sizes must be a list of integer layer widths .*got None"),
        (5, TypeError, r"MLP: sizes must be a list of integer layer widths .*got 5 \(int\)"),
    ],
)
def test_mlp_refuses_sizes_that_are_not_integer_widths(sizes, error, message):
    with pytest.raises(error, match=message):
        nn.MLP(sizes)


def test_mlp_accepts_numpy_integer_sizes():
    net = nn.MLP(np.array([3, 4, 2]), rng=0)
    assert net.sizes == [3, 4, 2] and all(type(s) is int for s in net.sizes)
    assert [layer.weight.shape for layer in net.linears] == [(3, 4), (4, 2)]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"bias_init": float("nan")}, ValueError, r"MLP: bias_init must be a finite number or None, got nan"),
        ({"bias_init": float("inf")}, ValueError, r"MLP: bias_init must be a finite number or None, got inf"),
        ({"bias_init": "0.1"}, TypeError, r"MLP: bias_init must be a finite number or None, got '0.1' \(str\)"),
        ({"dtype": np.float16}, ValueError, r"MLP: dtype must be one of float32, float64, got float16"),
        ({"dtype": np.int64}, ValueError, r"MLP: dtype must be one of float32, float64, got int64"),
        ({"dtype": "foo"}, ValueError, r"MLP: dtype must be one of float32, float64, got 'foo'"),
        ({"init": "lecun"}, ValueError, r"MLP: init must be one of 'glorot_uniform', .*got 'lecun'"),
        ({"init": True}, TypeError, r"MLP: init must be one of .*a callable .*got True \(bool\)"),
        ({"init": float("nan")}, ValueError, r"MLP: init must be a finite number, got nan"),
        ({"activation": ["relu"]}, ValueError, r"MLP: got 1 activations for 2 hidden layers"),
    ],
)
def test_mlp_refuses_bad_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.MLP([3, 4, 4, 2], **kwargs)


def test_mlp_dtype_is_kept_exactly():
    """float64 stays float64 (and float32 float32), in every parameter."""
    for dtype in (np.float32, np.float64, "float64"):
        net = nn.MLP([3, 4, 2], activation="prelu", rng=0, dtype=dtype)
        assert {p.dtype for p in net.parameters()} == {np.dtype(dtype)}


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((2.5, 3), {}, TypeError, r"Linear: in_features must be an integer >= 1, got 2.5 \(float\)"),
        ((True, 3), {}, TypeError, r"Linear: in_features must be an integer >= 1, got True \(bool\)"),
        ((2, 0), {}, ValueError, r"Linear: out_features must be an integer >= 1, got 0"),
        (("2", 3), {}, TypeError, r"Linear: in_features must be an integer >= 1, got '2' \(str\)"),
        ((2, 3), {"bias": 1}, TypeError, r"Linear: bias must be True or False, got 1 \(int\)"),
        ((2, 3), {"bias_init": float("nan")}, ValueError, r"Linear: bias_init must be a finite number, got nan"),
        ((2, 3), {"dtype": np.float16}, ValueError, r"Linear: dtype must be one of float32, float64"),
        ((2, 3), {"init": None}, TypeError, r"Linear: init must be one of .*got None"),
    ],
)
def test_linear_refuses_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.Linear(*args, **kwargs)


def test_init_refuses_a_callable_that_returns_nan_and_accepts_any_case():
    with pytest.raises(ValueError, match=r"init .* returned NaN or inf; the initial weights must be finite"):
        ffinit.initialize(lambda shape, rng, dtype: np.full(shape, np.nan), (2, 2))
    a = ffinit.initialize("He_Uniform", (4, 3), rng=0)
    np.testing.assert_array_equal(a, ffinit.initialize("he_uniform", (4, 3), rng=0))
    assert ffinit.check_init(2) == 2.0 and isinstance(ffinit.check_init(2), float)


def test_mlp_init_zero_is_a_constant_not_the_default():
    """init=0 (falsy) is the constant 0, not 'use the default scheme'."""
    net = nn.MLP([3, 4, 2], init=0, rng=0)
    assert all(np.all(layer.weight.data == 0) for layer in net.linears)


# ----------------------------------------------- the default init reads Unit.kind
class _NewRectifier(Unit):
    """A unit the MLP has never heard of, declared a rectifier: not in any hand list."""

    name = "test_new_rectifier"
    kind = "rectifier"

    def forward(self, z):
        return ff.functional.relu(z)


class _NewSquasher(Unit):
    name = "test_new_squasher"
    kind = "squasher"

    def forward(self, z):
        return ff.functional.tanh(z)


def test_default_init_follows_the_units_kind():
    """Issue 10: He init for kind "rectifier" (L-ACT-6), Glorot otherwise, read from Unit.kind."""
    fan_in, fan_out = 50, 40
    he, glorot = np.sqrt(6 / fan_in), np.sqrt(6 / (fan_in + fan_out))
    rect = nn.MLP([fan_in, fan_out, 3], activation=_NewRectifier(), rng=0).linears[0].weight.data
    squash = nn.MLP([fan_in, fan_out, 3], activation=_NewSquasher(), rng=0).linears[0].weight.data
    assert glorot < np.abs(rect).max() <= he  # 2,000 draws from U(-he, he): beyond glorot for sure
    assert np.abs(squash).max() <= glorot
    for name in ("elu", "leaky_relu"):
        w = nn.MLP([fan_in, fan_out, 3], activation=name, rng=0).linears[0].weight.data
        assert glorot < np.abs(w).max() <= he, name


def test_the_relu_bias_rule_stays_relu_only():
    """L-ACT-6: 0.1 biases for ReLU layers only; other rectifiers start at 0."""
    assert np.all(nn.MLP([5, 6, 2], activation="relu", rng=0).linears[0].bias.data == np.float32(0.1))
    for name in ("leaky_relu", "elu", "tanh"):
        assert np.all(nn.MLP([5, 6, 2], activation=name, rng=0).linears[0].bias.data == 0), name
    assert np.all(nn.MLP([5, 6, 2], activation="relu", bias_init=0.0, rng=0).linears[0].bias.data == 0)


# ------------------------------------------------------------------ summary
def test_summary_checks_input_shape():
    net = nn.MLP([3, 4, 2], rng=0)
    table = net.summary(input_shape=3, file=io.StringIO())
    assert "total parameters: 26" in table
    with pytest.raises(TypeError, match=r"summary\(\): input_shape must be a tuple of integers"):
        net.summary(input_shape="3", file=io.StringIO())
    with pytest.raises(TypeError, match=r"summary\(\): input_shape\[0\] must be an integer >= 1, got 3.0"):
        net.summary(input_shape=(3.0,), file=io.StringIO())
    with pytest.raises(ValueError, match=r"summary\(\): input_shape\[0\] must be an integer >= 1, got 0"):
        net.summary(input_shape=(0,), file=io.StringIO())
    with pytest.raises(ValueError, match=r"at least one size"):
        net.summary(input_shape=(), file=io.StringIO())
