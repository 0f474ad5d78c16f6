"""UNSEEN vs fitting-based pruning vs random on CIFAR-10 (or CIFAR-100).

For every seed, the script

1. scores a training pool twice with the same small CNN, scorer and selector:
   out-of-fold (:class:`skunseen.UnseenPruner`, K folds) and with models
   trained on the whole pool (:class:`skunseen.FittingPruner`);
2. for every keep ratio, selects a coreset from each score (and a random one
   with the same class budgets);
3. trains a fresh model on each coreset and reports its test accuracy.

Scores do not depend on the keep ratio: the pruners keep every finished
scoring model in ``memory`` (a temporary directory unless
``--memory`` is given), so refitting them for the next ratio only
reruns the selection. ``--memory`` also makes an interrupted run
resumable.

Data (``--data``, needed): CIFAR-10 or CIFAR-100 on your disk, which this
project does not ship. Either the official python version from
https://www.cs.toronto.edu/~kriz/cifar.html, extracted (``tar xzf
cifar-10-python.tar.gz`` gives ``cifar-10-batches-py/``; torchvision's
``CIFAR10(root, download=True)`` leaves the same folder under ``root``),
read with ``--dataset cifar10`` (or ``cifar100``) and ``--data`` the folder
that holds it; or the images as files in ImageFolder layout
(``train/<class>/*.jpg``, ``test/<class>/*.jpg``), as a folder or a
``.tar``/``.tar.gz`` archive, read with the default ``--dataset archive``.

Run::

    python examples/cifar10_unseen_vs_fitting.py --dataset cifar10 --data DIR --smoke
    python examples/cifar10_unseen_vs_fitting.py --dataset cifar10 --data DIR  # CPU: ~1 h
    python examples/cifar10_unseen_vs_fitting.py --data cifar10-jpeg.tar.gz --device cuda \\
        --limit 0 --score-epochs 30 --eval-model resnet18 --eval-epochs 200 --seeds 0 1 2
"""

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from skunseen import FittingPruner, UnseenPruner
from skunseen.datasets import load_cifar10, load_cifar100, load_image_archive
from skunseen.models import make_net
from skunseen.selection import select

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="archive", choices=["archive", "cifar10", "cifar100"],
                        help="archive: ImageFolder-layout directory or tar(.gz) at --data; "
                             "cifar10/cifar100: torchvision's python files under --data")
    parser.add_argument("--data", type=Path, default=None,
                        help="archive: ImageFolder-layout directory or tar(.gz); "
                             "cifar10/cifar100: the folder holding cifar-10-batches-py/ "
                             "or cifar-100-python/ (see the module docstring)")
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".cache" / "datasets",
                        help="where decoded archive arrays are cached")
    parser.add_argument("--limit", type=int, default=10000,
                        help="training pool size, stratified (0: the whole training set)")
    parser.add_argument("--test-limit", type=int, default=0,
                        help="test images, stratified (0: the whole test set)")
    parser.add_argument("--keep", type=float, nargs="+", default=[0.7, 0.5, 0.3, 0.1])
    parser.add_argument("--scorer", default="el2n")
    parser.add_argument("--selector", default="ccs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--score-model", default="cnn", choices=["cnn", "resnet18"])
    parser.add_argument("--score-epochs", type=int, default=15)
    parser.add_argument("--eval-model", default="cnn", choices=["cnn", "resnet18"])
    parser.add_argument("--eval-epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--jobs", type=int, default=None, help="folds trained in parallel")
    parser.add_argument("--memory", type=Path, default=None,
                        help="keep the scoring models' records here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write results.json and scores.png here")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 300 training and 200 test images, 1 epoch, 2 folds")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.exists():
        problem = "needs --data PATH" if args.data is None else f"found nothing at {args.data}"
        raise SystemExit(f"{parser.prog} {problem}: CIFAR-10 from "
                         "https://www.cs.toronto.edu/~kriz/cifar.html (python version, "
                         "extracted; --dataset cifar10) or as image files in ImageFolder "
                         "layout (--dataset archive)")
    if args.smoke:
        args.limit, args.test_limit, args.folds = 300, 200, 2
        args.score_epochs = args.eval_epochs = 1
        args.keep, args.seeds, args.cache_dir = [0.5, 0.3], [0], None
    return args


def load(args):
    limits = dict(limit=args.limit or None, test_limit=args.test_limit or None)
    if args.dataset == "archive":
        return load_image_archive(args.data, cache_dir=args.cache_dir, **limits)
    loader = load_cifar10 if args.dataset == "cifar10" else load_cifar100
    return loader(args.data, **limits)


def evaluate(args, X_train, y_train, X_test, y_test, rows, n_classes, seed):
    """Test accuracy of a fresh model trained on ``rows`` of the training pool."""
    net = make_net(args.eval_model, input_shape=X_train.shape[1:], n_classes=n_classes,
                   device=args.device, max_epochs=args.eval_epochs, random_state=seed)
    net.fit(X_train[rows], y_train[rows])
    return float(np.mean(net.predict(X_test) == y_test))


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    X_train, y_train, X_test, y_test = load(args)
    n_classes = len(np.unique(y_train))
    print(f"{len(y_train)} training / {len(y_test)} test images {X_train.shape[1:]}, "
          f"{n_classes} classes, loaded in {time.perf_counter() - start:.1f} s")

    results, histograms = [], {}
    with contextlib.ExitStack() as stack:
        checkpoints = args.memory or stack.enter_context(tempfile.TemporaryDirectory())
        for seed in args.seeds:
            scorer_net = make_net(args.score_model, input_shape=X_train.shape[1:],
                                  n_classes=n_classes, device=args.device,
                                  max_epochs=args.score_epochs)
            common = dict(scorer=args.scorer, selector=args.selector, random_state=seed,
                          n_jobs=args.jobs, memory=checkpoints)
            pruners = {"unseen": UnseenPruner(scorer_net, cv=args.folds, **common),
                       "fitting": FittingPruner(scorer_net, **common)}
            for keep in args.keep:
                coresets = {}
                for name, pruner in pruners.items():
                    # The scoring models train at the first keep ratio only: later
                    # fits read them back from memory (keep and the
                    # selector are not part of a stored model's key).
                    tic = time.perf_counter()
                    pruner.set_params(keep=keep).fit(X_train, y_train)
                    coresets[name] = pruner.sample_indices_
                    histograms.setdefault(name, pruner.scores_)
                    print(f"seed {seed} keep {keep:.0%} {name}: {time.perf_counter() - tic:.1f} s "
                          f"({pruner.n_tasks_resumed_} of {len(pruner.task_info_)} scoring "
                          f"models resumed), score std {pruner.scores_.std():.4f}")
                coresets["random"] = select(np.zeros(len(y_train)), y_train,
                                            len(coresets["unseen"]), selector="random",
                                            random_state=seed)
                for method, rows in coresets.items():
                    accuracy = evaluate(args, X_train, y_train, X_test, y_test, rows,
                                        n_classes, seed)
                    results.append(dict(seed=seed, keep=keep, method=method,
                                        accuracy=accuracy))
                    print(f"seed {seed} keep {keep:.0%} {method:<8} test accuracy "
                          f"{accuracy:.4f}")

    print(f"\n{'keep':>5} " + " ".join(f"{m:>16}" for m in ("unseen", "fitting", "random")))
    for keep in args.keep:
        cells = []
        for method in ("unseen", "fitting", "random"):
            acc = [r["accuracy"] for r in results if r["keep"] == keep and r["method"] == method]
            cells.append(f"{100 * np.mean(acc):7.2f} ± {100 * np.std(acc):5.2f}")
        print(f"{keep:5.0%} " + " ".join(f"{c:>16}" for c in cells))
    print(f"total {time.perf_counter() - start:.1f} s")

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharex=True)
        for ax, (name, values) in zip(axes, histograms.items()):
            ax.hist(values, bins=50)
            ax.set_title(f"{name} {args.scorer}: std {values.std():.3f}")
            ax.set_xlabel("importance")
        fig.tight_layout()
        fig.savefig(args.out / "scores.png", dpi=100)
        print(f"wrote {args.out / 'results.json'} and {args.out / 'scores.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
