"""``skunseen compare``: which coreset is better?

For every seed, the pool is scored once by UNSEEN and once by the fitting
baseline; every keep ratio and selector then selects from those scores
(the refits read the scoring models back from ``--out/checkpoints``, so a
coreset here is the one ``skunseen prune`` writes for the same options and
``--seed``). The random baseline draws its coresets without any scoring
model. A fresh model trained on every coreset, and on the whole pool, gives
the test accuracies that the report compares.
"""

import csv
import itertools
import json
import platform
import time

import numpy as np

from ._output import stop_if_interrupted
from ._runs import (
    COMPARE_REPORT,
    COMPARE_METHODS,
    describe_pool,
    forget_report,
    load_pool,
    make_model,
    memory_of,
    n_select,
    per_class_counts,
    random_coreset,
    report_parameters,
    train_and_test,
    write_coreset,
)
from .._progress import make_bar
from ._report import (
    BEST,
    CONFIDENCE,
    FULL_DATA,
    paired_difference,
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
    ("test accuracy (%)", f"mean ± sample standard deviation over the seeds of a fresh "
                          f"model trained on the coreset, on the test split; {BEST} marks "
                          f"the method detected better than every other at its keep by the "
                          f"paired differences below (none where no method is)"),
    ("n", "number of seeds (coresets and trainings) behind the test accuracy"),
    ("score std", "standard deviation of the scores over the pool, mean over the seeds "
                  "(score units; a wider spread separates samples better)"),
    ("scoring (s)", "wall-clock seconds of the scoring, mean per seed (one scoring serves "
                    "every keep and selector; scoring models read back from --memory take "
                    "no training)"),
    ("training (s)", "wall-clock seconds of training the evaluated model, mean per seed"),
]


#: The columns of the paired-differences table and what they hold.
DIFFERENCE_COLUMNS = [
    ("keep", "training samples kept, as a percentage of the pool"),
    ("difference", "the two methods compared, first − second, on the same seeds: seed s "
                   "scored, selected and trained both"),
    ("mean (points)", "mean over the seeds of the first's test accuracy minus the "
                      "second's, in percentage points"),
    (f"{100 * CONFIDENCE:.0f}% interval (points)",
     "paired t interval of that mean (scipy.stats.t with n − 1 degrees of freedom)"),
    ("p", "two-sided paired t test of a zero mean difference (the sign test where every "
          "seed gave the same difference, which leaves no interval)"),
    ("first ahead", "seeds on which the first had the higher test accuracy, of n"),
    ("verdict", f"better / worse: the first is better / worse than the second (p below "
                f"{1 - CONFIDENCE:.2f}: the interval lies above / below 0); no difference "
                f"detected with n seeds: the interval holds 0, so these seeds cannot tell the "
                f"two apart (more seeds narrow it)"),
]


def run_compare(args):
    """Run the comparison described by the parsed ``compare`` options; write the report.

    A report that a failure or an interrupt cut short is removed: it must
    not look finished.
    """
    before = {name: _file_identity(args.out / name) for name in COMPARE_REPORT}
    try:
        started = time.perf_counter()
        data, sizes = _checked_pool(args)
        args.out.mkdir(parents=True, exist_ok=True)
        forget_report(args.out)
        comparison = _Comparison(args, data, sizes)
        comparison.run()
        _write_report(args, data, comparison, started)
        stop_if_interrupted()
        return 0
    except BaseException:
        for name in COMPARE_REPORT:
            if _file_identity(args.out / name) != before[name]:
                (args.out / name).unlink(missing_ok=True)
        raise


def _file_identity(path):
    """What tells a file apart from the one that was there before (None: no file)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


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
        # Scoring models trained by this run, and read back from --memory.
        self.models = {"trained": 0, "resumed": 0}
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
            random_state=seed, n_jobs=args.jobs, memory=memory_of(args),
            **params)
        start = time.perf_counter()
        pruner.fit(X, y)
        scoring_seconds = time.perf_counter() - start
        self.models["resumed"] += pruner.n_tasks_resumed_
        self.models["trained"] += len(pruner.task_info_) - pruner.n_tasks_resumed_
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
            write_coreset(out / "coresets", name, coreset, data, self.args)
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
    differences = _differences(results, args.selectors)
    best = _detected_best(results, differences)
    figures = _figures(args, results, differences, best, comparison.panels, n_pool, n_test,
                       evaluated)
    seconds = time.perf_counter() - started
    summary = _summary(results, differences, best, n_pool, args.seeds)
    notes = [("Every pool's scores are in scores/; " if comparison.scored else "")
             + f"all numbers and parameters are in report.json. {seconds:.0f} s in all."]
    coresets = [row["coresets"][0] for row in results if row.get("coresets")]
    if coresets:
        with open(out / coresets[0], newline="") as file:
            header = next(csv.reader(file))
        notes.insert(0, f"Every coreset is in coresets/ as .npy (rows of the pool) and .csv "
                        f"(columns {', '.join(header)}).")
    sections = []
    if differences:
        sections.append((
            "Paired differences",
            f"Every method of a keep was scored, selected and trained with the same seeds, "
            f"so they are compared seed by seed: the difference of their test accuracies on "
            f"each seed, its mean and its {100 * CONFIDENCE:.0f}% interval. Each interval "
            f"holds at {100 * CONFIDENCE:.0f}% on its own: among many comparisons of equally "
            f"good methods, about one in {round(1 / (1 - CONFIDENCE))} still shows a "
            f"difference.",
            DIFFERENCE_COLUMNS,
            [_difference_cells(d, results, n_pool) for d in differences]))
    write_page(
        out, title=f"skunseen compare: {args.dataset}",
        paragraphs=[_setup(args, n_pool, n_test, evaluated, comparison.models), summary],
        columns=COLUMNS, rows=[_cells(r, i in best, n_pool) for i, r in enumerate(results)],
        sections=sections, figures=figures, notes=notes)
    report = {
        "command": "compare",
        "parameters": report_parameters(args),
        "pool": describe_pool(args, data),
        "n_pool": int(n_pool),
        "n_test": int(n_test),
        "classes": data.classes,
        "model": evaluated["model"],
        "epochs": evaluated["epochs"],
        "summary": summary,
        "scoring_models": comparison.models,
        "confidence": CONFIDENCE,
        "rows": [{**r, "best": i in best} for i, r in enumerate(results)],
        "differences": [_difference_record(d, results) for d in differences],
        "seconds": seconds,
        "environment": {"python": platform.python_version()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(summary)
    written = sorted(path.name + ("/" if path.is_dir() else "") for path in out.iterdir()
                     if path.name != "checkpoints")
    print(f"wrote {', '.join(written)} into {out} in {seconds:.0f} s")


def _differences(results, selectors):
    """The paired differences of every two rows of the same keep.

    Each pair is ordered unseen, fitting, random (then by selector), so the
    differences read unseen − fitting, unseen − random and fitting − random.
    """
    def order(i):
        row = results[i]
        return (COMPARE_METHODS.index(row["method"]),
                selectors.index(row["selector"]) if row["selector"] else 0)

    differences = []
    for keep in dict.fromkeys(r["keep"] for r in results if r["keep"] is not None):
        members = sorted((i for i, r in enumerate(results) if r["keep"] == keep), key=order)
        for first, second in itertools.combinations(members, 2):
            differences.append({
                "keep": keep, "n_selected": results[first]["n_selected"],
                "first": first, "second": second,
                **paired_difference(results[first]["accuracy"], results[second]["accuracy"])})
    return differences


def _detected_best(results, differences):
    """Rows detected better than every other row of their keep."""
    wins, rivals = {}, {}
    for d in differences:
        for row, verdict in ((d["first"], "better"), (d["second"], "worse")):
            rivals[row] = rivals.get(row, 0) + 1
            wins[row] = wins.get(row, 0) + (d["verdict"] == verdict)
    return {row for row, count in rivals.items() if wins[row] == count}


def _method_of(row):
    return {"method": row["method"], "selector": row["selector"]}


def _difference_record(difference, results):
    """A paired difference as report.json holds it: the rows named by method."""
    return {**{key: value for key, value in difference.items()
               if key not in ("first", "second")},
            "label": _difference_label(difference, results),
            "first": _method_of(results[difference["first"]]),
            "second": _method_of(results[difference["second"]])}


def _difference_label(difference, results):
    return f"{_label(results[difference['first']])} − {_label(results[difference['second']])}"


def _signed(value):
    return f"{100 * value:+.2f}"


def _difference_cells(difference, results, n_pool):
    interval = ("" if difference["low"] is None
                else f"[{_signed(difference['low'])}, {_signed(difference['high'])}]")
    return [
        f"{100 * difference['n_selected'] / n_pool:.0f}%",
        _difference_label(difference, results),
        _signed(difference["mean"]),
        interval,
        "" if difference["p_value"] is None else f"{difference['p_value']:.3f}",
        f"{difference['n_ahead']} of {difference['n']}",
        difference["verdict"],
    ]


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


def _setup(args, n_pool, n_test, evaluated, models):
    folds = f"{args.folds}-fold " if "unseen" in args.methods else ""
    resumed = (f", {models['resumed']} read back from --memory" if models["resumed"] else "")
    return (f"{args.dataset}: a pool of {n_pool} training samples, {n_test} test samples; "
            f"{evaluated['model']} trained for {evaluated['epochs']} epochs on every coreset; "
            f"scores: {folds}{args.scorer}, from {models['trained']} scoring models trained"
            f"{resumed}; {args.seeds} seed(s).")


def _summary(results, differences, best, n_pool, n_seeds):
    """The headline: at each keep, the best method and the differences detected."""
    parts = []
    for keep in dict.fromkeys(d["keep"] for d in differences):
        at_keep = [d for d in differences if d["keep"] == keep]
        percent = f"{100 * at_keep[0]['n_selected'] / n_pool:.0f}%"
        detected = [_detected_phrase(d, results) for d in at_keep
                    if d["verdict"] in ("better", "worse")]
        if not detected:
            parts.append(f"keep {percent}: {at_keep[0]['verdict']}")
            continue
        winner = [i for i in best if results[i]["keep"] == keep]
        prefix = "".join(f"{_label(results[i])} best {BEST} "
                         f"({100 * np.mean(results[i]['accuracy']):.2f}%), " for i in winner)
        parts.append(f"keep {percent}: {prefix}{', '.join(detected)}")
    full = [r for r in results if r["method"] == "full"]
    if full:
        parts.append(f"{FULL_DATA}: {100 * np.mean(full[0]['accuracy']):.2f}%")
    if not differences:
        return "One method at each keep, so none is compared. " + "; ".join(parts) + "."
    return (f"Test accuracy, paired over {n_seeds} seed{'s' * (n_seeds > 1)} "
            f"({100 * CONFIDENCE:.0f}% intervals, in points): " + "; ".join(parts) + ".")


def _detected_phrase(difference, results):
    """``"A better than B by x [low, high]"`` (in points), with the winner first."""
    first, second = _label(results[difference["first"]]), _label(results[difference["second"]])
    sign = 1 if difference["verdict"] == "better" else -1
    if sign < 0:
        first, second = second, first
    phrase = f"{first} better than {second} by {100 * sign * difference['mean']:.2f}"
    if difference["low"] is None:  # the same difference on every seed
        return f"{phrase} on every seed"
    low, high = sorted((100 * sign * difference["low"], 100 * sign * difference["high"]))
    return f"{phrase} [{low:.2f}, {high:.2f}]"


def _figures(args, results, differences, best, panels, n_pool, n_test, evaluated):
    curves = {}
    for row in results:
        if row["keep"] is not None:
            curves.setdefault(_label(row), []).append(
                (row["n_selected"] / n_pool, row["accuracy"]))
    paired = {}
    for d in differences:
        paired.setdefault(_difference_label(d, results), []).append(
            (d["n_selected"] / n_pool, d))
    full = [r["accuracy"] for r in results if r["method"] == "full"]
    figures = []
    if curves:
        plot_accuracy(curves, args.out / "accuracy.png", reference=full[0] if full else None,
                      title=f"{args.dataset}: {n_pool} training samples, {n_test} test; "
                            f"{evaluated['model']}; {args.seeds} seed(s)",
                      best={(_label(results[i]), results[i]["n_selected"] / n_pool)
                            for i in best},
                      differences=paired)
        caption = ("Test accuracy against the fraction of the pool kept: mean, error bars "
                   f"the sample std over the seeds, {BEST} the method detected best at its "
                   "keep.")
        if paired:
            caption += (f" Right: the paired differences with their {100 * CONFIDENCE:.0f}% "
                        "intervals; a filled marker where the interval excludes 0.")
        figures.append(("accuracy.png", caption))
    if panels:
        plot_histograms(panels, args.out / "scores.png", columns=len(args.keeps), sharex=True)
        figures.append(("scores.png", "Scores of seed 0 over the pool, the coreset (kept) "
                                      "stacked on the pruned samples; one row per method, "
                                      "one column per keep."))
    return figures
