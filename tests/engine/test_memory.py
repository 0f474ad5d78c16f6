"""The store (``memory``): score once, select many; resume a killed run; never reuse
stale work. Its files are keyed by values, never by object identity."""

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

from sklearn.model_selection import GridSearchCV

from helpers import tiny_net
from skunseen import FittingPruner, PrunedClassifier, UnseenPruner, cross_val_records
from skunseen._files import _host, owned_prefix
from skunseen.engine._store import _digest

TESTS = Path(__file__).resolve().parent
N_FITS = []


class CountingLogisticRegression(LogisticRegression):
    """Counts its fits: every scoring model the pruners train."""

    def fit(self, X, y, sample_weight=None):
        N_FITS.append(len(X))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("as_memory", [str, lambda path: __import__("joblib").Memory(path,
                                                                                      verbose=0)])
def test_grid_search_over_post_scoring_parameters_trains_each_scoring_model_once(
        small_digits, tmp_path, as_memory):
    X, y = small_digits
    pruner = UnseenPruner(CountingLogisticRegression(max_iter=300), cv=5, random_state=0,
                          memory=as_memory(tmp_path))
    model = PrunedClassifier(pruner, LogisticRegression(max_iter=300))
    grid = {"pruner__keep": [0.3, 0.5, 0.7, 0.9], "pruner__selector": ["ccs", "hard"]}
    N_FITS.clear()
    search = GridSearchCV(model, grid, cv=3).fit(X, y)
    # 3 outer splits x 5 folds, then the refit's 5 folds; 8 candidates share them.
    assert len(N_FITS) == 3 * 5 + 5
    assert len(search.cv_results_["params"]) == 8


def test_without_memory_every_fit_trains_its_models(small_digits):
    X, y = small_digits
    N_FITS.clear()
    first = UnseenPruner(CountingLogisticRegression(max_iter=300), cv=4, random_state=2).fit(X, y)
    again = UnseenPruner(CountingLogisticRegression(max_iter=300), cv=4, random_state=2).fit(X, y)
    assert len(N_FITS) == 2 * 4
    assert not any(info["resumed"] for info in again.task_info_)
    np.testing.assert_array_equal(first.scores_, again.scores_)


def test_stored_records_give_what_fresh_training_gives(small_digits, tmp_path):
    X, y = small_digits
    make = lambda **kw: UnseenPruner(CountingLogisticRegression(max_iter=300), cv=4,  # noqa: E731
                                     random_state=2, memory=tmp_path, **kw)
    make().fit(X, y)
    N_FITS.clear()
    stored = make(selector="hard").fit(X, y)
    assert N_FITS == [] and all(info["resumed"] for info in stored.task_info_)
    fresh = UnseenPruner(CountingLogisticRegression(max_iter=300), cv=4, random_state=2,
                         selector="hard").fit(X, y)
    np.testing.assert_array_equal(fresh.scores_, stored.scores_)
    np.testing.assert_array_equal(fresh.sample_indices_, stored.sample_indices_)
    first = stored.scores_.copy()
    stored.scores_[:] = -1  # what a caller does to its results never reaches the store
    np.testing.assert_array_equal(make().fit(X, y).scores_, first)


def test_equal_values_in_another_memory_layout_resume(small_digits, tmp_path):
    X, y = small_digits
    X64 = X.astype(np.float64)
    UnseenPruner(LogisticRegression(max_iter=100), cv=3, random_state=0,
                 memory=tmp_path).fit(np.asfortranarray(X64), y)
    again = UnseenPruner(LogisticRegression(max_iter=100), cv=3, random_state=0,
                         memory=tmp_path).fit(np.ascontiguousarray(X64), y)
    assert again.n_tasks_resumed_ == 3
    assert len(again.transform(np.asfortranarray(X64))) == len(again.sample_indices_)


def test_the_engine_functions_share_the_store(small_digits, tmp_path):
    X, y = small_digits
    N_FITS.clear()
    held = cross_val_records(CountingLogisticRegression(max_iter=300), X, y, cv=3,
                             random_state=0, memory=tmp_path)
    pruner = UnseenPruner(CountingLogisticRegression(max_iter=300), cv=3, random_state=0,
                          memory=tmp_path).fit(X, y)
    assert len(N_FITS) == 3 and pruner.n_tasks_resumed_ == 3
    np.testing.assert_array_equal(held.proba, pruner.oof_proba_)


def test_records_trained_batched_do_not_answer_a_sequential_fit(small_digits, tmp_path):
    from skunseen.models import make_net

    X, y = small_digits
    kwargs = dict(cv=3, random_state=0, memory=tmp_path)

    def net():
        return make_net("mlp", input_shape=X.shape[1:], n_classes=10, max_epochs=2,
                        device="cpu", random_state=0)

    UnseenPruner(net(), fold_batching=True, **kwargs).fit(X, y)
    sequential = UnseenPruner(net(), fold_batching=False, **kwargs).fit(X, y)
    assert sequential.n_tasks_resumed_ == 0
    assert UnseenPruner(net(), fold_batching=False, **kwargs).fit(X, y).n_tasks_resumed_ == 3


@pytest.mark.parametrize("memory, match", [
    (3, "memory"),
    ("FILE", "is a file"),
])
def test_a_memory_that_cannot_be_a_store_is_refused_before_training(small_digits, tmp_path,
                                                                    memory, match):
    X, y = small_digits
    if memory == "FILE":
        memory = tmp_path / "a-file"
        memory.write_text("")
    N_FITS.clear()
    with pytest.raises((ValueError, TypeError), match=match):
        UnseenPruner(CountingLogisticRegression(), cv=3, memory=memory).fit(X, y)
    assert N_FITS == []


def test_checkpoint_dir_still_works_with_a_deprecation_warning(small_digits, tmp_path):
    X, y = small_digits
    with pytest.warns(FutureWarning, match="checkpoint_dir is deprecated.*memory"):
        UnseenPruner(LogisticRegression(max_iter=100), cv=3, random_state=0,
                     checkpoint_dir=tmp_path).fit(X, y)
    again = UnseenPruner(LogisticRegression(max_iter=100), cv=3, random_state=0,
                         memory=tmp_path).fit(X, y)
    assert again.n_tasks_resumed_ == 3
    with pytest.raises(ValueError, match="pass memory only"):
        UnseenPruner(LogisticRegression(), memory=tmp_path, checkpoint_dir=tmp_path).fit(X, y)


class Pause(Callback):
    """Sleeps after every epoch when SKUNSEEN_TEST_PAUSE is set.

    The pause is read from the environment, not a parameter, so a slowed-down
    run and a normal one share their store keys.
    """

    def on_epoch_end(self, net, **kwargs):
        time.sleep(float(os.environ.get("SKUNSEEN_TEST_PAUSE", 0)))


def killable_pruner(memory=None):
    return UnseenPruner(tiny_net(max_epochs=2, callbacks=[("pause", Pause())]),
                        scorer="forgetting", cv=4, random_state=0, memory=memory)


def stored(memory):
    """The record files of a store."""
    return sorted(path for path in Path(memory).glob("*.npz")
                  if not path.name.startswith("."))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_coreset(small_digits, tmp_path):
    X, y = small_digits
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    directory = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path[:0] = [{str(TESTS)!r}, {str(TESTS.parent)!r}]
        from test_memory import killable_pruner
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        killable_pruner({str(directory)!r}).fit(X, y)
        print("finished")
    """)
    env = {**os.environ, "SKUNSEEN_TEST_PAUSE": "0.5"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not stored(directory):
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no record file was written"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert 1 <= len(stored(directory)) < 4

    resumed = killable_pruner(directory).fit(X, y)
    uninterrupted = killable_pruner().fit(X, y)
    assert 1 <= resumed.n_tasks_resumed_ < 4
    assert [info["resumed"] for info in resumed.task_info_].count(True) == \
        resumed.n_tasks_resumed_
    np.testing.assert_array_equal(resumed.sample_indices_, uninterrupted.sample_indices_)
    np.testing.assert_allclose(resumed.scores_, uninterrupted.scores_, rtol=1e-6)
    assert len(stored(directory)) == 4


def lr_pruner(directory, **params):
    return UnseenPruner(**{"estimator": LogisticRegression(max_iter=100), "cv": 3,
                           "random_state": 0, "memory": directory, **params})


def test_only_unchanged_work_is_reused(small_digits, tmp_path, capsys):
    X, y = small_digits
    first = lr_pruner(tmp_path).fit(X, y)
    assert first.n_tasks_resumed_ == 0 and len(stored(tmp_path)) == 3

    again = lr_pruner(tmp_path, verbose=1).fit(X, y)
    assert again.n_tasks_resumed_ == 3
    assert "Resumed 3 of 3 scoring models from memory=" in capsys.readouterr().out
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
                       memory=tmp_path), (X, y)),
    ]:
        assert pruner.fit(*data).n_tasks_resumed_ == 0, pruner


def test_damaged_record_files_are_trained_again(small_digits, tmp_path):
    X, y = small_digits
    first = lr_pruner(tmp_path).fit(X, y)
    damaged = stored(tmp_path)[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    # What a kill during a write leaves behind is never read.
    (tmp_path / ".partial-x.tmp").write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="Ignoring unreadable stored records.*trained again"):
        again = lr_pruner(tmp_path).fit(X, y)
    assert again.n_tasks_resumed_ == 2
    np.testing.assert_array_equal(again.scores_, first.scores_)
    assert lr_pruner(tmp_path).fit(X, y).n_tasks_resumed_ == 3


def test_unfingerprintable_estimator_fits_without_stored(small_digits, tmp_path):
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.pipeline import make_pipeline

    X, y = small_digits
    model = make_pipeline(FunctionTransformer(lambda Z: Z * 2), LogisticRegression(max_iter=100))
    with pytest.warns(UserWarning, match="cannot be fingerprinted.*memory is not used"):
        pruner = lr_pruner(tmp_path, estimator=model).fit(X, y)
    assert len(pruner.sample_indices_) == 150 and not stored(tmp_path)


@pytest.mark.cuda
def test_records_stored_on_cuda_resume_to_the_same_coreset(tmp_path):
    from skunseen.models import make_net

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(120, 3, 16, 16)).astype(np.uint8)
    y = np.arange(120) % 3

    def pruner():
        net = make_net("fastcifar", input_shape=X.shape[1:], n_classes=3, device="cuda",
                       max_epochs=2, batch_size=32, module__width=0.125)
        return UnseenPruner(net, scorer="forgetting", cv=3, random_state=0, memory=tmp_path)

    first = pruner().fit(X, y)
    assert first.n_tasks_resumed_ == 0 and len(stored(tmp_path)) == 3
    second = pruner().fit(X, y)
    assert second.n_tasks_resumed_ == 3
    np.testing.assert_array_equal(first.scores_, second.scores_)
    np.testing.assert_array_equal(first.sample_indices_, second.sample_indices_)


def rewrite(path, edit):
    """Edit a record file's arrays and write it back under the same key."""
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
    rewrite(stored(tmp_path)[1], edit)
    with pytest.warns(UserWarning, match=f"Ignoring unreadable stored records.*{reason}.*"
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
        return UnseenPruner(net, cv=3, random_state=0, memory=tmp_path).fit(data, y)

    fitted = fit(dataset)
    assert fit(dataset).n_tasks_resumed_ == 3
    for row in (1, 150, 298):  # rows that a sample of a few rows would miss
        changed = X.copy()
        changed[row, 10] += 1.0
        other = fit(TensorDataset(torch.from_numpy(changed), torch.from_numpy(y)))
        assert other.n_tasks_resumed_ == 0, row
        with pytest.raises(ValueError, match="differs from it"):
            fitted.transform(TensorDataset(torch.from_numpy(changed), torch.from_numpy(y)))
