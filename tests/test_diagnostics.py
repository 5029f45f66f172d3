"""Dead and saturated units, per-layer gradient norms, during training (L-ACT-7)."""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import ActivationProbe, activation_report, layer_grad_norms


def _data(n=40, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def _mlp(activation, seed=0):
    return ff.nn.MLP([3, 6, 5, 2], activation=activation, output="categorical", dtype=np.float64, rng=seed)


def test_forced_dead_layer_reports_one():
    X, y = _data()
    net = _mlp("relu")
    net.layers[0].bias.data[:] = -100.0  # z = x W + b < 0 for every example: all 6 units dead
    h = ff.fit(net, X, y, lr=0.1, max_epochs=2, diagnostics=True, rng=0)
    diag = h.records[-1]["diagnostics"]
    assert diag["dead_fraction"]["layers.1"] == 1.0
    # Dead units pass no gradient: the first layer gets none.
    assert diag["grad_norm"]["layers.0"] == 0.0
    assert diag["grad_norm"]["layers.4"] > 0


def test_dead_fraction_matches_a_hand_count():
    X, y = _data()
    net = _mlp("relu", seed=3)
    net.layers[0].bias.data[:3] = -50.0  # three of six units dead, the others alive on some example
    report = activation_report(net, X)
    W1, b1 = net.layers[0].weight.data, net.layers[0].bias.data
    z1 = X @ W1 + b1
    W2, b2 = net.layers[2].weight.data, net.layers[2].bias.data
    z2 = np.maximum(z1, 0) @ W2 + b2
    assert report["dead_fraction"]["layers.1"] == pytest.approx(np.mean(~(z1 > 0).any(axis=0)))
    assert report["dead_fraction"]["layers.1"] == pytest.approx(0.5)
    assert report["dead_fraction"]["layers.3"] == pytest.approx(np.mean(~(z2 > 0).any(axis=0)))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturated_squashers(activation):
    X, y = _data()
    net = _mlp(activation)
    net.layers[0].bias.data[:] = 50.0  # pushed far into the flat part
    h = ff.fit(net, X, y, lr=0.01, max_epochs=1, diagnostics=True, rng=0)
    diag = h.records[-1]["diagnostics"]
    assert diag["saturated_fraction"]["layers.1"] == 1.0
    assert diag["saturation_rate"]["layers.1"] == 1.0
    assert diag["dead_fraction"] == {}
    # A fresh Glorot-initialised layer is not saturated on standardised inputs.
    fresh = activation_report(_mlp(activation), X)
    assert fresh["saturated_fraction"]["layers.1"] == 0.0
    assert fresh["saturation_rate"]["layers.1"] < 0.2


def test_saturation_rate_matches_a_hand_count():
    X, _ = _data()
    net = _mlp("tanh", seed=1)
    net.layers[0].weight.data *= 4
    report = activation_report(net, X, saturation_tol=0.1)
    z1 = X @ net.layers[0].weight.data + net.layers[0].bias.data
    t = np.tanh(z1)
    assert report["saturation_rate"]["layers.1"] == pytest.approx(np.mean(1 - t * t < 0.1))
    assert report["saturated_fraction"]["layers.1"] == pytest.approx(np.mean((1 - t * t < 0.1).all(axis=0)))


def test_layer_grad_norms_add_up_to_the_recorded_grad_norm():
    X, y = _data()
    net = _mlp("elu")
    h = ff.fit(net, X, y, lr=0.1, max_epochs=2, diagnostics=True, rng=0)
    per_layer = h.records[-1]["diagnostics"]["grad_norm"]
    assert sorted(per_layer) == ["layers.0", "layers.2", "layers.4"]
    total = np.sqrt(sum(v**2 for v in per_layer.values()))
    assert total == pytest.approx(h["grad_norm"][-1], rel=1e-12)
    # ... and equal the full-batch gradient by hand.
    for p in net.parameters():
        p.grad = None
    net.output.nll(net(ff.Tensor(X)), y).backward()
    assert layer_grad_norms(net)["layers.2"] == pytest.approx(per_layer["layers.2"], rel=1e-12)


def test_probe_leaves_no_trace():
    X, _ = _data()
    net = _mlp("relu")
    before = net(ff.Tensor(X)).data.copy()
    with ActivationProbe(net) as probe:
        inside = net(ff.Tensor(X)).data
    np.testing.assert_array_equal(inside, before)
    assert all("forward" not in vars(m) for m in net.modules())
    assert set(probe.report()["dead_fraction"]) == {"layers.1", "layers.3"}


def test_diagnostics_off_by_default_and_bad_tolerance():
    X, y = _data()
    h = ff.fit(_mlp("relu"), X, y, max_epochs=1, rng=0)
    assert "diagnostics" not in h.records[0]
    with pytest.raises(ValueError, match="saturation_tol"):
        activation_report(_mlp("relu"), X, saturation_tol=1.5)
    with pytest.raises(ValueError, match="2-D"):
        activation_report(_mlp("relu"), X[0])
