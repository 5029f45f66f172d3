"""The ``feedforward`` command line: train, evaluate, predict, summary, lecture.

``feedforward train`` with no option trains an MLP on scikit-learn's bundled
digits, shows a progress bar, prints the test accuracy and writes into
``out/``: the model file (``model.safetensors``, with everything needed to
use it later), the loss curve and the confusion matrix. Then::

    feedforward evaluate out/model.safetensors --data digits
    feedforward predict out/model.safetensors new.csv > predictions.csv
    feedforward summary out/model.safetensors

Every error a user can cause (a missing file, a non-numeric column, an
unknown target, an incompatible model file, a bad option) is one line on
stderr and a non-zero exit status (2), never a traceback; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "CLIError", "FORMAT"]

#: Marks model files written by ``feedforward train`` (key of the metadata entry).
FORMAT = "feedforward.cli/1"
_META_KEY = "feedforward_cli"
_EXIT_ERROR = 2


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


# --------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is ONE line (with a pointer to --help), not usage + error."""

    def error(self, message):
        self.exit(_EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _layers(text: str) -> list:
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like 128,64, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive integers, got {text!r}")
    return sizes


def _checked(kind, ok, expected, invalid=None, name=None):
    """An argparse type: ``kind(text)``, which ``ok`` must accept; the messages say what was expected."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {invalid or expected}, got {text!r}")
        return value

    parse.__name__ = name or expected
    return parse


def _positive(kind):
    # value == value: NaN is not positive
    return _checked(kind, lambda v: v > 0 and v == v, f"a positive {kind.__name__}",
                    name=f"positive {kind.__name__}")


_non_negative_float = _checked(float, lambda v: v >= 0 and v != float("inf"), "a number >= 0",
                               invalid="a finite number >= 0")
_fraction = _checked(float, lambda v: 0 < v < 1, "a fraction in (0, 1)")
_seed = _checked(int, lambda v: v >= 0, "a non-negative integer seed")


_DATA_HELP = ("a bundled data set ({names}) or the path of a CSV file with a header row, numeric "
              "feature columns and a target column")


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .nn import ACTIVATIONS

    names = ", ".join(DATASETS)
    parser = _Parser(
        prog="feedforward",
        description="Deep feedforward networks from first principles: train, evaluate and use MLPs.",
        epilog="Run 'feedforward COMMAND --help' for each command's options. "
               "Start with 'feedforward train' (digits, written to out/).",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # ------------------------------------------------------------- train
    p = sub.add_parser(
        "train", help="train an MLP and write the model file and figures",
        description="Train an MLP on a data set, print the test metric, and write into --out the model "
                    "file (model.safetensors), the loss curve (loss_curve.png), the confusion matrix "
                    "(confusion_matrix.png, classification) and metrics.json. Features are standardised "
                    "with the training part's mean and scale (recorded in the model file). "
                    "Data sets with an official test set (fashion_mnist) use it; the others are split "
                    "randomly (stratified for classification) with --test-size and --seed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", default="digits", help=_DATA_HELP.format(names=names))
    p.add_argument("--target", default=None,
                   help="CSV only: the target column's name or index (default: a column called target, "
                        "label, class or y, else the last column)")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="CSV only: auto takes text targets and whole numbers with at most 20 distinct "
                        "values as classes, anything else as regression")
    p.add_argument("--layers", type=_layers, default=[128, 64], metavar="W1,W2,...",
                   help="hidden layer widths (an empty string for no hidden layer)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="hidden unit")
    p.add_argument("--mode", choices=("minibatch", "stochastic", "batch"), default="minibatch",
                   help="one example (stochastic), a minibatch, or the whole training set per update")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate eta (default 0.001 for adam, 0.05 for sgd)")
    p.add_argument("--schedule", default="constant",
                   choices=("constant", "cosine", "step", "exponential", "invscaling", "plateau"),
                   help="learning-rate schedule over the epochs")
    p.add_argument("--momentum", type=_non_negative_float, default=0.9, help="sgd only")
    p.add_argument("--weight-decay", type=_non_negative_float, default=0.0, help="L2 penalty lambda")
    p.add_argument("--epochs", type=_positive(int), default=40, help="maximum number of epochs")
    p.add_argument("--batch-size", type=_positive(int), default=32, help="minibatch size")
    p.add_argument("--early-stopping", action="store_true",
                   help="hold out 10%% of the training part and stop when its loss stops improving")
    p.add_argument("--patience", type=_positive(int), default=10,
                   help="epochs without improvement before early stopping")
    p.add_argument("--test-size", type=_fraction, default=0.2,
                   help="fraction of the data held out for testing")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the split, initialisation and shuffling")
    p.add_argument("--out", default="out", help="output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures (no matplotlib needed)")
    p.set_defaults(func=_cmd_train)

    # ---------------------------------------------------------- evaluate
    p = sub.add_parser(
        "evaluate", help="the metric of a trained model on a data set",
        description="Evaluate a model file written by 'feedforward train' on a data set. On the data set it "
                    "was trained on, the same held-out test part is used (recreated from the recorded seed) "
                    "unless --split all; on other data every row is used.",
    )
    p.add_argument("model", help="model file written by 'feedforward train'")
    p.add_argument("--data", default=None,
                   help=_DATA_HELP.format(names=names) + " (default: the data the model was trained on)")
    p.add_argument("--target", default=None,
                   help="CSV only: the target column (default: the model's target name)")
    p.add_argument("--split", choices=("auto", "test", "all"), default="auto",
                   help="test: the held-out part of the training data; all: every row; auto: test on "
                        "the training data set, all otherwise")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_evaluate)

    # ----------------------------------------------------------- predict
    p = sub.add_parser(
        "predict", help="predictions for the rows of a CSV file, as CSV on stdout",
        description="Predict for each row of INPUT (a CSV file whose header names the model's feature "
                    "columns, in any order; other columns are ignored; or, without a header, exactly the "
                    "model's features in order). Writes CSV to stdout (or --output): the predicted class "
                    "or value, and with --proba one probability column per class.",
    )
    p.add_argument("model", help="model file written by 'feedforward train'")
    p.add_argument("input", help="CSV file of feature rows")
    p.add_argument("--proba", action="store_true", help="also write the class probabilities (classification)")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=_cmd_predict)

    # ----------------------------------------------------------- summary
    p = sub.add_parser("summary", help="the layers, shapes and parameter counts of a model file",
                       description="Print each layer of a saved model with its output shape and parameter "
                                   "count, and what the model was trained on.")
    p.add_argument("model", help="model file written by 'feedforward train' (or ff.save)")
    p.set_defaults(func=_cmd_summary)

    # ---------------------------------------------------------- datasets
    p = sub.add_parser("datasets", help="list the bundled data sets",
                       description="List the data sets that --data accepts by name, with their sizes.")
    p.set_defaults(func=_cmd_datasets)

    # ----------------------------------------------------------- lecture
    sub.add_parser("lecture", add_help=False,
                   help="build the lecture report (run 'feedforward lecture --help')")
    return parser


# ------------------------------------------------------------------- helpers
def _say(*args):
    print(*args, file=sys.stderr)


def _is_csv_path(spec: str) -> bool:
    return spec.lower().endswith((".csv", ".txt", ".tsv")) or os.sep in spec or Path(spec).is_file()


def _load_data(spec: str, target=None, task="auto"):
    """A Dataset from a bundled name or a CSV path; (dataset, source description)."""
    from . import data

    if _is_csv_path(spec):
        path = Path(spec)
        if not path.exists():
            raise CLIError(f"no such file: {spec}")
        return data.load_csv(path, target=target, task=task), str(path.resolve())
    if target is not None:
        raise CLIError(f"--target applies to CSV files only; {spec!r} is a bundled data set")
    return data.load_dataset(spec), spec.strip().lower().replace("-", "_")


def _split(ds, test_size: float, seed: int):
    """(X_train, y_train, X_test, y_test): the official test set, or a seeded (stratified) split."""
    from .data import train_test_split

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


def _metrics(task: str, y_true, y_pred) -> dict:
    if task == "classification":
        right = int(np.sum(y_true == y_pred))
        return {"accuracy": right / len(y_true), "correct": right, "n": int(len(y_true))}
    err = np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64)
    ss_tot = float(np.sum((y_true - np.mean(y_true)) ** 2))
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "r2": 1 - float(np.sum(err ** 2)) / ss_tot if ss_tot > 0 else float("nan"), "n": int(len(y_true))}


def _format_metrics(m: dict, what: str) -> str:
    if "accuracy" in m:
        return f"{what} accuracy: {m['accuracy']:.4f} ({m['correct']}/{m['n']})"
    return f"{what} MAE: {m['mae']:.4g}   RMSE: {m['rmse']:.4g}   R^2: {m['r2']:.4f}   (n={m['n']})"


# ----------------------------------------------------------- the model bundle
def _standardizer(info):
    from .data import Standardizer

    return Standardizer(info["x_mean"], info["x_scale"])


def _predict(model, info, X):
    """(labels or values in the original units, class probabilities or None)."""
    from .autograd import no_grad

    Z = _standardizer(info).transform(X)
    model.eval()
    with no_grad():
        z = np.asarray(model(Z).data)
    if info["task"] == "regression":
        return z[:, 0] * info["y_scale"] + info["y_mean"], None
    if z.shape[1] == 1:  # Bernoulli: p(class 1) = sigmoid(z)
        p1 = 1 / (1 + np.exp(-np.clip(z[:, 0], -60, 60)))
        proba = np.column_stack([1 - p1, p1])
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        proba = e / e.sum(axis=1, keepdims=True)
    return proba.argmax(axis=1), proba


def _load_bundle(spec: str, *, need_info: bool = True):
    """(model, info) from a model file; info is the CLI's record (None for a bare ff.save file)."""
    import feedforward as ff

    path = Path(spec)
    if not path.exists():
        raise CLIError(f"no such model file: {spec}")
    if path.is_dir():
        candidate = path / "model.safetensors"
        if not candidate.exists():
            raise CLIError(f"{spec} is a directory without a model.safetensors in it")
        path = candidate
    try:
        model, meta = ff.load(path, return_metadata=True)
    except ValueError as exc:
        raise CLIError(f"{spec} is not a compatible feedforward model file: {exc}") from None
    info = None
    try:
        info = json.loads(meta[_META_KEY]) if _META_KEY in meta else None
    except ValueError:
        pass
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        info = None
        if need_info:
            raise CLIError(f"{spec} is a model file without the record of its training data (feature "
                           "scaling, classes, target); use a model written by 'feedforward train'")
    if info is not None:
        first = next((m for m in model.modules() if isinstance(m, ff.nn.Linear)), None)
        if first is None or first.in_features != len(info["feature_names"]):
            raise CLIError(f"{spec}: the network and its record disagree on the number of features")
    return model, info


def _check_features(info, X, source):
    d = len(info["feature_names"])
    if X.shape[1] != d:
        raise CLIError(f"{source} has {X.shape[1]} features, but the model expects {d} "
                       f"({', '.join(info['feature_names'][:6])}{', ...' if d > 6 else ''})")


# ------------------------------------------------------------------ commands
def _cmd_train(args) -> int:
    import feedforward as ff
    from .data import Standardizer

    ds, source = _load_data(args.data, args.target, args.task)
    X_tr, y_tr, X_te, y_te = _split(ds, args.test_size, args.seed)
    scaler = Standardizer().fit(X_tr)
    Z_tr = scaler.transform(X_tr)  # the test set is standardised by _predict, from the saved scaler
    output, n_out = _output_for(ds)
    y_mean, y_scale = 0.0, 1.0
    t_tr = y_tr
    if ds.task == "regression":
        # A unit-variance Gaussian output fits best when the target is on a unit scale too.
        y_mean, y_scale = float(np.mean(y_tr)), float(np.std(y_tr)) or 1.0
        t_tr = ((y_tr - y_mean) / y_scale).astype(np.float32)
    lr = args.lr if args.lr is not None else (1e-3 if args.optimizer == "adam" else 0.05)
    sizes = [ds.X.shape[1], *args.layers, n_out]
    model = ff.nn.MLP(sizes, activation=args.activation, output=output, rng=args.seed)
    what = f"{ds.name} ({len(X_tr)} training, {len(X_te)} test examples, {ds.X.shape[1]} features"
    what += f", {ds.n_classes} classes)" if ds.task == "classification" else ", regression)"
    _say(f"training an MLP {' -> '.join(map(str, sizes))} ({args.activation}, {output} output, "
         f"{model.num_parameters():,} parameters) on {what}")
    options = dict(optimizer=args.optimizer, lr=lr, mode=args.mode,
                   batch_size=min(args.batch_size, len(Z_tr)),
                   max_epochs=args.epochs, weight_decay=args.weight_decay, lr_schedule=args.schedule,
                   progress=not args.no_progress, rng=args.seed)
    if args.optimizer == "sgd":
        options["momentum"] = args.momentum
    if args.early_stopping:
        options.update(validation_fraction=0.1, early_stopping=True, patience=args.patience)
    start = time.perf_counter()
    history = ff.fit(model, Z_tr, t_tr, **options)
    seconds = time.perf_counter() - start

    info = {
        "format": FORMAT, "task": ds.task, "data": source, "data_name": ds.name,
        "feature_names": list(ds.feature_names), "target": ds.target, "target_names": list(ds.target_names),
        "x_mean": scaler.mean_.tolist(), "x_scale": scaler.scale_.tolist(),
        "y_mean": y_mean, "y_scale": y_scale,
        "seed": args.seed, "test_size": args.test_size, "official_test_set": ds.X_test is not None,
        "layers": list(args.layers), "activation": args.activation, "output": output,
        "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule, "mode": args.mode,
        "batch_size": args.batch_size,
        "epochs_run": history.epochs, "stop_reason": history.stop_reason, "train_seconds": round(seconds, 2),
    }
    pred, _ = _predict(model, info, X_te)
    metrics = _metrics(ds.task, y_te, pred)
    info["test_metrics"] = metrics
    print(_format_metrics(metrics, "test"))

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    model_path = out / "model.safetensors"
    ff.save(model, model_path, metadata={_META_KEY: json.dumps(info)})
    written = [model_path]
    record = {"data": source, "test": metrics, "train_seconds": round(seconds, 2), "epochs": history.epochs,
              "stop_reason": history.stop_reason, "history": history.to_dict()["records"]}
    (out / "metrics.json").write_text(json.dumps(record, indent=1, default=float))
    written.append(out / "metrics.json")
    if not args.no_plots:
        history.plot(out / "loss_curve.png", title=f"{ds.name}: loss per epoch")
        written.append(out / "loss_curve.png")
        if ds.task == "classification":
            from .experiments._plot import plot_confusion
            from .training.metrics import confusion_matrix

            cm = confusion_matrix(y_te, pred, ds.n_classes)
            plot_confusion(cm, ds.target_names, out, "confusion_matrix.png", title=f"{ds.name} test set")
            written.append(out / "confusion_matrix.png")
    _say(f"{history.epochs} epochs in {seconds:.1f} s (stopped: {history.stop_reason}); wrote "
         + ", ".join(str(p) for p in written))
    return 0


def _same_source(info, source) -> bool:
    return info.get("data") == source


def _cmd_evaluate(args) -> int:
    from . import data

    model, info = _load_bundle(args.model)
    spec = args.data if args.data is not None else info["data"]
    if _is_csv_path(spec):
        target = args.target if args.target is not None else info["target"]
        path = Path(spec)
        if not path.exists():
            raise CLIError(f"no such file: {spec}")
        ds = data.load_csv(path, target=target, task=info["task"])
        source = str(path.resolve())
    else:
        ds, source = _load_data(spec, args.target)
    if ds.task != info["task"]:
        raise CLIError(f"the model does {info['task']} but {spec} is a {ds.task} data set")
    _check_features(info, ds.X, spec)
    split = args.split
    if split == "auto":
        split = "test" if _same_source(info, source) else "all"
    if split == "test":
        if not _same_source(info, source):
            raise CLIError(f"--split test needs the data the model was trained on ({info['data']}), "
                           f"got {spec}")
        _, _, X, y = _split(ds, info["test_size"], info["seed"])
    else:
        X, y = ds.X, ds.y
    if info["task"] == "classification":
        known = {name: c for c, name in enumerate(info["target_names"])}
        names = [ds.target_names[c] for c in np.unique(y)]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CLIError(f"{spec} has the class {unknown[0]!r} that the model does not know "
                           f"(its classes are {info['target_names']})")
        remap = np.array([known.get(n, -1) for n in ds.target_names])
        y = remap[y]
    pred, _ = _predict(model, info, X)
    metrics = _metrics(info["task"], y, pred)
    if args.json:
        print(json.dumps({"data": source, "split": split, **metrics}))
    else:
        print(_format_metrics(metrics, f"{ds.name} ({split})"))
    return 0


def _cmd_predict(args) -> int:
    from .data import load_features_csv

    model, info = _load_bundle(args.model)
    path = Path(args.input)
    if not path.exists():
        raise CLIError(f"no such file: {args.input}")
    X, _ = load_features_csv(path, info["feature_names"])
    _check_features(info, X, args.input)
    pred, proba = _predict(model, info, X)
    name = info["target"]
    header = [name]
    if info["task"] == "classification":
        labels = np.asarray(info["target_names"], dtype=object)
        rows = [[labels[c]] for c in pred]
        if args.proba:
            header += [f"p({label})" for label in info["target_names"]]
            rows = [r + [f"{p:.6g}" for p in ps] for r, ps in zip(rows, proba)]
    else:
        rows = [[f"{v:.6g}"] for v in pred]
        if args.proba:
            raise CLIError("--proba applies to classification models; this one does regression")
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if args.output:
            stream.close()
    return 0


def _cmd_summary(args) -> int:
    from .nn.summary import summary

    model, info = _load_bundle(args.model, need_info=False)
    summary(model)
    if info is None:
        print("(no training record: not written by 'feedforward train')")
        return 0
    print(f"task: {info['task']}   data: {info['data']}   target: {info['target']}")
    if info["task"] == "classification":
        print(f"classes ({len(info['target_names'])}): {', '.join(map(str, info['target_names']))}")
    print(f"features: {len(info['feature_names'])}   hidden units: {info['activation']}   "
          f"output unit: {info['output']}")
    print(f"trained: {info['optimizer']} lr={info['lr']:g} ({info.get('schedule', 'constant')} schedule), "
          f"{info['mode']}, {info['epochs_run']} epochs (stopped: {info['stop_reason']}), "
          f"{info['train_seconds']} s")
    if "test_metrics" in info:
        print(_format_metrics(info["test_metrics"], "test"))
    return 0


def _cmd_datasets(args) -> int:
    from .data import DATASETS

    for name, loader in DATASETS.items():
        doc = (loader.__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} {doc}")
    return 0


def _cmd_lecture(argv) -> int:
    try:
        from .experiments import report
    except ImportError as exc:
        raise CLIError(f"the lecture report is not available: {exc}") from None
    result = report.main(list(argv))
    return int(result or 0)


# ---------------------------------------------------------------------- main
_USER_ERRORS = (CLIError, ValueError, TypeError, KeyError, FileNotFoundError, PermissionError,
                IsADirectoryError, ImportError)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 on success, 2 on a user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("lecture")] if "lecture" in argv else "--debug" in argv
    try:
        # `lecture` hands everything after it to the report's own parser.
        rest = [a for a in argv if a != "--debug"]
        if rest and rest[0] == "lecture":
            return _cmd_lecture(rest[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return args.func(args)
    except KeyboardInterrupt:
        _say("feedforward: interrupted")
        return 130
    except BrokenPipeError:
        # `feedforward predict ... | head`: the reader went away; not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except _USER_ERRORS as exc:
        if debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        message = " ".join(str(message).split())  # exactly one line
        _say(f"feedforward: error: {message or type(exc).__name__}")
        return _EXIT_ERROR
    except OSError as exc:
        if debug:
            raise
        _say(f"feedforward: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return _EXIT_ERROR
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        if debug:
            raise
        first = " ".join(str(exc).split())
        _say(f"feedforward: internal error: {type(exc).__name__}: {first} "
             "(run with --debug for the traceback)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
