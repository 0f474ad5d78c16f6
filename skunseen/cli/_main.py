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
load on first use), so ``--help`` and mistakes answer at once, and an option
that would do nothing in the run is refused rather than recorded; every
failure is one line ``skunseen <command>: error: ...`` with exit status 2,
and nothing is written under ``--out`` before the arguments are known to be
good. Results move into ``--out`` only once all of them are written (see
``_output``), so a run that fails, or is interrupted (exit status 130),
leaves none that look finished. Every coreset carries a record of the pool
and run it belongs to, which ``evaluate`` checks.
"""

import argparse
import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

from .._names import MODELS, SCORERS, SELECTORS, __version__
from ._compare import run_compare
from ._output import interrupts_remembered
from ._runs import (
    COMPARE_METHODS,
    COMPARE_REPORT,
    DATASETS,
    PRUNE_OUTPUTS,
    PRUNERS,
    check_data_source,
    idle_options,
    memory_of,
    run_evaluate,
    run_prune,
    run_report,
)

_WIDTH = 79


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors; sub-command parsers inherit it."""

    def error(self, message):
        print_error(self.prog, f"{message} (see {self.prog} --help)")
        sys.exit(2)


class _Given(argparse.Action):
    """Stores a flag's value, like argparse's default action, and notes the flag
    as given, so that a flag that would do nothing in this run is refused
    (see :func:`idle_options`) rather than recorded as if it had acted."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = {**getattr(namespace, "given", {}), self.dest: self.option_strings[-1]}


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
    prune.add_argument("--method", action=_Given, default="unseen", choices=sorted(PRUNERS),
                       help="unseen (out-of-fold scores; default), multistep (evaluate and "
                            "refill) or fitting (the baseline)")
    prune.add_argument("--scorer", action=_Given, default="el2n", choices=SCORERS,
                       metavar="SCORER",
                       help="importance score, listed below (default el2n)")
    prune.add_argument("--selector", default="ccs", choices=SELECTORS, metavar="SELECTOR",
                       help="selection rule, listed below (default ccs)")
    prune.add_argument("--folds", action=_Given, type=_at_least(2), default=5,
                       help="number of folds K of unseen and multistep (default 5)")
    prune.add_argument("--repeats", action=_Given, type=_at_least(1), default=1,
                       help="fold redraws whose scores are averaged (default 1); fitting: "
                            "models trained with different seeds")
    prune.add_argument("--steps", action=_Given, type=_at_least(1), default=3,
                       help="multistep only: number of evaluate-and-refill steps (default 3)")
    prune.add_argument("--replace", action=_Given, type=_replace, default=0.0,
                       help="multistep only: fraction in [0, 1) of the coreset swapped at "
                            "each step (default 0)")
    prune.add_argument("--epochs", action=_Given, type=_at_least(1), default=None,
                       help="training epochs of each scoring net (default: the model's)")
    prune.add_argument("--seed", type=_seed, default=0,
                       help="seed of the folds, scoring nets and selection (default 0)")
    _jobs_option(prune)
    _memory_option(prune)
    prune.add_argument("--compare", action="store_true",
                       help="also score with the fitting baseline and plot both histograms "
                            "(unseen and multistep)")
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
    evaluate.add_argument("--seed", type=_seed, default=0,
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
            "under coresets/ (.npy and .csv). Finished scoring models are kept under "
            "--memory (default --out/checkpoints), so a rerun resumes."),
        epilog=_names_epilog("--selectors"),
    )
    compare.add_argument("--keeps", action=_Given, type=_list_of(_keep, "--keeps"),
                         default=[0.1, 0.3, 0.5, 0.7],
                         help="comma-separated fractions (or counts) to keep "
                              "(default 0.1,0.3,0.5,0.7)")
    compare.add_argument("--methods", type=_names_of(COMPARE_METHODS, "--methods"),
                         default=list(COMPARE_METHODS),
                         help="comma-separated subset of unseen, fitting, random and full "
                              "(default: all four)")
    compare.add_argument("--scorer", action=_Given, default="el2n", choices=SCORERS,
                         metavar="SCORER",
                         help="importance score of unseen and fitting, listed below "
                              "(default el2n)")
    compare.add_argument("--selectors", action=_Given, type=_names_of(SELECTORS, "--selectors"),
                         default=["ccs"],
                         help="comma-separated selection rules of unseen and fitting, "
                              "listed below (default ccs)")
    compare.add_argument("--folds", action=_Given, type=_at_least(2), default=5,
                         help="number of folds K of unseen (default 5)")
    compare.add_argument("--seeds", type=_at_least(1), default=5,
                         help="repetitions with seeds 0 .. N-1 of scoring, selection and "
                              "training (default 5)")
    compare.add_argument("--epochs", type=_at_least(1), default=None,
                         help="training epochs of every net (default: the model's)")
    compare.add_argument("--score-epochs", action=_Given, type=_at_least(1), default=None,
                         help="training epochs of the scoring nets (default: --epochs)")
    _jobs_option(compare)
    _memory_option(compare)
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
    group.add_argument("--cache-dir", action=_Given, type=Path, default=None,
                       help="keep images decoded from an archive here as .npy files, so "
                            "that the next run skips decoding (default: no cache)")
    group.add_argument("--limit", type=_size, default=None,
                       help="stratified pool of N training samples, or a fraction "
                            "(default: the whole training split)")
    group.add_argument("--test-limit", action=_Given, type=_size, default=None,
                       help="stratified subset of N test samples, or a fraction (evaluate, "
                            "compare; default: the whole test split)")
    group.add_argument("--classes", type=_classes, default=None,
                       help="comma-separated class names or positions, e.g. cat,dog or "
                            "0,3,5, relabelled in the given order (default: all). A token "
                            "that is the name of a class means that class; a number that "
                            "names no class is a position in the sorted class names (0: the "
                            "first), except where some class is named by a number: there "
                            "every token must be a name")
    group.add_argument("--pool-seed", type=int, default=0,
                       help="seed of the --limit subsets, independent of --seed (default 0)")
    group.add_argument("--image-size", action=_Given, type=_at_least(1), default=None,
                       help="resize images to this size (imagefolder: resize and centre "
                            "crop, default: the first training image's size; archives: "
                            "needed when image sizes differ)")
    group = options.add_argument_group("model")
    group.add_argument("--model", action=_Given, default="auto", choices=("auto", *MODELS),
                       help="auto (default): mlp for digits' 64 features, cnn for images; "
                            + "; ".join(f"{name}: {line}" for name, line in MODELS.items())
                            .replace("%", "%%"))  # argparse %-formats help texts
    group.add_argument("--device", action=_Given, default="auto",
                       help="auto (CUDA when available; default), cpu or cuda[:N]")
    group.add_argument("--threads", action=_Given, type=_at_least(1), default=1,
                       help="CPU threads of every net's torch operations (default 1: the "
                            "small default nets gain little from more, and lose much on "
                            "busy cores; see benchmarks/threads.py)")
    group.add_argument("--workers", action=_Given, type=_at_least(0), default=0,
                       help="DataLoader worker processes for streamed data (default 0)")
    return options


def _jobs_option(parser):
    parser.add_argument("--jobs", action=_Given, type=_jobs, default=None,
                        help="scoring models trained in parallel; -1: one per CPU "
                             "(default: one at a time)")


def _memory_option(parser):
    parser.add_argument("--memory", action=_Given, type=_out, default=None, metavar="DIR",
                        help="folder keeping every finished scoring model, so that a rerun "
                             "(killed, or with another --keep or --selector) trains only what "
                             "is missing (default: --out/checkpoints)")


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


def _seed(text):
    value = _number(text)
    if not float(value).is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return int(value)


def _classes(text):
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if len(tokens) < 2:
        raise argparse.ArgumentTypeError(
            f"needs at least two classes (pruning by difficulty compares classes), got {text!r}")
    if len(set(tokens)) != len(tokens):
        raise argparse.ArgumentTypeError(f"lists a class twice: {text}")
    return tokens

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
    if not text.strip():
        raise argparse.ArgumentTypeError("names no folder")
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


def check_options(args):
    """Refuse the options given that would do nothing in this run.

    Silently ignored, they would still be recorded among the run's
    parameters, and the run would later read as one that used them.
    """
    given = dict(getattr(args, "given", {}))
    if getattr(args, "compare", None) is True:
        given["compare"] = "--compare"
    idle = idle_options(args)
    by_reason = {}
    for dest, flag in given.items():
        if dest in idle:
            by_reason.setdefault(idle[dest], []).append(flag)
    if by_reason:
        raise ValueError("; ".join(
            f"{' and '.join(flags)} {'does' if len(flags) == 1 else 'do'} nothing {reason}"
            for reason, flags in by_reason.items()))


#: The files each command writes into --out (compare also writes coresets/ and scores/).
_OUTPUT_FILES = {
    "prune": PRUNE_OUTPUTS,
    "evaluate": ("eval.json",),
    "report": ("report.md", "report.html", "scores.png"),
    "compare": COMPARE_REPORT,
}


def check_out(args):
    """Refuse an --out where a folder stands in the place of a file the command
    writes (or a file in the place of compare's folders), before any model
    trains rather than once the results are ready."""
    folders = ("coresets", "scores") if args.command == "compare" else ()
    if args.command in ("prune", "compare") and getattr(args, "memory", None) is None:
        folders += ("checkpoints",)
    for name in (*_OUTPUT_FILES[args.command], *folders):
        path = args.out / name
        wrong = path.is_file() if name in folders else path.is_dir()
        if wrong:
            kind, wanted = ("file", "folder") if name in folders else ("folder", "file")
            raise ValueError(f"--out {args.out} holds a {kind} named {name}, where "
                             f"{args.command} writes its {wanted} {name}; move it away or "
                             "choose another --out")


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run_id = uuid.uuid4().hex
    try:
        check_options(args)
        check_out(args)
        check_data_source(args)
        with interrupts_remembered():
            return args.run(args)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        print_error(f"skunseen {args.command}", error)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"skunseen {args.command}: interrupted; {interrupted_run(args)}\n")
        return 130


def interrupted_run(args):
    """What an interrupted run left in ``--out``, in words.

    Results move into ``--out`` only once all are written (compare's report
    likewise), so an interrupted run leaves none that look finished; the
    scoring models finished before the interrupt stay in the store, for a
    rerun to resume from.
    """
    marker = {"prune": "report.json", "evaluate": "eval.json",
              "compare": "report.json"}.get(args.command)
    if marker is not None and (args.out / marker).is_file():
        try:
            finished = json.loads((args.out / marker).read_text()).get("run_id") == args.run_id
        except (OSError, ValueError, AttributeError):
            finished = False
        if finished:
            return f"its results had been written to {args.out} already"
    left = ("its report was not written" if args.command == "compare"
            else f"nothing was written to {args.out}")
    store = memory_of(args) if args.command in ("prune", "compare") else None
    if store is not None and any(store.glob("*.npz")):
        left += (f"; the scoring models that finished are kept in {store}, and a rerun "
                 "resumes from them")
    return left
