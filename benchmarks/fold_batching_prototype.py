"""Prototype for fold batching: K fast CIFAR nets trained one by one vs as one module.

Plain PyTorch, no skorch and no pruner: it measures how much training the K
fold models of UNSEEN at once could save on a device, before the library
does it. Every variant trains the
same K models (:class:`skunseen.models.FastCifarNet` architecture, the
fast-training recipe: Nesterov SGD, label smoothing 0.2, per-step triangular
learning rate, flip and 2-pixel translate augmentation on the device, bf16
autocast on CUDA) with the same batch size and number of steps; model k
trains only on its own training rows (the other K-1 folds):

``sequential``
    K separate modules, one after another (what the pruners do today).
``grouped``
    One module holding the K models side by side along the channel axis:
    grouped convolutions (``groups=K``), per-model BatchNorm channels (each
    model's statistics come from its own batch), a batched matmul head. Each
    step stacks the K models' own batches along the channels.
``vmap``
    ``torch.func.stack_module_state`` + ``functional_call`` under
    ``torch.func.vmap`` over K copies of the plain module.

Printed: training images per second (K x rows x epochs over wall time, CUDA
synchronised), the ratio to sequential, and the mean held-out accuracy of
the K models on their held-out folds (a check that they learn alike).
Variants are interleaved over ``--rounds``; the table gives median and
min-max. Before the timed rounds every variant trains ``--warmup-steps``
steps twice (cuDNN autotuning and lazy start-up, then a timed stretch whose
speed estimates each timed run); a timed run that would end after
``--budget-s`` is skipped and named in the table, and the table is rewritten
to ``--out`` after every run, so a run stopped at a time limit keeps what it
measured. At start the grouped module is checked against the K models it
stacks (same logits in eval mode, to 1e-3).

    python benchmarks/fold_batching_prototype.py                 # CUDA when present
    python benchmarks/fold_batching_prototype.py --smoke         # tiny, CPU, seconds
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    Budget,
    machine_description,
    markdown_table,
    set_threads,
    write_partial,
)

from skunseen.models import FastCifarNet  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
MOMENTUM, WEIGHT_DECAY, SMOOTHING = 0.85, 0.0015, 0.2
# FastCifarNet's BatchNorm shift is stored divided by this factor (the recipe's
# higher bias learning rate); check_grouped() fails if the net's factor changes.
SHIFT_SCALE = 8.0


def recipe_lr(batch_size, momentum):
    """The recipe's SGD learning rate for a mean-reduced loss (as make_net("fastcifar")):
    a step of 10 / (1024 (1 + 1 / (1 - momentum))) per example."""
    return 10.0 / (1024 * (1 + 1 / (1 - momentum))) * batch_size


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--pool", type=int, default=None, help="training rows (default all)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["sequential", "grouped", "vmap"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--warmup-steps", type=int, default=5,
                        help="untimed steps, then as many timed ones, per variant before the "
                             "rounds (default 5)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="skip timed runs that would end later than this (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file rewritten with the table after every run")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; --smoke: 1)")
    parser.add_argument("--smoke", action="store_true", help="tiny pool on the CPU")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pool, args.epochs, args.batch_size, args.width, args.rounds = 200, 1, 32, 0.125, 1
        args.warmup_steps, args.device = 1, "cpu"
        args.threads = args.threads or 1
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def load(args):
    if args.data.exists():
        from skunseen.datasets import load_image_archive

        X, y, _, _ = load_image_archive(args.data, limit=args.pool, test_limit=0)
        return X, y
    rng = np.random.RandomState(0)
    n = args.pool or 2000
    return rng.randint(0, 256, (n, 3, 32, 32)).astype(np.uint8), np.arange(n) % 10


# ----------------------------------------------------------------- batches
def augmented(images, generator):
    """Random flip and translation by up to 2 pixels (zero padding), on the device."""
    b, _, h, w = images.shape
    padded = F.pad(images, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (b, 1), device=images.device, generator=generator)
    dx = torch.randint(0, 5, (b, 1), device=images.device, generator=generator)
    flip = torch.rand((b, 1), device=images.device, generator=generator) < 0.5
    cols = torch.arange(w, device=images.device)
    rows = dy + torch.arange(h, device=images.device)
    cols = dx + torch.where(flip, cols.flip(0), cols)
    out = padded[torch.arange(b, device=images.device)[:, None, None], :, rows[:, :, None],
                 cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def normalised(batch):
    return ((batch.float() / 255 - 0.5) / 0.25).contiguous(memory_format=torch.channels_last)


def epoch_orders(train_rows, epochs, batch_size, generator):
    """Per step, the K models' batches of row indices (same steps for every model)."""
    steps = []
    for _ in range(epochs):
        perms = [rows[torch.randperm(len(rows), device=rows.device, generator=generator)]
                 for rows in train_rows]
        n = min(len(p) for p in perms)
        steps += [[p[s:s + batch_size] for p in perms]
                  for s in range(0, n - batch_size + 1, batch_size)]
    return steps


def schedule(step, total):
    return float(np.interp(step / total, [0, 0.2, 1], [0.2, 1, 0]))


# --------------------------------------------------------------- the K-model module
class GroupedFastCifar(nn.Module):
    """K FastCifarNet models side by side: model k owns channel group k everywhere."""

    def __init__(self, models):
        super().__init__()
        self.k = len(models)
        first = models[0]
        self.register_buffer("whiten_weight", torch.cat([m.whiten_weight for m in models]))
        self.whiten_bias = nn.Parameter(torch.cat([m.whiten_bias.detach() for m in models]))
        self.convs = nn.ParameterList()
        self.shifts = nn.ParameterList()
        self.norms = []
        for b in range(len(first.blocks)):
            for name in ("conv1", "conv2"):
                weight = torch.cat([getattr(m.blocks[b], name).weight.detach() for m in models])
                self.convs.append(nn.Parameter(weight))
            for name in ("norm1", "norm2"):
                norms = [getattr(m.blocks[b], name) for m in models]
                self.shifts.append(nn.Parameter(torch.cat([n.shift.detach() for n in norms])))
                index = len(self.shifts) - 1
                self.register_buffer(f"mean{index}", torch.cat([n.running_mean for n in norms]))
                self.register_buffer(f"var{index}", torch.cat([n.running_var for n in norms]))
                self.norms.append((norms[0].momentum, norms[0].eps))
        self.head = nn.Parameter(torch.stack([m.head.weight.detach() for m in models]))

    def _norm(self, X, index):
        momentum, eps = self.norms[index]
        ones = torch.ones_like(self.shifts[index])
        return F.batch_norm(X, getattr(self, f"mean{index}"), getattr(self, f"var{index}"),
                            ones, self.shifts[index] * SHIFT_SCALE, self.training, momentum, eps)

    def forward(self, X):
        """X: (B, K * C, H, W), model k's batch in channel group k -> logits (B, K, classes)."""
        X = F.gelu(F.conv2d(X, self.whiten_weight.to(X.dtype), self.whiten_bias.to(X.dtype),
                            groups=self.k))
        for b in range(len(self.convs) // 2):
            X = F.conv2d(X, self.convs[2 * b], padding=1, groups=self.k)
            if min(X.shape[-2:]) >= 2:
                X = F.max_pool2d(X, 2)
            X = F.gelu(self._norm(X, 2 * b))
            X = F.conv2d(X, self.convs[2 * b + 1], padding=1, groups=self.k)
            X = F.gelu(self._norm(X, 2 * b + 1))
        features = torch.amax(X, dim=(-2, -1)).reshape(len(X), self.k, -1)
        return torch.einsum("bkc,koc->bko", features, self.head.to(features.dtype)) / 9.0


@torch.no_grad()
def check_grouped(args, X_dev, train_rows):
    """Max |logit difference| between GroupedFastCifar and the K models it stacks.

    Eval mode, float32, BatchNorm shifts drawn at random (they start at 0, where
    a wrong ``SHIFT_SCALE`` would not show).
    """
    models = fresh_models(args, X_dev, train_rows, seed=12345)
    generator = torch.Generator().manual_seed(0)
    for model in models:
        for module in model.modules():
            if isinstance(getattr(module, "shift", None), torch.Tensor):
                module.shift.copy_(torch.randn(module.shift.shape, generator=generator))
        model.eval()
    grouped = GroupedFastCifar(models).to(args.device).to(memory_format=torch.channels_last)
    images = normalised(X_dev[train_rows[0][:16]])
    expected = torch.stack([model(images) for model in models], dim=1)
    tiled = images.repeat(1, len(models), 1, 1).contiguous(memory_format=torch.channels_last)
    return (grouped.eval()(tiled) - expected).abs().max().item()


# ------------------------------------------------------------------ training
def fresh_models(args, X_dev, train_rows, seed):
    """K initialised models with their whitening computed from their first batch."""
    models = []
    for k, rows in enumerate(train_rows):
        torch.manual_seed(seed + k)
        model = FastCifarNet(width=args.width, tta=0).to(args.device)
        model.init_whitening(normalised(X_dev[rows[:args.batch_size]]))
        models.append(model.to(memory_format=torch.channels_last))
    return models


def optimizer(params, batch_size):
    return torch.optim.SGD(params, lr=recipe_lr(batch_size, MOMENTUM), momentum=MOMENTUM,
                           nesterov=True, weight_decay=WEIGHT_DECAY)


def autocast(args):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.device == "cuda")


def train_sequential(args, X_dev, y_dev, models, steps, generator):
    for k, model in enumerate(models):
        opt = optimizer(model.parameters(), args.batch_size)
        base = opt.param_groups[0]["lr"]
        model.train()
        for t, batches in enumerate(steps):
            opt.param_groups[0]["lr"] = base * schedule(t, len(steps))
            rows = batches[k]
            with autocast(args):
                logits = model(normalised(augmented(X_dev[rows], generator)))
            loss = F.cross_entropy(logits.float(), y_dev[rows], label_smoothing=SMOOTHING)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return models


def train_grouped(args, X_dev, y_dev, models, steps, generator):
    grouped = GroupedFastCifar(models).to(args.device).to(memory_format=torch.channels_last)
    opt = optimizer(grouped.parameters(), args.batch_size)
    base = opt.param_groups[0]["lr"]
    grouped.train()
    for t, batches in enumerate(steps):
        opt.param_groups[0]["lr"] = base * schedule(t, len(steps))
        rows = torch.stack(batches)  # (K, B)
        images = augmented(X_dev[rows.reshape(-1)], generator)
        images = images.reshape(len(models), -1, *images.shape[1:]).transpose(0, 1)
        with autocast(args):
            logits = grouped(normalised(images.reshape(images.shape[0], -1,
                                                       *images.shape[-2:])))
        # mean over each model's batch, summed over models: separate gradients
        loss = F.cross_entropy(logits.float().permute(0, 2, 1), y_dev[rows].T,
                               label_smoothing=SMOOTHING, reduction="none").mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return grouped


class _Whitened(FastCifarNet):
    """FastCifarNet whose whitening is already computed: no data-dependent branch,
    which vmap cannot trace."""

    def forward(self, X):
        return self._logits(X)


def train_vmap(args, X_dev, y_dev, models, steps, generator):
    from torch.func import functional_call, stack_module_state, vmap

    params, buffers = stack_module_state(models)
    template = _Whitened(width=args.width, tta=0).to("meta")
    opt = optimizer(list(params.values()), args.batch_size)
    base = opt.param_groups[0]["lr"]

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    batched = vmap(forward, randomness="different")
    template.train()
    for t, batches in enumerate(steps):
        opt.param_groups[0]["lr"] = base * schedule(t, len(steps))
        rows = torch.stack(batches)
        images = augmented(X_dev[rows.reshape(-1)], generator)
        images = normalised(images).reshape(len(models), -1, *images.shape[1:])
        with autocast(args):
            logits = batched(params, buffers, images)
        loss = F.cross_entropy(logits.float().permute(1, 2, 0), y_dev[rows].T,
                               label_smoothing=SMOOTHING, reduction="none").mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return params, buffers, template


@torch.no_grad()
def held_out_accuracy(args, X_dev, y_dev, variant, trained, test_rows):
    correct = []
    for k, rows in enumerate(test_rows):
        images = normalised(X_dev[rows])
        with autocast(args):
            if variant == "sequential":
                logits = trained[k].eval()(images)
            elif variant == "grouped":
                trained.eval()
                tiled = images.repeat(1, len(test_rows), 1, 1)
                logits = trained(tiled.contiguous(memory_format=torch.channels_last))[:, k]
            else:
                from torch.func import functional_call

                params, buffers, template = trained
                template.eval()
                logits = functional_call(template, ({n: p[k] for n, p in params.items()},
                                                    {n: b[k] for n, b in buffers.items()}),
                                         (images,))
        correct.append((logits.argmax(1) == y_dev[rows]).float().mean().item())
    return float(np.mean(correct))


def table(args, card, speeds, accuracy, errors, skipped):
    base = np.median(speeds["sequential"]) if speeds.get("sequential") else None
    rows = []
    for variant in args.variants:
        if variant in errors:
            rows.append([variant, card, "failed: " + errors[variant], "", ""])
        elif not speeds[variant]:
            rows.append([variant, card, skipped.get(variant, "not run yet"), "", ""])
        else:
            s = np.asarray(speeds[variant])
            rows.append([variant, card,
                         f"{np.median(s):,.0f} ({s.min():,.0f}–{s.max():,.0f}), "
                         f"{len(s)} run(s)",
                         f"{np.median(s) / base:.2f}x" if base else "",
                         f"{np.mean(accuracy[variant]):.3f}"])
    return markdown_table(["variant", "card", "training img/s, median (min–max)",
                           "speed vs sequential", "held-out accuracy"], rows,
                          align=["---", "---", "---:", "---:", "---:"])


def main(argv=None):
    args = parse_args(argv)
    budget = Budget(args.budget_s)
    if args.threads:
        set_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    X, y = load(args)
    X_dev = torch.as_tensor(X, device=args.device)
    y_dev = torch.as_tensor(y, device=args.device)
    folds = np.arange(len(y)) % args.folds
    np.random.RandomState(0).shuffle(folds)
    train_rows = [torch.as_tensor(np.flatnonzero(folds != k), device=args.device)
                  for k in range(args.folds)]
    test_rows = [torch.as_tensor(np.flatnonzero(folds == k), device=args.device)
                 for k in range(args.folds)]
    card = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        expected = check_grouped(args, X_dev, train_rows)
    print(f"grouped module vs the K models: max |logit difference| {expected:.1e}", flush=True)
    if not expected < 1e-3:
        raise AssertionError("GroupedFastCifar no longer computes what FastCifarNet computes")
    trainers = {"sequential": train_sequential, "grouped": train_grouped, "vmap": train_vmap}
    speeds = {v: [] for v in args.variants}
    accuracy, errors, skipped, per_step = {}, {}, {}, {}
    header = (f"{machine_description()}\n- {args.folds} models, {args.epochs} epochs of "
              f"{len(train_rows[0])} training rows each, batch {args.batch_size}, width "
              f"{args.width}, {args.rounds} timed round(s) after {args.warmup_steps} + "
              f"{args.warmup_steps} warm-up steps per variant")

    def run(variant, r, steps, generator):
        """Train the K models of one variant; seconds, or None when it failed."""
        models = fresh_models(args, X_dev, train_rows, seed=100 * r)
        if args.device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        try:
            trained = trainers[variant](args, X_dev, y_dev, models, steps, generator)
            if args.device == "cuda":
                torch.cuda.synchronize()
        except Exception as exc:  # a variant torch cannot run here is reported, not fatal
            errors[variant] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            print(f"{variant}: failed: {errors[variant]}", flush=True)
            return None, None
        return time.perf_counter() - began, trained

    # warm-up: cuDNN autotuning and lazy start-up, then a timed stretch for the estimates
    generator = torch.Generator(device=args.device).manual_seed(0)
    warm_steps = epoch_orders(train_rows, args.epochs, args.batch_size, generator)
    for variant in args.variants:
        w = max(1, min(args.warmup_steps, len(warm_steps) // 2))
        if run(variant, 0, warm_steps[:w], generator)[0] is None:
            continue
        seconds, _ = run(variant, 0, warm_steps[w:2 * w] or warm_steps[:w], generator)
        if seconds is not None:
            per_step[variant] = seconds / w
            print(f"warm-up {variant}: {1000 * per_step[variant]:.1f} ms per step", flush=True)
    for r in range(1, args.rounds + 1):
        order = args.variants[r % len(args.variants):] + args.variants[:r % len(args.variants)]
        for variant in order:
            if variant in errors:
                continue
            generator = torch.Generator(device=args.device).manual_seed(r)
            steps = epoch_orders(train_rows, args.epochs, args.batch_size, generator)
            estimate = per_step[variant] * len(steps)
            if not budget.allows(estimate):
                skipped[variant] = (f"skipped: {estimate:.0f} s expected, "
                                    f"{max(budget.left(), 0):.0f} s of the budget left")
                print(f"round {r} {variant}: {skipped[variant]}", flush=True)
                continue
            seconds, trained = run(variant, r, steps, generator)
            if seconds is None:
                continue
            images = len(steps) * args.batch_size * args.folds
            speeds[variant].append(images / seconds)
            accuracy.setdefault(variant, []).append(
                held_out_accuracy(args, X_dev, y_dev, variant, trained, test_rows))
            print(f"round {r} {variant}: {images / seconds:,.0f} img/s, held-out accuracy "
                  f"{accuracy[variant][-1]:.3f} ({seconds:.1f} s)", flush=True)
            write_partial(args.out, f"{header}; {budget.elapsed():.0f} s so far\n\n"
                          + table(args, card, speeds, accuracy, errors, skipped) + "\n")
    text = (f"{header}; total {budget.elapsed():.0f} s\n\n"
            + table(args, card, speeds, accuracy, errors, skipped) + "\n")
    write_partial(args.out, text)
    print()
    print(text)
    return 0 if "sequential" not in errors else 1


if __name__ == "__main__":
    sys.exit(main())
