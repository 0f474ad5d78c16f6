"""Options are checked before anything trains: none is ignored and recorded as if it acted."""

import json
import subprocess
import sys

import pytest

from skunseen.cli import main


@pytest.mark.parametrize("argv, message", [
    (["prune", "--method", "unseen", "--steps", "7", "--replace", "0.5"],
     "--steps and --replace do nothing with --method unseen (multistep only)"),
    (["prune", "--steps", "2"], "--steps does nothing with --method unseen (multistep only)"),
    (["prune", "--method", "fitting", "--folds", "3"],
     "--folds does nothing with --method fitting, which has no folds"),
    (["prune", "--method", "fitting", "--replace", "0.2"],
     "--replace does nothing with --method fitting (multistep only)"),
    (["prune", "--method", "fitting", "--compare"],
     "--compare does nothing with --method fitting, the baseline that --compare adds"),
    (["prune", "--selector", "random", "--epochs", "3", "--folds", "3", "--scorer", "aum"],
     "--epochs and --folds and --scorer do nothing with --selector random, which trains no "
     "scoring model"),
    (["prune", "--selector", "random", "--method", "fitting", "--repeats", "2", "--jobs", "2"],
     "--method and --repeats and --jobs do nothing with --selector random"),
    (["prune", "--selector", "random", "--compare"],
     "--compare does nothing with --selector random"),
    (["prune", "--cache-dir", "cache"], "--cache-dir does nothing with --dataset digits"),
    (["evaluate", "--image-size", "32"], "--image-size does nothing with --dataset digits"),
    (["compare", "--methods", "fitting,random", "--folds", "3"],
     "--folds does nothing without unseen in --methods"),
    (["compare", "--methods", "random,full", "--scorer", "aum", "--selectors", "hard",
      "--score-epochs", "2", "--jobs", "2"],
     "--scorer and --selectors and --score-epochs and --jobs do nothing without unseen or "
     "fitting in --methods (no method scores the pool)"),
    (["compare", "--methods", "full", "--keeps", "0.5"],
     "--keeps does nothing with --methods full, which trains on the whole pool"),
    (["prune", "--selector", "random", "--model", "cnn", "--device", "cpu", "--threads", "2",
      "--workers", "2"], "--model and --device and --threads and --workers do nothing with "
                         "--selector random"),
    (["prune", "--test-limit", "50"], "--test-limit does nothing with prune, which reads no "
                                      "test split"),
    (["compare", "--methods", "random,full", "--memory", "m"],
     "--memory does nothing without unseen or fitting in --methods"),
])
def test_options_that_would_do_nothing_are_refused_before_torch_loads(argv, message, tmp_path):
    code = ("import sys; from skunseen.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, *argv, "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)
    assert result.stderr.startswith(f"skunseen {argv[0]}: error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout.split() == ["2", "False"]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv", [
    ["prune", "--method", "multistep", "--steps", "1", "--replace", "0.2", "--folds", "2"],
    ["prune", "--method", "fitting", "--repeats", "2"],
    ["prune", "--method", "unseen", "--folds", "2", "--compare", "--repeats", "2"],
])
def test_options_that_act_are_accepted(argv, tmp_path):
    out = tmp_path / "run"
    assert main([*argv, "--limit", "100", "--epochs", "1", "-q", "--out", str(out)]) == 0
    assert (out / "report.json").is_file()


@pytest.mark.parametrize("argv, recorded, absent", [
    (["--method", "unseen", "--folds", "2"], {"method": "unseen", "folds": 2},
     {"steps", "replace"}),
    (["--method", "fitting"], {"method": "fitting", "repeats": 1},
     {"folds", "steps", "replace", "compare"}),
    (["--method", "multistep", "--steps", "1", "--folds", "2"],
     {"method": "multistep", "steps": 1, "replace": 0.0, "folds": 2}, set()),
    (["--selector", "random"], {"selector": "random"},
     {"method", "scorer", "folds", "repeats", "steps", "replace", "epochs", "jobs", "compare"}),
])
def test_report_json_records_only_the_options_that_acted(argv, recorded, absent, tmp_path):
    out = tmp_path / "run"
    epochs = [] if "random" in argv else ["--epochs", "1"]
    assert main(["prune", *argv, *epochs, "--limit", "100", "-q", "--out", str(out)]) == 0
    parameters = json.loads((out / "report.json").read_text())["parameters"]
    assert recorded.items() <= parameters.items()
    assert not absent & set(parameters)
    assert not {"cache_dir", "image_size", "run_id", "given"} & set(parameters)


@pytest.mark.parametrize("argv, message", [
    (["prune", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["prune", "--memory", ""], "argument --memory: names no folder"),
])
def test_values_no_run_could_take_are_argument_errors(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / "o")])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_report_written_into_one_of_its_runs_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["prune", "--limit", "100", "--epochs", "1", "-q", "--out", str(run)]) == 0
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    assert main(["report", str(run), "--out", str(run)]) == 2
    assert "is one of the runs" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == before
