"""Training: ``fit`` / ``Trainer``, the three modes, stopping rules, history, diagnostics.

Requirements L-SGD-1..5 and L-ACT-7. The pipeline, read top-down: :mod:`.options` (every
option, declared once), :mod:`.data` (checks and the validation split), :mod:`.loop` (the
epochs), :mod:`.epoch` (one epoch's updates), :mod:`.evaluation` (``J(w)``, ``||grad J||``,
metrics), :mod:`.divergence`, :mod:`.checkpoint`, :mod:`.history`; :mod:`.trainer` is the glue.
"""

from . import batching, callbacks, checkpoint, data, diagnostics, divergence, epoch, evaluation, history, loop
from . import labels, metrics, options, progress, scale, stopping
from .batching import MODES, GrowingBatch
from .callbacks import Callback, LambdaCallback
from .scale import UnscaledInputWarning
from .diagnostics import ActivationProbe, activation_report, layer_grad_norms
from .history import STOP_REASONS, History
from .options import Options
from .stopping import Monitor, SklearnStopping
from .trainer import DEFAULT_BATCH_SIZE, DivergenceWarning, Trainer, fit

__all__ = [
    "fit",
    "Trainer",
    "Options",
    "History",
    "STOP_REASONS",
    "MODES",
    "GrowingBatch",
    "Callback",
    "LambdaCallback",
    "DivergenceWarning",
    "UnscaledInputWarning",
    "DEFAULT_BATCH_SIZE",
    "Monitor",
    "SklearnStopping",
    "ActivationProbe",
    "activation_report",
    "layer_grad_norms",
    "batching",
    "callbacks",
    "checkpoint",
    "data",
    "diagnostics",
    "divergence",
    "epoch",
    "evaluation",
    "history",
    "labels",
    "loop",
    "metrics",
    "options",
    "progress",
    "scale",
    "stopping",
]
