"""D2 pruning: message passing over a kNN graph of embeddings (ICLR 2024)."""

import numbers

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .._data import is_int
from ._selectors import check_rule_input

# Floor of a neighbour's score in a forward message, as in the authors' code,
# so that zero-score neighbours still make a sample's region count.
_MESSAGE_FLOOR = 1e-7


# Groups of up to this many pairs get their distances in one numpy array;
# larger ones go to scikit-learn's chunked search, whose per-call overhead
# (tens of milliseconds) would dominate the many small class-wise groups.
_DENSE_PAIRS = 1 << 22


def _nearest(features, k):
    """Positions of the ``k`` nearest other rows of every row (Euclidean)."""
    n = len(features)
    if n * n > _DENSE_PAIRS:
        # kneighbors() without X leaves each row out of its own neighbours.
        search = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(features)
        return search.kneighbors(return_distance=False)
    squares = np.square(features).sum(axis=1)
    distance = squares[:, None] + squares[None, :] - 2.0 * features @ features.T
    np.fill_diagonal(distance, np.inf)
    return np.argpartition(distance, k - 1, axis=1)[:, :k]


def knn_graph(features, n_neighbors, groups=None):
    """Symmetric k-nearest-neighbour graph, Euclidean, within groups.

    Every sample is linked to its ``n_neighbors`` nearest other samples of
    its group, and the links are made symmetric (``j`` is a neighbour of
    ``i`` when either is among the other's nearest), as D2 pruning does.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Embeddings.
    n_neighbors : int
        Neighbours per sample (fewer in groups of ``n_neighbors`` samples or
        less).
    groups : array-like of shape (n_samples,), default=None
        Samples of different groups are never linked (their features live in
        different spaces); ``None`` is one group.

    Returns
    -------
    indptr : ndarray of int64 of shape (n_samples + 1,)
    neighbors : ndarray of int64
        ``neighbors[indptr[i]:indptr[i + 1]]`` are the neighbours of ``i``,
        in increasing order.
    distances : ndarray of float64
        The matching Euclidean distances.

    See Also
    --------
    d2 : the selection rule that passes messages over this graph.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import knn_graph
    >>> indptr, neighbors, distances = knn_graph(np.array([[0.0], [1.0], [5.0]]), 1)
    >>> [neighbors[indptr[i]:indptr[i + 1]].tolist() for i in range(3)]
    [[1], [0, 2], [1]]
    """
    features = np.asarray(features, dtype=np.float64)
    features = features.reshape(len(features), -1)
    n = len(features)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    heads, tails = [], []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        k = min(int(n_neighbors), len(members) - 1)
        if k < 1:
            continue
        heads.append(np.repeat(members, k))
        tails.append(members[_nearest(features[members], k).ravel()])
    if not heads:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, np.int64), np.empty(0)
    heads, tails = np.concatenate(heads), np.concatenate(tails)
    # Both directions, each edge once, sorted by (head, tail).
    keys = np.unique(np.concatenate([heads * n + tails, tails * n + heads]))
    heads, tails = keys // n, keys % n
    indptr = np.concatenate([[0], np.cumsum(np.bincount(heads, minlength=n))])
    distances = np.linalg.norm(features[heads] - features[tails], axis=1)
    return indptr.astype(np.int64), tails.astype(np.int64), distances


def _check_positive(value, name, allow_zero=False):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return float(value)


def d2(scores, n_select, rng, features, groups=None, n_neighbors=5, gamma_forward=1.0,
       gamma_reverse=0.1, cutoff=0.0):
    """D2 pruning: difficulty and diversity by message passing (Maharana et al.).

    D2 pruning (ICLR 2024) works on a graph whose nodes are the samples,
    linked to their ``n_neighbors`` nearest neighbours in embedding space
    (:func:`knn_graph`, symmetric):

    1. Drop the hardest ``floor(cutoff * n_samples)`` samples first (the
       paper's "mis-ratio", as for ``ccs``; at most ``n_samples - n_select``).
    2. Forward message passing: every sample's score becomes
       ``s_i + sum_j exp(-gamma_forward * d_ij) * max(s_j, 1e-7)`` over its
       neighbours ``j``, so hard samples in dense hard regions rank first.
    3. Reverse message passing during greedy selection: take the highest
       updated score ``s_i``, then lower every neighbour's score by
       ``exp(-gamma_reverse * d_ij) * s_i``, so that its close neighbours,
       redundant with it, are less likely to follow. Repeat ``n_select``
       times (ties: lower position first).

    The defaults are those of the authors' CIFAR commands (5 neighbours,
    ``gamma_reverse=0.1``; the forward kernel ``exp(-d)`` of their code) and
    no cutoff (they tune it per dataset and pruning rate). Scores are shifted
    to start at 0 when some are negative, since messages add scores up; our
    choice for scorers with negative values such as ``margin``.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Importance, higher = harder.
    n_select : int
        Number of samples to keep.
    rng : RandomState
        Unused (the rule is deterministic); accepted for the common signature.
    features : array-like of shape (n_samples, n_features)
        Embeddings (the pruners pass the scoring models' penultimate-layer
        embeddings).
    groups : array-like of shape (n_samples,), default=None
        Which embedding space each row's features belong to; rows of different
        groups are never neighbours. The pruners pass the scoring model of
        each row, since the fold models of UNSEEN embed in unrelated spaces.
    n_neighbors : int, default=5
        Neighbours per sample in the graph (``k``).
    gamma_forward : float, default=1.0
        Decay of forward messages with distance.
    gamma_reverse : float, default=0.1
        Decay of the reverse (diversity) messages with distance.
    cutoff : float in [0, 1), default=0.0
        Fraction of the hardest samples dropped before the graph is built.

    Returns
    -------
    positions : ndarray of int64 of shape (n_select,)
        Positions into ``scores``, in the order they were selected.

    See Also
    --------
    knn_graph : the neighbour graph the messages pass over.
    ccs : coverage-centric selection from the scores alone.
    select : passes ``features`` and ``groups`` as ``sample_inputs``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.selection import d2
    >>> features = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> scores = np.array([1.0, 0.9, 0.5, 0.4])
    >>> d2(scores, 2, None, features, n_neighbors=1, gamma_reverse=0.0).tolist()
    [0, 2]
    """
    scores, n_select = check_rule_input(scores, n_select)
    n = len(scores)
    features = np.asarray(features, dtype=np.float64)
    if features.ndim < 1 or len(features) != n:
        raise ValueError(
            f"features must have one row per score ({n}); got shape {features.shape}."
        )
    features = features.reshape(n, -1)
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values.")
    if groups is not None and np.shape(groups) != (n,):
        raise ValueError(f"groups must have shape ({n},); got {np.shape(groups)}.")
    if not is_int(n_neighbors) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be an integer >= 1; got {n_neighbors!r}.")
    gamma_forward = _check_positive(gamma_forward, "gamma_forward", allow_zero=True)
    gamma_reverse = _check_positive(gamma_reverse, "gamma_reverse", allow_zero=True)
    if (
        not isinstance(cutoff, numbers.Real)
        or isinstance(cutoff, bool)
        or not 0.0 <= cutoff < 1.0
    ):
        raise ValueError(f"cutoff must be a float in [0, 1); got {cutoff!r}.")
    if n_select == 0:
        return np.empty(0, dtype=np.int64)

    n_drop = min(int(np.floor(cutoff * n)), n - n_select)
    kept = np.sort(np.argsort(-scores, kind="stable")[n_drop:])
    base = scores[kept]
    if base.min() < 0:
        base = base - base.min()
    indptr, neighbors, distances = knn_graph(
        features[kept], n_neighbors, None if groups is None else np.asarray(groups)[kept])

    messages = np.exp(-gamma_forward * distances) * np.maximum(base[neighbors], _MESSAGE_FLOOR)
    heads = np.repeat(np.arange(len(kept)), np.diff(indptr))
    density = base + np.bincount(heads, weights=messages, minlength=len(kept))

    reverse = np.exp(-gamma_reverse * distances)
    chosen = np.empty(n_select, dtype=np.int64)
    for step in range(n_select):
        i = int(np.argmax(density))
        chosen[step] = i
        around = slice(indptr[i], indptr[i + 1])
        density[neighbors[around]] -= reverse[around] * density[i]
        density[i] = -np.inf
    return kept[chosen]


d2.needs = ("features", "groups")
