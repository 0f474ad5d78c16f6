import numpy as np
import pytest
import torch
from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import tiny_net
from skunseen import PrunedClassifier, PruningSampler, UnseenPruner


def lr():
    return LogisticRegression(max_iter=300)


def test_pruner_as_last_pipeline_step(small_digits):
    X, y = small_digits
    pipe = make_pipeline(StandardScaler(), UnseenPruner(lr(), cv=3, random_state=0))
    X_core = pipe.fit_transform(X, y)
    pruner = pipe[-1]
    np.testing.assert_allclose(X_core, StandardScaler().fit_transform(X)[pruner.sample_indices_])


def test_pruned_classifier_trains_on_the_coreset_only(small_digits):
    X, y = small_digits
    model = PrunedClassifier(UnseenPruner(lr(), keep=0.4, cv=3, random_state=0), lr()).fit(X, y)
    reference = lr().fit(X[model.sample_indices_], y[model.sample_indices_])
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    assert model.score(X, y) == reference.score(X, y)


def test_grid_search_over_keep_with_skorch_after_scaler(small_digits):
    """The composition from the issue: scaler (float64 out) + skorch nets."""
    X, y = small_digits
    model = make_pipeline(StandardScaler(), PrunedClassifier(
        UnseenPruner(tiny_net(max_epochs=2), cv=3, random_state=0), tiny_net(max_epochs=5)))
    search = GridSearchCV(model, {"prunedclassifier__pruner__keep": [0.3, 0.5, 0.7]}, cv=2)
    search.fit(X.astype(np.float64), y)
    assert search.best_params_["prunedclassifier__pruner__keep"] in (0.3, 0.5, 0.7)
    assert len(search.cv_results_["mean_test_score"]) == 3
    best = search.best_estimator_[-1]
    assert len(best.sample_indices_) == round(best.pruner.keep * len(X))


def test_string_labels_through_a_net(small_digits):
    X, y = small_digits
    names = np.array(list("abcdefghij"), dtype=object)[y]
    model = PrunedClassifier(UnseenPruner(lr(), cv=3, random_state=0),
                             tiny_net(max_epochs=10)).fit(X, names)
    predicted = model.predict(X)
    assert set(predicted) <= set(names)
    assert (predicted == names).mean() > 0.5
    np.testing.assert_array_equal(model.classes_, np.array(list("abcdefghij"), dtype=object))


def test_coreset_missing_a_class_keeps_probability_columns(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), keep=5, cv=3, class_budget=None, selector="hard", random_state=0)
    model = PrunedClassifier(pruner, lr()).fit(X, y)
    assert model.predict_proba(X).shape == (300, 10)


def test_sampler_in_imblearn_pipeline_under_grid_search(small_digits):
    X, y = small_digits
    pipe = make_imblearn_pipeline(
        StandardScaler(), PruningSampler(UnseenPruner(lr(), cv=3, random_state=0)), lr())
    search = GridSearchCV(pipe, {"pruningsampler__pruner__keep": [0.2, 0.6]}, cv=2).fit(X, y)
    assert set(search.cv_results_["param_pruningsampler__pruner__keep"]) == {0.2, 0.6}
    fitted = search.best_estimator_
    kept = len(fitted.named_steps["pruningsampler"].sample_indices_)
    assert kept == round(search.best_params_["pruningsampler__pruner__keep"] * len(X))
    # Predicting does not prune: every row gets a prediction.
    assert len(fitted.predict(X)) == len(X)


def test_sampler_has_no_transform():
    assert not hasattr(PruningSampler(UnseenPruner()), "transform")
    with pytest.raises(ValueError, match="'pruner' parameter"):
        PruningSampler(pruner=torch.nn.Linear(2, 2)).fit_resample(np.zeros((4, 2)), [0, 1, 0, 1])
