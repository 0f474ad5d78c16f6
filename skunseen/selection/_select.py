"""Keep a fixed number of samples from their scores, class by class.

:func:`select` shares the budget among classes (:func:`class_budgets`) and
runs a selection rule, looked up by :func:`get_selector`, inside each class.
A rule that reads more than the scores names those inputs in a ``needs``
attribute (``d2.needs == ("features", "groups")``); :func:`select` passes
each rule the inputs it names, restricted to the rows it selects from. A
need whose parameter has a default (``groups=None``) is optional. The
pruners build the inputs from the scoring models' records
(:meth:`skunseen.HeldOutRecords.sample_inputs`).
"""

import inspect

import numpy as np
from sklearn.utils import check_random_state

from .._data import is_int
from ._registry import SELECTORS, available_selectors



def _rule_name(rule):
    return getattr(rule, "__name__", type(rule).__name__)


def _check_inputs(rule, sample_inputs, params, n_samples):
    """The inputs ``rule`` reads, as arrays with one row per sample."""
    inputs = {}
    for name in rule_needs(rule):
        if name in params:
            raise ValueError(
                f"{name!r} is a per-sample input of selector {_rule_name(rule)!r}; pass "
                "it in sample_inputs (rows aligned with the scores), not in "
                "selector_params."
            )
        if name not in sample_inputs:
            if required_need(rule, name):
                raise ValueError(
                    f"Selector {_rule_name(rule)!r} needs the per-sample input {name!r}; "
                    f"pass sample_inputs={{{name!r}: ...}} with one row per score."
                )
            continue
        values = np.asarray(sample_inputs[name])
        if values.ndim < 1 or len(values) != n_samples:
            raise ValueError(
                f"sample_inputs[{name!r}] must have one row per score ({n_samples}); "
                f"got shape {values.shape}."
            )
        inputs[name] = values
    return inputs


def _apply_rule(rule, scores, n_select, rng, params, inputs=None):
    positions = np.asarray(rule(scores, n_select, rng, **params, **(inputs or {})))
    name = _rule_name(rule)
    if (
        positions.shape != (n_select,)
        or (positions.size and not np.issubdtype(positions.dtype, np.integer))
        or np.any((positions < 0) | (positions >= len(scores)))
        or len(np.unique(positions)) != n_select
    ):
        raise ValueError(
            f"Selector {name!r} must return {n_select} distinct integer positions "
            f"in [0, {len(scores)}); got {positions!r:.200}."
        )
    return positions.astype(np.int64)


def select(
    scores,
    y,
    n_select,
    *,
    selector="ccs",
    class_budget="proportional",
    class_weights=None,
    random_state=None,
    selector_params=None,
    sample_inputs=None,
):
    """Choose ``n_select`` samples from their importance scores.

    The budget is first shared among classes (:func:`class_budgets`); the
    selection rule then runs inside every class on that class's scores. With
    ``class_budget=None`` the rule runs once over all samples.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Finite importance per sample, higher = harder / more informative.
    y : array-like of shape (n_samples,)
        Class labels.
    n_select : int
        Number of samples to keep, in ``[1, n_samples]``.
    selector : str or callable, default="ccs"
        A registered rule (see :func:`available_selectors`) or a callable
        ``func(scores, n_select, rng, **params) -> positions``.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How the budget is shared among classes (see :func:`class_budgets`);
        ``None`` ranks all samples together.
    class_weights : array-like of shape (n_classes,), default=None
        Per-class weights for ``class_budget="difficulty"``, aligned with
        ``np.unique(y)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random rules (``random``, ``ccs``); a fixed value gives the
        same selection every time.
    selector_params : dict, default=None
        Keyword parameters of the rule, for example ``{"cutoff": 0.1}`` for
        ``ccs``.
    sample_inputs : dict of str to array-like, default=None
        Per-sample inputs besides the scores, rows aligned with ``scores``,
        for rules that name them in their ``needs`` attribute:
        ``{"features": embeddings}`` (and optionally ``"groups"``) for
        ``d2``, ``{"target_proba": mean_label_proba}`` for ``dual``. Each
        rule gets the rows of the group it selects from; rules without
        ``needs`` get none.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Sorted positions into ``scores`` of the kept samples.

    See Also
    --------
    class_budgets : how the budget is shared among classes.
    available_selectors : the registered selection rules.
    skunseen.UnseenPruner : scores the samples and calls this function.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import select
    >>> scores = np.array([0.9, 0.1, 0.5, 0.8, 0.2, 0.3])
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> select(scores, y, 4, selector="hard").tolist()
    [0, 2, 3, 5]
    >>> select(scores, y, 2, selector="hard", class_budget=None).tolist()
    [0, 3]
    >>> features = np.array([[0.0], [0.1], [5.0], [0.0], [0.1], [5.0]])
    >>> select(scores, y, 4, selector="d2", sample_inputs={"features": features},
    ...        selector_params={"n_neighbors": 1, "gamma_reverse": 0.0}).tolist()
    [0, 2, 3, 5]
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    if scores.ndim != 1 or y.ndim != 1 or len(scores) != len(y):
        raise ValueError(
            "scores and y must be 1-D of the same length; got shapes "
            f"{scores.shape} and {y.shape}."
        )
    n_select = check_n_select(n_select, len(scores))
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"scores contain {np.count_nonzero(~np.isfinite(scores))} NaN or "
            "infinite values; every sample needs a finite score."
        )
    rule = get_selector(selector)
    params = dict(selector_params or {})
    inputs = _check_inputs(rule, sample_inputs or {}, params, len(scores))
    rng = check_random_state(random_state)

    if class_budget is None:
        if class_weights is not None:
            raise ValueError(
                "class_weights is only used with class_budget='difficulty'."
            )
        return np.sort(_apply_rule(rule, scores, n_select, rng, params, inputs))

    budgets = class_budgets(y, n_select, class_budget, class_weights)
    _, class_of = np.unique(y, return_inverse=True)
    chosen = []
    for k, budget in enumerate(budgets):
        if budget == 0:
            continue
        members = np.flatnonzero(class_of == k)
        kept = _apply_rule(rule, scores[members], int(budget), rng, params,
                           {name: values[members] for name, values in inputs.items()})
        chosen.append(members[kept])
    return np.sort(np.concatenate(chosen))


# Stand-ins for the per-sample inputs of a trial run (see check_selector_params).
_TRIAL_INPUTS = {
    "features": lambda n: np.linspace(0.0, 1.0, 2 * n).reshape(n, 2),
    "groups": lambda n: np.zeros(n, dtype=np.int64),
    "target_proba": lambda n: np.linspace(0.1, 0.9, n),
}


def check_selector_params(selector, selector_params):
    """Raise before any model trains when ``selector_params`` do not fit the rule.

    Names the rule does not take raise a ``TypeError``; values it refuses
    (found by a trial run on 16 made-up scores) raise a ``ValueError``,
    both naming ``selector_params``.

    Parameters
    ----------
    selector : str or callable
        A registered rule or a callable, as :func:`select` takes it.
    selector_params : dict or None
        Keyword parameters of the rule.

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        Naming ``selector_params`` and the rule.

    See Also
    --------
    select : where the parameters reach the rule.

    Examples
    --------
    >>> from skunseen.selection import check_selector_params
    >>> check_selector_params("ccs", {"cutoff": 0.1})
    >>> check_selector_params("ccs", {"cut_off": 0.1})
    Traceback (most recent call last):
    ...
    TypeError: selector_params={'cut_off': 0.1}: selector 'ccs' takes no parameter(s) ['cut_off']; it takes ['cutoff', 'n_strata'].
    """
    params = dict(selector_params or {})
    if not params:
        return
    rule = get_selector(selector)
    name = _rule_name(rule)
    needs = rule_needs(rule)
    try:
        parameters = list(inspect.signature(rule).parameters.values())[3:]
    except (TypeError, ValueError):  # no signature: the trial run is the check
        parameters = None
    if parameters is not None and not any(p.kind is p.VAR_KEYWORD for p in parameters):
        takes = [p.name for p in parameters if p.name not in needs
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = sorted(set(params) - set(takes))
        if unknown:
            raise TypeError(
                f"selector_params={params!r}: selector {name!r} takes no parameter(s) "
                f"{unknown}; it takes {takes}."
            )
    if any(need not in _TRIAL_INPUTS for need in needs):
        return  # inputs the trial cannot stand in for
    n = 16
    inputs = {need: _TRIAL_INPUTS[need](n) for need in needs}
    try:
        _check_inputs(rule, inputs, params, n)
        _apply_rule(rule, np.linspace(0.0, 1.0, n), n // 2, np.random.RandomState(0), params,
                    inputs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"selector_params={params!r} do not work with selector {name!r}: "
                         f"{exc}") from None


def get_selector(selector):
    """Resolve a selection rule given by name or as a callable.

    Parameters
    ----------
    selector : str or callable
        A registered name, or a rule ``func(scores, n_select, rng,
        **params)`` (returned as is).

    Returns
    -------
    func : callable

    See Also
    --------
    available_selectors : the registered names.
    register_selector : add a named rule.
    select : applies the rule class by class.

    Examples
    --------
    >>> from skunseen.selection import get_selector, hard
    >>> get_selector("hard") is hard
    True
    """
    if isinstance(selector, str):
        return SELECTORS[selector]
    if callable(selector):
        return selector
    raise ValueError(
        f"selector must be a registered name {available_selectors()} or a "
        f"callable; got {type(selector).__name__}."
    )


# -------------------------------------------------------------- class budgets
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


# ---------------------------------------------------------- per-sample inputs
def rule_needs(rule):
    """Names of the per-sample inputs a selection rule reads.

    Parameters
    ----------
    rule : callable

    Returns
    -------
    needs : tuple of str
        The rule's ``needs`` attribute; ``()`` when it has none.

    See Also
    --------
    skunseen.HeldOutRecords.sample_inputs : builds these inputs from the
        scoring models' records.
    select : passes each rule the inputs it needs.

    Examples
    --------
    >>> from skunseen.selection import d2, hard, rule_needs
    >>> rule_needs(d2), rule_needs(hard)
    (('features', 'groups'), ())
    """
    return tuple(getattr(rule, "needs", ()))


def required_need(rule, name):
    """Whether input ``name`` of ``rule`` has no default value."""
    try:
        parameter = inspect.signature(rule).parameters.get(name)
    except (TypeError, ValueError):  # no signature: treat every need as required
        return True
    return parameter is None or parameter.default is inspect.Parameter.empty
