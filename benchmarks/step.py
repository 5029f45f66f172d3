"""Time one training step of a 784-256-256-10 ReLU MLP: feedforward vs PyTorch vs hand-written NumPy.

One step = forward, softmax cross-entropy, backward, plain SGD update, on a
synthetic float32 batch of 128 (MNIST-sized). All three run in the same
process on the same data, interleaved repetition by repetition so that a
change in machine load hits them alike. Each repetition times ``--steps``
consecutive steps; the figure reported is the median over repetitions of
the time per step.

Usage::

    python benchmarks/step.py              # defaults: 20 warm-up steps, 9 x 50 timed steps
    python benchmarks/step.py --repeats 5 --steps 100
    python benchmarks/step.py --adam       # issue 12: ff.fit's Adam step vs its SGD step

``--adam`` times ``ff.fit`` (one epoch of ``--steps`` minibatches of 32, ``train_eval="batches"``)
on a 784-256-128-10 ReLU network with Adam and with plain SGD, interleaved, and reports the
medians per step and their ratio (the goal of issue 12: Adam <= 1.3 x SGD).

PyTorch runs with its default thread count (``torch.set_num_threads`` is
left alone); NumPy with its BLAS's default.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

import feedforward as ff
import feedforward.functional as F

SIZES = [784, 256, 256, 10]
BATCH = 128
LR = 0.01


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=BATCH)
    return X, y


# ------------------------------------------------------------ feedforward
def ff_step_fn(X, y):
    net = ff.nn.MLP(SIZES, activation="relu", rng=0)
    params = net.parameters()
    x = ff.Tensor(X)

    def step():
        net.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
        return loss

    return step


# ---------------------------------------------------------------- PyTorch
def torch_step_fn(X, y):
    try:
        import torch
    except ImportError as exc:  # torch is a benchmark extra, not a dependency
        raise ImportError("the benchmark compares against PyTorch: pip install feedforward[bench]") from exc

    from workers import torch_mlp  # benchmarks/ is the script's directory: on sys.path

    torch.manual_seed(0)
    net = torch_mlp(torch, SIZES)
    params = list(net.parameters())
    x, t = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(net(x), t)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(LR * p.grad)
        return loss

    return step


# ------------------------------------------------- hand-written NumPy step
def numpy_step_fn(X, y):
    """The reference a tape-based engine is measured against: every gradient written out by hand."""
    rng = np.random.default_rng(0)
    Ws, bs = [], []
    for k in range(len(SIZES) - 1):
        limit = np.sqrt(6.0 / SIZES[k])
        Ws.append(rng.uniform(-limit, limit, size=(SIZES[k], SIZES[k + 1])).astype(np.float32))
        bs.append(np.zeros(SIZES[k + 1], dtype=np.float32))
    rows = np.arange(BATCH)

    def step():
        hs = [X]
        for W, b in zip(Ws[:-1], bs[:-1]):
            z = hs[-1] @ W
            z += b
            np.maximum(z, 0, out=z)
            hs.append(z)
        z = hs[-1] @ Ws[-1]
        z += bs[-1]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        g = p
        g[rows, y] -= 1
        g /= BATCH
        for k in range(len(Ws) - 1, -1, -1):
            gW = hs[k].T @ g
            gb = g.sum(axis=0)
            if k:
                g = (g @ Ws[k].T) * (hs[k] > 0)
            Ws[k] -= LR * gW
            bs[k] -= LR * gb
        return loss

    return step


def time_per_step(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def adam_vs_sgd(repeats: int, steps: int) -> dict:
    """Median time per step of ``ff.fit`` with Adam and with SGD (784-256-128-10, batch 32)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32 * steps, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=len(X))

    def epoch(optimizer):
        net = ff.nn.MLP([784, 256, 128, 10], activation="relu", output="categorical", rng=0)
        t0 = time.perf_counter()
        ff.fit(net, X, y, optimizer=optimizer, max_epochs=1, batch_size=32, train_eval="batches", rng=0)
        return (time.perf_counter() - t0) / steps

    samples = {"sgd": [], "adam": []}
    for name in samples:
        epoch(name)  # warm-up
    for _ in range(repeats):
        for name in samples:
            samples[name].append(epoch(name))
    us = {name: 1e6 * statistics.median(s) for name, s in samples.items()}
    print(f"ff.fit, MLP 784-256-128-10 ReLU, batch 32, float32; median of {repeats} epochs of {steps} steps")
    for name, value in us.items():
        print(f"  {name:<5} {value:8.0f} us/step")
    print(f"  ratio adam / sgd: {us['adam'] / us['sgd']:.2f}")
    return us


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per framework first")
    parser.add_argument("--steps", type=int, default=50, help="steps per timed repetition")
    parser.add_argument("--repeats", type=int, default=9, help="timed repetitions (the median is reported)")
    parser.add_argument("--adam", action="store_true", help="time ff.fit's Adam step against its SGD step")
    args = parser.parse_args(argv)
    if args.adam:
        return adam_vs_sgd(args.repeats, args.steps)

    X, y = make_data()
    steps = {"numpy": numpy_step_fn(X, y), "feedforward": ff_step_fn(X, y), "torch": torch_step_fn(X, y)}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    samples = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            samples[name].append(time_per_step(step, args.steps))
    us = {name: 1e6 * statistics.median(s) for name, s in samples.items()}

    import torch

    print(f"one training step, MLP {'-'.join(map(str, SIZES))} ReLU, batch {BATCH}, float32, SGD")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print(f"median of {args.repeats} x {args.steps} steps, after {args.warmup} warm-up steps")
    for name, value in us.items():
        spread = 1e6 * (max(samples[name]) - min(samples[name]))
        print(f"  {name:<12} {value:8.0f} us/step   (min-max spread {spread:.0f} us)")
    print(f"  ratio feedforward / torch: {us['feedforward'] / us['torch']:.2f}")
    print(f"  ratio feedforward / numpy: {us['feedforward'] / us['numpy']:.2f}")
    return us


if __name__ == "__main__":
    main()
