"""The fused layer chain (functional/chain.py) against the layer-by-layer graph, bit for bit.

L-ARCH-1, L-BP-1: ``Sequential``/``MLP`` run as one graph node when every layer allows it
(issue 6); the values and every gradient must be exactly those of the modular path, and the
in-place work inside the chain must never write to an array the caller can see.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feedforward as ff
import feedforward.functional as F
from feedforward import nn
from feedforward.nn.activation import ACTIVATIONS


def _layer_by_layer(model, x):
    for layer in model.layers:
        x = layer(x)
    return x


def _run(fn, model, X, seed_grad, x_grad=True):
    for p in model.parameters():
        p.grad = None
    x = ff.Tensor(X, requires_grad=x_grad)
    out = fn(x)
    out.backward(seed_grad)
    return [out.data, x.grad] + [p.grad for p in model.parameters()]


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        else:
            assert u.dtype == v.dtype and u.shape == v.shape
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_equals_its_layers_bit_for_bit(name, dtype):
    net = nn.MLP([5, 7, 6, 3], activation=name, rng=1, dtype=dtype)
    if name == "rrelu":
        net.eval()  # training-mode slopes are random: two passes would differ by design
    r = np.random.default_rng(0)
    X = r.standard_normal((9, 5)).astype(dtype)
    seed = r.standard_normal((9, 3)).astype(dtype)
    fused = _run(net, net, X, seed)
    modular = _run(lambda x: _layer_by_layer(net, x), net, X, seed)
    _assert_same(fused, modular)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "identity"])
def test_units_with_kernels_are_fused(name):
    net = nn.MLP([3, 4, 2], activation=name, rng=0)
    out = net(ff.Tensor(np.ones((2, 3), np.float32)))
    w = net.linears[0].weight
    assert net._chain_plan() is not None
    out.sum().backward()
    assert w.grad is not None and out._op == "linear_chain"


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [nn.Linear(3, 4, rng=0), nn.PReLU(), nn.Linear(4, 2, rng=1)],  # a learned slope
        lambda: [nn.Linear(3, 4, rng=0), nn.RReLU(rng=0), nn.Linear(4, 2, rng=1)],  # random slopes
        lambda: [nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2, rng=1)],  # two units in a row
        lambda: [nn.ReLU(), nn.Linear(3, 2, rng=1)],  # a unit before any affine layer
        lambda: [nn.Linear(3, 4, rng=0), nn.LeakyReLU(-0.5), nn.Linear(4, 2, rng=1)],  # negative slope
        lambda: [nn.Linear(3, 4, rng=0), nn.Sequential(nn.ReLU()), nn.Linear(4, 2, rng=1)],  # nested
    ],
)
def test_what_cannot_be_fused_runs_layer_by_layer_with_the_same_numbers(layers):
    model = nn.Sequential(layers())
    assert model._chain_plan() is None
    model.eval()  # RReLU: the mean slope, so that the two passes are comparable
    r = np.random.default_rng(3)
    X = r.standard_normal((6, 3)).astype(np.float32)
    seed = r.standard_normal((6, 2)).astype(np.float32)
    _assert_same(_run(model, model, X, seed), _run(lambda x: _layer_by_layer(model, x), model, X, seed))


def test_a_subclass_that_changes_forward_is_not_fused():
    class Doubled(nn.ReLU):
        def forward(self, z):
            return F.relu(z) * 2.0

    model = nn.Sequential(nn.Linear(3, 4, rng=0), Doubled(), nn.Linear(4, 2, rng=1))
    assert model._chain_plan() is None
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    h = np.maximum(X @ model[0].weight.data + model[0].bias.data, 0) * 2
    expected = h @ model[2].weight.data + model[2].bias.data
    np.testing.assert_allclose(model(ff.Tensor(X)).data, expected, rtol=1e-6)


def test_a_probe_that_wraps_forward_sees_every_layer():
    # diagnostics replace module.forward on the instance: the Sequential must call them.
    net = nn.MLP([3, 4, 4, 2], rng=0)
    seen = []
    for m in net.layers:
        if isinstance(m, nn.ReLU):
            m.forward = (lambda f: lambda z: seen.append(z.shape) or f(z))(m.forward)
    assert net._chain_plan() is None
    net(ff.Tensor(np.ones((5, 3), np.float32)))
    assert seen == [(5, 4), (5, 4)]


def test_frozen_parameters_input_without_grad_and_no_bias():
    model = nn.Sequential(nn.Linear(4, 5, bias=False, rng=0), nn.Tanh(), nn.Linear(5, 3, rng=1))
    model[2].bias.requires_grad = False
    model[0].weight.requires_grad = False
    r = np.random.default_rng(1)
    X = r.standard_normal((7, 4)).astype(np.float32)
    seed = r.standard_normal((7, 3)).astype(np.float32)
    fused = _run(model, model, X, seed, x_grad=False)
    modular = _run(lambda x: _layer_by_layer(model, x), model, X, seed, x_grad=False)
    _assert_same(fused, modular)
    assert fused[1] is None and model[0].weight.grad is None and model[2].bias.grad is None


def test_batched_leading_axes_are_kept():
    net = nn.MLP([4, 6, 2], rng=0)
    X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    seed = np.random.default_rng(1).standard_normal((2, 3, 2)).astype(np.float32)
    fused = _run(net, net, X, seed)
    assert fused[0].shape == (2, 3, 2) and fused[1].shape == (2, 3, 4)
    _assert_same(fused, _run(lambda x: _layer_by_layer(net, x), net, X, seed))


def test_in_place_work_never_touches_the_callers_arrays():
    net = nn.MLP([4, 6, 6, 3], activation="tanh", rng=0)
    r = np.random.default_rng(2)
    X = r.standard_normal((5, 4)).astype(np.float32)
    seed = r.standard_normal((5, 3)).astype(np.float32)
    X0, seed0 = X.copy(), seed.copy()
    x = ff.Tensor(X, requires_grad=True)
    out = net(x)
    out0 = out.data.copy()
    out.backward(seed)  # the seed reaches the chain unchanged: it must stay the caller's
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(seed, seed0)
    np.testing.assert_array_equal(out.data, out0)


def test_float64_data_into_a_float32_network_is_cast_as_by_linear():
    net = nn.MLP([3, 4, 2], rng=0)
    X = np.random.default_rng(0).standard_normal((5, 3))
    out = net(X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, _layer_by_layer(net, X).data)
    with pytest.raises(TypeError, match="input must be numeric"):
        net(np.array([["a", "b", "c"]]))


def test_shape_errors_name_the_layer_and_the_shapes():
    net = nn.MLP([3, 4, 2], rng=0)
    with pytest.raises(ValueError, match=r"input has shape \(5, 4\).*expects 3 features.*weight shape \(3, 4\)"):
        net(ff.Tensor(np.ones((5, 4), np.float32)))
    with pytest.raises(ValueError, match="needs at least one layer"):
        F.linear_chain(ff.Tensor(np.ones((2, 3))), [])


def test_no_grad_records_nothing_and_second_backward_is_refused():
    net = nn.MLP([3, 4, 2], rng=0)
    x = ff.Tensor(np.ones((2, 3), np.float32))
    with ff.no_grad():
        out = net(x)
    assert not out.requires_grad and out._parents == ()
    loss = net(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_retain_graph_twice_accumulates_twice():
    net = nn.MLP([3, 5, 2], rng=0)
    loss = (net(ff.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))) ** 2).sum()
    loss.backward(retain_graph=True)
    once = [p.grad.copy() for p in net.parameters()]
    loss.backward()
    for p, g in zip(net.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    n=st.integers(1, 7),
    name=st.sampled_from(["relu", "leaky_relu", "elu", "sigmoid", "tanh"]),
    seed=st.integers(0, 2**16),
)
def test_property_fused_equals_modular_for_random_shapes(sizes, n, name, seed):
    net = nn.MLP(sizes, activation=name, rng=seed, dtype=np.float64)
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, sizes[0]))
    g = r.standard_normal((n, sizes[-1]))
    _assert_same(_run(net, net, X, g), _run(lambda x: _layer_by_layer(net, x), net, X, g))


def test_chain_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    net = nn.MLP([4, 8, 8, 3], activation="elu", rng=0, dtype=np.float64)
    r = np.random.default_rng(0)
    X = r.standard_normal((6, 4))
    seed = r.standard_normal((6, 3))
    ours = _run(net, net, X, seed)
    xt = torch.tensor(X, requires_grad=True)
    ws = [torch.tensor(p.data, requires_grad=True) for p in net.parameters()]
    h = xt
    for k in range(3):
        h = h @ ws[2 * k] + ws[2 * k + 1]
        if k < 2:
            h = torch.nn.functional.elu(h)
    h.backward(torch.tensor(seed))
    theirs = [h.detach().numpy(), xt.grad.numpy()] + [w.grad.numpy() for w in ws]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
