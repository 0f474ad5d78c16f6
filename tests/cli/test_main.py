import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from helpers import image_folder
from skunseen.cli import main
from skunseen._names import MODELS, SCORERS, SELECTORS
from skunseen.datasets import load_digits_images

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("method", ["unseen", "fitting"])
def test_prune_writes_the_coreset_and_report(tmp_path, method):
    out = tmp_path / method
    folds = ["--folds", "3"] if method == "unseen" else []
    code = main(["prune", "--dataset", "digits", "--keep", "0.3", "--method", method,
                 "--epochs", "2", *folds, "--seed", "1", "--out", str(out), "-q"])
    assert code == 0
    coreset = np.load(out / "coreset.npy")
    scores = np.load(out / "scores.npy")
    report = json.loads((out / "report.json").read_text())
    assert coreset.dtype == np.int64
    assert len(coreset) == report["n_selected"] == round(0.3 * report["n_samples"])
    assert len(np.unique(coreset)) == len(coreset)
    assert scores.shape == (report["n_samples"],)
    assert sum(c["kept"] for c in report["per_class"].values()) == len(coreset)
    assert report["parameters"]["method"] == method
    assert report["scores"][method]["std"] == pytest.approx(scores.std())
    assert (out / "scores.png").stat().st_size > 1000


def test_compare_plots_both_and_same_seed_same_coreset(tmp_path):
    args = ["prune", "--keep", "40", "--epochs", "2", "--folds", "3", "--seed", "0", "-q"]
    assert main([*args, "--compare", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert set(report["scores"]) == {"unseen", "fitting"}
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "coreset.npy"),
                                  np.load(tmp_path / "b" / "coreset.npy"))




def test_console_script_is_installed():
    executable = shutil.which("skunseen")
    assert executable, "pip install -e . puts the `skunseen` command on PATH"
    result = subprocess.run([executable, "prune", "--help"], capture_output=True, text=True,
                            check=True)
    assert "--keep" in result.stdout


def test_report_puts_runs_side_by_side(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--keep", "0.3", "--epochs", "2", "-q"]
    assert main(["prune", *common, "--folds", "3", "--out", "unseen"]) == 0
    assert main(["prune", *common, "--method", "fitting", "--out", "fitting"]) == 0
    for seed in (0, 1):
        assert main(["evaluate", "--coreset", "unseen/coreset.npy", "--epochs", "2",
                     "--seed", str(seed), "--out", f"eval{seed}", "-q"]) == 0
    assert main(["report", "unseen", "fitting", "eval0", "eval1", "--out", "report"]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| unseen")
            or line.startswith("| fitting")]
    assert len(rows) == 2
    accuracies = [json.loads((tmp_path / f"eval{s}" / "eval.json").read_text())["test_accuracy"]
                  for s in (0, 1)]
    cells = [cell.strip() for cell in rows[0].split("|")[1:-1]]
    assert cells[7:9] == [f"{100 * np.mean(accuracies):.2f} ± "
                          f"{100 * np.std(accuracies, ddof=1):.2f}", "2"]
    assert rows[1].split("|")[8].strip() == ""  # the fitting coreset was not evaluated
    assert "<table>" in (tmp_path / "report" / "report.html").read_text()
    assert (tmp_path / "report" / "scores.png").stat().st_size > 1000


def test_report_rejects_unknown_folders(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "neither report.json" in capsys.readouterr().err


def _csv_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_coreset_csv_maps_digits_rows_back_to_load_digits(tmp_path):
    out = tmp_path / "run"
    assert main(["prune", "--classes", "3,8", "--keep", "20", "--epochs", "1", "--folds", "2",
                 "--out", str(out), "-q"]) == 0
    coreset = np.load(out / "coreset.npy")
    rows = _csv_rows(out / "coreset.csv")
    assert [int(row["pool_row"]) for row in rows] == coreset.tolist()
    # the pool is the training split of load_digits_images() with digits 3 and 8 relabelled
    pool = load_digits_images(classes=[3, 8])
    digits = load_digits()
    for row in rows:
        source = int(row["source_index"])
        assert row["class"] == str(digits.target[source]) == pool.classes[int(row["label"])]
        np.testing.assert_array_equal(
            pool.X_train[int(row["pool_row"])].ravel(), digits.images[source].ravel() / 16)
    report = json.loads((out / "report.json").read_text())
    assert set(report["per_class"]) == {"3", "8"}


def test_coreset_csv_names_the_files_of_an_image_folder(tmp_path):
    # --dataset cifar10 wants 10 classes; the extra ones sort after "ship".
    image_folder(tmp_path / "images", ("cat", "dog", "ship", *(f"x{k}" for k in range(7))),
                 n_train=5, n_test=2)
    out = tmp_path / "run"
    assert main(["prune", "--dataset", "cifar10", "--data", str(tmp_path / "images"),
                 "--classes", "ship,cat", "--selector", "random", "--keep", "6", "--seed", "2",
                 "--out", str(out), "-q"]) == 0
    rows = _csv_rows(out / "coreset.csv")
    assert len(rows) == 6
    for row in rows:
        assert row["file"] == f"train/{row['class']}/{row['file'][-5:]}"
        assert (tmp_path / "images" / row["file"]).is_file()
        # labels follow --classes: "0" is ship, the first class named
        assert row["class"] == ["ship", "cat"][int(row["label"])]
        # the index counts all training images in class order: cat 0-4, dog 5-9, ship 10-14
        folder = {"cat": 0, "dog": 5, "ship": 10}[row["class"]]
        assert int(row["source_index"]) == folder + int(row["file"][-5])
    report = json.loads((out / "report.json").read_text())
    assert report["per_class"] == {"ship": {"total": 5, "kept": 3}, "cat": {"total": 5, "kept": 3}}


def test_random_selector_trains_no_scoring_model(tmp_path, monkeypatch):
    import skunseen

    def no_fit(*args, **kwargs):
        raise AssertionError("a scoring model was trained")

    monkeypatch.setattr(skunseen.UnseenPruner, "fit", no_fit)
    out = tmp_path / "random"
    assert main(["prune", "--selector", "random", "--keep", "0.2", "--seed", "4", "--out",
                 str(out), "-q"]) == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "coreset.csv", "coreset.json", "coreset.npy", "report.json"]
    assert json.loads((out / "report.json").read_text())["method"] == "random"


def test_help_lists_every_scorer_and_selector_on_its_own_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["prune", "--help"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for name, summary in [*SCORERS.items(), *SELECTORS.items()]:
        assert any(line.split() == [name, *summary.split()] for line in lines), name
    assert "fold redraws whose scores are averaged (default 1)" in " ".join(
        " ".join(lines).split())


def test_cli_names_are_the_registered_ones():
    from skunseen.models import MODEL_NAMES
    from skunseen.scores import available_scorers
    from skunseen.selection import available_selectors

    assert set(SCORERS) == set(available_scorers())
    assert set(SELECTORS) == set(available_selectors())
    assert MODEL_NAMES == tuple(MODELS)


# Run in a fresh interpreter: does the command answer before torch is imported?
_PROBE = """
import sys
from skunseen.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    print("exit", stop.code)
print("torch imported:", "torch" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--version"], ["prune", "--help"], ["compare", "--help"],
                                  ["evaluate", "--help"], ["report", "--help"],
                                  ["prune", "--keep", "2.5", "--out", "x"]])
def test_help_version_and_argument_errors_answer_before_torch_loads(args):
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                            text=True, cwd=ROOT)
    assert "torch imported: False" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("args, message", [
    (["prune", "--keep", "abc"], "argument --keep: expected a number, got 'abc'"),
    (["prune", "--keep", "-1"], "argument --keep: expected a fraction in (0, 1] or a number"),
    (["prune", "--folds", "1"], "argument --folds: must be at least 2, got 1"),
    (["prune", "--repeats", "x"], "argument --repeats: expected an integer, got 'x'"),
    (["prune", "--scorer", "nope"], "argument --scorer: invalid choice: 'nope'"),
    (["prune", "--jobs", "0"], "argument --jobs: must be a positive number of jobs or -1"),
    (["compare", "--keeps", "0.3,0.3"], "argument --keeps: --keeps lists a value twice"),
    (["compare", "--methods", "unseen,best"], "argument --methods: unknown name 'best'"),
    (["compare", "--selectors", "ccs,top"], "argument --selectors: unknown name 'top'"),
])
def test_argument_errors_are_one_line_naming_the_flag(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"skunseen {args[0]}: error: "), err
    assert message in err
    assert not out.exists()


def test_out_under_a_file_is_an_argument_error(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    for out, message in ((tmp_path / "file", "is a file, not a folder"),
                         (tmp_path / "file" / "run", "which is a file")):
        with pytest.raises(SystemExit) as exit_info:
            main(["prune", "--out", str(out)])
        assert exit_info.value.code == 2
        assert f"argument --out: {out}" in capsys.readouterr().err


def test_a_failing_run_writes_nothing_and_says_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["prune", "--keep", "5000", "--epochs", "1", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err == ("skunseen prune: error: --keep 5000 asks for more samples than the "
                   "pool's 1347\n")
    assert not out.exists()


def test_report_adds_full_data_evaluations_and_marks_the_best(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--limit", "300", "--epochs", "1", "-q"]
    assert main(["prune", *common, "--keep", "0.3", "--folds", "2", "--out", "unseen"]) == 0
    assert main(["prune", "--limit", "300", "-q", "--keep", "0.3", "--selector", "random",
                 "--out", "random"]) == 0
    for run in ("unseen", "random"):
        assert main(["evaluate", *common, "--coreset", f"{run}/coreset.npy",
                     "--out", f"{run}/eval"]) == 0
    for seed in (0, 1):
        assert main(["evaluate", *common, "--seed", str(seed), "--out", f"full{seed}"]) == 0
    assert main(["report", "unseen", "random", "unseen/eval", "random/eval", "full0", "full1",
                 "--out", "report"]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    table = [[cell.strip() for cell in line.split("|")[1:-1]]
             for line in markdown.splitlines() if line.startswith("| ")][2:]
    accuracy = {row[0]: row[7] for row in table}
    assert [row[1] for row in table] == ["unseen", "random", "full data"]
    assert table[2][0] == "full0, full1" and table[2][4] == "300 of 300 (100%)"
    assert table[2][8] == "2" and "±" in accuracy["full0, full1"]
    values = {run: json.loads((tmp_path / run / "eval" / "eval.json").read_text())[
        "test_accuracy"] for run in ("unseen", "random")}
    best = max(values, key=values.get)
    if values["unseen"] != values["random"]:
        assert accuracy[best].endswith("★") and "★" not in accuracy[min(values, key=values.get)]
    assert "- **test accuracy (%)**:" in markdown  # every column is explained
    assert "full data" in (tmp_path / "report" / "report.html").read_text()


def test_errors_from_torch_are_one_line_too(tmp_path, capsys, monkeypatch):
    import skunseen.datasets

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory.\nTried to allocate 2.00 GiB")

    monkeypatch.setattr(skunseen.datasets, "load_digits_images", out_of_memory)
    assert main(["prune", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        "skunseen prune: error: CUDA out of memory. Tried to allocate 2.00 GiB\n")


def test_report_names_a_report_json_that_lacks_a_key(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "scores.npy", np.zeros(3))
    (run / "report.json").write_text(json.dumps({
        "command": "prune", "parameters": {"method": "unseen", "scorer": "el2n",
                                           "selector": "ccs"},
        "n_samples": 3, "n_selected": 1, "seconds": {}}))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(run / "report.json") in error and "Traceback" not in error


@pytest.mark.parametrize("argv, message", [
    (["prune", "--dataset", "cifar10"], "needs --data"),
    (["compare", "--dataset", "cifar10", "--data", "/nonexistent/x.tar.gz"], "does not exist"),
    (["prune", "--dataset", "imagefolder", "--data", "/nonexistent"], "does not exist"),
    (["evaluate", "--dataset", "digits", "--coreset", "/nonexistent/c.npy"], "does not exist"),
])
def test_missing_data_paths_are_answered_before_torch_loads(argv, message, tmp_path):
    code = ("import sys; from skunseen.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, *argv, "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)
    assert message in result.stderr
    assert result.stdout.split() == ["2", "False"]
    assert not (tmp_path / "o").exists()
