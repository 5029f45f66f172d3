"""The outer surfaces on a device (issue 12, L-DEV-1): estimators' ``device``, the CLI's ``--device``,
model files, pickles and exports of a model on a device.

The ``strict`` device (tests/strict_backend.py) stands in for a GPU: it refuses any NumPy
call on its arrays, so a surface that hands a device array to NumPy fails here. "A machine
without the device" is simulated by unregistering it before loading.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

import feedforward as ff
from feedforward import backend
from feedforward.cli import main
from feedforward.estimators import MLPClassifier, MLPRegressor
from feedforward.io.host import host_copy, model_device

INSTALL = r'pip install "feedforward\[gpu\]"'


@pytest.fixture
def no_cupy(monkeypatch):
    """A process where ``import cupy`` fails (whether or not CuPy is installed)."""
    cuda = backend.registry._BACKENDS["cuda"]
    if cuda.xp is not None:
        pytest.skip("CuPy is loaded in this process")
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(cuda, "_error", None)
    yield
    cuda._error = None  # the next test's CuPy is its own


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0], [0.0, 2.0, 2.0, 0.0]])
    y = np.arange(n) % 3
    return centers[y] + rng.normal(scale=0.7, size=(n, 4)), y


# ------------------------------------------------------------- estimators
def test_estimator_device_is_validated_with_a_clear_error():
    """issue 12: an unknown device spelling names the parameter, the spelling and what exists."""
    X, y = _blobs(30)
    with pytest.raises(ValueError, match=r"device='tpu': unknown device 'tpu'; expected one of 'cpu', 'cuda'"):
        MLPClassifier((4,), device="tpu", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="'device' parameter"):  # scikit-learn's constraint check
        MLPRegressor((4,), device=0, max_iter=2).fit(X, y.astype(float))


def test_estimator_on_cuda_without_cupy_says_what_to_install(no_cupy):
    """issue 12: device="cuda" without CuPy: DeviceUnavailable with the install line, before training."""
    X, y = _blobs(30)
    with pytest.raises(backend.DeviceUnavailable, match=INSTALL):
        MLPClassifier((4,), device="cuda", max_iter=2).fit(X, y)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_estimator_on_a_device_predicts_as_on_the_cpu_and_returns_numpy(strict, Estimator):
    """issue 12: same random_state -> the same network on "strict" as on "cpu"; predict, predict_proba,
    score take NumPy and give NumPy; coefs_, intercepts_ are NumPy, loss_curve_ floats."""
    X, y = _blobs()
    if Estimator is MLPRegressor:
        y = X[:, 0] - 0.5 * X[:, 1]
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, tol=0.0)
    with pytest.warns(Warning):  # max_iter runs out: ConvergenceWarning, on both
        cpu = Estimator(**kw).fit(X, y)
    with pytest.warns(Warning):
        dev = Estimator(device="strict", **kw).fit(X, y)
    assert dev.model_.device == "strict"  # it stays there after fit
    np.testing.assert_allclose(dev.predict(X), cpu.predict(X), rtol=1e-6, atol=1e-9)
    assert type(dev.predict(X)) is np.ndarray
    assert dev.score(X, y) == pytest.approx(cpu.score(X, y), rel=1e-6)
    if Estimator is MLPClassifier:
        for k in strict:
            strict[k] = 0
        proba = dev.predict_proba(X)
        # One copy of the rows to the device, one of the outputs back, no other host sync.
        assert strict == {"syncs": 0, "to_device": 1, "to_host": 1}
        assert type(proba) is np.ndarray
        np.testing.assert_allclose(proba, cpu.predict_proba(X), rtol=1e-6, atol=1e-9)
    for ours, theirs in zip(dev.coefs_ + dev.intercepts_, cpu.coefs_ + cpu.intercepts_):
        assert type(ours) is np.ndarray
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    assert all(type(v) is float for v in dev.loss_curve_) and len(dev.loss_curve_) == 5
    np.testing.assert_allclose(dev.loss_curve_, cpu.loss_curve_, rtol=1e-6)


def test_partial_fit_and_warm_start_stay_on_the_device_and_match_the_cpu(strict):
    """issue 12: partial_fit and warm_start go on where the network is; device="cpu" brings it back."""
    X, y = _blobs()
    runs = {}
    for device in ("cpu", "strict"):
        clf = MLPClassifier((8,), device=device, random_state=0)
        clf.partial_fit(X, y, classes=[0, 1, 2])
        clf.partial_fit(X, y)
        runs[device] = clf
    assert runs["strict"].model_.device == "strict"
    np.testing.assert_allclose(runs["strict"].loss_curve_, runs["cpu"].loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(runs["strict"].predict_proba(X), runs["cpu"].predict_proba(X), rtol=1e-6)
    warm = MLPClassifier((8,), device="strict", max_iter=2, warm_start=True, random_state=0)
    with pytest.warns(Warning):
        warm.fit(X, y)
    with pytest.warns(Warning):
        warm.set_params(device="cpu").fit(X, y)
    assert warm.model_.device == "cpu" and type(warm.model_.linears[0].weight.data) is np.ndarray


def test_pickle_of_an_estimator_fitted_on_a_device_loads_where_the_device_is_missing(strict):
    """issue 12: the pickle holds host arrays; on a machine without the device it predicts on the CPU,
    and where the device is, it goes back there."""
    X, y = _blobs()
    with pytest.warns(Warning):
        clf = MLPClassifier((8,), device="strict", max_iter=3, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    blob = pickle.dumps(clf)
    assert b"StrictArray" not in blob  # no device array in the pickle
    assert clf.model_.device == "strict"  # pickling did not move the fitted network
    again = pickle.loads(blob)
    assert again.model_.device == "strict"
    backend.unregister("strict")  # a machine without the device
    elsewhere = pickle.loads(blob)
    assert elsewhere.model_.device == "cpu"
    np.testing.assert_allclose(elsewhere.predict_proba(X), expected, rtol=1e-6)


def test_model_file_of_an_estimator_fitted_on_a_device_loads_on_cpu_and_back(strict, tmp_path):
    """issue 12: the model file written from a device loads on the CPU (the estimator and ff.load)
    and back onto the device with ff.load(path, device=...)."""
    X, y = _blobs()
    with pytest.warns(Warning):
        clf = MLPClassifier((8,), device="strict", max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "clf.safetensors"
    clf.save(path)
    on_device = ff.load(path, device="strict")
    assert on_device.device == "strict"
    assert MLPClassifier.load(path, device="strict").device == "strict"
    expected, weights = clf.predict(X), clf.coefs_
    backend.unregister("strict")
    loaded = MLPClassifier.load(path)
    assert loaded.model_.device == "cpu" and loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), expected)
    for ours, theirs in zip(loaded.coefs_, weights):
        np.testing.assert_array_equal(ours, theirs)


# ------------------------------------------------------------ model files
def test_ff_save_of_a_device_model_writes_host_arrays(strict, tmp_path):
    """issue 12: ff.save copies a device model's weights to the host explicitly; ff.load rebuilds them."""
    net = ff.nn.MLP([3, 5, 2], output="categorical", rng=0)
    host_weights = [p.data.copy() for p in net.parameters()]
    net.to("strict")
    path = tmp_path / "net.safetensors"
    ff.save(net, path)
    assert net.device == "strict"
    back = ff.load(path)
    assert back.device == "cpu"
    for p, w in zip(back.parameters(), host_weights):
        np.testing.assert_array_equal(p.data, w)


def test_load_refuses_a_missing_gpu_before_reading_the_file(no_cupy, tmp_path):
    """issue 12: ff.load(path, device="cuda") without CuPy: the install line (the file is not needed)."""
    with pytest.raises(backend.DeviceUnavailable, match=INSTALL):
        ff.load(tmp_path / "does-not-exist.safetensors", device="cuda")


def test_checkpoint_of_a_device_model_holds_host_arrays(strict, tmp_path):
    """issue 12: a checkpoint written on a device resumes anywhere; its tensors are host arrays."""
    net = ff.nn.MLP([3, 4, 2], output="categorical", rng=0).to("strict")
    path = tmp_path / "ck.safetensors"
    ff.io.save_checkpoint(path, net, epoch=1, extra_arrays={"mask": backend.to_device(np.ones(3), "strict")})
    backend.unregister("strict")
    ck = ff.io.load_checkpoint(path)
    assert ck["model"].device == "cpu"
    np.testing.assert_array_equal(ck["extra_arrays"]["mask"], np.ones(3))


def test_host_copy_leaves_the_device_model_alone(strict):
    """issue 12: host_copy (files, pickles, exports) copies each parameter once to the host."""
    net = ff.nn.MLP([2, 3, 1], output="bernoulli", rng=0)
    cpu_copy = host_copy(net)
    assert cpu_copy is net  # nothing to copy on the CPU
    net.to("strict")
    copied = host_copy(net)
    assert model_device(net) == "strict" and model_device(copied) == "cpu"
    assert all(type(p.data) is np.ndarray for p in copied.parameters())
    for p, q in zip(net.parameters(), copied.parameters()):
        np.testing.assert_array_equal(backend.to_numpy(p.data), q.data)


def test_export_of_a_device_model_copies_to_the_host(strict, tmp_path):
    """issue 12: to_torch and save_torch of a model on a device give what the CPU model gives."""
    torch = pytest.importorskip("torch")
    net = ff.nn.MLP([3, 5, 2], activation="tanh", output="categorical", rng=0).eval()
    x = np.ones((4, 3), np.float32)
    expected = ff.interop.to_torch(net)(torch.from_numpy(x)).detach().numpy()
    net.to("strict")
    got = ff.interop.to_torch(net)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_array_equal(got, expected)
    pytest.importorskip("safetensors")
    ff.interop.save_torch(net, tmp_path / "torch.safetensors")
    assert net.device == "strict"


def test_onnx_export_of_a_device_model_is_the_cpu_models(strict):
    """issue 12: to_onnx of a model on a device writes the same graph as the CPU model's."""
    pytest.importorskip("onnx")
    net = ff.nn.MLP([3, 5, 2], output="categorical", rng=0)
    expected = ff.interop.to_onnx(net).SerializeToString()
    assert ff.interop.to_onnx(net.to("strict")).SerializeToString() == expected


# ------------------------------------------------------------------- CLI
def _status(argv) -> int:
    """The exit status of ``feedforward ARGV`` run in this process (argparse's errors exit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _train(out, device):
    return main(["train", "--data", "iris", "--layers", "8", "--epochs", "3", "--seed", "1", "--out", str(out),
                 "--no-plots", "--no-progress", "--device", device])


def test_cli_trains_on_a_device_and_the_file_loads_on_cpu(strict, tmp_path, capsys):
    """issue 12: `feedforward train --device strict` (in process, so the test device is registered)
    trains the same network as on the CPU; its file loads on a CPU; predict/evaluate take --device."""
    assert _train(tmp_path / "cpu", "cpu") == 0
    assert _train(tmp_path / "dev", "strict") == 0
    capsys.readouterr()
    on_cpu = ff.load(tmp_path / "cpu" / "model.safetensors")
    assert main(["evaluate", str(tmp_path / "dev"), "--data", "iris", "--json", "--device", "strict"]) == 0
    evaluated = capsys.readouterr().out
    backend.unregister("strict")
    from_device = ff.load(tmp_path / "dev" / "model.safetensors")
    assert from_device.device == "cpu"
    for p, q in zip(from_device.parameters(), on_cpu.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    assert main(["evaluate", str(tmp_path / "dev"), "--data", "iris", "--json"]) == 0
    assert capsys.readouterr().out == evaluated  # the same metrics on the device and on the CPU


def test_cli_predict_on_a_device_writes_the_cpu_predictions(strict, tmp_path, capsys):
    """issue 12: `feedforward predict --device strict` writes what the CPU writes."""
    assert _train(tmp_path, "cpu") == 0
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
                    "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path), str(rows), "--proba"]) == 0
    on_cpu = capsys.readouterr().out
    assert main(["predict", str(tmp_path), str(rows), "--proba", "--device", "strict"]) == 0
    assert capsys.readouterr().out == on_cpu


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_cli_device_cuda_without_cupy_is_exit_2_with_the_install_line(no_cupy, command, capsys):
    """issue 12: --device cuda without CuPy: one line on stderr naming the install, exit status 2."""
    argv = {"train": ["train", "--no-plots"], "predict": ["predict", "m.safetensors", "x.csv"],
            "evaluate": ["evaluate", "m.safetensors"]}[command]
    assert _status(argv + ["--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "feedforward[gpu]"' in err and "--device" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_unknown_device_is_exit_2(capsys):
    """issue 12: a misspelt --device is one line naming the spelling and the devices that exist."""
    assert _status(["train", "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'gpu'" in err and "'cuda'" in err


# ------------------------------------------------------------- packaging
def test_the_install_line_names_an_extra_that_exists():
    """issue 12: `pip install "feedforward[gpu]"` (the error messages' advice) installs CuPy; CI's
    extras (test, all) do not pull it in (CI has no GPU)."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert backend.INSTALL == 'pip install "feedforward[gpu]"'
    assert any(req.startswith("cupy-cuda12x") for req in extras["gpu"])
    for name in ("test", "all"):
        assert not any("cupy" in req or "[gpu" in req or ",gpu" in req for req in extras[name])
