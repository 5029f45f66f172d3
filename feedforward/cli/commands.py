"""The commands of ``feedforward``: train, evaluate, predict, summary, datasets, lecture.

Each takes the parsed options and returns the exit status; a user error is a
:class:`~feedforward.cli.record.CLIError` (one line, exit status 2).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .record import FORMAT, META_KEY, CLIError, bundled_name, load_bundle, predict as predict_rows

__all__ = ["train", "evaluate", "predict", "summary", "datasets", "lecture"]


def _say(*args):
    print(*args, file=sys.stderr)


@contextlib.contextmanager
def _warnings_as_lines():
    """The data's warnings (a category training never saw) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        _say(f"feedforward: warning: {message}")


# ------------------------------------------------------------------- data
def _is_csv_path(spec: str) -> bool:
    return spec.lower().endswith((".csv", ".txt", ".tsv")) or os.sep in spec or Path(spec).is_file()


def _load_data(spec: str, target=None, task="auto"):
    """``(dataset, source)`` from a bundled name or a CSV path the user named (numbers only)."""
    from .. import data

    if _is_csv_path(spec):
        return data.load_csv(spec, target=target, task=task), str(Path(spec).resolve())
    if target is not None:
        raise CLIError(f"--target applies to CSV files only; {spec!r} is a bundled data set")
    return data.load_dataset(spec), bundled_name(spec) or spec


def _load_table(spec: str, target=None, task="auto"):
    """``(dataset of codes, source, column specs)``: a CSV file may have text categories and empty cells."""
    from ..data.table import load_csv_table
    from ..io.pipeline import Pipeline

    if _is_csv_path(spec):
        ds, columns = load_csv_table(spec, target=target, task=task)
        return ds, str(Path(spec).resolve()), columns
    ds, source = _load_data(spec, target, task)
    return ds, source, Pipeline.numeric(ds.feature_names)


def _split(ds, test_size: float, seed: int):
    """(X_train, y_train, X_test, y_test): the official test set, or a seeded (stratified) split."""
    from ..data import train_test_split

    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test
    stratify = ds.task == "classification" and np.bincount(ds.y).min() >= 2
    X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, test_size, stratify=stratify, rng=seed)
    return X_tr, y_tr, X_te, y_te


def _output_for(ds) -> tuple:
    """(output unit name, number of outputs): Bernoulli for two classes, Categorical for more, Gaussian."""
    if ds.task == "regression":
        return "gaussian", 1
    if ds.n_classes == 2:
        return "bernoulli", 1
    return "categorical", ds.n_classes


def _check_features(record, X, source):
    names = record["pipeline"].column_names
    d = len(names)
    if X.shape[1] != d:
        raise CLIError(f"{source} has {X.shape[1]} features, but the model expects {d} "
                       f"({', '.join(names[:6])}{', ...' if d > 6 else ''})")


# ---------------------------------------------------------------- metrics
def _metrics(task: str, y_true, y_pred) -> dict:
    from ..training import metrics as M

    n = int(len(y_true))
    if task == "classification":
        accuracy = M.accuracy(y_true, y_pred)
        return {"accuracy": accuracy, "correct": int(round(accuracy * n)), "n": n}
    return {"mae": M.mae(y_true, y_pred), "rmse": math.sqrt(M.mse(y_true, y_pred)), "r2": M.r2(y_true, y_pred),
            "n": n}


def _format_metrics(m: dict, what: str) -> str:
    if "accuracy" in m:
        return f"{what} accuracy: {m['accuracy']:.4f} ({m['correct']}/{m['n']})"
    return f"{what} MAE: {m['mae']:.4g}   RMSE: {m['rmse']:.4g}   R^2: {m['r2']:.4f}   (n={m['n']})"


# ------------------------------------------------------------------ train
def _writable_folder(out: Path) -> None:
    """Create ``out`` and prove it takes a file, before any training time is spent."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise CLIError(f"cannot write into the output directory {out}: {exc.strerror or exc}") from None


def _target_scale(y_tr) -> tuple:
    """(mean, scale) that put a regression target on a unit scale (a unit-variance Gaussian fits it best)."""
    y = np.asarray(y_tr, dtype=np.float64)
    mean, scale = float(np.mean(y)), float(np.std(y)) or 1.0
    if not (math.isfinite(mean) and math.isfinite(scale)):
        raise CLIError("the target's mean or spread overflows float64: rescale the target column")
    return mean, scale


def train(args) -> int:
    """``feedforward train``; under ``mpiexec -n K`` (K > 1) data-parallel (:func:`_train_on_ranks`)."""
    from ..data import Standardizer
    from ..data.table import fit_fill_values
    from ..distributed import world

    comm = world()
    if comm is not None:
        return _train_on_ranks(args, comm)
    ds, source, columns = _load_table(args.data, args.target, args.task)
    X_tr, y_tr, X_te, y_te = _split(ds, args.test_size, args.seed)
    out = Path(args.out)
    _writable_folder(out)
    # Fill values and the scaling come from the training rows only; the test rows stay raw codes.
    columns = fit_fill_values(columns, X_tr)
    E_tr = columns.expand(X_tr)
    scaler = Standardizer().fit(E_tr)
    y_mean, y_scale = _target_scale(y_tr) if ds.task == "regression" else (0.0, 1.0)
    return _run(args, ds, source, E_tr, y_tr, X_te, y_te, scaler, y_mean, y_scale, out, comm=None,
                columns=columns)


def _run(args, ds, source, X_tr, y_tr, X_te, y_te, scaler, y_mean, y_scale, out, comm, columns=None) -> int:
    """Build, train, test and write: the same in one process and on K ranks (rank 0 speaks and writes).

    ``X_tr`` holds the encoded training inputs, ``X_te`` the raw test codes; ``columns`` the
    pipeline of the raw columns (numeric ones when None).
    """
    import feedforward as ff
    from ..io.pipeline import Pipeline

    root = comm is None or comm.is_root
    say = _say if root else (lambda *a: None)
    Z_tr = scaler.transform(X_tr)  # the test set is standardised by predict(), from the saved scaler
    output, n_out = _output_for(ds)
    t_tr = y_tr
    if ds.task == "regression":
        t_tr = ((y_tr - y_mean) / y_scale).astype(np.float32)
    n_train, n_test = (len(X_tr), len(X_te)) if comm is None else map(int, comm.sum([len(X_tr), len(X_te)]))
    lr = args.lr if args.lr is not None else (1e-3 if args.optimizer == "adam" else 0.05)
    sizes = [X_tr.shape[1], *args.layers, n_out]
    # Drawn on the host from the seed (the same network on every device); ff.fit moves it.
    model = ff.nn.MLP(sizes, activation=args.activation, output=output, rng=args.seed)
    what = f"{ds.name} ({n_train} training, {n_test} test examples, {ds.X.shape[1]} features"
    if X_tr.shape[1] != ds.X.shape[1]:
        what += f" encoded as {X_tr.shape[1]} inputs"
    what += f", {ds.n_classes} classes)" if ds.task == "classification" else ", regression)"
    ranks = "" if comm is None else f" on {comm.size} MPI ranks (data-parallel)"
    ranks += "" if args.device == "cpu" else f" on device {args.device}"
    say(f"training an MLP {' -> '.join(map(str, sizes))} ({args.activation}, {output} output, "
        f"{model.num_parameters():,} parameters) on {what}{ranks}")
    options = dict(optimizer=args.optimizer, lr=lr, mode=args.mode, batch_size=min(args.batch_size, n_train),
                   max_epochs=args.epochs, weight_decay=args.weight_decay, lr_schedule=args.schedule,
                   progress=not args.no_progress, rng=args.seed, comm=comm,
                   device=args.device)  # ff.fit moves the model (in place) and the data there once
    if args.optimizer == "sgd":
        options["momentum"] = args.momentum
    if args.early_stopping:
        options.update(validation_fraction=0.1, early_stopping=True, patience=args.patience)
    if args.grad_tol is not None:  # the lecture's theta-stop: it asks for ||grad J(w)|| every epoch
        options["grad_tol"] = args.grad_tol
    start = time.perf_counter()
    history = ff.fit(model, Z_tr, t_tr, **options)
    seconds = time.perf_counter() - start

    columns = columns or Pipeline("regression", Pipeline.numeric(ds.feature_names))
    pipeline = Pipeline(ds.task, columns.columns, named=True, x_mean=scaler.mean_.tolist(),
                        x_scale=scaler.scale_.tolist(),
                        classes=list(ds.target_names) if ds.task == "classification" else None,
                        target=ds.target, y_mean=y_mean, y_scale=y_scale)
    record = {
        "format": FORMAT, "task": ds.task, "data": source, "data_name": ds.name,
        "feature_names": pipeline.input_names(), "target": ds.target, "target_names": list(ds.target_names),
        "x_mean": scaler.mean_.tolist(), "x_scale": scaler.scale_.tolist(),
        "y_mean": y_mean, "y_scale": y_scale,
        "seed": args.seed, "test_size": args.test_size, "official_test_set": ds.X_test is not None,
        "layers": list(args.layers), "activation": args.activation, "output": output,
        "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule, "mode": args.mode,
        "batch_size": args.batch_size, "grad_tol": args.grad_tol,
        "epochs_run": history.epochs, "stop_reason": history.stop_reason, "train_seconds": round(seconds, 2),
    }
    record["pipeline"] = pipeline
    pred, _ = predict_rows(model, record, X_te, source=f"{ds.name} test set")
    del record["pipeline"]
    if comm is not None:  # every rank predicted its test rows; rank 0 scores them all
        parts = comm.allgather((y_te, pred), "the test predictions")
        y_te, pred = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
        if not root:
            return 0
        record["mpi_ranks"] = comm.size
    metrics = _metrics(ds.task, y_te, pred)
    record["test_metrics"] = metrics
    print(_format_metrics(metrics, "test"))

    model_path = out / "model.safetensors"
    # One file: the network, the pipeline section (what predicts from raw rows, read by
    # ff.load and the estimators too) and the training record (what `summary` shows).
    ff.save(model, model_path, metadata={META_KEY: json.dumps(record)}, pipeline=pipeline)
    written = [model_path]
    summary = {"data": source, "test": metrics, "train_seconds": round(seconds, 2), "epochs": history.epochs,
               "stop_reason": history.stop_reason, "history": history.to_dict()["records"]}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1, default=float))
    written.append(out / "metrics.json")
    if not args.no_plots:
        history.plot(out / "loss_curve.png", title=f"{ds.name}: loss per epoch")
        written.append(out / "loss_curve.png")
        if ds.task == "classification":
            from ..experiments._plot import plot_confusion
            from ..training.metrics import confusion_matrix

            cm = confusion_matrix(y_te, pred, ds.n_classes)
            plot_confusion(cm, ds.target_names, out, "confusion_matrix.png", title=f"{ds.name} test set")
            written.append(out / "confusion_matrix.png")
    _say(f"{history.epochs} epochs in {seconds:.1f} s (stopped: {history.stop_reason}); wrote "
         + ", ".join(str(p) for p in written))
    return 0


# ----------------------------------------------------- train on K MPI ranks
def _train_on_ranks(args, comm) -> int:
    """``mpiexec -n K feedforward train ...``: each rank reads its shard, the ranks train together.

    A CSV file is read by byte ranges (:func:`feedforward.distributed.load_csv_shard`); a bundled
    data set is loaded on every rank, which keeps its shard of the rows. The train/test split
    is the one a single process draws (the same rows, from every rank's labels), the feature
    scaling and target scaling are over all training rows, and rank 0 prints, plots and
    writes the model. Errors in the data are raised on every rank (exit status 2); an error
    during training aborts every rank.
    """
    from ..distributed import load_csv_shard, shard_range

    if _is_csv_path(args.data):
        ds = load_csv_shard(args.data, comm, target=args.target, task=args.task)
        source = str(Path(args.data).resolve())
    else:
        with comm.agree("the data set"):
            ds, source = _load_data(args.data, args.target, args.task)
        lo, hi = shard_range(len(ds.X), comm.rank, comm.size)
        ds.X, ds.y = ds.X[lo:hi], ds.y[lo:hi]
        if ds.X_test is not None:
            lo, hi = shard_range(len(ds.X_test), comm.rank, comm.size)
            ds.X_test, ds.y_test = ds.X_test[lo:hi], ds.y_test[lo:hi]
    X_tr, y_tr, X_te, y_te = _split_shards(ds, args.test_size, args.seed, comm)
    out = Path(args.out)
    comm.from_root(_writable_folder, out, what="the output folder check")
    with comm.failures_abort("feedforward train"):
        scaler = _standardizer(X_tr, comm)
        y_mean, y_scale = 0.0, 1.0
        if ds.task == "regression":
            n, total = comm.sum([len(y_tr), np.sum(y_tr, dtype=np.float64)], "the target's mean")
            y_mean = float(total / n)
            y_scale = math.sqrt(comm.sum([np.sum((y_tr - y_mean) ** 2, dtype=np.float64)])[0] / n) or 1.0
        return _run(args, ds, source, X_tr, y_tr, X_te, y_te, scaler, y_mean, y_scale, out, comm=comm)


def _split_shards(ds, test_size, seed, comm):
    """This rank's rows of the split one process draws over all rows (as :func:`_split`)."""
    from ..data.split import split_indices

    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test
    counts = comm.allgather(len(ds.y), "the row counts")
    n, lo = sum(counts), sum(counts[: comm.rank])
    stratify = None
    if ds.task == "classification":
        labels = np.concatenate(comm.allgather(ds.y, "the labels for the test split"))
        stratify = labels if np.bincount(labels).min() >= 2 else None
    train, test = (np.sort(rows) for rows in split_indices(n, test_size, stratify=stratify, rng=seed))
    mine = [rows[(rows >= lo) & (rows < lo + len(ds.y))] - lo for rows in (train, test)]
    return ds.X[mine[0]], ds.y[mine[0]], ds.X[mine[1]], ds.y[mine[1]]


def _standardizer(X, comm):
    """A :class:`~feedforward.data.Standardizer` fitted on every rank's rows (two reductions)."""
    from ..data import Standardizer

    X = np.asarray(X, dtype=np.float64)
    sums = comm.sum(np.append(X.sum(axis=0), len(X)), "the feature means")
    mean = sums[:-1] / sums[-1]
    scale = np.sqrt(comm.sum(((X - mean) ** 2).sum(axis=0), "the feature scales") / sums[-1])
    return Standardizer(mean, np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0))


# --------------------------------------------------------------- evaluate
def _same_source(record, source) -> bool:
    recorded = record["data"]
    if recorded is None:  # an estimator's file: the training data is not recorded
        return False
    return (bundled_name(recorded) or recorded) == (bundled_name(source) or source)


def _evaluation_data(args, record):
    """``(dataset, source, what the user named)``; never a file the user did not name."""
    from .. import data

    if args.data is None:
        if record["data"] is None:
            raise CLIError(f"{args.model} does not record its training data: name the data with --data")
        name = bundled_name(record["data"])
        if name is None:
            raise CLIError(f"{args.model} was trained on a file, not a bundled data set: name the data with "
                           "--data (a model file never makes feedforward read a file you did not name)")
        if args.target is not None:
            raise CLIError(f"--target applies to CSV files only; the model was trained on {name!r}")
        return data.load_dataset(name), name, name
    if _is_csv_path(args.data):
        target = args.target if args.target is not None else record["target"]
        from ..data.table import load_csv_with

        ds = load_csv_with(args.data, record["pipeline"], target=target, task=record["task"])
        return ds, str(Path(args.data).resolve()), args.data
    ds, source = _load_data(args.data, args.target)
    return ds, source, args.data


def evaluate(args) -> int:
    model, record = load_bundle(args.model, device=args.device)
    with _warnings_as_lines():
        ds, source, spec = _evaluation_data(args, record)
    if ds.task != record["task"]:
        raise CLIError(f"the model does {record['task']} but {spec} is a {ds.task} data set")
    _check_features(record, ds.X, spec)
    split = args.split
    if split == "auto":
        split = "test" if _same_source(record, source) else "all"
    if split == "test":
        if not _same_source(record, source):
            raise CLIError(f"--split test needs the data the model was trained on ({record['data']}), got {spec}")
        _, _, X, y = _split(ds, record["test_size"], record["seed"])
    else:
        X, y = ds.X, ds.y
    if record["task"] == "classification":
        known = {name: c for c, name in enumerate(record["target_names"])}
        unknown = [ds.target_names[c] for c in np.unique(y) if ds.target_names[c] not in known]
        if unknown:
            raise CLIError(f"{spec} has the class {unknown[0]!r} that the model does not know "
                           f"(its classes are {record['target_names']})")
        y = np.array([known.get(n, -1) for n in ds.target_names])[y]
    pred, _ = predict_rows(model, record, X, source=spec)
    metrics = _metrics(record["task"], y, pred)
    report = None
    if record["task"] == "classification":
        from ..training.metrics import classification_report

        names = record["target_names"]
        report = dict(labels=range(len(names)), target_names=names)
    if args.json:
        if report is not None:
            metrics["per_class"] = classification_report(y, pred, output_dict=True, **report)
        print(json.dumps({"data": source, "split": split, **metrics}))
    else:
        print(_format_metrics(metrics, f"{ds.name} ({split})"))
        if report is not None:
            print(classification_report(y, pred, digits=3, **report))
    return 0


# ----------------------------------------------------------------- export
def export(args) -> int:
    from ..interop import export_onnx_file

    try:
        export_onnx_file(args.model, args.onnx)
    except ImportError as exc:  # the onnx extra is missing: its install line, not a traceback
        raise CLIError(str(exc)) from None
    _say(f"wrote {args.onnx}")
    return 0


# ---------------------------------------------------------------- predict
def predict(args) -> int:
    from ..data.table import read_features_table

    model, record = load_bundle(args.model, device=args.device)
    with _stdin_file(args.input) as source, _warnings_as_lines():
        X, lines = read_features_table(source, record["pipeline"])
    _check_features(record, X, args.input)
    if args.proba and record["task"] != "classification":
        raise CLIError("--proba applies to classification models; this one does regression")
    pred, proba = predict_rows(model, record, X, source=args.input, lines=lines)
    header = [record["target"]]
    if record["task"] == "classification":
        labels = record["target_names"]
        rows = [[labels[c]] for c in pred]
        if args.proba:
            header += [f"p({label})" for label in labels]
            rows = [r + [f"{p:.6g}" for p in ps] for r, ps in zip(rows, proba)]
    else:
        rows = [[f"{v:.6g}"] for v in pred]
    to_stdout = args.output in (None, "-")
    stream = sys.stdout if to_stdout else open(args.output, "w", newline="")
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if not to_stdout:
            stream.close()
    return 0


@contextlib.contextmanager
def _stdin_file(path):
    """``-`` is standard input: streamed into a temporary file, so the CSV reader's checks and
    bounded reads apply to it as to any file."""
    if path != "-":
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp:
        name = os.path.join(tmp, "stdin.csv")
        with open(name, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        yield name


# ---------------------------------------------------------------- summary
def summary(args) -> int:
    from ..nn.summary import summary as layer_table

    model, record = load_bundle(args.model, need_record=False)
    layer_table(model)
    if record is None:
        print("(no training record: not written by 'feedforward train')")
        return 0
    pipe = record["pipeline"]
    print(f"task: {record['task']}   data: {record['data'] or '(not recorded)'}   target: {record['target']}")
    if record["task"] == "classification":
        print(f"classes ({len(record['target_names'])}): {', '.join(record['target_names'])}")
    cats = [c for c in pipe.columns if c["kind"] == "categorical"]
    filled = [c["name"] for c in pipe.columns if c["fill"] is not None]
    print(f"features: {len(pipe.columns)}" + (f" ({len(cats)} categorical, one-hot: {pipe.n_inputs} inputs)"
                                              if cats else "")
          + ("   missing cells filled (mean / most frequent)" if filled else ""))
    if record.get("format") is None:  # an estimator's or ff.save's file: no CLI training record
        print(f"output unit: {record['output']}   (written by {_writer(record.get('training'))})")
        return 0
    print(f"hidden units: {record['activation']}   output unit: {record['output']}")
    print(f"trained: {record['optimizer']} lr={record['lr']:g} ({record['schedule']} schedule), "
          f"{record['mode']}, {record['epochs_run']} epochs (stopped: {record['stop_reason']}), "
          f"{record['train_seconds']} s")
    if record["test_metrics"] is not None:
        print(_format_metrics(record["test_metrics"], "test"))
    return 0


def _writer(training) -> str:
    if isinstance(training, dict) and isinstance(training.get("estimator"), str):
        return f"{training['estimator']}.save()"
    return "ff.save"


def datasets(args) -> int:
    from ..data import DATASETS

    for name, loader in DATASETS.items():
        doc = (loader.__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} {doc}")
    return 0


def lecture(argv) -> int:
    try:
        from ..experiments import report
    except ImportError as exc:
        raise CLIError(f"the lecture report is not available: {exc}") from None
    return int(report.main(list(argv)) or 0)
