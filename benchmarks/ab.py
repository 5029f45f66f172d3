"""In-process A/B: this checkout against an older revision, interleaved, on three workloads.

Usage (from the repository root, in the environment ``make test`` builds)::

    .venv/bin/python benchmarks/ab.py HEAD~3          # medians of 7 rounds
    .venv/bin/python benchmarks/ab.py v0.1 --rounds 11

The old revision's ``feedforward`` package is exported with ``git archive`` into a
temporary directory under the name ``ffbase`` (the package imports itself relatively),
both versions are imported into one process, and each round runs every workload once with
each version, alternating. On a shared, noisy machine this is the way to see a change of a
few percent: both versions see the same load at nearly the same moment. ``compare.py`` is for
comparisons with the other libraries.

Workloads: ``xor`` (2-16-1, full batch, ``ff.fit`` with ``mode="batch"``, µs per epoch),
``digits`` (64-32-10, batch 32, µs per step), ``fashion`` (784-256-256-10, batch 128, on
the first 6,400 Fashion-MNIST images or synthetic data of that shape, µs per step).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def export(rev: str, where: Path) -> None:
    """``git archive REV feedforward`` into ``where/ffbase`` (the old package, renamed)."""
    blob = subprocess.run(["git", "archive", rev, "feedforward"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(where, filter="data")
    (where / "feedforward").rename(where / "ffbase")
    init = where / "ffbase" / "__init__.py"
    init.write_text(init.read_text().replace('"feedforward.', '"ffbase.'))


def workloads(ff, data):
    (Xx, yx), (Xd, yd), (Xf, yf) = data

    def xor():
        net = ff.nn.MLP([2, 16, 1], activation="relu", output="bernoulli", rng=0)
        ff.fit(net, Xx, yx, optimizer="sgd", lr=0.01, mode="batch", max_epochs=400, rng=0, train_eval="batches")

    def digits():
        net = ff.nn.MLP([64, 32, 10], activation="relu", output="categorical", rng=0)
        ff.fit(net, Xd, yd, optimizer="sgd", lr=0.01, batch_size=32, max_epochs=2, rng=0, train_eval="batches")

    def fashion():
        net = ff.nn.MLP([784, 256, 256, 10], activation="relu", output="categorical", rng=0)
        ff.fit(net, Xf, yf, optimizer="sgd", lr=0.01, batch_size=128, max_epochs=1, rng=0, train_eval="batches")

    steps_digits = 2 * -(-len(Xd) // 32)
    return {"xor (us/epoch)": (xor, 400), "digits (us/step)": (digits, steps_digits),
            "fashion (us/step)": (fashion, -(-len(Xf) // 128))}


def load_data():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import workers

    Xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    yx = np.array([[0], [1], [1], [0]], np.float32)
    Xd, yd, _ = workers.load_data({"data": "digits"})
    Xf, yf, _ = workers.load_data({"data": "fashion", "n": 6400, "sizes": [784, 256, 256, 10]})
    return (Xx, yx), (Xd, yd), (Xf[:6400], yf[:6400])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the git revision to compare against (e.g. HEAD~1)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        sys.path.insert(0, str(ROOT))
        old, new = importlib.import_module("ffbase"), importlib.import_module("feedforward")
        data = load_data()
        versions = {args.rev: workloads(old, data), "checkout": workloads(new, data)}
        times = {v: {k: [] for k in versions[v]} for v in versions}
        for fns in versions.values():  # warm-up
            for fn, _ in fns.values():
                fn()
        for _ in range(args.rounds):
            for name in versions["checkout"]:
                for v, fns in versions.items():
                    fn, per = fns[name]
                    t = time.perf_counter()
                    fn()
                    times[v][name].append((time.perf_counter() - t) / per * 1e6)
    print(f"medians of {args.rounds} interleaved rounds; ratio = checkout / {args.rev}")
    for name in versions["checkout"]:
        a, b = statistics.median(times[args.rev][name]), statistics.median(times["checkout"][name])
        print(f"{name:<18} {args.rev:>10} {a:9.1f}   checkout {b:9.1f}   ratio {b / a:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
