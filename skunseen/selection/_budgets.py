"""How many samples each class keeps (class budgets)."""

import numpy as np

from .._checks import is_int

#: Valid values of ``class_budget`` (``None``, one global ranking, is handled
#: by :func:`~skunseen.selection.select`).
CLASS_BUDGETS = ("proportional", "balanced", "difficulty")


def check_n_select(n_select, n_samples):
    """``n_select`` as an int, checked to lie in ``[1, n_samples]``."""
    if not is_int(n_select) or not 1 <= n_select <= n_samples:
        raise ValueError(
            f"n_select must be an integer in [1, {n_samples}] (the number of "
            f"samples); got {n_select!r}."
        )
    return int(n_select)


def _largest_remainder(total, weights):
    """Integer shares of ``total`` proportional to ``weights``, summing to it.

    Every share is the floor of its quota; the units left go to the largest
    remainders (ties: lower position). Integer weights are handled exactly.
    """
    numerators = total * weights
    denominator = weights.sum()
    shares = (numerators // denominator).astype(np.int64)
    remainders = numerators - shares * denominator
    leftover = total - int(shares.sum())
    shares[np.argsort(-remainders, kind="stable")[:leftover]] += 1
    return shares


def _water_fill(total, weights, room):
    """Shares of ``total`` proportional to ``weights``, capped at ``room``.

    Groups whose quota reaches their room are filled and the rest of the budget
    is shared again among the others, until no quota exceeds its room; groups
    of weight 0 only receive what the others cannot take. Requires
    ``total <= room.sum()``.
    """
    shares = np.zeros(len(room), dtype=np.int64)
    active = np.flatnonzero(room > 0)
    remaining = total
    while remaining > 0:
        w = weights[active]
        if not w.sum() > 0:
            w = np.ones(len(active), dtype=np.int64)
        # Compare quota >= room without dividing, exactly for integer weights.
        full = remaining * w >= room[active] * w.sum()
        if not full.any():
            shares[active] = _largest_remainder(remaining, w)
            break
        shares[active[full]] = room[active[full]]
        remaining -= int(room[active[full]].sum())
        active = active[~full]
    return shares


def class_difficulty(proba, y, n_classes):
    """Class weights of ``class_budget="difficulty"``: each class's smoothed error.

    The weight of class c is ``(wrong_c + 1) / (n_c + 2)``, where ``n_c`` of
    the candidates belong to c and the scoring models' averaged
    probabilities predict ``wrong_c`` of them wrongly. The smoothing (one
    right and one wrong prediction added) keeps classes without errors from
    getting a zero weight and pulls tiny classes towards 1/2. Every pruner
    computes its ``"difficulty"`` budgets with this function, on the
    candidates of the selection at hand.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities of the candidates.
    y : ndarray of int of shape (n_samples,)
        Their encoded labels, in ``[0, n_classes)``.
    n_classes : int
        Number of classes of the whole data.

    Returns
    -------
    weights : ndarray of shape (n_present,)
        One weight per class present in y, aligned with ``np.unique(y)``
        (the ``class_weights`` of :func:`class_budgets`).

    See Also
    --------
    class_budgets : shares the budget by these weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import class_difficulty
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    >>> class_difficulty(proba, np.array([0, 0, 1]), 2)
    array([0.5       , 0.33333333])
    """
    y = np.asarray(y, dtype=np.int64)
    wrong = np.bincount(y, weights=(np.asarray(proba).argmax(axis=1) != y).astype(float),
                        minlength=n_classes)
    counts = np.bincount(y, minlength=n_classes)
    return ((wrong + 1.0) / (counts + 2.0))[np.unique(y)]


def class_budgets(y, n_select, class_budget="proportional", class_weights=None):
    """Number of samples each class keeps, summing exactly to ``n_select``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (any sortable values).
    n_select : int
        Total number of samples to keep, in ``[1, n_samples]``.
    class_budget : {"proportional", "balanced", "difficulty"}, \
            default="proportional"
        - ``"proportional"``: keep the class proportions; quotas
          ``n_select * n_c / n`` rounded by largest remainder.
        - ``"balanced"``: equal shares, capped at the class sizes; what a small
          class cannot take is shared among the classes with room.
        - ``"difficulty"``: shares proportional to ``class_weights`` (for
          example the per-class error of the scoring models), capped and
          redistributed like ``"balanced"``. As a floor, every class first
          gets one sample when ``n_select >= n_classes``, so that no class
          vanishes from the coreset; all-zero weights give equal shares.
    class_weights : array-like of shape (n_classes,), default=None
        Non-negative weight of each class, aligned with ``np.unique(y)``;
        required by ``"difficulty"`` and rejected by the other modes. The
        pruners pass :func:`class_difficulty`.

    Returns
    -------
    budgets : ndarray of int64 of shape (n_classes,)
        Samples kept per class, aligned with ``np.unique(y)``; never more than
        a class has, summing to ``n_select``.

    See Also
    --------
    select : runs a selection rule within each class's budget.
    class_difficulty : the pruners' weights for ``"difficulty"``.
    skunseen.datasets.stratified_subset : a class-stratified random subset.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import class_budgets
    >>> y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    >>> class_budgets(y, 5).tolist()
    [3, 2, 0]
    >>> class_budgets(y, 6, "balanced").tolist()
    [3, 2, 1]
    >>> class_budgets(y, 5, "difficulty", class_weights=[0.1, 0.9, 0.0]).tolist()
    [1, 3, 1]
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D; got shape {y.shape}.")
    n_select = check_n_select(n_select, len(y))
    if class_budget not in CLASS_BUDGETS:
        raise ValueError(
            f"Unknown class_budget {class_budget!r}; valid values: "
            f"{list(CLASS_BUDGETS)} (or None for one global ranking in select)."
        )
    _, sizes = np.unique(y, return_counts=True)
    sizes = sizes.astype(np.int64)
    if class_budget != "difficulty":
        if class_weights is not None:
            raise ValueError(
                "class_weights is only used with class_budget='difficulty'; "
                f"got class_budget={class_budget!r}."
            )
        weights = sizes if class_budget == "proportional" else np.ones_like(sizes)
        return _water_fill(n_select, weights, sizes)

    if class_weights is None:
        raise ValueError("class_budget='difficulty' needs class_weights.")
    weights = np.asarray(class_weights, dtype=np.float64)
    if weights.shape != sizes.shape:
        raise ValueError(
            f"class_weights must have one weight per class ({len(sizes)}, aligned "
            f"with np.unique(y)); got shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("class_weights must be finite and non-negative.")
    if n_select < len(sizes):
        return _water_fill(n_select, weights, sizes)
    floor = np.ones_like(sizes)
    return floor + _water_fill(n_select - len(sizes), weights, sizes - floor)
