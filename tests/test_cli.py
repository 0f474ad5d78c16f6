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
