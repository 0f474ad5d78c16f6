import json
import shutil
import subprocess

import numpy as np
import pytest

from skunseen._cli import main


@pytest.mark.parametrize("method", ["unseen", "fitting"])
def test_prune_writes_the_coreset_and_report(tmp_path, method):
    out = tmp_path / method
    code = main(["prune", "--dataset", "digits", "--keep", "0.3", "--method", method,
                 "--epochs", "2", "--folds", "3", "--seed", "1", "--out", str(out), "-q"])
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


def test_bad_arguments_fail_with_a_message(tmp_path, capsys):
    assert main(["prune", "--scorer", "nope", "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prune", "--keep", "-1", "--out", str(tmp_path)])


def test_console_script_is_installed():
    executable = shutil.which("skunseen")
    assert executable, "pip install -e . puts the `skunseen` command on PATH"
    result = subprocess.run([executable, "prune", "--help"], capture_output=True, text=True,
                            check=True)
    assert "--keep" in result.stdout


def test_report_puts_runs_side_by_side(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--keep", "0.3", "--epochs", "2", "--folds", "3", "-q"]
    assert main(["prune", *common, "--out", "unseen"]) == 0
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
    assert f"{100 * np.mean(accuracies):.2f} ± {100 * np.std(accuracies):.2f} (n=2)" in rows[0]
    assert rows[1].split("|")[8].strip() == ""  # the fitting coreset was not evaluated
    assert "<table>" in (tmp_path / "report" / "report.html").read_text()
    assert (tmp_path / "report" / "scores.png").stat().st_size > 1000


def test_report_rejects_unknown_folders(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "neither report.json" in capsys.readouterr().err
