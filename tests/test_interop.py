"""ff models as torch modules and back (issue 14, L-IO-2): ``to_torch`` / ``from_torch``.

Contract tests over every registered hidden unit, in float32 and float64: the torch module
computes the ff model's ``z`` (and its mean), a torch ``Sequential`` built and initialised by
torch converts to an ff model with the same outputs (to 1e-5 in float32), and a round trip
gives back the weights bit for bit. Gradients agree too: the converted module trains the same.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward.interop import TORCH_UNITS, from_torch, to_torch, torch_abs
from feedforward.nn.activation import UNITS, get_activation

torch = pytest.importorskip("torch")
nn = torch.nn

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def _x(n=16, d=4, dtype=np.float32, seed=0):
    return (2 * np.random.default_rng(seed).standard_normal((n, d))).astype(dtype)


def _ff_net(unit, dtype, output="categorical", seed=0):
    """4 -> 6 -> 5 -> 3 with ``unit`` in both hidden layers (a per-unit PReLU), in eval mode."""
    rng = np.random.default_rng(seed)
    acts = [get_activation(unit, units=w, rng=rng, dtype=dtype) for w in (6, 5)]
    net = ff.nn.MLP([4, 6, 5, 3], activation=acts, output=output, rng=seed, dtype=dtype)
    for p in net.parameters():  # non-trivial slopes and biases, not the initial constants
        p.data[...] += rng.uniform(-0.3, 0.3, p.shape).astype(dtype)
    return net.eval()


def _run(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def test_every_registered_unit_has_a_torch_counterpart():
    """Contract: a unit added to the registry without a torch entry fails here, by name."""
    assert set(TORCH_UNITS) == set(UNITS)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_to_torch_computes_the_same_z_and_round_trips(unit, dtype):
    """Issue 14: to_torch(model) computes ff's pre-activation z; from_torch gives the weights back exactly."""
    net = _ff_net(unit, dtype)
    x = _x(dtype=dtype)
    seq = to_torch(net)
    assert type(seq) is nn.Sequential and not seq.training
    assert [tuple(p.shape) for p in seq.state_dict().values()] == [
        p.shape[::-1] if p.ndim == 2 else p.shape for p in net.state_dict().values()]
    assert all(p.dtype == getattr(torch, np.dtype(dtype).name) for p in seq.parameters())
    np.testing.assert_allclose(_run(seq, x), net(x).data, **TOL[dtype])
    back = from_torch(seq, output="categorical")
    assert type(back) is ff.nn.MLP and back.sizes == [4, 6, 5, 3] and not back.training
    for (n1, a), (n2, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert n1 == n2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict_proba(x), net.predict_proba(x))


def _torch_layer(name, width):
    """Each ff unit's torch module, built the way a torch user would (torch's own init)."""
    return {
        "relu": lambda: nn.ReLU(), "abs": lambda: torch_abs()(), "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "prelu": lambda: nn.PReLU(width, init=0.1), "rrelu": lambda: nn.RReLU(0.1, 0.4), "elu": lambda: nn.ELU(0.7),
        "sigmoid": lambda: nn.Sigmoid(), "tanh": lambda: nn.Tanh(), "identity": lambda: nn.Identity(),
    }[name]()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_from_torch_agrees_with_the_torch_module(unit, dtype):
    """Issue 14: a torch Sequential of supported layers becomes an ff model with the same outputs (1e-5)."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6), _torch_layer(unit, 6), nn.Linear(6, 5), _torch_layer(unit, 5),
                        nn.Linear(5, 3)).to(getattr(torch, np.dtype(dtype).name)).eval()
    x = _x(dtype=dtype, seed=1)
    net = from_torch(seq)
    assert type(net) is ff.nn.MLP and net.output is None
    assert [type(m).name for m in net.layers[1::2]] == [unit, unit]
    np.testing.assert_allclose(net(x).data, _run(seq, x), **TOL[dtype])


@pytest.mark.parametrize("output, mean", [("categorical", nn.Softmax), ("bernoulli", nn.Sigmoid), ("gaussian", None)])
def test_to_torch_mean_returns_the_output_units_mean(output, mean):
    """With mean=True the torch module returns predict_proba (the output unit's mean)."""
    net = _ff_net("tanh", np.float64, output=output)
    seq = to_torch(net, mean=True)
    assert (type(seq[-1]) is mean) if mean else type(seq[-1]) is nn.Linear
    expected = net.predict(_x(dtype=np.float64)) if mean is None else net.predict_proba(_x(dtype=np.float64))
    np.testing.assert_allclose(_run(seq, _x(dtype=np.float64)), expected, rtol=1e-12, atol=1e-14)


def test_final_softmax_becomes_the_categorical_output_unit():
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=-1)).eval()
    net = from_torch(seq)
    assert net.output.name == "categorical" and len(net.layers) == 3
    np.testing.assert_allclose(net.predict_proba(_x()), _run(seq, _x()), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ends in a Softmax.*output='gaussian'"):
        from_torch(seq, output="gaussian")


def test_nested_and_biasless_layers_give_an_ff_sequential():
    """Not Linear, unit, ..., Linear with biases: an ff Sequential with torch's nesting, same outputs."""
    torch.manual_seed(2)
    seq = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Sequential(nn.Tanh(), nn.Linear(5, 2)), nn.ELU()).double()
    net = from_torch(seq)
    assert type(net) is ff.nn.Sequential and type(net.layers[1]) is ff.nn.Sequential
    assert list(net.state_dict()) == ["layers.0.weight", "layers.1.layers.1.weight", "layers.1.layers.1.bias"]
    x = _x(dtype=np.float64)
    np.testing.assert_allclose(net(x).data, _run(seq, x), rtol=1e-12, atol=1e-14)
    again = to_torch(net)
    assert list(again.state_dict()) == list(seq.state_dict())
    np.testing.assert_allclose(_run(again, x), _run(seq, x), rtol=1e-12, atol=1e-14)


def test_gradients_agree_after_conversion():
    """The same loss gives the same gradients in both libraries (transposed for the weights)."""
    net = _ff_net("elu", np.float64)
    seq = to_torch(net)
    x, y = _x(dtype=np.float64), np.arange(16) % 3
    net.output.nll(net(ff.Tensor(x)), y).backward()
    nn.functional.cross_entropy(seq(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    for (name, p), q in zip(net.named_parameters(), seq.parameters()):
        g = q.grad.numpy()
        np.testing.assert_allclose(p.grad, g.T if g.ndim == 2 else g, rtol=1e-10, atol=1e-12, err_msg=name)


def test_training_mode_is_carried_over():
    net = _ff_net("rrelu", np.float32).train()
    assert to_torch(net).training
    assert from_torch(to_torch(net), rng=0).training


@pytest.mark.parametrize("module, error, match", [
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5)), TypeError, r"layer 1 is a Dropout"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)), ValueError, r"dim=-1\), got dim=0"),
    (lambda: nn.Sequential(nn.Linear(2, 3).half()), ValueError, r"0.weight has dtype float16.*\.float\(\)"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(4, 1)), ValueError, r"\(2 -> 3\), \(4 -> 1\)"),
    (lambda: nn.Linear(2, 3), TypeError, "expects a torch.nn.Sequential, got Linear"),
    (lambda: nn.Sequential(nn.Softmax(dim=-1)), ValueError, "no layers"),
])
def test_from_torch_refuses_what_it_cannot_convert(module, error, match):
    with pytest.raises(error, match=match):
        from_torch(module())


def test_to_torch_refuses_other_modules():
    class Custom(ff.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="supports ff.nn.MLP and ff.nn.Sequential models, got Custom"):
        to_torch(Custom())
    with pytest.raises(TypeError, match="layer model.1 is a Custom"):
        to_torch(ff.nn.Sequential(ff.nn.Linear(2, 2), Custom()))
    with pytest.raises(ValueError, match="needs a model with an output unit"):
        to_torch(ff.nn.MLP([2, 3, 1]), mean=True)


def test_ff_interop_is_the_public_name():
    """Issue 14 names the API ``ff.interop``: reachable from a fresh ``import feedforward``, without
    importing torch or onnx until a function needs them."""
    import subprocess
    import sys

    code = ("import sys, feedforward as ff; f = ff.interop.to_torch; "
            "print(f.__module__, 'torch' in sys.modules, 'onnx' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["feedforward.interop.torch", "False", "False"]
