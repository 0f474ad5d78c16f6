import numpy as np
import pytest

from skunseen.selection import (
    CCS_AUTO_CUTOFF,
    available_selectors,
    ccs,
    ccs_auto_cutoff,
    easy,
    get_selector,
    hard,
    moderate,
    register_selector,
    select,
    uniform,
)
from skunseen.selection._selectors import _stratum_budgets


def _rng(seed=0):
    return np.random.RandomState(seed)


def _assert_valid(positions, n_select, n_samples):
    assert positions.dtype == np.int64
    assert positions.shape == (n_select,)
    assert len(np.unique(positions)) == n_select
    assert np.all((positions >= 0) & (positions < n_samples))


# ---- simple rules -----------------------------------------------------------


def test_hard_and_easy_hand_values_with_ties():
    scores = np.array([0.5, 0.9, 0.1, 0.9, 0.5, 0.1])
    assert hard(scores, 4, _rng()).tolist() == [1, 3, 0, 4]
    assert easy(scores, 4, _rng()).tolist() == [2, 5, 0, 4]
    assert hard(scores, 0, _rng()).tolist() == []
    # All tied: both keep the lowest positions, in order.
    assert hard(np.ones(20), 5, _rng()).tolist() == [0, 1, 2, 3, 4]
    assert easy(np.ones(20), 5, _rng()).tolist() == [0, 1, 2, 3, 4]
    assert sorted(hard(scores, 6, _rng()).tolist()) == list(range(6))


def test_moderate_keeps_the_band_around_the_median():
    scores = np.array([-50.0, 1.0, 2.0, 3.0, 4.0, 5.0, 60.0])  # median 3
    assert moderate(scores, 3, _rng()).tolist() == [3, 2, 4]
    assert sorted(moderate(scores, 5, _rng()).tolist()) == [1, 2, 3, 4, 5]
    # Even length: median 2.5, ties in distance go to the lower position.
    assert moderate(np.array([1.0, 2.0, 3.0, 4.0]), 2, _rng()).tolist() == [1, 2]


def test_uniform_is_seeded_distinct_and_covers_all_positions():
    scores = np.arange(10.0)
    a = uniform(scores, 4, _rng(3))
    _assert_valid(a, 4, 10)
    assert a.tolist() == uniform(scores, 4, _rng(3)).tolist()
    counts = np.zeros(10)
    rng = _rng(0)
    for _ in range(500):
        counts[uniform(scores, 3, rng)] += 1
    # Expected 150 per position; a score-driven rule would give 0 or 500.
    assert counts.min() > 100 and counts.max() < 200


@pytest.mark.parametrize("rule", [hard, easy, uniform, moderate, ccs])
@pytest.mark.parametrize("n_select", [-1, 6, 2.0, True])
def test_rules_reject_bad_n_select(rule, n_select):
    with pytest.raises(ValueError, match="n_select"):
        rule(np.arange(5.0), n_select, _rng())


def test_rules_reject_non_1d_scores():
    with pytest.raises(ValueError, match="1-D"):
        hard(np.zeros((2, 2)), 1, _rng())


# ---- CCS ----------------------------------------------------------------------


def test_stratum_budgets_smallest_first_with_leftovers_passed_on():
    # Order by size: 1, 3, 10. 9 // 3 = 3 -> 1 (all of it); 8 // 2 = 4 -> 3 (all);
    # the largest stratum takes the remaining 5.
    assert _stratum_budgets(np.array([10, 1, 3]), 9).tolist() == [5, 1, 3]
    # Floors: 10 // 3 = 3, 7 // 2 = 3, then the rest (4).
    assert _stratum_budgets(np.array([4, 4, 4]), 10).tolist() == [3, 3, 4]
    # 6 // 2 = 3 but the small stratum holds 2; its unused unit goes on.
    assert _stratum_budgets(np.array([2, 7]), 6).tolist() == [2, 4]
    assert _stratum_budgets(np.array([2, 7]), 9).tolist() == [2, 7]


def _reference_ccs_budgets(sizes, n_select):
    """Loop over all strata as in the CCS reference code (empty ones included)."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    budgets, rest = [0] * len(sizes), n_select
    for rank, i in enumerate(order):
        budgets[i] = min(sizes[i], rest // (len(sizes) - rank))
        rest -= budgets[i]
    return budgets


def test_ccs_per_stratum_counts_match_reference_on_random_cases():
    rng = _rng(0)
    for _ in range(200):
        n = rng.randint(1, 80)
        n_select = rng.randint(1, n + 1)
        n_strata = rng.randint(1, 12)
        cutoff = rng.choice([0.0, 0.1, 0.3, 0.6])
        scores = np.round(rng.standard_normal(n) ** 3, 1)  # skewed, with ties
        positions = ccs(scores, n_select, _rng(1), cutoff=cutoff, n_strata=n_strata)
        _assert_valid(positions, n_select, n)

        # Independent recomputation of the dropped set and the strata.
        n_drop = min(int(cutoff * n), n - n_select)
        by_hardness = sorted(range(n), key=lambda i: (-scores[i], i))
        dropped, kept = set(by_hardness[:n_drop]), by_hardness[n_drop:]
        assert dropped.isdisjoint(positions.tolist())
        low, high = min(scores[kept]), max(scores[kept])
        width = (high - low) / n_strata

        def stratum(i):
            if width == 0:
                return 0
            return min(int((scores[i] - low) / width), n_strata - 1)

        sizes = [0] * n_strata
        for i in kept:
            sizes[stratum(i)] += 1
        got = [0] * n_strata
        for i in positions.tolist():
            got[stratum(i)] += 1
        assert got == _reference_ccs_budgets(sizes, n_select)


def test_ccs_cutoff_drops_the_hardest():
    scores = np.arange(20.0)
    kept = ccs(scores, 10, _rng(), cutoff=0.25, n_strata=5)
    assert kept.max() < 15  # the 5 hardest (15..19) are gone
    # 0.6 * 20 = 12 hardest would leave 8 < 10: only 10 are dropped.
    kept = ccs(scores, 10, _rng(), cutoff=0.6, n_strata=5)
    assert sorted(kept.tolist()) == list(range(10))


def test_ccs_keeps_small_strata_whole():
    # Three strata of width 1 over [0, 3]: sizes 8, 1, 2 (0.x, 1.5, 2.5 and 3).
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.5, 2.5, 3.0])
    kept = ccs(scores, 6, _rng(), cutoff=0.0, n_strata=3)
    assert {8, 9, 10} <= set(kept.tolist())
    assert np.sum(kept < 8) == 3


def test_ccs_constant_scores_is_uniform_sampling():
    kept = ccs(np.ones(30), 7, _rng(), cutoff=0.0)
    _assert_valid(kept, 7, 30)


def test_ccs_is_deterministic_for_a_seed_and_varies_across_seeds():
    scores = _rng(5).rand(200)
    a = ccs(scores, 50, _rng(7))
    assert a.tolist() == ccs(scores, 50, _rng(7)).tolist()
    assert sorted(a.tolist()) != sorted(ccs(scores, 50, _rng(8)).tolist())


@pytest.mark.parametrize(
    "rate, cutoff",
    [(0.0, 0.0), (0.5, 0.0), (0.6, 0.05), (0.7, 0.1), (0.75, 0.15), (0.8, 0.2),
     (0.9, 0.3), (0.95, 0.35), (1.0, 0.4)],
)
def test_ccs_auto_cutoff_table(rate, cutoff):
    assert ccs_auto_cutoff(rate) == pytest.approx(cutoff)
    assert (1.0, 0.4) == CCS_AUTO_CUTOFF[-1]


def test_ccs_auto_uses_the_pruning_rate():
    scores = np.arange(100.0)
    # Keep 10 of 100: pruning rate 0.9 -> drop the 30 hardest.
    kept = ccs(scores, 10, _rng(), cutoff="auto")
    assert kept.max() < 70
    # Keep 60: rate 0.4 -> nothing dropped, the top stratum is reachable.
    assert ccs(scores, 60, _rng(), cutoff="auto", n_strata=2).max() >= 90


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cutoff": 1.0}, "cutoff"),
        ({"cutoff": -0.1}, "cutoff"),
        ({"cutoff": "max"}, "cutoff"),
        ({"n_strata": 0}, "n_strata"),
        ({"n_strata": 2.5}, "n_strata"),
    ],
)
def test_ccs_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ccs(np.arange(10.0), 5, _rng(), **kwargs)


# ---- registry -------------------------------------------------------------------


def test_builtin_selectors():
    assert {"ccs", "easy", "hard", "moderate", "random"} <= set(available_selectors())
    assert get_selector("random") is uniform
    assert get_selector("ccs") is ccs
    assert get_selector(hard) is hard


def test_unknown_selector_lists_valid_names():
    with pytest.raises(ValueError, match=r"'harder'.*'ccs'.*'random'"):
        get_selector("harder")
    with pytest.raises(ValueError, match="callable"):
        get_selector(1)


def test_register_custom_selector():
    def first(scores, n_select, rng):
        return np.arange(n_select)

    assert register_selector("first", first) is first
    assert "first" in available_selectors() and get_selector("first") is first
    with pytest.raises(ValueError, match="already registered"):
        register_selector("first", first)
    register_selector("hard", first, overwrite=True)
    assert get_selector("hard") is first
    with pytest.raises(ValueError, match="non-empty string"):
        register_selector("", first)
    with pytest.raises(TypeError, match="callable"):
        register_selector("x", "first")


# ---- select ---------------------------------------------------------------------


def test_select_per_class_hand_case():
    scores = np.array([0.9, 0.1, 0.5, 0.8, 0.2, 0.3, 0.7, 0.4])
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    # Proportional budgets of 4 over sizes 3, 5: 1.5 and 2.5 -> tie -> 2, 2.
    out = select(scores, y, 4, selector="hard")
    assert out.tolist() == [0, 2, 3, 6]
    assert select(scores, y, 4, selector="easy").tolist() == [1, 2, 4, 5]
    out = select(scores, y, 3, selector="hard", class_budget=None)
    assert out.tolist() == [0, 3, 6]


def test_select_output_contract_on_random_cases():
    rng = _rng(0)
    for selector in ["hard", "easy", "random", "moderate", "ccs"]:
        for class_budget in ["proportional", "balanced", None]:
            n = rng.randint(1, 60)
            y = rng.randint(0, 4, size=n)
            n_select = rng.randint(1, n + 1)
            out = select(
                rng.rand(n), y, n_select, selector=selector,
                class_budget=class_budget, random_state=1,
            )
            assert np.all(np.diff(out) > 0)  # sorted, distinct
            _assert_valid(out, n_select, n)


def test_select_is_deterministic_for_a_random_state():
    rng = _rng(1)
    scores, y = rng.rand(300), rng.randint(0, 3, size=300)
    for selector in ["ccs", "random"]:
        a = select(scores, y, 90, selector=selector, random_state=42)
        b = select(scores, y, 90, selector=selector, random_state=42)
        c = select(scores, y, 90, selector=selector, random_state=43)
        assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    seeded = np.random.RandomState(0)
    assert select(scores, y, 5, selector="random", random_state=seeded).shape == (5,)


def test_select_passes_selector_params():
    scores = np.arange(40.0)
    y = np.zeros(40, dtype=int)
    out = select(scores, y, 10, selector_params={"cutoff": 0.5, "n_strata": 4})
    assert out.max() < 20
    with pytest.raises(TypeError, match="bogus"):
        select(scores, y, 10, selector_params={"bogus": 1})


def test_select_with_one_class_and_string_labels():
    scores = np.array([3.0, 1.0, 2.0])
    assert select(scores, np.zeros(3), 2, selector="hard").tolist() == [0, 2]
    y = np.array(["cat", "dog", "cat"])
    out = select(scores, y, 2, selector="hard", class_budget="balanced")
    assert out.tolist() == [0, 1]


def test_select_difficulty_budgets():
    scores = np.arange(10.0)
    y = np.array([0] * 5 + [1] * 5)
    out = select(scores, y, 4, selector="hard", class_budget="difficulty",
                 class_weights=[0.0, 1.0])
    assert out.tolist() == [4, 7, 8, 9]  # floor of one for class 0, rest to class 1


@pytest.mark.parametrize("n_select", [0, 11, -1, 2.5])
def test_select_rejects_bad_n_select(n_select):
    with pytest.raises(ValueError, match="n_select"):
        select(np.zeros(10), np.zeros(10), n_select)


def test_select_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        select(np.zeros(5), np.zeros(4), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        select(np.array([0.0, np.nan, 1.0]), np.zeros(3), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        select(np.array([0.0, np.inf, 1.0]), np.zeros(3), 2)
    with pytest.raises(ValueError, match="valid values"):
        select(np.zeros(5), np.zeros(5), 2, class_budget="equal")
    with pytest.raises(ValueError, match="class_weights"):
        select(np.zeros(5), np.zeros(5), 2, class_budget=None, class_weights=[1.0])
    with pytest.raises(ValueError, match="Unknown selector"):
        select(np.zeros(5), np.zeros(5), 2, selector="nope")


@pytest.mark.parametrize(
    "output",
    [[0, 0], [0], [0, 9], [0.0, 1.0], [-1, 0]],
)
def test_select_checks_custom_selector_output(output):
    def broken(scores, n_select, rng):
        return np.array(output)

    with pytest.raises(ValueError, match="'broken' must return 2 distinct"):
        select(np.arange(4.0), np.zeros(4), 2, selector=broken, class_budget=None)
