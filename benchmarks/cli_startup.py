"""How fast the command line answers: ``--help``, ``--version`` and argument errors.

Every variant is a fresh process, timed from start to exit (wall clock):

``python -c pass``
    the floor: starting the interpreter and nothing else;
``skunseen --version``, ``skunseen prune --help``, ``skunseen compare --help``
    answered by argparse before torch loads;
``skunseen prune --keep 2.5 ...``
    an argument error (exit status 2), also answered before torch loads;
``python -c "import torch"``
    for scale: what every call paid when the package loaded torch first.

Variants run interleaved (one of each per round, rotated order, after one
untimed warm-up round, so that disk caches are warm and the slow phases of a
shared machine hit all alike). The table gives the median and the min–max
over the rounds, and the median's ratio to ``python -c pass``.

Usage (from the repository root, after ``pip install -e .``)::

    python benchmarks/cli_startup.py                 # 20 rounds
    python benchmarks/cli_startup.py --rounds 50
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved, machine_description, markdown_table  # noqa: E402


def _command():
    """The installed console script, or the module when it is not on PATH."""
    script = shutil.which("skunseen")
    if script:
        return [script]
    # the same entry point, run by this interpreter (also needs the package installed)
    code = ("import sys; from importlib.metadata import entry_points; "
            "main, = [e.load() for e in entry_points(group='console_scripts') "
            "if e.name == 'skunseen']; sys.exit(main())")
    return [sys.executable, "-c", code]


def variants(out):
    skunseen = _command()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "skunseen --version": [*skunseen, "--version"],
        "skunseen prune --help": [*skunseen, "prune", "--help"],
        "skunseen compare --help": [*skunseen, "compare", "--help"],
        "skunseen prune --keep 2.5 (error)": [*skunseen, "prune", "--keep", "2.5", "--out",
                                              str(out)],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    expected = {"skunseen prune --keep 2.5 (error)": 2}

    def run(name, command):
        def call():
            code = subprocess.run(command, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode
            if code != expected.get(name, 0):
                raise RuntimeError(f"{' '.join(command)} exited with {code}")

        return call

    return {name: run(name, command) for name, command in commands.items()}, skunseen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20,
                        help="timed interleaved rounds after one warm-up round (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        calls, skunseen = variants(Path(tmp) / "out")
        timings, _ = interleaved(calls, args.rounds, log=lambda line: None)
    floor = np.median([t.wall for t in timings["python -c pass"]])
    rows = []
    for name, runs in timings.items():
        wall = np.array([t.wall for t in runs])
        rows.append([f"`{name}`", f"{np.median(wall):.3f}",
                     f"{wall.min():.3f}–{wall.max():.3f}", f"{np.median(wall) / floor:.1f}x"])
    print(machine_description())
    print(f"- command: `{' '.join(skunseen)}`; {args.rounds} interleaved rounds, wall clock "
          "of a fresh process each")
    print()
    print(markdown_table(["command", "median (s)", "min–max (s)", "ratio to `python -c pass`"],
                         rows))


if __name__ == "__main__":
    main()
