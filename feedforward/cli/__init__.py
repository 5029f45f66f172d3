"""The ``feedforward`` command line: train, evaluate, predict, summary, lecture.

``feedforward train`` with no option trains an MLP on scikit-learn's bundled
digits, shows a progress bar, prints the test accuracy and writes into
``out/``: the model file (``model.safetensors``, with the record of what it
was trained on), the loss curve and the confusion matrix. Then::

    feedforward evaluate out/model.safetensors --data digits
    feedforward predict out/model.safetensors new.csv > predictions.csv
    feedforward summary out/model.safetensors

Every error a user can cause (a missing file, a path that is not a regular
file, a non-numeric column, an unknown target, an incompatible or invalid
model file, an input row beyond float32, a bad option, an output folder that
cannot be written) is one line on stderr and exit status 2, never a
traceback; ``--debug`` shows the traceback. An internal error is exit
status 1. The command reads only files the user named.

``train``, ``evaluate`` and ``predict`` take ``--device cuda`` (or ``cuda:N``): the
network computes there (``pip install "feedforward[gpu]"``; without CuPy or a GPU, one
line saying what is missing, exit status 2). Model files hold host arrays, so a file
trained on a GPU is evaluated on a CPU and back.

- :mod:`.parser`: the options, numbers checked by the validation layer.
- :mod:`.record`: the training record in a model file, checked when read;
  predictions through the model's output unit.
- :mod:`.commands`: one function per command.
"""

from __future__ import annotations

import os
import sys

from ..backend import DeviceUnavailable
from .parser import EXIT_USER_ERROR, build_parser
from .record import FORMAT, CLIError

__all__ = ["main", "build_parser", "CLIError", "FORMAT"]

# ValueError / TypeError: what the data loaders and ff.load raise for bad input; a KeyError or
# IndexError is a bug of ours (exit 1), not something to print as if it were the user's.
# DeviceUnavailable: --device names a GPU this machine cannot give (what to install).
_USER_ERRORS = (CLIError, ValueError, TypeError, FileNotFoundError, PermissionError, IsADirectoryError,
                NotADirectoryError, ImportError, DeviceUnavailable)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 success, 2 user error, 1 internal error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("lecture")] if "lecture" in argv else "--debug" in argv
    try:
        # `lecture` hands everything after it to the report's own parser.
        rest = [a for a in argv if a != "--debug"]
        if rest and rest[0] == "lecture":
            from .commands import lecture

            return lecture(rest[1:])
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
        message = " ".join(str(exc).split())  # exactly one line
        _say(f"feedforward: error: {message or type(exc).__name__}")
        return EXIT_USER_ERROR
    except OSError as exc:
        if debug:
            raise
        _say(f"feedforward: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_USER_ERROR
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        if debug:
            raise
        first = " ".join(str(exc).split())
        _say(f"feedforward: internal error: {type(exc).__name__}: {first} (run with --debug for the traceback)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
