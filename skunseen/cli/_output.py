"""Writing the command line's results so that a failed run leaves nothing usable.

A command writes its files into a hidden staging folder inside ``--out``
and moves them into place only once all of them are written; the files that
say a run finished (``report.json``, a coreset's ``.json`` record) are
removed first and moved last. A run that fails or is interrupted therefore
leaves either its complete results or none of them, never a coreset without
its record. Single files are written to a temporary name and renamed.

A Ctrl-C while a command runs is remembered: a library that catches the
KeyboardInterrupt and carries on (skorch ends a net's training on one and
returns) cannot make the command publish results as if it had not been
interrupted; the next write raises KeyboardInterrupt instead.
"""

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .._files import owned_prefix, remove_orphans

_STAGING = ".skunseen-staging-"
_PARTIAL = ".partial-"
_ctrl_c = threading.Event()


@contextlib.contextmanager
def interrupts_remembered():
    """Remember every Ctrl-C (SIGINT) while the block runs; it still raises
    KeyboardInterrupt where it lands. Off the main thread, where Python
    delivers no signals, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_ctrl_c(signum, frame):
        _ctrl_c.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _ctrl_c.clear()


def stop_if_interrupted():
    """Raise KeyboardInterrupt if Ctrl-C was pressed since the command started."""
    if _ctrl_c.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def staged(out, *, last=(), outputs=()):
    """A folder to write a run's files into; they move into ``out`` when the block ends.

    Parameters
    ----------
    out : Path
        The output folder, created when needed (and removed again when the
        run fails and this left it empty).
    last : sequence of str
        Files that mark the results as complete, moved last in this order;
        an older copy of each is removed before any file moves.
    outputs : sequence of str
        Every file the command may write: those this run did not write are
        removed from ``out`` when it publishes, so that no file of an
        earlier run stands beside this run's results.

    Yields
    ------
    Path
        The staging folder, inside ``out``.
    """
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    remove_orphans(out, re.escape(_STAGING))
    stage = Path(tempfile.mkdtemp(prefix=owned_prefix(_STAGING), dir=out))
    try:
        yield stage
        _publish(stage, out, last, outputs)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()


def _publish(stage, out, last, outputs):
    stop_if_interrupted()
    names = sorted(path.name for path in stage.iterdir())
    order = [name for name in names if name not in last] + [name for name in last
                                                              if name in names]
    for name in (*last, *(name for name in outputs if name not in names)):
        (out / name).unlink(missing_ok=True)
    moved = []
    try:
        for name in order:
            os.replace(stage / name, out / name)
            moved.append(name)
    except BaseException:
        for name in moved:
            (out / name).unlink(missing_ok=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    A reader never sees a partly written ``path``; a process killed while
    writing leaves a hidden temporary file that the next write there removes.
    """
    stop_if_interrupted()
    folder = path.parent
    remove_orphans(folder, re.escape(_PARTIAL))
    descriptor, temporary = tempfile.mkstemp(prefix=owned_prefix(_PARTIAL), dir=folder)
    try:
        # mkstemp makes the file private (0600); results get the usual mode.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
