import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, ShuffleSplit, StratifiedGroupKFold
from torch.utils.data import TensorDataset

from helpers import TRAINING_LOG, RowTrackingClassifier, tiny_net, with_row_ids
from skunseen import MultiStepUnseenPruner, UnseenPruner

def lr():
    return LogisticRegression(max_iter=300)


@pytest.mark.parametrize("n_repeats", [1, 2])
def test_no_sample_is_scored_by_a_model_that_trained_on_it(small_digits, n_repeats):
    X, y = small_digits
    TRAINING_LOG.clear()
    UnseenPruner(RowTrackingClassifier(), cv=4, n_repeats=n_repeats, random_state=0).fit(
        with_row_ids(X), y)
    assert len(TRAINING_LOG) == 4 * n_repeats
    for train_rows, scored_rows in TRAINING_LOG:
        assert not train_rows & scored_rows
        assert len(train_rows) + len(scored_rows) == len(X)
    scored = [row for _, rows in TRAINING_LOG for row in rows]
    assert sorted(scored) == sorted(list(range(len(X))) * n_repeats)


class IdLoggingMLP(torch.nn.Module):
    """Logs the row ids (feature 0) each instance sees while training and evaluating."""

    instances = []

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)
        self.seen = {"train": set(), "eval": set()}
        IdLoggingMLP.instances.append(self)

    def forward(self, X):
        ids = set(X[:, 0].long().tolist())
        self.seen["train" if self.training else "eval"].update(ids)
        return self.linear(X[:, 1:])


def test_skorch_recording_never_sees_training_rows(small_digits):
    from skorch import NeuralNetClassifier

    X, y = small_digits
    X_ids = with_row_ids(X).astype(np.float32)
    IdLoggingMLP.instances = []
    net = NeuralNetClassifier(IdLoggingMLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
                              train_split=None, verbose=0)
    pruner = UnseenPruner(net, scorer="forgetting", cv=3, random_state=0).fit(X_ids, y)
    # One module per fold model: it trained on the other folds, recorded its own.
    seen = sorted((sorted(m.seen["train"]), sorted(m.seen["eval"]))
                  for m in IdLoggingMLP.instances if m.seen["train"])
    folds = sorted((np.flatnonzero(pruner.fold_ids_[0] != k).tolist(),
                    np.flatnonzero(pruner.fold_ids_[0] == k).tolist()) for k in range(3))
    assert seen == folds


@pytest.mark.parametrize("keep, expected", [(0.5, 150), (0.1, 30), (1.0, 300), (77, 77), (1, 1)])
def test_exact_coreset_size_unique_rows(small_digits, keep, expected):
    X, y = small_digits
    pruner = UnseenPruner(lr(), keep=keep, cv=3, random_state=0).fit(X, y)
    idx = pruner.sample_indices_
    assert len(idx) == expected
    assert len(np.unique(idx)) == expected
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < len(X)
    np.testing.assert_array_equal(pruner.get_support(indices=True), idx)
    assert pruner.get_support().sum() == expected


def test_same_random_state_same_coreset(small_digits):
    X, y = small_digits
    net = tiny_net(max_epochs=2)
    first = UnseenPruner(net, scorer="forgetting", cv=3, random_state=7).fit(X, y)
    second = UnseenPruner(net, scorer="forgetting", cv=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(first.sample_indices_, second.sample_indices_)
    np.testing.assert_array_equal(first.scores_, second.scores_)
    other = UnseenPruner(net, scorer="forgetting", cv=3, random_state=8).fit(X, y)
    assert not np.array_equal(first.fold_ids_, other.fold_ids_)


def test_fitted_attributes(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(tiny_net(max_epochs=2), scorer="aum", cv=3, n_repeats=2,
                          random_state=0).fit(X, y)
    assert pruner.scores_.shape == (300,)
    assert np.isfinite(pruner.scores_).all()
    assert pruner.oof_proba_.shape == (300, 10)
    np.testing.assert_allclose(pruner.oof_proba_.sum(axis=1), 1, rtol=1e-5)
    assert pruner.fold_ids_.shape == (2, 300)
    assert set(np.unique(pruner.fold_ids_)) == {0, 1, 2}
    np.testing.assert_array_equal(pruner.classes_, np.arange(10))
    assert pruner.n_features_in_ == 64
    assert len(pruner.task_info_) == 6
    assert all(info["n_epochs"] == 2 for info in pruner.task_info_)


def test_scores_average_over_repeats(small_digits):
    X, y = small_digits
    one = UnseenPruner(lr(), cv=3, n_repeats=1, random_state=0).fit(X, y)
    two = UnseenPruner(lr(), cv=3, n_repeats=2, random_state=0).fit(X, y)
    # The first repeat draws the same folds, so the average moves off it but stays close.
    np.testing.assert_array_equal(one.fold_ids_[0], two.fold_ids_[0])
    assert not np.allclose(one.scores_, two.scores_)
    assert np.corrcoef(one.scores_, two.scores_)[0, 1] > 0.8


def test_default_estimator_is_a_skorch_net(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(keep=0.5, cv=3, random_state=0).fit(X, y)
    assert len(pruner.sample_indices_) == 150
    assert pruner.task_info_[0]["n_epochs"] > 0


def test_dynamics_scorer_needs_a_net(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="scorer='forgetting'.*training dynamics"):
        UnseenPruner(lr(), scorer="forgetting").fit(X, y)


def test_transform_refuses_other_data(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pruner.transform(X), X[pruner.sample_indices_])
    with pytest.raises(ValueError, match="coreset of the data seen in fit"):
        pruner.transform(X[::-1])
    changed = X.copy()
    changed[0, 0] += 1
    with pytest.raises(ValueError, match="coreset of the data seen in fit"):
        pruner.transform(changed)


def test_clone_and_pickle(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), keep=0.3, cv=3, random_state=0, scorer_params={})
    cloned = clone(pruner)
    assert cloned is not pruner and repr(cloned) == repr(pruner)
    assert cloned.get_params()["estimator__max_iter"] == 300
    pruner.fit(X, y)
    restored = pickle.loads(pickle.dumps(pruner))
    np.testing.assert_array_equal(restored.sample_indices_, pruner.sample_indices_)
    np.testing.assert_array_equal(restored.transform(X), pruner.transform(X))


def test_class_smaller_than_folds_is_named(small_digits):
    X, y = small_digits
    y = y.copy()
    y[:28] = 1  # class 0 keeps 2 samples
    with pytest.raises(ValueError, match=r"Class 0 has only 2 samples.*cv=5.*cv=2"):
        UnseenPruner(lr(), cv=5).fit(X, y)


def test_keep_larger_than_data(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="keep=301"):
        UnseenPruner(lr(), keep=301, cv=3).fit(X, y)


@pytest.mark.parametrize("keep", [0.0, 1.5, -3])
def test_keep_out_of_range(small_digits, keep):
    X, y = small_digits
    with pytest.raises(ValueError, match="'keep' parameter"):
        UnseenPruner(lr(), keep=keep).fit(X, y)


def test_splitter_and_non_partition(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), cv=KFold(3, shuffle=True, random_state=0), random_state=0)
    assert len(pruner.fit(X, y).sample_indices_) == 150
    with pytest.raises(ValueError, match="exactly one test fold"):
        UnseenPruner(lr(), cv=ShuffleSplit(5, test_size=0.5, random_state=0)).fit(X, y)


def test_string_labels_come_back_as_given(small_digits):
    X, y = small_digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"], dtype=object)[y]
    X_core, y_core = UnseenPruner(lr(), cv=3, random_state=0).fit_resample(X, names)
    pruner = UnseenPruner(lr(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(y_core, names[pruner.sample_indices_])
    assert y_core.dtype == object


def test_pandas_in_pandas_out(small_digits):
    X, y = small_digits
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)], index=np.arange(300) * 10)
    labels = pd.Series(y, index=frame.index, name="digit")
    pruner = UnseenPruner(lr(), cv=3, random_state=0)
    X_core, y_core = pruner.fit_resample(frame, labels)
    assert isinstance(X_core, pd.DataFrame) and isinstance(y_core, pd.Series)
    np.testing.assert_array_equal(X_core.index, frame.index[pruner.sample_indices_])
    np.testing.assert_array_equal(y_core.index, X_core.index)
    assert list(pruner.feature_names_in_) == list(frame.columns)


def test_tensor_and_dataset_input(small_digits):
    X, y = small_digits
    array = UnseenPruner(tiny_net(), cv=3, random_state=0).fit(X, y)
    tensor = UnseenPruner(tiny_net(), cv=3, random_state=0)
    X_core = tensor.fit_transform(torch.from_numpy(X), torch.from_numpy(y))
    assert isinstance(X_core, torch.Tensor)
    np.testing.assert_array_equal(tensor.sample_indices_, array.sample_indices_)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_dataset = UnseenPruner(tiny_net(), cv=3, random_state=0)
    subset = from_dataset.fit_transform(dataset, y)
    assert len(subset) == len(array.sample_indices_)
    np.testing.assert_allclose(from_dataset.scores_, array.scores_, rtol=1e-5, atol=1e-6)


class NanClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), np.nan)


def test_diverged_model_is_named(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="repeat 0, fold 0 produced NaN or infinite outputs"):
        UnseenPruner(NanClassifier(), cv=3).fit(X, y)


def test_difficulty_budget_favours_hard_classes(small_digits):
    X, y = small_digits
    rng = np.random.RandomState(0)
    y = y.copy()
    noisy = np.flatnonzero(y == 3)[:20]
    y[noisy] = rng.choice([5, 8], size=20)  # class 3 becomes hard to predict
    hard = UnseenPruner(lr(), keep=0.3, cv=3, class_budget="difficulty", random_state=0)
    proportional = UnseenPruner(lr(), keep=0.3, cv=3, random_state=0)
    kept_hard = np.bincount(y[hard.fit(X, y).sample_indices_], minlength=10)
    kept_prop = np.bincount(y[proportional.fit(X, y).sample_indices_], minlength=10)
    assert kept_hard.sum() == kept_prop.sum() == 90
    assert kept_hard[5] + kept_hard[8] > kept_prop[5] + kept_prop[8]


def test_el2n_epoch_window_records_dynamics(small_digits):
    X, y = small_digits
    window = UnseenPruner(tiny_net(max_epochs=3), scorer_params={"epochs": (2, 3)}, cv=3,
                          random_state=0).fit(X, y)
    final = UnseenPruner(tiny_net(max_epochs=3), cv=3, random_state=0).fit(X, y)
    # The last epoch's per-epoch el2n is the final model's el2n.
    np.testing.assert_allclose(window.scores_, final.scores_, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="training dynamics"):
        UnseenPruner(lr(), scorer_params={"epochs": (0, 2)}).fit(X, y)


# ----------------------------------------------------------- user-given folds
class CountingLR(LogisticRegression):
    """LogisticRegression that counts its fits, to show errors come before training."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


def thirds(n):
    """Three proper out-of-fold splits of n rows: test fold k holds rows k, k + 3, ..."""
    return [(np.setdiff1d(np.arange(n), test), test) for test in
            (np.arange(k, n, 3) for k in range(3))]


@pytest.mark.parametrize("edit, match", [
    (lambda n, tr, te: (np.arange(n), te), r"`cv` split 0 trains on 100 of the rows it holds out"),
    (lambda n, tr, te: (tr, np.r_[te, n + 5]), r"`cv` split 0: the test indices must be row "
                                               r"positions in \[0, 300\); got \[305\]"),
    (lambda n, tr, te: (tr, np.r_[te, -1]), r"row positions in \[0, 300\); got \[-1\]"),
    (lambda n, tr, te: (tr.astype(float), te), r"`cv` split 0: the training indices must be "
                                               r"integer row positions.*dtype float64"),
    (lambda n, tr, te: (tr, te[:-1]), r"1 samples \(e.g. rows \[297\]\) are in none"),
    (lambda n, tr, te: (tr, np.r_[te, te[:1]]), r"`cv` split 0 repeats test rows"),
    (lambda n, tr, te: (tr[:0], te), r"`cv` split 0 has no training rows"),
])
def test_bad_user_splits_are_refused_before_any_model_trains(small_digits, edit, match):
    X, y = small_digits
    splits = thirds(len(y))
    splits[0] = edit(len(y), *splits[0])
    CountingLR.fits = 0
    with pytest.raises(ValueError, match=match):
        UnseenPruner(CountingLR(max_iter=100), cv=splits, random_state=0).fit(X, y)
    assert CountingLR.fits == 0


def test_boolean_masks_are_the_integer_splits(small_digits):
    X, y = small_digits
    splits = thirds(len(y))
    masks = [(np.isin(np.arange(len(y)), tr), np.isin(np.arange(len(y)), te))
             for tr, te in splits]
    by_rows = UnseenPruner(lr(), cv=splits, random_state=0).fit(X, y)
    by_masks = UnseenPruner(lr(), cv=masks, random_state=0).fit(X, y)
    np.testing.assert_array_equal(by_masks.scores_, by_rows.scores_)
    np.testing.assert_array_equal(by_masks.sample_indices_, by_rows.sample_indices_)
    np.testing.assert_array_equal(by_masks.fold_ids_[0], np.arange(len(y)) % 3)


def test_a_class_missing_from_a_training_fold_is_named():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)  # sorted by class: KFold(3) holds out one class per fold
    with pytest.warns(UserWarning) as caught:
        UnseenPruner(LogisticRegression(max_iter=500), cv=KFold(3), random_state=0).fit(X, y)
    messages = [str(w.message) for w in caught if "training rows lack" in str(w.message)]
    assert [m[:38] for m in messages] == [f"Fold {k} of `cv` holds out class(es) [{k}]"
                                          for k in range(3)]


def test_a_single_member_class_gets_advice_that_can_be_followed(small_digits):
    X, y = small_digits
    y = y.copy()
    y[0] = 42
    with pytest.raises(ValueError, match="Class 42 has a single sample") as error:
        UnseenPruner(lr(), cv=2).fit(X, y)
    assert "cv=" not in str(error.value).replace("(whatever cv)", "")


# ------------------------------------------------------------------- groups
def groups_of(n, size=5):
    return np.arange(n) // size


def assert_groups_whole(fold_ids, groups):
    for repeat in fold_ids:
        for group in np.unique(groups):
            assert len(np.unique(repeat[groups == group])) == 1, group


@pytest.mark.parametrize("cv", [GroupKFold(3, shuffle=True), StratifiedGroupKFold(3, shuffle=True), 3])
def test_groups_reach_the_splitter_and_stay_whole(small_digits, cv):
    X, y = small_digits
    groups = groups_of(len(y))
    pruner = UnseenPruner(lr(), cv=cv, n_repeats=2, random_state=0).fit(X, y, groups=groups)
    assert_groups_whole(pruner.fold_ids_, groups)
    assert (pruner.fold_ids_ >= 0).all() and len(pruner.sample_indices_) == 150


def test_group_splitter_without_groups_and_straddling_groups_are_refused(small_digits):
    X, y = small_digits
    CountingLR.fits = 0
    with pytest.raises(ValueError, match=r"splits by groups, but none were given.*groups=\.\.\."):
        UnseenPruner(CountingLR(), cv=GroupKFold(3)).fit(X, y)
    with pytest.raises(ValueError, match=r"`cv` split 0 puts group\(s\) \[.*\] in both"):
        UnseenPruner(CountingLR(), cv=KFold(3, shuffle=True, random_state=0)).fit(
            X, y, groups=groups_of(len(y)))
    with pytest.raises(ValueError, match=r"groups must have one entry per row of X: got 299"):
        UnseenPruner(CountingLR(), cv=GroupKFold(3)).fit(X, y, groups=groups_of(299))
    assert CountingLR.fits == 0


def test_multistep_replacement_folds_keep_groups_whole(small_digits):
    X, y = small_digits
    groups = groups_of(len(y), size=3)
    TRAINING_LOG.clear()
    MultiStepUnseenPruner(RowTrackingClassifier(), keep=120, n_steps=2, replace=0.2, cv=3,
                          random_state=0).fit(with_row_ids(X), y, groups=groups)
    coreset_folds = TRAINING_LOG[3:6]  # step 1 has 3 folds, then the replacement folds
    for train_rows, scored_rows in coreset_folds:
        assert not set(groups[list(train_rows)]) & set(groups[list(scored_rows)])


class RoundRobinGroups:
    """A splitter outside scikit-learn: group g is held out by fold g % 3."""

    def split(self, X, y=None, groups=None):
        for k in range(3):
            test = np.flatnonzero(np.asarray(groups) % 3 == k)
            yield np.setdiff1d(np.arange(len(X)), test), test

    def get_n_splits(self, X=None, y=None, groups=None):
        return 3


def test_a_custom_splitter_gets_the_groups(small_digits):
    X, y = small_digits
    groups = groups_of(len(y))
    pruner = UnseenPruner(lr(), cv=RoundRobinGroups(), random_state=0).fit(X, y, groups=groups)
    np.testing.assert_array_equal(pruner.fold_ids_[0], groups % 3)
