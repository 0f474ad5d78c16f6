"""scikit-learn's shared estimator checks, run against every estimator.

Every expected failure is listed in ``EXPECTED_FAILED_CHECKS`` with its reason;
nothing else may fail.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skunseen import (
    FittingPruner,
    MultiStepUnseenPruner,
    PrunedClassifier,
    PruningSampler,
    UnseenPruner,
)

# A pruner's transform returns a subset of the rows it was fitted on, by design:
# the checks below assume transform keeps n_samples or applies to any data.
_PRUNER_BY_DESIGN = {
    "check_transformer_general": "transform returns the coreset: fewer rows than X",
    "check_transformer_data_not_an_array": "transform returns the coreset: fewer rows than X",
    "check_fit_idempotent": "transform on data other than the fitted data raises: the "
                            "coreset of unseen data is undefined",
    "check_methods_subset_invariance": "transform refuses a subset of the fitted data "
                                       "instead of returning wrong rows",
    "check_methods_sample_order_invariance": "transform refuses reordered data instead of "
                                             "returning wrong rows",
}

EXPECTED_FAILED_CHECKS = {
    "UnseenPruner": _PRUNER_BY_DESIGN,
    "FittingPruner": _PRUNER_BY_DESIGN,
    "MultiStepUnseenPruner": _PRUNER_BY_DESIGN,
    "PrunedClassifier": {},
    "PruningSampler": {},
}


def lr():
    return LogisticRegression(max_iter=200)


ESTIMATORS = [
    UnseenPruner(lr(), cv=3, random_state=0),
    FittingPruner(lr(), random_state=0),
    MultiStepUnseenPruner(lr(), cv=3, random_state=0),
    PrunedClassifier(UnseenPruner(lr(), cv=3, random_state=0), lr()),
    PruningSampler(UnseenPruner(lr(), cv=3, random_state=0)),
]


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
