"""Training one scoring model and recording its outputs on the rows it scores.

For UNSEEN those rows are the held-out fold (the model never trains on them);
for the fitting baseline they are the training rows themselves. The recording
is read-only with respect to training: it runs in eval mode without gradients
and restores the global RNG state afterwards, so a net trained with the
recorder attached ends with exactly the weights it would have without it, and
nothing it records reaches the history that early stopping or checkpointing
read.
"""

import functools
import time

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.net import NeuralNet
from sklearn.base import clone

from ._data import as_net_input, take_rows
from .scores import EPOCH_STATISTICS, ScoringRecords, epoch_statistics


def is_skorch_net(estimator):
    return isinstance(estimator, NeuralNet)


def describe(estimator):
    return f"estimator {type(estimator).__name__}"


class HeldOutRecorder(Callback):
    """skorch callback recording a net's outputs on given rows at every epoch.

    At the end of every epoch the net predicts ``X`` (eval mode, no gradient,
    the net's own ``iterator_valid``) and the recorder keeps the reduced
    per-sample statistics of :data:`skunseen.scores.EPOCH_STATISTICS`; at the
    end of training it keeps the final class probabilities. State lives in
    trailing-underscore attributes that are reset when training begins.

    Parameters
    ----------
    X : array-like, tensor or Dataset
        The rows to record, in the form the net consumes.
    y : array-like of int of shape (n_samples,)
        Their encoded labels.
    every_epoch : bool, default=True
        Record per-epoch statistics (training dynamics). ``False`` records only
        the final probabilities.

    Attributes
    ----------
    epochs_ : dict of str to list of ndarray
        One array of shape (n_samples,) per epoch for every statistic.
    proba_ : ndarray of shape (n_samples, n_classes)
        Final class probabilities, set when training ends.
    seconds_ : float
        Time spent recording.

    See Also
    --------
    skunseen.scores.ScoringRecords : what the recorded outputs become.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skunseen import HeldOutRecorder
    >>> X = np.random.RandomState(0).randn(40, 3).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> recorder = HeldOutRecorder(X[30:], y[30:])
    >>> net = NeuralNetClassifier(torch.nn.Linear(3, 2), max_epochs=4,
    ...                           criterion=torch.nn.CrossEntropyLoss,
    ...                           train_split=None, verbose=0,
    ...                           callbacks=[("recorder", recorder)])
    >>> _ = net.fit(X[:30], y[:30])
    >>> len(recorder.epochs_["correct"]), recorder.proba_.shape
    (4, (10, 2))
    """

    def __init__(self, X, y, every_epoch=True):
        self.X = X
        self.y = y
        self.every_epoch = every_epoch

    def on_train_begin(self, net, **kwargs):
        self.epochs_ = {name: [] for name in EPOCH_STATISTICS}
        self.proba_ = None
        self.seconds_ = 0.0
        self._previous_log_proba = None

    def on_epoch_end(self, net, **kwargs):
        if not self.every_epoch:
            return
        log_proba = self._log_proba(net)
        labels = torch.as_tensor(np.asarray(self.y), device=log_proba.device)
        stats = epoch_statistics(log_proba, labels, self._previous_log_proba)
        self._previous_log_proba = log_proba
        for name, values in stats.items():
            self.epochs_[name].append(values.cpu().numpy())

    def on_train_end(self, net, **kwargs):
        # A second pass rather than the last epoch's outputs: callbacks such as
        # checkpoint restoring may have changed the weights after that epoch.
        self.proba_ = self._log_proba(net).exp().cpu().numpy()
        self._previous_log_proba = None

    def _log_proba(self, net):
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            outputs = [
                out[0] if isinstance(out, tuple) else out
                for out in net.forward_iter(self.X, training=False, device=net.device)
            ]
            log_proba = _to_log_proba(net, torch.cat(outputs).float())
        self.seconds_ += time.perf_counter() - start
        return log_proba

    def records(self, indices, model="the scoring model"):
        """The recorded outputs as :class:`~skunseen.scores.ScoringRecords`."""
        epochs = {}
        if self.every_epoch and self.epochs_["correct"]:
            epochs = {name: np.stack(values, axis=1) for name, values in self.epochs_.items()}
        return ScoringRecords(
            indices=np.asarray(indices, dtype=np.int64),
            y=np.asarray(self.y, dtype=np.int64),
            proba=self.proba_,
            epochs=epochs,
            model=model,
        )


def _to_log_proba(net, outputs):
    nonlinearity = net._get_predict_nonlinearity()
    if isinstance(nonlinearity, functools.partial) and nonlinearity.func is torch.softmax:
        return torch.log_softmax(outputs, dim=-1)
    return torch.log(nonlinearity(outputs).clamp_min(torch.finfo(torch.float32).tiny))


def fit_and_record(estimator, X, y, train_indices, score_indices, *, n_classes, seed,
                   record_dynamics, device=None):
    """Clone and train ``estimator`` on ``train_indices``; record ``score_indices``.

    Parameters
    ----------
    estimator : skorch NeuralNet or scikit-learn classifier with predict_proba
        The unfitted scoring model (it is cloned).
    X : array-like, tensor, DataFrame or Dataset
        All rows of the caller's data.
    y : ndarray of int
        Encoded labels of all rows.
    n_classes : int
        Number of classes in the whole data.
    train_indices, score_indices : ndarray of int
        Rows the clone trains on, and rows whose outputs it records.
    seed : int
        Seed of this model's randomness (initialisation, shuffling).
    record_dynamics : bool
        Record per-epoch statistics (skorch nets only).
    device : str or None
        Overrides a skorch net's ``device`` when given.

    Returns
    -------
    records : ScoringRecords
        Rows ``score_indices`` with the model's outputs on them.
    info : dict
        ``seconds`` spent and ``n_epochs`` trained (0 without dynamics).
    """
    start = time.perf_counter()
    model = clone(estimator)
    X_train, X_score = take_rows(X, train_indices), take_rows(X, score_indices)
    y_train, y_score = y[train_indices], y[score_indices]
    if is_skorch_net(model):
        X_train, X_score = as_net_input(X_train), as_net_input(X_score)
        records, n_epochs = _fit_net(model, X_train, y_train, X_score, y_score, score_indices,
                                     n_classes=n_classes, seed=seed,
                                     record_dynamics=record_dynamics, device=device)
    else:
        records, n_epochs = _fit_classifier(model, X_train, y_train, X_score, y_score,
                                            score_indices, seed=seed, n_classes=n_classes)
    return records, {"seconds": time.perf_counter() - start, "n_epochs": n_epochs}


def _fit_net(net, X_train, y_train, X_score, y_score, score_indices, *, n_classes, seed,
             record_dynamics, device):
    recorder = HeldOutRecorder(X_score, y_score, every_epoch=record_dynamics)
    callbacks = net.callbacks if isinstance(net.callbacks, list) else []
    params = {"callbacks": [*callbacks, ("skunseen_recorder", recorder)]}
    if device is not None:
        params["device"] = device
    net.set_params(**params)
    torch.manual_seed(seed)
    net.fit(X_train, y_train.astype(np.int64))
    records = recorder.records(score_indices, model=describe(net))
    if records.proba.shape[1] != n_classes:
        raise ValueError(
            f"The net outputs {records.proba.shape[1]} classes but y has {n_classes}; "
            "set the module's number of outputs (e.g. module__n_classes) to match."
        )
    return records, len(net.history)


def _fit_classifier(model, X_train, y_train, X_score, y_score, score_indices, *, seed,
                    n_classes):
    if "random_state" in model.get_params(deep=False):
        model.set_params(random_state=seed)
    model.fit(X_train, y_train)
    # A model trained on rows lacking some class has fewer predict_proba
    # columns: place them by the model's classes_ so columns stay aligned.
    proba = np.zeros((len(score_indices), n_classes), dtype=np.float64)
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(X_score)
    return ScoringRecords(indices=np.asarray(score_indices, dtype=np.int64), y=y_score,
                          proba=proba, model=describe(model)), 0
