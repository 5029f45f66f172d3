"""ONNX export checked by onnx's checker and run in onnxruntime (issue 14, L-IO-2).

Every registered hidden unit and every output unit, in float32 and float64: the exported
graph passes ``onnx.checker.check_model(full_check=True)`` and onnxruntime's output on random
inputs equals ff's output unit's mean (probabilities or mean) to 1e-5. The CLI's export
reads raw rows: its scaling is in the graph.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import feedforward as ff
from feedforward.interop import export_onnx_file, to_onnx
from feedforward.interop.onnx import ONNX_UNITS
from feedforward.nn.activation import UNITS, get_activation
from helpers import write_csv

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _net(unit, dtype, output, seed=0):
    rng = np.random.default_rng(seed)
    acts = [get_activation(unit, units=w, rng=rng, dtype=dtype) for w in (7, 5)]
    net = ff.nn.MLP([4, 7, 5, 3], activation=acts, output=output, rng=seed, dtype=dtype)
    for p in net.parameters():
        p.data[...] += rng.uniform(-0.3, 0.3, p.shape).astype(dtype)
    return net.eval()


def _session(path_or_proto):
    data = path_or_proto if isinstance(path_or_proto, str) else path_or_proto.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _x(dtype, n=32, seed=1):
    return (3 * np.random.default_rng(seed).standard_normal((n, 4))).astype(dtype)


def test_every_registered_unit_has_an_onnx_operator():
    assert set(ONNX_UNITS) == set(UNITS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_onnxruntime_equals_ff_for_every_unit(tmp_path, unit, dtype):
    """Issue 14: the graph's output is predict_proba, in onnxruntime, to 1e-5; the file passes the checker."""
    net = _net(unit, dtype, "categorical")
    path = tmp_path / "net.onnx"
    to_onnx(net, path)
    onnx.checker.check_model(str(path), full_check=True)
    sess = _session(str(path))
    assert [i.name for i in sess.get_inputs()] == ["x"] and [o.name for o in sess.get_outputs()] == ["probabilities"]
    x = _x(dtype)
    (proba,) = sess.run(None, {"x": x})
    assert proba.dtype == dtype and proba.shape == (32, 3)
    np.testing.assert_allclose(proba, net.predict_proba(x), **TOL[dtype])


@pytest.mark.parametrize("output, name", [("bernoulli", "probabilities"), ("gaussian", "mean"), (None, "z")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_each_output_units_mean_is_the_graphs_output(output, name, dtype):
    net = _net("relu", dtype, output)
    sess = _session(to_onnx(net))
    assert sess.get_outputs()[0].name == name
    x = _x(dtype)
    expected = net(x).data if output is None else net.predict_proba(x)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], expected, **TOL[dtype])


def test_scaling_and_metadata_go_into_the_graph():
    net = _net("tanh", np.float64, "gaussian")
    mean, scale = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.0, 4.0])
    proto = to_onnx(net, input_mean=mean, input_scale=scale, target_mean=10.0, target_scale=3.0,
                    metadata={"feature_names": '["a", "b", "c", "d"]'})
    assert {p.key: p.value for p in proto.metadata_props} == {"feature_names": '["a", "b", "c", "d"]'}
    x = _x(np.float64)
    expected = net.predict((x - mean) / scale) * 3.0 + 10.0
    np.testing.assert_allclose(_session(proto).run(None, {"x": x})[0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(input_mean=[1.0, 2.0]), ValueError, r"input_mean must be 4 \(or 1\) finite numbers"),
    (dict(input_scale=[1.0, 0.0, 1.0, 1.0]), ValueError, "input_scale must not contain 0"),
    (dict(target_mean=1.0), ValueError, "Gaussian .* output only"),
    (dict(metadata={"k": 1}), TypeError, "metadata must map strings to strings"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        to_onnx(_net("relu", np.float32, "categorical"), **kwargs)


def test_unsupported_models_are_refused(tmp_path):
    class Custom(ff.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="layer 1 is a Custom"):
        to_onnx(ff.nn.Sequential(ff.nn.Linear(2, 2), Custom()))
    with pytest.raises(TypeError, match="supports ff.nn.MLP and ff.nn.Sequential models, got Linear"):
        to_onnx(ff.nn.Linear(2, 2))
    assert not list(tmp_path.iterdir())


def _cli_train(tmp_path, rows, header, target):
    from feedforward.cli import main

    data = write_csv(tmp_path / "data.csv", header, rows)
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--target", target, "--layers", "8", "--epochs", "3", "--seed", "0",
                 "--out", str(out), "--no-progress", "--no-plots"])
    assert code == 0
    return out / "model.safetensors"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_export_of_a_cli_model_reads_raw_rows(tmp_path, task, capsys):
    """`feedforward export MODEL --onnx OUT`'s function: onnxruntime on raw rows gives what
    the CLI's own prediction gives (probabilities, or values in the target's units)."""
    from feedforward.cli.record import load_bundle, predict

    r = np.random.default_rng(0)
    X = r.normal([5.0, -300.0, 0.01], [2.0, 50.0, 0.005], size=(60, 3))  # far from standardised
    if task == "classification":
        y = np.array(["lo", "mid", "hi"])[(X[:, 0] > 5).astype(int) + (X[:, 1] > -300)]
    else:
        y = 100 + 7 * X[:, 0] + 0.1 * X[:, 1]
    model_path = _cli_train(tmp_path, [[*row, t] for row, t in zip(X, y)], ["a", "b", "c", "t"], "t")
    out = tmp_path / "model.onnx"
    proto = export_onnx_file(model_path, out)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["feature_names"]) == ["a", "b", "c"] and meta["task"] == task
    model, record = load_bundle(str(model_path))
    values, proba = predict(model, record, X)
    (got,) = _session(str(out)).run(None, {"x": X.astype(np.float32)})
    if task == "classification":
        assert json.loads(meta["target_names"]) == record["target_names"]
        np.testing.assert_allclose(got, proba, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(got[:, 0], values, rtol=1e-5, atol=1e-5 * np.abs(values).max())


def test_docstring_examples_run():
    """The examples in the interop and metrics docstrings are run, so they stay true."""
    import doctest

    import feedforward.interop.onnx
    import feedforward.interop.torch
    import feedforward.interop.torchfile
    import feedforward.training.metrics

    for module in (feedforward.interop.onnx, feedforward.interop.torch, feedforward.interop.torchfile,
                   feedforward.training.metrics):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
