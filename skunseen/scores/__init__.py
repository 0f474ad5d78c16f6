"""Per-sample importance scores for dataset pruning.

Every scorer returns a float64 importance per sample where **higher means
harder / more informative**; published scores whose convention is the
opposite are negated (for example ``aum``).

Two layers are public:

- array functions (:func:`el2n`, :func:`loss`, :func:`entropy`,
  :func:`margin`, :func:`forgetting`, :func:`aum`, :func:`dyn_unc`,
  :func:`tdds`, :func:`dual`) for users who bring their own predictions;
- the scorer registry (:class:`Scorer`, :func:`get_scorer`,
  :func:`register_scorer`, :func:`available_scorers`) used by the pruners,
  whose scorers read :class:`ScoringRecords`.
"""

from ._dynamics import aum, dual, dyn_unc, forgetting, tdds
from ._final import LOG_EPS, el2n, entropy, loss, margin
from ._records import EPOCH_STATISTICS, ScoringRecords, epoch_statistics
from ._registry import Scorer, available_scorers, get_scorer, register_scorer

__all__ = [
    "EPOCH_STATISTICS",
    "LOG_EPS",
    "Scorer",
    "ScoringRecords",
    "aum",
    "available_scorers",
    "dual",
    "dyn_unc",
    "el2n",
    "entropy",
    "epoch_statistics",
    "forgetting",
    "get_scorer",
    "loss",
    "margin",
    "register_scorer",
    "tdds",
]
