"""Coresets and scores frozen from main at 8f7aabd, before the engine was split out.

``tests/regression/regression_8f7aabd.json`` holds, for nine pruner configurations
on 300 digits (30 per class), the coreset rows and the scores (rounded to 6
decimals, ``null`` where a score is NaN) that main computed before issue 13.
Moving code must not move a single coreset row.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner
from skunseen.models import make_net

FROZEN = json.loads((Path(__file__).parent / "regression" / "regression_8f7aabd.json").read_text())


def _lr():
    return LogisticRegression(max_iter=300)


def _net():
    return make_net("mlp", input_shape=(64,), n_classes=10, device="cpu", max_epochs=3)


CASES = {
    "unseen_lr_el2n_ccs": lambda: UnseenPruner(_lr(), keep=0.4, cv=5, random_state=0),
    "unseen_lr_margin_hard_repeats": lambda: UnseenPruner(
        _lr(), scorer="margin", selector="hard", keep=0.3, cv=3, n_repeats=2, random_state=1),
    "fitting_lr_el2n_ccs": lambda: FittingPruner(_lr(), keep=0.4, random_state=0),
    "unseen_net_forgetting_ccs": lambda: UnseenPruner(
        _net(), scorer="forgetting", keep=0.5, cv=4, random_state=0),
    "fitting_net_el2n_hard": lambda: FittingPruner(
        _net(), selector="hard", keep=0.5, random_state=0),
    **{
        f"multistep_lr_{budget}": (lambda budget=budget: MultiStepUnseenPruner(
            _lr(), keep=0.5, cv=3, n_steps=3, class_budget=budget, random_state=0))
        for budget in ("proportional", "balanced", "difficulty", None)
    },
}


@pytest.fixture(scope="module")
def digits300():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    rows = np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)])
    return X[rows], y[rows]


def test_every_frozen_case_is_covered():
    assert sorted(CASES) == sorted(FROZEN)


@pytest.mark.parametrize("name", sorted(CASES))
def test_coreset_and_scores_match_main_8f7aabd(digits300, name):
    X, y = digits300
    pruner = CASES[name]().fit(X, y)
    frozen = FROZEN[name]
    np.testing.assert_array_equal(pruner.sample_indices_, frozen["sample_indices"])
    expected = np.array([np.nan if v is None else v for v in frozen["scores"]])
    np.testing.assert_allclose(pruner.scores_, expected, rtol=0, atol=1e-6)
