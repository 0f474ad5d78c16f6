"""The ``skunseen`` command line: prune a dataset, evaluate a coreset, report.

``skunseen prune`` scores a training pool and writes the coreset's row
indices; ``skunseen evaluate`` trains a fresh model on those rows of the same
pool and writes its test accuracy. Both read the pool from the same dataset
options (``--dataset --data --limit --classes --pool-seed``), which do not
depend on ``--seed``, so the indices written by one line up with the rows read
by the other. ``skunseen report`` puts several runs side by side.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ._report import plot_histograms, summarize, write_report

PRUNERS = {"unseen": "UnseenPruner", "fitting": "FittingPruner",
           "multistep": "MultiStepUnseenPruner"}
DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")
MODELS = ("auto", "cnn", "resnet18", "fastcifar", "mlp")
# torchvision's extracted python versions of CIFAR, recognised under --data.
_TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skunseen",
        description="UNSEEN dataset pruning: score samples with models that never saw them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    data = _data_options()
    prune = commands.add_parser(
        "prune", parents=[data], help="score a dataset and write its coreset",
        description="Score every sample of the pool, select a coreset and write "
                    "coreset.npy (row indices into the pool), scores.npy, report.json "
                    "and scores.png into --out.",
    )
    prune.add_argument("--keep", type=_keep, default=0.5,
                       help="fraction in (0, 1] or number of samples to keep (default 0.5)")
    prune.add_argument("--method", default="unseen", choices=sorted(PRUNERS),
                       help="unseen (out-of-fold scores), multistep (evaluate and refill) "
                            "or fitting (the baseline)")
    prune.add_argument("--scorer", default="el2n", help="scorer name (default el2n)")
    prune.add_argument("--selector", default="ccs", help="selector name (default ccs)")
    prune.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    prune.add_argument("--repeats", type=int, default=1, help="fold redraws to average")
    prune.add_argument("--steps", type=int, default=3,
                       help="multistep only: number of evaluate-and-refill steps (default 3)")
    prune.add_argument("--replace", type=float, default=0.0,
                       help="multistep only: fraction of the coreset swapped at each step "
                            "(default 0)")
    prune.add_argument("--epochs", type=int, default=None,
                       help="training epochs of each scoring net (default: the model's)")
    prune.add_argument("--seed", type=int, default=0,
                       help="seed of the folds, scoring nets and selection (default 0)")
    prune.add_argument("--jobs", type=int, default=None, help="models trained in parallel")
    prune.add_argument("--compare", action="store_true",
                       help="also score with the fitting baseline and plot both histograms")
    prune.add_argument("--out", type=Path, required=True, help="output directory")
    _verbosity_options(prune)
    prune.set_defaults(run=run_prune)

    evaluate = commands.add_parser(
        "evaluate", parents=[data], help="train a fresh model on a coreset, report its accuracy",
        description="Train a fresh model on the coreset rows of the pool (the same dataset "
                    "options as the prune run) and write its test accuracy to "
                    "--out/eval.json.",
    )
    evaluate.add_argument("--coreset", type=Path, default=None,
                          help="coreset.npy written by `skunseen prune` (default: the whole "
                               "pool, the full-data baseline)")
    evaluate.add_argument("--epochs", type=int, default=None,
                          help="training epochs (default: the model's)")
    evaluate.add_argument("--seed", type=int, default=0,
                          help="seed of the fresh model's initialisation and training "
                               "(default 0)")
    evaluate.add_argument("--out", type=Path, required=True, help="output directory")
    _verbosity_options(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    report = commands.add_parser(
        "report", help="compare prune / evaluate runs on one page",
        description="Read the output folders of `skunseen prune` and `skunseen evaluate` "
                    "and write report.md, report.html and scores.png into --out: one table "
                    "row per prune run (method, scorer, selector, kept, score spread, mean "
                    "test accuracy of the evaluations of its coreset, seconds) and the "
                    "score histograms side by side.",
    )
    report.add_argument("runs", type=Path, nargs="+", help="prune and evaluate output folders")
    report.add_argument("--out", type=Path, required=True, help="output directory")
    report.set_defaults(run=run_report)
    return parser


def _data_options():
    """Options shared by prune and evaluate: the pool, the model and the device."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("data (use the same values in prune and evaluate)")
    group.add_argument("--dataset", default="digits", choices=DATASETS,
                       help="digits (bundled with scikit-learn; default), cifar10, cifar100 "
                            "or imagefolder (streamed from disk)")
    group.add_argument("--data", type=Path, default=None,
                       help="cifar10/cifar100: torchvision's folder (holding "
                            "cifar-10-batches-py/ or cifar-100-python/), or an ImageFolder "
                            "directory or .tar/.tar.gz archive with train/ and test/; "
                            "imagefolder: a folder with train/ and test/ (or val/)")
    group.add_argument("--cache-dir", type=Path, default=None,
                       help="keep images decoded from an archive here as .npy files, so "
                            "that the next run skips decoding")
    group.add_argument("--limit", type=_size, default=None,
                       help="stratified pool of N training samples (or a fraction)")
    group.add_argument("--test-limit", type=_size, default=None,
                       help="stratified subset of N test samples (or a fraction; evaluate)")
    group.add_argument("--classes", type=_classes, default=None,
                       help="comma-separated class indices or names, e.g. 0,3,5; relabelled "
                            "in the given order")
    group.add_argument("--pool-seed", type=int, default=0,
                       help="seed of the --limit subsets, independent of --seed (default 0)")
    group.add_argument("--image-size", type=int, default=None,
                       help="resize images to this size (imagefolder: default 224; archives: "
                            "needed when image sizes differ)")
    group = options.add_argument_group("model")
    group.add_argument("--model", default="auto", choices=MODELS,
                       help="auto: mlp for digits' 64 features, cnn for images")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA when available), cpu or cuda[:N] (default auto)")
    group.add_argument("--workers", type=int, default=0,
                       help="DataLoader worker processes for streamed data (default 0)")
    return options


def _verbosity_options(parser):
    parser.add_argument("-v", "--verbose", action="count", default=1,
                        help="progress bars (on by default; -q turns them off)")
    parser.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose")


def _keep(text):
    value = float(text)
    if value.is_integer() and value > 1:
        return int(value)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"--keep must be a fraction in (0, 1] or a count >= 1, got {text}")
    return value


def _size(text):
    value = float(text)
    if value.is_integer() and value >= 1:
        return int(value)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of samples >= 1 or a fraction in (0, 1), got {text}")
    return value


def _classes(text):
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if not tokens:
        raise argparse.ArgumentTypeError("--classes needs at least one class")
    return [int(token) if token.isdigit() else token for token in tokens]


def load_pool(args, *, test=True):
    """The training pool and test split chosen by the data options.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed data options.
    test : bool, default=True
        Load the test split; ``False`` gives an empty one (prune does not
        need it, and an archive then decodes the training images only).

    Returns
    -------
    skunseen.datasets.TrainTestData
        Arrays (digits, CIFAR) or streamed Datasets (imagefolder).
    """
    from skunseen.datasets import (
        TrainTestData,
        load_cifar10,
        load_cifar100,
        load_digits_images,
        load_image_archive,
        load_image_folder,
    )

    subsets = dict(limit=args.limit, test_limit=args.test_limit if test else 0,
                   classes=args.classes, pool_seed=args.pool_seed)
    if args.dataset == "digits":
        if args.data is not None:
            raise ValueError("--dataset digits is bundled with scikit-learn and takes no --data")
        data = load_digits_images(**subsets)
        if args.model not in ("auto", "mlp"):
            return data
        # The 64 flat features and the MLP: the fast default of the demo. Same
        # rows in the same order as the images, so coresets fit either model.
        X_train, y_train, X_test, y_test = data
        return TrainTestData(X_train.reshape(len(X_train), 64), y_train,
                             X_test.reshape(len(X_test), 64), y_test, classes=data.classes)
    if args.data is None:
        raise ValueError(f"--dataset {args.dataset} needs --data PATH (see --help)")
    path = args.data.expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--data {path} does not exist")
    if args.dataset == "imagefolder":
        return load_image_folder(path, image_size=args.image_size or 224, **subsets)
    folder = _TORCHVISION_FOLDERS[args.dataset]
    if path.name == folder:
        path = path.parent
    if (path / folder).is_dir():
        loader = load_cifar10 if args.dataset == "cifar10" else load_cifar100
        return loader(path, **subsets)
    if path.name.endswith("-python.tar.gz"):
        raise ValueError(
            f"{path} is torchvision's download archive; extract it "
            f"(tar xzf {path} -C DIR) and pass --data DIR")
    return load_image_archive(path, cache_dir=args.cache_dir, image_size=args.image_size,
                              **subsets)


def describe_pool(args, y):
    """What identifies the pool, so that evaluate can check a coreset belongs to it."""
    import joblib

    return {
        "dataset": args.dataset,
        "data": None if args.data is None else str(args.data.expanduser().resolve()),
        "limit": args.limit,
        "classes": args.classes,
        "pool_seed": args.pool_seed,
        "n_samples": int(len(y)),
        "labels_hash": joblib.hash(np.asarray(y, dtype=np.int64)),
    }


def make_model(args, X, n_classes, *, seed=None, progress_desc=None):
    """The net chosen by ``--model``, ``--epochs`` and ``--device`` for X.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.
    X : ndarray or Dataset
        The pool (its sample shape and dtype choose the net).
    n_classes : int
        Number of outputs.
    seed : int, default=None
        The net's ``random_state``.
    progress_desc : str, default=None
        Show a bar over the epochs with this label.

    Returns
    -------
    skunseen.models.FastNetClassifier
    """
    from skunseen._data import sample_shape
    from skunseen._progress import EpochProgress
    from skunseen.models import make_net

    params = {}
    if args.epochs is not None:
        params["max_epochs"] = args.epochs
    if isinstance(X, np.ndarray) and X.dtype == np.uint8:
        # The fast path scales uint8 images on the device, for the MLP too.
        params["fast_path"] = True
    if args.workers:
        params.update(iterator_train__num_workers=args.workers,
                      iterator_valid__num_workers=args.workers)
    net = make_net(args.model, input_shape=sample_shape(X), n_classes=n_classes,
                   device=args.device, random_state=seed, **params)
    if progress_desc is not None:
        callbacks = net.callbacks if isinstance(net.callbacks, list) else []
        net.set_params(callbacks=[*callbacks, ("progress", EpochProgress(progress_desc))])
    return net


def make_pruner(args, method, X, n_classes):
    import skunseen

    # Epoch bars only when models train one after another.
    sequential = args.verbose and args.jobs in (None, 1)
    estimator = make_model(args, X, n_classes,
                           progress_desc="scoring net epochs" if sequential else None)
    common = dict(estimator=estimator, scorer=args.scorer, selector=args.selector,
                  keep=args.keep, n_repeats=args.repeats, random_state=args.seed,
                  n_jobs=args.jobs, verbose=args.verbose)
    if method in ("unseen", "multistep"):
        common["cv"] = args.folds
    if method == "multistep":
        common.update(n_steps=args.steps, replace=args.replace)
    return getattr(skunseen, PRUNERS[method])(**common)


def run_prune(args):
    X, y, _, _ = load_pool(args, test=False)
    args.out.mkdir(parents=True, exist_ok=True)
    classes = np.unique(y)
    timings = {}
    start = time.perf_counter()
    pruner = make_pruner(args, args.method, X, len(classes)).fit(X, y)
    timings[args.method] = time.perf_counter() - start
    histograms = {args.method: pruner.scores_}
    if args.compare and args.method != "fitting":
        start = time.perf_counter()
        baseline = make_pruner(args, "fitting", X, len(classes)).fit(X, y)
        timings["fitting"] = time.perf_counter() - start
        histograms["fitting"] = baseline.scores_

    np.save(args.out / "coreset.npy", pruner.sample_indices_.astype(np.int64))
    np.save(args.out / "scores.npy", pruner.scores_)
    plot_histograms(histograms, args.out / "scores.png", scorer=args.scorer)
    report = {
        "command": "prune",
        "parameters": _parameters(args),
        "pool": describe_pool(args, y),
        "n_samples": int(len(y)),
        "n_selected": int(len(pruner.sample_indices_)),
        "seconds": timings,
        "per_class": {
            str(label): {"total": int(np.sum(y == label)),
                         "kept": int(np.sum(y[pruner.sample_indices_] == label))}
            for label in classes
        },
        "scores": {name: summarize(values) for name, values in histograms.items()},
        "environment": {"python": platform.python_version()},
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"kept {report['n_selected']} of {report['n_samples']} samples "
          f"({args.method}, {args.scorer}, {args.selector}) in {timings[args.method]:.1f} s; "
          f"wrote {args.out}/coreset.npy, scores.npy, report.json, scores.png")
    return 0


def run_evaluate(args):
    from skunseen._data import as_net_input, fold_view, n_rows

    start = time.perf_counter()
    X, y, X_test, y_test = data = load_pool(args)
    if len(y_test) == 0:
        raise ValueError("the test split is empty; raise --test-limit")
    rows = read_coreset(args.coreset, args, y)
    load_seconds = time.perf_counter() - start

    net = make_model(args, X, len(data.classes), seed=args.seed,
                     progress_desc="epochs" if args.verbose else None)
    start = time.perf_counter()
    # Rows of the pool, read through an index view rather than copied.
    net.fit(fold_view(as_net_input(X), y, rows), y[rows])
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = net.predict_proba(as_net_input(X_test)).argmax(axis=1)
    test_seconds = time.perf_counter() - start

    accuracy = float(np.mean(predicted == y_test))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "command": "evaluate",
        "test_accuracy": accuracy,
        "n_train": int(len(rows)),
        "n_pool": int(n_rows(X)),
        "n_test": int(len(y_test)),
        "model": type(net.module_).__name__,
        "epochs": int(len(net.history)),
        "n_parameters": int(sum(p.numel() for p in net.module_.parameters())),
        "device": str(net.device),
        "seconds": {"load": load_seconds, "train": train_seconds, "test": test_seconds},
        "per_class_accuracy": {
            name: float(np.mean(predicted[y_test == label] == label))
            for label, name in enumerate(data.classes) if np.any(y_test == label)
        },
        "parameters": _parameters(args),
        "pool": describe_pool(args, y),
        "environment": {"python": platform.python_version()},
    }
    (args.out / "eval.json").write_text(json.dumps(result, indent=2))
    print(f"test accuracy {accuracy:.4f} of {result['model']} trained on {len(rows)} of "
          f"{result['n_pool']} samples ({result['epochs']} epochs, seed {args.seed}) in "
          f"{train_seconds:.1f} s; wrote {args.out}/eval.json")
    return 0


def run_report(args):
    paths = write_report(args.runs, args.out)
    print(f"wrote {paths['markdown']}, {paths['html']} and {paths['figure']}")
    return 0


def read_coreset(path, args, y):
    """Coreset row indices from ``path`` (all rows when None), checked against the pool.

    When the prune run's ``report.json`` sits next to the coreset, its pool
    must be this pool: same size and labels.
    """
    if path is None:
        return np.arange(len(y))
    rows = np.load(path)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"{path} must hold a 1-D array of row indices, got {rows.dtype} "
                         f"of shape {rows.shape}")
    report = path.parent / "report.json"
    if report.is_file():
        pool = json.loads(report.read_text()).get("pool")
        here = describe_pool(args, y)
        if pool and (pool["n_samples"], pool["labels_hash"]) != (
                here["n_samples"], here["labels_hash"]):
            options = ", ".join(f"{key}={pool[key]!r}" for key in
                                ("dataset", "data", "limit", "classes", "pool_seed"))
            raise ValueError(
                f"{path} indexes another pool ({pool['n_samples']} samples from {options}) "
                f"than these data options give ({here['n_samples']} samples); use the "
                "prune run's --dataset, --data, --limit, --classes and --pool-seed")
    if len(rows) and (rows.min() < 0 or rows.max() >= len(y)):
        raise ValueError(f"{path} has indices outside the pool of {len(y)} samples; use the "
                         "prune run's --dataset, --data, --limit, --classes and --pool-seed")
    return rows.astype(np.int64)


def _parameters(args):
    return {key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items() if key != "run"}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"skunseen {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
