"""Contract tests over every registered hidden unit and output unit, plus each output unit's formulas
(L-ACT-1..5, L-OUT-1..4).

Parametrized over ``ff.nn.ACTIVATIONS`` and ``ff.nn.OUTPUTS``: registering a
new unit puts it under these tests without writing a line here (thinc's habit).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import compare, torch_module

import feedforward as ff
from feedforward import nn

DTYPES = [np.float32, np.float64]


def _z(shape, dtype, seed=0):
    z = np.random.default_rng(seed).standard_normal(shape) * 2
    z[np.abs(z) < 0.05] = 0.3  # keep away from the kink for the finite-difference check
    return z.astype(dtype)


# ------------------------------------------------------------ hidden units
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_contract(name, dtype):
    """Init by name, forward keeps shape and dtype, backward fills input and parameter grads, repr, modes."""
    unit = nn.get_activation(name, rng=0)
    assert isinstance(unit, nn.ACTIVATIONS[name]) and isinstance(unit, nn.Module)
    assert repr(unit).startswith(type(unit).__name__ + "(")
    z = ff.Tensor(_z((5, 4), dtype), requires_grad=True)
    for mode in ("train", "eval"):
        getattr(unit, mode)()
        assert unit.training is (mode == "train")
        out = unit(z)
        assert out.shape == z.shape and out.dtype == dtype
        assert np.all(np.isfinite(out.data))
        z.grad = None
        unit.zero_grad()
        out.backward(np.ones(z.shape, dtype=dtype))
        assert z.grad.shape == z.shape and z.grad.dtype == dtype
        for p in unit.parameters():
            assert p.grad is not None and p.grad.shape == p.shape
    unit.eval()
    np.testing.assert_array_equal(unit(z).data, unit(z).data)  # eval is deterministic


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_gradcheck_in_eval_mode(name):
    """Every registered unit's backward agrees with central differences (float64, L-AD-4)."""
    unit = nn.get_activation(name, rng=0).eval()
    z = ff.Tensor(_z((3, 4), np.float64, seed=1), requires_grad=True)
    result = ff.gradcheck(unit, [z])
    assert result.ok, str(result)


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_maps_zero_to_zero_except_sigmoid(name):
    """Every unit maps 0 to 0 except the squashing sigmoid (0 -> 1/2)."""
    unit = nn.get_activation(name, rng=0).eval()
    out = unit(ff.Tensor(np.zeros(3)))
    expected = 0.5 if isinstance(unit, nn.Sigmoid) else 0.0
    np.testing.assert_allclose(out.data, expected)


def test_every_activation_class_is_registered_and_classified():
    """A new hidden unit exported from ff.nn must be in the registry (hence in the tests above), issue 10."""
    from feedforward.nn.activation import KINDS, UNITS, unit_kind

    containers = (nn.Linear, nn.MLP, nn.Sequential, nn.OutputUnit)
    exported = {obj for name in nn.__all__ for obj in [getattr(nn, name)]
                if inspect.isclass(obj) and issubclass(obj, nn.Module) and obj not in (nn.Module, nn.Unit)
                and not issubclass(obj, containers)}
    assert exported == set(UNITS.values()) == set(nn.ACTIVATIONS.values())
    for name, cls in UNITS.items():
        assert cls.name == name and cls.kind in KINDS, cls
        assert unit_kind(nn.get_activation(name, rng=0)) == cls.kind
        for alias in cls.aliases:
            assert nn.ACTIVATIONS[alias] is cls


@pytest.mark.parametrize("name", sorted(nn.UNITS))
def test_unit_config_round_trip(name):
    """``from_config(config())`` rebuilds a unit that computes the same (issue 10: one registry)."""
    unit = nn.get_activation(name, units=4, rng=3).eval()
    again = type(unit).from_config(unit.config(), dtype=np.float32, rng=3).eval()
    for p, q in zip(unit.parameters(), again.parameters()):
        q.data[...] = p.data
    z = ff.Tensor(_z((5, 4), np.float32))
    np.testing.assert_array_equal(unit(z).data, again(z).data)
    assert again.config() == unit.config()


@pytest.mark.parametrize("name", sorted(nn.UNITS))
def test_unit_mode_dependence_is_declared_truthfully(name):
    """A unit that says it is not mode dependent computes the same in train and eval mode."""
    unit = nn.get_activation(name, units=4, rng=0)
    z = ff.Tensor(_z((50, 4), np.float64, seed=2))
    same = np.array_equal(unit.train()(z).data, unit.eval()(z).data)
    assert same is not type(unit).mode_dependent


@pytest.mark.parametrize("name", sorted(nn.UNITS))
def test_unit_kind_matches_its_derivative(name):
    """kind is what the diagnostics read: a rectifier's derivative is 0 (or constant) on a half-line,
    a squasher's derivative vanishes at both ends, a linear unit's is 1 everywhere."""
    unit = nn.get_activation(name, units=1, rng=0).eval()
    z = ff.Tensor(np.array([-30.0, -20.0, 20.0, 30.0]), requires_grad=True)
    unit(z).sum().backward()
    g = z.grad
    if unit.kind == "squasher":
        assert np.all(np.abs(g) < 1e-6)
    elif unit.kind == "linear":
        np.testing.assert_array_equal(g, 1.0)
    else:
        # slope 1 on the right; on the left one constant slope (ELU's tends to 0: a constant in the limit)
        assert g[2] == g[3] == 1.0 and abs(g[0] - g[1]) < 1e-6


def test_registry_refuses_bad_or_clashing_units():
    """register() checks the declaration: name, kind, and no name taken twice."""
    with pytest.raises(ValueError, match="already registered"):
        @nn.register
        class Relu2(nn.Unit):
            name = "relu"
            kind = "rectifier"
    with pytest.raises(ValueError, match="kind"):
        @nn.register
        class Wobbly(nn.Unit):
            name = "wobbly"
            kind = "wavy"
    with pytest.raises(TypeError, match="Unit subclass"):
        nn.register(nn.Linear)
    assert "wobbly" not in nn.ACTIVATIONS and nn.ACTIVATIONS["relu"] is nn.ReLU


def test_a_registered_unit_is_usable_everywhere_by_name():
    """One class in one file is all a new unit needs: by name in MLP, trained, saved and loaded (issue 10)."""
    from feedforward.nn import activation as A

    @nn.register
    class Softsign(nn.Unit):
        """``z / (1 + |z|)``, composed of primitive ops."""

        name = "softsign_test"
        kind = "squasher"

        def forward(self, z):
            return z / (ff.abs(z) + 1.0)

    try:
        X = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
        net = nn.MLP([2, 16, 2], activation="softsign_test", output="categorical", rng=0)
        assert isinstance(net.layers[1], Softsign)
        before = float(net.output.nll(net(X), y).data)
        ff.fit(net, X, y, optimizer="adam", lr=0.05, mode="batch", max_epochs=60, rng=0)
        assert float(net.output.nll(net(X), y).data) < 0.5 * before
        if ff.io is not None:
            import tempfile, os
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "m.safetensors")
                ff.save(net, path)
                again = ff.load(path)
            assert isinstance(again.layers[1], Softsign)
            np.testing.assert_array_equal(again(X).data, net(X).data)
    finally:
        for key in ("softsign_test",):
            A.ACTIVATIONS.pop(key, None)
            A.UNITS.pop(key, None)


def test_hyper_parameters_are_checked_by_their_declared_constraints():
    """Wrong type -> TypeError, bad value -> ValueError, naming the unit and the argument (issue 10)."""
    with pytest.raises(TypeError, match=r"LeakyReLU: negative_slope must be a finite number, got '0.1' \(str\)"):
        nn.LeakyReLU("0.1")
    with pytest.raises(ValueError, match="ELU: alpha must be a finite number, got nan"):
        nn.ELU(float("nan"))
    with pytest.raises(TypeError, match="PReLU: num_parameters must be an integer >= 1, got 2.0"):
        nn.PReLU(2.0)
    with pytest.raises(ValueError, match="RReLU: lower must be a finite number >= 0, got -0.1"):
        nn.RReLU(-0.1, 0.2)
    with pytest.raises(ValueError, match="PReLU: dtype must be one of float32, float64, got float16"):
        nn.PReLU(1, dtype=np.float16)
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        nn.ELU.from_config({"alpha": 1.0, "beta": 2.0})
    with pytest.raises(ValueError, match="lacks"):
        nn.ELU.from_config({})


def test_prelu_counts_its_parameters_and_summarises():
    """Audit defect: ``PReLU(3).num_parameters()`` and ``.summary()`` raised TypeError (an attribute
    shadowed the method)."""
    unit = nn.PReLU(3)
    assert unit.num_parameters() == 3 and unit.slopes == 3
    text = nn.MLP([2, 3, 1], activation=nn.PReLU(3), rng=0).summary(file=None)
    assert "PReLU(num_parameters=3)" in text and "total parameters: 16" in text


def test_prelu_module_learns_per_unit_or_shared_slope():
    per_unit = nn.get_activation("prelu", units=4)
    shared = nn.get_activation("prelu")
    assert per_unit.weight.shape == (4,) and shared.weight.shape == (1,)
    z = ff.Tensor(-np.ones((2, 4), dtype=np.float32))
    per_unit(z).sum().backward()
    np.testing.assert_array_equal(per_unit.weight.grad, [-2.0] * 4)
    with pytest.raises(ValueError, match="PReLU has 4 slopes but the input has 3 units"):
        per_unit(ff.Tensor(np.ones((2, 3))))


def test_rrelu_module_train_random_eval_mean():
    unit = nn.RReLU(0.1, 0.3, rng=0)
    z = ff.Tensor(-np.ones((20, 20)))
    train_out = unit.train()(z).data
    assert train_out.std() > 0 and np.all((-0.3 <= train_out) & (train_out <= -0.1))
    np.testing.assert_allclose(unit.eval()(z).data, -0.2)
    assert nn.MLP([2, 3, 1], activation="rrelu", rng=0).eval().layers[1].training is False


# ------------------------------------------------------------ output units
def _targets(unit, z, seed):
    """Targets of the right form for any unit: the prediction at other logits."""
    return unit.predict(_z(z.shape, z.dtype, seed=seed))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(nn.OUTPUTS))
def test_output_unit_contract(name, dtype):
    """L-OUT-4: nll is a scalar of z's dtype with a gradient of z's shape; mean, predict and forward agree."""
    unit = nn.get_output(name)
    assert isinstance(unit, nn.OUTPUTS[name]) and unit.name == name
    assert unit.task in ("regression", "classification")
    assert repr(unit) == type(unit).__name__ + "()"
    z = ff.Tensor(_z((6, 3), dtype), requires_grad=True)
    y = _targets(unit, z, seed=1)
    loss = unit.nll(z, y)
    assert loss.shape == () and loss.dtype == dtype and np.isfinite(loss.item())
    loss.backward()
    assert z.grad.shape == z.shape and z.grad.dtype == dtype
    # sample weights of one change nothing
    weighted = unit.nll(ff.Tensor(z.data), y, sample_weight=np.ones(6))
    assert weighted.item() == pytest.approx(loss.item(), rel=1e-6)
    mean = unit.mean(z)
    assert isinstance(mean, ff.Tensor) and mean.shape == z.shape
    assert isinstance(unit.mean(z.data), np.ndarray)
    np.testing.assert_array_equal(unit(z).data, mean.data)
    if unit.task == "classification":
        assert np.all((mean.data >= 0) & (mean.data <= 1))
    pred = unit.predict(z)
    assert len(pred) == 6


@pytest.mark.parametrize("name", sorted(nn.OUTPUTS))
def test_output_unit_predict_is_the_most_likely_target(name):
    """predict(z) maximises p(y | z): its nll is never above that of any other target."""
    unit = nn.get_output(name)
    z = _z((8, 3), np.float64)
    best = unit.predict(z)
    for seed in range(2, 6):
        other = _targets(unit, ff.Tensor(z), seed)
        for i in range(8):
            row = slice(i, i + 1)
            assert unit.nll(z[row], best[row]).item() <= unit.nll(z[row], other[row]).item() + 1e-12


@pytest.mark.parametrize("name", sorted(nn.OUTPUTS))
def test_output_unit_gradcheck_and_descent(name):
    """The nll's gradient agrees with central differences, and a small step against it lowers the loss."""
    unit = nn.get_output(name)
    z = ff.Tensor(_z((5, 3), np.float64), requires_grad=True)
    y = _targets(unit, z, seed=3)
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=5)
    result = ff.gradcheck(lambda z: unit.nll(z, y, sample_weight=w), [z])
    assert result.ok, str(result)
    z.grad = None
    loss = unit.nll(z, y)
    loss.backward()
    stepped = unit.nll(ff.Tensor(z.data - 0.01 * z.grad), y)
    assert stepped.item() < loss.item()


def test_get_output_accepts_names_classes_instances_and_none():
    assert isinstance(nn.get_output("Categorical"), nn.Categorical)
    assert isinstance(nn.get_output(nn.Bernoulli), nn.Bernoulli)
    g = nn.Gaussian()
    assert nn.get_output(g) is g and nn.get_output(None) is None


# ----------------------------------------------- each unit's formulas vs torch
torch = torch_module()
TF = torch.nn.functional


def test_gaussian_nll_is_half_squared_error(rng):
    """L-OUT-1: nll = mean_i 1/2 ||y_i - z_i||^2; sample weights normalised by their sum."""
    z, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    w = rng.uniform(0, 2, size=6)
    unit = nn.Gaussian()
    compare(lambda z, y: unit.nll(z, y), [z, y], lambda z, y: 0.5 * ((y - z) ** 2).sum(dim=1).mean(),
            const=(1,))
    compare(lambda z, y: unit.nll(z, y, sample_weight=w), [z, y],
            lambda z, y: (torch.tensor(w) * 0.5 * ((y - z) ** 2).sum(dim=1)).sum() / w.sum(), const=(1,))
    np.testing.assert_array_equal(unit.predict(z), z)


def test_bernoulli_nll_is_softplus_of_signed_logit(rng):
    """L-OUT-2: nll = mean_i sum_k softplus((1 - 2 y_ik) z_ik); mean = sigmoid; predict = [z > 0]."""
    z = rng.standard_normal((6, 2)) * 3
    y = rng.integers(0, 2, size=(6, 2)).astype(float)
    w = rng.uniform(0, 2, size=6)
    unit = nn.Bernoulli()
    compare(lambda z, y: unit.nll(z, y), [z, y],
            lambda z, y: TF.softplus((1 - 2 * y) * z).sum(dim=1).mean(), const=(1,))
    compare(lambda z, y: unit.nll(z, y, sample_weight=w), [z, y],
            lambda z, y: (torch.tensor(w) * TF.softplus((1 - 2 * y) * z).sum(dim=1)).sum() / w.sum(),
            const=(1,))
    compare(lambda z: unit.mean(z), [z], torch.sigmoid)
    np.testing.assert_array_equal(unit.predict(z), (z > 0).astype(int))


def test_categorical_nll_is_cross_entropy(rng):
    """L-OUT-3: nll = mean_i logsumexp(z_i) - z_{i, y_i}; mean = softmax; predict = argmax."""
    z, y = rng.standard_normal((7, 4)) * 3, rng.integers(0, 4, size=7)
    w = rng.uniform(0, 2, size=7)
    unit = nn.Categorical()
    compare(lambda z, y: unit.nll(z, y), [z, y],
            lambda z, y: (torch.logsumexp(z, 1) - z[torch.arange(7), y]).mean())
    compare(lambda z, y: unit.nll(z, y, sample_weight=w), [z, y],
            lambda z, y: (torch.tensor(w) * TF.cross_entropy(z, y, reduction="none")).sum() / w.sum())
    compare(lambda z: unit.mean(z), [z], lambda z: torch.softmax(z, dim=-1))
    np.testing.assert_array_equal(unit.predict(z), z.argmax(axis=1))


def test_bernoulli_single_output_with_vector_targets(rng):
    """A (n, 1) sigmoid output with (n,) labels, as binary classifiers are usually fed."""
    z = rng.standard_normal((5, 1))
    y = rng.integers(0, 2, size=5)
    a = nn.Bernoulli().nll(ff.Tensor(z), y).item()
    b = nn.Bernoulli().nll(ff.Tensor(z), y[:, None]).item()
    assert a == b
