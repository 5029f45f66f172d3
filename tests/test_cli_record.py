"""The command line does not trust a model file, nor any path it is given (issue 10).

An outside audit found: a zero or NaN ``x_scale`` / NaN ``y_scale`` giving NaN
predictions with exit 0; a missing field printed as "error: task"; too few
``target_names`` an IndexError; ``evaluate`` without ``--data`` opening the
path recorded in the file and echoing a line of it; ``/dev/zero`` and named
pipes read without end; 1e39 printed as ``nan`` with exit 0; ``train --out``
into an unwritable folder failing only after training.

The commands run in-process through ``main`` (the subprocess end-to-end runs
are in ``test_cli.py``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import feedforward as ff
from feedforward.cli import main
from feedforward.cli.record import CLIError, check_record, predict
from helpers import deadline, write_csv

pytest.importorskip("safetensors")


def cli(capsys, *args):
    """``(exit status, stdout, stderr)`` of ``feedforward ARGS``."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(result, *fragments):
    """Exit status 2, nothing on stdout, one line on stderr holding every fragment."""
    code, out, err = result
    assert code == 2, (code, out, err)
    assert out == "" and "nan" not in out.lower()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]
    return [[i % 3 + rng.normal(0, 0.3), rng.normal(), names[i % 3]] for i in range(n)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small classifier and a small regressor trained from CSV files made here (once)."""
    d = tmp_path_factory.mktemp("record")
    data = write_csv(d / "blobs.csv", ["x", "noise", "kind"], _blobs(90))
    assert main(["train", "--data", str(data), "--layers", "8", "--epochs", "5", "--out", str(d / "clf"),
                 "--no-progress", "--no-plots"]) == 0
    rng = np.random.default_rng(1)
    reg = write_csv(d / "reg.csv", ["u", "v", "price"],
                     [[u, v, 3 * u - v + 100] for u, v in rng.normal(size=(60, 2))])
    assert main(["train", "--data", str(reg), "--layers", "8", "--epochs", "5", "--out", str(d / "reg"),
                 "--no-progress", "--no-plots"]) == 0
    return d, data, reg


def _tampered(tmp_path, source, change):
    """A copy of a model file whose training record went through ``change(record)`` (or is the text ``change``)."""
    model, meta = ff.load(source, return_metadata=True)
    record = json.loads(meta["feedforward_cli"])
    if isinstance(change, str):
        text = change
    else:
        change(record)
        text = json.dumps(record)
    path = tmp_path / "m.safetensors"
    ff.save(model, path, metadata={"feedforward_cli": text})
    return path


def _set(key, value):
    return lambda r: r.__setitem__(key, value)


# ------------------------------------------------------ the record is checked
@pytest.mark.parametrize("model, change, fragment", [
    ("clf", _set("x_scale", [0.0, 1.0]), "x_scale[0] must be a finite number > 0, got 0.0"),
    ("clf", _set("x_scale", [float("nan"), 1.0]), "x_scale[0] must be a finite number > 0, got nan"),
    ("clf", _set("x_mean", [float("inf"), 1.0]), "x_mean[0] must be a finite number, got inf"),
    ("reg", _set("y_scale", float("nan")), "y_scale must be a finite number > 0, got nan"),
    ("reg", _set("y_mean", "100"), "y_mean must be a finite number, got '100' (str)"),
    ("clf", lambda r: r.pop("task"), "lacks the field task"),
    ("clf", lambda r: [r.pop(k) for k in ("x_mean", "seed")], "lacks the fields seed, x_mean"),
    ("clf", _set("target_names", ["a", "b"]), "target_names has 2 names, the network predicts 3 classes"),
    ("clf", _set("target_names", ["a", "b", 3]), "target_names[2] must be printable text, got int"),
    ("clf", _set("target_names", ["a", "b", "\x1b[2J"]), "target_names[2] must be printable text"),
    ("clf", _set("feature_names", ["x"]), "x_mean has 2 entries for 1 features"),
    ("clf", lambda r: r.update(feature_names=["x"], x_mean=[0.0], x_scale=[1.0]),
     "the network takes 2 inputs but the record names 1 features"),
    ("clf", _set("task", "regression"), "output 'categorical' does not do regression"),
    ("clf", _set("output", "gaussian"), "output is 'gaussian' but the network's output unit is 'categorical'"),
    ("clf", _set("seed", -1), "seed must be an integer >= 0, got -1"),
    ("clf", _set("test_size", 1.5), "test_size must be a finite number > 0 and < 1, got 1.5"),
    ("clf", _set("format", "feedforward.cli/9"), "format is 'feedforward.cli/9'"),
    ("clf", "{not json", "the training record is not valid JSON"),
    ("clf", "[1, 2]", "it must be a JSON object, got list"),
    ("clf", _set("test_metrics", {"accuracy": 2.0, "correct": 1, "n": 1}), "test_metrics.accuracy must be"),
])
def test_every_field_of_the_record_is_checked(trained, tmp_path, capsys, model, change, fragment):
    """Each command refuses the file, naming it and the field; no NaN, no traceback (issue 10)."""
    d, data, reg = trained
    path = _tampered(tmp_path, d / model / "model.safetensors", change)
    inputs = data if model == "clf" else reg
    for command in (["predict", path, inputs], ["evaluate", path, "--data", inputs], ["summary", path]):
        assert_refused(cli(capsys, *command), str(path), "the training record is invalid" if "JSON" not in
                       fragment else "", fragment)


def test_the_untampered_files_work(trained, capsys):
    d, data, reg = trained
    code, out, err = cli(capsys, "predict", d / "clf" / "model.safetensors", data, "--proba")
    assert code == 0 and out.splitlines()[0] == "kind,p(a),p(b),p(c)" and len(out.splitlines()) == 91
    code, out, err = cli(capsys, "predict", d / "reg" / "model.safetensors", reg)
    values = np.array([float(v) for v in out.splitlines()[1:]])
    assert code == 0 and len(values) == 60 and np.isfinite(values).all()


# ---------------------------------------------------- evaluate without --data
def test_evaluate_never_reads_a_file_the_user_did_not_name(trained, tmp_path, capsys, monkeypatch):
    """Without --data, a recorded path is refused (not opened, not echoed); a bundled name is loaded by name,
    even when a file of that name lies in the working folder (issue 10)."""
    d, data, reg = trained
    secret = tmp_path / "secret.csv"
    secret.write_text("user,password,kind\nroot,hunter2,a\nbob,swordfish,b\n")
    for recorded in (str(secret), str(data)):
        path = _tampered(tmp_path, d / "clf" / "model.safetensors", _set("data", recorded))
        code, out, err = cli(capsys, "evaluate", path)
        assert_refused((code, out, err), "was trained on a file, not a bundled data set", "--data")
        assert "hunter2" not in err and "swordfish" not in err
    path = _tampered(tmp_path, d / "clf" / "model.safetensors", _set("data", "digits"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").write_text("x,noise,kind\nhunter2,1,a\n")
    # Bundled digits was loaded (64 features), not the file called "digits".
    assert_refused(cli(capsys, "evaluate", path), "digits has 64 features, but the model expects 2")


def test_evaluate_on_the_recorded_bundled_data_set(tmp_path, capsys):
    assert main(["train", "--data", "iris", "--layers", "4", "--epochs", "2", "--out", str(tmp_path),
                 "--no-progress", "--no-plots"]) == 0
    printed = capsys.readouterr().out.split()[2]
    code, out, _ = cli(capsys, "evaluate", tmp_path, "--json")
    assert code == 0 and json.loads(out)["split"] == "test" and f"{json.loads(out)['accuracy']:.4f}" == printed


# ------------------------------------------------------- values beyond float32
def test_values_beyond_float32_are_refused_naming_row_and_column(trained, tmp_path, capsys):
    """1e39 is finite in float64, inf in float32: refused with exit 2, never printed as nan (issue 10)."""
    d, data, reg = trained
    model = d / "clf" / "model.safetensors"
    rows = [[0.5, 0.1], [1e39, 0.2]]
    new = write_csv(tmp_path / "new.csv", ["x", "noise"], rows)
    assert_refused(cli(capsys, "predict", model, new), "line 3: column 'x' has the value '1e+39'",
                   "beyond the float32 range")
    # Finite in float32, but (x - mean) / scale is not: named by its line too.
    new = write_csv(tmp_path / "new.csv", ["x", "noise"], [[0.5, 0.1], [0.4, 0.2], [-3e38, 0.2]])
    assert_refused(cli(capsys, "predict", model, new), "new.csv: line 4, column 'x'",
                   "beyond the float32 range the network computes in")
    bad = write_csv(tmp_path / "bad.csv", ["x", "noise", "kind"], [[0.5, 0.1, "a"], [-3e38, 0.1, "b"]])
    assert_refused(cli(capsys, "evaluate", model, "--data", bad), "bad.csv: row 2, column 'x'")


def test_outputs_that_are_not_finite_are_refused_naming_the_row(trained):
    d, _, _ = trained
    model, meta = ff.load(d / "clf" / "model.safetensors", return_metadata=True)
    record = check_record(json.loads(meta["feedforward_cli"]), model, "m")
    X = np.zeros((3, 2), np.float32)
    labels, proba = predict(model, record, X)
    assert labels.shape == (3,) and np.allclose(proba.sum(axis=1), 1)
    model.layers[-1].bias.data[1] = np.inf  # the logits of every row become inf: softmax would be NaN
    with pytest.raises(CLIError, match="rows: line 7: the network's output is not finite"):
        predict(model, record, X, source="rows", lines=[7, 8, 9])


# ----------------------------------------------------------- hostile paths


@pytest.mark.skipif(os.name != "posix", reason="device files and FIFOs are POSIX")
def test_devices_and_pipes_are_refused_at_once(trained, tmp_path, capsys):
    """/dev/zero, a symlink to it and a named pipe, wherever the CLI takes a path (issue 10)."""
    d, data, _ = trained
    model = d / "clf" / "model.safetensors"
    link = tmp_path / "link.safetensors"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    cases = [
        (["summary", "/dev/zero"], "/dev/zero is a character device"),
        (["summary", link], "link.safetensors is a character device"),
        (["summary", fifo], "pipe.csv is a named pipe (FIFO)"),
        (["predict", "/dev/zero", data], "/dev/zero is a character device"),
        (["train", "--data", "/dev/zero", "--out", tmp_path / "o"], "/dev/zero is a character device"),
        (["train", "--data", fifo, "--out", tmp_path / "o"], "pipe.csv is a named pipe (FIFO)"),
        (["predict", model, "/dev/zero"], "/dev/zero is a character device"),
        (["predict", model, fifo], "pipe.csv is a named pipe (FIFO)"),
        (["evaluate", model, "--data", "/dev/zero"], "/dev/zero is a character device"),
        (["evaluate", model, "--data", fifo], "pipe.csv is a named pipe (FIFO)"),
    ]
    for args, fragment in cases:
        with deadline():
            assert_refused(cli(capsys, *args), fragment, "not a regular file")
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


# ---------------------------------------------------------------- --out
def test_train_checks_the_output_folder_before_training(trained, tmp_path, capsys):
    """A folder that cannot be written is reported before any epoch is run (issue 10)."""
    d, data, _ = trained
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, out, err = cli(capsys, "train", "--data", data, "--out", blocker / "sub", "--no-progress")
    assert_refused((code, out, err), "cannot write into the output directory", "a_file/sub")
    assert "training an MLP" not in err  # refused before the network was even built


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_train_into_a_read_only_folder(trained, tmp_path, capsys):
    d, data, _ = trained
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, out, err = cli(capsys, "train", "--data", data, "--out", folder, "--no-progress")
        assert_refused((code, out, err), "cannot write into the output directory", "Permission denied")
        assert "training an MLP" not in err
    finally:
        folder.chmod(0o700)


# --------------------------------------------------------------- options
@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "2.5"], "argument --epochs: expected an integer >= 1, got '2.5'"),
    (["--lr", "nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
    (["--lr", "inf"], "argument --lr: expected a finite number > 0, got 'inf'"),
    (["--momentum", "-0.1"], "argument --momentum: expected a finite number >= 0, got '-0.1'"),
    (["--test-size", "1"], "argument --test-size: expected a finite number > 0 and < 1, got '1'"),
    (["--seed", "-3"], "argument --seed: expected an integer >= 0, got '-3'"),
    (["--layers", "16,0"], "argument --layers: expected comma-separated positive integers like 128,64"),
])
def test_number_options_go_through_the_validation_layer(args, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
