"""Data compression: an MLP autoencoder with a bottleneck, against PCA (L-APP-4)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 95
TITLE = "Application: compressing digits with an autoencoder"
QUOTE = (
    '人工神经网络的应用: …… 数据压缩 …… 自动编码机 (Hinton and Salakhutdinov 2006)',
    'Applications of artificial neural networks: ... data compression ... autoencoders (Hinton and '
    'Salakhutdinov 2006).',
)
CLAIM = (
    "Data compression: an MLP trained to reproduce its input through a narrow hidden layer (the code) "
    "compresses the data; the reconstruction error falls as the code grows. PCA, the best linear "
    "compression, is the reference at the same code size. Measured on digits: the non-linear code beats "
    "PCA at the smallest code; at the largest code (k = 32) it needs the full run's "
    "training: after the quick run's 100 epochs PCA is still ahead there, after the full run's 300 the "
    "autoencoder is ahead at every code size (L-APP-4)."
)

HIDDEN = 128


def autoencoder(k: int, seed: int = 0):
    """``64 -> 128 -> k -> 128 -> 64``: ELU layers around a linear code of size ``k``, linear output."""
    import feedforward as ff

    return ff.nn.MLP([64, HIDDEN, k, HIDDEN, 64], activation=["elu", "identity", "elu"], output="gaussian",
                     rng=seed)


def pca_reconstruct(X_train, X, k):
    """Project ``X`` on the top-``k`` principal directions of ``X_train`` and map back."""
    mean = X_train.mean(axis=0)
    _, _, Vt = np.linalg.svd(X_train - mean, full_matrices=False)
    V = Vt[:k]
    return (X - mean) @ V.T @ V + mean


def run(out_dir, quick: bool = False) -> dict:
    import feedforward as ff
    from feedforward.data import load_digits, train_test_split

    ds = load_digits()  # pixels in [0, 1]
    X_tr, X_te, _, y_te = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=0)
    X_tr64, X_te64 = X_tr.astype(np.float64), X_te.astype(np.float64)
    sizes = (2, 8, 32) if quick else (2, 4, 8, 16, 32)
    epochs = 100 if quick else 300
    ae_err, pca_err, recon, seconds = {}, {}, {}, 0.0
    for k in sizes:
        net = autoencoder(k)
        start = time.perf_counter()
        ff.fit(net, X_tr, X_tr, optimizer="adam", lr=1e-3, batch_size=64, max_epochs=epochs, rng=0)
        seconds += time.perf_counter() - start
        with ff.no_grad():
            rec = net(ff.Tensor(X_te)).data.astype(np.float64)
        p = pca_reconstruct(X_tr64, X_te64, k)
        ae_err[k] = float(np.mean((rec - X_te64) ** 2))
        pca_err[k] = float(np.mean((p - X_te64) ** 2))
        recon[k] = (rec, p)

    # Figure 1: error vs code size.
    fig, ax = _plot.figure(size=(6.0, 4.2))
    ax.plot(sizes, [ae_err[k] for k in sizes], marker="o", label="MLP autoencoder", color=_plot.color("autoencoder"))
    ax.plot(sizes, [pca_err[k] for k in sizes], marker="s", label="PCA", color=_plot.color("PCA"))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.set_xlabel("code size k (numbers per 64-pixel image)")
    ax.set_ylabel("test reconstruction MSE per pixel")
    ax.set_title("Compression error vs code size (digits test set)")
    ax.legend()
    fig1 = _plot.save(fig, out_dir, "autoencoder_error.png")
    # Figure 2: one test image per class, original and reconstructions.
    picks = [int(np.flatnonzero(y_te == c)[0]) for c in range(10)]
    show = [k for k in sizes if k in (2, 8, 32)]
    rows = [("original", X_te64)] + [(f"AE k={k}", recon[k][0]) for k in show] + \
           [(f"PCA k={k}", recon[k][1]) for k in show]
    fig, axes = _plot.figure(len(rows), len(picks), size=(0.8 * len(picks), 0.85 * len(rows)))
    for r, (label, images) in enumerate(rows):
        for c, i in enumerate(picks):
            ax = axes[r, c]
            ax.imshow(np.clip(images[i], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig2 = _plot.save(fig, out_dir, "autoencoder_reconstructions.png")

    errs = [ae_err[k] for k in sizes]
    falling = all(b < a for a, b in zip(errs, errs[1:]))
    wins = [k for k in sizes if ae_err[k] < pca_err[k]]
    ratio = {k: ae_err[k] / pca_err[k] for k in sizes}
    best_k = min(ratio, key=ratio.get)
    summary = (
        f"Digits images (64 pixels in [0, 1]; 1,437 to train, 360 to test) are squeezed through a code of k "
        f"numbers by an MLP 64 -> {HIDDEN} -> k -> {HIDDEN} -> 64 (ELU, linear code and output, squared "
        f"error, Adam, {epochs} epochs; {seconds:.1f} s in all). The test reconstruction error "
        + ("falls at every step as the code grows" if falling else "does not fall at every step")
        + f", from {errs[0]:.4f} (k = {sizes[0]}) to {errs[-1]:.4f} (k = {sizes[-1]}) per pixel. "
        + f"PCA with the same k: {pca_err[sizes[0]]:.4f} to {pca_err[sizes[-1]]:.4f}. "
        + (("The autoencoder beats PCA at every code size"
            if len(wins) == len(sizes) else
            f"The autoencoder beats PCA at k = {', '.join(map(str, wins))} and not at k = "
            f"{', '.join(str(k) for k in sizes if k not in wins)}")
           + f"; its error relative to PCA's is smallest at k = {best_k} ({ratio[best_k]:.2f} of PCA's)."
           if wins else "PCA is better at every code size here.")
    )
    table = ("Test reconstruction MSE per pixel", ["code size k", "compression", "autoencoder", "PCA",
                                                    "AE / PCA"],
             [[k, f"{64 / k:.0f}x", f"{ae_err[k]:.4f}", f"{pca_err[k]:.4f}", f"{ae_err[k] / pca_err[k]:.2f}"]
              for k in sizes])
    smallest = sizes[0]
    largest = sizes[-1]
    checks = {
        "error falls as the code grows": bool(falling),
        f"autoencoder beats PCA at the smallest code (k={smallest})":
            bool(ae_err[smallest] < pca_err[smallest]),
    }
    if quick:
        checks[f"after {epochs} epochs PCA is still better at the largest code (k={largest})"] = bool(
            pca_err[largest] < ae_err[largest])
    else:
        checks[f"after {epochs} epochs the autoencoder beats PCA at every code size"] = len(wins) == len(sizes)
    numbers = {"code_sizes": list(sizes), "ae_mse": [round(ae_err[k], 5) for k in sizes],
               "pca_mse": [round(pca_err[k], 5) for k in sizes], "epochs": epochs,
               "train_seconds": round(seconds, 2)}
    return {"summary": summary, "tables": [table],
            "figures": [("Reconstruction error vs code size", fig1),
                        ("Test digits and their reconstructions from codes of size k", fig2)],
            "checks": checks, "numbers": numbers}
