"""``--classes``: a token that names a class is that class, never a position."""

import json

import pytest

from helpers import image_folder
from skunseen.cli import main


def pruned_classes(tmp_path, names, classes, dataset="imagefolder"):
    root = image_folder(tmp_path / "data", names, n_train=4)
    out = tmp_path / "run"
    code = main(["prune", "--dataset", dataset, "--data", str(root), "--classes", classes,
                 "--selector", "random", "--keep", "0.5", "-q", "--out", str(out)])
    return code, (json.loads((out / "report.json").read_text())["per_class"]
                  if code == 0 else None)


def test_classes_named_by_numbers_are_read_as_names(tmp_path):
    # Sorted as text, the folders are 0, 1, 10, 11, 2, ...: position 2 is "10".
    code, per_class = pruned_classes(tmp_path, [str(k) for k in range(12)], "2,10")
    assert code == 0 and list(per_class) == ["2", "10"]


def test_positions_still_pick_classes_named_by_words(tmp_path):
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    code, per_class = pruned_classes(tmp_path, names, "3,ship,0", dataset="cifar10")
    assert code == 0 and list(per_class) == ["cat", "ship", "airplane"]


@pytest.mark.parametrize("names, classes, message", [
    ([str(k) for k in range(12)], "0,12",
     "--classes 12: no class has this name (where classes are named by numbers, a number is "
     "a name, not a position); the classes are 0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9"),
    (["ant", "bee", "cat"], "ant,3", "--classes 3: there are 3 classes, so positions run "
                                     "from 0 to 2"),
    (["ant", "bee", "cat"], "ant,wasp", "--classes wasp: no class has this name; the classes "
                                        "are ant, bee, cat"),
    (["ant", "bee", "cat"], "1,bee", "--classes 1,bee names a class twice (bee, bee)"),
])
def test_classes_that_name_nothing_or_twice_are_refused(tmp_path, capsys, names, classes,
                                                        message):
    code, _ = pruned_classes(tmp_path, names, classes)
    assert code == 2
    assert capsys.readouterr().err == f"skunseen prune: error: {message}\n"
    assert not (tmp_path / "run").exists()


def test_a_single_class_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--classes", "3", "--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    assert "needs at least two classes" in capsys.readouterr().err


def test_a_class_listed_twice_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--classes", "3,3", "--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    assert "argument --classes: lists a class twice: 3,3" in capsys.readouterr().err
