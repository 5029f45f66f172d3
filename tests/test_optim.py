"""Optimizers, schedules and clipping against torch.optim (L-SGD-7).

The same float64 network, data and minibatch sequence run through
``ff.optim`` and ``torch.optim`` for 20 steps; the parameters must agree to
1e-10 relative. Tests also pin the in-place contract: ``p.data`` is updated
in place and ``p.grad`` is never written to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import torch_module

import feedforward as ff
from feedforward.optim import schedules as S

SIZES = [6, 8, 5, 3]
N_STEPS = 20


def _data(seed=0, n=40):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, SIZES[0]))
    y = r.integers(0, SIZES[-1], size=n)
    return X, y


def _ff_net(seed=1):
    return ff.nn.MLP(SIZES, activation="tanh", output="categorical", dtype=np.float64, rng=seed)


def _batches(n, steps, size=10):
    # A fixed, overlapping sequence of minibatches so momentum sees changing gradients.
    return [np.arange(s * 3, s * 3 + size) % n for s in range(steps)]


def _run_ff(make_opt):
    X, y = _data()
    net = _ff_net()
    opt = make_opt(net.parameters())
    for idx in _batches(len(X), N_STEPS):
        opt.zero_grad()
        net.output.nll(net(ff.Tensor(X[idx])), y[idx]).backward()
        opt.step()
    return [p.data for p in net.parameters()]


def _run_torch(make_opt):
    torch = torch_module()
    X, y = _data()
    params = [torch.tensor(p.data.copy(), requires_grad=True) for p in _ff_net().parameters()]
    opt = make_opt(params)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for idx in _batches(len(X), N_STEPS):
        opt.zero_grad()
        h = Xt[idx]
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = torch.tanh(h)
        torch.nn.functional.cross_entropy(h, yt[idx]).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


CONFIGS = {
    "sgd": (lambda p: ff.optim.SGD(p, lr=0.1), lambda t: lambda p: t.optim.SGD(p, lr=0.1)),
    "momentum": (
        lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda t: lambda p: t.optim.SGD(p, lr=0.1, momentum=0.9),
    ),
    "nesterov": (
        lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda t: lambda p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    ),
    "weight_decay": (
        lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.05),
        lambda t: lambda p: t.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.05),
    ),
    "dampening": (
        lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3),
        lambda t: lambda p: t.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3),
    ),
    "adam": (lambda p: ff.optim.Adam(p, lr=0.01), lambda t: lambda p: t.optim.Adam(p, lr=0.01)),
    "adam_options": (
        lambda p: ff.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
        lambda t: lambda p: t.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
    ),
    "adamw": (
        lambda p: ff.optim.Adam(p, lr=0.01, weight_decay=0.1, decoupled=True),
        lambda t: lambda p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_torch_after_20_steps(name):
    """L-SGD-7: SGD (momentum, Nesterov, weight decay) and Adam equal torch.optim to 1e-10."""
    torch = torch_module()
    make_ff, make_torch = CONFIGS[name]
    ours = _run_ff(make_ff)
    theirs = _run_torch(make_torch(torch))
    start = [p.data for p in _ff_net().parameters()]
    for a, b, w0 in zip(ours, theirs, start):
        assert not np.allclose(a, w0), "the parameters did not move"
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_step_updates_data_in_place_and_leaves_grad_alone(name):
    net = _ff_net()
    opt = CONFIGS[name][0](net.parameters())
    X, y = _data()
    for _ in range(2):  # the second step exercises the momentum / moment buffers
        opt.zero_grad()
        net.output.nll(net(ff.Tensor(X)), y).backward()
        arrays = [p.data for p in net.parameters()]
        before = [a.copy() for a in arrays]
        grads = [p.grad for p in net.parameters()]
        grads_before = [g.copy() for g in grads]
        opt.step()
        for p, a, b, g, g0 in zip(net.parameters(), arrays, before, grads, grads_before):
            assert p.data is a, "p.data was reallocated"
            assert not np.array_equal(a, b)
            assert p.grad is g
            np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_state_dict_round_trip_continues_identically(name):
    make = CONFIGS[name][0]
    X, y = _data()

    def steps(net, opt, k):
        for _ in range(k):
            opt.zero_grad()
            net.output.nll(net(ff.Tensor(X)), y).backward()
            opt.step()

    net_a = _ff_net()
    opt_a = make(net_a.parameters())
    steps(net_a, opt_a, 6)

    net_b = _ff_net()
    opt_b = make(net_b.parameters())
    steps(net_b, opt_b, 3)
    saved_w, saved_opt = net_b.state_dict(), opt_b.state_dict()
    net_c = _ff_net(seed=7)
    net_c.load_state_dict(saved_w)
    opt_c = make(net_c.parameters())
    opt_c.load_state_dict(saved_opt)
    steps(net_c, opt_c, 3)
    for a, c in zip(net_a.parameters(), net_c.parameters()):
        np.testing.assert_array_equal(a.data, c.data)
    assert opt_c.step_count == 6


def test_load_state_dict_rejects_mismatch():
    net = _ff_net()
    sgd = ff.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    adam = ff.optim.Adam(net.parameters())
    with pytest.raises(ValueError, match="is for SGD"):
        adam.load_state_dict(sgd.state_dict())
    other = ff.optim.SGD(ff.nn.MLP([2, 3], rng=0).parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="state for 2 parameters"):
        sgd.load_state_dict(other.state_dict())
    bad = sgd.state_dict()
    bad["state"][0] = {"momentum_buffer": np.zeros(3)}
    with pytest.raises(ValueError, match="shape"):
        sgd.load_state_dict(bad)


def test_parameter_without_grad_is_skipped():
    net = _ff_net()
    opt = ff.optim.Adam(net.parameters(), lr=0.1)
    before = [p.data.copy() for p in net.parameters()]
    opt.zero_grad()
    net.parameters()[0].grad = np.ones_like(net.parameters()[0].data)
    opt.step()
    moved = [not np.array_equal(p.data, b) for p, b in zip(net.parameters(), before)]
    assert moved == [True] + [False] * (len(before) - 1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: ff.optim.SGD(p, lr=0), "lr"),
        (lambda p: ff.optim.SGD(p, lr=-0.1), "lr"),
        (lambda p: ff.optim.SGD(p, lr=float("nan")), "lr"),
        (lambda p: ff.optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
        (lambda p: ff.optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: ff.optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda p: ff.optim.Adam(p, betas=(0.9, 1.0)), "betas"),
        (lambda p: ff.optim.Adam(p, betas=(0.9,)), "betas"),
        (lambda p: ff.optim.Adam(p, eps=-1e-8), "eps"),
        (lambda p: ff.optim.SGD([], lr=0.1), "empty"),
        (lambda p: ff.optim.SGD(p + p[:1], lr=0.1), "twice"),
    ],
)
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(_ff_net().parameters())


def test_lr_setter_validates():
    opt = ff.optim.SGD(_ff_net().parameters(), lr=0.1)
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match="lr"):
        opt.lr = 0.0
    with pytest.raises(TypeError, match="lr"):
        opt.lr = "fast"


# ---------------------------------------------------------------- clipping
def test_clip_grad_norm_matches_torch():
    torch = torch_module()
    r = np.random.default_rng(3)
    grads = [r.standard_normal(s) for s in [(4, 3), (3,), (2, 2)]]
    ours = [ff.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = g.copy()
        t.grad = torch.tensor(g)
    shared = ours[0].grad
    total = ff.optim.clip_grad_norm(ours, 1.5)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    assert total == pytest.approx(math.sqrt(sum((g**2).sum() for g in grads)), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    assert ff.optim.global_grad_norm(ours) == pytest.approx(1.5, rel=1e-6)
    np.testing.assert_array_equal(shared, grads[0])  # the old array was not scaled in place


def test_clip_grad_norm_below_max_is_a_no_op_and_validates():
    p = ff.Tensor(np.zeros(3), requires_grad=True)
    p.grad = np.array([0.3, 0.4, 0.0])
    g = p.grad
    assert ff.optim.clip_grad_norm([p], 10.0) == pytest.approx(0.5)
    assert p.grad is g
    with pytest.raises(ValueError, match="max_norm"):
        ff.optim.clip_grad_norm([p], 0)


# --------------------------------------------------------------- schedules
def _torch_lrs(torch, make_sched, epochs, losses=None):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2)
    sched = make_sched(opt)
    out = []
    for e in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if losses is None:
            sched.step()
        else:
            sched.step(losses[e])
    return out


def _our_lrs(sched, epochs, losses=None):
    out = []
    for e in range(epochs):
        out.append(sched.get_lr(e, 0.2))
        if losses is not None:
            sched.observe(e, losses[e])
    return out


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda: S.StepLR(step_size=3, gamma=0.5),
            lambda t: lambda o: t.optim.lr_scheduler.StepLR(o, 3, 0.5),
        ),
        (lambda: S.ExponentialLR(gamma=0.9), lambda t: lambda o: t.optim.lr_scheduler.ExponentialLR(o, 0.9)),
        (
            lambda: S.CosineAnnealing(t_max=7, eta_min=0.01),
            lambda t: lambda o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        ),
    ],
)
def test_epoch_schedules_match_torch(ours, theirs):
    torch = torch_module()
    # 8 epochs: torch's cosine restarts its cycle after t_max, ours stays at eta_min.
    np.testing.assert_allclose(_our_lrs(ours(), 8), _torch_lrs(torch, theirs(torch), 8), rtol=1e-12)


def test_cosine_stays_at_eta_min_after_t_max():
    sched = S.CosineAnnealing(t_max=4, eta_min=0.01)
    assert [sched.get_lr(e, 0.2) for e in (4, 5, 9)] == [0.01, 0.01, 0.01]


def test_plateau_matches_torch():
    torch = torch_module()
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.89, 0.89, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5]
    ours = _our_lrs(S.ReduceLROnPlateau(factor=0.5, patience=2), len(losses), losses)
    theirs = _torch_lrs(
        torch,
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=2),
        len(losses),
        losses,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert min(ours) < 0.2  # it did reduce


def test_invscaling_is_sklearns_formula():
    # scikit-learn: learning_rate = learning_rate_init / (t_ + 1) ** power_t, t_ = samples seen so far.
    sched = S.InvScaling(power_t=0.25)
    n = 50
    lrs = [sched.get_lr(e, 0.1, samples_seen=e * n) for e in range(4)]
    np.testing.assert_allclose(lrs, [0.1 / (e * n + 1) ** 0.25 for e in range(4)], rtol=1e-15)
    assert lrs[0] == 0.1


def test_get_schedule_names_and_errors():
    assert isinstance(S.get_schedule(None), S.Constant)
    for name in S.SCHEDULES:
        assert isinstance(S.get_schedule(name, max_epochs=5), S.LRSchedule)
    assert S.get_schedule("cosine", max_epochs=12).t_max == 12
    with pytest.raises(ValueError, match="unknown lr_schedule 'cosinus'"):
        S.get_schedule("cosinus")
    with pytest.raises(TypeError, match="lr_schedule"):
        S.get_schedule(0.5)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(step_size=0)
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(factor=1.5)
