"""One model file for ff.save, the estimators and the command line (issue 14; L-IO requirements).

Every writer (``ff.save(..., pipeline=...)``, ``MLPClassifier/MLPRegressor.save``,
``feedforward train``) times every reader (``ff.load`` + ``model.pipeline``,
``MLPClassifier/MLPRegressor.load``, ``feedforward predict``) gives the same
predictions from the same raw rows: labels equal, probabilities and values to the
6 significant digits the CLI prints.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import warnings

import numpy as np
import pytest

import feedforward as ff
from feedforward.cli import main
from feedforward.estimators import MLPClassifier, MLPRegressor
from feedforward.io import Pipeline
from helpers import write_csv

pytest.importorskip("safetensors")

WRITERS = ["ff.save", "estimator", "cli"]
READERS = ["ff.load", "estimator", "cli"]
ESTIMATOR = {"classification": MLPClassifier, "regression": MLPRegressor}


def _raw(task, n=60, seed=0):
    """Raw rows far from standardised, and labels (text) or values in large units."""
    r = np.random.default_rng(seed)
    X = r.normal([5.0, -300.0, 0.01], [2.0, 50.0, 0.005], size=(n, 3))
    if task == "classification":
        y = np.array(["lo", "mid", "hi"])[(X[:, 0] > 5).astype(int) + (X[:, 1] > -300)]
    else:
        y = 100 + 7 * X[:, 0] + 0.1 * X[:, 1]
    return X, y


def _write_ffsave(tmp_path, task, X, y):
    """ff.fit on standardised rows, saved with a pipeline that records the scaling and the classes."""
    mean, scale = X.mean(0), X.std(0)
    Z = ((X - mean) / scale).astype(np.float32)
    if task == "classification":
        classes = sorted(set(y))
        net = ff.nn.MLP([3, 8, len(classes)], activation="tanh", output="categorical", rng=0)
        ff.fit(net, Z, np.searchsorted(classes, y), optimizer="adam", lr=0.01, max_epochs=20, rng=0)
        pipe = Pipeline(task, Pipeline.numeric(["a", "b", "c"]), named=True, x_mean=mean.tolist(),
                        x_scale=scale.tolist(), classes=classes, target="t")
    else:
        net = ff.nn.MLP([3, 8, 1], activation="tanh", output="gaussian", rng=0)
        ym, ys = float(y.mean()), float(y.std())
        ff.fit(net, Z, ((y - ym) / ys).astype(np.float32)[:, None], optimizer="adam", lr=0.01, max_epochs=20,
               rng=0)
        pipe = Pipeline(task, Pipeline.numeric(["a", "b", "c"]), named=True, x_mean=mean.tolist(),
                        x_scale=scale.tolist(), target="t", y_mean=ym, y_scale=ys)
    path = tmp_path / "ffsave.safetensors"
    ff.save(net, path, pipeline=pipe)
    return path, lambda rows: pipe.predict(net, rows)


def _write_estimator(tmp_path, task, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a short run on purpose
        est = ESTIMATOR[task]((8,), max_iter=20, random_state=0).fit(X / [2.0, 50.0, 0.005], y)
    # The estimator does not scale: its raw rows are the rows it was given (divided by the spreads).
    path = tmp_path / "est.safetensors"
    est.save(path)
    return path, est.predict


def _write_cli(tmp_path, task, X, y):
    data = write_csv(tmp_path / "train.csv", ["a", "b", "c", "t"], [[*row, t] for row, t in zip(X, y)])
    assert main(["train", "--data", str(data), "--layers", "8", "--epochs", "5", "--out", str(tmp_path / "cli"),
                 "--no-progress", "--no-plots"]) == 0
    return tmp_path / "cli" / "model.safetensors"


def _cli_predict(path, X, capsys, tmp_path, task):
    rows = tmp_path / "rows.csv"
    with open(rows, "w", newline="") as f:  # no header: the columns in the model's order
        csv.writer(f).writerows(X.tolist())
    capsys.readouterr()
    proba = ["--proba"] if task == "classification" else []
    assert main(["predict", str(path), str(rows), *proba]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    body = table[1:]
    if task == "classification":
        return np.array([r[0] for r in body], dtype=object), np.array([[float(v) for v in r[1:]] for r in body])
    return np.array([float(r[0]) for r in body]), None


def _read(reader, path, X, task, capsys, tmp_path):
    """``(predictions, probabilities or None)`` of ``reader`` for raw rows ``X``."""
    if reader == "ff.load":
        model = ff.load(path)
        pred, proba = model.pipeline.outputs(model, X)
        return pred, proba
    if reader == "estimator":
        est = ESTIMATOR[task].load(path)
        return est.predict(X), (est.predict_proba(X) if task == "classification" else None)
    return _cli_predict(path, X, capsys, tmp_path, task)


def _same(a, b, task):
    if task == "classification":
        assert [str(v) for v in a] == [str(v) for v in b]
    else:
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_and_reader_agree_on_raw_rows(tmp_path, capsys, task, writer):
    """Issue 14, "what it must show": a round trip for every writer x reader pair, equal
    predictions from raw inputs (L-IO-1, L-IO-2)."""
    X, y = _raw(task)
    X_new, _ = _raw(task, n=25, seed=1)  # rows none of them trained on
    expected = None  # the writer's own predictions, from the object in memory
    if writer == "ff.save":
        path, own = _write_ffsave(tmp_path, task, X, y)
        expected = own(X_new)
    elif writer == "estimator":
        path, own = _write_estimator(tmp_path, task, X, y)
        X_new = X_new / [2.0, 50.0, 0.005]
        expected = own(X_new)
    else:
        path = _write_cli(tmp_path, task, X, y)
    results = {r: _read(r, path, X_new, task, capsys, tmp_path) for r in READERS}
    if expected is not None:
        _same(results["ff.load"][0], expected, task)
    _same(results["estimator"][0], results["ff.load"][0], task)
    _same(results["cli"][0], results["ff.load"][0], task)
    if task == "classification":
        np.testing.assert_allclose(results["estimator"][1], results["ff.load"][1], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(results["cli"][1], results["ff.load"][1], rtol=1e-5, atol=1e-6)


def test_the_cli_file_as_an_estimator_applies_the_scaling(tmp_path, capsys):
    """A model trained by ``feedforward train`` on unscaled rows becomes an estimator whose
    ``predict`` takes the raw rows (its scaling from the file), with the CLI's classes."""
    X, y = _raw("classification")
    path = _write_cli(tmp_path, "classification", X, y)
    est = MLPClassifier.load(path)
    assert list(est.classes_) == ["hi", "lo", "mid"] and est.n_features_in_ == 3
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    # By hand: standardise with the recorded scaling, run the network, take the argmax.
    pipe = ff.load(path).pipeline
    z = est.model_(((X - pipe.x_mean) / pipe.x_scale).astype(np.float32)).data
    assert [str(c) for c in est.predict(X)] == [pipe.classes[k] for k in z.argmax(1)]
    with pytest.raises(ValueError, match="loaded from a model file whose inputs are encoded"):
        est.set_params(warm_start=True).fit(X, y)


def test_estimator_file_keeps_classes_names_and_pickles(tmp_path):
    """Integer labels come back as integers, DataFrame column names as feature_names_in_;
    a loaded estimator pickles, and an estimator that pickled before still saves."""
    pd = pytest.importorskip("pandas")
    X, _ = _raw("classification")
    y = (X[:, 0] > 5).astype(int) * 7 + 3  # labels 3 and 10
    frame = pd.DataFrame(X / [2.0, 50.0, 0.005], columns=["width", "depth", "rate"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier((6,), max_iter=15, random_state=0).fit(frame, y)
    est = pickle.loads(pickle.dumps(est))
    est.save(tmp_path / "m.safetensors")
    back = MLPClassifier.load(tmp_path / "m.safetensors")
    assert back.classes_.tolist() == [3, 10] and list(back.feature_names_in_) == ["width", "depth", "rate"]
    again = pickle.loads(pickle.dumps(back))
    np.testing.assert_array_equal(again.predict(frame), est.predict(frame))
    np.testing.assert_array_equal(again.predict_proba(frame), est.predict_proba(frame))
    assert ff.load(tmp_path / "m.safetensors").pipeline.record["estimator"] == "MLPClassifier"


def test_a_bare_network_still_saves_and_loads_as_before(tmp_path, capsys):
    """A model without a pipeline loads without one; the estimators and `predict` say what is missing."""
    net = ff.nn.MLP([2, 3, 2], output="categorical", rng=0)
    ff.save(net, tmp_path / "bare.safetensors")
    model = ff.load(tmp_path / "bare.safetensors")
    assert not hasattr(model, "pipeline") and ff.io.load_pipeline(tmp_path / "bare.safetensors") is None
    with pytest.raises(ValueError, match="no pipeline section"):
        MLPClassifier.load(tmp_path / "bare.safetensors")
    rows = write_csv(tmp_path / "r.csv", ["p", "q"], [[1, 2]])
    assert main(["predict", str(tmp_path / "bare.safetensors"), str(rows)]) == 2
    assert "without the record of its training data" in capsys.readouterr().err


def test_a_regressor_file_is_not_a_classifier(tmp_path):
    X, y = _raw("regression")
    path, _ = _write_estimator(tmp_path, "regression", X, y)
    with pytest.raises(ValueError, match="holds a regression model; MLPClassifier does classification"):
        MLPClassifier.load(path)


def test_ff_save_checks_the_pipeline_against_the_network(tmp_path):
    net = ff.nn.MLP([3, 4, 2], output="categorical", rng=0)
    pipe = Pipeline("classification", Pipeline.numeric(["a", "b"]), classes=["x", "y"])
    with pytest.raises(ValueError, match="the columns encode 2 inputs, the network takes 3"):
        ff.save(net, tmp_path / "m.safetensors", pipeline=pipe)
    pipe = Pipeline("classification", Pipeline.numeric(["a", "b", "c"]), classes=["x", "y", "z"])
    with pytest.raises(ValueError, match="classes has 3 labels, the network has 2 outputs"):
        ff.save(net, tmp_path / "m.safetensors", pipeline=pipe)
    with pytest.raises(TypeError, match="cannot save the class label 0.5"):
        from feedforward.estimators._modelfile import _json_label

        _json_label(0.5)


def test_cli_evaluate_and_summary_read_an_estimator_file(tmp_path, capsys):
    """`feedforward evaluate/summary` accept an estimator's file: the accuracy is the estimator's
    own score on the same rows, the summary names the writer."""
    X, y = _raw("classification")
    path, _ = _write_estimator(tmp_path, "classification", X, y)
    Xs = X / [2.0, 50.0, 0.005]
    data = write_csv(tmp_path / "eval.csv", ["p", "q", "r", "t"], [[*row, t] for row, t in zip(Xs, y)])
    capsys.readouterr()
    assert main(["evaluate", str(path), "--data", str(data), "--target", "t", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["split"] == "all" and doc["n"] == len(y)
    assert doc["accuracy"] == pytest.approx(MLPClassifier.load(path).score(Xs, y), abs=1e-12)
    assert main(["evaluate", str(path)]) == 2
    assert "does not record its training data: name the data with --data" in capsys.readouterr().err
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "classes (3): hi, lo, mid" in out and "written by MLPClassifier.save()" in out


def test_docstring_examples_run():
    """The examples in the model file's docstrings are run, so they stay true."""
    import doctest

    import feedforward.io.model
    import feedforward.io.pipeline

    for module in (feedforward.io.pipeline, feedforward.io.model):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
