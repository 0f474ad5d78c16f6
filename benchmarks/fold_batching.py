"""Fold batching through the pruner: the same UNSEEN round sequentially vs batched.

Every row fits ``UnseenPruner`` (K = 5, the ``forgetting`` scorer so that the
held-out rows are recorded every epoch) twice per round, once with
``fold_batching=False`` and once with ``fold_batching=True``: same net, data,
epochs, batch size and seeds. Variants alternate within a round and rounds
rotate the order. The table gives the wall-time ratio batched / sequential
(median and min-max over rounds; below 1 means batching is faster) and the
mean held-out accuracy of the fold models of both variants over the rounds,
each round with its own ``random_state``.

Rows (``--rows``):

``digits-mlp``
    the README's main job: the default MLP on scikit-learn's 1,797 digits;
``digits-cnn``
    SmallCNN on the digits as 1x8x8 images;
``cifar-mlp``
    the default MLP on 10,000 CIFAR-10 images flattened to 3,072 features;
``cifar-cnn``
    SmallCNN on a 10,000-image CIFAR-10 pool;
``cifar-fastcifar``
    FastCifarNet (``--fast-width``) on the same pool;
``full-fastcifar``
    (CUDA) UNSEEN on all 50,000 CIFAR-10 images with the fast net, batched
    and sequential, and FittingPruner's wall time on the same device: the
    target is UNSEEN within 1.5x of fitting.

``--memory`` also runs each variant of each row once in a fresh process and
reports the peak resident memory (``VmHWM``) of both.

With ``--budget-s`` a row starts only while the time left exceeds what the
previous row took (give the rows cheapest first), and a fit only when the
row's slowest fit so far (for FittingPruner: half the sequential UNSEEN fit)
fits in the time left; what is skipped is named. The table is rewritten to
``--out`` after every fit, so a run stopped at a time limit keeps what it
measured.

    python benchmarks/fold_batching.py                      # CPU rows, ~10 min on 2 CPUs
    python benchmarks/fold_batching.py --device cuda --rows cifar-cnn cifar-fastcifar full-fastcifar
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    Budget,
    machine_description,
    markdown_table,
    set_threads,
    write_partial,
)

from skunseen import FittingPruner, UnseenPruner  # noqa: E402
from skunseen.models import make_net  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
ROWS = ("digits-mlp", "digits-cnn", "cifar-mlp", "cifar-cnn", "cifar-fastcifar",
        "full-fastcifar")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS[:4]), choices=ROWS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--digits-epochs", type=int, default=20, help="make_net's MLP default")
    parser.add_argument("--cifar-epochs", type=int, default=2)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--fast-width", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start no row or fit expected to end later than this (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file rewritten with the table after every fit")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round, 1 thread")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.pool, args.digits_epochs, args.cifar_epochs = 1, 400, 2, 1
        args.threads = 1
    return args


def load_row(args, row):
    """``(X, y, net factory)`` of a row."""
    if row.startswith("digits"):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16).astype(np.float32)
        model, epochs = row.split("-")[1], args.digits_epochs
        if model == "cnn":
            X = X.reshape(-1, 1, 8, 8)
    else:
        from skunseen.datasets import load_image_archive

        limit = None if row.startswith("full") else args.pool
        X, y, _, _ = load_image_archive(args.data, limit=limit, test_limit=0)
        model, epochs = row.split("-")[1], args.cifar_epochs
        if model == "mlp":
            X = (X.reshape(len(X), -1) / 255).astype(np.float32)

    def net():
        params = {"module__width": args.fast_width} if model == "fastcifar" and not \
            row.startswith("full") else {}
        return make_net(model, input_shape=X.shape[1:], n_classes=10, device=args.device,
                        max_epochs=epochs, **params)

    return X, y, net


def fit(pruner_cls, net, X, y, seed, **params):
    if _on_cuda(net):
        torch.cuda.synchronize()
    start = time.perf_counter()
    pruner = pruner_cls(net, scorer="forgetting", random_state=seed, **params).fit(X, y)
    if _on_cuda(net):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    proba = getattr(pruner, "oof_proba_", None)
    accuracy = None if proba is None else float((proba.argmax(1) == y).mean())
    return seconds, accuracy


def _on_cuda(net):
    return torch.device(net.device).type == "cuda"


def measure(args, row, budget=None, progress=lambda result: None):
    """One row's fits; ``progress(result)`` after each (the result so far)."""
    budget = budget or Budget()
    X, y, net = load_row(args, row)
    variants = {"sequential": False, "batched": True}
    seconds = {name: [] for name in variants}
    accuracy = {name: [] for name in variants}
    result = {"row": row, "n": len(y), "seconds": seconds, "accuracy": accuracy,
              "ratios": [], "skipped": []}
    every = max(1, len(y) // 200)
    fit(UnseenPruner, net(), X[::every], y[::every], 0, cv=2, fold_batching=True)  # warm-up
    names = list(variants)

    def allowed(what, estimate):
        if budget.allows(estimate):
            return True
        result["skipped"].append(what)
        print(f"  {row} {what}: skipped, about {estimate:.0f} s expected, "
              f"{max(budget.left(), 0):.0f} s left", flush=True)
        return False

    for r in range(args.rounds):
        for name in names[r % 2:] + names[:r % 2]:
            if not allowed(f"round {r + 1} {name}", max(seconds["sequential"]
                                                       + seconds["batched"], default=0.0)):
                continue
            s, a = fit(UnseenPruner, net(), X, y, r, cv=args.folds,
                       fold_batching=variants[name])
            seconds[name].append(s)
            accuracy[name].append(a)
            pairs = min(len(seconds["sequential"]), len(seconds["batched"]))
            result["ratios"] = (np.asarray(seconds["batched"][:pairs])
                                / np.asarray(seconds["sequential"][:pairs])).tolist()
            print(f"  {row} round {r + 1}/{args.rounds} {name}: {s:.2f} s, held-out "
                  f"accuracy {a:.4f}", flush=True)
            progress(result)
    if row.startswith("full"):
        result["fitting_seconds"] = []
        for r in range(args.rounds):
            if allowed(f"round {r + 1} FittingPruner",
                       0.5 * max(seconds["sequential"], default=0.0)):
                result["fitting_seconds"].append(fit(FittingPruner, net(), X, y, r)[0])
                progress(result)
    return result


def peak_memory(args, row, batched):
    """Peak RSS (MB) of one fit of a variant in a fresh process.

    ``VmHWM`` of the process's own memory map: ``ru_maxrss`` would also count
    the parent's memory at fork time (Linux keeps the maximum across exec).
    """
    code = (
        "import sys; sys.argv = ['x']; "
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        "import fold_batching as fb; "
        f"a = fb.parse_args({['--device', args.device, '--pool', str(args.pool), '--cifar-epochs', str(args.cifar_epochs), '--digits-epochs', str(args.digits_epochs)]!r}); "
        f"X, y, net = fb.load_row(a, {row!r}); "
        f"fb.fit(fb.UnseenPruner, net(), X, y, 0, cv={args.folds}, fold_batching={batched}); "
        "print([int(line.split()[1]) / 1024 for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:')][0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _median(values, fmt="{:.2f}"):
    return fmt.format(statistics.median(values)) if values else "not run"


def report(args, results, card, seconds):
    table = []
    for r in results:
        ratios = np.asarray(r["ratios"])
        acc = r["accuracy"]
        cells = [r["row"], card, r["n"], _median(r["seconds"]["sequential"]),
                 _median(r["seconds"]["batched"]),
                 f"**{np.median(ratios):.2f}** ({ratios.min():.2f}–{ratios.max():.2f})"
                 if len(ratios) else "",
                 f"{np.mean(acc['sequential']):.4f}" if acc["sequential"] else "",
                 f"{np.mean(acc['batched']):.4f}" if acc["batched"] else ""]
        extra = []
        if r.get("fitting_seconds") and r["seconds"]["batched"] and r["seconds"]["sequential"]:
            fitting = statistics.median(r["fitting_seconds"])
            extra.append(f"UNSEEN batched / fitting: "
                         f"{statistics.median(r['seconds']['batched']) / fitting:.2f}x; "
                         f"sequential / fitting: "
                         f"{statistics.median(r['seconds']['sequential']) / fitting:.2f}x")
        if "peak_mb" in r:
            peak = r["peak_mb"]
            extra.append(f"peak RSS {peak['sequential']:.0f} MB sequential, "
                         f"{peak['batched']:.0f} MB batched "
                         f"({peak['batched'] / peak['sequential']:.2f}x)")
        if r.get("skipped"):
            extra.append("skipped by the budget: " + ", ".join(r["skipped"]))
        table.append(cells + ["; ".join(extra)])
    lines = [
        machine_description(),
        f"- K = {args.folds} folds, scorer forgetting (held-out rows recorded every epoch); "
        f"{args.rounds} rounds; epochs: digits {args.digits_epochs}, CIFAR "
        f"{args.cifar_epochs}; torch threads {args.threads}; total {seconds:.0f} s",
        *(f"- {row}: not run, too little of the budget left" for row in args.rows
          if row not in {r["row"] for r in results}),
        "",
        markdown_table(
            ["row", "device", "rows", "sequential s (median)", "batched s (median)",
             "batched / sequential (min–max)", "held-out acc. sequential",
             "held-out acc. batched", "notes"], table,
            align=["---", "---"] + ["---:"] * 6 + ["---"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    budget = Budget(args.budget_s)
    set_threads(args.threads)
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    results = []
    last_row = 0.0

    def progress(result):
        write_partial(args.out, report(args, [*results, result], card, budget.elapsed()))

    for row in args.rows:
        if not budget.allows(last_row):
            print(f"{row}: not run, the previous row took {last_row:.0f} s and "
                  f"{max(budget.left(), 0):.0f} s of the budget were left", flush=True)
            continue
        began = time.perf_counter()
        result = measure(args, row, budget, progress)
        if args.memory:
            result["peak_mb"] = {name: peak_memory(args, row, batched)
                                 for name, batched in (("sequential", False), ("batched", True))}
        results.append(result)
        last_row = time.perf_counter() - began
    text = report(args, results, card, budget.elapsed())
    write_partial(args.out, text)
    print()
    print(text)
    out = ROOT / ".cache" / "fold_batching.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
