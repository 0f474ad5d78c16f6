"""Temporary files of dead processes are removed; nothing else is."""

import os
import re
import subprocess
import sys

from skunseen._files import _host, owned_prefix, remove_orphans


def dead_pid():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_only_entries_of_dead_processes_on_this_host_are_removed(tmp_path):
    pid = dead_pid()
    dead_file = tmp_path / f".partial-{_host()}-{pid}-a.tmp"
    dead_folder = tmp_path / f".partial-{_host()}-{pid}-b"
    dead_link = tmp_path / f".partial-{_host()}-{pid}-c"
    live = tmp_path / f"{owned_prefix('.partial-')}d.tmp"
    other_host = tmp_path / f".partial-{_host()}x-{pid}-e.tmp"
    unrelated = tmp_path / f"fold-{pid}.npz"
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("kept")
    dead_file.write_text("")
    dead_folder.mkdir()
    (dead_folder / "inside.npy").write_text("")
    dead_link.symlink_to(target, target_is_directory=True)
    for path in (live, other_host, unrelated):
        path.write_text("")
    removed = remove_orphans(tmp_path, re.escape(".partial-"))
    assert sorted(removed) == sorted([dead_file.name, dead_folder.name, dead_link.name])
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other_host.name, unrelated.name,
                                                   "target"])
    assert (target / "keep.txt").read_text() == "kept"  # the link was not followed


def test_a_missing_directory_has_nothing_to_remove(tmp_path):
    assert remove_orphans(tmp_path / "absent", re.escape(".partial-")) == []
