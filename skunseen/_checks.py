"""Checks of argument values shared by the scorers and the selection rules."""

import numbers

from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError


def is_int(value):
    """Whether ``value`` is an integer and not a bool.

    A bool is an ``Integral`` to Python, but ``window=True`` or
    ``n_select=True`` is a caller's error, not a 1.

    Examples
    --------
    >>> from skunseen._checks import is_int
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def refuse_bools(**counts):
    """Refuse a bool given for a count (``n_repeats=True``, ``n_jobs=False``).

    scikit-learn's ``Interval(Integral, ...)`` constraints take a bool as the
    integer 0 or 1, which would silently change what is computed.

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and ``TypeError``) naming the first such parameter.

    Examples
    --------
    >>> from skunseen._checks import refuse_bools
    >>> refuse_bools(n_repeats=2, n_jobs=None)
    >>> refuse_bools(n_repeats=True)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: n_repeats=True: n_repeats must be an integer, not a bool.
    """
    for name, value in counts.items():
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise InvalidParameterError(f"{name}={value!r}: {name} must be an integer, not a bool.")


def check_seed(random_state):
    """:func:`~sklearn.utils.check_random_state`, refusing a bool (``True`` is not a seed).

    Examples
    --------
    >>> from skunseen._checks import check_seed
    >>> check_seed(0).randint(10) == check_seed(0).randint(10)
    True
    """
    refuse_bools(random_state=random_state)
    return check_random_state(random_state)
