"""The ``feedforward`` command line's options: argparse, with numbers checked by the validation layer.

``feedforward train --config FILE.toml`` reads options from a TOML file (:mod:`tomllib`): its
keys are the long option names (``lr``, ``batch-size`` or ``batch_size``, ``early-stopping =
true``, ``layers = [128, 64]``), checked exactly as on the command line, and a flag on the
command line wins over the file. An unknown key is an error naming it. ``--help`` prints
each option's real default (``128,64``, not ``[128, 64]``; nothing where the default is "not
given", whose meaning the help text says).
"""

from __future__ import annotations

import argparse
import sys

from .._validation import Int, Real, check_sizes

__all__ = ["build_parser", "EXIT_USER_ERROR"]

#: Exit status of every error a user can cause (bad option, data, model file, input row).
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is ONE line (with a pointer to --help), not usage + error, and the
    help shows each option's real default (:class:`_DefaultsFormatter`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_known_args(self, args=None, namespace=None):
        # A parser with --config reads the file first: its options go before the command line's,
        # so argparse's "the last one wins" lets every flag given on the command line win.
        args = list(sys.argv[1:] if args is None else args)
        if "--config" in self._option_string_actions:
            args = _config_arguments(self, args) + args
        return super().parse_known_args(args, namespace)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that ends each option with its real default, written as it is typed on the command line.

    argparse's ``ArgumentDefaultsHelpFormatter`` prints "(default: None)" for an option that is
    simply not given and "(default: [128, 64])" for a list; here a None or False default shows
    nothing (the help says what happens then), a list shows as ``128,64``.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or "default" in text
                or not action.option_strings or isinstance(action, argparse._HelpAction)):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {(shown or 'none').replace('%', '%%')})"


def _config_arguments(parser, args) -> list:
    """The options of the ``--config`` file named in ``args``, as command-line arguments."""
    path = None
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            path = args[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        elif arg == "--":
            break
    if path is None:
        return []
    import tomllib

    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as exc:
        parser.error(f"argument --config: cannot read {path!r}: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        parser.error(f"argument --config: {path!r} is not valid TOML: {exc}")
    actions = {a.option_strings[-1 if a.option_strings[-1].startswith("--") else 0][2:]: a
               for a in parser._actions if a.option_strings and a.option_strings[0].startswith("--")}
    actions.update({name.replace("-", "_"): a for name, a in list(actions.items())})
    for skip in ("config", "help"):
        actions.pop(skip, None)
    unknown = [key for key in table if key not in actions]
    if unknown:
        valid = ", ".join(sorted(k for k in actions if "_" not in k or k.replace("_", "-") not in actions))
        parser.error(f"argument --config: unknown key{'s' if len(unknown) > 1 else ''} "
                     f"{', '.join(map(repr, unknown))} in {path!r}; the keys are the long option names: {valid}")
    out = []
    for key, value in table.items():
        action = actions[key]
        flag = next(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                parser.error(f"argument --config: {key} in {path!r} must be true or false, got {value!r}")
            if value == isinstance(action, argparse._StoreTrueAction):
                out.append(flag)
            continue
        if isinstance(value, (bool, dict)):
            parser.error(f"argument --config: {key} in {path!r} must be a {action.metavar or 'value'} "
                         f"as on the command line, got {value!r}")
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        out.append(f"{flag}={text}")
    return out


def _number(kind, constraint):
    """An argparse type: ``kind(text)`` through a validation constraint; the message says what was expected."""

    def parse(text):
        try:
            return constraint(kind(text), "value")
        except (TypeError, ValueError):  # int("2.5"), float("x"), or the constraint's refusal
            raise argparse.ArgumentTypeError(f"expected {constraint.describe()}, got {text!r}") from None

    parse.__name__ = constraint.describe()  # argparse names the type in some messages
    return parse


def _device(text: str) -> str:
    """``--device``: a device this machine can give, checked before any data is read.

    An unknown spelling, or ``cuda`` without CuPy or without a GPU, is one line saying what is
    missing (``pip install "feedforward[gpu]"``), exit status 2.
    """
    from .. import backend

    try:
        backend.get_backend(backend.device(text))
    except (TypeError, ValueError, backend.DeviceUnavailable) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


_DEVICE_HELP = "where the network computes: cpu, cuda or cuda:N (a GPU: pip install \"feedforward[gpu]\")"


def _layers(text: str) -> list:
    # An empty string is a mistake far more often (an unset shell variable) than a wish for no
    # hidden layer, which is said explicitly: "none".
    if text.strip().lower() == "none":
        return []
    try:
        return check_sizes([int(s) for s in text.replace(" ", "").split(",")], "--layers", min_len=1)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like 128,64 (or none for no hidden layer), "
            f"got {text!r}") from None


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
    )
    p.add_argument("--config", metavar="FILE.toml",
                   help="read options from a TOML file whose keys are the long option names (lr = 0.01, "
                        "layers = [256, 128], early-stopping = true); options on the command line win")
    p.add_argument("--data", default="digits", help=_DATA_HELP.format(names=names))
    p.add_argument("--target", default=None,
                   help="CSV only: the target column's name or index (default: a column called target, "
                        "label, class or y, else the last column)")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="CSV only: auto takes text targets and whole numbers with at most 20 distinct "
                        "values as classes, anything else as regression")
    p.add_argument("--layers", type=_layers, default=[128, 64], metavar="W1,W2,...",
                   help="hidden layer widths; none for no hidden layer")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="hidden unit")
    p.add_argument("--mode", choices=("minibatch", "stochastic", "batch"), default="minibatch",
                   help="one example (stochastic), a minibatch, or the whole training set per update")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="adam, as ff.fit and the estimators; sgd is the lecture's (with --momentum)")
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
    p.add_argument("--grad-tol", type=_POSITIVE, default=None, metavar="THETA",
                   help="the lecture's stopping test: stop when ||grad J(w)|| over the whole training part "
                        "falls below THETA (computes it after every epoch, which costs a pass over the data; "
                        "by default there is no such test and no such pass)")
    p.add_argument("--test-size", type=_FRACTION, default=0.2,
                   help="fraction of the data held out for testing")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the split, initialisation and shuffling")
    p.add_argument("--out", default="out", help="output directory")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (on a terminal a progress bar, otherwise one line every few epochs)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures (no matplotlib needed)")
    p.add_argument("--device", type=_device, default="cpu", help=_DEVICE_HELP + "; the data moves there once")
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
    p.add_argument("--device", type=_device, default="cpu", help=_DEVICE_HELP)
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
    p.add_argument("input", help="CSV file of feature rows; - reads them from stdin")
    p.add_argument("--proba", action="store_true", help="also write the class probabilities (classification)")
    p.add_argument("--output", "-o", default=None,
                   help="write to this file instead of stdout (- is stdout)")
    p.add_argument("--device", type=_device, default="cpu", help=_DEVICE_HELP)
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
