"""UNSEEN vs fitting vs random on full CIFAR-10 with one GPU, in about 10 minutes.

One prepared script for a single H100/H200 lease:

* the full 50,000-image CIFAR-10 train set and the 10,000-image test set,
  decoded from the JPEG archive (``--data``) into uint8 arrays;
* scoring: the small CNN on the fast path (data resident on the GPU,
  on-device augmentation, bf16 autocast), K = 5 folds for UNSEEN, the same
  net on all rows for the fitting baseline, ``el2n`` scores, ``ccs`` selection;
* evaluation: CIFAR ResNet-18 trained on the coresets at keep 0.7 / 0.5 / 0.3
  with one short schedule (15 epochs, SGD + cosine), for UNSEEN, fitting and
  random coresets;
* prints one markdown table (test accuracy, score spread) and the wall time
  of each phase, and writes them to ``benchmarks/results/gpu_cifar10.md``.

Copy the archive into an ignored folder of the checkout (for example
``.cache/cifar10-jpeg.tar.gz``), carry it to the device machine, then run
``python benchmarks/gpu_cifar10.py --data .cache/cifar10-jpeg.tar.gz``.
``--smoke`` runs a tiny version on the CPU to check the script.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from skunseen import FittingPruner, UnseenPruner
from skunseen._report import summarize
from skunseen.datasets import load_image_archive
from skunseen.models import ArrayIndexView, make_net
from skunseen.selection import select

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz")
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".cache")
    parser.add_argument("--keeps", type=float, nargs="+", default=[0.7, 0.5, 0.3])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--score-epochs", type=int, default=10)
    parser.add_argument("--eval-epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny subset on the CPU, 1 epoch: checks the script runs")
    args = parser.parse_args(argv)
    args.limit, args.test_limit = None, None
    if args.smoke:
        args.limit, args.test_limit, args.device = 600, 300, "cpu"
        args.score_epochs, args.eval_epochs, args.folds = 1, 1, 3
        args.out = REPO / ".cache" / "smoke"
    return args


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    seconds = {}

    start = time.perf_counter()
    X, y, X_test, y_test = load_image_archive(args.data, cache_dir=args.cache_dir,
                                              limit=args.limit, test_limit=args.test_limit)
    seconds["load"] = time.perf_counter() - start

    def scoring_net():
        return make_net("cnn", input_shape=X.shape[1:], n_classes=10,
                        max_epochs=args.score_epochs, device=args.device,
                        batch_size=512, random_state=args.seed)

    scores = {}
    for method, pruner in (
        ("unseen", UnseenPruner(scoring_net(), cv=args.folds, random_state=args.seed,
                                device=args.device, verbose=1)),
        ("fitting", FittingPruner(scoring_net(), random_state=args.seed, device=args.device,
                                  verbose=1)),
    ):
        start = time.perf_counter()
        scores[method] = pruner.fit(X, y).scores_
        seconds[f"score {method}"] = time.perf_counter() - start

    accuracy = {}
    for keep in args.keeps:
        n_select = int(round(keep * len(y)))
        coresets = {method: select(values, y, n_select, selector="ccs", random_state=args.seed)
                    for method, values in scores.items()}
        coresets["random"] = select(np.zeros(len(y)), y, n_select, selector="random",
                                    random_state=args.seed)
        for method, rows in coresets.items():
            start = time.perf_counter()
            net = make_net("resnet18", input_shape=X.shape[1:], n_classes=10,
                           max_epochs=args.eval_epochs, device=args.device,
                           batch_size=512, random_state=args.seed)
            net.fit(ArrayIndexView(X, y, rows), y[rows])
            accuracy[method, keep] = float((net.predict(X_test) == y_test).mean())
            seconds[f"train resnet18 {method} keep {keep}"] = time.perf_counter() - start
            print(f"keep {keep} {method}: {accuracy[method, keep]:.4f}", flush=True)

    lines = [f"card: {card}; {len(y)} train / {len(y_test)} test images; scoring small CNN "
             f"{args.score_epochs} epochs, K={args.folds}; ResNet-18 {args.eval_epochs} epochs",
             "",
             "| method | " + " | ".join(f"keep {k}" for k in args.keeps)
             + " | score std | within 1% of min |",
             "|" + " --- |" * (len(args.keeps) + 3)]
    for method in ("unseen", "fitting", "random"):
        summary = summarize(scores[method]) if method in scores else None
        spread = (f"{summary['std']:.4f} | {summary['fraction_within_1pct_of_min']:.3f}"
                  if summary else " | ")
        lines.append(f"| {method} | " + " | ".join(
            f"{100 * accuracy[method, k]:.2f}" for k in args.keeps) + f" | {spread} |")
    lines += ["", "Seconds per phase:"] + [f"- {k}: {v:.1f}" for k, v in seconds.items()]
    report = "\n".join(lines)
    (args.out / "gpu_cifar10.md").write_text(report + "\n")
    (args.out / "gpu_cifar10.json").write_text(json.dumps(
        {"card": card, "seconds": seconds,
         "accuracy": {f"{m}/{k}": v for (m, k), v in accuracy.items()}}, indent=1))
    print(report)


if __name__ == "__main__":
    main()
