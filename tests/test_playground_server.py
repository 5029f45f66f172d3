"""The playground's server: sessions, limits, bad parameters, training, export and import (issue 15, L-PLAY-1).

Starlette's TestClient drives the app in-process (no port); the browser test is
``test_playground_e2e.py``. Requirements: L-SGD-1..5 (modes, growing batch, the
``||grad J|| < theta`` stop), L-ACT-1..7 (units, bias 0.1, dead/saturated units), L-OUT-1..4
(output units and their losses), L-XOR-3, L-CLS-1, L-REG-1 (lecture mode).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason='the playground needs its extra: pip install "feedforward[playground]"')
pytest.importorskip("httpx2", reason="Starlette's TestClient needs httpx2 (a test extra)")

from helpers import deadline  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import feedforward as ff
from feedforward.construct import xor_layers  # noqa: E402
from feedforward.playground.config import MAX_MODEL_BYTES, MAX_UNITS, Config  # noqa: E402
from feedforward.playground.server import create_app  # noqa: E402
from feedforward.playground.session import MAX_CURVE_POINTS, Session  # noqa: E402
from feedforward.playground.views import frame  # noqa: E402


def receive_until(ws, predicate, seconds=20):
    """Messages until one satisfies ``predicate``; returns it (fails after ``seconds``)."""
    end = time.monotonic() + seconds
    with deadline(int(seconds) + 5):
        while time.monotonic() < end:
            m = ws.receive_json()
            if predicate(m):
                return m
    raise AssertionError(f"no matching message within {seconds} s")


@pytest.fixture
def client():
    with TestClient(create_app(max_sessions=3, workers=2)) as c:
        yield c


def hello(ws):
    m = ws.receive_json()
    assert m["type"] == "hello"
    first = ws.receive_json()
    assert first["type"] == "frame" and "points" in first
    return m


# ----------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("values, exc, words", [
    ({"layers": [{"units": 0}]}, ValueError, ["layer 1: units", "<= 8", "got 0"]),
    ({"layers": [{"units": 1_000_000}]}, ValueError, ["layer 1: units", "1000000"]),
    ({"lr": "NaN"}, ValueError, ["lr", "nan"]),
    ({"lr": float("inf")}, ValueError, ["lr", "inf"]),
    ({"lr": 0}, ValueError, ["lr", "> 0"]),
    ({"lr": "fast"}, TypeError, ["lr", "'fast'"]),
    ({"layers": [{"units": 2}] * 7}, ValueError, ["at most 6 hidden layers", "got 7"]),
    ({"dataset": "mnist"}, ValueError, ["dataset", "'mnist'"]),
    ({"dataset": "gaussians3", "output": "bernoulli"}, ValueError, ["bernoulli", "categorical"]),
    ({"dataset": "sine", "output": "bernoulli"}, ValueError, ["regression", "'gaussian'"]),
    ({"points": 10**9}, ValueError, ["points", "1000"]),
    ({"batch_size": 2.5}, TypeError, ["batch_size", "2.5"]),
    ({"features": []}, ValueError, ["features"]),
    ({"layers": [{"units": 3, "activation": "elu", "hparams": {"alpha": "1e9"}}]}, ValueError, ["alpha"]),
    ({"layers": [{"units": 3, "activation": "relu", "hparams": {"alpha": 1}}]}, ValueError, ["relu takes"]),
    ({"layers": [{"units": 3, "activation": "rrelu", "hparams": {"lower": 0.5, "upper": 0.1}}]}, ValueError,
     ["lower"]),
    ({"growing_batch": True, "mode": "batch"}, ValueError, ["growing batch", "minibatch"]),
    ({"momentum": 1}, ValueError, ["momentum"]),
    ({"colour": "red"}, ValueError, ["unknown setting", "colour"]),
])
def test_bad_parameters_are_refused_with_a_message_naming_them(values, exc, words):
    """Issue 15: width 0, lr NaN, a million units... are refused, the message says what and why."""
    with pytest.raises(exc) as info:
        Config.checked(values)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_a_bad_parameter_from_the_page_is_an_error_message_and_changes_nothing(client):
    """Issue 15: the page gets the message; the session keeps its settings and its network."""
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "config", "values": {"layers": [{"units": 0}, {"units": 3}]}})
        err = receive_until(ws, lambda m: m["type"] in ("error", "config"))
        assert err["type"] == "error" and "layer 1: units" in err["message"] and "got 0" in err["message"]
        ws.send_json({"type": "config", "values": {"lr": "NaN"}})
        err = receive_until(ws, lambda m: m["type"] in ("error", "config"))
        assert err["type"] == "error" and "lr" in err["message"]
        ws.send_json({"type": "frame"})
        f = receive_until(ws, lambda m: m["type"] == "frame")
        assert f["sizes"] == [2, 6, 6, 1]
        ws.send_json({"type": "warp"})
        assert "unknown message type" in receive_until(ws, lambda m: m["type"] == "error")["message"]


# ------------------------------------------------------------------- sessions
def test_each_tab_has_its_own_session_ended_when_the_tab_closes(client):
    """Issue 15: a session per WebSocket; its token opens only it; closing the tab ends it."""
    pg = client.app.state.playground
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        ta, tb = hello(a)["session"], hello(b)["session"]
        assert ta != tb and len(ta) >= 20 and set(pg.sessions) == {ta, tb}
        a.send_json({"type": "config", "values": {"layers": [{"units": 3}]}})
        assert receive_until(a, lambda m: m["type"] == "frame")["sizes"] == [2, 3, 1]
        b.send_json({"type": "frame"})
        assert receive_until(b, lambda m: m["type"] == "frame")["sizes"] == [2, 6, 6, 1]  # b untouched
        assert pg.sessions[ta] is not pg.sessions[tb]
    with deadline(10):
        while pg.sessions:
            time.sleep(0.02)
    assert client.get(f"/export/{ta}").status_code == 404


def test_the_number_of_sessions_is_bounded(client):
    """Issue 15: past max_sessions a new tab is told the server is full and closed."""
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b, \
            client.websocket_connect("/ws") as c:
        for ws in (a, b, c):
            hello(ws)
        with client.websocket_connect("/ws") as d:
            m = d.receive_json()
            assert m["type"] == "error" and m["fatal"] and "full (3 sessions)" in m["message"]
        assert len(client.app.state.playground.sessions) == 3


def test_messages_are_bounded_in_size_kind_and_rate(client):
    """Issue 15: an oversized, binary or non-JSON message, or a flood, is refused with a message."""
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_text(json.dumps({"type": "frame", "pad": "x" * 70_000}))
        assert "at most 65536 bytes" in receive_until(ws, lambda m: m["type"] == "error")["message"]
        ws.send_bytes(b"\x00\x01")
        assert "not binary" in receive_until(ws, lambda m: m["type"] == "error")["message"]
        ws.send_text("[1, 2")
        assert "JSON object" in receive_until(ws, lambda m: m["type"] == "error")["message"]
        time.sleep(2.5)  # the bucket refills
        for _ in range(80):
            ws.send_text('{"type": "noop"}')
        flood = receive_until(ws, lambda m: m["type"] == "error" and "too many" in m["message"])
        assert "20 a second" in flood["message"]


# ------------------------------------------------------------------ training
def test_play_trains_on_the_server_and_frames_follow_live(client):
    """Issue 15: play -> frames pushed with a growing epoch and the default page reaches test accuracy
    >= 0.95 (L-SGD-3); pause stops it; step is one update."""
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "play"})
        epochs = []
        f = receive_until(ws, lambda m: m["type"] == "frame" and (epochs.append(m["epoch"]) or True)
                          and m.get("test_acc", 0) >= 0.95, seconds=60)
        assert f["playing"] and f["epoch"] > 0 and f["updates_per_second"] > 0
        assert epochs == sorted(epochs) and len(set(epochs)) >= 2
        ws.send_json({"type": "pause"})
        paused = receive_until(ws, lambda m: m["type"] == "frame" and not m["playing"])
        ws.send_json({"type": "step"})
        stepped = receive_until(ws, lambda m: m["type"] == "frame" and m["updates"] != paused["updates"])
        assert stepped["updates"] == paused["updates"] + 1 and stepped["epoch"] == paused["epoch"]


def test_default_session_learns_the_default_data_set():
    """Issue 15: the default page (circles, 2x6 tanh, Adam) learns to test accuracy >= 0.95."""
    s = Session()
    s.play(True)
    for _ in range(200):
        s.train_for(0.05)
        if s.epoch >= 60:
            break
    f = frame(s)
    assert f["test_acc"] >= 0.95, f["test_acc"]
    assert f["train_loss"] < 0.3 and f["grad_norm"] < 1.0


def test_switching_the_unit_keeps_the_weights_and_switching_the_mode_keeps_training():
    """Issue 15 / L-ACT: a new unit is put between the same affine layers; a new mode, optimizer or
    lr builds a new trainer around the same network."""
    s = Session()
    s.play(True)
    s.train_for(0.2)
    before = [p.data.copy() for p in s.model.parameters()]
    s.apply({"layers": [{"units": 6, "activation": "leaky_relu", "hparams": {"negative_slope": "0.2"}},
                        {"units": 6, "activation": "elu", "hparams": {"alpha": 0.5}}]})
    units = [m for m in s.model.layers if isinstance(m, ff.nn.activation.Unit)]
    assert [u.name for u in units] == ["leaky_relu", "elu"]
    assert units[0].negative_slope == 0.2 and units[1].alpha == 0.5
    assert all(np.array_equal(a, p.data) for a, p in zip(before, s.model.parameters()))
    epoch = s.epoch
    s.apply({"mode": "stochastic", "optimizer": "sgd", "lr": "0.05", "momentum": 0.9, "nesterov": True})
    assert s.trainer.options.mode == "stochastic" and s.trainer.optimizer.nesterov
    s.train_for(0.1)
    assert s.epoch > epoch and s.trainer.history.records[-1]["n_updates"] == len(s.X_train)
    s.apply({"layers": [{"units": 6, "activation": "prelu"}, {"units": 6, "activation": "tanh"}]})
    assert s.trainer.params[1] is not None and len(s.trainer.params) == len(list(s.model.parameters()))


def test_growing_batch_batch_mode_and_the_gradient_norm_stop():
    """L-SGD-1..5: batch mode makes one update an epoch; a growing batch doubles every 20 epochs;
    theta stops the run and the page is told why."""
    s = Session()
    s.apply({"mode": "batch", "lr": 0.01})
    s.play(True)
    s.train_for(0.05)
    assert s.trainer.history.records[-1]["n_updates"] == 1
    s.apply({"mode": "minibatch", "batch_size": 4, "growing_batch": True})
    s.play(True)
    while s.trainer.epoch < 21:
        s.train_for(0.05)
    assert s.trainer.history.records[-1]["batch_size"] == 8
    s.apply({"grad_tol": "100"})
    s.play(True)
    s.train_for(1.0)
    assert not s.playing and "grad J" in s.status and "theta = 100" in s.status


def test_relu_bias_and_dead_units_are_reported():
    """L-ACT-6 / L-ACT-7: ReLU layers start at bias 0.1 (or 0); a unit with z <= 0 everywhere is dead."""
    s = Session()
    s.apply({"layers": [{"units": 4, "activation": "relu"}]})
    assert np.all(s.model.linears[0].bias.data == np.float32(0.1))
    s.apply({"relu_bias": False})
    assert np.all(s.model.linears[0].bias.data == 0)
    lin = s.model.linears[0]
    lin.weight.data[:, 2] = 0
    lin.bias.data[2] = -1  # unit 3: z = -1 on every example
    flags = frame(s)["flags"]
    assert flags[0][2] == "dead" and flags[0].count("dead") >= 1
    s.apply({"layers": [{"units": 4, "activation": "sigmoid"}]})
    lin = s.model.linears[0]
    lin.weight.data[:, 0] = 0
    lin.bias.data[0] = 20  # sigmoid'(20) / sigmoid'(0) ~ 8e-9 < 0.1
    assert frame(s)["flags"][0][0] == "saturated"


def test_memory_per_session_is_bounded():
    """Issue 15: the trainer's history keeps one record and the curves at most MAX_CURVE_POINTS."""
    s = Session()
    s.apply({"points": 100})
    s.play(True)
    for _ in range(MAX_CURVE_POINTS + 50):
        s.train_for(0.0)
        frame(s)
    assert len(s.trainer.history.records) == 1
    assert len(s.curves) <= MAX_CURVE_POINTS and s.curves[-1]["epoch"] == s.epoch


@pytest.mark.parametrize("dataset, output", [
    ("xor4", "bernoulli"), ("gaussians5", "categorical"), ("star", "bernoulli"), ("sine", "gaussian"),
    ("bumps", "gaussian"),
])
def test_every_kind_of_data_set_draws_its_region(dataset, output):
    """Issue 15: classification regions (two classes, several classes), 1-D curves, 2-D values."""
    s = Session()
    s.apply({"dataset": dataset, "output": output, "features": ["x1", "x2", "x1^2", "sin x1"]})
    f = frame(s, points=True)
    expected = {"bernoulli": "probability", "categorical": "classes", "gaussian": "value"}[output]
    if dataset == "sine":
        assert f["region"]["kind"] == "curve" and len(f["region"]["values"]) == 200
        assert f["features"] == ["x1", "x1^2", "sin x1"]  # a line has no x2
    else:
        assert f["region"]["kind"] == expected
    assert len(f["units"]) == 2 and len(f["units"][0]) == 6
    assert len(f["points"]["train"]["X"]) + len(f["points"]["test"]["X"]) == (4 if dataset == "xor4" else 400) + (
        4 if dataset == "xor4" else 0)


# ------------------------------------------------------------- model files
def test_export_opens_with_ff_load_and_import_shows_it(client, tmp_path):
    """Issue 15 (take it home): the exported file is an ff.load model with the same predictions."""
    with client.websocket_connect("/ws") as ws:
        token = hello(ws)["session"]
        ws.send_json({"type": "config", "values": {"features": ["x1", "x2", "x1x2"]}})
        receive_until(ws, lambda m: m["type"] == "config")
        ws.send_json({"type": "play"})
        receive_until(ws, lambda m: m["type"] == "frame" and m["epoch"] >= 5)
        ws.send_json({"type": "pause"})
        receive_until(ws, lambda m: m["type"] == "frame" and not m["playing"])
        r = client.get(f"/export/{token}")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        path = tmp_path / "model.safetensors"
        path.write_bytes(r.content)
        model, meta = ff.load(path, return_metadata=True)
        assert meta["playground.features"] == "x1,x2,x1x2" and model.sizes == [3, 6, 6, 1]
        session = client.app.state.playground.sessions[token]
        X = session.X_test
        assert np.array_equal(model.predict_proba(X), session.model.predict_proba(X))

        r = client.post(f"/import/{token}?name=mine.safetensors", content=path.read_bytes())
        assert r.status_code == 200 and r.json()["frame"]["imported"] == "mine.safetensors"
        ws.send_json({"type": "play"})
        assert "loaded model file" in receive_until(ws, lambda m: m["type"] == "error")["message"]

        r = client.post(f"/import/{token}", content=b"not a model file at all")
        assert r.status_code == 400 and r.json()["error"]
        r = client.post(f"/import/{token}", content=b"\0" * (MAX_MODEL_BYTES + 1))
        assert r.status_code == 413 and str(MAX_MODEL_BYTES) in r.json()["error"]
    assert client.get("/export/not-a-session").status_code == 404


def test_import_refuses_models_the_page_cannot_draw(tmp_path):
    """A model too wide, without an output unit, or with inputs and no feature names."""
    s = Session()
    for net, words in [(ff.nn.MLP([2, 100, 1], output="bernoulli"), "at most"),
                       (ff.nn.MLP([2, 3, 1]), "output unit"),
                       (ff.nn.MLP([5, 3, 1], output="gaussian"), "playground.features")]:
        path = tmp_path / "m.safetensors"
        ff.save(net, path)
        with pytest.raises(ValueError, match=words):
            s.load_model(path.read_bytes())


# ---------------------------------------------------------------- lecture mode
def test_lecture_mode_xor_polygons_and_pulses(client):
    """L-XOR-3, L-CLS-1, L-REG-1: the exact constructions, and their bad inputs refused."""
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "lecture", "kind": "xor"})
        m = receive_until(ws, lambda m: m["type"] == "lecture")
        expected = xor_layers()
        steps = {s["name"]: np.array(s["values"]) for s in m["steps"]}
        for name, value in expected.items():
            np.testing.assert_allclose(steps[name], value, atol=1e-4)
        assert steps["output"].tolist() == [0, 1, 1, 0]

        square = [[-1, -1], [1, -1], [1, 1], [-1, 1]]
        ws.send_json({"type": "lecture", "kind": "polygon", "polygons": [square]})
        m = receive_until(ws, lambda m: m["type"] == "lecture")
        assert m["sizes"] == [2, 8, 1, 1]
        ws.send_json({"type": "lecture", "kind": "polygon",
                      "polygons": [square, [[1.2, 1.2], [1.9, 1.2], [1.5, 1.9]]]})
        m = receive_until(ws, lambda m: m["type"] == "lecture")
        assert m["sizes"] == [2, 14, 2, 1, 1] and "OR" in m["story"]
        ws.send_json({"type": "lecture", "kind": "polygon", "polygons": [[[0, 0], [1, 0], [0.2, 0.2], [0, 1]]]})
        assert "convex" in receive_until(ws, lambda m: m["type"] == "error")["message"]
        ws.send_json({"type": "lecture", "kind": "polygon", "polygons": [[[0, 0], [1, 0], [0, 9]]]})
        assert "vertex 3" in receive_until(ws, lambda m: m["type"] == "error")["message"]

        errors = []
        for n in (2, 8, 32):
            ws.send_json({"type": "lecture", "kind": "pulses", "n": n, "target": "sine"})
            m = receive_until(ws, lambda m: m["type"] == "lecture")
            assert m["sizes"] == [1, 4 * n, 1]
            errors.append(m["max_error"])
        assert errors[0] > errors[1] > errors[2]
        ws.send_json({"type": "lecture", "kind": "pulses", "n": 10**6})
        assert "pulses" in receive_until(ws, lambda m: m["type"] == "error")["message"]


def test_the_page_and_its_modules_are_served_from_the_package(client):
    """Issue 15: nothing from a CDN: every script and stylesheet the page names is served here,
    and every data-testid of the issue is on the page."""
    html = client.get("/").text
    for tid in ("dataset", "layers", "activation", "output", "optimizer", "lr", "mode", "batch-size", "play",
                "step", "reset", "epoch", "train-loss", "test-loss", "test-accuracy", "grad-norm", "region",
                "units", "export"):
        assert f'data-testid="{tid}"' in html, tid
    assert "http://" not in html and "https://" not in html
    for path in ("/static/style.css", "/static/js/main.js", "/static/js/draw.js", "/static/js/lecture.js",
                 "/static/js/features.js"):
        r = client.get(path)
        assert r.status_code == 200 and "https://" not in r.text and "http://" not in r.text.replace(
            "http://www.w3.org/2000/svg", ""), path


def test_a_websocket_from_another_site_is_refused(client):
    """Another page in the same browser may not open a session on the local server."""
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()


def test_the_command_line_checks_its_options(capsys):
    """`feedforward playground --port 70000` is one line and exit status 2."""
    from feedforward.cli import main

    with pytest.raises(SystemExit) as info:
        main(["playground", "--port", "70000"])
    assert info.value.code == 2
    assert "expected an integer >= 0 and <= 65535" in capsys.readouterr().err

    assert MAX_UNITS == 8  # TensorFlow Playground's bound, which the page's + button stops at


def test_without_the_extra_the_command_says_how_to_install(monkeypatch, capsys):
    """Issue 15: the server libraries are an extra; without them, one line with the install command."""
    import sys

    from feedforward.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["playground", "--no-browser", "--port", "0"]) == 2
    assert 'pip install "feedforward[playground]"' in capsys.readouterr().err


def test_an_imported_model_goes_back_to_training_on_a_change(tmp_path):
    """After a loaded model file, a new setting or reset gives the page its own network again."""
    s = Session()
    other = Session()
    other.apply({"features": ["x1", "x1^2"], "layers": [{"units": 3}]})
    s.load_model(other.export(), "other.safetensors")
    assert s.imported and frame(s)["sizes"] == [2, 3, 1] and "test_acc" not in frame(s)
    s.apply({"lr": 0.01})
    assert s.imported is None and s.model.sizes == [2, 6, 6, 1] and s.X_train.shape[1] == 2
    s.play(True)
    s.train_for(0.05)
    assert s.epoch >= 1
