"""UNSEEN next to imbalanced-learn's InstanceHardnessThreshold and cleanlab.

All three start from out-of-fold predictions: every sample is judged by a
model that did not train on it. They differ in what they do with them.

1. ``InstanceHardnessThreshold`` (imbalanced-learn) keeps, per class, the
   samples whose out-of-fold probability of their own label is highest.
   That is ``UnseenPruner(estimator, scorer="loss", selector="easy")``:
   the script prunes digits to half with both and counts the rows they share,
   with each library's own folds and with the same folds.
2. cleanlab flags probable label errors from out-of-fold probabilities.
   The script flips 90 labels of digits at random, gives cleanlab the
   pruner's ``oof_proba_``, and compares the flagged rows with the as many
   hardest rows by UNSEEN's ``margin`` score.

Each part runs when its library is installed (``pip install imbalanced-learn
cleanlab``) and says so otherwise. The docs page "Related tools" discusses
the numbers.

Run::

    python examples/related_tools.py --smoke
    python examples/related_tools.py
"""

import argparse
import importlib.util
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from skunseen import UnseenPruner


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flipped", type=int, default=90,
                        help="labels flipped at random for the cleanlab part")
    parser.add_argument("--smoke", action="store_true",
                        help="quicker: logistic regressions of at most 100 iterations")
    return parser.parse_args(argv)


def instance_hardness(X, y, model, seed):
    from imblearn.under_sampling import InstanceHardnessThreshold

    def compare(cv, folds):
        pruner = UnseenPruner(model, scorer="loss", selector="easy", keep=0.5, cv=cv,
                              random_state=seed).fit(X, y)
        kept = pruner.sample_indices_
        # The same number of rows per class as the pruner kept.
        per_class = dict(zip(*np.unique(y[kept], return_counts=True)))
        sampler = InstanceHardnessThreshold(estimator=model, sampling_strategy=per_class,
                                            cv=5, random_state=seed)
        sampler.fit_resample(X, y)
        shared = len(np.intersect1d(kept, sampler.sample_indices_))
        print(f"InstanceHardnessThreshold and UnseenPruner(scorer='loss', selector='easy'), "
              f"{folds}: {shared} of {len(kept)} kept rows shared")

    compare(5, "each with its own folds")
    # imbalanced-learn draws the estimator's seed from random_state, then
    # shuffles StratifiedKFold with what is left of the generator.
    rng = check_random_state(seed)
    rng.randint(np.iinfo(np.int32).max)
    compare(list(StratifiedKFold(5, shuffle=True, random_state=rng).split(X, y)),
            "with the same folds")


def label_issues(X, y, model, seed, n_flipped):
    from cleanlab.filter import find_label_issues

    rng = np.random.RandomState(seed)
    flipped = rng.choice(len(y), n_flipped, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.randint(1, 10, n_flipped)) % 10
    pruner = UnseenPruner(model, scorer="margin", cv=5, random_state=seed).fit(X, noisy)
    flagged = find_label_issues(labels=noisy, pred_probs=pruner.oof_proba_,
                                return_indices_ranked_by="self_confidence")
    # As many of the hardest rows (highest margin importance) over all classes.
    hardest = pruner.set_params(selector="hard", keep=len(flagged), class_budget=None) \
        .fit(X, noisy).sample_indices_
    print(f"{n_flipped} labels flipped: cleanlab flagged {len(flagged)} rows "
          f"({len(np.intersect1d(flagged, flipped))} flipped); UNSEEN's {len(hardest)} "
          f"hardest by margin hold {len(np.intersect1d(hardest, flipped))} flipped; "
          f"{len(np.intersect1d(flagged, hardest))} rows in common")


def _installed(module, package):
    if importlib.util.find_spec(module) is not None:
        return True
    print(f"{package} is not installed (pip install {package}): its part is skipped")
    return False


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    model = LogisticRegression(max_iter=100 if args.smoke else 1000)
    with warnings.catch_warnings():
        # A smoke run stops the regressions early; the comparison still holds.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if _installed("imblearn", "imbalanced-learn"):
            instance_hardness(X, y, model, args.seed)
        if _installed("cleanlab", "cleanlab"):
            label_issues(X, y, model, args.seed, args.flipped)
    print("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
