"""Named scorers that read :class:`~skunseen.scores.ScoringRecords`.

The pruners take ``scorer="el2n"`` (or a :class:`Scorer`, or any callable
``func(records, **params)``); this module maps those to a function of the
records of one scoring model and checks what comes back.
"""

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._data import is_int
from .._records import EMBEDDING, GRAD_NORM, ScoringRecords, check_extra_requests
from .._registry import Registry
from ._dynamics import aum, dual, dyn_unc, forgetting, tdds
from ._features import median_distance
from ._final import el2n, entropy, loss, margin
from ._gradients import grad_norms


@dataclass(frozen=True)
class Scorer:
    """A named scorer of :class:`~skunseen.scores.ScoringRecords`.

    Calling it runs ``func(records, **params)``, rejects unknown parameter
    names, and checks that the result is one finite float64 importance per
    scored row (higher = harder / more informative).

    Parameters
    ----------
    name : str
        Name used in messages and in the registry.
    func : callable
        ``func(records, **params) -> ndarray of shape (n_samples,)``.
    needs_dynamics : bool or callable, default=False
        Whether ``func`` reads per-epoch records (``records.epoch(...)``), so
        that callers record them and can tell early that a plain
        scikit-learn model will not do; or ``needs_dynamics(params) -> bool``
        when that depends on the scorer parameters (``el2n`` with an
        ``epochs`` window). Ask with :meth:`reads_dynamics`.
    extras : tuple of str, default=()
        Names of ``records.extras`` that ``func`` reads; checked before the
        call so that a missing one gives a clear error. The pruners ask the
        recorder (:class:`~skunseen.nets.HeldOutRecorder`) for exactly these.
    record : callable, default=None
        ``record(**params) -> dict``: how the extras are to be recorded for
        the given scorer parameters, ``{extra name: options}`` (see
        :meth:`requests`); it receives the parameters it names. ``None``
        records every extra with its default options.

    See Also
    --------
    register_scorer : register a scorer under a name.
    get_scorer : resolve a name or callable into a Scorer.
    ScoringRecords : what a scorer reads.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import Scorer, ScoringRecords
    >>> def confidence_gap(records, power=1):
    ...     return (1.0 - records.proba.max(axis=1)) ** power
    >>> scorer = Scorer("confidence_gap", confidence_gap)
    >>> rec = ScoringRecords(indices=np.arange(2), y=np.array([0, 1]),
    ...                      proba=np.array([[0.9, 0.1], [0.6, 0.4]]))
    >>> np.round(scorer(rec, power=2), 2).tolist()
    [0.01, 0.16]
    >>> scorer.params
    ('power',)
    """

    name: str
    func: Callable
    needs_dynamics: object = False
    extras: tuple = ()
    record: Callable = None

    def reads_dynamics(self, params=None):
        """Whether, with these scorer parameters, ``func`` reads per-epoch records.

        Examples
        --------
        >>> from skunseen.scores import get_scorer
        >>> get_scorer("el2n").reads_dynamics(), get_scorer("el2n").reads_dynamics(
        ...     {"epochs": (2, 5)})
        (False, True)
        """
        if callable(self.needs_dynamics):
            return bool(self.needs_dynamics(dict(params or {})))
        return bool(self.needs_dynamics)

    @property
    def params(self):
        """Names of the keyword parameters ``func`` takes after ``records``.

        ``None`` when ``func`` accepts arbitrary keywords (``**kwargs``).
        """
        try:
            signature = inspect.signature(self.func)
        except (TypeError, ValueError):  # some builtins have no signature
            return None
        parameters = list(signature.parameters.values())[1:]
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return None
        return tuple(
            p.name
            for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )

    def _check_params(self, params):
        valid = self.params
        if valid is not None:
            unknown = sorted(set(params) - set(valid))
            if unknown:
                raise TypeError(
                    f"Scorer {self.name!r} got unexpected parameter(s) {unknown}; "
                    f"valid parameters: {list(valid)}."
                )

    def requests(self, params=None):
        """What to record for this scorer: ``{extra name: options}``.

        The pruners pass this to :class:`~skunseen.nets.HeldOutRecorder` as its
        ``extras``, so that only what the scorer reads is recorded (gradients
        and embeddings cost a pass over the scored rows).

        Parameters
        ----------
        params : dict, default=None
            The scorer parameters (``scorer_params``); unknown names raise a
            ``TypeError`` here, before any model trains.

        Returns
        -------
        requests : dict of str to dict

        Examples
        --------
        >>> from skunseen.scores import get_scorer
        >>> get_scorer("moderate").requests()
        {'embedding': {}}
        >>> get_scorer("grand").requests({"last_layer": True})
        {'grad_norm': {'last_layer': True, 'epochs': None}}
        """
        params = dict(params or {})
        self._check_params(params)
        requests = {name: {} for name in self.extras}
        if self.record is not None:
            accepted = inspect.signature(self.record).parameters
            requests.update(self.record(**{k: v for k, v in params.items() if k in accepted}))
        return requests

    def __call__(self, records, **params):
        self._check_params(params)
        for name in self.extras:
            records.extra(name)
        scores = np.asarray(self.func(records, **params), dtype=np.float64)
        if scores.shape != (records.n_samples,):
            raise ValueError(
                f"Scorer {self.name!r} returned shape {scores.shape}; expected "
                f"({records.n_samples},), one score per scored sample."
            )
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"Scorer {self.name!r} returned NaN or infinite scores.")
        return scores


#: The registered scorers by name.
SCORERS = Registry("scorer", "func(records, **params)")


def register_scorer(name, func, *, needs_dynamics=False, extras=(), record=None,
                    overwrite=False):
    """Register ``func`` under ``name`` so that pruners accept ``scorer=name``.

    Parameters
    ----------
    name : str
        Registry name.
    func : callable
        ``func(records, **params) -> ndarray of shape (n_samples,)``, higher
        meaning harder / more informative.
    needs_dynamics : bool or callable, default=False
        Whether ``func`` reads per-epoch records, or a function of the scorer
        parameters saying so (see :class:`Scorer`).
    extras : tuple of str, default=()
        Names of ``records.extras`` that ``func`` reads: ``"embedding"``
        (penultimate-layer embeddings) and ``"grad_norm"`` (per-sample
        gradient norms) are recorded by :class:`~skunseen.nets.HeldOutRecorder`.
    record : callable, default=None
        ``record(**params) -> {extra name: options}``, recording options that
        depend on the scorer's parameters (see :class:`Scorer`).
    overwrite : bool, default=False
        Replace an existing scorer of that name instead of raising.

    Returns
    -------
    scorer : Scorer
        The registered scorer.

    See Also
    --------
    get_scorer : resolve a name or callable into a Scorer.
    available_scorers : names of the registered scorers.
    skunseen.selection.register_selector : the same for selection rules.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import register_scorer, get_scorer
    >>> def wrong(records):
    ...     return (records.proba.argmax(axis=1) != records.y).astype(float)
    >>> register_scorer("wrong_doc", wrong, overwrite=True).name
    'wrong_doc'
    >>> get_scorer("wrong_doc").func is wrong
    True
    """
    if not callable(func):
        raise TypeError(f"func must be callable; got {type(func).__name__}.")
    dynamics = needs_dynamics if callable(needs_dynamics) else bool(needs_dynamics)
    scorer = Scorer(name, func, needs_dynamics=dynamics, extras=tuple(extras), record=record)
    return SCORERS.register(name, scorer, overwrite=overwrite)


def available_scorers():
    """Names of the registered scorers, sorted.

    Returns
    -------
    names : list of str

    See Also
    --------
    get_scorer : resolve one of these names.
    register_scorer : add a name.
    skunseen.selection.available_selectors : names of the selection rules.

    Examples
    --------
    >>> from skunseen.scores import available_scorers
    >>> {"el2n", "forgetting", "tdds"} <= set(available_scorers())
    True
    """
    return SCORERS.names()


def get_scorer(scorer):
    """Resolve a scorer given by name, as a :class:`Scorer`, or as a callable.

    Parameters
    ----------
    scorer : str, Scorer or callable
        A registered name; a :class:`Scorer` (returned as is); or a callable
        ``func(records, **params)``, wrapped with its ``__name__`` and
        ``needs_dynamics=False``. Passing one of the array functions of this
        package (for example :func:`~skunseen.scores.el2n`) gives its
        registered records scorer.

    Returns
    -------
    scorer : Scorer

    See Also
    --------
    available_scorers : the registered names.
    register_scorer : add a named scorer.
    Scorer : what is returned.

    Examples
    --------
    >>> from skunseen.scores import get_scorer
    >>> get_scorer("forgetting").needs_dynamics
    True
    >>> get_scorer(lambda records: records.proba[:, 0]).name
    '<lambda>'
    """
    if isinstance(scorer, Scorer):
        return scorer
    if isinstance(scorer, str):
        return SCORERS[scorer]
    if callable(scorer):
        for name, array_func in _ARRAY_FUNCTIONS.items():
            if scorer is array_func:
                return SCORERS[name]
        name = getattr(scorer, "__name__", None) or type(scorer).__name__
        return Scorer(name, scorer)
    raise ValueError(
        f"scorer must be a registered name {available_scorers()}, a Scorer or a "
        f"callable; got {type(scorer).__name__}."
    )


def check_scorer_params(scorer, scorer_params, n_epochs=None):
    """Raise before any model trains when ``scorer_params`` do not work with the scorer.

    Names the scorer does not take raise a ``TypeError``; values it refuses,
    found by a trial run on made-up records of ``n_epochs`` epochs, raise a
    ``ValueError``; both name ``scorer_params``.

    Parameters
    ----------
    scorer : str, callable or Scorer
        As the pruners' ``scorer``.
    scorer_params : dict or None
        Its keyword parameters.
    n_epochs : int, default=None
        Epochs the scoring nets train (their ``max_epochs``), against which
        epoch positions are checked; None: 3.

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        Naming ``scorer_params`` and the scorer.

    See Also
    --------
    get_scorer : resolves ``scorer``.

    Examples
    --------
    >>> from skunseen.scores import check_scorer_params
    >>> check_scorer_params("dyn_unc", {"window": 2}, n_epochs=5)
    >>> check_scorer_params("dyn_unc", {"window": 0}, n_epochs=5)
    Traceback (most recent call last):
    ...
    ValueError: scorer_params={'window': 0} do not work with scorer 'dyn_unc': window must be an integer >= 1; got 0.
    """
    params = dict(scorer_params or {})
    if not params:
        return
    scorer = get_scorer(scorer)
    try:
        scorer._check_params(params)
    except TypeError as exc:
        raise TypeError(f"scorer_params={params!r}: {exc}") from None
    try:
        check_extra_requests(scorer.requests(params))
        scorer(_trial_records(n_epochs or 3), **params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scorer_params={params!r} do not work with scorer {scorer.name!r}: "
                         f"{exc}") from None


def _trial_records(n_epochs, n_samples=8):
    """Made-up records of two classes with every statistic and extra, for trial runs."""
    rng = np.random.RandomState(0)
    p = rng.uniform(0.05, 0.95, size=(n_samples, n_epochs))
    y = np.arange(n_samples) % 2
    proba = np.column_stack([1 - p[:, -1], p[:, -1]])
    epochs = {"correct": p > 0.5, "target_proba": p, "logit_margin": np.log(p / (1 - p)),
              "el2n": np.sqrt(2) * (1 - p), "loss": -np.log(p),
              "change": np.abs(np.diff(p, axis=1, prepend=p[:, :1]))}
    return ScoringRecords(indices=np.arange(n_samples), y=y, proba=proba, epochs=epochs,
                          extras={EMBEDDING: rng.randn(n_samples, 2).astype(np.float32),
                                  GRAD_NORM: rng.uniform(size=n_samples)},
                          model="a trial model")


def epoch_window(epochs, n_epochs):
    """Epoch positions selected by an int, a ``(start, stop)`` pair or a slice.

    Parameters
    ----------
    epochs : int, tuple of (int, int) or slice
        0-based epoch positions; negative ones count from the end.
    n_epochs : int
        Number of epochs recorded (or to be trained).

    Returns
    -------
    positions : list of int

    Raises
    ------
    ValueError
        For another value, or one selecting no epoch of ``n_epochs``.

    See Also
    --------
    el2n : averages over these epochs with ``epochs=...``.

    Examples
    --------
    >>> from skunseen.scores import epoch_window
    >>> epoch_window(-1, 5), epoch_window((1, 3), 5)
    ([4], [1, 2])
    """
    if is_int(epochs):
        if not -n_epochs <= epochs < n_epochs:
            raise ValueError(
                f"epochs={epochs} is out of range for {n_epochs} recorded epochs."
            )
        return [int(epochs) % n_epochs]
    if isinstance(epochs, tuple) and len(epochs) == 2:
        epochs = slice(*epochs)
    if not isinstance(epochs, slice):
        raise ValueError(
            "epochs must be None, an int, a (start, stop) tuple or a slice; "
            f"got {epochs!r}."
        )
    positions = list(range(n_epochs)[epochs])
    if not positions:
        raise ValueError(
            f"epochs={epochs} selects no epoch out of {n_epochs} recorded epochs."
        )
    return positions


def _el2n_records(records, epochs=None):
    # The final probabilities are what every model has; an epoch window needs
    # per-epoch records, and records.epoch raises the explanatory error.
    if epochs is None:
        return el2n(records.proba, records.y)
    per_epoch = np.asarray(records.epoch("el2n"), dtype=np.float64)
    return per_epoch[:, epoch_window(epochs, per_epoch.shape[1])].mean(axis=1)


def _loss_records(records):
    return loss(records.proba, records.y)


def _entropy_records(records):
    return entropy(records.proba)


def _margin_records(records):
    return margin(records.proba, records.y)


def _forgetting_records(records):
    return forgetting(records.epoch("correct"))


def _aum_records(records):
    return aum(records.epoch("logit_margin"))


def _dyn_unc_records(records, window=10):
    return dyn_unc(records.epoch("target_proba"), window=window)


def _tdds_records(records, window=10, beta=0.9, horizon=None):
    return tdds(records.epoch("change"), window=window, beta=beta, horizon=horizon)


def _dual_records(records, window=10):
    return dual(records.epoch("target_proba"), window=window)


def _grand_records(records, last_layer=False, epochs=None):
    # The parameters act on the recording (see _grand_recording): the records
    # hold the norms already averaged over the chosen epochs.
    return records.extra(GRAD_NORM)


def _grand_recording(last_layer=False, epochs=None):
    return {GRAD_NORM: {"last_layer": last_layer, "epochs": epochs}}


def _moderate_records(records, normalize=True):
    return median_distance(records.extra(EMBEDDING), records.y, normalize=normalize)


_ARRAY_FUNCTIONS = {
    "el2n": el2n,
    "loss": loss,
    "entropy": entropy,
    "margin": margin,
    "forgetting": forgetting,
    "aum": aum,
    "dyn_unc": dyn_unc,
    "tdds": tdds,
    "dual": dual,
    "grand": grad_norms,
    "moderate": median_distance,
}


def _el2n_window_given(params):
    return params.get("epochs") is not None


register_scorer("el2n", _el2n_records, needs_dynamics=_el2n_window_given)
register_scorer("loss", _loss_records)
register_scorer("entropy", _entropy_records)
register_scorer("margin", _margin_records)
register_scorer("forgetting", _forgetting_records, needs_dynamics=True)
register_scorer("aum", _aum_records, needs_dynamics=True)
register_scorer("dyn_unc", _dyn_unc_records, needs_dynamics=True)
register_scorer("tdds", _tdds_records, needs_dynamics=True)
register_scorer("dual", _dual_records, needs_dynamics=True)
register_scorer("grand", _grand_records, extras=(GRAD_NORM,), record=_grand_recording)
register_scorer("moderate", _moderate_records, extras=(EMBEDDING,))
