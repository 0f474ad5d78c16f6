"""Named selection rules, so that pruners accept ``selector="ccs"``."""

from .._registry import Registry
from ._d2 import d2
from ._dual import beta_sampling
from ._selectors import ccs, easy, hard, moderate, uniform

#: The registered selection rules by name.
SELECTORS = Registry("selector", "func(scores, n_select, rng, **params)")


def register_selector(name, func, overwrite=False):
    """Register a selection rule under ``name``.

    Parameters
    ----------
    name : str
        Registry name.
    func : callable
        ``func(scores, n_select, rng, **params) -> positions``: exactly
        ``n_select`` distinct int positions into ``scores`` (higher scores
        are harder); ``rng`` is a :class:`numpy.random.RandomState`. A rule
        that reads per-sample inputs besides the scores names them in a
        ``needs`` attribute (see :func:`select`).
    overwrite : bool, default=False
        Replace an existing rule of that name instead of raising.

    Returns
    -------
    func : callable
        The registered rule, unchanged.

    See Also
    --------
    get_selector : resolve a name into a rule.
    available_selectors : names of the registered rules.
    rule_needs : the per-sample inputs a rule names in ``needs``.
    skunseen.scores.register_scorer : the same for scorers.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import register_selector, select
    >>> def every_other(scores, n_select, rng):
    ...     return np.arange(0, 2 * n_select, 2)
    >>> _ = register_selector("every_other_doc", every_other, overwrite=True)
    >>> select(np.zeros(6), np.zeros(6, int), 3, selector="every_other_doc").tolist()
    [0, 2, 4]
    """
    return SELECTORS.register(name, func, overwrite=overwrite)


def available_selectors():
    """Names of the registered selection rules, sorted.

    Returns
    -------
    names : list of str

    See Also
    --------
    get_selector : resolve one of these names.
    register_selector : add a name.
    skunseen.scores.available_scorers : names of the scorers.

    Examples
    --------
    >>> from skunseen.selection import available_selectors
    >>> {"ccs", "easy", "hard", "moderate", "random"} <= set(available_selectors())
    True
    """
    return SELECTORS.names()


register_selector("hard", hard)
register_selector("easy", easy)
register_selector("random", uniform)
register_selector("moderate", moderate)
register_selector("ccs", ccs)
register_selector("d2", d2)
register_selector("dual", beta_sampling)
