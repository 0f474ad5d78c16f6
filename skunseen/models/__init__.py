"""Models for scoring and evaluating coresets: torch modules, skorch net
factories and the device-resident fast path for in-memory image data."""

from ._device import resolve_device
from ._factory import MODEL_NAMES, FastNetClassifier, make_net
from ._fastcifar import FastCifarNet, TriangularLR
from ._fast_path import (
    ArrayIndexView,
    DeviceEvalIterator,
    DeviceTrainIterator,
    clear_device_cache,
)
from ._nets import MLP, SmallCNN, cifar_resnet18
from ._stacked import stack_modules, stackable

__all__ = [
    "MODEL_NAMES",
    "ArrayIndexView",
    "DeviceEvalIterator",
    "DeviceTrainIterator",
    "FastCifarNet",
    "FastNetClassifier",
    "MLP",
    "SmallCNN",
    "TriangularLR",
    "cifar_resnet18",
    "clear_device_cache",
    "make_net",
    "resolve_device",
    "stack_modules",
    "stackable",
]
