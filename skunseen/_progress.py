"""Progress bars for long work, shown when ``verbose`` is set.

On a terminal and in a notebook they are tqdm's animated bars. Written to a
file or a pipe (a log, CI output) an animated bar would leave carriage
returns and escape codes behind, so there a bar prints a plain line at most
every :data:`LINE_INTERVAL` seconds, and nothing at all for work shorter
than that. tqdm loads with the first bar.
"""

import re
import sys

#: Seconds between two lines of a bar that is not drawn on a terminal.
LINE_INTERVAL = 15.0

_LINE_FORMAT = ("{desc}: {percentage:3.0f}% ({n_fmt}/{total_fmt} {unit}) "
                "after {elapsed}, {remaining} to go{postfix}")
_LINE_FORMAT_NO_TOTAL = "{desc}: {n_fmt} {unit} after {elapsed}{postfix}"


class _Lines:
    """A file for tqdm that receives every refresh as one plain line."""

    # tqdm redraws with carriage returns and moves nested bars with cursor codes.
    _CONTROL = re.compile(r"\r|\x1b\[[0-9;]*[A-Za-z]")

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        line = self._CONTROL.sub("", text).strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self):
        self.stream.flush()


def make_bar(**kwargs):
    """A tqdm bar on ``sys.stderr``: animated on a terminal or in a notebook,
    plain periodic lines elsewhere.

    Parameters
    ----------
    **kwargs
        Passed to :class:`tqdm.tqdm` (``iterable``, ``total``, ``desc``,
        ``leave``, ``unit``, ...).

    Returns
    -------
    tqdm.tqdm

    Examples
    --------
    >>> from skunseen._progress import make_bar
    >>> with make_bar(total=3, desc="work", unit="step") as bar:
    ...     bar.update(3)
    """
    from tqdm import autonotebook, std

    if autonotebook.tqdm is not std.tqdm:  # running in a notebook: its widget
        return autonotebook.tqdm(**kwargs)
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return std.tqdm(file=stream, **kwargs)
    known = kwargs.get("total") is not None or hasattr(kwargs.get("iterable"), "__len__")
    options = dict(mininterval=LINE_INTERVAL, delay=LINE_INTERVAL, ascii=True, unit="it",
                   bar_format=_LINE_FORMAT if known else _LINE_FORMAT_NO_TOTAL)
    options.update(kwargs)
    return std.tqdm(file=_Lines(stream), **options)


def progress(iterable, *, total=None, desc=None, verbose=0):
    """Wrap ``iterable`` in a bar (see :func:`make_bar`) when ``verbose`` is truthy."""
    if not verbose:
        return iterable
    return make_bar(iterable=iterable, total=total, desc=desc, leave=verbose > 1)
