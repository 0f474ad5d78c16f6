"""Overhead of the skorch path: UnseenPruner vs a hand-written PyTorch loop.

Both sides do the same work on the same data (scikit-learn's digits, all
1,797 rows):

* K stratified, shuffled folds; for every fold a fresh net (same module,
  initialisation scheme, optimizer, learning rate, batch size and epochs)
  trains on the other K-1 folds;
* after every epoch an eval-mode, no-grad pass over the held-out fold in
  batches of the same size, reduced to the per-sample statistics of
  ``skunseen.scores.epoch_statistics`` (correct, p_y, margin, EL2N, loss,
  change), and a final pass at the end of training;
* the same scorer (default ``forgetting``, a training-dynamics scorer, so
  the per-epoch records are actually needed) and the same ``ccs`` selection.

Variants, run interleaved in rotated order for ``--repeats`` rounds after one
untimed warm-up round; two skorch paths, each with its plain counterpart that
feeds batches the same way:

``skorch-dataloader``
    ``UnseenPruner(make_net(model, device="cpu", fast_path=False, ...),
    ...).fit(X, y)``: skorch's standard input pipeline (its ``Dataset`` and a
    ``DataLoader``), and what ``make_net`` builds by default for the MLP.
``plain-dataloader``
    The hand-written loop with ``DataLoader(TensorDataset(...),
    shuffle=True)``, the textbook PyTorch input pipeline.
``skorch-fastpath``
    The same with ``make_net(..., fast_path=True)``: skunseen's
    device-resident iterators (no per-sample work), what ``make_net`` builds
    by default for the CNN.
``plain-tensor``
    The hand-written loop slicing in-memory tensors with a ``randperm`` per
    epoch (no DataLoader), the fastest thing one writes for in-memory data.

Everything on the skorch side is what a user of the library runs: validation,
cloning, seeding, the ``HeldOutRecorder`` callback (``net.forward_iter``),
skorch's history and callbacks. The target (skorch <= 1.15x the plain
loop) is judged on make_net's default path for the model against its
counterpart: ``skorch-dataloader`` / ``plain-dataloader`` for the MLP,
``skorch-fastpath`` / ``plain-tensor`` for the CNN.

Usage (from the repository root)::

    python benchmarks/overhead.py                    # MLP, 5 folds, 20 epochs
    python benchmarks/overhead.py --model cnn --epochs 15
    python benchmarks/overhead.py --profile          # + cProfile of one run each
"""

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    interleaved,
    machine_description,
    markdown_table,
    median,
    set_threads,
)

from skunseen import UnseenPruner  # noqa: E402
from skunseen.models import MLP, SmallCNN, make_net  # noqa: E402
from skunseen.scores import (  # noqa: E402
    EPOCH_STATISTICS,
    ScoringRecords,
    epoch_statistics,
    get_scorer,
)
from skunseen.selection import select  # noqa: E402

# make_net's defaults, repeated here so that the plain loop is written out in full.
OPTIMIZERS = {
    "mlp": (torch.optim.Adam, dict(lr=1e-3)),
    "cnn": (torch.optim.AdamW, dict(lr=2e-3, weight_decay=5e-4)),
}


def load_data(model):
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)
    X = X.reshape(len(X), -1) if model == "mlp" else X[:, None, :, :]
    return X, digits.target.astype(np.int64)


def build_module(model, X, n_classes):
    if model == "mlp":
        return MLP(n_features=X.shape[1], n_classes=n_classes)
    return SmallCNN(in_channels=X.shape[1], n_classes=n_classes)


# ---------------------------------------------------------------- skorch path
def run_skorch(X, y, args, seed, fast_path):
    net = make_net(args.model, input_shape=X.shape[1:], n_classes=len(np.unique(y)),
                   device="cpu", max_epochs=args.epochs, batch_size=args.batch_size,
                   fast_path=fast_path)
    pruner = UnseenPruner(net, scorer=args.scorer, selector="ccs", keep=args.keep,
                          cv=args.folds, random_state=seed)
    pruner.fit(X, y)
    return {"scores": pruner.scores_, "proba": pruner.oof_proba_,
            "indices": pruner.sample_indices_}


# ------------------------------------------------------------ the plain loop
def _batches_tensor(X, y, batch_size, generator=None):
    order = (torch.randperm(len(X), generator=generator) if generator is not None
             else torch.arange(len(X)))
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], (None if y is None else y[idx])


def _held_out_log_proba(module, X_held, batch_size, feed):
    module.eval()
    with torch.no_grad():
        if feed == "dataloader":
            batches = DataLoader(TensorDataset(X_held), batch_size=batch_size, shuffle=False)
            logits = [module(xb) for (xb,) in batches]
        else:
            logits = [module(xb) for xb, _ in _batches_tensor(X_held, None, batch_size)]
    return torch.log_softmax(torch.cat(logits).float(), dim=1)


def plain_fold(X_train, y_train, X_held, y_held, args, seed, feed):
    """Train one net on a fold's training rows; record the held-out rows."""
    torch.manual_seed(seed)
    module = build_module(args.model, X_train, args.n_classes)
    optimizer_cls, optimizer_kw = OPTIMIZERS[args.model]
    optimizer = optimizer_cls(module.parameters(), **optimizer_kw)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
                 if args.model == "cnn" else None)
    criterion = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    loader = (DataLoader(TensorDataset(X_train, y_train), batch_size=args.batch_size,
                         shuffle=True, generator=generator)
              if feed == "dataloader" else None)
    stats = {name: [] for name in EPOCH_STATISTICS}
    previous = None
    losses = []
    for _ in range(args.epochs):
        module.train()
        batches = (loader if loader is not None
                   else _batches_tensor(X_train, y_train, args.batch_size, generator))
        epoch_loss, seen = 0.0, 0
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = criterion(module(xb), yb)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(xb)  # what any training log keeps
            seen += len(xb)
        losses.append(epoch_loss / seen)
        if scheduler is not None:
            scheduler.step()
        log_proba = _held_out_log_proba(module, X_held, args.batch_size, feed)
        for name, values in epoch_statistics(log_proba, y_held, previous).items():
            stats[name].append(values.numpy())
        previous = log_proba
    if not np.isfinite(losses[-1]):
        raise FloatingPointError("training diverged")
    proba = _held_out_log_proba(module, X_held, args.batch_size, feed).exp().numpy()
    epochs = {name: np.stack(values, axis=1) for name, values in stats.items()}
    return proba, epochs


def run_plain(X, y, args, seed, feed):
    rng = np.random.RandomState(seed)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=rng.randint(2**31 - 1))
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    scorer = get_scorer(args.scorer)
    scores = np.empty(len(y))
    proba = np.empty((len(y), args.n_classes))
    for k, (train, held) in enumerate(folds.split(X, y)):
        fold_proba, epochs = plain_fold(X_t[train], y_t[train], X_t[held], y_t[held], args,
                                        seed=int(rng.randint(2**31 - 1)), feed=feed)
        records = ScoringRecords(indices=held, y=y[held], proba=fold_proba, epochs=epochs)
        scores[held] = scorer(records)
        proba[held] = fold_proba
    n_select = int(round(args.keep * len(y)))
    indices = select(scores, y, n_select, selector="ccs", random_state=seed)
    return {"scores": scores, "proba": proba, "indices": indices}


# ------------------------------------------------------------------ reporting
#: skorch variant -> its plain counterpart (same way of feeding batches).
PAIRS = {"skorch-dataloader": "plain-dataloader", "skorch-fastpath": "plain-tensor"}


def default_skorch_variant(model):
    """The variant make_net builds by default for ``model`` (fast_path="auto")."""
    return "skorch-dataloader" if model == "mlp" else "skorch-fastpath"


def make_variants(X, y, args):
    return {
        "skorch-dataloader": lambda: run_skorch(X, y, args, seed=0, fast_path=False),
        "plain-dataloader": lambda: run_plain(X, y, args, seed=0, feed="dataloader"),
        "skorch-fastpath": lambda: run_skorch(X, y, args, seed=0, fast_path=True),
        "plain-tensor": lambda: run_plain(X, y, args, seed=0, feed="tensor"),
    }


def _accuracy(result, y):
    return float(np.mean(result["proba"].argmax(axis=1) == y))


def timing_table(timings, results, y, model):
    """Markdown table of medians and ratios, and the verdict line."""
    wall = {name: median([t.wall for t in ts]) for name, ts in timings.items()}
    cpu = {name: median([t.cpu for t in ts]) for name, ts in timings.items()}
    default = default_skorch_variant(model)
    rows = []
    for skorch_name, plain_name in PAIRS.items():
        for name in (skorch_name, plain_name):
            ts = timings[name]
            is_skorch = name == skorch_name
            paired = sorted(a.wall / b.wall for a, b in
                            zip(timings[skorch_name], timings[plain_name]))
            rows.append([
                f"`{name}`" + (" (make_net default)" if name == default else ""),
                f"{wall[name]:.2f}",
                f"{min(t.wall for t in ts):.2f}–{max(t.wall for t in ts):.2f}",
                f"{cpu[name]:.2f}",
                f"**{wall[skorch_name] / wall[plain_name]:.2f}×**" if is_skorch else "",
                f"{median(paired):.2f}× ({paired[0]:.2f}–{paired[-1]:.2f})" if is_skorch else "",
                f"{cpu[skorch_name] / cpu[plain_name]:.2f}×" if is_skorch else "",
                f"{_accuracy(results[name], y):.3f}",
            ])
    table = markdown_table(
        ["variant", "median wall s", "wall min–max s", "median CPU s",
         "skorch/plain (median wall)", "paired per-round ratio (min–max)",
         "skorch/plain (median CPU)", "held-out acc."], rows)
    ratio = wall[default] / wall[PAIRS[default]]
    verdict = (f"target: skorch ≤ 1.15× the plain loop, judged on make_net's default path "
               f"for {model} (`{default}` / `{PAIRS[default]}`): {ratio:.2f}× — "
               f"{'meets' if ratio <= 1.15 else 'misses'} the target")
    return table, verdict


def _profile(func):
    profiler = cProfile.Profile()
    profiler.enable()
    func()
    profiler.disable()
    return pstats.Stats(profiler)


# Entry points whose inclusive time says where the time goes. pstats'
# cumulative time counts each outermost call once (recursion excluded).
_ENTRY_POINTS = [
    ("skorch NeuralNet.fit (training incl. callbacks)", "skorch/net.py", "fit"),
    ("  run_single_epoch (training batches)", "skorch/net.py", "run_single_epoch"),
    ("    train_step (zero_grad, forward, loss, backward, step)", "skorch/net.py",
     "train_step"),
    ("    history.record_batch", "skorch/history.py", "record_batch"),
    ("  notify (all callbacks)", "skorch/net.py", "notify"),
    ("    skunseen/_recording.py on_epoch_end (recorder, divergence check)",
     "skunseen/_recording.py", "on_epoch_end"),
    ("      HeldOutRecorder held-out passes (_predict)", "skunseen/nets/_recording.py", "_predict"),
    ("      HeldOutRecorder held-out passes (_log_proba)", "skunseen/nets/_recording.py",
     "_log_proba"),
    ("  net.initialize", "skorch/net.py", "initialize"),
    ("plain: held-out passes", "benchmarks/overhead.py", "_held_out_log_proba"),
    ("DataLoader __next__ (train + held-out)", "torch/utils/data/dataloader.py", "__next__"),
    ("  skorch Dataset.__getitem__ (per sample)", "skorch/dataset.py", "__getitem__"),
    ("  ArrayIndexView.__getitem__ (per sample)", "skunseen/models/_fast_path.py",
     "__getitem__"),
    ("  TensorDataset.__getitem__ (per sample)", "torch/utils/data/dataset.py", "__getitem__"),
    ("  default_collate", "torch/utils/data/_utils/collate.py", "default_collate"),
    ("fast-path iterator __iter__", "skunseen/models/_fast_path.py", "__iter__"),
    ("epoch_statistics", "skunseen/scores/_records.py", "epoch_statistics"),
    ("Module._call_impl (forward calls)", "torch/nn/modules/module.py", "_call_impl"),
    ("Tensor.backward", "torch/_tensor.py", "backward"),
    ("Adam/AdamW update (_single_tensor_adam[w])", "torch/optim/", "_single_tensor_adam"),
    ("sklearn clone", "sklearn/base.py", "clone"),
    ("validate_data + fingerprint", "skunseen/_base.py", "_validate_fit_input"),
]


def _inclusive(stats, path_part, func_name):
    total = 0.0
    for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items():
        if name.startswith(func_name) and path_part in filename.replace("\\", "/"):
            if func_name == "_single_tensor_adam" or name == func_name:
                total += cumtime
    return total


def profile_report(variants, names, top):
    """cProfile one run of each named variant; a markdown breakdown + top lists."""
    stats = {name: _profile(variants[name]) for name in names}
    rows = []
    for label, path_part, func_name in _ENTRY_POINTS:
        values = [_inclusive(stats[name], path_part, func_name) for name in names]
        if not any(values):
            continue
        rows.append([label] + [f"{v:.2f}" if v else "–" for v in values])
    rows.append(["**whole run**"] + [f"{stats[name].total_tt:.2f}" for name in names])
    out = io.StringIO()
    out.write("cProfile, one run each, seconds of inclusive time (the profiler inflates "
              "Python-heavy code, so compare within a column rather than with the "
              "timings above):\n\n")
    out.write(markdown_table(["inclusive time of"] + [f"`{n}`" for n in names], rows,
                             align=["---"] + ["---:"] * len(names)))
    for name in names:
        buffer = io.StringIO()
        stats[name].stream = buffer
        stats[name].sort_stats("tottime").print_stats(top)
        lines = buffer.getvalue().splitlines()
        first = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        out.write(f"\n\nTop {top} functions by own time, `{name}`:\n\n```\n")
        out.write("\n".join(line.replace(sys.prefix, "<prefix>")[:160]
                            for line in lines[first:] if line.strip()))
        out.write("\n```")
    return out.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="skunseen.models.MLP on flattened digits (default) or "
                             "SmallCNN on 1x8x8 digit images")
    parser.add_argument("--folds", type=int, default=5, help="K (default 5)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fold (default 20)")
    parser.add_argument("--batch-size", type=int, default=128, help="default 128")
    parser.add_argument("--scorer", default="forgetting",
                        help="scorer of both sides (default forgetting: needs the "
                             "per-epoch held-out records)")
    parser.add_argument("--keep", type=float, default=0.5, help="fraction kept (default 0.5)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed interleaved rounds (default 7), after one warm-up round")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1 for stable numbers)")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one run of every variant and print where "
                             "the time goes")
    parser.add_argument("--top", type=int, default=20, help="functions listed by --profile")
    args = parser.parse_args(argv)

    set_threads(args.threads)
    X, y = load_data(args.model)
    args.n_classes = len(np.unique(y))
    print(f"# overhead: {args.model}, digits X{tuple(X.shape)}, {args.folds} folds, "
          f"{args.epochs} epochs, batch {args.batch_size}, scorer {args.scorer}, "
          f"ccs keep {args.keep}, {args.repeats} rounds, {args.threads} thread(s)")
    print(machine_description())
    variants = make_variants(X, y, args)
    timings, results = interleaved(variants, args.repeats)
    table, verdict = timing_table(timings, results, y, args.model)
    print()
    print(table)
    print()
    print(verdict)
    if args.profile:
        print()
        print(profile_report(variants, list(variants), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
