"""Optimizers, learning-rate schedules and gradient clipping (mirrors ``torch.optim``; L-SGD-7)."""

from . import schedules
from .clip import clip_grad_norm, global_grad_norm
from .optimizers import SGD, Adam, Optimizer
from .schedules import (
    SCHEDULES,
    AdaptiveLR,
    Constant,
    CosineAnnealing,
    ExponentialLR,
    InvScaling,
    LRSchedule,
    ReduceLROnPlateau,
    StepLR,
    get_schedule,
)

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "clip_grad_norm",
    "global_grad_norm",
    "schedules",
    "LRSchedule",
    "Constant",
    "StepLR",
    "ExponentialLR",
    "InvScaling",
    "CosineAnnealing",
    "AdaptiveLR",
    "ReduceLROnPlateau",
    "SCHEDULES",
    "get_schedule",
]
