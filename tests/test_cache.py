"""Score once, select many: the records cache and GridSearchCV over post-scoring parameters."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skunseen import PrunedClassifier, RecordsCache, UnseenPruner, records_cache
from skunseen._records import Recording
from skunseen.scores import ScoringRecords

pytestmark = pytest.mark.records_cache

N_FITS = []


class CountingLogisticRegression(LogisticRegression):
    """Counts its fits: every scoring model the pruners train."""

    def fit(self, X, y, sample_weight=None):
        N_FITS.append(len(X))
        return super().fit(X, y, sample_weight=sample_weight)


def _scoring_model():
    return CountingLogisticRegression(max_iter=300)


@pytest.mark.parametrize("use_checkpoints", [False, True])
def test_grid_search_over_post_scoring_parameters_trains_each_scoring_model_once(
        small_digits, tmp_path, use_checkpoints):
    X, y = small_digits
    pruner = UnseenPruner(_scoring_model(), cv=5, random_state=0,
                          checkpoint_dir=tmp_path if use_checkpoints else None)
    model = PrunedClassifier(pruner, LogisticRegression(max_iter=300))
    grid = {"pruner__keep": [0.3, 0.5, 0.7, 0.9], "pruner__selector": ["ccs", "hard"]}
    N_FITS.clear()
    search = GridSearchCV(model, grid, cv=3).fit(X, y)
    # 3 outer splits x 5 folds, then the refit's 5 folds; 8 candidates share them.
    assert len(N_FITS) == 3 * 5 + 5
    assert len(search.cv_results_["params"]) == 8


def test_a_cached_fit_equals_a_fresh_one(small_digits):
    X, y = small_digits
    first = UnseenPruner(_scoring_model(), cv=4, keep=0.5, random_state=2).fit(X, y)
    N_FITS.clear()
    again = UnseenPruner(_scoring_model(), cv=4, keep=0.5, selector="hard",
                         random_state=2).fit(X, y)
    assert N_FITS == []
    assert all(info["cached"] for info in again.task_info_)
    np.testing.assert_array_equal(first.scores_, again.scores_)
    with records_cache.disabled():
        fresh = UnseenPruner(_scoring_model(), cv=4, keep=0.5, selector="hard",
                             random_state=2).fit(X, y)
    assert len(N_FITS) == 4
    np.testing.assert_array_equal(fresh.scores_, again.scores_)
    np.testing.assert_array_equal(fresh.sample_indices_, again.sample_indices_)


def test_anything_that_changes_the_models_trains_again(small_digits):
    X, y = small_digits
    UnseenPruner(_scoring_model(), cv=4, random_state=0).fit(X, y)
    N_FITS.clear()
    UnseenPruner(_scoring_model(), cv=4, random_state=1).fit(X, y)           # other folds
    UnseenPruner(CountingLogisticRegression(C=0.1, max_iter=300), cv=4,
                 random_state=0).fit(X, y)                                     # other model
    UnseenPruner(_scoring_model(), cv=4, random_state=0).fit(X[:-10], y[:-10])  # other data
    y_changed = y.copy()
    y_changed[0] = (y[0] + 1) % 10
    UnseenPruner(_scoring_model(), cv=4, random_state=0).fit(X, y_changed)   # other labels
    assert len(N_FITS) == 4 * 4


def test_the_caller_cannot_change_what_the_cache_holds(small_digits):
    X, y = small_digits
    first = UnseenPruner(_scoring_model(), cv=3, random_state=0).fit(X, y)
    expected = first.scores_.copy()
    first.scores_[:] = -1
    again = UnseenPruner(_scoring_model(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.scores_, expected)


def test_the_cache_stays_within_its_size_bound():
    records = ScoringRecords(np.arange(100), np.zeros(100, int), np.full((100, 2), 0.5))
    size = records.proba.nbytes + records.indices.nbytes + records.y.nbytes
    cache = RecordsCache(max_bytes=int(2.5 * size))
    for key in "abc":
        cache.put(key, Recording(), records, {})
    assert len(cache) == 2 and cache.n_bytes <= cache.max_bytes
    assert cache.get("a", Recording()) is None          # the least recently used went first
    assert cache.get("c", Recording()) is not None
    RecordsCache(max_bytes=0).put("a", Recording(), records, {})


def test_records_without_dynamics_do_not_serve_a_dynamics_request():
    records = ScoringRecords(np.arange(3), np.zeros(3, int), np.full((3, 2), 0.5))
    cache = RecordsCache()
    cache.put("a", Recording(), records, {})
    assert cache.get("a", Recording(dynamics=True)) is None
    assert (cache.n_hits, cache.n_misses) == (0, 1)


def _feature_subset(Z):
    return Z


def test_a_function_redefined_under_the_same_name_is_trained_anew(small_digits):
    # A notebook cell run again: same module and name, another function.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = small_digits

    def scores_with(function):
        model = make_pipeline(FunctionTransformer(function), _scoring_model())
        return UnseenPruner(model, cv=3, random_state=0).fit(X, y).scores_

    first = scores_with(_feature_subset)

    def _feature_subset_again(Z):
        return Z[:, :8]

    _feature_subset_again.__qualname__ = _feature_subset.__qualname__
    N_FITS.clear()
    again = scores_with(_feature_subset_again)
    assert len(N_FITS) == 3
    with records_cache.disabled():
        fresh = scores_with(_feature_subset_again)
    np.testing.assert_array_equal(again, fresh)
    assert not np.array_equal(first, again)


def test_a_class_redefined_under_the_same_name_is_trained_anew(small_digits):
    X, y = small_digits
    UnseenPruner(_scoring_model(), cv=3, random_state=0).fit(X, y)

    class CountingLogisticRegression(LogisticRegression):  # same name, new class
        def fit(self, X, y, sample_weight=None):
            N_FITS.append(len(X))
            return super().fit(X[:, :8], y, sample_weight=sample_weight)

        def predict_proba(self, X):
            return super().predict_proba(X[:, :8])

    N_FITS.clear()
    UnseenPruner(CountingLogisticRegression(max_iter=300), cv=3, random_state=0).fit(X, y)
    assert len(N_FITS) == 3


def test_random_models_inside_a_pipeline_are_seeded_so_the_cache_serves_a_fresh_result(
        small_digits):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = small_digits

    def fit():
        model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5))
        return UnseenPruner(model, cv=3, random_state=4).fit(X, y).scores_

    cached = (fit(), fit())
    with records_cache.disabled():
        fresh = (fit(), fit())
    for scores in (*cached, fresh[1]):
        np.testing.assert_array_equal(scores, fresh[0])


def test_records_trained_batched_do_not_answer_a_sequential_fit(small_digits):
    from skunseen.models import make_net

    X, y = small_digits
    X = X.astype("float32")
    kwargs = dict(cv=3, random_state=0)

    def net():
        return make_net("mlp", input_shape=X.shape[1:], n_classes=10, max_epochs=2,
                        device="cpu", random_state=0)

    UnseenPruner(net(), fold_batching=True, **kwargs).fit(X, y)
    sequential = UnseenPruner(net(), fold_batching=False, **kwargs).fit(X, y)
    assert not any(info["cached"] for info in sequential.task_info_)
    again = UnseenPruner(net(), fold_batching=False, **kwargs).fit(X, y)
    assert all(info["cached"] for info in again.task_info_)


def test_overlapping_disabled_blocks_restore_the_cache():
    cache = RecordsCache(max_bytes=1000)
    first, second = cache.disabled(), cache.disabled()
    first.__enter__()
    second.__enter__()
    cache.max_bytes = 2000
    first.__exit__(None, None, None)
    assert not cache.enabled
    second.__exit__(None, None, None)
    assert cache.enabled and cache.max_bytes == 2000


@pytest.mark.parametrize("value, error", [("big", TypeError), (None, TypeError),
                                          (float("nan"), TypeError), (1.5, TypeError),
                                          (True, TypeError), (-1, ValueError)])
def test_max_bytes_is_validated(value, error):
    with pytest.raises(error, match="max_bytes"):
        RecordsCache(max_bytes=value)
    cache = RecordsCache()
    with pytest.raises(error, match="max_bytes"):
        cache.max_bytes = value
    assert cache.max_bytes == 512 * 2**20


def test_lowering_max_bytes_evicts_at_once():
    records = ScoringRecords(np.arange(10), np.zeros(10, int), np.full((10, 2), 0.5))
    cache = RecordsCache()
    for key in "ab":
        cache.put(key, Recording(), records, {})
    cache.max_bytes = 0
    assert len(cache) == 0 and cache.n_bytes == 0
