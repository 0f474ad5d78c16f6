"""Models for scoring and evaluating coresets: torch modules, skorch net
factories and the device-resident fast path for in-memory image data."""

from ._device import check_device, gpus_in_use, resolve_device, to_device, visible_gpus
from ._factory import MODEL_NAMES, FastNetClassifier, make_net
from ._fastcifar import FastCifarNet, TriangularLR
from ._fast_path import (
    ArrayIndexView,
    DeviceEvalIterator,
    DeviceTrainIterator,
    clear_device_cache,
)
from ._nets import MLP, Float32Linear, SmallCNN, cifar_resnet18
from ._stacked import stack_modules, stackable

__all__ = [
    "MODEL_NAMES",
    "ArrayIndexView",
    "DeviceEvalIterator",
    "DeviceTrainIterator",
    "FastCifarNet",
    "FastNetClassifier",
    "Float32Linear",
    "MLP",
    "SmallCNN",
    "TriangularLR",
    "check_device",
    "cifar_resnet18",
    "clear_device_cache",
    "gpus_in_use",
    "make_net",
    "resolve_device",
    "stack_modules",
    "stackable",
    "to_device",
    "visible_gpus",
]
