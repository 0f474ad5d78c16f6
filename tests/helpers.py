"""Helpers shared by the tests: small local data and tiny, fast scoring models.

Tests import these from here (``from helpers import tiny_net``); fixtures
live in ``conftest.py``. No test module imports another test module.
"""

import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier

#: CIFAR-10 as JPEG files in ImageFolder layout, for the tests that read it (they
#: skip without it): the file named by the SKUNSEEN_CIFAR environment variable,
#: else cifar10-jpeg.tar.gz in the data folder beside the checkout.
CIFAR_ARCHIVE = Path(os.environ.get(
    "SKUNSEEN_CIFAR",
    Path(__file__).resolve().parents[2].joinpath("shared", "data", "cifar10-jpeg.tar.gz")))
#: Why the tests that read CIFAR-10 skip, and how to run them.
NO_CIFAR = (f"no CIFAR-10 archive at {CIFAR_ARCHIVE}; set SKUNSEEN_CIFAR to a CIFAR-10 "
            "JPEG archive or folder (ImageFolder layout) to run this test")


class TinyMLP(torch.nn.Module):
    """A two-layer net that trains on digits in well under a second."""

    def __init__(self, n_features=64, n_classes=10, hidden=32):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_classes))

    def forward(self, X):
        return self.layers(X.reshape(len(X), -1))


def tiny_net(max_epochs=3, n_features=64, n_classes=10, **params):
    return NeuralNetClassifier(
        TinyMLP, module__n_features=n_features, module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
        max_epochs=max_epochs, batch_size=64, train_split=None, verbose=0, **params)


#: (rows trained on, rows predicted) of every RowTrackingClassifier prediction.
TRAINING_LOG = []


class RowTrackingClassifier(ClassifierMixin, BaseEstimator):
    """Logs which rows (column 0 holds the row id) it trains on and predicts."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.train_rows_ = set(X[:, 0].astype(int))
        self.model_ = LogisticRegression(max_iter=200).fit(X[:, 1:], y)
        return self

    def predict_proba(self, X):
        TRAINING_LOG.append((self.train_rows_, set(X[:, 0].astype(int))))
        return self.model_.predict_proba(X[:, 1:])


def with_row_ids(X):
    return np.column_stack([np.arange(len(X)), X])


def record_tasks(estimator, X, y, tasks, *, dynamics=True, fold_batching=False, **options):
    """Train and record explicit scoring tasks through the engine's public steps.

    Returns ``[(records, info), ...]`` in task order, as the engine's
    :class:`~skunseen.HeldOutRecords` holds them.
    """
    from skunseen._records import Recording
    from skunseen.engine import Plan, prepare_scoring, run_plan

    problem = prepare_scoring(estimator, X, y, recording=lambda is_net: Recording(
        dynamics=dynamics and is_net), asked_by={"dynamics": "the test", "extras": "the test"},
        fold_batching=fold_batching, **options)
    rows = np.unique(np.concatenate([task.score_indices for task in tasks]))
    held = run_plan(problem, Plan(list(tasks), rows))
    return list(zip(held.records, held.task_info))
