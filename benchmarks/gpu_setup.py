"""Check, and complete from carried wheels, the Python environment of the GPU suite.

``benchmarks/gpu_suite.sh`` runs this before any step, with the interpreter
that will run the steps::

    python benchmarks/gpu_setup.py install --wheels .whl --target DIR
    PYTHONPATH=DIR:. python benchmarks/gpu_setup.py check

``install`` reads what skunseen needs (``install_requires`` in ``setup.cfg``)
and what its tests and the suite's benchmarks import (``SUITE_NEEDS``). For
every requirement the interpreter does not meet (absent, or older than the
minimum) it picks a wheel of that package from ``--wheels``, then, in turn,
the wheels for whatever the picked wheels require and the interpreter lacks
(a carried scikit-learn that needs a newer narwhals, say), and installs just
those with ``pip install --no-index --no-deps --target DIR``. Each decision is
printed. A requirement that neither the interpreter nor a compatible wheel
meets ends the run with exit status 1 and names it, before anything is
installed: the suite then stops before its first step.

``check`` imports every module the steps need, prints their versions (marking
those that came from carried wheels), the optional packages that are absent
(the tests that need them skip) and the CUDA card; an import that fails ends
it with exit status 1.

Only the standard library and ``packaging`` (pip's own copy when the package
is absent), so that it runs before anything is installed.
"""

import argparse
import configparser
import email.parser
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.tags import sys_tags
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import Version
except ImportError:  # pragma: no cover - pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.tags import sys_tags
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
    from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
#: What the tests (``pytest -m cuda tests`` collects every test module) and the
#: suite's benchmarks import beyond skunseen's own requirements.
SUITE_NEEDS = ("pytest>=7", "pandas>=1.5", "hypothesis>=6.100", "pillow>=9")
#: (distribution, module) imported by ``check``, in the order printed.
MODULES = (("python", None), ("torch", "torch"), ("torchvision", "torchvision"),
           ("numpy", "numpy"), ("scipy", "scipy"), ("scikit-learn", "sklearn"),
           ("skorch", "skorch"), ("joblib", "joblib"), ("threadpoolctl", "threadpoolctl"),
           ("tqdm", "tqdm"), ("matplotlib", "matplotlib"), ("pillow", "PIL"),
           ("pandas", "pandas"), ("pytest", "pytest"), ("hypothesis", "hypothesis"))
#: Optional extras of skunseen; the tests that need them skip without them.
OPTIONAL = (("imbalanced-learn", "imblearn"), ("dask", "dask"), ("distributed", "distributed"))


def requirements():
    """skunseen's ``install_requires`` followed by ``SUITE_NEEDS``."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].strip().splitlines()
    return [Requirement(line.strip()) for line in (*lines, *SUITE_NEEDS) if line.strip()]


def installed_version(name):
    try:
        return Version(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return None


class Wheel:
    """A carried wheel: its name, version, whether it installs here, its requirements."""

    def __init__(self, path, supported):
        self.path = path
        name, self.version, _, tags = parse_wheel_filename(path.name)
        self.name = canonicalize_name(name)
        self.compatible = any(tag in supported for tag in tags)
        self._requires = None

    @property
    def requires(self):
        """Requirements of the wheel that apply here (no extras, markers evaluated)."""
        if self._requires is None:
            with zipfile.ZipFile(self.path) as archive:
                meta = next(n for n in archive.namelist()
                            if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
                message = email.parser.Parser().parsestr(archive.read(meta).decode())
            self._requires = []
            for line in message.get_all("Requires-Dist") or []:
                requirement = Requirement(line)
                if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                    self._requires.append(requirement)
        return self._requires

    def __str__(self):
        return self.path.name


def plan(wheel_dir, needs):
    """``(wheels to install, problems)`` for the requirements ``needs``."""
    supported = set(sys_tags())
    wheels = [Wheel(p, supported) for p in sorted(Path(wheel_dir).glob("*.whl"))]
    for wheel in wheels:
        if not wheel.compatible:
            print(f"  {wheel}: not for this interpreter or platform, ignored")
    picked, problems = {}, []
    queue = [(requirement, "skunseen") for requirement in needs]
    while queue:
        requirement, wanted_by = queue.pop(0)
        name = canonicalize_name(requirement.name)
        if name in picked:
            if not requirement.specifier.contains(picked[name].version, prereleases=True):
                problems.append(f"{requirement} (for {wanted_by}): the carried "
                                f"{picked[name]} does not meet it")
            continue
        have = installed_version(name)
        if have is not None and requirement.specifier.contains(have, prereleases=True):
            continue
        candidates = [w for w in wheels if w.name == name and w.compatible
                      and requirement.specifier.contains(w.version, prereleases=True)]
        state = f"{name} {have} installed" if have else f"{name} not installed"
        if not candidates:
            problems.append(f"{requirement} (for {wanted_by}): {state}, and {wheel_dir}/ "
                            "holds no wheel for this interpreter that meets it")
            continue
        wheel = max(candidates, key=lambda w: w.version)
        picked[name] = wheel
        print(f"  {state}; {requirement} (for {wanted_by}): installing {wheel}")
        queue += [(r, f"{wheel.name} {wheel.version}") for r in wheel.requires]
    unused = [str(w) for w in wheels if w.compatible and w.name not in picked]
    if unused:
        print(f"  not needed here: {', '.join(unused)}")
    return list(picked.values()), problems


def install(args):
    print(f"setup: {sys.executable} (Python {platform.python_version()})")
    wheels, problems = plan(args.wheels, requirements())
    if problems:
        print("setup: cannot run the suite, these requirements are not met:")
        for problem in problems:
            print(f"  - {problem}")
        print("  (benchmarks/README.md, 'GPU suite', says which wheels to carry)")
        return 1
    if not wheels:
        print("setup: the interpreter has everything; nothing to install")
        return 0
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
               "--no-compile", "--no-cache-dir", "--disable-pip-version-check",
               "--target", str(args.target), *(str(w.path) for w in wheels)]
    return subprocess.run(command).returncode


def check(args):
    target = Path(args.target).resolve() if args.target else None
    parts, failed = [], []
    for dist, module_name in MODULES:
        if module_name is None:
            parts.append(f"python {platform.python_version()}")
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import error stops the suite, named
            failed.append(f"{module_name}: {type(exc).__name__}: {exc}")
            continue
        version = getattr(module, "__version__", None) or installed_version(dist)
        carried = target is not None and target in Path(module.__file__).resolve().parents
        parts.append(f"{dist} {version}{' (carried)' if carried else ''}")
    try:  # the public API the steps use, torch and skorch included
        from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner  # noqa: F401
        from skunseen.datasets import load_image_archive  # noqa: F401
        from skunseen.models import make_net

        make_net("fastcifar", input_shape=(3, 32, 32), n_classes=10, device="cpu")
        import skunseen

        parts.append(f"skunseen {skunseen.__version__} ({Path(skunseen.__file__).parent})")
    except Exception as exc:
        failed.append(f"skunseen: {type(exc).__name__}: {exc}")
    print("versions: " + ", ".join(parts))
    absent = [dist for dist, module_name in OPTIONAL
              if importlib.util.find_spec(module_name) is None]
    if absent:
        print(f"optional, absent (the tests that need them skip): {', '.join(absent)}")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        cuda = (f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda}, cuDNN "
                f"{torch.backends.cudnn.version()})" if torch.cuda.is_available() else "none")
        print(f"CUDA: {cuda}; {os.cpu_count()} CPUs")
    if failed:
        print("setup: imports failed, nothing can run:")
        for failure in failed:
            print(f"  - {failure}")
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("install", "check"))
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl")
    parser.add_argument("--target", type=Path, default=None,
                        help="install: where the wheels go; check: marks what came from there")
    args = parser.parse_args(argv)
    if args.action == "install":
        if args.target is None:
            parser.error("install needs --target")
        return install(args)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
