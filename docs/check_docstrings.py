"""List public classes and functions whose docstrings lack numpydoc sections.

Every name in the ``__all__`` of the public modules should have a numpydoc
docstring with Parameters (when it takes any), Returns (functions),
Attributes (estimators), Examples and See Also. This script prints what is
missing, one line per object, and exits 1 when anything is (0 otherwise), so
it can gate CI once the gaps are closed::

    python docs/check_docstrings.py
"""

import importlib
import inspect
import sys

from numpydoc.docscrape import ClassDoc, FunctionDoc

MODULES = ["skunseen", "skunseen.engine", "skunseen.nets", "skunseen.scores",
           "skunseen.selection", "skunseen.models", "skunseen.datasets"]


def _takes_parameters(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in params)


def _is_estimator(obj):
    return inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "get_params")


def missing_sections(obj):
    """Names of the expected sections that ``obj``'s docstring lacks."""
    if not inspect.getdoc(obj):
        return ["docstring"]
    is_class = inspect.isclass(obj)
    doc = ClassDoc(obj) if is_class else FunctionDoc(obj)
    wanted = ["Examples", "See Also"]
    if _takes_parameters(obj):
        wanted.insert(0, "Parameters")
    if not is_class:
        wanted.insert(1 if _takes_parameters(obj) else 0, "Returns")
    if _is_estimator(obj):
        wanted.insert(1, "Attributes")
    missing = []
    for section in wanted:
        present = doc[section] or (section == "Returns" and doc["Yields"])
        if not present:
            missing.append(section)
    return missing


def report():
    """``[(qualified name, [missing sections])]`` for every public object."""
    rows = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                missing = missing_sections(obj)
                if missing:
                    rows.append((f"{module_name}.{name}", missing))
    return rows


def main():
    rows = report()
    for name, missing in rows:
        print(f"{name}: missing {', '.join(missing)}")
    print(f"{len(rows)} public objects with missing sections")
    return 1 if rows else 0


if __name__ == "__main__":
    sys.exit(main())
