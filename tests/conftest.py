"""Shared fixtures: small local data and tiny, fast scoring models."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from sklearn.datasets import load_digits

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: The CIFAR-10 JPEG archive; SKUNSEEN_CIFAR points elsewhere (the GPU suite does).
CIFAR_ARCHIVE = Path(os.environ.get("SKUNSEEN_CIFAR", SHARED_DATA / "cifar10-jpeg.tar.gz"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run only where a CUDA device is visible."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


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


@pytest.fixture(autouse=True)
def _isolated_registries(monkeypatch):
    """Scorers and selectors a test registers must not leak into other tests."""
    from skunseen.scores import _registry as scorers
    from skunseen.selection import _registry as selectors

    monkeypatch.setattr(scorers, "_SCORERS", dict(scorers._SCORERS))
    monkeypatch.setattr(selectors, "_SELECTORS", dict(selectors._SELECTORS))


@pytest.fixture(autouse=True)
def _torch_threads():
    """The command line sets torch's thread count for its process (``--threads``);
    a test that runs it in-process must not change it for the tests after it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def small_digits(digits):
    """300 digits, 30 per class."""
    X, y = digits
    rows = np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)])
    return X[rows], y[rows]
