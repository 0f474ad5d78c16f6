"""The paired comparison behind ``skunseen compare``'s verdicts and its ★."""

import numpy as np
import pytest
from scipy import stats

from skunseen.cli._report import paired_difference

# Test accuracies of one `skunseen compare --dataset digits` run, seeds 0 to 4.
UNSEEN_70 = [0.9311111, 0.9333333, 0.9288889, 0.9377778, 0.94]
RANDOM_70 = [0.9222222, 0.9244444, 0.9266667, 0.9333333, 0.9311111]
UNSEEN_10 = [0.7555556, 0.6644444, 0.6933333, 0.6244444, 0.7288889]
RANDOM_10 = [0.7288889, 0.7088889, 0.6933333, 0.6577778, 0.7288889]


def test_ahead_on_every_seed_is_detected_where_the_spreads_overlap():
    # The ± of both (about 0.4 points) overlap, yet UNSEEN is ahead on all 5 seeds.
    result = paired_difference(UNSEEN_70, RANDOM_70)
    assert result["verdict"] == "better" and result["n_ahead"] == 5
    assert 0 < result["low"] < result["mean"] < result["high"]
    reference = stats.ttest_rel(UNSEEN_70, RANDOM_70)
    assert result["p_value"] == pytest.approx(reference.pvalue)
    assert result["p_value"] < 0.05
    assert paired_difference(RANDOM_70, UNSEEN_70)["verdict"] == "worse"


def test_a_gap_within_the_seed_noise_is_no_difference():
    result = paired_difference(RANDOM_10, UNSEEN_10)
    assert result["mean"] > 0 and result["low"] < 0 < result["high"]
    assert result["verdict"] == "no difference detected with 5 seeds"


def test_interval_is_the_paired_t_interval():
    first, second = np.array([0.8, 0.9, 0.85, 0.7]), np.array([0.75, 0.8, 0.86, 0.6])
    result = paired_difference(first, second, confidence=0.9)
    d = first - second
    half = stats.t.ppf(0.95, 3) * d.std(ddof=1) / 2
    assert result["low"] == pytest.approx(d.mean() - half)
    assert result["high"] == pytest.approx(d.mean() + half)
    assert result["n"] == 4 and result["n_ahead"] == 3


def test_one_seed_has_no_interval_and_detects_nothing():
    result = paired_difference([0.9], [0.5])
    assert result["low"] is None and result["p_value"] is None
    assert result["verdict"] == "no difference detected with 1 seed"


def test_the_same_difference_on_every_seed_falls_back_on_the_sign_test():
    assert paired_difference([0.5, 0.6], [0.5, 0.6])["verdict"] == (
        "no difference detected with 2 seeds")
    # Accuracies on a test split move in steps, so equal differences happen.
    two = paired_difference([0.6, 0.7], [0.5, 0.6])
    assert two["low"] is None and two["p_value"] == 0.5
    assert two["verdict"] == "no difference detected with 2 seeds"
    six = paired_difference([0.5] * 6, [0.6] * 6)
    assert six["p_value"] == pytest.approx(2 * 0.5 ** 6) and six["verdict"] == "worse"


def test_no_pairs_is_an_error():
    with pytest.raises(ValueError, match="at least one pair"):
        paired_difference([], [])
