"""The GPU suite and the CIFAR-10 protocol run end to end at toy sizes on the CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import CIFAR_ARCHIVE, NO_CIFAR

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not CIFAR_ARCHIVE.is_file(),
                    reason=NO_CIFAR)
def test_gpu_suite_smoke_runs_every_step(tmp_path):
    env = {**os.environ, "SKUNSEEN_SUITE_SMOKE": "1", "PYTHON": sys.executable,
           "SKUNSEEN_CIFAR": str(CIFAR_ARCHIVE)}
    # About 1.5 min on 2 busy CPUs; the timeout only catches a hang (each step has its own limit)
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=900)
    log = (tmp_path / "suite.log").read_text()
    assert done.returncode == 0, log[-3000:]
    for step in ("arguments", "cuda tests", "throughput", "fold batching prototype",
                 "fold batching", "protocol"):
        assert f"=== {step}: exit 0" in log
    for table in ("throughput", "fold_batching_prototype", "fold_batching"):
        assert "| ---" in (tmp_path / f"{table}.md").read_text()
    assert "smoke: table shape OK" in log and "=== all steps passed" in log
    table = (tmp_path / "gpu_protocol.md").read_text()
    assert "| unseen | el2n | ccs |" in table and "| random | - | random |" in table
    assert (tmp_path / "gpu_protocol.json").is_file()


def test_gpu_suite_reports_a_failing_step(tmp_path):
    """A broken step is named and makes the suite fail; the later steps still run."""
    env = {**os.environ, "SKUNSEEN_SUITE_SMOKE": "1", "PYTHON": sys.executable,
           "SKUNSEEN_CIFAR": str(tmp_path / "missing.tar.gz"),
           "SKUNSEEN_SUITE_ONLY": "protocol"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    log = (tmp_path / "suite.log").read_text()
    assert done.returncode == 1
    assert "=== FAILED: protocol (exit 1)" in log
