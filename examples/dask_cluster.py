"""Train the folds on a Dask cluster, and check the coreset matches a sequential run.

The pruners dispatch their scoring models (folds, repeats, multi-step models)
through joblib, so the Dask backend spreads them over a cluster's workers
with no change to the pruner::

    with joblib.parallel_config(backend="dask"):
        pruner.fit(X, y)

Seeds are drawn per task before anything is dispatched, so the coreset is
the same as a sequential run's with the same ``random_state``. The script
checks it with two fresh fits of the same pruner: one sequential, inside one
worker process (one model after another), and one with every model sent to
the cluster; each prints how many scoring models it trained, and both must
train all of them. Both train the models one by one (``fold_batching=False``):
training the folds as one batched module is faster on one device but rounds
differently, so its scores match a per-model run only to float rounding.

By default the script starts a ``LocalCluster`` of worker processes on
127.0.0.1. Against a multi-node cluster, start ``dask scheduler`` on one
machine and ``dask worker tcp://SCHEDULER:8786`` on the others (each with
skunseen installed), then pass ``--scheduler tcp://SCHEDULER:8786``.
Requires ``pip install -e ".[dask]"``.

Run::

    python examples/dask_cluster.py --smoke
    python examples/dask_cluster.py --workers 4 --folds 10
    python examples/dask_cluster.py --scheduler tcp://10.0.0.1:8786
"""

import argparse
import contextlib
import logging
import time

import joblib
import numpy as np
from sklearn.datasets import load_digits

from skunseen import UnseenPruner
from skunseen.models import make_net


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", default=None,
                        help="address of a running scheduler (default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run: 400 samples, 1 epoch, 2 folds, 2 workers")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit('dask.distributed is not installed: pip install -e ".[dask]"')
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if args.smoke:
        X, y = X[:400], y[:400]
        args.epochs, args.folds, args.workers = 1, 2, 2

    net = make_net("mlp", input_shape=X.shape[1:], n_classes=10, device="cpu",
                   max_epochs=args.epochs)
    pruner = UnseenPruner(net, keep=0.5, cv=args.folds, random_state=args.seed,
                          fold_batching=False)

    if args.scheduler is None:
        # Workers that imported torch take a few seconds to exit, and the nanny
        # then reports killing them; that is harmless here.
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    else:
        cluster = contextlib.nullcontext(args.scheduler)
    with cluster as address, Client(address) as client:
        n_workers = len(client.scheduler_info()["workers"])
        # The sequential fit runs in a worker process, so that nothing this
        # process computes can answer the distributed fit.
        sequential, sequential_info, seconds = client.submit(
            fit_and_time, pruner, X, y, pure=False).result()
        print(f"sequential (one worker, one model at a time): {seconds:.1f} s, "
              f"{_trained(sequential_info)} of {len(sequential_info)} scoring models trained")
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            pruner.fit(X, y)
        print(f"dask ({n_workers} workers at {client.scheduler.address}): "
              f"{time.perf_counter() - start:.1f} s, {_trained(pruner.task_info_)} of "
              f"{len(pruner.task_info_)} scoring models trained")

    fresh = all(_trained(info) == len(info) for info in (sequential_info, pruner.task_info_))
    same = np.array_equal(sequential, pruner.sample_indices_)
    print(f"same coreset as the sequential run: {same} ({len(sequential)} samples)")
    if not fresh:
        print("but a fit took scoring models from a store instead of training them")
    return 0 if same and fresh else 1


def fit_and_time(pruner, X, y):
    """Fit ``pruner`` here, one model after another; its coreset, task log and seconds."""
    start = time.perf_counter()
    pruner.fit(X, y)
    return pruner.sample_indices_, pruner.task_info_, time.perf_counter() - start


def _trained(task_info):
    """How many tasks of a fit trained their model (rather than reading it back)."""
    return sum(not (task["resumed"] or task.get("cached", False)) for task in task_info)


if __name__ == "__main__":
    raise SystemExit(main())
