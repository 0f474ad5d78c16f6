"""The ``skunseen`` command line: prune a dataset and write the coreset."""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

PRUNERS = {"unseen": "UnseenPruner", "fitting": "FittingPruner",
           "multistep": "MultiStepUnseenPruner"}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skunseen",
        description="UNSEEN dataset pruning: score samples with models that never saw them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prune = commands.add_parser(
        "prune", help="score a dataset and write its coreset",
        description="Score every sample, select a coreset and write coreset.npy, "
                    "scores.npy, report.json and scores.png into --out.",
    )
    prune.add_argument("--dataset", default="digits", choices=["digits"],
                       help="dataset to prune (default: digits, bundled with scikit-learn)")
    prune.add_argument("--keep", type=_keep, default=0.5,
                       help="fraction in (0, 1] or number of samples to keep (default 0.5)")
    prune.add_argument("--method", default="unseen", choices=sorted(PRUNERS),
                       help="unseen (out-of-fold scores), multistep (evaluate and refill) "
                            "or fitting (the baseline)")
    prune.add_argument("--scorer", default="el2n", help="scorer name (default el2n)")
    prune.add_argument("--selector", default="ccs", help="selector name (default ccs)")
    prune.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    prune.add_argument("--repeats", type=int, default=1, help="fold redraws to average")
    prune.add_argument("--steps", type=int, default=3,
                       help="multistep only: number of evaluate-and-refill steps (default 3)")
    prune.add_argument("--replace", type=float, default=0.0,
                       help="multistep only: fraction of the coreset swapped at each step "
                            "(default 0)")
    prune.add_argument("--epochs", type=int, default=None,
                       help="training epochs of each scoring net (default: the model's)")
    prune.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    prune.add_argument("--jobs", type=int, default=None, help="models trained in parallel")
    prune.add_argument("--compare", action="store_true",
                       help="also score with the fitting baseline and plot both histograms")
    prune.add_argument("--out", type=Path, required=True, help="output directory")
    prune.add_argument("-v", "--verbose", action="count", default=1,
                       help="progress bars (on by default; -q turns them off)")
    prune.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose")
    prune.set_defaults(run=run_prune)
    return parser


def _keep(text):
    value = float(text)
    if value.is_integer() and value > 1:
        return int(value)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"--keep must be a fraction in (0, 1] or a count >= 1, got {text}")
    return value


def load_dataset(args):
    """Training rows of the chosen dataset as (X, y)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    # The fixed split leaves a test set for evaluating coresets; it does not
    # depend on --seed so the coreset indices always refer to the same rows.
    X_train, _, y_train, _ = train_test_split(
        (X / 16.0).astype(np.float32), y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train


def make_pruner(args, method, X, n_classes):
    import skunseen
    from skunseen.models import make_net

    net_params = {} if args.epochs is None else {"max_epochs": args.epochs}
    estimator = make_net("auto", input_shape=X.shape[1:], n_classes=n_classes, **net_params)
    common = dict(estimator=estimator, scorer=args.scorer, selector=args.selector,
                  keep=args.keep, n_repeats=args.repeats, random_state=args.seed,
                  n_jobs=args.jobs, verbose=args.verbose)
    if method in ("unseen", "multistep"):
        common["cv"] = args.folds
    if method == "multistep":
        common.update(n_steps=args.steps, replace=args.replace)
    return getattr(skunseen, PRUNERS[method])(**common)


def run_prune(args):
    X, y = load_dataset(args)
    args.out.mkdir(parents=True, exist_ok=True)
    classes = np.unique(y)
    timings = {}
    start = time.perf_counter()
    pruner = make_pruner(args, args.method, X, len(classes)).fit(X, y)
    timings[args.method] = time.perf_counter() - start
    histograms = {args.method: pruner.scores_}
    if args.compare and args.method != "fitting":
        start = time.perf_counter()
        baseline = make_pruner(args, "fitting", X, len(classes)).fit(X, y)
        timings["fitting"] = time.perf_counter() - start
        histograms["fitting"] = baseline.scores_

    np.save(args.out / "coreset.npy", pruner.sample_indices_.astype(np.int64))
    np.save(args.out / "scores.npy", pruner.scores_)
    plot_histograms(histograms, args.out / "scores.png", scorer=args.scorer)
    report = {
        "command": "prune",
        "parameters": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in vars(args).items() if k != "run"},
        "n_samples": int(len(y)),
        "n_selected": int(len(pruner.sample_indices_)),
        "seconds": timings,
        "per_class": {
            str(label): {"total": int(np.sum(y == label)),
                         "kept": int(np.sum(y[pruner.sample_indices_] == label))}
            for label in classes
        },
        "scores": {name: summarize(values) for name, values in histograms.items()},
        "environment": {"python": platform.python_version()},
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"kept {report['n_selected']} of {report['n_samples']} samples "
          f"({args.method}, {args.scorer}, {args.selector}) in {timings[args.method]:.1f} s; "
          f"wrote {args.out}/coreset.npy, scores.npy, report.json, scores.png")
    return 0


def summarize(values):
    """Summary statistics of a score distribution, JSON-ready."""
    values = np.asarray(values, dtype=float)
    span = values.max() - values.min()
    quantiles = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "mean": float(values.mean()), "std": float(values.std()),
        "min": float(values.min()), "max": float(values.max()),
        "quantiles_5_25_50_75_95": [float(q) for q in quantiles],
        # The pile-up that fitting scores show: how many sit at the very bottom.
        "fraction_within_1pct_of_min": float(np.mean(values <= values.min() + 0.01 * span))
        if span > 0 else 1.0,
    }


def plot_histograms(histograms, path, *, scorer):
    """One histogram panel per method, sharing the x axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histograms), figsize=(5 * len(histograms), 3.5),
                             sharex=True, squeeze=False)
    for ax, (name, values) in zip(axes[0], histograms.items()):
        ax.hist(values, bins=50, color="tab:blue" if name != "fitting" else "tab:orange")
        ax.set_title(f"{name}: std {np.std(values):.3f}")
        ax.set_xlabel(f"{scorer} importance")
        ax.set_ylabel("samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"skunseen {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
