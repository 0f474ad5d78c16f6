"""Multi-step UNSEEN ("evaluate and refill"): grow the coreset in steps.

Step 1 is single-step UNSEEN (or a random draw). Every later step trains its
scoring models on the current coreset only, so every sample outside it (the
pool) is unseen by them: they score the pool and the best of it is added.
"""

import time
import warnings
from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _MAX_SEED, BasePruner, ScoringTask, draw_seeds
from ._data import plain, resolve_n_select
from ._unseen import UnseenPruner, held_out_splits
from .selection import select


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
    >>> from skunseen._multistep import step_sizes
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
    estimator : skorch NeuralNet or classifier with ``predict_proba``, default=None
        The scoring model, cloned for every fold and step. ``None`` builds a
        small skorch net from the shape of X (see :class:`UnseenPruner`).
    scorer : str or callable, default="el2n"
        Registered scorer name or callable ``scorer(records, **params)``
        (higher = harder).
    scorer_params : dict, default=None
        Keyword arguments of the scorer.
    selector : str or callable, default="ccs"
        Selection rule, used at every step on the candidates of that step.
    selector_params : dict, default=None
        Keyword arguments of the selector.
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
    device : str, default="auto"
        Device of the scoring nets (see :class:`UnseenPruner`).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the scoring models and every selection. The same
        value gives the same coreset.
    n_jobs : int, default=None
        Number of scoring models trained in parallel within a step (see
        :class:`UnseenPruner`).
    checkpoint_dir : str or path-like, default=None
        Directory where every finished scoring model is saved and read back
        by a rerun with the same data and parameters (see
        :class:`UnseenPruner`). A step's models are identified by the rows
        they train on and score, so an interrupted fit resumes at the step
        it reached. ``None`` saves nothing.
    verbose : int, default=0
        Show progress bars when positive.
    fold_batching : bool or "auto", default="auto"
        Train the scoring models of a round (the folds, or a multi-step
        refill's repeats) at once, as one stacked module on one device (see
        :ref:`fold batching <fold_batching>`): each model still trains on its
        own rows only, with its own BatchNorm statistics, optimizer state and
        learning-rate schedule. ``"auto"`` does so where it is measured to be
        faster: for built-in nets with a fast-path iterator, on the CPU, when
        the net is small (see the docs), with ``n_jobs`` unset or 1.
        ``True`` always does for such nets and raises a ``ValueError`` saying
        why for any other; ``False`` trains the models one by one.
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
        (see :func:`~skunseen._multistep.step_sizes`), so ``len(steps_)`` may
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
    sample_indices_ : ndarray of shape (n_selected,)
        Sorted rows of the data passed to ``fit`` that form the coreset.
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
        The held-out fold of every sample in step 1 (``init="unseen"``).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_samples_fit_ : int
        Number of rows seen in ``fit``.
    n_features_in_ : int
        Number of features (second axis) of array input.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X is a DataFrame with string column names.
    task_info_ : list of dict
        Per scoring model, over all steps (a warm start appends): its name
        (``"step 2, model 0"``, ...), training seconds and epochs, whether it
        trained in a ``batched`` round (``fold_batching``; its seconds are then
        the round's divided among its models) and whether it was ``resumed``
        from ``checkpoint_dir``.
    n_tasks_resumed_ : int
        Number of scoring models of the last ``fit`` read back from
        ``checkpoint_dir``.

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

    # Step 1 with init="unseen" is single-step UNSEEN: its fold construction
    # (and the fold checks and fold_ids_) are UnseenPruner's own methods.
    _scoring_tasks = UnseenPruner._scoring_tasks
    _splitter = UnseenPruner._splitter
    __metadata_request__fit = {"groups": True}

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, cv=5, n_repeats=1,
                 class_budget="proportional", device="auto", random_state=None, n_jobs=None,
                 checkpoint_dir=None, verbose=0, fold_batching="auto", n_steps=3,
                 schedule="linear", init="unseen", replace=0.0, warm_start=False):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            checkpoint_dir=checkpoint_dir, verbose=verbose, fold_batching=fold_batching,
        )
        self.cv = cv
        self.n_repeats = n_repeats
        self.n_steps = n_steps
        self.schedule = schedule
        self.init = init
        self.replace = replace
        self.warm_start = warm_start

    def fit(self, X, y=None, groups=None, **params):
        """Select the coreset in steps (or continue a fitted one, see ``warm_start``).

        A fit that raises leaves the pruner exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,), default=None
            Labels. May be omitted only when X is a Dataset exposing them.
        groups : array-like of shape (n_samples,), default=None
            Group of every sample, for the folds of step 1 and of the
            replacement scoring within the coreset (see
            :meth:`UnseenPruner.fit`). A refill step trains on the coreset
            and scores the pool, whatever the groups.
        **params : dict
            Metadata for the scoring estimators' ``fit`` (e.g.
            ``sample_weight``), through scikit-learn's metadata routing (see
            :meth:`BasePruner.fit`).

        Returns
        -------
        self : object
            The fitted pruner.
        """
        return super().fit(X, y, groups=groups, **params)

    def _unfitted_copy(self):
        # The fit runs on a copy without fitted attributes; a warm start
        # continues from those of this pruner.
        state = super()._unfitted_copy()
        state._warm_previous = self._fitted_state() if self.warm_start else None
        return state

    # ---------------------------------------------------------------- steps
    def _fit(self, X, y, estimator, scorer, rng):
        n = len(y)
        budget = resolve_n_select(self.keep, n)
        sizes = step_sizes(budget, self.n_steps, self.schedule, len(self.classes_))
        if self.replace > 0 and not (isinstance(self.cv, Integral) or hasattr(self.cv, "split")):
            raise ValueError(
                "replace > 0 scores the coreset out-of-fold within itself, which needs "
                "`cv` as an int or a splitter object; an explicit iterable of splits "
                "indexes the whole data. Pass an int (or a splitter) as cv, or replace=0."
            )
        self._labels_fingerprint_ = joblib.hash(np.asarray(y))
        previous = self._warm_previous
        if previous is not None and self._same_data(previous):
            members = previous["sample_indices"]
            if budget < len(members):
                raise ValueError(
                    f"warm_start=True continues from the fitted coreset of {len(members)} "
                    f"samples and never shrinks it, but keep={self.keep!r} gives {budget}. "
                    "Set warm_start=False to start over."
                )
            self._restore(previous)
            sizes = [size for size in sizes if size > len(members)]
            if not sizes:
                warnings.warn(
                    f"warm_start=True: the coreset already has the budget's {budget} "
                    "samples; nothing was added. Increase keep to continue.",
                    UserWarning, stacklevel=3,
                )
                return
        else:
            self.scores_ = np.full(n, np.nan)
            self.step_added_ = np.full(n, -1, dtype=np.int64)
            self.steps_ = []
            members = self._first_step(X, y, estimator, scorer, rng, sizes[0])
            sizes = sizes[1:]
        for size in sizes:
            members = self._refill_step(X, y, estimator, scorer, rng, members, size)
        self.sample_indices_ = np.sort(members)

    def _first_step(self, X, y, estimator, scorer, rng, size):
        start = time.perf_counter()
        if self.init == "unseen":
            tasks = self._scoring_tasks(X, y, rng)
            for task in tasks:
                task.name = f"step 1, {task.name}"
            results = self._run_tasks(estimator, X, y, tasks,
                                      record_dynamics=scorer.reads_dynamics(self.scorer_params),
                                      extras=self._extra_requests(scorer))
            self.scores_, proba = self._combine(results, scorer, np.arange(len(y)))
            members = self._choose(self.scores_, y, size, proba, rng,
                                   self._selector_inputs(results, np.arange(len(y))))
            accuracy = _accuracy(proba, y)
        else:
            budget = "proportional" if self.class_budget == "difficulty" else self.class_budget
            members = select(np.zeros(len(y)), y, size, selector="random", class_budget=budget,
                             random_state=rng.randint(_MAX_SEED))
            tasks, accuracy = [], np.nan
        self._record_step(members, np.empty(0, dtype=np.int64), start, n_models=len(tasks),
                          pool_accuracy=accuracy)
        return members

    def _refill_step(self, X, y, estimator, scorer, rng, members, size):
        start = time.perf_counter()
        step = len(self.steps_) + 1
        n_models = 0
        dropped, coreset_accuracy = np.empty(0, dtype=np.int64), np.nan
        n_drop = min(int(round(self.replace * len(members))),
                     len(members) - min(len(members), len(self.classes_)))
        if n_drop > 0:
            tasks = self._coreset_tasks(y, members, step, rng)
            results = self._run_tasks(estimator, X, y, tasks,
                                      record_dynamics=scorer.reads_dynamics(self.scorer_params),
                                      extras=self._extra_requests(scorer))
            scores, proba = self._combine(results, scorer, members)
            self.scores_[members] = scores
            kept = members[self._choose(scores, y[members], len(members) - n_drop, proba, rng,
                                        self._selector_inputs(results, members))]
            dropped = np.setdiff1d(members, kept)
            coreset_accuracy = _accuracy(proba, y[members])
            members, n_models = kept, len(tasks)

        present = np.unique(y[members])
        if len(present) < 2:
            raise ValueError(
                f"Before step {step} the coreset holds the single class "
                f"{plain(self.classes_[present[0]])!r}; scoring models trained on it "
                "cannot rank the pool. Use a class_budget, or a first step of at least "
                "as many samples as classes."
            )
        pool = np.setdiff1d(np.arange(len(y)), members)
        tasks = [
            ScoringTask(f"step {step}, model {repeat}", repeat, members, pool, seed)
            for repeat, seed in enumerate(draw_seeds(rng, self.n_repeats))
        ]
        results = self._run_tasks(estimator, X, y, tasks, record_dynamics=scorer.reads_dynamics(self.scorer_params),
                                  extras=self._extra_requests(scorer))
        scores, proba = self._combine(results, scorer, pool)
        self.scores_[pool] = scores
        added = pool[self._choose(scores, y[pool], size - len(members), proba, rng,
                                  self._selector_inputs(results, pool))]
        self.step_added_[dropped] = -1
        self._record_step(added, dropped, start, n_models=n_models + len(tasks),
                          pool_accuracy=_accuracy(proba, y[pool]),
                          coreset_accuracy=coreset_accuracy)
        return np.sort(np.concatenate([members, added]))

    def _coreset_tasks(self, y, members, step, rng):
        """Out-of-fold tasks within the coreset: every member held out once per repeat."""
        y_members = y[members]
        groups = None if self._fit_groups is None else self._fit_groups[members]
        folds = []
        for repeat, split_seed in enumerate(draw_seeds(rng, self.n_repeats)):
            if isinstance(self.cv, Integral):
                kind = StratifiedKFold if groups is None else StratifiedGroupKFold
                splitter = kind(n_splits=min(self.cv, len(members)), shuffle=True,
                                random_state=int(split_seed))
            else:
                splitter = check_cv(self.cv, y_members, classifier=True)
            with warnings.catch_warnings():
                # A coreset may hold fewer members of a class than folds: that
                # class is then missing from some training folds, by design.
                warnings.filterwarnings("ignore", message=".*least populated class",
                                        category=UserWarning)
                splits = held_out_splits(splitter, y_members, groups, classes=self.classes_,
                                         warn_missing_classes=False)
            for fold, (train, held_out) in enumerate(splits):
                folds.append((repeat, fold, members[train], members[held_out]))
        seeds = draw_seeds(rng, len(folds))
        return [
            ScoringTask(f"step {step}, coreset repeat {repeat}, fold {fold}", repeat, train,
                        held_out, seed)
            for (repeat, fold, train, held_out), seed in zip(folds, seeds)
        ]

    # -------------------------------------------------------------- helpers
    def _record_step(self, added, dropped, start, *, n_models, pool_accuracy,
                     coreset_accuracy=np.nan):
        step = len(self.steps_) + 1
        self.step_added_[added] = step
        self.steps_.append({
            "step": step,
            "size": int(np.count_nonzero(self.step_added_ >= 1)),
            "added": np.sort(np.asarray(added, dtype=np.int64)),
            "dropped": np.sort(np.asarray(dropped, dtype=np.int64)),
            "pool_accuracy": float(pool_accuracy),
            "coreset_accuracy": float(coreset_accuracy),
            "n_models": int(n_models),
            "seconds": time.perf_counter() - start,
        })

    def _fitted_state(self):
        if not hasattr(self, "steps_"):
            return None
        return {
            "fingerprint": self._fingerprint_,
            "labels": self._labels_fingerprint_,
            "classes": self.classes_,
            "sample_indices": self.sample_indices_.copy(),
            "scores": self.scores_.copy(),
            "step_added": self.step_added_.copy(),
            "steps": list(self.steps_),
            "task_info": list(self.task_info_),
        }

    def _same_data(self, previous):
        return (
            previous["fingerprint"] == self._fingerprint_
            and previous["labels"] == self._labels_fingerprint_
            and np.array_equal(previous["classes"], self.classes_)
            and len(previous["scores"]) == self.n_samples_fit_
        )

    def _restore(self, previous):
        self.scores_ = previous["scores"]
        self.step_added_ = previous["step_added"]
        self.steps_ = previous["steps"]
        self.task_info_ = previous["task_info"] + self.task_info_
        self.sample_indices_ = previous["sample_indices"]


def _accuracy(proba, y):
    return float(np.mean(proba.argmax(axis=1) == y)) if len(y) else np.nan
