"""The out-of-fold engine as functions: held-out records of every sample.

:func:`cross_val_records` is to UNSEEN what scikit-learn's
:func:`~sklearn.model_selection.cross_val_predict` (and cleanlab's
out-of-fold ``pred_probs``) is to cross-validation: every sample's outputs
from models that never trained on it, as :class:`~skunseen.HeldOutRecords`.
:func:`unseen_scores` and :func:`fitting_scores` turn them (or the records
of models trained on every sample) into importances. Each is the three steps
of :mod:`skunseen.engine._scoring` (inputs checked, tasks planned, models run),
as the pruners take them, so for one ``random_state`` these functions return
their ``scores_``.
"""

from sklearn.utils._param_validation import StrOptions, validate_params

from .._data import check_seed, refuse_bools
from .._docstrings import PARAMETERS, Substitution
from .._records import DYNAMICS, EMBEDDING, GRAD_NORM
from ..scores import get_scorer
from ._scoring import (
    PARAMETER_CONSTRAINTS,
    out_of_fold,
    prepare_scoring,
    recording_from,
    run_plan,
    train_on_rows,
)

# --------------------------------------------------------------- the functions
_RUN_CONSTRAINTS = {
    **{name: PARAMETER_CONSTRAINTS[name] for name in (
        "estimator", "n_repeats", "device", "random_state", "n_jobs", "memory", "verbose",
        "fold_batching")},
    "X": "no_validation",
    "y": "no_validation",
    "params": [dict, None],
}
_OUT_OF_FOLD_CONSTRAINTS = {**_RUN_CONSTRAINTS, "cv": ["cv_object"],
                            "groups": ["array-like", None]}
_SCORER_CONSTRAINTS = {name: PARAMETER_CONSTRAINTS[name] for name in ("scorer", "scorer_params")}


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS,
                  "record": [StrOptions({"auto", DYNAMICS, EMBEDDING, GRAD_NORM}), list, tuple,
                             set, dict]},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def cross_val_records(estimator, X, y=None, *, cv=5, n_repeats=1, groups=None, record="auto",
                      params=None, device="auto", n_jobs=None, random_state=None, memory=None,
                      verbose=0, fold_batching="auto"):
    """Held-out records of every sample: outputs of models that never trained on it.

    The samples are split into ``cv`` folds (stratified, shuffled, seeded);
    for every fold a clone of ``estimator`` trains on the other folds and
    records its outputs on the held-out fold: the final class
    probabilities and, for skorch nets, per-epoch statistics and the
    extras asked for. ``n_repeats > 1`` redraws the folds. This is the
    scoring stage of :class:`UnseenPruner` (UNSEEN, AAAI 2026,
    arXiv:2511.12988) as a function, like scikit-learn's
    :func:`~sklearn.model_selection.cross_val_predict`: bring the records
    to :func:`skunseen.scores` scorers and :func:`skunseen.selection.select`.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(cv)s
    n_repeats : int, default=1
        Number of fold redraws.
    %(groups)s
    record : "auto", str, list of str or dict, default="auto"
        What the models record besides the final probabilities:
        ``"dynamics"`` (per-epoch statistics), ``"embedding"``,
        ``"grad_norm"``, several of them, or a dict mapping extras to
        options (see :class:`skunseen.nets.HeldOutRecorder`). ``"auto"``
        records dynamics for skorch nets and nothing more for other
        classifiers.
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    records : HeldOutRecords
        One :class:`~skunseen.scores.ScoringRecords` per fold model, every
        sample held out once per repeat, the fold ids of shape
        ``(n_repeats, n_samples)`` and per-model ``task_info``;
        ``records.proba`` has shape ``(n_samples, n_classes)``.

    Raises
    ------
    ValueError
        For invalid splits, a class smaller than ``cv``, a plain classifier
        asked for records only nets have, a model whose outputs are no
        probabilities, or a model whose training diverged.
    KeyboardInterrupt
        When training is interrupted (Ctrl-C); nothing trained part of the
        way is kept.

    See Also
    --------
    unseen_scores : importances from these records.
    fitting_scores : importances from models trained on every sample.
    UnseenPruner : these records, scored and selected, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import cross_val_records
    >>> X, y = load_digits(return_X_y=True)
    >>> held = cross_val_records(LogisticRegression(max_iter=200), X / 16, y, cv=3,
    ...                          random_state=0)
    >>> held.proba.shape, held.fold_ids.shape, len(held.records)
    ((1797, 10), (1, 1797), 3)
    """
    refuse_bools(n_repeats=n_repeats)
    problem = prepare_scoring(
        estimator, X, y, recording=lambda is_net: recording_from(record, is_net=is_net),
        asked_by={"dynamics": f"record={record!r}", "extras": f"record={record!r}"},
        groups=groups, fit_params=params, device=device, fold_batching=fold_batching,
        n_jobs=n_jobs, memory=memory, random_state=random_state, verbose=verbose,
        label="cross_val_records")
    plan = out_of_fold(problem.y, check_seed(random_state), classes=problem.classes, cv=cv,
                       n_repeats=n_repeats, groups=problem.groups)
    return run_plan(problem, plan)


def _scores(make_plan, estimator, X, y, *, scorer, scorer_params, random_state, n_repeats,
            **options):
    """Importances from the records of ``make_plan(problem, rng)``, averaged over repeats."""
    refuse_bools(n_repeats=n_repeats)
    scorer = get_scorer(scorer)
    problem = prepare_scoring(
        estimator, X, y,
        asked_by={"dynamics": f"scorer={scorer.name!r}", "extras": f"scorer={scorer.name!r}"},
        scorer=scorer, scorer_params=scorer_params, random_state=random_state, **options)
    held = run_plan(problem, make_plan(problem, check_seed(random_state)))
    params = scorer_params or {}
    return held.average(lambda records: scorer(records, **params))


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def unseen_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, cv=5,
                  n_repeats=1, groups=None, params=None, device="auto", n_jobs=None,
                  random_state=None, memory=None, verbose=0, fold_batching="auto"):
    """UNSEEN importances: every sample scored by models that never trained on it.

    :func:`cross_val_records` with what ``scorer`` reads recorded, then the
    scorer applied to every fold model's held-out records and averaged over
    repeats (UNSEEN, AAAI 2026, arXiv:2511.12988). For one
    ``random_state`` this is the ``scores_`` of an :class:`UnseenPruner`
    with the same parameters.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(scorer)s
    %(scorer_params)s
    %(cv)s
    n_repeats : int, default=1
        Number of fold redraws whose scores are averaged.
    %(groups)s
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Importance of every sample, higher = harder.

    Raises
    ------
    ValueError
        As :func:`cross_val_records`, and for a scorer reading records the
        estimator cannot produce.

    See Also
    --------
    fitting_scores : the conventional scores, from models that trained on
        every sample.
    cross_val_records : the records these scores are computed from.
    UnseenPruner : these scores and a selection rule, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import UnseenPruner, unseen_scores
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = unseen_scores(LogisticRegression(max_iter=200), X / 16, y, cv=3,
    ...                        random_state=0)
    >>> pruner = UnseenPruner(LogisticRegression(max_iter=200), cv=3, random_state=0)
    >>> scores.shape, bool((pruner.fit(X / 16, y).scores_ == scores).all())
    ((1797,), True)
    """
    def plan(problem, rng):
        return out_of_fold(problem.y, rng, classes=problem.classes, cv=cv,
                           n_repeats=n_repeats, groups=problem.groups)

    return _scores(plan, estimator, X, y, scorer=scorer, scorer_params=scorer_params,
                   random_state=random_state, n_repeats=n_repeats, groups=groups,
                   fit_params=params, device=device, n_jobs=n_jobs, memory=memory,
                   verbose=verbose, fold_batching=fold_batching, label="unseen_scores")


@validate_params({**_RUN_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def fitting_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, n_repeats=1,
                   params=None, device="auto", n_jobs=None, random_state=None, memory=None,
                   verbose=0, fold_batching="auto"):
    """Conventional ("fitting") importances: models trained on every sample score them.

    How score-based pruning is usually done (EL2N, forgetting, AUM, ...
    computed on the training set); the baseline that UNSEEN (AAAI 2026,
    arXiv:2511.12988) is measured against. For one ``random_state`` this is
    the ``scores_`` of a :class:`FittingPruner` with the same parameters.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(scorer)s
    %(scorer_params)s
    n_repeats : int, default=1
        Number of models (different seeds) whose scores are averaged.
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Importance of every sample, higher = harder.

    Raises
    ------
    ValueError
        For a scorer reading records the estimator cannot produce, or a
        model whose training diverged.

    See Also
    --------
    unseen_scores : the same scores from models that never saw the sample.
    FittingPruner : these scores and a selection rule, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import fitting_scores
    >>> X, y = load_digits(return_X_y=True)
    >>> fitting_scores(LogisticRegression(max_iter=200), X / 16, y, random_state=0).shape
    (1797,)
    """
    def plan(problem, rng):
        return train_on_rows(len(problem.y), rng, n_repeats=n_repeats)

    return _scores(plan, estimator, X, y, scorer=scorer, scorer_params=scorer_params,
                   random_state=random_state, n_repeats=n_repeats, fit_params=params,
                   device=device, n_jobs=n_jobs, memory=memory, verbose=verbose,
                   fold_batching=fold_batching, label="fitting_scores")
