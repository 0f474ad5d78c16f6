"""DUAL's Beta-distribution sampling (Cho et al., ICML 2025), our reading."""

import numbers

import numpy as np
from scipy.stats import beta

from .._data import is_int
from ._selectors import check_rule_input

# Mean probabilities are kept inside (0, 1): the Beta density is infinite at
# an end point when its parameter there is below 1.
_PROBA_CLIP = 1e-6


def dual_sampling_weights(scores, target_proba, prune_rate, c_d=4.0, n_anchor=10,
                          concentration=15.0):
    """Sampling weights of :func:`beta_sampling`, before normalisation.

    ``w_i = Beta(pbar_i; a, b) * s_i`` with ``b = concentration * (1 -
    anchor) * (1 - prune_rate ** c_d)`` and ``a = concentration + 1 - b``,
    where ``pbar_i`` is the sample's mean probability of its label and
    ``anchor`` the mean ``pbar`` of the ``n_anchor`` highest-scoring samples.
    Negative scores are shifted to start at 0.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder (the Dual score).
    target_proba : array-like of shape (n_samples,)
        Mean over epochs of the probability of the labeled class.
    prune_rate : float in [0, 1)
        Fraction of the samples pruned away.
    c_d, n_anchor, concentration
        See :func:`beta_sampling`.

    Returns
    -------
    weights : ndarray of float64 of shape (n_samples,)
        Non-negative.

    See Also
    --------
    beta_sampling : the selection rule that samples with these weights.
    skunseen.scores.dual : the Dual score.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import dual_sampling_weights
    >>> w = dual_sampling_weights([0.3, 0.2, 0.1], [0.1, 0.5, 0.9], 0.5, n_anchor=1)
    >>> bool(w[0] > w[1] > w[2])
    True
    """
    scores = np.asarray(scores, dtype=np.float64)
    target_proba = np.asarray(target_proba, dtype=np.float64)
    if target_proba.shape != scores.shape:
        raise ValueError(
            f"target_proba must have one value per score ({len(scores)}); got shape "
            f"{target_proba.shape}."
        )
    if not np.all((target_proba >= 0) & (target_proba <= 1)):
        raise ValueError("target_proba must hold probabilities in [0, 1].")
    hardest = np.argsort(-scores, kind="stable")[:n_anchor]
    anchor = target_proba[hardest].mean()
    # b > 0 is needed for a density; it reaches 0 only when the hardest
    # samples are predicted with certainty, where all weight goes to p = 1.
    b = max(concentration * (1.0 - anchor) * (1.0 - prune_rate**c_d), _PROBA_CLIP)
    a = concentration + 1.0 - b
    density = beta.pdf(np.clip(target_proba, _PROBA_CLIP, 1.0 - _PROBA_CLIP), a, b)
    shifted = scores - scores.min() if scores.min() < 0 else scores
    return density * shifted


def beta_sampling(scores, n_select, rng, target_proba, c_d=4.0, n_anchor=10,
                  concentration=15.0):
    """DUAL's Beta sampling: random, weighted by difficulty and pruning rate.

    DUAL (Cho et al., ICML 2025) samples the coreset without replacement
    with probabilities proportional to :func:`dual_sampling_weights`: the
    Dual score times a Beta density over the samples' mean label probability
    ``pbar``. The Beta's mode follows the pruning rate ``r``: at low ``r`` it
    sits near the ``pbar`` of the hardest samples (keep hard ones), and as
    ``r`` grows it moves towards 1 (keep easier ones), at a speed set by
    ``c_d``. When fewer samples than ``n_select`` have a positive weight,
    all of them are kept and the rest is drawn uniformly (our choice).

    Our reading of the paper and the authors' released code: ``a + b = 16``
    (``concentration=15``), the anchor is the mean ``pbar`` of the 10
    highest-scoring samples, and ``c_d=4`` is the value of their CIFAR
    commands. ``r`` is ``1 - n_select / n_samples`` of the group the rule
    selects from (one class under class budgets).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder (the Dual score).
    n_select : int
        Number of samples to keep.
    rng : RandomState
        Source of randomness.
    target_proba : array-like of shape (n_samples,)
        Mean over epochs of the probability of the labeled class (the pruners
        pass the scoring models' records).
    c_d : float, default=4.0
        How fast the Beta mode moves towards easy samples with the pruning
        rate.
    n_anchor : int, default=10
        Number of highest-scoring samples whose mean ``pbar`` anchors the mode.
    concentration : float, default=15.0
        ``a + b - 1`` of the Beta distribution.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Distinct positions into ``scores``, in the order drawn.

    See Also
    --------
    dual_sampling_weights : the sampling weights.
    skunseen.scores.dual : the Dual score this rule is paired with.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import beta_sampling
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.rand(100)
    >>> kept = beta_sampling(scores, 30, rng, target_proba=rng.rand(100))
    >>> len(set(kept.tolist()))
    30
    """
    scores, n_select = check_rule_input(scores, n_select)
    for value, name in ((c_d, "c_d"), (concentration, "concentration")):
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not np.isfinite(value) or value <= 0):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    if not is_int(n_anchor) or n_anchor < 1:
        raise ValueError(f"n_anchor must be an integer >= 1; got {n_anchor!r}.")
    n = len(scores)
    if n_select == n:
        return np.arange(n, dtype=np.int64)
    weights = dual_sampling_weights(scores, target_proba, 1.0 - n_select / n, c_d=c_d,
                                    n_anchor=n_anchor, concentration=concentration)
    positive = np.flatnonzero(weights > 0)
    if len(positive) < n_select:
        rest = np.setdiff1d(np.arange(n), positive)
        fill = rng.permutation(rest)[:n_select - len(positive)]
        return np.concatenate([positive, fill]).astype(np.int64)
    return rng.choice(n, size=n_select, replace=False,
                      p=weights / weights.sum()).astype(np.int64)


beta_sampling.needs = ("target_proba",)
