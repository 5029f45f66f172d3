"""Small networks: ``ff.fit``'s step against a hand-written NumPy step, in one process (issue 12).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/small.py [--runs 2]

XOR (2-16-1, full batch, 2,000 epochs) and digits (64-32-10, batch 32, 5 epochs), with the same
peers as ``compare.py`` (``workers.run_ff`` with ``train_eval="batches"``, ``workers.run_numpy``);
prints microseconds per step and the ratio (issue 12's goal: ≤ 2).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workers


def ratio(name: str, sizes: list, batch: int, epochs: int) -> float:
    X, y, _ = workers.load_data({"data": name})
    spec = {"sizes": sizes, "batch": batch, "epochs": epochs, "repeats": 5, "warmup_epochs": 2}
    t_ff = workers.run_ff(spec, X, y)
    t_np = workers.run_numpy(spec, X, y)
    steps = epochs * -(-len(X) // batch)
    print(f"{name:7s} ff {t_ff / steps * 1e6:7.1f} µs/step   numpy {t_np / steps * 1e6:7.1f}   ratio {t_ff / t_np:.2f}")
    return t_ff / t_np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args(argv)
    for _ in range(args.runs):
        ratio("xor", [2, 16, 1], 4, 2000)
        ratio("digits", [64, 32, 10], 32, 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
