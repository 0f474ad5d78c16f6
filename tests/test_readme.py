"""Every snippet of the README runs as written.

Python blocks run one by one, each in a fresh namespace (so each is
self-contained), with one torch thread. Shell blocks run their ``skunseen``
commands in order, through ``skunseen.cli.main`` in a fresh folder; the
``pip``, ``pytest``, ``curl`` and ``tar`` set-up commands are not run. A
command's ``--data`` is the reader's own copy of CIFAR, so it is replaced by the
copy the tests use (``CIFAR_ARCHIVE`` in ``helpers.py``; the snippet is skipped
without it), and such commands get ``--limit 300 --test-limit 200 --epochs 1
--seeds 1`` appended (argparse keeps the last value), which keeps them small.
"""

import re
import shlex
from pathlib import Path

import pytest
import torch

from helpers import CIFAR_ARCHIVE, NO_CIFAR
from skunseen.cli import main

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def _commands(script):
    """The ``skunseen`` commands of a shell block, continuation lines joined."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            words = shlex.split(part)
            if words and words[0] == "skunseen":
                commands.append(words[1:])
    return commands


def _small(args):
    if "--data" not in args:
        return args
    args = list(args)
    args[args.index("--data") + 1] = str(CIFAR_ARCHIVE)
    small = ["--limit", "300", "--epochs", "1",
             *(["--test-limit", "200"] if args[0] != "prune" else [])]
    return [*args, *small, *(["--seeds", "1"] if args[0] == "compare" else [])]


@pytest.fixture(autouse=True)
def _one_torch_thread(_torch_threads):  # which restores the count afterwards
    # As for the examples (test_examples.py): tiny nets on a busy 2-core CI
    # machine train far faster on one thread than on two that wait for each other.
    torch.set_num_threads(1)


PYTHON = [code for language, code in BLOCKS if language == "python"]
SHELL = [code for language, code in BLOCKS if language == "bash" and _commands(code)]


def test_the_readme_has_snippets():
    assert len(PYTHON) >= 2 and len(SHELL) >= 3


@pytest.mark.parametrize("code", PYTHON, ids=[f"python{i}" for i in range(len(PYTHON))])
def test_python_snippet_runs_on_its_own(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("script", SHELL, ids=[f"shell{i}" for i in range(len(SHELL))])
def test_shell_snippet_runs(script, tmp_path, monkeypatch):
    if "--data" in script and not CIFAR_ARCHIVE.is_file():
        pytest.skip(NO_CIFAR)
    monkeypatch.chdir(tmp_path)
    for args in _commands(script):
        quiet = [] if args[0] == "report" else ["-q"]
        assert main([*_small(args), *quiet]) == 0, args
