"""Resumable runs: finished tasks survive a killed process and are never reused stale."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.linear_model import LogisticRegression
from torch.utils.data import TensorDataset

from helpers import tiny_net
from skunseen import FittingPruner, UnseenPruner
from skunseen.engine._store import _digest
from skunseen._files import _host, owned_prefix

TESTS = Path(__file__).resolve().parent


class Pause(Callback):
    """Sleeps after every epoch when SKUNSEEN_TEST_PAUSE is set.

    The pause is read from the environment, not a parameter, so a slowed-down
    run and a normal one share their checkpoint keys.
    """

    def on_epoch_end(self, net, **kwargs):
        time.sleep(float(os.environ.get("SKUNSEEN_TEST_PAUSE", 0)))


def killable_pruner(checkpoint_dir=None):
    return UnseenPruner(tiny_net(max_epochs=2, callbacks=[("pause", Pause())]),
                        scorer="forgetting", cv=4, random_state=0,
                        checkpoint_dir=checkpoint_dir)


def checkpoints(directory):
    return sorted(path for path in Path(directory).glob("*.npz")
                  if not path.name.startswith("."))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_coreset(small_digits, tmp_path):
    X, y = small_digits
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    directory = tmp_path / "checkpoints"
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path.insert(0, {str(TESTS)!r})
        from test_checkpoint import killable_pruner
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        killable_pruner({str(directory)!r}).fit(X, y)
        print("finished")
    """)
    env = {**os.environ, "SKUNSEEN_TEST_PAUSE": "0.5"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not checkpoints(directory):
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert 1 <= len(checkpoints(directory)) < 4

    resumed = killable_pruner(directory).fit(X, y)
    uninterrupted = killable_pruner().fit(X, y)
    assert 1 <= resumed.n_tasks_resumed_ < 4
    assert [info["resumed"] for info in resumed.task_info_].count(True) == \
        resumed.n_tasks_resumed_
    np.testing.assert_array_equal(resumed.sample_indices_, uninterrupted.sample_indices_)
    np.testing.assert_allclose(resumed.scores_, uninterrupted.scores_, rtol=1e-6)
    assert len(checkpoints(directory)) == 4


def lr_pruner(directory, **params):
    return UnseenPruner(**{"estimator": LogisticRegression(max_iter=100), "cv": 3,
                           "random_state": 0, "checkpoint_dir": directory, **params})


def test_only_unchanged_work_is_reused(small_digits, tmp_path, capsys):
    X, y = small_digits
    first = lr_pruner(tmp_path).fit(X, y)
    assert first.n_tasks_resumed_ == 0 and len(checkpoints(tmp_path)) == 3

    again = lr_pruner(tmp_path, verbose=1).fit(X, y)
    assert again.n_tasks_resumed_ == 3
    assert "Resumed 3 of 3 scoring models" in capsys.readouterr().out
    np.testing.assert_array_equal(again.sample_indices_, first.sample_indices_)
    np.testing.assert_array_equal(again.scores_, first.scores_)
    # Selection acts after scoring: the folds are reused for another budget.
    assert lr_pruner(tmp_path, keep=0.2, selector="hard").fit(X, y).n_tasks_resumed_ == 3

    changed_X = X.copy()
    changed_X[0, 0] += 0.5
    changed_y = y.copy()
    changed_y[0] = (y[0] + 1) % 10
    for pruner, data in [
        (lr_pruner(tmp_path), (changed_X, y)),
        (lr_pruner(tmp_path), (X, changed_y)),
        (lr_pruner(tmp_path, random_state=1), (X, y)),
        (lr_pruner(tmp_path, cv=4), (X, y)),
        (lr_pruner(tmp_path, estimator=LogisticRegression(max_iter=100, C=0.5)), (X, y)),
        (FittingPruner(LogisticRegression(max_iter=100), random_state=0,
                       checkpoint_dir=tmp_path), (X, y)),
    ]:
        assert pruner.fit(*data).n_tasks_resumed_ == 0, pruner


def test_damaged_checkpoints_are_trained_again(small_digits, tmp_path):
    X, y = small_digits
    first = lr_pruner(tmp_path).fit(X, y)
    damaged = checkpoints(tmp_path)[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    # What a kill during a write leaves behind is never read.
    (tmp_path / ".partial-x.tmp").write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="Ignoring unreadable checkpoint.*trained again"):
        again = lr_pruner(tmp_path).fit(X, y)
    assert again.n_tasks_resumed_ == 2
    np.testing.assert_array_equal(again.scores_, first.scores_)
    assert lr_pruner(tmp_path).fit(X, y).n_tasks_resumed_ == 3


def test_unfingerprintable_estimator_fits_without_checkpoints(small_digits, tmp_path):
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.pipeline import make_pipeline

    X, y = small_digits
    model = make_pipeline(FunctionTransformer(lambda Z: Z * 2), LogisticRegression(max_iter=100))
    with pytest.warns(UserWarning, match="cannot be fingerprinted.*checkpoint_dir is ignored"):
        pruner = lr_pruner(tmp_path, estimator=model).fit(X, y)
    assert len(pruner.sample_indices_) == 150 and not checkpoints(tmp_path)


@pytest.mark.cuda
def test_checkpoints_written_on_cuda_resume_to_the_same_coreset(tmp_path):
    from skunseen.models import make_net

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(120, 3, 16, 16)).astype(np.uint8)
    y = np.arange(120) % 3

    def pruner():
        net = make_net("fastcifar", input_shape=X.shape[1:], n_classes=3, device="cuda",
                       max_epochs=2, batch_size=32, module__width=0.125)
        return UnseenPruner(net, scorer="forgetting", cv=3, random_state=0,
                            checkpoint_dir=tmp_path)

    first = pruner().fit(X, y)
    assert first.n_tasks_resumed_ == 0 and len(checkpoints(tmp_path)) == 3
    second = pruner().fit(X, y)
    assert second.n_tasks_resumed_ == 3
    np.testing.assert_array_equal(first.scores_, second.scores_)
    np.testing.assert_array_equal(first.sample_indices_, second.sample_indices_)


def rewrite(path, edit):
    """Edit a checkpoint's arrays and write it back under the same key."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    edit(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def permute_proba(meta, arrays):
    key = meta["arrays"]["proba"]
    arrays[key] = arrays[key][::-1].copy()


def drop_rows(meta, arrays):
    for key in meta["arrays"].values():
        arrays[key] = arrays[key][:-10].copy()
        meta["digests"][key] = _digest(arrays[key])


def another_folds_rows(meta, arrays):
    key = meta["arrays"]["indices"]
    arrays[key] = arrays[key] + 1
    meta["digests"][key] = _digest(arrays[key])


@pytest.mark.parametrize("edit, reason", [
    (permute_proba, "its arrays differ from those written"),
    (drop_rows, "its rows are not the task's scored rows"),
    (another_folds_rows, "its rows are not the task's scored rows"),
])
def test_records_that_do_not_fit_their_task_are_trained_again(small_digits, tmp_path, edit,
                                                              reason):
    X, y = small_digits
    first = lr_pruner(tmp_path).fit(X, y)
    rewrite(checkpoints(tmp_path)[1], edit)
    with pytest.warns(UserWarning, match=f"Ignoring unreadable checkpoint.*{reason}.*"
                                         "trained again"):
        again = lr_pruner(tmp_path).fit(X, y)
    assert again.n_tasks_resumed_ == 2
    np.testing.assert_array_equal(again.scores_, first.scores_)
    np.testing.assert_array_equal(again.sample_indices_, first.sample_indices_)


def test_temporary_files_of_dead_runs_are_removed(small_digits, tmp_path):
    X, y = small_digits
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    orphan = tmp_path / f".partial-{_host()}-{pid}-abc.tmp"
    live = tmp_path / f"{owned_prefix('.partial-')}def.tmp"
    elsewhere = tmp_path / f".partial-otherhost-{pid}-ghi.tmp"
    for path in (orphan, live, elsewhere):
        path.write_bytes(b"half a file")
    lr_pruner(tmp_path).fit(X, y)
    assert not orphan.exists() and live.exists() and elsewhere.exists()


def test_a_dataset_changed_anywhere_never_reuses_its_folds(small_digits, tmp_path):
    X, y = small_digits
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    net = tiny_net(max_epochs=1)

    def fit(data):
        return UnseenPruner(net, cv=3, random_state=0, checkpoint_dir=tmp_path).fit(data, y)

    fitted = fit(dataset)
    assert fit(dataset).n_tasks_resumed_ == 3
    for row in (1, 150, 298):  # rows that a sample of a few rows would miss
        changed = X.copy()
        changed[row, 10] += 1.0
        other = fit(TensorDataset(torch.from_numpy(changed), torch.from_numpy(y)))
        assert other.n_tasks_resumed_ == 0, row
        with pytest.raises(ValueError, match="differs from it"):
            fitted.transform(TensorDataset(torch.from_numpy(changed), torch.from_numpy(y)))
