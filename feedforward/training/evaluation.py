"""The epoch-end evaluation: ``J(w)``, ``||grad J(w)||``, the metrics and the diagnostics of a data set.

Both of the lecture's algorithms test ``||grad J(w)|| < theta`` with ``J`` the objective over
the **whole** training set, so the loop evaluates it in chunks of ``eval_chunk_size`` rows at
the end of an epoch. An :class:`Evaluator` computes and *returns* an :class:`Evaluation`; it
keeps nothing for anyone to read later. With ``grad=True`` the full gradient is also left in
each parameter's ``.grad``, which batch mode uses as its next update's gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..backend import array_namespace, to_numpy
from ..tensor import Tensor
from .diagnostics import ActivationProbe, layer_grad_norms
from .metrics import metric_name, metric_values, needs_proba

__all__ = ["Evaluation", "Evaluator", "all_finite"]


def all_finite(a: np.ndarray) -> bool:
    """True if every value of the float array ``a`` is finite, in one BLAS call when it can.

    The squares are never negative, so a NaN or an inf anywhere makes ``a . a`` NaN or inf
    (no cancellation); a finite array whose squares overflow (``|x| > 1.8e19`` in float32) goes
    to the exact check. No ``np.errstate`` on this path: it costs more than the check on a small
    network, and the training loop runs with floating-point warnings off already. Float64: a
    sum in an ``errstate`` block, then the exact check if it overflowed.
    """
    if type(a) is not np.ndarray:
        xp = array_namespace(a)
        if xp is not np:  # a device: one reduction, one host sync
            return bool(xp.isfinite(a).all())
    if a.dtype.itemsize <= 4:
        flat = a.reshape(-1)
        return math.isfinite(np.dot(flat, flat)) or bool(np.isfinite(a).all())
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(a, axis=None, dtype=np.float64)
    return math.isfinite(total) or bool(np.isfinite(a).all())


@dataclass
class Evaluation:
    """One data set's values at the current weights.

    ``metrics`` maps each metric's name to its value (None when not computed);
    ``outputs_finite`` says whether every output ``z`` was finite (None: not looked at).
    """

    loss: float
    metrics: dict
    grad_norm: float | None = None
    outputs_finite: bool | None = None
    diagnostics: dict | None = None


class Evaluator:
    """Evaluate ``model`` with its ``output`` unit on whole data sets, in chunks.

    Parameters
    ----------
    model, output :
        The network (returns the logits ``z``) and its output unit.
    params : list of Parameter
        The trained parameters (``||grad J||`` is over them).
    metrics : list of str
        Names from :data:`feedforward.training.metrics.METRICS`.
    chunk_size : int
        Rows per forward pass.
    l2 : float
        The L2 penalty ``lambda``: its gradient ``lambda w`` is part of ``grad J``.
    saturation_tol : float
        For the diagnostics (:mod:`feedforward.training.diagnostics`).
    """

    def __init__(self, model, output, params, metrics, *, chunk_size, l2=0.0, saturation_tol=0.1):
        self.model, self.output, self.params, self.metrics = model, output, params, metrics
        self.chunk_size, self.l2, self.saturation_tol = chunk_size, l2, saturation_tol
        # Train/eval flags are flipped only if some module computes differently in the two modes.
        self.switch_modes = any(m.mode_dependent for m in model.modules())
        # ROC AUC, log-loss and top-k read the output unit's mean, not its labels.
        self.needs_proba = needs_proba(metrics)

    def __call__(self, part, *, grad=False, metrics=True, diagnostics=False, train_mode=False) -> Evaluation:
        """``J(w)`` on ``part`` (eval mode unless ``train_mode``), and what else is asked for."""
        model, output = self.model, self.output
        n, chunk = part.n, self.chunk_size
        switch = self.switch_modes and not train_mode
        probe = ActivationProbe(model, self.saturation_tol) if diagnostics else None
        preds, probas, total, finite = [], [], 0.0, True
        if switch:
            model.eval()
        try:
            if grad:
                for p in self.params:
                    p.grad = None
            if probe is not None:
                probe.__enter__()
            for s in range(0, n, chunk):
                if n <= chunk:  # one chunk (small data sets, batch mode): no slicing
                    xc, yc, wc = part.X, part.y, part.w
                else:
                    xc, yc = part.X[s : s + chunk], part.y[s : s + chunk]
                    wc = None if part.w is None else part.w[s : s + chunk]
                m = len(xc)
                if wc is None:
                    scale = 1.0 if m == n else m / n
                else:
                    # A rank's shard may weigh nothing (its share of a data-parallel run is then 0).
                    scale = float(wc.sum(dtype=np.float64)) / part.w_total if part.w_total else 0.0
                if grad:
                    z = model(Tensor(xc))
                    if scale > 0:
                        loss = output._trusted_nll(z, yc, sample_weight=wc)
                        total += float(loss.data) * scale
                        # One chunk: no rescaling node, so batch mode equals one full-batch gradient exactly.
                        (loss if scale == 1.0 else loss * scale).backward()
                else:
                    with no_grad():
                        z = model(Tensor(xc))
                        if scale > 0:
                            total += float(output._trusted_nll(z, yc, sample_weight=wc).data) * scale
                finite = finite and all_finite(z.data)
                if metrics:
                    # The metrics are computed on the host (to_numpy: no copy for NumPy arrays).
                    preds.append(to_numpy(output.predict(z.data)))
                    if self.needs_proba:
                        probas.append(to_numpy(output.mean(z.data)))
        finally:
            if probe is not None:
                probe.__exit__(None, None, None)
            if switch:
                model.train()
        return self._evaluation(part, total, preds if metrics else None, finite, grad, probe, probas or None)

    def _evaluation(self, part, loss, preds, finite, grad, probe, probas=None) -> Evaluation:
        """The :class:`Evaluation` from the pass's values (a data-parallel evaluator reduces them
        over the ranks here first: :class:`feedforward.distributed.training.ReducingEvaluator`)."""
        if preds is not None:
            pred = np.concatenate(preds) if len(preds) > 1 else preds[0]
            proba = None if probas is None else np.concatenate(probas) if len(probas) > 1 else probas[0]
            host = part.host  # the targets as checked, on the host
            values = metric_values(self.metrics, pred, host.y, host.w, proba=proba)
        else:
            values = dict.fromkeys(map(metric_name, self.metrics))
        ev = Evaluation(loss, values, outputs_finite=finite)
        if grad:
            ev.grad_norm = self._grad_norm()
        if probe is not None:
            ev.diagnostics = probe.report()
            ev.diagnostics["grad_norm"] = layer_grad_norms(self.model)
        return ev

    def _grad_norm(self) -> float:
        """``||grad J||_2`` in float64 over all parameters at once, L2 penalty included.

        One concatenation and one dot product instead of a cast and a dot per parameter:
        this runs every epoch.
        """
        l2 = self.l2
        first = self.params[0].data
        xp = np if type(first) is np.ndarray else array_namespace(first)
        gs = [p.grad.ravel() if p.grad is not None else xp.zeros(p.data.size, p.data.dtype)
              for p in self.params if p.grad is not None or l2]
        if not gs:
            return 0.0
        if xp is np:
            g = np.concatenate(gs, dtype=np.float64) if len(gs) > 1 else gs[0].astype(np.float64)
            if l2:
                g += l2 * np.concatenate([p.data.ravel() for p in self.params], dtype=np.float64)
        else:  # the same values; the cast before the concatenation, as array modules without dtype= do
            g = xp.concatenate([a.astype(xp.float64) for a in gs])
            if l2:
                g += l2 * xp.concatenate([p.data.ravel().astype(xp.float64) for p in self.params])
        return math.sqrt(float(xp.dot(g, g)))

    def outputs_finite(self, part) -> bool:
        """Whether the model's outputs (eval mode) on every row of ``part`` are finite: a forward
        pass only, no loss, no graph."""
        model, chunk = self.model, self.chunk_size
        if self.switch_modes:
            model.eval()
        try:
            # Overflow is the answer looked for here, not a warning.
            with no_grad(), np.errstate(over="ignore", invalid="ignore"):
                for s in range(0, part.n, chunk):
                    if not all_finite(model(Tensor(part.X[s : s + chunk])).data):
                        return False
        finally:
            if self.switch_modes:
                model.train()
        return True
