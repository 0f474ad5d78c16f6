"""Selection rules: which samples of one group to keep, given their scores.

A rule is ``func(scores, n_select, rng, **params) -> positions``: ``scores``
is a float64 importance per sample (higher = harder / more informative),
``rng`` a :class:`numpy.random.RandomState`, and ``positions`` an int64 array
of exactly ``n_select`` distinct positions into ``scores``. The class budgets
and the bookkeeping around groups live in :func:`~skunseen.selection.select`.
"""

import numbers

import numpy as np

from .._data import is_int


def check_rule_input(scores, n_select):
    """``scores`` as a 1-D float64 array and ``n_select`` as an int in ``[0, n]``."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D; got shape {scores.shape}.")
    if not is_int(n_select) or not 0 <= n_select <= len(scores):
        raise ValueError(
            f"n_select must be an integer in [0, {len(scores)}]; got {n_select!r}."
        )
    return scores, int(n_select)


def hard(scores, n_select, rng=None):
    """Keep the highest-importance samples (ties: lower position first).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder.
    n_select : int
        Number of samples to keep.
    rng : RandomState, default=None
        Unused; accepted for the common rule signature.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Positions into ``scores``, most important first.

    See Also
    --------
    easy : keep the lowest-importance samples instead.
    ccs : cover the whole score range rather than its top.

    Examples
    --------
    >>> from skunseen.selection import hard
    >>> hard([0.1, 0.9, 0.5, 0.9], 3).tolist()
    [1, 3, 2]
    """
    scores, n_select = check_rule_input(scores, n_select)
    return np.argsort(-scores, kind="stable")[:n_select].astype(np.int64)


def easy(scores, n_select, rng=None):
    """Keep the lowest-importance samples (ties: lower position first).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder.
    n_select : int
        Number of samples to keep.
    rng : RandomState, default=None
        Unused; accepted for the common rule signature.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Positions into ``scores``, easiest first.

    See Also
    --------
    hard : keep the highest-importance samples instead.
    moderate : keep the samples around the median score.

    Examples
    --------
    >>> from skunseen.selection import easy
    >>> easy([0.1, 0.9, 0.5, 0.1], 3).tolist()
    [0, 3, 2]
    """
    scores, n_select = check_rule_input(scores, n_select)
    return np.argsort(scores, kind="stable")[:n_select].astype(np.int64)


def uniform(scores, n_select, rng):
    """Keep a uniformly random subset, ignoring the scores.

    Registered as the ``"random"`` selector.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Only their number is used.
    n_select : int
        Number of samples to keep.
    rng : RandomState
        Source of randomness.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Distinct positions into ``scores``, in random order.

    See Also
    --------
    ccs : random sampling stratified by score.
    hard : keep the highest-importance samples.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import uniform
    >>> sorted(uniform(np.zeros(10), 4, np.random.RandomState(0)).tolist())
    [2, 4, 8, 9]
    """
    scores, n_select = check_rule_input(scores, n_select)
    return rng.permutation(len(scores))[:n_select].astype(np.int64)


def moderate(scores, n_select, rng=None):
    """Keep the samples whose scores are closest to the median (Moderate-DS).

    Moderate coreset (Xia et al., ICLR 2023) keeps the band of samples around
    the median score, avoiding both the easiest and the hardest. Ties in the
    distance to the median go to the lower position.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder.
    n_select : int
        Number of samples to keep.
    rng : RandomState, default=None
        Unused; accepted for the common rule signature.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Positions into ``scores``, closest to the median first.

    See Also
    --------
    skunseen.scores.median_distance : the Moderate-DS score this rule is paired with.
    ccs : cover the whole score range instead of a band.

    Examples
    --------
    >>> from skunseen.selection import moderate
    >>> moderate([0.0, 1.0, 2.0, 3.0, 10.0], 3).tolist()
    [2, 1, 3]
    """
    scores, n_select = check_rule_input(scores, n_select)
    if n_select == 0:
        return np.empty(0, dtype=np.int64)
    distance = np.abs(scores - np.median(scores))
    return np.argsort(distance, kind="stable")[:n_select].astype(np.int64)


#: Our table for ``cutoff="auto"``: pruning rate -> fraction of hardest samples
#: dropped, linearly interpolated. The CCS paper reports tuned cutoffs in these
#: ranges (none below 50% pruning, growing with the pruning rate); the table
#: is our heuristic, not a value the paper fixes.
CCS_AUTO_CUTOFF = ((0.5, 0.0), (0.7, 0.1), (0.8, 0.2), (0.9, 0.3), (1.0, 0.4))


def ccs_auto_cutoff(pruning_rate):
    """Hard cutoff used by :func:`ccs` with ``cutoff="auto"``.

    Linear interpolation in :data:`CCS_AUTO_CUTOFF`: 0 up to 50% pruning,
    0.1 at 70%, 0.2 at 80%, 0.3 at 90%, reaching 0.4 at 100%. This is our
    heuristic after the ranges reported by Zheng et al. (ICLR 2023), not a
    value the paper fixes.

    Parameters
    ----------
    pruning_rate : float
        Fraction of the samples pruned away, ``1 - n_select / n_samples``.

    Returns
    -------
    cutoff : float
        Fraction of the hardest samples to drop before stratified sampling.

    See Also
    --------
    ccs : the rule that uses this cutoff with ``cutoff="auto"``.

    Examples
    --------
    >>> from skunseen.selection import ccs_auto_cutoff
    >>> [round(ccs_auto_cutoff(p), 3) for p in (0.3, 0.6, 0.7, 0.85, 0.9)]
    [0.0, 0.05, 0.1, 0.25, 0.3]
    """
    rates, cutoffs = zip(*CCS_AUTO_CUTOFF)
    return float(np.interp(pruning_rate, rates, cutoffs))


def _stratum_budgets(sizes, n_select):
    """Share ``n_select`` among strata of the given sizes, smallest first.

    Each stratum, in increasing size, gets ``min(size, remaining // strata
    left)``; what a small stratum cannot take passes on to the larger ones, so
    the total is exactly ``n_select`` whenever ``sum(sizes) >= n_select``.
    """
    budgets = np.zeros(len(sizes), dtype=np.int64)
    remaining = n_select
    order = np.argsort(sizes, kind="stable")
    for rank, stratum in enumerate(order):
        budgets[stratum] = min(sizes[stratum], remaining // (len(order) - rank))
        remaining -= budgets[stratum]
    return budgets


def ccs(scores, n_select, rng, cutoff="auto", n_strata=50):
    """Coverage-centric coreset selection (Zheng et al., ICLR 2023).

    1. Drop the hardest ``floor(cutoff * n_samples)`` samples (mislabeled or
       ambiguous ones dominate there), or only ``n_samples - n_select`` if
       that would leave too few.
    2. Split the remaining score range into ``n_strata`` equal-width strata.
    3. Visit the non-empty strata from the smallest to the largest; each gets
       ``min(size, remaining_budget // strata_left)``, so that small strata
       are kept whole and what they cannot take passes on to larger ones. The
       total is exactly ``n_select``.
    4. Sample uniformly without replacement inside each stratum.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder.
    n_select : int
        Number of samples to keep.
    rng : RandomState
        Source of randomness.
    cutoff : float in [0, 1) or "auto", default="auto"
        Fraction of the hardest samples dropped first. ``"auto"`` uses
        :func:`ccs_auto_cutoff` of the pruning rate ``1 - n_select /
        n_samples`` (our heuristic, see there).
    n_strata : int, default=50
        Number of equal-width strata.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Distinct positions into ``scores``, grouped by stratum.

    See Also
    --------
    ccs_auto_cutoff : the cutoff used with ``cutoff="auto"``.
    d2 : another rule balancing difficulty and diversity.
    uniform : random sampling that ignores the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import ccs
    >>> scores = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 10.0, 100.0])
    >>> kept = ccs(scores, 4, np.random.RandomState(0), cutoff=0.125, n_strata=2)
    >>> len(kept), 7 in kept, 6 in kept  # 100.0 dropped; lone 10.0 kept
    (4, False, True)
    """
    scores, n_select = check_rule_input(scores, n_select)
    n_samples = len(scores)
    if isinstance(cutoff, str) and cutoff == "auto":
        cutoff = ccs_auto_cutoff(1.0 - n_select / n_samples) if n_samples else 0.0
    elif (
        not isinstance(cutoff, numbers.Real)
        or isinstance(cutoff, bool)
        or not 0.0 <= cutoff < 1.0
    ):
        raise ValueError(f"cutoff must be 'auto' or a float in [0, 1); got {cutoff!r}.")
    if not is_int(n_strata) or n_strata < 1:
        raise ValueError(f"n_strata must be an integer >= 1; got {n_strata!r}.")
    if n_select == 0:
        return np.empty(0, dtype=np.int64)

    n_drop = min(int(np.floor(cutoff * n_samples)), n_samples - n_select)
    kept = np.argsort(-scores, kind="stable")[n_drop:]
    kept_scores = scores[kept]
    low, high = kept_scores.min(), kept_scores.max()
    if high > low:
        # The maximum belongs to the last stratum rather than to one of its own.
        strata = np.minimum(
            ((kept_scores - low) / (high - low) * n_strata).astype(np.int64),
            n_strata - 1,
        )
    else:
        strata = np.zeros(len(kept), dtype=np.int64)
    sizes = np.bincount(strata, minlength=n_strata)
    non_empty = np.flatnonzero(sizes)
    budgets = _stratum_budgets(sizes[non_empty], n_select)

    chosen = []
    for stratum, budget in zip(non_empty, budgets):
        members = kept[strata == stratum]
        chosen.append(members[rng.permutation(len(members))[:budget]])
    return np.concatenate(chosen).astype(np.int64)
