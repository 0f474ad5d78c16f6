"""``--quiet`` changes what is printed, never what is computed."""

import numpy as np

from skunseen.cli import main

POOL = ["--limit", "300", "--epochs", "2", "--folds", "3"]


def test_prune_and_compare_score_the_same_with_and_without_progress(tmp_path):
    for flag in ("-q", "-v"):
        assert main(["prune", *POOL, flag, "--out", str(tmp_path / f"prune{flag}")]) == 0
        assert main(["compare", *POOL, flag, "--methods", "unseen", "--keeps", "0.5",
                     "--seeds", "1", "--out", str(tmp_path / f"compare{flag}")]) == 0
    for name in ("prune{}/scores.npy", "compare{}/scores/unseen-seed0.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / name.format("-q")),
                                      np.load(tmp_path / name.format("-v")))
