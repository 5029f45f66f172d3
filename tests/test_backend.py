"""The backend layer (issue 12, L-DEV-1): devices, the array-module registry, tensors on a device.

The ``strict`` device (tests/strict_backend.py) stands in for a GPU on the CPU: it refuses any
NumPy call on its arrays, so these tests fail if an op hands a device array to NumPy.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import feedforward as ff
from feedforward import backend


def test_device_spelling_mirrors_torch():
    assert str(backend.device("cuda:1")) == "cuda:1"
    assert backend.device("CUDA") == "cuda"
    assert backend.device("cuda:1") == "cuda" and backend.device("cuda:1") != "cuda:0"
    assert backend.device("cpu") != "cuda"
    for bad, says in [("tpu", "unknown device 'tpu'"), ("cuda:x", "'cuda:N'"), ("cpu:1", "expected 'cpu'")]:
        with pytest.raises(ValueError, match=says):
            backend.device(bad)
    with pytest.raises(TypeError, match="device must be a string"):
        backend.device(0)


def test_cuda_without_cupy_says_what_to_install(monkeypatch):
    cuda = backend.registry._BACKENDS["cuda"]
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    monkeypatch.setattr(cuda, "_error", None)
    if cuda.xp is not None:
        pytest.skip("CuPy is loaded in this process")
    with pytest.raises(backend.DeviceUnavailable, match=r'pip install "feedforward\[gpu\]"'):
        ff.Tensor([1.0], device="cuda")
    assert not backend.is_available("cuda")


def test_cuda_with_cupy_but_no_gpu_says_so(monkeypatch):
    cuda = backend.registry._BACKENDS["cuda"]
    if cuda.xp is not None:
        pytest.skip("CuPy is loaded in this process")

    def no_gpu():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_gpu)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda, "_error", None)
    with pytest.raises(backend.DeviceUnavailable, match="CuPy is installed but cannot reach a CUDA GPU.*nvidia-smi"):
        backend.to_device(np.zeros(2), "cuda")
    monkeypatch.setattr(cuda, "_error", None)  # the next test's CuPy is its own


def test_every_primitive_runs_on_the_device_with_the_same_values(strict):
    rng = np.random.default_rng(0)
    host = rng.normal(size=(3, 4))

    def f(x):
        parts = [
            ((x * 2.0 + 1) ** 2).exp().log().sum(), x.max(), x.min(axis=0).sum(), ff.maximum(x, 0.5).mean(),
            x[[0, 0, 2]].sum(), x[1:, ::2].sum(), ff.where(x > 0, x, 0.0).sum(), (x @ x.T).sum(),
            ff.concatenate([x, x], axis=1).sum(), ff.stack([x, x]).sum(), x.clip(-0.5, 0.5).sum(),
            abs(x).sum(), (x / (x * x + 1)).sum(), (abs(x) ** 1.5).sum(), (1.0 - x).reshape(-1).T.sum(),
            x.transpose(1, 0).mean(axis=1).sum(), x.astype(np.float32).sum().astype(np.float64),
        ]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total

    xc = ff.Tensor(host, requires_grad=True)
    xd = ff.Tensor(host, requires_grad=True, device="strict")
    f(xc).backward()
    yd = f(xd)
    yd.backward()
    assert xd.device == "strict" and yd.device == "strict" and xd.grad is not None
    assert strict["syncs"] == 0 and strict["to_host"] == 0  # nothing came back to the host
    np.testing.assert_allclose(backend.to_numpy(xd.grad), xc.grad, rtol=1e-12)
    assert float(yd.item()) == pytest.approx(float(f(ff.Tensor(host)).item()), rel=1e-12)


def test_to_moves_and_gradients_come_back(strict):
    x = ff.Tensor([[1.0, -2.0]], requires_grad=True)
    y = x.to("strict")
    assert y.device == "strict" and x.to("cpu") is x
    (y * y).sum().backward()
    assert type(x.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [[2.0, -4.0]])
    back = y.cpu()
    assert back.device == "cpu" and type(back.data) is np.ndarray


def test_mixing_devices_is_an_error_naming_both(strict):
    d = ff.Tensor([1.0, 2.0], device="strict")
    with pytest.raises(ValueError, match="one device, got strict:0 and cpu"):
        d + ff.Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="one device"):
        ff.matmul(ff.Tensor(np.ones((2, 2))), d)
    with pytest.raises(TypeError, match=r"\.cpu\(\)\.numpy\(\)"):
        d.numpy()
    with pytest.raises(TypeError, match=r"\.cpu\(\)\.numpy\(\)"):
        np.asarray(d)
    assert "device='strict:0'" in repr(d)


def test_numbers_take_the_tensors_dtype_and_device(strict):
    d = ff.Tensor(np.ones(3, dtype=np.float32), device="strict")
    for out in (d * 2.0, 2.0 * d, d - 1, 1 - d, d / 3, 3 / d, d ** 2, 2 ** d, ff.maximum(d, 0.0), ff.maximum(0.0, d)):
        assert out.device == "strict" and out.dtype == np.float32


def test_a_steps_constants_are_moved_to_the_device_once(strict):
    """issue 12 (L-DEV-2): ``x * 0.5`` on a device tensor copies 0.5 to the device the first time
    only, so a training step's constants cost no host-to-device copy per step."""
    d = ff.Tensor(np.ones(3, dtype=np.float32), device="strict")
    (d * 0.5 + 1).sum()
    first = strict["to_device"]
    for _ in range(5):
        (d * 0.5 + 1).sum()
    assert strict["to_device"] == first
    np.testing.assert_array_equal(backend.to_numpy((d * 0.25).data), [0.25] * 3)  # a new number: its own value
