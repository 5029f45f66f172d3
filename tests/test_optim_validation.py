"""The optimizers' and the clip's numbers through ``feedforward._validation`` (issue 10, L-SGD-7).

TypeError for a wrong type (a bool or a string is not a number), ValueError for a bad value, the
message naming the argument, the value given and the range expected. A state dict is untrusted
input: a bad one leaves the optimizer exactly as it was.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff


def _params():
    return ff.nn.MLP([3, 4, 2], rng=0).parameters()


LR = r"lr \(learning rate\) must be a finite number > 0"
RATE = r"must be a finite number >= 0 and < 1"


@pytest.mark.parametrize(
    "cls, kwargs, error, message",
    [
        ("SGD", {"lr": True}, TypeError, LR + ", got True"),
        ("SGD", {"lr": "0.1"}, TypeError, LR + r", got '0.1' \(str\)"),
        ("SGD", {"lr": 0}, ValueError, LR + ", got 0.0"),
        ("SGD", {"lr": float("inf")}, ValueError, LR + ", got inf"),
        ("SGD", {"momentum": 1.0}, ValueError, "momentum " + RATE + ", got 1.0"),
        ("SGD", {"momentum": "0.9"}, TypeError, "momentum " + RATE + r", got '0.9' \(str\)"),
        ("SGD", {"dampening": -0.1}, ValueError, "dampening " + RATE),
        ("SGD", {"weight_decay": float("nan")}, ValueError, r"weight_decay must be a finite number >= 0"),
        ("SGD", {"nesterov": 1}, TypeError, r"nesterov must be True or False, got 1 \(int\)"),
        ("Adam", {"betas": 0.9}, TypeError, r"betas must be a pair \(beta1, beta2\)"),
        ("Adam", {"betas": (0.9, 0.99, 0.999)}, ValueError, r"betas must be a pair"),
        ("Adam", {"betas": (0.9, True)}, TypeError, r"betas\[1\] " + RATE),
        ("Adam", {"betas": (1.5, 0.9)}, ValueError, r"betas\[0\] " + RATE + ", got 1.5"),
        ("Adam", {"eps": None}, TypeError, r"eps must be a finite number >= 0, got None"),
        ("Adam", {"decoupled": "yes"}, TypeError, r"decoupled must be True or False"),
    ],
)
def test_bad_hyperparameters_are_refused_with_the_right_error(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(ff.optim, cls)(_params(), **kwargs)


def test_numpy_numbers_are_numbers():
    opt = ff.optim.SGD(_params(), lr=np.float32(0.5), momentum=np.float64(0.25), nesterov=np.bool_(True))
    assert (opt.lr, opt.momentum, opt.nesterov) == (0.5, 0.25, True)
    assert type(opt.lr) is float and type(opt.nesterov) is bool


def test_clip_grad_norm_validates_max_norm():
    p = ff.Tensor(np.zeros(3), requires_grad=True)
    p.grad = np.array([3.0, 4.0, 0.0])
    with pytest.raises(TypeError, match=r"max_norm must be a finite number > 0, got '1' \(str\)"):
        ff.optim.clip_grad_norm([p], "1")
    with pytest.raises(TypeError, match=r"max_norm must be .*got True \(bool\)"):
        ff.optim.clip_grad_norm([p], True)
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=r"max_norm must be a finite number > 0"):
            ff.optim.clip_grad_norm([p], bad)
    assert ff.optim.clip_grad_norm([p], np.float32(1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(np.linalg.norm(p.grad), 1.0, rtol=1e-5)


def _stepped(opt_cls, **kw):
    net = ff.nn.MLP([3, 4, 2], rng=0)
    opt = opt_cls(net.parameters(), **kw)
    for p in net.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    return opt


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda sd: sd["hyper"].update(lr=-1.0), ValueError, r"lr \(learning rate\) must be a finite number > 0"),
        (lambda sd: sd["hyper"].update(betas=[0.9, 2.0]), ValueError, r"betas\[1\] must be"),
        (lambda sd: sd["hyper"].update(momentum=0.9), ValueError, r"unknown hyper-parameter\(s\) \['momentum'\]"),
        (lambda sd: sd.update(hyper=[0.1]), TypeError, r"hyper must be a dict"),
        (lambda sd: sd.update(step_count=-1), ValueError, r"step_count must be an integer >= 0, got -1"),
        (lambda sd: sd.update(step_count=1.5), TypeError, r"step_count must be an integer >= 0, got 1.5"),
        (lambda sd: sd["state"][0].update(step=True), TypeError, r"state\[0\]\['step'\] must be an integer >= 0"),
    ],
)
def test_a_bad_state_dict_is_refused_and_changes_nothing(change, error, message):
    opt = _stepped(ff.optim.Adam, lr=0.01, betas=(0.8, 0.9))
    before = opt.state_dict()
    bad = opt.state_dict()
    change(bad)
    with pytest.raises(error, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["hyper"] == before["hyper"] and after["step_count"] == before["step_count"]
    assert opt.lr == 0.01 and opt.betas == (0.8, 0.9)


def test_a_good_state_dict_round_trips():
    opt = _stepped(ff.optim.SGD, lr=0.05, momentum=0.5)
    other = _stepped(ff.optim.SGD, lr=0.3)
    other.load_state_dict(opt.state_dict())
    assert other.hyperparameters() == opt.hyperparameters() and other.step_count == 1
    for a, b in zip(other.state, opt.state):
        np.testing.assert_array_equal(a["momentum_buffer"], b["momentum_buffer"])
