"""The shared pruner machinery: a fit that raises leaves the estimator as it was."""

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from skunseen import (
    FittingPruner,
    MultiStepUnseenPruner,
    PrunedClassifier,
    PruningSampler,
    UnseenPruner,
)


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """LogisticRegression that fails on its second fit when ``fail`` is set."""

    def __init__(self, fail=False):
        self.fail = fail

    def fit(self, X, y):
        FailingClassifier.n_fits += 1
        if self.fail and FailingClassifier.n_fits > 1:
            raise RuntimeError("training failed")
        self.model_ = LogisticRegression(max_iter=200).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def fitted_state(estimator):
    """A digest of every fitted attribute (public and private)."""
    return joblib.hash({name: value for name, value in vars(estimator).items()
                        if name.endswith("_") and not name.startswith("__")})


def make(kind):
    pruner = {
        "unseen": lambda: UnseenPruner(FailingClassifier(), cv=3, random_state=0),
        "fitting": lambda: FittingPruner(FailingClassifier(), n_repeats=2, random_state=0),
        "multistep": lambda: MultiStepUnseenPruner(FailingClassifier(), cv=3, n_steps=2,
                                                   random_state=0),
    }[kind]()
    return {"unseen": pruner, "fitting": pruner, "multistep": pruner,
            "pruned": PrunedClassifier(pruner, LogisticRegression(max_iter=200)),
            "sampler": PruningSampler(pruner)}


def fit(estimator, X, y):
    return estimator.fit_resample(X, y) if isinstance(estimator, PruningSampler) else (
        estimator.fit(X, y))


@pytest.mark.parametrize("kind", ["unseen", "fitting", "multistep"])
@pytest.mark.parametrize("wrapper", [None, "pruned", "sampler"])
def test_a_failed_refit_leaves_the_fitted_state_as_it_was(small_digits, kind, wrapper):
    X, y = small_digits
    estimator = make(kind)[wrapper or kind]
    FailingClassifier.n_fits = 0
    fit(estimator, X, y)
    before = fitted_state(estimator)
    pruner = estimator.pruner_ if wrapper else estimator
    core = pruner.sample_indices_.copy()
    # Other data, and a scoring model that fails after validation passed.
    name = "estimator__fail" if wrapper is None else "pruner__estimator__fail"
    estimator.set_params(**{name: True})
    FailingClassifier.n_fits = 0
    with pytest.raises(RuntimeError, match="training failed"):
        fit(estimator, X[:200], y[:200])
    assert fitted_state(estimator) == before
    if wrapper is None:
        np.testing.assert_array_equal(estimator.transform(X), X[core])
        with pytest.raises(ValueError, match="differs from it"):
            estimator.transform(X[:200])


@pytest.mark.parametrize("kind", ["unseen", "fitting", "multistep"])
def test_a_failed_first_fit_leaves_the_pruner_unfitted(small_digits, kind):
    X, y = small_digits
    pruner = make(kind)[kind].set_params(estimator__fail=True)
    FailingClassifier.n_fits = 0
    with pytest.raises(RuntimeError):
        pruner.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(pruner)
    assert [name for name in vars(pruner) if name.endswith("_")] == []


def test_a_refit_on_a_dataset_drops_the_array_fit_attributes(small_digits):
    import torch
    from torch.utils.data import TensorDataset

    from helpers import tiny_net

    X, y = small_digits
    pruner = UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(X, y)
    assert pruner.n_features_in_ == 64
    pruner.fit(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), y)
    assert not hasattr(pruner, "n_features_in_")
