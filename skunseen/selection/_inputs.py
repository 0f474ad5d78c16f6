"""Per-sample inputs of selection rules besides the scores.

A rule that reads more than the scores names those inputs in a ``needs``
attribute (``d2.needs == ("features", "groups")``); :func:`select` passes
each rule the inputs it names, restricted to the rows it selects from. A
need whose parameter has a default (``groups=None``) is optional.

The pruners build the inputs from the scoring models' records
(:meth:`skunseen.HeldOutRecords.sample_inputs`, which provides
:data:`PRUNER_INPUTS`).
"""

import inspect


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
