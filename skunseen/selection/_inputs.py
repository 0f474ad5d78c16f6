"""Per-sample inputs of selection rules besides the scores.

A rule that reads more than the scores names those inputs in a ``needs``
attribute (``d2.needs == ("features", "groups")``); :func:`select` passes
each rule the inputs it names, restricted to the rows it selects from. A
need whose parameter has a default (``groups=None``) is optional.

The pruners build the inputs from the scoring models' records
(:func:`selector_inputs`) and have the recorder produce what they need
(:func:`selector_extras`).
"""

import inspect

import numpy as np

#: Inputs the pruners provide to selection rules, by name.
PRUNER_INPUTS = {
    "features": (
        "penultimate-layer embeddings, from the recorded 'embedding' extra of the "
        "first repeat's scoring models"
    ),
    "groups": (
        "the scoring model whose embedding each row's features are (embeddings of "
        "different models are not comparable)"
    ),
    "target_proba": (
        "mean over the recorded epochs of the probability of the label (the final "
        "probability for models without dynamics), averaged over repeats"
    ),
}

# Recorder extras the inputs are made of.
_EXTRAS = {"features": "embedding", "groups": "embedding"}


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
    selector_inputs : builds these inputs from the scoring models' records.
    selector_extras : what the recorder must record for them.
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


def selector_extras(rule):
    """What the recorder must record for a rule's inputs: ``{extra: options}``.

    Parameters
    ----------
    rule : callable

    Returns
    -------
    requests : dict of str to dict
        For :class:`~skunseen.HeldOutRecorder`'s ``extras``.

    See Also
    --------
    rule_needs : the inputs a rule names.
    selector_inputs : builds the inputs from what was recorded.
    skunseen.HeldOutRecorder : the skorch callback that records the extras.

    Examples
    --------
    >>> from skunseen.selection import d2, selector_extras
    >>> selector_extras(d2)
    {'embedding': {}}
    """
    return {_EXTRAS[name]: {} for name in rule_needs(rule) if name in _EXTRAS}


def selector_inputs(rule, results, rows):
    """The inputs a rule needs, built from the scoring models' records.

    Parameters
    ----------
    rule : callable
        The selection rule.
    results : list of (task, ScoringRecords)
        Every scoring model's records; ``task.group`` is its repeat.
    rows : ndarray of int
        The data rows selected from, in the order of the scores.

    Returns
    -------
    inputs : dict of str to ndarray
        One entry per name in ``rule_needs(rule)``, rows aligned with
        ``rows`` (see :data:`PRUNER_INPUTS`).

    See Also
    --------
    rule_needs : the inputs a rule names.
    selector_extras : what the recorder must record for them.
    select : takes these inputs as ``sample_inputs``.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from skunseen.scores import ScoringRecords
    >>> from skunseen.selection import beta_sampling, selector_inputs
    >>> rec = ScoringRecords(indices=np.array([1, 0]), y=np.array([0, 1]),
    ...                      proba=np.array([[0.8, 0.2], [0.4, 0.6]]))
    >>> task = SimpleNamespace(group=0)
    >>> selector_inputs(beta_sampling, [(task, rec)], np.array([0, 1]))
    {'target_proba': array([0.6, 0.8])}
    """
    needs = rule_needs(rule)
    unknown = sorted(set(needs) - set(PRUNER_INPUTS))
    if unknown:
        raise ValueError(
            f"The selection rule needs input(s) {unknown}, which the pruners cannot "
            f"provide; they provide {sorted(PRUNER_INPUTS)}."
        )
    if not needs:
        return {}
    rows = np.asarray(rows, dtype=np.int64)
    size = 1 + max([rows.max(initial=-1)]
                   + [records.indices.max(initial=-1) for _, records in results])
    position = np.full(size, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    groups = sorted({task.group for task, _ in results})
    inputs = {}
    if "features" in needs or "groups" in needs:
        first = [records for task, records in results if task.group == groups[0]]
        width = first[0].extra("embedding").reshape(first[0].n_samples, -1).shape[1]
        features = np.zeros((len(rows), width), dtype=np.float32)
        spaces = np.full(len(rows), -1, dtype=np.int64)
        for model, records in enumerate(first):
            at = position[records.indices]
            features[at] = records.extra("embedding").reshape(records.n_samples, -1)
            spaces[at] = model
        inputs.update(features=features, groups=spaces)
    if "target_proba" in needs:
        mean = np.zeros((len(groups), len(rows)))
        for task, records in results:
            if records.has_dynamics:
                target = records.epoch("target_proba").mean(axis=1)
            else:
                target = records.proba[np.arange(records.n_samples), records.y]
            mean[groups.index(task.group), position[records.indices]] = target
        inputs["target_proba"] = mean.mean(axis=0)
    return {name: inputs[name] for name in needs}
