"""One peer, one workload, one process: ``python benchmarks/workers.py PEER WORKLOAD [JSON]``.

Prints one JSON line: ``{"seconds": ..., "per": "epoch"|"step", "peak_mb": ...}``.
``compare.py`` starts one of these per peer and repetition, so that thread
pools and allocator state of one library never touch another's timings.

Peers: ``ff`` (this library through its public training loop, ``ff.fit``, recording the
training loss as the mean of the epoch's minibatch losses like scikit-learn's ``loss_curve_``:
``train_eval="batches"``), ``ff_full`` (``ff.fit`` with its defaults: ``J(w)``, the accuracy
and ``||grad J(w)||`` over the whole training set after every epoch, the lecture's stopping test), ``torch``
(the loop a PyTorch user writes), ``sklearn`` (``MLPClassifier.fit``),
``numpy`` (a hand-written forward/backward, the floor for a NumPy engine),
``gemm`` (only the matrix products of the same training run: the lower bound).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
import warnings

import numpy as np

LR = 0.01


# --------------------------------------------------------------------- data
def load_data(spec: dict):
    """(X float32 (n, d), y int64 (n,)) for a workload."""
    name = spec["data"]
    rng = np.random.default_rng(0)
    if name == "fashion":
        from feedforward.data import load_fashion_mnist

        try:
            ds = load_fashion_mnist()
            return np.ascontiguousarray(ds.X, dtype=np.float32), ds.y.astype(np.int64), "fashion-mnist"
        except FileNotFoundError:  # Debian's package not installed: same shape, synthetic
            name = "synthetic"
    if name == "xor":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        return X, np.array([0, 1, 1, 0]), "xor"
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.data / 16).astype(np.float32), d.target.astype(np.int64), "digits"
    n, d, k = spec["n"], spec["sizes"][0], spec["sizes"][-1]
    # Drawn in float32 directly: a float64 draw cast afterwards would set the process's peak
    # memory before training starts, and the memory workload would measure the data, not training.
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, k, size=n)
    return X, y, "synthetic"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so the peak counts training only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------- peers
def run_ff(spec, X, y, train_eval="batches"):
    import feedforward as ff

    sizes, epochs = spec["sizes"], spec.get("epochs", 1)
    output = "bernoulli" if sizes[-1] == 1 else "categorical"
    yy = y.reshape(-1, 1).astype(np.float32) if output == "bernoulli" else y

    def train(n_epochs, seed=0):
        net = ff.nn.MLP(sizes, activation=spec.get("activation", "relu"), output=output, rng=seed)
        mode = "batch" if spec["batch"] >= len(X) else "minibatch"
        t = time.perf_counter()
        ff.fit(net, X, yy, optimizer="sgd", lr=LR, mode=mode, batch_size=min(spec["batch"], len(X)),
               max_epochs=n_epochs, rng=seed, train_eval=train_eval, **spec.get("ff_options", {}))
        return time.perf_counter() - t

    train(spec.get("warmup_epochs", 1))
    return _median_of(spec, lambda: train(epochs))


def _median_of(spec, timed):
    """The median of ``spec["repeats"]`` timed runs in this process (after the caller's warm-up).

    The machine is shared and noisy: one timed run per process let a single stall decide a
    round. Every peer gets the same treatment.
    """
    return statistics.median(timed() for _ in range(spec.get("repeats", 3)))


def _time_classifier_fit(MLPClassifier, spec, X, y):
    """Warm up, then time ``MLPClassifier(...).fit`` with scikit-learn's parameter names (both libraries)."""
    sizes = spec["sizes"]

    def train():
        clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="sgd", batch_size=spec["batch"],
                            learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=spec.get("epochs", 1),
                            tol=0.0, n_iter_no_change=10**9, shuffle=True, random_state=0)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter reached: ConvergenceWarning by design
            clf.fit(X, y)
        return time.perf_counter() - t

    train()
    return _median_of(spec, train)


def run_ff_estimator(spec, X, y):
    from feedforward.estimators import MLPClassifier

    return _time_classifier_fit(MLPClassifier, spec, X, y)


def run_sklearn(spec, X, y):
    from sklearn.neural_network import MLPClassifier

    return _time_classifier_fit(MLPClassifier, spec, X.astype(spec.get("sklearn_dtype", "float32")), y)


def torch_mlp(torch, sizes):
    """The same ReLU MLP in PyTorch: Linear layers with ReLU between them."""
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def run_torch(spec, X, y):
    import torch

    torch.manual_seed(0)
    if spec.get("torch_threads"):
        # Tiny networks: one thread is PyTorch's fastest setting, and it does not stall when
        # other processes oversubscribe the cores, as its default thread pool does (figure in
        # benchmarks/README.md).
        torch.set_num_threads(spec["torch_threads"])
    sizes, batch = spec["sizes"], spec["batch"]
    binary = sizes[-1] == 1
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.float32).reshape(-1, 1)) if binary else torch.from_numpy(y)
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits if binary else torch.nn.functional.cross_entropy

    def train(n_epochs):
        net = torch_mlp(torch, sizes)
        opt = torch.optim.SGD(net.parameters(), lr=LR)
        n = len(Xt)
        t = time.perf_counter()
        full = batch >= n  # full batch: no shuffling, as a PyTorch user would write it
        for _ in range(n_epochs):
            perm = None if full else torch.randperm(n)
            for i in range(0, n, batch):
                xb, yb = (Xt, yt) if full else (Xt[perm[i:i + batch]], yt[perm[i:i + batch]])
                opt.zero_grad()
                loss = loss_fn(net(xb), yb)
                loss.backward()
                opt.step()
        return time.perf_counter() - t

    train(spec.get("warmup_epochs", 1))
    return _median_of(spec, lambda: train(spec.get("epochs", 1)))


def _numpy_params(sizes, rng):
    Ws = [rng.uniform(-1, 1, (a, b)).astype(np.float32) * np.float32(np.sqrt(6 / (a + b)))
          for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    return Ws, bs


def run_numpy(spec, X, y):
    """A hand-written forward/backward: what an expert writes without an engine."""
    sizes, batch = spec["sizes"], spec["batch"]
    binary = sizes[-1] == 1

    def train(n_epochs):
        rng = np.random.default_rng(0)
        Ws, bs = _numpy_params(sizes, rng)
        n = len(X)
        t = time.perf_counter()
        for _ in range(n_epochs):
            perm = rng.permutation(n)
            for i in range(0, n, batch):
                if batch >= n:
                    xb, yb = X, y
                else:
                    idx = perm[i:i + batch]
                    xb, yb = X[idx], y[idx]
                hs = [xb]
                for W, b in zip(Ws[:-1], bs[:-1]):
                    h = np.dot(hs[-1], W)
                    h += b
                    np.maximum(h, 0, out=h)
                    hs.append(h)
                z = np.dot(hs[-1], Ws[-1])
                z += bs[-1]
                m = len(xb)
                if binary:
                    g = 1 / (1 + np.exp(-z))
                    g -= yb.reshape(-1, 1)
                else:
                    z -= z.max(axis=1, keepdims=True)
                    np.exp(z, out=z)
                    z /= z.sum(axis=1, keepdims=True)
                    z[np.arange(m), yb] -= 1
                    g = z
                g /= m
                for k in range(len(Ws) - 1, -1, -1):
                    gW = np.dot(hs[k].T, g)  # np.dot, not @: matmul is slow when a side is 1 (README)
                    gb = g.sum(axis=0)
                    if k:
                        g = np.dot(g, Ws[k].T)
                        g *= hs[k] > 0
                    Ws[k] -= LR * gW
                    bs[k] -= LR * gb
        return time.perf_counter() - t

    train(spec.get("warmup_epochs", 1))
    return _median_of(spec, lambda: train(spec.get("epochs", 1)))


def run_gemm(spec, X, y):
    """Only the matrix products of the same run (forward, dW, and dX except the input layer)."""
    sizes, batch, n = spec["sizes"], spec["batch"], len(X)
    rng = np.random.default_rng(0)
    Ws, _ = _numpy_params(sizes, rng)
    hs = [np.ascontiguousarray(X[:batch])] + [rng.standard_normal((min(batch, n), s)).astype(np.float32)
                                             for s in sizes[1:]]
    steps = -(-n // batch) * spec.get("epochs", 1)

    # Outputs written into buffers made once (out=): no allocation or page faults in the bound,
    # whose large weight gradients would otherwise be fresh multi-MiB arrays every step.
    outs = [(np.empty((len(hs[k]), W.shape[1]), np.float32), np.empty(W.shape, np.float32),
             np.empty((len(hs[k]), W.shape[0]), np.float32)) for k, W in enumerate(Ws)]

    def products():
        for k, W in enumerate(Ws):
            fwd, dW, dh = outs[k]
            np.dot(hs[k], W, out=fwd)  # forward (np.dot: matmul is slow on a one-row batch, README)
            g = hs[k + 1]
            np.dot(hs[k].T, g, out=dW)  # dL/dW
            if k:
                np.dot(g, W.T, out=dh)  # dL/dh, skipped for the input layer

    for _ in range(20):
        products()

    def timed():
        t = time.perf_counter()
        for _ in range(steps):
            products()
        return time.perf_counter() - t

    return _median_of(spec, timed)


def run_ff_full(spec, X, y):
    """ff.fit with its default end-of-epoch evaluation (the lecture's J(w) over the whole set)."""
    return run_ff(spec, X, y, train_eval=None)


PEERS = {"ff": run_ff, "ff_full": run_ff_full, "ff_estimator": run_ff_estimator, "sklearn": run_sklearn, "torch": run_torch,
         "numpy": run_numpy, "gemm": run_gemm}


IMPORTS = {"ff": ["feedforward", "feedforward.training"], "ff_full": ["feedforward", "feedforward.training"],
           "ff_estimator": ["feedforward.estimators", "sklearn"],
           "sklearn": ["sklearn.neural_network"], "torch": ["torch"], "numpy": [], "gemm": []}


def main(argv):
    import importlib

    peer, spec = argv[0], json.loads(argv[1])
    for name in IMPORTS[peer]:  # import first: peak memory counts training, not libraries
        importlib.import_module(name)
    X, y, source = load_data(spec)
    reset_peak()
    base = rss_mb()
    seconds = PEERS[peer](spec, X, y)
    steps = -(-len(X) // spec["batch"]) * spec.get("epochs", 1)
    print(json.dumps({
        "peer": peer, "seconds": seconds, "data": source, "n": len(X), "steps": steps,
        "per_step_us": seconds / steps * 1e6, "peak_extra_mb": max(peak_mb() - base, 0.0),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
