"""The ``feedforward`` command line's options: argparse, with numbers checked by the validation layer."""

from __future__ import annotations

import argparse

from .._validation import Int, Real, check_sizes

__all__ = ["build_parser", "EXIT_USER_ERROR"]

#: Exit status of every error a user can cause (bad option, data, model file, input row).
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is ONE line (with a pointer to --help), not usage + error."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(kind, constraint):
    """An argparse type: ``kind(text)`` through a validation constraint; the message says what was expected."""

    def parse(text):
        try:
            return constraint(kind(text), "value")
        except (TypeError, ValueError):  # int("2.5"), float("x"), or the constraint's refusal
            raise argparse.ArgumentTypeError(f"expected {constraint.describe()}, got {text!r}") from None

    parse.__name__ = constraint.describe()  # argparse names the type in some messages
    return parse


def _layers(text: str) -> list:
    try:
        return check_sizes([int(s) for s in text.replace(" ", "").split(",") if s != ""], "--layers", min_len=0)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like 128,64, got {text!r}") from None


def _playground(args) -> int:
    from ..playground.command import playground  # the server libraries load only here

    return playground(args)


_POSITIVE_INT = _number(int, Int(1))
_POSITIVE = _number(float, Real(0, low_open=True))
_NON_NEGATIVE = _number(float, Real(0))
_FRACTION = _number(float, Real(0, 1, low_open=True, high_open=True))
_SEED = _number(int, Int(0))

_DATA_HELP = ("a bundled data set ({names}) or the path of a CSV file with a header row, numeric "
              "feature columns and a target column")


def build_parser() -> argparse.ArgumentParser:
    from ..data import DATASETS
    from ..nn import ACTIVATIONS
    from . import commands

    names = ", ".join(DATASETS)
    parser = _Parser(
        prog="feedforward",
        description="Deep feedforward networks from first principles: train, evaluate and use MLPs.",
        epilog="Run 'feedforward COMMAND --help' for each command's options. "
               "Start with 'feedforward train' (digits, written to out/). "
               f"Exit status: 0 on success, {EXIT_USER_ERROR} for any error in the options, the data, a model "
               "file or an input row, 1 for an internal error.",
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
                    "randomly (stratified for classification) with --test-size and --seed. "
                    "--out is checked before training starts.",
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
    p.add_argument("--lr", type=_POSITIVE, default=None,
                   help="learning rate eta (default 0.001 for adam, 0.05 for sgd)")
    p.add_argument("--schedule", default="constant",
                   choices=("constant", "cosine", "step", "exponential", "invscaling", "plateau"),
                   help="learning-rate schedule over the epochs")
    p.add_argument("--momentum", type=_NON_NEGATIVE, default=0.9, help="sgd only")
    p.add_argument("--weight-decay", type=_NON_NEGATIVE, default=0.0, help="L2 penalty lambda")
    p.add_argument("--epochs", type=_POSITIVE_INT, default=40, help="maximum number of epochs")
    p.add_argument("--batch-size", type=_POSITIVE_INT, default=32, help="minibatch size")
    p.add_argument("--early-stopping", action="store_true",
                   help="hold out 10%% of the training part and stop when its loss stops improving")
    p.add_argument("--patience", type=_POSITIVE_INT, default=10,
                   help="epochs without improvement before early stopping")
    p.add_argument("--test-size", type=_FRACTION, default=0.2,
                   help="fraction of the data held out for testing")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the split, initialisation and shuffling")
    p.add_argument("--out", default="out", help="output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures (no matplotlib needed)")
    p.set_defaults(func=commands.train)

    # ---------------------------------------------------------- evaluate
    p = sub.add_parser(
        "evaluate", help="the metric of a trained model on a data set",
        description="Evaluate a model file written by 'feedforward train' on a data set. On the data set it "
                    "was trained on, the same held-out test part is used (recreated from the recorded seed) "
                    "unless --split all; on other data every row is used. Without --data, only a bundled "
                    "data set recorded in the model file is used: a model file never makes feedforward "
                    "read a file you did not name.",
    )
    p.add_argument("model", help="model file written by 'feedforward train'")
    p.add_argument("--data", default=None,
                   help=_DATA_HELP.format(names=names) + " (default: the bundled data set the model was "
                        "trained on)")
    p.add_argument("--target", default=None,
                   help="CSV only: the target column (default: the model's target name)")
    p.add_argument("--split", choices=("auto", "test", "all"), default="auto",
                   help="test: the held-out part of the training data; all: every row; auto: test on "
                        "the training data set, all otherwise")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=commands.evaluate)

    # ----------------------------------------------------------- predict
    p = sub.add_parser(
        "predict", help="predictions for the rows of a CSV file, as CSV on stdout",
        description="Predict for each row of INPUT (a CSV file whose header names the model's feature "
                    "columns, in any order; other columns are ignored; or, without a header, exactly the "
                    "model's features in order). Writes CSV to stdout (or --output): the predicted class "
                    "or value, and with --proba one probability column per class. A row the network "
                    "cannot handle (a value beyond float32 after scaling) is an error naming its line.",
    )
    p.add_argument("model", help="model file written by 'feedforward train'")
    p.add_argument("input", help="CSV file of feature rows")
    p.add_argument("--proba", action="store_true", help="also write the class probabilities (classification)")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=commands.predict)

    # ------------------------------------------------------------ export
    p = sub.add_parser(
        "export", help="write a model file as ONNX, for onnxruntime and other runtimes",
        description="Write MODEL as an ONNX graph (opset 17) that reads raw feature rows: the feature scaling "
                    "of 'feedforward train' is in the graph, and its output is the output unit's mean (class "
                    "probabilities, or the value in the target's units). Needs the onnx extra.",
    )
    p.add_argument("model", help="model file written by 'feedforward train' (or ff.save)")
    p.add_argument("--onnx", required=True, metavar="OUT", help="the .onnx file to write")
    p.set_defaults(func=commands.export)

    # ----------------------------------------------------------- summary
    p = sub.add_parser("summary", help="the layers, shapes and parameter counts of a model file",
                       description="Print each layer of a saved model with its output shape and parameter "
                                   "count, and what the model was trained on.")
    p.add_argument("model", help="model file written by 'feedforward train' (or ff.save)")
    p.set_defaults(func=commands.summary)

    # ---------------------------------------------------------- datasets
    p = sub.add_parser("datasets", help="list the bundled data sets",
                       description="List the data sets that --data accepts by name, with their sizes.")
    p.set_defaults(func=commands.datasets)

    # -------------------------------------------------------- playground
    p = sub.add_parser("playground", help="the lecture you can touch: a browser app on the real engine",
                       description="Serve the playground page on 127.0.0.1 (or --host) and open it in the "
                                   "browser. Needs the playground extra: pip install \"feedforward[playground]\".")
    p.add_argument("--port", type=_number(int, Int(0, 65535)), default=8050, help="port (0: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.set_defaults(func=_playground)

    # ----------------------------------------------------------- lecture
    sub.add_parser("lecture", add_help=False,
                   help="build the lecture report (run 'feedforward lecture --help')")
    return parser
