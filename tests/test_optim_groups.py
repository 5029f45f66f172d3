"""The optimizers update a whole parameter group in one call (issue 12, fused optimizer updates, L-DEV-2).

``SGD.step`` and ``Adam.step`` gather the parameters that have a gradient and call the backend's
``sgd_group_`` / ``adam_group_`` once per group of one backend, dtype and device: one kernel launch
per group on a GPU (``tests/test_cuda_sources.py`` checks the CUDA kernels), with the same numbers
as one ``sgd_`` / ``adam_`` call per parameter. Where the backend's kernels do not fuse groups
(``fuses_groups`` False: the CPU), SGD calls ``sgd_`` per parameter directly.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward import backend
from feedforward.backend.kernels import Kernels

SIZES = [4, 6, 5, 3]  # an MLP with 6 parameters (3 weights, 3 biases)

OPTIMIZERS = {
    "sgd": lambda ps: ff.optim.SGD(ps, lr=0.1),
    "sgd-momentum": lambda ps: ff.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    "adam": lambda ps: ff.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: ff.optim.Adam(ps, lr=1e-2, weight_decay=0.01, decoupled=True),
}


def spy(monkeypatch, kernels, name):
    """Record each call of ``kernels.<name>`` as the list of parameter arrays it got."""
    calls = []
    method = getattr(kernels, name)
    # As on CUDA: the backend says it updates a group in one launch (elsewhere SGD skips the
    # group call, which would only add list building to a small network's step).
    monkeypatch.setattr(kernels, "fuses_groups", True)

    def recorded(params, *args, **kwargs):
        calls.append(list(params))
        return method(params, *args, **kwargs)

    monkeypatch.setattr(kernels, name, recorded)
    return calls


def _grads(rng, params, device="cpu"):
    for p in params:
        p.grad = backend.to_device(rng.standard_normal(p.shape).astype(p.dtype), device)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_one_group_call_per_step_on_a_device_without_host_syncs(strict, monkeypatch, name):
    """issue 12: on a GPU-like device the optimizer makes ONE group call per step for all the
    parameters with a gradient (one launch on CUDA), reads nothing back from the device, and
    passes the parameters' own arrays (updated in place)."""
    net = ff.nn.MLP(SIZES, rng=0).to("strict")
    params = list(net.parameters())
    opt = OPTIMIZERS[name](params)
    kernels = backend.get_backend("strict").kernels
    group = "adam_group_" if name.startswith("adam") else "sgd_group_"
    calls = spy(monkeypatch, kernels, group)
    rng = np.random.default_rng(0)
    before = [backend.to_numpy(p.data) for p in params]
    strict["syncs"] = 0
    for _ in range(3):
        _grads(rng, params, "strict")
        opt.step()
    assert strict["syncs"] == 0
    assert len(calls) == 3
    for got in calls:
        assert [id(a) for a in got] == [id(p.data) for p in params]
    for p, b in zip(params, before):
        assert not np.array_equal(backend.to_numpy(p.data), b)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_parameters_without_a_gradient_are_left_out_of_the_group(monkeypatch, name):
    """issue 12: a parameter with no gradient is not passed to the group update, is not changed,
    and (Adam) its step count does not advance, as in torch.optim."""
    net = ff.nn.MLP(SIZES, rng=0)
    params = list(net.parameters())
    opt = OPTIMIZERS[name](params)
    kernels = backend.get_backend("cpu").kernels
    calls = spy(monkeypatch, kernels, "adam_group_" if name == "adam" else "sgd_group_")
    rng = np.random.default_rng(1)
    _grads(rng, params)
    params[2].grad = None
    frozen = params[2].data.copy()
    opt.step()
    assert len(calls) == 1 and len(calls[0]) == len(params) - 1
    assert all(a is not params[2].data for a in calls[0])
    np.testing.assert_array_equal(params[2].data, frozen)
    if name == "adam":
        assert opt.state[2] == {} and opt.state[0]["step"] == 1


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_mixed_dtypes_make_one_group_each_with_the_per_parameter_numbers(monkeypatch, name):
    """issue 12: float32 and float64 parameters make two groups (one call each per step, each of one
    dtype), and every parameter ends with the bits of one per-parameter update (Kernels.sgd_ /
    adam_, the reference the group calls must keep) after four steps."""
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,), (5, 2), (2,)]
    dtypes = [np.float32, np.float64, np.float32, np.float64]
    params = [ff.nn.Parameter(rng.standard_normal(s).astype(d)) for s, d in zip(shapes, dtypes)]
    opt = OPTIMIZERS[name](params)
    kernels = backend.get_backend("cpu").kernels
    calls = spy(monkeypatch, kernels, "adam_group_" if name.startswith("adam") else "sgd_group_")
    ref = Kernels(np)
    hyper = opt.hyperparameters()
    want = [p.data.copy() for p in params]
    state = [{} for _ in params]
    for t in range(1, 5):
        grads = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        for w, g, s in zip(want, grads, state):
            if name.startswith("adam"):
                s.setdefault("m", np.zeros_like(w))
                s.setdefault("v", np.zeros_like(w))
                b1, b2 = hyper["betas"]
                ref.adam_(w, g, s["m"], s["v"], lr=hyper["lr"], beta1=b1, beta2=b2, eps=hyper["eps"],
                          step=t, weight_decay=hyper["weight_decay"], decoupled=hyper["decoupled"])
            else:
                s["buf"] = ref.sgd_(w, g, hyper["lr"], momentum=hyper["momentum"], buf=s.get("buf"),
                                    weight_decay=hyper["weight_decay"], nesterov=hyper["nesterov"],
                                    dampening=hyper["dampening"])
    assert len(calls) == 8
    for got in calls:
        assert len({a.dtype for a in got}) == 1 and len(got) == 2
    for p, w in zip(params, want):
        np.testing.assert_array_equal(p.data, w)


def test_reference_group_updates_return_one_buffer_per_parameter():
    """issue 12 (contract): sgd_group_ returns a list with one momentum buffer per parameter (None
    without momentum); adam_group_ takes one step count per parameter."""
    ref = Kernels(np)
    ps = [np.ones(3), np.ones((2, 2))]
    gs = [np.full(3, 0.5), np.full((2, 2), 0.5)]
    assert ref.sgd_group_(ps, gs, 0.1) == [None, None]
    bufs = ref.sgd_group_(ps, gs, 0.1, momentum=0.9)
    assert [b.shape for b in bufs] == [(3,), (2, 2)]
    np.testing.assert_array_equal(bufs[0], gs[0])  # the first step seeds the buffer with g
    np.testing.assert_allclose(ps[0], 1 - 0.05 - 0.05)
    ms, vs = [np.zeros(3), np.zeros((2, 2))], [np.zeros(3), np.zeros((2, 2))]
    ref.adam_group_(ps, gs, ms, vs, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, steps=[1, 5])
    np.testing.assert_allclose(ps[0], 0.9 - 0.1, rtol=1e-7)  # t = 1: a step of lr * sign(g)
    assert ps[1][0, 0] != ps[0][0]  # t = 5: another bias correction


def test_sgd_on_the_cpu_calls_the_per_parameter_update(monkeypatch):
    """issue 12: the CPU's group update is a loop over sgd_ (no launch to save), so SGD calls
    sgd_ itself, once per parameter, and never builds the groups. (Weight decay: a small plain
    step is taken inline, with the reference's own arithmetic.)"""
    net = ff.nn.MLP(SIZES, rng=0)
    params = list(net.parameters())
    opt = ff.optim.SGD(params, lr=0.1, weight_decay=1e-4)
    kernels = backend.get_backend("cpu").kernels
    assert not kernels.fuses_groups
    singles = []
    sgd_ = kernels.sgd_
    monkeypatch.setattr(kernels, "sgd_", lambda p, *a, **k: singles.append(id(p)) or sgd_(p, *a, **k))
    monkeypatch.setattr(kernels, "sgd_group_", lambda *a, **k: pytest.fail("group call on the CPU"))
    _grads(np.random.default_rng(3), params)
    opt.step()
    assert singles == [id(p.data) for p in params]
