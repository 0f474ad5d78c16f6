"""Grid-search pruning parameters inside a scikit-learn Pipeline.

:class:`skunseen.PrunedClassifier` prunes the training data in ``fit`` (and
only there) and trains its classifier on the coreset, so ``GridSearchCV`` can
tune ``keep``, the scorer and the selector against the accuracy of the model
trained on the coreset. Each grid point is a full UNSEEN run on the training
part of each CV split: the held-out part is never pruned, never scored.

The second half shows the same pruning as a sampler step of an
imbalanced-learn Pipeline (:class:`skunseen.PruningSampler`), when
imbalanced-learn is installed (``pip install -e ".[imblearn]"``).

Run::

    python examples/pipeline_grid_search.py
    python examples/pipeline_grid_search.py --smoke
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skunseen import PrunedClassifier, PruningSampler, UnseenPruner


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None,
                        help="grid points fitted in parallel (GridSearchCV n_jobs)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 500 samples, a 2-point grid, 2 CV splits")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    if args.smoke:
        X, y = X[:500], y[:500]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)

    # A fast scikit-learn classifier scores the samples (final-output scorers
    # only); a skorch net works the same way and adds the dynamics scorers.
    scorer_model = LogisticRegression(max_iter=300)
    model = make_pipeline(
        StandardScaler(),
        PrunedClassifier(UnseenPruner(scorer_model, cv=3, random_state=args.seed),
                         LogisticRegression(max_iter=1000)),
    )
    if args.smoke:
        grid = {"prunedclassifier__pruner__keep": [0.3, 0.7]}
        cv = 2
    else:
        grid = {
            "prunedclassifier__pruner__keep": [0.3, 0.5, 0.7],
            "prunedclassifier__pruner__scorer": ["el2n", "margin"],
            "prunedclassifier__pruner__selector": ["ccs", "hard", "moderate"],
        }
        cv = 3
    start = time.perf_counter()
    search = GridSearchCV(model, grid, cv=cv, n_jobs=args.jobs).fit(X_train, y_train)
    print(f"grid search over {len(search.cv_results_['params'])} settings x {cv} splits "
          f"in {time.perf_counter() - start:.1f} s")
    ranked = np.argsort(search.cv_results_["rank_test_score"])
    for i in ranked[:5]:
        params = {k.rsplit("__", 1)[-1]: v for k, v in search.cv_results_["params"][i].items()}
        print(f"  {search.cv_results_['mean_test_score'][i]:.3f}  {params}")
    best = search.best_estimator_
    print(f"best: {search.best_params_}; test accuracy {best.score(X_test, y_test):.3f} "
          f"trained on {len(best[-1].sample_indices_)} of {len(y_train)} samples")

    try:
        from imblearn.pipeline import make_pipeline as make_imb_pipeline
    except ImportError:
        print("imbalanced-learn is not installed: skipping the PruningSampler part")
        return 0
    keep = search.best_params_["prunedclassifier__pruner__keep"]
    sampler_pipe = make_imb_pipeline(
        StandardScaler(),
        PruningSampler(UnseenPruner(scorer_model, keep=keep, cv=3, random_state=args.seed)),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    print(f"imblearn Pipeline with PruningSampler(keep={keep}): test accuracy "
          f"{sampler_pipe.score(X_test, y_test):.3f} "
          f"({len(sampler_pipe[1].sample_indices_)} training samples kept)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
