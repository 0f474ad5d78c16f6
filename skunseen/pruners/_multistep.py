"""Multi-step UNSEEN ("evaluate and refill"): grow the coreset in steps.

Step 1 is single-step UNSEEN (or a random draw). Every later step trains its
scoring models on the current coreset only, so every sample outside it (the
pool) is unseen by them: they score the pool and the best of it is added.
"""

import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BasePruner, score_round, select_rows, selection_params, task_attributes
from .._data import plain, resolve_n_select
from .._docstrings import SHARED, Substitution
from ..engine import draw_seed, out_of_fold, train_on_rows
from ._unseen import UnseenPruner
from ..selection import select


def step_sizes(budget, n_steps=3, schedule="linear", n_classes=1):
    """Coreset sizes ``m_1 < ... < m_T = budget`` of a multi-step schedule.

    Parameters
    ----------
    budget : int
        Final coreset size m (at least 1).
    n_steps : int, default=3
        Number of steps T of a named schedule; ignored for an explicit one.
    schedule : {"linear", "geometric"} or array-like of float, default="linear"
        ``"linear"``: fractions ``t / T`` of the budget; ``"geometric"``:
        fractions ``2 ** (t - T)`` (each step doubles the coreset, ending at
        the budget); or an explicit strictly increasing sequence of fractions
        in (0, 1] ending at 1.0.
    n_classes : int, default=1
        The first size is raised to ``min(n_classes, budget)`` so that the
        first coreset can hold every class.

    Returns
    -------
    sizes : list of int
        Strictly increasing sizes ending at ``budget``. Fractions are rounded
        to the nearest integer; sizes that coincide after rounding (tiny
        budgets, many steps) are merged, so fewer than T steps may remain.

    Examples
    --------
    >>> from skunseen.pruners._multistep import step_sizes
    >>> step_sizes(120, 3), step_sizes(120, 3, "geometric")
    ([40, 80, 120], [30, 60, 120])
    >>> step_sizes(120, schedule=[0.1, 0.5, 1.0])
    [12, 60, 120]
    >>> step_sizes(20, 5, n_classes=10)  # 4 and 8 rise to 10 and merge
    [10, 12, 16, 20]
    """
    if isinstance(schedule, str):
        steps = np.arange(1, n_steps + 1, dtype=np.float64)
        if schedule == "linear":
            fractions = steps / n_steps
        elif schedule == "geometric":
            fractions = 2.0 ** (steps - n_steps)
        else:
            raise ValueError(
                f"schedule must be 'linear', 'geometric' or an increasing sequence of "
                f"fractions ending at 1.0; got {schedule!r}."
            )
    else:
        fractions = _check_explicit_schedule(schedule)
    sizes = np.clip(np.rint(fractions * budget).astype(np.int64), min(n_classes, budget), budget)
    sizes[-1] = budget
    return [int(s) for s in np.unique(sizes)]


def _check_explicit_schedule(schedule):
    try:
        fractions = np.asarray(schedule, dtype=np.float64)
    except (TypeError, ValueError):
        fractions = None
    if fractions is None or fractions.ndim != 1 or len(fractions) == 0:
        raise ValueError(
            "schedule must be 'linear', 'geometric' or a 1-D sequence of fractions of "
            f"the budget; got {schedule!r}."
        )
    if not np.all(np.isfinite(fractions)) or np.any(fractions <= 0) or np.any(fractions > 1):
        raise ValueError(
            f"schedule fractions must lie in (0, 1]; got {fractions.tolist()}."
        )
    if np.any(np.diff(fractions) <= 0):
        raise ValueError(
            f"schedule fractions must be strictly increasing; got {fractions.tolist()}."
        )
    if not np.isclose(fractions[-1], 1.0):
        raise ValueError(
            "schedule must end at 1.0 (the last step reaches the full budget); got "
            f"{fractions.tolist()}."
        )
    return fractions


@Substitution(**SHARED)
class MultiStepUnseenPruner(BasePruner):
    """Multi-step UNSEEN: build the coreset in steps, "evaluate and refill".

    The budget ``m`` (from ``keep``) is reached in steps of sizes
    ``m_1 < ... < m_T = m`` (see ``schedule``):

    1. Step 1 selects ``m_1`` samples: with ``init="unseen"`` exactly as
       :class:`UnseenPruner` does (every sample scored out-of-fold over the
       whole data, ``cv`` folds, ``n_repeats`` redraws), with
       ``init="random"`` uniformly at random within the class budgets.
    2. Step t trains ``n_repeats`` scoring models (different seeds) on the
       current coreset S only. Every sample outside S, the pool, is unseen by
       them: they score the pool, and the selection rule adds
       ``m_t - m_{t-1}`` pool samples to S. The selector and the class
       budgets run on the pool as the candidate set (``"proportional"``
       follows the pool's class proportions).
    3. With ``replace > 0``, before refilling, S is scored out-of-fold within
       itself (``cv`` folds over S, ``n_repeats`` redraws) and its
       ``round(replace * |S|)`` weakest members are dropped back into the
       pool; the scoring models of step 2 then train on the reduced S and the
       refill also replaces them. "Weakest" means the members the selection
       rule would leave out if it had to keep ``|S| - n_drop`` of S (with the
       same class budgets): the lowest importance for ``"hard"``, the highest
       for ``"easy"``, the farthest from the median for ``"moderate"``, the
       hardest ``cutoff`` and then a stratified thinning of the densest score
       strata for ``"ccs"``, a random subset for ``"random"``. A dropped
       sample may be added back by the refill when the new models rank it
       high.

    No score ever comes from a model that trained on the sample it scores.

    Read more in the :ref:`User Guide <method>`.

    Parameters
    ----------
    %(estimator)s
    %(scorer)s
    %(scorer_params)s
    %(selector)s
        Used at every step on the candidates of that step.
    %(selector_params)s
    keep : float in (0, 1] or int, default=0.5
        Final coreset size: a fraction of the samples or their number.
    cv : int, cross-validation generator or iterable, default=5
        Folds of step 1 (as in :class:`UnseenPruner`) and, with
        ``replace > 0``, of the out-of-fold scoring within the coreset. Within
        the coreset an int gives shuffled stratified folds (fewer when the
        coreset is smaller than ``cv``) and a splitter object is applied to
        the coreset rows; an explicit iterable of splits indexes the whole
        data and cannot split the coreset, so it is refused with
        ``replace > 0``.
    n_repeats : int, default=1
        Fold redraws in step 1 and in the replacement scoring, and number of
        scoring models (different seeds) trained on the coreset at each
        refill step; scores and probabilities are averaged over them.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How each step's selection is shared among classes (see
        :func:`skunseen.selection.class_budgets`). ``"difficulty"`` gives
        classes shares proportional to the scoring models' smoothed error on
        the samples they scored but never saw: ``(wrong_c + 1) / (n_c + 2)``
        over that step's candidates (all samples in step 1, the pool in a
        refill, the coreset in a replacement), and every class with
        candidates gets at least one sample when the step's size allows. With
        ``init="random"`` step 1 has no models and uses ``"proportional"``.
    %(device)s
    %(random_state)s
    %(n_jobs)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s
    n_steps : int, default=3
        Number of steps T of a named ``schedule``; ignored when ``schedule``
        is an explicit sequence. ``n_steps=1`` is single-step UNSEEN.
    schedule : {"linear", "geometric"} or array-like of float, default="linear"
        Coreset size after each step, as fractions of the budget m:
        ``"linear"`` gives ``m * t / T``; ``"geometric"`` gives
        ``m / 2 ** (T - t)`` (the coreset doubles at every step); an explicit
        strictly increasing sequence of fractions in (0, 1] must end at 1.0.
        Sizes are rounded, the first is raised to the number of classes when
        the budget allows, and sizes that coincide after rounding are merged
        (see :func:`~skunseen.pruners._multistep.step_sizes`), so ``len(steps_)`` may
        be smaller than T for tiny budgets.
    init : {"unseen", "random"}, default="unseen"
        How step 1 selects: single-step UNSEEN over all samples, or uniformly
        at random within the class budgets.
    replace : float in [0, 1), default=0.0
        Fraction of the coreset re-scored out-of-fold within the coreset and
        swapped for pool samples at every step after the first: ``round(replace
        * |S|)`` members, at most ``|S|`` minus the number of classes.
    warm_start : bool, default=False
        When True and the pruner was fitted before on the same data (same X
        content and labels), ``fit`` keeps the fitted coreset and only runs
        the steps of the schedule for the new ``keep`` / ``n_steps`` /
        ``schedule`` whose sizes exceed the current coreset, up to the new
        budget. Fitting ``keep=0.25, n_steps=2`` and then warm-fitting
        ``keep=0.5, n_steps=4`` visits the sizes of a cold fit with
        ``keep=0.5, n_steps=4``. A smaller budget than the fitted coreset
        raises (a warm start never shrinks the coreset); an equal one warns
        and changes nothing. On different data the fit starts over, as with
        ``warm_start=False``.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        For every sample, the last importance it received from a model that
        did not train on it: its step-1 out-of-fold score, replaced by a
        later pool score while it stayed outside the coreset (a sample added
        at step t keeps the pool score that added it) or by a within-coreset
        out-of-fold score when ``replace`` re-scored it. NaN for a sample no
        such model scored (only with ``init="random"``: a member of the
        random first step that ``replace`` never re-scored).
    %(sample_indices_)s
    steps_ : list of dict
        One record per step, in order: ``"step"`` (number, from 1),
        ``"size"`` (coreset size after it), ``"added"`` and ``"dropped"``
        (sorted rows; ``"dropped"`` is empty without ``replace``),
        ``"pool_accuracy"`` (accuracy of the scoring models' averaged
        probabilities on the rows they scored: every sample out-of-fold in
        step 1 with ``init="unseen"``, the pool afterwards; NaN for a random
        step 1), ``"coreset_accuracy"`` (out-of-fold accuracy within the
        coreset when ``replace`` ran, else NaN), ``"n_models"`` and
        ``"seconds"``.
    step_added_ : ndarray of int of shape (n_samples,)
        The step that added each sample to the final coreset; -1 for samples
        outside it (including those dropped by ``replace`` and not added
        back).
    fold_ids_ : ndarray of shape (n_repeats, n_samples)
        The held-out fold of every sample in step 1 (``init="unseen"``;
        kept by a warm start).
    %(data_attributes)s
    task_info_ : list of dict
        Per scoring model, over all steps (a warm start appends): its name
        (``"step 2, model 0"``, ...), training seconds and epochs, whether it
        trained in a ``batched`` round (``fold_batching``; its seconds are then
        the round's divided among its models), and whether it was ``resumed``
        from the store (``memory``).
    n_tasks_resumed_ : int
        Number of scoring models of the last ``fit`` read back from
        ``memory``.

    See Also
    --------
    UnseenPruner : single-step UNSEEN (``n_steps=1`` here).
    FittingPruner : the conventional baseline, scores from models trained on
        the samples they score.
    PrunedClassifier : train a classifier on the coreset inside a Pipeline.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import MultiStepUnseenPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> pruner = MultiStepUnseenPruner(LogisticRegression(max_iter=200), keep=0.3,
    ...                                cv=3, n_steps=3, random_state=0)
    >>> X_core = pruner.fit_transform(X / 16, y)
    >>> X_core.shape
    (539, 64)
    >>> [step["size"] for step in pruner.steps_]
    [180, 359, 539]
    >>> int((pruner.step_added_ == 3).sum())
    180
    """

    _parameter_constraints = {
        **UnseenPruner._parameter_constraints,
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "schedule": [StrOptions({"linear", "geometric"}), "array-like"],
        "init": [StrOptions({"unseen", "random"})],
        "replace": [Interval(Real, 0, 1, closed="left")],
        "warm_start": ["boolean"],
    }

    # groups are the pruner's own fit metadata (they shape the folds).
    __metadata_request__fit = {"groups": True}

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, cv=5, n_repeats=1,
                 class_budget="proportional", device="auto", random_state=None, n_jobs=None,
                 memory=None, verbose=0, fold_batching="auto", n_steps=3,
                 schedule="linear", init="unseen", replace=0.0, warm_start=False,
                 checkpoint_dir="deprecated"):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            memory=memory, verbose=verbose, fold_batching=fold_batching,
            checkpoint_dir=checkpoint_dir,
        )
        self.cv = cv
        self.n_repeats = n_repeats
        self.n_steps = n_steps
        self.schedule = schedule
        self.init = init
        self.replace = replace
        self.warm_start = warm_start

    @Substitution(**SHARED)
    def fit(self, X, y=None, groups=None, **params):
        """Select the coreset in steps (or continue a fitted one, see ``warm_start``).

        A fit that raises leaves the pruner exactly as it was.

        Parameters
        ----------
        %(fit_X)s
        %(fit_y)s
        groups : array-like of shape (n_samples,), default=None
            Group of every sample, for the folds of step 1 and of the
            replacement scoring within the coreset (see
            :meth:`UnseenPruner.fit`). A refill step trains on the coreset
            and scores the pool, whatever the groups.
        %(fit_params)s

        Returns
        -------
        self : object
            The fitted pruner.
        """
        return super().fit(X, y, groups=groups, **params)

    # ---------------------------------------------------------------- steps
    def _score_and_select(self, problem, scorer, rng):
        n = len(problem.y)
        budget = resolve_n_select(self.keep, n)
        sizes = step_sizes(budget, self.n_steps, self.schedule, len(problem.classes))
        if self.replace > 0 and not (isinstance(self.cv, Integral) or hasattr(self.cv, "split")):
            raise ValueError(
                "replace > 0 scores the coreset out-of-fold within itself, which needs "
                "`cv` as an int or a splitter object; an explicit iterable of splits "
                "indexes the whole data. Pass an int (or a splitter) as cv, or replace=0."
            )
        labels = joblib.hash(np.asarray(problem.y))
        log = self._warm_steps(problem, labels)
        steps = _Steps(self, problem, scorer, rng, _StepLog.start(n) if log is None else log)
        if log is None:
            steps.first(sizes.pop(0))
        else:
            sizes = self._sizes_after(sizes, budget, len(log.members))
        for size in sizes:
            steps.refill(size)
        return {**steps.log.attributes(), "_labels_fingerprint_": labels}

    def _warm_steps(self, problem, labels):
        """The fitted steps to continue from: with ``warm_start``, after a fit
        on the same data (read from the fitted attributes, which the fit
        replaces only at its end); else None."""
        if not (self.warm_start and hasattr(self, "steps_")):
            return None
        same = (self._fingerprint_ == problem.fingerprint
                and self._labels_fingerprint_ == labels
                and np.array_equal(self.classes_, problem.classes)
                and len(self.scores_) == len(problem.y))
        if not same:
            return None
        return _StepLog(self.scores_.copy(), self.step_added_.copy(), list(self.steps_),
                        list(self.task_info_), getattr(self, "fold_ids_", None))

    def _sizes_after(self, sizes, budget, n_members):
        """The sizes a warm start still has to reach from ``n_members``."""
        if budget < n_members:
            raise ValueError(
                f"warm_start=True continues from the fitted coreset of {n_members} "
                f"samples and never shrinks it, but keep={self.keep!r} gives {budget}. "
                "Set warm_start=False to start over."
            )
        sizes = [size for size in sizes if size > n_members]
        if not sizes:
            warnings.warn(
                f"warm_start=True: the coreset already has the budget's {budget} "
                "samples; nothing was added. Increase keep to continue.",
                UserWarning, stacklevel=5,
            )
        return sizes


@dataclass
class _StepLog:
    """What a multi-step fit has done: every sample's last unseen score, the
    step that added it (-1: outside the coreset), one record per step, the
    models' info, and the folds of step 1."""

    scores: np.ndarray
    step_added: np.ndarray
    steps: list
    task_info: list
    fold_ids: np.ndarray = None
    n_resumed: int = 0

    @classmethod
    def start(cls, n):
        return cls(np.full(n, np.nan), np.full(n, -1, dtype=np.int64), [], [])

    @property
    def members(self):
        return np.flatnonzero(self.step_added >= 1)

    def add_round(self, held):
        self.task_info += held.task_info
        self.n_resumed += task_attributes([held])["n_tasks_resumed_"]

    def record(self, added, dropped, start, *, n_models, pool_accuracy,
               coreset_accuracy=np.nan):
        step = len(self.steps) + 1
        self.step_added[dropped] = -1
        self.step_added[added] = step
        self.steps.append({
            "step": step,
            "size": len(self.members),
            "added": np.sort(np.asarray(added, dtype=np.int64)),
            "dropped": np.sort(np.asarray(dropped, dtype=np.int64)),
            "pool_accuracy": float(pool_accuracy),
            "coreset_accuracy": float(coreset_accuracy),
            "n_models": int(n_models),
            "seconds": time.perf_counter() - start,
        })

    def attributes(self):
        fitted = {"scores_": self.scores, "sample_indices_": self.members,
                  "step_added_": self.step_added, "steps_": self.steps,
                  "task_info_": self.task_info, "n_tasks_resumed_": self.n_resumed}
        if self.fold_ids is not None:
            fitted["fold_ids_"] = self.fold_ids
        return fitted


class _Steps:
    """The rounds of one multi-step fit: plans run on the fit's scoring problem,
    scored and selected with the pruner's parameters, written to ``log``."""

    def __init__(self, pruner, problem, scorer, rng, log):
        self.pruner = pruner
        self.problem = problem
        self.scorer = scorer
        self.rng = rng
        self.log = log
        self.selection = selection_params(pruner)

    def _round(self, plan):
        """Run ``plan``, keep its scores of its rows in the log."""
        held, scores = score_round(self.problem, plan, self.scorer, self.pruner.scorer_params)
        self.log.add_round(held)
        self.log.scores[plan.rows] = scores
        return held, scores

    def _select(self, held, scores, n_select):
        return select_rows(held, scores, n_select, **self.selection, rng=self.rng)

    def first(self, size):
        """Step 1: single-step UNSEEN over every sample, or a random draw."""
        start, pruner, y = time.perf_counter(), self.pruner, self.problem.y
        if pruner.init == "random":
            budget = "proportional" if pruner.class_budget == "difficulty" else (
                pruner.class_budget)
            members = select(np.zeros(len(y)), y, size, selector="random", class_budget=budget,
                             random_state=draw_seed(self.rng))
            self.log.record(members, [], start, n_models=0, pool_accuracy=np.nan)
            return
        plan = out_of_fold(y, self.rng, classes=self.problem.classes, cv=pruner.cv,
                           n_repeats=pruner.n_repeats, groups=self.problem.groups,
                           name="step 1, ")
        held, scores = self._round(plan)
        self.log.fold_ids = held.fold_ids
        members = self._select(held, scores, size)
        self.log.record(members, [], start, n_models=len(held.records),
                        pool_accuracy=_accuracy(held))

    def refill(self, size):
        """Step t: optionally replace the weakest members, then add the best of the pool."""
        start, step = time.perf_counter(), len(self.log.steps) + 1
        members, dropped, replaced = self._replace(self.log.members, step)
        y, classes = self.problem.y, self.problem.classes
        present = np.unique(y[members])
        if len(present) < 2:
            raise ValueError(
                f"Before step {step} the coreset holds the single class "
                f"{plain(classes[present[0]])!r}; scoring models trained on it "
                "cannot rank the pool. Use a class_budget, or a first step of at least "
                "as many samples as classes."
            )
        pool = np.setdiff1d(np.arange(len(y)), members)
        plan = train_on_rows(len(y), self.rng, train_rows=members, score_rows=pool,
                             n_repeats=self.pruner.n_repeats, name=f"step {step}, ")
        held, scores = self._round(plan)
        added = self._select(held, scores, size - len(members))
        self.log.record(added, dropped, start, n_models=replaced["n_models"] + len(held.records),
                        pool_accuracy=_accuracy(held),
                        coreset_accuracy=replaced["accuracy"])

    def _replace(self, members, step):
        """``(kept, dropped, info)``: the members that ``replace`` keeps after
        scoring the coreset out-of-fold within itself."""
        pruner, classes = self.pruner, self.problem.classes
        n_drop = min(int(round(pruner.replace * len(members))),
                     len(members) - min(len(members), len(classes)))
        if n_drop <= 0:
            return members, np.empty(0, dtype=np.int64), {"n_models": 0, "accuracy": np.nan}
        plan = out_of_fold(self.problem.y, self.rng, classes=classes, cv=pruner.cv,
                           n_repeats=pruner.n_repeats, groups=self.problem.groups,
                           rows=members, name=f"step {step}, coreset ")
        held, scores = self._round(plan)
        kept = self._select(held, scores, len(members) - n_drop)
        return kept, np.setdiff1d(members, kept), {"n_models": len(held.records),
                                                   "accuracy": _accuracy(held)}


def _accuracy(held):
    """Accuracy of the models' averaged probabilities on the rows they scored."""
    return float(np.mean(held.proba.argmax(axis=1) == held.y)) if len(held.y) else np.nan
