"""Fold inputs of the scoring nets: index views instead of per-fold copies."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch.utils.data import Subset

import skunseen.nets._recording as recording
from helpers import record_tasks, tiny_net
from skunseen import UnseenPruner
from skunseen._data import take_rows
from skunseen.engine import ScoringTask
from skunseen.nets import model_input
from skunseen.nets._inputs import as_net_input, fold_view
from skunseen.datasets import load_digits_images, load_image_folder
from skunseen.models import ArrayIndexView, make_net


def _copying_fold_view(X, y, indices):
    # What net training did before fold_view: a copy of every fold's rows.
    return as_net_input(take_rows(X, indices))


def test_fold_view_indexes_arrays_and_tensors_without_copies():
    X = np.arange(40, dtype=np.uint8).reshape(10, 4)
    y = np.arange(10) % 2
    view = fold_view(X, y, [7, 2, 5])
    assert isinstance(view, ArrayIndexView) and view.X is X
    assert view.targets.tolist() == [1, 0, 1]
    assert np.shares_memory(np.asarray(view[0][0]), X)
    tensor = torch.from_numpy(X).float()
    assert fold_view(tensor, None, [1]).X is tensor


@pytest.mark.parametrize("make_input, expected", [
    (lambda X: X.astype(np.float64), np.ndarray),
    (lambda X: torch.from_numpy(X.astype(np.float64)), torch.Tensor),
    (lambda X: pd.DataFrame(X), np.ndarray),
])
def test_fold_view_falls_back_to_converted_rows(make_input, expected):
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    rows = fold_view(make_input(X), None, [3, 1])
    assert isinstance(rows, expected) and rows.dtype in (np.float32, torch.float32)
    np.testing.assert_array_equal(np.asarray(rows), X[[3, 1]])


@pytest.fixture(scope="module")
def digit_images():
    """300 digit images (30 per class) as float32 (n, 1, 8, 8)."""
    X, y, _, _ = load_digits_images(limit=300)
    return X, y


@pytest.mark.parametrize("model", ["dataloader-mlp", "fast-path-cnn"])
def test_scores_are_identical_with_and_without_views(digit_images, model, monkeypatch):
    X, y = digit_images
    if model == "dataloader-mlp":
        X = X.reshape(len(X), 64).astype(np.float64)  # also exercises the one-off cast

        def make():
            return tiny_net(max_epochs=2)
    else:
        def make():
            return make_net("cnn", input_shape=X.shape[1:], n_classes=10, max_epochs=1,
                            device="cpu", module__widths=(8, 16))

    with_views = UnseenPruner(make(), cv=3, random_state=0).fit(X, y)
    monkeypatch.setattr(recording, "fold_view", _copying_fold_view)
    with_copies = UnseenPruner(make(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(with_views.scores_, with_copies.scores_)
    np.testing.assert_array_equal(with_views.oof_proba_, with_copies.oof_proba_)


def _peak_numpy_bytes(X, y, net, train, held_out):
    """Peak bytes allocated through Python (numpy) while one fold trains."""
    # The first optimizer built imports torch._dynamo (tens of MB, once per
    # process): warm up on a few rows so that the trace sees the fold only.
    record_tasks(net, X[:40], y[:40], [ScoringTask("warm-up", 0, np.arange(30),
                                                   np.arange(30, 40), seed=0)], device="cpu")
    X_net = model_input(net, X)  # what the engine does once per fit, not per fold
    tracemalloc.start()
    try:
        record_tasks(net, X_net, y, [ScoringTask("fold", 0, train, held_out, seed=0)],
                     device="cpu")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_fold_takes_no_copy_of_the_data(fast_path, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(2000, 3, 32, 32), dtype=np.uint8)  # 6 MB
    y = rng.randint(0, 2, size=len(X))
    train, held_out = np.arange(0, 2000, 4), np.arange(1, 2000, 4)
    net = make_net("cnn", input_shape=X.shape[1:], n_classes=2, max_epochs=1, device="cpu",
                   fast_path=fast_path, module__widths=(4,))
    # What remains is per-batch bookkeeping (a DataLoader's per-sample objects).
    peak = _peak_numpy_bytes(X, y, net, train, held_out)
    assert peak < 0.05 * X.nbytes, f"{peak} bytes allocated for a {X.nbytes}-byte array"
    # The measurement does see copies: the copying path takes the two folds' rows.
    monkeypatch.setattr(recording, "fold_view", _copying_fold_view)
    assert _peak_numpy_bytes(X, y, net, train, held_out) > 0.45 * X.nbytes


def test_streamed_image_folder_through_unseen_pruner(tmp_path):
    rng = np.random.RandomState(0)
    for split, n in (("train", 6), ("test", 1)):
        for label, name in enumerate(("ant", "bee", "cat")):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = (rng.rand(10, 12, 3) * 60 + 90 * label).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    X, y, _, _ = load_image_folder(tmp_path, image_size=8)
    pruner = UnseenPruner(tiny_net(max_epochs=2, n_features=3 * 8 * 8, n_classes=3),
                          keep=0.5, cv=3, random_state=0)
    X_core = pruner.fit_transform(X, y)
    assert isinstance(X_core, Subset) and len(X_core) == 9
    assert np.isfinite(pruner.scores_).all() and pruner.scores_.shape == (18,)
    np.testing.assert_array_equal(np.bincount(y[pruner.sample_indices_]), [3, 3, 3])
