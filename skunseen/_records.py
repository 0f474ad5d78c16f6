"""Records of scoring models: the bottom layer that every other one reads.

A :class:`ScoringRecords` holds, for one scoring model and the rows it scores,
everything a scorer may read: the final class probabilities and, for models
with training dynamics (skorch nets), one reduced statistic per sample and
epoch. Reduced statistics instead of full per-epoch logits keep memory at
``O(n_samples * n_epochs)`` whatever the number of classes (1,000 for
ImageNet), which is what the dynamics scores need.

:class:`HeldOutRecords` gathers the records of all models of one round (the
folds of every repeat) and holds the one aggregation over repeats. The names
of what can be recorded besides the probabilities (the capabilities
:data:`DYNAMICS`, :data:`EMBEDDING`, :data:`GRAD_NORM`) are defined here
once. The module imports numpy only.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

#: Capability: per-epoch statistics (training dynamics) of every scored sample.
DYNAMICS = "dynamics"
#: Capability: penultimate-layer embeddings of the final model.
EMBEDDING = "embedding"
#: Capability: per-sample gradient norms of the loss (GraNd).
GRAD_NORM = "grad_norm"

#: Extras a scoring net can record besides the probabilities, with the
#: defaults of their options.
RECORDABLE_EXTRAS = {
    EMBEDDING: {},
    GRAD_NORM: {"last_layer": False, "epochs": None},
}

#: Per-epoch statistics recorded for every scored sample. Each is a function of
#: the model's log-probabilities at the end of one epoch and the label.
EPOCH_STATISTICS = (
    "correct",  # argmax == label
    "target_proba",  # p_y
    "logit_margin",  # z_y - max_{k != y} z_k (log-softmax differs by a constant)
    "el2n",  # ||softmax - onehot(y)||_2
    "loss",  # -log p_y
    "change",  # sum_c |p_c (log p_c - log p_c(previous epoch))|, 0 at epoch 0
)

#: Per-sample inputs the engine builds from the records for selection rules
#: that name them in their ``needs`` attribute, with what each is.
PRUNER_INPUTS = {
    "features": (
        "penultimate-layer embeddings, from the recorded 'embedding' extra of the "
        "first repeat's scoring models"
    ),
    "groups": (
        "the scoring model whose embedding each row's features are (embeddings of "
        "different models are not comparable)"
    ),
    "target_proba": (
        "mean over the recorded epochs of the probability of the label (the final "
        "probability for models without dynamics), averaged over repeats"
    ),
}

# The recorded extra each input is made of.
_INPUT_EXTRAS = {"features": EMBEDDING, "groups": EMBEDDING}


class TrainingDiverged(FloatingPointError):
    """A scoring model's training loss became NaN or infinite.

    ``args`` are the message and, once the executor knows it, the position
    of the task in its round.
    """


def check_probabilities(proba, who, *, fix):
    """Raise ``ValueError`` unless every row of ``proba`` is a probability distribution.

    Every scorer reads probabilities; logits or unnormalised scores would
    give scores and a coreset without meaning, silently.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        What a model's ``predict_proba`` returned.
    who : str
        Names the model in the message (``"The scoring estimator ..."``).
    fix : str
        What to do about it, for the message.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen._records import check_probabilities
    >>> check_probabilities(np.array([[0.2, 0.8]]), "The model", fix="-")
    >>> check_probabilities(np.array([[2.0, -1.0]]), "The model", fix="normalise")
    Traceback (most recent call last):
    ...
    ValueError: The model returns values that are not probabilities (every row must be >= 0 and sum to 1; got a row summing to 1 with a value of -1); normalise.
    """
    proba = np.asarray(proba)
    if proba.size == 0 or not np.isfinite(proba).all():
        return  # non-finite outputs are a diverged training, reported as such
    sums = proba.sum(axis=1)
    off = np.flatnonzero((proba.min(axis=1) < -_PROBA_TOLERANCE)
                         | (np.abs(sums - 1) > _PROBA_TOLERANCE))
    if len(off):
        row = off[0]
        raise ValueError(
            f"{who} returns values that are not probabilities (every row must be >= 0 "
            f"and sum to 1; got a row summing to {sums[row]:.4g} with a value of "
            f"{proba[row].min():.4g}); {fix}."
        )


# Float32 softmax outputs of 1,000 classes sum to 1 within about 1e-5.
_PROBA_TOLERANCE = 1e-3


def check_extra_requests(extras):
    """Normalise an ``extras`` request to ``{name: options}``, defaults filled in.

    Parameters
    ----------
    extras : iterable of str or dict of str to dict
        Names from :data:`RECORDABLE_EXTRAS`, or names mapped to options.

    Returns
    -------
    requests : dict of str to dict

    Raises
    ------
    ValueError
        For an unknown extra or option.

    Examples
    --------
    >>> from skunseen._records import check_extra_requests
    >>> check_extra_requests(("embedding",))
    {'embedding': {}}
    >>> check_extra_requests({"grad_norm": {"last_layer": True}})
    {'grad_norm': {'last_layer': True, 'epochs': None}}
    """
    if isinstance(extras, str):
        extras = (extras,)
    items = extras.items() if isinstance(extras, dict) else ((name, {}) for name in extras)
    requests = {}
    for name, options in items:
        if name not in RECORDABLE_EXTRAS:
            raise ValueError(
                f"Unknown extra {name!r} to record; HeldOutRecorder records "
                f"{sorted(RECORDABLE_EXTRAS)}."
            )
        if options is not None and not isinstance(options, dict):
            raise ValueError(
                f"The options of extra {name!r} must be a dict such as "
                f"{dict(RECORDABLE_EXTRAS[name])!r}; got {options!r}."
            )
        options = dict(options or {})
        unknown = sorted(set(options) - set(RECORDABLE_EXTRAS[name]))
        if unknown:
            raise ValueError(
                f"Unknown option(s) {unknown} for extra {name!r}; valid options: "
                f"{sorted(RECORDABLE_EXTRAS[name])}."
            )
        if not isinstance(options.get("last_layer", False), bool):
            raise ValueError(
                f"Option 'last_layer' of extra {name!r} must be True or False; got "
                f"{options['last_layer']!r}."
            )
        requests[name] = {**RECORDABLE_EXTRAS[name], **options}
    return requests


def input_extras(needs):
    """What must be recorded for the per-sample inputs ``needs``: ``{extra: options}``.

    Examples
    --------
    >>> from skunseen._records import input_extras
    >>> input_extras(("features", "groups")), input_extras(("target_proba",))
    ({'embedding': {}}, {})
    """
    return {_INPUT_EXTRAS[name]: {} for name in needs if name in _INPUT_EXTRAS}


@dataclass
class ScoringRecords:
    """What one scoring model produced on the rows it scores.

    Parameters
    ----------
    indices : ndarray of shape (n_samples,)
        Rows of the caller's data these records describe.
    y : ndarray of shape (n_samples,)
        Encoded labels (positions in ``classes_``) of those rows.
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities of the model at the end of its training.
    epochs : dict of str to ndarray of shape (n_samples, n_epochs)
        Per-epoch statistics (see :data:`EPOCH_STATISTICS`); empty for models
        without training dynamics such as plain scikit-learn classifiers.
    extras : dict of str to ndarray
        Further per-sample outputs that some scorers ask for (for example
        penultimate-layer embeddings), keyed by name, rows aligned with
        ``indices``.
    model : str
        A short description of the scoring model, used in error messages.

    See Also
    --------
    skunseen.scores.Scorer : turns records into one importance per sample.
    skunseen.scores.epoch_statistics : the per-epoch statistics held in ``epochs``.
    skunseen.nets.HeldOutRecorder : the skorch callback that records them.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import ScoringRecords
    >>> rec = ScoringRecords(indices=np.array([4, 7]), y=np.array([0, 1]),
    ...                      proba=np.array([[0.8, 0.2], [0.4, 0.6]]))
    >>> rec.n_samples, rec.has_dynamics
    (2, False)
    """

    indices: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    epochs: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    model: str = "the scoring model"

    @property
    def n_samples(self):
        return len(self.indices)

    @property
    def n_epochs(self):
        if not self.epochs:
            return 0
        return next(iter(self.epochs.values())).shape[1]

    @property
    def has_dynamics(self):
        return bool(self.epochs)

    def epoch(self, name):
        """Per-epoch statistic ``name`` as an array ``(n_samples, n_epochs)``.

        Raises a ``ValueError`` that says why when the model recorded none.
        """
        if name not in self.epochs:
            if not self.epochs:
                raise ValueError(
                    f"This scorer needs per-epoch records, but {self.model} has no "
                    "training dynamics. Use a skorch NeuralNet as `estimator`, or a "
                    "final-output scorer ('el2n', 'loss', 'entropy', 'margin')."
                )
            raise ValueError(
                f"Per-epoch statistic {name!r} was not recorded; recorded: "
                f"{sorted(self.epochs)}."
            )
        return self.epochs[name]

    def extra(self, name):
        """Extra per-sample output ``name``, with a clear error when missing."""
        if name not in self.extras:
            raise ValueError(
                f"This scorer needs {name!r} records, which {self.model} did not "
                f"produce; available: {sorted(self.extras) or 'none'}."
            )
        return self.extras[name]


@dataclass(frozen=True)
class Recording:
    """What a round of scoring models records besides the final probabilities.

    Parameters
    ----------
    dynamics : bool, default=False
        Per-epoch statistics (skorch nets only).
    extras : dict of str to dict, default={}
        Extras and their options (see :func:`check_extra_requests`).

    Examples
    --------
    >>> from skunseen._records import Recording
    >>> full = Recording(dynamics=True, extras={"embedding": {}})
    >>> full.as_key()
    {'record_dynamics': True, 'extras': {'embedding': {}}}
    """

    dynamics: bool = False
    extras: dict = field(default_factory=dict)

    def as_key(self):
        """The recording as it enters a store key (JSON-compatible)."""
        key = {"record_dynamics": bool(self.dynamics)}
        if self.extras:
            key["extras"] = self.extras
        return key


@dataclass
class HeldOutRecords:
    """The records of every scoring model of one round, and their average over repeats.

    What :func:`skunseen.cross_val_records` returns: with out-of-fold
    models, every row in ``rows`` is scored once per repeat by a model that
    never trained on it.

    Parameters
    ----------
    records : list of ScoringRecords
        One per scoring model, in task order.
    repeats : ndarray of int of shape (n_models,)
        The repeat of every model; the models of one repeat score every row
        of ``rows`` exactly once.
    rows : ndarray of int of shape (n_rows,)
        The sorted rows of the caller's data that the models score.
    y : ndarray of int of shape (n_rows,)
        Their encoded labels (positions in ``classes``).
    classes : ndarray of shape (n_classes,)
        The class labels; ``records[k].y`` are positions in it.
    fold_ids : ndarray of int of shape (n_repeats, n_samples), default=None
        The held-out fold of every sample in every repeat (-1: not held
        out), for out-of-fold rounds.
    task_info : list of dict, default=[]
        Per model: its ``task`` name, training ``seconds`` and ``n_epochs``,
        whether it trained ``batched`` and whether it was ``resumed`` from
        the store (``memory``).

    See Also
    --------
    skunseen.cross_val_records : computes them.
    skunseen.unseen_scores : the importances they give.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen import HeldOutRecords
    >>> from skunseen.scores import ScoringRecords
    >>> first = ScoringRecords(np.array([0, 1]), np.array([0, 1]),
    ...                        np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> second = ScoringRecords(np.array([0, 1]), np.array([0, 1]),
    ...                         np.array([[0.7, 0.3], [0.4, 0.6]]))
    >>> held = HeldOutRecords([first, second], repeats=np.array([0, 1]),
    ...                       rows=np.array([0, 1]), y=np.array([0, 1]),
    ...                       classes=np.array(["cat", "dog"]))
    >>> held.proba
    array([[0.8, 0.2],
           [0.3, 0.7]])
    >>> held.average(lambda records: records.proba[:, 0])
    array([0.8, 0.3])
    """

    records: list
    repeats: np.ndarray
    rows: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    fold_ids: np.ndarray = None
    task_info: list = field(default_factory=list)

    @property
    def n_repeats(self):
        return len(np.unique(self.repeats))

    @functools.cached_property
    def proba(self):
        """Class probabilities of ``rows``, averaged over repeats, in the models' dtype.

        An array of shape ``(n_rows, n_classes)``, computed once, on first
        access, and held: every reader of a round (the pruners'
        ``oof_proba_`` and ``train_proba_``, ``class_budget="difficulty"``,
        step accuracies) gets this array, not a copy. Float32 for nets,
        float64 for a scikit-learn classifier's float64 (the dtype of the
        records, at least float32).
        """
        dtype = np.result_type(np.float32, *(records.proba.dtype for records in self.records))
        return self.average(lambda records: records.proba, dtype=dtype)

    def average(self, per_model, dtype=np.float64):
        """Values of ``rows`` averaged over repeats: the one aggregation of the engine.

        The repeats are summed in place into one array, repeat after repeat,
        and divided once: no array per repeat is kept.

        Parameters
        ----------
        per_model : callable
            ``per_model(records) -> ndarray`` of shape ``(records.n_samples, ...)``,
            e.g. a scorer.
        dtype : dtype, default=np.float64
            Of the means (and of the sums before the division).

        Returns
        -------
        values : ndarray of shape (n_rows, ...)
            Means over repeats, rows in the order of ``rows``.

        Raises
        ------
        ValueError
            When the models of a repeat leave a row unscored, or score it twice.
        """
        position = self._positions()
        repeats = np.unique(self.repeats)
        seen = np.zeros((len(repeats), len(self.rows)), dtype=bool)
        total = None
        for g, repeat in enumerate(repeats):
            # Repeat after repeat: every row's sum adds its repeats in one
            # order, that of a mean over a stacked axis.
            for records, of in zip(self.records, self.repeats):
                if of != repeat:
                    continue
                value = np.asarray(per_model(records))
                if total is None:
                    total = np.zeros((len(self.rows), *value.shape[1:]), dtype=dtype)
                at = position[records.indices]
                if seen[g, at].any():
                    raise ValueError(
                        f"Rows (e.g. {self.rows[at[seen[g, at]]][:5].tolist()}) are scored "
                        "twice in one repeat: the tasks of every group must score each row "
                        "exactly once."
                    )
                seen[g, at] = True
                if g == 0:
                    total[at] = value
                else:
                    total[at] += value
        if not seen.all():
            missing = self.rows[~seen.all(axis=0)]
            raise ValueError(
                f"{len(missing)} samples (e.g. rows {missing[:5].tolist()}) were never "
                "scored: the tasks of every group must score each row exactly once."
            )
        if total is None:
            return np.zeros(len(self.rows), dtype=dtype)
        if len(repeats) > 1:
            total /= len(repeats)
        return total

    def sample_inputs(self, needs):
        """The per-sample inputs ``needs`` of a selection rule (see :data:`PRUNER_INPUTS`).

        Returns a dict with one entry per name in ``needs``, rows aligned
        with ``rows``; ``ValueError`` for a name the records cannot give.
        """
        unknown = sorted(set(needs) - set(PRUNER_INPUTS))
        if unknown:
            raise ValueError(
                f"The selection rule needs input(s) {unknown}, which the pruners cannot "
                f"provide; they provide {sorted(PRUNER_INPUTS)}."
            )
        inputs = {}
        if "features" in needs or "groups" in needs:
            inputs["features"], inputs["groups"] = self._first_repeat_embeddings()
        if "target_proba" in needs:
            inputs["target_proba"] = self.average(_mean_target_proba)
        return {name: inputs[name] for name in needs}

    def _positions(self):
        size = 1 + max([self.rows.max(initial=-1)]
                       + [records.indices.max(initial=-1) for records in self.records])
        position = np.full(size, -1, dtype=np.int64)
        position[self.rows] = np.arange(len(self.rows))
        return position

    def _first_repeat_embeddings(self):
        """Embeddings of the first repeat's models, and which model each row's is."""
        position = self._positions()
        first = [records for records, repeat in zip(self.records, self.repeats)
                 if repeat == self.repeats.min()]
        width = first[0].extra(EMBEDDING).reshape(first[0].n_samples, -1).shape[1]
        features = np.zeros((len(self.rows), width), dtype=np.float32)
        spaces = np.full(len(self.rows), -1, dtype=np.int64)
        for model, records in enumerate(first):
            at = position[records.indices]
            features[at] = records.extra(EMBEDDING).reshape(records.n_samples, -1)
            spaces[at] = model
        return features, spaces


def _mean_target_proba(records):
    if records.has_dynamics:
        return records.epoch("target_proba").mean(axis=1)
    return records.proba[np.arange(records.n_samples), records.y]
