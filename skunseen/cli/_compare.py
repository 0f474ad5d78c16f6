"""``skunseen compare``: which coreset is better?

For every seed, the pool is scored once by UNSEEN and once by the fitting
baseline; every keep ratio and selector then selects from those scores
(the refits read the scoring models back from ``--out/checkpoints``, so a
coreset here is the one ``skunseen prune`` writes for the same options and
``--seed``). The random baseline draws its coresets without any scoring
model. A fresh model trained on every coreset, and on the whole pool, gives
the test accuracies that the report compares.
"""

import json
import platform
import time

import numpy as np

from ._main import (
    describe_pool,
    load_pool,
    make_model,
    n_select,
    per_class_counts,
    random_coreset,
    report_parameters,
    train_and_test,
    write_coreset,
)
from .._progress import make_bar
from ._report import (
    FULL_DATA,
    best_rows,
    percent_cell,
    plot_accuracy,
    plot_histograms,
    seconds_cell,
    write_page,
)

#: Methods that score the pool, and their pruners.
SCORED = {"unseen": "UnseenPruner", "fitting": "FittingPruner"}

#: The columns of the comparison table and what they hold.
COLUMNS = [
    ("keep", "training samples kept, as a percentage of the pool"),
    ("method", "unseen: scores from models that never trained on the sample (K-fold, "
               "out-of-fold); fitting: scores from models trained on all samples (the "
               "conventional baseline); random: a class-stratified uniform draw, no scoring "
               "model; full data: the whole pool (the reference)"),
    ("selector", "the rule that turned the scores into the coreset"),
    ("samples", "training samples in the coreset"),
    ("test accuracy (%)", "mean ± sample standard deviation over the seeds of a fresh "
                          "model trained on the coreset, on the test split; ★ marks the "
                          "highest mean at each keep (a difference within the ± is seed "
                          "noise)"),
    ("n", "number of seeds (coresets and trainings) behind the test accuracy"),
    ("score std", "standard deviation of the scores over the pool, mean over the seeds "
                  "(score units; a wider spread separates samples better)"),
    ("scoring (s)", "wall-clock seconds of training the scoring models, mean per seed "
                    "(one scoring serves every keep and selector)"),
    ("training (s)", "wall-clock seconds of training the evaluated model, mean per seed"),
]


def run_compare(args):
    """Run the comparison described by the parsed ``compare`` options; write the report."""
    started = time.perf_counter()
    data, sizes = _checked_pool(args)
    args.out.mkdir(parents=True, exist_ok=True)
    comparison = _Comparison(args, data, sizes)
    comparison.run()
    _write_report(args, data, comparison, started)
    return 0


def _checked_pool(args):
    """The pool and the size of every keep, once the options are known to work on it."""
    if "random" in args.selectors:
        raise ValueError("--selectors random: the random baseline is the method random "
                         "(--methods), which trains no scoring model")
    data = load_pool(args)
    X, y, _, y_test = data
    if len(y_test) == 0:
        raise ValueError("the test split is empty; raise --test-limit")
    sizes = {keep: n_select(keep, len(y), "--keeps") for keep in args.keeps}
    # A --model or --device that cannot work fails here, before --out is written.
    make_model(args, X, len(np.unique(y)), epochs=args.score_epochs or args.epochs)
    return data, sizes


class _Comparison:
    """The trainings of one ``compare`` run, seed after seed, and their results.

    ``rows`` maps ``(method, selector, keep)`` to the coreset size and the
    accuracies and timings over the seeds; ``panels`` are seed 0's score
    histograms; ``evaluated`` names the evaluated model and its epochs.
    """

    def __init__(self, args, data, sizes):
        self.args = args
        self.data = data
        self.sizes = sizes
        self.scored = [method for method in args.methods if method in SCORED]
        self.n_classes = len(np.unique(data.y_train))
        self.rows, self.panels, self.evaluated = {}, [], {}
        self._bar = None

    def run(self):
        """Score, select and evaluate for every seed; one progress step per training."""
        args, n_keeps = self.args, len(self.sizes)
        n_steps = args.seeds * (len(self.scored) * (1 + len(args.selectors) * n_keeps)
                                + ("random" in args.methods) * n_keeps
                                + ("full" in args.methods))
        if args.verbose:
            self._bar = make_bar(total=n_steps, desc="compare", unit="steps", leave=True)
        for seed in range(args.seeds):
            for method in self.scored:
                self._score_and_select(method, seed)
            if "random" in args.methods:
                for keep in self.sizes:
                    self._evaluate(("random", None, keep),
                                   random_coreset(self.data.y_train, keep, seed), seed,
                                   f"random-keep{keep}-seed{seed}")
                    self._step(f"random keep {keep}, seed {seed}")
            if "full" in args.methods:
                self._evaluate(("full", None, None), np.arange(len(self.data.y_train)), seed)
                self._step(f"full data, seed {seed}")
        if self._bar is not None:
            self._bar.close()

    def results(self):
        """The rows as dicts, by keep, then method and selector in the order asked for."""
        methods, selectors = self.args.methods, self.args.selectors
        results = [{"method": method, "selector": selector, "keep": keep, **row}
                   for (method, selector, keep), row in self.rows.items()]
        results.sort(key=lambda r: (r["keep"] is None, r["n_selected"],
                                    methods.index(r["method"]),
                                    selectors.index(r["selector"]) if r["selector"] else 0))
        return results

    def _score_and_select(self, method, seed):
        """Score the pool once with ``method``, then evaluate every selector's coresets."""
        import skunseen

        args, X, y = self.args, self.data.X_train, self.data.y_train
        params = {"cv": args.folds} if method == "unseen" else {}
        # No epoch bar on the scoring nets, as in prune: the scores must not
        # depend on --quiet (a callback turns fold batching off).
        pruner = getattr(skunseen, SCORED[method])(
            make_model(args, X, self.n_classes, epochs=args.score_epochs or args.epochs),
            scorer=args.scorer, selector=args.selectors[0], keep=args.keeps[0],
            random_state=seed, n_jobs=args.jobs, checkpoint_dir=args.out / "checkpoints",
            **params)
        start = time.perf_counter()
        pruner.fit(X, y)
        scoring_seconds = time.perf_counter() - start
        scores = pruner.scores_
        (args.out / "scores").mkdir(exist_ok=True)
        np.save(args.out / "scores" / f"{method}-seed{seed}.npy", scores)
        self._step(f"{method} scores, seed {seed}")
        for selector in args.selectors:
            for keep in self.sizes:
                # Acts after scoring: the scoring models are read back, not retrained.
                coreset = pruner.set_params(selector=selector, keep=keep).fit(X, y) \
                    .sample_indices_
                row = self._evaluate((method, selector, keep), coreset, seed,
                                     f"{method}-{selector}-keep{keep}-seed{seed}")
                row.setdefault("score_std", []).append(float(scores.std()))
                row.setdefault("scoring_seconds", []).append(scoring_seconds)
                if seed == 0 and selector == args.selectors[0]:
                    self.panels.append({"title": f"{method}, keep {_percent(keep, self.sizes, y)}",
                                        "scores": scores, "kept": coreset,
                                        "xlabel": f"{args.scorer} importance"})
                self._step(f"{method} {selector} keep {keep}, seed {seed}")

    def _evaluate(self, key, coreset, seed, name=None):
        """Train a fresh model on ``coreset``; add its accuracy to the row ``key``.

        A ``name`` also writes the coreset under ``coresets/``.
        """
        data, out = self.data, self.args.out
        net, predicted, seconds = train_and_test(
            self.args, data, coreset, seed, progress_desc="epochs" if self.args.verbose else None)
        self.evaluated.setdefault("model", type(net.module_).__name__)
        self.evaluated.setdefault("epochs", len(net.history))
        row = self.rows.setdefault(key, {"n_selected": len(coreset), "accuracy": [],
                                         "training_seconds": [], "coresets": []})
        row["accuracy"].append(float(np.mean(predicted == data.y_test)))
        row["training_seconds"].append(seconds["train"])
        if name is not None:
            (out / "coresets").mkdir(exist_ok=True)
            write_coreset(out / "coresets", name, coreset, data)
            row["coresets"].append(f"coresets/{name}.csv")
            row.setdefault("per_class", per_class_counts(data, data.y_train, coreset))
        return row

    def _step(self, label):
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update()


def _write_report(args, data, comparison, started):
    """Write the page, its figures and report.json into ``--out``; print the summary."""
    out, n_pool, n_test = args.out, len(data.y_train), len(data.y_test)
    results, evaluated = comparison.results(), comparison.evaluated
    figures = _figures(args, results, comparison.panels, n_pool, n_test, evaluated)
    best = best_rows([r["keep"] for r in results],
                     [r["accuracy"] if r["keep"] is not None else [] for r in results])
    seconds = time.perf_counter() - started
    summary = _summary(results, best, n_pool)
    write_page(
        out, title=f"skunseen compare: {args.dataset}",
        paragraphs=[_setup(args, n_pool, n_test, evaluated), summary],
        columns=COLUMNS, rows=[_cells(r, i in best, n_pool) for i, r in enumerate(results)],
        figures=figures,
        notes=[f"Every coreset is in coresets/ as .npy (rows of the pool) and .csv (pool "
               f"row, index in the dataset, file, class); every pool's scores are in "
               f"scores/; all numbers and parameters in report.json. {seconds:.0f} s in all."])
    report = {
        "command": "compare",
        "parameters": report_parameters(args),
        "pool": describe_pool(args, data),
        "n_pool": int(n_pool),
        "n_test": int(n_test),
        "classes": data.classes,
        "model": evaluated["model"],
        "epochs": evaluated["epochs"],
        "rows": [{**r, "best": i in best} for i, r in enumerate(results)],
        "seconds": seconds,
        "environment": {"python": platform.python_version()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(summary)
    written = sorted(path.name + ("/" if path.is_dir() else "") for path in out.iterdir()
                     if path.name != "checkpoints")
    print(f"wrote {', '.join(written)} into {out} in {seconds:.0f} s")


def _percent(keep, sizes, y):
    return f"{100 * sizes[keep] / len(y):.0f}%"


def _label(row):
    if row["method"] in SCORED:
        return f"{row['method']} ({row['selector']})"
    return FULL_DATA if row["method"] == "full" else row["method"]


def _cells(row, best, n_pool):
    scored = row["method"] in SCORED
    return [
        f"{100 * row['n_selected'] / n_pool:.0f}%",
        FULL_DATA if row["method"] == "full" else row["method"],
        row["selector"] or "",
        str(row["n_selected"]),
        percent_cell(row["accuracy"], best=best),
        str(len(row["accuracy"])),
        f"{np.mean(row['score_std']):.4f}" if scored else "",
        seconds_cell(row["scoring_seconds"]) if scored else (
            "0" if row["method"] == "random" else ""),
        seconds_cell(row["training_seconds"]),
    ]


def _setup(args, n_pool, n_test, evaluated):
    folds = f"{args.folds}-fold " if "unseen" in args.methods else ""
    return (f"{args.dataset}: a pool of {n_pool} training samples, {n_test} test samples; "
            f"{evaluated['model']} trained for {evaluated['epochs']} epochs on every coreset; "
            f"scores: {folds}{args.scorer}; {args.seeds} seed(s).")


def _summary(results, best, n_pool):
    by_keep = {}
    for i in sorted(best):
        row = results[i]
        by_keep.setdefault(f"{100 * row['n_selected'] / n_pool:.0f}%", []).append(
            f"{_label(row)} {100 * np.mean(row['accuracy']):.2f}%")
    parts = [f"keep {keep}: {' = '.join(labels)}" for keep, labels in by_keep.items()]
    full = [r for r in results if r["method"] == "full"]
    if full:
        parts.append(f"{FULL_DATA}: {100 * np.mean(full[0]['accuracy']):.2f}%")
    if not by_keep:
        return "One method at each keep, so none is marked best. " + "; ".join(parts) + "."
    return "Best mean test accuracy at each keep: " + "; ".join(parts) + "."


def _figures(args, results, panels, n_pool, n_test, evaluated):
    curves = {}
    for row in results:
        if row["keep"] is not None:
            curves.setdefault(_label(row), []).append(
                (row["n_selected"] / n_pool, row["accuracy"]))
    full = [r["accuracy"] for r in results if r["method"] == "full"]
    figures = []
    if curves:
        plot_accuracy(curves, args.out / "accuracy.png", reference=full[0] if full else None,
                      title=f"{args.dataset}: {n_pool} training samples, {n_test} test; "
                            f"{evaluated['model']}; mean ± std over {args.seeds} seed(s)")
        figures.append(("accuracy.png", "Test accuracy against the fraction of the pool "
                                        "kept; error bars: sample std over the seeds."))
    if panels:
        plot_histograms(panels, args.out / "scores.png", columns=len(args.keeps), sharex=True)
        figures.append(("scores.png", "Scores of seed 0 over the pool, the coreset (kept) "
                                      "stacked on the pruned samples; one row per method, "
                                      "one column per keep."))
    return figures
