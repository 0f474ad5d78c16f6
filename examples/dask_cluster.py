"""Train the folds on a Dask cluster, and check the coreset matches a local run.

The pruners dispatch their scoring models (folds, repeats, multi-step models)
through joblib, so the Dask backend spreads them over a cluster's workers
with no change to the pruner::

    with joblib.parallel_config(backend="dask"):
        pruner.fit(X, y)

Seeds are drawn per task before anything is dispatched, so the coreset is
the same as a sequential run's with the same ``random_state``.

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
    pruner = UnseenPruner(net, keep=0.5, cv=args.folds, random_state=args.seed)

    start = time.perf_counter()
    local = pruner.fit(X, y).sample_indices_.copy()
    print(f"sequential: {time.perf_counter() - start:.1f} s")

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
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            distributed = pruner.fit(X, y).sample_indices_.copy()
        print(f"dask ({n_workers} workers at {client.scheduler.address}): "
              f"{time.perf_counter() - start:.1f} s")

    same = np.array_equal(local, distributed)
    print(f"same coreset as the sequential run: {same} ({len(distributed)} samples)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
