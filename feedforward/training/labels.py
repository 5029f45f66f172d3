"""Class labels of any kind for ``ff.fit``: mapped to ``[0, C)`` and recorded as ``classes`` (issue 14).

scikit-learn's classifiers take strings, booleans or any integers as labels and keep
``classes_``, the sorted unique labels; ``net.predict`` here returns the index of an output,
so ``classes[net.predict(X)]`` are labels again. Integer labels already in ``[0, C)`` are kept
as they are (``classes = arange(C)``): a class may then be absent from ``y``.
"""

from __future__ import annotations

import numpy as np

from ..nn.output import Bernoulli, Categorical

__all__ = ["encode_labels", "to_indices"]


def encode_labels(output, n_outputs, y, classes=None):
    """``(y as indices in [0, C), classes)`` for a classification output; ``(y, None)`` otherwise.

    Categorical (1-D ``y``): integer labels already in ``[0, C)`` are kept (``classes =
    arange(C)``); any other labels (text, booleans, integers outside ``[0, C)``, ...) become the
    positions of their sorted unique values, which must number ``C``. Bernoulli (one output):
    0/1 labels or probabilities in ``[0, 1]`` are kept (``classes = [0, 1]``); two other labels
    become 0 and 1. ``classes`` given (an earlier call's): ``y`` is mapped to its positions.
    """
    if not isinstance(output, (Categorical, Bernoulli)):
        return y, None
    raw = np.asarray(getattr(y, "data", y))
    if raw.ndim != 1 or (isinstance(output, Bernoulli) and n_outputs != 1):
        return y, None  # multi-label / multi-output targets: the usual checks say what is wrong
    if classes is not None:
        return to_indices(raw, classes, "y"), classes
    bernoulli = isinstance(output, Bernoulli)
    n_classes = 2 if bernoulli else n_outputs
    if raw.dtype.kind in "iu" or (raw.dtype.kind == "b" and bernoulli):
        if not raw.size or (raw.min() >= 0 and raw.max() < n_classes):
            return y, np.arange(n_classes)
    elif raw.dtype.kind == "f" and bernoulli and raw.size and raw.min() >= 0 and raw.max() <= 1:
        return y, np.arange(2)  # 0/1 labels or probabilities
    elif raw.dtype.kind == "f":
        if not (np.isfinite(raw).all() and (raw == np.round(raw)).all()):
            return y, None  # the target checks say what is wrong (NaN, 0.5 as a class...)
        if not raw.size or (raw.min() >= 0 and raw.max() < n_classes):
            return y, np.arange(n_classes)  # 0., 1., 2.: indices written as floats
    try:
        classes, indices = np.unique(raw, return_inverse=True)
    except TypeError:
        raise TypeError(f"y must hold class labels of one sortable type (all text or all numbers), got "
                        f"{sorted({type(v).__name__ for v in raw.tolist()})}") from None
    if len(classes) != n_classes:
        shown = ", ".join(map(repr, classes[:10].tolist())) + (", ..." if len(classes) > 10 else "")
        hint = (f"; for a class absent from y, give integer labels in [0, {n_classes})"
                if len(classes) < n_classes else "")
        if bernoulli:
            raise ValueError(f"y must be 0/1 labels or probabilities in [0, 1] for a bernoulli output, or two "
                             f"distinct labels; got {len(classes)} distinct labels ({shown})")
        raise ValueError(f"y has {len(classes)} distinct labels ({shown}) but the model has {n_classes} "
                         f"outputs{hint}")
    return indices.reshape(raw.shape).astype(np.int64), classes


def to_indices(y, classes, name):
    """``y``'s labels as positions in ``classes``; a label not among them is a ValueError naming it."""
    raw = np.asarray(getattr(y, "data", y))
    if raw.ndim != 1 or (np.array_equal(classes, np.arange(len(classes))) and raw.dtype.kind in "iufb"):
        return y  # indices already (or not labels): the target checks apply
    try:
        pos = np.clip(np.searchsorted(classes, raw), 0, len(classes) - 1)
        unknown = classes[pos] != raw
    except TypeError:  # text against numbers
        pos, unknown = np.zeros(raw.shape, np.int64), np.ones(raw.shape, bool)
    if np.any(unknown):
        bad = list(dict.fromkeys(raw[unknown].tolist()))
        raise ValueError(f"{name} holds labels not among the training classes: "
                         f"{', '.join(map(repr, bad[:5]))}{', ...' if len(bad) > 5 else ''}; "
                         f"the classes are {classes.tolist()}")
    return pos.astype(np.int64)
