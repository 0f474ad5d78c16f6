"""Progress bars for long work, shown when ``verbose`` is set.

On a terminal and in a notebook they are tqdm's animated bars. Written to a
file or a pipe (a log, CI output) an animated bar would leave carriage
returns and escape codes behind, so there a bar prints a plain line at most
every :data:`LINE_INTERVAL` seconds, and nothing at all for work shorter
than that.
"""

import re
import sys

from skorch.callbacks import Callback
from tqdm import autonotebook, std

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


class EpochProgress(Callback):
    """skorch callback showing a bar over a net's epochs with its training loss.

    Parameters
    ----------
    desc : str, default="epochs"
        Label of the bar.
    leave : bool, default=False
        Keep the finished bar on screen (``False`` suits nets trained one
        after another under an outer bar).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skunseen._progress import EpochProgress
    >>> net = NeuralNetClassifier(torch.nn.Linear(2, 2), max_epochs=2, train_split=None,
    ...                           criterion=torch.nn.CrossEntropyLoss, verbose=0,
    ...                           callbacks=[("progress", EpochProgress(leave=True))])
    >>> X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    >>> len(net.fit(X, y).history)
    2
    """

    def __init__(self, desc="epochs", leave=False):
        self.desc = desc
        self.leave = leave

    def on_train_begin(self, net, **kwargs):
        self.bar_ = make_bar(total=net.max_epochs, desc=self.desc, leave=self.leave,
                             unit="epoch")

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        # a closed bar holds a lock that cannot be pickled with the net
        self.bar_ = None
