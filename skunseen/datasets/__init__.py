"""Dataset loaders returning ``(X_train, y_train, X_test, y_test)``.

In-memory images are uint8 arrays of shape (n, C, H, W) (float32 for
digits); streamed folders are torch Datasets with numpy label arrays. All
loaders take ``limit=`` / ``test_limit=`` (stratified subsets seeded by
``pool_seed``) and ``classes=`` (selection, relabelled in the given order).
"""

from ._archive import load_image_archive
from ._cifar import load_cifar10, load_cifar100
from ._common import TrainTestData, stratified_subset
from ._digits import load_digits_images
from ._imagefolder import IMAGENET_MEAN, IMAGENET_STD, load_image_folder

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TrainTestData",
    "load_cifar10",
    "load_cifar100",
    "load_digits_images",
    "load_image_archive",
    "load_image_folder",
    "stratified_subset",
]
