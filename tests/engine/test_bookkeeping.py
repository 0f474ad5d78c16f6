"""The library's own bookkeeping: probabilities in the model's dtype, held once, and
no extra pass over a file-backed Dataset."""

import collections
import tracemalloc

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from helpers import tiny_net
from skunseen import FittingPruner, HeldOutRecords, UnseenPruner
from skunseen.models import make_net
from skunseen.scores import ScoringRecords


class Float32Proba(ClassifierMixin, BaseEstimator):
    """Trains nothing; float32 probabilities with the label (column 0 of X) favoured."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        rng = np.random.default_rng(self.random_state)
        proba = rng.random((len(X), len(self.classes_)), dtype=np.float32)
        labels = np.searchsorted(self.classes_, X[:, 0].astype(np.int64))
        proba[np.arange(len(X)), labels] += len(self.classes_)
        return proba / proba.sum(axis=1, keepdims=True)


def _labelled_rows(n, n_classes):
    y = np.random.default_rng(0).permutation(np.arange(n) % n_classes)
    return y[:, None].astype(np.float32), y


def _held(n, n_classes, n_repeats, n_folds, dtype, seed=0):
    """Records of ``n_repeats`` repeats of ``n_folds`` folds with random probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    records, repeats, reference = [], [], np.zeros((n_repeats, n, n_classes))
    for repeat in range(n_repeats):
        for rows in np.array_split(rng.permutation(n), n_folds):
            rows = np.sort(rows)
            proba = rng.dirichlet(np.ones(n_classes), len(rows)).astype(dtype)
            reference[repeat, rows] = proba
            records.append(ScoringRecords(rows, y[rows], proba))
            repeats.append(repeat)
    held = HeldOutRecords(records, repeats=np.array(repeats), rows=np.arange(n), y=y,
                          classes=np.arange(n_classes))
    return held, reference


@pytest.mark.parametrize("fold_batching", [False, True])
def test_oof_proba_is_float32_for_a_float32_net(small_digits, fold_batching):
    X, y = small_digits
    net = make_net("mlp", input_shape=(64,), n_classes=10, device="cpu", max_epochs=2)
    pruner = UnseenPruner(net, cv=3, fold_batching=fold_batching, random_state=0).fit(X, y)
    assert all(info["batched"] is fold_batching for info in pruner.task_info_)
    assert pruner.oof_proba_.dtype == np.float32
    np.testing.assert_allclose(pruner.oof_proba_.sum(axis=1), 1, atol=1e-5)
    assert pruner.scores_.dtype == np.float64


def test_train_proba_is_float32_for_a_float32_net(small_digits):
    X, y = small_digits
    pruner = FittingPruner(tiny_net(max_epochs=1), n_repeats=2, random_state=0).fit(X, y)
    assert pruner.train_proba_.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_scikit_learn_classifier_keeps_its_dtype(small_digits, dtype):
    # LogisticRegression predicts in the dtype of X.
    X, y = small_digits
    pruner = UnseenPruner(LogisticRegression(max_iter=200), cv=3, random_state=0)
    assert pruner.fit(X.astype(dtype), y).oof_proba_.dtype == dtype


def test_a_float32_classifier_keeps_its_float32():
    X, y = _labelled_rows(200, 4)
    pruner = UnseenPruner(Float32Proba(), cv=4, n_repeats=2, random_state=0).fit(X, y)
    assert pruner.oof_proba_.dtype == np.float32


@pytest.mark.parametrize("n_repeats", [1, 3])
def test_the_average_over_repeats_is_the_float64_mean_within_float32_rounding(n_repeats):
    held, reference = _held(300, 7, n_repeats, n_folds=4, dtype=np.float32)
    assert held.proba.dtype == np.float32
    np.testing.assert_allclose(held.proba, reference.mean(axis=0), rtol=2e-7 * n_repeats,
                               atol=1e-8)
    if n_repeats == 1:
        np.testing.assert_array_equal(held.proba, reference[0])


def test_per_sample_values_are_averaged_in_float64_as_a_mean_over_repeats():
    # Scores: the same arithmetic as a mean over a stacked axis, bit for bit.
    held, reference = _held(300, 7, 3, n_folds=4, dtype=np.float32)
    values = held.average(lambda records: records.proba[:, 0])
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, reference[:, :, 0].mean(axis=0))


def test_the_probabilities_are_computed_once_and_kept_in_one_array():
    held, _ = _held(2000, 50, 1, n_folds=5, dtype=np.float32)
    size = 2000 * 50 * 4
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        proba = held.proba
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 1.1 * size  # the result, no per-repeat buffer, no float64 copy
    assert held.proba is proba


def test_a_fit_holds_its_probabilities_about_twice_at_most():
    # Records (one N x C) and the out-of-fold probabilities (one N x C); the
    # scorer and the checks work on blocks of rows or folds.
    n, n_classes = 2000, 200
    X, y = _labelled_rows(n, n_classes)
    pruner = UnseenPruner(Float32Proba(), cv=5, random_state=0)
    pruner.fit(*_labelled_rows(100, 10))  # code loaded lazily is not the fit's bookkeeping
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        pruner.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (peak - before) / (n * n_classes * 4) < 2.5


def test_a_row_scored_twice_in_one_repeat_is_refused():
    rows, y = np.arange(4), np.array([0, 1, 0, 1])
    proba = np.full((4, 2), 0.5)
    held = HeldOutRecords([ScoringRecords(rows, y, proba), ScoringRecords(rows[:2], y[:2],
                                                                          proba[:2])],
                          repeats=np.array([0, 0]), rows=rows, y=y, classes=np.arange(2))
    with pytest.raises(ValueError, match="scored twice in one repeat"):
        held.proba


# ------------------------------------------------------------- image folders
def _image_folder(root, n_per_class=12, n_classes=2):
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import ToTensor

    rng = np.random.default_rng(0)
    for c in range(n_classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 96, size=(8, 8, 3)) + 128 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / f"class_{c}" / f"{i}.jpg")

    class CountingFolder(ImageFolder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.reads = collections.Counter()

        def __getitem__(self, index):
            self.reads[index] += 1
            return super().__getitem__(index)

    return CountingFolder(str(root), transform=ToTensor())


@pytest.mark.filterwarnings("ignore:.*no better than chance")
@pytest.mark.parametrize("fold_batching", [False, True])
@pytest.mark.parametrize("scorer", ["el2n", "forgetting"])
@pytest.mark.parametrize("with_memory", [False, True])
def test_an_image_folder_is_read_for_training_and_held_out_passes_only(
        tmp_path, scorer, with_memory, fold_batching):
    folder = _image_folder(tmp_path / "images")
    n, n_epochs, n_folds = len(folder), 2, 3
    net = make_net("cnn", input_shape=(3, 8, 8), n_classes=2, device="cpu",
                   max_epochs=n_epochs, batch_size=8, module__widths=(4,))
    memory = tmp_path / "store" if with_memory else None
    pruner = UnseenPruner(net, scorer=scorer, cv=n_folds, memory=memory,
                          fold_batching=fold_batching, random_state=0).fit(folder)
    assert all(info["batched"] is fold_batching for info in pruner.task_info_)
    # Every image: n_epochs training passes in each of the n_folds - 1 folds
    # training on it, and the held-out passes of the fold holding it out: one
    # at the end of training, and one after every epoch when the scorer reads
    # training dynamics (batched rounds keep the last epoch's as the final one).
    dynamics = scorer == "forgetting"
    held_out = n_epochs + (not fold_batching) if dynamics else 1
    expected = n_epochs * (n_folds - 1) + held_out
    extra = [folder.reads[index] - expected for index in range(n)]
    assert min(extra) == 0
    # The first item is read for its shape before training (a folder's items
    # carry the labels of its file list): no extra pass, for a fingerprint, the
    # labels or the store's key.
    assert sum(extra) == 1
