"""skunseen: UNSEEN dataset pruning with a scikit-learn estimator API.

Score every training sample with models that never trained on it, then keep a
compact, informative coreset.
"""

import importlib

from ._names import __version__

# Public name -> private module defining it, loaded on first use (PEP 562):
# `import skunseen` stays instant (the command line answers --help at once),
# and only what is used loads: torch with the first net, tensor, Dataset or
# image loader, never for a pruner over a scikit-learn classifier.
_PUBLIC = {
    "BasePruner": "pruners",
    "FittingPruner": "pruners",
    "HeldOutRecords": "_records",
    "MultiStepUnseenPruner": "pruners",
    "PrunedClassifier": "pruners",
    "PruningSampler": "pruners",
    "UnseenPruner": "pruners",
    "cross_val_records": "engine",
    "fitting_scores": "engine",
    "unseen_scores": "engine",
}
_SUBPACKAGES = ("cli", "datasets", "engine", "models", "nets", "pruners", "scores",
                "selection")

__all__ = [*sorted(_PUBLIC), "__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC, *_SUBPACKAGES})
