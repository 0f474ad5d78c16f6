"""Bookkeeping at scale: what skunseen itself costs around the training, up to ImageNet-1K.

At ImageNet scale (N = 1,281,167 images, C = 1,000 classes, K = 5 folds, 90
epochs) the library's own work around the scoring models must stay small
next to training. This script measures it with the training taken out, and
extrapolates to ImageNet-1K.

1. **Bookkeeping of a fit.** ``UnseenPruner(SyntheticProba(), cv=5)`` on
   N rows of C classes, through the public estimator: ``SyntheticProba`` is a
   scikit-learn classifier whose ``fit`` does nothing and whose
   ``predict_proba`` returns cheap float32 probabilities (random, with the
   label's column raised, so the held-out accuracy is realistic and scores
   spread). Everything else is the library's: input checks, fingerprint,
   folds, records, scores, the out-of-fold probabilities, selection. The
   public seam is used rather than ``HeldOutRecords`` built by hand, so that
   every copy the fit makes is counted, whichever module makes it. A net's
   records are float32 too (``HeldOutRecorder.proba_``), so the float32
   classifier stands for a net. Each measurement is a fresh process
   (``--child``): imports and a small warm-up fit, then the peak-RSS mark is
   reset (``/proc/self/clear_refs``) and the fit runs; **peak** is the
   kernel's high-water mark (``VmHWM``) minus the resident memory before the
   fit, given in MB and as a multiple of one float32 N x C array;
   **seconds** is the fit's wall time minus the time spent inside
   ``predict_proba`` (the synthetic "training"). The current tree and the
   baseline commit (``--baseline``, extracted with ``git archive``) run
   interleaved, rotated every round; times are medians with min-max.
2. **Fingerprints of an ImageFolder.** A folder of ``--images`` small
   synthetic JPEGs read by ``torchvision.datasets.ImageFolder``:
   ``skunseen._data.fingerprint`` (what every fit computes: paths, sizes,
   modification times, labels, transforms) against one ``DataLoader`` pass
   over the images, and the store's digest of a Dataset that lists no files
   (``dataset_digest``: every sample read once), with 0 and ``--workers``
   DataLoader workers; interleaved rounds after a warm-up round (page cache
   warm).
3. **Decoding an ImageNet-sized JPEG** (500 x 375, the default transform of
   ``load_image_folder``): milliseconds per image, the unit of a data pass
   over ImageNet.
4. **The recorder's memory.** ``HeldOutRecorder`` with per-epoch records on
   a held-out fold of 20,000 rows and 1,000 classes, on the CPU (a linear
   module: the recording dominates): the peak over the fold's float32
   N x C array is the multiple ``k`` of the recording's working memory.
   Recording now holds the whole held-out fold's outputs on the training
   device; recorded batch by batch (the design), the same working memory
   is ``k`` times one batch's outputs.
5. **ImageNet-1K extrapolation.** Host RAM of the bookkeeping (the measured
   multiple at C = 1,000 times one float32 N x C array of ImageNet, plus the
   per-epoch records, which the synthetic classifier does not make: 5
   float32 statistics and 1 bool per sample and epoch), its time (linear in
   N from the largest measured C = 1,000 row), fingerprint and digest
   times, and device memory per fold of the recording,
   ``k x rows on the device x C x 4`` bytes, for a whole fold (now) and a
   batch of 256 (the design).

Usage (from the repository root)::

    python benchmarks/scale.py                  # default: a few minutes on 2 CPUs
    python benchmarks/scale.py --full           # N in 10k/50k/200k x C in 10/100/1000
    python benchmarks/scale.py --skip-images    # bookkeeping table only
    python benchmarks/scale.py --baseline none  # current tree only
"""

import argparse
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, interleaved, machine_description, markdown_table  # noqa: E402

#: ImageNet-1K's training set.
IMAGENET = {"n": 1_281_167, "classes": 1_000, "epochs": 90, "folds": 5}
MB = 1e6
DEFAULT_CELLS = [(10_000, 10, 1, "proportional"), (10_000, 1_000, 1, "proportional"),
                 (40_000, 10, 1, "proportional"), (40_000, 1_000, 1, "proportional"),
                 (40_000, 1_000, 2, "difficulty")]
FULL_CELLS = ([(n, c, 1, "proportional") for n in (10_000, 50_000, 200_000)
               for c in (10, 100, 1_000)]
              + [(40_000, 1_000, 1, "proportional"), (40_000, 1_000, 2, "difficulty")])
#: Bytes per sample and epoch of the per-epoch records: "correct" (bool) and
#: five float32 statistics (skunseen._records.EPOCH_STATISTICS).
EPOCH_RECORD_BYTES = 1 + 5 * 4
#: Held-out rows of the recorder's measurement.
RECORDED_FOLD = 20_000


# ------------------------------------------------------------ the classifier
class SyntheticProba(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier that trains nothing: float32 probabilities from X.

    ``X[:, 0]`` holds the label; ``predict_proba`` draws uniform values,
    raises the label's column by a random amount and normalises the rows.
    The seconds spent in ``predict_proba`` are added to ``SECONDS``, so that
    the caller can take them out of the fit's time.
    """

    SECONDS = [0.0]

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        start = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        n = len(X)
        proba = rng.random((n, len(self.classes_)), dtype=np.float32)
        labels = np.searchsorted(self.classes_, np.asarray(X)[:, 0].astype(np.int64))
        proba[np.arange(n), labels] += rng.random(n, dtype=np.float32) * 2 * len(self.classes_)
        proba /= proba.sum(axis=1, keepdims=True)
        SyntheticProba.SECONDS[0] += time.perf_counter() - start
        return proba


def synthetic_data(n, n_classes):
    """``(X, y)``: balanced labels, shuffled; X's one column is the label."""
    y = np.random.default_rng(0).permutation(np.arange(n) % n_classes)
    return y[:, None].astype(np.float32), y


# ------------------------------------------------------------ measurements
def _status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def fit_child(args):
    """One bookkeeping measurement in this fresh process; prints a JSON line."""
    import warnings

    import skunseen
    from skunseen import UnseenPruner

    warnings.simplefilter("ignore")

    def pruner():
        return UnseenPruner(SyntheticProba(), cv=args.folds, n_repeats=args.n_repeats,
                            class_budget=args.class_budget, keep=0.5, random_state=0)

    pruner().fit(*synthetic_data(500, 10))  # lazily loaded code, not the data
    X, y = synthetic_data(args.n, args.classes)
    gc.collect()
    before = _status("VmRSS")
    reset = True
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        reset = False
    SyntheticProba.SECONDS[0] = 0.0
    start = time.perf_counter()
    fitted = pruner().fit(X, y)
    wall = time.perf_counter() - start
    peak = _status("VmHWM")
    print(json.dumps({
        "seconds": wall - SyntheticProba.SECONDS[0], "synthetic_seconds": SyntheticProba.SECONDS[0],
        "peak": peak - before, "peak_reset": reset, "held_after": _status("VmRSS") - before,
        "oof_dtype": str(fitted.oof_proba_.dtype), "skunseen": skunseen.__file__,
    }))


def recording_child(args):
    """Peak memory of ``HeldOutRecorder`` recording a fold of ``args.n`` rows and
    ``args.classes`` classes with per-epoch records, over the fold's float32
    N x C; prints a JSON line."""
    import torch
    from skorch import NeuralNetClassifier

    from skunseen.nets import HeldOutRecorder

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    def fit(n_held):
        X = rng.random((n_held, 8), dtype=np.float32)
        y = rng.integers(0, args.classes, n_held)
        recorder = HeldOutRecorder(X, y, every_epoch=True)
        net = NeuralNetClassifier(torch.nn.Linear(8, args.classes), max_epochs=2,
                                  criterion=torch.nn.CrossEntropyLoss, batch_size=256,
                                  train_split=None, verbose=0, callbacks=[recorder])
        net.fit(X[:256], y[:256])
        return recorder

    fit(512)  # lazily loaded code, not the recording
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    recorder = fit(args.n)
    peak = _status("VmHWM") - before
    fold = args.n * args.classes * 4
    print(json.dumps({"peak": peak, "fold": fold, "multiple": peak / fold,
                      "proba_dtype": str(recorder.proba_.dtype)}))


def measure_recording(n, n_classes):
    command = [sys.executable, __file__, "--child-recording", "--n", str(n), "--classes",
               str(n_classes)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    if result.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def baseline_tree(ref, directory):
    """``skunseen/`` of commit ``ref`` extracted under ``directory`` (``git archive``)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref, "skunseen"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    target = Path(directory) / ref
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def measure_fit(tree, cell, folds):
    n, n_classes, n_repeats, budget = cell
    command = [sys.executable, __file__, "--child", "--n", str(n), "--classes", str(n_classes),
               "--folds", str(folds), "--n-repeats", str(n_repeats), "--class-budget", budget]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(tree)})
    if result.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    if not measured["skunseen"].startswith(str(tree)):
        raise RuntimeError(f"the child imported {measured['skunseen']}, not {tree}")
    return measured


def bookkeeping(args, trees):
    """Every cell measured ``args.rounds`` times per tree, trees rotated each round."""
    names = list(trees)
    runs = {(cell, name): [] for cell in args.cells for name in names}
    for cell in args.cells:
        for r in range(args.rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                measured = measure_fit(trees[name], cell, args.folds)
                runs[cell, name].append(measured)
                print(f"  N={cell[0]} C={cell[1]} R={cell[2]} {cell[3]} round {r + 1} {name}: "
                      f"{measured['seconds']:.2f} s, peak {measured['peak'] / MB:.0f} MB",
                      flush=True)
    return runs


def _median_range(values, fmt="{:.2f}"):
    values = list(values)
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}–{fmt.format(max(values))})")


def bookkeeping_table(args, runs, names):
    header = ["N", "C", "n_repeats", "class_budget", "N×C float32 (MB)"]
    for name in names:
        header += [f"peak {name} (MB)", f"peak {name} (× N×C)", f"s {name}"]
    if len(names) == 2:
        header += [f"time {names[0]} / {names[1]}", "oof_proba_ dtype"]
    rows = []
    for cell in args.cells:
        n, n_classes, n_repeats, budget = cell
        array = n * n_classes * 4
        row = [f"{n:,}", f"{n_classes:,}", n_repeats, budget, f"{array / MB:.0f}"]
        for name in names:
            peaks = [m["peak"] for m in runs[cell, name]]
            row += [_median_range((p / MB for p in peaks), "{:.0f}"),
                    f"{statistics.median(peaks) / array:.2f}",
                    _median_range(m["seconds"] for m in runs[cell, name])]
        if len(names) == 2:
            ratios = [a["seconds"] / b["seconds"] for a, b in zip(runs[cell, names[0]],
                                                                  runs[cell, names[1]])]
            row += [_median_range(ratios), " / ".join(runs[cell, name][0]["oof_dtype"]
                                                      for name in names)]
        rows.append(row)
    return markdown_table(header, rows)


# ------------------------------------------------------------ image folders
def make_folder(root, n_images, n_classes=10, size=32):
    """``n_images`` small JPEGs in ImageFolder layout under ``root``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n_images):
        folder = root / f"class_{i % n_classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpg", quality=90)
    return root


def folder_timings(args, root):
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import ToTensor

    from skunseen._data import fingerprint
    from skunseen.nets._inputs import dataset_digest

    class Unlisted(Dataset):
        """The folder behind a Dataset that lists no files: the store reads its samples."""

        def __init__(self, dataset):
            self.dataset = dataset

        def __len__(self):
            return len(self.dataset)

        def __getitem__(self, index):
            return self.dataset[index]

    torch.set_num_threads(1)
    dataset = ImageFolder(str(root), transform=ToTensor())
    unlisted = Unlisted(dataset)

    def one_pass(workers):
        for _ in DataLoader(dataset, batch_size=256, num_workers=workers):
            pass

    variants = {"fingerprint (every fit)": lambda: fingerprint(dataset)}
    for workers in sorted({0, args.workers}):
        variants[f"DataLoader pass, {workers} workers"] = (lambda w=workers: one_pass(w))
        variants[f"dataset_digest, {workers} workers"] = (
            lambda w=workers: dataset_digest(unlisted, num_workers=w))
    timings, results = interleaved(variants, args.rounds, log=lambda line: None)
    digests = {name: value for name, value in results.items() if name.startswith("dataset_")}
    if len(set(digests.values())) != 1:
        raise RuntimeError(f"dataset_digest depends on the worker count: {digests}")
    return {name: [t.wall for t in times] for name, times in timings.items()}


def folder_table(args, walls):
    rows = []
    for name, values in walls.items():
        workers = name.split(", ")[-1] if "," in name else None
        reference = walls.get(f"DataLoader pass, {workers}") if workers else walls.get(
            f"DataLoader pass, {args.workers} workers")
        ratio = statistics.median(values) / statistics.median(reference)
        rows.append([name, _median_range(values, "{:.3f}"),
                     f"{1e6 * statistics.median(values) / args.images:.1f}", f"{ratio:.3f}"])
    return markdown_table(["", "seconds", "µs per image", "× the DataLoader pass"], rows)


def decode_ms(n_images=48):
    """Median milliseconds to read one 500 x 375 JPEG with ``load_image_folder``'s
    default loader and transform (decode, resize, crop, tensor, normalise), and
    to hash the item as ``dataset_digest`` does (seeds and ``joblib.hash``)."""
    import joblib
    import torch
    from PIL import Image

    from skunseen.datasets._imagefolder import _default_transform, _read_image

    torch.set_num_threads(1)
    transform = _default_transform(224)
    rng = np.random.default_rng(0)
    times, hashes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n_images):
            # Smooth content, as photographs are, with some noise.
            coarse = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
            image = Image.fromarray(coarse).resize((500, 375), Image.BICUBIC)
            noisy = np.clip(np.asarray(image, np.int16)
                            + rng.integers(-12, 13, size=(375, 500, 3)), 0, 255)
            path = Path(tmp) / f"{i}.jpg"
            Image.fromarray(noisy.astype(np.uint8)).save(path, quality=90)
            start = time.perf_counter()
            sample = transform(_read_image(path))
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            np.random.seed(i)
            torch.random.default_generator.manual_seed(i)
            joblib.hash((sample.numpy(), i % 1000))
            hashes.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[1:]), 1e3 * statistics.median(hashes[1:])


# ------------------------------------------------------------ extrapolation
def extrapolation(args, runs, names, walls, decode, recorder_multiple):
    """ImageNet-1K figures from the measured rows, with how each is obtained."""
    n, n_classes, epochs, folds = (IMAGENET[key] for key in ("n", "classes", "epochs", "folds"))
    array = n * n_classes * 4
    largest = max((cell for cell in args.cells if cell[1] == 1_000 and cell[2] == 1),
                  key=lambda cell: cell[0])
    measured_array = largest[0] * largest[1] * 4
    epochs_bytes = EPOCH_RECORD_BYTES * n * epochs
    rows = []
    for name in names:
        multiple = statistics.median(m["peak"] for m in runs[largest, name]) / measured_array
        seconds = statistics.median(m["seconds"] for m in runs[largest, name])
        rows.append([f"bookkeeping peak, {name}", f"{multiple:.2f} × {array / 1e9:.2f} GB "
                     f"= {multiple * array / 1e9:.1f} GB",
                     f"measured multiple at N={largest[0]:,}, C=1,000"])
        rows.append([f"bookkeeping time, {name}",
                     f"{seconds * n / largest[0]:.0f} s",
                     f"linear in N from N={largest[0]:,}, C=1,000 ({seconds:.2f} s)"])
    rows.append(["per-epoch records (dynamics scorers)",
                 f"{epochs_bytes / 1e9:.2f} GB",
                 f"{EPOCH_RECORD_BYTES} B per sample and epoch × N × {epochs} epochs "
                 "(5 float32 statistics + 1 bool), held by both versions"])
    if walls:
        fingerprint = statistics.median(walls["fingerprint (every fit)"]) / args.images
        rows.append(["fingerprint of the ImageFolder (every fit)",
                     f"{fingerprint * n:.0f} s",
                     f"{1e6 * fingerprint:.1f} µs per file × N (local disk, stat and hash; "
                     "a network file system's stat is slower)"])
    if decode:
        read, digest = decode
        for workers in (1, 16):
            rows.append([f"one data pass (a DataLoader epoch), {workers} worker(s)",
                         f"{read * n / 1e3 / workers / 60:.0f} min",
                         f"{read:.1f} ms per 500×375 JPEG × N / {workers} "
                         "(decode-bound, if the cores and disk keep up)"])
            rows.append([f"the store's digest of a Dataset listing no files, {workers} "
                         "worker(s)", f"{(read + digest) * n / 1e3 / workers / 60:.0f} min",
                         f"({read:.1f} + {digest:.1f} ms to seed and hash the 3×224×224 "
                         f"item) × N / {workers}"])
    fold, batch, k = n // folds, 256, recorder_multiple
    for label, rows_held in (("whole held-out fold on the device (now)", fold),
                             (f"per batch of {batch} (the design)", batch)):
        rows.append([f"recording, device memory per fold: {label}",
                     f"{k * rows_held * n_classes * 4 / 1e9:.3f} GB",
                     f"k × {rows_held:,} rows × C × 4 B, k = {k:.1f} measured on the CPU"])
    rows.append(["recording, host memory per fold (per-batch design)",
                 f"{2 * fold * n_classes * 4 / 1e9:.2f} GB",
                 "2 × N/K × C × 4 B: final probabilities and the previous epoch's "
                 "log-probabilities (for 'change')"])
    return markdown_table(["ImageNet-1K (N 1,281,167, C 1,000, K 5, 90 epochs)", "value",
                           "how"], rows, align=["---", "---:", "---"])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="N in 10k/50k/200k x C in 10/100/1000 (default: a short grid)")
    parser.add_argument("--baseline", default="961e16f",
                        help="commit to compare with (git archive), or 'none'")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row (default 3)")
    parser.add_argument("--folds", type=int, default=5, help="K (default 5)")
    parser.add_argument("--images", type=int, default=20_000,
                        help="JPEGs in the synthetic ImageFolder (default 20,000)")
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader workers of the folder rows (default 2)")
    parser.add_argument("--skip-images", action="store_true",
                        help="bookkeeping only: no folder, no decoding")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-recording", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--classes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n-repeats", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--class-budget", default="proportional", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cells = FULL_CELLS if args.full else DEFAULT_CELLS
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child or args.child_recording:
        (fit_child if args.child else recording_child)(args)
        return 0
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    print(machine_description(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"current": ROOT}
        if args.baseline != "none":
            trees = {f"{args.baseline}": baseline_tree(args.baseline, tmp), **trees}
        names = list(trees)
        runs = bookkeeping(args, trees)
        recording = measure_recording(RECORDED_FOLD, 1_000)
        walls, decode = {}, None
        if not args.skip_images:
            walls = folder_timings(args, make_folder(Path(tmp) / "folder", args.images))
            decode = decode_ms()
    print(f"\n### Bookkeeping of UnseenPruner(SyntheticProba(), cv={args.folds}), "
          f"{args.rounds} fresh processes per tree and row\n")
    print(bookkeeping_table(args, runs, names))
    if not all(m["peak_reset"] for measured in runs.values() for m in measured):
        print("\nThe peak-RSS mark could not be reset (/proc/self/clear_refs): the peaks "
              "include the imports and the warm-up fit.")
    if walls:
        print(f"\n### An ImageFolder of {args.images:,} synthetic 32×32 JPEGs, "
              f"{args.rounds} rounds\n")
        print(folder_table(args, walls))
        print(f"\nOne 500×375 JPEG through load_image_folder's default transform: "
              f"{decode[0]:.1f} ms; seeding and hashing the item as dataset_digest does: "
              f"{decode[1]:.1f} ms (medians of 47, one thread).")
    print(f"\nHeldOutRecorder with per-epoch records, a fold of {RECORDED_FOLD:,} rows and "
          f"1,000 classes on the CPU: peak {recording['peak'] / MB:.0f} MB = "
          f"{recording['multiple']:.2f} × the fold's float32 N×C "
          f"(proba_ {recording['proba_dtype']}).")
    print("\n### Extrapolated to ImageNet-1K\n")
    print(extrapolation(args, runs, names, walls, decode, recording["multiple"]))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
