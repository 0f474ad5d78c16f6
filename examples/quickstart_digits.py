"""Quickstart: prune scikit-learn's digits with UNSEEN and compare coresets.

Scores every training digit with models that never trained on it
(:class:`skunseen.UnseenPruner`, K-fold out-of-fold scores), keeps half of the
training set, and compares it with the conventional "fitting" scores
(:class:`skunseen.FittingPruner`) and with a random half:

* the spread of the scores (standard deviation, and the fraction of samples
  piled up within 1% of the lowest score), and
* the test accuracy of a fresh classifier trained on each coreset.

Run::

    python examples/quickstart_digits.py            # about a minute on 2 CPU cores
    python examples/quickstart_digits.py --smoke    # a few seconds (1 epoch)
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skunseen import FittingPruner, UnseenPruner
from skunseen.models import make_net
from skunseen.selection import select


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=float, default=0.5, help="fraction kept (default 0.5)")
    parser.add_argument("--scorer", default="el2n", help="scorer name (default el2n)")
    parser.add_argument("--selector", default="ccs", help="selector name (default ccs)")
    parser.add_argument("--folds", type=int, default=5, help="K folds (default 5)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per scoring net")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 600 samples, 1 epoch, 3 folds")
    return parser.parse_args(argv)


def spread(scores):
    """Standard deviation, and the share of samples within 1% of the minimum."""
    span = scores.max() - scores.min()
    piled = np.mean(scores <= scores.min() + 0.01 * span) if span > 0 else 1.0
    return scores.std(), piled


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if args.smoke:
        X, y = X[:600], y[:600]
        args.epochs, args.folds = 1, 3
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)

    # The scoring model: a small skorch MLP, cloned once per fold.
    net = make_net("mlp", input_shape=X.shape[1:], n_classes=10, device=args.device,
                   max_epochs=args.epochs)
    common = dict(scorer=args.scorer, selector=args.selector, keep=args.keep,
                  random_state=args.seed)
    pruners = {
        "unseen": UnseenPruner(net, cv=args.folds, **common),
        "fitting": FittingPruner(net, **common),
    }

    print(f"{len(y_train)} training digits, keep {args.keep:.0%}, scorer {args.scorer}, "
          f"selector {args.selector}")
    print(f"{'method':<8} {'score std':>9} {'piled@min':>9} {'test acc':>8} {'seconds':>7}")
    for name, pruner in pruners.items():
        start = time.perf_counter()
        X_core, y_core = pruner.fit_resample(X_train, y_train)
        seconds = time.perf_counter() - start
        clf = LogisticRegression(max_iter=1000).fit(X_core, y_core)
        std, piled = spread(pruner.scores_)
        print(f"{name:<8} {std:9.3f} {piled:9.1%} {clf.score(X_test, y_test):8.3f} "
              f"{seconds:7.1f}")
    # The random baseline: the same class budgets, no scores.
    rows = select(np.zeros(len(y_train)), y_train, round(args.keep * len(y_train)),
                  selector="random", random_state=args.seed)
    clf = LogisticRegression(max_iter=1000).fit(X_train[rows], y_train[rows])
    print(f"{'random':<8} {'-':>9} {'-':>9} {clf.score(X_test, y_test):8.3f} {'-':>7}")
    full = LogisticRegression(max_iter=1000).fit(X_train, y_train).score(X_test, y_test)
    print(f"full training set: test acc {full:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
