"""Parameter and attribute docs shared by the pruners and the engine functions.

Written once here and put into docstrings by :class:`Substitution`, as
imbalanced-learn does: a docstring line holding only ``%(name)s`` receives
the text of ``name``, indented like the placeholder.
"""

import re
import textwrap

_PLACEHOLDER = re.compile(r"^( *)%\((\w+)\)s$", re.MULTILINE)


class Substitution:
    """Decorator putting shared texts into a docstring's ``%(name)s`` lines.

    Parameters
    ----------
    **texts : str
        Text by name; lines after the first are indented relative to it.

    Examples
    --------
    >>> from skunseen._docstrings import Substitution
    >>> @Substitution(size="size : int\\n    How many.")
    ... def f(size):
    ...     '''%(size)s'''
    >>> print(f.__doc__)
    size : int
        How many.
    """

    def __init__(self, **texts):
        self.texts = texts

    def __call__(self, obj):
        def fill(match):
            indent, name = match.groups()
            return textwrap.indent(self.texts[name], indent)

        if obj.__doc__ is not None:  # None under python -OO
            obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        return obj


#: Parameters of the pruners and the engine functions.
PARAMETERS = {
    "estimator": """\
estimator : skorch NeuralNet, classifier with ``predict_proba``, or None
    The scoring model, cloned for every scoring task (fold, repeat, step).
    ``None`` (the pruners' default; the functions take it as their first
    argument) builds a small skorch net from the shape of X (an MLP for 2-D
    data, a small CNN for images) with :func:`skunseen.models.make_net`. A
    plain scikit-learn classifier supports the final-output scorers only.""",
    "scorer": """\
scorer : str or callable, default="el2n"
    Name of a registered scorer (see
    :func:`skunseen.scores.available_scorers`) or a callable
    ``scorer(records, **params) -> importance`` (higher = harder).""",
    "scorer_params": """\
scorer_params : dict, default=None
    Keyword arguments of the scorer, e.g. ``{"window": 5}``.""",
    "selector": """\
selector : str or callable, default="ccs"
    Selection rule (see :func:`skunseen.selection.available_selectors`)
    or a callable ``selector(scores, n_select, rng, **params)``.""",
    "selector_params": """\
selector_params : dict, default=None
    Keyword arguments of the selector, e.g. ``{"cutoff": 0.1}``.""",
    "keep": """\
keep : float in (0, 1] or int, default=0.5
    Fraction of the samples to keep, or their number. A fraction is
    rounded to the nearest count, halves to even (``round``): 0.5 of 1,347
    samples keeps 674, of 1,797 keeps 898; at least one is kept.""",
    "cv": """\
cv : int, cross-validation generator or iterable, default=5
    Number of folds (stratified, shuffled with a seed drawn from
    ``random_state``; stratified by group too with ``groups``), or a
    splitter or iterable of ``(train, test)`` splits whose test folds
    partition the data. Splits are checked before any model trains: a
    split's training and test rows are disjoint, every row is in exactly
    one test fold, indices are row positions (or boolean masks) and, with
    ``groups``, no group straddles a split; a test fold holding a class its
    training rows lack gets a warning.""",
    "class_budget": (
        'class_budget : {"proportional", "balanced", "difficulty"} or None, '
        'default="proportional"\n') + """\
    How the budget is shared among classes: keep class proportions, equal
    shares, shares proportional to the scoring models' smoothed per-class
    error on the samples they score
    (:func:`skunseen.selection.class_difficulty`), or one global ranking
    (``None``).""",
    "device": """\
device : str, default="auto"
    Device of the scoring nets. ``"auto"`` uses CUDA for the default net
    when present and leaves a given net's own ``device`` untouched; any
    other value (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is applied to every
    scoring net. A bare ``"cuda"`` (given here or as the net's device)
    with several visible GPUs spreads the tasks over them: task ``k`` of a
    round trains on ``cuda:{k % n_gpus}``. ``"cuda"`` without a GPU raises;
    ``"auto"`` falls back to the CPU. Scikit-learn estimators run where
    scikit-learn runs them; the value does not apply to them.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds the folds, the scoring models and the selection. The same value
    gives the same result, for every joblib backend (see :ref:`parallel`).
    Each scoring model gets its own seed: a net's initialisation and batch
    order, and every ``random_state`` parameter of a scikit-learn model,
    nested ones included (``randomforestclassifier__random_state`` in a
    Pipeline).""",
    "n_jobs": """\
n_jobs : int, default=None
    Number of scoring models trained in parallel through joblib (honours
    :func:`joblib.parallel_config`: ``"loky"``, ``"threading"``,
    ``"dask"``, ...). With threads, each model gets an equal share of
    torch's intra-op threads. On one GPU, ``n_jobs > 1`` with the
    threading backend trains several small nets on it at once.""",
    "memory": """\
memory : None, str, path-like or joblib.Memory, default=None
    Where finished scoring models are kept, as in ``Pipeline(memory=...)``:
    ``None`` keeps nothing between fits (every fit trains its models); a
    directory (created if missing) or a :class:`joblib.Memory` (its
    ``location``) keeps the records of every finished scoring model there,
    written atomically as it finishes. A fit with the same data and
    parameters reads them back instead of training again: a killed run
    resumes where it stopped (a multi-step fit at the step it reached), and
    parameters that act after scoring (``selector``, ``keep``,
    ``class_budget``, and ``scorer`` when the records hold what it reads)
    never retrain, e.g. under ``GridSearchCV``. Records are keyed by the
    values they depend on (data, labels, estimator class and parameters,
    folds, seeds, what is recorded, library version): changed data,
    estimator, folds or seeds never reuse them. See :ref:`resuming`.""",
    "checkpoint_dir": """\
checkpoint_dir : str or path-like
    Deprecated since 0.2 and removed in 0.3: pass the directory as
    ``memory``, which resumes killed runs the same way.""",
    "verbose": """\
verbose : int, default=0
    Show progress bars, and how many models were read back, when positive.""",
    "fold_batching": """\
fold_batching : bool or "auto", default="auto"
    Train the scoring models of a round (the folds, or a multi-step
    refill's repeats) at once, as one stacked module on one device (see
    :ref:`fold batching <fold_batching>`): each model still trains on its
    own rows only, with its own BatchNorm statistics, optimizer state and
    learning-rate schedule. ``"auto"`` does so where it is measured to be
    faster: for built-in nets with a fast-path iterator, on the CPU, when
    the net is small (see the docs), with ``n_jobs`` unset or 1.
    ``True`` always does for such nets and raises a ``ValueError`` saying
    why for any other; ``False`` trains the models one by one.""",
    "engine_X": """\
X : array-like of shape (n_samples, ...), tensor, DataFrame or Dataset
    The samples. A torch ``Dataset`` is never loaded whole.
y : array-like of shape (n_samples,), default=None
    Labels; may be omitted only when X is a Dataset exposing them.""",
    "engine_params": """\
params : dict, default=None
    Keyword arguments of the models' ``fit`` (e.g. ``sample_weight``, or
    ``step__sample_weight`` for a Pipeline); per-row values are checked
    against X and restricted to each model's training rows.""",
    "groups": """\
groups : array-like of shape (n_samples,), default=None
    Group of every sample (e.g. the patient or the source video), so that
    no group is both trained on and held out by a fold: a group splitter as
    ``cv`` (``GroupKFold``, ``StratifiedGroupKFold``, ...) receives them,
    an int ``cv`` then gives ``StratifiedGroupKFold`` folds, and any ``cv``
    is checked to keep every group whole.""",
    "fit_X": """\
X : array-like of shape (n_samples, ...), tensor, DataFrame or Dataset
    Training data. A torch ``Dataset`` is never loaded whole: scoring
    models read it through index views.""",
    "fit_y": """\
y : array-like of shape (n_samples,), default=None
    Labels. May be omitted only when X is a Dataset exposing ``targets``
    (or yielding ``(x, y)`` pairs).""",
    "fit_params": """\
**params : dict
    Metadata for the scoring estimators' ``fit`` (e.g. ``sample_weight``),
    which needs scikit-learn's metadata routing:
    ``sklearn.set_config(enable_metadata_routing=True)`` and
    ``estimator.set_fit_request(sample_weight=True)``. Values with one
    entry per sample reach every scoring model restricted to its training
    rows.""",
}

#: Fitted attributes every pruner has.
ATTRIBUTES = {
    "sample_indices_": """\
sample_indices_ : ndarray of shape (n_selected,)
    Sorted rows of the data passed to ``fit`` that form the coreset.""",
    "data_attributes": """\
classes_ : ndarray of shape (n_classes,)
    The class labels.
n_samples_fit_ : int
    Number of rows seen in ``fit``.
n_features_in_ : int
    Number of features (second axis) of array input.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Column names, when X is a DataFrame with string column names.""",
    "task_info_": """\
task_info_ : list of dict
    Per scoring model: its name, training seconds and epochs, whether it
    trained in a ``batched`` round (``fold_batching``; its seconds are then
    the round's divided among its models), and whether it was ``resumed``
    from the store (``memory``) rather than trained.
n_tasks_resumed_ : int
    Number of scoring models read back from ``memory``.""",
}

#: Every shared text, for :class:`Substitution`.
SHARED = {**PARAMETERS, **ATTRIBUTES}
