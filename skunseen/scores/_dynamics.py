"""Scores computed from training dynamics: one statistic per sample and epoch.

Each function takes an ``(n_samples, n_epochs)`` array of one per-epoch
statistic (see :data:`~skunseen.scores.EPOCH_STATISTICS`) and returns a
float64 importance per sample where **higher means harder / more
informative**.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._data import is_int

# Upper bound on the number of elements of one block of windows, so that the
# windowed scores stay within tens of MB for ImageNet-sized runs.
_BLOCK_ELEMENTS = 1 << 22


def _check_epochs(values, name, dtype=np.float64):
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n_samples, n_epochs) with n_epochs >= 1; "
            f"got shape {values.shape}."
        )
    if dtype is bool:
        if values.dtype != bool and not np.all((values == 0) | (values == 1)):
            raise ValueError(f"{name} must hold booleans (or 0/1).")
        return values.astype(bool)
    values = values.astype(dtype)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return values


def _check_window(window):
    if not is_int(window) or window < 1:
        raise ValueError(f"window must be an integer >= 1; got {window!r}.")
    return int(window)


def _windowed(values, window, statistic, weights):
    """Weighted sum over sliding windows of a per-window statistic.

    ``values`` is ``(n, T)``; windows have length ``window`` (stride 1, so
    ``K = T - window + 1`` of them); ``statistic`` maps ``(m, K, window)`` to
    ``(m, K)``; ``weights(K)`` gives the ``K`` window weights. Rows are
    processed in blocks because the windows of a large run do not fit in memory
    at once.
    """
    n, n_epochs = values.shape
    n_windows = n_epochs - window + 1
    w = weights(n_windows)
    out = np.empty(n, dtype=np.float64)
    block = max(1, _BLOCK_ELEMENTS // (n_windows * window))
    for start in range(0, n, block):
        views = sliding_window_view(values[start : start + block], window, axis=1)
        out[start : start + block] = statistic(views) @ w
    return out


def _uniform_weights(n_windows):
    return np.full(n_windows, 1.0 / n_windows)


def forgetting(correct):
    """Forgetting events (Toneva et al., ICLR 2019), counted between epochs.

    A forgetting event is a transition from correctly to incorrectly
    classified between two consecutive epochs. Samples that are never
    classified correctly are the hardest: they get ``n_epochs``, above any
    count that can be reached (at most ``n_epochs // 2``). Higher is harder.

    Parameters
    ----------
    correct : array-like of bool of shape (n_samples, n_epochs)
        Whether each sample was classified correctly at the end of each epoch.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 number of forgetting events, or ``n_epochs`` for samples never
        learned.

    See Also
    --------
    epoch_statistics : records the per-epoch ``correct`` statistic.
    aum : another training-dynamics score of the label's margin.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import forgetting
    >>> correct = np.array([[1, 1, 1, 1],    # learned, never forgotten
    ...                     [1, 0, 1, 0],    # forgotten twice
    ...                     [0, 0, 0, 0]],   # never learned
    ...                    dtype=bool)
    >>> forgetting(correct).tolist()
    [0.0, 2.0, 4.0]
    """
    correct = _check_epochs(correct, "correct", dtype=bool)
    events = np.sum(correct[:, :-1] & ~correct[:, 1:], axis=1).astype(np.float64)
    events[~correct.any(axis=1)] = correct.shape[1]
    return events


def aum(logit_margin):
    """Area under the margin (Pleiss et al., NeurIPS 2020), negated.

    AUM is the mean over epochs of the logit margin ``z_y - max_{k != y} z_k``;
    low (negative) AUM flags hard or mislabeled samples. The importance is
    ``-AUM`` so that higher is harder.

    Parameters
    ----------
    logit_margin : array-like of shape (n_samples, n_epochs)
        Per-epoch logit margin of the labeled class.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 ``-mean(logit_margin)`` over epochs; higher is harder.

    See Also
    --------
    margin : the final-output probability margin.
    forgetting : forgetting events over the same epochs.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import aum
    >>> aum(np.array([[1.0, 3.0], [-2.0, 0.0]])).tolist()
    [-2.0, 1.0]
    """
    logit_margin = _check_epochs(logit_margin, "logit_margin")
    return 0.0 - logit_margin.mean(axis=1)


def dyn_unc(target_proba, window=10):
    """Dynamic uncertainty (He et al., CVPR 2023).

    For every window of ``window`` consecutive epochs (stride 1, so
    ``n_epochs - window + 1`` windows), take the standard deviation
    (population, ``ddof=0``) of the labeled class's probability ``p_y`` within
    the window; the score is the mean over windows. Samples whose prediction
    keeps moving score high; higher is harder. When ``window`` exceeds the
    number of recorded epochs, one window of all epochs is used.

    Parameters
    ----------
    target_proba : array-like of shape (n_samples, n_epochs)
        Per-epoch probability of the labeled class.
    window : int, default=10
        Window length ``J`` in epochs.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 mean windowed standard deviation of ``p_y``, in ``[0, 0.5]``.

    See Also
    --------
    dual : windowed uncertainty weighted by difficulty.
    tdds : windowed variance of the prediction change.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import dyn_unc
    >>> p = np.array([[0.9, 0.9, 0.9, 0.9], [0.2, 0.4, 0.2, 0.4]])
    >>> np.round(dyn_unc(p, window=2), 4).tolist()
    [0.0, 0.1]
    """
    target_proba = _check_epochs(target_proba, "target_proba")
    window = min(_check_window(window), target_proba.shape[1])
    return _windowed(
        target_proba, window, lambda v: v.std(axis=2), _uniform_weights
    )


def tdds(change, window=10, beta=0.9, horizon=None):
    """Temporal Dual-Depth Scoring (Zhang et al., CVPR 2024), our reading.

    ``change[:, t]`` is the per-epoch change of the prediction,
    ``d_t = sum_c |p_{t,c} (log p_{t,c} - log p_{t-1,c})|``; column 0 has no
    previous epoch and is ignored. Over ``d_1 .. d_T`` (``T = horizon``, or all
    recorded epochs), windows of ``window`` epochs slide with stride 1; ``v_k``
    is the variance (``ddof=0``) of ``d`` within window ``k``, and the score is
    the exponential moving average
    ``sum_k v_k * beta * (1 - beta) ** (K - 1 - k)`` over the ``K`` windows, so
    the most recent windows weigh most. Samples whose contribution to training
    keeps varying score high; higher is more informative.

    TDDS projects per-sample gradients on the accumulated update; the
    prediction change ``d_t`` is our stand-in that needs no gradients. ``beta``,
    ``window`` and ``horizon`` are parameters (the paper tunes them per
    dataset). When ``window`` exceeds ``T``, one window of all ``T`` epochs is
    used.

    Parameters
    ----------
    change : array-like of shape (n_samples, n_epochs)
        Per-epoch prediction change; needs ``n_epochs >= 2``.
    window : int, default=10
        Window length ``J`` in epochs.
    beta : float, default=0.9
        Moving-average weight, in ``(0, 1]``; ``1`` keeps only the last window.
    horizon : int, default=None
        Number ``T`` of epochs (after epoch 0) to use, in
        ``[1, n_epochs - 1]``; ``None`` uses all.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 TDDS score, non-negative; higher is more informative.

    See Also
    --------
    epoch_statistics : records the per-epoch ``change`` statistic.
    dyn_unc : windowed standard deviation of the label's probability.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import tdds
    >>> change = np.array([[0.0, 1.0, 3.0, 2.0, 4.0],
    ...                    [0.0, 1.0, 1.0, 1.0, 1.0]])
    >>> tdds(change, window=2, beta=0.5).tolist()
    [0.6875, 0.0]
    """
    change = _check_epochs(change, "change")
    n_changes = change.shape[1] - 1
    if n_changes < 1:
        raise ValueError(
            "tdds needs at least two recorded epochs (a change needs a previous "
            "epoch); got 1."
        )
    if horizon is None:
        horizon = n_changes
    elif not is_int(horizon) or not 1 <= horizon <= n_changes:
        raise ValueError(
            f"horizon must be an integer in [1, {n_changes}] (recorded epochs "
            f"minus one) or None; got {horizon!r}."
        )
    if not isinstance(beta, numbers.Real) or not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be a float in (0, 1]; got {beta!r}.")
    window = min(_check_window(window), int(horizon))
    changes = change[:, 1 : int(horizon) + 1]

    def ema_weights(n_windows):
        return beta * (1.0 - beta) ** np.arange(n_windows - 1, -1, -1, dtype=float)

    return _windowed(changes, window, lambda v: v.var(axis=2), ema_weights)


def dual(target_proba, window=10):
    """Dual score (Cho et al., ICML 2025), averaged over sliding windows.

    Within a window of ``window`` consecutive epochs, the Dual score is
    ``std(p_y) * (1 - mean(p_y))`` (population std): high when the prediction
    of the labeled class both moves (uncertainty) and stays low (difficulty).
    The paper scores one window at an early epoch; we average the score over
    all windows of the recorded run (stride 1), and use one window of all
    epochs when ``window`` exceeds their number. Higher is harder.

    Parameters
    ----------
    target_proba : array-like of shape (n_samples, n_epochs)
        Per-epoch probability of the labeled class.
    window : int, default=10
        Window length ``J`` in epochs.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 Dual score, non-negative; higher is harder.

    See Also
    --------
    dyn_unc : the uncertainty term alone.
    skunseen.selection.beta_sampling : DUAL's selection rule for this score.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import dual
    >>> p = np.array([[0.2, 0.4, 0.6, 0.8], [0.9, 0.9, 0.9, 0.9]])
    >>> np.round(dual(p, window=2), 4).tolist()
    [0.05, 0.0]
    """
    target_proba = _check_epochs(target_proba, "target_proba")
    window = min(_check_window(window), target_proba.shape[1])
    return _windowed(
        target_proba,
        window,
        lambda v: v.std(axis=2) * (1.0 - v.mean(axis=2)),
        _uniform_weights,
    )
