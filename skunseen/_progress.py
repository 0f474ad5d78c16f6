"""Progress bars for long work, shown when ``verbose`` is set."""

from tqdm.auto import tqdm


def progress(iterable, *, total=None, desc=None, verbose=0):
    """Wrap ``iterable`` in a tqdm bar when ``verbose`` is truthy."""
    if not verbose:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=verbose > 1)
