import numpy as np
import pytest

from helpers import TRAINING_LOG, RowTrackingClassifier, tiny_net, with_row_ids
from skunseen import FittingPruner, UnseenPruner


def test_models_score_the_rows_they_trained_on(small_digits):
    X, y = small_digits
    TRAINING_LOG.clear()
    FittingPruner(RowTrackingClassifier(), n_repeats=2, random_state=0).fit(with_row_ids(X), y)
    assert len(TRAINING_LOG) == 2
    for train_rows, scored_rows in TRAINING_LOG:
        assert train_rows == scored_rows == set(range(len(X)))


def test_fitting_scores_pile_up_below_unseen_scores(small_digits):
    """The premise of UNSEEN: a model that fits a sample scores it as easy."""
    X, y = small_digits
    net = tiny_net(max_epochs=15)
    fitting = FittingPruner(net, random_state=0).fit(X, y)
    unseen = UnseenPruner(net, cv=3, random_state=0).fit(X, y)
    assert fitting.scores_.mean() < unseen.scores_.mean()
    assert fitting.train_proba_.shape == (300, 10)
    assert (fitting.train_proba_.argmax(1) == y).mean() > (unseen.oof_proba_.argmax(1) == y).mean()


def test_dynamics_and_determinism(small_digits):
    X, y = small_digits
    a = FittingPruner(tiny_net(max_epochs=3), scorer="forgetting", keep=0.4, random_state=3)
    b = FittingPruner(tiny_net(max_epochs=3), scorer="forgetting", keep=0.4, random_state=3)
    np.testing.assert_array_equal(a.fit(X, y).sample_indices_, b.fit(X, y).sample_indices_)
    assert len(a.sample_indices_) == 120


def test_fitting_has_no_cv_parameter():
    with pytest.raises(TypeError):
        FittingPruner(cv=3)
