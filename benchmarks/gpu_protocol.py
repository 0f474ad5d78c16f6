"""Does UNSEEN beat fitting-based and random pruning on CIFAR-10? One GPU process.

The protocol (every number is an option; ``--cpu`` and ``--smoke`` are presets):

* data: the CIFAR-10 JPEG archive (``--data``) decoded to uint8: 50,000
  training and 10,000 test images (``--pool`` and ``--test-limit`` draw
  stratified subsets);
* model: the fast CIFAR net everywhere (:class:`skunseen.models.FastCifarNet`
  through ``make_net("fastcifar")``, width ``--width``);
* reference: the recipe (``--eval-epochs``, default 10) on all training
  rows after a short warm-up fit: seconds per full training and test accuracy
  without and with test-time augmentation (levels 0, 1, 2);
* scoring, once (seed 0): UNSEEN with K = ``--folds`` folds and the fitting
  baseline on all rows, both with ``--score-epochs`` epochs (longer than the
  recipe, so that the fitting model memorises its rows) and no test-time
  augmentation, so scores come from the plain outputs. Every model records
  the rows it scores at every epoch, so ``el2n`` (at the final epoch),
  ``forgetting`` and ``aum`` all come from the same models (read back from a
  ``memory``). Printed: the fitting model's accuracy on its own
  training rows, the fold models' held-out accuracy (the memorisation gap),
  the score spread of every (method, scorer), and the wall time per phase;
* multi-step UNSEEN: ``--steps`` linear steps per (scorer, selector, keep),
  its out-of-fold first step shared with single-step UNSEEN;
* coresets: every (method, scorer, selector) in ``--keeps``; single-step
  coresets are drawn from the scores with :func:`skunseen.selection.select`
  exactly as the pruners would (selection seed 0); random coresets are drawn
  per seed;
* evaluation: a fresh fast net with the recipe on every coreset, for every
  seed in ``--seeds`` (mean ± std). **Epochs are held fixed across keep
  ratios** (the recipe's 10), so a keep-k coreset gets k times the optimizer
  steps of full data: the comparison is made at the training cost that
  pruning is meant to save, which is how users train on a coreset.

Runs go in priority order: the first scorer and selector for every method,
keep and seed first, then the full-data seeds, then the other (scorer,
selector) pairs. At the first run that would end after ``--budget-s`` seconds
the evaluation stops and the rest is listed as skipped, so the script ends in
time on any card and what ran is a prefix of the priority order. Every piece
of work is counted against the budget before it starts: the reference
training (estimated from the warm-up fit's second epoch), the scoring (fewer
epochs when they would take more than half the time left), each evaluation
run (its share of a full training plus the test pass) and, for multi-step
UNSEEN, the refill steps that build its coreset (estimated from the
measured speed, then from the multi-step fits already done).
The markdown table and json are rewritten after every run (``--out``), so
even a killed run leaves its results.

    python benchmarks/gpu_protocol.py --out runs/gpu_protocol     # GPU (about 8 min)
    python benchmarks/gpu_protocol.py --cpu --out runs/cpu_protocol   # 2 CPUs, <= 45 min
    python benchmarks/gpu_protocol.py --smoke --out /tmp/smoke    # < 1 min, checks the table
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    machine_description,
    markdown_table,
)

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner  # noqa: E402
from skunseen.cli._report import summarize  # noqa: E402
from skunseen.datasets import load_image_archive  # noqa: E402
from skunseen.models import ArrayIndexView, make_net  # noqa: E402
from skunseen.selection import select  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
METHODS = ("unseen", "multistep", "fitting", "random")
PRESETS = {
    # tiny and single-threaded: the test suite runs it on a loaded 2-CPU machine
    "smoke": dict(device="cpu", pool=200, test_limit=100, width=0.125, folds=3, score_epochs=2,
                  eval_epochs=1, keeps=[0.5], seeds=[0], batch_size=128, test_tta=1,
                  budget_s=150.0, threads=1, cache_dir=None),
    "cpu": dict(device="cpu", pool=10_000, width=0.25, score_epochs=15,
                keeps=[0.7, 0.5, 0.3, 0.1], budget_s=45 * 60.0, threads=2),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache",
                        help="where decoded arrays are kept between runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_protocol")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pool", type=int, default=None, help="training images (default all)")
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--width", type=float, default=1.0, help="FastCifarNet width multiplier")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: the recipe's 1024")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--score-epochs", type=int, default=30)
    parser.add_argument("--eval-epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2, help="multi-step UNSEEN steps")
    parser.add_argument("--keeps", type=float, nargs="+", default=[0.9, 0.7, 0.5, 0.3, 0.2, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scorers", nargs="+", default=["el2n", "forgetting", "aum"])
    parser.add_argument("--selectors", nargs="+", default=["ccs", "hard"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="start no run that would end later than this (seconds)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--test-tta", type=int, default=2, choices=(0, 1, 2),
                        help="test-time augmentation level of the evaluation runs")
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--cpu", action="store_true",
                        help="the CPU-sized protocol: 10,000-image pool, width 0.25, 45 min")
    preset.add_argument("--smoke", action="store_true",
                        help="tiny pool on the CPU in well under a minute; checks the "
                             "table's shape")
    args = parser.parse_args(argv)
    if args.smoke or args.cpu:
        # a preset changes the defaults; options given explicitly still win
        parser.set_defaults(**PRESETS["smoke" if args.smoke else "cpu"])
        args = parser.parse_args(argv)
    return args


class Protocol:
    """State of one protocol run: data, scores, coresets, results, clock."""

    def __init__(self, args):
        self.args = args
        self.device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
            "cpu" if args.device == "auto" else args.device)
        self.card = (torch.cuda.get_device_name(torch.device(self.device))
                     if self.device.startswith("cuda") else "CPU")
        self.start = time.perf_counter()
        self.seconds = {}
        self.reference = {}
        self.scoring_accuracy = {}
        self.scores = {}
        self.coresets = {}
        self.accuracy = {}
        self.skipped = []
        self.notes = []
        self.full_seconds = None
        self.test_seconds = 0.0
        # measured / estimated seconds of the multi-step fits so far
        self.multistep_factor = 1.0

    # ------------------------------------------------------------ helpers
    def elapsed(self):
        return time.perf_counter() - self.start

    def log(self, message):
        print(f"[{self.elapsed():6.0f} s] {message}", flush=True)

    def net(self, *, epochs, seed, tta):
        args = self.args
        params = {} if args.batch_size is None else {"batch_size": args.batch_size}
        return make_net("fastcifar", input_shape=self.X.shape[1:], n_classes=10,
                        device=self.device, max_epochs=epochs, random_state=seed,
                        module__width=args.width, module__tta=tta, **params)

    def timed_fit(self, net, rows):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        net.fit(ArrayIndexView(self.X, self.y, rows), self.y[rows])
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def test_accuracy(self, net):
        return float((net.predict(self.X_test) == self.y_test).mean())

    # ------------------------------------------------------------- phases
    def load(self):
        args = self.args
        start = time.perf_counter()
        self.X, self.y, self.X_test, self.y_test = load_image_archive(
            args.data, cache_dir=args.cache_dir, limit=args.pool, test_limit=args.test_limit,
            pool_seed=0)
        self.seconds["load"] = time.perf_counter() - start
        self.log(f"loaded {len(self.y)} train / {len(self.y_test)} test images on {self.card}")

    def reference_run(self):
        """Warm-up, then the recipe on all rows: seconds and test accuracy per TTA level.

        Returns False, with a note, when the warm-up says that one full training
        would not end within the budget (nothing else could run then either).
        """
        args = self.args
        rows = np.arange(len(self.y))
        warm_rows = rows[: max(len(rows) // 10, 10)]
        warm = self.net(epochs=2, seed=0, tta=0)
        self.timed_fit(warm, warm_rows)
        # the second epoch is past the lazy start-up (cuDNN autotuning, allocator)
        estimate = warm.history[-1, "dur"] * len(rows) / len(warm_rows) * args.eval_epochs
        if self.elapsed() + estimate > args.budget_s:
            self.notes.append(f"stopped before the reference training: about {estimate:.0f} s, "
                              f"more than the {args.budget_s:.0f} s budget allows")
            self.log(self.notes[-1])
            return False
        net = self.net(epochs=args.eval_epochs, seed=0, tta=2)
        self.full_seconds = self.timed_fit(net, rows)
        for level in (0, 1, 2):
            net.module_.tta = level
            start = time.perf_counter()
            self.reference[f"tta{level}"] = self.test_accuracy(net)
            if level == args.test_tta:
                self.test_seconds = time.perf_counter() - start
        self.accuracy.setdefault(("full data", "-", "-", 1.0), []).append(
            self.reference[f"tta{args.test_tta}"])
        self.seconds["reference (one full training)"] = self.full_seconds
        self.log(f"recipe: {self.full_seconds:.2f} s per full training, test accuracy "
                 + ", ".join(f"{k} {100 * v:.2f} %" for k, v in self.reference.items()))
        return True

    def scorer_params(self, scorer):
        # el2n at the final epoch from the per-epoch records, so every scorer
        # reads the same recorded models
        epochs = self.args.score_epochs
        return {"epochs": (epochs - 1, epochs)} if scorer == "el2n" else None

    def pruner_params(self, pruner_cls, scorer, checkpoints):
        # the pruners share their scoring models through one folder
        return dict(scorer=scorer, scorer_params=self.scorer_params(scorer), random_state=0,
                    memory=checkpoints)

    def fit_scoring_to_budget(self):
        """Fewer scoring epochs when the measured speed says they would take more
        than half of the time left (reported with the results); no scoring, and
        random coresets alone, when not even two epochs fit."""
        args = self.args
        per_epoch = self.full_seconds / args.eval_epochs
        # K folds of (K-1)/K of the rows and the fitting model on all, plus the
        # recording passes over the scored rows (about a third of a training pass each)
        cost = per_epoch * (("unseen" in args.methods) * (args.folds - 1 + 1 / 3)
                            + ("fitting" in args.methods) * (1 + 1 / 3))
        if cost == 0:
            return
        affordable = int(0.5 * (args.budget_s - self.elapsed()) / cost)
        if affordable < 2:
            self.notes.append(f"no time to score (one scoring epoch takes about {cost:.0f} "
                              "s): random coresets only")
            args.methods = [m for m in args.methods if m == "random"]
            self.log(self.notes[-1])
        elif affordable < args.score_epochs:
            self.notes.append(f"scoring epochs reduced from {args.score_epochs} to "
                              f"{affordable} to fit the {args.budget_s:.0f} s budget")
            args.score_epochs = affordable
            self.log(self.notes[-1])

    def score(self, checkpoints):
        args = self.args
        for method in ("unseen", "fitting"):
            if method not in args.methods:
                continue
            start = time.perf_counter()
            for scorer in args.scorers:
                net = self.net(epochs=args.score_epochs, seed=0, tta=0)
                if method == "unseen":
                    pruner = UnseenPruner(
                        net, cv=args.folds,
                        **self.pruner_params(UnseenPruner, scorer, checkpoints))
                else:
                    pruner = FittingPruner(
                        net, **self.pruner_params(FittingPruner, scorer, checkpoints))
                self.scores[method, scorer] = pruner.fit(self.X, self.y).scores_
                if scorer == args.scorers[0]:
                    # the later scorers read these models back from the checkpoints
                    self.seconds[f"scoring {method}: training the models"] = (
                        time.perf_counter() - start)
            self.seconds[f"scoring {method}: all scorers"] = time.perf_counter() - start
            proba = pruner.oof_proba_ if method == "unseen" else pruner.train_proba_
            self.scoring_accuracy[method] = float((proba.argmax(axis=1) == self.y).mean())
            self.log(f"scored {method}: {time.perf_counter() - start:.1f} s, accuracy on the "
                     f"rows it scores {100 * self.scoring_accuracy[method]:.2f} %")
        for method, scorer in list(self.scores):
            if method not in args.methods:
                continue
            for selector in args.selectors:
                for keep in args.keeps:
                    self.coresets[method, scorer, selector, keep] = select(
                        self.scores[method, scorer], self.y, int(round(keep * len(self.y))),
                        selector=selector, random_state=0)

    def multistep_estimate(self, keep):
        """Seconds of the multi-step fit for ``keep`` beyond its shared first step.

        Linear steps: step t + 1 trains a model on the coreset of step t
        (``keep * t / steps`` of the rows) for the scoring epochs and records
        the rows outside it at every epoch (a third of a training pass each),
        scaled by what the multi-step fits so far took against this estimate.
        """
        args = self.args
        per_epoch = self.full_seconds / args.eval_epochs
        refills = range(1, args.steps)
        rows = sum(keep * t / args.steps + (1 - keep * t / args.steps) / 3 for t in refills)
        return per_epoch * args.score_epochs * rows * self.multistep_factor

    def multistep_coreset(self, scorer, selector, keep, checkpoints):
        key = ("multistep", scorer, selector, keep)
        if key not in self.coresets:
            args = self.args
            pruner = MultiStepUnseenPruner(
                self.net(epochs=args.score_epochs, seed=0, tta=0), selector=selector, keep=keep,
                cv=args.folds, n_steps=args.steps,
                **self.pruner_params(MultiStepUnseenPruner, scorer, checkpoints))
            estimate = self.multistep_estimate(keep)
            start = time.perf_counter()
            self.coresets[key] = pruner.fit(self.X, self.y).sample_indices_
            seconds = time.perf_counter() - start
            if estimate > 0:
                self.multistep_factor = max(self.multistep_factor,
                                            seconds / estimate * self.multistep_factor)
            name = "multi-step scoring (all fits)"
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        return self.coresets[key]

    def run_estimate(self, method, scorer, selector, keep):
        """Seconds that one evaluation run will take, its coreset's making included."""
        seconds = keep * self.full_seconds + self.test_seconds
        if method == "multistep" and (method, scorer, selector, keep) not in self.coresets:
            seconds += self.multistep_estimate(keep)
        return seconds

    def plan(self):
        """Evaluation runs ``(method, scorer, selector, keep, seed)`` by priority."""
        args = self.args
        pairs = [(scorer, selector) for scorer in args.scorers for selector in args.selectors]
        runs = []
        for seed in args.seeds:
            for keep in args.keeps:
                if "random" in args.methods:
                    runs.append(("random", "-", "random", keep, seed))
                runs += [(m, *pairs[0], keep, seed) for m in args.methods if m != "random"]
        runs += [("full data", "-", "-", 1.0, seed) for seed in args.seeds[1:]]
        for pair in pairs[1:]:
            for seed in args.seeds:
                for keep in args.keeps:
                    runs += [(m, *pair, keep, seed) for m in args.methods if m != "random"]
        return runs

    def evaluate(self, checkpoints, write):
        args = self.args
        plan = self.plan()
        for position, (method, scorer, selector, keep, seed) in enumerate(plan):
            key = (method, scorer, selector, keep)
            if self.elapsed() + self.run_estimate(*key) > args.budget_s:
                # Stop here rather than fit smaller runs further down the plan:
                # what ran is a prefix of the priority order.
                self.skipped = [list(run) for run in plan[position:]]
                break
            if method == "random":
                rows = select(np.zeros(len(self.y)), self.y, int(round(keep * len(self.y))),
                              selector="random", random_state=seed)
            elif method == "multistep":
                rows = self.multistep_coreset(scorer, selector, keep, checkpoints)
            elif method == "full data":
                rows = np.arange(len(self.y))
            else:
                rows = self.coresets[key]
            net = self.net(epochs=args.eval_epochs, seed=seed, tta=args.test_tta)
            seconds = self.timed_fit(net, rows)
            name = "evaluation training (all runs)"
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.accuracy.setdefault(key, []).append(self.test_accuracy(net))
            self.log(f"{method} {scorer} {selector} keep {keep} seed {seed}: "
                     f"{100 * self.accuracy[key][-1]:.2f} % ({seconds:.1f} s)")
            write()

    # ------------------------------------------------------------ reports
    def accuracy_rows(self):
        """``[(method, scorer, selector)]`` rows of the accuracy table, in display order."""
        args = self.args
        rows = [("full data", "-", "-")]
        if "random" in args.methods:
            rows.append(("random", "-", "random"))
        rows += [(m, s, sel) for s in args.scorers for sel in args.selectors
                 for m in args.methods if m != "random"]
        return rows

    def accuracy_table(self):
        args = self.args
        keeps = args.keeps
        best = {}
        for keep in keeps:
            means = {row: np.mean(self.accuracy[(*row, keep)]) for row in self.accuracy_rows()
                     if self.accuracy.get((*row, keep))}
            best[keep] = max(means, key=means.get) if means else None
        table = []
        for row in self.accuracy_rows():
            cells = []
            for keep in ([1.0] if row[0] == "full data" else keeps):
                values = np.asarray(self.accuracy.get((*row, keep), []), dtype=float) * 100
                if not len(values):
                    cells.append("not run")
                    continue
                text = f"{values.mean():.2f} ± {values.std():.2f} (n={len(values)})"
                cells.append(f"**{text}**" if best.get(keep) == row else text)
            if row[0] == "full data":
                cells = [f"{cells[0]} at keep 1.0"] + [""] * (len(keeps) - 1)
            table.append([*row, *cells])
        return markdown_table(["method", "scorer", "selector", *[f"keep {k}" for k in keeps]],
                              table, align=["---"] * 3 + ["---:"] * len(keeps))

    def spread_table(self):
        rows = []
        for scorer in self.args.scorers:
            summaries = {m: summarize(self.scores[m, scorer]) for m in ("unseen", "fitting")
                         if (m, scorer) in self.scores}
            ratio = ""
            if len(summaries) == 2 and summaries["fitting"]["std"] > 0:
                ratio = f"{summaries['unseen']['std'] / summaries['fitting']['std']:.2f}"
            for method, summary in summaries.items():
                rows.append([scorer, method, f"{summary['std']:.4f}",
                             f"{summary['fraction_within_1pct_of_min']:.3f}", ratio])
        return markdown_table(["scorer", "method", "std", "fraction within 1 % of min",
                               "std ratio unseen / fitting"], rows)

    def report(self):
        args = self.args
        reference = ", ".join(f"{k} {100 * v:.2f} %" for k, v in self.reference.items())
        skipped = (f"{len(self.skipped)} runs skipped by the {args.budget_s:.0f} s budget"
                   if self.skipped else "no run skipped")
        parts = [
            machine_description(),
            f"Card: **{self.card}**. Pool {len(self.y)} train / {len(self.y_test)} test images; "
            f"FastCifarNet width {args.width}; scoring {args.score_epochs} epochs (K = "
            f"{args.folds}, no TTA); evaluation {args.eval_epochs} epochs held fixed across "
            f"keep ratios, TTA level {args.test_tta}; multi-step {args.steps} linear steps; "
            "coresets selected "
            f"with seed 0 (random: per seed); seeds {args.seeds}; {skipped}"
            + "".join(f"; {note}" for note in self.notes) + ".",
            f"Recipe on all rows: {self.full_seconds or float('nan'):.2f} s per full training; "
            f"test accuracy {reference}.",
            "Test accuracy (%) of a fresh fast net trained on each coreset, mean ± std over "
            "seeds (n runs); bold: best row per keep:",
            self.accuracy_table(),
            "Scoring models' accuracy on the rows they score (UNSEEN: held out; fitting: its "
            "own training rows; the gap is what the fitting model memorised):",
            "\n".join(f"- {m}: {100 * v:.2f} %" for m, v in self.scoring_accuracy.items()),
            "Score spread (std, and the pile-up at the minimum):",
            self.spread_table() if self.scores else "(not scored yet)",
            "Seconds per phase:",
            "\n".join(f"- {name}: {value:.1f}" for name, value in self.seconds.items())
            + f"\n- total: {self.elapsed():.1f}",
        ]
        return "\n\n".join(parts) + "\n"

    def write(self):
        out = self.args.out
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_protocol.md").write_text(self.report())
        (out / "gpu_protocol.json").write_text(json.dumps({
            "card": self.card,
            "reference_test_accuracy": self.reference,
            "seconds_per_full_training": self.full_seconds,
            "accuracy": {"/".join(map(str, k)): v for k, v in self.accuracy.items()},
            "scoring_model_accuracy": self.scoring_accuracy,
            "spread": {f"{m}/{s}": summarize(v) for (m, s), v in self.scores.items()},
            "skipped": self.skipped,
            "notes": self.notes,
            "seconds": {**self.seconds, "total": self.elapsed()},
            "arguments": {k: str(v) for k, v in vars(self.args).items()},
        }, indent=1))


def check_table_shape(protocol):
    """The smoke run's check: one row per (method, scorer, selector), one column per keep,
    every cell run."""
    args = protocol.args
    lines = protocol.accuracy_table().splitlines()
    expected_rows = 2 + (len(args.methods) - 1) * len(args.scorers) * len(args.selectors)
    if len(lines) != 2 + expected_rows:
        raise AssertionError(f"accuracy table has {len(lines) - 2} rows, expected {expected_rows}")
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3 + len(args.keeps) or "not run" in cells:
            raise AssertionError(f"incomplete accuracy table row: {line}")


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    protocol = Protocol(args)
    protocol.load()
    if not protocol.reference_run():
        protocol.write()
        return 1
    protocol.write()
    protocol.fit_scoring_to_budget()
    with tempfile.TemporaryDirectory(prefix="skunseen-protocol-") as checkpoints:
        protocol.score(checkpoints)
        protocol.write()
        protocol.evaluate(checkpoints, protocol.write)
    protocol.write()
    print(protocol.report())
    if args.smoke:
        check_table_shape(protocol)
        print("smoke: table shape OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
