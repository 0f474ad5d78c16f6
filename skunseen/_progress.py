"""Progress bars for long work, shown when ``verbose`` is set."""

from skorch.callbacks import Callback
from tqdm.auto import tqdm


def progress(iterable, *, total=None, desc=None, verbose=0):
    """Wrap ``iterable`` in a tqdm bar when ``verbose`` is truthy."""
    if not verbose:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=verbose > 1)


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
        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=self.leave, unit="epoch")

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        # a closed bar holds a lock that cannot be pickled with the net
        self.bar_ = None
