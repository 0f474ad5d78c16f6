"""The ``skunseen`` command line: prune a dataset, evaluate a coreset, report, compare.

``skunseen prune`` scores a training pool and writes the coreset's row
indices; ``skunseen evaluate`` trains a fresh model on those rows of the same
pool and writes its test accuracy. Both read the pool from the same dataset
options (``--dataset --data --limit --classes --pool-seed``), which do not
depend on ``--seed``, so the indices written by one line up with the rows read
by the other. ``skunseen report`` puts several runs side by side, and
``skunseen compare`` runs the whole comparison (UNSEEN, fitting, random and
full data over keep ratios and seeds) in one go.

Arguments are parsed and checked before torch loads (the package's modules
load on first use), so ``--help`` and mistakes answer at once; every failure
is one line ``skunseen <command>: error: ...`` with exit status 2, and
nothing is written under ``--out`` before the arguments are known to be good.
"""

import argparse
import csv
import json
import os
import platform
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._names import MODELS, SCORERS, SELECTORS

PRUNERS = {"unseen": "UnseenPruner", "fitting": "FittingPruner",
           "multistep": "MultiStepUnseenPruner"}
DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")
#: The methods of ``skunseen compare``: pruners with scores, the random baseline, all rows.
COMPARE_METHODS = ("unseen", "fitting", "random", "full")
# torchvision's extracted python versions of CIFAR, recognised under --data.
_TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
_WIDTH = 79


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors; sub-command parsers inherit it."""

    def error(self, message):
        print_error(self.prog, f"{message} (see {self.prog} --help)")
        sys.exit(2)


def print_error(prog, message):
    """Print ``<prog>: error: <message>`` as one line on stderr."""
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")


def _wrap(text):
    return textwrap.fill(" ".join(text.split()), _WIDTH)


def _names_epilog(selector_flag):
    """The scorers and selectors, one line each, for the end of a command's help."""
    lists = []
    for title, names in (("scorers (--scorer; higher = harder):", SCORERS),
                         (f"selectors ({selector_flag}):", SELECTORS)):
        width = max(map(len, names)) + 2
        lists.append("\n".join([title, *(f"  {name:<{width}}{line}"
                                          for name, line in names.items())]))
    return "\n\n".join(lists)


def build_parser():
    """The ``skunseen`` parser, with one sub-command parser per command."""
    parser = _Parser(
        prog="skunseen", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_wrap("UNSEEN dataset pruning: score samples with models that never "
                          "saw them, keep a coreset."),
    )
    parser.add_argument("--version", action="version", version=f"skunseen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data = _data_options()
    _add_prune(commands, data)
    _add_evaluate(commands, data)
    _add_report(commands)
    _add_compare(commands, data)
    return parser


def _add_prune(commands, data):
    """``skunseen prune``: score the pool, write its coreset."""
    prune = commands.add_parser(
        "prune", parents=[data], help="score a dataset and write its coreset",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=_wrap(
            "Score every sample of the pool, select a coreset and write into --out: "
            "coreset.npy (the kept rows of the pool, which is the training split after "
            "--classes and --limit), coreset.csv (the same rows mapped back to their "
            "source: pool row, index in the dataset, file name, class), scores.npy, "
            "report.json and scores.png. --selector random trains no scoring model."),
        epilog=_names_epilog("--selector"),
    )
    prune.add_argument("--keep", type=_keep, default=0.5,
                       help="fraction in (0, 1] or number of samples to keep (default 0.5)")
    prune.add_argument("--method", default="unseen", choices=sorted(PRUNERS),
                       help="unseen (out-of-fold scores; default), multistep (evaluate and "
                            "refill) or fitting (the baseline)")
    prune.add_argument("--scorer", default="el2n", choices=SCORERS, metavar="SCORER",
                       help="importance score, listed below (default el2n)")
    prune.add_argument("--selector", default="ccs", choices=SELECTORS, metavar="SELECTOR",
                       help="selection rule, listed below (default ccs)")
    prune.add_argument("--folds", type=_at_least(2), default=5,
                       help="number of folds K (default 5)")
    prune.add_argument("--repeats", type=_at_least(1), default=1,
                       help="fold redraws whose scores are averaged (default 1)")
    prune.add_argument("--steps", type=_at_least(1), default=3,
                       help="multistep only: number of evaluate-and-refill steps (default 3)")
    prune.add_argument("--replace", type=_replace, default=0.0,
                       help="multistep only: fraction in [0, 1) of the coreset swapped at "
                            "each step (default 0)")
    prune.add_argument("--epochs", type=_at_least(1), default=None,
                       help="training epochs of each scoring net (default: the model's)")
    prune.add_argument("--seed", type=int, default=0,
                       help="seed of the folds, scoring nets and selection (default 0)")
    _jobs_option(prune)
    prune.add_argument("--compare", action="store_true",
                       help="also score with the fitting baseline and plot both histograms")
    _out_option(prune)
    _verbosity_options(prune)
    prune.set_defaults(run=run_prune)


def _add_evaluate(commands, data):
    """``skunseen evaluate``: train on a coreset, write its test accuracy."""
    evaluate = commands.add_parser(
        "evaluate", parents=[data], help="train a fresh model on a coreset, report its accuracy",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=_wrap(
            "Train a fresh model on the coreset rows of the pool (the same data options as "
            "the prune run) and write its test accuracy to --out/eval.json; without "
            "--coreset, on the whole pool (the full-data reference)."),
    )
    evaluate.add_argument("--coreset", type=Path, default=None,
                          help="coreset.npy written by `skunseen prune` (default: the whole "
                               "pool, the full-data reference)")
    evaluate.add_argument("--epochs", type=_at_least(1), default=None,
                          help="training epochs (default: the model's)")
    evaluate.add_argument("--seed", type=int, default=0,
                          help="seed of the fresh model's initialisation and training "
                               "(default 0)")
    _out_option(evaluate)
    _verbosity_options(evaluate)
    evaluate.set_defaults(run=run_evaluate)


def _add_report(commands):
    """``skunseen report``: put prune and evaluate runs on one page."""
    report = commands.add_parser(
        "report", help="compare prune / evaluate runs on one page",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=_wrap(
            "Read the output folders of `skunseen prune` and `skunseen evaluate` and write "
            "report.md, report.html and scores.png into --out: one table row per prune run "
            "with the test accuracy of the evaluations of its coreset, one row for the "
            "full-data evaluations, every column explained under the table, and the score "
            "histograms with the kept samples marked."),
    )
    report.add_argument("runs", type=Path, nargs="+", metavar="FOLDER",
                        help="prune and evaluate output folders")
    _out_option(report)
    report.set_defaults(run=run_report)


def _add_compare(commands, data):
    """``skunseen compare``: every method over keeps and seeds, one report."""
    compare = commands.add_parser(
        "compare", parents=[data], help="which coreset is better? UNSEEN vs fitting vs "
                                        "random vs full data",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=_wrap(
            "Prune the pool with UNSEEN and the fitting baseline (one scoring per seed and "
            "method, shared by every keep ratio and selector) and at random (no scoring "
            "model), train a fresh model on every coreset and on the full pool for every "
            "seed, and write one report into --out: report.md / report.html (a table with "
            "every column explained; the methods of each keep compared seed by seed, with "
            "95% intervals of their differences and a best marked only where one is "
            "detected), accuracy.png (test accuracy and the paired differences against "
            "keep), scores.png (score "
            "histograms with the kept samples marked), report.json, and every coreset "
            "under coresets/ (.npy and .csv). Scoring models are checkpointed under "
            "--out/checkpoints, so a rerun resumes."),
        epilog=_names_epilog("--selectors"),
    )
    compare.add_argument("--keeps", type=_list_of(_keep, "--keeps"), default=[0.1, 0.3, 0.5, 0.7],
                         help="comma-separated fractions (or counts) to keep "
                              "(default 0.1,0.3,0.5,0.7)")
    compare.add_argument("--methods", type=_names_of(COMPARE_METHODS, "--methods"),
                         default=list(COMPARE_METHODS),
                         help="comma-separated subset of unseen, fitting, random and full "
                              "(default: all four)")
    compare.add_argument("--scorer", default="el2n", choices=SCORERS, metavar="SCORER",
                         help="importance score of unseen and fitting, listed below "
                              "(default el2n)")
    compare.add_argument("--selectors", type=_names_of(SELECTORS, "--selectors"),
                         default=["ccs"],
                         help="comma-separated selection rules of unseen and fitting, "
                              "listed below (default ccs)")
    compare.add_argument("--folds", type=_at_least(2), default=5,
                         help="number of folds K of unseen (default 5)")
    compare.add_argument("--seeds", type=_at_least(1), default=5,
                         help="repetitions with seeds 0 .. N-1 of scoring, selection and "
                              "training (default 5)")
    compare.add_argument("--epochs", type=_at_least(1), default=None,
                         help="training epochs of every net (default: the model's)")
    compare.add_argument("--score-epochs", type=_at_least(1), default=None,
                         help="training epochs of the scoring nets (default: --epochs)")
    _jobs_option(compare)
    _out_option(compare)
    _verbosity_options(compare)
    compare.set_defaults(run=run_compare)


def _data_options():
    """Options shared by prune, evaluate and compare: the pool, the model, the device."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("data (use the same values in prune and evaluate)")
    group.add_argument("--dataset", default="digits", choices=DATASETS,
                       help="digits (bundled with scikit-learn; default), cifar10, cifar100 "
                            "or imagefolder (streamed from disk)")
    group.add_argument("--data", type=Path, default=None,
                       help="cifar10/cifar100: the official python version, extracted "
                            "(cifar-10-batches-py/ or cifar-100-python/, or the folder "
                            "holding it, as torchvision downloads it), or an ImageFolder "
                            "directory or .tar/.tar.gz archive with train/ and test/; "
                            "imagefolder: a folder with train/<class>/ (and test/ or val/ "
                            "for evaluate and compare)")
    group.add_argument("--cache-dir", type=Path, default=None,
                       help="keep images decoded from an archive here as .npy files, so "
                            "that the next run skips decoding (default: no cache)")
    group.add_argument("--limit", type=_size, default=None,
                       help="stratified pool of N training samples, or a fraction "
                            "(default: the whole training split)")
    group.add_argument("--test-limit", type=_size, default=None,
                       help="stratified subset of N test samples, or a fraction (evaluate, "
                            "compare; default: the whole test split)")
    group.add_argument("--classes", type=_classes, default=None,
                       help="comma-separated class indices or names, e.g. 0,3,5 or "
                            "cat,dog; relabelled in the given order (default: all)")
    group.add_argument("--pool-seed", type=int, default=0,
                       help="seed of the --limit subsets, independent of --seed (default 0)")
    group.add_argument("--image-size", type=_at_least(1), default=None,
                       help="resize images to this size (imagefolder: resize and centre "
                            "crop, default: the first training image's size; archives: "
                            "needed when image sizes differ)")
    group = options.add_argument_group("model")
    group.add_argument("--model", default="auto", choices=("auto", *MODELS),
                       help="auto (default): mlp for digits' 64 features, cnn for images; "
                            + "; ".join(f"{name}: {line}" for name, line in MODELS.items())
                            .replace("%", "%%"))  # argparse %-formats help texts
    group.add_argument("--device", default="auto",
                       help="auto (CUDA when available; default), cpu or cuda[:N]")
    group.add_argument("--threads", type=_at_least(1), default=1,
                       help="CPU threads of every net's torch operations (default 1: the "
                            "small default nets gain little from more, and lose much on "
                            "busy cores; see benchmarks/threads.py)")
    group.add_argument("--workers", type=_at_least(0), default=0,
                       help="DataLoader worker processes for streamed data (default 0)")
    return options


def _jobs_option(parser):
    parser.add_argument("--jobs", type=_jobs, default=None,
                        help="scoring models trained in parallel; -1: one per CPU "
                             "(default: one at a time)")


def _out_option(parser):
    parser.add_argument("--out", type=_out, required=True,
                        help="output folder, created when the results are written")


def _verbosity_options(parser):
    parser.add_argument("-v", "--verbose", action="count", default=1,
                        help="progress (default on: bars on a terminal, a line every 15 s "
                             "otherwise)")
    parser.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose",
                        help="no progress output")


# Argument types: argparse prefixes their message with "argument --flag:".
def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _keep(text):
    value = _number(text)
    if value.is_integer() and value > 1:
        return int(value)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in (0, 1] or a number of samples >= 1, got {text}")
    return value


def _size(text):
    value = _number(text)
    if value.is_integer() and value >= 1:
        return int(value)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of samples >= 1 or a fraction in (0, 1), got {text}")
    return value


def _replace(text):
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _at_least(minimum):
    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return integer


def _jobs(text):
    value = _at_least(-1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of jobs or -1, got 0")
    return value


def _classes(text):
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if not tokens:
        raise argparse.ArgumentTypeError("needs at least one class")
    return [int(token) if token.isdigit() else token for token in tokens]


def _list_of(item, flag):
    def values(text):
        tokens = [token.strip() for token in text.split(",") if token.strip()]
        if not tokens:
            raise argparse.ArgumentTypeError(f"expected comma-separated values, got {text!r}")
        parsed = [item(token) for token in tokens]
        if len(set(parsed)) != len(parsed):
            raise argparse.ArgumentTypeError(f"{flag} lists a value twice: {text}")
        return parsed

    return values


def _names_of(names, flag):
    def check(token):
        if token not in names:
            raise argparse.ArgumentTypeError(
                f"unknown name {token!r}; choose from {', '.join(names)}")
        return token

    return _list_of(check, flag)


def _out(text):
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text} lies under {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{parent} is not writable")
    return path


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
        Arrays (digits, CIFAR) or streamed Datasets (imagefolder), with the
        class names and where every training row comes from.
    """
    from skunseen.datasets import (
        load_cifar10,
        load_cifar100,
        load_digits_images,
        load_image_archive,
        load_image_folder,
    )

    check_data_source(args)
    subsets = dict(limit=args.limit, test_limit=args.test_limit if test else 0,
                   classes=args.classes, pool_seed=args.pool_seed)
    if args.dataset == "digits":
        data = load_digits_images(**subsets)
        if args.model not in ("auto", "mlp"):
            return data
        # The 64 flat features and the MLP: the fast default of the demo. Same
        # rows in the same order as the images, so coresets fit either model.
        X_train, y_train, X_test, y_test = data
        return data.with_arrays(X_train.reshape(len(X_train), 64), y_train,
                                X_test.reshape(len(X_test), 64), y_test)
    path = args.data.expanduser()
    if args.dataset == "imagefolder":
        if test and not any((path / split).is_dir() for split in ("test", "val")):
            raise ValueError(
                f"--data {path} has no test/ or val/ folder; `skunseen {args.command}` "
                "measures test accuracy on one (prune needs none)")
        return load_image_folder(path, image_size=args.image_size, **subsets)
    folder = _TORCHVISION_FOLDERS[args.dataset]
    if path.name == folder:
        path = path.parent
    if (path / folder).is_dir():
        loader = load_cifar10 if args.dataset == "cifar10" else load_cifar100
        data = loader(path, **subsets)
    elif path.name.endswith("-python.tar.gz"):
        raise ValueError(
            f"{path} is torchvision's download archive; extract it "
            f"(tar xzf {path} -C DIR) and pass --data DIR")
    else:
        data = load_image_archive(path, cache_dir=args.cache_dir, image_size=args.image_size,
                                  **subsets)
    expected = _CIFAR_CLASSES[args.dataset]
    if len(data.source_classes) != expected:
        other = [name for name, count in _CIFAR_CLASSES.items()
                 if count == len(data.source_classes)]
        hint = (f"; use --dataset {other[0]}" if other
                else "; use --dataset imagefolder for other image folders")
        raise ValueError(
            f"--dataset {args.dataset} has {expected} classes, but --data {path} holds "
            f"{len(data.source_classes)}{hint}")
    return data


def describe_pool(args, data):
    """What identifies the pool, so that evaluate can check a coreset belongs to it.

    Besides the options, digests of the labels and of the rows actually
    drawn (their file names, or their positions in the source), so that
    pools of equal size and labels drawn differently (e.g. with another
    ``--pool-seed``) are told apart.
    """
    import joblib

    sources = data.train_files if data.train_files is not None else data.train_index
    return {
        "dataset": args.dataset,
        "data": None if args.data is None else str(args.data),
        "limit": args.limit,
        "classes": args.classes,
        "pool_seed": args.pool_seed,
        "n_samples": int(len(data.y_train)),
        "labels_hash": joblib.hash(np.asarray(data.y_train, dtype=np.int64)),
        "rows_hash": joblib.hash(None if sources is None else list(sources)),
    }


def n_select(keep, n_samples, flag="--keep"):
    """The number of samples ``keep`` asks for, checked against the pool."""
    from skunseen._data import resolve_n_select

    if isinstance(keep, int) and keep > n_samples:
        raise ValueError(f"{flag} {keep} asks for more samples than the pool's {n_samples}")
    return resolve_n_select(keep, n_samples)


def make_model(args, X, n_classes, *, seed=None, epochs=None, progress_desc=None):
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
    epochs : int, default=None
        Training epochs instead of ``args.epochs``.
    progress_desc : str, default=None
        Show a bar over the epochs with this label.

    Returns
    -------
    skunseen.models.FastNetClassifier
    """
    import torch

    from skunseen._data import sample_shape
    from skunseen.nets._recording import EpochProgress
    from skunseen.models import make_net

    torch.set_num_threads(args.threads)
    params = {}
    epochs = args.epochs if epochs is None else epochs
    if epochs is not None:
        params["max_epochs"] = epochs
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

    # No epoch bar on the scoring nets: a callback turns fold batching off, so
    # the scores (and the coreset) would depend on --quiet; verbose= reports.
    estimator = make_model(args, X, n_classes)
    common = dict(estimator=estimator, scorer=args.scorer, selector=args.selector,
                  keep=args.keep, n_repeats=args.repeats, random_state=args.seed,
                  n_jobs=args.jobs, verbose=args.verbose)
    if method in ("unseen", "multistep"):
        common["cv"] = args.folds
    if method == "multistep":
        common.update(n_steps=args.steps, replace=args.replace)
    return getattr(skunseen, PRUNERS[method])(**common)


def random_coreset(y, keep, seed):
    """The random baseline: a class-stratified uniform draw, no scoring model.

    The same draw for ``prune --selector random --seed S`` and for
    ``compare``'s random method with seed S.
    """
    from skunseen.selection import select

    return select(np.zeros(len(y)), y, n_select(keep, len(y)), selector="random",
                  class_budget="proportional", random_state=seed)


def per_class_counts(data, y, rows):
    """``{class name: {"total": n, "kept": k}}`` for the classes present in the pool."""
    kept = np.bincount(y[rows], minlength=len(data.classes))
    total = np.bincount(y, minlength=len(data.classes))
    return {name: {"total": int(total[label]), "kept": int(kept[label])}
            for label, name in enumerate(data.classes) if total[label]}


def write_coreset(folder, name, rows, data):
    """``<name>.npy`` (pool rows) and ``<name>.csv`` (the rows mapped back to the source).

    The CSV has one line per kept row: ``pool_row``, ``source_index`` (the
    row's index in the data the loader read; see
    :class:`skunseen.datasets.TrainTestData`), ``file`` (archives and
    folders), ``label`` (in the pool) and ``class`` (its name).
    """
    rows = np.asarray(rows, dtype=np.int64)
    np.save(folder / f"{name}.npy", rows)
    y = data.y_train
    columns = {"pool_row": rows}
    if data.train_index is not None:
        columns["source_index"] = data.train_index[rows]
    if data.train_files is not None:
        columns["file"] = [data.train_files[row] for row in rows]
    columns["label"] = y[rows]
    columns["class"] = [data.classes[label] for label in y[rows]]
    with open(folder / f"{name}.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values()))


def run_prune(args):
    from ._report import plot_histograms, summarize

    data = load_pool(args, test=False)
    X, y = data.X_train, data.y_train
    n_classes = len(np.unique(y))
    if args.selector == "random":
        if args.compare:
            raise ValueError("--compare plots scores, and --selector random uses none")
        method = "random"
        start = time.perf_counter()
        rows, scores = random_coreset(y, args.keep, args.seed), None
        timings = {method: time.perf_counter() - start}
        histograms = {}
    else:
        method = args.method
        n_select(args.keep, len(y))
        start = time.perf_counter()
        pruner = make_pruner(args, method, X, n_classes).fit(X, y)
        timings = {method: time.perf_counter() - start}
        rows, scores = pruner.sample_indices_, pruner.scores_
        histograms = {method: scores}
        if args.compare and method != "fitting":
            start = time.perf_counter()
            baseline = make_pruner(args, "fitting", X, n_classes).fit(X, y)
            timings["fitting"] = time.perf_counter() - start
            histograms["fitting"] = baseline.scores_

    args.out.mkdir(parents=True, exist_ok=True)
    write_coreset(args.out, "coreset", rows, data)
    written = ["coreset.npy", "coreset.csv"]
    if scores is not None:
        np.save(args.out / "scores.npy", scores)
        plot_histograms(
            [{"title": name, "scores": values, "kept": rows if name == method else None,
              "xlabel": f"{args.scorer} importance"} for name, values in histograms.items()],
            args.out / "scores.png")
        written += ["scores.npy", "scores.png"]
    report = {
        "command": "prune",
        "method": method,
        "parameters": report_parameters(args),
        "pool": describe_pool(args, data),
        "n_samples": int(len(y)),
        "n_selected": int(len(rows)),
        "seconds": timings,
        "per_class": per_class_counts(data, y, rows),
        "scores": {name: summarize(values) for name, values in histograms.items()},
        "environment": {"python": platform.python_version()},
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    written.append("report.json")
    scoring = "no scoring model" if method == "random" else f"{method}, {args.scorer}"
    print(f"kept {len(rows)} of {len(y)} samples ({scoring}, {args.selector}) in "
          f"{timings[method]:.1f} s; wrote {', '.join(written)} into {args.out}")
    return 0


def train_and_test(args, data, rows, seed, *, progress_desc=None):
    """Train a fresh ``--model`` net on ``rows`` of the pool; its test predictions.

    Returns
    -------
    net : skunseen.models.FastNetClassifier
    predicted : ndarray of int
        Predicted test labels.
    seconds : dict
        ``train`` and ``test`` wall-clock seconds.
    """
    from skunseen.nets._inputs import as_net_input, fold_view

    X, y, X_test, _ = data
    net = make_model(args, X, len(data.classes), seed=seed, progress_desc=progress_desc)
    start = time.perf_counter()
    # Rows of the pool, read through an index view rather than copied.
    net.fit(fold_view(as_net_input(X), y, rows), y[rows])
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = net.predict_proba(as_net_input(X_test)).argmax(axis=1)
    return net, predicted, {"train": train_seconds, "test": time.perf_counter() - start}


def run_evaluate(args):
    from skunseen._data import n_rows

    start = time.perf_counter()
    X, y, X_test, y_test = data = load_pool(args)
    if len(y_test) == 0:
        raise ValueError("the test split is empty; raise --test-limit")
    rows = read_coreset(args.coreset, args, data)
    load_seconds = time.perf_counter() - start

    net, predicted, seconds = train_and_test(
        args, data, rows, args.seed, progress_desc="epochs" if args.verbose else None)
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
        "seconds": {"load": load_seconds, **seconds},
        "per_class_accuracy": {
            name: float(np.mean(predicted[y_test == label] == label))
            for label, name in enumerate(data.classes) if np.any(y_test == label)
        },
        "parameters": report_parameters(args),
        "pool": describe_pool(args, data),
        "environment": {"python": platform.python_version()},
    }
    (args.out / "eval.json").write_text(json.dumps(result, indent=2))
    print(f"test accuracy {100 * accuracy:.2f}% of {result['model']} trained on {len(rows)} "
          f"of {result['n_pool']} samples ({result['epochs']} epochs, seed {args.seed}) in "
          f"{seconds['train']:.1f} s; wrote {args.out / 'eval.json'}")
    return 0


def run_report(args):
    from ._report import write_report

    paths = write_report(args.runs, args.out)
    print(f"wrote {', '.join(str(path) for path in paths.values())}")
    return 0


def run_compare(args):
    from ._compare import run_compare as run

    return run(args)


def read_coreset(path, args, data):
    """Coreset row indices from ``path`` (all rows when None), checked against the pool.

    When the prune run's ``report.json`` sits next to the coreset, its pool
    must be this pool: same size, labels and drawn rows.
    """
    y = data.y_train
    if path is None:
        return np.arange(len(y))
    rows = np.load(path)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"--coreset {path} must hold a 1-D array of row indices, got "
                         f"{rows.dtype} of shape {rows.shape}")
    report = path.parent / "report.json"
    if report.is_file():
        pool = json.loads(report.read_text()).get("pool")
        here = describe_pool(args, data)
        identity = ("n_samples", "labels_hash", "rows_hash")
        if pool and any(pool.get(key) != here[key] for key in identity):
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


def report_parameters(args):
    """The parsed options as a report records them (paths as strings)."""
    return {key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items() if key != "run"}


def check_data_source(args):
    """The data options' paths, checked before anything heavy loads."""
    if getattr(args, "dataset", None) is None:
        return
    if args.dataset == "digits":
        if args.data is not None:
            raise ValueError("--dataset digits is bundled with scikit-learn and takes no --data")
    elif args.data is None:
        raise ValueError(f"--dataset {args.dataset} needs --data PATH (see --help)")
    elif not args.data.expanduser().exists():
        raise FileNotFoundError(f"--data {args.data.expanduser()} does not exist")
    coreset = getattr(args, "coreset", None)
    if coreset is not None and not coreset.is_file():
        problem = "is a directory, not a .npy file" if coreset.is_dir() else "does not exist"
        raise FileNotFoundError(f"--coreset {coreset} {problem}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        check_data_source(args)
        return args.run(args)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        print_error(f"skunseen {args.command}", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
