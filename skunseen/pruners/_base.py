"""The scikit-learn contract of every pruner.

:class:`BasePruner` holds what scikit-learn asks of an estimator: parameters
stored untouched in ``__init__`` and validated in ``fit``, fitted attributes
set together at the end (a fit that raises leaves the pruner as it was),
``transform``, ``fit_resample``, ``get_support`` and metadata routing.
Scoring runs in the engine (:mod:`skunseen.engine`): ``fit`` checks
everything and resolves the scoring model (:func:`~skunseen.engine.prepare_scoring`),
then a subclass says which models train on which rows (:meth:`BasePruner._plan`),
or, for several rounds, overrides :meth:`BasePruner._score_and_select`
(imbalanced-learn's template methods). :func:`score_round` and
:func:`select_rows` are the two steps every round of every pruner takes.
"""

import copy
import functools
import os
import sys
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Hidden, Interval, RealNotInt, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from .._data import check_seed, refuse_bools
from .._data import (
    fingerprint,
    is_dataframe,
    is_dataset,
    is_tensor,
    labels_of_dataset,
    n_rows,
    resolve_n_select,
    take_labels,
    take_rows,
)
from .._docstrings import SHARED, Substitution
from .._records import input_extras
from ..engine import (
    PARAMETER_CONSTRAINTS,
    draw_seed,
    prepare_scoring,
    run_plan,
    store_location,
)
from ..scores import get_scorer
from ..selection import (
    check_selector_params,
    class_difficulty,
    get_selector,
    rule_needs,
    select,
)


@Substitution(**SHARED)
class BasePruner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base class of the pruners; not meant to be used directly.

    Subclasses implement :meth:`_plan`: which models train on which rows
    and score which rows. Everything else is shared: input validation,
    training the scoring models (through :mod:`skunseen.engine`: in
    parallel, with the store of ``memory``), averaging their scores over
    repeats and selecting the coreset, and the transformer API (``fit``,
    ``transform``, ``fit_transform``, ``fit_resample``, ``get_support``).

    Parameters
    ----------
    %(estimator)s
    %(scorer)s
    %(scorer_params)s
    %(selector)s
    %(selector_params)s
    %(keep)s
    %(class_budget)s
    %(device)s
    %(random_state)s
    %(n_jobs)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s
    %(checkpoint_dir)s

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Importance of every sample (higher = harder), averaged over the
        repeats of the scoring models.
    %(sample_indices_)s
    %(data_attributes)s
    %(task_info_)s

    See Also
    --------
    UnseenPruner : out-of-fold (UNSEEN) scores.
    MultiStepUnseenPruner : incremental "evaluate and refill" selection.
    FittingPruner : scores from models trained on the samples they score.

    Notes
    -----
    ``_plan(problem, rng)`` returns a :class:`skunseen.engine.Plan`: the
    :class:`~skunseen.engine.ScoringTask` list (each trains a clone of
    ``estimator`` on ``train_indices`` and scores ``score_indices``) and
    the scored rows; the tasks of one group must together score every row
    exactly once, and scores are averaged over groups. ``problem`` is the
    :class:`~skunseen.engine.ScoringProblem` (encoded labels ``y``,
    ``classes``, ``groups``). Draw seeds from ``rng`` so that
    ``random_state`` fixes the coreset. A subclass that adds constructor
    parameters extends ``_parameter_constraints``.

    Examples
    --------
    A pruner with two models, each scoring the half of the rows it did not
    train on:

    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import BasePruner
    >>> from skunseen.engine import Plan, ScoringTask
    >>> class HalvesPruner(BasePruner):
    ...     def _plan(self, problem, rng):
    ...         rows = rng.permutation(len(problem.y))
    ...         first, second = np.sort(rows[::2]), np.sort(rows[1::2])
    ...         return Plan([ScoringTask("half 0", 0, first, second, seed=0),
    ...                      ScoringTask("half 1", 0, second, first, seed=1)],
    ...                     rows=np.arange(len(problem.y)))
    >>> X, y = load_iris(return_X_y=True)
    >>> pruner = HalvesPruner(LogisticRegression(max_iter=500), keep=0.4,
    ...                       random_state=0)
    >>> pruner.fit_transform(X, y).shape
    (60, 4)
    >>> pruner.scores_.shape, [info["task"] for info in pruner.task_info_]
    ((150,), ['half 0', 'half 1'])
    """

    _parameter_constraints = {
        **{name: PARAMETER_CONSTRAINTS[name] for name in (
            "estimator", "scorer", "scorer_params", "device", "random_state", "n_jobs",
            "memory", "verbose", "fold_batching")},
        "selector": [str, callable],
        "selector_params": [dict, None],
        "keep": [Interval(RealNotInt, 0, 1, closed="right"),
                 Interval(Integral, 1, None, closed="left")],
        "class_budget": [StrOptions({"proportional", "balanced", "difficulty"}), None],
        "checkpoint_dir": [str, os.PathLike, None, Hidden(StrOptions({"deprecated"}))],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, class_budget="proportional", device="auto",
                 random_state=None, n_jobs=None, memory=None, verbose=0,
                 fold_batching="auto", checkpoint_dir="deprecated"):
        self.estimator = estimator
        self.scorer = scorer
        self.scorer_params = scorer_params
        self.selector = selector
        self.selector_params = selector_params
        self.keep = keep
        self.class_budget = class_budget
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose
        self.fold_batching = fold_batching
        self.checkpoint_dir = checkpoint_dir

    # ------------------------------------------------------------------ public
    @_fit_context(prefer_skip_nested_validation=False)
    @Substitution(**SHARED)
    def fit(self, X, y=None, **params):
        """Score every sample and select the coreset.

        Every fitted attribute is computed first and set at the end, so a
        fit that raises leaves the pruner exactly as it was.

        Parameters
        ----------
        %(fit_X)s
        %(fit_y)s
        %(fit_params)s

        Returns
        -------
        self : object
            The fitted pruner.
        """
        fitted = self._fit(X, y, params)
        for name in _fitted_names(self):
            delattr(self, name)
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def transform(self, X):
        """Return the coreset rows of X, which must be the data seen in ``fit``.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            The same data that was passed to ``fit``.

        Returns
        -------
        X_core : same type as X
            Rows ``sample_indices_`` of X, in the original row order.
        """
        check_is_fitted(self, "sample_indices_")
        X_checked = X if is_dataset(X) or is_tensor(X) else validate_data(
            self, X, reset=False, dtype=None, allow_nd=True)
        # A DataFrame is fingerprinted as fit saw it, with its columns and dtypes.
        seen = X if is_dataframe(X) else X_checked
        if n_rows(X) != self.n_samples_fit_ or fingerprint(seen) != self._fingerprint_:
            raise ValueError(
                f"{type(self).__name__}.transform returns the coreset of the data seen "
                f"in fit ({self.n_samples_fit_} rows); the X given differs from it. "
                "Call fit (or fit_transform) on this data first. To predict with a model "
                "trained on the coreset, use PrunedClassifier(pruner, estimator)."
            )
        return take_rows(X, self.sample_indices_)

    def fit_transform(self, X, y=None, **params):
        """Fit and return the coreset rows of X.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,), default=None
            Labels.
        **params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_core : same type as X
            The coreset rows.
        """
        _refuse_intermediate_pipeline_step(self)
        return take_rows(X, self.fit(X, y, **params).sample_indices_)

    def fit_resample(self, X, y=None, **params):
        """Fit and return the coreset rows of X and their labels.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,), default=None
            Labels, returned as given (strings stay strings, a Series keeps
            its index).
        **params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_core : same type as X
            The coreset rows.
        y_core : same type as y
            Their labels.
        """
        self.fit(X, y, **params)
        if y is None:
            y = labels_of_dataset(X)
        return take_rows(X, self.sample_indices_), take_labels(y, self.sample_indices_)

    def get_support(self, indices=False):
        """Mask or indices of the coreset rows.

        Parameters
        ----------
        indices : bool, default=False
            Return row indices instead of a boolean mask.

        Returns
        -------
        support : ndarray
            Boolean mask of shape (n_samples_fit_,) or int indices.
        """
        check_is_fitted(self, "sample_indices_")
        if indices:
            return self.sample_indices_.copy()
        mask = np.zeros(self.n_samples_fit_, dtype=bool)
        mask[self.sample_indices_] = True
        return mask

    def get_metadata_routing(self):
        """How ``fit`` routes metadata: its own (``groups``) and the estimator's.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            ``fit`` of the pruner, and ``fit_transform`` (which fits), route
            to ``fit`` of every scoring estimator.
        """
        return MetadataRouter(owner=self).add_self_request(self).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit").add(
                caller="fit_transform", callee="fit"),
        )

    # -------------------------------------------------------------- fitting
    def _fit(self, X, y, params):
        """The whole fit: validation, scoring, selection. Returns every fitted attribute."""
        own, routed = self._split_fit_params(params)
        memory = self._memory()
        scorer = get_scorer(self.scorer)
        rule = get_selector(self.selector)
        check_selector_params(rule, self.selector_params)
        refuse_bools(**{name: getattr(self, name) for name in ("n_repeats", "n_steps")
                        if hasattr(self, name)})
        probe = _unfitted_copy(self)  # validate_data sets the feature attributes on it
        problem = prepare_scoring(
            self.estimator, X, y, validate=functools.partial(validate_data, probe),
            asked_by={"dynamics": f"scorer={scorer.name!r}",
                      "extras": f"scorer={scorer.name!r} with selector={self.selector!r}"},
            scorer=scorer, scorer_params=self.scorer_params,
            extras=input_extras(rule_needs(rule)), groups=own.get("groups"),
            fit_params=routed, device=self.device, fold_batching=self.fold_batching,
            n_jobs=self.n_jobs, memory=memory, random_state=self.random_state,
            verbose=self.verbose, label=type(self).__name__)
        resolve_n_select(self.keep, len(problem.y))
        if is_tensor(X) and X.ndim >= 2:
            probe.n_features_in_ = X.shape[1]
        fitted = {name: value for name, value in vars(probe).items()
                  if name in ("n_features_in_", "feature_names_in_")}
        fitted.update(classes_=problem.classes, n_samples_fit_=len(problem.y),
                      _fingerprint_=problem.fingerprint)
        rng = check_seed(self.random_state)
        return {**fitted, **self._score_and_select(problem, scorer, rng)}

    def _memory(self):
        """``memory``, or the deprecated ``checkpoint_dir`` standing for it."""
        if self.checkpoint_dir is None or (isinstance(self.checkpoint_dir, str)
                                           and self.checkpoint_dir == "deprecated"):
            return self.memory
        if self.memory is not None:
            raise ValueError(
                "checkpoint_dir and memory name the same store; pass memory only "
                "(checkpoint_dir is deprecated)."
            )
        warnings.warn(
            "checkpoint_dir is deprecated and will be removed in 0.3; pass the same directory "
            "as memory=..., which also caches finished scoring models under grid search.",
            FutureWarning, stacklevel=4,
        )
        store_location(self.checkpoint_dir, name="checkpoint_dir")
        return self.checkpoint_dir

    def _split_fit_params(self, params):
        """The pruner's own fit parameters, and those routed to the estimator."""
        consumed = set(self._get_metadata_request().fit.requests)
        own = {name: value for name, value in params.items() if name in consumed}
        others = {name: value for name, value in params.items() if name not in consumed}
        if not others:
            return own, {}
        if not _routing_enabled():
            raise TypeError(
                f"{type(self).__name__}.fit got {sorted(others)}, which would reach the "
                "scoring estimators; fit parameters reach them through scikit-learn's "
                "metadata routing only: call sklearn.set_config(enable_metadata_routing=True) "
                "and request them, e.g. estimator.set_fit_request(sample_weight=True)."
            )
        return own, dict(process_routing(self, "fit", **others)["estimator"]["fit"])

    # --------------------------------------------------------- overridables
    def _plan(self, problem, rng):
        """Which models train on which rows: a :class:`skunseen.engine.Plan`."""
        raise NotImplementedError

    def _round_attributes(self, held):
        """Fitted attributes a subclass keeps from its round (probabilities, folds)."""
        return {}

    def _score_and_select(self, problem, scorer, rng):
        """The fitted attributes of scoring and selection: one round of :meth:`_plan`."""
        held, scores = score_round(problem, self._plan(problem, rng), scorer,
                                   self.scorer_params)
        n_select = resolve_n_select(self.keep, len(problem.y))
        return {"scores_": scores,
                "sample_indices_": select_rows(held, scores, n_select, **selection_params(self),
                                               rng=rng),
                **self._round_attributes(held), **task_attributes([held])}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags


def score_round(problem, plan, scorer, scorer_params=None):
    """Run ``plan`` and score its rows: ``(held, scores)``, scores averaged over repeats.

    Parameters
    ----------
    problem : ScoringProblem
    plan : Plan
    scorer : Scorer
    scorer_params : dict, default=None

    Returns
    -------
    held : HeldOutRecords
    scores : ndarray of shape (len(plan.rows),)
    """
    held = run_plan(problem, plan)
    params = scorer_params or {}
    return held, held.average(lambda records: scorer(records, **params))


def selection_params(pruner):
    """The parameters of :func:`select_rows` a pruner holds."""
    return {"selector": pruner.selector, "selector_params": pruner.selector_params,
            "class_budget": pruner.class_budget}


def select_rows(held, scores, n_select, *, selector, selector_params, class_budget, rng):
    """The sorted rows of ``held.rows`` that the selection rule keeps.

    Every selection of every pruner goes through here, so that the class
    budgets (and their ``"difficulty"`` weights, the scoring models'
    smoothed error on the rows they scored) have one definition. The
    selection's seed is the next draw of ``rng``.
    """
    rule = get_selector(selector)
    class_weights = None
    if class_budget == "difficulty":
        class_weights = class_difficulty(held.proba, held.y, len(held.classes))
    positions = select(
        scores, held.y, n_select, selector=rule, class_budget=class_budget,
        class_weights=class_weights, random_state=draw_seed(rng),
        selector_params=selector_params,
        sample_inputs=held.sample_inputs(rule_needs(rule)),
    )
    return held.rows[positions]


def task_attributes(rounds):
    """``task_info_`` and ``n_tasks_resumed_`` of the rounds of a fit."""
    info = [entry for held in rounds for entry in held.task_info]
    return {"task_info_": info, "n_tasks_resumed_": sum(entry["resumed"] for entry in info)}


def _unfitted_copy(pruner):
    """A shallow copy of the pruner without fitted attributes."""
    state = copy.copy(pruner)
    for name in _fitted_names(state):
        delattr(state, name)
    return state


def _fitted_names(estimator):
    """Fitted attributes (``name_``), private fitted state (``_name_``) included."""
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("__")]


def _refuse_intermediate_pipeline_step(pruner):
    """Raise when a Pipeline fits the pruner as an intermediate step.

    Such a step would hand fewer rows than labels to the next step, which
    then fails with a message about inconsistent numbers of samples. A
    Pipeline fits intermediate steps through ``sklearn.pipeline._fit_transform_one``
    and its last step directly, and no public hook tells them apart, so the
    caller's frame (past the ``set_output`` wrapper) is looked at.
    """
    from sklearn import pipeline
    from sklearn.utils import _set_output

    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == _set_output.__file__:
        frame = frame.f_back
    if frame is not None and frame.f_code is pipeline._fit_transform_one.__code__:
        raise ValueError(
            f"{type(pruner).__name__} is an intermediate step of a Pipeline: it returns "
            "fewer rows than it was given, which the next step cannot line up with y. "
            "A pruner can be the last step of a Pipeline; to train a model on the "
            "coreset inside one, use PrunedClassifier(pruner, estimator) as the last "
            "step, or PruningSampler(pruner) in an imblearn Pipeline."
        )
