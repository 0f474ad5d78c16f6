"""The out-of-fold engine: scoring models trained and recorded, as functions.

Public: :func:`cross_val_records`, :func:`unseen_scores` and
:func:`fitting_scores` (re-exported by :mod:`skunseen`). The pruners build
on the same steps: :func:`prepare_scoring` (inputs checked, model
resolved), a plan (:func:`out_of_fold`, :func:`train_on_rows`) and
:func:`run_plan` (store, training, records).
"""

from ._classifier import aligned_proba, seed_random_states
from ._cross_val import (
    PARAMETER_CONSTRAINTS,
    ScoringProblem,
    check_data,
    check_labels,
    cross_val_records,
    fitting_scores,
    prepare_scoring,
    run_plan,
    scorer_recording,
    unseen_scores,
)
from ._plan import Plan, ScoringTask, held_out_splits, out_of_fold, train_on_rows
from ._store import open_store

__all__ = [
    "PARAMETER_CONSTRAINTS",
    "Plan",
    "ScoringProblem",
    "ScoringTask",
    "aligned_proba",
    "check_data",
    "check_labels",
    "cross_val_records",
    "fitting_scores",
    "held_out_splits",
    "open_store",
    "out_of_fold",
    "prepare_scoring",
    "run_plan",
    "scorer_recording",
    "seed_random_states",
    "train_on_rows",
    "unseen_scores",
]
