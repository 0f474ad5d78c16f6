"""Multi-step UNSEEN ("evaluate and refill") against single-step UNSEEN.

:class:`skunseen.MultiStepUnseenPruner` reaches the budget in steps. Step 1 is
single-step UNSEEN; every later step trains scoring models on the current
coreset only, scores the samples outside it (never seen by those models) and
adds the best of them. The script prints the per-step record (``steps_``) and
the test accuracy of a classifier trained on each coreset.

Run::

    python examples/multistep_selection.py
    python examples/multistep_selection.py --steps 4 --schedule geometric --replace 0.1
    python examples/multistep_selection.py --smoke
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skunseen import MultiStepUnseenPruner, UnseenPruner
from skunseen.models import make_net


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=float, default=0.3, help="final fraction kept")
    parser.add_argument("--steps", type=int, default=3, help="number of steps T")
    parser.add_argument("--schedule", default="linear", choices=["linear", "geometric"])
    parser.add_argument("--replace", type=float, default=0.0,
                        help="fraction of the coreset re-scored and swapped per step")
    parser.add_argument("--class-budget", default="proportional",
                        choices=["proportional", "balanced", "difficulty"])
    parser.add_argument("--scorer", default="el2n")
    parser.add_argument("--selector", default="ccs")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per scoring net")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 600 samples, 1 epoch, 2 folds")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    folds = 5
    if args.smoke:
        X, y = X[:600], y[:600]
        args.epochs, folds = 1, 2
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    net = make_net("mlp", input_shape=X.shape[1:], n_classes=10, device=args.device,
                   max_epochs=args.epochs)
    common = dict(scorer=args.scorer, selector=args.selector, keep=args.keep, cv=folds,
                  class_budget=args.class_budget, random_state=args.seed)
    pruners = {
        "single-step": UnseenPruner(net, **common),
        "multi-step": MultiStepUnseenPruner(net, n_steps=args.steps, schedule=args.schedule,
                                            replace=args.replace, **common),
    }
    for name, pruner in pruners.items():
        start = time.perf_counter()
        X_core, y_core = pruner.fit_resample(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = LogisticRegression(max_iter=1000).fit(X_core, y_core).score(X_test, y_test)
        print(f"{name}: {len(y_core)} of {len(y_train)} kept, test accuracy "
              f"{accuracy:.3f}, {seconds:.1f} s, {len(pruner.task_info_)} scoring models")
        for step in getattr(pruner, "steps_", []):
            print(f"  step {step['step']}: size {step['size']:4d}, "
                  f"+{len(step['added'])} -{len(step['dropped'])}, "
                  f"pool accuracy {step['pool_accuracy']:.3f}, {step['seconds']:.1f} s")
    multi = pruners["multi-step"]
    added = np.bincount(multi.step_added_[multi.step_added_ > 0])[1:]
    print(f"samples of the final coreset added at each step: {added.tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
