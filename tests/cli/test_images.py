"""``skunseen prune`` and ``skunseen evaluate`` on image data."""

import json

import numpy as np
import pytest
from PIL import Image

from helpers import CIFAR_ARCHIVE, NO_CIFAR
from skunseen.cli import main


def _run(*args):
    assert main([*map(str, args), "-q"]) == 0


def _read(path):
    return json.loads(path.read_text())


@pytest.mark.skipif(not CIFAR_ARCHIVE.is_file(),
                    reason=NO_CIFAR)
def test_cifar10_prune_then_evaluate_on_a_500_image_pool(tmp_path):
    data = ["--dataset", "cifar10", "--data", CIFAR_ARCHIVE, "--limit", 500, "--model", "cnn"]
    _run("prune", *data, "--epochs", 1, "--folds", 3, "--keep", 0.5, "--seed", 0,
         "--out", tmp_path)
    coreset = np.load(tmp_path / "coreset.npy")
    report = _read(tmp_path / "report.json")
    assert len(coreset) == 250 and coreset.max() < 500
    assert report["pool"]["n_samples"] == 500
    assert report["per_class"]["airplane"]["total"] == 50  # stratified pool
    _run("evaluate", *data, "--test-limit", 200, "--coreset", tmp_path / "coreset.npy",
         "--epochs", 1, "--seed", 3, "--out", tmp_path)
    result = _read(tmp_path / "eval.json")
    assert 0 <= result["test_accuracy"] <= 1
    assert (result["n_train"], result["n_pool"], result["n_test"]) == (250, 500, 200)
    assert result["model"] == "SmallCNN" and result["parameters"]["seed"] == 3
    assert result["seconds"]["train"] > 0 and result["n_parameters"] > 0


def test_digits_coreset_lines_up_across_models_and_seeds(tmp_path):
    pool = ["--dataset", "digits", "--limit", 300]
    # A CNN on 1x8x8 images scores the pool; an MLP on the 64 flat features of
    # the same rows is evaluated on the coreset, twice with the same seed.
    _run("prune", *pool, "--model", "cnn", "--epochs", 1, "--folds", 3, "--keep", 0.3,
         "--seed", 5, "--out", tmp_path / "prune")
    coreset = tmp_path / "prune" / "coreset.npy"
    for out in ("a", "b"):
        _run("evaluate", *pool, "--coreset", coreset, "--epochs", 2, "--seed", 1,
             "--out", tmp_path / out)
    a, b = _read(tmp_path / "a" / "eval.json"), _read(tmp_path / "b" / "eval.json")
    assert a["test_accuracy"] == b["test_accuracy"] and a["model"] == "MLP"
    assert a["n_train"] == 90 and a["n_test"] == 450
    assert a["pool"] == _read(tmp_path / "prune" / "report.json")["pool"]


def test_evaluate_with_the_fast_cifar_net(tmp_path):
    pool = ["--dataset", "digits", "--limit", 200]
    _run("prune", *pool, "--epochs", 1, "--folds", 2, "--keep", 0.5, "--out", tmp_path)
    _run("evaluate", *pool, "--model", "fastcifar", "--coreset", tmp_path / "coreset.npy",
         "--epochs", 2, "--out", tmp_path)
    result = _read(tmp_path / "eval.json")
    assert result["model"] == "FastCifarNet" and result["n_train"] == 100
    assert 0 <= result["test_accuracy"] <= 1


@pytest.mark.cuda
@pytest.mark.skipif(not CIFAR_ARCHIVE.is_file(),
                    reason=NO_CIFAR)
def test_cifar10_prune_and_evaluate_fastcifar_on_cuda(tmp_path):
    data = ["--dataset", "cifar10", "--data", CIFAR_ARCHIVE, "--limit", 2000,
            "--model", "fastcifar", "--device", "cuda"]
    _run("prune", *data, "--epochs", 2, "--folds", 3, "--keep", 0.5, "--out", tmp_path)
    # 1,000 rows at the recipe's batch of 1024 give one optimizer step per epoch:
    # 12 steps reach 31 % on the CPU (4 steps: 19 %); chance is 10 %
    _run("evaluate", *data, "--test-limit", 1000, "--coreset", tmp_path / "coreset.npy",
         "--epochs", 12, "--out", tmp_path)
    result = _read(tmp_path / "eval.json")
    assert result["model"] == "FastCifarNet" and result["n_train"] == 1000
    assert result["test_accuracy"] > 0.2


def test_evaluate_refuses_a_coreset_of_another_pool(tmp_path, capsys):
    _run("prune", "--limit", 200, "--epochs", 1, "--folds", 2, "--out", tmp_path)
    code = main(["evaluate", "--limit", "200", "--pool-seed", "1", "--epochs", "1",
                 "--coreset", str(tmp_path / "coreset.npy"), "--out", str(tmp_path), "-q"])
    assert code == 2
    assert "another pool" in capsys.readouterr().err


def test_streamed_image_folder_prune_and_evaluate(tmp_path):
    rng = np.random.RandomState(0)
    for split, n in (("train", 6), ("val", 2)):
        for label, name in enumerate(("ant", "bee")):
            (tmp_path / "images" / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = (rng.rand(12, 10, 3) * 100 + 120 * label).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / "images" / split / name / f"{i}.png")
    data = ["--dataset", "imagefolder", "--data", tmp_path / "images", "--image-size", 8]
    _run("prune", *data, "--epochs", 1, "--folds", 2, "--keep", 6, "--out", tmp_path)
    assert len(np.load(tmp_path / "coreset.npy")) == 6
    _run("evaluate", *data, "--coreset", tmp_path / "coreset.npy", "--epochs", 1,
         "--out", tmp_path)
    assert _read(tmp_path / "eval.json")["n_test"] == 4


@pytest.mark.parametrize("args, message", [
    (["prune", "--dataset", "cifar10"], "needs --data"),
    (["prune", "--dataset", "digits", "--data", "x"], "takes no --data"),
    (["prune", "--dataset", "cifar100", "--data", "/nonexistent/cifar"], "does not exist"),
    (["prune", "--dataset", "digits", "--device", "cuda:99"], "cuda"),
])
def test_bad_data_options_fail_with_a_message(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path), "-q"]) == 2
    assert message in capsys.readouterr().err


def image_folder(root, per_class=6, classes=("ant", "bee")):
    rng = np.random.RandomState(0)
    for split, n in (("train", per_class), ("val", 2)):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = (rng.rand(12, 10, 3) * 100 + 120 * label).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def test_evaluate_refuses_a_pool_with_the_same_labels_but_other_rows(tmp_path, capsys):
    # Folders list their images by class: any stratified pool of 4 has labels
    # [0, 0, 1, 1], whatever --pool-seed drew.
    data = ["--dataset", "imagefolder", "--data", image_folder(tmp_path / "images"),
            "--image-size", 8, "--limit", 4]
    _run("prune", *data, "--epochs", 1, "--folds", 2, "--keep", 2, "--out", tmp_path / "p")
    code = main(["evaluate", *map(str, data), "--pool-seed", "1", "--epochs", "1", "-q",
                 "--coreset", str(tmp_path / "p" / "coreset.npy"), "--out", str(tmp_path)])
    assert code == 2 and "another pool" in capsys.readouterr().err
    _run("evaluate", *data, "--epochs", 1, "--coreset", tmp_path / "p" / "coreset.npy",
         "--out", tmp_path)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_a_cifar_dataset_must_have_its_number_of_classes(tmp_path, capsys, dataset):
    folder = image_folder(tmp_path / "images")
    code = main(["prune", "--dataset", dataset, "--data", str(folder), "--out",
                 str(tmp_path / "out"), "-q"])
    expected = {"cifar10": 10, "cifar100": 100}[dataset]
    assert code == 2
    assert (f"--dataset {dataset} has {expected} classes, but --data {folder} holds 2"
            in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
