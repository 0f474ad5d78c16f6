"""What the command line writes is safe to open: no spreadsheet formulas, no live HTML."""

import csv

import pytest

from helpers import image_folder
from skunseen.cli import main

# Class folder names that a spreadsheet would run, and one it would not.
HOSTILE = ["=2+5", "+cmd|' -C calc'!A0", "-1+1", "@SUM(1+1)", "\tx=1", "\r=1"]


def test_coreset_csv_cells_cannot_run_as_formulas(tmp_path):
    root = image_folder(tmp_path / "data", [*HOSTILE, "plain"])
    out = tmp_path / "run"
    assert main(["prune", "--dataset", "imagefolder", "--data", str(root), "--image-size", "8",
                 "--selector", "random", "--keep", "1.0", "-q", "--out", str(out)]) == 0
    with open(out / "coreset.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert sorted({row["class"] for row in rows}) == sorted(
        ["'" + name for name in HOSTILE] + ["plain"])
    for row in rows:
        assert not row["class"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert row["file"].startswith("train/")
    # Numbers stay numbers (unquoted), text is quoted.
    with open(out / "coreset.csv", newline="", encoding="utf-8") as file:
        header, *cells = csv.reader(file, quoting=csv.QUOTE_NONNUMERIC)
    assert header == ["pool_row", "source_index", "file", "label", "class"]
    assert all(isinstance(row[0], float) and isinstance(row[1], float)
               and isinstance(row[2], str) and isinstance(row[3], float) for row in cells)


@pytest.fixture
def runs(tmp_path):
    """A prune run in a folder whose name is HTML, and its report."""
    name = "<img src=x onerror=alert(1)>|x&y"
    assert main(["prune", "--limit", "100", "--selector", "random", "-q", "--out",
                 str(tmp_path / name)]) == 0
    assert main(["report", str(tmp_path / name), "--out", str(tmp_path / "rep")]) == 0
    return tmp_path / "rep"


def test_report_tables_carry_no_live_html(runs):
    markdown = (runs / "report.md").read_text()
    assert "<img" not in markdown
    assert "| &lt;img src=x onerror=alert(1)&gt;\\|x&amp;y | random |" in markdown
    page = (runs / "report.html").read_text()
    assert "<img src=x" not in page
    assert "<td>&lt;img src=x onerror=alert(1)&gt;|x&amp;y</td>" in page
