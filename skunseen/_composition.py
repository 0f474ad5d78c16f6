"""Pruners inside Pipelines: a classifier trained on the coreset, and a sampler."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from ._data import as_net_input
from ._recording import is_skorch_net


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
        A skorch net receives float32 inputs and integer-encoded labels;
        predictions are mapped back to the original labels.

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
    def fit(self, X, y):
        """Prune (X, y) and train the classifier on the coreset.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self.pruner_ = clone(self.pruner)
        X_core, y_core = self.pruner_.fit_resample(X, y)
        self.classes_ = self.pruner_.classes_
        self.sample_indices_ = self.pruner_.sample_indices_
        _copy_input_attributes(self.pruner_, self)
        y_encoded = np.searchsorted(self.classes_, np.asarray(y_core))
        self.estimator_ = self._make_estimator(X_core)
        if is_skorch_net(self.estimator_):
            X_core, y_encoded = as_net_input(X_core), y_encoded.astype(np.int64)
        self.estimator_.fit(X_core, y_encoded)
        return self

    def _make_estimator(self, X_core):
        if self.estimator is not None:
            return clone(self.estimator)
        from ._data import sample_shape
        from .models import make_net

        return make_net("auto", input_shape=sample_shape(X_core), n_classes=len(self.classes_),
                        device=getattr(self.pruner_, "device", "auto"))

    def _model_input(self, X):
        return as_net_input(X) if is_skorch_net(self.estimator_) else X

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
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X):
        """Class probabilities from the classifier trained on the coreset.

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
        raw = np.asarray(self.estimator_.predict_proba(self._model_input(X)))
        # A coreset without some class gives a classifier with fewer columns.
        known = np.asarray(getattr(self.estimator_, "classes_", np.arange(raw.shape[1])))
        proba = np.zeros((raw.shape[0], len(self.classes_)), dtype=raw.dtype)
        proba[:, known.astype(np.int64)] = raw
        return proba

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

    def fit(self, X, y):
        """Fit the pruner; see :meth:`fit_resample`.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y):
        """Return the coreset rows of X and their labels.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        X_core, y_core : array-like
            The coreset rows and labels, in the caller's types.
        """
        self.pruner_ = clone(self.pruner)
        X_core, y_core = self.pruner_.fit_resample(X, y)
        self.sample_indices_ = self.pruner_.sample_indices_
        _copy_input_attributes(self.pruner_, self)
        return X_core, y_core


def _copy_input_attributes(source, target):
    """Expose the wrapped pruner's description of its input features."""
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))
