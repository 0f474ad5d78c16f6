"""Scores computed from a model's class probabilities.

These are plain array functions in the style of cleanlab: users who already
have predictions call them directly. Every function returns a float64
importance per sample where **higher means harder / more informative**, the
convention of the whole package (the ``hard`` selector keeps the highest
first).
"""

import numpy as np

#: Probabilities are clipped at this value before taking a logarithm, so that a
#: sample the model gives probability 0 gets a large but finite loss.
LOG_EPS = 1e-12

# Values taken to float64 at a time. Scores are computed in float64 from blocks
# of rows, so that float32 probabilities (a net's, up to N x 1,000 of them) are
# never copied whole; every row's arithmetic is the same whatever the block.
_BLOCK_VALUES = 2**20


def _row_blocks(proba):
    """Slices of the rows of ``proba``, about :data:`_BLOCK_VALUES` values each."""
    step = max(1, _BLOCK_VALUES // max(1, int(np.prod(proba.shape[1:]))))
    return [slice(start, start + step) for start in range(0, len(proba), step)]


def _check_proba(proba, ndims=(2,)):
    """``proba`` checked, as a floating array (float32 stays float32, not copied)."""
    proba = np.asarray(proba)
    if proba.dtype.kind != "f":
        proba = proba.astype(np.float64)
    if proba.ndim not in ndims:
        shapes = " or ".join(
            {2: "(n_samples, n_classes)", 3: "(n_samples, n_epochs, n_classes)"}[d]
            for d in ndims
        )
        raise ValueError(f"proba must have shape {shapes}; got shape {proba.shape}.")
    if not np.all(np.isfinite(proba)):
        raise ValueError("proba contains NaN or infinite values.")
    if proba.size and (proba.min() < 0.0 or proba.max() > 1.0):
        raise ValueError("proba must hold probabilities in [0, 1].")
    return proba


def _check_labels(y, n_samples, n_classes):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_samples:
        raise ValueError(
            f"y must have shape ({n_samples},) to match the scores' rows; "
            f"got shape {y.shape}."
        )
    # Integer-valued floats are accepted because labels often travel through
    # float arrays (pandas, torch); anything else is a caller error.
    if not np.issubdtype(y.dtype, np.integer):
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y % 1):
            raise ValueError(
                "y must hold integer class positions in [0, n_classes); "
                f"got dtype {y.dtype}."
            )
    y = y.astype(np.int64)
    if n_samples and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"y must hold class positions in [0, {n_classes}); got values in "
            f"[{y.min()}, {y.max()}]."
        )
    return y


def el2n(proba, y):
    """EL2N score: distance between the predicted distribution and the label.

    ``||p - onehot(y)||_2`` (Paul et al., NeurIPS 2021). A sample predicted
    confidently and correctly scores near 0; higher means harder.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes) or \
            (n_samples, n_epochs, n_classes)
        Class probabilities. With an epoch axis, the per-epoch norms are
        averaged over epochs (the averaged EL2N of the paper).
    y : array-like of shape (n_samples,)
        Integer class positions in ``[0, n_classes)``.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 EL2N, in ``[0, sqrt(2)]``; higher is harder.

    See Also
    --------
    loss : cross-entropy of the label, another final-output score.
    margin : negative probability margin of the label.
    grad_norms : GraNd, the gradient-norm score of the same paper.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import el2n
    >>> proba = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    >>> np.round(el2n(proba, [0, 0, 0]), 4).tolist()
    [0.0, 0.7071, 1.4142]
    """
    proba = _check_proba(proba, ndims=(2, 3))
    y = _check_labels(y, proba.shape[0], proba.shape[-1])
    per_epoch = proba if proba.ndim == 3 else proba[:, None, :]
    importance = np.empty(len(y))
    for rows in _row_blocks(per_epoch):
        diff = per_epoch[rows].astype(np.float64)
        diff[np.arange(len(diff)), :, y[rows]] -= 1.0
        importance[rows] = np.linalg.norm(diff, axis=2).mean(axis=1)
    return importance


def loss(proba, y):
    """Cross-entropy loss of each sample, ``-log p_y``.

    Higher is harder. ``p_y`` is clipped at :data:`LOG_EPS` (``1e-12``) so that
    a zero probability gives a finite loss of about 27.6.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities.
    y : array-like of shape (n_samples,)
        Integer class positions in ``[0, n_classes)``.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 loss, non-negative; higher is harder.

    See Also
    --------
    el2n : distance between the predicted distribution and the label.
    entropy : uncertainty of the prediction, without the label.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import loss
    >>> proba = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]])
    >>> np.round(loss(proba, [0, 0, 0]), 4).tolist()
    [0.0, 0.6931, 1.3863]
    """
    proba = _check_proba(proba)
    y = _check_labels(y, proba.shape[0], proba.shape[1])
    target = proba[np.arange(len(y)), y].astype(np.float64)
    # 0.0 - x rather than -x: a perfect prediction scores 0.0, not -0.0.
    return 0.0 - np.log(np.clip(target, LOG_EPS, 1.0))


def entropy(proba, y=None):
    """Shannon entropy of the predicted distribution, ``-sum_c p_c log p_c``.

    Higher means the model is less certain, i.e. the sample is harder. The
    label is not used; ``0 * log 0`` counts as 0.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities.
    y : array-like of shape (n_samples,), default=None
        Ignored apart from a shape check; accepted so that every final-output
        scorer can be called as ``scorer(proba, y)``.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 entropy in nats, in ``[0, log(n_classes)]``; higher is harder.

    See Also
    --------
    loss : cross-entropy of the label instead of the whole distribution.
    margin : negative probability margin of the label.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import entropy
    >>> proba = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> np.round(entropy(proba), 4).tolist()
    [0.0, 0.6931]
    """
    proba = _check_proba(proba)
    if y is not None:
        _check_labels(y, proba.shape[0], proba.shape[1])
    importance = np.empty(len(proba))
    for rows in _row_blocks(proba):
        part = proba[rows].astype(np.float64)
        positive = part > 0.0
        logs = np.log(np.where(positive, part, 1.0))
        importance[rows] = 0.0 - np.sum(np.where(positive, part * logs, 0.0), axis=1)
    return importance


def margin(proba, y):
    """Negative probability margin, ``-(p_y - max_{k != y} p_k)``.

    The margin is positive when the sample is classified correctly and
    negative otherwise; its negation is returned so that higher is harder
    (misclassified samples score above 0).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities; at least two classes.
    y : array-like of shape (n_samples,)
        Integer class positions in ``[0, n_classes)``.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 negative margin in ``[-1, 1]``; higher is harder.

    See Also
    --------
    aum : the logit margin averaged over training epochs.
    el2n : distance between the predicted distribution and the label.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import margin
    >>> proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]])
    >>> np.round(margin(proba, [0, 0]), 4).tolist()
    [-0.5, 0.3]
    """
    proba = _check_proba(proba)
    if proba.shape[1] < 2:
        raise ValueError("margin needs at least two classes.")
    y = _check_labels(y, proba.shape[0], proba.shape[1])
    importance = np.empty(len(y))
    for rows in _row_blocks(proba):
        others = proba[rows].astype(np.float64)
        at, labels = np.arange(len(others)), y[rows]
        target = others[at, labels]
        others[at, labels] = -np.inf
        importance[rows] = others.max(axis=1) - target
    return importance
