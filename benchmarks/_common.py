"""Helpers shared by the benchmark scripts: machine description, markdown
tables, interleaved timing and summary formatting.

Benchmarks are scripts, not tests: run them from the repository root, e.g.
``python benchmarks/overhead.py``. They import this module as ``_common``
(the scripts put their own folder on ``sys.path``).
"""

import datetime
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def set_threads(n_threads):
    """Fix torch's intra-op (and inter-op) thread count for stable timings."""
    import torch

    torch.set_num_threads(int(n_threads))
    try:
        torch.set_num_interop_threads(int(n_threads))
    except RuntimeError:  # already set, or parallel work has started
        pass


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _source_digest():
    """Short digest of skunseen/**/*.py, identifying uncommitted states too."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted((ROOT / "skunseen").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# Taken when the benchmark starts (and imports skunseen), not when it prints:
# the working tree may change while a long benchmark runs.
_STARTUP_DIGEST = _source_digest()


def _git_state():
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "skunseen"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
        return commit + (" + uncommitted changes in skunseen/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_description():
    """One paragraph describing where the numbers come from."""
    import skorch
    import sklearn
    import torch

    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}\n"
        f"- machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, GPU: {cuda}; "
        f"load average at start {load}\n"
        f"- python {platform.python_version()}, torch {torch.__version__}, "
        f"skorch {skorch.__version__}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}; torch threads {torch.get_num_threads()}\n"
        f"- skunseen: git {_git_state()}; source digest {_STARTUP_DIGEST} "
        "(sha1 of skunseen/**/*.py)"
    )


def markdown_table(header, rows, align=None):
    """A GitHub markdown table from a header and rows of cells (str() applied)."""
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def mean_std(values, fmt="{:.1f}", scale=1.0):
    """``mean ± std`` (population std over seeds) of ``values``."""
    values = np.asarray(values, dtype=float) * scale
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std())}"


class Timing:
    """Wall-clock and process CPU seconds of one run."""

    def __init__(self, wall, cpu):
        self.wall = wall
        self.cpu = cpu


def timed(func, *args, **kwargs):
    """Run ``func`` and return ``(result, Timing)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def interleaved(variants, repeats, *, warmup=True, log=print):
    """Time named zero-argument callables interleaved, ``repeats`` rounds.

    Round ``r`` runs the variants in a rotated order (A B C, B C A, C A B,
    ...), so that slow phases of a shared machine hit every variant alike.

    Parameters
    ----------
    variants : dict of str to callable
        Each callable runs the whole measured job once and returns a result.
    repeats : int
        Number of timed rounds.
    warmup : bool
        Run every variant once, untimed, before the first round.

    Returns
    -------
    timings : dict of str to list of Timing
    results : dict of str to object
        The last result of every variant.
    """
    names = list(variants)
    results = {}
    if warmup:
        for name in names:
            results[name] = variants[name]()
    timings = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name], timing = timed(variants[name])
            timings[name].append(timing)
            log(f"  round {r + 1}/{repeats} {name}: {timing.wall:.2f} s wall, "
                f"{timing.cpu:.2f} s CPU")
    return timings, results


def median(values):
    return statistics.median(values)


class Budget:
    """Wall-clock budget of one benchmark run: start no work that would end after it.

    Parameters
    ----------
    seconds : float or None
        Seconds from construction; None: no limit.
    """

    def __init__(self, seconds=None):
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.start

    def left(self):
        return float("inf") if self.seconds is None else self.seconds - self.elapsed()

    def allows(self, estimate):
        """Whether work expected to take ``estimate`` seconds ends within the budget."""
        return estimate <= self.left()


def write_partial(path, text):
    """Rewrite ``path`` with ``text`` (a markdown table so far), atomically, so that
    a run killed at its time limit leaves every row it measured."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
