"""Shared fixtures and test-run hooks (helpers to import live in ``helpers.py``)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skunseen.scores._registry import SCORERS
from skunseen.selection._registry import SELECTORS


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run only where a CUDA device is visible."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_registries():
    """Scorers and selectors a test registers must not leak into other tests."""
    with SCORERS.isolated(), SELECTORS.isolated():
        yield


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
