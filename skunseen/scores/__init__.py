"""Per-sample importance scores for dataset pruning.

Every scorer returns a float64 importance per sample where **higher means
harder / more informative**; published scores whose convention is the
opposite are negated (for example ``aum``).

Two layers are public:

- array functions (:func:`el2n`, :func:`loss`, :func:`entropy`,
  :func:`margin`, :func:`forgetting`, :func:`aum`, :func:`dyn_unc`,
  :func:`tdds`, :func:`dual`, :func:`median_distance`, :func:`grad_norms`,
  :func:`last_layer_grad_norms`) for users who bring their own predictions,
  embeddings or networks;
- the scorer registry (:class:`Scorer`, :func:`get_scorer`,
  :func:`register_scorer`, :func:`available_scorers`) used by the pruners,
  whose scorers read :class:`ScoringRecords`.

Two registered scorers read ``records.extras``, which the pruners have the
recorder produce only for them:

- ``grand`` (GraNd): the per-sample gradient norm ``"grad_norm"``; its
  parameters ``last_layer=False`` (gradient w.r.t. the last ``Linear`` layer
  only) and ``epochs=None`` (epoch positions to average over, as for
  ``el2n``; ``None`` is the end of training) select what is recorded, so the
  records already hold the averaged norm;
- ``moderate`` (Moderate-DS): the penultimate-layer ``"embedding"``, scored
  with :func:`median_distance` per scoring model (embeddings of different
  models are not comparable).
"""

from .._records import EPOCH_STATISTICS, ScoringRecords
from ._dynamics import aum, dual, dyn_unc, forgetting, tdds
from ._features import median_distance
from ._final import LOG_EPS, el2n, entropy, loss, margin
from ._gradients import grad_norm_batches, grad_norms, last_layer_grad_norms, last_linear
from ._registry import (
    Scorer,
    available_scorers,
    check_scorer_params,
    epoch_window,
    get_scorer,
    register_scorer,
)
from ._statistics import epoch_statistics

__all__ = [
    "EPOCH_STATISTICS",
    "LOG_EPS",
    "Scorer",
    "ScoringRecords",
    "aum",
    "available_scorers",
    "check_scorer_params",
    "dual",
    "dyn_unc",
    "el2n",
    "entropy",
    "epoch_statistics",
    "epoch_window",
    "forgetting",
    "get_scorer",
    "grad_norm_batches",
    "grad_norms",
    "last_layer_grad_norms",
    "last_linear",
    "loss",
    "margin",
    "median_distance",
    "register_scorer",
    "tdds",
]
