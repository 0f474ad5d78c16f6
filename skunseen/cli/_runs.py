"""What the commands do once their arguments are checked: pool, models, coresets.

The pool is read from the dataset options (:func:`load_pool`); the scoring
and evaluation nets come from ``--model`` (:func:`make_model`); a coreset is
written with its map back to the source and a record of the pool and run it
belongs to (:func:`write_coreset`) and read back checked against both
(:func:`read_coreset`). :func:`run_prune`, :func:`run_evaluate` and
:func:`run_report` are the three commands; ``compare`` builds on the same
pieces in :mod:`skunseen.cli._compare`.
"""

import csv
import hashlib
import io
import json
import platform
import time
from pathlib import Path

import numpy as np

from ._output import staged, write_bytes_atomic

PRUNERS = {"unseen": "UnseenPruner", "fitting": "FittingPruner",
           "multistep": "MultiStepUnseenPruner"}
DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")
#: The methods of ``skunseen compare``: pruners with scores, the random baseline, all rows.
COMPARE_METHODS = ("unseen", "fitting", "random", "full")
# torchvision's extracted python versions of CIFAR, recognised under --data.
_TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
COMPARE_REPORT = ("report.json", "report.md", "report.html", "accuracy.png", "scores.png")
#: The files ``prune`` writes into --out (``scores.*`` only when it scores).
PRUNE_OUTPUTS = ("coreset.npy", "coreset.csv", "coreset.json", "scores.npy", "scores.png",
                 "report.json")


def _is_number(token):
    return token.isascii() and token.isdigit()


def class_tokens(tokens):
    """The ``--classes`` tokens as a selection the loaders resolve once they know the names.

    A token that is the name of a class means that class. A number that
    names no class is a position in the sorted class names, except where
    some class is named by a number (folders ``0 .. 11``): there a number is
    always a name, since ``2`` could mean either the folder ``2`` or the
    third folder, ``10``.

    Parameters
    ----------
    tokens : list of str
        The comma-separated tokens of ``--classes``.

    Returns
    -------
    callable
        Receives the class names, returns the chosen ones in token order.

    Examples
    --------
    >>> from skunseen.cli._runs import class_tokens
    >>> class_tokens(["3", "bird"])(["airplane", "automobile", "bird", "cat"])
    ['cat', 'bird']
    >>> folders = sorted(str(k) for k in range(12))  # 0, 1, 10, 11, 2, ...
    >>> class_tokens(["2", "10"])(folders)
    ['2', '10']
    """
    def resolve(names):
        numbered = any(_is_number(name) for name in names)
        chosen = []
        for token in tokens:
            if token in names:
                chosen.append(token)
            elif _is_number(token) and not numbered and int(token) < len(names):
                chosen.append(names[int(token)])
            elif _is_number(token) and not numbered:
                raise ValueError(f"--classes {token}: there are {len(names)} classes, so "
                                 f"positions run from 0 to {len(names) - 1}")
            else:
                numbers = (" (where classes are named by numbers, a number is a name, not a "
                           "position)" if numbered and _is_number(token) else "")
                shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)"
                                                 if len(names) > 12 else "")
                raise ValueError(f"--classes {token}: no class has this name{numbers}; the "
                                 f"classes are {shown}")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"--classes {','.join(tokens)} names a class twice "
                             f"({', '.join(chosen)})")
        return chosen

    return resolve


def memory_of(args):
    """The store of the scoring models: ``--memory``, by default ``--out/checkpoints``."""
    return args.memory if args.memory is not None else args.out / "checkpoints"


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
                   classes=None if args.classes is None else class_tokens(args.classes),
                   pool_seed=args.pool_seed)
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
        "data": None if args.data is None else str(args.data.expanduser().resolve()),
        "limit": args.limit,
        "classes": args.classes,
        "class_names": data.classes,
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
    from skunseen.nets import EpochProgress
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
                  n_jobs=args.jobs, memory=memory_of(args), verbose=args.verbose)
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


#: What a cell that a spreadsheet would run as a formula starts with (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The ``format`` of a coreset's record, checked by ``evaluate --coreset``.
CORESET_FORMAT = "skunseen coreset 1"


def spreadsheet_text(cell):
    """A text cell that spreadsheets show as text: one that starts like a formula
    gets a leading apostrophe (numbers are not text and stay as they are).

    Examples
    --------
    >>> from skunseen.cli._runs import spreadsheet_text
    >>> spreadsheet_text("=HYPERLINK(1)"), spreadsheet_text("cat"), spreadsheet_text(-3)
    ("'=HYPERLINK(1)", 'cat', -3)
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def rows_digest(rows):
    """SHA-256 of coreset rows as little-endian int64, as the coreset record keeps it."""
    return hashlib.sha256(np.asarray(rows, dtype="<i8").tobytes()).hexdigest()


def write_coreset(folder, name, rows, data, args):
    """``<name>.npy``, ``<name>.csv`` and ``<name>.json`` in ``folder``.

    ``.npy`` holds the pool rows. The CSV has one line per kept row:
    ``pool_row``, ``source_index`` (the row's index in the data the loader
    read; see :class:`skunseen.datasets.TrainTestData`), ``file`` (archives
    and folders), ``label`` (in the pool) and ``class`` (its name); text
    cells are quoted, and those that start like a spreadsheet formula get a
    leading apostrophe. The ``.json`` record says which pool and run the rows
    belong to and holds their digest; it is written last (and an older one
    removed first), so rows without their record are never left behind.
    """
    rows = np.asarray(rows, dtype=np.int64)
    record = folder / f"{name}.json"
    record.unlink(missing_ok=True)
    array = io.BytesIO()
    np.save(array, rows)
    write_bytes_atomic(folder / f"{name}.npy", array.getvalue())
    y = data.y_train
    columns = {"pool_row": rows.tolist()}
    if data.train_index is not None:
        columns["source_index"] = data.train_index[rows].tolist()
    if data.train_files is not None:
        columns["file"] = [data.train_files[row] for row in rows]
    columns["label"] = y[rows].tolist()
    columns["class"] = [data.classes[label] for label in y[rows]]
    table = io.StringIO(newline="")
    writer = csv.writer(table, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(columns)
    writer.writerows([spreadsheet_text(cell) for cell in line]
                     for line in zip(*columns.values()))
    write_bytes_atomic(folder / f"{name}.csv", table.getvalue().encode("utf-8"))
    write_bytes_atomic(record, json.dumps({
        "format": CORESET_FORMAT,
        "rows": f"{name}.npy",
        "n_rows": int(len(rows)),
        "rows_sha256": rows_digest(rows),
        "pool": describe_pool(args, data),
        "run": {"command": args.command, "id": args.run_id, "coreset": name},
    }, indent=2).encode("utf-8"))


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

    # The coreset's record and report.json move into --out last: a run that
    # fails while writing leaves no coreset that looks complete.
    with staged(args.out, last=("coreset.json", "report.json"),
                outputs=PRUNE_OUTPUTS) as stage:
        write_coreset(stage, "coreset", rows, data, args)
        written = ["coreset.npy", "coreset.csv", "coreset.json"]
        if scores is not None:
            np.save(stage / "scores.npy", scores)
            plot_histograms(
                [{"title": name, "scores": values, "kept": rows if name == method else None,
                  "xlabel": f"{args.scorer} importance"} for name, values in histograms.items()],
                stage / "scores.png")
            written += ["scores.npy", "scores.png"]
        report = {
            "command": "prune",
            "run_id": args.run_id,
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
        (stage / "report.json").write_text(json.dumps(report, indent=2))
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
    from skunseen import nets

    X, y, X_test, _ = data
    net = make_model(args, X, len(data.classes), seed=seed, progress_desc=progress_desc)
    start = time.perf_counter()
    nets.fit_model(net, X, y, rows=rows)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = net.predict_proba(nets.model_input(net, X_test)).argmax(axis=1)
    return net, predicted, {"train": train_seconds, "test": time.perf_counter() - start}


def run_evaluate(args):
    from skunseen._data import n_rows

    start = time.perf_counter()
    X, y, X_test, y_test = data = load_pool(args)
    if len(y_test) == 0:
        raise ValueError("the test split is empty; raise --test-limit")
    rows, coreset = read_coreset(args.coreset, args, data)
    load_seconds = time.perf_counter() - start

    net, predicted, seconds = train_and_test(
        args, data, rows, args.seed, progress_desc="epochs" if args.verbose else None)
    accuracy = float(np.mean(predicted == y_test))
    result = {
        "command": "evaluate",
        "run_id": args.run_id,
        "coreset": coreset,
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
    with staged(args.out, last=("eval.json",)) as stage:
        (stage / "eval.json").write_text(json.dumps(result, indent=2))
    print(f"test accuracy {100 * accuracy:.2f}% of {result['model']} trained on {len(rows)} "
          f"of {result['n_pool']} samples ({result['epochs']} epochs, seed {args.seed}) in "
          f"{seconds['train']:.1f} s; wrote {args.out / 'eval.json'}")
    return 0


def run_report(args):
    from ._report import write_report

    out = args.out.expanduser().resolve()
    if any(run.expanduser().resolve() == out for run in args.runs):
        raise ValueError(f"--out {args.out} is one of the runs; write the report into "
                         "another folder, so that it does not replace the run's own files")
    with staged(args.out, last=("report.html", "report.md")) as stage:
        paths = write_report(args.runs, stage)
    print(f"wrote {', '.join(str(args.out / path.name) for path in paths.values())}")
    return 0


#: The files of ``skunseen compare``'s report, written once every training is done.


def forget_report(out):
    """Remove an earlier compare report from ``out``: it does not describe the
    coresets this run writes there, and must not look like this run's."""
    for name in COMPARE_REPORT:
        (out / name).unlink(missing_ok=True)


def read_coreset(path, args, data):
    """Coreset rows from ``path`` (all rows when None), checked as a file and against the pool.

    The file must be a ``.npy`` array of distinct row indices of this pool,
    with the record ``skunseen prune`` (or ``compare``) wrote beside it
    (``coreset.json`` for ``coreset.npy``): the rows' digest must match, and
    the pool it names must be this one (see :func:`_check_pool`).

    Returns
    -------
    rows : ndarray of int64
    coreset : dict or None
        Where the rows come from, for ``eval.json``: the file's absolute
        path, the id of the run that wrote it and the rows' digest.
    """
    if path is None:
        return np.arange(len(data.y_train)), None
    rows = _coreset_rows(path)
    record = _coreset_record(path, rows)
    _check_pool(path, record["pool"], describe_pool(args, data))
    n_pool = len(data.y_train)
    if rows.min() < 0 or rows.max() >= n_pool:
        raise ValueError(f"--coreset {path} has rows outside the pool of {n_pool} samples "
                         f"(from {rows.min()} to {rows.max()})")
    return rows, {"path": str(path.expanduser().resolve()), "run_id": record["run"]["id"],
                  "rows_sha256": record["rows_sha256"]}


def _coreset_rows(path):
    """The rows of a ``.npy`` coreset file, checked for what a coreset is."""
    expected = "a .npy file of row indices written by `skunseen prune` (coreset.npy)"
    with open(path, "rb") as file:
        magic = file.read(6)
    if path.suffix != ".npy" or magic != b"\x93NUMPY":
        kind = {b"PK\x03\x04": "an .npz or other zip archive"}.get(magic[:4], "not a .npy file")
        raise ValueError(f"--coreset {path} is {kind}; it must be {expected}")
    try:
        rows = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        problem = ("holds Python objects" if "allow_pickle" in str(exc)
                   else f"is damaged ({exc})")
        raise ValueError(f"--coreset {path} {problem}; it must be {expected}") from None
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"--coreset {path} must hold a 1-D array of integer row indices, "
                         f"got {rows.dtype} of shape {rows.shape}")
    if len(rows) == 0:
        raise ValueError(f"--coreset {path} holds no rows")
    unique, counts = np.unique(rows, return_counts=True)
    if len(unique) != len(rows):
        raise ValueError(f"--coreset {path} lists rows more than once, e.g. "
                         f"{unique[counts > 1][:5].tolist()}")
    return rows.astype(np.int64)


def _coreset_record(path, rows):
    """The record written beside a coreset, checked to describe these rows."""
    record_path = path.with_suffix(".json")
    if not record_path.is_file():
        raise ValueError(
            f"--coreset {path} has no {record_path.name} beside it, the record of the pool and "
            "run it belongs to; pass the coreset.npy of a finished `skunseen prune` run (or "
            "a coreset under coresets/ of `skunseen compare`)")
    try:
        record = json.loads(record_path.read_text())
        if record.get("format") != CORESET_FORMAT:
            raise ValueError(f"its format is {record.get('format')!r}, not {CORESET_FORMAT!r}")
        if not isinstance(record.get("pool"), dict) or "id" not in record.get("run", {}):
            raise ValueError("it names no pool or no run")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"--coreset {path}: its record {record_path} is damaged or was not "
                         f"written by skunseen ({exc})") from None
    if record.get("rows_sha256") != rows_digest(rows):
        raise ValueError(f"--coreset {path} does not hold the rows its record {record_path.name} "
                         "describes: the file was changed or replaced after the run wrote it")
    return record


#: The data options that choose the pool, and how ``--help`` names them.
_POOL_OPTIONS = {"dataset": "--dataset", "data": "--data", "limit": "--limit",
                 "classes": "--classes", "pool_seed": "--pool-seed"}


def _check_pool(path, there, here):
    """Refuse a coreset of another pool, naming the options that differ.

    The pool is what was drawn: its size, class names, labels and rows. Data
    options that draw the same pool (the same data at another path, a class
    given by position rather than name, a ``--pool-seed`` without ``--limit``)
    are the same pool.
    """
    identity = ("n_samples", "class_names", "labels_hash", "rows_hash")
    if all(there.get(key) == here[key] for key in identity):
        return

    def shown(key, pool):
        value = pool.get(key)
        if value is None:
            return "(not given)"
        return ",".join(map(str, value)) if key == "classes" else str(value)

    differ = [key for key in _POOL_OPTIONS if shown(key, there) != shown(key, here)]
    if differ:
        what = "; ".join(f"{_POOL_OPTIONS[key]} {shown(key, there)} there, "
                         f"{shown(key, here)} here" for key in differ)
    else:
        what = ("the data options are the same, but the data at --data changed since (other "
                "images, labels or files)")
    raise ValueError(f"--coreset {path} belongs to another pool ({there.get('n_samples')} "
                     f"samples; this one has {here['n_samples']}): {what}; evaluate with the "
                     "data options of the run that wrote it")


def report_parameters(args):
    """The parsed options as a report records them: paths as strings, and only
    the options that act in this run (see :func:`idle_options`)."""
    idle = idle_options(args)
    return {key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in ("run", "run_id", "given") and key not in idle}


def idle_options(args):
    """The options that do nothing in this run, each with the reason.

    Returns
    -------
    dict of str to str
        Option destinations (``"steps"``) and why they do nothing
        (``"with --method unseen (multistep only)"``).
    """
    idle = {}
    if getattr(args, "dataset", None) == "digits":
        idle.update(dict.fromkeys(("cache_dir", "image_size"),
                                  "with --dataset digits (8x8 arrays, no image files)"))
    if args.command == "prune":
        idle["test_limit"] = "with prune, which reads no test split"
        if args.selector == "random":
            idle.update(dict.fromkeys(
                ("method", "scorer", "folds", "repeats", "steps", "replace", "epochs", "jobs",
                 "memory", "compare", "model", "device", "threads", "workers"),
                "with --selector random, which trains no scoring model"))
        else:
            if args.method != "multistep":
                idle.update(dict.fromkeys(("steps", "replace"),
                                          f"with --method {args.method} (multistep only)"))
            if args.method == "fitting":
                idle["folds"] = "with --method fitting, which has no folds"
                idle["compare"] = ("with --method fitting, the baseline that --compare adds to "
                                   "unseen and multistep")
    elif args.command == "compare":
        if "unseen" not in args.methods:
            idle["folds"] = "without unseen in --methods"
        if not {"unseen", "fitting"} & set(args.methods):
            idle.update(dict.fromkeys(
                ("scorer", "selectors", "score_epochs", "jobs", "memory"),
                "without unseen or fitting in --methods (no method scores the pool)"))
        if args.methods == ["full"]:
            idle["keeps"] = "with --methods full, which trains on the whole pool"
    return idle


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
