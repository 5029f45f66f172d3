"""``ff.interop``: ff models as PyTorch modules and ONNX graphs, and back (L-IO-2).

- :func:`to_torch` / :func:`from_torch` (:mod:`.torch`): an ff ``MLP`` or ``Sequential``
  as a ``torch.nn.Sequential`` computing the same ``z``, and a torch ``Sequential`` of
  supported layers as an ff model.
- :func:`save_torch` / :func:`load_torch` (:mod:`.torchfile`): safetensors files in
  torch's layout (``"0.weight"``, ``(out, in)``), which ``load_state_dict`` takes as they
  are; ``load_torch`` also reads a ``state_dict`` file torch wrote.
- :func:`to_onnx` / :func:`export_onnx_file` (:mod:`.onnx`): an ONNX graph whose output is
  the output unit's mean, runnable in onnxruntime.

Nothing here imports torch or onnx until a function needs it; each says how to install
the extra it needs.
"""

from .onnx import export_onnx_file, to_onnx
from .torch import TORCH_UNITS, from_torch, to_torch, torch_abs
from .torchfile import load_torch, read_safetensors, save_torch

__all__ = [
    "to_torch", "from_torch", "torch_abs", "TORCH_UNITS", "save_torch", "load_torch", "read_safetensors",
    "to_onnx", "export_onnx_file",
]
