"""Ctrl-C stops a command: exit status 130, one line, nothing under --out that looks finished."""

import os
import signal
import subprocess
import sys
import time

import matplotlib.figure
import numpy as np
import pytest

import skunseen.datasets
from skunseen.cli import main
from skunseen.cli._runs import COMPARE_REPORT

POOL = ["--limit", "100", "--epochs", "1", "-q"]


def ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def interrupted(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"skunseen {command}: interrupted; ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv", [["prune", "--folds", "2"], ["evaluate"],
                                  ["compare", "--methods", "random", "--keeps", "0.5"]])
def test_ctrl_c_while_loading_exits_130(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(skunseen.datasets, "load_digits_images", ctrl_c)
    out = tmp_path / "out"
    assert main([*argv, *POOL, "--out", str(out)]) == 130
    interrupted(capsys, argv[0])
    assert not out.exists()


def test_ctrl_c_while_prune_writes_keeps_the_previous_run_whole(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["prune", *POOL, "--folds", "2", "--out", str(out)]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    save = np.save

    def ctrl_c_on_scores(file, *args, **kwargs):
        if str(file).endswith("scores.npy"):
            raise KeyboardInterrupt
        return save(file, *args, **kwargs)

    monkeypatch.setattr(np, "save", ctrl_c_on_scores)
    assert main(["prune", *POOL, "--folds", "2", "--seed", "4", "--out", str(out)]) == 130
    assert f"nothing was written to {out}" in interrupted(capsys, "prune")
    # The store of finished scoring models (checkpoints/) may grow: it is what a rerun
    # resumes from; the results are the previous run's, whole.
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before


def test_ctrl_c_while_report_writes_leaves_no_report(tmp_path, capsys, monkeypatch):
    assert main(["prune", *POOL, "--folds", "2", "--out", str(tmp_path / "run")]) == 0
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", ctrl_c)
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")]) == 130
    interrupted(capsys, "report")
    assert not (tmp_path / "rep").exists()


def test_ctrl_c_in_compare_leaves_no_report_and_a_bad_rerun_keeps_the_old_one(
        tmp_path, capsys, monkeypatch):
    out = tmp_path / "compare"
    compare = ["compare", *POOL, "--methods", "random,full", "--keeps", "0.5", "--seeds", "1",
               "--out", str(out)]
    assert main(compare) == 0
    report = (out / "report.json").read_bytes()
    assert main([*compare, "--keeps", "400"]) == 2  # refused: the old report stays
    assert (out / "report.json").read_bytes() == report
    capsys.readouterr()
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", ctrl_c)
    assert main(compare) == 130
    assert "its report was not written" in interrupted(capsys, "compare")
    assert not any((out / name).exists() for name in COMPARE_REPORT)
    assert (out / "coresets" / "random-keep0.5-seed0.json").is_file()


def load_after_a_swallowed_ctrl_c(load):
    """``load``, after a Ctrl-C that is caught and ignored, as skorch does in a fit."""
    def swallowing(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the signal lands here
        except KeyboardInterrupt:
            pass
        return load(*args, **kwargs)

    return swallowing


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("argv", [["prune", "--folds", "2"], ["evaluate"],
                                  ["compare", "--methods", "random", "--keeps", "0.5"]])
def test_a_ctrl_c_that_a_library_swallowed_still_stops_the_command(
        argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(skunseen.datasets, "load_digits_images",
                        load_after_a_swallowed_ctrl_c(skunseen.datasets.load_digits_images))
    out = tmp_path / "out"
    assert main([*argv, *POOL, "--out", str(out)]) == 130
    interrupted(capsys, argv[0])
    assert not out.exists() or not any((out / name).exists() for name in COMPARE_REPORT)
    assert not (out / "coreset.npy").exists() and not (out / "eval.json").exists()


# A real SIGINT, delivered while prune writes its results.
_SIGINT_WHILE_WRITING = """
import os, signal, sys
import numpy as np
from skunseen.cli import main

save = np.save

def save_then_ctrl_c(file, *args, **kwargs):
    save(file, *args, **kwargs)
    if str(file).endswith("scores.npy"):
        os.kill(os.getpid(), signal.SIGINT)

np.save = save_then_ctrl_c
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_sigint_exits_130_and_leaves_no_coreset(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", _SIGINT_WHILE_WRITING, "prune", *POOL,
                             "--folds", "2", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"skunseen prune: interrupted; nothing was written to {out}; the scoring models "
        f"that finished are kept in {out / 'checkpoints'}, and a rerun resumes from them")
    assert not out.exists() or {path.name for path in out.iterdir()} <= {"checkpoints"}
