"""The estimators: pruners with a scikit-learn API, and their Pipeline forms."""

from ._base import BasePruner
from ._composition import PrunedClassifier, PruningSampler
from ._fitting import FittingPruner
from ._multistep import MultiStepUnseenPruner
from ._unseen import UnseenPruner

__all__ = [
    "BasePruner",
    "FittingPruner",
    "MultiStepUnseenPruner",
    "PrunedClassifier",
    "PruningSampler",
    "UnseenPruner",
]
