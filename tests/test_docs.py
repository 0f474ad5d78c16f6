"""DOCS BUILD: the Sphinx site builds with warnings as errors (as in CI).

Skipped, with the reason, when the docs extra is not installed
(``pip install -e ".[docs]"``). Run it alone with
``pytest tests/test_docs.py``.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REQUIRED = ("sphinx", "numpydoc")


def _missing():
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(bool(_missing()), reason=f"docs extra not installed (needs {REQUIRED}): "
                                             'pip install -e ".[docs]"')
def test_sphinx_build_with_warnings_as_errors(tmp_path):
    # Output and doctrees in a temporary directory: a fresh build every time.
    # Autosummary stubs and the copied benchmark results go to docs/generated/
    # (ignored by git), as in a normal build.
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    html = tmp_path / "html"
    for page in ("index.html", "api.html", "open_choices.html", "user_guide/method.html",
                 "generated/skunseen.UnseenPruner.html"):
        assert (html / page).is_file(), page
    # The method page is what the pruners' docstrings link to.
    assert 'id="method"' in (html / "user_guide" / "method.html").read_text()


def test_docs_sources_reference_existing_examples():
    text = (DOCS / "examples.rst").read_text()
    for path in (ROOT / "examples").glob("*.py"):
        assert f"../examples/{path.name}" in text, path.name
