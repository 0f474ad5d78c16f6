import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from helpers import tiny_net
from skunseen import (
    FittingPruner,
    MultiStepUnseenPruner,
    PrunedClassifier,
    PruningSampler,
    UnseenPruner,
)


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
    """A scaler (float64 out) before skorch nets, under grid search over keep."""
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
    # imbalanced-learn is an optional extra (".[imblearn]"): without it only this test skips
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y = small_digits
    pipe = imblearn_pipeline.make_pipeline(
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


# ------------------------------------------------------------------ set_output
@pytest.mark.parametrize("pruner", [
    UnseenPruner(lr(), cv=3, random_state=0),
    FittingPruner(lr(), random_state=0),
    MultiStepUnseenPruner(lr(), cv=3, n_steps=2, random_state=0),
])
def test_pandas_output_on_every_pruner_and_a_pipeline(small_digits, pruner):
    X, y = small_digits
    alone = clone(pruner).set_output(transform="pandas")
    X_core = alone.fit_transform(X, y)
    assert isinstance(X_core, pd.DataFrame) and list(X_core.columns) == [f"x{i}" for i in
                                                                          range(64)]
    np.testing.assert_array_equal(X_core.to_numpy(), X[alone.sample_indices_])
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)], index=np.arange(300) * 7)
    pipe = make_pipeline(StandardScaler(), clone(pruner)).set_output(transform="pandas")
    out = pipe.fit_transform(frame, y)
    assert list(out.columns) == list(frame.columns)
    np.testing.assert_array_equal(out.index, frame.index[pipe[-1].sample_indices_])


# ------------------------------------------------------- fit parameters / routing
def test_fit_parameters_without_routing_are_refused_alike(small_digits):
    X, y = small_digits
    weights = np.where(y == 2, 100.0, 1.0)
    pruner = UnseenPruner(lr(), cv=3, random_state=0)
    for call in (lambda: pruner.fit(X, y, sample_weight=weights),
                 lambda: pruner.fit_transform(X, y, sample_weight=weights),
                 lambda: pruner.fit_resample(X, y, sample_weight=weights),
                 lambda: make_pipeline(StandardScaler(), clone(pruner)).fit_transform(
                     X, y, unseenpruner__sample_weight=weights),
                 lambda: PrunedClassifier(pruner, lr()).fit(X, y, sample_weight=weights)):
        with pytest.raises(TypeError, match=r"\['sample_weight'\].*metadata routing.*"
                                            r"set_fit_request\(sample_weight=True\)"):
            call()
    assert not hasattr(pruner, "sample_indices_")


def held_out_probabilities(X, y, weights, splits):
    """What out-of-fold probabilities are with weighted fold models, by hand."""
    proba = np.zeros((len(y), 10))
    for train, test in splits:
        model = lr().fit(X[train], y[train], sample_weight=weights[train])
        proba[test] = model.predict_proba(X[test])
    return proba


def test_sample_weight_is_routed_to_every_fold_model(small_digits):
    X, y = small_digits
    weights = np.random.RandomState(0).uniform(0.1, 5, len(y))
    splits = [(np.setdiff1d(np.arange(300), t), t) for t in (np.arange(k, 300, 3)
                                                               for k in range(3))]
    with sklearn.config_context(enable_metadata_routing=True):
        weighted = lr().set_fit_request(sample_weight=True)
        pruner = UnseenPruner(weighted, cv=splits, random_state=0)
        pruner.fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(pruner.oof_proba_,
                                   held_out_probabilities(X, y, weights, splits))
        # fit_transform, fit_resample and a Pipeline give the same coreset.
        assert np.array_equal(clone(pruner).fit_transform(X, y, sample_weight=weights),
                              X[pruner.sample_indices_])
        assert np.array_equal(clone(pruner).fit_resample(X, y, sample_weight=weights)[1],
                              y[pruner.sample_indices_])
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             clone(pruner))
        pipe.fit_transform(X, y, sample_weight=weights)
        expected = clone(pruner).fit(StandardScaler().fit_transform(X), y, sample_weight=weights)
        np.testing.assert_array_equal(pipe[-1].sample_indices_, expected.sample_indices_)
        # An estimator that did not request it gets an error, not a silent drop.
        with pytest.raises(ValueError, match="sample_weight"):
            UnseenPruner(lr(), cv=3).fit(X, y, sample_weight=weights)


def test_pruned_classifier_routes_sample_weight_to_both(small_digits):
    X, y = small_digits
    weights = np.random.RandomState(1).uniform(0.1, 5, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        pruner = UnseenPruner(lr().set_fit_request(sample_weight=True), cv=3, random_state=0)
        model = PrunedClassifier(pruner, lr().set_fit_request(sample_weight=True))
        model.fit(X, y, sample_weight=weights)
        alone = clone(pruner).fit(X, y, sample_weight=weights)
    core = alone.sample_indices_
    np.testing.assert_array_equal(model.sample_indices_, core)
    reference = lr().fit(X[core], y[core], sample_weight=weights[core])
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X))


def test_groups_reach_the_pruner_through_a_pipeline_and_pruned_classifier(small_digits):
    X, y = small_digits
    groups = np.arange(len(y)) // 5
    pruner = UnseenPruner(lr(), cv=GroupKFold(3), random_state=0)
    pipe = make_pipeline(StandardScaler(), pruner)
    pipe.fit_transform(X, y, unseenpruner__groups=groups)
    model = PrunedClassifier(pruner, lr()).fit(X, y, groups=groups)
    for fold_ids in (pipe[-1].fold_ids_[0], model.pruner_.fold_ids_[0]):
        assert all(len(set(fold_ids[groups == g])) == 1 for g in np.unique(groups))


def test_sample_weight_enters_the_store_key(small_digits, tmp_path):
    X, y = small_digits
    with sklearn.config_context(enable_metadata_routing=True):
        def fit(weights):
            return UnseenPruner(lr().set_fit_request(sample_weight=True), cv=3,
                                random_state=0, memory=tmp_path).fit(
                X, y, sample_weight=weights)
        fit(np.ones(len(y)))
        assert fit(np.ones(len(y))).n_tasks_resumed_ == 3
        assert fit(np.where(y == 2, 100.0, 1.0)).n_tasks_resumed_ == 0


# -------------------------------------------- PrunedClassifier's inner methods
def test_pruned_classifier_predicts_with_the_inner_predict(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), keep=0.5, cv=3, random_state=0)
    model = PrunedClassifier(pruner, LinearSVC())
    assert not hasattr(model, "predict_proba") and hasattr(model, "decision_function")
    model.fit(X, y)
    core = model.sample_indices_
    reference = LinearSVC().fit(X[core], y[core])
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    np.testing.assert_allclose(model.decision_function(X), reference.decision_function(X))
    scores = cross_val_score(PrunedClassifier(pruner, LinearSVC()), X, y, cv=3)
    assert np.isfinite(scores).all() and scores.min() > 0.5
    assert hasattr(PrunedClassifier(pruner), "predict_proba")  # the default net has it
    assert not hasattr(PrunedClassifier(pruner), "decision_function")


def test_decision_function_marks_classes_the_coreset_lacks(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(lr(), keep=5, cv=3, class_budget=None, selector="hard",
                          random_state=0)
    model = PrunedClassifier(pruner, LinearSVC()).fit(X, y)
    present = np.unique(y[model.sample_indices_])
    scores = model.decision_function(X)
    assert scores.shape == (300, 10)
    assert np.isneginf(np.delete(scores, present, axis=1)).all()
    assert np.isin(model.predict(X), present).all()


def test_binary_net_in_pruned_classifier(small_digits):
    from skorch import NeuralNetBinaryClassifier

    X, y = small_digits
    rows = np.flatnonzero(y < 2)
    labels = np.where(y[rows] == 1, "one", "zero")

    class Logit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(64, 1)

        def forward(self, X):
            return self.linear(X).squeeze(-1)

    net = NeuralNetBinaryClassifier(Logit, max_epochs=20, lr=0.1, train_split=None, verbose=0)
    model = PrunedClassifier(UnseenPruner(lr(), keep=0.5, cv=3, random_state=0), net)
    model.fit(X[rows], labels)
    assert model.predict_proba(X[rows]).shape == (60, 2)
    assert (model.predict(X[rows]) == labels).mean() > 0.9


# -------------------------------------------------------- pruner mid-Pipeline
def test_a_pruner_mid_pipeline_points_to_the_compositions(small_digits):
    X, y = small_digits
    for pipe in (make_pipeline(UnseenPruner(lr(), cv=3), lr()),
                 make_pipeline(StandardScaler(), UnseenPruner(lr(), cv=3), lr()).set_output(
                     transform="pandas")):
        with pytest.raises(ValueError, match=r"intermediate step of a Pipeline.*"
                                             r"PrunedClassifier\(pruner, estimator\).*"
                                             r"PruningSampler\(pruner\)"):
            pipe.fit(X, y)
