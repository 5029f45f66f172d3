"""Node perturbation: the lecture's third idea, perturbing only the activations (L-BP-2).

"只扰动激活值 (因为他们数量较少), 但同样低效": perturb each unit's net input ``a_j`` (there are
fewer units than weights), read the change of every example's loss, and get
``delta_jp = dL_p / da_jp`` for all examples ``p`` at once (example ``p``'s loss depends on its
own activations only). A weight's derivative is then local: ``dJ/dw_ij = mean_p delta_jp z_ip``
with ``z_ip`` the unit's input, known from the unperturbed pass. One forward pass per unit plus
the unperturbed one: ``1 + #units`` passes per update, against ``1 + #weights`` for finite
differences on the weights. Written here in NumPy for a tanh MLP (``ff.nn.MLP`` with
``activation="tanh"`` and a linear output) because the perturbation enters between the affine
map and the unit, where the library's modules offer no hook.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["layers_of", "node_gradient", "train_node_perturbation"]


def layers_of(model) -> list:
    """``[(W, b), ...]`` float64 copies of the model's affine layers (``W``: (in, out))."""
    return [(lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)) for lin in model.linears]


def _forward(layers, X, layer=None, unit=None, eps=0.0):
    """Per-layer inputs and the output; ``eps`` added to unit ``unit``'s net input in ``layer``."""
    inputs, a = [], X
    for k, (W, b) in enumerate(layers):
        inputs.append(a)
        z = a @ W + b
        if k == layer:
            z[:, unit] += eps
        a = np.tanh(z) if k < len(layers) - 1 else z
    return inputs, a


def node_gradient(layers, X, Y, eps: float = 1e-6):
    """``(J, grads, passes)``: ``grads`` as ``[(dW, db), ...]`` from node perturbation."""
    inputs, out = _forward(layers, X)
    base = 0.5 * np.sum((out - Y) ** 2, axis=1)  # L_p, one per example
    passes, grads = 1, []
    for k, (W, _) in enumerate(layers):
        delta = np.empty((len(X), W.shape[1]))
        for j in range(W.shape[1]):
            _, pert = _forward(layers, X, k, j, eps)
            delta[:, j] = (0.5 * np.sum((pert - Y) ** 2, axis=1) - base) / eps
            passes += 1
        grads.append((inputs[k].T @ delta / len(X), delta.mean(axis=0)))
    return float(base.mean()), grads, passes


def train_node_perturbation(model, X, Y, *, lr: float, n_updates: int, eps: float = 1e-6,
                            seconds: float | None = None):
    """Gradient descent with node-perturbation gradients; writes the weights back into ``model``.

    Returns ``(losses, passes, times)``: J after each update (``losses[0]``: the start), the
    cumulative forward passes and the cumulative wall time of the updates (recording excluded).
    Stops after ``n_updates`` updates or, if given, once ``seconds`` of update time are spent.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    layers = layers_of(model)
    loss = lambda: float(0.5 * np.mean(np.sum((_forward(layers, X)[1] - Y) ** 2, axis=1)))
    losses, passes, times = [loss()], [0], [0.0]
    for _ in range(n_updates):
        start = time.perf_counter()
        _, grads, p = node_gradient(layers, X, Y, eps)
        layers = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(layers, grads)]
        times.append(times[-1] + time.perf_counter() - start)
        passes.append(passes[-1] + p)
        losses.append(loss())
        if seconds is not None and times[-1] >= seconds:
            break
    for lin, (W, b) in zip(model.linears, layers):
        lin.weight.data = W.astype(lin.weight.dtype)
        lin.bias.data = b.astype(lin.bias.dtype)
    return losses, passes, times
