"""Layers, hidden units, output units and networks (mirrors ``torch.nn``)."""

from . import init
from .activation import (
    ACTIVATIONS, ELU, AbsRectify, Identity, LeakyReLU, PReLU, ReLU, RReLU, Sigmoid, Tanh, get_activation,
)
from .linear import Linear
from .mlp import MLP
from .module import Module, Parameter, Sequential
from .output import OUTPUTS, Bernoulli, Categorical, Gaussian, OutputUnit, get_output

__all__ = [
    "Module", "Parameter", "Sequential", "Linear", "MLP",
    "ReLU", "AbsRectify", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Identity",
    "OutputUnit", "Gaussian", "Bernoulli", "Categorical",
    "ACTIVATIONS", "OUTPUTS", "get_activation", "get_output", "init",
]
