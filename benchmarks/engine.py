"""Cost of the engine around the models: score once / select many, and a torch-free import.

Two parts, both with scikit-learn's ``LogisticRegression`` on the digits
(1,797 rows, pixels / 16), so the models are cheap and what is measured is
the library around them:

``grid``
    ``GridSearchCV`` over the parameters that act after scoring (``keep`` x
    ``selector``: 4 x 2 = 8 candidates, ``cv=3``) of a
    ``PrunedClassifier(UnseenPruner(cv=5), LogisticRegression())``. Two
    ways, interleaved: ``memory=None`` (the default: every candidate trains
    its own scoring models, 8 x 3 x 5 + 5 = 125) and ``memory=<dir>`` (a
    fresh folder every round: each scoring model trains once, 3 x 5 + 5 =
    20). Prints the scoring models trained and the wall time against
    ``memory=None``.
``process``
    One whole Python process per run (start, imports, work, exit), fresh
    every time: importing scikit-learn's ``cross_val_predict`` against
    importing ``skunseen`` and touching ``UnseenPruner``; then
    scikit-learn's ``cross_val_predict(..., method="predict_proba")``
    with 5 folds against ``skunseen.unseen_scores`` (the same 5 folds of
    work, plus scoring) and ``UnseenPruner(...).fit``. Prints wall time and
    peak resident memory (the child's ``VmHWM``) against
    ``cross_val_predict``, and whether torch was imported.

Run from the repository root::

    python benchmarks/engine.py                 # both parts, 5 rounds
    python benchmarks/engine.py --part grid --rounds 3
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

IMPORTS = {
    "import: cross_val_predict": "from sklearn.model_selection import cross_val_predict\n",
    "import: skunseen.UnseenPruner": "import skunseen\nskunseen.UnseenPruner\n",
}
JOBS = {
    "cross_val_predict": (
        "from sklearn.model_selection import StratifiedKFold, cross_val_predict\n"
        "cross_val_predict(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),\n"
        "                  method='predict_proba')\n"),
    "unseen_scores": (
        "from skunseen import unseen_scores\n"
        "unseen_scores(model, X, y, cv=5, random_state=0)\n"),
    "UnseenPruner.fit": (
        "from skunseen import UnseenPruner\n"
        "UnseenPruner(model, cv=5, keep=0.5, random_state=0).fit(X, y)\n"),
}
PRELUDE = (
    "import sys\n"
    "from sklearn.datasets import load_digits\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_digits(return_X_y=True)\n"
    "X = X / 16\n"
    "model = LogisticRegression(max_iter=500)\n")
# The child's own high-water mark: ``ru_maxrss`` of a child also counts the
# parent's memory at fork time (Linux keeps the maximum across exec).
EPILOGUE = (
    "peak = [line.split()[1] for line in open('/proc/self/status')\n"
    "        if line.startswith('VmHWM:')][0]\n"
    "print(int(peak) / 1024, 'torch' in sys.modules)\n")


def run_process(code):
    """Wall seconds, peak RSS (MB) and whether torch was imported, of one fresh process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    out, err = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"the benchmark process failed:\n{err[-3000:]}")
    peak, torch_loaded = out.split()[-2:]
    return wall, float(peak), torch_loaded


def process_part(rounds):
    codes = {**{name: "import sys\n" + code + EPILOGUE for name, code in IMPORTS.items()},
             **{name: PRELUDE + code + EPILOGUE for name, code in JOBS.items()}}
    names = list(codes)
    walls, peaks, torch_loaded = {n: [] for n in names}, {n: [] for n in names}, {}
    for name in names:  # warm-up: file caches, compiled bytecode
        run_process(codes[name])
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            wall, peak, torch_loaded[name] = run_process(codes[name])
            walls[name].append(wall)
            peaks[name].append(peak)
            print(f"  round {r + 1}/{rounds} {name}: {wall:.2f} s, {peak:.0f} MB")
    rows = []
    for name in names:
        base = "import: cross_val_predict" if name in IMPORTS else "cross_val_predict"
        base_wall, base_peak = _common.median(walls[base]), _common.median(peaks[base])
        wall, peak = walls[name], _common.median(peaks[name])
        rows.append([name, f"{_common.median(wall):.2f} ({min(wall):.2f}–{max(wall):.2f})",
                     f"{_common.median(wall) / base_wall:.2f}", f"{peak:.0f}",
                     f"{peak / base_peak:.2f}", torch_loaded[name]])
    header = ["whole process (ratio: against the cross_val_predict row of its kind)",
              "wall s, median (min–max)", "ratio", "peak RSS MB", "ratio", "torch imported"]
    return _common.markdown_table(header, rows)


def grid_part(rounds):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    from skunseen import PrunedClassifier, UnseenPruner

    X, y = load_digits(return_X_y=True)
    X = X / 16
    trained = []

    class CountingLogisticRegression(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            trained.append(len(X))
            return super().fit(X, y, sample_weight=sample_weight)

    grid = {"pruner__keep": [0.3, 0.5, 0.7, 0.9], "pruner__selector": ["ccs", "hard"]}

    def search(memory=None):
        pruner = UnseenPruner(CountingLogisticRegression(max_iter=500), cv=5, random_state=0,
                              memory=memory)
        model = PrunedClassifier(pruner, LogisticRegression(max_iter=500))
        return GridSearchCV(model, grid, cv=3).fit(X, y).best_params_

    def counted(run):
        def variant():
            trained.clear()
            best = run()
            return len(trained), best
        return variant

    def with_memory():
        with tempfile.TemporaryDirectory() as folder:
            return search(memory=folder)

    variants = {"memory=None (default)": counted(search), "memory=<dir>": counted(with_memory)}
    timings, results = _common.interleaved(variants, rounds)
    base = _common.median([t.wall for t in timings["memory=None (default)"]])
    rows = []
    for name, runs in timings.items():
        walls = [t.wall for t in runs]
        n_models, best = results[name]
        rows.append([name, n_models, f"{_common.median(walls):.2f} "
                     f"({min(walls):.2f}–{max(walls):.2f})",
                     f"{_common.median(walls) / base:.2f}", best])
    same = len({str(best) for _, best in results.values()}) == 1
    header = ["GridSearchCV, 8 candidates x cv=3, pruner cv=5", "scoring models trained",
              "wall s, median (min–max)", "ratio", "best_params_"]
    table = _common.markdown_table(header, rows)
    return table + f"\n\nSame best_params_ in every variant: {same}; numpy {np.__version__}."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["grid", "process", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(_common.machine_description())
    if args.part in ("grid", "both"):
        print(grid_part(args.rounds))
    if args.part in ("process", "both"):
        print(process_part(args.rounds))


if __name__ == "__main__":
    main()
