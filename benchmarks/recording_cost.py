"""Cost of recording: HeldOutRecorder variants vs no recorder, 100 and 1,000 classes.

Synthetic data (``--n-samples`` rows, ``--n-features`` Gaussian features,
labels from a random linear teacher so that training makes progress) and an
MLP (``skunseen.models.MLP``, one hidden layer of ``--hidden`` units). As in
one UNSEEN fold, the net trains on ``(K-1)/K`` of the rows (``--folds``) and
the recorder records the held-out ``1/K``.

Variants (``HeldOutRecorder`` settings):

``none``
    No recorder: the baseline.
``final``
    Final probabilities only (``every_epoch=False``), what final-output
    scorers (``el2n``, ``loss``, ...) need.
``dynamics``
    Per-epoch reduced statistics (``every_epoch=True``), what the dynamics
    scorers (``forgetting``, ``aum``, ``dyn_unc``, ``tdds``, ``dual``) need.
``dynamics+embedding``
    The same plus the final penultimate-layer embeddings (``moderate``,
    ``d2``).
``grad last-layer/epoch``
    Last-layer GraNd at the end of every epoch
    (``{"grad_norm": {"last_layer": True, "epochs": (0, E)}}``; closed form).
``grad full/epoch``
    Full-network GraNd at the end of every epoch (``torch.func`` vmap).

The GraNd variants record at every epoch to show the per-epoch cost; the
default (``epochs=None``) pays it once, at the end of training.

Every (classes, variant) pair runs in a fresh process (one untimed warm-up
fit of one epoch, then ``--repeats`` timed fits), so that its peak resident
memory is its own. Reported per epoch: median wall and CPU seconds, the ratio
to ``none`` (CPU time, steadier than wall time on a shared machine), the
process's peak RSS and its excess over ``none``, and the bytes the recorder
keeps (per-epoch statistics, final probabilities, extras). On CUDA
(``--device cuda``) the peak is ``torch.cuda.max_memory_allocated``.

Usage (from the repository root)::

    python benchmarks/recording_cost.py                      # 20k rows, 5 epochs
    python benchmarks/recording_cost.py --epochs 3 --repeats 1   # quick
"""

import argparse
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = ("none", "final", "dynamics", "dynamics+embedding", "grad last-layer/epoch",
            "grad full/epoch")


def recorder_settings(variant, epochs):
    """``HeldOutRecorder`` keyword arguments of a variant (None: no recorder)."""
    every_epoch = {"every_epoch": True}
    return {
        "none": None,
        "final": {"every_epoch": False},
        "dynamics": every_epoch,
        "dynamics+embedding": {**every_epoch, "extras": ("embedding",)},
        "grad last-layer/epoch": {"every_epoch": False, "extras": {
            "grad_norm": {"last_layer": True, "epochs": (0, epochs)}}},
        "grad full/epoch": {"every_epoch": False, "extras": {
            "grad_norm": {"last_layer": False, "epochs": (0, epochs)}}},
    }[variant]


def synthetic(n_samples, n_features, n_classes, seed=0):
    """Gaussian features, labels = argmax of a random linear teacher."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features).astype(np.float32)
    y = (X @ rng.randn(n_features, n_classes)).argmax(axis=1).astype(np.int64)
    return X, y


def _kept_bytes(recorder):
    arrays = [a for values in recorder.epochs_.values() for a in values]
    arrays += list(recorder.extras_.values()) + [recorder.proba_]
    return sum(a.nbytes for a in arrays)


def measure(n_classes, variant, args):
    """One (classes, variant) pair, in its own process."""
    import torch
    from skorch import NeuralNetClassifier

    import _common
    from skunseen.nets import HeldOutRecorder
    from skunseen.models import MLP

    _common.set_threads(args.threads)
    X, y = synthetic(args.n_samples, args.n_features, n_classes)
    n_score = args.n_samples // args.folds
    X_train, y_train, X_score, y_score = X[n_score:], y[n_score:], X[:n_score], y[:n_score]
    settings = recorder_settings(variant, args.epochs)

    def fit(max_epochs):
        recorder = None if settings is None else HeldOutRecorder(X_score, y_score, **settings)
        torch.manual_seed(0)
        net = NeuralNetClassifier(
            MLP, module__n_features=args.n_features, module__n_classes=n_classes,
            module__hidden=args.hidden, criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam, lr=1e-3, batch_size=args.batch_size,
            max_epochs=max_epochs, train_split=None, verbose=0, device=args.device,
            classes=list(range(n_classes)),
            callbacks=[] if recorder is None else [("recorder", recorder)])
        net.fit(X_train, y_train)
        return recorder

    fit(1)  # warm-up: first-call allocations and kernel selection
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    walls, cpus, recorder = [], [], None
    for _ in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        recorder = fit(args.epochs)
        walls.append((time.perf_counter() - wall) / args.epochs)
        cpus.append((time.process_time() - cpu) / args.epochs)
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        # VmHWM, the process's own high-water mark: ru_maxrss would also count
        # the spawning parent's memory (Linux keeps the maximum across exec).
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status
                        if line.startswith("VmHWM:")) / 2**10
    return {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "peak_mib": peak,
        "kept_mib": 0.0 if recorder is None else _kept_bytes(recorder) / 2**20,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--classes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args(argv)

    import _common

    _common.set_threads(args.threads)
    print(_common.machine_description())
    print(f"- settings: {args.n_samples} rows x {args.n_features} features, MLP hidden "
          f"{args.hidden}, trains on {args.n_samples - args.n_samples // args.folds} rows, "
          f"records {args.n_samples // args.folds}; {args.epochs} epochs, batch "
          f"{args.batch_size}, {args.repeats} timed fit(s) per cell, device {args.device}\n")
    rows = []
    context = multiprocessing.get_context("spawn")
    for n_classes in args.classes:
        results = {}
        for variant in args.variants:
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                results[variant] = pool.submit(measure, n_classes, variant, args).result()
            r = results[variant]
            print(f"  {n_classes} classes, {variant}: {r['wall']:.3f} s/epoch wall, "
                  f"{r['cpu']:.3f} s CPU, peak {r['peak_mib']:.0f} MiB", file=sys.stderr)
        base = results.get("none")
        for variant, r in results.items():
            ratio = "" if base is None else f"{r['cpu'] / base['cpu']:.2f}"
            extra = "" if base is None else f"{r['peak_mib'] - base['peak_mib']:+.0f}"
            rows.append([n_classes, variant, f"{r['wall']:.3f}", f"{r['cpu']:.3f}", ratio,
                         f"{r['peak_mib']:.0f}", extra, f"{r['kept_mib']:.2f}"])
    print(_common.markdown_table(
        ["classes", "recording", "s/epoch (wall)", "s/epoch (CPU)", "CPU ratio vs none",
         "peak MiB", "Δ peak MiB vs none", "kept by recorder (MiB)"],
        rows, align=["---:", "---"] + ["---:"] * 6))


if __name__ == "__main__":
    main()
