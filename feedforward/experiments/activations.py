"""The hidden units compared on one real data set, after Xu et al. (2015) (L-ACT-1..5)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 50
TITLE = "Hidden units compared: ReLU, leaky, PReLU, RReLU, ELU, sigmoid, tanh"
QUOTE = (
    '默认采用ReLU，但要谨慎选择学习率 …… 尝试其他的ReLU方式等，也许会获得性能提升',
    'Use ReLU by default, but choose the learning rate carefully ... try other kinds of ReLU, they may '
    'improve performance.',
)
CLAIM = (
    "The lecture's hidden units (Xu et al. 2015, 'Empirical evaluation of rectified activations'): "
    "rectified units train deep networks faster than sigmoid, and the variants with a non-zero slope for "
    "z < 0 (leaky ReLU, PReLU, RReLU) and ELU are at least as good as ReLU. Measured on the same real data, "
    "architecture, optimiser and seeds; mean ± std over seeds."
)

UNITS = ("relu", "leaky_relu", "prelu", "rrelu", "elu", "sigmoid", "tanh")


def run(out_dir, quick: bool = False) -> dict:
    import feedforward as ff
    from feedforward.data import Standardizer, load_digits, load_mnist_5k, train_test_split

    if quick:
        ds, hidden, epochs, seeds, n_test = load_digits(), (64, 64), 15, (0, 1), 0.2
    else:
        ds, hidden, epochs, seeds, n_test = load_mnist_5k(rng=0), (128, 128, 128), 20, (0, 1, 2, 3, 4), 1000
    X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, n_test, stratify=True, rng=0)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    sizes = [X_tr.shape[1], *hidden, 10]
    res = {}
    for unit in UNITS:
        accs, curves, seconds = [], [], []
        for seed in seeds:
            net = ff.nn.MLP(sizes, activation=unit, output="categorical", rng=seed)
            start = time.perf_counter()
            history = ff.fit(net, X_tr, y_tr, optimizer="adam", lr=1e-3, batch_size=64, max_epochs=epochs,
                             train_eval="loss", rng=seed)  # the curves are J(w) at each epoch's end
            seconds.append(time.perf_counter() - start)
            net.eval()  # RReLU: the mean slope at test time
            accs.append(float(np.mean(net.predict(X_te) == y_te)))
            curves.append(history["train_loss"])
        res[unit] = {"acc": np.array(accs), "loss": np.array(curves), "seconds": float(np.mean(seconds))}

    fig, axes = _plot.figure(1, 2, size=(11, 4.0))
    ax = axes[0]
    means = [res[u]["acc"].mean() for u in UNITS]
    ax.bar(range(len(UNITS)), means, yerr=[res[u]["acc"].std() for u in UNITS], capsize=3,
           color=[_plot.color(u) for u in UNITS])
    ax.set_xticks(range(len(UNITS)), UNITS, rotation=30, ha="right")
    lo = min(means) - 0.03
    ax.set_ylim(max(0.0, lo), min(1.0, max(means) + 0.02))
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_title(f"{ds.name}: test accuracy by hidden unit")
    ax = axes[1]
    for u in UNITS:
        ax.plot(np.arange(1, epochs + 1), res[u]["loss"].mean(axis=0), label=u, color=_plot.color(u),
                linestyle="-" if u not in ("sigmoid", "tanh") else "--")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title("Training loss per epoch")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "activations.png")

    rows = [[u, f"{res[u]['acc'].mean():.4f} ± {res[u]['acc'].std():.4f}",
             f"{res[u]['loss'][:, 0].mean():.4f}", f"{res[u]['loss'][:, -1].mean():.2e}",
             f"{res[u]['seconds']:.2f}"] for u in UNITS]
    acc = {u: res[u]["acc"].mean() for u in UNITS}
    final = {u: res[u]["loss"][:, -1].mean() for u in UNITS}
    ranking = sorted(UNITS, key=lambda u: -acc[u])
    leaky_family = ("leaky_relu", "prelu", "rrelu", "elu")
    relu_sd = res["relu"]["acc"].std()
    not_worse = [u for u in leaky_family if acc[u] >= acc["relu"] - max(relu_sd, 0.002)]
    rectifiers = ("relu",) + leaky_family
    rect_span = max(acc[u] for u in rectifiers) - min(acc[u] for u in rectifiers)
    rect_sd = float(np.mean([res[u]["acc"].std() for u in rectifiers]))
    summary = (
        f"{ds.name}: {len(y_tr):,} training and {len(y_te):,} test images; an MLP "
        f"{' -> '.join(map(str, sizes))} with each hidden unit in turn (default initialisation for the unit: "
        f"He for rectifiers, Glorot for sigmoid and tanh), Adam, {epochs} epochs, seeds {list(seeds)} "
        "(the same initialisation seeds and minibatch orders for every unit). Ranking by mean test "
        "accuracy: "
        + ", ".join(f"{u} {acc[u]:.2%}" for u in ranking) + ". "
        + ("Sigmoid units train slowest: their training loss after the last epoch is the highest "
           f"({final['sigmoid']:.2e} against {final['relu']:.2e} for ReLU). "
           if final["sigmoid"] == max(final.values()) else
           f"Sigmoid's final training loss is {final['sigmoid']:.2e} against {final['relu']:.2e} for ReLU. ")
        + (f"Of the units with a non-zero slope below zero, {', '.join(not_worse)} "
           f"{'are' if len(not_worse) > 1 else 'is'} within one standard deviation of ReLU or better"
           + ("" if len(not_worse) == len(leaky_family) else
              f"; {', '.join(u for u in leaky_family if u not in not_worse)} fall behind")
           + ". " if not_worse else "None of the leaky variants matches ReLU here. ")
        + (f"The rectifiers' mean accuracies span {rect_span:.2%}, against a typical seed-to-seed standard "
           f"deviation of {rect_sd:.2%}"
           + (": on this MLP task they are indistinguishable. " if rect_span <= 2 * rect_sd else ". ")
           + "Xu et al. measured their gains with convolutional networks on CIFAR and the NDSB data.")
    )
    checks = {
        "every unit learns (test accuracy > 85%)": all(acc[u] > 0.85 for u in UNITS),
        "rectifiers reach a lower training loss than sigmoid": all(final[u] < final["sigmoid"]
                                                                   for u in ("relu",) + leaky_family),
    }
    numbers = {u: {"test_accuracy": [round(float(a), 4) for a in res[u]["acc"]],
                   "mean": round(float(acc[u]), 4), "std": round(float(res[u]["acc"].std()), 4),
                   "final_train_loss": float(final[u]), "seconds_per_run": round(res[u]["seconds"], 2)}
               for u in UNITS}
    numbers["data"] = ds.name
    return {"summary": summary,
            "tables": [("Test accuracy (mean ± std over seeds), training loss after the first and last "
                        "epoch, time per run",
                        ["unit", "test accuracy", "loss epoch 1", "loss last epoch", "seconds"], rows)],
            "figures": [("Test accuracy and training loss by hidden unit", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
