"""Shared test helpers: run one function through feedforward and through PyTorch.

tinygrad's habit: a single helper builds the same float64 inputs for both
libraries, runs the forward pass, back-propagates the same random cotangent
(a random vector, not ``sum()``, so that a wrong Jacobian cannot hide behind
a uniform upstream gradient, e.g. softmax's) and compares the value and the
gradient of every input that requires one (L-AD-2).
"""

from __future__ import annotations

import contextlib
import csv
import signal

import numpy as np
import pytest

import feedforward as ff

# float64 on both sides: differences come from the rules, not from rounding.
RTOL = 1e-7
ATOL = 1e-10


def torch_module():
    """PyTorch, or skip the calling test (torch is a test extra, not a dependency)."""
    return pytest.importorskip("torch")


def randn(rng, shape, domain: str = "real") -> np.ndarray:
    """float64 test data of ``shape``.

    ``domain``: ``"real"`` (standard normal), ``"positive"`` (in [0.5, 2], for
    log, sqrt and divisors), ``"away"`` (|x| in [0.3, 2], off the kinks).
    """
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "away":
        return rng.uniform(0.3, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    raise ValueError(f"unknown domain {domain!r}")


def compare(fn, inputs, torch_fn=None, *, const=(), grad=True, rtol=RTOL, atol=ATOL, seed=0,
            out_dtype=np.float64):
    """Run ``fn`` on feedforward tensors and ``torch_fn`` (default: ``fn``) on torch tensors.

    Parameters
    ----------
    fn : callable
        Takes one ff.Tensor per input and returns an ff.Tensor.
    inputs : sequence of numpy arrays
        Float arrays become tensors with ``requires_grad=True``; integer and
        bool arrays (labels, indices, masks) become constants.
    const : sequence of int
        Positions of float inputs that are constants too (e.g. a loss's target).
    torch_fn : callable, optional
        The same computation written for torch tensors, when the spelling differs.
    grad : bool
        Also back-propagate a random cotangent and compare every input's gradient.

    Returns
    -------
    (ff_out, ff_inputs) for further checks.
    """
    torch = torch_module()
    torch_fn = fn if torch_fn is None else torch_fn
    arrays = [np.asarray(a) for a in inputs]
    floats = [a.dtype.kind == "f" and i not in const for i, a in enumerate(arrays)]
    ff_in = [ff.Tensor(a.copy(), requires_grad=f and grad) for a, f in zip(arrays, floats)]
    th_in = [torch.tensor(a.copy(), requires_grad=f and grad) for a, f in zip(arrays, floats)]

    out = fn(*ff_in)
    expected = torch_fn(*th_in)
    assert isinstance(out, ff.Tensor), f"expected an ff.Tensor, got {type(out).__name__}"
    assert out.dtype == out_dtype, f"output dtype {out.dtype}, expected {np.dtype(out_dtype)}"
    assert out.shape == tuple(expected.shape), f"shape {out.shape}, torch {tuple(expected.shape)}"
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg="forward value")
    if not grad:
        return out, ff_in

    cotangent = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(cotangent.astype(out.dtype))
    expected.backward(torch.tensor(cotangent, dtype=expected.dtype))
    for i, (t, th) in enumerate(zip(ff_in, th_in)):
        if not t.requires_grad:
            continue
        want = np.zeros(t.shape) if th.grad is None else th.grad.numpy()
        assert t.grad is not None, f"input {i}: no gradient"
        assert t.grad.shape == t.shape, f"input {i}: grad shape {t.grad.shape}, expected {t.shape}"
        assert t.grad.dtype == t.dtype, f"input {i}: grad dtype {t.grad.dtype}, expected {t.dtype}"
        np.testing.assert_allclose(t.grad, want, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
    return out, ff_in


def blobs(n=90, classes=3, seed=0):
    """A small classification set: ``classes`` Gaussian blobs in 4-D, float32 ``X`` and int ``y``."""
    r = np.random.default_rng(seed)
    centers = r.standard_normal((classes, 4)) * 3
    y = np.arange(n) % classes
    X = centers[y] + r.standard_normal((n, 4))
    return X.astype(np.float32), y


@contextlib.contextmanager
def deadline(seconds: int = 10):
    """Fail with TimeoutError if the block is still running after ``seconds`` (a read that blocks)."""
    def expired(*_):
        raise TimeoutError(f"still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def write_csv(path, header, rows):
    """A CSV file with a header row; returns ``path``."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
