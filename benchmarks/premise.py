"""Does UNSEEN's premise hold on digits? Score spread and coreset accuracy.

UNSEEN's claim: scores computed by models that trained on the sample they
score ("fitting" scores) pile up in a narrow range, while out-of-fold
(UNSEEN) scores spread out and separate samples better, so coresets chosen
from them train better models. This script measures both on scikit-learn's
digits with a fixed stratified train/test split (1,347 / 450 rows,
``skunseen.datasets.load_digits_images(split_seed=0)``).

Tables (``--tables``; default ``spread,accuracy``, in this order; ``multistep``
and ``scorers`` are long and run only when named):

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
``multistep``
    Coreset test accuracy of ``MultiStepUnseenPruner`` (``--ms-steps``, default
    3, linear schedule; ``ccs``) against single-step UNSEEN, fitting and random
    at each ``--ms-keeps`` fraction (default 0.1,0.3,0.5), with the training
    cost of the multi-step fit (scoring models, summed ``task_info_`` seconds)
    relative to the single-step fit. The multi-step pruner is fitted per keep
    and seed; its step-1 models are shared between keeps through a temporary
    ``memory``.
``scorers``
    For every registered scorer (``--scorers`` to choose; ``*_doc`` names are
    skipped): std ratio UNSEEN / fitting and the coreset test accuracy of
    UNSEEN and fitting at keep 0.3 (``ccs``), over ``--scorer-seeds`` seeds
    (default ``--seeds``).

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
    python benchmarks/premise.py --tables multistep,scorers --scorer-seeds 2
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

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner  # noqa: E402
from skunseen.cli._report import summarize  # noqa: E402
from skunseen.datasets import load_digits_images  # noqa: E402
from skunseen.models import make_net  # noqa: E402
from skunseen.scores import available_scorers  # noqa: E402
from skunseen.selection import select  # noqa: E402

#: name -> function(ctx) returning a markdown section; filled by @table.
TABLES = {}
#: the tables run without --tables (the long opt-in ones are left out).
DEFAULT_TABLES = []

PRUNERS = {"unseen": UnseenPruner, "fitting": FittingPruner}


def table(name, default=True):
    """Register a table function under ``name`` (selectable with --tables);
    ``default=False`` runs it only when --tables names it."""
    def register(func):
        TABLES[name] = func
        if default:
            DEFAULT_TABLES.append(name)
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
        #: pruner cache key -> wall seconds of its fit
        self.fit_seconds = {}

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
            self.fit_seconds[key] = time.perf_counter() - start
            self.log(f"  scored: {method} {scorer} seed {seed} "
                     f"({self.fit_seconds[key]:.1f} s)")
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
        "(as the command line reports it) or with the range of both methods together "
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


@table("multistep", default=False)
def multistep_table(ctx):
    """Coreset test accuracy of multi-step UNSEEN vs single-step, fitting, random."""
    seeds, keeps = ctx.args.seeds, ctx.args.ms_keeps
    n_steps, schedule, selector = ctx.args.ms_steps, "linear", "ccs"
    methods = ["random", "fitting", "unseen", "multistep"]
    acc = {(m, k): [] for m in methods for k in keeps}
    cost = {k: [] for k in keeps}          # multi-step / single-step training seconds
    models = {k: [] for k in keeps}        # (multi-step, single-step) numbers of models
    wall = {k: [] for k in keeps}          # multi-step / single-step fit wall time
    # One checkpoint folder per run: step 1 (the 5 fold models on all rows, the
    # same for every keep of a seed) is trained once per seed and read back for
    # the other keeps. A resumed model keeps the training seconds it was saved
    # with, so the task_info_ sums below are the cost of a cold fit.
    checkpoints = tempfile.TemporaryDirectory(prefix="premise_multistep_")
    for seed in seeds:
        single = ctx.pruner("unseen", seed)
        single_seconds = sum(info["seconds"] for info in single.task_info_)
        single_wall = ctx.fit_seconds[("unseen", seed, ctx.args.scorer, ())]
        for keep in keeps:
            start = time.perf_counter()
            multi = MultiStepUnseenPruner(
                ctx.scoring_net(), scorer=ctx.args.scorer, selector=selector, keep=keep,
                cv=ctx.args.folds, n_steps=n_steps, schedule=schedule,
                class_budget="proportional", random_state=seed,
                memory=checkpoints.name).fit(ctx.X_train, ctx.y_train)
            seconds = time.perf_counter() - start
            resumed = [i for i in multi.task_info_ if i["resumed"]]
            ctx.log(f"  multistep keep {keep} seed {seed}: sizes "
                    f"{[s['size'] for s in multi.steps_]}, {len(multi.task_info_)} models "
                    f"({len(resumed)} resumed), {seconds:.1f} s")
            multi_seconds = sum(info["seconds"] for info in multi.task_info_)
            step1_seconds = sum(info["seconds"] for info in multi.task_info_
                                if info["task"].startswith("step 1,"))
            cost[keep].append((multi_seconds / single_seconds, multi_seconds / step1_seconds))
            models[keep].append((len(multi.task_info_), len(single.task_info_)))
            if not resumed:   # wall time only means something for a cold fit
                wall[keep].append(seconds / single_wall)
            acc["multistep", keep].append(ctx.test_accuracy(multi.sample_indices_, seed))
            for method in ("random", "fitting", "unseen"):
                acc[method, keep].append(
                    ctx.test_accuracy(ctx.coreset(method, keep, seed, selector=selector), seed))
            ctx.log(f"  keep {keep} seed {seed}: "
                    + ", ".join(f"{m} {100 * acc[m, keep][-1]:.1f}" for m in methods))
    checkpoints.cleanup()
    header = ["keep", "rows", "random", f"fitting {selector}", f"UNSEEN {selector}",
              f"multi-step UNSEEN {selector} (T={n_steps}, {schedule})",
              "Δ multi−single", "Δ multi−fitting", "Δ multi−random",
              "models multi / single", "training s multi / single",
              "training s multi / its step 1"]
    rows = []
    for keep in keeps:
        a = {m: np.array(acc[m, keep]) * 100 for m in methods}
        best = max(v.mean() for v in a.values())
        cells = [f"**{mean_std(a[m])}**" if a[m].mean() == best else mean_std(a[m])
                 for m in methods]
        n_multi = sorted({m for m, _ in models[keep]})
        n_single = sorted({s for _, s in models[keep]})
        rows.append([f"{keep:g}", int(round(keep * len(ctx.y_train)))] + cells + [
            _signed(a["multistep"] - a["unseen"]), _signed(a["multistep"] - a["fitting"]),
            _signed(a["multistep"] - a["random"]),
            f"{'/'.join(map(str, n_multi))} / {'/'.join(map(str, n_single))}",
            mean_std([c for c, _ in cost[keep]], "{:.2f}") + "×",
            mean_std([c for _, c in cost[keep]], "{:.2f}") + "×"])
    walls = [w for k in keeps for w in wall[k]]
    wall_text = (f"Wall-time ratio of the cold multi-step fits (first keep of each seed) to "
                 f"the single-step fit: {mean_std(walls, '{:.2f}')}×. " if walls else "")
    return "\n".join([
        f"### Multi-step vs single-step UNSEEN, coreset test accuracy (%): "
        f"{ctx.args.scorer} scores, {selector}, {ctx.args.model}, {len(seeds)} seed(s), "
        "mean ± std",
        "",
        markdown_table(header, rows),
        "",
        f"`MultiStepUnseenPruner(n_steps={n_steps}, schedule=\"{schedule}\", "
        f"selector=\"{selector}\", cv={ctx.args.folds})` fitted once per keep and seed "
        "(its coreset depends on the budget); the other columns are the single pruner "
        "fits of the accuracy table with the same selection call. Evaluation as in the "
        "accuracy table (same seeds, same optimizer-step budget). \"models\": scoring "
        "models trained by one fit; \"training s\": sum of `task_info_[i][\"seconds\"]` "
        "of the multi-step fit / of the single-step `UnseenPruner` fit of the same seed "
        "(step-1 models read back from a checkpoint count with the seconds they were "
        "trained in); \"its step 1\": the same sum over the multi-step fit's own step-1 "
        "models (the single-step fold models, timed in the same fit, so the ratio is "
        f"less exposed to load changes between fits). {wall_text}"
        "Δ: paired differences (same seed).",
    ])


def _table_scorers():
    """Registered scorers, without names registered by the docs or tests (``*_doc``)."""
    return [name for name in available_scorers() if not name.endswith("_doc")]


@table("scorers", default=False)
def scorers_table(ctx):
    """For every registered scorer: UNSEEN vs fitting spread and keep-0.3 coreset accuracy."""
    seeds, keep, selector = ctx.args.scorer_seeds, 0.3, "ccs"
    rows = []
    for scorer in ctx.args.scorers or _table_scorers():
        ratios, acc = [], {"unseen": [], "fitting": []}
        try:
            for seed in seeds:
                stds = {m: np.std(ctx.pruner(m, seed, scorer=scorer).scores_) for m in acc}
                ratios.append(stds["unseen"] / stds["fitting"] if stds["fitting"] > 0
                              else np.inf)
                for method in acc:
                    acc[method].append(100 * ctx.test_accuracy(
                        ctx.coreset(method, keep, seed, selector=selector, scorer=scorer), seed))
        except Exception as exc:  # a scorer that cannot run here gets a row saying why
            ctx.log(f"  scorer {scorer} failed: {type(exc).__name__}: {exc}")
            rows.append([f"`{scorer}`", f"failed: {type(exc).__name__}: {exc}"[:120],
                         "", "", "", ""])
            continue
        ratio, u, f = np.array(ratios), np.array(acc["unseen"]), np.array(acc["fitting"])
        ctx.log(f"  scorer {scorer}: ratio {ratio.round(2)}, unseen {u.round(1)}, "
                f"fitting {f.round(1)}")
        rows.append([f"`{scorer}`", mean_std(ratio, "{:.2f}"), mean_std(u), mean_std(f),
                     _signed(u - f), ", ".join(f"{v:.2f}" for v in ratio)])
    random = np.array([ctx.test_accuracy(ctx.coreset("random", keep, seed), seed)
                       for seed in seeds]) * 100
    return "\n".join([
        f"### Scorers: UNSEEN vs fitting spread and coreset test accuracy (%) at keep "
        f"{keep:g} ({selector}), {ctx.args.model}, {len(seeds)} seed(s), mean ± std",
        "",
        markdown_table(["scorer", "std ratio UNSEEN / fitting",
                        f"UNSEEN {selector} acc.", f"fitting {selector} acc.",
                        "Δ UNSEEN−fitting", "ratio per seed"], rows),
        "",
        f"Random coreset at keep {keep:g} ({int(round(keep * len(ctx.y_train)))} rows), "
        f"same seeds: {mean_std(random)} %. Every scorer with its default parameters; "
        "scoring nets as in the spread table (`--score-epochs`), evaluation as in the "
        "accuracy table. Δ: paired difference (same seed).",
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
                        help=f"comma-separated subset of {list(TABLES)} "
                             f"(default: {','.join(DEFAULT_TABLES)})")
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
    parser.add_argument("--ms-keeps", type=_floats, default=[0.1, 0.3, 0.5],
                        help="kept fractions of the multistep table (default 0.1,0.3,0.5)")
    parser.add_argument("--ms-steps", type=int, default=3,
                        help="steps T of the multistep table (default 3, linear schedule)")
    parser.add_argument("--scorers", type=_names, default=None,
                        help="scorers of the scorers table (default: every registered "
                             "scorer except *_doc names)")
    parser.add_argument("--scorer-seeds", type=int, default=None,
                        help="seeds of the scorers table (default: --seeds)")
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
    if args.quick:
        args.ms_keeps = [0.1, 0.5]
        args.scorer_seeds = 1 if args.scorer_seeds is None else args.scorer_seeds
    args.scorer_seeds = list(range(args.seeds if args.scorer_seeds is None
                                   else args.scorer_seeds))
    args.seeds = list(range(args.seeds))
    names = args.tables or list(DEFAULT_TABLES)
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
