"""safetensors files in torch's layout (issue 14, L-IO-2): ``save_torch`` / ``load_torch``.

The file ``save_torch`` writes is loaded by ``torch.nn.Sequential.load_state_dict(
safetensors.torch.load_file(path))`` as it is (strict, torch's names and shapes), and a
``state_dict`` file torch wrote is read by ``load_torch``; both give the same outputs.
Broken files are ValueErrors naming the file and what is wrong, read within bounds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import feedforward as ff
from feedforward.interop import load_torch, save_torch

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
st_numpy = pytest.importorskip("safetensors.numpy")
nn = torch.nn


def _x(dtype=np.float32):
    return np.random.default_rng(3).standard_normal((10, 4)).astype(dtype)


def _run(module, x):
    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_torch_load_state_dict_takes_the_exported_file_as_it_is(tmp_path, dtype):
    """Issue 14: Sequential.load_state_dict(safetensors.torch.load_file(path)), strict, no renaming."""
    net = ff.nn.MLP([4, 7, 5, 3], activation=[ff.nn.PReLU(7, dtype=dtype), "tanh"], output="categorical",
                    rng=0, dtype=dtype)
    path = tmp_path / "net.safetensors"
    save_torch(net, path)
    state = st_torch.load_file(path)
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "0.weight": (7, 4), "0.bias": (7,), "1.weight": (7,), "2.weight": (5, 7), "2.bias": (5,),
        "4.weight": (3, 5), "4.bias": (3,)}
    seq = nn.Sequential(nn.Linear(4, 7), nn.PReLU(7), nn.Linear(7, 5), nn.Tanh(), nn.Linear(5, 3))
    seq = seq.to(getattr(torch, np.dtype(dtype).name))
    result = seq.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert state["0.weight"].dtype == getattr(torch, np.dtype(dtype).name)
    np.testing.assert_allclose(_run(seq, _x(dtype)), net(_x(dtype)).data, rtol=1e-5, atol=1e-6)
    back = load_torch(path)  # the architecture rides in the metadata
    assert type(back) is ff.nn.MLP and back.output.name == "categorical"
    for a, b in zip(net.parameters(), back.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_torch_reads_a_file_torch_wrote(tmp_path):
    """Issue 14: a state_dict saved by torch loads into ff, units named by activation=; same outputs."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6), nn.PReLU(6), nn.Linear(6, 2)).eval()
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(seq.state_dict(), path)
    net = load_torch(path, activation="relu", output="bernoulli")
    assert type(net) is ff.nn.MLP and net.sizes == [4, 6, 6, 2] and net.output.name == "bernoulli"
    assert [type(m).name for m in net.layers[1::2]] == ["relu", "prelu"]
    np.testing.assert_allclose(net(_x()).data, _run(seq, _x()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.predict_proba(_x()), 1 / (1 + np.exp(-_run(seq, _x()))), rtol=1e-5, atol=1e-6)


def test_load_torch_one_activation_per_position_and_biasless_layers(tmp_path):
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Tanh(), nn.Linear(5, 3), nn.ELU(0.5), nn.Linear(3, 1))
    path = tmp_path / "t.safetensors"
    st_torch.save_file(seq.state_dict(), path)
    net = load_torch(path, activation=["tanh", ff.nn.ELU(0.5)])
    assert type(net) is ff.nn.Sequential  # no bias in the first layer: not an MLP
    np.testing.assert_allclose(net(_x()).data, _run(seq, _x()), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"which units sit at positions \[1, 3\].*activation='relu'"):
        load_torch(path)
    with pytest.raises(ValueError, match=r"1 activations for the 2 parameter-free positions"):
        load_torch(path, activation=["tanh"])
    with pytest.raises(ValueError, match="must be a hidden unit's name"):
        load_torch(path, activation="softmax")


def _write(path, tensors, metadata=None):
    path.write_bytes(st_numpy.save(tensors, metadata=metadata))
    return path


@pytest.mark.parametrize("case, match", [
    ("other_names", r"expected the tensors of a flat torch.nn.Sequential.*running_mean"),
    ("bad_shape", r"tensor 'layers.0.weight' has shape \(4, 3\), the architecture needs \(3, 4\)"),
    ("nan", r"tensor 'layers.0.bias' contains NaN"),
    ("float16", r"'layers.0.(weight|bias)' has dtype float16, expected float32 or float64"),
    ("mixed", r"the tensors mix dtypes \['float32', 'float64'\]"),
    ("truncated", r"truncated"),
    ("not_safetensors", r"header length .* (is larger than the file|exceeds the .*-byte limit)"),
    ("metadata_version", r"is not format feedforward.torch version 1"),
])
def test_broken_files_are_named_errors(tmp_path, case, match):
    """Every broken file is a ValueError naming the file and the problem; nothing is built first."""
    path = tmp_path / "bad.safetensors"
    w, b = np.ones((2, 3), np.float32), np.zeros(2, np.float32)
    if case == "other_names":
        _write(path, {"0.weight": w, "1.running_mean": b})
    elif case == "bad_shape":
        good = tmp_path / "good.safetensors"
        save_torch(ff.nn.MLP([3, 4]), good)
        from safetensors import safe_open

        with safe_open(good, "np") as f:
            meta = f.metadata()
        _write(path, {"0.weight": np.ones((3, 4), np.float32), "0.bias": np.zeros(4, np.float32)}, meta)
    elif case == "nan":
        _write(path, {"0.weight": w, "0.bias": np.array([0, np.nan], np.float32)})
    elif case == "float16":
        _write(path, {"0.weight": w.astype(np.float16), "0.bias": b.astype(np.float16)})
    elif case == "mixed":
        _write(path, {"0.weight": w.astype(np.float64), "0.bias": b})
    elif case == "truncated":
        _write(path, {"0.weight": w, "0.bias": b})
        path.write_bytes(path.read_bytes()[:-5])
    elif case == "not_safetensors":
        path.write_bytes(b"PK\x03\x04 this is a zip file, not safetensors")
    elif case == "metadata_version":
        doc = json.dumps({"format": "feedforward.torch", "version": 9, "architecture": {}})
        _write(path, {"0.weight": w, "0.bias": b}, {"feedforward.torch": doc})
    with pytest.raises(ValueError, match=match) as info:
        load_torch(path)
    assert "bad.safetensors" in str(info.value)


def test_not_a_regular_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a regular file"):
        load_torch(tmp_path)


def test_save_torch_refuses_what_ff_cannot_describe(tmp_path):
    net = ff.nn.MLP([2, 3, 1], rng=0)
    net.layers[0].weight.data[0, 0] = np.inf
    with pytest.raises(ValueError, match="'layers.0.weight' contains NaN or inf"):
        save_torch(net, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_nested_sequential_round_trips_through_the_file(tmp_path):
    """ff's layers.1.layers.0.weight is torch's 1.0.weight, both ways, with the architecture in the file."""
    net = ff.nn.Sequential(ff.nn.Linear(4, 5, rng=0, dtype=np.float64),
                           ff.nn.Sequential(ff.nn.ELU(0.3), ff.nn.Linear(5, 2, bias=False, rng=1, dtype=np.float64)))
    path = tmp_path / "nested.safetensors"
    save_torch(net, path)
    seq = nn.Sequential(nn.Linear(4, 5), nn.Sequential(nn.ELU(0.3), nn.Linear(5, 2, bias=False))).double()
    seq.load_state_dict(st_torch.load_file(path), strict=True)
    x = _x(np.float64)
    np.testing.assert_allclose(_run(seq, x), net(x).data, rtol=1e-12, atol=1e-14)
    back = load_torch(path)
    assert type(back) is ff.nn.Sequential and list(back.state_dict()) == list(net.state_dict())
    np.testing.assert_array_equal(back(x).data, net(x).data)
