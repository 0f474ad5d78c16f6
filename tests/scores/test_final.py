import math

import numpy as np
import pytest

from skunseen.scores import LOG_EPS, el2n, entropy, loss, margin


def _random_proba(rng, n, n_classes):
    return rng.dirichlet(np.ones(n_classes) * 0.5, size=n)


# ---- hand-computed cases ---------------------------------------------------


def test_el2n_hand_values():
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    y = np.array([0, 1, 0])
    # [0, 0, 0]; [.5, -.5, 0]; [-.8, .3, .5]
    expected = [0.0, math.sqrt(0.5), math.sqrt(0.64 + 0.09 + 0.25)]
    np.testing.assert_allclose(el2n(proba, y), expected)


def test_el2n_averages_per_epoch_norms():
    # Epoch 0: ||[0, 0]|| = 0; epoch 1: ||[-1, 1]|| = sqrt(2).
    proba = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    np.testing.assert_allclose(el2n(proba, [0]), [math.sqrt(2) / 2])
    # Norm of the mean would be ||[-.5, .5]|| = .7071 as well, so also check a
    # case where mean of norms and norm of mean differ.
    proba = np.array([[[0.5, 0.5], [1.0, 0.0]]])
    np.testing.assert_allclose(el2n(proba, [1]), [(math.sqrt(0.5) + math.sqrt(2)) / 2])


def test_loss_hand_values_and_clipping():
    proba = np.array([[0.25, 0.75], [1.0, 0.0], [1.0, 0.0]])
    out = loss(proba, [1, 0, 1])
    np.testing.assert_allclose(out, [-math.log(0.75), 0.0, -math.log(LOG_EPS)])
    assert np.all(np.isfinite(out))
    assert not np.signbit(out[1])  # 0.0, not -0.0


def test_entropy_hand_values():
    proba = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(entropy(proba), [0.0, math.log(3), math.log(2)])
    np.testing.assert_allclose(entropy(proba, y=[0, 1, 2]), entropy(proba))


def test_margin_hand_values():
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])
    # -(0.7 - 0.2), -(0.2 - 0.5), -(0.4 - 0.4)
    np.testing.assert_allclose(margin(proba, [0, 0, 1]), [-0.5, 0.3, 0.0])


# ---- independent loop references -------------------------------------------


def test_final_scores_match_loop_reference():
    rng = np.random.RandomState(0)
    proba = _random_proba(rng, 40, 5)
    y = rng.randint(0, 5, size=40)
    ref_el2n, ref_loss, ref_entropy, ref_margin = [], [], [], []
    for p, label in zip(proba.tolist(), y.tolist()):
        ref_el2n.append(
            math.sqrt(sum((pc - (c == label)) ** 2 for c, pc in enumerate(p)))
        )
        ref_loss.append(-math.log(max(p[label], LOG_EPS)))
        ref_entropy.append(-sum(pc * math.log(pc) for pc in p if pc > 0))
        ref_margin.append(-(p[label] - max(pc for c, pc in enumerate(p) if c != label)))
    np.testing.assert_allclose(el2n(proba, y), ref_el2n)
    np.testing.assert_allclose(loss(proba, y), ref_loss)
    np.testing.assert_allclose(entropy(proba), ref_entropy)
    np.testing.assert_allclose(margin(proba, y), ref_margin)


def test_el2n_epochs_match_loop_reference():
    rng = np.random.RandomState(1)
    proba = np.stack([_random_proba(rng, 12, 4) for _ in range(3)], axis=1)
    y = rng.randint(0, 4, size=12)
    expected = [
        np.mean([el2n(proba[i : i + 1, e], y[i : i + 1])[0] for e in range(3)])
        for i in range(12)
    ]
    np.testing.assert_allclose(el2n(proba, y), expected)


# ---- directions, dtypes, edge cases -----------------------------------------


@pytest.mark.parametrize("scorer", [el2n, loss, margin])
def test_confident_correct_is_easier_than_wrong(scorer):
    proba = np.array([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9]])
    out = scorer(proba, np.array([0, 0, 0]))
    assert out.dtype == np.float64 and out.shape == (3,)
    assert out[0] < out[1] < out[2]


def test_entropy_is_higher_when_less_certain():
    proba = np.array([[0.95, 0.05], [0.6, 0.4], [0.5, 0.5]])
    out = entropy(proba)
    assert out[0] < out[1] < out[2]


def test_integer_valued_float_labels_are_accepted():
    proba = np.array([[0.7, 0.3], [0.2, 0.8]])
    np.testing.assert_allclose(loss(proba, np.array([0.0, 1.0])), loss(proba, [0, 1]))


@pytest.mark.parametrize("scorer", [el2n, loss, margin])
@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 2], r"\[0, 2\)"),
        ([0, -1], r"\[0, 2\)"),
        ([0.5, 1], "integer"),
        ([0], "shape"),
    ],
)
def test_bad_labels_raise(scorer, y, match):
    with pytest.raises(ValueError, match=match):
        scorer(np.array([[0.5, 0.5], [0.5, 0.5]]), y)


@pytest.mark.parametrize(
    "proba, match",
    [
        (np.ones(3) / 3, "shape"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.array([[1.5, -0.5]]), r"\[0, 1\]"),
    ],
)
def test_bad_proba_raises(proba, match):
    with pytest.raises(ValueError, match=match):
        loss(proba, [0] * len(np.atleast_2d(proba)))


def test_only_el2n_takes_an_epoch_axis():
    with pytest.raises(ValueError, match="shape"):
        loss(np.full((2, 3, 2), 0.5), [0, 1])


def test_margin_needs_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        margin(np.ones((2, 1)), [0, 0])
