"""Torch modules used as scoring and evaluation models.

All modules return raw logits; the skorch nets built by
:func:`skunseen.models.make_net` pair them with ``CrossEntropyLoss`` so that
``predict_proba`` applies the softmax. Their classifier heads are
:class:`Float32Linear`: the logits, and every score computed from them, are
float32 also when the rest of the net runs under bf16 autocast.
"""

import torch
from torch import nn

__all__ = ["Float32Linear", "MLP", "SmallCNN", "cifar_resnet18"]


class Float32Linear(nn.Linear):
    """A ``torch.nn.Linear`` that computes in float32, also under autocast.

    Under bf16 autocast a ``Linear`` layer runs in bf16, whose 8-bit mantissa
    keeps about three significant digits of a logit: held-out scores read
    from such logits flip the ``correct`` statistic of samples near the
    decision boundary and tie margins. As a classifier head this layer takes
    its input in float32 and runs outside autocast; the head is a small part
    of a net's compute. Without autocast it is an ``nn.Linear`` (same
    parameters, same initialisation, same ``state_dict``).

    Parameters
    ----------
    in_features, out_features : int
        As for ``torch.nn.Linear``.
    bias : bool, default=True
        As for ``torch.nn.Linear``.
    device, dtype : default=None
        As for ``torch.nn.Linear``.

    See Also
    --------
    FastCifarNet : uses it as its head, as do MLP, SmallCNN and cifar_resnet18.

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import Float32Linear
    >>> head = Float32Linear(4, 3)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     head(torch.randn(2, 4).bfloat16()).dtype
    torch.float32
    """

    def forward(self, X):
        return in_float32(super().forward, X)


def in_float32(function, X):
    """``function(X)`` with X in float32 and autocast off for X's device."""
    X = X.float()
    if torch.is_autocast_enabled(X.device.type):
        with torch.autocast(X.device.type, enabled=False):
            return function(X)
    return function(X)


class MLP(nn.Module):
    """One-hidden-layer perceptron for tabular (or flattened) inputs.

    Parameters
    ----------
    n_features : int
        Number of input features. Inputs with more than two dimensions are
        flattened, so ``(n, 1, 8, 8)`` images work with ``n_features=64``.
    n_classes : int
        Number of output logits.
    hidden : int, default=128
        Width of the hidden layer.
    dropout : float, default=0.0
        Dropout probability after the hidden activation.

    See Also
    --------
    SmallCNN : the default module for image inputs.
    make_net : builds a skorch net around this module (``model="mlp"``).

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import MLP
    >>> MLP(n_features=4, n_classes=3)(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features, n_classes, hidden=128, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            Float32Linear(hidden, n_classes),
        )

    def forward(self, X):
        # skorch hands over float64 when users pass float64 numpy arrays
        return self.net(X.float())


def _conv_block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Small, fast convolutional net for scoring image datasets.

    Three 3x3 conv + BatchNorm + ReLU blocks (each block but the first is
    preceded by 2x2 max-pooling), global average pooling and a linear head.
    Works for any spatial size from 1x1 upwards, e.g. 8x8 digits and 32x32
    CIFAR images.

    Parameters
    ----------
    in_channels : int
        Number of input channels.
    n_classes : int
        Number of output logits.
    widths : tuple of int, default=(32, 64, 128)
        Output channels of the conv blocks.

    See Also
    --------
    MLP : the default module for tabular inputs.
    cifar_resnet18 : a larger image model.
    make_net : builds a skorch net around this module (``model="cnn"``).

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import SmallCNN
    >>> SmallCNN(in_channels=3, n_classes=10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels, n_classes, widths=(32, 64, 128)):
        super().__init__()
        layers = []
        c_in = in_channels
        for i, width in enumerate(widths):
            if i > 0:
                # ceil_mode keeps odd and 1-pixel feature maps non-empty
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            layers.append(_conv_block(c_in, width))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = Float32Linear(c_in, n_classes)

    def forward(self, X):
        X = self.features(X.float())
        return self.head(torch.flatten(self.pool(X), 1))


def cifar_resnet18(n_classes, in_channels=3):
    """ResNet-18 adapted to 32x32 inputs (the usual CIFAR variant).

    torchvision's ResNet-18 with its 7x7 stride-2 stem replaced by a 3x3
    stride-1 convolution and without the stem max-pool, so that 32x32 images
    are not reduced to 1x1 before the last stage.

    Parameters
    ----------
    n_classes : int
        Number of output logits.
    in_channels : int, default=3
        Number of input channels.

    Returns
    -------
    torchvision.models.ResNet

    See Also
    --------
    SmallCNN : a small, fast image model.
    make_net : builds a skorch net around this model (``model="resnet18"``).

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import cifar_resnet18
    >>> cifar_resnet18(10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=n_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    # The float32 head takes over the weights torchvision initialised, drawing nothing.
    head = nn.utils.skip_init(Float32Linear, model.fc.in_features, n_classes)
    head.load_state_dict(model.fc.state_dict())
    model.fc = head
    return model
