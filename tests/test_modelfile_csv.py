"""Text categories and empty cells in the command line's CSV files, recorded in the model file (issue 14).

``feedforward train`` one-hot encodes text columns (categories sorted) and fills
empty cells (the training rows' mean, the most frequent category); the model
file's pipeline replays both at predict time, in the CLI, ``ff.load`` and the
estimators. A category training never saw is an all-zero one-hot block with a
warning naming the column and the value. A hostile pipeline section is a
``ValueError`` naming the field.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import feedforward as ff
from feedforward.cli import main
from feedforward.estimators import MLPClassifier
from feedforward.io.container import read_container, write_container
from helpers import write_csv

pytest.importorskip("safetensors")

COLOURS, CITIES = ["blue", "green", "red"], ["berlin", "paris", "rome"]


def _rows(n=120, seed=0):
    """age (numeric, some empty), colour (text, some empty), size (numeric), city (text), label."""
    r = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        colour, city = COLOURS[r.integers(3)], CITIES[r.integers(3)]
        age, size = r.normal(40, 10), r.normal(2, 0.5)
        label = "yes" if (colour == "red") ^ (age > 40) else ("maybe" if city == "rome" else "no")
        rows.append([f"{age:.1f}" if i % 7 else "", colour if i % 11 else "", f"{size:.2f}", city, label])
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cat")
    data = write_csv(d / "people.csv", ["age", "colour", "size", "city", "label"], _rows())
    assert main(["train", "--data", str(data), "--layers", "16", "--epochs", "30", "--out", str(d / "m"),
                 "--no-progress", "--no-plots", "--seed", "0"]) == 0
    return d, data, d / "m" / "model.safetensors"


def _out(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_categories_and_fill_values_are_recorded(trained):
    """The one-hot layout (sorted categories) and the fill values fitted on the training rows only."""
    from feedforward.cli.commands import _split
    from feedforward.data.table import load_csv_table

    d, data, path = trained
    pipe = ff.load(path).pipeline
    assert [c["kind"] for c in pipe.columns] == ["numeric", "categorical", "numeric", "categorical"]
    assert pipe.columns[1]["categories"] == COLOURS and pipe.columns[3]["categories"] == CITIES
    assert pipe.input_names() == ["age", "colour=blue", "colour=green", "colour=red", "size", "city=berlin",
                                  "city=paris", "city=rome"]
    ds, _ = load_csv_table(data)
    X_tr, _, _, _ = _split(ds, 0.2, 0)  # the CLI's default split
    assert pipe.columns[0]["fill"] == pytest.approx(float(np.nanmean(X_tr[:, 0])))
    assert pipe.columns[0]["fill"] != pytest.approx(float(np.nanmean(ds.X[:, 0])))  # not the test rows too
    counts = np.bincount(X_tr[:, 1][~np.isnan(X_tr[:, 1])].astype(int), minlength=3)
    assert pipe.columns[1]["fill"] == COLOURS[int(np.argmax(counts))]
    assert pipe.classes == ["maybe", "no", "yes"]


def test_evaluate_prints_the_per_class_report(trained, capsys):
    """Issue 14: the CLI trained on text categories and empty cells, then `evaluate` per class."""
    d, data, path = trained
    code, out, err = _out(capsys, "evaluate", path.parent, "--data", data)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("people (test) accuracy:")
    for name in ("maybe", "no", "yes", "macro avg", "weighted avg"):
        assert any(line.split()[:len(name.split())] == name.split() for line in lines), (name, out)
    code, out, _ = _out(capsys, "evaluate", path.parent, "--data", data, "--json")
    doc = json.loads(out)
    assert set(doc["per_class"]) >= {"maybe", "no", "yes"} and doc["n"] == 24


def test_missing_cells_at_predict_take_the_fill_values(trained, tmp_path, capsys):
    """An empty cell predicts as if it held the recorded fill value, in the CLI and the estimator."""
    d, data, path = trained
    pipe = ff.load(path).pipeline
    age_fill, colour_fill = pipe.columns[0]["fill"], pipe.columns[1]["fill"]
    rows = [["", "", "2.0", "paris"], [repr(age_fill), colour_fill, "2.0", "paris"], ["30", "red", "", "rome"]]
    new = write_csv(tmp_path / "new.csv", ["city", "age", "colour", "size"],  # any column order
                    [[r[3], r[0], r[1], r[2]] for r in rows])
    code, out, err = _out(capsys, "predict", path, new, "--proba")
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["label", "p(maybe)", "p(no)", "p(yes)"]
    assert table[1] == table[2]  # the empty cells are the fill values
    est = MLPClassifier.load(path)
    proba = est.predict_proba(np.array(rows, dtype=object))
    np.testing.assert_allclose(proba[0], proba[1], rtol=1e-6)
    np.testing.assert_allclose([[float(v) for v in r[1:]] for r in table[1:]], proba, rtol=1e-5, atol=1e-6)


def test_an_unseen_category_is_an_all_zero_block_with_a_warning(trained, tmp_path, capsys):
    d, data, path = trained
    model = ff.load(path)
    with pytest.warns(UserWarning, match="column 'colour' has the category 'purple' that training never saw"):
        Z = model.pipeline.transform(np.array([["40", "purple", "2", "rome"]], dtype=object), np.float64)
    scaled_zero = -np.asarray(model.pipeline.x_mean[1:4]) / np.asarray(model.pipeline.x_scale[1:4])
    np.testing.assert_allclose(Z[0, 1:4], scaled_zero)  # one-hot inputs 0, then standardised
    new = write_csv(tmp_path / "new.csv", ["age", "colour", "size", "city"], [[40, "purple", 2, "rome"]])
    code, out, err = _out(capsys, "predict", path, new)
    assert code == 0 and out.splitlines()[1] in ("maybe", "no", "yes")
    assert err.strip() == ("feedforward: warning: column 'colour' has the category 'purple' that training never "
                           "saw (known: ['blue', 'green', 'red']); its one-hot inputs are all zero")


def test_the_same_text_file_predicts_alike_in_every_reader(trained, capsys):
    """CLI predict, the estimator and ff.load's pipeline on the training file's raw text rows."""
    d, data, path = trained
    code, out, _ = _out(capsys, "predict", path, data)
    cli = [r[0] for r in list(csv.reader(io.StringIO(out)))[1:]]
    raw = np.array([r[:4] for r in _rows()], dtype=object)
    model = ff.load(path)
    assert cli == list(MLPClassifier.load(path).predict(raw)) == list(model.pipeline.predict(model, raw))


# ----------------------------------------------------------------- hostile files
def _tampered(path, tmp_path, change):
    tensors, doc, user = read_container(path, "feedforward.model", (1, 2))
    doc = {k: v for k, v in doc.items() if k != "sha256"}
    change(doc["pipeline"])
    out = tmp_path / "bad.safetensors"
    write_container(out, tensors, doc, user)
    return out


def _set(path, value):
    def change(p):
        *keys, last = path
        for k in keys:
            p = p[k]
        p[last] = value
    return change


@pytest.mark.parametrize("change, fragment", [
    (_set(["x_scale", 2], 0.0), "pipeline.x_scale[2]"),
    (_set(["x_mean", 0], float("nan")), "pipeline.x_mean[0]"),
    (_set(["x_mean"], [0.0]), "pipeline.x_mean must be a list of 8 numbers"),
    (_set(["columns", 1, "categories"], ["red", "red", "blue"]), "categories repeats a category"),
    (_set(["columns", 1, "fill"], "purple"), "pipeline.columns[1].fill must be one of its categories"),
    (_set(["columns", 0, "kind"], "date"), "pipeline.columns[0].kind"),
    (_set(["columns", 3, "categories"], [*CITIES, "oslo"]), "x_mean must be a list of 9 numbers"),
    (_set(["classes"], ["no", "yes"]), "classes has 2 labels, the network has 3 outputs"),
    (_set(["classes", 0], True), "pipeline.classes[0]"),
    (_set(["y_scale"], 0), "pipeline.y_scale"),
    (_set(["task"], "ranking"), "pipeline.task"),
    (_set(["extra"], 1), "unknown keys ['extra']"),
])
def test_every_pipeline_field_is_checked(trained, tmp_path, capsys, change, fragment):
    """A hostile pipeline is a ValueError naming the field (ff.load, the estimator) and a one-line
    error with exit 2 in the CLI; never NaN predictions."""
    d, data, path = trained
    bad = _tampered(path, tmp_path, change)
    with pytest.raises(ValueError) as err:
        ff.load(bad)
    assert fragment in str(err.value) and "bad.safetensors" in str(err.value)
    with pytest.raises(ValueError, match="bad.safetensors"):
        MLPClassifier.load(bad)
    code, out, err = _out(capsys, "predict", bad, data)
    assert code == 2 and out == "" and fragment in err and len(err.strip().splitlines()) == 1


def test_the_pipeline_and_the_training_record_must_agree(trained, tmp_path, capsys):
    """The CLI's file holds both; classes listed in another order in the record would relabel
    every prediction, so the command line refuses the file."""
    d, data, path = trained
    tensors, doc, user = read_container(path, "feedforward.model", (1, 2))
    record = json.loads(user["feedforward_cli"])
    record["target_names"] = record["target_names"][::-1]
    user = {**user, "feedforward_cli": json.dumps(record)}
    write_container(tmp_path / "swapped.safetensors", tensors, {k: v for k, v in doc.items() if k != "sha256"},
                    user)
    code, out, err = _out(capsys, "predict", tmp_path / "swapped.safetensors", data)
    assert code == 2 and out == "" and "the pipeline and the training record disagree" in err
