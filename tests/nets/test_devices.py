"""Parallel folds: every joblib backend gives the sequential coreset; devices and threads."""

import threading
import warnings

import joblib
import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

import skunseen.models._device
import skunseen.nets._recording
from helpers import (
    TinyMLP,
    install_gpu_count,
    paper_gpu_net,
    read_where_it_trained,
    record_tasks,
    tiny_net,
)
from skunseen import UnseenPruner
from skunseen.engine import ScoringTask
from skunseen.nets import HeldOutRecorder
from skunseen.nets._devices import RNG_LOCK, device_params, draws_global_rng, seed_params
from skunseen.models import make_net, resolve_device
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
    # every task trained on its own, as joblib's workers train it
    params.setdefault("fold_batching", False)
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
    """This process sees ``n_gpus`` GPUs: the one question about GPUs, faked."""
    monkeypatch.setattr(skunseen.models._device, "visible_gpus", lambda: n_gpus)


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
    assert [resolve_device("cuda", k) for k in range(7)] == [f"cuda:{k % 3}" for k in range(7)]
    assert [resolve_device("cuda:1", k) for k in range(2)] == ["cuda:1", "cuda:1"]
    assert [resolve_device("cpu", k) for k in range(2)] == ["cpu", "cpu"]
    assert resolve_device("auto", 4) == "cuda:1" and resolve_device("cuda") == "cuda"
    with pytest.raises(ValueError, match="only 3 CUDA device"):
        resolve_device("cuda:3", 0)
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
    assert [call["device"] for call in calls] == ["cuda:0"] * 3


def test_without_a_gpu_cuda_is_refused_where_the_task_runs(monkeypatch, small_digits):
    """The caller's process only checks the request's form; the task, where it runs,
    says that it has no GPU, before any model trains."""
    X, y = small_digits
    fake_gpus(monkeypatch, 0)
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not"):
        UnseenPruner(tiny_net(), device="cuda", cv=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="device='gpu' is not a valid torch device"):
        UnseenPruner(tiny_net(), device="gpu", cv=3).fit(X, y)


def test_dask_workers_resolve_devices_where_tasks_run(monkeypatch, small_digits, tmp_path):
    """Workers that see 2 and 3 GPUs put task k on cuda:{k mod 2} and cuda:{k mod 3};
    the client, which must not ask about GPUs, raises if it does."""
    distributed = pytest.importorskip("dask.distributed")
    counts = {0: 2, 1: 3}

    def worker_gpus():
        try:
            name = distributed.get_worker().name
        except ValueError:
            raise AssertionError("the client asked how many GPUs it sees") from None
        return counts[name]

    monkeypatch.setattr(skunseen.models._device, "visible_gpus", worker_gpus)
    X, y = small_digits
    # task k trains on 100 + 20 k rows, which names it in the log
    tasks = [ScoringTask(f"task {k}", k, np.arange(100 + 20 * k), np.arange(250, 300), seed=k)
             for k in range(5)]
    log = tmp_path / "where.log"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no better than chance")
        record_tasks(paper_gpu_net(log), X, y, tasks, device="cuda")
    seen = read_where_it_trained(log)
    assert sorted((n_rows - 100) // 20 for _, _, n_rows in seen) == list(range(5))
    for worker, device, n_rows in seen:
        assert worker in counts
        assert device == f"cuda:{(n_rows - 100) // 20 % counts[worker]}"


@pytest.mark.slow
def test_a_dask_client_never_asks_about_gpus(monkeypatch, small_digits, tmp_path):
    """A fit with device="cuda" on worker processes that see 2 GPUs: the client
    process neither asks torch about CUDA nor initialises it."""
    distributed = pytest.importorskip("dask.distributed")
    asked = []

    def refuse(*args, **kwargs):
        asked.append(args)
        raise AssertionError("the client asked torch about CUDA")

    monkeypatch.setattr(skunseen.models._device, "visible_gpus", refuse)
    for name in ("is_available", "device_count", "current_device", "init"):
        monkeypatch.setattr(torch.cuda, name, refuse)
    X, y = small_digits
    log = tmp_path / "where.log"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(install_gpu_count, 2)
        with joblib.parallel_config(backend="dask"):
            pruner = UnseenPruner(paper_gpu_net(log), device="cuda", cv=4,
                                  random_state=0).fit(X, y)
    assert asked == [] and not torch.cuda.is_initialized()
    seen = read_where_it_trained(log)
    assert len(seen) == 4 and all(worker in (0, 1) for worker, _, _ in seen)
    assert {device for _, device, _ in seen} <= {"cuda:0", "cuda:1"}
    assert pruner.scores_.shape == (len(y),)


def test_forked_workers_are_refused_once_cuda_is_initialised(monkeypatch, small_digits):
    X, y = small_digits
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with joblib.parallel_config(backend="multiprocessing", n_jobs=2), \
            pytest.raises(RuntimeError, match="'multiprocessing' backend forks.*'loky'"):
        UnseenPruner(tiny_net(), device="cuda", cv=3, random_state=0).fit(X, y)


def test_held_out_passes_take_no_lock(small_digits):
    """With its own generator the held-out iterator draws nothing from torch's global
    generator, so a fold's held-out pass runs while another thread holds the lock."""
    X, y = small_digits
    recorder = HeldOutRecorder(X[200:], y[200:])
    net = tiny_net(max_epochs=2, iterator_valid__generator=torch.Generator().manual_seed(0),
                   callbacks=[("recorder", recorder)])
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with RNG_LOCK:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(60)
    try:
        trainer = threading.Thread(target=net.fit, args=(X[:200], y[:200]))
        trainer.start()
        trainer.join(120)
        assert not trainer.is_alive(), "the held-out pass waited for the lock"
    finally:
        release.set()
        holder.join()
    assert len(recorder.epochs_["correct"]) == 2


def test_every_task_iterator_gets_its_own_generator():
    for net in (tiny_net(), make_net("cnn", input_shape=(1, 8, 8), n_classes=3, device="cpu")):
        params = seed_params(net, order_seed=7)
        assert isinstance(params["iterator_train__generator"], torch.Generator)
        assert isinstance(params["iterator_valid__generator"], torch.Generator)


def test_fast_path_iterators_follow_the_net_to_its_gpu():
    net = make_net("cnn", input_shape=(1, 8, 8), n_classes=3, device="cpu")
    assert device_params(net, "cuda:1") == {"device": "cuda:1",
                                            "iterator_train__device": "cuda:1",
                                            "iterator_valid__device": "cuda:1",
                                            "iterator_train__pin_memory": True,
                                            "iterator_valid__pin_memory": True}
    assert device_params(net, "cpu") == {"device": "cpu", "iterator_train__device": "cpu",
                                         "iterator_valid__device": "cpu"}
    # DataLoaders pin their batches for asynchronous copies, unless told otherwise
    assert device_params(tiny_net(), "cuda:1") == {"device": "cuda:1",
                                                   "iterator_train__pin_memory": True,
                                                   "iterator_valid__pin_memory": True}
    assert device_params(tiny_net(iterator_valid__pin_memory=False), "cuda") == {
        "device": "cuda", "iterator_train__pin_memory": True}


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
