"""``select`` on a pruner's scores gives its coreset where the rule draws nothing."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skunseen import UnseenPruner
from skunseen.selection import select


@pytest.mark.parametrize("selector", ["hard", "easy", "moderate"])
@pytest.mark.parametrize("class_budget", ["proportional", "balanced", None])
def test_rules_without_draws_reproduce_the_coreset(small_digits, selector, class_budget):
    X, y = small_digits
    pruner = UnseenPruner(LogisticRegression(max_iter=200), selector=selector, keep=0.4,
                          class_budget=class_budget, cv=3, random_state=0).fit(X, y)
    rows = select(pruner.scores_, y, len(pruner.sample_indices_), selector=selector,
                  class_budget=class_budget, random_state=123)
    np.testing.assert_array_equal(rows, pruner.sample_indices_)
