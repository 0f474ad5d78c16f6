"""The GPU suite's setup picks, from the carried wheels, just what the interpreter lacks."""

import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_setup():
    spec = importlib.util.spec_from_file_location("gpu_setup",
                                                  ROOT / "benchmarks" / "gpu_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wheel(folder, name, version, requires=(), tag="py3-none-any"):
    """A minimal wheel: only its METADATA is read."""
    path = folder / f"{name}-{version}-{tag}.whl"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *(f"Requires-Dist: {r}" for r in requires)]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(lines) + "\n")
    return path


def names(wheels):
    return sorted(w.path.name for w in wheels)


def test_a_carried_wheel_needing_what_the_machine_lacks_is_refused(tmp_path, gpu_setup):
    # scikit-learn 1.9 carried to a machine with an older narwhals, and no narwhals carried
    wheel(tmp_path, "skunseen_fake_learn", "1.9", ["skunseen-fake-narwhals>=2", "numpy>=1",
                                                  "pytest; extra == 'tests'"])
    needs = [gpu_setup.Requirement("skunseen-fake-learn>=1.6")]
    picked, problems = gpu_setup.plan(tmp_path, needs)
    assert names(picked) == ["skunseen_fake_learn-1.9-py3-none-any.whl"]
    assert len(problems) == 1 and "skunseen-fake-narwhals>=2" in problems[0]
    assert "skunseen-fake-learn 1.9" in problems[0]


def test_what_the_carried_wheels_need_is_carried_too(tmp_path, gpu_setup):
    wheel(tmp_path, "skunseen_fake_learn", "1.9", ["skunseen-fake-narwhals>=2"])
    wheel(tmp_path, "skunseen_fake_narwhals", "1.0")
    wheel(tmp_path, "skunseen_fake_narwhals", "2.1")
    wheel(tmp_path, "skunseen_fake_other", "1.0", tag="cp27-cp27mu-manylinux1_x86_64")
    picked, problems = gpu_setup.plan(tmp_path, [gpu_setup.Requirement("skunseen-fake-learn")])
    assert not problems
    assert names(picked) == ["skunseen_fake_learn-1.9-py3-none-any.whl",
                             "skunseen_fake_narwhals-2.1-py3-none-any.whl"]


def test_nothing_is_installed_for_what_the_interpreter_has(tmp_path, gpu_setup):
    wheel(tmp_path, "pytest", "7.0")
    picked, problems = gpu_setup.plan(tmp_path, gpu_setup.requirements())
    assert not picked and not problems
