"""Side-by-side speed: feedforward vs PyTorch vs scikit-learn, same data, same run.

Usage::

    python benchmarks/compare.py                  # all workloads, 5 rounds
    python benchmarks/compare.py --rounds 3 epoch xor digits
    python benchmarks/compare.py --json out/bench.json --plot out/sweep.png

Each round runs every peer once, in turn, each in a fresh subprocess
(``workers.py``) that warms up and then times three runs and reports their
median; the table reports the median over rounds of those, the spread
(min-max), and ratios against each peer. The machine is noisy: trust
medians of several rounds, not one number.

Workloads:

Peers ``ff`` and ``ff_full`` are both ``ff.fit``: ``ff`` with ``train_eval="batches"`` (the
epoch's training loss is the mean of its minibatch losses, as scikit-learn's ``loss_curve_``:
the same work as the PyTorch and scikit-learn loops, and the row the goals use), ``ff_full``
with the defaults (``J(w)``, the accuracy and ``||grad J(w)||`` over the whole training set after
every epoch, as the lecture's stopping test reads them: one extra forward and backward pass per epoch). In full-batch mode
(``xor``) the two are the same run, since that pass is the next update's gradient.

- ``epoch``: one epoch of 784-256-256-10 ReLU, batch 128, plain SGD, on
  Fashion-MNIST's 60,000 training images when installed (synthetic data of
  the same shape otherwise). Peers: ff (``ff.fit``), torch, sklearn (float32
  and float64 input), hand-written numpy, the matrix products alone (gemm),
  and ff's ``MLPClassifier.fit``.
- ``xor``: 2-16-1 full batch, time per step (2,000 steps). PyTorch runs on one thread here and
  in ``digits`` (its fastest setting for tiny networks; see ``workers.run_torch``).
- ``digits``: 64-32-10, batch 32, time per step (5 epochs).
- ``sweep``: time per epoch as width (64...2048) and batch size (1...1024)
  grow, ff vs torch, with the gemm lower bound beside each point.
- ``memory``: peak extra resident memory of a training run, ff vs torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

EPOCH = {"data": "fashion", "n": 60000, "sizes": [784, 256, 256, 10], "batch": 128, "epochs": 1}
WORKLOADS = {
    "epoch": (EPOCH, ["ff", "ff_full", "torch", "sklearn", "sklearn64", "numpy", "gemm", "ff_estimator"]),
    "xor": ({"data": "xor", "sizes": [2, 16, 1], "batch": 4, "epochs": 2000, "warmup_epochs": 200,
             "torch_threads": 1},
            ["ff", "torch", "sklearn", "numpy"]),
    "digits": ({"data": "digits", "sizes": [64, 32, 10], "batch": 32, "epochs": 5, "torch_threads": 1},
               ["ff", "ff_full", "torch", "sklearn", "numpy"]),
    "memory": (dict(EPOCH, data="synthetic", n=20000, repeats=1), ["ff", "torch"]),
}
# (peer goal, bound): ff's median time must be <= bound x the peer's.
GOALS = {
    "epoch": {"torch": 0.75, "sklearn": 0.6, "gemm": 1.4},
    "xor": {"torch": 0.25, "sklearn": 0.5},
    "digits": {"torch": 0.25, "sklearn": 0.5},
}


def run_worker(peer: str, spec: dict) -> dict:
    real_peer, spec = peer, dict(spec)
    if peer == "sklearn64":
        real_peer, spec["sklearn_dtype"] = "sklearn", "float64"
    out = subprocess.run([sys.executable, str(HERE / "workers.py"), real_peer, json.dumps(spec)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{peer} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(spec: dict, peers: list, rounds: int) -> dict:
    runs = {p: [] for p in peers}
    for _ in range(rounds):
        for p in peers:  # alternate peers within a round: load drifts hit all alike
            runs[p].append(run_worker(p, spec))
    return runs


def summarise(name: str, runs: dict, key: str) -> dict:
    rows = {}
    for peer, rs in runs.items():
        vals = [r[key] for r in rs]
        rows[peer] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}
    return rows


def print_table(title: str, rows: dict, unit: str) -> None:
    print(f"\n== {title} ({unit}, median of {len(next(iter(rows.values()))['runs'])} rounds)")
    ffm = rows.get("ff", {}).get("median")
    print(f"{'peer':<14}{'median':>12}{'min':>12}{'max':>12}{'ff / peer':>12}")
    for peer, r in rows.items():
        ratio = f"{ffm / r['median']:.2f}" if ffm and peer != "ff" else ""
        print(f"{peer:<14}{r['median']:>12.4g}{r['min']:>12.4g}{r['max']:>12.4g}{ratio:>12}")


def check_goals(name: str, rows: dict) -> list:
    results = []
    for peer, bound in GOALS.get(name, {}).items():
        if peer in rows and "ff" in rows:
            ratio = rows["ff"]["median"] / rows[peer]["median"]
            results.append({"workload": name, "vs": peer, "ratio": ratio, "goal": bound, "met": ratio <= bound})
    # The estimator against scikit-learn given the same float32 array, and given float64 (what
    # scikit-learn users usually pass, and on which scikit-learn computes in float64).
    for peer in ("sklearn", "sklearn64"):
        if name == "epoch" and "ff_estimator" in rows and peer in rows:
            ratio = rows["ff_estimator"]["median"] / rows[peer]["median"]
            results.append({"workload": "estimator fit", "vs": peer, "ratio": ratio, "goal": 0.5,
                            "met": ratio <= 0.5})
    return results


def sweep(rounds: int) -> dict:
    widths = [64, 128, 256, 512, 1024, 2048]
    batches = [1, 4, 16, 64, 256, 1024]
    out = {"width": [], "batch": []}
    for w in widths:
        spec = {"data": "synthetic", "n": 4096, "sizes": [784, w, w, 10], "batch": 128, "epochs": 1}
        rows = summarise("sweep", measure(spec, ["ff", "torch", "gemm"], rounds), "seconds")
        out["width"].append({"x": w, **{p: rows[p]["median"] for p in rows}})
        print(f"width {w:5d}: " + "  ".join(f"{p} {rows[p]['median'] * 1e3:8.1f} ms" for p in rows))
    for b in batches:
        n = 1024 if b < 16 else 4096  # batch 1 is slow per example: keep the run bounded
        spec = {"data": "synthetic", "n": n, "sizes": [784, 256, 256, 10], "batch": b, "epochs": 1}
        rows = summarise("sweep", measure(spec, ["ff", "torch", "gemm"], rounds), "per_step_us")
        out["batch"].append({"x": b, **{p: rows[p]["median"] for p in rows}})
        print(f"batch {b:5d}: " + "  ".join(f"{p} {rows[p]['median']:8.1f} us/step" for p in rows))
    return out


def plot_sweep(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xlabel, ylabel in ((axes[0], "width", "hidden width (784-w-w-10, 4,096 examples)",
                                     "seconds per epoch"),
                                    (axes[1], "batch", "batch size (784-256-256-10)", "microseconds per step")):
        pts = data[key]
        xs = [p["x"] for p in pts]
        for peer, style in (("ff", "o-"), ("torch", "s-"), ("gemm", "k--")):
            label = "matrix products only (lower bound)" if peer == "gemm" else peer
            ax.plot(xs, [p[peer] for p in pts], style, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_title("Cost vs width")
    axes[1].set_title("Cost vs batch size")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", default=["epoch", "xor", "digits", "memory", "sweep"],
                        help="which workloads to run (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="repetitions per peer (default 5)")
    parser.add_argument("--json", type=Path, help="write all results as JSON here")
    parser.add_argument("--plot", type=Path, default=Path("out/bench_sweep.png"), help="sweep figure path")
    args = parser.parse_args(argv)
    results, goals = {}, []
    for name in args.workloads:
        if name == "sweep":
            results["sweep"] = sweep(args.rounds)
            plot_sweep(results["sweep"], args.plot)
            print(f"sweep plot: {args.plot}")
            continue
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}; choose from {sorted(WORKLOADS) + ['sweep']}")
        spec, peers = WORKLOADS[name]
        runs = measure(spec, peers, args.rounds)
        if name == "memory":
            rows = summarise(name, runs, "peak_extra_mb")
            print_table("peak extra memory of a 20,000-example epoch", rows, "MiB")
        elif name == "epoch":
            rows = summarise(name, runs, "seconds")
            data = runs["ff"][0]["data"]
            print_table(f"one epoch 784-256-256-10 on {data}", rows, "s")
        else:
            rows = summarise(name, runs, "per_step_us")
            print_table(f"{name} step", rows, "us/step")
        results[name] = rows
        goals += check_goals(name, rows)
    if "memory" in results:
        r = results["memory"]
        goals.append({"workload": "memory", "vs": "torch", "ratio": r["ff"]["median"] / r["torch"]["median"],
                      "goal": 1.0, "met": r["ff"]["median"] <= r["torch"]["median"]})
    if goals:
        print("\n== goals (ff time / peer time; lower is better)")
        for g in goals:
            print(f"{g['workload']:<14} vs {g['vs']:<9} {g['ratio']:6.2f}  goal <= {g['goal']:<5} "
                  f"{'met' if g['met'] else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "goals": goals}, indent=2))
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
