"""Data-parallel scaling: time per epoch on K = 1, 2, ... MPI ranks, and the inputs of the cost model.

The workload of issue 13: a 784-1024-1024-10 ReLU MLP, minibatch SGD with a global batch of
1024, on Fashion-MNIST's 60000 training images (Debian's ``dataset-fashion-mnist``; without it,
random data of the same shape, said in the output). Each rank holds 60000 / K rows and computes
1024 / K rows of each minibatch; one packed Allreduce per update. ``train_eval="batches"``: the
epoch is the updates only (no epoch-end pass over the data).

Usage::

    python benchmarks/distributed.py                  # K = 1 and 2, 3 epochs each (the first is warm-up)
    python benchmarks/distributed.py --ranks 1 2 4 --epochs 4
    python benchmarks/distributed.py --gemm           # the matrix-product rate per rank vs rows per rank
    python benchmarks/distributed.py --model --check 0.00037 0.96 0.045
                                                      # the cost model (README), checked against a
                                                      # K=2 run's Allreduce, GEMM-rate ratio, step

K = 1 is the one-process run (``comm=None``), the baseline; K > 1 runs under
``mpiexec --oversubscribe -n K`` with ``OPENBLAS_NUM_THREADS=1`` per rank. The output is a
table and one JSON line per K: median seconds per epoch, speedup, parallel efficiency
(speedup / K), the median time of one Allreduce of the packed gradients, and the compute
time per update. ``--gemm`` times the products of one update (forward and backward) at
1024 / K rows, for the cost model in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = [784, 1024, 1024, 10]
BATCH = 1024


def _data(rank=0, size=1):
    """This rank's rows of Fashion-MNIST's training set, scaled to [0, 1]; (X, y, source)."""
    from feedforward.data import load_dataset
    from feedforward.distributed import shard_range

    try:
        ds = load_dataset("fashion_mnist")
        X, y, source = ds.X, ds.y, "fashion_mnist"
    except (FileNotFoundError, ValueError, ImportError):
        r = np.random.default_rng(0)
        X = r.uniform(0, 255, (60000, 784)).astype(np.float32)
        y = r.integers(0, 10, 60000)
        source = "random data of Fashion-MNIST's shape (dataset-fashion-mnist is not installed)"
    lo, hi = shard_range(len(X), rank, size)
    return (X[lo:hi] / np.float32(255)).astype(np.float32), y[lo:hi], source


def n_params(sizes=SIZES) -> int:
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def worker(epochs: int) -> None:
    """One rank of a run (under mpiexec), or the one-process baseline."""
    import feedforward as ff
    from feedforward.distributed import world

    comm = world()
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    X, y, source = _data(rank, size)
    if comm is not None:
        comm.any(False)  # every rank multiplies at once: what one rank gets when all compute
    rate = square_gemm_rate()
    if comm is not None:
        rate = -float(comm.max([-rate])[0])  # the slowest rank's
    net = ff.nn.MLP(SIZES, activation="relu", output="categorical", rng=0)
    h = ff.fit(net, X, y, mode="minibatch", batch_size=BATCH, max_epochs=epochs, optimizer="sgd", lr=0.05,
               rng=0, train_eval="batches", comm=comm)
    per_epoch = statistics.median(h["epoch_time"][1:])  # the first epoch warms up
    allreduce = None
    if comm is not None:
        buf = np.zeros(n_params() + 3, dtype=np.float32)
        times = []
        for _ in range(30):
            comm.any(False)
            t0 = time.perf_counter()
            comm.allreduce_(buf)
            times.append(time.perf_counter() - t0)
        allreduce = float(comm.max([statistics.median(times[5:])])[0])
    if rank == 0:
        steps = -(-60000 // BATCH)
        print(json.dumps({"ranks": size, "epoch_s": per_epoch, "epochs_timed": len(h["epoch_time"]) - 1,
                          "step_s": per_epoch / steps, "allreduce_s": allreduce, "bytes": (n_params() + 3) * 4,
                          "gemm_gflops_per_rank": rate,
                          "final_batch_loss": h["batch_loss_mean"][-1], "data": source}), flush=True)


def update_flops(rows: int) -> int:
    """Floating-point operations of one update's matrix products on ``rows`` rows: forward
    ``x W``, backward ``x^T g`` for every layer and ``g W^T`` for every layer but the first
    (the inputs need no gradient)."""
    pairs = list(zip(SIZES, SIZES[1:]))
    return 2 * rows * (3 * sum(a * b for a, b in pairs) - pairs[0][0] * pairs[0][1])


def gemm_rates(rows_list=(1024, 512, 341, 256, 128, 64, 32, 16), repeats=9) -> list:
    """Seconds and GFLOP/s of one update's matrix products at ``rows`` rows per rank, on one
    BLAS thread (run with OPENBLAS_NUM_THREADS=1)."""
    r = np.random.default_rng(0)
    Ws = [r.standard_normal((a, b)).astype(np.float32) for a, b in zip(SIZES, SIZES[1:])]
    out = []
    for rows in rows_list:
        x0 = r.standard_normal((rows, SIZES[0])).astype(np.float32)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            h, acts = x0, []
            for W in Ws:
                acts.append(h)
                h = h @ W
            g = h
            for i, (W, a) in enumerate(zip(reversed(Ws), reversed(acts))):
                _ = a.T @ g
                if i < len(Ws) - 1:
                    g = g @ W.T
            best = min(best, time.perf_counter() - t0)
        out.append({"rows": rows, "seconds": best, "gflops": update_flops(rows) / best / 1e9})
    return out


def square_gemm_rate(n: int = 1024, repeats: int = 10) -> float:
    """GFLOP/s of ``n x n`` float32 products on one thread (all ranks at once, under mpiexec)."""
    r = np.random.default_rng(0)
    a, b = r.random((n, n), dtype=np.float32), r.random((n, n), dtype=np.float32)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


# ------------------------------------------------------------ the cost model
#: Interconnects of the model: (name, bandwidth in bytes/s, latency per message in s). The
#: latencies are typical figures, not measured here: MPI over TCP on 10 GbE, RDMA on 100 Gb/s
#: InfiniBand / RoCE, NCCL over NVLink 4 (H100, 450 GB/s per direction).
LINKS = (("10 Gb/s", 10e9 / 8, 20e-6), ("100 Gb/s", 100e9 / 8, 3e-6), ("NVLink", 450e9, 5e-6))


def ring_allreduce(k: int, nbytes: int, bandwidth: float, latency: float) -> float:
    """Seconds of a ring Allreduce of ``nbytes`` over ``k`` ranks: ``2 (k-1)/k`` of the bytes
    cross each link, in ``2 (k-1)`` steps of one message each."""
    return 0.0 if k == 1 else 2 * (k - 1) / k * nbytes / bandwidth + 2 * (k - 1) * latency


def step_model(k, batch, gemm, per_row, fixed, nbytes, bandwidth, latency) -> float:
    """Seconds per update on ``k`` ranks: the products of ``batch / k`` rows (``gemm(rows)``,
    measured), the other work on those rows (``per_row`` seconds a row: units, loss), the work
    that does not shrink with k (``fixed``: the optimizer's update of every weight on every
    rank, the packing of the gradients), and the Allreduce. No overlap of compute and
    communication."""
    rows = batch / k
    return gemm(rows) + per_row * rows + fixed + ring_allreduce(k, nbytes, bandwidth, latency)


def fixed_work(repeats: int = 20) -> float:
    """Median seconds of the per-update work every rank does on all the weights: the SGD
    update and one copy of the gradients into the packed buffer."""
    import feedforward as ff

    net = ff.nn.MLP(SIZES, activation="relu", output="categorical", rng=0)
    params = list(net.parameters())
    for p in params:
        p.grad = np.ones_like(p.data)
    opt = ff.optim.SGD(params, lr=1e-9)
    buf = np.empty(n_params(), dtype=np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        opt.step()
        np.concatenate([p.grad.reshape(-1) for p in params], out=buf)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_interpolator(rates):
    """``rows -> seconds`` of one update's products from :func:`gemm_rates`' points (linear in
    the rate between measured row counts, the rate of 16 rows below)."""
    rows = np.array([r["rows"] for r in rates][::-1], dtype=float)
    gflops = np.array([r["gflops"] for r in rates][::-1])
    return lambda m: update_flops(m) / (np.interp(m, rows, gflops) * 1e9)


def one_rank_step(steps: int = 8) -> float:
    """Median seconds of one update on one rank (``ff.fit``, random data of the workload's shape)."""
    import feedforward as ff

    r = np.random.default_rng(0)
    X = r.uniform(0, 1, (steps * BATCH, SIZES[0])).astype(np.float32)
    y = r.integers(0, SIZES[-1], len(X))
    net = ff.nn.MLP(SIZES, activation="relu", output="categorical", rng=0)
    times = []

    class Clock(ff.training.Callback):
        def on_batch_end(self, trainer, batch, logs):
            times.append(time.perf_counter())

    ff.fit(net, X, y, mode="minibatch", batch_size=BATCH, max_epochs=2, optimizer="sgd", lr=0.05, rng=0,
           train_eval="batches", callbacks=[Clock()])
    return statistics.median(np.diff(times[steps:]))


def model(check=None, batches=(1024, 8192)) -> None:
    """Print the model's time per update and efficiency for K = 1..1024 on each link, and the K
    where efficiency falls below 50% and where adding ranks stops helping.

    ``check``: ``(allreduce_s, rate_ratio, step_s)`` measured by a K = 2 run here: the model's
    step with that Allreduce time and the products slowed by ``rate_ratio`` (the per-rank
    matrix-product rate with both ranks computing over one rank's alone) against ``step_s``.
    """
    step1 = one_rank_step()
    rates = gemm_rates()
    gemm = gemm_interpolator(rates)
    fixed = fixed_work()
    per_row = max(step1 - gemm(BATCH) - fixed, 0.0) / BATCH
    nbytes = (n_params() + 3) * 4
    print(f"# one rank: {step1 * 1e3:.1f} ms per update at {BATCH} rows = products {gemm(BATCH) * 1e3:.1f} ms "
          f"({rates[0]['gflops']:.0f} GFLOP/s) + other work on the rows {per_row * BATCH * 1e3:.1f} ms + "
          f"update and packing of all weights {fixed * 1e3:.1f} ms; {nbytes / 1e6:.2f} MB reduced")
    if check is not None:
        allreduce2, ratio, measured = check
        predicted = (gemm(BATCH / 2) + per_row * BATCH / 2) / ratio + fixed + allreduce2
        print(f"# check, K=2 here: Allreduce {allreduce2 * 1e3:.2f} ms ({nbytes / allreduce2 / 1e9:.1f} GB/s through "
              f"shared memory), per-rank product rate x{ratio:.2f}: modelled step {predicted * 1e3:.1f} ms, "
              f"measured {measured * 1e3:.1f} ms")
    ks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    for batch in batches:
        for name, bw, lat in LINKS:
            t = [step_model(k, batch, gemm, per_row, fixed, nbytes, bw, lat) for k in ks]
            eff = [t[0] / (tk * k) for tk, k in zip(t, ks)]
            half = next((k for k, e in zip(ks, eff) if e < 0.5), None)
            best = ks[int(np.argmin(t))]
            print(json.dumps({"batch": batch, "link": name, "K": ks, "step_ms": [round(x * 1e3, 2) for x in t],
                              "efficiency": [round(e, 3) for e in eff], "below_50pct_at": half,
                              "fastest_at": best}))


def _launch(k: int, epochs: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, __file__, "--worker", "--epochs", str(epochs)]
    if k > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit('mpiexec not found: pip install "feedforward[mpi]"')
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        cmd = [mpiexec, "--oversubscribe", "-n", str(k), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"K={k} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    p.add_argument("--gemm", action="store_true", help="only the matrix-product rates per rows")
    p.add_argument("--model", action="store_true",
                   help="the cost model (measures one rank's update and its matrix products)")
    p.add_argument("--check", type=float, nargs=3, metavar=("ALLREDUCE_S", "RATE_RATIO", "STEP_S"),
                   help="with --model: a K=2 run's Allreduce time, per-rank GEMM rate ratio and step time")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.epochs)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"{SIZES} ({n_params():,} parameters), global batch {BATCH}")
    if args.gemm:
        for row in gemm_rates():
            print(json.dumps(row))
        return None
    if args.model:
        return model(args.check)
    results = [_launch(k, args.epochs) for k in args.ranks]
    base = results[0]["epoch_s"] if results[0]["ranks"] == 1 else None
    print(f"{'K':>3} {'s/epoch':>9} {'speedup':>8} {'efficiency':>10} {'allreduce ms':>13} {'step ms':>8} "
          f"{'GFLOP/s per rank':>17}")
    for res in results:
        speed = base / res["epoch_s"] if base else float("nan")
        ar = f"{res['allreduce_s'] * 1e3:.2f}" if res["allreduce_s"] is not None else "-"
        print(f"{res['ranks']:>3} {res['epoch_s']:>9.2f} {speed:>8.2f} {speed / res['ranks']:>10.2f} {ar:>13} "
              f"{res['step_s'] * 1e3:>8.1f} {res['gemm_gflops_per_rank']:>17.0f}")
    print(f"# data: {results[0]['data']}")
    for res in results:
        print(json.dumps(res))
    return None


if __name__ == "__main__":
    main()
