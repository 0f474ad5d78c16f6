"""Memory of the held-out recording per fold: the whole fold at once, or batch by batch.

Every epoch the recorder predicts its fold and reduces the log-probabilities
to per-sample statistics; the ``change`` statistic also reads the previous
epoch's log-probabilities. Two implementations are measured on the same
synthetic fold (``--rows`` rows, ``--classes`` classes, random logits served
by a skorch net whose module returns its input rows as logits, so that the
net itself allocates nothing but the batch):

* **whole fold** (the recorder up to commit 961e16f, reproduced here: its
  code is ``git show 961e16f:skunseen/nets/_recording.py``): the batches'
  outputs are concatenated, the whole fold is reduced by
  :func:`skunseen.scores.epoch_statistics` at once, and the previous
  epoch's float32 log-probabilities stay where the model is;
* **batch by batch** (:class:`skunseen.nets.HeldOutRecorder` now): every
  batch is reduced where the model is, the statistics go to the host, and
  the previous epoch is kept on the host in float16.

How memory is counted: a ``TorchDispatchMode`` sees every tensor that every
torch operation of the epoch-end pass creates, keys it by its storage, and
follows its lifetime with a weak reference to the storage; the peak of the
bytes alive at once is the pass's peak extra memory (tensors alive before the
pass, such as the data and the weights, are not counted). The count is exact
at the granularity of operations and independent of the CPU allocator's
caching, so it stands for what a CUDA allocator would have to hold. On a GPU
the batch-by-batch recorder keeps on the host exactly the tensors with one
row per sample of the fold (the per-epoch statistics and the float16
previous epoch): they are counted as host memory, everything else (at most
one batch of rows) as device memory. The whole-fold recorder keeps everything
on the device. Epoch 0 is not measured (the previous-epoch state is created
there); the table shows the second epoch's pass, the steady state.

The second table measures what float16 storage of the previous epoch does to
the ``change`` statistic and to the ``tdds`` scores computed from it, against
float32 storage, on two trajectories: a small MLP trained on scikit-learn's
digits (5 folds' worth: 1,437 training rows, 360 held out, 20 epochs) and a
synthetic one with ``--classes`` classes whose predictions sharpen over 12
epochs. The bound printed beside it is ``2**-11 * sum_c p_c |log q_c| +
2**-25`` per row.

Usage (from the repository root)::

    python benchmarks/recording_memory.py                       # 10,000 and 50,000 rows, 1,000 classes
    python benchmarks/recording_memory.py --rows 50000 --batch-sizes 256 1024
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_description, markdown_table, set_threads  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from skunseen.nets import HeldOutRecorder  # noqa: E402
from skunseen.scores import epoch_statistics, tdds  # noqa: E402

MIB = 2**20
IMAGENET_ROWS, IMAGENET_CLASSES, IMAGENET_FOLDS = 1_281_167, 1_000, 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000],
                        help="rows of the synthetic fold (default: 10000 50000)")
    parser.add_argument("--classes", type=int, default=1_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-precision", action="store_true",
                        help="only the memory table")
    return parser.parse_args(argv)


class LiveTensors(TorchDispatchMode):
    """Counts the bytes of the storages that torch operations create, alive at once.

    A storage with one row per sample of the fold (``n_rows`` rows) is counted
    apart from the others (at most one batch of rows).
    """

    def __init__(self, n_rows):
        super().__init__()
        self.n_rows = n_rows
        self.alive = {}  # storage address -> (weak reference, bytes, fold-sized)
        self.peak = {"fold": 0, "batch": 0, "all": 0}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        # views and in-place results share a storage with an input: nothing new
        inputs = {t.untyped_storage().data_ptr() for t in torch.utils._pytree.tree_leaves(
            (args, kwargs)) if isinstance(t, torch.Tensor)}
        for tensor in torch.utils._pytree.tree_leaves(out):
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            if storage.data_ptr() in inputs:
                continue
            known = self.alive.get(storage.data_ptr())
            if known is not None and not known[0].expired():
                continue
            fold_sized = tensor.ndim >= 1 and tensor.shape[0] == self.n_rows
            self.alive[storage.data_ptr()] = (StorageWeakRef(storage), storage.nbytes(),
                                              fold_sized)
        for key in [k for k, (ref, _, _) in self.alive.items() if ref.expired()]:
            del self.alive[key]
        fold = sum(n for _, n, f in self.alive.values() if f)
        batch = sum(n for _, n, f in self.alive.values() if not f)
        for name, value in (("fold", fold), ("batch", batch), ("all", fold + batch)):
            self.peak[name] = max(self.peak[name], value)
        return out


class WatchedFromSecondEpoch:
    """Mixed into a recorder: its epoch-end passes after the first run under ``watch``."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) < 2:
            return super().on_epoch_end(net, **kwargs)
        with self.watch:
            super().on_epoch_end(net, **kwargs)
        self.kept_bytes = self.state_bytes()


def logits_net(n_classes, batch_size, callbacks):
    """A skorch net whose module returns its input rows as logits (one weight, lr 0)."""
    from skorch import NeuralNetClassifier

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, X):
            return X * self.scale

    return NeuralNetClassifier(
        Logits, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, lr=0.0,
        batch_size=batch_size, train_split=None, verbose=0, callbacks=callbacks,
        iterator_valid__generator=torch.Generator().manual_seed(0))


class WholeFold(Callback):
    """The recorder's epoch-end pass up to commit 961e16f (per-epoch statistics only)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_train_begin(self, net, **kwargs):
        self.previous, self.epochs = None, []

    def on_epoch_end(self, net, **kwargs):
        outputs = []
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for batch in net.get_iterator(net.get_dataset(self.X), training=False):
                outputs.append(net.evaluation_step(batch, training=False).float())
        log_proba = torch.log_softmax(torch.cat(outputs), dim=-1)
        labels = torch.as_tensor(self.y, device=log_proba.device)
        stats = epoch_statistics(log_proba, labels, self.previous)
        self.previous = log_proba
        self.epochs.append({name: v.cpu().numpy() for name, v in stats.items()})

    def state_bytes(self):
        return self.previous.untyped_storage().nbytes()


class BatchByBatch(HeldOutRecorder):
    """The recorder as it is."""

    def state_bytes(self):
        # the state it keeps for the next epoch's change statistic
        return self._statistics.previous.untyped_storage().nbytes()


def measure(kind, n_rows, n_classes, batch_size):
    """Peak extra bytes of the second epoch-end pass, by kind of storage, and the bytes
    of the previous-epoch state kept between epochs."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n_rows, n_classes)).astype(np.float32) * 3
    y = rng.randint(0, n_classes, n_rows)
    base = WholeFold if kind == "whole fold" else BatchByBatch
    recorder = type("Watched", (WatchedFromSecondEpoch, base), {})(X, y)
    recorder.watch = LiveTensors(n_rows)
    # trains on one batch (lr 0) and records the whole synthetic fold
    net = logits_net(n_classes, batch_size, [("recorder", recorder)])
    net.fit(X[:batch_size], y[:batch_size])
    return recorder.watch.peak, recorder.kept_bytes


def memory_table(args):
    rows, fitted = [], {}
    for n_rows in args.rows:
        for batch_size in args.batch_sizes:
            for kind in ("whole fold", "batch by batch"):
                peak, kept = measure(kind, n_rows, args.classes, batch_size)
                fold_array = n_rows * args.classes * 4
                if kind == "whole fold":
                    device_peak, host_peak = peak["all"], 0
                    device_kept, host_kept = kept, 0
                else:
                    device_peak, host_peak = peak["batch"], peak["fold"]
                    device_kept, host_kept = 0, kept
                fitted[(kind, n_rows, batch_size)] = (device_peak, device_kept, host_kept)
                rows.append([kind, f"{n_rows:,}", f"{args.classes:,}", batch_size,
                             f"{device_peak / MIB:.1f}", f"{device_peak / fold_array:.2f}",
                             f"{device_peak / (batch_size * args.classes * 4):.2f}",
                             f"{device_kept / MIB:.1f}", f"{host_peak / MIB:.1f}",
                             f"{host_kept / MIB:.1f}"])
    header = ["recorder", "rows n", "classes C", "batch B", "device peak during pass (MiB)",
              "÷ 4nC", "÷ 4BC", "device kept (MiB)", "host peak during pass (MiB)",
              "host kept (MiB)"]
    print("### Recording memory per fold: second epoch's pass, CPU accounting\n")
    print(markdown_table(header, rows))
    print()
    print_extrapolation(fitted, args)


def print_extrapolation(fitted, args):
    """The measured ratios carried to ImageNet-1K: n = N / K rows per fold, C = 1,000."""
    n = IMAGENET_ROWS // IMAGENET_FOLDS
    c = IMAGENET_CLASSES
    largest = max(args.rows)
    lines = ["### Extrapolation to ImageNet-1K (one fold: n = 1,281,167 / 5 = "
             f"{n:,} rows, C = {c:,})", ""]
    before = [fitted[("whole fold", largest, b)] for b in args.batch_sizes]
    a = max(peak / (largest * args.classes * 4) for peak, _, _ in before)
    lines.append(
        f"- whole fold: peak during the pass = {a:.2f} × 4nC (the largest ratio measured at "
        f"n = {largest:,}) = {a * 4 * n * c / 1e9:.2f} GB, on top of the previous epoch's "
        f"4nC = {4 * n * c / 1e9:.2f} GB kept on the device: "
        f"{(a + 1) * 4 * n * c / 1e9:.2f} GB of device memory per fold at every epoch's "
        "end, times the folds that share a GPU.")
    for b in args.batch_sizes:
        peak, _, host_kept = fitted[("batch by batch", largest, b)]
        ratio = peak / (b * args.classes * 4)
        lines.append(
            f"- batch by batch, B = {b}: device peak = {ratio:.2f} × 4BC (measured) = "
            f"{ratio * 4 * b * c / 1e6:.0f} MB per fold whatever n, nothing kept on the "
            f"device; the host keeps 2nC (float16) = {2 * n * c / 1e9:.2f} GB per fold "
            "between epochs.")
    print("\n".join(lines))
    print()


# --------------------------------------------------------------- precision
def change_and_tdds(log_probas, y):
    """change and tdds with the previous epoch kept in float32 and in float16."""
    changes = {"float32": [], "float16": []}
    bounds = []
    for epoch, log_proba in enumerate(log_probas):
        previous = None if epoch == 0 else log_probas[epoch - 1]
        changes["float32"].append(epoch_statistics(log_proba, y, previous)["change"].numpy())
        half = None if previous is None else previous.clamp_min(-65504).half()
        changes["float16"].append(epoch_statistics(log_proba, y, half)["change"].numpy())
        if previous is not None:
            p = log_proba.exp()
            bounds.append((2.0**-11 * (p * previous.abs()).sum(1) + 2.0**-25).numpy())
    change = {k: np.stack(v, axis=1) for k, v in changes.items()}
    bound = np.stack(bounds, axis=1)
    scores = {k: tdds(v, window=5) for k, v in change.items()}
    return change, bound, scores


def digits_trajectory():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.as_tensor(X / 16.0, dtype=torch.float32)
    y = torch.as_tensor(y)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(y), generator=gen)
    train, held = order[:1437], order[1437:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    log_probas = []
    for _ in range(20):
        for rows in train[torch.randperm(len(train), generator=gen)].split(128):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X[rows]), y[rows]).backward()
            optimizer.step()
        with torch.no_grad():
            log_probas.append(torch.log_softmax(model(X[held]), dim=-1))
    return "digits MLP, 360 held-out rows, 10 classes, 20 epochs", log_probas, y[held]


def synthetic_trajectory(n_classes, n_rows=5_000, n_epochs=12):
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, n_classes, (n_rows,), generator=gen)
    logits = torch.randn(n_rows, n_classes, generator=gen) * 0.5
    log_probas = []
    for epoch in range(n_epochs):
        logits = logits + torch.randn(n_rows, n_classes, generator=gen) * 0.3
        logits[torch.arange(n_rows), y] += torch.rand(n_rows, generator=gen) * 2
        log_probas.append(torch.log_softmax(logits * (1 + 0.5 * epoch), dim=-1))
    return (f"synthetic, {n_rows:,} rows, {n_classes:,} classes, {n_epochs} epochs, "
            "sharpening"), log_probas, y


def precision_table(args):
    from scipy.stats import spearmanr

    rows = []
    for name, log_probas, y in (digits_trajectory(), synthetic_trajectory(args.classes)):
        change, bound, scores = change_and_tdds(log_probas, y)
        error = np.abs(change["float16"] - change["float32"])[:, 1:]
        a, b = scores["float32"], scores["float16"]
        half = len(a) // 2
        top = len(set(np.argsort(a)[-half:]) & set(np.argsort(b)[-half:])) / half
        rows.append([name, f"{error.max():.2e}", f"{(error / bound).max():.3f}",
                     f"{np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-30)):.2e}",
                     f"{spearmanr(a, b).correlation:.7f}", f"{top:.4f}"])
    header = ["trajectory", "max abs error of change", "max error ÷ bound",
              "max rel. error of tdds", "Spearman tdds", "top-half overlap"]
    print("### Previous epoch in float16 vs float32: change and tdds (window 5)\n")
    print(markdown_table(header, rows, align=["---"] + ["---:"] * 5))
    print()


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    print(machine_description())
    print()
    memory_table(args)
    if not args.skip_precision:
        precision_table(args)


if __name__ == "__main__":
    main()
