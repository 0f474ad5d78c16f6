"""Shared fixtures and test-run hooks (helpers to import live in ``helpers.py``)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skunseen import records_cache
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
def _records_cache(request):
    """The records cache is off, except in tests marked ``records_cache``.

    Many tests fit twice to compare two ways of training the same models
    (backends, fold batching, devices, reruns with one seed); the cache
    would answer the second fit from the first and the comparison could not
    fail. Tests of the cache itself carry the marker, and start empty.
    """
    records_cache.clear()
    if request.node.get_closest_marker("records_cache") is not None:
        yield
    else:
        with records_cache.disabled():
            yield
    records_cache.clear()


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
