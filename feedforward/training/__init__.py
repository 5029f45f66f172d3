"""Training: ``fit`` / ``Trainer``, the three modes, stopping rules, history, diagnostics.

Requirements L-SGD-1..5 and L-ACT-7.
"""

from . import batching, callbacks, diagnostics, metrics, stopping
from .batching import MODES, GrowingBatch
from .callbacks import Callback, LambdaCallback
from .diagnostics import ActivationProbe, activation_report, layer_grad_norms
from .history import STOP_REASONS, History
from .stopping import Monitor
from .trainer import DEFAULT_BATCH_SIZE, DivergenceWarning, Trainer, fit

__all__ = [
    "fit",
    "Trainer",
    "History",
    "STOP_REASONS",
    "MODES",
    "GrowingBatch",
    "Callback",
    "LambdaCallback",
    "DivergenceWarning",
    "DEFAULT_BATCH_SIZE",
    "Monitor",
    "ActivationProbe",
    "activation_report",
    "layer_grad_norms",
    "batching",
    "callbacks",
    "diagnostics",
    "metrics",
    "stopping",
]
