"""skunseen: UNSEEN dataset pruning with a scikit-learn estimator API.

Score every training sample with models that never trained on it, then keep a
compact, informative coreset.
"""

from ._base import BasePruner
from ._composition import PrunedClassifier, PruningSampler
from ._fitting import FittingPruner
from ._multistep import MultiStepUnseenPruner
from ._recording import HeldOutRecorder
from ._unseen import UnseenPruner

__version__ = "0.1.0"

__all__ = [
    "BasePruner",
    "FittingPruner",
    "HeldOutRecorder",
    "MultiStepUnseenPruner",
    "PrunedClassifier",
    "PruningSampler",
    "UnseenPruner",
    "__version__",
]
