"""Model files and checkpoints: every registered unit round-trips, version 1 files load, every field of a
file is checked, exact resume. (Non-regular files, bounded reads and kills during a save: test_io_files.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

import feedforward as ff
from feedforward import io as ffio
from feedforward.io.container import checksum
from feedforward.nn.activation import UNITS

pytest.importorskip("safetensors")
import safetensors.numpy as st  # noqa: E402


def _unit(cls, dtype, units=6):
    """A registered unit with hyper-parameters moved off their defaults (read from its own config)."""
    config = cls.build(units=units, dtype=dtype, rng=3).config()
    config = {k: v * 0.8 if isinstance(v, float) else v for k, v in config.items()}
    return cls.from_config(config, dtype=dtype, rng=3)


# Every registered unit, plus a PReLU with one shared slope: the registry is the list (issue 10).
UNIT_CASES = {name: (cls, 6) for name, cls in UNITS.items()}
UNIT_CASES["prelu_shared"] = (UNITS["prelu"], None)


def _mlp(case, dtype, output="categorical"):
    cls, units = UNIT_CASES[case]
    return ff.nn.MLP([4, 6, 3], activation=[_unit(cls, dtype, units)], output=output, dtype=dtype, rng=0)


def _x(dtype, n=7):
    return np.random.default_rng(1).standard_normal((n, 4)).astype(dtype)


def _arch_of(path):
    blob = path.read_bytes()
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    return json.loads(header["__metadata__"]["feedforward"])


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(UNIT_CASES))
def test_round_trip_predicts_bit_identically(tmp_path, case, dtype):
    """Every registered hidden unit round-trips through save/load with identical outputs (issue 10)."""
    net = _mlp(case, dtype)
    for p in net.parameters():  # move off the initial values
        p.data += np.random.default_rng(2).standard_normal(p.shape).astype(dtype) * 0.1
    path = tmp_path / "net.safetensors"
    ff.save(net, path)
    back = ff.load(path)
    assert type(back) is ff.nn.MLP and back.sizes == net.sizes and back.output.name == "categorical"
    assert repr(back) == repr(net)
    unit, unit_back = net.layers[1], back.layers[1]
    assert type(unit_back) is type(unit) and unit_back.config() == unit.config()
    # The file names the unit by its registry name, with its config: nothing typed twice in io.
    spec = _arch_of(path)["architecture"]["model"]["layers"][1]
    assert spec["type"] == type(unit).name and spec["config"] == unit.config()
    X = _x(dtype)
    net.eval()
    back.eval()
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), back.named_parameters()):
        assert n1 == n2 and p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.data, p2.data)
    # Training mode too: a unit with state (RReLU's generator) draws the same numbers.
    net.train()
    back.train()
    np.testing.assert_array_equal(back(ff.Tensor(X)).data, net(ff.Tensor(X)).data)


def test_a_newly_registered_unit_needs_no_io_change(tmp_path, monkeypatch):
    """A unit added to the registry is saved and rebuilt through its own declaration (issue 10)."""
    from feedforward._validation import Real
    from feedforward.nn import activation as A

    class Shifted(A.Unit):
        name = "shifted_test_unit"
        hparams = {"shift": Real(-5, 5)}

        def __init__(self, shift=0.5):
            self.shift = self._checked(shift=shift)["shift"]

        def forward(self, z):
            return z + self.shift

    monkeypatch.setitem(A.UNITS, Shifted.name, Shifted)
    monkeypatch.setitem(A.ACTIVATIONS, Shifted.name, Shifted)
    net = ff.nn.MLP([3, 4, 2], activation=[Shifted(1.5)], output="gaussian", rng=0)
    path = tmp_path / "n.safetensors"
    ff.save(net, path)
    back = ff.load(path)
    assert type(back.layers[1]) is Shifted and back.layers[1].shift == 1.5
    X = _x(np.float32)[:, :3]
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # Its declared constraint checks the file: a shift out of range is refused, naming the field.
    doc = _arch_of(path)
    doc["architecture"]["model"]["layers"][1]["config"]["shift"] = 9.0
    _write_raw(path, {n: p.data for n, p in net.named_parameters()}, doc)
    with pytest.raises(ValueError, match=r"model.layers\[1\].*shift must be a finite number >= -5 and <= 5"):
        ff.load(path)


def _legacy_v1_file(path, net, rng_state):
    """A model file exactly as the version before the registry wrote it (format version 1)."""
    lin = [{"type": "Linear", "in_features": a, "out_features": b, "bias": True}
           for a, b in zip(net.sizes, net.sizes[1:])]
    units = [
        {"type": "ReLU"},
        {"type": "AbsRectify"},
        {"type": "LeakyReLU", "negative_slope": 0.2},
        {"type": "PReLU", "num_parameters": 4},
        {"type": "RReLU", "lower": 0.1, "upper": 0.3, "rng_state": rng_state},
        {"type": "ELU", "alpha": 0.7},
        {"type": "Sigmoid"},
        {"type": "Tanh"},
        {"type": "Identity"},
    ]
    layers = [lin[0]]
    for u, l in zip(units, lin[1:]):
        layers += [u, l]
    doc = {
        "format": "feedforward.model",
        "version": 1,
        "architecture": {"model": {"type": "MLP", "sizes": net.sizes, "layers": layers}, "output": "categorical",
                         "dtype": "float32"},
    }
    _write_raw(path, {n: p.data for n, p in net.named_parameters()}, doc, extra_meta={"note": "v1"})


def test_files_of_format_version_1_still_load(tmp_path):
    """Files written before the unit registry (class names, flat hyper-parameters) load the same (issue 10)."""
    acts = ["relu", "abs", ff.nn.LeakyReLU(0.2), ff.nn.PReLU(4, init=0.1), ff.nn.RReLU(0.1, 0.3, rng=5),
            ff.nn.ELU(0.7), "sigmoid", "tanh", "identity"]
    net = ff.nn.MLP([3] + [4] * 9 + [2], activation=acts, output="categorical", rng=0)
    path = tmp_path / "v1.safetensors"
    _legacy_v1_file(path, net, ffio.rng_state_to_json(np.random.default_rng(5)))
    back, meta = ff.load(path, return_metadata=True)
    assert meta == {"note": "v1"} and repr(back) == repr(net)
    X = np.random.default_rng(0).standard_normal((9, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    net.train()
    back.train()  # RReLU's generator state came back from "rng_state"
    np.testing.assert_array_equal(back(ff.Tensor(X)).data, net(ff.Tensor(X)).data)
    ff.save(back, path)  # written again: version 2, registry names
    doc = _arch_of(path)
    assert doc["version"] == 2 and doc["architecture"]["model"]["layers"][9]["type"] == "rrelu"


def test_sequential_round_trip_with_metadata(tmp_path):
    seq = ff.nn.Sequential(
        ff.nn.Linear(4, 5, rng=0),
        ff.nn.ELU(0.3),
        ff.nn.Sequential(ff.nn.Linear(5, 2, bias=False, rng=1), ff.nn.Identity()),
    )
    path = tmp_path / "seq.safetensors"
    ff.save(seq, path, metadata={"note": "digits", "accuracy": "0.97"})
    back, meta = ff.load(path, return_metadata=True)
    assert meta == {"note": "digits", "accuracy": "0.97"}
    assert ffio.read_metadata(path) == meta
    assert not hasattr(back, "output") and repr(back) == repr(seq)
    X = _x(np.float32)
    np.testing.assert_array_equal(back(ff.Tensor(X)).data, seq(ff.Tensor(X)).data)
    seq.output = ff.nn.Gaussian()
    ff.save(seq, path)
    assert ff.load(path).output.name == "gaussian"


def test_prelu_in_another_dtype_than_the_linear_layers(tmp_path):
    net = ff.nn.MLP([3, 4, 2], activation=[ff.nn.PReLU(4, init=0.3, dtype=np.float32)], dtype=np.float64, rng=0)
    ff.save(net, tmp_path / "p.safetensors")
    back = ff.load(tmp_path / "p.safetensors")
    assert back.layers[1].weight.dtype == np.float32 and back.layers[0].weight.dtype == np.float64


def test_save_rejects_what_it_cannot_describe(tmp_path):
    class Custom(ff.nn.Module):
        def __init__(self):
            self.w = ff.nn.Parameter(np.zeros(3))

    class MyReLU(ff.nn.ReLU):  # inherits the name "relu" but is not the registered class
        pass

    with pytest.raises(TypeError, match="MLP and ff.nn.Sequential"):
        ff.save(Custom(), tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match="cannot save layer"):
        ff.save(ff.nn.Sequential(ff.nn.Linear(2, 2), Custom()), tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match="cannot save layer .* MyReLU"):
        ff.save(ff.nn.Sequential(ff.nn.Linear(2, 2), MyReLU()), tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        ff.save(ff.nn.MLP([2, 2]), tmp_path / "c.safetensors", metadata={"feedforward": "x"})
    net = ff.nn.MLP([2, 2])
    net.layers[0].weight.data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ff.save(net, tmp_path / "c.safetensors")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file either


# ---------------------------------------------------------- hostile files
def _write_raw(path, tensors, doc, extra_meta=None):
    """A file in our container format with any architecture JSON (valid checksum)."""
    doc = dict(doc)
    doc.setdefault("format", "feedforward.model")
    doc.setdefault("version", 2)
    doc["sha256"] = checksum(tensors, doc, extra_meta or {})
    meta = {"feedforward": json.dumps(doc)}
    meta.update(extra_meta or {})
    path.write_bytes(st.save(tensors, metadata=meta))


def _good(tmp_path):
    net = ff.nn.MLP([3, 4, 2], activation="tanh", output="categorical", rng=0)
    path = tmp_path / "good.safetensors"
    ff.save(net, path)
    return net, path


def test_truncated_files(tmp_path):
    _, path = _good(tmp_path)
    blob = path.read_bytes()
    header_len = int.from_bytes(blob[:8], "little")
    for cut in (0, 5, 8, 8 + header_len // 2, 8 + header_len, len(blob) - 1):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match="truncated|too short|not valid JSON"):
            ff.load(bad)


def test_corrupted_data_byte_is_detected(tmp_path):
    _, path = _good(tmp_path)
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x40  # one bit of one weight
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="checksum mismatch"):
        ff.load(path)


def test_corrupted_metadata_that_still_parses_is_detected(tmp_path):
    net = ff.nn.MLP([3, 4, 2], activation=ff.nn.LeakyReLU(0.2), output="categorical", rng=0)
    path = tmp_path / "m.safetensors"
    ff.save(net, path, metadata={"note": "abc"})
    blob = path.read_bytes()
    for old, new in [(b'negative_slope\\":0.2', b'negative_slope\\":0.3'), (b'"abc"', b'"abd"')]:
        assert blob.count(old) == 1
        path.write_bytes(blob.replace(old, new))
        with pytest.raises(ValueError, match="checksum mismatch"):
            ff.load(path)


def test_hostile_headers(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="exceeds"):
        ff.load(path)
    path.write_bytes((10**6).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="larger than the file"):
        ff.load(path)
    for header in (b"[1, 2]", b"\xff\xfe{}", b'{"a": 1, "a": 2}', b"[" * 100000 + b"]" * 100000):
        path.write_bytes(len(header).to_bytes(8, "little") + header)
        with pytest.raises(ValueError):
            ff.load(path)
    header = json.dumps(
        {"__metadata__": {"feedforward": "{}"}, "w": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}
    ).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(ValueError, match="unsupported dtype 'O'"):
        ff.load(path)
    header = json.dumps(
        {
            "__metadata__": {"feedforward": "{}"},
            "w": {"dtype": "F32", "shape": [10**12], "data_offsets": [0, 4]},
        }
    ).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    with pytest.raises(ValueError, match="needs 4000000000000 bytes"):
        ff.load(path)
    path.write_bytes(st.save({"w": np.zeros(2, np.float32)}))
    with pytest.raises(ValueError, match="not a feedforward file"):
        ff.load(path)


def _arch(model_spec, output="categorical", dtype="float32"):
    return {"architecture": {"model": model_spec, "output": output, "dtype": dtype}}


def _lin(i, o, bias=True):
    return {"type": "Linear", "in_features": i, "out_features": o, "bias": bias}


def _tensors(shapes):
    return {k: np.zeros(s, np.float32) for k, s in shapes.items()}


GOOD_TENSORS = {
    "layers.0.weight": (3, 4),
    "layers.0.bias": (4,),
    "layers.2.weight": (4, 2),
    "layers.2.bias": (2,),
}
RELU = {"type": "relu", "config": {}}


def _seq(unit):
    return {"type": "Sequential", "layers": [_lin(3, 4), unit, _lin(4, 2)]}


@pytest.mark.parametrize(
    "spec, tensors, message",
    [
        (_seq({"type": "os.system"}), GOOD_TENSORS, "unknown layer type 'os.system'"),
        (_seq({"type": "ReLU", "config": {}}), GOOD_TENSORS, "unknown layer type 'ReLU'"),  # v1 names in v2
        (_seq(dict(RELU, __class__="x")), GOOD_TENSORS, "unknown keys"),
        (_seq({"type": "relu"}), GOOD_TENSORS, r"model.layers\[1\]: missing keys \['config'\]"),
        (_seq({"type": "relu", "config": [1]}), GOOD_TENSORS, r"model.layers\[1\].config must be a JSON object"),
        (_seq({"type": "relu", "config": {"x": 1}}), GOOD_TENSORS, r"model.layers\[1\]: .*unknown hyper-parameter"),
        (
            {"type": "Sequential", "layers": [_lin(3, 5), RELU, _lin(5, 2)]},
            GOOD_TENSORS,
            "has shape",
        ),
        (
            {"type": "MLP", "sizes": [3, 10**8, 2], "layers": [_lin(3, 10**8), RELU, _lin(10**8, 2)]},
            GOOD_TENSORS,
            "has shape",
        ),
        (
            {"type": "MLP", "sizes": [3, 4, 2], "layers": [_lin(3, 4), RELU, _lin(4, 2)]},
            {k: v for k, v in GOOD_TENSORS.items() if k != "layers.2.bias"},
            "missing tensor 'layers.2.bias'",
        ),
        (
            {"type": "MLP", "sizes": [3, 4, 2], "layers": [_lin(3, 4), RELU, _lin(4, 2)]},
            dict(GOOD_TENSORS, extra=(1,)),
            "unexpected tensors",
        ),
        (
            {"type": "MLP", "sizes": "3,4,2", "layers": [_lin(3, 4), RELU, _lin(4, 2)]},
            GOOD_TENSORS,
            "model.sizes must be a list",
        ),
        (
            {"type": "MLP", "sizes": [3, 4.0, 2], "layers": [_lin(3, 4), RELU, _lin(4, 2)]},
            GOOD_TENSORS,
            r"model.sizes\[1\] must be an integer",
        ),
        (
            {"type": "MLP", "sizes": [3, 4, 2], "layers": [_lin(3, 4), _lin(4, 4), _lin(4, 2)]},
            GOOD_TENSORS,
            r"layers\[1\] must be a hidden unit",
        ),
        (
            {"type": "Sequential", "layers": [dict(_lin(3, 4), bias=1), RELU, _lin(4, 2)]},
            GOOD_TENSORS,
            r"model.layers\[0\].bias must be True or False, got 1 \(int\)",
        ),
        (
            {"type": "Sequential", "layers": [dict(_lin(3, 4), in_features=True), RELU, _lin(4, 2)]},
            GOOD_TENSORS,
            r"model.layers\[0\].in_features must be an integer >= 1 and <= 100000000, got True",
        ),
        (
            _seq({"type": "leaky_relu", "config": {"negative_slope": "0.1"}}),
            GOOD_TENSORS,
            "negative_slope must be a finite number, got '0.1'",
        ),
        (
            _seq({"type": "elu", "config": {"alpha": float("nan")}}),
            GOOD_TENSORS,
            "alpha must be a finite number, got nan",
        ),
        (_seq({"type": "rrelu", "config": {"lower": 0.5, "upper": 0.1}}), GOOD_TENSORS, "lower <= upper"),
        (
            _seq({"type": "rrelu", "config": {"lower": 0.1, "upper": 0.5}, "state": {"rng": {"bit_generator": "os"}}}),
            GOOD_TENSORS,
            r"model.layers\[1\]: rng state",
        ),
        (
            # A hostile slope count is refused before a single slope is allocated.
            _seq({"type": "prelu", "config": {"num_parameters": 10**12, "init": 0.25}}),
            GOOD_TENSORS,
            r"parameter .weight. would have shape \(1000000000000,\), larger than any stored tensor \(largest dimension 4\)",
        ),
        (
            _seq({"type": "prelu", "config": {"num_parameters": 4, "init": 0.25}}),
            GOOD_TENSORS,
            r"missing tensors \['layers.1.weight'\]",
        ),
        ({"type": "Sequential", "layers": []}, {}, "non-empty list"),
        (
            {"type": "Linear", "in_features": 3, "out_features": 4, "bias": True},
            {"weight": (3, 4), "bias": (4,)},
            "top-level model must be MLP or Sequential",
        ),
        ("Sequential", GOOD_TENSORS, "JSON object"),
    ],
)
def test_wrong_architecture_json(tmp_path, spec, tensors, message):
    """Each field of a file is checked before anything is built; the error names the field (issue 10)."""
    path = tmp_path / "a.safetensors"
    _write_raw(path, _tensors(tensors), _arch(spec))
    with pytest.raises(ValueError, match="a.safetensors: .*" + message):
        ff.load(path)


def test_version_1_files_are_checked_as_strictly(tmp_path):
    """A version-1 file goes through the same unit constraints after its translation (issue 10)."""
    path = tmp_path / "a.safetensors"
    for unit, message in [
        ({"type": "LeakyReLU", "negative_slope": "0.1"}, "negative_slope must be a finite number"),
        ({"type": "RReLU", "lower": 0.5, "upper": 0.1}, "lower <= upper"),
        ({"type": "ReLU", "__class__": "x"}, r"unknown hyper-parameter\(s\) \['__class__'\]"),
        ({"type": "RReLU", "lower": 0.1, "upper": 0.2, "rng_state": [1]}, "rng state"),
    ]:
        _write_raw(path, _tensors(GOOD_TENSORS), dict(_arch(_seq(unit)), version=1))
        with pytest.raises(ValueError, match=message):
            ff.load(path)


def test_deep_nesting_and_bad_top_level_fields(tmp_path):
    path = tmp_path / "a.safetensors"
    spec = {"type": "Sequential", "layers": [_lin(3, 4)]}
    for _ in range(40):
        spec = {"type": "Sequential", "layers": [spec]}
    _write_raw(path, {}, _arch(spec))
    with pytest.raises(ValueError, match="nested deeper"):
        ff.load(path)
    good = {"type": "Sequential", "layers": [_lin(3, 4)]}
    shapes = {"layers.0.weight": (3, 4), "layers.0.bias": (4,)}
    for arch, message in [
        (_arch(good, output="poisson"), "output must be one of .* or None, got 'poisson'"),
        (_arch(good, output=3), "output must be one of"),
        (_arch(good, dtype="float16"), "dtype must be one of float32, float64, got float16"),
        ({"architecture": {"model": good, "output": None, "dtype": "float32", "eval": "1"}}, "unknown keys"),
        ({"architecture": good, "version": 99}, "version 99"),
        ({"architecture": good, "version": [2]}, r"version \[2\]"),
        ({"architecture": good, "version": True}, "version True"),
        ({"architecture": good, "format": "pickle"}, "format is 'pickle'"),
    ]:
        _write_raw(path, _tensors(shapes), arch)
        with pytest.raises(ValueError, match=message):
            ff.load(path)


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    spec = {"type": "Sequential", "layers": [_lin(3, 4), {"type": payload}]}
    path = tmp_path / "evil.safetensors"
    _write_raw(
        path,
        _tensors({"layers.0.weight": (3, 4), "layers.0.bias": (4,)}),
        _arch(spec),
        extra_meta={"__reduce__": payload},
    )
    with pytest.raises(ValueError, match="unknown layer type"):
        ff.load(path)
    assert not marker.exists()
