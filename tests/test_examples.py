"""Every script in examples/ runs end to end in its --smoke mode.

Each example runs in a subprocess, as a user would run it, with tiny data and
one or two epochs (all of them together took about a minute on 2 idle CPU
cores). An example whose feature, optional dependency or data is not
available is skipped with the reason.
"""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import skunseen
from helpers import CIFAR_ARCHIVE, NO_CIFAR

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _missing_module(name):
    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


def _needs(condition, reason):
    return pytest.mark.skipif(condition, reason=reason)


def _has_param(cls_name, param):
    cls = getattr(skunseen, cls_name, None)
    return cls is not None and param in cls().get_params()


# script, extra arguments, a line its output must contain, skip marks
CASES = [
    ("quickstart_digits.py", [], "full training set: test acc", []),
    ("pipeline_grid_search.py", [], "best: {'prunedclassifier__pruner__keep'", []),
    ("multistep_selection.py", [], "samples of the final coreset added at each step", [
        _needs(not hasattr(skunseen, "MultiStepUnseenPruner"),
               "skunseen.MultiStepUnseenPruner is not available yet"),
    ]),
    ("cifar10_unseen_vs_fitting.py", ["--data", str(CIFAR_ARCHIVE)], "scoring models resumed", [
        _needs(not CIFAR_ARCHIVE.is_file(), NO_CIFAR),
    ]),
    ("imagenet_folder.py", [], "training images in 3 classes", [
        _needs(_missing_module("PIL"), "Pillow is not installed"),
    ]),
    ("dask_cluster.py", [], "same coreset as the sequential run: True", [
        _needs(_missing_module("distributed"), 'dask.distributed is not installed (".[dask]")'),
    ]),
    ("custom_scorer.py", [], "equals the plain loop on oof_proba_: True", []),
    ("related_tools.py", [], "with the same folds: 898 of 898 kept rows shared", [
        _needs(_missing_module("imblearn"), 'imbalanced-learn is not installed (".[imblearn]")'),
    ]),
]


def test_every_example_is_tested():
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert scripts == {case[0] for case in CASES}


@pytest.mark.parametrize(
    "script, args, expected",
    [pytest.param(s, a, e, marks=m, id=s.removesuffix(".py")) for s, a, e, m in CASES],
)
def test_example_runs_in_smoke_mode(script, args, expected, tmp_path):
    # One torch thread: the smoke data are tiny, and two threads of two
    # processes on 2 busy cores spend their time waiting on each other.
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", TQDM_DISABLE="1",
               PYTHONWARNINGS="ignore::DeprecationWarning")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{script} failed after {seconds:.0f} s:\n{output[-4000:]}"
    assert expected in result.stdout, f"{script} printed:\n{output[-4000:]}"


def test_every_example_has_argparse_and_smoke_mode():
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert "argparse" in text and '"--smoke"' in text, path.name
        assert 'if __name__ == "__main__":' in text, path.name
