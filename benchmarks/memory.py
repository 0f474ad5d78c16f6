"""Peak memory of UnseenPruner on the 50,000-image CIFAR-10 training set.

The target: peak resident memory stays under ``fixed overhead + 2 x`` the
decoded uint8 array (50,000 x 3 x 32 x 32 = 153.6 MB), i.e. the folds cost
no copies of the data. Each measurement runs in a fresh subprocess:

1. import torch, skorch and skunseen and run the same pruner on 2,560
   random images (four training batches per fold). The peak resident set
   size (``VmHWM``) so far is the **fixed overhead**: imports, lazily loaded
   code (torch loads parts of itself when the first optimizer is built), the
   working memory of a training step and a held-out pass (activations,
   gradients, optimizer state, kernel scratch space) and the heap that
   glibc's malloc keeps around them, none of which grows with the number of
   images. The RSS after the warm-up is reported as well: it is lower
   because large buffers are returned to the system when freed;
2. load the decoded training set from the ``.npy`` cache of
   :func:`skunseen.datasets.load_image_archive` (written by the parent
   process before any measurement, so decoding is not measured);
3. reset the kernel's peak-RSS mark (``/proc/self/clear_refs``), so that
   the transient arrays of loading (the test split, and the full arrays that
   ``--limits`` subsets) do not count;
4. ``UnseenPruner(net, cv=K, keep=0.5).fit(X, y)`` with a deliberately tiny
   scoring net (one 3x3 convolution, ``--epochs`` epochs) to keep CPU time
   small; the data path (fast-path iterators on index views) is the one
   every net uses;
5. report the peak RSS during the fit (``VmHWM`` of ``/proc/self/status``;
   where the mark cannot be reset, the process's peak, loading included).

With several ``--limits`` the script also fits peak RSS against the array
size: the slope is the marginal memory per byte of data, 1 when the data are
held once and K/(K-1) + 1 more when every fold copies its rows.

``--with-copies`` adds, for comparison, the path before index views emulated
with the public API: the K fold models of the same net fitted one after
another on copies of their training rows (``X[train]``), each predicting its
held-out copy, with the same ``StratifiedKFold`` folds. ``--with-fixed-threshold``
adds a run with ``MALLOC_MMAP_THRESHOLD_=131072``: by default glibc raises
its mmap threshold after large blocks are freed, so later batch-sized
buffers come from the heap, where freed memory can stay resident; a fixed
threshold returns every block over 128 kB to the system on free, which
isolates what the pruner itself holds.

Usage (from the repository root)::

    python benchmarks/memory.py                          # all 50,000 images, 5 folds
    python benchmarks/memory.py --limits 10000 25000 50000 --with-copies
    python benchmarks/memory.py --epochs 3               # retention over more steps
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine_description, markdown_table, set_threads  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
DEFAULT_CACHE = ROOT / ".cache" / "datasets"
MB = 1e6
# Four training batches per fold: enough steps for the heap to reach the
# size that training and held-out passes keep reusing, which does not grow
# with the data.
WARM_UP_IMAGES = 2560


def _rss_bytes():
    import psutil

    return psutil.Process().memory_info().rss


def _peak_rss_bytes():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _reset_peak_rss():
    """Start a new peak-RSS measurement; False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _tiny_net(n_classes, epochs):
    from skunseen.models import make_net

    return make_net("cnn", input_shape=(3, 32, 32), n_classes=n_classes, device="cpu",
                    max_epochs=epochs, batch_size=512, module__widths=(8,))


def child(args):
    """One measurement; prints a JSON line."""
    import numpy as np

    from skunseen import UnseenPruner
    from skunseen.datasets import load_image_archive

    set_threads(args.threads)
    rng = np.random.RandomState(0)
    warm_X = rng.randint(0, 256, size=(WARM_UP_IMAGES, 3, 32, 32), dtype=np.uint8)
    UnseenPruner(_tiny_net(10, args.epochs), cv=args.folds, keep=0.5,
                 random_state=0).fit(warm_X, np.arange(WARM_UP_IMAGES) % 10)
    del warm_X
    overhead = _peak_rss_bytes()
    after_warm_up = _rss_bytes()

    X, y, X_test, _ = load_image_archive(args.data, cache_dir=args.cache_dir,
                                         limit=args.limit)
    del X_test  # the test split is not part of pruning
    reset = _reset_peak_rss()
    start = time.perf_counter()
    if args.copies:
        kept = _fit_folds_on_copies(X, y, args)
    else:
        pruner = UnseenPruner(_tiny_net(len(np.unique(y)), args.epochs), cv=args.folds,
                              keep=0.5, random_state=0).fit(X, y)
        kept = int(len(pruner.sample_indices_))
    print(json.dumps({
        "overhead": overhead,
        "after_warm_up": after_warm_up,
        "array": X.nbytes,
        "n": len(X),
        "peak": _peak_rss_bytes(),
        "peak_includes_loading": not reset,
        "seconds": time.perf_counter() - start,
        "kept": kept,
    }))


def _fit_folds_on_copies(X, y, args):
    """The path before index views, by hand: every fold trains on a copy of its
    rows and predicts a copy of its held-out rows; returns the coreset size that
    keep=0.5 gives."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(args.folds, shuffle=True, random_state=0)
    for train, test in folds.split(np.zeros(len(y)), y):
        net = _tiny_net(len(np.unique(y)), args.epochs).fit(X[train], y[train])
        net.predict_proba(X[test])
        del net
    return len(y) // 2


def measure(args, limit, copies, env):
    command = [sys.executable, __file__, "--child", "--data", str(args.data),
               "--cache-dir", str(args.cache_dir), "--folds", str(args.folds),
               "--threads", str(args.threads), "--epochs", str(args.epochs)]
    if limit:
        command += ["--limit", str(limit)]
    if copies:
        command.append("--copies")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, **env})
    if result.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def marginal_peak(measurements):
    """Least-squares slope of peak RSS against the array size (bytes per byte)."""
    import numpy as np

    sizes = np.array([m["array"] for m in measurements], dtype=float)
    peaks = np.array([m["peak"] for m in measurements], dtype=float)
    return float(np.polyfit(sizes, peaks, 1)[0])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE,
                        help="CIFAR-10 ImageFolder archive (default: the shared archive)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="decoded-array cache (default .cache/datasets, git-ignored)")
    parser.add_argument("--limits", type=int, nargs="+", default=[50_000],
                        help="stratified pools of these many training images "
                             "(default: all 50,000)")
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folds", type=int, default=5, help="K (default 5)")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs of every scoring net (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh processes per row (default 3): glibc's heap "
                             "retention varies from run to run")
    parser.add_argument("--with-copies", action="store_true",
                        help="also measure the path that copies every fold")
    parser.add_argument("--with-fixed-threshold", action="store_true",
                        help="also measure with MALLOC_MMAP_THRESHOLD_=131072")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--copies", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    if not args.data.exists():
        print(f"skipped: no CIFAR-10 archive at {args.data}")
        return 0
    from skunseen.datasets import load_image_archive

    start = time.perf_counter()
    load_image_archive(args.data, cache_dir=args.cache_dir)  # decodes once, then cached
    print(f"decoded-array cache ready in {time.perf_counter() - start:.0f} s "
          f"({args.cache_dir})", flush=True)
    largest = max(args.limits)
    variants = [("index views, glibc default", limit, False, {})
                for limit in sorted(args.limits)]
    if args.with_fixed_threshold:
        variants.append(("index views, MALLOC_MMAP_THRESHOLD_=131072", largest, False,
                         {"MALLOC_MMAP_THRESHOLD_": "131072"}))
    if args.with_copies:
        variants.append(("per-fold copies (before), glibc default", largest, True, {}))
    rows, default_runs = [], []
    for label, limit, copies, env in variants:
        runs = [measure(args, limit, copies, env) for _ in range(args.repeats)]
        if not copies and not env:
            default_runs.extend(runs)
        first = runs[0]
        array = first["array"]
        overhead = statistics.median(m["overhead"] for m in runs)
        peaks = [m["peak"] for m in runs]
        under = sum(m["peak"] < m["overhead"] + 2 * m["array"] for m in runs)
        ratios = [(m["peak"] - m["overhead"]) / m["array"] for m in runs]
        rows.append([
            label, first["n"], f"{array / MB:.1f}", f"{overhead / MB:.0f}",
            f"{statistics.median(m['after_warm_up'] for m in runs) / MB:.0f}",
            f"{statistics.median(peaks) / MB:.0f} ({min(peaks) / MB:.0f}–{max(peaks) / MB:.0f})"
            + (" incl. loading" if first["peak_includes_loading"] else ""),
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})",
            f"{(overhead + 2 * array) / MB:.0f}", f"{under}/{len(runs)}",
            f"{statistics.median(m['seconds'] for m in runs):.0f}",
        ])
        print(f"  {label}, {first['n']} images: peaks "
              + ", ".join(f"{peak / MB:.0f}" for peak in peaks) + " MB", flush=True)
    print()
    print(machine_description())
    print(f"- UnseenPruner(cv={args.folds}, keep=0.5), scoring net: make_net('cnn', "
          f"module__widths=(8,), max_epochs={args.epochs}, batch_size=512) on CPU; "
          "each row in a fresh process")
    print(f"- fixed overhead = peak RSS of imports and the same pruner fitted on "
          f"{WARM_UP_IMAGES} random images, before the data are loaded")
    print()
    print(markdown_table(
        ["path", "images", "X MB", "fixed overhead MB", "RSS after warm-up MB",
         "peak RSS in fit MB, median (min–max)", "(peak - overhead) / X",
         "bound: overhead + 2 X, MB", "runs under bound", "fit s"],
        rows))
    if len({m["array"] for m in default_runs}) > 1:
        print()
        print(f"Marginal peak RSS per byte of data (least squares over the "
              f"{len(default_runs)} index-view runs, glibc default): "
              f"{marginal_peak(default_runs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
