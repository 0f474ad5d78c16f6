"""K copies of a built-in net as one module, for training the K fold models at once.

:func:`stack_modules` turns K modules of one built-in architecture (``MLP``,
``SmallCNN``, ``FastCifarNet``) into a :class:`StackedModule` whose
parameters hold the K models side by side:

* linear layers are batched matrix products over a model axis: inputs and
  outputs have the shape ``(K, B, ...)``, model k's rows at index k;
* convolutions are grouped convolutions (``groups=K``) over channel-stacked,
  channels-last inputs ``(B, K * C, H, W)``: model k owns channel group k in every layer,
  so no weight ever sees another model's activations;
* BatchNorm statistics are per channel, hence per model, and are computed
  over that model's own rows only (shorter batches are padded, and the
  padding enters no statistic).

Measured against ``torch.func.vmap`` over stacked parameters (the other way to
batch models), grouped convolutions and batched matrix products were faster
for these nets: see ``benchmarks/fold_batching_prototype.py`` and the docs'
performance page.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._fastcifar import SHIFT_SCALE, FastCifarNet, whitening_filters
from ._nets import MLP, Float32Linear, SmallCNN, in_float32

__all__ = ["StackedModule", "stack_modules", "stackable"]


def _to_grouped(X):
    """(K, B, C, H, W) -> (B, K * C, H, W), in channels-last memory format.

    Grouped convolutions run much faster on channels-last tensors (oneDNN
    on the CPU, cuDNN on CUDA): 1.4x for one 3x3 layer and 2.7x for a whole
    SmallCNN step on the CPU here.
    """
    k, b, c, h, w = X.shape
    return X.permute(1, 3, 4, 0, 2).reshape(b, h, w, k * c).permute(0, 3, 1, 2)


def _from_grouped(X, k):
    """(B, K * C) -> (K, B, C)."""
    return X.reshape(len(X), k, -1).transpose(0, 1)


class _StackedLinear(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]))
        self.bias = None if layers[0].bias is None else nn.Parameter(
            torch.stack([l.bias.detach() for l in layers]))
        # stacked float32 heads compute in float32 as each head does alone
        self.float32 = isinstance(layers[0], Float32Linear)

    def forward(self, X):
        return in_float32(self._product, X) if self.float32 else self._product(X)

    def _product(self, X):
        out = torch.bmm(X, self.weight.transpose(1, 2).to(X.dtype))
        return out if self.bias is None else out + self.bias[:, None, :].to(out.dtype)

    def unstack(self, layers):
        for k, layer in enumerate(layers):
            layer.weight.data.copy_(self.weight.data[k])
            if self.bias is not None:
                layer.bias.data.copy_(self.bias.data[k])


class _GroupedConv2d(nn.Module):
    def __init__(self, convs):
        super().__init__()
        first = convs[0]
        if first.groups != 1 or first.padding_mode != "zeros":
            raise TypeError("only plain zero-padded convolutions can be stacked")
        self.k = len(convs)
        self.stride, self.padding, self.dilation = first.stride, first.padding, first.dilation
        self.weight = nn.Parameter(torch.cat([c.weight.detach() for c in convs]))
        self.bias = None if first.bias is None else nn.Parameter(
            torch.cat([c.bias.detach() for c in convs]))

    def forward(self, X):
        return F.conv2d(X, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        groups=self.k)

    def unstack(self, convs):
        for k, conv in enumerate(convs):
            conv.weight.data.copy_(self.weight.data.chunk(self.k)[k])
            if self.bias is not None:
                conv.bias.data.copy_(self.bias.data.chunk(self.k)[k])


class _StackedBatchNorm2d(nn.Module):
    """BatchNorm over channel-stacked models; statistics from each model's own rows.

    ``scale``/``shift`` are the affine weight and bias (``shift_scale``
    multiplies the shift, for FastCifarNet's rescaled shifts).
    """

    def __init__(self, norms, scale, shift, shift_scale=1.0):
        super().__init__()
        self.k = len(norms)
        self.momentum, self.eps = norms[0].momentum, norms[0].eps
        self.shift_scale = shift_scale
        self.register_buffer("running_mean", torch.cat([n.running_mean for n in norms]))
        self.register_buffer("running_var", torch.cat([n.running_var for n in norms]))
        for name, value in (("scale", scale), ("shift", shift)):
            if value is None or isinstance(value, nn.Parameter):
                setattr(self, name, value)
            else:
                self.register_buffer(name, value)  # fixed, e.g. FastCifarNet's unit scale

    def forward(self, X, lengths=None):
        shift = None if self.shift is None else self.shift * self.shift_scale
        if lengths is None or not self.training:
            return F.batch_norm(X, self.running_mean, self.running_var, self.scale, shift,
                                self.training, self.momentum, self.eps)
        return self._ragged(X, lengths, shift)

    def _ragged(self, X, lengths, shift):
        """Model k's statistics from its first ``lengths[k]`` rows; its other rows are padding
        (returned as zeros), and a model without rows keeps its running statistics."""
        channels = X.shape[1] // self.k
        out = []
        for k, n in enumerate(lengths):
            group = slice(k * channels, (k + 1) * channels)
            rows = X[:, group]
            if n == 0:
                out.append(torch.zeros_like(rows))
                continue
            normed = F.batch_norm(
                rows[:n], self.running_mean[group], self.running_var[group],
                None if self.scale is None else self.scale[group],
                None if shift is None else shift[group], True, self.momentum, self.eps)
            if n < len(X):
                normed = torch.cat([normed, rows.new_zeros((len(X) - n, *rows.shape[1:]))])
            out.append(normed)
        return torch.cat(out, dim=1)

    def unstack(self, norms):
        for k, norm in enumerate(norms):
            norm.running_mean.copy_(self.running_mean.chunk(self.k)[k])
            norm.running_var.copy_(self.running_var.chunk(self.k)[k])


def _stacked_bn(norms):
    """A _StackedBatchNorm2d from K nn.BatchNorm2d layers (affine or not)."""
    if norms[0].affine:
        scale = nn.Parameter(torch.cat([n.weight.detach() for n in norms]))
        shift = nn.Parameter(torch.cat([n.bias.detach() for n in norms]))
    else:
        scale = shift = None
    if norms[0].momentum is None:
        raise TypeError("BatchNorm with cumulative averaging (momentum=None) cannot be stacked")
    return _StackedBatchNorm2d(norms, scale, shift)


def _unstack_bn_affine(stacked, norms):
    stacked.unstack(norms)
    if stacked.scale is not None:
        for k, norm in enumerate(norms):
            norm.weight.data.copy_(stacked.scale.data.chunk(stacked.k)[k])
            norm.bias.data.copy_(stacked.shift.data.chunk(stacked.k)[k])


class StackedModule(nn.Module):
    """K models of one built-in architecture trained as one module.

    Built by :func:`stack_modules`. ``forward(X, lengths=None)`` takes inputs
    of shape ``(K, B, ...)`` (model k's batch at index k) and returns logits
    of shape ``(K, B, n_classes)``. When the models' batches differ in
    length, the shorter ones are padded at the end and ``lengths`` (a list
    of K ints) gives each model's real rows: padded rows enter no BatchNorm
    statistic and their logits are meaningless. In eval mode every model
    predicts its own rows as the plain module would.

    Attributes
    ----------
    k : int
        Number of models.
    """

    k = 0

    def unstack(self, modules):
        """Copy the stacked weights and statistics back into K modules of the same kind."""
        raise NotImplementedError


class _StackedMLP(StackedModule):
    def __init__(self, modules):
        super().__init__()
        self.k = len(modules)
        first = modules[0]
        self.dropout = first.net[3].p
        self.hidden = _StackedLinear([m.net[1] for m in modules])
        self.out = _StackedLinear([m.net[4] for m in modules])

    def forward(self, X, lengths=None):
        X = X.float().reshape(X.shape[0], X.shape[1], -1)
        X = F.dropout(F.relu(self.hidden(X)), self.dropout, self.training)
        return self.out(X)

    def unstack(self, modules):
        self.hidden.unstack([m.net[1] for m in modules])
        self.out.unstack([m.net[4] for m in modules])


def _pool(X):
    return F.max_pool2d(X, 2, ceil_mode=True)


class _StackedSmallCNN(StackedModule):
    def __init__(self, modules):
        super().__init__()
        self.k = len(modules)
        self.plan = []
        convs, norms = nn.ModuleList(), nn.ModuleList()
        for position, layer in enumerate(modules[0].features):
            if isinstance(layer, nn.MaxPool2d):
                self.plan.append("pool")
                continue
            blocks = [m.features[position] for m in modules]
            convs.append(_GroupedConv2d([b[0] for b in blocks]))
            norms.append(_stacked_bn([b[1] for b in blocks]))
            self.plan.append("block")
        self.convs, self.norms = convs, norms
        self.head = _StackedLinear([m.head for m in modules])

    def forward(self, X, lengths=None):
        X = _to_grouped(X.float())
        blocks = iter(zip(self.convs, self.norms))
        for step in self.plan:
            if step == "pool":
                X = _pool(X)
            else:
                conv, norm = next(blocks)
                X = F.relu(norm(conv(X), lengths))
        return self.head(_from_grouped(X.mean(dim=(-2, -1)), self.k))

    def unstack(self, modules):
        blocks = [[m.features[i] for m in modules]
                  for i, step in enumerate(self.plan) if step == "block"]
        for conv, norm, layers in zip(self.convs, self.norms, blocks):
            conv.unstack([b[0] for b in layers])
            _unstack_bn_affine(norm, [b[1] for b in layers])
        self.head.unstack([m.head for m in modules])


class _StackedFastCifar(StackedModule):
    def __init__(self, modules):
        super().__init__()
        self.k = len(modules)
        first = modules[0]
        self.tta, self.whiten_eps = first.tta, first.whiten_eps
        self.register_buffer("whiten_weight", torch.cat([m.whiten_weight for m in modules]))
        self.whitened = [m._whitened for m in modules]
        self.whiten_bias = nn.Parameter(torch.cat([m.whiten_bias.detach() for m in modules]))
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        for i in range(len(first.blocks)):
            blocks = [m.blocks[i] for m in modules]
            for name in ("conv1", "conv2"):
                self.convs.append(_GroupedConv2d([getattr(b, name) for b in blocks]))
            for name in ("norm1", "norm2"):
                norms = [getattr(b, name) for b in blocks]
                self.norms.append(_StackedBatchNorm2d(
                    norms, torch.cat([n.scale for n in norms]),
                    nn.Parameter(torch.cat([n.shift.detach() for n in norms])),
                    shift_scale=SHIFT_SCALE))
        self.head = _StackedLinear([m.head for m in modules])

    def _whiten_from(self, X, lengths):
        """Each model's whitening from its first training batch (its own rows)."""
        filters = self.whiten_weight.chunk(self.k)
        for k in range(self.k):
            if self.whitened[k]:
                continue
            rows = X[k] if lengths is None else X[k][:lengths[k]]
            if len(rows):
                filters[k].copy_(whitening_filters(rows, self.whiten_eps).to(filters[k]))
                self.whitened[k] = True

    def _logits(self, X, lengths):
        k = self.k
        X = _to_grouped(X)
        weight = self.whiten_weight.to(X.dtype)
        X = F.gelu(F.conv2d(X, weight, self.whiten_bias.to(X.dtype), groups=k))
        for i in range(0, len(self.convs), 2):
            X = self.convs[i](X)
            if min(X.shape[-2:]) >= 2:
                X = F.max_pool2d(X, 2)
            X = F.gelu(self.norms[i](X, lengths))
            X = F.gelu(self.norms[i + 1](self.convs[i + 1](X), lengths))
        return self.head(_from_grouped(torch.amax(X, dim=(-2, -1)), k)) / 9.0

    def forward(self, X, lengths=None):
        X = X.float()
        if self.training:
            if not all(self.whitened):
                with torch.autocast(X.device.type, enabled=False), torch.no_grad():
                    self._whiten_from(X, lengths)
            return self._logits(X, lengths)
        if self.tta == 0:
            return self._logits(X, None)
        logits = self._mirrored(X)
        if self.tta == 2:
            flat = X.reshape(-1, *X.shape[2:])
            padded = F.pad(flat, (1, 1, 1, 1), mode="reflect")
            h, w = X.shape[-2:]
            shifted = [s.reshape(X.shape) for s in (padded[..., :h, :w], padded[..., 2:, 2:])]
            logits = 0.5 * logits + 0.25 * sum(self._mirrored(s) for s in shifted)
        return logits

    def _mirrored(self, X):
        return 0.5 * (self._logits(X, None) + self._logits(X.flip(-1), None))

    def unstack(self, modules):
        for k, module in enumerate(modules):
            module.whiten_weight.copy_(self.whiten_weight.chunk(self.k)[k])
            module.whiten_bias.data.copy_(self.whiten_bias.data.chunk(self.k)[k])
            module.whitened.fill_(self.whitened[k])
            module._whitened = self.whitened[k]
        for i in range(len(modules[0].blocks)):
            blocks = [m.blocks[i] for m in modules]
            self.convs[2 * i].unstack([b.conv1 for b in blocks])
            self.convs[2 * i + 1].unstack([b.conv2 for b in blocks])
            for norm, name in ((self.norms[2 * i], "norm1"), (self.norms[2 * i + 1], "norm2")):
                layers = [getattr(b, name) for b in blocks]
                norm.unstack(layers)
                for k, layer in enumerate(layers):
                    layer.shift.data.copy_(norm.shift.data.chunk(self.k)[k])
        self.head.unstack([m.head for m in modules])


_STACKERS = {MLP: _StackedMLP, SmallCNN: _StackedSmallCNN, FastCifarNet: _StackedFastCifar}


def stackable(module):
    """Whether :func:`stack_modules` can stack modules of this exact class (or instance).

    Parameters
    ----------
    module : torch.nn.Module or type
        A module, or a module class as a skorch net's ``module`` holds it.

    Returns
    -------
    bool

    See Also
    --------
    stack_modules : stacks such modules.

    Examples
    --------
    >>> from skunseen.models import MLP, cifar_resnet18, stackable
    >>> stackable(MLP), stackable(cifar_resnet18)
    (True, False)
    """
    return (module if isinstance(module, type) else type(module)) in _STACKERS


def stack_modules(modules):
    """K modules of one built-in architecture as one :class:`StackedModule`.

    Parameters
    ----------
    modules : sequence of torch.nn.Module
        At least one module, all of the same class (``MLP``, ``SmallCNN`` or
        ``FastCifarNet``, not subclasses) and the same shapes. Their weights,
        BatchNorm statistics (and FastCifarNet whitening) are copied.

    Returns
    -------
    StackedModule
        On the device of the modules' parameters.

    Raises
    ------
    TypeError
        If the modules are of different classes or of a class that cannot be
        stacked.

    See Also
    --------
    stackable : which modules can be stacked.

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import MLP
    >>> from skunseen.models._stacked import stack_modules
    >>> models = [MLP(4, 3, hidden=8) for _ in range(5)]
    >>> stacked = stack_modules(models)
    >>> X = torch.randn(5, 2, 4)
    >>> torch.allclose(stacked(X)[3], models[3](X[3]), atol=1e-6)
    True
    """
    modules = list(modules)
    kinds = {type(m) for m in modules}
    if len(kinds) != 1 or not modules:
        raise TypeError(f"stack_modules needs modules of one class, got {sorted(map(str, kinds))}")
    kind = kinds.pop()
    if kind not in _STACKERS:
        raise TypeError(f"{kind.__name__} modules cannot be stacked; stackable: "
                        f"{sorted(c.__name__ for c in _STACKERS)}")
    device = next(modules[0].parameters()).device
    return _STACKERS[kind](modules).to(device, memory_format=torch.channels_last)
