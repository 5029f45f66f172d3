"""Training checkpoints: the API the trainer uses, exact resume, mismatched resumes, version 1 checkpoints."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import feedforward as ff
from feedforward import io as ffio
from feedforward.io.container import checksum

pytest.importorskip("safetensors")
import safetensors.numpy as st  # noqa: E402


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
    options.setdefault("optimizer", "sgd")
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
    ff.fit(net_a, X, y, optimizer="sgd",
           max_epochs=3, checkpoint_path=path, lr=0.05, batch_size=8)  # rng=None: OS entropy
    ck = ffio.load_checkpoint(path)
    # Two resumes from the same checkpoint are identical: the generator state was saved.
    nets = []
    for _ in range(2):
        net = _resume_net()
        ff.fit(net, X, y, optimizer="sgd", max_epochs=5, resume_from=path, lr=0.05, batch_size=8)
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
        ff.fit(_resume_net(), X[:-1], y[:-1], max_epochs=3, resume_from=path, optimizer="adam", lr=0.01, rng=0)
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
            lr=0.01,
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


def test_save_checkpoint_checks_the_epoch(tmp_path):
    net = ff.nn.MLP([2, 1], rng=0)
    with pytest.raises(TypeError, match="epoch must be an integer >= 0, got 2.0"):
        ffio.save_checkpoint(tmp_path / "c.safetensors", net, epoch=2.0)
    with pytest.raises(ValueError, match="epoch must be an integer >= 0, got -1"):
        ffio.save_checkpoint(tmp_path / "c.safetensors", net, epoch=-1)
    assert list(tmp_path.iterdir()) == []


def _rewrite(path, change):
    """Re-write a checkpoint with ``change(doc)`` applied to its JSON (and a valid checksum)."""
    blob = path.read_bytes()
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    doc = json.loads(header["__metadata__"]["feedforward"])
    tensors = st.load(blob)
    change(doc)
    doc["sha256"] = checksum(tensors, doc, {})
    path.write_bytes(st.save(tensors, metadata={"feedforward": json.dumps(doc)}))


def test_version_1_checkpoints_still_load(tmp_path):
    """A checkpoint written before the unit registry (class names in its architecture) loads (issue 10)."""
    net = ff.nn.MLP([3, 4, 4, 2], activation=[ff.nn.LeakyReLU(0.3), "rrelu"], output="categorical", rng=0)
    path = tmp_path / "c.safetensors"
    ffio.save_checkpoint(path, net, epoch=5)
    rrelu_state = ffio.rng_state_to_json(net.layers[3].rng)

    def to_v1(doc):
        layers = doc["architecture"]["model"]["layers"]
        layers[1] = {"type": "LeakyReLU", "negative_slope": 0.3}
        layers[3] = {"type": "RReLU", "lower": 0.125, "upper": 1 / 3, "rng_state": rrelu_state}
        doc["version"] = 1

    _rewrite(path, to_v1)
    ck = ffio.load_checkpoint(path)
    assert ck["epoch"] == 5 and repr(ck["model"]) == repr(net)
    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    np.testing.assert_array_equal(ck["model"].predict_proba(X), net.predict_proba(X))
    net.train()
    ck["model"].train()
    np.testing.assert_array_equal(ck["model"](ff.Tensor(X)).data, net(ff.Tensor(X)).data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(epoch=2.5), "epoch must be an integer >= 0, got 2.5"),
    (lambda d: d.update(epoch=True), "epoch must be an integer >= 0, got True"),
    (lambda d: d.update(param_names="model/x"), "param_names must be a list"),
    (lambda d: d.update(model_rngs={"layers.1.rng": {"bit_generator": "x"}}), r"model_rngs\['layers.1.rng'\]"),
    (lambda d: d.update(optimizer={"type": "SGD", "hyper": {}, "step_count": -1, "counters": []}),
     "optimizer step_count must be an integer >= 0"),
    (lambda d: d.update(optimizer={"type": 3, "hyper": {}, "step_count": 0, "counters": []}),
     "optimizer type must be a string"),
    (lambda d: d.update(history={"records": 3}), "records"),
    (lambda d: d.update(lr_schedule=[1]), "lr_schedule state must be an object"),
    (lambda d: d.pop("rng"), r"missing keys \['rng'\]"),
])
def test_every_checkpoint_field_is_checked(tmp_path, change, message):
    net = ff.nn.MLP([2, 3, 1], output="gaussian", rng=0)
    path = tmp_path / "c.safetensors"
    ffio.save_checkpoint(path, net, epoch=1)
    _rewrite(path, change)
    with pytest.raises(ValueError, match="c.safetensors: .*" + message):
        ffio.load_checkpoint(path)
