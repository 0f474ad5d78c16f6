"""Every registered scorer, and the selectors that read more than scores,
through the pruners on digits."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from helpers import tiny_net
from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner
from skunseen.scores import available_scorers, register_scorer
from skunseen.selection import d2, register_selector

# Collected at import, before any test registers its own scorer.
REGISTERED = available_scorers()


def pruner(**params):
    defaults = {"estimator": tiny_net(max_epochs=2), "cv": 2, "keep": 0.3, "random_state": 0}
    return UnseenPruner(**{**defaults, **params})


@pytest.mark.parametrize("scorer", REGISTERED)
def test_every_registered_scorer_runs_through_unseen(small_digits, scorer):
    X, y = small_digits
    # TDDS is a spread of per-epoch prediction changes: two epochs give one
    # change and a constant score, so it gets a third.
    net = tiny_net(max_epochs=3 if scorer == "tdds" else 2)
    fitted = pruner(estimator=net, scorer=scorer).fit(X, y)
    assert fitted.scores_.shape == (300,) and np.all(np.isfinite(fitted.scores_))
    assert len(fitted.sample_indices_) == 90
    assert np.ptp(fitted.scores_) > 0  # the scores rank something


def test_moderate_is_scored_per_scoring_model(small_digits):
    """Normalised distances have median 1 within every (fold model, class):
    each held-out fold is scored in its own model's embedding space."""
    X, y = small_digits
    fitted = pruner(scorer="moderate", cv=3).fit(X, y)
    for fold in range(3):
        for label in range(10):
            rows = (fitted.fold_ids_[0] == fold) & (y == label)
            assert np.median(fitted.scores_[rows]) == pytest.approx(1.0)


def test_grand_parameters_reach_the_recorder(small_digits):
    X, y = small_digits
    full = pruner(scorer="grand").fit(X, y).scores_
    head = pruner(scorer="grand", scorer_params={"last_layer": True}).fit(X, y).scores_
    early = pruner(scorer="grand", scorer_params={"epochs": 0}).fit(X, y).scores_
    assert np.all(full > head)  # same models: the full gradient contains the head's
    assert not np.allclose(full, early)
    with pytest.raises(TypeError, match="unexpected parameter"):
        pruner(scorer="grand", scorer_params={"layer": 1}).fit(X, y)


def test_d2_gets_each_fold_models_embeddings(small_digits):
    X, y = small_digits
    calls = []

    def spy(scores, n_select, rng, features, groups):
        calls.append((features, groups))
        return d2(scores, n_select, rng, features, groups)

    spy.needs = ("features", "groups")
    register_selector("d2_spy", spy)
    fitted = pruner(scorer="el2n", selector="d2_spy", cv=3).fit(X, y)
    assert len(fitted.sample_indices_) == 90 and len(calls) == 10
    for label, (features, groups) in enumerate(calls):
        assert features.shape == (30, 32)  # TinyMLP's hidden width
        np.testing.assert_array_equal(groups, fitted.fold_ids_[0][y == label])


@pytest.mark.parametrize("selector, scorer", [("d2", "el2n"), ("dual", "dual")])
def test_selectors_with_inputs_through_every_pruner(small_digits, selector, scorer):
    X, y = small_digits
    net = tiny_net(max_epochs=2)
    for fitted in (
        pruner(scorer=scorer, selector=selector).fit(X, y),
        FittingPruner(net, scorer=scorer, selector=selector, keep=0.3,
                      random_state=0).fit(X, y),
        MultiStepUnseenPruner(net, scorer=scorer, selector=selector, keep=0.3, cv=2,
                              n_steps=2, replace=0.2, random_state=0).fit(X, y),
    ):
        assert len(fitted.sample_indices_) == 90
        assert np.bincount(y[fitted.sample_indices_]).tolist() == [9] * 10


def test_custom_scorer_with_extras_end_to_end(small_digits):
    X, y = small_digits

    def embedding_norm(records, power=1.0):
        return np.linalg.norm(records.extra("embedding"), axis=1) ** power

    register_scorer("embedding_norm", embedding_norm, extras=("embedding",))
    fitted = pruner(scorer="embedding_norm", selector="hard",
                    scorer_params={"power": 2.0}).fit(X, y)
    assert np.all(fitted.scores_ > 0)
    again = clone(fitted).set_params(scorer_params={"power": 1.0}).fit(X, y)
    np.testing.assert_allclose(again.scores_ ** 2, fitted.scores_, rtol=1e-5)


def test_custom_final_output_scorer_end_to_end(small_digits):
    X, y = small_digits

    def wrong(records):
        return (records.proba.argmax(axis=1) != records.y).astype(float)

    register_scorer("wrong", wrong)
    fitted = pruner(scorer="wrong", selector="hard").fit(X, y)
    np.testing.assert_array_equal(fitted.scores_, fitted.oof_proba_.argmax(1) != y)


@pytest.mark.parametrize("params", [{"scorer": "grand"}, {"scorer": "moderate"},
                                    {"selector": "d2"}])
def test_plain_classifier_is_refused_before_training(small_digits, params):
    X, y = small_digits
    with pytest.raises(ValueError, match="skorch NeuralNetClassifier"):
        UnseenPruner(LogisticRegression(), cv=2, **params).fit(X, y)


def test_checkpoints_do_not_serve_records_without_the_extras(small_digits, tmp_path):
    X, y = small_digits
    plain = pruner(scorer="el2n", memory=tmp_path).fit(X, y)
    moderate = pruner(scorer="moderate", memory=tmp_path).fit(X, y)
    assert plain.n_tasks_resumed_ == 0 and moderate.n_tasks_resumed_ == 0
    again = pruner(scorer="moderate", memory=tmp_path).fit(X, y)
    assert again.n_tasks_resumed_ == 2
    np.testing.assert_array_equal(again.scores_, moderate.scores_)
