"""Scaling of the scoring folds: n_jobs, a Dask cluster, and folds sharing one GPU.

All variants run the same job, ``UnseenPruner(make_net("mlp"), scorer="forgetting",
cv=K).fit(X, y)`` on scikit-learn's digits (1,797 rows), and must give the
same coreset (checked):

``n_jobs=1, 1 thread``
    Sequential, one torch thread: the baseline of the ratios.
``n_jobs=1, N threads`` (with ``--intra-op``)
    Sequential with torch's default intra-op threads (all cores): what
    ``n_jobs=1`` gives out of the box. On a machine shared with other jobs
    this can be many times slower than one thread (the threads of every
    small op must all be scheduled at once), hence not run by default.
``loky x2`` / ``threading x2``
    ``joblib.parallel_config(backend=..., n_jobs=2)``: two folds at a time,
    each with one torch thread on a 2-core machine (the pruner gives threads
    an equal share; loky starts its workers with one).
``dask x2``
    A ``dask.distributed.LocalCluster`` of two single-threaded worker
    processes on loopback, used through ``parallel_config(backend="dask")``:
    the code a multi-node cluster runs, here on one machine, so its ratio to
    ``loky x2`` is the overhead of going through the scheduler.

Every variant runs once untimed first (worker start-up and imports, reported
separately as one-off costs), then ``--repeats`` rounds in rotated order so
that a busy phase of a shared machine hits every variant alike; the table
shows medians.

With CUDA, a second table trains the folds of a small CNN on one GPU with
1, 2 and 4 concurrent folds (threading backend). Without CUDA it is skipped
with a note.

Run from the repository root::

    python benchmarks/scaling.py            # about 3 minutes on 2 cores
    python benchmarks/scaling.py --quick    # a smoke run, about a minute
"""

import argparse
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import interleaved, machine_description, markdown_table, median  # noqa: E402

from skunseen import UnseenPruner  # noqa: E402
from skunseen.models import make_net  # noqa: E402


def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def pruner(n_features, args, **net_params):
    net = make_net("mlp", input_shape=(n_features,), n_classes=10, device="cpu",
                   max_epochs=args.epochs, **net_params)
    return UnseenPruner(net, scorer="forgetting", cv=args.folds, random_state=0)


def fit_with(backend, n_jobs, X, y, args, torch_threads=None):
    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(torch_threads or previous)
        try:
            with joblib.parallel_config(backend=backend, n_jobs=n_jobs):
                return pruner(X.shape[1], args).fit(X, y).sample_indices_
        finally:
            torch.set_num_threads(previous)
    return run


def cpu_table(args):
    """Sequential vs two workers (loky, threading, dask), with one-off costs."""
    from dask.distributed import Client, LocalCluster

    X, y = digits()
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    cluster_start = time.perf_counter() - start
    try:
        variants = {"n_jobs=1, 1 thread": fit_with("sequential", 1, X, y, args, torch_threads=1)}
        if args.intra_op:
            variants[f"n_jobs=1, {torch.get_num_threads()} threads"] = fit_with(
                "sequential", 1, X, y, args)
        variants.update({
            "loky x2": fit_with("loky", 2, X, y, args),
            "threading x2": fit_with("threading", 2, X, y, args),
            "dask x2": fit_with("dask", 2, X, y, args),
        })
        first = {}
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            first[name] = time.perf_counter() - start
        timings, results = interleaved(variants, args.repeats, warmup=False)
    finally:
        client.close()
        cluster.close()

    walls = {name: median([t.wall for t in runs]) for name, runs in timings.items()}
    base = walls["n_jobs=1, 1 thread"]
    rows = [
        [name, f"{walls[name]:.2f}", f"{walls[name] / base:.2f}", f"{first[name]:.1f}"]
        for name in variants
    ]
    same = all(np.array_equal(results[name], results["n_jobs=1, 1 thread"])
               for name in variants)
    table = markdown_table(
        ["variant", "median wall (s)", "ratio to n_jobs=1, 1 thread", "first call (s)"], rows)
    notes = (
        f"dask x2 / loky x2 = {walls['dask x2'] / walls['loky x2']:.2f} (steady state); "
        f"LocalCluster start-up {cluster_start:.1f} s, not in the table. "
        f"\"first call\" is the untimed warm-up run (worker start-up and imports). "
        f"Same coreset in every variant: {'yes' if same else 'NO'}."
    )
    return table, notes


def gpu_table(args):
    """Folds of a small CNN sharing one GPU: 1, 2 and 4 at a time."""
    if not torch.cuda.is_available():
        return None, "GPU table skipped: CUDA is not available on this machine."
    rng = np.random.RandomState(0)
    n = args.gpu_samples
    X = rng.randint(0, 256, size=(n, 3, 32, 32)).astype(np.uint8)
    y = rng.randint(0, 10, size=n)

    def run(concurrent):
        # The DataLoader path: the device-resident fast path shuffles with
        # torch's global generator, which threads must take turns on.
        net = make_net("cnn", input_shape=(3, 32, 32), n_classes=10, device="cuda",
                       max_epochs=args.gpu_epochs, fast_path=False, batch_size=256)
        model = UnseenPruner(net, scorer="forgetting", cv=4, random_state=0)

        def fit():
            with joblib.parallel_config(backend="threading", n_jobs=concurrent):
                model.fit(X, y)
            torch.cuda.synchronize()
        return fit

    levels = [1, 2, 4]
    timings, _ = interleaved({c: run(c) for c in levels}, args.repeats)
    walls = {c: median([t.wall for t in timings[c]]) for c in levels}
    rows = [[c, f"{walls[c]:.2f}", f"{walls[1] / walls[c]:.2f}"] for c in levels]
    table = markdown_table(["concurrent folds", "median wall (s)", "speed-up vs 1"], rows)
    return table, (f"{torch.cuda.get_device_name(0)}; SmallCNN, {n} random 3x32x32 images, "
                   f"4 folds x {args.gpu_epochs} epochs, threading backend.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 folds, 5 epochs, 1 round: a smoke run")
    parser.add_argument("--folds", type=int, default=None, help="K (default 5; quick 3)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="MLP epochs per fold (default 20; quick 5)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds after the warm-up (default 2; quick 1)")
    parser.add_argument("--intra-op", action="store_true",
                        help="also time n_jobs=1 with torch's default intra-op threads")
    parser.add_argument("--gpu-samples", type=int, default=20000,
                        help="images of the GPU table (default 20000)")
    parser.add_argument("--gpu-epochs", type=int, default=5, help="default 5")
    args = parser.parse_args(argv)
    defaults = (3, 5, 1) if args.quick else (5, 20, 2)
    for name, default in zip(("folds", "epochs", "repeats"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)

    print(f"# scaling: digits, MLP, {args.folds} folds x {args.epochs} epochs, scorer "
          f"forgetting, {args.repeats} timed round(s) after a warm-up")
    print(machine_description())
    table, notes = cpu_table(args)
    print()
    print(table)
    print()
    print(notes)
    table, notes = gpu_table(args)
    print()
    if table is not None:
        print(table)
        print()
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
