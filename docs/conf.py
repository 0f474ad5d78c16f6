"""Sphinx configuration of the skunseen documentation.

Build (warnings are errors, as in CI)::

    pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html

Some pages are produced here at configuration time, so that the
build follows the code and the benchmark results without hand editing:

* ``generated/api/<module>.rst``: the API reference, one page per public
  module, listing every name in its ``__all__`` (curated groups first, then
  anything new under "Other"), with one stub page per object written by
  autosummary into ``generated/``;
* ``generated/benchmarks/RESULTS.md``: a copy of ``benchmarks/RESULTS.md``
  and the figures under ``benchmarks/results/`` (or a placeholder page when
  the benchmarks have not been run);
* ``generated/figures/premise.rst``: the figure
  ``benchmarks/results/premise_scores.png`` for the method page, or a note
  while it does not exist;
* ``generated/cli/commands.rst``: the ``--help`` of every CLI sub-command.

Everything under ``generated/`` is rebuilt on every run and is ignored by git.
"""

import importlib
import inspect
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import skunseen  # noqa: E402

project = "skunseen"
author = "skunseen developers"
copyright = "2026, skunseen developers"
release = version = skunseen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
try:
    import myst_parser  # noqa: F401

    extensions.append("myst_parser")
    HAVE_MYST = True
except ImportError:  # the benchmarks page then shows RESULTS.md as plain text
    HAVE_MYST = False

source_suffix = {".rst": "restructuredtext"}
if HAVE_MYST:
    source_suffix[".md"] = "markdown"
    myst_enable_extensions = ["dollarmath"]
    myst_heading_anchors = 3

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/cli", "generated/figures", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# autodoc / autosummary / numpydoc
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# No intersphinx: the build must work without network access.

# Without nitpicky mode, references to private helpers that some docstrings
# mention (e.g. skunseen.nets._devices) render as plain text instead of failing.
nitpicky = False

# html
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        "secondary_sidebar_items": ["page-toc"],
    }
except ImportError:
    html_theme = "alabaster"
html_title = f"skunseen {version}"
html_static_path = []
html_show_sourcelink = False

# RESULTS.md is maintained for GitHub: its links to scripts and result files
# outside docs/ are not documents, and its first heading level may vary.
suppress_warnings = ["myst.xref_missing", "myst.header"]

# ----------------------------------------------------------------- API tables
#: Public modules, their title and curated groups. Names that exist in a
#: module's ``__all__`` but in no group are listed under "Other", so a new
#: public object appears in the reference without editing this file; curated
#: names that do not exist (yet) are skipped.
API = [
    ("skunseen", "Pruners and composition", [
        ("Pruners", ["UnseenPruner", "MultiStepUnseenPruner", "FittingPruner"]),
        ("Pipelines", ["PrunedClassifier", "PruningSampler"]),
        ("Out-of-fold engine", ["cross_val_records", "unseen_scores", "fitting_scores",
                                "HeldOutRecords"]),
        ("Base class", ["BasePruner"]),
    ]),
    ("skunseen.engine", "Engine plans", [
        ("Plans of a custom pruner", ["Plan", "ScoringTask", "out_of_fold", "train_on_rows"]),
    ]),
    ("skunseen.nets", "Nets", [
        ("Recording and training", ["HeldOutRecorder", "EpochProgress", "fit_model",
                                    "model_input"]),
    ]),
    ("skunseen.scores", "Scores", [
        ("Final-output scores", ["el2n", "loss", "entropy", "margin"]),
        ("Training-dynamics scores", ["forgetting", "aum", "dyn_unc", "tdds", "dual"]),
        ("Gradient and embedding scores", ["grad_norms", "last_layer_grad_norms",
                                           "grad_norm_batches", "last_linear",
                                           "median_distance"]),
        ("Registry and records", ["Scorer", "ScoringRecords", "get_scorer",
                                  "register_scorer", "available_scorers",
                                  "epoch_statistics"]),
    ]),
    ("skunseen.selection", "Selection", [
        ("Entry point and class budgets", ["select", "class_budgets"]),
        ("Selection rules", ["hard", "easy", "uniform", "moderate", "ccs",
                             "ccs_auto_cutoff", "d2", "knn_graph", "beta_sampling",
                             "dual_sampling_weights"]),
        ("Registry", ["get_selector", "register_selector", "available_selectors",
                      "rule_needs"]),
    ]),
    ("skunseen.models", "Models and the fast path", [
        ("Net factory", ["make_net", "FastNetClassifier"]),
        ("Devices", ["resolve_device", "check_device", "visible_gpus", "gpus_in_use",
                     "to_device"]),
        ("Modules", ["MLP", "SmallCNN", "FastCifarNet", "cifar_resnet18", "Float32Linear"]),
        ("Training schedules", ["TriangularLR"]),
        ("Fast path", ["DeviceTrainIterator", "DeviceEvalIterator", "ArrayIndexView",
                       "clear_device_cache"]),
    ]),
    ("skunseen.datasets", "Datasets", [
        ("Loaders", ["load_digits_images", "load_image_archive", "load_image_folder",
                     "load_cifar10", "load_cifar100"]),
        ("Helpers", ["TrainTestData", "stratified_subset"]),
    ]),
]


def _is_documentable(obj):
    return inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)


def _constant_doc(module, name):
    """The ``#:`` comment above a constant's definition, and its value.

    Constants are defined in private submodules and re-exported, so the
    comment is looked up in every submodule of the package.
    """
    from sphinx.pycode import ModuleAnalyzer

    doc = []
    candidates = [module.__name__]
    for path in getattr(module, "__path__", []):
        candidates += [f"{module.__name__}.{p.stem}" for p in sorted(Path(path).glob("_*.py"))
                       if p.stem != "__init__"]
    for candidate in candidates:
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except Exception:  # noqa: BLE001 - a module without source: try the next
            continue
        if ("", name) in docs:
            doc = [line for line in docs[("", name)] if line.strip()]
            break
    value = repr(getattr(module, name))
    if len(value) > 300:
        value = value[:300] + " ..."
    return doc + ["", f"Value: ``{value}``"]


def _api_tables():
    """Write one API page per public module into generated/api/<module>.rst."""
    out = DOCS / "generated" / "api"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for module_name, title, groups in API:
        module = importlib.import_module(module_name)
        public = [n for n in getattr(module, "__all__", []) if not n.startswith("__")]
        callables = [n for n in public if _is_documentable(getattr(module, n))]
        constants = [n for n in public if n not in callables]
        heading = f"``{module_name}``: {title}"
        lines = [heading, "=" * len(heading), "", f".. automodule:: {module_name}",
                 "   :no-members:", "", f".. currentmodule:: {module_name}", ""]
        listed = set()
        for group, names in list(groups) + [("Other", callables)]:
            names = [n for n in names if n in callables and n not in listed]
            if not names:
                continue
            listed.update(names)
            lines += [group, "-" * len(group), "", ".. autosummary::", "   :toctree: ..",
                      "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names] + [""]
        if constants:
            lines += ["Constants", "---------", ""]
            for n in constants:
                lines += [f".. py:data:: {n}", ""]
                lines += [f"   {line}" for line in _constant_doc(module, n)] + [""]
        (out / f"{module_name}.rst").write_text("\n".join(lines))


# ------------------------------------------------------------- benchmarks page
def _benchmark_pages():
    """Copy benchmarks/RESULTS.md and its figures under generated/benchmarks/."""
    source = ROOT / "benchmarks" / "RESULTS.md"
    target = DOCS / "generated" / "benchmarks"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    figures = ROOT / "benchmarks" / "results"
    if figures.is_dir():
        # Figures only: the tables are already in RESULTS.md, and a stray
        # markdown file would be a page outside every toctree.
        shutil.copytree(figures, target / "results",
                        ignore=shutil.ignore_patterns("*.npy", "*.npz", "*.pt", "*.md",
                                                      "*.json"))
    if source.is_file():
        text = source.read_text()
    else:
        text = ("# Benchmark results\n\nThe benchmarks have not been run in this checkout: "
                "`benchmarks/RESULTS.md` does not exist yet.\n")
    if HAVE_MYST:
        (target / "RESULTS.md").write_text(text)
    else:
        (target / "RESULTS.rst").write_text(
            "Benchmark results\n=================\n\n"
            "Install ``myst-parser`` to render ``benchmarks/RESULTS.md`` here.\n\n"
            "::\n\n" + "".join(f"    {line}\n" for line in text.splitlines()))


# -------------------------------------------------------------------- CLI help
def _cli_help():
    """The --help text of every ``skunseen`` sub-command, as an rst fragment."""
    import argparse

    from skunseen.cli._main import build_parser

    os.environ["COLUMNS"] = "88"
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = []
    for name, sub in commands.choices.items():
        title = f"``skunseen {name}``"
        lines += [title, "~" * len(title), "", "::", ""]
        lines += [f"   {line}".rstrip() for line in sub.format_help().splitlines()] + [""]
    out = DOCS / "generated" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    (out / "commands.rst").write_text("\n".join(lines))


# ------------------------------------------------------------ premise figure
def _premise_figure():
    """generated/figures/premise.rst: the premise figure, or a note that it is missing."""
    out = DOCS / "generated" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    figure = ROOT / "benchmarks" / "results" / "premise_scores.png"
    if figure.is_file():
        shutil.copy(figure, out / "premise_scores.png")
        text = (".. figure:: /generated/figures/premise_scores.png\n   :width: 95%\n\n"
                "   The same score computed out-of-fold (UNSEEN) and on the training\n"
                "   samples (fitting), from ``benchmarks/premise.py``.\n")
    else:
        text = (".. note::\n\n   The figure comparing the two distributions is produced by\n"
                "   ``benchmarks/premise.py`` as ``benchmarks/results/premise_scores.png``\n"
                "   and appears here once it exists. ``skunseen prune --compare`` draws\n"
                "   the same comparison for your own run (``scores.png``).\n")
    (out / "premise.rst").write_text(text)


_api_tables()
_benchmark_pages()
_cli_help()
_premise_figure()


# ------------------------------------------------------------- autodoc hooks
def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters
    (``set_fit_request`` ...): their docstrings link to scikit-learn's own
    glossary, and they are documented there."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


# A bare word ending in "_" is a hyperlink reference in reST, so the
# scikit-learn habit of naming fitted attributes in prose and types
# ("ndarray of shape (n_features_in_,)") breaks the build. Such words are
# turned into inline literals, outside existing literals, roles, emphasis,
# doctests and literal blocks.
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`*|])([A-Za-z]\w*[A-Za-z0-9]_)(?![\w`*|])")
_INLINE = re.compile(r"(``.+?``|:\w+(?::\w+)?:`[^`]+`|`[^`]+`_{0,2}|\*\*.+?\*\*|\*[^*]+\*)")


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    literal_indent = None
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_doctest:
            in_doctest = bool(stripped)
            continue
        if stripped.startswith(">>>"):
            in_doctest = True
            continue
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        parts = _INLINE.split(line)
        for k in range(0, len(parts), 2):  # even parts are outside inline markup
            parts[k] = _TRAILING_UNDERSCORE.sub(r"``\1``", parts[k])
        lines[i] = "".join(parts)
        if stripped.endswith("::"):
            literal_indent = indent


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _escape_trailing_underscores)
