"""The out-of-fold engine: scoring models trained and recorded, as functions.

Public: :func:`cross_val_records`, :func:`unseen_scores` and
:func:`fitting_scores` (re-exported by :mod:`skunseen`), and the plans a
custom pruner returns from ``_plan`` (:class:`Plan`, :class:`ScoringTask`,
:func:`out_of_fold`, :func:`train_on_rows`). The pruners take the same
three steps as the functions: :func:`prepare_scoring` (inputs checked,
model resolved), a plan, and :func:`run_plan` (store, training, records);
those and the other names imported here are the pruners' interface to the
engine, not part of its stable API.
"""

from ._cross_val import cross_val_records, fitting_scores, unseen_scores
from ._scoring import (
    PARAMETER_CONSTRAINTS,
    Plan,
    ScoringProblem,
    ScoringTask,
    aligned_columns,
    draw_seed,
    draw_seeds,
    held_out_splits,
    out_of_fold,
    prepare_scoring,
    run_plan,
    scorer_recording,
    seed_random_states,
    train_on_rows,
)
from ._store import open_store, store_location

__all__ = [
    "Plan",
    "ScoringTask",
    "cross_val_records",
    "fitting_scores",
    "out_of_fold",
    "train_on_rows",
    "unseen_scores",
]
