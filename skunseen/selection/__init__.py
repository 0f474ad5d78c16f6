"""Coreset selection: class budgets and selection rules over importance scores.

:func:`select` is the entry point: it shares the budget among classes
(:func:`class_budgets`) and runs a selection rule (``hard``, ``easy``,
``random``, ``moderate``, ``ccs``, ``d2``, ``dual`` or a registered one)
inside each class. Scores follow the package convention: higher = harder /
more informative.

Some rules read per-sample inputs besides the scores, named in their
``needs`` attribute and passed to :func:`select` as ``sample_inputs``:
``d2`` reads ``features`` (embeddings) and optionally ``groups`` (which
embedding space each row is in), ``dual`` reads ``target_proba`` (mean
probability of the label). The pruners fill them from the scoring models'
records (:meth:`skunseen.HeldOutRecords.sample_inputs`, see :data:`PRUNER_INPUTS`).
"""

from .._records import PRUNER_INPUTS
from ._d2 import d2, knn_graph
from ._dual import beta_sampling, dual_sampling_weights
from ._registry import available_selectors, register_selector
from ._select import (
    CLASS_BUDGETS,
    check_selector_params,
    class_budgets,
    class_difficulty,
    get_selector,
    rule_needs,
    select,
)
from ._selectors import (
    CCS_AUTO_CUTOFF,
    ccs,
    ccs_auto_cutoff,
    easy,
    hard,
    moderate,
    uniform,
)

__all__ = [
    "CCS_AUTO_CUTOFF",
    "CLASS_BUDGETS",
    "PRUNER_INPUTS",
    "available_selectors",
    "beta_sampling",
    "ccs",
    "ccs_auto_cutoff",
    "check_selector_params",
    "class_budgets",
    "class_difficulty",
    "d2",
    "dual_sampling_weights",
    "easy",
    "get_selector",
    "hard",
    "knn_graph",
    "moderate",
    "register_selector",
    "rule_needs",
    "select",
    "uniform",
]
