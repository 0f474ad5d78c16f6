"""``skunseen report``: one page comparing several prune / evaluate runs."""

import base64
import html
import json
from pathlib import Path

import numpy as np


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



def read_runs(folders):
    """Collect prune runs and attach the evaluations of their coresets.

    Parameters
    ----------
    folders : list of path
        Output folders of ``skunseen prune`` (with ``report.json``) or
        ``skunseen evaluate`` (with ``eval.json``).

    Returns
    -------
    runs : list of dict
        One entry per prune run: its folder, report, scores and the test
        accuracies of every evaluation whose ``--coreset`` lies in it.
    """
    runs, evaluations = {}, []
    for folder in map(Path, folders):
        found = False
        if (folder / "report.json").exists():
            report = json.loads((folder / "report.json").read_text())
            scores_path = folder / "scores.npy"
            runs[folder.resolve()] = {
                "folder": folder, "report": report, "accuracies": [],
                "scores": np.load(scores_path) if scores_path.exists() else None,
            }
            found = True
        if (folder / "eval.json").exists():
            evaluations.append((folder, json.loads((folder / "eval.json").read_text())))
            found = True
        if not found:
            raise FileNotFoundError(
                f"{folder} holds neither report.json (skunseen prune) nor eval.json "
                "(skunseen evaluate).")
    for folder, evaluation in evaluations:
        coreset = evaluation.get("parameters", {}).get("coreset")
        owner = runs.get(Path(coreset).resolve().parent) if coreset else None
        if owner is None:
            raise ValueError(
                f"The evaluation in {folder} used coreset {coreset!r}, which belongs to "
                "none of the prune folders given; pass that prune folder too.")
        owner["accuracies"].append(evaluation["test_accuracy"])
    return list(runs.values())


def run_table(runs):
    """A markdown table with one row per prune run."""
    lines = [
        "| run | method | scorer | selector | kept | score std | within 1% of min "
        "| test accuracy | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        report, params = run["report"], run["report"]["parameters"]
        summary = report["scores"][params["method"]]
        accuracies = np.asarray(run["accuracies"], dtype=float)
        accuracy = (f"{100 * accuracies.mean():.2f} ± {100 * accuracies.std():.2f} "
                    f"(n={len(accuracies)})" if len(accuracies) else "")
        lines.append(
            f"| {run['folder'].name} | {params['method']} | {params['scorer']} "
            f"| {params['selector']} | {report['n_selected']}/{report['n_samples']} "
            f"| {summary['std']:.4f} | {summary['fraction_within_1pct_of_min']:.3f} "
            f"| {accuracy} | {report['seconds'][params['method']]:.1f} |")
    return "\n".join(lines)


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
    runs = read_runs(folders)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    histograms = {run["folder"].name: run["scores"] for run in runs if run["scores"] is not None}
    figure = out / "scores.png"
    plot_histograms(histograms, figure, scorer="importance")
    table = run_table(runs)
    markdown = f"# skunseen report\n\n{table}\n\n![score histograms](scores.png)\n"
    (out / "report.md").write_text(markdown)
    image = base64.b64encode(figure.read_bytes()).decode()
    rows = [line.strip("|").split("|") for line in table.splitlines()]
    header = "".join(f"<th>{html.escape(cell.strip())}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell.strip())}</td>" for cell in row) + "</tr>"
        for row in rows[2:])
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>skunseen report</title>"
        "<style>table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px}"
        "</style><h1>skunseen report</h1>"
        f"<table><tr>{header}</tr>{body}</table>"
        f"<p><img alt='score histograms' src='data:image/png;base64,{image}'></p>")
    return {"markdown": out / "report.md", "html": out / "report.html", "figure": figure}
