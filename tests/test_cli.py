"""The ``feedforward`` command line, end to end through subprocesses (issue 5).

Every run is a real ``python -m feedforward ...`` process: its exit status,
stdout, stderr and the files it writes are what a user would see.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import write_csv


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "feedforward", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    return proc


def assert_one_line_error(proc, *fragments):
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _flowers(n=240, seed=0):
    """Three classes of 2-D blobs plus two noise features, with text labels."""
    rng = np.random.default_rng(seed)
    centres = {"iris": (0.0, 0.0), "rose": (3.0, 0.5), "tulip": (1.0, 3.0)}
    rows = []
    for i in range(n):
        name = list(centres)[i % 3]
        cx, cy = centres[name]
        rows.append([cx + rng.normal(0, 0.6), cy + rng.normal(0, 0.6), rng.normal(), rng.normal() * 10, name])
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on a CSV made here (once for the module)."""
    d = tmp_path_factory.mktemp("cli")
    data = write_csv(d / "flowers.csv", ["length", "width", "noise", "scale", "species"], _flowers())
    out = d / "run"
    proc = run("train", "--data", data, "--target", "species", "--layers", "16,8", "--activation", "elu",
               "--epochs", "30", "--seed", "1", "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return d, data, out, proc


def assert_png(path, aspect):
    """A real PNG image (magic bytes, decodable, not blank) of the given width / height."""
    from matplotlib import image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = image.imread(path)
    height, width = img.shape[:2]
    assert img.ndim == 3 and height >= 300 and abs(width / height - aspect) < 0.05, img.shape
    assert img[..., :3].std() > 0.05  # something is drawn


def test_train_on_a_csv_writes_model_and_figures(trained):
    """The files train writes are what it printed and what it trained (issue 5; real checks: issue 10)."""
    import feedforward as ff

    d, data, out, proc = trained
    assert proc.stdout.startswith("test accuracy: ")
    _, _, accuracy, counts = proc.stdout.split()
    correct, n = map(int, counts.strip("()").split("/"))
    assert float(accuracy) >= 0.9 and n == 48  # 20% of 240, stratified
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"] == {"accuracy": correct / n, "correct": correct, "n": n}
    assert f"{metrics['test']['accuracy']:.4f}" == accuracy
    assert metrics["epochs"] == 30 and len(metrics["history"]) == 30
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert "4 -> 16 -> 8 -> 3" in proc.stderr  # the network it built: 4 features, 3 classes
    # The model file holds that network and the record needed to use it on raw rows.
    model, meta = ff.load(out / "model.safetensors", return_metadata=True)
    record = json.loads(meta["feedforward_cli"])
    assert model.sizes == [4, 16, 8, 3] and type(model.layers[1]) is ff.nn.ELU
    assert record["feature_names"] == ["length", "width", "noise", "scale"]
    assert record["target_names"] == ["iris", "rose", "tulip"] and record["test_metrics"] == metrics["test"]
    rows = _flowers()
    X = np.array([r[:4] for r in rows], dtype=np.float64)
    y = np.array([["iris", "rose", "tulip"].index(r[4]) for r in rows])
    Z = ((X - record["x_mean"]) / record["x_scale"]).astype(np.float32)
    every = json.loads(run("evaluate", out / "model.safetensors", "--data", data, "--split", "all",
                           "--json").stdout)
    assert every["n"] == 240 and every["accuracy"] == np.mean(model.predict(Z) == y)
    assert_png(out / "loss_curve.png", aspect=10 / 4)
    assert_png(out / "confusion_matrix.png", aspect=(0.5 * 3 + 3.2) / (0.5 * 3 + 2.4))


def test_evaluate_reproduces_the_test_split(trained):
    d, data, out, proc = trained
    ev = run("evaluate", out / "model.safetensors", "--data", data, "--json")
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["split"] == "test" and result["n"] == 48  # 20% of 240, stratified
    assert result["accuracy"] == json.loads((out / "metrics.json").read_text())["test"]["accuracy"]
    every = json.loads(run("evaluate", out / "model.safetensors", "--data", data, "--split", "all",
                           "--json").stdout)
    assert every["n"] == 240 and every["accuracy"] >= 0.9


def test_predict_writes_csv_to_stdout(trained, tmp_path):
    d, data, out, proc = trained
    rows = _flowers(30, seed=5)
    # Columns in another order and without the target: matched by name.
    new = write_csv(tmp_path / "new.csv", ["scale", "noise", "width", "length"],
                     [[r[3], r[2], r[1], r[0]] for r in rows])
    pred = run("predict", out / "model.safetensors", new, "--proba")
    assert pred.returncode == 0, pred.stderr
    table = list(csv.reader(pred.stdout.splitlines()))
    assert table[0] == ["species", "p(iris)", "p(rose)", "p(tulip)"]
    assert len(table) == 31
    labels = [r[0] for r in table[1:]]
    assert np.mean([a == r[4] for a, r in zip(labels, rows)]) >= 0.85
    proba = np.array([[float(v) for v in r[1:]] for r in table[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert all(r[0] == ["iris", "rose", "tulip"][int(np.argmax(p))] for r, p in zip(table[1:], proba))


def test_summary_shows_layers_and_training_record(trained):
    d, data, out, proc = trained
    s = run("summary", out / "model.safetensors")
    assert s.returncode == 0, s.stderr
    assert "total parameters: 243" in s.stdout  # (4*16+16) + (16*8+8) + (8*3+3)
    assert "classes (3): iris, rose, tulip" in s.stdout and "ELU" in s.stdout


def test_regression_csv_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(300, 3))
    y = 3 * np.sin(X[:, 0]) + X[:, 1] ** 2 + 50  # a target far from zero: scaled internally
    data = write_csv(tmp_path / "reg.csv", ["a", "b", "c", "price"],
                      [[*map("{:.5f}".format, x), f"{t:.5f}"] for x, t in zip(X, y)])
    proc = run("train", "--data", data, "--layers", "32", "--activation", "tanh", "--epochs", "60",
               "--lr", "0.01", "--schedule", "cosine", "--out", tmp_path / "m", "--no-progress", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("test MAE: ")
    r2 = float(proc.stdout.split("R^2:")[1].split()[0])
    assert r2 > 0.95
    mae, rmse = (float(proc.stdout.split(key)[1].split()[0]) for key in ("MAE:", "RMSE:"))
    test = json.loads((tmp_path / "m" / "metrics.json").read_text())["test"]
    assert f"{test['mae']:.4g}" == f"{mae:.4g}" and f"{test['rmse']:.4g}" == f"{rmse:.4g}"
    assert f"{test['r2']:.4f}" == f"{r2:.4f}" and test["n"] == 60
    pred = run("predict", tmp_path / "m" / "model.safetensors", data)
    values = np.array([float(r[0]) for r in list(csv.reader(pred.stdout.splitlines()))[1:]])
    assert len(values) == 300 and np.mean(np.abs(values - y)) < 0.2 * np.std(y)
    assert not (tmp_path / "m" / "loss_curve.png").exists()  # --no-plots
    lrs = [r["lr"] for r in json.loads((tmp_path / "m" / "metrics.json").read_text())["history"]]
    assert lrs[0] == 0.01 and lrs[-1] < 0.001  # the cosine schedule decays towards zero
    assert "cosine schedule" in run("summary", tmp_path / "m" / "model.safetensors").stdout


def test_default_train_is_the_main_job(tmp_path):
    proc = run("train", cwd=tmp_path)  # digits, default options, progress bar on stderr
    assert proc.returncode == 0, proc.stderr
    # 97.5% on this split; the 97% bar itself is tested over several splits in test_applications.
    assert float(proc.stdout.split()[2]) >= 0.96
    assert "training" in proc.stderr and "epoch" in proc.stderr
    import feedforward as ff

    assert ff.load(tmp_path / "out" / "model.safetensors").sizes == [64, 128, 64, 10]
    assert_png(tmp_path / "out" / "loss_curve.png", aspect=10 / 4)
    assert_png(tmp_path / "out" / "confusion_matrix.png", aspect=(0.5 * 10 + 3.2) / (0.5 * 10 + 2.4))


def test_lecture_delegates_to_the_report():
    listing = run("lecture", "--list")
    assert listing.returncode == 0
    assert "app_digits" in listing.stdout and "uat" in listing.stdout
    assert_one_line_error(run("lecture", "no_such_experiment"), "unknown experiment 'no_such_experiment'")


def test_help_for_every_command():
    top = run("--help")
    assert top.returncode == 0
    assert run().stdout == top.stdout  # no command: the overview
    for command in ("train", "evaluate", "predict", "summary", "lecture"):
        assert command in top.stdout
    for command, option in (("train", "--activation"), ("evaluate", "--split"), ("predict", "--proba")):
        h = run(command, "--help")
        assert h.returncode == 0 and option in h.stdout


# ---------------------------------------------------------------- bad input
def test_missing_data_file(tmp_path):
    proc = run("train", "--data", tmp_path / "nope.csv", "--out", tmp_path)
    assert_one_line_error(proc, "no such file", "nope.csv")


def test_a_text_column_of_identifiers_is_refused(tmp_path):
    """Issue 14: text columns are one-hot encoded (tests/test_modelfile_csv.py), but one with more
    distinct values than MAX_CATEGORIES is an identifier, not a category: a clear error."""
    from feedforward.data.table import MAX_CATEGORIES

    rows = [[i, f"id{i}", i % 2] for i in range(MAX_CATEGORIES + 2)]
    data = write_csv(tmp_path / "d.csv", ["x", "colour", "y"], rows)
    assert_one_line_error(run("train", "--data", data, "--out", tmp_path), "column 'colour' has more than",
                          "distinct text values")


def test_unknown_target(tmp_path):
    data = write_csv(tmp_path / "d.csv", ["x", "y"], [[1, 0], [2, 1]])
    assert_one_line_error(run("train", "--data", data, "--target", "label", "--out", tmp_path),
                          "no column named 'label'")


def test_missing_target_value(tmp_path):
    """Issue 14: a missing feature cell is filled (tests/test_modelfile_csv.py); a missing target is not."""
    data = write_csv(tmp_path / "d.csv", ["x", "z", "y"], [[1, 2, 0], [2, "", 1], [3, 1, ""]])
    assert_one_line_error(run("train", "--data", data, "--out", tmp_path),
                          "missing target value in column 'y' at line 4")


def test_incompatible_model_files(tmp_path, trained):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01not a model at all" * 10)
    for command in (("summary", junk), ("evaluate", junk, "--data", "digits")):
        assert_one_line_error(run(*command), "junk.safetensors", "not a compatible feedforward model file")
    assert_one_line_error(run("summary", tmp_path / "absent.safetensors"), "no such model file")
    # A real model but for other data: 4 features vs digits' 64.
    d, data, out, proc = trained
    assert_one_line_error(run("evaluate", out / "model.safetensors", "--data", "digits"),
                          "64 features, but the model expects 4")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_devices_and_pipes_end_to_end(tmp_path):
    """A real process: /dev/zero and a named pipe are refused at once, one line, exit 2 (issue 10)."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for args in (("summary", "/dev/zero"), ("train", "--data", fifo, "--out", tmp_path / "o")):
        proc = subprocess.run([sys.executable, "-m", "feedforward", *map(str, args)], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2
        assert_one_line_error(proc, "not a regular file")


def test_bare_ff_save_file_is_refused_for_prediction(tmp_path):
    import feedforward as ff

    path = tmp_path / "bare.safetensors"
    ff.save(ff.nn.MLP([3, 4, 2], output="categorical", rng=0), path)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c"], [[1, 2, 3]])
    assert_one_line_error(run("predict", path, data), "without the record of its training data")
    assert run("summary", path).returncode == 0  # the layers can still be shown


def test_predict_reads_stdin_and_writes_stdout_for_a_dash(trained, tmp_path):
    """``predict MODEL -`` reads the CSV from standard input, ``--output -`` writes to standard
    output: the same table as from the file (issue 14)."""
    d, data, out, proc = trained
    rows = _flowers(20, seed=6)
    new = write_csv(tmp_path / "new.csv", ["length", "width", "noise", "scale"], [r[:4] for r in rows])
    from_file = run("predict", out / "model.safetensors", new, "--proba")
    piped = subprocess.run([sys.executable, "-m", "feedforward", "predict", str(out / "model.safetensors"), "-",
                            "--proba", "--output", "-"], input=new.read_text(), capture_output=True, text=True,
                           timeout=300)
    assert from_file.returncode == 0 and piped.returncode == 0, piped.stderr
    assert piped.stdout == from_file.stdout and len(piped.stdout.splitlines()) == 21


def test_prediction_input_lacking_a_feature(tmp_path, trained):
    d, data, out, proc = trained
    new = write_csv(tmp_path / "new.csv", ["length", "width"], [[1, 2]])
    assert_one_line_error(run("predict", out / "model.safetensors", new), "lacks the feature columns",
                          "noise")


@pytest.mark.parametrize("args,fragment", [
    (("train", "--layers", "16,x"), "--layers"),
    (("train", "--epochs", "0"), "--epochs"),
    (("train", "--activation", "swish"), "--activation"),
    (("train", "--lr", "-1"), "--lr"),
    (("train", "--data", "cifar"), "unknown data set 'cifar'"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_options(args, fragment, tmp_path):
    assert_one_line_error(run(*args, "--out", tmp_path) if args[0] == "train" else run(*args), fragment)
