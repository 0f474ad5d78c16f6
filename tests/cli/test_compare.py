"""``skunseen compare``: UNSEEN, fitting, random and full data in one report."""

import csv
import html
import itertools
import json

import numpy as np

from skunseen.cli import main

DATA = ["--limit", "300", "-q"]
POOL = [*DATA, "--epochs", "1", "--folds", "3"]


def test_compare_reports_every_method_keep_and_seed(tmp_path):
    out = tmp_path / "compare"
    assert main(["compare", *POOL, "--keeps", "0.2,0.5", "--seeds", "2",
                 "--selectors", "ccs,hard", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    rows = report["rows"]
    # per keep: unseen and fitting with two selectors each, and random; full data once
    assert [(r["method"], r["selector"], r["keep"]) for r in rows] == [
        *[(m, s, keep) for keep in (0.2, 0.5)
          for m, s in (("unseen", "ccs"), ("unseen", "hard"), ("fitting", "ccs"),
                       ("fitting", "hard"), ("random", None))],
        ("full", None, None)]
    assert all(len(r["accuracy"]) == 2 and len(r["coresets"]) == (r["method"] != "full") * 2
               for r in rows)
    assert [r["n_selected"] for r in rows] == [60] * 5 + [150] * 5 + [300]
    # Every two methods of a keep are compared on the same seeds, and a best is
    # marked only where it is detected better than all the others.
    differences = report["differences"]
    assert len(differences) == 2 * 10
    for keep in (0.2, 0.5):
        group = [(r["method"], r["selector"]) for r in rows if r["keep"] == keep]
        compared = [d for d in differences if d["keep"] == keep]
        assert {(tuple(d["first"].values()), tuple(d["second"].values()))
                for d in compared} == set(itertools.combinations(group, 2))
        for row in (r for r in rows if r["keep"] == keep):
            me = {"method": row["method"], "selector": row["selector"]}
            verdicts = [d["verdict"] == ("better" if d["first"] == me else "worse")
                        for d in compared if me in (d["first"], d["second"])]
            assert row["best"] == all(verdicts)
    assert not rows[-1]["best"]
    assert differences[0]["label"] == "unseen (ccs) − unseen (hard)"
    assert all((d["p_value"] < 0.05) == (d["verdict"] in ("better", "worse"))
               for d in differences)
    # one scoring per seed and method, shared by both keeps and both selectors
    assert len(list((out / "checkpoints").glob("*.npz"))) == 2 * (3 + 1)
    assert sorted(p.name for p in (out / "scores").iterdir()) == [
        "fitting-seed0.npy", "fitting-seed1.npy", "unseen-seed0.npy", "unseen-seed1.npy"]
    for name in ("accuracy.png", "scores.png"):
        assert (out / name).stat().st_size > 1000
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    assert "- **score std**:" in markdown and "## Paired differences" in markdown
    assert report["summary"].startswith("Test accuracy, paired over 2 seeds (95% intervals, "
                                        "in points): keep 20%: ")
    assert report["summary"] in markdown and html.escape(report["summary"]) in page
    starred = [line for line in markdown.splitlines() if line.startswith("|") and "★" in line]
    assert len(starred) == sum(r["best"] for r in rows)
    # The note names the columns the coreset files have (digits come from no file).
    with open(out / "coresets" / "unseen-ccs-keep0.2-seed0.csv", newline="") as file:
        header = next(csv.reader(file))
    assert header == ["pool_row", "source_index", "label", "class"]
    assert f"(columns {', '.join(header)})" in markdown
    assert "data:image/png;base64," in page

    # The coresets are the ones prune writes for the same options and seed.
    assert main(["prune", *POOL, "--keep", "0.5", "--selector", "hard", "--seed", "1",
                 "--out", str(tmp_path / "unseen")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "unseen" / "coreset.npy"),
                                  np.load(out / "coresets" / "unseen-hard-keep0.5-seed1.npy"))
    assert main(["prune", *DATA, "--keep", "0.2", "--selector", "random", "--seed", "0",
                 "--out", str(tmp_path / "random")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "random" / "coreset.npy"),
                                  np.load(out / "coresets" / "random-keep0.2-seed0.npy"))
    assert (out / "coresets" / "random-keep0.2-seed0.csv").read_text() == (
        tmp_path / "random" / "coreset.csv").read_text()


def test_compare_without_scored_methods_trains_no_scoring_model(tmp_path):
    out = tmp_path / "compare"
    assert main(["compare", *DATA, "--epochs", "1", "--methods", "random,full", "--keeps", "30",
                 "--seeds", "1", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [(r["method"], r["n_selected"]) for r in report["rows"]] == [
        ("random", 30), ("full", 300)]
    assert not any((out / name).exists() for name in ("checkpoints", "scores", "scores.png"))


def test_report_points_a_compare_folder_to_its_own_report(tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["compare", *DATA, "--methods", "random", "--keeps", "30", "--seeds", "1",
                 "--out", str(out)]) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 2
    assert "written by `skunseen compare`" in capsys.readouterr().err


def test_compare_checks_keeps_against_the_pool_before_writing(tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["compare", *POOL, "--keeps", "0.5,400", "--out", str(out)]) == 2
    assert "--keeps 400 asks for more samples than the pool's 300" in capsys.readouterr().err
    assert not out.exists()
