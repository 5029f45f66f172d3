"""Pattern classification on scikit-learn's 8x8 handwritten digits (L-APP-1).

Also home of :func:`classify`, the recipe shared by the three classification
applications (digits, MNIST subset, Fashion-MNIST): standardise with the
training part's statistics, train an MLP with a softmax output, report test
accuracy, training time and a confusion matrix.
"""

from __future__ import annotations

import time

import numpy as np

from ..training.metrics import confusion_matrix
from . import _plot
from ._plot import plot_confusion

ORDER = 90
TITLE = "Application: handwritten digits (8x8)"
QUOTE = (
    '模式分类/识别 …… 神经网络“学习”不同输入和输出模式之间的关系',
    'Pattern classification/recognition ... the network "learns" the relation between input patterns and '
    'output patterns.',
)
CLAIM = (
    "Pattern classification is a typical application of feedforward networks: an MLP maps the input "
    "pattern x = (x_1, ..., x_m) to its class. On scikit-learn's 1,797 real 8x8 digits a small MLP reaches "
    "at least 97% test accuracy (L-APP-1)."
)

BAR = 0.97


def plot_mistakes(X, y_true, y_pred, labels, image_shape, out_dir, filename, title, n=12) -> str | None:
    """A row of misclassified test images, each titled ``true -> predicted``."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:n]
    if len(wrong) == 0:
        return None
    fig, axes = _plot.figure(1, len(wrong), size=(1.2 * len(wrong), 1.6))
    for ax, i in zip(np.atleast_1d(axes), wrong):
        ax.imshow(X[i].reshape(image_shape), cmap="gray_r")
        ax.set_title(f"{str(labels[y_true[i]])[:7]}\n-> {str(labels[y_pred[i]])[:7]}", fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _plot.save(fig, out_dir, filename)


def classify(X_tr, y_tr, X_te, y_te, *, hidden=(128, 64), activation="relu", epochs=40, batch_size=32,
             lr=1e-3, lr_schedule=None, weight_decay=0.0, seed=0, standardize=True) -> dict:
    """Train an MLP classifier and evaluate it on the test part.

    Returns ``{"model", "history", "accuracy", "pred", "seconds", "epochs"}``;
    ``seconds`` is the training wall time.
    """
    import feedforward as ff
    from feedforward.data import Standardizer

    if standardize:
        scaler = Standardizer().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    sizes = [X_tr.shape[1], *hidden, n_classes]
    net = ff.nn.MLP(sizes, activation=activation, output="categorical", rng=seed)
    start = time.perf_counter()
    history = ff.fit(net, X_tr, y_tr, optimizer="adam", lr=lr, batch_size=batch_size, max_epochs=epochs,
                     lr_schedule=lr_schedule, weight_decay=weight_decay, rng=seed,
                     train_eval="loss")  # the reports quote J(w) and the training accuracy per epoch
    seconds = time.perf_counter() - start
    pred = net.predict(X_te)
    return {"model": net, "history": history, "accuracy": float(np.mean(pred == y_te)), "pred": pred,
            "seconds": seconds, "epochs": history.epochs, "activation": activation}


def report_classification(name, ds_labels, X_te_raw, y_te, fit, image_shape, out_dir, prefix, bar, extra=""):
    """The summary, table, figures, checks and numbers of one classification application."""
    cm = confusion_matrix(y_te, fit["pred"], len(ds_labels))
    figures = [(f"{name}: confusion matrix on the test set", plot_confusion(
        cm, ds_labels, out_dir, f"{prefix}_confusion.png", f"{name} test set"))]
    title = f"{name}: misclassified test images (true -> predicted)"
    mistakes = plot_mistakes(X_te_raw, y_te, fit["pred"], ds_labels, image_shape, out_dir,
                             f"{prefix}_mistakes.png", title)
    if mistakes:
        figures.append((f"{name}: some misclassified test images", mistakes))
    per_class = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    worst = int(np.argmin(per_class))
    off = cm - np.diag(np.diag(cm))
    pairs = [divmod(int(i), len(cm)) for i in np.argsort(-off, axis=None)[:3] if off.flat[i] > 0]
    confused = ", ".join(f"{ds_labels[a]} -> {ds_labels[b]} ({off[a, b]})" for a, b in pairs)
    net = fit["model"]
    summary = (
        f"An MLP {' -> '.join(map(str, net.sizes))} ({net.num_parameters():,} parameters, "
        f"{fit['activation']} hidden units, "
        f"softmax output, Adam) trained for {fit['epochs']} epochs in {fit['seconds']:.1f} s reaches "
        f"**{fit['accuracy']:.2%} test accuracy** on {len(y_te):,} held-out images (bar: {bar:.0%}). "
        f"The hardest class is {ds_labels[worst]!s} ({per_class[worst]:.1%} right); the most frequent "
        f"confusions (true -> predicted) are {confused or 'none'}.{extra}"
    )
    table = ("Test accuracy per class", ["class", "test examples", "accuracy"],
             [[str(ds_labels[c]), int(cm[c].sum()), f"{per_class[c]:.3f}"] for c in range(len(ds_labels))])
    numbers = {"test_accuracy": fit["accuracy"], "train_seconds": round(fit["seconds"], 2),
               "epochs": fit["epochs"], "parameters": net.num_parameters(), "n_test": int(len(y_te)),
               "per_class_accuracy": [round(float(v), 4) for v in per_class]}
    return summary, [table], figures, numbers


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.data import load_digits, train_test_split

    ds = load_digits()
    # 360 test images make one split's accuracy move by 0.28% per image, and splits differ
    # by more than a point: the bar is on the mean over several random stratified splits.
    splits = range(3 if quick else 5)
    fits, tests = [], []
    for split in splits:
        X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=split)
        # The recipe of `feedforward train` with its defaults.
        fits.append(classify(X_tr, y_tr, X_te, y_te, hidden=(128, 64), epochs=40, batch_size=32, seed=0))
        tests.append((X_te, y_te))
    accs = np.array([f["accuracy"] for f in fits])
    X_te, y_te = tests[0]
    summary, tables, figures, numbers = report_classification(
        "digits", ds.target_names, X_te, y_te, fits[0], (8, 8), out_dir, "digits", BAR,
        extra=f" Over {len(accs)} random stratified 80/20 splits the test accuracy is "
              f"**{accs.mean():.2%} ± {accs.std():.2%}** (min {accs.min():.2%}); the figures show split 0.")
    figures.insert(1, ("digits: training loss and accuracy per epoch (split 0)",
                       _plot.save(fits[0]["history"].plot(title="digits: training loss"), out_dir,
                                  "digits_loss.png")))
    tables.insert(0, ("Test accuracy per split", ["split", "test accuracy", "train time (s)"],
                      [[i, f"{f['accuracy']:.4f}", f"{f['seconds']:.2f}"] for i, f in enumerate(fits)]))
    numbers.update(split_accuracies=[round(float(a), 4) for a in accs], mean_test_accuracy=float(accs.mean()),
                   std_test_accuracy=float(accs.std()))
    checks = {f"mean test accuracy over splits >= {BAR:.0%}": bool(accs.mean() >= BAR)}
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
