"""Plug your own score and selection rule into UNSEEN.

A scorer is any function ``func(records, **params)`` of the
:class:`skunseen.scores.ScoringRecords` of one scoring model on the rows it
scores (held out, for UNSEEN) that returns one importance per row, higher
meaning harder / more informative. It reads

* ``records.proba`` (final class probabilities) and ``records.y`` (encoded
  labels) for any estimator, and
* ``records.epoch(name)``, one ``(n_samples, n_epochs)`` array per
  statistic in :data:`skunseen.scores.EPOCH_STATISTICS`, for skorch nets
  (register such a scorer with ``needs_dynamics=True``).

A selection rule is ``func(scores, n_select, rng, **params) -> positions``;
the class budgets around it are shared by every rule.

This script registers two scorers and one selector, runs them through
:class:`skunseen.UnseenPruner` next to a built-in scorer, and checks the
custom score against a plain loop.

Run::

    python examples/custom_scorer.py
    python examples/custom_scorer.py --smoke
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skunseen import UnseenPruner
from skunseen.models import make_net
from skunseen.scores import available_scorers, register_scorer
from skunseen.selection import available_selectors, register_selector


def confidence_gap(records, power=1.0):
    """1 - max_k p_k: how unsure the model is, whatever the label (final output)."""
    return (1.0 - records.proba.max(axis=1)) ** power


def slow_learning(records, first=None):
    """1 - mean over the first epochs of p_y: samples learned late score high.

    A dynamics score: it reads the per-epoch probability of the label.
    """
    target = records.epoch("target_proba")  # (n_samples, n_epochs)
    return 1.0 - target[:, :first].mean(axis=1)


def hard_then_random(scores, n_select, rng, hard_fraction=0.5):
    """Half of the budget to the hardest samples, the rest uniformly from the others."""
    order = np.argsort(-scores, kind="stable")
    n_hard = int(round(hard_fraction * n_select))
    rest = order[n_hard:]
    return np.concatenate([order[:n_hard], rng.choice(rest, n_select - n_hard, replace=False)])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 500 samples, 2 epochs, 2 folds")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # overwrite=True lets the script run twice in one process (e.g. a notebook).
    register_scorer("confidence_gap", confidence_gap, overwrite=True)
    register_scorer("slow_learning", slow_learning, needs_dynamics=True, overwrite=True)
    register_selector("hard_then_random", hard_then_random, overwrite=True)
    print(f"scorers: {available_scorers()}")
    print(f"selectors: {available_selectors()}")

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    folds = 5
    if args.smoke:
        X, y = X[:500], y[:500]
        args.epochs, folds = 2, 2  # slow_learning needs per-epoch records
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    net = make_net("mlp", input_shape=X.shape[1:], n_classes=10, device=args.device,
                   max_epochs=args.epochs)

    runs = [
        ("el2n", None, "ccs", None),
        ("confidence_gap", {"power": 2.0}, "ccs", None),
        ("slow_learning", {"first": max(1, args.epochs // 2)}, "hard_then_random",
         {"hard_fraction": 0.3}),
        # A callable works too, without registering it (final-output scorers only).
        (confidence_gap, None, "moderate", None),
    ]
    for scorer, scorer_params, selector, selector_params in runs:
        pruner = UnseenPruner(net, scorer=scorer, scorer_params=scorer_params,
                              selector=selector, selector_params=selector_params,
                              keep=args.keep, cv=folds, random_state=args.seed)
        X_core, y_core = pruner.fit_resample(X_train, y_train)
        accuracy = LogisticRegression(max_iter=1000).fit(X_core, y_core).score(X_test, y_test)
        name = getattr(scorer, "__name__", scorer)
        print(f"{name:<15} {selector:<17} score std {pruner.scores_.std():.3f}  "
              f"test accuracy {accuracy:.3f}")

    # The out-of-fold probabilities give the confidence gap back by hand.
    pruner = UnseenPruner(net, scorer="confidence_gap", keep=args.keep, cv=folds,
                          random_state=args.seed).fit(X_train, y_train)
    by_hand = np.array([1.0 - max(row) for row in pruner.oof_proba_])
    print(f"confidence_gap equals the plain loop on oof_proba_: "
          f"{np.allclose(by_hand, pruner.scores_)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
