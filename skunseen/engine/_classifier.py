"""Scoring models that are plain scikit-learn classifiers, and what every kind shares.

A classifier with ``predict_proba`` records the final probabilities of the
rows it scores. skorch nets record more (see :mod:`skunseen.nets._recording`),
but they are told apart here without importing skorch: a net was built
with skorch, which is then loaded already.
"""

import contextlib
import sys
import time

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import _check_method_params

from .._data import take_rows
from .._records import ScoringRecords
from .._rng import RNG_LOCK


def is_skorch_net(estimator):
    """Whether ``estimator`` is a skorch ``NeuralNet`` (skorch is not imported)."""
    net = sys.modules.get("skorch.net")
    return net is not None and isinstance(estimator, net.NeuralNet)


def describe(estimator):
    """How messages name an estimator."""
    return f"estimator {type(estimator).__name__}"


def timed_fit(fit, estimator, X, y, train_indices, score_indices, *, fit_params=None,
              **kwargs):
    """Clone ``estimator``, train and record it with ``fit``, and time it all.

    Parameters
    ----------
    fit : callable
        ``fit(model, X, y, train_indices, score_indices, fit_params=...,
        **kwargs) -> (records, n_epochs)`` for one kind of model.
    estimator : object
        The unfitted scoring model (it is cloned).
    X, y : data and encoded labels of all rows.
    train_indices, score_indices : ndarray of int
        Rows the clone trains on, and rows whose outputs it records.
    fit_params : dict, default=None
        Keyword arguments of the model's ``fit``; those with one value per
        row of X are restricted to the training rows.

    Returns
    -------
    records : ScoringRecords
    info : dict
        ``seconds`` spent, ``n_epochs`` trained and ``batched`` (False).
    """
    start = time.perf_counter()
    fit_params = _check_method_params(X, fit_params or {}, train_indices)
    records, n_epochs = fit(clone(estimator), X, y, train_indices, score_indices,
                            fit_params=fit_params, **kwargs)
    return records, {"seconds": time.perf_counter() - start, "n_epochs": n_epochs,
                     "batched": False}


def seed_random_states(model, seed):
    """Set every ``random_state`` parameter of ``model``, nested ones included, to ``seed``.

    A pipeline or meta-estimator whose inner models keep ``random_state=None``
    would otherwise draw new randomness on every fit, so the same
    ``random_state`` of the caller would not give the same scores.
    """
    try:
        params = model.get_params(deep=True)
    except TypeError:  # e.g. a class given as a Pipeline step: its fit reports it
        params = model.get_params(deep=False)
    names = [name for name in params
             if name == "random_state" or name.endswith("__random_state")]
    if names:
        model.set_params(**dict.fromkeys(names, seed))


@contextlib.contextmanager
def seeded_torch(seed, model):
    """torch's global generators seeded for the fit of a model holding a skorch net.

    A skorch net inside a Pipeline initialises and shuffles from them. The
    caller's generators are restored after; the fit holds the lock, as a
    net drawing from them does (see :mod:`skunseen.nets._devices`). Models
    without a net are left alone, and so is torch when nobody imported it.
    """
    torch = sys.modules.get("torch")
    if torch is None or not _holds_net(model):
        yield
        return
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def fit_classifier(model, X, y, train_indices, score_indices, *, seed, n_classes, fit_params):
    """Train a classifier on its rows and record its probabilities on the scored rows."""
    seed_random_states(model, seed)
    with seeded_torch(seed, model):
        model.fit(take_rows(X, train_indices), y[train_indices], **fit_params)
    # A model trained on rows lacking some class has fewer predict_proba
    # columns: place them by the model's classes_ so columns stay aligned.
    proba = np.zeros((len(score_indices), n_classes), dtype=np.float64)
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(
        take_rows(X, score_indices))
    return ScoringRecords(indices=np.asarray(score_indices, dtype=np.int64),
                          y=y[score_indices], proba=proba, model=describe(model)), 0


def run_classifier_task(estimator, X, y, task, *, n_classes, recording, device, fit_params):
    """One classifier task for the executor: ``(records, info)``."""
    return timed_fit(fit_classifier, estimator, X, y, task.train_indices, task.score_indices,
                     seed=task.seed, n_classes=n_classes, fit_params=fit_params)


def _holds_net(model):
    try:
        params = model.get_params(deep=True)
    except TypeError:
        return False
    return any(is_skorch_net(value) for value in params.values())
