"""Model files and training checkpoints: safetensors + a JSON architecture, read safely, written atomically.

``ff.save(model, path)`` writes the weights as safetensors tensors and the
architecture (layer types, sizes, each hidden unit's registry name and
config, output unit, dtype) as JSON in the file's metadata; ``ff.load(path)``
rebuilds the model from the unit registries and copies the weights in, so
predictions are bit-identical.

- :mod:`.files`: regular files only, bounded reads; atomic writes whose
  leftovers (a ``kill -9`` mid-save) are removed by the next save.
- :mod:`.container`: the safetensors layout, header first, checksum.
- :mod:`.schema`: the architecture JSON, checked before anything is built.
- :mod:`.model`: ``save`` / ``load`` / ``architecture`` / ``build``.
- :mod:`.pipeline`: the optional section that makes it one model file for
  ``ff.save``, the estimators and the command line: preprocessing (scaling,
  one-hot categories, missing-value fill), feature and class names, the
  training record (issue 14).
- :mod:`.legacy`: files of format version 1 (before the unit registry).
- :mod:`.checkpoint`: ``save_checkpoint`` / ``load_checkpoint`` and the
  helpers a resumed run uses.

Loading never executes code: no pickle, no eval, only a JSON parse and the
registries. Every problem with a file is a ``ValueError`` naming it.
"""

from .._rng import rng_from_json, rng_state_to_json
from .checkpoint import load_checkpoint, load_params_into, restore_model_rngs, save_checkpoint
from .container import MAX_HEADER_BYTES
from .files import atomic_write_bytes, open_regular
from .model import architecture, build, load, load_pipeline, read_metadata, save
from .pipeline import Pipeline

__all__ = [
    "save",
    "load",
    "load_pipeline",
    "Pipeline",
    "read_metadata",
    "architecture",
    "build",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state_to_json",
    "rng_from_json",
    "restore_model_rngs",
    "load_params_into",
    "atomic_write_bytes",
    "open_regular",
    "MAX_HEADER_BYTES",
]
