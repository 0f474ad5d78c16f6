"""Parallel folds: every joblib backend gives the sequential coreset; devices and threads."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

import skunseen.nets._model
import skunseen.nets._recording
from helpers import TinyMLP, record_tasks, tiny_net
from skunseen import UnseenPruner
from skunseen.engine import ScoringTask
from skunseen.nets._devices import device_params, draws_global_rng, task_devices
from skunseen.models import make_net
from skunseen.scores import ScoringRecords


class DropoutMLP(TinyMLP):
    """TinyMLP with dropout: its training draws from torch's global generator."""

    def __init__(self, p=0.3):
        super().__init__()
        self.dropout = torch.nn.Dropout(p)

    def forward(self, X):
        hidden = self.layers[1](self.layers[0](X.reshape(len(X), -1)))
        return self.layers[2](self.dropout(hidden))


def dropout_net(max_epochs=2):
    return NeuralNetClassifier(
        DropoutMLP, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
        max_epochs=max_epochs, batch_size=64, train_split=None, verbose=0,
        iterator_train__shuffle=True)


def fit(net, X, y, backend=None, **params):
    pruner = UnseenPruner(net, scorer="forgetting", cv=3, random_state=0, **params)
    if backend is None:
        return pruner.fit(X, y)
    with joblib.parallel_config(backend=backend, n_jobs=2):
        return pruner.fit(X, y)


def assert_same_coreset(a, b):
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    np.testing.assert_array_equal(a.scores_, b.scores_)


@pytest.mark.parametrize("net_factory", ["dataloader", "fast_path"])
def test_threads_give_the_sequential_coreset(small_digits, net_factory):
    """Shuffling draws from a per-task generator, so threads cannot interleave it."""
    X, y = small_digits
    if net_factory == "dataloader":
        net = tiny_net(max_epochs=2, iterator_train__shuffle=True)
    else:
        net = make_net("mlp", input_shape=(64,), n_classes=10, max_epochs=2, device="cpu")
    sequential = fit(net, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no dropout: nothing is serialised
        threaded = fit(net, X, y, backend="threading")
    assert_same_coreset(sequential, threaded)


def test_threads_serialise_dropout_nets_and_say_so(small_digits):
    X, y = small_digits
    sequential = fit(dropout_net(), X, y)
    with pytest.warns(UserWarning, match="threads train one net at a time.*'loky' or 'dask'"):
        threaded = fit(dropout_net(), X, y, backend="threading")
    assert_same_coreset(sequential, threaded)


@pytest.mark.slow
def test_processes_give_the_sequential_coreset_with_dropout(small_digits):
    X, y = small_digits
    assert_same_coreset(fit(dropout_net(), X, y), fit(dropout_net(), X, y, backend="loky"))


@pytest.mark.slow
def test_dask_local_cluster_gives_the_sequential_coreset(small_digits):
    distributed = pytest.importorskip("dask.distributed")
    X, y = small_digits
    sequential = fit(dropout_net(), X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream, \
                joblib.parallel_config(backend="dask"):
            on_dask = UnseenPruner(dropout_net(), scorer="forgetting", cv=3,
                                   random_state=0).fit(X, y)
        assert len(stream.data) >= 3  # the folds really ran on the cluster
    assert_same_coreset(sequential, on_dask)


def test_caller_random_state_is_left_alone(small_digits):
    X, y = small_digits
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    fit(tiny_net(max_epochs=1), X, y, backend="threading")
    torch.testing.assert_close(torch.random.get_rng_state(), before, rtol=0, atol=0)


def test_task_seed_replaces_a_net_random_state(small_digits):
    """A fixed random_state on the net would give every fold the same weights."""
    X, y = small_digits
    net = make_net("mlp", input_shape=(64,), n_classes=10, device="cpu", max_epochs=1,
                   random_state=0)
    probas = [
        record_tasks(net, X, y, [ScoringTask("fold", 0, np.arange(200), np.arange(200, 300),
                                             seed=seed)], dynamics=False)[0][0].proba
        for seed in (1, 1, 2)
    ]
    np.testing.assert_array_equal(probas[0], probas[1])
    assert not np.allclose(probas[0], probas[2])


def test_what_draws_from_the_global_generator():
    net = tiny_net()
    net.initialize()
    assert not draws_global_rng(net)
    net = dropout_net()
    net.initialize()
    assert draws_global_rng(net)
    net = NeuralNetClassifier(DropoutMLP, module__p=0.0, criterion=torch.nn.CrossEntropyLoss)
    net.initialize()
    assert not draws_global_rng(net)
    # The device-resident iterators take a generator, so the pruner gives each
    # task its own and folds with the default nets can train in threads at once.
    assert not draws_global_rng(make_net("cnn", input_shape=(1, 8, 8), n_classes=3,
                                         device="cpu").initialize())


def fake_gpus(monkeypatch, n_gpus):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n_gpus)
    # There are no GPUs whose random state could be saved and restored.
    monkeypatch.setattr(skunseen.nets._model, "cuda_indices", lambda devices: [])


def record_calls(monkeypatch):
    """Replace the training of a task by a stub that logs its device and threads."""
    calls = []

    def fake_fit_net(estimator, X, y, task, *, n_classes, recording, device, fit_params):
        calls.append({"device": device, "threads": torch.get_num_threads(), "seed": task.seed})
        score = task.score_indices
        proba = np.full((len(score), n_classes), 1.0 / n_classes)
        return ScoringRecords(indices=score, y=y[score], proba=proba), 0

    monkeypatch.setattr(skunseen.nets._recording, "fit_net", fake_fit_net)
    return calls


def test_several_gpus_take_the_folds_round_robin(monkeypatch, small_digits):
    fake_gpus(monkeypatch, 3)
    assert task_devices("cuda", 7) == [f"cuda:{k % 3}" for k in range(7)]
    assert task_devices("cuda:1", 2) == ["cuda:1", "cuda:1"]
    assert task_devices("cpu", 2) == ["cpu", "cpu"]
    calls = record_calls(monkeypatch)
    X, y = small_digits
    UnseenPruner(tiny_net(), device="cuda", cv=5, random_state=0).fit(X, y)
    assert [call["device"] for call in calls] == ["cuda:0", "cuda:1", "cuda:2", "cuda:0",
                                                  "cuda:1"]
    # A net's own bare "cuda" is spread as well with device="auto".
    calls.clear()
    UnseenPruner(tiny_net(device="cuda"), cv=4, random_state=0).fit(X, y)
    assert [call["device"] for call in calls] == ["cuda:0", "cuda:1", "cuda:2", "cuda:0"]


def test_one_gpu_is_shared_by_all_folds(monkeypatch, small_digits):
    fake_gpus(monkeypatch, 1)
    calls = record_calls(monkeypatch)
    X, y = small_digits
    with joblib.parallel_config(backend="threading", n_jobs=2):
        UnseenPruner(tiny_net(), device="cuda", cv=3, random_state=0).fit(X, y)
    assert [call["device"] for call in calls] == ["cuda"] * 3


def test_fast_path_iterators_follow_the_net_to_its_gpu():
    net = make_net("cnn", input_shape=(1, 8, 8), n_classes=3, device="cpu")
    assert device_params(net, "cuda:1") == {"device": "cuda:1",
                                            "iterator_train__device": "cuda:1",
                                            "iterator_valid__device": "cuda:1"}
    assert device_params(tiny_net(), "cuda:1") == {"device": "cuda:1"}


def test_threaded_tasks_share_the_torch_threads(monkeypatch, small_digits):
    calls = record_calls(monkeypatch)
    X, y = small_digits
    before = torch.get_num_threads()
    with joblib.parallel_config(backend="threading", n_jobs=2):
        UnseenPruner(tiny_net(), cv=4, random_state=0).fit(X, y)
    assert {call["threads"] for call in calls} == {max(1, before // 2)}
    assert torch.get_num_threads() == before
    calls.clear()
    UnseenPruner(tiny_net(), cv=4, random_state=0).fit(X, y)
    assert {call["threads"] for call in calls} == {before}


@pytest.mark.cuda
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_threads_on_one_real_gpu_give_the_sequential_coreset(small_digits, model):
    """Several folds train on one GPU at once; the coreset is the sequential one."""
    X, y = small_digits
    X = X.reshape(-1, 64) if model == "mlp" else X.reshape(-1, 1, 8, 8)
    net = make_net(model, input_shape=X.shape[1:], n_classes=10, max_epochs=2, device="cuda")
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
        sequential = fit(net, X, y)
        threaded = fit(net, X, y, backend="threading")
    assert all(info["n_epochs"] == 2 for info in threaded.task_info_)
    np.testing.assert_array_equal(sequential.sample_indices_, threaded.sample_indices_)
    np.testing.assert_allclose(sequential.scores_, threaded.scores_, atol=1e-6)
