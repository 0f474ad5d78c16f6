"""D2 pruning and DUAL's Beta sampling against brute-force references, and the
per-sample inputs that select() hands to such rules."""

import math

import numpy as np
import pytest

from skunseen.selection import (
    beta_sampling,
    d2,
    dual_sampling_weights,
    knn_graph,
    select,
)


def brute_adjacency(features, groups, k):
    """Reference symmetric kNN graph: full distance matrix and sorting."""
    n = len(features)
    dist = [[math.dist(features[a], features[b]) for b in range(n)] for a in range(n)]
    adj = [[False] * n for _ in range(n)]
    for a in range(n):
        same = [b for b in range(n) if b != a and groups[b] == groups[a]]
        for b in sorted(same, key=lambda b: dist[a][b])[:k]:
            adj[a][b] = adj[b][a] = True
    return adj, dist


def brute_d2(scores, n_select, features, groups=None, k=5, gamma_forward=1.0,
             gamma_reverse=0.1, cutoff=0.0):
    """Reference D2: loops over samples and neighbours."""
    n = len(scores)
    groups = [0] * n if groups is None else list(groups)
    n_drop = min(int(math.floor(cutoff * n)), n - n_select)
    kept = sorted(sorted(range(n), key=lambda i: (-scores[i], i))[n_drop:])
    s = [float(scores[i]) for i in kept]
    if min(s) < 0:
        s = [v - min(s) for v in s]
    adj, dist = brute_adjacency([features[i] for i in kept], [groups[i] for i in kept], k)
    m = len(kept)
    density = [s[a] + sum(math.exp(-gamma_forward * dist[a][b]) * max(s[b], 1e-7)
                          for b in range(m) if adj[a][b]) for a in range(m)]
    chosen = []
    for _ in range(n_select):
        a = max((b for b in range(m) if b not in chosen), key=lambda b: (density[b], -b))
        chosen.append(a)
        for b in range(m):
            if adj[a][b]:
                density[b] -= math.exp(-gamma_reverse * dist[a][b]) * density[a]
    return [kept[a] for a in chosen]


@pytest.mark.parametrize("k", [1, 3, 20])
def test_knn_graph_matches_brute_force(k):
    rng = np.random.RandomState(k)
    features, groups = rng.randn(15, 3), rng.randint(0, 2, 15)
    indptr, neighbors, distances = knn_graph(features, k, groups)
    adj, dist = brute_adjacency(features.tolist(), groups.tolist(), k)
    for a in range(15):
        mine = neighbors[indptr[a]:indptr[a + 1]]
        assert mine.tolist() == [b for b in range(15) if adj[a][b]]
        np.testing.assert_allclose(distances[indptr[a]:indptr[a + 1]],
                                   [dist[a][b] for b in mine])
        assert np.all(groups[mine] == groups[a])  # never across embedding spaces


def test_large_groups_use_the_chunked_search(monkeypatch):
    from skunseen.selection import _d2

    rng = np.random.RandomState(0)
    features = rng.randn(40, 3)
    dense = knn_graph(features, 4)
    monkeypatch.setattr(_d2, "_DENSE_PAIRS", 10)
    chunked = knn_graph(features, 4)
    for a, b in zip(dense, chunked):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("params", [
    {},
    {"n_neighbors": 2, "gamma_reverse": 1.0},
    {"n_neighbors": 3, "gamma_forward": 0.5, "cutoff": 0.2},
    {"n_neighbors": 30, "gamma_reverse": 0.0},
])
@pytest.mark.parametrize("n_select", [1, 7, 18])
def test_d2_matches_brute_force(params, n_select):
    rng = np.random.RandomState(n_select)
    scores, features = rng.rand(20), rng.randn(20, 3)
    got = d2(scores, n_select, None, features, **params)
    expected = brute_d2(scores, n_select, features.tolist(), k=params.get("n_neighbors", 5),
                        **{k: v for k, v in params.items() if k != "n_neighbors"})
    assert got.tolist() == expected


def test_d2_with_groups_and_negative_scores():
    rng = np.random.RandomState(0)
    scores, features, groups = rng.randn(16), rng.randn(16, 2), rng.randint(0, 3, 16)
    got = d2(scores, 6, None, features, groups=groups, n_neighbors=2, gamma_reverse=0.5)
    assert got.tolist() == brute_d2(scores, 6, features.tolist(), groups.tolist(), k=2,
                                    gamma_reverse=0.5)


def test_d2_prefers_diversity_over_duplicates():
    """Two hard near-duplicates and a slightly easier distant sample: hard
    keeps both duplicates, D2 keeps one of them and the distant one."""
    features = np.array([[0.0], [0.01], [10.0], [20.0]])
    scores = np.array([1.0, 0.99, 0.9, 0.1])
    assert sorted(d2(scores, 2, None, features, n_neighbors=1, gamma_reverse=0.0)) == [0, 2]


def test_d2_edge_cases():
    assert d2([0.3], 1, None, [[1.0]]).tolist() == [0]  # a single sample, no neighbour
    assert d2([0.3, 0.2], 0, None, [[1.0], [2.0]]).tolist() == []
    assert sorted(d2(np.zeros(5), 5, None, np.eye(5)).tolist()) == list(range(5))


@pytest.mark.parametrize("kwargs, match", [
    ({"features": np.zeros((3, 2))}, "one row per score"),
    ({"features": np.full((4, 1), np.nan)}, "NaN"),
    ({"n_neighbors": 0}, "n_neighbors"),
    ({"gamma_reverse": -1.0}, "gamma_reverse"),
    ({"cutoff": 1.0}, "cutoff"),
    ({"groups": [0, 1]}, "groups"),
])
def test_d2_validation(kwargs, match):
    args = {"features": np.zeros((4, 1)), **kwargs}
    with pytest.raises(ValueError, match=match):
        d2(np.zeros(4), 2, None, **args)


# ------------------------------------------------------------------ DUAL
def beta_pdf(x, a, b):
    return math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                    + (a - 1) * math.log(x) + (b - 1) * math.log(1 - x))


def loop_dual_weights(scores, target_proba, prune_rate, c_d=4.0, n_anchor=10, conc=15.0):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:n_anchor]
    anchor = sum(target_proba[i] for i in order) / len(order)
    b = conc * (1 - anchor) * (1 - prune_rate ** c_d)
    a = conc + 1 - b
    low = min(scores)
    return np.array([beta_pdf(min(max(p, 1e-6), 1 - 1e-6), a, b) * (s - min(low, 0))
                     for s, p in zip(scores, target_proba)])


@pytest.mark.parametrize("prune_rate", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shift", [0.0, -0.5])
def test_dual_weights_match_loops(prune_rate, shift):
    rng = np.random.RandomState(0)
    scores, target = rng.rand(30) + shift, rng.rand(30)
    target[0] = 1.0  # clipped inside (0, 1)
    np.testing.assert_allclose(
        dual_sampling_weights(scores, target, prune_rate, c_d=3.0, n_anchor=5),
        loop_dual_weights(scores.tolist(), target.tolist(), prune_rate, c_d=3.0, n_anchor=5),
        rtol=1e-10)


def test_beta_mode_moves_to_easy_samples_as_pruning_grows():
    target = np.linspace(0.01, 0.99, 99)
    scores = np.ones(99)
    scores[:10] = 1.0 + 1e-9  # the hardest samples have p around 0.05
    modes = [target[np.argmax(dual_sampling_weights(scores, target, r))]
             for r in (0.1, 0.5, 0.8, 0.95)]
    assert modes == sorted(modes) and modes[0] < 0.2 and modes[-1] > 0.8


def test_beta_sampling_draws_by_weight():
    rng = np.random.RandomState(0)
    scores, target = rng.rand(40), rng.rand(40)
    weights = dual_sampling_weights(scores, target, 0.75)
    counts = np.zeros(40)
    for seed in range(200):
        counts[beta_sampling(scores, 10, np.random.RandomState(seed), target)] += 1
    order = np.argsort(weights)
    assert counts[order[-10:]].mean() > 3 * counts[order[:10]].mean()
    first = beta_sampling(scores, 10, np.random.RandomState(7), target)
    np.testing.assert_array_equal(first, beta_sampling(scores, 10, np.random.RandomState(7),
                                                       target))


def test_beta_sampling_edge_cases():
    rng = np.random.RandomState(0)
    target = rng.rand(6)
    assert beta_sampling(rng.rand(6), 6, rng, target).tolist() == list(range(6))
    # zero-score samples have zero weight: never drawn while others remain
    scores = np.array([0.0, 0.0, 0.0, 0.5, 0.6, 0.7])
    for seed in range(20):
        kept = beta_sampling(scores, 3, np.random.RandomState(seed), target)
        assert sorted(kept.tolist()) == [3, 4, 5]
    # fewer positive weights than the budget: all of them, the rest uniformly
    kept = beta_sampling(scores, 5, rng, target)
    assert {3, 4, 5} <= set(kept.tolist()) and len(set(kept.tolist())) == 5
    with pytest.raises(ValueError, match="probabilities"):
        beta_sampling(scores, 2, rng, target + 1)
    with pytest.raises(ValueError, match="c_d"):
        beta_sampling(scores, 2, rng, target, c_d=0)


# ---------------------------------------------------------- select inputs
def test_select_passes_each_class_its_rows():
    seen = []

    def first_two(scores, n_select, rng, features, groups=None):
        seen.append((np.asarray(features).ravel().tolist(), groups))
        return np.arange(n_select)

    first_two.needs = ("features", "groups")
    scores, y = np.zeros(6), np.array([0, 1, 0, 1, 0, 1])
    features = np.arange(6.0)[:, None]
    kept = select(scores, y, 4, selector=first_two, sample_inputs={"features": features})
    assert kept.tolist() == [0, 1, 2, 3]
    assert seen == [([0.0, 2.0, 4.0], None), ([1.0, 3.0, 5.0], None)]


def test_select_input_errors():
    scores, y = np.zeros(4), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="needs the per-sample input 'features'"):
        select(scores, y, 2, selector="d2")
    with pytest.raises(ValueError, match="one row per score"):
        select(scores, y, 2, selector="d2", sample_inputs={"features": np.zeros((3, 1))})
    with pytest.raises(ValueError, match="not in selector_params"):
        select(scores, y, 2, selector="dual", selector_params={"target_proba": scores},
               sample_inputs={"target_proba": scores})
    # rules without needs ignore the inputs: existing selectors are unchanged
    assert select(np.arange(4.0), y, 2, selector="hard",
                  sample_inputs={"features": np.zeros((4, 1))}).tolist() == [1, 3]


def test_dual_selector_within_class_budgets():
    rng = np.random.RandomState(0)
    scores, y, target = rng.rand(40), np.repeat([0, 1], 20), rng.rand(40)
    kept = select(scores, y, 10, selector="dual", random_state=0,
                  sample_inputs={"target_proba": target})
    assert len(kept) == 10 and np.bincount(y[kept]).tolist() == [5, 5]
