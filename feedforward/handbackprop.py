"""The lecture's worked backpropagation example, by hand in plain NumPy (L-BP-1).

The network of the slides: ``d`` inputs, ``m`` tanh hidden units, ``K`` linear outputs,

    a_j = sum_i w_ij x_i + b_j          (the slides fold b_j in as w_0j x_0 with x_0 = 1)
    z_j = tanh(a_j),                    h'(a) = 1 - tanh(a)^2 = 1 - z_j^2
    y_hat_k = sum_j w_jk z_j + b_k
    L = 1/2 sum_k (y_k - y_hat_k)^2     (per example)

Backward, for one example:

    delta_k = dL/dy_hat_k = y_hat_k - y_k
    delta_j = dL/da_j = (1 - z_j^2) sum_k w_jk delta_k     (K = 1: (1 - z_j^2) w_j delta)
    dL/dw_ij = delta_j x_i,   dL/db_j = delta_j
    dL/dw_jk = delta_k z_j,   dL/db_k = delta_k

and the gradient-descent step ``w <- w - eta dL/dw``.

Errata of the slides, corrected here (SPEC "Errata"): ``eta`` is the
**learning rate** (the slides call it "weight decay", which is the L2 penalty);
and ``dL/dw_j = delta z_j`` with ``delta = y_hat - y`` (the slides write
``(y - y_hat) z_j``, the opposite sign). Duda et al.'s Algorithms 1 and 2 write
``w <- w + eta delta x`` because they define ``delta = y - y_hat``: the same step.

Shapes: ``X`` ``(n, d)``, ``Y`` ``(n, K)``, ``W1`` ``(d, m)``, ``b1`` ``(m,)``,
``W2`` ``(m, K)``, ``b2`` ``(K,)`` — the layout of :class:`feedforward.nn.Linear`
(``W1[i, j] = w_ij``), so the parameters of ``ff.nn.MLP([d, m, K], "tanh")``
can be used directly (:func:`params_from_mlp`).
"""

from __future__ import annotations

import numpy as np

from ._rng import as_rng
from ._validation import check_choice, check_int, check_real

__all__ = ["forward", "backward", "loss", "sgd_step", "init_params", "params_from_mlp"]


def _check(params):
    W1, b1, W2, b2 = (np.asarray(p, dtype=np.float64) for p in params)
    if W1.ndim != 2 or W2.ndim != 2 or b1.shape != (W1.shape[1],) or b2.shape != (W2.shape[1],) \
            or W2.shape[0] != W1.shape[1]:
        raise ValueError(
            "params must be (W1 (d, m), b1 (m,), W2 (m, K), b2 (K,)); got shapes "
            f"{W1.shape}, {b1.shape}, {W2.shape}, {b2.shape}"
        )
    return W1, b1, W2, b2


def _xy(X, Y, d, K):
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    if X.shape[1] != d or Y.shape[1] != K:
        raise ValueError(f"X must be (n, {d}) and Y (n, {K}) for these weights, got {X.shape} and {Y.shape}")
    return X, Y


def init_params(d: int, m: int, K: int = 1, rng=None, scale: float = 1.0):
    """Random ``(W1, b1, W2, b2)`` (standard normal times ``scale``), float64."""
    d, m, K = check_int(d, "d", low=1), check_int(m, "m", low=1), check_int(K, "K", low=1)
    scale = check_real(scale, "scale", 0)
    rng = as_rng(rng)
    return (rng.standard_normal((d, m)) * scale, rng.standard_normal(m) * scale,
            rng.standard_normal((m, K)) * scale, rng.standard_normal(K) * scale)


def params_from_mlp(net):
    """``(W1, b1, W2, b2)`` as float64 copies from a one-hidden-layer ``ff.nn.MLP``."""
    from .nn.linear import Linear

    linears = [m for m in net.modules() if isinstance(m, Linear)]
    if len(linears) != 2:
        raise ValueError(f"expected a network with exactly two Linear layers, got {len(linears)}")
    (l1, l2) = linears
    return tuple(np.array(p.data, dtype=np.float64) for p in (l1.weight, l1.bias, l2.weight, l2.bias))


def forward(X, params) -> dict:
    """The forward pass: ``{"a": (n, m), "z": (n, m), "y_hat": (n, K)}``."""
    W1, b1, W2, b2 = _check(params)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    a = X @ W1 + b1
    z = np.tanh(a)
    return {"a": a, "z": z, "y_hat": z @ W2 + b2}


def loss(X, Y, params, reduction: str = "sum") -> float:
    """``sum_n 1/2 ||y - y_hat||^2`` (``reduction="sum"``, the slides' ``J = sum_p J_p``) or its mean."""
    reduction = check_choice(reduction, "reduction", ("sum", "mean"))
    W1, b1, W2, b2 = _check(params)
    X, Y = _xy(X, Y, W1.shape[0], W2.shape[1])
    per_example = 0.5 * np.sum((Y - forward(X, params)["y_hat"]) ** 2, axis=1)
    return float(per_example.sum() if reduction == "sum" else per_example.mean())


def backward(X, Y, params, reduction: str = "sum") -> dict:
    """The slides' backward pass, summed (or averaged) over the examples.

    Returns
    -------
    dict
        ``"delta"`` (n, K): ``y_hat - y``; ``"delta_hidden"`` (n, m):
        ``(1 - z^2) * (delta @ W2.T)``; the gradients ``"W1"`` (d, m) ``= sum_n x_i delta_j``,
        ``"b1"`` (m,), ``"W2"`` (m, K) ``= sum_n z_j delta_k``, ``"b2"`` (K,); and the
        forward values ``"a"``, ``"z"``, ``"y_hat"``.
    """
    reduction = check_choice(reduction, "reduction", ("sum", "mean"))
    W1, b1, W2, b2 = _check(params)
    X, Y = _xy(X, Y, W1.shape[0], W2.shape[1])
    fw = forward(X, (W1, b1, W2, b2))
    z = fw["z"]
    delta = fw["y_hat"] - Y  # output units: dL/da = dL/dy_hat (linear output)
    delta_hidden = (1.0 - z**2) * (delta @ W2.T)  # delta_j = (1 - z_j^2) sum_k w_jk delta_k
    scale = 1.0 if reduction == "sum" else 1.0 / len(X)
    grads = {
        "W1": scale * (X.T @ delta_hidden),  # dL/dw_ij = delta_j x_i, summed over examples
        "b1": scale * delta_hidden.sum(axis=0),
        "W2": scale * (z.T @ delta),  # dL/dw_jk = delta_k z_j (the slides' sign corrected)
        "b2": scale * delta.sum(axis=0),
    }
    return {"delta": delta, "delta_hidden": delta_hidden, **grads, **fw}


def sgd_step(params, grads, lr: float):
    """``w <- w - eta dL/dw`` with ``eta = lr``, the learning rate (not 'weight decay')."""
    lr = check_real(lr, "lr (the learning rate eta)", 0, low_open=True)
    W1, b1, W2, b2 = _check(params)
    return (W1 - lr * grads["W1"], b1 - lr * grads["b1"], W2 - lr * grads["W2"], b2 - lr * grads["b2"])
