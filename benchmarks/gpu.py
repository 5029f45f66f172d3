"""feedforward on a GPU beside PyTorch and plain CuPy, in one run on one card (issue 12).

Usage, from the source tree (no install step)::

    PYTHONPATH=. python benchmarks/gpu.py                      # the full table, medians of 5
    PYTHONPATH=. python benchmarks/gpu.py --quick              # a short smoke run
    PYTHONPATH=. python benchmarks/gpu.py --json out/gpu.json

Needs numpy, cupy and torch (Python 3.12). nvmath-python, which feedforward's captured step uses
for its products, is optional: where it is not installed, any wheels in ``benchmarks/wheels/``
(nvmath-python and its cuda-* dependencies) are unpacked beside them and put on ``sys.path``;
nothing is downloaded. Without CuPy or a GPU the script exits with status 2 and says why.

It checks correctness first: the weights after 10 SGD steps on the GPU (eager, and captured)
against a float64 CPU run of the same model from the same start, on fresh random inputs
(relative error < 1e-4). Then it times, for each workload, one epoch of 60,000 synthetic examples
with the data resident on the device, plain SGD, float32 with TF32 off, medians of 5:

- ``ff eager`` / ``ff captured``: ``ff.fit`` with ``capture=False`` / ``capture=True`` (time per
  epoch, read at epoch ends after a first epoch that warms up and captures);
- ``torch eager`` and ``torch graph`` (the whole step captured with ``torch.cuda.graph``);
- ``cupy``: the same step written with plain CuPy operations;
- ``products``: the step's matrix products alone (cuBLAS through CuPy), a floor for the wide net.

XOR 2-16-2 is one full-batch step (time per step). The table is printed last.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
import zipfile

os.environ.setdefault("CUPY_TF32", "0")  # before CuPy is imported: exact float32 products

HERE = os.path.dirname(os.path.abspath(__file__))
N_EXAMPLES = 60_000
WORKLOADS = [  # name, layer sizes, batch size (None: XOR, one full-batch step)
    ("784-256-256-10, batch 128", (784, 256, 256, 10), 128),
    ("784-256-256-10, batch 1024", (784, 256, 256, 10), 1024),
    ("784-4096-4096-10, batch 1024", (784, 4096, 4096, 10), 1024),
    ("XOR 2-16-2, one full-batch step", (2, 16, 2), None),
]
PEERS = ["ff eager", "ff captured", "torch eager", "torch graph", "cupy", "products"]
LR = 0.01


def add_wheels() -> list[str]:
    """Unpack the wheels in benchmarks/wheels/ (a wheel is a zip) and put them on sys.path."""
    added = []
    for wheel in sorted(glob.glob(os.path.join(HERE, "wheels", "*.whl"))):
        target = os.path.join(HERE, "wheels", ".unpacked", os.path.basename(wheel)[:-4])
        if not os.path.isdir(target):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(target)
        sys.path.insert(0, target)
        added.append(os.path.basename(wheel))
    return added


def require_gpu():
    """CuPy with a reachable GPU, or exit with status 2 saying which is missing."""
    try:
        import cupy
    except ImportError as e:
        print(f"benchmarks/gpu.py needs CuPy and a CUDA GPU: CuPy is not installed ({e}); "
              'pip install "feedforward[gpu]"', file=sys.stderr)
        sys.exit(2)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        count, why = 0, f"{type(e).__name__}: {e}"
    else:
        why = "no CUDA device"
    if count < 1:
        print(f"benchmarks/gpu.py needs a CUDA GPU: CuPy cannot reach one ({why})", file=sys.stderr)
        sys.exit(2)
    return cupy


# ------------------------------------------------------------------------------ data, models
def synthetic(cp, sizes, n, seed):
    """n examples on the device: inputs ~ N(0, 1), labels a fixed random linear rule (learnable)."""
    rng = cp.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=cp.float32)
    W = rng.standard_normal((sizes[0], sizes[-1]), dtype=cp.float32)
    y = cp.argmax(X @ W, axis=1).astype(cp.int64)
    return X, y


def xor_data(cp):
    X = cp.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=cp.float32)
    y = cp.asarray([0, 1, 1, 0], dtype=cp.int64)
    return X, y


def initial_weights(sizes, seed):
    """He-normal weights and zero biases, float32 on the host: every peer starts from these."""
    import numpy as np

    rng = np.random.default_rng(seed)
    Ws = [(rng.standard_normal((a, b)) * (2 / a) ** 0.5).astype(np.float32) for a, b in itertools.pairwise(sizes)]
    return Ws, [np.zeros(b, np.float32) for b in sizes[1:]]


def ff_model(sizes, seed, dtype, device):
    """An ff MLP (ReLU hidden units, softmax output) holding initial_weights(sizes, seed)."""
    import feedforward as ff

    model = ff.nn.MLP(list(sizes), output="categorical", rng=seed, dtype=dtype)
    Ws, bs = initial_weights(sizes, seed)
    layers = [p for p in model.parameters()]
    assert len(layers) == 2 * len(Ws), [p.shape for p in layers]
    for p, value in zip(layers, [a for pair in zip(Ws, bs) for a in pair]):
        assert p.shape == value.shape, (p.shape, value.shape)
        p.data[...] = value.astype(dtype)
    return model.to(device) if device != "cpu" else model


class EpochClock:
    """An ff callback that synchronizes the device at each epoch's end and keeps the time."""

    def __init__(self, cp):
        import feedforward as ff

        self.cp = cp
        self.ends = []
        self.base = ff.training.callbacks.Callback

    def callback(self):
        clock = self

        class _Clock(self.base):
            def on_train_begin(self, trainer):
                clock.cp.cuda.Device().synchronize()
                clock.ends.append(time.perf_counter())

            def on_epoch_end(self, trainer, epoch, logs):
                clock.cp.cuda.Device().synchronize()
                clock.ends.append(time.perf_counter())

        return _Clock()


def ff_fit(model, X, y, batch, epochs, capture, callbacks=()):
    import feedforward as ff

    kwargs = {"optimizer": "sgd", "lr": LR, "max_epochs": epochs, "train_eval": "batches",
              "device": model_device(model), "capture": capture, "callbacks": list(callbacks), "rng": 0}
    if batch is None:
        kwargs["mode"] = "batch"
    else:
        kwargs["batch_size"] = batch
    return ff.fit(model, X, y, **kwargs)


def model_device(model):
    return str(next(iter(model.parameters())).device)


# ------------------------------------------------------------------------------ correctness
def check_correctness(cp, sizes, batch, seed, capture):
    """Weights after 10 SGD steps on the GPU against float64 on the CPU; returns the largest
    relative error max|w_gpu - w_cpu| / max|w_cpu| over the parameters."""
    import numpy as np

    from feedforward import backend

    batch = batch or 4
    X, y = synthetic(cp, sizes, 10 * batch, seed) if sizes[0] != 2 else xor_data(cp)
    steps_epochs = 10 if sizes[0] == 2 else 1
    gpu = ff_model(sizes, seed, np.float32, "cuda")
    cpu = ff_model(sizes, seed, np.float64, "cpu")
    ff_fit(gpu, X, y, None if sizes[0] == 2 else batch, steps_epochs, capture)
    ff_fit(cpu, backend.to_numpy(X).astype(np.float64), backend.to_numpy(y), None if sizes[0] == 2 else batch,
           steps_epochs, False)
    worst = 0.0
    for pg, pc in zip(gpu.parameters(), cpu.parameters()):
        a = backend.to_numpy(pg.data).astype(np.float64)
        b = pc.data
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)))
    return worst


# ------------------------------------------------------------------------------ timings
def median_of(times):
    return statistics.median(times) if times else float("nan")


def time_ff(cp, sizes, batch, rounds, capture, xor_steps):
    import numpy as np

    if batch is None:  # XOR: time per full-batch step over xor_steps steps
        X, y = xor_data(cp)
        out = []
        for r in range(rounds + 1):
            model = ff_model(sizes, r, np.float32, "cuda")
            cp.cuda.Device().synchronize()
            t0 = time.perf_counter()
            ff_fit(model, X, y, None, xor_steps, capture)
            cp.cuda.Device().synchronize()
            out.append((time.perf_counter() - t0) / xor_steps)
        return median_of(out[1:])  # the first round compiles the kernels
    X, y = synthetic(cp, sizes, N_EXAMPLES, 1)
    model = ff_model(sizes, 0, np.float32, "cuda")
    clock = EpochClock(cp)
    ff_fit(model, X, y, batch, rounds + 1, capture, callbacks=[clock.callback()])
    epochs = [b - a for a, b in zip(clock.ends[:-1], clock.ends[1:])]
    return median_of(epochs[1:])  # the first epoch warms up (and captures)


def torch_setup(sizes, seed):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    Ws, bs = initial_weights(sizes, seed)
    layers = []
    for W, b in zip(Ws, bs):
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    return model, opt


def time_torch(cp, sizes, batch, rounds, graph, xor_steps):
    import torch
    import torch.nn.functional as F

    n = 4 if batch is None else N_EXAMPLES
    if batch is None:
        X, y = xor_data(cp)
    else:
        X, y = synthetic(cp, sizes, n, 1)
    X, y = torch.as_tensor(X, device="cuda"), torch.as_tensor(y, device="cuda")
    model, opt = torch_setup(sizes, 0)
    bsz = n if batch is None else batch
    xbuf, ybuf = X[:bsz].clone(), y[:bsz].clone()

    def step(xb, yb):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    replay = None
    if graph:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up on a side stream, as torch.cuda.graphs asks
                step(xbuf, ybuf)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(g):
            loss = F.cross_entropy(model(xbuf), ybuf)
            loss.backward()
            opt.step()
        replay = g.replay

    def epoch(perm):
        if batch is None:
            for _ in range(xor_steps):
                replay() if replay else step(X, y)
            return
        for start in range(0, n, bsz):
            idx = perm[start:start + bsz]
            if replay is not None and len(idx) == bsz:
                torch.index_select(X, 0, idx, out=xbuf)
                torch.index_select(y, 0, idx, out=ybuf)
                replay()
            else:
                step(X[idx], y[idx])

    perms = [torch.randperm(n, device="cuda") for _ in range(rounds + 1)]  # made ahead
    out = []
    for r in range(rounds + 1):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        epoch(perms[r])
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) / (xor_steps if batch is None else 1))
    return median_of(out[1:])


def cupy_step(cp, Ws, bs, lr):
    """The step in plain CuPy operations (forward, softmax cross-entropy, backward, SGD)."""

    def step(xb, yb):
        hs = [xb]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = hs[-1] @ W + b
            hs.append(cp.maximum(z, 0) if i < len(Ws) - 1 else z)
        z = hs[-1]
        e = cp.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        p[cp.arange(len(yb)), yb] -= 1
        g = p / len(yb)
        for i in reversed(range(len(Ws))):
            gW, gb = hs[i].T @ g, g.sum(axis=0)
            if i:
                g = (g @ Ws[i].T) * (hs[i] > 0)
            Ws[i] -= lr * gW
            bs[i] -= lr * gb

    return step


def products_step(cp, Ws, bs):
    """The step's matrix products alone, into fixed buffers: 3 forward, 3 weight-gradient, 2 input-gradient."""
    def step(xb, yb):
        hs = [xb]
        for W in Ws:
            hs.append(hs[-1] @ W)
        g = hs[-1]
        for i in reversed(range(len(Ws))):
            hs[i].T @ g
            if i:
                g = g @ Ws[i].T

    return step


def time_cupy(cp, sizes, batch, rounds, make_step, xor_steps):
    n = 4 if batch is None else N_EXAMPLES
    X, y = xor_data(cp) if batch is None else synthetic(cp, sizes, n, 1)
    Ws, bs = (list(map(cp.asarray, a)) for a in initial_weights(sizes, 0))
    step = make_step(cp, Ws, bs) if make_step is products_step else make_step(cp, Ws, bs, LR)
    bsz = n if batch is None else batch
    perms = [cp.random.permutation(n) for _ in range(rounds + 1)]
    out = []
    for r in range(rounds + 1):
        cp.cuda.Device().synchronize()
        t0 = time.perf_counter()
        if batch is None:
            for _ in range(xor_steps):
                step(X, y)
        else:
            for start in range(0, n, bsz):
                idx = perms[r][start:start + bsz]
                step(X[idx], y[idx])
        cp.cuda.Device().synchronize()
        out.append((time.perf_counter() - t0) / (xor_steps if batch is None else 1))
    return median_of(out[1:])


# ------------------------------------------------------------------------------ the run
def fmt(seconds):
    if math.isnan(seconds):
        return "-"
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds:.4f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run (1 round, no wide net)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per cell (median; default 5)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    wheels = add_wheels()
    cp = require_gpu()
    sys.path.insert(0, os.path.dirname(HERE))  # the source tree, when PYTHONPATH was not set
    import numpy as np

    import feedforward as ff
    from feedforward.backend.cuda_graph import nvmath_available

    rounds = 1 if args.quick else args.rounds
    xor_steps = 200 if args.quick else 2000
    workloads = [w for w in WORKLOADS if not (args.quick and w[1][1] == 4096)]
    props = cp.cuda.runtime.getDeviceProperties(0)
    card = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch = None
        torch_version = None
    info = {"card": card, "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "numpy": np.__version__, "cupy": cp.__version__, "torch": torch_version,
            "feedforward": getattr(ff, "__version__", "?"), "nvmath": nvmath_available(), "wheels": wheels,
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv), "rounds": rounds,
            "examples": N_EXAMPLES, "lr": LR, "xor_steps": xor_steps}
    print(f"# {card}; CuPy {cp.__version__}, PyTorch {torch_version}, nvmath {info['nvmath']}", flush=True)

    # -- correctness first
    checks, ok = {}, True
    for name, sizes, batch in workloads:
        for capture in (False, True):
            key = f"{name}, {'captured' if capture else 'eager'}"
            try:
                err = check_correctness(cp, sizes, batch, seed=int(time.time()) % 10_000, capture=capture)
                checks[key] = err
                good = err < 1e-4
            except Exception as e:
                checks[key] = f"{type(e).__name__}: {e}"
                good = False
            ok &= good
            print(f"check {key}: {checks[key] if isinstance(checks[key], str) else f'{checks[key]:.2e}'}"
                  f" {'ok' if good else 'FAILED'}", flush=True)

    # -- timings
    results = {}
    for name, sizes, batch in workloads:
        row = {}
        runners = {  # peer -> (function, its last argument)
            "ff eager": (time_ff, False),
            "ff captured": (time_ff, True),
            "torch eager": (time_torch, False),
            "torch graph": (time_torch, True),
            "cupy": (time_cupy, cupy_step),
            "products": (time_cupy, products_step),
        }
        for peer in PEERS:
            if peer.startswith("torch") and torch is None:
                row[peer] = "torch not installed"
                continue
            try:
                run, arg = runners[peer]
                row[peer] = run(cp, sizes, batch, rounds, arg, xor_steps)
            except Exception as e:
                row[peer] = f"{type(e).__name__}: {e}"
            print(f"{name} | {peer}: {row[peer] if isinstance(row[peer], str) else fmt(row[peer])}", flush=True)
        results[name] = row

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"info": info, "checks": checks, "correct": ok, "seconds": results}, f, indent=2)

    # -- the table, last
    print()
    print(f"{card}, {time.strftime('%Y-%m-%d')}: one epoch of {N_EXAMPLES:,} examples (XOR: one step), "
          f"median of {rounds}; correctness {'ok' if ok else 'FAILED'}")
    print("| work | " + " | ".join(PEERS) + " | ff eager / torch eager | ff captured / torch graph |")
    print("| --- " * (len(PEERS) + 3) + "|")
    for name, row in results.items():
        cells = [fmt(v) if not isinstance(v, str) else "error" for v in (row[p] for p in PEERS)]
        ratios = []
        for a, b in (("ff eager", "torch eager"), ("ff captured", "torch graph")):
            x, y = row.get(a), row.get(b)
            ratios.append(f"{x / y:.2f}x" if isinstance(x, float) and isinstance(y, float) and y > 0 else "-")
        print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
