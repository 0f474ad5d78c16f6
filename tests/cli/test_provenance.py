"""Every file the command line writes belongs to one pool and one run, and says so."""

import json
import os
import shutil

import numpy as np
import pytest

from helpers import image_folder
from skunseen.cli import main
from skunseen.cli._runs import rows_digest

POOL = ["--limit", "150", "-q"]


def prune(out, *options):
    assert main(["prune", *POOL, "--folds", "2", "--epochs", "1", *options, "--out",
                 str(out)]) == 0


def evaluate(coreset, out, *options):
    return main(["evaluate", *POOL, "--test-limit", "60", "--epochs", "1", "--coreset",
                 str(coreset), *options, "--out", str(out)])


def error_of(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One finished prune run on 150 digits."""
    out = tmp_path_factory.mktemp("prune") / "run"
    prune(out)
    return out


def test_a_coreset_carries_the_record_of_its_pool_and_run(run, tmp_path):
    record = json.loads((run / "coreset.json").read_text())
    rows = np.load(run / "coreset.npy")
    report = json.loads((run / "report.json").read_text())
    assert record["rows"] == "coreset.npy" and record["n_rows"] == len(rows)
    assert record["rows_sha256"] == rows_digest(rows)
    assert record["pool"] == report["pool"] and record["pool"]["limit"] == 150
    assert record["run"] == {"command": "prune", "id": report["run_id"], "coreset": "coreset"}
    assert evaluate(run / "coreset.npy", tmp_path / "ev") == 0
    evaluation = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert evaluation["coreset"] == {"path": str((run / "coreset.npy").resolve()),
                                     "run_id": report["run_id"],
                                     "rows_sha256": record["rows_sha256"]}


@pytest.mark.parametrize("options, differences", [
    (["--limit", "300"], ["--limit 150 there, 300 here"]),
    (["--pool-seed", "1"], ["--pool-seed 0 there, 1 here"]),
    (["--limit", "300", "--pool-seed", "1"],
     ["--limit 150 there, 300 here", "--pool-seed 0 there, 1 here"]),
    (["--classes", "3,8"], ["--classes (not given) there, 3,8 here"]),
])
def test_evaluate_refuses_a_coreset_of_another_pool_naming_what_differs(
        run, tmp_path, capsys, options, differences):
    out = tmp_path / "ev"
    assert evaluate(run / "coreset.npy", out, *options) == 2
    err = error_of(capsys)
    assert f"--coreset {run / 'coreset.npy'} belongs to another pool" in err
    assert "; ".join(differences) in err
    assert not out.exists()


def test_options_that_draw_the_same_pool_are_the_same_pool(tmp_path):
    # Without --limit no subset is drawn, so --pool-seed changes nothing; the
    # classes are all of them, in order, whether named or not.
    assert main(["prune", "--selector", "random", "-q", "--out", str(tmp_path / "run")]) == 0
    assert main(["evaluate", "--pool-seed", "1", "--classes", "0,1,2,3,4,5,6,7,8,9", "--epochs",
                 "1", "--test-limit", "60", "--coreset", str(tmp_path / "run" / "coreset.npy"),
                 "-q", "--out", str(tmp_path / "ev")]) == 0


def test_the_same_data_at_another_path_is_the_same_pool_and_changed_data_is_not(
        tmp_path, capsys):
    images = image_folder(tmp_path / "images", [f"c{k}" for k in range(10)], n_train=3)
    data = ["--dataset", "cifar10", "--keep", "10", "-q"]
    assert main(["prune", *data, "--data", str(images), "--selector", "random",
                 "--out", str(tmp_path / "run")]) == 0
    coreset = tmp_path / "run" / "coreset.npy"
    shutil.copytree(images, tmp_path / "copy")
    assert main(["evaluate", *data[:2], "--data", str(tmp_path / "copy"), "--epochs", "1",
                 "--coreset", str(coreset), "-q", "--out", str(tmp_path / "ev")]) == 0
    os.remove(images / "train" / "c3" / "1.png")
    assert main(["evaluate", *data[:2], "--data", str(images), "--epochs", "1", "--coreset",
                 str(coreset), "-q", "--out", str(tmp_path / "ev2")]) == 2
    assert "the data at --data changed since" in error_of(capsys)


def test_a_coreset_without_its_record_or_with_other_rows_is_refused(run, tmp_path, capsys):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(run / "coreset.npy", alone / "coreset.npy")
    assert evaluate(alone / "coreset.npy", tmp_path / "ev") == 2
    assert "has no coreset.json beside it" in error_of(capsys)
    shutil.copy(run / "coreset.json", alone / "coreset.json")
    np.save(alone / "coreset.npy", np.load(run / "coreset.npy")[:-1])
    assert evaluate(alone / "coreset.npy", tmp_path / "ev") == 2
    assert "does not hold the rows its record coreset.json describes" in error_of(capsys)
    (alone / "coreset.json").write_text("{")
    assert evaluate(alone / "coreset.npy", tmp_path / "ev") == 2
    assert "its record" in error_of(capsys)
    assert not (tmp_path / "ev").exists()


def forged(run, folder, rows):
    """``rows`` saved with a record that vouches for them, as if prune had written them."""
    folder.mkdir()
    np.save(folder / "coreset.npy", rows)
    record = json.loads((run / "coreset.json").read_text())
    record["rows_sha256"] = rows_digest(rows)
    (folder / "coreset.json").write_text(json.dumps(record))
    return folder / "coreset.npy"


@pytest.mark.parametrize("content, message", [
    (lambda path: np.savez(path.with_suffix(""), rows=np.arange(3)) or
     os.replace(path.with_suffix(".npz"), path), "is an .npz or other zip archive"),
    (lambda path: path.write_text("0\n1\n2\n"), "is not a .npy file"),
    (lambda path: np.save(path, np.array([0, "a"], dtype=object)), "holds Python objects"),
    (lambda path: path.write_bytes(b"\x93NUMPY\x01\x00"), "is damaged"),
    (lambda path: np.save(path, np.zeros((2, 3), dtype=np.int64)),
     "must hold a 1-D array of integer row indices, got int64 of shape (2, 3)"),
    (lambda path: np.save(path, np.array([0.0, 1.0])), "got float64 of shape (2,)"),
    (lambda path: np.save(path, np.array([True, False])), "got bool of shape (2,)"),
    (lambda path: np.save(path, np.array([], dtype=np.int64)), "holds no rows"),
    (lambda path: np.save(path, np.array([4, 1, 4])), "lists rows more than once, e.g. [4]"),
])
def test_coreset_files_are_checked_as_files(tmp_path, capsys, content, message):
    path = tmp_path / "coreset.npy"
    content(path)
    assert evaluate(path, tmp_path / "ev") == 2
    err = error_of(capsys)
    assert f"--coreset {path} " in err and message in err
    assert "allow_pickle" not in err


def test_rows_outside_the_pool_are_refused(run, tmp_path, capsys):
    path = forged(run, tmp_path / "forged", np.array([0, 150]))
    assert evaluate(path, tmp_path / "ev") == 2
    assert "has rows outside the pool of 150 samples (from 0 to 150)" in error_of(capsys)


def test_a_coreset_must_be_the_npy_file(run, tmp_path, capsys):
    assert evaluate(run / "coreset.csv", tmp_path / "ev") == 2
    assert "is not a .npy file; it must be a .npy file of row indices" in error_of(capsys)


def test_a_prune_that_fails_while_writing_leaves_no_coreset(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    save = np.save

    def disk_full(file, array, *args, **kwargs):
        if str(file).endswith("scores.npy"):
            raise OSError(28, "No space left on device")
        return save(file, array, *args, **kwargs)

    monkeypatch.setattr(np, "save", disk_full)
    assert main(["prune", *POOL, "--folds", "2", "--epochs", "1", "--out", str(out)]) == 2
    assert "No space left on device" in error_of(capsys)
    # Only the store of finished scoring models, which a rerun resumes from.
    assert not out.exists() or {path.name for path in out.iterdir()} <= {"checkpoints"}


def test_a_failed_rerun_leaves_no_coreset_that_looks_complete(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    prune(out)
    replace = os.replace

    def fail_on_report(source, target):
        if str(target).endswith("report.json"):
            raise OSError(5, "Input/output error")
        return replace(source, target)

    monkeypatch.setattr(os, "replace", fail_on_report)
    assert main(["prune", *POOL, "--folds", "2", "--epochs", "1", "--seed", "3", "--out",
                 str(out)]) == 2
    assert "Input/output error" in error_of(capsys)
    left = sorted(path.name for path in out.iterdir())
    assert not {"coreset.json", "report.json"} & set(left)
    monkeypatch.undo()
    assert evaluate(out / "coreset.npy", tmp_path / "ev") == 2


def test_an_out_folder_that_cannot_take_the_results_is_refused_before_training(
        tmp_path, capsys):
    (tmp_path / "run" / "scores.png").mkdir(parents=True)
    assert main(["prune", *POOL, "--out", str(tmp_path / "run")]) == 2
    assert "holds a folder named scores.png, where prune writes its file" in error_of(capsys)
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "coresets").write_text("")
    assert main(["compare", *POOL, "--methods", "random", "--out", str(tmp_path / "cmp")]) == 2
    assert "holds a file named coresets, where compare writes its folder" in error_of(capsys)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A prune run and one evaluation of its coreset, written with relative paths."""
    base = tmp_path_factory.mktemp("runs")
    cwd = os.getcwd()
    os.chdir(base)
    try:
        prune("runs/p1")
        assert evaluate("runs/p1/coreset.npy", "runs/e1") == 0
    finally:
        os.chdir(cwd)
    return base / "runs"


def report_row(out, run="p1"):
    line = next(line for line in (out / "report.md").read_text().splitlines()
                if line.startswith(f"| {run} "))
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@pytest.mark.parametrize("given", [
    ["p1", "e1"],
    ["p1", "e1", "e1/"],
    ["p1", "p1/", "e1", "./e1"],
    ["p1", "e1", "e1-link"],
    ["p1", "e1", "e1-copy"],
])
def test_report_counts_each_run_once(evaluated, tmp_path, given):
    if not (evaluated / "e1-link").exists():
        (evaluated / "e1-link").symlink_to(evaluated / "e1")
        shutil.copytree(evaluated / "e1", evaluated / "e1-copy")
    assert main(["report", *(f"{evaluated}/{name}" for name in given), "--out",
                 str(tmp_path / "rep")]) == 0
    assert report_row(tmp_path / "rep")[8] == "1"


def test_report_matches_evaluations_wherever_the_folders_moved(evaluated, tmp_path,
                                                              monkeypatch):
    moved = tmp_path / "elsewhere"
    shutil.copytree(evaluated, moved)
    monkeypatch.chdir(tmp_path)  # not where the relative --coreset was given
    assert main(["report", "elsewhere/p1", "elsewhere/e1", "--out", "rep"]) == 0
    accuracy = json.loads((moved / "e1" / "eval.json").read_text())["test_accuracy"]
    assert report_row(tmp_path / "rep")[7:9] == [f"{100 * accuracy:.2f}", "1"]
