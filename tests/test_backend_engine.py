"""The engine on any backend (issue 12, L-DEV-1, L-DEV-3): units, losses, output units, the layer chain and a whole
MLP give the same numbers on the ``strict`` device (tests/strict_backend.py, a GPU-like double
that refuses every NumPy call on its arrays) as on the CPU, and the fused kernels' contracts.

The strict device is NumPy underneath, so "the same numbers" is bit for bit: any difference
means a different computation, not rounding.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import feedforward as ff
import feedforward.functional as F
from feedforward import backend, nn
from feedforward.backend import parallel
from feedforward.backend.kernels import Kernels
from feedforward.nn.activation import UNITS
from feedforward.nn.output import OUTPUTS


def _host(a):
    return None if a is None else backend.to_numpy(a)


def _same(cpu, dev):
    """``dev`` (on the strict device) holds exactly ``cpu``'s numbers, dtype and shape."""
    if cpu is None:
        assert dev is None
        return
    got = _host(dev)
    assert backend.device_of(dev) == "strict"
    assert got.dtype == cpu.dtype and got.shape == cpu.shape
    np.testing.assert_array_equal(got, cpu)


def _fused_units():
    """Every registered unit that runs inside the fused chain, built with its defaults."""
    out = []
    for name, cls in sorted(UNITS.items()):
        if cls.__dict__.get("_chain") == "unit":  # its own declaration, as Sequential reads it
            unit = cls.build(units=4, rng=0)
            out.append((name, unit._kernel()))
    return out


def _kernels():
    """Each fused unit kernel, plus the slope and ELU kernels at non-default parameters."""
    ks = [(n, k) for n, k in _fused_units() if k is not None]
    ks += [("slope_0.3", ff.functional.activations.slope_kernel(0.3)),
           ("elu_0.5", ff.functional.activations.elu_kernel(0.5))]
    return ks


@pytest.mark.parametrize("name", sorted(UNITS))
@pytest.mark.parametrize("training", [True, False])
def test_every_unit_gives_the_same_numbers_on_a_device(strict, name, training):
    """issue 12: every unit in the registry, forward and backward, on device = on the CPU."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 4))
    z[0, 0] = 0.0  # the kink: both take the same one-sided derivative
    seed = rng.standard_normal((6, 4))
    results = []
    for dev in ("cpu", "strict"):
        unit = UNITS[name].build(units=4, rng=7, dtype=np.float64).to(dev).train(training)
        x = ff.Tensor(z, requires_grad=True, device=dev)
        y = unit(x)
        y.backward(ff.Tensor(seed, device=dev))
        results.append([y.data, x.grad] + [p.grad for p in unit.parameters()])
    for c, d in zip(*results):
        _same(c, d)


@pytest.mark.parametrize("fn", [
    lambda z: F.softplus(z), lambda z: F.logsumexp(z, axis=1), lambda z: F.softmax(z),
    lambda z: F.log_softmax(z), lambda z: F.abs_rectify(z), lambda z: F.generalized_relu(z, -0.5),
    lambda z: F.elu(z, -0.5), lambda z: F.prelu(z, ff.Tensor([0.2], dtype=np.float64, device=z.device)),
    lambda z: F.rrelu(z, training=True, rng=3),
], ids=["softplus", "logsumexp", "softmax", "log_softmax", "abs", "negative_slope", "elu_negative",
        "prelu", "rrelu_training"])
def test_functional_units_give_the_same_numbers_on_a_device(strict, fn):
    """issue 12: the softmax family and the units outside the registry's defaults, on device = CPU."""
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 3)) * 3
    out = []
    for dev in ("cpu", "strict"):
        x = ff.Tensor(z, requires_grad=True, device=dev)
        y = fn(x)
        (y * y).sum().backward()
        out.append((y.data, x.grad))
    for c, d in zip(*out):
        _same(c, d)


def test_every_fused_unit_has_its_cuda_code_in_the_registry():
    """issue 12, contract 1: each unit the chain fuses declares its CUDA forward and backward."""
    fused = _fused_units()
    assert {n for n, _ in fused} >= {"relu", "leaky_relu", "elu", "sigmoid", "tanh"}
    for name, kernel in fused:
        assert kernel is not None, name
        assert kernel.cuda_forward and "z" in kernel.cuda_forward, name
        assert kernel.cuda_backward and "g" in kernel.cuda_backward, name
        for pname, value in kernel.cuda_params:
            assert pname.isidentifier() and isinstance(value, float), name


_CPP = """
#include <cmath>
#include <cstdio>
#include <algorithm>
using std::exp; using std::expm1; using std::tanh; using std::log1p; using std::fabs;
using std::max; using std::min;
{functions}
int main() {{
    const double zs[] = {{{values}}};
    const int n = sizeof(zs) / sizeof(zs[0]);
    for (int i = 0; i < n; ++i) {{
{calls}
    }}
    return 0;
}}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++) to run the CUDA expressions")
def test_cuda_expressions_compute_what_the_numpy_kernels_compute(tmp_path):
    """issue 12, contract 1: each unit's ``cuda_forward``/``cuda_backward`` (C++ expressions, as the
    CUDA backend compiles them) gives the NumPy kernel's values in float32 and float64, NaN included.
    Compiled for the host with g++ (CUDA's math functions have the same names and meaning)."""
    kernels = _kernels()
    zs = [-30.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 30.0, 100.0, -100.0, float("nan")]
    funcs, calls = [], []
    for i, (_, k) in enumerate(kernels):
        params = "".join(f", T {p}" for p, _ in k.cuda_params)
        args = "".join(f", ({{T}})({v!r})" for _, v in k.cuda_params)
        funcs.append(f"template <typename T> T f{i}(T z{params}) {{ return {k.cuda_forward}; }}")
        funcs.append(f"template <typename T> T b{i}(T g, T y{params}) {{ return {k.cuda_backward}; }}")
        for T, fmt in (("float", "%.9g"), ("double", "%.17g")):
            a = args.format(T=T)
            calls.append(
                f'        {{ {T} y = f{i}<{T}>(({T})zs[i]{a}); '
                f'printf("{i} {T} %d {fmt} {fmt}\\n", i, (double)y, (double)b{i}<{T}>(({T})1.5, y{a})); }}'
            )
    src = tmp_path / "units.cpp"
    src.write_text(_CPP.format(functions="\n".join(funcs), values=", ".join(
        "NAN" if np.isnan(v) else repr(v) for v in zs), calls="\n".join(calls)))
    exe = tmp_path / "units"
    subprocess.run(["g++", "-std=c++17", "-O0", "-o", str(exe), str(src)], check=True, capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    got = {}
    for line in filter(None, lines):
        k, T, j, y, d = line.split()
        got[int(k), T, int(j)] = (float(y), float(d))
    for i, (name, k) in enumerate(kernels):
        for T, dtype, rtol in (("float", np.float32, 2e-6), ("double", np.float64, 1e-14)):
            z = np.array(zs, dtype=dtype)
            y = k.forward(z.copy())
            d = k.backward(np.full_like(z, 1.5), y)
            cy = np.array([got[i, T, j][0] for j in range(len(zs))])
            cd = np.array([got[i, T, j][1] for j in range(len(zs))])
            np.testing.assert_allclose(cy, y, rtol=rtol, atol=1e-30, err_msg=f"{name} forward, {T}")
            np.testing.assert_allclose(cd, d, rtol=rtol, atol=1e-30, err_msg=f"{name} backward, {T}")


_LOSSES = {
    "mse": lambda z, y, w: F.mse_loss(z, y[1], sample_weight=w),
    "mse_none": lambda z, y, w: F.mse_loss(z, y[1], reduction="none").sum(),
    "bce": lambda z, y, w: F.binary_cross_entropy_with_logits(z, y[2], sample_weight=w),
    "bce_sum": lambda z, y, w: F.binary_cross_entropy_with_logits(z, y[2], reduction="sum"),
    "ce": lambda z, y, w: F.cross_entropy(z, y[0], sample_weight=w),
    "ce_trusted": lambda z, y, w: F.cross_entropy(z, y[0], sample_weight=w, _trusted=True),
    "ce_sum": lambda z, y, w: F.cross_entropy(z, y[0], reduction="sum", sample_weight=w),
    "ce_none": lambda z, y, w: (F.cross_entropy(z, y[0], reduction="none") * 0.5).sum(),
    "ce_class_weight": lambda z, y, w: F.cross_entropy(z, y[0], weight=y[3]),
    "ce_scaled": lambda z, y, w: F.cross_entropy(z, y[0]) * 3.0,
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(_LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_loss_gives_the_same_numbers_on_a_device(strict, name, weighted, dtype):
    """issue 12: each loss and reduction, value and gradient, on device = on the CPU."""
    rng = np.random.default_rng(3)
    z = (rng.standard_normal((7, 4)) * 4).astype(dtype)
    labels = rng.integers(0, 4, 7)
    targets = (labels, rng.standard_normal((7, 4)), rng.random((7, 4)), rng.random(4) + 0.5)
    w = rng.random(7) + 0.1 if weighted else None
    out = []
    for dev in ("cpu", "strict"):
        x = ff.Tensor(z, requires_grad=True, device=dev)
        ys = tuple(backend.to_device(t, dev) for t in targets)
        loss = _LOSSES[name](x, ys, None if w is None else backend.to_device(w, dev))
        loss.backward()
        out.append((loss.data, x.grad))
    for c, d in zip(*out):
        _same(c, d)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_every_output_unit_gives_the_same_numbers_on_a_device(strict, name):
    """issue 12: each output unit's nll (value, gradient), mean and predict, on device = on the CPU."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((8, 3)).astype(np.float32)
    unit = OUTPUTS[name]()
    y = {"gaussian": rng.standard_normal((8, 3)), "bernoulli": rng.integers(0, 2, (8, 3)),
         "categorical": rng.integers(0, 3, 8)}[name]
    out = []
    for dev in ("cpu", "strict"):
        x = ff.Tensor(z, requires_grad=True, device=dev)
        loss = unit.nll(x, backend.to_device(y, dev))
        loss.backward()
        out.append((loss.data, x.grad, unit.mean(x.data), unit.predict(x.data)))
    for c, d in zip(*out):
        _same(c, d)


def test_trusted_training_losses_make_no_host_synchronisation(strict):
    """issue 12: a training step's loss on a device (targets checked once beforehand) reads nothing
    back to the host: no float()/item()/bool() and no copy, in forward or backward."""
    rng = np.random.default_rng(5)
    z = ff.Tensor(rng.standard_normal((16, 5)), requires_grad=True, device="strict")
    y = backend.to_device(rng.integers(0, 5, 16), "strict")
    w = backend.to_device(rng.random(16) + 0.5, "strict")
    yf = backend.to_device(rng.random((16, 5)), "strict")
    for unit, target in ((nn.Categorical(), y), (nn.Bernoulli(), yf), (nn.Gaussian(), yf)):
        for weights in (None, w):
            before = dict(strict)
            unit._trusted_nll(z, target, sample_weight=weights).backward()
            assert strict == before, f"{unit.name}: {before} -> {strict}"
            # a loss scaled by a number (the loop's weighted steps): its gradient is not read back
            (unit._trusted_nll(z, target, sample_weight=weights) * 0.5).backward()
            assert (strict["syncs"], strict["to_host"]) == (before["syncs"], before["to_host"]), unit.name


def test_untrusted_labels_on_a_device_are_still_checked(strict):
    """issue 12: outside the training loop, a bad label on a device is named as on the CPU."""
    z = ff.Tensor(np.zeros((3, 4)), device="strict")
    with pytest.raises(ValueError, match=r"integers in \[0, 4\), got 7 at row 1"):
        F.cross_entropy(z, backend.to_device(np.array([0, 7, 1]), "strict"))
    with pytest.raises(ValueError, match=r"target is on cpu but the input is on strict"):
        F.cross_entropy(z, np.array([0, 1, 1]))


def test_softmax_cross_entropy_kernel_is_the_mean_nll_and_its_gradient():
    """issue 12, contract 2: ``Kernels.softmax_cross_entropy`` gives ``sum_i w_i l_i / sum_i w_i``
    and ``w_i (softmax(z_i) - onehot(y_i)) / sum_j w_j``, written out for two rows."""
    z = np.array([[0.0, np.log(3.0)], [2.0, 2.0]])  # softmax rows: (1/4, 3/4) and (1/2, 1/2)
    y = np.array([1, 0])
    w = np.array([1.0, 3.0])
    loss, dz = Kernels(np).softmax_cross_entropy(z, y, w)
    l1, l2 = -np.log(3 / 4), -np.log(1 / 2)
    np.testing.assert_allclose(loss, (1 * l1 + 3 * l2) / 4, rtol=1e-15)
    np.testing.assert_allclose(dz, [[1 / 4 / 4, (3 / 4 - 1) / 4], [3 * (1 / 2 - 1) / 4, 3 * (1 / 2) / 4]],
                               rtol=1e-15)
    loss, dz = Kernels(np).softmax_cross_entropy(z, y)
    np.testing.assert_allclose(loss, (l1 + l2) / 2, rtol=1e-15)
    assert loss.shape == () and dz.shape == (2, 2)


def test_chain_gives_the_same_numbers_on_a_device(strict):
    """issue 12: the fused chain through the backend's kernels, on device = on the CPU."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((10, 5)).astype(np.float32)
    Ws = [rng.standard_normal(s).astype(np.float32) for s in ((5, 7), (7, 6), (6, 3))]
    bs = [rng.standard_normal(s[1]).astype(np.float32) for s in ((5, 7), (7, 6), (6, 3))]
    units = [ff.functional.activations.RELU, ff.functional.activations.TANH, None]
    out = []
    for dev in ("cpu", "strict"):
        x = ff.Tensor(X, requires_grad=True, device=dev)
        W = [ff.Tensor(a, requires_grad=True, device=dev) for a in Ws]
        b = [ff.Tensor(a, requires_grad=True, device=dev) for a in bs]
        h = F.linear_chain(x, list(zip(W, b, units)))
        (h * h).sum().backward()
        out.append([h.data, x.grad] + [t.grad for t in W + b])
    for c, d in zip(*out):
        _same(c, d)


def test_chain_refuses_an_input_on_another_device(strict):
    """issue 12: data on the host and weights on a device: a ValueError naming both devices."""
    net = nn.MLP([3, 4, 2], rng=0, device="strict")
    with pytest.raises(ValueError, match=r"different devices \(cpu and strict"):
        net(np.zeros((2, 3), dtype=np.float32))


@pytest.mark.parametrize("activation", ["relu", "tanh", "prelu", "abs"])
def test_mlp_on_a_device_trains_to_the_same_numbers(strict, activation):
    """issue 12: ``MLP(..., device=)`` draws the same weights as on the CPU; a forward, loss,
    backward and SGD update there give the CPU's numbers; ``to("cpu")`` brings them back."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 4)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    nets = {dev: nn.MLP([4, 8, 8, 3], activation=activation, output="categorical", rng=0, device=dev)
            for dev in ("cpu", "strict")}
    assert nets["strict"].device == "strict" and nets["cpu"].device == "cpu"
    for dev, net in nets.items():
        for _ in range(3):
            net.zero_grad()
            loss = net.output.nll(net(ff.Tensor(X, device=dev)), backend.to_device(y, dev))
            loss.backward()
            for p in net.parameters():
                p.data -= 0.1 * p.grad
    for (n, pc), (_, pd) in zip(nets["cpu"].named_parameters(), nets["strict"].named_parameters()):
        _same(pc.data, pd.data)
        _same(pc.grad, pd.grad)
    _same(nets["cpu"].predict(X), nets["strict"].predict(backend.to_device(X, "strict")))
    back = nets["strict"].to("cpu")
    assert back is nets["strict"] and back.device == "cpu"
    for pc, pb in zip(nets["cpu"].parameters(), back.parameters()):
        assert type(pb.data) is np.ndarray and type(pb.grad) is np.ndarray
        np.testing.assert_array_equal(pc.data, pb.data)


def test_module_to_moves_in_place_and_state_dicts_cross_devices(strict):
    """issue 12: ``Module.to`` keeps the Parameter objects (an optimizer keeps working) and a state
    dict written on one device loads on another, as fresh arrays on the model's own device."""
    net = nn.MLP([3, 5, 2], activation="prelu", rng=1)
    params = net.parameters()
    assert net.to("strict") is net and net.parameters() == params
    assert all(p.device == "strict" for p in params)
    host = nn.MLP([3, 5, 2], activation="prelu", rng=2)
    host.load_state_dict(net.state_dict())
    for a, b in zip(host.parameters(), params):
        assert type(a.data) is np.ndarray
        np.testing.assert_array_equal(a.data, backend.to_numpy(b.data))
    state = host.state_dict()
    net.load_state_dict(state)
    assert all(p.device == "strict" for p in net.parameters())
    state["layers.0.weight"][0, 0] = 123.0
    assert backend.to_numpy(net.parameters()[0].data)[0, 0] != 123.0  # copied, not aliased
    assert nn.ReLU().device is None  # no parameters: no device


@pytest.mark.parametrize("name", [n for n, _ in _kernels()])
def test_kernels_on_many_cores_give_the_inline_numbers(monkeypatch, name):
    """issue 12 (L-DEV-3): bias + unit and the unit's derivative, cut into row blocks over threads for large
    arrays, are bit for bit the single-threaded kernels (each row block is the same elementwise work)."""
    kernel = dict(_kernels())[name]
    rng = np.random.default_rng(8)
    z = rng.standard_normal((300, 256)).astype(np.float32)  # 76,800 >= MIN_ELEMENTS
    b = rng.standard_normal(256).astype(np.float32)
    g = rng.standard_normal((300, 256)).astype(np.float32)
    results = []
    for threads in (1, 4):
        monkeypatch.setattr(parallel, "_threads", threads)
        k = Kernels(np)
        y = k.bias_unit(z.copy(), b, kernel)
        d = k.unit_backward(g.copy(), y, kernel, True)
        shared = g.copy()
        d_shared = k.unit_backward(shared, y, kernel, False)
        np.testing.assert_array_equal(shared, g)  # not owned: never written
        results.append((y, d, d_shared))
    assert z.size >= parallel.MIN_ELEMENTS
    for a, c in zip(*results):
        np.testing.assert_array_equal(a, c)


@pytest.mark.skipif(not backend.is_available("cuda"), reason="needs CuPy and a CUDA GPU (none on this machine)")
def test_mlp_on_cuda_matches_the_cpu():
    """issue 12: on a real GPU, a forward and backward of an MLP agree with the CPU (float64)."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((32, 6))
    y = rng.integers(0, 3, 32)
    grads = []
    for dev in ("cpu", "cuda"):
        net = nn.MLP([6, 16, 3], output="categorical", rng=0, dtype=np.float64, device=dev)
        net.output.nll(net(ff.Tensor(X, device=dev)), backend.to_device(y, dev)).backward()
        grads.append([backend.to_numpy(p.grad) for p in net.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_mlp_device_errors_say_what_is_wrong():
    """issue 12: an unknown device is refused by name; CUDA without CuPy says what to install."""
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        nn.MLP([2, 3, 1], device="tpu")
    if backend.is_available("cuda"):
        pytest.skip("CUDA is available here")
    with pytest.raises(backend.DeviceUnavailable, match=r'pip install "feedforward\[gpu\]"|nvidia-smi'):
        nn.MLP([2, 3, 1], device="cuda")
