"""Bad input gets a clear error before any model trains; unusual good input works."""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch import NeuralNetClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from conftest import TinyMLP, tiny_net
from skunseen import FittingPruner, UnseenPruner


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """LogisticRegression that counts its fits, to show errors come before training."""

    n_fits = 0

    def fit(self, X, y):
        CountingClassifier.n_fits += 1
        self.model_ = LogisticRegression(max_iter=100).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.fixture
def counting():
    CountingClassifier.n_fits = 0
    yield CountingClassifier()
    assert CountingClassifier.n_fits == 0, "the error came after training"


@pytest.mark.parametrize("bad, message", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity")])
def test_non_finite_X(small_digits, counting, bad, message):
    X, y = small_digits
    X = X.copy()
    X[3, 5] = bad
    with pytest.raises(ValueError, match=message):
        UnseenPruner(counting).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        UnseenPruner(counting).fit(torch.from_numpy(X), torch.from_numpy(y))


def test_labels_of_another_length(small_digits, counting):
    X, y = small_digits
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[300, 299\]"):
        UnseenPruner(counting).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"one label per row of X: got shape \(299,\) for 300"):
        UnseenPruner(counting).fit(torch.from_numpy(X), y[:-1])


def test_a_single_class(small_digits, counting):
    X, _ = small_digits
    with pytest.raises(ValueError, match="y has a single class \\('cat'\\).*at least 2 classes"):
        UnseenPruner(counting).fit(X, np.full(len(X), "cat"))


def test_keep_larger_than_the_data(small_digits, counting):
    X, y = small_digits
    with pytest.raises(ValueError, match="keep=301 asks for more samples than the 300 given"):
        UnseenPruner(counting, keep=301).fit(X, y)


@pytest.mark.parametrize("keep", [0.0, 1.5, -3])
def test_keep_out_of_range(small_digits, counting, keep):
    X, y = small_digits
    with pytest.raises(ValueError, match=r"The 'keep' parameter of UnseenPruner must be"):
        UnseenPruner(counting, keep=keep).fit(X, y)


def test_unknown_scorer_lists_the_valid_ones(small_digits, counting):
    X, y = small_digits
    with pytest.raises(ValueError, match=r"Unknown scorer 'el2m'; valid names: \[.*'el2n'.*\]"):
        UnseenPruner(counting, scorer="el2m").fit(X, y)


def test_unknown_selector_lists_the_valid_ones(small_digits, counting):
    X, y = small_digits
    with pytest.raises(ValueError,
                       match=r"Unknown selector 'cc'; valid names: \[.*'ccs'.*'moderate'.*\]"):
        FittingPruner(counting, selector="cc").fit(X, y)


def test_dynamics_scorer_without_dynamics(small_digits, counting):
    X, y = small_digits
    with pytest.raises(ValueError, match="scorer='aum' reads training dynamics.*skorch"):
        FittingPruner(counting, scorer="aum").fit(X, y)


def test_cuda_without_a_gpu(small_digits, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = small_digits
    for estimator in (tiny_net(), None):
        with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not "
                                             "available.*device='auto'"):
            UnseenPruner(estimator, device="cuda").fit(X, y)
    rows = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(3)])
    pruner = UnseenPruner(device="auto", cv=2, random_state=0).fit(X[rows], y[rows])
    assert len(pruner.sample_indices_) == 15


def test_a_diverging_net_is_named(small_digits):
    X, y = small_digits
    # SGD with a huge step on unscaled pixels (0..16): the loss is NaN in epoch 1.
    net = NeuralNetClassifier(TinyMLP, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.SGD, lr=1e30, max_epochs=20,
                              batch_size=64, train_split=None, verbose=0)
    with pytest.raises(ValueError, match=r"The scoring model of repeat 0, fold \d diverged: "
                                         r"its training loss became nan in epoch 1\. Lower "
                                         "the learning rate"):
        UnseenPruner(net, cv=3, random_state=0).fit(X * 16, y)


def test_object_labels_come_back_as_given(small_digits):
    X, y = small_digits
    labels = np.array([f"digit {digit}" for digit in y], dtype=object)
    pruner = UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0)
    X_core, y_core = pruner.fit_resample(X, labels)
    assert y_core.dtype == object
    np.testing.assert_array_equal(y_core, labels[pruner.sample_indices_])
    assert set(pruner.classes_) == set(labels)


def test_pandas_in_pandas_out_with_a_net(small_digits):
    X, y = small_digits
    index = pd.Index(np.arange(len(X))[::-1] * 7, name="row")
    frame = pd.DataFrame(X, index=index, columns=[f"px{i}" for i in range(64)])
    labels = pd.Series(y, index=index, name="digit").map(str)
    pruner = UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0)
    X_core = pruner.fit_transform(frame, labels)
    assert isinstance(X_core, pd.DataFrame)
    pd.testing.assert_frame_equal(X_core, frame.iloc[pruner.sample_indices_])
    _, y_core = pruner.fit_resample(frame, labels)
    pd.testing.assert_series_equal(y_core, labels.iloc[pruner.sample_indices_])


def test_read_only_and_memory_mapped_arrays(small_digits, tmp_path):
    X, y = small_digits
    expected = UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(X, y)
    read_only = X.copy()
    read_only.setflags(write=False)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    mapped_X = np.load(tmp_path / "X.npy", mmap_mode="r")
    mapped_y = np.load(tmp_path / "y.npy", mmap_mode="r")
    for data, labels in [(read_only, y), (mapped_X, mapped_y)]:
        for estimator in (tiny_net(max_epochs=1), LogisticRegression(max_iter=100)):
            pruner = UnseenPruner(estimator, cv=3, random_state=0)
            X_core = pruner.fit_transform(data, labels)
            np.testing.assert_array_equal(X_core, X[pruner.sample_indices_])
            np.testing.assert_array_equal(pruner.transform(data), X_core)
            if not isinstance(estimator, LogisticRegression):
                np.testing.assert_array_equal(pruner.scores_, expected.scores_)
