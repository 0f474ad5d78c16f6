"""``--dataset imagefolder``: defaults that fit small image folders."""

import json

import numpy as np
import pytest
from PIL import Image

from skunseen.cli import main


def _folder(root, splits):
    rng = np.random.RandomState(0)
    for split in splits:
        for label, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(6):
                pixels = (rng.rand(9, 11, 3) * 100 + 120 * label).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def test_prune_needs_no_test_split_and_keeps_the_image_size(tmp_path):
    folder = _folder(tmp_path / "images", splits=("train",))
    out = tmp_path / "out"
    assert main(["prune", "--dataset", "imagefolder", "--data", str(folder), "--epochs", "1",
                 "--folds", "2", "--keep", "4", "--out", str(out), "-q"]) == 0
    assert len(np.load(out / "coreset.npy")) == 4
    report = json.loads((out / "report.json").read_text())
    assert report["pool"]["n_samples"] == 12 and report["parameters"]["image_size"] is None


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_measuring_test_accuracy_without_a_test_split_is_refused(tmp_path, capsys, command):
    folder = _folder(tmp_path / "images", splits=("train",))
    out = tmp_path / "out"
    assert main([command, "--dataset", "imagefolder", "--data", str(folder),
                 "--out", str(out), "-q"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"skunseen {command}: error: --data {folder} has no test/ or val/ "
                            f"folder; `skunseen {command}` measures test accuracy")
    assert not out.exists()
