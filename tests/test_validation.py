"""The one validation layer (issue 10): TypeError for a wrong type, ValueError for a bad value, and every
message names the argument, what was given and what was expected."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from feedforward._validation import (
    Bool, Choice, Dtype, Int, List, Path, Real, Text, check_int, check_positive, check_real, check_sample_weight,
    check_sizes,
)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


@pytest.mark.parametrize("value", [2.5, 2.0, "3", True, np.bool_(True), None, [1]])
def test_int_refuses_non_integers_with_type_error(value):
    with pytest.raises(TypeError, match=r"batch_size must be an integer >= 1, got .* \("):
        Int(1)(value, "batch_size")


@pytest.mark.parametrize("value", [0, -3])
def test_int_refuses_out_of_range_with_value_error(value):
    with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1, got {value}$"):
        Int(1)(value, "batch_size")


def test_int_accepts_numpy_integers_and_returns_python_int():
    got = Int(1, 10)(np.int64(7), "n")
    assert got == 7 and type(got) is int


@pytest.mark.parametrize("value", ["0.1", True, None, 1j, np.array([0.1])])
def test_real_refuses_non_numbers_with_type_error(value):
    with pytest.raises(TypeError, match="lr must be a finite number > 0, got"):
        Real(0, low_open=True)(value, "lr")


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, -math.inf])
def test_real_refuses_bad_values_with_value_error(value):
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got"):
        Real(0, low_open=True)(value, "lr")


def test_real_bounds_open_and_closed():
    frac = Real(0, 1, low_open=True, high_open=True)
    assert frac(0.5, "f") == 0.5
    for bad in (0, 1):
        with pytest.raises(ValueError, match=r"f must be a finite number > 0 and < 1, got"):
            frac(bad, "f")
    assert Real(0, 1)(1, "p") == 1.0 and type(Real()(np.float32(2), "x")) is float


def test_none_allowed_only_when_declared():
    assert Real(0, none=True)(None, "grad_tol") is None
    with pytest.raises(TypeError, match="grad_tol must be a finite number >= 0, got None"):
        Real(0)(None, "grad_tol")
    with pytest.raises(TypeError, match="or None"):
        Int(1, none=True)("x", "checkpoint_every")


def test_bool_refuses_truthy_stand_ins():
    assert Bool()(np.bool_(False), "progress") is False
    for value in (0, 1, "yes", None):
        with pytest.raises(TypeError, match="progress must be True or False, got"):
            Bool()(value, "progress")


def test_choice_is_case_insensitive_and_returns_the_canonical_spelling():
    mode = Choice("minibatch", "stochastic", "batch")
    assert mode("Batch", "mode") == "batch"
    with pytest.raises(ValueError, match=r"mode must be one of 'minibatch', 'stochastic', 'batch', got 'full'"):
        mode("full", "mode")
    with pytest.raises(TypeError, match="mode must be one of .*, got 1 \\(int\\)"):
        mode(1, "mode")


def test_dtype_only_the_engine_float_types():
    assert Dtype()("float64", "dtype") == np.float64 and Dtype()(np.float32, "dtype") == np.float32
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got float16"):
        Dtype()(np.float16, "dtype")
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got 'foo'"):
        Dtype()("foo", "dtype")
    for bad in (3.5, None):
        with pytest.raises(TypeError, match="dtype must be a dtype"):
            Dtype()(bad, "dtype")


def test_path_accepts_str_and_pathlike_only(tmp_path):
    assert Path()(tmp_path / "m.safetensors", "path") == str(tmp_path / "m.safetensors")
    assert Path()(pathlib.PurePosixPath("a/b"), "path") == "a/b"
    with pytest.raises(TypeError, match="path must be a path"):
        Path()(3, "path")
    with pytest.raises(ValueError, match="non-empty path"):
        Path()("", "path")


@pytest.mark.parametrize(
    "sizes,error,message",
    [
        ([3, 2.5, 2], TypeError, r"sizes\[1\] must be an integer >= 1, got 2.5"),
        ([3, True, 2], TypeError, r"sizes\[1\] must be an integer >= 1, got True"),
        ([3, math.nan, 2], TypeError, r"sizes\[1\] must be an integer >= 1, got nan"),
        ([3, 0, 2], ValueError, r"sizes\[1\] must be an integer >= 1, got 0"),
        ("3,4,2", TypeError, "sizes must be a list of integer layer widths"),
        (None, TypeError, "sizes must be a list of integer layer widths"),
        ([3], ValueError, "at least 2 widths"),
    ],
)
def test_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        check_sizes(sizes)


def test_sizes_returns_python_ints():
    assert check_sizes(np.array([4, 8, 2])) == [4, 8, 2]


def test_sample_weight_checks():
    w = check_sample_weight([1, 2, 3], 3, np.float32)
    assert w.dtype == np.float32 and w.tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match="sample_weight must be numeric"):
        check_sample_weight(["a", "b"], 2, np.float32)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        check_sample_weight([1, 2], 3, np.float32)
    with pytest.raises(ValueError, match="non-negative, got -1.0 at row 1"):
        check_sample_weight([1, -1, 2], 3, np.float32)
    with pytest.raises(ValueError, match="sums to 0"):
        check_sample_weight([0, 0], 2, np.float32)


def test_check_positive_keeps_its_meaning():
    assert check_positive(3, "n", integer=True) == 3
    assert check_positive(0, "lambda", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        check_positive(0, "n", integer=True)


@given(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.text(max_size=3), st.none()))
def test_int_and_real_either_return_a_clean_value_or_raise_the_documented_errors(value):
    """Property: the checks never let through anything but a finite value in range, of the declared type."""
    for check, kind in ((lambda v: check_int(v, "k", low=0, high=100), int),
                        (lambda v: check_real(v, "x", low=-1, high=1), float)):
        try:
            got = check(value)
        except (TypeError, ValueError) as exc:
            assert str(exc).startswith(("k must be", "x must be"))
        else:
            assert type(got) is kind and math.isfinite(got)
            assert (0 <= got <= 100) if kind is int else (-1 <= got <= 1)
            assert not isinstance(value, bool)


def test_text_and_list_constraints():
    """Fields of files (model files' pipelines, the CLI's record) share these two."""
    assert Text(5)("abc", "name") == "abc"
    with pytest.raises(TypeError, match="name must be printable text, got int"):
        Text()(3, "name")
    with pytest.raises(ValueError, match="must be printable text of at most 5 characters"):
        Text(5)("abcdef", "name")
    with pytest.raises(ValueError, match="printable text"):
        Text()("\x1b[2J", "name")
    assert List(Real(), length=2, items="numbers")([1, 2.5], "x") == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"x must be a list of 3 numbers, got 2 items"):
        List(Real(), length=3, items="numbers")([1, 2], "x")
    with pytest.raises(ValueError, match=r"x\[1\] must be a finite number"):
        List(Real())([1, float("nan")], "x")
    with pytest.raises(TypeError, match="x must be a list of at least 1 of printable text, got tuple"):
        List(Text(), 1)(("a",), "x")
