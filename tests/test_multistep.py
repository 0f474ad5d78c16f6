"""MultiStepUnseenPruner: evaluate-and-refill selection, never scored by a model that saw it."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from helpers import TRAINING_LOG, RowTrackingClassifier, tiny_net, with_row_ids
from skunseen import MultiStepUnseenPruner, PrunedClassifier, UnseenPruner
from skunseen.pruners._multistep import step_sizes

# Tiny training sets make LogisticRegression stop early; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def lr():
    return LogisticRegression(max_iter=200)


def pruner(**params):
    params = {"cv": 3, "random_state": 0, **params}
    return MultiStepUnseenPruner(params.pop("estimator", lr()), **params)


def coreset_after_each_step(steps):
    """The coreset after every step, rebuilt from the step records."""
    members, after = set(), []
    for step in steps:
        members = (members - set(step["dropped"].tolist())) | set(step["added"].tolist())
        after.append(members)
    return after


def row_id_scorer(records):
    """Importance = row id: makes every selection predictable."""
    return records.indices.astype(float)


# ------------------------------------------------------------------ sizes, rows
@pytest.mark.parametrize("keep, expected", [(0.37, 111), (47, 47)])
def test_final_size_is_exact_and_indices_are_caller_rows(small_digits, keep, expected):
    X, y = small_digits
    est = pruner(keep=keep, n_steps=3)
    X_core = est.fit_transform(with_row_ids(X), y)
    rows = est.sample_indices_
    assert len(rows) == expected == len(X_core)
    assert len(np.unique(rows)) == len(rows) and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(X_core[:, 0].astype(int), rows)
    sizes = [step["size"] for step in est.steps_]
    assert len(sizes) == 3 and np.all(np.diff(sizes) > 0) and sizes[-1] == expected
    assert coreset_after_each_step(est.steps_)[-1] == set(rows.tolist())
    np.testing.assert_array_equal(est.step_added_ >= 1, est.get_support())
    assert set(est.step_added_[rows].tolist()) == {1, 2, 3}
    assert est.scores_.shape == (len(X),) and np.isfinite(est.scores_).all()
    assert len(est.task_info_) == 3 + 2 and est.task_info_[-1]["task"] == "step 3, model 0"


def test_fit_resample_returns_dataframe_rows(small_digits):
    X, y = small_digits
    index = np.arange(len(X))[::-1] * 10
    df = pd.DataFrame(X, index=index, columns=[f"p{i}" for i in range(64)])
    est = pruner(keep=60, n_steps=2)
    X_core, y_core = est.fit_resample(df, pd.Series(y, index=index))
    np.testing.assert_array_equal(X_core.index, index[est.sample_indices_])
    np.testing.assert_array_equal(y_core.to_numpy(), y[est.sample_indices_])


# ------------------------------------------------------------ unseen guarantee
@pytest.mark.parametrize("init", ["unseen", "random"])
def test_no_score_ever_comes_from_a_model_that_saw_the_sample(small_digits, init):
    X, y = small_digits
    n = len(X)
    TRAINING_LOG.clear()
    est = pruner(estimator=RowTrackingClassifier(), keep=150, n_steps=3, replace=0.3,
                 n_repeats=2, init=init).fit(with_row_ids(X), y)
    log = list(TRAINING_LOG)
    for train_rows, scored_rows in log:
        assert train_rows and scored_rows and not train_rows & scored_rows

    after = coreset_after_each_step(est.steps_)
    everything = set(range(n))
    if init == "unseen":  # step 1: 3 folds x 2 repeats over all samples
        for train_rows, scored_rows in log[:6]:
            assert train_rows | scored_rows == everything
        log = log[6:]
    for t in (1, 2):
        before, dropped = after[t - 1], set(est.steps_[t]["dropped"].tolist())
        assert len(dropped) == round(0.3 * len(before))
        # replacement: out-of-fold within the coreset, each member held out once per repeat
        within, log = log[:6], log[6:]
        for train_rows, scored_rows in within:
            assert train_rows | scored_rows == before
        assert sorted(r for _, rows in within for r in rows) == sorted(list(before) * 2)
        # refill: models trained on the reduced coreset score exactly the rest
        refill, log = log[:2], log[2:]
        for train_rows, scored_rows in refill:
            assert train_rows == before - dropped
            assert scored_rows == everything - train_rows
    assert log == []
    assert est.steps_[1]["n_models"] == est.steps_[2]["n_models"] == 8


# ------------------------------------------------------------------ schedules
def test_step_sizes():
    assert step_sizes(120, 3) == [40, 80, 120]
    assert step_sizes(120, 3, "geometric") == [30, 60, 120]
    assert step_sizes(120, 4, "geometric") == [15, 30, 60, 120]
    assert step_sizes(120, schedule=[0.1, 0.5, 1.0]) == [12, 60, 120]
    assert step_sizes(120, schedule=(1.0,)) == [120]
    assert step_sizes(20, 5, n_classes=10) == [10, 12, 16, 20]
    assert step_sizes(3, 4, n_classes=10) == [3]
    assert step_sizes(120, 1) == [120]


@pytest.mark.parametrize("schedule, n_steps, expected", [
    ("linear", 3, [40, 80, 120]),
    ("geometric", 3, [30, 60, 120]),
    ([0.1, 0.5, 1.0], 7, [12, 60, 120]),
])
def test_schedule_variants(small_digits, schedule, n_steps, expected):
    X, y = small_digits
    est = pruner(keep=120, n_steps=n_steps, schedule=schedule, init="random").fit(X, y)
    assert [step["size"] for step in est.steps_] == expected
    assert [len(step["added"]) for step in est.steps_] == np.diff([0, *expected]).tolist()


@pytest.mark.parametrize("params, match", [
    ({"schedule": [0.5, 0.3, 1.0]}, "strictly increasing"),
    ({"schedule": [0.2, 0.8]}, "end at 1.0"),
    ({"schedule": [0.0, 1.0]}, r"\(0, 1\]"),
    ({"schedule": [[0.5, 1.0]]}, "schedule"),
    ({"schedule": "cubic"}, "schedule"),
    ({"n_steps": 0}, "n_steps"),
    ({"replace": 1.0}, "replace"),
    ({"init": "kmeans"}, "init"),
    ({"warm_start": "yes"}, "warm_start"),
])
def test_bad_parameters_name_themselves(small_digits, params, match):
    X, y = small_digits
    TRAINING_LOG.clear()
    with pytest.raises(ValueError, match=match):
        pruner(estimator=RowTrackingClassifier(), **params).fit(with_row_ids(X), y)
    assert TRAINING_LOG == []  # refused before any model trained


def test_replace_needs_splittable_cv(small_digits):
    X, y = small_digits
    splits = list(StratifiedKFold(3).split(X, y))
    with pytest.raises(ValueError, match="cv"):
        pruner(cv=splits, keep=60, n_steps=2, replace=0.2).fit(X, y)
    # a splitter object is applied to the coreset rows
    est = pruner(cv=KFold(3, shuffle=True, random_state=0), keep=60, n_steps=2,
                 replace=0.2).fit(X, y)
    assert len(est.steps_[1]["dropped"]) == 6 and len(est.sample_indices_) == 60


# --------------------------------------------------------------------- replace
def test_replace_drops_members_and_refills_from_the_pool(small_digits):
    X, y = small_digits
    est = pruner(keep=150, n_steps=3, replace=0.25, selector="hard").fit(X, y)
    after = coreset_after_each_step(est.steps_)
    final = set(est.sample_indices_.tolist())
    assert len(final) == 150
    assert est.steps_[0]["dropped"].size == 0
    for t in (1, 2):
        step, before = est.steps_[t], after[t - 1]
        dropped, added = set(step["dropped"].tolist()), set(step["added"].tolist())
        assert len(dropped) == round(0.25 * len(before)) and dropped <= before
        assert len(added) == step["size"] - est.steps_[t - 1]["size"] + len(dropped)
        assert not added & (before - dropped)
        assert 0 < step["coreset_accuracy"] <= 1
    swapped_out = set(est.steps_[1]["dropped"].tolist()) - final
    assert swapped_out, "replace must actually remove some members from the coreset"
    assert np.all(est.step_added_[list(swapped_out)] == -1)
    np.testing.assert_array_equal(est.step_added_ >= 1, est.get_support())


@pytest.mark.parametrize("selector, dropped, added", [
    # hard keeps the highest ids: drops S's lowest ids, then refills from the top of the pool
    ("hard", range(240, 255), range(180, 255)),
    # easy keeps the lowest ids: drops S's highest ids
    ("easy", range(45, 60), range(45, 120)),
])
def test_replace_drops_what_the_selector_would_keep_last(small_digits, selector, dropped,
                                                         added):
    X, y = small_digits
    est = pruner(keep=120, n_steps=2, replace=0.25, selector=selector, class_budget=None,
                 scorer=row_id_scorer).fit(X, y)
    assert est.steps_[1]["dropped"].tolist() == list(dropped)
    assert est.steps_[1]["added"].tolist() == list(added)


# ---------------------------------------------------------------- warm start
def test_warm_start_continues_from_the_fitted_coreset(small_digits):
    X, y = small_digits
    est = pruner(keep=0.25, n_steps=2, warm_start=True).fit(X, y)
    old_rows, old_steps = est.sample_indices_.copy(), [dict(s) for s in est.steps_]
    old_added, n_tasks = est.step_added_.copy(), len(est.task_info_)
    assert len(old_steps) == 2

    est.set_params(keep=0.5, n_steps=4).fit(X, y)
    assert set(old_rows) <= set(est.sample_indices_) and len(est.sample_indices_) == 150
    assert len(est.steps_) == 4
    assert [s["size"] for s in est.steps_] == step_sizes(150, 4, n_classes=10)
    for old, new in zip(old_steps, est.steps_[:2]):
        np.testing.assert_array_equal(old["added"], new["added"])
    np.testing.assert_array_equal(est.step_added_[old_rows], old_added[old_rows])
    assert len(est.task_info_) == n_tasks + 2  # one refill model per new step

    with pytest.warns(UserWarning, match="nothing was added"):
        est.fit(X, y)
    assert len(est.steps_) == 4 and len(est.sample_indices_) == 150
    with pytest.raises(ValueError, match="never shrinks"):
        est.set_params(keep=0.3).fit(X, y)


def test_warm_start_on_other_data_or_off_starts_over(small_digits):
    X, y = small_digits
    est = pruner(keep=0.25, n_steps=2, warm_start=True).fit(X, y)
    est.set_params(keep=0.5, n_steps=3).fit(X[::-1], y[::-1])  # other rows: start over
    assert len(est.steps_) == 3 and est.steps_[0]["n_models"] == 3
    est.set_params(keep=0.6, n_steps=3, warm_start=False).fit(X[::-1], y[::-1])
    assert len(est.steps_) == 3 and len(est.sample_indices_) == 180


# ----------------------------------------------------------- difficulty budgets
def test_difficulty_budgets_favour_the_classes_the_models_get_wrong():
    rng = np.random.RandomState(0)
    centers = np.array([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0], [0.0, 10.0]])
    y = np.repeat(np.arange(4), 50)
    X = centers[y] + rng.randn(200, 2)  # classes 2 and 3 are indistinguishable
    counts = {}
    for budget in ("difficulty", "proportional"):
        est = pruner(keep=80, n_steps=3, class_budget=budget, selector="random").fit(X, y)
        counts[budget] = np.bincount(y[est.sample_indices_], minlength=4)
        refilled = np.concatenate([s["added"] for s in est.steps_[1:]])
        counts[budget + " refill"] = np.bincount(y[refilled], minlength=4)
        assert est.steps_[1]["pool_accuracy"] < 0.9
    assert counts["proportional"].tolist() == [20, 20, 20, 20]
    hard, easy = counts["difficulty"][2:], counts["difficulty"][:2]
    assert hard.min() >= 3 * easy.max() and easy.min() >= 1
    refill = counts["difficulty refill"]
    assert refill[2:].min() > 3 * refill[:2].max()


# -------------------------------------------------------- determinism, reuse
def test_same_random_state_same_coreset(small_digits):
    X, y = small_digits
    a = pruner(keep=100, n_steps=3, replace=0.2, random_state=3).fit(X, y)
    b = pruner(keep=100, n_steps=3, replace=0.2, random_state=3).fit(X, y)
    c = pruner(keep=100, n_steps=3, replace=0.2, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    assert [s["added"].tolist() for s in a.steps_] == [s["added"].tolist() for s in b.steps_]
    assert not np.array_equal(a.sample_indices_, c.sample_indices_)


@pytest.mark.parametrize("class_budget", ["proportional", "balanced", "difficulty", None])
def test_one_step_is_single_step_unseen(small_digits, class_budget):
    X, y = small_digits
    y = y.copy()
    y[np.flatnonzero(y == 3)[:20]] = 5  # unequal classes and errors: budgets differ by mode
    multi = pruner(keep=0.3, n_steps=1, class_budget=class_budget).fit(X, y)
    single = UnseenPruner(lr(), keep=0.3, cv=3, class_budget=class_budget,
                          random_state=0).fit(X, y)
    np.testing.assert_array_equal(multi.sample_indices_, single.sample_indices_)
    np.testing.assert_array_equal(multi.scores_, single.scores_)
    np.testing.assert_array_equal(multi.fold_ids_, single.fold_ids_)


def test_random_init_leaves_unscored_first_members_nan(small_digits):
    X, y = small_digits
    est = pruner(keep=90, n_steps=3, init="random").fit(X, y)
    first = est.steps_[0]
    assert first["n_models"] == 0 and np.isnan(first["pool_accuracy"])
    assert np.bincount(y[first["added"]]).tolist() == [3] * 10
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(est.scores_)), first["added"])


def test_single_class_coreset_is_refused_with_a_message(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="single class"):
        pruner(keep=60, n_steps=2, selector="hard", class_budget=None,
               scorer=lambda records: (records.y == 0).astype(float)).fit(X, y)


def test_skorch_net_with_training_dynamics_scores(small_digits):
    X, y = small_digits
    est = pruner(estimator=tiny_net(max_epochs=3), scorer="forgetting", keep=90, n_steps=2,
                 replace=0.2).fit(X, y)
    assert len(est.sample_indices_) == 90 and np.isfinite(est.scores_).all()
    assert all(info["n_epochs"] == 3 for info in est.task_info_)


# ------------------------------------------------------------------ composition
def test_grid_search_over_n_steps_inside_pruned_classifier(small_digits):
    X, y = small_digits
    model = PrunedClassifier(pruner(keep=0.5, n_steps=1), lr())
    search = GridSearchCV(model, {"pruner__n_steps": [1, 3]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert len(best.pruner_.steps_) == search.best_params_["pruner__n_steps"]
    assert len(best.sample_indices_) == 150


def test_cli_prunes_with_multistep(tmp_path, monkeypatch):
    from skunseen.cli import _main as _cli

    made = []
    original = _cli.make_pruner
    monkeypatch.setattr(_cli, "make_pruner",
                        lambda *a, **k: made.append(original(*a, **k)) or made[-1])
    out = tmp_path / "multistep"
    code = _cli.main(["prune", "--method", "multistep", "--steps", "3", "--keep", "0.3",
                      "--folds", "3", "--epochs", "2", "--seed", "0", "--out", str(out), "-q"])
    assert code == 0
    coreset = np.load(out / "coreset.npy")
    report = json.loads((out / "report.json").read_text())
    assert len(coreset) == report["n_selected"] == round(0.3 * report["n_samples"])
    assert report["parameters"]["method"] == "multistep"
    assert report["parameters"]["steps"] == 3
    (used,) = made
    assert isinstance(used, MultiStepUnseenPruner) and used.n_steps == 3 and used.cv == 3
    assert len(used.steps_) == 3
    np.testing.assert_array_equal(coreset, used.sample_indices_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(np.load(out / "scores.npy")).all()
