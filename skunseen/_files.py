"""Temporary files named after the process writing them, so later runs can clean up.

Checkpoints and the image cache are written to a temporary name and moved
into place, so a process killed mid-write leaves only its temporary file or
folder behind. Those names carry the host and process id of the writer;
the next run on that host removes the ones whose process is gone, and
leaves those of live processes (a concurrent run still writing) alone.
"""

import os
import re
import shutil
import socket


def _host():
    # Only letters and digits, so that the name parses back unambiguously.
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())


def owned_prefix(stem):
    """Prefix of a temporary name owned by this process: ``stem + host-pid-``.

    Parameters
    ----------
    stem : str
        What the temporary entries of one kind start with, e.g. ``".partial-"``.

    Returns
    -------
    prefix : str
        For :func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp`, which add an
        unpredictable suffix.

    Examples
    --------
    >>> import os
    >>> from skunseen._files import owned_prefix
    >>> owned_prefix(".partial-").endswith(f"-{os.getpid()}-")
    True
    """
    return f"{stem}{_host()}-{os.getpid()}-"


def _process_is_gone(pid):
    if os.name != "posix":
        return False  # no harmless liveness probe (os.kill would end the process)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by someone else
    return False


def remove_orphans(directory, stem_pattern):
    r"""Remove the temporary entries left in ``directory`` by dead processes.

    Entries of other hosts, of live processes, and names this module did
    not produce are kept; a symlink is removed as a link, never followed.

    Parameters
    ----------
    directory : str or path-like
        Where the temporary entries live.
    stem_pattern : str
        Regular expression matching the stems given to :func:`owned_prefix`
        (``re.escape(stem)`` for a fixed one).

    Returns
    -------
    removed : list of str
        Names of the entries removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from skunseen._files import owned_prefix, remove_orphans
    >>> directory = tempfile.mkdtemp()
    >>> mine = tempfile.mkstemp(prefix=owned_prefix(".partial-"), dir=directory)[1]
    >>> remove_orphans(directory, r"\.partial-")  # this process is alive
    []
    """
    pattern = re.compile(stem_pattern + r"(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)-")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    host = _host()
    for name in names:
        match = pattern.match(name)
        if not match or match["host"] != host or not _process_is_gone(int(match["pid"])):
            continue
        path = os.path.join(directory, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            continue  # another run removed it first, or it is not ours to remove
        removed.append(name)
    return removed
