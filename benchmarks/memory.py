"""Peak memory of UnseenPruner on the 50,000-image CIFAR-10 training set.

The target: peak resident memory stays under ``fixed overhead + 2 x`` the
decoded uint8 array (50,000 x 3 x 32 x 32 = 153.6 MB), i.e. the folds cost
no copies of the data. Each measurement runs in a fresh subprocess:

1. import torch, skorch and skunseen and fit the scoring net once on 1,024
   random images, so that lazily loaded code (torch imports parts of itself
   when the first optimizer is built) and the memory of a training batch
   count as overhead; the resident set size (RSS) then is the **fixed
   overhead**;
2. load the decoded training set from the ``.npy`` cache of
   :func:`skunseen.datasets.load_image_archive` (written by the parent
   process before any measurement, so decoding is not measured);
3. reset the kernel's peak-RSS mark (``/proc/self/clear_refs``), so that
   the transient arrays of loading (the test split, and the full arrays that
   ``--limit`` subsets) do not count;
4. ``UnseenPruner(net, cv=K, keep=0.5).fit(X, y)`` with a deliberately tiny
   scoring net (one 3x3 convolution, 1 epoch) to keep CPU time small; the
   data path (fast-path iterators on index views) is the one every net uses;
5. report the peak RSS during the fit (``VmHWM`` of ``/proc/self/status``;
   where the mark cannot be reset, the process's peak, loading included).

Two rows by default, both with index views: glibc's malloc as configured by
default, and with ``MALLOC_MMAP_THRESHOLD_=131072``. By default glibc raises
its mmap threshold after large blocks are freed, so later batch-sized
buffers come from the heap, and freed heap memory stays resident when a live
allocation sits above it: that retention grows with the number of training
steps, not with copies of the data. A fixed threshold returns every block
over 128 kB to the system on free, which isolates what the pruner itself
holds. ``--with-copies`` adds the run with the folds copied as before (each
fold's rows taken with ``take_rows``), for comparison.

Usage (from the repository root)::

    python benchmarks/memory.py                   # all 50,000 images, 5 folds
    python benchmarks/memory.py --with-copies     # + the copying path
    python benchmarks/memory.py --limit 10000     # a stratified 10,000-image pool
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine_description, markdown_table, set_threads  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
DEFAULT_CACHE = ROOT / ".cache" / "datasets"
MB = 1e6
# Two full training batches: the warm-up fit then also allocates what one
# batch's activations and gradients take, which does not grow with the data.
WARM_UP_IMAGES = 1024


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


def _tiny_net(n_classes):
    from skunseen.models import make_net

    return make_net("cnn", input_shape=(3, 32, 32), n_classes=n_classes, device="cpu",
                    max_epochs=1, batch_size=512, module__widths=(8,))


def child(args):
    """One measurement; prints a JSON line."""
    import numpy as np

    import skunseen._recording as recording
    from skunseen import UnseenPruner
    from skunseen._data import as_net_input, take_rows
    from skunseen.datasets import load_image_archive

    set_threads(args.threads)
    if args.copies:
        # The path before index views: every fold's rows copied.
        recording.fold_view = lambda X, y, indices: as_net_input(take_rows(X, indices))
    rng = np.random.RandomState(0)
    warm_X = rng.randint(0, 256, size=(WARM_UP_IMAGES, 3, 32, 32), dtype=np.uint8)
    _tiny_net(10).fit(warm_X, np.arange(WARM_UP_IMAGES) % 10)
    del warm_X
    overhead = _rss_bytes()

    X, y, X_test, _ = load_image_archive(args.data, cache_dir=args.cache_dir,
                                         limit=args.limit)
    del X_test  # the test split is not part of pruning
    load_peak = _peak_rss_bytes()
    reset = _reset_peak_rss()
    loaded = _rss_bytes()
    start = time.perf_counter()
    pruner = UnseenPruner(_tiny_net(len(np.unique(y))), cv=args.folds, keep=0.5,
                          random_state=0).fit(X, y)
    print(json.dumps({
        "overhead": overhead,
        "array": X.nbytes,
        "shape": list(X.shape),
        "load_peak": load_peak,
        "loaded": loaded,
        "peak": _peak_rss_bytes(),
        "peak_includes_loading": not reset,
        "seconds": time.perf_counter() - start,
        "kept": int(len(pruner.sample_indices_)),
    }))


def measure(args, copies, env):
    command = [sys.executable, __file__, "--child", "--data", str(args.data),
               "--cache-dir", str(args.cache_dir), "--folds", str(args.folds),
               "--threads", str(args.threads)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    if copies:
        command.append("--copies")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, **env})
    if result.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE,
                        help="CIFAR-10 ImageFolder archive (default: the shared archive)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="decoded-array cache (default .cache/datasets, git-ignored)")
    parser.add_argument("--limit", type=int, default=None,
                        help="stratified pool of this many training images (default: all)")
    parser.add_argument("--folds", type=int, default=5, help="K (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--with-copies", action="store_true",
                        help="also measure the path that copies every fold")
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
    rows = []
    fixed_threshold = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    variants = [("index views (current), glibc default", False, {}),
                ("index views (current), MALLOC_MMAP_THRESHOLD_=131072", False,
                 fixed_threshold)]
    if args.with_copies:
        variants.append(("per-fold copies (before), glibc default", True, {}))
    for label, copies, env in variants:
        m = measure(args, copies, env)
        bound = m["overhead"] + 2 * m["array"]
        rows.append([
            label, "x".join(map(str, m["shape"])), f"{m['array'] / MB:.1f}",
            f"{m['overhead'] / MB:.0f}", f"{m['load_peak'] / MB:.0f}",
            f"{m['loaded'] / MB:.0f}",
            f"{m['peak'] / MB:.0f}" + (" (incl. loading)" if m["peak_includes_loading"] else ""),
            f"{(m['peak'] - m['overhead']) / m['array']:.2f}", f"{bound / MB:.0f}",
            "yes" if m["peak"] < bound else "NO", f"{m['seconds']:.0f}",
        ])
        print(f"  {label}: peak {m['peak'] / MB:.0f} MB", flush=True)
    print()
    print(machine_description())
    print(f"- UnseenPruner(cv={args.folds}, keep=0.5), scoring net: make_net('cnn', "
          "module__widths=(8,), max_epochs=1, batch_size=512) on CPU; each row in a fresh "
          "process")
    print(f"- fixed overhead = RSS after imports and one warm-up fit on {WARM_UP_IMAGES} "
          "random images, before the data are loaded")
    print()
    print(markdown_table(
        ["path", "X (uint8)", "X MB", "overhead MB", "loading peak MB",
         "RSS with X MB", "peak RSS in fit MB",
         "(peak - overhead) / X", "bound: overhead + 2 X, MB", "under bound", "fit s"],
        rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
