"""The package's shape: layers, torch-free core, small functions, complete docstrings.

The rules live in one place each: the import layers in ``setup.cfg``
(``[importlinter]``, also run by ``lint-imports``), the docstring sections in
``docs/check_docstrings.py``; this module runs them in the suite, and checks
what the folder tree promises: few modules at the top, subpackages that
import only each other's public names, and a fit that a reader can follow
through a handful of modules.
"""

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "skunseen"
MAX_FUNCTION_LINES = 60
MAX_BASE_PRUNER_LINES = 250
MAX_TOP_LEVEL_MODULES = 10
MAX_LAYERS = 6
#: Modules a LogisticRegression fit of UnseenPruner may run code in.
MAX_MODULES_OF_A_FIT = 10


def _run(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_import_linter_contracts_are_kept():
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "setup.cfg"), no_cache=True) == 0


def test_the_top_of_the_package_holds_few_modules_and_the_import_contract_few_layers():
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    layers = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    assert len(layers) <= MAX_LAYERS, layers


def _subpackage(module):
    """``"engine"`` for ``skunseen.engine`` and its modules; None for the top's modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("_") else None


def test_no_subpackage_imports_another_subpackages_private_modules():
    pytest.importorskip("grimp")
    import grimp

    graph = grimp.build_graph("skunseen")
    crossing = sorted(
        f"{importer} -> {imported}"
        for imported in graph.modules
        if imported.split(".")[-1].startswith("_") and not imported.endswith("__init__")
        and _subpackage(imported) is not None
        for importer in graph.find_modules_that_directly_import(imported)
        if _subpackage(importer) != _subpackage(imported))
    assert crossing == []


def test_no_module_imports_one_that_imports_it_back():
    pytest.importorskip("grimp")
    import grimp

    graph = grimp.build_graph("skunseen")
    circles = sorted(
        f"{importer} <-> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("skunseen") and not importer.startswith(imported + ".")
        and graph.chain_exists(importer=imported, imported=importer))
    assert circles == []


def test_the_package_imports_under_python_OO():
    result = subprocess.run([sys.executable, "-OO", "-c", "import skunseen, skunseen.engine, "
                             "skunseen.pruners, skunseen.cli; skunseen.UnseenPruner"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_scikit_learn_fit_runs_code_in_few_modules():
    """Counted with sys.setprofile over a second fit (the first one imports)."""
    result = _run(
        "import sys\n"
        "from sklearn.datasets import load_digits\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from skunseen import UnseenPruner\n"
        "X, y = load_digits(return_X_y=True)\n"
        "def fit():\n"
        "    UnseenPruner(LogisticRegression(max_iter=100), cv=3, random_state=0).fit(\n"
        "        X[:300] / 16, y[:300])\n"
        "fit()\n"
        "seen = set()\n"
        "def profile(frame, event, arg):\n"
        "    name = frame.f_globals.get('__name__', '')\n"
        "    if event == 'call' and name.startswith('skunseen'):\n"
        "        seen.add(name)\n"
        "sys.setprofile(profile)\n"
        "fit()\n"
        "sys.setprofile(None)\n"
        "print(sorted(seen))\n")
    assert result.returncode == 0, result.stderr[-3000:]
    modules = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert len(modules) <= MAX_MODULES_OF_A_FIT, modules


def test_importing_skunseen_and_a_scikit_learn_pruner_loads_no_torch():
    result = _run(
        "import sys\n"
        "import skunseen\n"
        "from sklearn.datasets import load_digits\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = load_digits(return_X_y=True)\n"
        "skunseen.UnseenPruner(LogisticRegression(max_iter=100), cv=3, keep=0.5,\n"
        "                      random_state=0).fit(X[:300] / 16, y[:300])\n"
        "print(sorted(m for m in ('torch', 'skorch', 'torchvision') if m in sys.modules))\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _docstring_lines(node):
    lines = set()
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def _code_lines(source_lines, node):
    """Lines of ``node`` that are code: no docstring, blank or comment-only line."""
    skip = _docstring_lines(node)
    return sum(1 for number in range(node.lineno, node.end_lineno + 1)
               if number not in skip
               and source_lines[number - 1].strip()
               and not source_lines[number - 1].strip().startswith("#"))


def _definitions(kinds):
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, kinds):
                yield path.relative_to(ROOT), node, source.splitlines()


def test_no_function_is_longer_than_sixty_lines_of_code():
    long = [f"{path}:{node.lineno} {node.name} ({lines} lines)"
            for path, node, source in _definitions((ast.FunctionDef, ast.AsyncFunctionDef))
            if (lines := _code_lines(source, node)) > MAX_FUNCTION_LINES]
    assert long == []


def test_the_base_pruner_stays_thin():
    [(_, node, source)] = [item for item in _definitions(ast.ClassDef)
                           if item[1].name == "BasePruner"]
    assert _code_lines(source, node) < MAX_BASE_PRUNER_LINES


def test_no_private_name_is_imported_across_skunseen_modules():
    private = [f"{path}:{node.lineno} {alias.name}"
               for path, node, _ in _definitions(ast.ImportFrom)
               if node.level > 0 or (node.module or "").startswith("skunseen")
               for alias in node.names
               if alias.name.startswith("_") and alias.name != "__version__"]
    assert private == []


def test_no_test_module_imports_another():
    offending = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offending += [f"{path.name}: {name}" for name in names
                          if name.split(".")[-1].startswith("test_") or name.startswith("tests")]
    assert offending == []


def test_every_public_object_has_its_numpydoc_sections():
    pytest.importorskip("numpydoc")
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "check_docstrings.py")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
