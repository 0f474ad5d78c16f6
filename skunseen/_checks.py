"""Checks of argument values shared by the scorers and the selection rules."""

import numbers


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
