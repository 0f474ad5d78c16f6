"""Bad input gets a clear error before any model trains; unusual good input works."""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch import NeuralNetClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from helpers import TinyMLP, tiny_net
from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner


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


# --------------------------------------------------- inputs reaching the model
class DtypeLoggingMLP(TinyMLP):
    """Records the dtype of every training batch it receives."""

    dtypes = set()

    def forward(self, X):
        if self.training:
            DtypeLoggingMLP.dtypes.add(X.dtype)
        return super().forward(X)


def logging_net():
    return NeuralNetClassifier(DtypeLoggingMLP, criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, lr=0.01, max_epochs=1,
                               batch_size=64, train_split=None, verbose=0)


@pytest.mark.parametrize("convert", [
    lambda X: (X * 16).astype(np.int64),
    lambda X: (X * 16).astype(np.uint8),
    lambda X: X > 0.5,
    lambda X: (X * 16).astype(object),
    lambda X: torch.from_numpy((X * 16).astype(np.int32)),
    lambda X: pd.DataFrame((X * 16).astype(np.int16)),
])
def test_numeric_X_reaches_a_user_net_as_float32(small_digits, convert):
    X, y = small_digits
    DtypeLoggingMLP.dtypes = set()
    converted = UnseenPruner(logging_net(), cv=3, random_state=0).fit(convert(X), y)
    assert DtypeLoggingMLP.dtypes == {torch.float32}
    as_float = UnseenPruner(logging_net(), cv=3, random_state=0).fit(
        np.asarray(convert(X), dtype=np.float32), y)
    np.testing.assert_array_equal(converted.scores_, as_float.scores_)


def test_text_in_X_is_refused_naming_X_before_a_net_trains(small_digits):
    X, y = small_digits
    X_text = X.astype(object)
    X_text[7, 5] = "n/a"
    DtypeLoggingMLP.dtypes = set()
    with pytest.raises(TypeError, match=r"X of dtype object must hold numbers.*'n/a'"):
        UnseenPruner(logging_net(), cv=3).fit(X_text, y)
    with pytest.raises(TypeError, match=r"X of dtype <U\d+ is not numeric"):
        UnseenPruner(logging_net(), cv=3).fit(X_text.astype(str), y)
    assert DtypeLoggingMLP.dtypes == set()


def test_labels_of_mixed_types_are_refused_naming_y(small_digits, counting):
    X, y = small_digits
    mixed = np.array([v if i % 2 else str(v) for i, v in enumerate(y)], dtype=object)
    with pytest.raises(TypeError, match=r"y mixes label types \['int', 'str'\]"):
        UnseenPruner(counting).fit(X, mixed)


def test_a_dataset_needs_a_skorch_estimator(small_digits, counting):
    X, y = small_digits
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.raises(ValueError, match="Dataset input needs a skorch net as `estimator`"):
        UnseenPruner(counting, cv=3).fit(dataset, y)


@pytest.mark.parametrize("keep", [True, False, np.True_])
@pytest.mark.parametrize("pruner", [UnseenPruner, FittingPruner, MultiStepUnseenPruner])
def test_a_bool_keep_is_refused(small_digits, counting, pruner, keep):
    X, y = small_digits
    with pytest.raises(ValueError, match="keep"):
        pruner(counting, keep=keep).fit(X, y)


def test_the_device_of_a_given_net_is_checked_before_training(small_digits, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = small_digits
    DtypeLoggingMLP.dtypes = set()
    with pytest.raises(ValueError, match=r"NeuralNetClassifier has device='cuda'.*CUDA is not "
                                         r"available.*pruner's device='cpu'"):
        UnseenPruner(logging_net().set_params(device="cuda"), cv=3).fit(X, y)
    assert DtypeLoggingMLP.dtypes == set()
    # The pruner's own device applies to every net: the advice works.
    UnseenPruner(logging_net().set_params(device="cuda"), device="cpu", cv=3).fit(X, y)


# ------------------------------------------------------- messages to act on
def test_nan_in_a_dataset_is_reported_as_bad_data(small_digits):
    X, y = small_digits
    X = X.copy()
    X[5, 3] = np.nan
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.raises(ValueError, match=r"X holds NaN or infinite values: sample 5 of the "
                                         r"Dataset") as error:
        UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(dataset, y)
    assert "learning rate" not in str(error.value)


def test_a_memory_that_is_a_file_is_named(small_digits, counting, tmp_path):
    X, y = small_digits
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"memory='.*file' is a file, not a directory"):
        UnseenPruner(counting, memory=tmp_path / "file").fit(X, y)


def test_samples_the_default_net_cannot_take_get_a_followable_advice(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match=r"pass estimator=make_net\('mlp', input_shape=\(8, 8\), "
                                         r"n_classes=10\)"):
        UnseenPruner(cv=3).fit(X.reshape(-1, 8, 8), y)
