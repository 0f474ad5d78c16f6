"""Training time of the command line's default nets with 1 and more torch threads.

The command line trains every net with ``--threads`` torch threads (default
1). This script times what that default costs or saves: the same
:func:`skunseen.models.make_net` net (same seed, data, epochs) fitted with
each thread count of ``--threads`` on

``mlp``
    scikit-learn's digits, 1,347 training rows of 64 features (the default
    net of ``skunseen compare --dataset digits``);
``cnn``
    ``--images`` CIFAR-10 images from the shared archive (uint8, fast path,
    augmentation on), or random images of the same shape when the archive is
    absent.

Variants run interleaved (rotated order, one untimed warm-up round). The
table gives the median and min–max wall-clock seconds of one fit and the
ratio of the median to the 1-thread median. A busy machine (see the load
average in the header) shows what happens when threads wait for cores that
other processes hold.

Usage (from the repository root)::

    python benchmarks/threads.py                     # 1 and 2 threads, 5 rounds
    python benchmarks/threads.py --threads 1,2,4 --rounds 7
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, interleaved, machine_description, markdown_table  # noqa: E402

from skunseen.datasets import load_digits_images, load_image_archive  # noqa: E402
from skunseen.models import make_net  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def datasets(n_images):
    digits = load_digits_images()
    data = {"mlp": (digits.X_train.reshape(-1, 64), digits.y_train, "digits, 1,347 rows")}
    if ARCHIVE.is_file():
        cifar = load_image_archive(ARCHIVE, limit=n_images, test_limit=0)
        data["cnn"] = (cifar.X_train, cifar.y_train, f"CIFAR-10, {n_images} images")
    else:
        rng = np.random.RandomState(0)
        data["cnn"] = (rng.randint(0, 256, (n_images, 3, 32, 32), dtype=np.uint8),
                       rng.randint(0, 10, n_images), f"{n_images} random 32x32 images")
    return data


def fit(model, X, y, threads, epochs):
    def call():
        torch.set_num_threads(threads)
        net = make_net(model, input_shape=X.shape[1:], n_classes=10, device="cpu",
                       random_state=0, max_epochs=epochs)
        return net.fit(X, y)

    return call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}",
                        help="comma-separated thread counts (default 1 and the CPU count)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed interleaved rounds after one warm-up round (default 5)")
    parser.add_argument("--images", type=int, default=2000,
                        help="CIFAR-10 images for the cnn (default 2000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (default 3)")
    args = parser.parse_args(argv)
    counts = sorted({int(t) for t in args.threads.split(",")})
    data = datasets(args.images)
    label = "{}, {} thread(s)".format
    variants = {label(model, t): fit(model, X, y, t, args.epochs)
                for model, (X, y, _) in data.items() for t in counts}
    timings, _ = interleaved(variants, args.rounds, log=lambda line: None)
    rows = []
    for model, (_, _, description) in data.items():
        base = np.median([timing.wall for timing in timings[label(model, counts[0])]])
        for t in counts:
            wall = np.array([timing.wall for timing in timings[label(model, t)]])
            rows.append([model, description, t, f"{np.median(wall):.2f}",
                         f"{wall.min():.2f}–{wall.max():.2f}",
                         f"{np.median(wall) / base:.2f}x"])
    print(machine_description())
    print(f"- {args.epochs} epochs per fit, {args.rounds} interleaved rounds")
    print()
    print(markdown_table(["model", "data", "threads", "median (s)", "min–max (s)",
                          f"ratio to {counts[0]} thread(s)"], rows))


if __name__ == "__main__":
    main()
