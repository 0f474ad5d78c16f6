"""``load_image_folder``: image size taken from the images, a test split only when present."""

import numpy as np
import pytest
from PIL import Image

from skunseen.datasets import load_image_folder


def _folder(root, splits=("train",), size=(10, 12)):
    """Two classes of three images (``size`` is PIL's (width, height))."""
    for split in splits:
        for label, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", size, (100 * label, 20 * i, 0)).save(
                    root / split / name / f"{i}.png")
    return root


def test_default_size_is_the_first_training_image(tmp_path):
    root = _folder(tmp_path, splits=("train", "test"))
    # Another size later in the listing is resized to the first image's size.
    Image.new("RGB", (30, 7)).save(root / "train" / "bee" / "9.png")
    X_train, y_train, X_test, _ = load_image_folder(root)
    assert {tuple(X_train[i][0].shape) for i in range(len(X_train))} == {(3, 12, 10)}
    assert tuple(X_test[0][0].shape) == (3, 12, 10)
    assert tuple(load_image_folder(root, image_size=8).X_train[6][0].shape) == (3, 8, 8)


def test_a_folder_without_test_split_loads_for_pruning(tmp_path):
    X_train, y_train, X_test, y_test = data = load_image_folder(_folder(tmp_path), limit=4)
    assert len(X_train) == 4 and np.bincount(y_train).tolist() == [2, 2]
    assert len(X_test) == 0 and y_test.dtype == np.int64 and len(y_test) == 0
    assert data.classes == ["ant", "bee"]


@pytest.mark.parametrize("make, message", [
    (lambda root: root, "train"),
    (lambda root: (root / "train" / "ant").mkdir(parents=True), "no images"),
])
def test_a_folder_without_training_images_is_named(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(FileNotFoundError, match=message):
        load_image_folder(tmp_path)
