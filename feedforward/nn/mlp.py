"""``MLP``: the lecture's deep feedforward network as a builder (L-ARCH-1, L-ARCH-2).

``h(k) = g(k)(W(k)^T h(k-1) + b(k))`` for each hidden layer; the last layer
is affine and returns the pre-activation ``z``, which the output unit turns
into a distribution (L-OUT-4).
"""

from __future__ import annotations

import copy

import numpy as np

from .._rng import as_rng
from .._validation import check_dtype, check_real, check_sizes
from .activation import ReLU, get_activation, unit_kind
from .init import check_init
from .linear import Linear
from .module import Sequential, eval_mode
from .output import get_output

__all__ = ["MLP"]


class MLP(Sequential):
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``[2, 2, 1]`` is the lecture's XOR network
        (depth 2: one hidden layer of width 2, one output).
    activation : str, Module class/instance, or list of them
        Hidden unit, one for all hidden layers or one per hidden layer
        (names: ``relu``, ``abs``, ``leaky_relu``, ``prelu``, ``rrelu``, ``elu``,
        ``sigmoid``, ``tanh``, ``identity``).
    output : str or OutputUnit, optional
        ``"gaussian"``, ``"bernoulli"`` or ``"categorical"``; stored as
        ``self.output`` and used by :meth:`predict`, :meth:`predict_proba` and
        the training loop to choose the loss.
    init : str, optional
        Weight init; default ``"he_uniform"`` for the layers feeding a unit of
        kind ``"rectifier"`` (``Unit.kind``) and ``"glorot_uniform"`` for the others.
    bias_init : float, optional
        Hidden biases' constant; default 0.1 for ReLU layers (units start
        active, L-ACT-6) and 0 otherwise. The output bias starts at 0.
    rng : int, Generator or None
        Randomness for initialisation (and RReLU slopes).
    dtype : float32 or float64
        The parameters' dtype.
    device : str or Device, optional
        Where the parameters live (``"cpu"``, ``"cuda"``, ``"cuda:1"``). They are drawn on the
        host by ``rng`` and then moved, so one seed gives the same weights on every device.

    Sizes that are not integers >= 1 (``2.5``, ``True``, NaN, a string), a
    non-finite ``bias_init`` or a dtype other than float32/float64 are refused:
    TypeError for the wrong type, ValueError for a bad value.

    Examples
    --------
    >>> import feedforward as ff
    >>> net = ff.nn.MLP([2, 2, 1], activation="relu", rng=0)
    >>> net.num_parameters()
    9
    """

    def __init__(self, sizes, activation="relu", output=None, *, init=None, bias_init=None,
                 rng=None, dtype=np.float32, device=None):
        sizes = check_sizes(sizes, "MLP: sizes")
        bias_init = check_real(bias_init, "MLP: bias_init", none=True)
        dtype = check_dtype(dtype, "MLP: dtype")
        init = None if init is None else check_init(init, "MLP: init")
        n_hidden = len(sizes) - 2
        acts = list(activation) if isinstance(activation, (list, tuple)) else [activation] * n_hidden
        if len(acts) != n_hidden:
            raise ValueError(f"MLP: got {len(acts)} activations for {n_hidden} hidden layers (sizes={sizes})")
        rng = as_rng(rng)
        layers = []
        for k in range(n_hidden):
            act = get_activation(acts[k], units=None, rng=rng, dtype=dtype)
            if any(act is m for m in layers):
                # One module instance given for all layers: each layer gets its own
                # copy, so a PReLU's slope is not shared across layers by accident.
                act = copy.deepcopy(act)
            w_init = init if init is not None else (
                "he_uniform" if unit_kind(act) == "rectifier" else "glorot_uniform"
            )
            b_init = bias_init if bias_init is not None else (0.1 if isinstance(act, ReLU) else 0.0)
            layers.append(Linear(sizes[k], sizes[k + 1], init=w_init, bias_init=b_init, rng=rng, dtype=dtype))
            layers.append(act)
        out_init = "glorot_uniform" if init is None else init
        layers.append(Linear(sizes[-2], sizes[-1], init=out_init, bias_init=0.0, rng=rng, dtype=dtype))
        super().__init__(layers)
        self.sizes = sizes
        self.output = get_output(output)
        if device is not None:
            self.to(device)

    @property
    def linears(self) -> list:
        """The affine layers, first to last (``W(1) ... W(L)``)."""
        return [m for m in self.layers if isinstance(m, Linear)]

    @property
    def depth(self) -> int:
        """Number of affine layers (L-ARCH-2)."""
        return len(self.sizes) - 1

    def _require_output(self, what):
        if self.output is None:
            raise ValueError(
                f"MLP.{what}() needs an output unit: build it with output='categorical' (or other)"
            )
        return self.output

    def predict(self, X):
        """Labels (classification) or values (regression) from the output unit, on ``X``'s device
        (a NumPy array for host data)."""
        from ..autograd import no_grad

        unit = self._require_output("predict")
        with no_grad(), eval_mode(self):
            return unit.predict(self(X))

    def predict_proba(self, X):
        """The output unit's mean: class probabilities for Bernoulli / Categorical, on ``X``'s device."""
        from ..autograd import no_grad

        unit = self._require_output("predict_proba")
        with no_grad(), eval_mode(self):
            return unit.mean(self(X).data)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}" + (f", output={self.output.name}" if self.output is not None else "")
