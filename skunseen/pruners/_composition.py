"""Pruners inside Pipelines: a classifier trained on the coreset, and a sampler."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_method_params, check_is_fitted, column_or_1d

from .. import nets
from ..engine import aligned_columns


def _inner_has(method):
    """Whether the trained classifier (or, unfitted, the one given) has ``method``.

    ``estimator=None`` builds a skorch net, which has ``predict_proba`` only.
    """
    def check(self):
        inner = getattr(self, "estimator_", self.estimator)
        if inner is None:
            return method == "predict_proba"
        return hasattr(inner, method)

    return check


class PrunedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train a classifier on the coreset a pruner selects.

    ``fit`` prunes the training data with a clone of ``pruner`` and trains a
    clone of ``estimator`` on the coreset; ``predict``, ``predict_proba`` and
    ``score`` use that classifier on any data (they never prune). Inside a
    Pipeline this makes pruning parameters grid-searchable against the
    accuracy of the model trained on the coreset.

    Parameters
    ----------
    pruner : estimator with ``fit_resample``
        An :class:`UnseenPruner`, :class:`MultiStepUnseenPruner` or
        :class:`FittingPruner`.
    estimator : classifier, default=None
        The classifier trained on the coreset. ``None`` builds the default
        skorch net from the shape of X (see :func:`skunseen.models.make_net`).
        A skorch net receives float32 inputs (uint8 images stay uint8 for
        the fast path) and integer-encoded labels (float 0/1 for a
        ``NeuralNetBinaryClassifier``); predictions are mapped back to the
        original labels. ``predict`` uses the classifier's ``predict``;
        ``predict_proba`` and ``decision_function`` exist when it has them.

    Attributes
    ----------
    pruner_ : estimator
        The fitted clone of ``pruner``.
    estimator_ : classifier
        The clone of ``estimator`` trained on the coreset.
    classes_ : ndarray of shape (n_classes,)
        The class labels of the full training data.
    sample_indices_ : ndarray
        The coreset rows of the training data.

    See Also
    --------
    PruningSampler : the same pruning as an imbalanced-learn sampler step.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skunseen import PrunedClassifier, UnseenPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), PrunedClassifier(
    ...     UnseenPruner(LogisticRegression(max_iter=200), cv=3, random_state=0),
    ...     LogisticRegression(max_iter=200)))
    >>> search = GridSearchCV(model, {"prunedclassifier__pruner__keep": [0.3, 0.7]},
    ...                       cv=3).fit(X, y)
    >>> search.best_params_
    {'prunedclassifier__pruner__keep': 0.7}
    """

    _parameter_constraints = {
        "pruner": [HasMethods(["fit_resample"])],
        "estimator": [None, HasMethods(["fit", "predict"])],
    }

    def __init__(self, pruner, estimator=None):
        self.pruner = pruner
        self.estimator = estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **params):
        """Prune (X, y) and train the classifier on the coreset.

        A fit that raises leaves the classifier exactly as it was.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,)
            Labels.
        **params : dict
            ``groups`` for the pruner's folds, and, through scikit-learn's
            metadata routing, metadata such as ``sample_weight`` for the
            pruner's scoring estimators and for ``estimator`` (restricted to
            the coreset rows): ``sklearn.set_config(enable_metadata_routing=True)``,
            then request it from each, e.g. ``estimator.set_fit_request(sample_weight=True)``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        routed = self._route(params)
        if y is not None and np.asarray(y).ndim == 2:
            y = column_or_1d(y, warn=True)  # as the pruner's own validation does
        pruner = clone(self.pruner)
        X_core, y_core = pruner.fit_resample(X, y, **routed["pruner"]["fit"])
        classes = pruner.classes_
        estimator = self._make_estimator(X_core, classes, pruner)
        estimator_params = _check_method_params(X, routed["estimator"]["fit"],
                                                pruner.sample_indices_)
        nets.fit_model(estimator, X_core, np.searchsorted(classes, np.asarray(y_core)),
                       **estimator_params)
        self.pruner_, self.estimator_, self.classes_ = pruner, estimator, classes
        self.sample_indices_ = pruner.sample_indices_
        _copy_input_attributes(pruner, self)
        return self

    def _route(self, params):
        """``{"pruner": {"fit": ...}, "estimator": {"fit": ...}}`` from the fit parameters."""
        if _routing_enabled():
            return process_routing(self, "fit", **params)
        routed = {"pruner": {"fit": {}}, "estimator": {"fit": {}}}
        if "groups" in params:
            routed["pruner"]["fit"]["groups"] = params["groups"]
        others = sorted(set(params) - {"groups"})
        if others:
            raise TypeError(
                f"PrunedClassifier.fit got {others}; besides groups, fit parameters reach "
                "the pruner and the estimator through scikit-learn's metadata routing only: "
                "call sklearn.set_config(enable_metadata_routing=True) and request them, "
                "e.g. estimator.set_fit_request(sample_weight=True)."
            )
        return routed

    def get_metadata_routing(self):
        """How ``fit`` routes metadata: to the pruner and to the estimator.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            ``fit`` routes to the pruner's ``fit`` and the estimator's ``fit``.
        """
        return MetadataRouter(owner=self).add(
            pruner=self.pruner, method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        ).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def _make_estimator(self, X_core, classes, pruner):
        if self.estimator is not None:
            return clone(self.estimator)
        from .._data import sample_shape
        from ..models import make_net

        return make_net("auto", input_shape=sample_shape(X_core), n_classes=len(classes),
                        device=getattr(pruner, "device", "auto"))


    def _columns(self, raw, fill):
        """Columns of the inner classifier's output placed by ``classes_``.

        A coreset without some class gives a classifier with fewer columns;
        those classes get ``fill``.
        """
        known = getattr(self.estimator_, "classes_", np.arange(raw.shape[1]))
        return aligned_columns(raw, known, len(self.classes_), fill=fill)

    def predict(self, X):
        """Predict labels with the classifier trained on the coreset.

        Parameters
        ----------
        X : array-like
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, in the original label space.
        """
        check_is_fitted(self, "estimator_")
        encoded = np.asarray(self.estimator_.predict(nets.model_input(self.estimator_, X)))
        return self.classes_[encoded.astype(np.int64)]

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the classifier trained on the coreset.

        Only available when the inner classifier has ``predict_proba``.

        Parameters
        ----------
        X : array-like
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            One column per entry of ``classes_`` (zero for a class the
            coreset lacked).
        """
        check_is_fitted(self, "estimator_")
        raw = np.asarray(self.estimator_.predict_proba(nets.model_input(self.estimator_, X)))
        return self._columns(raw, 0)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the classifier trained on the coreset.

        Only available when the inner classifier has ``decision_function``.

        Parameters
        ----------
        X : array-like
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The inner classifier's scores: one column per entry of
            ``classes_`` (``-inf`` for a class the coreset lacked), or one
            value per sample for two classes, as scikit-learn's binary
            classifiers give.
        """
        check_is_fitted(self, "estimator_")
        raw = np.asarray(self.estimator_.decision_function(nets.model_input(self.estimator_, X)))
        if raw.ndim == 1:
            if len(self.classes_) != 2:
                raise ValueError(
                    "The coreset held two of the classes, so the inner classifier's "
                    "decision_function scores one against the other and cannot be read "
                    f"for all {len(self.classes_)} classes; use predict_proba."
                )
            return raw
        return self._columns(raw, -np.inf)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class PruningSampler(BaseEstimator):
    """A pruner as an imbalanced-learn sampler (``fit_resample`` only).

    imbalanced-learn's Pipeline applies a step's ``fit_resample`` while
    fitting and skips it when predicting, which is exactly when pruning
    should happen. Pruners themselves also have ``transform``, which that
    Pipeline forbids in a sampler; this wrapper exposes ``fit_resample``
    alone. Requires ``pip install skunseen[imblearn]`` for the Pipeline.

    Parameters
    ----------
    pruner : estimator with ``fit_resample``
        The pruner to apply.

    Attributes
    ----------
    pruner_ : estimator
        The fitted clone of ``pruner`` from the last ``fit_resample``.
    sample_indices_ : ndarray
        The rows kept by the last ``fit_resample``.

    See Also
    --------
    PrunedClassifier : the same composition for scikit-learn Pipelines.

    Examples
    --------
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import PruningSampler, UnseenPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = make_pipeline(
    ...     PruningSampler(UnseenPruner(LogisticRegression(max_iter=200), keep=0.5,
    ...                                 cv=3, random_state=0)),
    ...     LogisticRegression(max_iter=200)).fit(X / 16, y)
    >>> len(pipe[0].sample_indices_)
    898
    """

    _parameter_constraints = {"pruner": [HasMethods(["fit_resample"])]}

    def __init__(self, pruner):
        self.pruner = pruner

    def fit(self, X, y, **params):
        """Fit the pruner; see :meth:`fit_resample`.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like of shape (n_samples,)
            Labels.
        **params : dict
            Passed to the pruner's ``fit`` (see :meth:`BasePruner.fit`).

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y, **params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y, **params):
        """Return the coreset rows of X and their labels.

        A call that raises leaves the sampler exactly as it was.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like of shape (n_samples,)
            Labels.
        **params : dict
            Passed to the pruner's ``fit`` (see :meth:`BasePruner.fit`).

        Returns
        -------
        X_core, y_core : array-like
            The coreset rows and labels, in the caller's types.
        """
        pruner = clone(self.pruner)
        X_core, y_core = pruner.fit_resample(X, y, **params)
        self.pruner_, self.sample_indices_ = pruner, pruner.sample_indices_
        _copy_input_attributes(pruner, self)
        return X_core, y_core


def _copy_input_attributes(source, target):
    """Expose the wrapped pruner's description of its input features (and
    drop those of an earlier fit that the new input lacks)."""
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))
        else:
            target.__dict__.pop(name, None)
