"""A scikit-learn classifier as the engine's scoring model.

A classifier with ``predict_proba`` records the final probabilities of the
rows it scores. :class:`ClassifierModel` answers for it what
:class:`~skunseen.nets._model.NetModel` answers for a skorch net (see
:func:`skunseen.engine.run_plan`): every task runs in this process's
estimator, one joblib job per task, none batched.
"""

import contextlib

import numpy as np
from sklearn.base import clone

from .. import nets
from .._data import is_dataset, take_rows
from .._records import ScoringRecords, check_probabilities
from .._rng import MAX_SEED


def describe(estimator):
    """How messages name an estimator."""
    return f"estimator {type(estimator).__name__}"


class ClassifierModel:
    """A scikit-learn classifier, checked against what it must record.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The scoring model (cloned for every task).
    X : array-like or DataFrame
        The caller's data, passed to the models as it is (a DataFrame keeps
        its columns, as :func:`~sklearn.model_selection.cross_val_predict`
        passes them).
    recording : Recording
        What every task records: a classifier records final probabilities only.
    asked_by : dict
        Names, for messages, what asks for per-epoch records
        (``"dynamics"``) and for extras (``"extras"``).
    fold_batching : bool or "auto"
        The caller's ``fold_batching``: True is refused, only nets batch.

    Raises
    ------
    ValueError
        For a Dataset X, a recording only nets make, or ``fold_batching=True``.
    """

    def __init__(self, estimator, X, *, recording, asked_by, fold_batching="auto"):
        if is_dataset(X):
            raise ValueError(
                f"X is a torch Dataset, which {describe(estimator)} cannot read; "
                "Dataset input needs a skorch net as `estimator` (or estimator=None "
                "for the default net). Pass an array to score with a scikit-learn "
                "classifier."
            )
        if recording.dynamics:
            raise ValueError(
                f"{asked_by['dynamics']} reads training dynamics (per-epoch records), "
                f"which {describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`, or a final-output scorer "
                "('el2n', 'loss', 'entropy', 'margin')."
            )
        if recording.extras:
            raise ValueError(
                f"{asked_by['extras']} needs {sorted(recording.extras)} records (embeddings "
                f"or gradients), which {describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`."
            )
        if fold_batching is True:
            raise ValueError(
                f"fold_batching=True trains skorch nets as one stacked module; the scoring "
                f"{describe(estimator)} is not a skorch net. Use fold_batching='auto' or "
                "False."
            )
        self.estimator = estimator
        self.X = X

    def plan_round(self, n_tasks, *, recording, fit_params, n_jobs):
        """Every task on the estimator's own device, none batched."""
        return [None] * n_tasks, False

    def task_runner(self, n_tasks, n_jobs):
        """The joblib job of one task."""
        return fit_classifier

    def keeping_random_state(self, devices):
        """Nothing global to restore: tasks seed only their own models."""
        return contextlib.nullcontext()

    def data_key(self, fingerprint):
        """The digest of X for the store: its fingerprint, which covers every value."""
        return fingerprint

    def non_finite_row(self, rows):
        """None: arrays are checked for finite values before training."""
        return None


def fit_classifier(estimator, X, y, task, *, n_classes, recording, device, fit_params):
    """Train a clone of ``estimator`` on the task's rows; record its probabilities
    on the scored rows. Returns ``(records, n_epochs)``, ``n_epochs`` being 0."""
    model = clone(estimator)
    seed_random_states(model, task.seed)
    with nets.seeded_for(model, task.seed):
        model.fit(take_rows(X, task.train_indices), y[task.train_indices], **fit_params)
    proba = aligned_proba(model.predict_proba(take_rows(X, task.score_indices)),
                          model.classes_, n_classes)
    check_probabilities(proba, f"The scoring {describe(model)}",
                        fix="use a classifier whose predict_proba returns class probabilities")
    return ScoringRecords(indices=task.score_indices, y=y[task.score_indices], proba=proba,
                          model=describe(model)), 0


def aligned_proba(proba, model_classes, n_classes):
    """``predict_proba`` columns placed at the positions of the model's classes.

    A model trained on rows lacking some class has fewer columns; the
    missing classes get probability 0, so columns stay aligned with
    ``classes`` (``model_classes`` are positions in it).

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import aligned_proba
    >>> aligned_proba(np.array([[0.3, 0.7]]), [0, 2], 3)
    array([[0.3, 0. , 0.7]])
    """
    out = np.zeros((len(proba), n_classes), dtype=np.float64)
    out[:, np.asarray(model_classes, dtype=np.int64)] = proba
    return out


def seed_random_states(model, seed):
    """Give every ``random_state`` parameter of ``model``, nested ones included, its own
    seed drawn from ``seed``, in sorted order of the parameter names.

    As scikit-learn's ensembles seed their members: a pipeline or
    meta-estimator whose inner models keep ``random_state=None`` would
    otherwise draw new randomness on every fit, and equal seeds would
    correlate inner models that should be independent.

    Examples
    --------
    >>> from sklearn.ensemble import BaggingClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skunseen.engine import seed_random_states
    >>> model = BaggingClassifier(DecisionTreeClassifier())
    >>> seed_random_states(model, 0)
    >>> model.random_state != model.estimator.random_state
    True
    """
    try:
        params = model.get_params(deep=True)
    except TypeError:  # e.g. a class given as a Pipeline step: its fit reports it
        params = model.get_params(deep=False)
    rng = np.random.RandomState(seed)
    seeds = {name: int(rng.randint(MAX_SEED)) for name in sorted(params)
             if name == "random_state" or name.endswith("__random_state")}
    if seeds:
        model.set_params(**seeds)
