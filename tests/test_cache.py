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
