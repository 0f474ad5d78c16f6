"""Training throughput: the fast path vs a standard torchvision DataLoader.

Both variants train the same skorch net from :func:`skunseen.models.make_net`
(same module, optimizer, learning rate, batch size, seed) on the same CIFAR
images with the same augmentation (random crop with 4-pixel padding,
horizontal flip) and normalisation (mean 0.5, std 0.25):

``fast path``
    ``make_net(model, fast_path=True)`` fitted on the uint8 (n, 3, 32, 32)
    array: the data stay on the training device, batches are gathered with a
    device-side permutation and augmented on the device.
``DataLoader``
    ``make_net(model, fast_path=False)`` fitted on a Dataset written like
    ``torchvision.datasets.CIFAR10``: one PIL image per item through
    ``transforms.Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
    ToTensor(), Normalize(...)])`` and a ``DataLoader`` (``--workers``
    processes, ``pin_memory`` on CUDA).

Throughput is training images per second of an epoch: images per epoch
divided by the epoch's time (skorch's ``dur``), for every epoch but the first
of each fit (warm-up: lazy imports, allocator, cuDNN autotuning); the table
gives the median and the range over those epochs. Variants alternate
within a round, and rounds rotate the order, so that the slow phases of a
shared machine hit both alike. CUDA rows run when a GPU is visible (the card
is named in the header); otherwise they print "skipped: no CUDA".

With ``--budget-s`` a row starts only while the time left exceeds what the
previous row took (rows go cheapest first: the small CNN before ResNet-18),
and a fit only when the same variant's last fit (or the other variant's)
fits in the time left; skipped rows and fits are named. The table is
rewritten to ``--out`` after every row, so a run stopped at a time limit
keeps what it measured.

Usage (from the repository root)::

    python benchmarks/throughput.py                   # CPU (and CUDA when present)
    python benchmarks/throughput.py --quick           # a smoke run, ~1 min on CPU
    python benchmarks/throughput.py --devices cuda --models cnn --rounds 3
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    Budget,
    machine_description,
    markdown_table,
    set_threads,
    write_partial,
)

from skunseen.models import make_net  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
# Images per epoch: enough for several hundred optimizer steps on CUDA and
# epochs of a few seconds on a small CPU.
IMAGES = {("cpu", "cnn"): 2048, ("cpu", "resnet18"): 256,
          ("cuda", "cnn"): 20000, ("cuda", "resnet18"): 10000}
QUICK_IMAGES = {("cpu", "cnn"): 512, ("cpu", "resnet18"): 128,
                ("cuda", "cnn"): 5000, ("cuda", "resnet18"): 2500}
# The fast path's default normalisation of uint8 images, used by both sides.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class TorchvisionStyleCIFAR(Dataset):
    """CIFAR images served the way ``torchvision.datasets.CIFAR10`` serves them.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 3, H, W)
        Images, stored HWC inside as torchvision does.
    labels : ndarray of int
        Labels.
    transform : callable
        Applied to every PIL image.
    """

    def __init__(self, images, labels, transform):
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.targets = labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def standard_transform():
    from torchvision import transforms

    return transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def load_images(path, n):
    """``n`` CIFAR-10 training images (stratified) and labels; random ones without data."""
    if path is not None and Path(path).exists():
        from skunseen.datasets import load_image_archive

        X, y, _, _ = load_image_archive(path, limit=n, test_limit=0)
        return X, y, f"CIFAR-10 training images from {path}"
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    return X, rng.randint(0, 10, size=n), "random uint8 images (no CIFAR data found)"


def epoch_seconds(net, X, y):
    """Durations of every epoch but the first of one fit."""
    net.fit(X, y)
    return [row["dur"] for row in net.history[1:]]


def measure(device, model, X, y, *, epochs, rounds, workers, batch_size, budget=None):
    """Images per second of every timed epoch, per variant, for one model; fits
    that ``budget`` does not allow are skipped (their variant may stay empty)."""
    budget = budget or Budget()
    common = dict(input_shape=X.shape[1:], n_classes=10, device=device, max_epochs=epochs,
                  batch_size=batch_size, random_state=0)
    loader = dict(iterator_train__num_workers=workers,
                  iterator_train__pin_memory=device == "cuda")
    variants = {
        "fast path": lambda: epoch_seconds(make_net(model, fast_path=True, **common), X, y),
        "DataLoader": lambda: epoch_seconds(
            make_net(model, fast_path=False, **common, **loader),
            TorchvisionStyleCIFAR(X, y, standard_transform()), y),
    }
    durations = {name: [] for name in variants}
    fit_seconds = {}
    names = list(variants)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            estimate = fit_seconds.get(name, max(fit_seconds.values(), default=0.0))
            if not budget.allows(estimate):
                print(f"  {device} {model} round {r + 1}/{rounds} {name}: skipped, about "
                      f"{estimate:.0f} s expected, {max(budget.left(), 0):.0f} s left",
                      flush=True)
                continue
            began = time.perf_counter()
            durations[name] += variants[name]()
            fit_seconds[name] = time.perf_counter() - began
            print(f"  {device} {model} round {r + 1}/{rounds} {name}: "
                  f"{len(X) / statistics.median(durations[name]):,.0f} images/s so far",
                  flush=True)
    return {name: len(X) / np.asarray(values) for name, values in durations.items()}


def _median_range(speeds):
    if not len(speeds):
        return "not run (budget)"
    return f"{np.median(speeds):,.0f} ({speeds.min():,.0f}–{speeds.max():,.0f})"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", default="cpu,cuda",
                        help="comma-separated devices (default cpu,cuda; cuda only when present)")
    parser.add_argument("--models", default="cnn,resnet18", help="comma-separated models")
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE,
                        help="ImageFolder archive of CIFAR-10 (default: the shared archive)")
    parser.add_argument("--images", type=int, default=None,
                        help="images per epoch for every row (default: per device and model)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per fit; the first is warm-up (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="fits per variant (default 1)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: stable on a shared machine, where "
                             "OpenMP threads stall each other once the CPUs are busy)")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers (default: 0 on CPU, where workers compete "
                             "with training for the same cores; min(8, CPUs) on CUDA)")
    parser.add_argument("--quick", action="store_true", help="fewer images, 2 epochs")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start no row or fit expected to end later than this (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file rewritten with the table after every row")
    return parser.parse_args(argv)


def report(args, rows, notes, source, seconds):
    lines = [machine_description(),
             f"- torch threads {args.threads}; the machine may be shared with other jobs, "
             "so absolute numbers vary between runs: compare the ratio column",
             f"- data: {source or 'n/a'}; {args.epochs} epochs per fit (first one untimed), "
             f"{args.rounds} round(s); total {seconds:.0f} s",
             *(f"- {note}" for note in notes), "",
             markdown_table(
                 ["device", "card", "model", "images/epoch", "batch", "workers",
                  "fast path img/s (min–max)", "DataLoader img/s (min–max)",
                  "ratio of medians"],
                 rows, align=["---", "---", "---"] + ["---:"] * 6)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    budget = Budget(args.budget_s)
    set_threads(args.threads)
    if args.quick:
        args.epochs = min(args.epochs, 2)
    sizes = QUICK_IMAGES if args.quick else IMAGES
    models = args.models.split(",")
    rows, notes, source = [], [], None
    last_row = 0.0
    for device in args.devices.split(","):
        if device == "cuda" and not torch.cuda.is_available():
            print("cuda: skipped: no CUDA")
            notes.append("cuda: skipped: no CUDA device visible")
            continue
        workers = args.workers if args.workers is not None else (
            0 if device == "cpu" else min(8, len(os.sched_getaffinity(0))))
        for model in models:
            if not budget.allows(last_row):
                notes.append(f"{device} {model}: not run, the previous row took {last_row:.0f} s "
                             f"and {max(budget.left(), 0):.0f} s of the budget were left")
                print(notes[-1], flush=True)
                continue
            began = time.perf_counter()
            n = args.images or sizes[(device, model)]
            X, y, source = load_images(args.data, n)
            speeds = measure(device, model, X, y, epochs=args.epochs, rounds=args.rounds,
                             workers=workers, batch_size=args.batch_size, budget=budget)
            card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
            fast, loader = speeds["fast path"], speeds["DataLoader"]
            ratio = (f"{np.median(fast) / np.median(loader):.2f}x" if len(fast) and len(loader)
                     else "")
            rows.append([device, card, model, len(X), args.batch_size, workers,
                         _median_range(fast), _median_range(loader), ratio])
            last_row = time.perf_counter() - began
            write_partial(args.out, report(args, rows, notes, source, budget.elapsed()))
    text = report(args, rows, notes, source, budget.elapsed())
    write_partial(args.out, text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
