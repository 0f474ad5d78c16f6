"""Does UNSEEN beat fitting-based pruning on real images? A 2-core CPU protocol.

Protocol (every number below is a command-line option):

* data: a fixed stratified pool of 10,000 CIFAR-10 training images (pool seed
  0) from the JPEG archive, and the full 10,000-image test set;
* scoring: the small CNN of :func:`skunseen.models.make_net` (``cnn``, widths
  16/32/64 to fit the CPU), 8 epochs, K = 5 folds for UNSEEN; the fitting
  baseline trains the same net on all 10,000 images; multi-step UNSEEN runs 3
  linear steps;
* methods x scorers x selectors: {unseen, multistep, fitting} x {el2n,
  forgetting} x {hard, ccs}, plus random;
* keep 0.7 / 0.5 / 0.3 / 0.1; on each coreset a fresh model of the same
  architecture trains with one fixed schedule (10 epochs, cosine), test
  accuracy mean +- std over 3 seeds;
* the UNSEEN and fitting score distributions as a figure, with std and the
  fraction of samples within 1% of the minimum score.

Single-step scores do not depend on keep or the selector, so each (method,
scorer) is fitted once and its coresets are drawn with the public functional
core :func:`skunseen.selection.select`, exactly as the pruner would. Both
scorers read the same per-epoch records: ``el2n`` is taken at the last epoch
(``scorer_params={"epochs": (E - 1, E)}``, the final model's EL2N), so the
second scorer of each method reuses the scoring models from
``memory`` instead of training them again; multi-step runs of
different keep ratios and selectors share their first (out-of-fold) step the
same way.

The report also gives the scoring models' accuracy on the rows they score
(held out for UNSEEN, trained on for fitting): their gap is how much the
fitting model memorised, i.e. what UNSEEN has to correct. ``--score-width``
and ``--no-score-augment`` change only the scoring nets, to test the premise
with models that do memorise.

Run ``python benchmarks/cifar10_cpu.py`` (33 minutes on a 2-core machine;
``--smoke`` for a half-minute check). Writes
``benchmarks/results/cifar10_cpu.md``, ``cifar10_cpu.json`` and
``cifar10_cpu_scores.png``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner  # noqa: E402
from skunseen.cli._report import summarize  # noqa: E402
from skunseen.datasets import load_image_archive  # noqa: E402
from skunseen.models import ArrayIndexView, make_net  # noqa: E402
from skunseen.selection import select  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".cache")
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--keeps", type=float, nargs="+", default=[0.7, 0.5, 0.3, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scorers", nargs="+", default=["el2n", "forgetting"])
    parser.add_argument("--selectors", nargs="+", default=["hard", "ccs"])
    parser.add_argument("--methods", nargs="+",
                        default=["unseen", "multistep", "fitting", "random"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--score-epochs", type=int, default=8)
    parser.add_argument("--eval-epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=16,
                        help="first conv width of the small CNN (then x2, x4)")
    parser.add_argument("--score-width", type=int, default=None,
                        help="first conv width of the scoring nets (default: --width)")
    parser.add_argument("--no-score-augment", action="store_true",
                        help="train the scoring nets without crop and flip, so that they "
                             "can memorise their training rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny pool, 1 epoch, 1 seed: checks the script runs")
    args = parser.parse_args(argv)
    args.checkpoints = args.cache_dir / "cifar10_cpu_checkpoints"
    if args.smoke:
        args.pool, args.test_limit, args.seeds = 500, 500, [0]
        args.score_epochs, args.eval_epochs, args.folds = 1, 1, 3
        args.keeps = [0.5, 0.1]
        args.out = REPO / ".cache" / "smoke"
        args.checkpoints = args.cache_dir / "cifar10_cpu_smoke_checkpoints"
    return args


def cnn(args, *, epochs, seed, augment="auto", width=None):
    width = width or args.width
    return make_net("cnn", input_shape=(3, 32, 32), n_classes=10, max_epochs=epochs,
                    random_state=seed, device="cpu", augment=augment,
                    module__widths=(width, 2 * width, 4 * width))


def scoring_cnn(args, seed):
    return cnn(args, epochs=args.score_epochs, seed=seed, width=args.score_width,
               augment=False if args.no_score_augment else "auto")


def scorer_params(args, scorer):
    return {"epochs": (args.score_epochs - 1, args.score_epochs)} if scorer == "el2n" else None


def score_single_step(args, X, y):
    """Scores of single-step UNSEEN and of the fitting baseline, per scorer.

    Also the accuracy of the scoring models' final predictions on the rows
    they score: held-out accuracy for UNSEEN, training accuracy for fitting.
    The gap between the two is how much the fitting model has memorised,
    which is what UNSEEN corrects.
    """
    scores, seconds, fit_accuracy = {}, {}, {}
    for scorer in args.scorers:
        for method in ("unseen", "fitting"):
            if method not in args.methods:
                continue
            common = dict(scorer=scorer, scorer_params=scorer_params(args, scorer),
                          random_state=0, memory=args.checkpoints, verbose=1)
            net = scoring_cnn(args, seed=0)
            if method == "unseen":
                pruner = UnseenPruner(net, cv=args.folds, **common)
            else:
                pruner = FittingPruner(net, **common)
            start = time.perf_counter()
            scores[method, scorer] = pruner.fit(X, y).scores_
            seconds[f"score {method} {scorer}"] = time.perf_counter() - start
            proba = pruner.oof_proba_ if method == "unseen" else pruner.train_proba_
            fit_accuracy[method] = float((pruner.classes_[proba.argmax(axis=1)] == y).mean())
    return scores, seconds, fit_accuracy


def coresets(args, X, y, scores):
    """Every (method, scorer, selector, keep) coreset as row indices."""
    chosen, seconds = {}, {}
    for keep in args.keeps:
        n_select = int(round(keep * len(y)))
        for (method, scorer), values in scores.items():
            for selector in args.selectors:
                chosen[method, scorer, selector, keep] = select(
                    values, y, n_select, selector=selector, random_state=0)
        if "multistep" in args.methods:
            for scorer in args.scorers:
                for selector in args.selectors:
                    pruner = MultiStepUnseenPruner(
                        scoring_cnn(args, seed=0), scorer=scorer,
                        scorer_params=scorer_params(args, scorer), selector=selector,
                        keep=keep, cv=args.folds, n_steps=args.steps, random_state=0,
                        memory=args.checkpoints, verbose=1)
                    start = time.perf_counter()
                    chosen["multistep", scorer, selector, keep] = pruner.fit(X, y).sample_indices_
                    seconds[f"multistep {scorer} {selector} keep {keep}"] = (
                        time.perf_counter() - start)
    return chosen, seconds


def test_accuracy(args, X, y, X_test, y_test, rows, seed):
    net = cnn(args, epochs=args.eval_epochs, seed=seed)
    net.fit(ArrayIndexView(X, y, rows), y[rows])
    return float((net.predict(X_test) == y_test).mean())


def evaluate(args, X, y, X_test, y_test, chosen):
    """Test accuracy per coreset and seed; random coresets are drawn per seed."""
    accuracy = {}
    for keep in args.keeps:
        for seed in args.seeds:
            runs = {key: rows for key, rows in chosen.items() if key[3] == keep}
            if "random" in args.methods:
                runs["random", "-", "random", keep] = select(
                    np.zeros(len(y)), y, int(round(keep * len(y))), selector="random",
                    random_state=seed)
            for key, rows in runs.items():
                accuracy.setdefault(key, []).append(
                    test_accuracy(args, X, y, X_test, y_test, rows, seed))
                print(f"keep {keep} seed {seed} {key[:3]}: {accuracy[key][-1]:.4f}", flush=True)
    return accuracy


def accuracy_table(args, accuracy):
    header = "| method | scorer | selector | " + " | ".join(
        f"keep {keep}" for keep in args.keeps) + " |"
    lines = [header, "|" + " --- |" * (3 + len(args.keeps))]
    rows = sorted({key[:3] for key in accuracy}, key=lambda k: (k[0] != "random", k))
    for method, scorer, selector in rows:
        cells = []
        for keep in args.keeps:
            values = np.asarray(accuracy.get((method, scorer, selector, keep), []))
            cells.append(f"{100 * values.mean():.2f} ± {100 * values.std():.2f}"
                         if len(values) else "")
        lines.append(f"| {method} | {scorer} | {selector} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_table(scores):
    lines = ["| scorer | method | std | fraction within 1% of min | std ratio unseen/fitting |",
             "| --- | --- | ---: | ---: | ---: |"]
    for scorer in sorted({s for _, s in scores}):
        pair = {m: summarize(scores[m, s]) for m, s in scores if s == scorer}
        ratio = (pair["unseen"]["std"] / pair["fitting"]["std"]
                 if {"unseen", "fitting"} <= set(pair) and pair["fitting"]["std"] > 0 else None)
        for method, summary in sorted(pair.items()):
            lines.append(f"| {scorer} | {method} | {summary['std']:.4f} | "
                         f"{summary['fraction_within_1pct_of_min']:.3f} | "
                         f"{'' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(lines)


def plot_scores(scores, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scorers = sorted({s for _, s in scores})
    fig, axes = plt.subplots(1, len(scorers), figsize=(5 * len(scorers), 3.4), squeeze=False)
    for ax, scorer in zip(axes[0], scorers):
        for method, color in (("fitting", "tab:orange"), ("unseen", "tab:blue")):
            if (method, scorer) in scores:
                ax.hist(scores[method, scorer], bins=50, alpha=0.6, color=color, label=method)
        ax.set_title(f"{scorer} importance")
        ax.set_ylabel("samples")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    X, y, X_test, y_test = load_image_archive(
        args.data, cache_dir=args.cache_dir, limit=args.pool, test_limit=args.test_limit,
        pool_seed=0)
    seconds = {"load": time.perf_counter() - start}
    scores, score_seconds, fit_accuracy = score_single_step(args, X, y)
    chosen, select_seconds = coresets(args, X, y, scores)
    start = time.perf_counter()
    accuracy = evaluate(args, X, y, X_test, y_test, chosen)
    seconds.update(score_seconds, **select_seconds, evaluate=time.perf_counter() - start)

    plot_scores(scores, args.out / "cifar10_cpu_scores.png")
    report = "\n\n".join([
        f"pool {len(y)} train / {len(y_test)} test images, small CNN widths "
        f"{args.width}/{2 * args.width}/{4 * args.width}"
        + (f" (scoring: {args.score_width}/{2 * args.score_width}/{4 * args.score_width})"
           if args.score_width else "")
        + f", scoring {args.score_epochs} epochs "
        f"(K={args.folds}{', no augmentation' if args.no_score_augment else ''}), "
        f"evaluation {args.eval_epochs} epochs, seeds {args.seeds}, "
        f"{args.threads} torch threads",
        "Test accuracy (%) of a fresh model trained on each coreset, mean ± std over seeds:",
        accuracy_table(args, accuracy),
        "Score spread:",
        spread_table(scores),
        "Accuracy of the scoring models on the rows they score (UNSEEN: held out; "
        "fitting: trained on):",
        "\n".join(f"- {method}: {100 * value:.1f} %" for method, value in fit_accuracy.items()),
        "Seconds per phase:",
        "\n".join(f"- {name}: {value:.0f}" for name, value in seconds.items()),
    ])
    (args.out / "cifar10_cpu.md").write_text(report + "\n")
    (args.out / "cifar10_cpu.json").write_text(json.dumps({
        "accuracy": {"/".join(map(str, key)): values for key, values in accuracy.items()},
        "scoring_model_accuracy": fit_accuracy,
        "seconds": seconds, "arguments": {k: str(v) for k, v in vars(args).items()},
    }, indent=1))
    print(report)


if __name__ == "__main__":
    main()
