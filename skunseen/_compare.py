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

from ._cli import (
    describe_pool,
    load_pool,
    make_model,
    n_select,
    per_class_counts,
    random_coreset,
    train_and_test,
    write_coreset,
    _parameters,
)
from ._progress import make_bar
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
    import skunseen

    if "random" in args.selectors:
        raise ValueError("--selectors random: the random baseline is the method random "
                         "(--methods), which trains no scoring model")
    started = time.perf_counter()
    data = load_pool(args)
    X, y, _, y_test = data
    if len(y_test) == 0:
        raise ValueError("the test split is empty; raise --test-limit")
    sizes = {keep: n_select(keep, len(y), "--keeps") for keep in args.keeps}
    scored = [method for method in args.methods if method in SCORED]
    n_classes = len(np.unique(y))
    score_epochs = args.score_epochs or args.epochs
    # A --model or --device that cannot work fails here, before --out is written.
    make_model(args, X, n_classes, epochs=score_epochs)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    n_steps = args.seeds * (len(scored) * (1 + len(args.selectors) * len(sizes))
                            + ("random" in args.methods) * len(sizes)
                            + ("full" in args.methods))
    bar = make_bar(total=n_steps, desc="compare", unit="steps", leave=True) if args.verbose \
        else None
    epoch_bars = "epochs" if args.verbose else None
    rows, panels, evaluated = {}, [], {}

    def step(label):
        if bar is not None:
            bar.set_postfix_str(label, refresh=False)
            bar.update()

    def evaluate(key, coreset, seed, name=None):
        net, predicted, seconds = train_and_test(args, data, coreset, seed,
                                                 progress_desc=epoch_bars)
        evaluated.setdefault("model", type(net.module_).__name__)
        evaluated.setdefault("epochs", len(net.history))
        row = rows.setdefault(key, {"n_selected": len(coreset), "accuracy": [],
                                    "training_seconds": [], "coresets": []})
        row["accuracy"].append(float(np.mean(predicted == y_test)))
        row["training_seconds"].append(seconds["train"])
        if name is not None:
            (out / "coresets").mkdir(exist_ok=True)
            write_coreset(out / "coresets", name, coreset, data)
            row["coresets"].append(f"coresets/{name}.csv")
            row.setdefault("per_class", per_class_counts(data, y, coreset))
        return row

    for seed in range(args.seeds):
        for method in scored:
            params = {"cv": args.folds} if method == "unseen" else {}
            pruner = getattr(skunseen, SCORED[method])(
                make_model(args, X, n_classes, epochs=score_epochs,
                           progress_desc="scoring net epochs" if args.verbose else None),
                scorer=args.scorer, selector=args.selectors[0], keep=args.keeps[0],
                random_state=seed, n_jobs=args.jobs, checkpoint_dir=out / "checkpoints",
                **params)
            start = time.perf_counter()
            pruner.fit(X, y)
            scoring_seconds = time.perf_counter() - start
            scores = pruner.scores_
            (out / "scores").mkdir(exist_ok=True)
            np.save(out / "scores" / f"{method}-seed{seed}.npy", scores)
            step(f"{method} scores, seed {seed}")
            for selector in args.selectors:
                for keep in sizes:
                    # Acts after scoring: the scoring models are read back, not retrained.
                    coreset = pruner.set_params(selector=selector, keep=keep).fit(X, y) \
                        .sample_indices_
                    row = evaluate((method, selector, keep), coreset, seed,
                                   f"{method}-{selector}-keep{keep}-seed{seed}")
                    row.setdefault("score_std", []).append(float(scores.std()))
                    row.setdefault("scoring_seconds", []).append(scoring_seconds)
                    if seed == 0 and selector == args.selectors[0]:
                        panels.append({"title": f"{method}, keep {_percent(keep, sizes, y)}",
                                       "scores": scores, "kept": coreset,
                                       "xlabel": f"{args.scorer} importance"})
                    step(f"{method} {selector} keep {keep}, seed {seed}")
        if "random" in args.methods:
            for keep in sizes:
                evaluate(("random", None, keep), random_coreset(y, keep, seed), seed,
                         f"random-keep{keep}-seed{seed}")
                step(f"random keep {keep}, seed {seed}")
        if "full" in args.methods:
            evaluate(("full", None, None), np.arange(len(y)), seed)
            step(f"full data, seed {seed}")
    if bar is not None:
        bar.close()

    results = [{"method": method, "selector": selector, "keep": keep, **row}
               for (method, selector, keep), row in rows.items()]
    results.sort(key=lambda r: (r["keep"] is None, r["n_selected"],
                                args.methods.index(r["method"]),
                                args.selectors.index(r["selector"]) if r["selector"] else 0))
    figures = _figures(args, results, panels, len(y), len(y_test), evaluated)
    best = best_rows([r["keep"] for r in results],
                     [r["accuracy"] if r["keep"] is not None else [] for r in results])
    seconds = time.perf_counter() - started
    summary = _summary(results, best, len(y))
    write_page(
        out, title=f"skunseen compare: {args.dataset}",
        paragraphs=[_setup(args, len(y), len(y_test), evaluated), summary],
        columns=COLUMNS, rows=[_cells(r, i in best, len(y)) for i, r in enumerate(results)],
        figures=figures,
        notes=[f"Every coreset is in coresets/ as .npy (rows of the pool) and .csv (pool "
               f"row, index in the dataset, file, class); every pool's scores are in "
               f"scores/; all numbers and parameters in report.json. {seconds:.0f} s in all."])
    report = {
        "command": "compare",
        "parameters": _parameters(args),
        "pool": describe_pool(args, data),
        "n_pool": int(len(y)),
        "n_test": int(len(y_test)),
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
    return 0


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
