import math

import numpy as np
import pytest

from skunseen.scores import _dynamics, aum, dual, dyn_unc, forgetting, tdds


def _pstd(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _pvar(values):
    return _pstd(values) ** 2


# ---- forgetting ---------------------------------------------------------------


def test_forgetting_hand_values():
    correct = np.array(
        [
            [1, 1, 1, 1, 1],  # learned at once, kept
            [0, 1, 0, 1, 0],  # forgotten twice
            [0, 0, 0, 0, 1],  # learned late, never forgotten
            [1, 0, 0, 0, 0],  # forgotten once
            [0, 0, 0, 0, 0],  # never learned -> n_epochs
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(forgetting(correct), [0, 2, 0, 1, 5])
    assert forgetting(correct).dtype == np.float64


def test_forgetting_never_learned_outranks_any_reachable_count():
    for n_epochs in range(1, 8):
        # Alternating 1, 0, 1, 0, ... reaches the maximum count.
        most_forgotten = (np.arange(n_epochs) % 2 == 0)[None, :]
        never = np.zeros((1, n_epochs), dtype=bool)
        out = forgetting(np.vstack([most_forgotten, never]))
        assert out[1] == n_epochs > out[0] == n_epochs // 2


def test_forgetting_accepts_0_1_integers_and_rejects_other_values():
    np.testing.assert_array_equal(forgetting(np.array([[1, 0, 1]])), [1])
    with pytest.raises(ValueError, match="booleans"):
        forgetting(np.array([[1, 2, 0]]))


def test_forgetting_matches_loop_reference():
    rng = np.random.RandomState(0)
    correct = rng.rand(50, 9) < 0.6
    expected = []
    for row in correct.tolist():
        if not any(row):
            expected.append(len(row))
        else:
            expected.append(sum(a and not b for a, b in zip(row[:-1], row[1:])))
    np.testing.assert_array_equal(forgetting(correct), expected)


# ---- aum ----------------------------------------------------------------------


def test_aum_hand_values_and_direction():
    margins = np.array([[2.0, 4.0, 6.0], [-1.0, 0.0, 1.0], [-3.0, -3.0, 0.0]])
    out = aum(margins)
    np.testing.assert_allclose(out, [-4.0, 0.0, 2.0])
    assert out[0] < out[1] < out[2]  # low AUM (hard) -> high importance


# ---- dyn_unc ------------------------------------------------------------------


def test_dyn_unc_hand_values():
    p = np.array([[0.2, 0.4, 0.2, 0.4], [0.7, 0.7, 0.7, 0.7]])
    np.testing.assert_allclose(dyn_unc(p, window=2), [0.1, 0.0])
    # Windows [.2, .4, .2] and [.4, .2, .4] both have std sqrt(2) / 15.
    np.testing.assert_allclose(
        dyn_unc(p, window=3), [math.sqrt(2) / 15, 0.0], atol=1e-12
    )


def test_dyn_unc_window_longer_than_run_uses_all_epochs():
    p = np.array([[0.1, 0.5, 0.9]])
    np.testing.assert_allclose(dyn_unc(p, window=10), [_pstd([0.1, 0.5, 0.9])])
    np.testing.assert_allclose(dyn_unc(p, window=10), dyn_unc(p, window=3))


def test_dyn_unc_matches_loop_reference():
    rng = np.random.RandomState(1)
    p = rng.rand(20, 12)
    for window in (1, 4, 12):
        expected = [
            np.mean([_pstd(row[k : k + window]) for k in range(12 - window + 1)])
            for row in p.tolist()
        ]
        np.testing.assert_allclose(dyn_unc(p, window=window), expected)


def test_windowed_scores_are_the_same_when_rows_are_processed_in_blocks(monkeypatch):
    rng = np.random.RandomState(2)
    p = rng.rand(37, 15)
    whole = [dyn_unc(p, 4), tdds(p, 4, 0.7), dual(p, 4)]
    monkeypatch.setattr(_dynamics, "_BLOCK_ELEMENTS", 50)  # a few rows per block
    for before, after in zip(whole, [dyn_unc(p, 4), tdds(p, 4, 0.7), dual(p, 4)]):
        np.testing.assert_allclose(after, before)


# ---- tdds ---------------------------------------------------------------------


def test_tdds_hand_values():
    change = np.array([[0.0, 1.0, 3.0, 2.0, 4.0], [0.0, 2.0, 2.0, 2.0, 2.0]])
    # d = [1, 3, 2, 4]; windows of 2 have variances [1, .25, 1], weighted
    # .5 * .5**2, .5 * .5, .5: 0.125 + 0.0625 + 0.5.
    np.testing.assert_allclose(tdds(change, window=2, beta=0.5), [0.6875, 0.0])


def test_tdds_ignores_epoch_zero_and_respects_horizon():
    change = np.array([[0.0, 1.0, 3.0, 2.0, 4.0]])
    shifted = change.copy()
    shifted[0, 0] = 100.0
    np.testing.assert_allclose(tdds(shifted, 2, 0.5), tdds(change, 2, 0.5))
    # horizon=3 keeps d = [1, 3, 2]: variances [1, .25] -> .5 * .5 * 1 + .5 * .25.
    np.testing.assert_allclose(tdds(change, 2, 0.5, horizon=3), [0.375])


def test_tdds_window_longer_than_horizon_and_beta_one():
    change = np.array([[0.0, 1.0, 3.0, 2.0, 4.0]])
    # One window of all d: beta * var([1, 3, 2, 4]) = 0.5 * 1.25.
    np.testing.assert_allclose(tdds(change, window=10, beta=0.5), [0.625])
    # beta=1 keeps only the most recent window ([2, 4], variance 1).
    np.testing.assert_allclose(tdds(change, window=2, beta=1.0), [1.0])


def test_tdds_matches_loop_reference():
    rng = np.random.RandomState(3)
    change = rng.rand(15, 11)
    change[:, 0] = 0.0
    for window, beta, horizon in [(3, 0.9, None), (1, 0.3, 6), (5, 0.6, 10)]:
        expected = []
        for row in change.tolist():
            d = row[1 : (horizon or 10) + 1]
            n_windows = len(d) - window + 1
            expected.append(
                sum(
                    _pvar(d[k : k + window]) * beta * (1 - beta) ** (n_windows - 1 - k)
                    for k in range(n_windows)
                )
            )
        np.testing.assert_allclose(tdds(change, window, beta, horizon), expected)


def test_tdds_weighs_recent_windows_most():
    # Same spread, early versus late: with beta > 0.5, the late one scores higher.
    early = [0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    late = [0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 1.0]
    out = tdds(np.array([early, late]), window=3, beta=0.9)
    assert out[1] > out[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 5}, "horizon"),
        ({"horizon": 2.0}, "horizon"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.5}, "beta"),
        ({"window": 0}, "window"),
    ],
)
def test_tdds_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tdds(np.zeros((2, 5)), **kwargs)


def test_tdds_needs_two_epochs():
    with pytest.raises(ValueError, match="two recorded epochs"):
        tdds(np.zeros((3, 1)))


# ---- dual ---------------------------------------------------------------------


def test_dual_hand_values():
    p = np.array([[0.2, 0.4, 0.6, 0.8], [0.9, 0.9, 0.9, 0.9]])
    # Windows of 2: std .1 each, means .3, .5, .7 -> (.07 + .05 + .03) / 3.
    np.testing.assert_allclose(dual(p, window=2), [0.05, 0.0])
    # One window of all four epochs: std sqrt(.05), mean .5.
    np.testing.assert_allclose(dual(p, window=9), [math.sqrt(0.05) * 0.5, 0.0])


def test_dual_prefers_low_confidence_among_equal_uncertainty():
    p = np.array([[0.1, 0.3, 0.1, 0.3], [0.7, 0.9, 0.7, 0.9]])
    out = dual(p, window=2)
    assert out[0] > out[1] > 0


def test_dual_matches_loop_reference():
    rng = np.random.RandomState(4)
    p = rng.rand(20, 9)
    expected = []
    for row in p.tolist():
        values = [
            _pstd(row[k : k + 4]) * (1 - sum(row[k : k + 4]) / 4) for k in range(6)
        ]
        expected.append(sum(values) / len(values))
    np.testing.assert_allclose(dual(p, window=4), expected)


# ---- shared validation ------------------------------------------------------------


@pytest.mark.parametrize("func", [forgetting, aum, dyn_unc, dual, tdds])
def test_dynamics_scores_reject_non_2d_input(func):
    with pytest.raises(ValueError, match="n_epochs"):
        func(np.zeros(4))


@pytest.mark.parametrize("func", [aum, dyn_unc, dual, tdds])
def test_dynamics_scores_reject_nan(func):
    with pytest.raises(ValueError, match="NaN"):
        func(np.array([[0.0, np.nan, 0.1]]))


@pytest.mark.parametrize("func", [dyn_unc, dual])
@pytest.mark.parametrize("window", [0, -1, 2.5, True])
def test_bad_window_raises(func, window):
    with pytest.raises(ValueError, match="window"):
        func(np.zeros((2, 4)), window=window)
