"""The command line's options (issue 14, CLI conveniences): ``--config FILE.toml``, help with the
real defaults, ``--layers ""`` refused, ``--grad-tol``, ``-`` for stdin/stdout. Parser only: the
commands are tested in tests/test_cli.py."""

from __future__ import annotations

import pytest

from feedforward.cli.parser import EXIT_USER_ERROR, build_parser


def _parse(*argv):
    return build_parser().parse_args(list(argv))


def _refused(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        _parse(*argv)
    assert exc.value.code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err  # one line, no usage block
    return err


def _toml(tmp_path, text):
    path = tmp_path / "train.toml"
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ --config
def test_config_file_sets_options_and_the_command_line_wins(tmp_path):
    """Issue 14: keys are the long option names (dashes or underscores), values as TOML types."""
    path = _toml(tmp_path, 'lr = 0.01\nlayers = [16, 8]\nearly-stopping = true\nbatch_size = 64\n'
                           'optimizer = "sgd"\nactivation = "tanh"\ngrad-tol = 1e-4\n')
    args = _parse("train", "--config", path)
    assert (args.lr, args.layers, args.early_stopping, args.batch_size) == (0.01, [16, 8], True, 64)
    assert (args.optimizer, args.activation, args.grad_tol) == ("sgd", "tanh", 1e-4)
    # Flags on the command line win, before or after --config.
    args = _parse("train", "--lr", "0.5", f"--config={path}", "--layers", "4")
    assert (args.lr, args.layers, args.batch_size) == (0.5, [4], 64)
    # Left out of the file: the parser's defaults.
    assert _parse("train", "--config", _toml(tmp_path, "epochs = 3\n")).lr is None


def test_config_unknown_keys_are_named(tmp_path, capsys):
    path = _toml(tmp_path, "lr = 0.01\nlearning_rate = 1\nhidden = [3]\n")
    err = _refused(capsys, "train", "--config", path)
    assert "unknown keys 'learning_rate', 'hidden'" in err and "the keys are the long option names" in err
    assert "batch-size" in err and "config" not in err.split("names:")[1]


@pytest.mark.parametrize("text, fragment", [
    ("lr = -1\n", "argument --lr: expected a finite number > 0, got '-1'"),      # the same checks
    ("layers = [16, 0]\n", "argument --layers: expected comma-separated positive integers"),
    ("early-stopping = 1\n", "early-stopping in"),                               # a flag takes true/false
    ("lr = [1\n", "is not valid TOML"),
    ("mode = { a = 1 }\n", "must be a"),
])
def test_config_values_are_checked_like_flags(tmp_path, capsys, text, fragment):
    assert fragment in _refused(capsys, "train", "--config", _toml(tmp_path, text))


def test_config_file_that_cannot_be_read(tmp_path, capsys):
    assert "cannot read" in _refused(capsys, "train", "--config", str(tmp_path / "nope.toml"))


# ------------------------------------------------------------------ --help
def test_help_prints_the_real_defaults(capsys):
    """Issue 14: no "(default: None)", no "(default: [128, 64])"."""
    with pytest.raises(SystemExit):
        _parse("train", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and "[128, 64]" not in text and "(default: False)" not in text
    assert "(default: 128,64)" in text and "(default: adam)" in text and "(default: 40)" in text
    assert "default 0.001 for adam" in text and "--config FILE.toml" in text and "--grad-tol THETA" in text
    for command in ("evaluate", "predict"):
        with pytest.raises(SystemExit):
            _parse(command, "--help")
        assert "(default: None)" not in capsys.readouterr().out


# ------------------------------------------------------------------ --layers
def test_empty_layers_is_an_error_and_none_means_no_hidden_layer(capsys):
    """Issue 14: --layers "" printed "relu" (an unset shell variable trained a linear model)."""
    err = _refused(capsys, "train", "--layers", "")
    assert "argument --layers" in err and "got ''" in err and "none for no hidden layer" in err
    assert "got ' , '" in _refused(capsys, "train", "--layers", " , ")
    assert _parse("train", "--layers", "none").layers == []
    assert _parse("train", "--layers", "32, 16").layers == [32, 16]


# --------------------------------------------------- --grad-tol, stdin/stdout
def test_grad_tol_is_a_positive_number(capsys):
    assert _parse("train").grad_tol is None
    assert _parse("train", "--grad-tol", "1e-3").grad_tol == 1e-3
    assert "argument --grad-tol" in _refused(capsys, "train", "--grad-tol", "0")


def test_dash_is_stdin_and_stdout_for_predict():
    args = _parse("predict", "model.safetensors", "-", "--output", "-")
    assert args.input == "-" and args.output == "-"
