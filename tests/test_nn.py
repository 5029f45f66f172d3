"""Modules, Linear, initialisation, MLP, summary and the lecture's XOR network (L-ARCH-1, L-ARCH-2, L-ACT-6,
L-XOR-3)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import feedforward as ff
from feedforward import nn
from feedforward.nn import init as ffinit


class Block(nn.Module):
    """A small custom module: own parameter, a sub-module, and a list of sub-modules."""

    def __init__(self):
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.inner = nn.Linear(3, 2, rng=0)
        self.heads = [nn.Linear(2, 2, rng=1), nn.Tanh(), nn.Linear(2, 1, rng=2)]

    def forward(self, x):
        h = self.inner(x) * self.scale
        for m in self.heads:
            h = m(h)
        return h


# ------------------------------------------------------------ parameters
def test_named_parameters_order_and_dotted_names():
    """L-ARCH-1: parameters are found by walking attributes in the order they were set."""
    names = [n for n, _ in Block().named_parameters()]
    assert names == ["scale", "inner.weight", "inner.bias", "heads.0.weight", "heads.0.bias",
                     "heads.2.weight", "heads.2.bias"]
    block = Block()
    assert [id(p) for p in block.parameters()] == [id(p) for _, p in block.named_parameters()]


def test_mlp_parameter_names():
    net = nn.MLP([3, 4, 5, 2], rng=0)
    assert [n for n, _ in net.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
        "layers.4.weight", "layers.4.bias"]


def test_shared_parameter_counted_once():
    tied = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1))
    tied.layers[1].weight = tied.layers[0].weight  # weight tying
    assert len(tied.parameters()) == 3
    assert tied.num_parameters() == 4 + 2 + 2
    assert list(tied.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.bias"]
    same = nn.Linear(2, 2, rng=0)
    twice = nn.Sequential(same, nn.ReLU(), same)  # a module used twice
    assert len(twice.parameters()) == 2


def test_num_parameters_is_connections_plus_biases():
    """L-ARCH-2: 784-256-256-10 has 784*256 + 256*256 + 256*10 weights and 256 + 256 + 10 biases."""
    net = nn.MLP([784, 256, 256, 10], rng=0)
    assert net.num_parameters() == 784 * 256 + 256 * 256 + 256 * 10 + 256 + 256 + 10
    assert net.depth == 3 and len(net.linears) == 3


def test_zero_grad_clears_every_parameter(rng):
    net = nn.MLP([3, 4, 2], rng=0)
    net(ff.Tensor(rng.standard_normal((5, 3)).astype(np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_eval_recurse_into_submodules():
    block = Block()
    assert block.training and all(m.training for m in block.modules())
    assert block.eval() is block
    assert not any(m.training for m in block.modules())
    block.train()
    assert all(m.training for m in block.modules())
    block.train(False)
    assert not block.heads[1].training


# ----------------------------------------------------------- state dicts
def test_state_dict_round_trip(rng):
    a, b = nn.MLP([3, 5, 2], rng=0), nn.MLP([3, 5, 2], rng=1)
    x = ff.Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    # Copies both ways: editing the dict or the model afterwards does not leak.
    state["layers.0.weight"][:] = 0.0
    assert not np.all(a.layers[0].weight.data == 0) and not np.all(b.layers[0].weight.data == 0)
    assert not np.shares_memory(a.layers[0].weight.data, b.layers[0].weight.data)


def test_load_state_dict_keeps_parameter_dtype():
    net = nn.Linear(2, 3, rng=0)
    net.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(3)})
    assert net.weight.dtype == np.float32 and net.bias.dtype == np.float32
    np.testing.assert_array_equal(net.weight.data, 1.0)


def test_load_state_dict_errors_and_atomicity():
    net = nn.MLP([2, 3, 1], rng=0)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    state = net.state_dict()
    del state["layers.2.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['layers.2.bias'\]"):
        net.load_state_dict(state)
    state = {**before, "layers.9.weight": np.zeros(1)}
    with pytest.raises(KeyError, match=r"unexpected keys \['layers.9.weight'\]"):
        net.load_state_dict(state)
    state = {k: v + 1 for k, v in before.items()}
    state["layers.2.weight"] = np.zeros((1, 3))
    message = r"'layers.2.weight' has shape \(1, 3\).*parameter has shape \(3, 1\)"
    with pytest.raises(ValueError, match=message):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])
    partial = {"layers.0.bias": np.full(3, 7.0)}
    net.load_state_dict(partial, strict=False)
    np.testing.assert_array_equal(net.layers[0].bias.data, 7.0)


# ---------------------------------------------------------------- Linear
def test_linear_shapes_and_forward(rng):
    """L-ARCH-1: weight (in, out), bias (out,), output x @ W + b."""
    layer = nn.Linear(4, 3, rng=0)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(ff.Tensor(x)).data, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    no_bias = nn.Linear(4, 3, bias=False, rng=0)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(ff.Tensor(x)).data, x @ no_bias.weight.data, rtol=1e-6)
    assert "in_features=4, out_features=3, bias=True" in repr(layer)


def test_linear_float64_layer():
    layer = nn.Linear(2, 2, rng=0, dtype=np.float64)
    out = layer(ff.Tensor(np.ones((1, 2))))
    assert layer.weight.dtype == np.float64 and out.dtype == np.float64


def test_linear_same_seed_same_weights():
    a, b, c = nn.Linear(5, 4, rng=3), nn.Linear(5, 4, rng=3), nn.Linear(5, 4, rng=4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


INIT_VARIANCE = [
    # scheme, Var W as a function of (fan_in, fan_out), bound of |W| (None: unbounded)
    ("glorot_uniform", lambda i, o: 2 / (i + o), lambda i, o: np.sqrt(6 / (i + o))),
    ("xavier_uniform", lambda i, o: 2 / (i + o), lambda i, o: np.sqrt(6 / (i + o))),
    ("glorot_normal", lambda i, o: 2 / (i + o), None),
    ("he_uniform", lambda i, o: 2 / i, lambda i, o: np.sqrt(6 / i)),
    ("kaiming_uniform", lambda i, o: 2 / i, lambda i, o: np.sqrt(6 / i)),
    ("he_normal", lambda i, o: 2 / i, None),
]


@pytest.mark.parametrize("scheme, variance, bound", INIT_VARIANCE, ids=[c[0] for c in INIT_VARIANCE])
def test_init_empirical_variance_matches_formula(scheme, variance, bound):
    """L-ACT-6: Glorot Var = 2/(fan_in + fan_out), He Var = 2/fan_in, checked on 400,000 draws."""
    fan_in, fan_out = 800, 500
    W = nn.Linear(fan_in, fan_out, init=scheme, rng=0).weight.data
    expected = variance(fan_in, fan_out)
    # The sample variance of 4e5 draws is within 1% of the truth (its relative sd is ~0.2%).
    assert W.var() == pytest.approx(expected, rel=0.01)
    assert abs(W.mean()) < 5 * np.sqrt(expected / W.size)
    if bound is not None:
        assert np.abs(W).max() <= bound(fan_in, fan_out)
        assert np.abs(W).max() > 0.99 * bound(fan_in, fan_out)  # uniform: fills the interval


def test_init_zeros_constant_callable_and_bias_init():
    assert np.all(nn.Linear(3, 2, init="zeros").weight.data == 0)
    assert np.all(nn.Linear(3, 2, init=0.5).weight.data == 0.5)
    layer = nn.Linear(3, 2, init=lambda shape, rng, dtype: np.full(shape, 2.0, dtype), bias_init=0.1)
    np.testing.assert_array_equal(layer.weight.data, 2.0)
    np.testing.assert_allclose(layer.bias.data, 0.1)
    assert layer.bias.dtype == np.float32
    with pytest.raises(ValueError, match=r"Linear: init must be one of 'glorot_uniform', .*got 'lecun'"):
        nn.Linear(3, 2, init="lecun")
    with pytest.raises(ValueError, match=r"returned shape \(2,\), expected \(3, 2\)"):
        ffinit.initialize(lambda shape, rng, dtype: np.zeros(2), (3, 2))


# ------------------------------------------------------------------- MLP
def test_mlp_relu_defaults_he_init_and_bias_point_one():
    """L-ACT-6: ReLU hidden layers start with He init and bias 0.1 (units active); output bias 0."""
    net = nn.MLP([50, 40, 3], activation="relu", rng=0)
    hidden, out = net.linears
    np.testing.assert_allclose(hidden.bias.data, 0.1)
    np.testing.assert_array_equal(out.bias.data, 0.0)
    assert np.abs(hidden.weight.data).max() <= np.sqrt(6 / 50)
    assert np.abs(hidden.weight.data).max() > np.sqrt(6 / 90)  # wider than Glorot's bound
    tanh_net = nn.MLP([50, 40, 3], activation="tanh", rng=0)
    np.testing.assert_array_equal(tanh_net.linears[0].bias.data, 0.0)
    assert np.abs(tanh_net.linears[0].weight.data).max() <= np.sqrt(6 / 90)


def test_mlp_per_layer_activations_and_forms():
    net = nn.MLP([2, 3, 4, 5, 1], activation=["relu", nn.Tanh, nn.LeakyReLU(0.2)], rng=0)
    kinds = [type(m) for m in net.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.Tanh, nn.Linear, nn.LeakyReLU, nn.Linear]
    assert net.layers[5].negative_slope == 0.2
    assert [m.weight.shape for m in net.linears] == [(2, 3), (3, 4), (4, 5), (5, 1)]
    with pytest.raises(ValueError, match="got 2 activations for 3 hidden layers"):
        nn.MLP([2, 3, 4, 5, 1], activation=["relu", "tanh"])
    linear_model = nn.MLP([3, 1])
    assert len(linear_model.layers) == 1  # no hidden layer: an affine model


def test_mlp_seeded_and_forward_shape(rng):
    a, b = nn.MLP([4, 8, 3], rng=5), nn.MLP([4, 8, 3], rng=5)
    x = ff.Tensor(rng.standard_normal((6, 4)).astype(np.float32))
    out = a(x)
    assert out.shape == (6, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, b(x).data)


def test_mlp_predict_with_output_units(rng):
    x = rng.standard_normal((7, 4)).astype(np.float32)
    clf = nn.MLP([4, 6, 3], output="categorical", rng=0)
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), proba.argmax(axis=1))
    binary = nn.MLP([4, 6, 1], output="bernoulli", rng=0)
    np.testing.assert_array_equal(binary.predict(x), (binary.predict_proba(x) > 0.5).astype(int))
    reg = nn.MLP([4, 6, 2], output=nn.Gaussian(), rng=0)
    np.testing.assert_allclose(reg.predict(x), reg(ff.Tensor(x)).data)
    with pytest.raises(ValueError, match="needs an output unit"):
        nn.MLP([4, 2], rng=0).predict(x)


# ------------------------------------------------------ the lecture's XOR
def test_xor_hand_solution_exact_layer_by_layer():
    """L-XOR-3: W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0 gives exactly [0, 1, 1, 0]."""
    net = nn.MLP([2, 2, 1], activation="relu")
    net.load_state_dict({
        "layers.0.weight": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "layers.0.bias": np.array([0.0, -1.0]),
        "layers.2.weight": np.array([[1.0], [-2.0]]),
        "layers.2.bias": np.array([0.0]),
    })
    X = ff.Tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    W, c = net.layers[0].weight, net.layers[0].bias
    # The slides' intermediate matrices.
    np.testing.assert_array_equal((X @ W).data, [[0, 0], [1, 1], [1, 1], [2, 2]])
    np.testing.assert_array_equal((X @ W + c).data, [[0, -1], [1, 0], [1, 0], [2, 1]])
    np.testing.assert_array_equal(net.layers[1](net.layers[0](X)).data, [[0, 0], [1, 0], [1, 0], [2, 1]])
    out = net(X)
    np.testing.assert_array_equal(out.data[:, 0], [0.0, 1.0, 1.0, 0.0])


# ------------------------------------------------------------ Sequential
def test_sequential_container(rng):
    a, b = nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1)
    seq = nn.Sequential(a, nn.ReLU(), b)
    assert len(seq) == 3 and seq[0] is a and list(seq)[2] is b
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    x = ff.Tensor(rng.standard_normal((2, 3)).astype(np.float32))
    np.testing.assert_allclose(seq(x).data, b(ff.functional.relu(a(x))).data)
    assert nn.Sequential([a, b]).layers == [a, b]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    with pytest.raises(TypeError, match="item 1 is a int, expected a Module"):
        nn.Sequential(a, 3)
    with pytest.raises(TypeError, match="expected a Module"):
        seq.append("relu")


def test_module_repr_nests_children():
    text = repr(Block())
    assert text.startswith("Block(") and "(inner): Linear(in_features=3, out_features=2, bias=True)" in text
    assert "(heads.1): Tanh()" in text
    assert repr(nn.Parameter(np.zeros(1, np.float32))).startswith("Parameter containing:")


def test_module_without_forward_raises():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty()(ff.Tensor([1.0]))


def test_parameter_requires_float():
    assert nn.Parameter(np.zeros(2, np.float32)).requires_grad
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.zeros(2, dtype=np.int64))


# --------------------------------------------------------------- summary
def test_summary_rows_shapes_counts_and_total():
    """L-ARCH-2: one row per layer with its output shape and parameter count; total = connections + biases."""
    net = nn.MLP([784, 256, 256, 10], activation="relu", rng=0)
    buf = io.StringIO()
    text = net.summary(file=buf)
    assert buf.getvalue().strip() == text.strip()
    rows = [line.split() for line in text.splitlines()[2:-2]]
    assert len(rows) == 5
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r[1].split("(")[0] for r in rows] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    counts = [int(r[-1].replace(",", "")) for r in rows]
    assert counts == [784 * 256 + 256, 0, 256 * 256 + 256, 0, 256 * 10 + 10]
    shapes = [re.findall(r"\(n, \d+\)", line)[-1] for line in text.splitlines()[2:-2]]
    assert shapes == ["(n, 256)", "(n, 256)", "(n, 256)", "(n, 256)", "(n, 10)"]
    total = 784 * 256 + 256 * 256 + 256 * 10 + (256 + 256 + 10)
    assert text.splitlines()[-1] == f"total parameters: {total:,}"
    assert sum(counts) == total == net.num_parameters()


def test_summary_restores_training_mode():
    net = nn.MLP([3, 4, 2], activation="rrelu", rng=0)
    net.summary(file=io.StringIO())
    assert net.training and all(m.training for m in net.modules())


def test_linear_brings_float64_data_to_the_layer_dtype():
    """A float64 array (scikit-learn's default) must not turn a float32 network float64."""
    layer = ff.nn.Linear(3, 2, rng=0)
    out = layer(np.ones((4, 3), dtype=np.float64))
    assert out.dtype == np.float32
    with pytest.raises(TypeError, match="numeric"):
        layer(np.array([["a", "b", "c"]]))


def test_mlp_copies_a_shared_activation_instance_per_layer():
    """MLP(activation=PReLU()) gives each hidden layer its own learned slope (L-ACT-2)."""
    net = ff.nn.MLP([3, 4, 4, 2], activation=ff.nn.PReLU(), rng=0)
    slopes = [m for m in net.layers if isinstance(m, ff.nn.PReLU)]
    assert len(slopes) == 2 and slopes[0] is not slopes[1]
    assert len(net.parameters()) == 3 * 2 + 2


def test_mlp_prelu_follows_the_network_dtype():
    net = ff.nn.MLP([2, 3, 1], activation="prelu", dtype=np.float64, rng=0)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}


def test_predict_runs_in_eval_mode_and_restores_modes():
    """RReLU samples slopes only in training: predictions are deterministic (L-ACT-2)."""
    net = ff.nn.MLP([4, 16, 3], activation="rrelu", output="categorical", rng=0)
    X = np.random.default_rng(1).standard_normal((50, 4)).astype(np.float32)
    net.train()
    p1, p2 = net.predict_proba(X), net.predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert all(m.training for m in net.modules())
