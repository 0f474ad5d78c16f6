"""Seeds and the lock around torch's global generators: every random draw of
the engine and the pruners comes from here.

Seeds are drawn from the caller's ``random_state`` before any model trains,
so that neither the joblib backend nor the order in which tasks finish can
change them. The module imports neither torch nor scikit-learn.
"""

import threading

import numpy as np

#: Exclusive upper bound of every drawn seed (the int32 range numpy and torch take).
MAX_SEED = np.iinfo(np.int32).max

#: Serialises writes to torch's process-global random generators, and the
#: training of nets that draw from them (see :mod:`skunseen.nets._devices`).
#: Re-entrant, so a task already holding it may take it again.
RNG_LOCK = threading.RLock()


def draw_seeds(rng, size):
    """``size`` independent seeds from ``rng``, drawn up front.

    Parameters
    ----------
    rng : numpy.random.RandomState
    size : int

    Returns
    -------
    seeds : ndarray of int of shape (size,)

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen._rng import draw_seeds
    >>> draw_seeds(np.random.RandomState(0), 2).tolist()
    [209652396, 398764591]
    """
    return rng.randint(MAX_SEED, size=size)


def draw_seed(rng):
    """One seed from ``rng`` (an int), e.g. for a selection rule."""
    return rng.randint(MAX_SEED)


def task_seeds(seed):
    """Independent seeds for a task's initialisation, data order and training.

    Parameters
    ----------
    seed : int
        The task's seed.

    Returns
    -------
    init_seed, order_seed, train_seed : int

    Examples
    --------
    >>> from skunseen._rng import task_seeds
    >>> task_seeds(0) == task_seeds(0), len(set(task_seeds(0)))
    (True, 3)
    """
    return tuple(int(s) for s in np.random.SeedSequence(int(seed)).generate_state(3))
