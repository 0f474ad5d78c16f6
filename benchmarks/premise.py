"""Does UNSEEN's premise hold on digits? Score spread and coreset accuracy.

UNSEEN's claim: scores computed by models that trained on the sample they
score ("fitting" scores) pile up in a narrow range, while out-of-fold
(UNSEEN) scores spread out and separate samples better, so coresets chosen
from them train better models. This script measures both on scikit-learn's
digits with a fixed stratified train/test split (1,347 / 450 rows,
``skunseen.datasets.load_digits_images(split_seed=0)``).

Tables (``--tables``, default: all, in this order):

``spread``
    For the same scorer (``--scorer``, default ``el2n``) and scoring net:
    std of the UNSEEN scores / std of the fitting scores (target >= 1.5),
    and the fraction of samples within 1% of the score range above the
    minimum (the pile-up), mean ± std over the seeds. Saves the histogram
    of seed 0 to ``benchmarks/results/premise_scores.png``.
``accuracy``
    Test accuracy of a fresh net trained on the coreset kept by UNSEEN,
    by fitting scores and at random, at each ``--keeps`` fraction, with
    the ``--selectors`` rules (default ``ccs``; ``hard`` on request), mean ±
    std over the seeds, with the paired differences.

Protocol, per seed s (the same for every method, so comparisons are paired):

* scoring: ``UnseenPruner(net, cv=--folds, random_state=s)`` and
  ``FittingPruner(net, random_state=s)`` fit once each on the training
  split; ``net`` is ``make_net(--model)`` (SmallCNN on 1x8x8 images by
  default: AdamW, cosine schedule, 15 epochs, batch 128);
* selection: ``skunseen.selection.select(scores_, y, round(keep * n),
  selector=..., class_budget="proportional", random_state=s)`` on the
  pruner's scores for every keep (what the pruner's own ``keep`` does,
  without re-training the scoring nets per keep); ``random`` is the
  ``random`` selector (class-proportional uniform sampling);
* evaluation: a fresh ``make_net(--model, random_state=s)`` trains on the
  coreset for the same number of optimizer steps as ``--eval-epochs`` epochs
  on the full training split (small coresets get proportionally more epochs,
  with the cosine schedule stretched accordingly) and is scored on the test
  split.

Adding a table: write ``def my_table(ctx) -> str`` returning markdown, decorate
it with ``@table("name")``, and use the :class:`Context` helpers
(``ctx.pruner``, ``ctx.coreset``, ``ctx.test_accuracy``), which cache the
scoring and evaluation fits shared between tables.

Usage (from the repository root)::

    python benchmarks/premise.py                    # both tables, ~10 min on 2 CPUs
    python benchmarks/premise.py --quick            # smoke run, < 1 min
    python benchmarks/premise.py --tables spread --seeds 5
    python benchmarks/premise.py --selectors ccs,hard
"""

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    RESULTS_DIR,
    machine_description,
    markdown_table,
    mean_std,
    set_threads,
)

from skunseen import FittingPruner, UnseenPruner  # noqa: E402
from skunseen._cli import summarize  # noqa: E402
from skunseen.datasets import load_digits_images  # noqa: E402
from skunseen.models import make_net  # noqa: E402
from skunseen.selection import select  # noqa: E402

#: name -> function(ctx) returning a markdown section; filled by @table.
TABLES = {}

PRUNERS = {"unseen": UnseenPruner, "fitting": FittingPruner}


def table(name):
    """Register a table function under ``name`` (selectable with --tables)."""
    def register(func):
        TABLES[name] = func
        return func
    return register


class Context:
    """Data, settings and cached fits shared by the tables.

    Attributes
    ----------
    args : argparse.Namespace
        The command-line settings.
    X_train, y_train, X_test, y_test : ndarray
        The fixed digits split (float32 images of shape (n, 1, 8, 8)).
    n_classes : int
    """

    def __init__(self, args):
        self.args = args
        data = load_digits_images(test_size=0.25, split_seed=0)
        self.X_train, self.y_train = data.X_train, data.y_train
        self.X_test, self.y_test = data.X_test, data.y_test
        self.n_classes = len(np.unique(self.y_train))
        self._pruners = {}
        self._accuracies = {}

    def scoring_net(self, **params):
        """A fresh, unfitted scoring net (``--model``, ``--score-epochs``)."""
        if self.args.score_epochs is not None:
            params.setdefault("max_epochs", self.args.score_epochs)
        return make_net(self.args.model, input_shape=self.X_train.shape[1:],
                        n_classes=self.n_classes, device="cpu", **params)

    def pruner(self, method, seed, scorer=None, **params):
        """A pruner fitted on the training split; cached by its arguments.

        ``method`` is ``"unseen"`` or ``"fitting"`` (or any pruner class name
        registered in :data:`PRUNERS`); ``params`` go to the pruner
        (e.g. ``scorer_params``). ``keep`` is irrelevant here: coresets are
        selected from ``scores_`` by :meth:`coreset`.
        """
        scorer = self.args.scorer if scorer is None else scorer
        key = (method, seed, scorer, tuple(sorted(params.items(), key=str)))
        if key not in self._pruners:
            kwargs = dict(scorer=scorer, random_state=seed, **params)
            if method == "unseen":
                kwargs.setdefault("cv", self.args.folds)
            start = time.perf_counter()
            pruner = PRUNERS[method](self.scoring_net(), **kwargs).fit(self.X_train, self.y_train)
            self.log(f"  scored: {method} {scorer} seed {seed} "
                     f"({time.perf_counter() - start:.1f} s)")
            self._pruners[key] = pruner
        return self._pruners[key]

    def coreset(self, method, keep, seed, selector="ccs", scorer=None):
        """Rows of the training split kept by ``method`` at fraction ``keep``.

        ``method="random"`` is class-proportional uniform sampling; ``scorer``
        defaults to ``--scorer``.
        """
        scorer = self.args.scorer if scorer is None else scorer
        n_select = int(round(keep * len(self.y_train)))
        if method == "random":
            scores, selector = np.zeros(len(self.y_train)), "random"
        else:
            scores = self.pruner(method, seed, scorer=scorer).scores_
        return select(scores, self.y_train, n_select, selector=selector,
                      class_budget="proportional", random_state=seed)

    def eval_epochs(self, n_rows):
        """Epochs giving ``n_rows`` the optimizer steps of --eval-epochs full epochs."""
        batch = 128
        steps = self.args.eval_epochs * math.ceil(len(self.y_train) / batch)
        return max(1, math.ceil(steps / math.ceil(n_rows / batch)))

    def test_accuracy(self, indices, seed):
        """Test accuracy of a fresh net (seeded ``seed``) trained on ``indices``."""
        indices = np.asarray(indices)
        key = (hash(indices.tobytes()), len(indices), seed)
        if key not in self._accuracies:
            net = make_net(self.args.model, input_shape=self.X_train.shape[1:],
                           n_classes=self.n_classes, device="cpu",
                           max_epochs=self.eval_epochs(len(indices)), random_state=seed)
            net.fit(self.X_train[indices], self.y_train[indices])
            self._accuracies[key] = float(np.mean(net.predict(self.X_test) == self.y_test))
        return self._accuracies[key]

    def log(self, text):
        if not self.args.quiet:
            print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- tables
@table("spread")
def spread_table(ctx):
    """UNSEEN vs fitting score spread for one scorer; saves the histogram."""
    scorer = ctx.args.scorer
    stats = {m: {k: [] for k in ("std", "median", "iqr", "p95", "pile", "pile_common", "acc")}
             for m in ("unseen", "fitting")}
    ratios = []
    for seed in ctx.args.seeds:
        scores = {m: ctx.pruner(m, seed, scorer=scorer).scores_ for m in stats}
        low = min(v.min() for v in scores.values())
        common_span = max(v.max() for v in scores.values()) - low
        for method, values in scores.items():
            pruner = ctx.pruner(method, seed, scorer=scorer)
            summary = summarize(values)
            q = summary["quantiles_5_25_50_75_95"]
            proba = pruner.oof_proba_ if method == "unseen" else pruner.train_proba_
            row = stats[method]
            row["std"].append(summary["std"])
            row["median"].append(q[2])
            row["iqr"].append(q[3] - q[1])
            row["p95"].append(q[4])
            row["pile"].append(summary["fraction_within_1pct_of_min"])
            row["pile_common"].append(np.mean(values <= low + 0.01 * common_span))
            row["acc"].append(np.mean(proba.argmax(axis=1) == ctx.y_train))
        ratios.append(stats["unseen"]["std"][-1] / stats["fitting"]["std"][-1])
    rows = []
    for method, label in (("unseen", "UNSEEN (out-of-fold)"), ("fitting", "fitting")):
        row = stats[method]
        rows.append([label, mean_std(row["std"], "{:.4f}"), mean_std(row["median"], "{:.4f}"),
                     mean_std(row["iqr"], "{:.4f}"), mean_std(row["p95"], "{:.4f}"),
                     mean_std(row["pile"], "{:.1f}", scale=100) + " %",
                     mean_std(row["pile_common"], "{:.1f}", scale=100) + " %",
                     mean_std(row["acc"], "{:.1f}", scale=100) + " %"])
    ratio = np.asarray(ratios)
    iqr_ratio = np.asarray(stats["unseen"]["iqr"]) / np.asarray(stats["fitting"]["iqr"])
    verdict = "meets" if ratio.mean() >= 1.5 else "misses"
    seed0 = ctx.args.seeds[0]
    figure = Path(ctx.args.figure)
    plot_spread({m: ctx.pruner(m, seed0, scorer=scorer).scores_ for m in stats}, figure,
                scorer=scorer, title=f"digits, {ctx.args.model}, seed {seed0}")
    return "\n".join([
        f"### Score spread: {scorer}, {ctx.args.model}, {len(ctx.args.seeds)} seed(s), "
        "mean ± std over seeds",
        "",
        markdown_table(["scores", "std", "median", "IQR", "95th pct.",
                        "within 1% of min (own range)", "within 1% of min (common range)",
                        "scoring nets' accuracy on the scored rows"], rows),
        "",
        f"std ratio UNSEEN / fitting: **{ratio.mean():.2f} ± {ratio.std():.2f}** "
        f"(per seed: {', '.join(f'{r:.2f}' for r in ratio)}); target ≥ 1.5: {verdict}. "
        f"IQR ratio: {iqr_ratio.mean():.2f} ± {iqr_ratio.std():.2f}. "
        "\"Within 1% of min\": fraction of samples whose score is at most the minimum "
        "plus 1% of the score range, with each method's own range "
        "(`skunseen._cli.summarize`) or with the range of both methods together "
        "(one scale for both). "
        f"Histogram (seed {seed0}): `{_shown(figure)}` ({figure.stat().st_size // 1024} kB).",
    ])


def plot_spread(scores, path, *, scorer, title):
    """Two panels: both histograms on common linear bins (log counts), and on a
    log10 score axis, where a pile-up near zero is visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"unseen": "tab:blue", "fitting": "tab:orange"}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    high = max(v.max() for v in scores.values())
    bins = np.linspace(0, high, 50)
    floor = max(1e-6, min(v.min() for v in scores.values()))
    log_bins = np.linspace(np.log10(floor), np.log10(max(high, 10 * floor)), 50)
    for name, values in scores.items():
        label = f"{'UNSEEN' if name == 'unseen' else name} (std {np.std(values):.3f})"
        axes[0].hist(values, bins=bins, histtype="step", lw=1.5, color=colors.get(name),
                     label=label)
        axes[1].hist(np.log10(np.maximum(values, floor)), bins=log_bins, histtype="step",
                     lw=1.5, color=colors.get(name), label=label)
    axes[0].set_yscale("log")
    axes[0].set_xlabel(f"{scorer} importance")
    axes[0].set_ylabel("samples (log scale)")
    axes[1].set_xlabel(f"log10 {scorer} importance (clipped at {floor:.1e})")
    axes[1].set_ylabel("samples")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{scorer}: UNSEEN vs fitting scores, {title}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


@table("accuracy")
def accuracy_table(ctx):
    """Test accuracy of nets trained on coresets: UNSEEN vs fitting vs random."""
    seeds, keeps, selectors = ctx.args.seeds, ctx.args.keeps, ctx.args.selectors
    columns = [("random", "random")]
    for selector in selectors:
        columns += [("fitting", selector), ("unseen", selector)]
    header = ["keep", "rows"] + [
        "random" if m == "random" else f"{'UNSEEN' if m == 'unseen' else 'fitting'} {s}"
        for m, s in columns]
    for selector in selectors:
        header += [f"Δ UNSEEN−fitting ({selector})", f"Δ UNSEEN−random ({selector})"]
    rows = []
    for keep in keeps:
        acc = {}
        for method, selector in columns:
            acc[method, selector] = np.array([
                ctx.test_accuracy(ctx.coreset(method, keep, seed, selector=selector), seed)
                for seed in seeds]) * 100
            ctx.log(f"  keep {keep} {method} {selector}: {acc[method, selector].round(1)}")
        best = max(acc[c].mean() for c in columns)
        cells = [f"**{mean_std(acc[c])}**" if acc[c].mean() == best else mean_std(acc[c])
                 for c in columns]
        for selector in selectors:
            unseen = acc["unseen", selector]
            cells += [_signed(unseen - acc["fitting", selector]),
                      _signed(unseen - acc["random", "random"])]
        rows.append([f"{keep:g}", int(round(keep * len(ctx.y_train)))] + cells)
    full = np.array([ctx.test_accuracy(np.arange(len(ctx.y_train)), seed)
                     for seed in seeds]) * 100
    return "\n".join([
        f"### Coreset test accuracy (%): {ctx.args.scorer} scores, {ctx.args.model}, "
        f"{len(seeds)} seed(s), mean ± std",
        "",
        markdown_table(header, rows),
        "",
        f"Full training split ({len(ctx.y_train)} rows): {mean_std(full)} %. "
        f"Test split: {len(ctx.y_test)} rows (one sample = {100 / len(ctx.y_test):.2f} "
        "points). Δ columns: mean ± std over seeds of the paired difference "
        "(same seed: same folds, scoring nets, selection draw and evaluation-net "
        "initialisation). Bold: best mean in the row.",
    ])


def _shown(path):
    try:
        return str(path.resolve().relative_to(RESULTS_DIR.parents[1]))
    except ValueError:
        return str(path)


def _signed(diff):
    return f"{diff.mean():+.1f} ± {diff.std():.1f}"


# ------------------------------------------------------------------------ main
def _floats(text):
    return [float(v) for v in text.split(",") if v]


def _names(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=_names, default=None,
                        help=f"comma-separated subset of {list(TABLES)} (default: all)")
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn",
                        help="scoring and evaluation net (default cnn: SmallCNN on 1x8x8 "
                             "images; mlp: skunseen.models.MLP)")
    parser.add_argument("--scorer", default="el2n", help="scorer (default el2n)")
    parser.add_argument("--selectors", type=_names, default=["ccs"],
                        help="selection rules of the accuracy table (default ccs; "
                             "e.g. ccs,hard)")
    parser.add_argument("--keeps", type=_floats, default=[0.1, 0.3, 0.5, 0.7],
                        help="kept fractions (default 0.1,0.3,0.5,0.7)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    parser.add_argument("--folds", type=int, default=5, help="UNSEEN folds K (default 5)")
    parser.add_argument("--score-epochs", type=int, default=None,
                        help="epochs of the scoring nets (default: make_net's, 15 cnn / 20 mlp)")
    parser.add_argument("--eval-epochs", type=int, default=15,
                        help="evaluation budget in full-split epochs of optimizer steps "
                             "(default 15)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, keeps 0.1,0.5, 3 scoring and 3 evaluation "
                             "epochs (< 1 min)")
    parser.add_argument("--figure", default=None,
                        help="histogram path (default benchmarks/results/premise_scores.png; "
                             "with --quick a file in the temporary folder, so that a smoke "
                             "run does not replace the committed figure)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.keeps = 1, [0.1, 0.5]
        args.score_epochs, args.eval_epochs = 3, 3
    if args.figure is None:
        args.figure = (Path(tempfile.gettempdir()) / "premise_scores_quick.png" if args.quick
                       else RESULTS_DIR / "premise_scores.png")
    args.seeds = list(range(args.seeds))
    names = args.tables or list(TABLES)
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise SystemExit(f"unknown table(s) {unknown}; choose from {list(TABLES)}")
    set_threads(args.threads)
    ctx = Context(args)
    start = time.perf_counter()
    print(f"# premise: digits {len(ctx.y_train)} train / {len(ctx.y_test)} test, "
          f"{args.model}, scorer {args.scorer}, seeds {args.seeds}, folds {args.folds}"
          + (" (--quick)" if args.quick else ""))
    print(machine_description())
    for name in names:
        table_start = time.perf_counter()
        ctx.log(f"table {name} ...")
        section = TABLES[name](ctx)
        print()
        print(section)
        print(f"\n({name}: {time.perf_counter() - table_start:.0f} s)")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
