"""The out-of-fold engine as functions: cross_val_records, unseen_scores, fitting_scores."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from helpers import TRAINING_LOG, RowTrackingClassifier, tiny_net, with_row_ids
from skunseen import (
    FittingPruner,
    HeldOutRecords,
    MultiStepUnseenPruner,
    UnseenPruner,
    cross_val_records,
    fitting_scores,
    unseen_scores,
)
from skunseen.scores import el2n


def _logreg():
    return LogisticRegression(max_iter=300)


def test_cross_val_records_hold_out_every_row_once_per_repeat(small_digits):
    X, y = small_digits
    TRAINING_LOG.clear()
    held = cross_val_records(RowTrackingClassifier(), with_row_ids(X), y, cv=3, n_repeats=2,
                             random_state=0)
    assert isinstance(held, HeldOutRecords)
    assert held.proba.shape == (len(X), 10)
    np.testing.assert_array_equal(held.rows, np.arange(len(X)))
    assert held.fold_ids.shape == (2, len(X))
    for repeat in range(2):
        assert sorted(np.unique(held.fold_ids[repeat])) == [0, 1, 2]
    assert len(TRAINING_LOG) == 6
    for train_rows, scored_rows in TRAINING_LOG:
        assert not train_rows & scored_rows


def test_user_side_scoring_of_the_records_equals_the_pruner(small_digits):
    # cleanlab's way: records from a function, the score from an array function.
    X, y = small_digits
    held = cross_val_records(_logreg(), X, y, cv=4, random_state=3)
    pruner = UnseenPruner(_logreg(), cv=4, random_state=3).fit(X, y)
    np.testing.assert_allclose(el2n(held.proba, held.y), pruner.scores_, rtol=0, atol=1e-12)


@pytest.mark.parametrize("scorer", ["el2n", "margin"])
def test_unseen_scores_equal_the_pruner_scores(small_digits, scorer):
    X, y = small_digits
    scores = unseen_scores(_logreg(), X, y, scorer=scorer, cv=4, n_repeats=2, random_state=1)
    pruner = UnseenPruner(_logreg(), scorer=scorer, cv=4, n_repeats=2, random_state=1).fit(X, y)
    np.testing.assert_array_equal(scores, pruner.scores_)


def test_unseen_scores_with_a_net_and_a_dynamics_scorer_equal_the_pruner(small_digits):
    X, y = small_digits
    kwargs = dict(scorer="forgetting", cv=3, random_state=0)
    scores = unseen_scores(tiny_net(max_epochs=3), X, y, **kwargs)
    pruner = UnseenPruner(tiny_net(max_epochs=3), **kwargs).fit(X, y)
    np.testing.assert_array_equal(scores, pruner.scores_)


def test_fitting_scores_equal_the_fitting_pruner(small_digits):
    X, y = small_digits
    scores = fitting_scores(_logreg(), X, y, random_state=0)
    pruner = FittingPruner(_logreg(), random_state=0).fit(X, y)
    np.testing.assert_array_equal(scores, pruner.scores_)
    assert scores.shape == (len(X),)


def test_the_first_multistep_round_is_cross_val_records(small_digits):
    X, y = small_digits
    held = cross_val_records(_logreg(), X, y, cv=3, random_state=0)
    pruner = MultiStepUnseenPruner(_logreg(), keep=0.5, n_steps=1, cv=3,
                                   random_state=0).fit(X, y)
    np.testing.assert_array_equal(el2n(held.proba, held.y), pruner.scores_)


@pytest.mark.parametrize("kwargs, name", [
    (dict(cv=1), "cv"),
    (dict(n_repeats=0), "n_repeats"),
    (dict(record="nonsense"), "record"),
    (dict(fold_batching="yes"), "fold_batching"),
])
def test_cross_val_records_names_the_bad_parameter_before_training(small_digits, kwargs, name):
    X, y = small_digits
    TRAINING_LOG.clear()
    with pytest.raises(ValueError, match=name):
        cross_val_records(RowTrackingClassifier(), with_row_ids(X), y, **kwargs)
    assert TRAINING_LOG == []


def test_unseen_scores_rejects_an_unknown_scorer(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="scorer"):
        unseen_scores(_logreg(), X, y, scorer="no-such-scorer")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_repeats=True), ValueError, "n_repeats"),
    (dict(n_jobs=0), ValueError, "n_jobs"),
    (dict(n_jobs=True), ValueError, "n_jobs"),
    (dict(groups=np.zeros((300, 2))), ValueError, "groups"),
    (dict(params={"sample_weight": np.ones(299)}), ValueError, "sample_weight"),
    (dict(params={"sample_weight": np.full(300, np.nan)}), ValueError, "sample_weight"),
    (dict(params={"sample_weight": -np.ones(300)}), ValueError, "sample_weight"),
])
def test_values_the_constraints_let_through_are_refused_before_training(
        small_digits, kwargs, error, match):
    X, y = small_digits
    TRAINING_LOG.clear()
    with pytest.raises(error, match=match):
        cross_val_records(RowTrackingClassifier(), with_row_ids(X), y, cv=3, **kwargs)
    assert TRAINING_LOG == []


def test_an_estimator_class_instead_of_an_instance_is_refused(small_digits):
    X, y = small_digits
    with pytest.raises(TypeError, match=r"LogisticRegression\(\)"):
        unseen_scores(LogisticRegression, X, y)
    with pytest.raises(TypeError, match=r"LogisticRegression\(\)"):
        UnseenPruner(LogisticRegression).fit(X, y)


def test_fit_parameters_a_net_cannot_take_are_refused_before_training(small_digits):
    X, y = small_digits
    net = tiny_net(max_epochs=1)
    with pytest.raises(ValueError, match=r"sample_weight.*forward"):
        cross_val_records(net, X.astype("float32"), y, cv=3,
                          params={"sample_weight": np.ones(len(X))})


@pytest.mark.parametrize("pruner", [UnseenPruner, FittingPruner, MultiStepUnseenPruner])
def test_pruners_refuse_bool_counts(small_digits, pruner):
    X, y = small_digits
    with pytest.raises(ValueError, match="n_repeats"):
        pruner(_logreg(), n_repeats=True).fit(X, y)


def test_fold_batching_true_refuses_what_it_cannot_batch_whatever_the_round(small_digits,
                                                                             tmp_path):
    X, y = small_digits
    X = X.astype("float32")
    with pytest.raises(ValueError, match="fold_batching=True.*not a skorch net"):
        cross_val_records(_logreg(), X, y, cv=3, fold_batching=True)
    with pytest.raises(ValueError, match="fold_batching=True"):   # one model per round
        FittingPruner(tiny_net(max_epochs=1), random_state=0, fold_batching=True).fit(X, y)
    cross_val_records(tiny_net(max_epochs=1), X, y, cv=3, random_state=0, fold_batching=False,
                      memory=tmp_path)
    with pytest.raises(ValueError, match="fold_batching=True"):   # all its models stored
        cross_val_records(tiny_net(max_epochs=1), X, y, cv=3, random_state=0,
                          fold_batching=True, memory=tmp_path)


@pytest.mark.parametrize("net_params, match", [
    (dict(module__n_classes=5), "needs 10 per row"),   # too few outputs
    (dict(module__n_classes=12), "outputs 12 value"),     # too many
    (dict(module__n_features=32), "cannot take rows"),  # wrong input size
])
def test_a_net_of_the_wrong_shape_is_refused_before_training(small_digits, net_params, match):
    X, y = small_digits
    net = tiny_net(max_epochs=1)
    net.set_params(**net_params)
    with pytest.raises(ValueError, match=match):
        UnseenPruner(net, cv=3, random_state=0).fit(X.astype("float32"), y)


def test_numpy_bools_for_fold_batching_mean_what_python_bools_mean(small_digits):
    from skunseen.models import make_net

    X, y = small_digits
    X = X.astype("float32")
    net = make_net("mlp", input_shape=(64,), n_classes=10, device="cpu", max_epochs=1)
    held = cross_val_records(net, X, y, cv=3, random_state=0, fold_batching=np.False_)
    assert not any(info["batched"] for info in held.task_info)
    with pytest.raises(ValueError, match="fold_batching=True"):
        cross_val_records(_logreg(), X, y, cv=3, fold_batching=np.True_)


def test_prefixed_sample_weight_of_a_pipeline_is_checked_before_training(small_digits):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = small_digits
    model = make_pipeline(StandardScaler(), _logreg())
    with pytest.raises(ValueError, match="logisticregression__sample_weight"):
        cross_val_records(model, X, y, cv=3,
                          params={"logisticregression__sample_weight": np.ones(299)})


def test_a_skorch_net_inside_a_pipeline_is_seeded(small_digits):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = small_digits

    def scores():
        model = make_pipeline(FunctionTransformer(np.float32), tiny_net(max_epochs=2))
        return unseen_scores(model, X, y, cv=3, random_state=0)

    np.testing.assert_array_equal(scores(), scores())


def test_random_state_true_is_refused(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="random_state"):
        unseen_scores(_logreg(), X, y, random_state=True)
    with pytest.raises(ValueError, match="random_state"):
        UnseenPruner(_logreg(), random_state=True).fit(X, y)


def test_a_dataset_of_array_rows_is_shape_checked_too(small_digits):
    import torch
    from torch.utils.data import TensorDataset

    X, y = small_digits
    data = TensorDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    net = tiny_net(max_epochs=1, n_classes=3)
    with pytest.raises(ValueError, match="needs 10 per row"):
        cross_val_records(net, data, cv=3, random_state=0)
