"""Keep a fixed number of samples from their scores, class by class."""

import inspect

import numpy as np
from sklearn.utils import check_random_state

from ._budgets import check_n_select, class_budgets
from ._inputs import required_need, rule_needs
from ._registry import get_selector


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

    Raises
    ------
    TypeError, ValueError
        Naming ``selector_params`` and the rule.

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
