"""Progress bars: tqdm's on a terminal, plain periodic lines in files and pipes."""

import io
import sys

from skunseen import _progress
from skunseen._progress import make_bar, progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(monkeypatch, stream, interval=None):
    monkeypatch.setattr(sys, "stderr", stream)
    if interval is not None:
        monkeypatch.setattr(_progress, "LINE_INTERVAL", interval)
    for _ in progress(range(3), total=3, desc="work", verbose=1):
        with make_bar(total=2, desc="inner", unit="epoch") as bar:
            bar.update(2)
    return stream.getvalue()


def test_off_a_terminal_each_refresh_is_one_plain_line(monkeypatch):
    text = _run(monkeypatch, io.StringIO(), interval=0)
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert "work: 100% (3/3 it) after 00:00, 00:00 to go" in lines
    assert "inner: 100% (2/2 epoch) after 00:00, 00:00 to go" in lines


def test_off_a_terminal_work_shorter_than_the_interval_prints_nothing(monkeypatch):
    assert _run(monkeypatch, io.StringIO()) == ""


def test_on_a_terminal_bars_redraw_in_place(monkeypatch):
    text = _run(monkeypatch, _Terminal())
    assert "\rwork:   0%|" in text and "\x1b[A" in text
