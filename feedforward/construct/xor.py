"""The lecture's XOR example (L-XOR-1..4, L-ARCH-3).

* :func:`xor_data` and :func:`xor_loss`: the four points and
  ``J(theta) = 1/4 sum_x (f*(x) - f(x; theta))^2``.
* :func:`best_linear_model`: the normal equations give ``w = 0, b = 1/2``: a
  linear model outputs 0.5 everywhere and cannot represent XOR.
* :func:`xor_network`: the hand solution ``f(x) = w^T max{0, W^T x + c} + b``
  with ``W = [[1, 1], [1, 1]], c = [0, -1], w = [1, -2], b = 0``;
  :func:`xor_layers` recomputes every matrix of the slides with the engine.
* :func:`train_xor_ensemble`: learning XOR from random initialisation, many
  seeds at once (for success rates).
* The lecture's three ways of choosing ``phi`` (L-ARCH-3): :func:`rbf_features`
  (generic), :func:`hand_features` (``x1 x2``, hand-designed) with
  :func:`fit_linear`; the learned ``phi`` is a trained MLP's hidden layer.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import check_choice, check_dtype, check_int, check_real
from ..autograd import no_grad
from ..nn.activation import ACTIVATIONS
from ..nn.mlp import MLP
from ..tensor import Tensor, matmul, stack

__all__ = [
    "XOR_X", "XOR_Y", "HAND_W", "HAND_C", "HAND_w", "HAND_b", "xor_data", "xor_loss", "best_linear_model",
    "linear_network", "xor_network", "xor_layers", "train_xor_ensemble", "rbf_features", "hand_features",
    "fit_linear",
]

# The data (X stacked as rows, as on the slides) and the targets f*(x).
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float64)

# The lecture's hand solution.
HAND_W = np.array([[1.0, 1.0], [1.0, 1.0]])
HAND_C = np.array([0.0, -1.0])
HAND_w = np.array([1.0, -2.0])
HAND_b = 0.0


def xor_data(dtype=np.float32):
    """``(X, y)``: ``X`` of shape ``(4, 2)``, targets ``y`` of shape ``(4, 1)``."""
    dtype = check_dtype(dtype)
    return XOR_X.astype(dtype), XOR_Y.reshape(4, 1).astype(dtype)


def xor_loss(output, target=None):
    """``J = 1/4 sum (f*(x) - f(x))^2`` over the four points (L-XOR-1).

    ``output`` is a Tensor (the result is a differentiable Tensor) or an array
    (the result is a float), of shape ``(4,)`` or ``(4, 1)``.
    """
    y = XOR_Y if target is None else np.asarray(target, dtype=np.float64).reshape(-1)
    if isinstance(output, Tensor):
        if output.size != y.size:
            raise ValueError(f"xor_loss: expected {y.size} outputs, got shape {output.shape}")
        diff = output.reshape(-1) - y.astype(output.dtype)
        return (diff * diff).sum() * (1.0 / y.size)
    f = np.asarray(output, dtype=np.float64).reshape(-1)
    if f.size != y.size:
        raise ValueError(f"xor_loss: expected {y.size} outputs, got shape {np.shape(output)}")
    return float(np.mean((y - f) ** 2))


def best_linear_model(X=None, y=None):
    """Least squares ``f(x) = x^T w + b`` by the normal equations ``(A^T A) theta = A^T y`` (L-XOR-2).

    ``A = [X, 1]``. On XOR the solution is ``w = [0, 0], b = 1/2``.

    Returns
    -------
    w : array, shape (d,)
    b : float
    """
    X = XOR_X if X is None else np.asarray(X, dtype=np.float64)
    y = XOR_Y if y is None else np.asarray(y, dtype=np.float64).reshape(-1)
    A = np.c_[X, np.ones(len(X))]
    theta = np.linalg.solve(A.T @ A, A.T @ y)
    return theta[:-1], float(theta[-1])


def linear_network(w, b, dtype=np.float32):
    """The linear model as an ``ff.nn`` network: ``MLP([d, 1])``, a single ``Linear``."""
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    net = MLP([len(w), 1], init="zeros", dtype=dtype)
    net.linears[0].weight.data = w[:, None].astype(dtype)
    net.linears[0].bias.data = np.array([b], dtype=dtype)
    return net


def xor_network(dtype=np.float32):
    """The lecture's hand solution as ``MLP([2, 2, 1], activation="relu")`` (L-XOR-3).

    ``Linear(W, c) -> ReLU -> Linear(w, b)``: outputs exactly ``[0, 1, 1, 0]`` on
    :data:`XOR_X`. The ``Linear`` layer stores ``W`` as ``(in, out)`` and computes
    ``XW + c``, the slides' batch form of ``W^T x + c``.
    """
    net = MLP([2, 2, 1], activation="relu", init="zeros", bias_init=0.0, dtype=dtype)
    hidden, out = net.linears
    hidden.weight.data = HAND_W.astype(dtype)
    hidden.bias.data = HAND_C.astype(dtype)
    out.weight.data = HAND_w[:, None].astype(dtype)
    out.bias.data = np.array([HAND_b], dtype=dtype)
    return net


def xor_layers(net=None, X=None) -> dict:
    """Every intermediate matrix of the slides, computed with the engine's ops (L-XOR-3).

    Returns a dict with ``"XW"`` (4, 2), ``"XW + c"`` (4, 2; adding the row ``c`` to
    every row is broadcasting, the slides' 'dimension mismatch'), ``"max(0, XW + c)"``
    (4, 2) and ``"output"`` (4,), as float64 arrays.
    """
    net = xor_network(np.float64) if net is None else net
    hidden, out = net.linears
    X = Tensor(XOR_X if X is None else np.asarray(X, dtype=np.float64), dtype=hidden.weight.dtype)
    with no_grad():
        xw = matmul(X, hidden.weight)
        xwc = xw + hidden.bias
        h = F.relu(xwc)
        y = matmul(h, out.weight) + out.bias
    return {
        "XW": xw.data.astype(np.float64),
        "XW + c": xwc.data.astype(np.float64),
        "max(0, XW + c)": h.data.astype(np.float64),
        "output": y.data.reshape(-1).astype(np.float64),
    }


def train_xor_ensemble(width: int, seeds, *, activation: str = "relu", bias_init: float | None = None,
                       lr: float = 0.1, epochs: int = 1000, dtype=np.float32) -> dict:
    """Learn XOR by full-batch gradient descent on ``J``, one network per seed, all at once (L-XOR-4).

    Network ``s`` starts as ``ff.nn.MLP([2, width, 1], activation, bias_init=bias_init,
    rng=s)`` (the library's initialisation), with its own hidden unit. The affine parameters
    of all networks are stacked on a leading axis and trained together: the total loss is
    ``sum_s J_s`` and network ``s``'s parameters only affect ``J_s``, so each network gets
    exactly its own gradient (the same steps as training it alone), at the cost of one small
    graph. A unit with parameters, state or a train/eval difference (PReLU's slope, RReLU's
    generator) is applied per network, so that too is each network's own.

    Parameters
    ----------
    width : int
        Hidden units, >= 1.
    seeds : sequence of int
        One network per seed (integers >= 0), at least one.
    activation : str
        A registered hidden unit's name (``"relu"``, ``"prelu"``, ...).
    bias_init : float, optional
        As in :class:`~feedforward.nn.MLP` (default 0.1 for ReLU, else 0).
    lr : float
        The step size ``eta > 0``.
    epochs : int
        Gradient steps, >= 0.
    dtype : float32 or float64

    Returns
    -------
    dict
        ``"outputs"`` (S, 4) final ``f(x)`` (in evaluation mode), ``"loss"`` (S,) final
        ``J``, ``"success"`` (S,) bool: every output on the right side of 1/2, ``"params"``:
        every parameter in ``MLP.parameters()`` order stacked over the seeds, ``[W1 (S, 2, w),
        b1 (S, w), W2 (S, w, 1), b2 (S, 1)]`` (a PReLU's slopes ``(S, 1)`` come after ``b1``).
    """
    width = check_int(width, "width", low=1)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of integers >= 0, got {seeds!r}")
    seeds = [check_int(s, f"seeds[{i}]", low=0) for i, s in enumerate(seeds)]
    if not seeds:
        raise ValueError("train_xor_ensemble needs at least one seed, got none")
    activation = check_choice(activation, "activation", tuple(ACTIVATIONS))
    lr = check_real(lr, "lr", 0, low_open=True)
    epochs = check_int(epochs, "epochs", low=0)
    nets = [MLP([2, width, 1], activation=activation, bias_init=bias_init, rng=s, dtype=dtype) for s in seeds]

    def stacked(get):
        return Tensor(np.stack([get(net).data for net in nets]), requires_grad=True)

    # The affine parameters, found by name (a unit may have parameters of its own).
    W1 = stacked(lambda net: net.linears[0].weight)  # (S, 2, width)
    b1 = stacked(lambda net: net.linears[0].bias)  # (S, width)
    W2 = stacked(lambda net: net.linears[1].weight)  # (S, width, 1)
    b2 = stacked(lambda net: net.linears[1].bias)  # (S, 1)
    units = [net.layers[1] for net in nets]  # each network's own, fresh unit
    # A unit without parameters, state or train/eval difference is a pure function of z: one
    # call on the stacked batch computes exactly what each network's own unit would.
    pure = not units[0].parameters() and not units[0].mode_dependent and units[0].state() is None
    trained = [W1, b1, W2, b2] + [p for unit in units for p in unit.parameters()]
    X = Tensor(XOR_X.astype(nets[0].linears[0].weight.dtype))
    y = XOR_Y.reshape(1, 4, 1).astype(X.dtype)

    def forward():
        z = matmul(X, W1) + b1[:, None, :]  # (S, 4, width)
        h = units[0](z) if pure else stack([unit(z[i]) for i, unit in enumerate(units)])
        return matmul(h, W2) + b2[:, None, :]  # (S, 4, 1)

    for _ in range(epochs):
        diff = forward() - y
        loss = (diff * diff).sum() * 0.25  # sum over seeds of J_s
        for p in trained:
            p.grad = None
        loss.backward()
        for p in trained:
            p.data -= lr * p.grad
    for unit in units:
        unit.eval()  # RReLU: its mean slope, as a trained network is used
    with no_grad():
        out = forward().data[:, :, 0].astype(np.float64)
    for i, net in enumerate(nets):  # the trained values back into each network, to read them by name
        for layer, W, b in ((net.linears[0], W1, b1), (net.linears[1], W2, b2)):
            layer.weight.data = W.data[i].copy()
            layer.bias.data = b.data[i].copy()
    J = np.mean((out - XOR_Y) ** 2, axis=1)
    return {
        "outputs": out,
        "loss": J,
        "success": np.all(np.abs(out - XOR_Y) < 0.5, axis=1),
        "params": [
            np.stack([dict(net.named_parameters())[name].data for net in nets])
            for name, _ in nets[0].named_parameters()
        ],
    }


# ------------------------------------------------------ choosing phi (L-ARCH-3)
def rbf_features(X, centers=None, gamma: float = 10.0) -> np.ndarray:
    """A generic ``phi``: Gaussian bumps ``exp(-gamma ||x - c||^2)`` on fixed centres.

    Default centres: a 3 x 3 grid over ``[0, 1]^2``, chosen without looking at the task.
    Returns shape ``(n, n_centres)``.
    """
    if centers is None:
        g = np.linspace(0.0, 1.0, 3)
        centers = np.array([(a, b) for b in g for a in g])
    X = np.asarray(X, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    d2 = ((X[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-gamma * d2)


def hand_features(X) -> np.ndarray:
    """A hand-designed ``phi(x) = [x1, x2, x1 x2]``: XOR is then linear, ``x1 + x2 - 2 x1 x2``."""
    X = np.asarray(X, dtype=np.float64)
    return np.c_[X, X[:, 0] * X[:, 1]]


def fit_linear(Phi, y):
    """Least squares ``y ~ Phi w + b`` (minimum-norm solution when underdetermined): ``(w, b)``."""
    Phi = np.asarray(Phi, dtype=np.float64)
    A = np.c_[Phi, np.ones(len(Phi))]
    theta = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64).reshape(-1), rcond=None)[0]
    return theta[:-1], float(theta[-1])
