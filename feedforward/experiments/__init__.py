"""The lecture made executable: one experiment module per claim, and the report that runs them.

Contract of an experiment module ``feedforward/experiments/<name>.py``:

``ORDER: float``
    Position in the lecture's order (the report sorts by it).
``TITLE: str``, ``CLAIM: str``
    A heading, and the lecture's claim being shown (with SPEC IDs).
``QUOTE: tuple of (str, str)``
    The lecture's own words that the section checks, in Chinese as on the slide, and an
    English rendering; the section opens with them.
``run(out_dir: pathlib.Path, quick: bool = False) -> dict``
    Runs the experiment, writes its figures into ``out_dir`` and returns
    ``"summary"`` (Markdown paragraph), ``"tables"`` (list of ``(caption, header,
    rows)``), ``"figures"`` (list of ``(caption, filename relative to out_dir)``),
    ``"checks"`` (dict ``name -> bool``: the claim's assertions) and ``"numbers"``
    (JSON-serialisable key results). ``quick=True`` is the CI-sized run. A section
    that cannot run here (a data set not installed) returns ``"skipped"``: the reason,
    with ``"checks"`` empty; the report shows it as skipped, never as passed.

:data:`REGISTRY` maps each module's name to the module, sorted by ``ORDER``; it
is discovered from this package (names starting with ``_`` and ``report`` are
skipped), so a new experiment is registered by adding its file.
:func:`feedforward.experiments.report.write_report` runs them and writes
``report.md`` (command line: ``feedforward lecture [NAME ...] --out DIR [--quick]``).
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["REGISTRY", "discover"]

_REQUIRED = ("ORDER", "TITLE", "CLAIM", "QUOTE", "run")


def discover() -> dict:
    """Import every experiment module of this package: ``{name: module}`` sorted by ``ORDER``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        name = info.name
        if name.startswith("_") or name == "report":
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        missing = [attr for attr in _REQUIRED if not hasattr(module, attr)]
        if missing:
            raise AttributeError(
                f"experiment module {module.__name__} lacks {missing}; every experiment defines "
                "ORDER, TITLE, CLAIM, QUOTE and run(out_dir, quick=False)"
            )
        found.append((float(module.ORDER), name, module))
    return {name: module for _, name, module in sorted(found, key=lambda t: (t[0], t[1]))}


REGISTRY = discover()
