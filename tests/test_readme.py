"""The README's Python examples run as written (with digits as X, y) and say what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_commands_on_its_first_screen():
    first_screen = "\n".join(README.read_text().splitlines()[:30])
    assert "make demo" in first_screen and "make test" in first_screen


@pytest.mark.slow
def test_readme_python_examples_run_in_order(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)
    digits = load_digits()
    ns = {"X": (digits.data / 16).astype(np.float32), "y": digits.target}
    blocks = _blocks()
    assert len(blocks) >= 5
    for code in blocks:
        exec(compile(code, str(README), "exec"), ns)  # noqa: S102 - our own README
    # What the examples claim:
    ff = ns["ff"]
    assert ns["W"].grad.shape == (3, 2)
    assert ns["proba"].shape == (len(ns["X"]), 10)
    np.testing.assert_allclose(ns["proba"].sum(axis=1), 1, rtol=1e-5)
    assert ns["history"].stop_reason in {"grad_norm", "early_stopping", "max_epochs"}
    assert (tmp_path / "loss.png").exists() and (tmp_path / "model.safetensors").exists()
    np.testing.assert_array_equal(ns["net2"].predict(ns["X"]), ns["net"].predict(ns["X"]))
    xor = ff.construct.xor_network()
    out = xor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)).data.ravel()
    np.testing.assert_array_equal(out, [0, 1, 1, 0])
