from fractions import Fraction

import numpy as np
import pytest

from skunseen.selection import CLASS_BUDGETS, class_budgets, class_difficulty


def _labels(sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


def _reference_largest_remainder(total, weights):
    """Hamilton's method with exact fractions, ties to the lower class."""
    quotas = [Fraction(total * w, sum(weights)) for w in weights]
    shares = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


# ---- hand-computed cases -----------------------------------------------------------


def test_proportional_hand_cases():
    y = _labels([6, 3, 1])
    # Quotas 3, 1.5, .5: floors 3, 1, 0; one unit left, tie .5/.5 -> class 1.
    assert class_budgets(y, 5).tolist() == [3, 2, 0]
    # Quotas 4.2, 2.1, .7: floors 4, 2, 0; one unit left -> class 2 (.7).
    assert class_budgets(y, 7, "proportional").tolist() == [4, 2, 1]
    assert class_budgets(y, 10).tolist() == [6, 3, 1]


def test_balanced_hand_cases():
    y = _labels([6, 3, 1])
    assert class_budgets(y, 3, "balanced").tolist() == [1, 1, 1]
    # Shares of 2 each; class 2 holds 1, its unit goes to the others (2.5 each,
    # tie to the lower class).
    assert class_budgets(y, 6, "balanced").tolist() == [3, 2, 1]
    # 3 each would overfill classes 1 and 2: they are filled, class 0 takes the rest.
    assert class_budgets(y, 9, "balanced").tolist() == [5, 3, 1]
    assert class_budgets(y, 2, "balanced").tolist() == [1, 1, 0]


def _difficulty(y, n_select, weights):
    return class_budgets(y, n_select, "difficulty", class_weights=weights).tolist()


def test_difficulty_hand_cases():
    y = _labels([6, 3, 1])
    # Floor of one each, then 2 units split .1 : .9 : 0 -> quotas .2, 1.8 -> 0, 2.
    assert _difficulty(y, 5, [0.1, 0.9, 0.0]) == [1, 3, 1]
    # Class 2 is full after its floor and class 1 after 2 more units; the 3 units
    # left go to class 0 despite its weight 0, the only class with room.
    assert _difficulty(y, 8, [0.0, 1.0, 5.0]) == [4, 3, 1]
    # Fewer units than classes: no floor, the heaviest class wins.
    assert _difficulty(y, 2, [0.1, 0.2, 0.7]) == [0, 1, 1]
    # All-zero weights: equal shares, like balanced.
    assert _difficulty(y, 6, [0, 0, 0]) == [3, 2, 1]


def test_one_class():
    y = np.zeros(7)
    for mode in ["proportional", "balanced"]:
        assert class_budgets(y, 4, mode).tolist() == [4]
    assert class_budgets(y, 4, "difficulty", class_weights=[0.3]).tolist() == [4]


def test_budgets_are_aligned_with_np_unique_of_labels():
    y = np.array(["dog", "cat", "dog", "dog", "ant"])  # unique: ant, cat, dog
    assert class_budgets(y, 5).tolist() == [1, 1, 3]


# ---- properties on many random cases ------------------------------------------------


@pytest.mark.parametrize("mode", CLASS_BUDGETS)
def test_budgets_sum_exactly_and_respect_class_sizes(mode):
    rng = np.random.RandomState(0)
    for _ in range(300):
        sizes = rng.randint(1, 40, size=rng.randint(1, 8))
        n_select = rng.randint(1, sizes.sum() + 1)
        weights = rng.rand(len(sizes)) * (rng.rand(len(sizes)) < 0.8)
        budgets = class_budgets(
            _labels(sizes), n_select, mode,
            class_weights=weights if mode == "difficulty" else None,
        )
        assert budgets.dtype == np.int64
        assert budgets.sum() == n_select
        assert np.all(budgets >= 0) and np.all(budgets <= sizes)
        if mode == "difficulty" and n_select >= len(sizes):
            assert np.all(budgets >= 1)


def test_proportional_matches_exact_largest_remainder():
    rng = np.random.RandomState(1)
    for _ in range(300):
        sizes = rng.randint(1, 50, size=rng.randint(1, 10)).tolist()
        n_select = rng.randint(1, sum(sizes) + 1)
        expected = _reference_largest_remainder(n_select, sizes)
        assert class_budgets(_labels(sizes), n_select).tolist() == expected


def test_balanced_is_as_even_as_the_class_sizes_allow():
    rng = np.random.RandomState(2)
    for _ in range(300):
        sizes = rng.randint(1, 30, size=rng.randint(2, 8))
        n_select = rng.randint(1, sizes.sum() + 1)
        budgets = class_budgets(_labels(sizes), n_select, "balanced")
        # A class with room left never trails another class by more than one.
        has_room = budgets < sizes
        if has_room.any():
            assert budgets.max() - budgets[has_room].min() <= 1


def test_difficulty_follows_weights_among_classes_with_room():
    sizes = np.array([100, 100, 100])
    budgets = _difficulty(_labels(sizes), 63, [1.0, 2.0, 6.0])
    # Floor of one each, then 60 split 1 : 2 : 6 -> quotas 6.67, 13.33, 40;
    # the unit left by the floors goes to the largest remainder (class 0).
    assert budgets == [1 + 7, 1 + 13, 1 + 40]


def test_selecting_everything_gives_the_class_sizes():
    sizes = np.array([5, 1, 9])
    for mode in CLASS_BUDGETS:
        weights = [0.2, 0.0, 0.8] if mode == "difficulty" else None
        assert class_budgets(_labels(sizes), 15, mode, weights).tolist() == [5, 1, 9]


# ---- errors -------------------------------------------------------------------


def test_invalid_mode_lists_valid_values():
    valid = r"'even'.*'proportional', 'balanced', 'difficulty'"
    with pytest.raises(ValueError, match=valid):
        class_budgets(np.zeros(3), 1, "even")
    with pytest.raises(ValueError, match="global ranking"):
        class_budgets(np.zeros(3), 1, None)


@pytest.mark.parametrize("n_select", [0, 4, -2, 1.5, True])
def test_invalid_n_select(n_select):
    with pytest.raises(ValueError, match="n_select"):
        class_budgets(np.zeros(3), n_select)


@pytest.mark.parametrize(
    "weights, match",
    [(None, "needs class_weights"), ([1.0], "one weight per class"),
     ([1.0, -0.1], "non-negative"), ([1.0, np.nan], "finite")],
)
def test_invalid_class_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        class_budgets(_labels([2, 2]), 2, "difficulty", class_weights=weights)


def test_class_weights_rejected_outside_difficulty():
    with pytest.raises(ValueError, match="only used with class_budget='difficulty'"):
        class_budgets(_labels([2, 2]), 2, "balanced", class_weights=[1.0, 2.0])


def test_labels_must_be_1d():
    with pytest.raises(ValueError, match="1-D"):
        class_budgets(np.zeros((2, 2)), 1)


def test_class_difficulty_is_the_smoothed_error_of_present_classes():
    proba = np.eye(4)[[0, 0, 1, 1, 1, 3, 0]]  # predicted classes
    y = np.array([0, 1, 1, 1, 1, 3, 3])      # class 2 absent
    # class 0: 1 right of 1; class 1: 3 right of 4; class 3: 1 wrong of 2
    np.testing.assert_allclose(class_difficulty(proba, y, 4), [1 / 3, 2 / 6, 2 / 4])
