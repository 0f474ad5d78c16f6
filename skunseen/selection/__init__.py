"""Coreset selection: class budgets and selection rules over importance scores.

:func:`select` is the entry point: it shares the budget among classes
(:func:`class_budgets`) and runs a selection rule (``hard``, ``easy``,
``random``, ``moderate``, ``ccs`` or a registered one) inside each class.
Scores follow the package convention: higher = harder / more informative.
"""

from ._budgets import CLASS_BUDGETS, class_budgets
from ._registry import available_selectors, get_selector, register_selector
from ._select import select
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
    "available_selectors",
    "ccs",
    "ccs_auto_cutoff",
    "class_budgets",
    "easy",
    "get_selector",
    "hard",
    "moderate",
    "register_selector",
    "select",
    "uniform",
]
