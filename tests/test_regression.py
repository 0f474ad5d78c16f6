"""Coresets and scores frozen from main at 8f7aabd, before the engine was split out.

``tests/regression/regression_8f7aabd.json`` holds, for nine pruner configurations
on 300 digits (30 per class), the coreset rows and the scores (rounded to 6
decimals, ``null`` where a score is NaN) that the code at 8f7aabd computed.
Moving code must not move a single coreset row, on any machine.

What may differ between machines is rounding, so every check was measured
against it: the configurations were rerun here with OpenBLAS's kernels forced to
other CPUs (``OPENBLAS_CORETYPE`` Haswell, Sandybridge, Nehalem, Prescott,
Core2, Zen; numpy and scipy use OpenBLAS, see ``threadpoolctl``), with 1 and 2
BLAS/OpenMP threads, and with torch's kernels forced to AVX2 and to plain code
(``ATEN_CPU_CAPABILITY``, ``MKL_CBWR``):

- The LogisticRegression cases score **float64** digits. On float32 input,
  scikit-learn's lbfgs runs in float32 and stops (at ``tol``) on an iterate
  that BLAS rounding moves: the scores moved by up to 6.8e-3, the single-step
  ccs coresets kept as few as 96 of the same 120 rows and the multistep ones
  79 of 150 (chance level), so no bound on them could catch a regression. On
  float64 input the scores moved by at most 4e-12 and no coreset row changed.
- The nets train in float32 with torch: the forgetting scores are counts and
  never moved; the EL2N scores moved by at most 3e-8, a thousandth of the
  smallest gap (3.2e-5) at the ``hard`` selection boundary of any class.

So the coresets are compared row for row, and the scores within 1e-6: the
JSON's rounding (at most 5e-7) plus more than ten times the largest movement
measured. A real regression moves far more than that: on the first case,
another seed or number of folds moved scores by 0.2 or more, a 10 % smaller
``C`` by 2e-2, and scoring the digits as float32 by 2e-3.
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
    rows = np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)])
    return X[rows] / 16, y[rows]


def test_every_frozen_case_is_covered():
    assert sorted(CASES) == sorted(FROZEN)


@pytest.mark.parametrize("name", sorted(CASES))
def test_coreset_and_scores_match_main_8f7aabd(digits300, name):
    X, y = digits300
    # float64 for LogisticRegression, whose float32 solutions depend on BLAS rounding.
    pruner = CASES[name]().fit(X if "_lr_" in name else X.astype(np.float32), y)
    frozen = FROZEN[name]
    np.testing.assert_array_equal(pruner.sample_indices_, frozen["sample_indices"])
    expected = np.array([np.nan if v is None else v for v in frozen["scores"]])
    np.testing.assert_allclose(pruner.scores_, expected, rtol=0, atol=1e-6)
