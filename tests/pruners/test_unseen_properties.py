"""Property-based tests of the pruners' boundaries (hypothesis).

Random label vectors, class counts, ``keep`` values and user-given splits:
the coreset has exactly the size asked for, its rows are unique positions of
the caller's data, every sample is scored only by models that never trained
on it, and bad input is refused naming the parameter before any model trains.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner
from skunseen.selection import CLASS_BUDGETS

# No example database: a test run writes nothing into the working tree.
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


class CentroidClassifier(ClassifierMixin, BaseEstimator):
    """Nearest class mean; column 0 holds the row id, logged with the rows scored."""

    log = []

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.train_rows_ = set(X[:, 0].astype(int).tolist())
        self.means_ = np.stack([X[y == c, 1:].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X):
        CentroidClassifier.log.append((self.train_rows_, X[:, 0].astype(int).tolist()))
        logits = -((X[:, None, 1:] - self.means_[None]) ** 2).sum(axis=-1)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        return proba / proba.sum(axis=1, keepdims=True)


@st.composite
def labelled(draw, min_per_class=3):
    """(X with row ids in column 0, y) with 2-4 classes of random sizes, shuffled."""
    n_classes = draw(st.integers(2, 4))
    counts = draw(st.lists(st.integers(min_per_class, 12), min_size=n_classes,
                           max_size=n_classes))
    y = np.repeat(np.arange(n_classes), counts)
    y = y[np.asarray(draw(st.permutations(range(len(y)))))]
    if draw(st.booleans()):
        y = np.array([f"class {label}" for label in y], dtype=object)
    features = np.random.RandomState(draw(st.integers(0, 2**16))).randn(len(y), 3)
    return np.column_stack([np.arange(len(y)), features]), y


def expected_size(keep, n):
    return keep if isinstance(keep, int) else max(1, int(round(keep * n)))


def assert_unseen_scoring(n, n_repeats):
    scored = []
    for train_rows, rows in CentroidClassifier.log:
        assert not train_rows & set(rows)
        scored += rows
    assert sorted(scored) == sorted(list(range(n)) * n_repeats)


@SETTINGS
@given(data=labelled(), keep_fraction=st.floats(0.01, 1.0), keep_count=st.integers(1, 200),
       as_count=st.booleans(), cv=st.integers(2, 3), n_repeats=st.integers(1, 2),
       class_budget=st.sampled_from([*CLASS_BUDGETS, None]),
       selector=st.sampled_from(["hard", "easy", "random", "moderate", "ccs"]))
def test_exact_size_unique_rows_and_unseen_scores(data, keep_fraction, keep_count, as_count,
                                                   cv, n_repeats, class_budget, selector):
    X, y = data
    keep = min(keep_count, len(y)) if as_count else keep_fraction
    CentroidClassifier.log = []
    pruner = UnseenPruner(CentroidClassifier(), keep=keep, cv=cv, n_repeats=n_repeats,
                          class_budget=class_budget, selector=selector, random_state=0)
    pruner.fit(X, y)
    rows = pruner.sample_indices_
    assert len(rows) == expected_size(keep, len(y))
    assert np.array_equal(rows, np.unique(rows)) and rows.min() >= 0 and rows.max() < len(y)
    assert_unseen_scoring(len(y), n_repeats)
    assert ((pruner.fold_ids_ >= 0) & (pruner.fold_ids_ < cv)).all()


@SETTINGS
@given(data=labelled(), n_folds=st.integers(2, 4), seed=st.integers(0, 2**16),
       leak=st.booleans())
def test_random_user_splits(data, n_folds, seed, leak):
    X, y = data
    n = len(y)
    rng = np.random.RandomState(seed)
    fold_of = rng.permutation(np.arange(n) % n_folds)  # every fold non-empty
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k))
              for k in range(n_folds)]
    if leak:
        k = rng.randint(n_folds)
        leaked = rng.choice(splits[k][1], size=rng.randint(1, len(splits[k][1]) + 1),
                            replace=False)
        splits[k] = (np.union1d(splits[k][0], leaked), splits[k][1])
    CentroidClassifier.log = []
    pruner = UnseenPruner(CentroidClassifier(), cv=splits, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # folds may lack a class
        if leak:
            with pytest.raises(ValueError, match=rf"`cv` split {k} trains on"):
                pruner.fit(X, y)
            assert CentroidClassifier.log == []
            return
        pruner.fit(X, y)
    np.testing.assert_array_equal(pruner.fold_ids_[0], fold_of)
    assert_unseen_scoring(n, 1)


@SETTINGS
@given(data=labelled(), bad=st.sampled_from(["too big", "negative", "float", "mask"]),
       seed=st.integers(0, 2**16))
def test_bad_split_indices_name_cv(data, bad, seed):
    X, y = data
    n = len(y)
    rng = np.random.RandomState(seed)
    fold_of = rng.permutation(np.arange(n) % 2)
    splits = [[np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)] for k in range(2)]
    side = rng.randint(2)
    rows = splits[1][side]
    splits[1][side] = {"too big": np.r_[rows, n + rng.randint(50)],
                       "negative": np.r_[rows, -1 - rng.randint(50)],
                       "float": rows.astype(float),
                       "mask": np.ones(n + 1, dtype=bool)}[bad]
    CentroidClassifier.log = []
    with warnings.catch_warnings(), pytest.raises(
            ValueError, match=r"`cv` split 1: the (training|test) indices"):
        warnings.simplefilter("ignore", UserWarning)  # folds may lack a class
        UnseenPruner(CentroidClassifier(), cv=splits).fit(X, y)
    assert CentroidClassifier.log == []


@SETTINGS
@given(data=labelled(), pruner=st.sampled_from([UnseenPruner, FittingPruner,
                                                 MultiStepUnseenPruner]),
       keep=st.one_of(st.booleans(), st.floats(-5, 0), st.floats(1.0001, 5),
                      st.integers(-5, 0), st.integers(200, 300)))
def test_bad_keep_is_refused_naming_keep(data, pruner, keep):
    X, y = data
    CentroidClassifier.log = []
    with pytest.raises(ValueError, match="keep"):
        pruner(CentroidClassifier(), keep=keep).fit(X, y)
    assert CentroidClassifier.log == []


@SETTINGS
@given(data=labelled(), keep=st.floats(0.05, 1.0),
       class_budget=st.sampled_from([*CLASS_BUDGETS, None]))
def test_one_step_multistep_is_single_step(data, keep, class_budget):
    X, y = data
    params = dict(keep=keep, cv=3, class_budget=class_budget, random_state=0)
    single = UnseenPruner(CentroidClassifier(), **params).fit(X, y)
    multi = MultiStepUnseenPruner(CentroidClassifier(), n_steps=1, **params).fit(X, y)
    np.testing.assert_array_equal(multi.sample_indices_, single.sample_indices_)
    np.testing.assert_array_equal(multi.scores_, single.scores_)


@SETTINGS
@given(data=labelled(min_per_class=4), group_size=st.integers(1, 3), cv=st.integers(2, 3))
def test_groups_are_never_split_between_training_and_scoring(data, group_size, cv):
    X, y = data
    groups = np.random.RandomState(len(y)).permutation(len(y)) // group_size
    CentroidClassifier.log = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class may sit in few groups
        pruner = UnseenPruner(CentroidClassifier(), cv=cv, random_state=0).fit(
            X, y, groups=groups)
    for train_rows, rows in CentroidClassifier.log:
        assert not set(groups[list(train_rows)]) & set(groups[rows])
    assert_unseen_scoring(len(y), 1)
    assert (pruner.fold_ids_ >= 0).all()
