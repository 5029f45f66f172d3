"""Model files and checkpoints: round trips, hostile files, atomic writes, exact resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import feedforward as ff
from feedforward import io as ffio

pytest.importorskip("safetensors")
import safetensors.numpy as st  # noqa: E402

ACTIVATIONS = {
    "relu": lambda dt: "relu",
    "leaky": lambda dt: ff.nn.LeakyReLU(0.2),
    "prelu_shared": lambda dt: ff.nn.PReLU(1, init=0.3, dtype=dt),
    "prelu_per_unit": lambda dt: ff.nn.PReLU(6, init=0.1, dtype=dt),
    "rrelu": lambda dt: ff.nn.RReLU(0.05, 0.4, rng=3),
    "elu": lambda dt: ff.nn.ELU(0.7),
    "sigmoid": lambda dt: "sigmoid",
    "tanh": lambda dt: "tanh",
    "abs": lambda dt: "abs",
}


def _mlp(act, dtype, output="categorical"):
    a = ACTIVATIONS[act](dtype)
    return ff.nn.MLP([4, 6, 3], activation=[a], output=output, dtype=dtype, rng=0)


def _x(dtype, n=7):
    return np.random.default_rng(1).standard_normal((n, 4)).astype(dtype)


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_round_trip_predicts_bit_identically(tmp_path, act, dtype):
    net = _mlp(act, dtype)
    for p in net.parameters():  # move off the initial values
        p.data += np.random.default_rng(2).standard_normal(p.shape).astype(dtype) * 0.1
    path = tmp_path / "net.safetensors"
    ff.save(net, path)
    back = ff.load(path)
    assert type(back) is ff.nn.MLP and back.sizes == net.sizes and back.output.name == "categorical"
    assert repr(back) == repr(net)
    X = _x(dtype)
    net.eval()
    back.eval()
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), back.named_parameters()):
        assert n1 == n2 and p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.data, p2.data)


def test_rrelu_generator_state_survives(tmp_path):
    net = _mlp("rrelu", np.float64)
    ff.save(net, tmp_path / "r.safetensors")
    back = ff.load(tmp_path / "r.safetensors")
    X = _x(np.float64)
    # Training mode draws random slopes: the same generator state gives the same draws.
    np.testing.assert_array_equal(back(ff.Tensor(X)).data, net(ff.Tensor(X)).data)


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


def test_save_rejects_what_it_cannot_describe(tmp_path):
    class Custom(ff.nn.Module):
        def __init__(self):
            self.w = ff.nn.Parameter(np.zeros(3))

    with pytest.raises(TypeError, match="MLP and ff.nn.Sequential"):
        ff.save(Custom(), tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match="cannot save layer"):
        ff.save(ff.nn.Sequential(ff.nn.Linear(2, 2), Custom()), tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        ff.save(ff.nn.MLP([2, 2]), tmp_path / "c.safetensors", metadata={"feedforward": "x"})
    net = ff.nn.MLP([2, 2])
    net.layers[0].weight.data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ff.save(net, tmp_path / "c.safetensors")


# ---------------------------------------------------------- hostile files
def _write_raw(path, tensors, doc, extra_meta=None):
    """A file in our container format with any architecture JSON (valid checksum)."""
    doc = dict(doc)
    doc.setdefault("format", "feedforward.model")
    doc.setdefault("version", 1)
    doc["sha256"] = ffio._checksum(tensors, doc, extra_meta or {})
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


@pytest.mark.parametrize(
    "spec, tensors, message",
    [
        (
            {"type": "Sequential", "layers": [_lin(3, 4), {"type": "os.system"}, _lin(4, 2)]},
            GOOD_TENSORS,
            "unknown layer type 'os.system'",
        ),
        (
            {"type": "Sequential", "layers": [_lin(3, 4), {"type": "ReLU", "__class__": "x"}, _lin(4, 2)]},
            GOOD_TENSORS,
            "unknown keys",
        ),
        (
            {"type": "Sequential", "layers": [_lin(3, 5), {"type": "ReLU"}, _lin(5, 2)]},
            GOOD_TENSORS,
            "has shape",
        ),
        (
            {
                "type": "MLP",
                "sizes": [3, 10**8, 2],
                "layers": [_lin(3, 10**8), {"type": "ReLU"}, _lin(10**8, 2)],
            },
            GOOD_TENSORS,
            "has shape",
        ),
        (
            {"type": "MLP", "sizes": [3, 4, 2], "layers": [_lin(3, 4), {"type": "ReLU"}, _lin(4, 2)]},
            {k: v for k, v in GOOD_TENSORS.items() if k != "layers.2.bias"},
            "missing tensor 'layers.2.bias'",
        ),
        (
            {"type": "MLP", "sizes": [3, 4, 2], "layers": [_lin(3, 4), {"type": "ReLU"}, _lin(4, 2)]},
            dict(GOOD_TENSORS, extra=(1,)),
            "unexpected tensors",
        ),
        (
            {"type": "MLP", "sizes": "3,4,2", "layers": [_lin(3, 4), {"type": "ReLU"}, _lin(4, 2)]},
            GOOD_TENSORS,
            "sizes must be a list",
        ),
        (
            {"type": "Sequential", "layers": [dict(_lin(3, 4), bias=1), {"type": "ReLU"}, _lin(4, 2)]},
            GOOD_TENSORS,
            "bias must be true or false",
        ),
        (
            {
                "type": "Sequential",
                "layers": [_lin(3, 4), {"type": "LeakyReLU", "negative_slope": "0.1"}, _lin(4, 2)],
            },
            GOOD_TENSORS,
            "negative_slope must be a finite number",
        ),
        (
            {
                "type": "Sequential",
                "layers": [_lin(3, 4), {"type": "RReLU", "lower": 0.5, "upper": 0.1}, _lin(4, 2)],
            },
            GOOD_TENSORS,
            "lower <= upper",
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
    path = tmp_path / "a.safetensors"
    _write_raw(path, _tensors(tensors), _arch(spec))
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
        (_arch(good, output="poisson"), "output must be null"),
        (_arch(good, dtype="float16"), "dtype must be one of"),
        ({"architecture": {"model": good, "output": None, "dtype": "float32", "eval": "1"}}, "unknown keys"),
        ({"architecture": good, "version": 99}, "version 99"),
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


# ----------------------------------------------------------- atomic writes
def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    net, path = _good(tmp_path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    other = ff.nn.MLP([3, 4, 2], activation="tanh", output="categorical", rng=9)
    with pytest.raises(OSError, match="disk full"):
        ff.save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.safetensors"]  # temp file removed
    X = _x(np.float32)[:, :3]
    np.testing.assert_array_equal(ff.load(path).predict_proba(X), net.predict_proba(X))


_SAVER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import feedforward as ff
    from feedforward import io as ffio

    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    class HalfWriter:
        # A file whose write() puts half of the bytes on disk, then the process is killed.
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.fsync(self.f.fileno())
            die()

    path, where = sys.argv[1], sys.argv[2]
    net = ff.nn.MLP([500, 2000, 10], output="categorical", rng=0)   # about 4 MB of float32
    i = 0
    while True:
        for p in net.parameters():
            p.data[...] = i
        if i == 2 and where == "mid_write":
            fdopen = os.fdopen
            ffio.os.fdopen = lambda *a, **k: HalfWriter(fdopen(*a, **k))
        if i == 2 and where == "before_rename":
            ffio.os.replace = die
        ff.save(net, path, metadata={"i": str(i)})
        print(i, flush=True)
        i += 1
""")


@pytest.mark.parametrize(
    "where, delay", [("mid_write", 0), ("before_rename", 0), ("random", 0.05), ("random", 0.17)]
)
def test_sigkill_during_save_leaves_a_loadable_file(tmp_path, where, delay):
    path = tmp_path / "big.safetensors"
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), where], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "0"  # the first save is complete
        if where == "random":
            time.sleep(delay)  # the saver spends nearly all its time inside ff.save
            proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        printed = [int(line) for line in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    model, meta = ff.load(path, return_metadata=True)
    i = int(meta["i"])
    if where != "random":
        assert printed == [1] and i == 1  # save number 2 was killed: the file is still save number 1
        leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(leftovers) == 1  # the killed save's temporary file, never renamed over the target
    for p in model.parameters():
        assert (p.data == i).all()  # one whole version, never a mixture


# -------------------------------------------------------------- checkpoints
def _resume_problem():
    r = np.random.default_rng(0)
    X = r.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def _resume_net():
    return ff.nn.MLP([4, 8, 8, 3], activation=["rrelu", "tanh"], output="categorical", rng=0)


@pytest.mark.parametrize(
    "options",
    [
        {
            "optimizer": "sgd",
            "momentum": 0.9,
            "nesterov": True,
            "lr_schedule": ff.optim.StepLR(3, 0.5),
            "validation_fraction": 0.25,
            "early_stopping": True,
            "patience": 50,
        },
        {
            "optimizer": "adam",
            "lr": 0.01,
            "batch_schedule": ff.training.GrowingBatch(4, on_plateau=True, patience=1),
            "lr_schedule": "plateau",
            "rng": None,
        },
        {"mode": "stochastic", "lr": 0.01, "lr_schedule": "invscaling", "weight_decay": 1e-3},
        {"mode": "batch", "lr": 0.2, "diagnostics": True, "sample_weight": np.linspace(0.5, 1.5, 64)},
    ],
)
def test_resume_equals_uninterrupted_run(tmp_path, options):
    options = dict(options)
    X, y = _resume_problem()
    options.setdefault("lr", 0.05)
    options.setdefault("rng", 11)
    fit_kwargs = {k: options.pop(k) for k in ("validation_fraction", "sample_weight") if k in options}

    def run(max_epochs, **extra):
        net = _resume_net()
        trainer = ff.Trainer(net, batch_size=8, max_epochs=max_epochs, **options, **extra)
        return net, trainer.fit(X, y, **fit_kwargs)

    path = tmp_path / "ck.safetensors"
    if options.get("rng") is None:
        # Without a seed, compare a run with its own continuation: keep a copy of the
        # epoch-3 checkpoint (the file still holds it when epoch 4's callbacks run).
        ck3 = tmp_path / "ck3.safetensors"
        keep = ff.training.LambdaCallback(
            on_epoch_end=lambda t, epoch, logs: shutil.copyfile(path, ck3) if epoch == 4 else None
        )
        net_a, ha = run(7, checkpoint_path=path, checkpoint_every=3, callbacks=[keep])
        path = ck3
    else:
        net_a, ha = run(7)
        net_b, hb = run(3, checkpoint_path=path, checkpoint_every=3)
        assert hb.epochs == 3
    net_c, hc = run(7, resume_from=path)
    assert hc.epochs == 7 and hc.stop_reason == ha.stop_reason
    for p, q in zip(net_a.parameters(), net_c.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    strip = [{k: v for k, v in r.items() if k not in ("time", "epoch_time")} for r in ha.records]
    assert strip == [{k: v for k, v in r.items() if k not in ("time", "epoch_time")} for r in hc.records]


def test_resume_without_seed_continues_the_generator(tmp_path):
    X, y = _resume_problem()
    path = tmp_path / "ck.safetensors"
    net_a = _resume_net()
    ff.fit(net_a, X, y, max_epochs=3, checkpoint_path=path, lr=0.05, batch_size=8)  # rng=None: OS entropy
    ck = ffio.load_checkpoint(path)
    # Two resumes from the same checkpoint are identical: the generator state was saved.
    nets = []
    for _ in range(2):
        net = _resume_net()
        ff.fit(net, X, y, max_epochs=5, resume_from=path, lr=0.05, batch_size=8)
        nets.append(net)
    for p, q in zip(*(n.parameters() for n in nets)):
        np.testing.assert_array_equal(p.data, q.data)
    assert ck["epoch"] == 3 and ck["history"].epochs == 3


def test_checkpoint_contents_and_mismatched_resume(tmp_path):
    X, y = _resume_problem()
    path = tmp_path / "ck.safetensors"
    net = _resume_net()
    h = ff.fit(net, X, y, max_epochs=2, checkpoint_path=path, optimizer="adam", lr=0.01, rng=0)
    ck = ffio.load_checkpoint(path)
    assert ck["epoch"] == 2
    assert ck["history"].to_dict() == h.to_dict()
    assert ck["optimizer"]["type"] == "Adam" and ck["optimizer"]["step_count"] == sum(h["n_updates"])
    assert isinstance(ck["rng"], np.random.Generator)
    for (name, p), (name2, a) in zip(net.named_parameters(), ck["model_state"].items()):
        assert name == name2
        np.testing.assert_array_equal(p.data, a)
    assert type(ck["model"]) is ff.nn.MLP  # rebuilt from the architecture
    with pytest.raises(ValueError, match="different training set"):
        ff.fit(_resume_net(), X[:-1], y[:-1], max_epochs=3, resume_from=path, optimizer="adam", rng=0)
    with pytest.raises(ValueError, match="is for Adam"):
        ff.fit(_resume_net(), X, y, max_epochs=3, resume_from=path, optimizer="sgd", rng=0)
    with pytest.raises(ValueError, match="shape"):
        ff.fit(
            ff.nn.MLP([4, 9, 8, 3], activation=["rrelu", "tanh"], output="categorical", rng=0),
            X,
            y,
            max_epochs=3,
            resume_from=path,
            optimizer="adam",
            rng=0,
        )
    with pytest.raises(ValueError, match="expected 'feedforward.checkpoint'"):
        ff.save(net, tmp_path / "m.safetensors") or ffio.load_checkpoint(tmp_path / "m.safetensors")


def test_save_checkpoint_api_round_trip(tmp_path):
    net = ff.nn.MLP([2, 3, 1], output="gaussian", rng=0)
    opt = ff.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(ff.Tensor(np.ones((2, 2), np.float32))).sum().backward()
    opt.step()
    rng = np.random.default_rng(5)
    rng.random(3)
    sched = ff.optim.ReduceLROnPlateau()
    sched.observe(0, 1.0)
    path = tmp_path / "c.safetensors"
    ffio.save_checkpoint(
        path, net, optimizer=opt, epoch=4, rng=rng, lr_schedule=sched, extra={"note": [1, 2]}
    )
    ck = ffio.load_checkpoint(path)
    assert ck["epoch"] == 4 and ck["extra"] == {"note": [1, 2]} and ck["lr_schedule"] == sched.state_dict()
    assert ck["rng"].random() == rng.random()
    opt2 = ff.optim.SGD(net.parameters(), lr=0.5)
    opt2.load_state_dict(ck["optimizer"])
    np.testing.assert_array_equal(opt2.state[0]["momentum_buffer"], opt.state[0]["momentum_buffer"])
    assert opt2.lr == 0.1
