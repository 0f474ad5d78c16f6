"""Prune an ImageNet-style folder streamed from disk.

``load_image_folder`` lists ``train/<class>/*.JPEG`` and ``val/<class>/*``
(or ``test/``) without opening an image: ``X_train`` is a torch ``Dataset``
that decodes and transforms one image per item. :class:`skunseen.UnseenPruner`
accepts it as X; each fold's scoring model reads its rows through an index
view (``torch.utils.data.Subset``), so the data is never loaded whole and
never copied per fold. The coreset is written as row indices and as a file
list (``coreset.txt``) that any training pipeline can read.

Run::

    python examples/imagenet_folder.py --smoke      # builds a tiny tree in a temp dir
    python examples/imagenet_folder.py --root /data/imagenet --device cuda \\
        --model resnet18 --epochs 16 --keep 0.7 --workers 16 \\
        --memory runs/imagenet/store --out runs/imagenet
"""

import argparse
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch

from skunseen import UnseenPruner
from skunseen.datasets import load_image_folder
from skunseen.models import FastNetClassifier, make_net, resolve_device


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None,
                        help="folder with train/<class>/ sub-folders (val/ or test/ are "
                             "only counted)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=None,
                        help="use only the first N classes (default: all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="stratified training pool size (default: all)")
    parser.add_argument("--model", default="resnet18", choices=["resnet18", "cnn"],
                        help="scoring model: torchvision ResNet-18 or the small CNN")
    parser.add_argument("--epochs", type=int, default=16, help="epochs per scoring net")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers")
    parser.add_argument("--scorer", default="el2n")
    parser.add_argument("--selector", default="ccs")
    parser.add_argument("--keep", type=float, default=0.7)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1,
                        help="folds trained at once (threads; with several GPUs and "
                             "--device cuda, fold k runs on GPU k mod n_gpus)")
    parser.add_argument("--memory", type=Path, default=None,
                        help="keep every finished fold here; a rerun resumes from it")
    parser.add_argument("--out", type=Path, default=None,
                        help="write coreset.npy, scores.npy and coreset.txt here")
    parser.add_argument("--smoke", action="store_true",
                        help="build a tiny 3-class tree in a temp dir; 1 epoch, 32 px")
    args = parser.parse_args(argv)
    if args.smoke:
        args.image_size, args.model, args.epochs, args.folds = 32, "cnn", 1, 2
        args.batch_size, args.workers = 16, 0
    elif args.root is None:
        parser.error("--root is required (or --smoke)")
    return args


def make_tiny_tree(root, n_classes=3, n_train=16, n_val=4, seed=0):
    """A tiny ImageFolder tree of random JPEGs whose colour depends on the class."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for c in range(n_classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.randint(0, 96, size=(48, 64, 3)) + 64 * c
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"img_{i:04d}.JPEG")
    return root


def scoring_net(args, n_classes):
    device = resolve_device(args.device)
    if args.model == "cnn":
        return make_net("cnn", input_shape=(3, args.image_size, args.image_size),
                        n_classes=n_classes, device=device, max_epochs=args.epochs,
                        batch_size=args.batch_size, iterator_train__num_workers=args.workers,
                        iterator_valid__num_workers=args.workers)
    # The standard ImageNet ResNet-18 (7x7 stem), SGD with a cosine schedule.
    # FastNetClassifier adds bf16 autocast and channels_last on CUDA.
    from skorch.callbacks import LRScheduler
    from torchvision.models import resnet18

    return FastNetClassifier(
        resnet18, module__num_classes=n_classes, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD, lr=0.1 * args.batch_size / 256, optimizer__momentum=0.9,
        optimizer__weight_decay=5e-5, max_epochs=args.epochs, batch_size=args.batch_size,
        train_split=None, iterator_train__shuffle=True,
        iterator_train__num_workers=args.workers, iterator_valid__num_workers=args.workers,
        iterator_train__pin_memory=device.startswith("cuda"),
        callbacks=[("lr", LRScheduler(policy="CosineAnnealingLR", T_max=args.epochs))],
        classes=list(range(n_classes)), device=device, verbose=0,
    )


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_tiny_tree(Path(tmp)) if args.smoke else args.root
        classes = None if args.classes is None else list(range(args.classes))
        X_train, y_train, X_test, y_test = data = load_image_folder(
            root, image_size=args.image_size, classes=classes, limit=args.limit)
        n_classes = len(data.classes)
        print(f"{len(X_train)} training images in {n_classes} classes "
              f"(streamed from disk, one image per item), {len(X_test)} validation images")

        net = scoring_net(args, n_classes)
        pruner = UnseenPruner(net, scorer=args.scorer, selector=args.selector, keep=args.keep,
                              cv=args.folds, n_jobs=args.jobs, random_state=args.seed,
                              memory=args.memory, verbose=1)
        start = time.perf_counter()
        # Threads share the process's GPUs and the streamed dataset; the
        # DataLoader workers of each fold do the decoding.
        with joblib.parallel_config(backend="threading"):
            pruner.fit(X_train, y_train)
        print(f"kept {len(pruner.sample_indices_)} of {len(y_train)} images in "
              f"{time.perf_counter() - start:.1f} s; out-of-fold accuracy "
              f"{np.mean(pruner.oof_proba_.argmax(axis=1) == y_train):.3f}")
        per_class = np.bincount(y_train[pruner.sample_indices_], minlength=n_classes)
        print(f"kept per class (first 10): {per_class[:10].tolist()}")

        # The kept files, for any training pipeline (a Subset when limit= was given).
        base = X_train.dataset if hasattr(X_train, "dataset") else X_train
        rows = np.asarray(X_train.indices)[pruner.sample_indices_] if hasattr(
            X_train, "indices") else pruner.sample_indices_
        files = [base.samples[i][0] for i in rows]
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            np.save(args.out / "coreset.npy", pruner.sample_indices_)
            np.save(args.out / "scores.npy", pruner.scores_)
            (args.out / "coreset.txt").write_text("\n".join(files) + "\n")
            print(f"wrote {args.out}/coreset.npy, scores.npy, coreset.txt")
        else:
            print(f"first kept files: {[Path(f).name for f in files[:3]]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
