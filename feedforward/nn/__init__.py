"""Layers, hidden units, output units and networks (mirrors ``torch.nn``)."""

from . import init
from .activation import (
    ACTIVATIONS, ELU, UNITS, AbsRectify, Identity, LeakyReLU, PReLU, ReLU, RReLU, Sigmoid, Tanh, Unit,
    get_activation, register,
)
from .linear import Linear
from .mlp import MLP
from .module import Module, Parameter, Sequential
from .output import OUTPUTS, Bernoulli, Categorical, Gaussian, OutputUnit, get_output, register_output

__all__ = [
    "Module", "Parameter", "Sequential", "Linear", "MLP",
    "ReLU", "AbsRectify", "LeakyReLU", "PReLU", "RReLU", "ELU", "Sigmoid", "Tanh", "Identity",
    "OutputUnit", "Gaussian", "Bernoulli", "Categorical",
    "Unit", "register", "register_output",
    "ACTIVATIONS", "UNITS", "OUTPUTS", "get_activation", "get_output", "init",
]
