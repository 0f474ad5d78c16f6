"""Records of a model's outputs on the samples it is scored on.

A :class:`ScoringRecords` holds, for one scoring model and the rows it scores,
everything a scorer may read: the final class probabilities and, for models
with training dynamics (skorch nets), one reduced statistic per sample and
epoch. Reduced statistics instead of full per-epoch logits keep memory at
``O(n_samples * n_epochs)`` whatever the number of classes (1,000 for
ImageNet), which is what the dynamics scores need.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

#: Per-epoch statistics recorded for every scored sample. Each is a function of
#: the model's log-probabilities at the end of one epoch and the label.
EPOCH_STATISTICS = (
    "correct",  # argmax == label
    "target_proba",  # p_y
    "logit_margin",  # z_y - max_{k != y} z_k (log-softmax differs by a constant)
    "el2n",  # ||softmax - onehot(y)||_2
    "loss",  # -log p_y
    "change",  # sum_c |p_c (log p_c - log p_c(previous epoch))|, 0 at epoch 0
)


def epoch_statistics(log_proba, y, previous_log_proba=None):
    """Reduce one epoch's log-probabilities to the per-sample statistics.

    Parameters
    ----------
    log_proba : torch.Tensor of shape (n_samples, n_classes)
        Log-probabilities (log-softmax of the logits).
    y : torch.Tensor of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    previous_log_proba : torch.Tensor of shape (n_samples, n_classes), default=None
        The same samples' log-probabilities one epoch earlier; ``change`` is
        zero when it is ``None``.

    Returns
    -------
    statistics : dict of str to torch.Tensor of shape (n_samples,)
        One entry per name in :data:`EPOCH_STATISTICS`.

    See Also
    --------
    ScoringRecords : holds these statistics, one column per epoch.
    skunseen.HeldOutRecorder : the skorch callback that records them.

    Examples
    --------
    >>> import torch
    >>> from skunseen.scores import epoch_statistics
    >>> log_p = torch.log(torch.tensor([[0.9, 0.1], [0.3, 0.7]]))
    >>> stats = epoch_statistics(log_p, torch.tensor([0, 0]))
    >>> stats["correct"].tolist()
    [True, False]
    """
    log_proba = log_proba.float()
    y = y.long().view(-1, 1)
    proba = log_proba.exp()
    target_log_proba = log_proba.gather(1, y).squeeze(1)
    others = log_proba.scatter(1, y, float("-inf"))
    best_other = others.max(dim=1).values
    onehot = torch.zeros_like(proba).scatter_(1, y, 1.0)
    if previous_log_proba is None:
        change = torch.zeros_like(target_log_proba)
    else:
        change = (proba * (log_proba - previous_log_proba.float())).abs().sum(dim=1)
    return {
        "correct": log_proba.argmax(dim=1) == y.squeeze(1),
        "target_proba": target_log_proba.exp(),
        "logit_margin": target_log_proba - best_other,
        "el2n": torch.linalg.vector_norm(proba - onehot, dim=1),
        "loss": -target_log_proba,
        "change": change,
    }


@dataclass
class ScoringRecords:
    """What one scoring model produced on the rows it scores.

    Parameters
    ----------
    indices : ndarray of shape (n_samples,)
        Rows of the caller's data these records describe.
    y : ndarray of shape (n_samples,)
        Encoded labels (positions in ``classes_``) of those rows.
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities of the model at the end of its training.
    epochs : dict of str to ndarray of shape (n_samples, n_epochs)
        Per-epoch statistics (see :data:`EPOCH_STATISTICS`); empty for models
        without training dynamics such as plain scikit-learn classifiers.
    extras : dict of str to ndarray
        Further per-sample outputs that some scorers ask for (for example
        penultimate-layer embeddings), keyed by name, rows aligned with
        ``indices``.
    model : str
        A short description of the scoring model, used in error messages.

    See Also
    --------
    Scorer : turns records into one importance per sample.
    epoch_statistics : the per-epoch statistics held in ``epochs``.
    skunseen.HeldOutRecorder : the skorch callback that records them.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import ScoringRecords
    >>> rec = ScoringRecords(indices=np.array([4, 7]), y=np.array([0, 1]),
    ...                      proba=np.array([[0.8, 0.2], [0.4, 0.6]]))
    >>> rec.n_samples, rec.has_dynamics
    (2, False)
    """

    indices: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    epochs: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    model: str = "the scoring model"

    @property
    def n_samples(self):
        return len(self.indices)

    @property
    def n_epochs(self):
        if not self.epochs:
            return 0
        return next(iter(self.epochs.values())).shape[1]

    @property
    def has_dynamics(self):
        return bool(self.epochs)

    def epoch(self, name):
        """Per-epoch statistic ``name`` as an array ``(n_samples, n_epochs)``.

        Raises a ``ValueError`` that says why when the model recorded none.
        """
        if name not in self.epochs:
            if not self.epochs:
                raise ValueError(
                    f"This scorer needs per-epoch records, but {self.model} has no "
                    "training dynamics. Use a skorch NeuralNet as `estimator`, or a "
                    "final-output scorer ('el2n', 'loss', 'entropy', 'margin')."
                )
            raise ValueError(
                f"Per-epoch statistic {name!r} was not recorded; recorded: "
                f"{sorted(self.epochs)}."
            )
        return self.epochs[name]

    def extra(self, name):
        """Extra per-sample output ``name``, with a clear error when missing."""
        if name not in self.extras:
            raise ValueError(
                f"This scorer needs {name!r} records, which {self.model} did not "
                f"produce; available: {sorted(self.extras) or 'none'}."
            )
        return self.extras[name]
