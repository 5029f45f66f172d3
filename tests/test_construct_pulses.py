"""Regression from square pulses (L-REG-1)."""

import numpy as np
import pytest

import feedforward as ff
from feedforward.construct import pulses as Pu


def run(net, x):
    with ff.no_grad():
        return net(ff.Tensor(np.asarray(x, dtype=net.parameters()[0].dtype).reshape(-1, 1))).data.ravel()


def test_square_pulse_is_one_inside_zero_outside_L_REG_1():
    net = Pu.square_pulse_network(-0.5, 1.5, width=0.1, dtype=np.float64)
    assert net.sizes == [1, 4, 1]  # two threshold units (two ReLUs each) and the summing unit
    x = np.linspace(-3, 3, 6001)
    out = run(net, x)
    inside = (x >= -0.5 + 0.05) & (x <= 1.5 - 0.05)
    outside = (x <= -0.5 - 0.05) | (x >= 1.5 + 0.05)
    np.testing.assert_allclose(out[inside], 1.0, atol=1e-12)
    np.testing.assert_allclose(out[outside], 0.0, atol=1e-12)
    assert np.all((out >= -1e-12) & (out <= 1 + 1e-12))
    np.testing.assert_allclose(run(net, [-0.5, 1.5]), [0.5, 0.5], atol=1e-12)


def test_transition_width_is_controlled():
    for width in (0.5, 0.01):
        net = Pu.square_pulse_network(0.0, 2.0, width=width, dtype=np.float64)
        x = np.linspace(-1, 3, 40001)
        out = run(net, x)
        blurred = (out > 1e-12) & (out < 1 - 1e-12)
        assert np.ptp(x[blurred & (x < 1)]) <= width + 1e-3  # the rising edge is `width` wide


def test_pulse_sum_error_falls_like_one_over_n_L_REG_1():
    x = np.linspace(-np.pi, np.pi, 4001)
    errors = []
    ns = [4, 8, 16, 32, 64]
    for n in ns:
        net = Pu.pulse_network(np.sin, -np.pi, np.pi, n, dtype=np.float64)
        assert net.sizes == [1, 4 * n, 1]
        errors.append(np.abs(run(net, x) - np.sin(x)).max())
    errors = np.array(errors)
    assert np.all(np.diff(errors) < 0)
    slope = np.polyfit(np.log(ns), np.log(errors), 1)[0]
    assert -1.2 < slope < -0.8  # ~ 1/n
    # the bound max|f'| * (bin width) / 2 for the piecewise-constant approximation
    assert np.all(errors <= 2 * np.pi / np.array(ns) / 2 + 1e-9)


def test_pulse_network_is_piecewise_constant_between_transitions():
    f = lambda t: t**2  # noqa: E731
    net = Pu.pulse_network(f, 0.0, 1.0, 10, transition=0.1, dtype=np.float64)
    centres = np.arange(10) / 10 + 0.05
    np.testing.assert_allclose(run(net, centres), f(centres), atol=1e-12)
    np.testing.assert_allclose(run(net, centres + 0.02), f(centres), atol=1e-12)


@pytest.mark.parametrize("args, match", [
    ((1.0, 0.0), "t1 < t2"),
    ((0.0, 1.0, 2.0), "width"),
    ((0.0, float("nan")), "finite"),
])
def test_bad_pulses_are_rejected(args, match):
    with pytest.raises(ValueError, match=match):
        Pu.square_pulse_network(*args)


def test_bad_pulse_network_arguments():
    with pytest.raises(ValueError, match="n_pulses"):
        Pu.pulse_network(np.sin, 0, 1, 0)
    with pytest.raises(ValueError, match="transition"):
        Pu.pulse_network(np.sin, 0, 1, 4, transition=1.5)
    with pytest.raises(TypeError, match="function"):
        Pu.pulse_network(3.0, 0, 1, 4)
    with pytest.raises(ValueError, match="a < b"):
        Pu.pulse_network(np.sin, 1, 0, 4)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: Pu.square_pulse_network("0", 1.0), TypeError, r"t1 must be a finite number, got '0' \(str\)"),
        (lambda: Pu.square_pulse_network(0.0, True), TypeError, r"t2 must be a finite number, got True"),
        (lambda: Pu.square_pulse_network(0.0, 1.0, 0.0), ValueError, r"width \(at most t2 - t1\) must be .*> 0"),
        (lambda: Pu.square_pulse_network(0.0, 1.0, dtype=np.float16), ValueError, r"dtype must be one of"),
        (lambda: Pu.pulse_network(np.sin, 0, 1, 2.0), TypeError, r"n_pulses must be an integer >= 1, got 2.0"),
        (lambda: Pu.pulse_network(np.sin, 0, 1, True), TypeError, r"n_pulses must be an integer >= 1, got True"),
        (lambda: Pu.pulse_network(np.sin, 0, 1, 4, transition="0.5"), TypeError, r"transition .*got '0.5'"),
        (lambda: Pu.pulse_network(np.sin, 0, float("inf"), 4), ValueError, r"b must be a finite number, got inf"),
    ],
)
def test_pulse_arguments_go_through_the_validation_layer(call, error, message):
    """Issue 10: TypeError for a wrong type, ValueError for a bad value, the argument named."""
    with pytest.raises(error, match=message):
        call()
