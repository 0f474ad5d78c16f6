"""Report pages: ``skunseen report`` (several prune / evaluate runs side by
side) and the building blocks that ``skunseen compare`` shares with it
(accuracy cells, tables with explained columns, figures, the page itself)."""

import base64
import contextlib
import html
import json
from pathlib import Path

import numpy as np

#: Marks the row with the highest mean test accuracy among the rows it competes with
#: (``skunseen report``), or the row detected better than every rival (``compare``).
BEST = "★"
#: Confidence level of the paired intervals of ``skunseen compare``.
CONFIDENCE = 0.95
#: Label of full-data evaluations (``skunseen evaluate`` without ``--coreset``).
FULL_DATA = "full data"


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


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value) of ``values``.

    Examples
    --------
    >>> from skunseen.cli._report import mean_std
    >>> mean, std = mean_std([0.9, 0.8])
    >>> round(mean, 3), round(std, 3), mean_std([0.5])
    (0.85, 0.071, (0.5, 0.0))
    """
    values = np.asarray(values, dtype=float)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return float(values.mean()), float(std)


def percent_cell(values, *, best=False):
    """Fractions as ``mean ± std`` in percent; a single value without ``±``.

    Examples
    --------
    >>> from skunseen.cli._report import percent_cell
    >>> percent_cell([0.91, 0.93]), percent_cell([0.9]), percent_cell([], best=True)
    ('92.00 ± 1.41', '90.00', '')
    >>> percent_cell([0.9], best=True)
    '90.00 ★'
    """
    if len(values) == 0:
        return ""
    mean, std = mean_std(values)
    cell = f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if len(values) > 1 else "")
    return f"{cell} {BEST}" if best else cell


def seconds_cell(values):
    """Mean wall-clock seconds, to two decimals below 10 s.

    Examples
    --------
    >>> from skunseen.cli._report import seconds_cell
    >>> seconds_cell([0.01, 0.03]), seconds_cell([42.4])
    ('0.02', '42')
    """
    mean = float(np.mean(values))
    return f"{mean:.2f}" if mean < 10 else f"{mean:.0f}"


def best_rows(groups, accuracies):
    """Rows with the highest mean accuracy in their group, where a group has a rival.

    Parameters
    ----------
    groups : list
        The group (e.g. the coreset size) of every row.
    accuracies : list of sequences of float
        The accuracies of every row (empty: the row does not compete).

    Returns
    -------
    set of int
        Positions of the best rows (ties: all of them).

    Examples
    --------
    >>> from skunseen.cli._report import best_rows
    >>> sorted(best_rows([1, 1, 2, 3, 3], [[0.5], [0.7], [0.9], [0.6], []]))
    [1]
    """
    best = set()
    for group in set(groups):
        members = [i for i, g in enumerate(groups) if g == group and len(accuracies[i])]
        if len(members) < 2:
            continue
        means = {i: np.mean(accuracies[i]) for i in members}
        top = max(means.values())
        best.update(i for i in members if means[i] == top)
    return best


def paired_difference(first, second, *, confidence=CONFIDENCE):
    """The mean paired difference ``first - second``, its t interval and a verdict.

    ``first[i]`` and ``second[i]`` come from the same seed (the same
    scoring, selection and training seed), so the seed-to-seed spread that
    both share cancels in their difference; the interval is the paired
    t interval of the mean difference. Where every seed gives the same
    nonzero difference, the t interval is undefined (zero spread); the
    verdict then comes from the sign test (``p = 2 * 0.5 ** n``).

    Parameters
    ----------
    first, second : sequence of float
        Paired values (e.g. test accuracies), one per seed.
    confidence : float, default=0.95
        Confidence level of the interval.

    Returns
    -------
    dict
        ``n`` (pairs), ``mean``, ``low`` and ``high`` (the interval; None
        with a single pair or no spread), ``p_value`` (two-sided; None with a
        single pair), ``n_ahead`` (pairs where ``first`` is larger) and
        ``verdict``: ``"better"`` or ``"worse"`` when ``p_value`` is below
        ``1 - confidence`` (the interval then lies above or below 0), else
        ``"no difference detected with n seeds"``.

    Examples
    --------
    >>> from skunseen.cli._report import paired_difference
    >>> result = paired_difference([0.93, 0.93, 0.93, 0.94, 0.94],
    ...                            [0.92, 0.93, 0.92, 0.93, 0.93])
    >>> result["verdict"], round(result["mean"], 3), result["n_ahead"]
    ('better', 0.008, 4)
    >>> paired_difference([0.9, 0.7], [0.8, 0.8])["verdict"]
    'no difference detected with 2 seeds'
    """
    from scipy import stats

    differences = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    n = len(differences)
    if n == 0:
        raise ValueError("paired_difference needs at least one pair")
    mean = float(differences.mean())
    result = {"n": n, "mean": mean, "low": None, "high": None, "p_value": None,
              "n_ahead": int(np.sum(differences > 0))}
    if n > 1:
        error = differences.std(ddof=1) / np.sqrt(n)
        if error > 0:
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * error)
            result.update(low=mean - half, high=mean + half,
                          p_value=float(2 * stats.t.sf(abs(mean) / error, n - 1)))
        else:
            result["p_value"] = 1.0 if mean == 0 else min(1.0, 2 * 0.5 ** n)
    if result["p_value"] is not None and result["p_value"] < 1 - confidence:
        result["verdict"] = "better" if mean > 0 else "worse"
    else:
        result["verdict"] = f"no difference detected with {n} seed{'s' * (n > 1)}"
    return result


def markdown_table(columns, rows):
    """A markdown table; ``columns`` are ``(name, explanation)`` pairs.

    Cells are text: HTML in them is escaped, so that a run folder named
    ``<img src=x onerror=...>`` shows as that name in a markdown viewer, and
    ``|`` and line breaks cannot split a row.

    Examples
    --------
    >>> from skunseen.cli._report import markdown_table
    >>> print(markdown_table([("run", "")], [["<b>a|b</b> & c"]]))
    | run |
    | --- |
    | &lt;b&gt;a\\|b&lt;/b&gt; &amp; c |
    """
    lines = ["| " + " | ".join(_markdown_cell(name) for name, _ in columns) + " |",
             "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _markdown_cell(value):
    text = " ".join(str(value).splitlines())
    return html.escape(text, quote=False).replace("|", "\\|")


def column_legend(columns):
    """One markdown bullet per column: its name and what it holds."""
    return "\n".join(f"- **{name}**: {explanation}" for name, explanation in columns)


def write_page(out, *, title, paragraphs, columns, rows, figures, notes=(), sections=()):
    """Write ``report.md`` and a self-contained ``report.html`` into ``out``.

    Parameters
    ----------
    out : Path
        Existing folder holding the figures.
    title : str
        Page title.
    paragraphs : list of str
        Text before the table (plain text; markdown emphasis is not
        rendered in the HTML page).
    columns : list of (str, str)
        Column names and what each holds, listed under the table.
    rows : list of list of str
        Table cells.
    figures : list of (str, str)
        File names (in ``out``) and their captions, shown after the table.
    notes : list of str
        Text after the figures.
    sections : list of (str, str, list of (str, str), list of list of str)
        More tables, each with a heading, a paragraph, its columns and rows,
        shown after the first table and before the figures.

    Returns
    -------
    dict of str to Path
        ``markdown`` and ``html``.
    """
    parts = [f"# {title}", *paragraphs, markdown_table(columns, rows),
             "Columns:\n\n" + column_legend(columns)]
    for heading, text, section_columns, section_rows in sections:
        parts += [f"## {heading}", text, markdown_table(section_columns, section_rows),
                  "Columns:\n\n" + column_legend(section_columns)]
    parts += [f"![{caption}]({name})\n\n{caption}" for name, caption in figures]
    parts += list(notes)
    (out / "report.md").write_text("\n\n".join(parts) + "\n")

    escape = html.escape

    def table(columns, rows):
        head = "".join(f"<th title='{escape(text)}'>{escape(name)}</th>"
                       for name, text in columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row)
                       + "</tr>" for row in rows)
        legend = "".join(f"<li><b>{escape(name)}</b>: {escape(text)}</li>"
                         for name, text in columns)
        return f"<table><tr>{head}</tr>{body}</table><p>Columns:</p><ul>{legend}</ul>"

    images = "".join(
        f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,"
        f"{base64.b64encode((out / name).read_bytes()).decode()}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        for name, caption in figures)
    page = (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:72em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}img{max-width:100%}</style>"
        f"<h1>{escape(title)}</h1>"
        + "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
        + table(columns, rows)
        + "".join(f"<h2>{escape(heading)}</h2><p>{escape(text)}</p>"
                  + table(section_columns, section_rows)
                  for heading, text, section_columns, section_rows in sections)
        + images
        + "".join(f"<p>{escape(text)}</p>" for text in notes))
    (out / "report.html").write_text(page)
    return {"markdown": out / "report.md", "html": out / "report.html"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histograms(panels, path, *, columns=None, sharex="row"):
    """Score histograms, one panel each, the coreset's samples stacked on the rest.

    Parameters
    ----------
    panels : list of dict
        ``title``, ``scores`` (one importance per pool row), ``xlabel`` and
        optionally ``kept`` (coreset row indices; the panel then stacks the
        kept samples on the pruned ones).
    path : path
        PNG file written.
    columns : int, default=None
        Panels per figure row (default: all in one row).
    sharex : bool or "row", default="row"
        Which panels share their x axis (see :func:`matplotlib.pyplot.subplots`).
    """
    plt = _pyplot()
    columns = columns or len(panels)
    n_rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(3.6 * columns + 0.8, 2.8 * n_rows),
                             sharex=sharex, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        scores = np.asarray(panel["scores"], dtype=float)
        edges = np.histogram_bin_edges(scores, bins=40)
        if panel.get("kept") is None:
            ax.hist(scores, bins=edges, color="tab:blue")
        else:
            kept = np.zeros(len(scores), dtype=bool)
            kept[panel["kept"]] = True
            ax.hist([scores[kept], scores[~kept]], bins=edges, stacked=True,
                    color=["tab:blue", "lightgray"],
                    label=[f"kept ({kept.sum()})", f"pruned ({(~kept).sum()})"])
            ax.legend(fontsize="small", frameon=False)
        ax.set_title(f"{panel['title']}: std {scores.std():.3f}", fontsize="medium")
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel("samples")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_accuracy(curves, path, *, reference=None, title=None, best=(), differences=None):
    """Test accuracy against the fraction kept; beside it, paired differences.

    Parameters
    ----------
    curves : dict of str to list of (float, sequence of float)
        Per curve label: ``(keep fraction, accuracies over seeds)`` points,
        drawn as mean with sample-standard-deviation error bars.
    path : path
        PNG file written.
    reference : sequence of float, default=None
        Full-data accuracies, drawn as a line with a ±std band.
    title : str, default=None
        Figure title.
    best : collection of (str, float), default=()
        ``(curve label, keep fraction)`` points marked with a star.
    differences : dict of str to list of (float, dict), default=None
        Per difference label (e.g. ``"unseen (ccs) − random"``):
        ``(keep fraction, paired_difference(...))`` points, drawn in a second
        panel as the mean difference in points with its interval; filled
        markers where the interval excludes 0.
    """
    plt = _pyplot()
    panels = 2 if differences else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    keeps = sorted({keep for points in curves.values() for keep, _ in points})
    if reference is not None and len(reference):
        mean, std = mean_std(reference)
        ax.axhline(100 * mean, color="black", linestyle="--", linewidth=1,
                   label=f"{FULL_DATA} ({100 * mean:.1f}%)")
        if std > 0:
            ax.axhspan(100 * (mean - std), 100 * (mean + std), color="black", alpha=0.08)
    # Curves side by side around each keep, so that error bars do not hide each other.
    dodge = 0.6 * (np.arange(len(curves)) - (len(curves) - 1) / 2)
    for shift, (label, points) in zip(dodge, curves.items()):
        points = sorted(points, key=lambda point: point[0])
        stats = [mean_std(values) for _, values in points]
        line = ax.errorbar([100 * keep + shift for keep, _ in points],
                           [100 * m for m, _ in stats], yerr=[100 * s for _, s in stats],
                           marker="o", capsize=3, label=label)
        starred = [(100 * keep + shift, 100 * m) for (keep, _), (m, _) in zip(points, stats)
                   if (label, keep) in best]
        if starred:
            ax.plot(*zip(*starred), linestyle="none", marker="*", markersize=16,
                    color=line[0].get_color(), markeredgecolor="black")
    _keep_axis(ax, keeps)
    ax.set_ylabel("test accuracy (%)")
    if title:
        ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    if differences:
        _plot_differences(axes[0, 1], differences, keeps)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _keep_axis(ax, keeps):
    ax.set_xticks([100 * keep for keep in keeps], [f"{100 * keep:.0f}" for keep in keeps])
    ax.set_xlabel("samples kept (% of the training pool)")
    ax.grid(alpha=0.3)


def _plot_differences(ax, differences, keeps):
    """Mean paired differences in points with their intervals; hollow: not detected."""
    ax.axhline(0, color="black", linewidth=1)
    # Other colours than the methods' beside it: these lines are pairs of methods.
    ax.set_prop_cycle(color=_pyplot().cm.tab10.colors[3:])
    dodge = 0.6 * (np.arange(len(differences)) - (len(differences) - 1) / 2)
    for shift, (label, points) in zip(dodge, differences.items()):
        points = sorted(points, key=lambda point: point[0])
        x = np.array([100 * keep + shift for keep, _ in points])
        mean = np.array([100 * d["mean"] for _, d in points])
        low = np.array([100 * (d["mean"] if d["low"] is None else d["low"]) for _, d in points])
        high = np.array([100 * (d["mean"] if d["high"] is None else d["high"])
                         for _, d in points])
        line = ax.errorbar(x, mean, yerr=[mean - low, high - mean], marker="o",
                           markerfacecolor="white", capsize=3, label=label)
        detected = [d["verdict"] in ("better", "worse") for _, d in points]
        ax.plot(x[detected], mean[detected], linestyle="none", marker="o", markersize=8,
                color=line[0].get_color(), zorder=3)
    _keep_axis(ax, keeps)
    ax.set_ylabel("paired difference (points of test accuracy)")
    ax.set_title(f"mean paired difference, {100 * CONFIDENCE:.0f}% interval; "
                 "filled: interval excludes 0", fontsize="medium")
    ax.legend(fontsize="small")


def read_runs(folders):
    """Collect prune runs and attach the evaluations of their coresets.

    Every run counts once, however often it is given (the same folder twice,
    through another path, or copied): runs are told apart by the id that
    ``prune`` and ``evaluate`` record (by their resolved folder where a file
    has none). An evaluation belongs to the prune run whose id its coreset's
    record carries, wherever the folders have moved since.

    Parameters
    ----------
    folders : list of path
        Output folders of ``skunseen prune`` (with ``report.json``) or
        ``skunseen evaluate`` (with ``eval.json``).

    Returns
    -------
    runs : list of dict
        One entry per prune run: its folder, report, scores, coreset and the
        test accuracies of every evaluation whose ``--coreset`` lies in it.
    references : list of dict
        Full-data evaluations (``evaluate`` without ``--coreset``), grouped
        by pool, model and epochs: their folders, ``eval.json`` and accuracies.
    """
    runs, evaluations = {}, {}
    for folder in map(Path, folders):
        found = False
        if (folder / "report.json").exists():
            report = json.loads((folder / "report.json").read_text())
            if report.get("command") != "prune":
                raise ValueError(
                    f"{folder}/report.json was written by `skunseen {report.get('command')}`, "
                    "not by `skunseen prune`; `skunseen report` reads prune and evaluate "
                    "folders (a compare folder has its own report.md).")
            runs.setdefault(report.get("run_id") or folder.resolve(), {
                "folder": folder, "report": report, "accuracies": [],
                "scores": _load_if_present(folder / "scores.npy"),
                "coreset": _load_if_present(folder / "coreset.npy"),
            })
            found = True
        if (folder / "eval.json").exists():
            evaluation = json.loads((folder / "eval.json").read_text())
            evaluations.setdefault(evaluation.get("run_id") or folder.resolve(),
                                   (folder, evaluation))
            found = True
        if not found:
            raise FileNotFoundError(
                f"{folder} holds neither report.json (skunseen prune) nor eval.json "
                "(skunseen evaluate).")
    by_folder = {run["folder"].resolve(): run for run in runs.values()}
    references = {}
    for folder, evaluation in evaluations.values():
        with _keys_of(folder / "eval.json"):
            accuracy = evaluation["test_accuracy"]
        coreset = evaluation.get("coreset")
        given = evaluation.get("parameters", {}).get("coreset")
        if coreset is None and given is None:
            key = json.dumps([evaluation.get("pool"), evaluation.get("model"),
                              evaluation.get("epochs")], sort_keys=True)
            reference = references.setdefault(
                key, {"folders": [], "evaluation": evaluation, "accuracies": []})
            reference["folders"].append(folder)
            reference["accuracies"].append(accuracy)
            continue
        # eval.json files written before coresets had records name the path only.
        owner = (runs.get(coreset["run_id"]) if coreset is not None
                 else by_folder.get(Path(given).resolve().parent))
        if owner is None:
            raise ValueError(
                f"The evaluation in {folder} used --coreset {given}, which belongs to none "
                "of the prune folders given; pass that prune folder too.")
        owner["accuracies"].append(accuracy)
    return list(runs.values()), list(references.values())


def _load_if_present(path):
    return np.load(path) if path.exists() else None


#: The columns of ``skunseen report``'s table and what they hold.
REPORT_COLUMNS = [
    ("run", "the output folder of `skunseen prune` (or of the full-data evaluations)"),
    ("method", "unseen: out-of-fold scores; multistep: evaluate and refill; fitting: scores "
               "from models trained on the samples they score (the baseline); random: no "
               "scores; full data: the whole pool, the reference"),
    ("scorer", "the importance score (higher = harder)"),
    ("selector", "the rule that turned scores into the coreset"),
    ("kept", "training samples in the coreset, of the pool, and as a percentage"),
    ("score std", "standard deviation of the scores over the pool (score units; a wider "
                  "spread separates samples better)"),
    ("at min (%)", "percentage of the pool whose score lies within 1% of the score range "
                   "above the minimum (the pile-up of fitting scores)"),
    ("test accuracy (%)", f"mean ± sample std over the evaluations of this coreset (a "
                          f"single evaluation has no ±); {BEST} marks the highest mean among "
                          "runs of the same coreset size"),
    ("n", "number of evaluations (seeds) behind the test accuracy"),
    ("scoring (s)", "wall-clock seconds of training the scoring models"),
]


def report_rows(runs, references):
    """The cells of :data:`REPORT_COLUMNS`, one row per prune run and per reference."""
    best = best_rows([run["report"]["n_selected"] for run in runs],
                     [run["accuracies"] for run in runs])
    rows = []
    for i, run in enumerate(runs):
        with _keys_of(run["folder"] / "report.json"):
            report, params = run["report"], run["report"]["parameters"]
            method = report["method"] if "method" in report else params["method"]
            summary = report["scores"].get(method)
            rows.append([
                run["folder"].name, method, params["scorer"] if summary else "",
                params["selector"], _kept_cell(report["n_selected"], report["n_samples"]),
                f"{summary['std']:.4f}" if summary else "",
                f"{100 * summary['fraction_within_1pct_of_min']:.1f}" if summary else "",
                percent_cell(run["accuracies"], best=i in best), str(len(run["accuracies"])),
                seconds_cell([report["seconds"][method]]),
            ])
    for reference in references:
        evaluation = reference["evaluation"]
        with _keys_of(reference["folders"][0] / "eval.json"):
            rows.append([
                ", ".join(folder.name for folder in reference["folders"]), FULL_DATA, "", "",
                _kept_cell(evaluation["n_train"], evaluation["n_pool"]), "", "",
                percent_cell(reference["accuracies"]), str(len(reference["accuracies"])), "",
            ])
    return rows


@contextlib.contextmanager
def _keys_of(path):
    """Name the file when a key the report reads is missing from it."""
    try:
        yield
    except KeyError as exc:
        raise ValueError(
            f"{path} lacks the key {exc}: it was not written by this version of skunseen, "
            "or it is damaged."
        ) from None


def _kept_cell(n_kept, n_pool):
    return f"{n_kept} of {n_pool} ({100 * n_kept / n_pool:.0f}%)"


def write_report(folders, out):
    """Write ``report.md``, ``report.html`` and ``scores.png`` into ``out``.

    Parameters
    ----------
    folders : list of path
        Run folders (see :func:`read_runs`).
    out : path
        Output folder, created if missing.

    Returns
    -------
    paths : dict of str to Path
        The files written.
    """
    runs, references = read_runs(folders)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    panels = [{"title": run["folder"].name, "scores": run["scores"], "kept": run["coreset"],
               "xlabel": f"{run['report']['parameters']['scorer']} importance"}
              for run in runs if run["scores"] is not None]
    figures = []
    if panels:
        one_scorer = len({panel["xlabel"] for panel in panels}) == 1
        plot_histograms(panels, out / "scores.png", columns=min(len(panels), 3),
                        sharex=True if one_scorer else "none")
        figures.append(("scores.png", "Scores of every pool sample: the coreset (kept) "
                                      "stacked on the pruned samples."))
    paths = write_page(
        out, title="skunseen report",
        paragraphs=["One row per prune run, with the test accuracy of the models trained "
                    "on its coreset (`skunseen evaluate --coreset`), and the full-data "
                    "evaluations (`skunseen evaluate` without `--coreset`) as reference."],
        columns=REPORT_COLUMNS, rows=report_rows(runs, references), figures=figures)
    if panels:
        paths["figure"] = out / "scores.png"
    return paths
