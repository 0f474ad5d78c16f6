"""A small convolutional net that trains to 93-94 % on CIFAR-10 in 10 epochs.

The architecture and training recipe follow the public fast-training line of
work on CIFAR-10 (Page's "How to train your ResNet", 2018; tysam-code's
hlb-CIFAR10; Keller Jordan's airbench, arXiv 2404.00498), reimplemented here
as an ordinary ``torch.nn.Module`` so that it runs inside skorch, the
pruners and the fast path:

* a frozen 2x2 patch-whitening first convolution, computed from the first
  training batch the module sees (eigenvectors of the patch covariance,
  scaled by their inverse square-root eigenvalues), followed by GELU;
* three blocks of ``conv 3x3 -> max-pool 2 -> BatchNorm -> GELU -> conv 3x3
  -> BatchNorm -> GELU`` (widths 64, 256, 256 times ``width``), convolutions
  identity-initialised on their first input channels;
* BatchNorm without a learned scale; its learned shift is stored divided by
  :data:`SHIFT_SCALE` so that plain SGD moves it ``SHIFT_SCALE ** 2`` (64)
  times faster than the other weights, which is the recipe's bias learning
  rate scaling without optimizer parameter groups (weight decay acts on the
  shift as in the recipe: the same decay per step as every other weight);
* global max-pooling, a bias-free linear head and logits scaled by 1/9; the
  head computes in float32 also under bf16 autocast (:class:`Float32Linear`);
* test-time augmentation in eval mode (``tta``): the mean logits over
  horizontal flips (level 1) and also one-pixel translations (level 2),
  averaged in float32.

:func:`skunseen.models.make_net` (``model="fastcifar"``) pairs it with the
recipe's optimiser: Nesterov SGD, label smoothing 0.2, batch size 1024 and a
per-step triangular learning-rate schedule (:class:`TriangularLR`).
"""

import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from torch import nn

from ._nets import Float32Linear

__all__ = ["FastCifarNet", "TriangularLR", "recipe_lr"]

#: BatchNorm shifts are stored divided by this factor (see the module docstring).
SHIFT_SCALE = 8.0
_BASE_WIDTHS = (64, 256, 256)
_WHITEN_KERNEL = 2
# Enough 2x2 patches for a stable 12x12 covariance, whatever the batch size
# and image size of the first batch.
_WHITEN_MAX_PATCHES = 1 << 20


class _ShiftBatchNorm(nn.Module):
    """BatchNorm2d with a fixed unit scale and a learned, rescaled shift."""

    def __init__(self, channels, momentum, eps):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.shift = nn.Parameter(torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, X):
        return F.batch_norm(X, self.running_mean, self.running_var, self.scale,
                            self.shift * SHIFT_SCALE, self.training, self.momentum, self.eps)


def _conv(c_in, c_out):
    conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
    with torch.no_grad():
        # Identity on the first input channels: each block starts close to
        # passing its input through, which trains faster from step one.
        nn.init.dirac_(conv.weight[:c_in])
    return conv


class _ConvBlock(nn.Module):
    def __init__(self, c_in, c_out, momentum, eps):
        super().__init__()
        self.conv1 = _conv(c_in, c_out)
        self.norm1 = _ShiftBatchNorm(c_out, momentum, eps)
        self.conv2 = _conv(c_out, c_out)
        self.norm2 = _ShiftBatchNorm(c_out, momentum, eps)

    def forward(self, X):
        X = self.conv1(X)
        if min(X.shape[-2:]) >= 2:
            # skipped on 1-pixel maps so that small images (8x8 digits) work
            X = F.max_pool2d(X, 2)
        X = F.gelu(self.norm1(X))
        return F.gelu(self.norm2(self.conv2(X)))


class FastCifarNet(nn.Module):
    """Fast-training CIFAR convolutional net (airbench-style), for scoring and evaluation.

    Reaches about 94 % CIFAR-10 test accuracy in 10 epochs with the recipe
    of ``make_net("fastcifar")`` (measured figures: ``benchmarks/RESULTS.md``).
    Returns raw logits of shape (n_samples, n_classes); any spatial size from
    2x2 upwards works.

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    n_classes : int, default=10
        Number of output logits.
    width : float, default=1.0
        Multiplier of the block widths (64, 256, 256); ``0.25`` gives a
        CPU-sized variant with about 1/16 of the compute.
    tta : {0, 1, 2}, default=1
        Test-time augmentation in eval mode: 0 none, 1 mean logits of the
        image and its horizontal mirror, 2 also of one-pixel translations
        (6 forward passes per image).
    bn_momentum : float, default=0.1
        BatchNorm running-statistics momentum (torch convention).
    whiten_eps : float, default=5e-4
        Added to the patch-covariance eigenvalues before scaling.

    Attributes
    ----------
    whitened : torch.Tensor (bool buffer)
        Whether the whitening layer has been computed. The first forward pass
        in training mode computes it from that batch and freezes it.

    See Also
    --------
    make_net : ``make_net("fastcifar", ...)`` builds a skorch net around
        this module with the fast-training recipe.
    TriangularLR : the recipe's per-step learning-rate schedule.
    SmallCNN : a plain small CNN.

    References
    ----------
    .. [1] K. Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU",
       arXiv:2404.00498, 2024.
    .. [2] D. Page, "How to train your ResNet", Myrtle.ai blog, 2018.

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import FastCifarNet
    >>> net = FastCifarNet(width=0.25)
    >>> _ = net.train()(torch.randn(8, 3, 32, 32))  # computes the whitening
    >>> bool(net.whitened), net.eval()(torch.randn(2, 3, 32, 32)).shape
    (True, torch.Size([2, 10]))
    """

    def __init__(self, in_channels=3, n_classes=10, width=1.0, tta=1, bn_momentum=0.1,
                 whiten_eps=5e-4):
        super().__init__()
        if tta not in (0, 1, 2):
            raise ValueError(f"tta must be 0, 1 or 2, got {tta!r}")
        if not width > 0:
            raise ValueError(f"width must be positive, got {width!r}")
        self.tta = tta
        self.whiten_eps = whiten_eps
        k = _WHITEN_KERNEL
        n_whiten = 2 * in_channels * k * k
        # Buffers, not parameters: the whitening is computed, never trained.
        self.register_buffer("whiten_weight", torch.zeros(n_whiten, in_channels, k, k))
        self.register_buffer("whitened", torch.tensor(False))
        # A host-side copy of `whitened`: reading the buffer in every training
        # step would make the host wait for the GPU.
        self._whitened = False
        self.register_load_state_dict_post_hook(_read_whitened_flag)
        self.whiten_bias = nn.Parameter(torch.zeros(n_whiten))
        widths = [max(1, round(w * width)) for w in _BASE_WIDTHS]
        blocks, c_in = [], n_whiten
        for c_out in widths:
            blocks.append(_ConvBlock(c_in, c_out, bn_momentum, eps=1e-12))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = Float32Linear(c_in, n_classes, bias=False)

    @torch.no_grad()
    def init_whitening(self, X):
        """Set the whitening layer from the 2x2 patches of the images ``X``.

        Parameters
        ----------
        X : torch.Tensor of shape (n, in_channels, H, W)
            Normalised training images.
        """
        filters = whitening_filters(X, self.whiten_eps)
        self.whiten_weight.copy_(filters.to(self.whiten_weight))
        self.whitened.fill_(True)
        self._whitened = True

    def _logits(self, X):
        X = F.gelu(F.conv2d(X, self.whiten_weight.to(X.dtype), self.whiten_bias.to(X.dtype)))
        X = self.blocks(X)
        X = torch.amax(X, dim=(-2, -1))
        return self.head(X) / 9.0

    def forward(self, X):
        X = X.float()
        if self.training:
            if not self._whitened:
                with torch.autocast(X.device.type, enabled=False):
                    self.init_whitening(X)
            return self._logits(X)
        if self.tta == 0:
            return self._logits(X)
        logits = self._mirrored(X)
        if self.tta == 2:
            padded = F.pad(X, (1, 1, 1, 1), mode="reflect")
            h, w = X.shape[-2:]
            shifted = [padded[..., :h, :w], padded[..., 2:, 2:]]
            logits = 0.5 * logits + 0.25 * sum(self._mirrored(s) for s in shifted)
        return logits

    def _mirrored(self, X):
        return 0.5 * (self._logits(X) + self._logits(X.flip(-1)))


@torch.no_grad()
def whitening_filters(X, eps):
    """Filters ``(2 d, C, 2, 2)`` whitening the 2x2 patches of the images ``X``.

    The eigenvectors of the (uncentred) patch covariance, scaled by their
    inverse square-root eigenvalues (largest first), and their negatives, so
    that the GELU after the layer keeps both signs of every direction.
    """
    k = _WHITEN_KERNEL
    per_image = (X.shape[-2] - k + 1) * (X.shape[-1] - k + 1)
    images = X[: max(1, _WHITEN_MAX_PATCHES // per_image)].float()
    n_channels = X.shape[1]
    patches = F.unfold(images, k).transpose(1, 2).reshape(-1, n_channels * k * k)
    # float64 on the CPU: a tiny eigenproblem, and no solver library start-up on the GPU
    covariance = (patches.T @ patches / len(patches)).double().cpu()
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = (eigenvectors / torch.sqrt(eigenvalues.clamp_min(0) + eps)).T
    filters = filters.flip(0).reshape(-1, n_channels, k, k)
    return torch.cat([filters, -filters]).to(X.device)


def _read_whitened_flag(module, incompatible_keys):
    module._whitened = bool(module.whitened)


class TriangularLR(Callback):
    """skorch callback: per-step linear warm-up, then linear decay of the learning rate.

    Every optimizer step ``t`` of a fit of ``T = max_epochs x batches per
    epoch`` steps runs at ``base_lr x f(t / T)``, where ``f`` rises linearly
    from ``start`` to 1 at ``peak`` and falls linearly to ``end`` at 1. The
    base learning rate of each parameter group is its ``initial_lr`` (set
    from ``lr`` on the first fit, as torch's schedulers do), so refitting a
    net restarts the same schedule.

    Parameters
    ----------
    start : float, default=0.2
        Factor at the first step.
    peak : float in (0, 1), default=0.2
        Fraction of the steps at which the factor is 1.
    end : float, default=0.0
        Factor after the last step.

    Attributes
    ----------
    step_ : int
        Steps taken in the current fit.
    total_steps_ : int
        Steps of the whole fit.

    See Also
    --------
    FastCifarNet : the net this schedule was tuned for.
    skorch.callbacks.LRScheduler : torch schedulers stepped by skorch.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skunseen.models import TriangularLR
    >>> schedule = TriangularLR(start=0.2, peak=0.5)
    >>> net = NeuralNetClassifier(torch.nn.Linear(3, 2), max_epochs=2, batch_size=5,
    ...                           lr=1.0, train_split=None, verbose=0,
    ...                           criterion=torch.nn.CrossEntropyLoss,
    ...                           callbacks=[schedule])
    >>> X = np.zeros((20, 3), dtype=np.float32)
    >>> _ = net.fit(X, np.arange(20) % 2)
    >>> schedule.total_steps_, round(net.optimizer_.param_groups[0]["lr"], 3)
    (8, 0.25)
    """

    def __init__(self, start=0.2, peak=0.2, end=0.0):
        self.start = start
        self.peak = peak
        self.end = end

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not 0 < self.peak < 1:
            raise ValueError(f"peak must be in (0, 1), got {self.peak!r}")
        dataset_train, _ = net.get_split_datasets(X, y)
        per_epoch = len(net.get_iterator(dataset_train, training=True))
        self.total_steps_ = max(1, net.max_epochs * per_epoch)
        self.step_ = 0
        for group in net.optimizer_.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def factor(self, progress):
        """The learning-rate factor after ``progress`` (0 to 1) of the steps."""
        return float(np.interp(progress, [0.0, self.peak, 1.0], [self.start, 1.0, self.end]))

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        factor = self.factor(min(self.step_, self.total_steps_) / self.total_steps_)
        for group in net.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] * factor
        self.step_ += 1


def recipe_lr(batch_size, momentum):
    """SGD learning rate of the recipe for a mean-reduced loss.

    The recipe's step per example is 10 / (1024 (1 + 1 / (1 - momentum))),
    so that the size of a Nesterov step does not change with the momentum;
    a mean-reduced loss multiplies it by the batch size.
    """
    return 10.0 / (1024 * (1 + 1 / (1 - momentum))) * batch_size

