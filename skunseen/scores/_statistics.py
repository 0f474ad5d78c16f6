"""The per-epoch statistics a scoring net's held-out records keep (torch).

One epoch's log-probabilities of the scored rows become one value per row
and statistic (:data:`~skunseen.scores.EPOCH_STATISTICS`), so records grow
with the number of epochs, never with epochs times classes.

The module imports torch inside the function, whose arguments are tensors,
so that ``import skunseen.scores`` stays free of torch.
"""


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

    Examples
    --------
    >>> import torch
    >>> from skunseen.scores import epoch_statistics
    >>> log_p = torch.log(torch.tensor([[0.9, 0.1], [0.3, 0.7]]))
    >>> stats = epoch_statistics(log_p, torch.tensor([0, 0]))
    >>> stats["correct"].tolist()
    [True, False]
    """
    import torch

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
