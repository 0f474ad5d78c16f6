"""Fold batching: K scoring models trained as one module behave as K separate models."""

import numpy as np
import pytest
import torch
from skorch.callbacks import EarlyStopping, LRScheduler

from helpers import record_tasks, tiny_net
from skunseen import MultiStepUnseenPruner, UnseenPruner
from skunseen.engine import ScoringTask
import skunseen.nets._batched
from skunseen.nets._batched import (
    CPU_MACS_LIMIT,
    _Round,
    batching_obstacle,
    macs_per_row,
    use_fold_batching,
)
from skunseen.models import make_net


def _folds(n, k=4, seed=0):
    folds = np.arange(n) % k
    np.random.RandomState(seed).shuffle(folds)
    return [ScoringTask(f"fold {j}", 0, np.flatnonzero(folds != j), np.flatnonzero(folds == j),
                        seed=100 + j) for j in range(k)]


def _uneven(n):
    """Tasks whose training sets take 3 and 4 batches of 64 per epoch."""
    rows = np.arange(n)
    return [ScoringTask("a", 0, rows[:192], rows[192:], seed=1),
            ScoringTask("b", 0, rows[:200], rows[200:], seed=2),
            ScoringTask("c", 0, rows[40:250], rows[:40], seed=3)]


def _net(model, X, **params):
    params = {"max_epochs": 3, "device": "cpu", "batch_size": 64, **params}
    return make_net(model, input_shape=X.shape[1:], n_classes=10, **params)


def _sequential(net, X, y, tasks, dynamics=True):
    return record_tasks(net, X, y, tasks, dynamics=dynamics, fold_batching=False)


def _batched(net, X, y, tasks, dynamics=True):
    return record_tasks(net, X, y, tasks, dynamics=dynamics, fold_batching=True)


def _assert_same_records(batched, sequential, atol):
    for (b, b_info), (s, _) in zip(batched, sequential):
        np.testing.assert_array_equal(b.indices, s.indices)
        np.testing.assert_array_equal(b.y, s.y)
        np.testing.assert_allclose(b.proba, s.proba, atol=atol)
        assert sorted(b.epochs) == sorted(s.epochs)
        for name in s.epochs:
            np.testing.assert_allclose(b.epochs[name], s.epochs[name], atol=atol * 20)
        assert b_info["batched"] and b_info["n_epochs"] == 3


@pytest.mark.parametrize("model", ["mlp", "cnn", "fastcifar"])
@pytest.mark.parametrize("split", ["folds", "uneven"])
def test_batched_records_equal_sequential_ones(small_digits, model, split):
    """Same seeds, same batches: the same held-out records, to float rounding.

    SGD keeps rounding differences from growing (Adam divides by tiny second
    moments and amplifies them), so the comparison can be tight: 1e-4 for
    the MLP, the tolerance of the plain-PyTorch prototype. Grouped
    convolutions sum in another order than plain ones, and three epochs of
    training grow that to up to 1.3e-4 (one thread) on probabilities near
    0.1, so the conv nets get 1e-3: a wrong row, batch or weight moves
    them by 1e-2 and more.
    """
    X, y = small_digits
    X = X if model == "mlp" else X.reshape(-1, 1, 8, 8)
    tasks = _folds(len(y)) if split == "folds" else _uneven(len(y))
    net = _net(model, X, optimizer=torch.optim.SGD, lr=0.05, optimizer__momentum=0.9)
    batched = _batched(net, X, y, tasks, True)
    atol = 1e-4 if model == "mlp" else 1e-3
    _assert_same_records(batched, _sequential(net, X, y, tasks), atol=atol)


def test_default_nets_match_with_their_own_optimizer_and_schedule(small_digits):
    X, y = small_digits
    tasks = _folds(len(y))
    for model, data in (("mlp", X), ("cnn", X.reshape(-1, 1, 8, 8))):
        net = _net(model, data, max_epochs=2)
        batched = _batched(net, data, y, tasks, False)
        for (b, _), (s, _) in zip(batched, _sequential(net, data, y, tasks, False)):
            np.testing.assert_allclose(b.proba, s.proba, atol=1e-4)
            assert b.epochs == {} and s.epochs == {}


def test_a_model_trains_on_its_own_rows_only(small_digits):
    """Changing the rows model k holds out changes every model's weights but model k's."""
    X, y = small_digits
    X = X.reshape(-1, 1, 8, 8)
    tasks = _folds(len(y))
    net = _net("cnn", X, max_epochs=2)

    def weights(data):
        with torch.random.fork_rng():
            state = _Round(net, data, y, tasks, device=None, record_dynamics=False)
            state.train()
        return [torch.cat([p.detach().chunk(4)[k].flatten() for p in state.stacked.parameters()]
                          + [b.chunk(4)[k].flatten() for name, b in state.stacked.named_buffers()
                             if "running" in name]) for k in range(4)]

    original = weights(X)
    changed = X.copy()
    changed[tasks[2].score_indices] = 1e3  # held out by model 2, trained on by the others
    after = weights(changed)
    torch.testing.assert_close(after[2], original[2], atol=0, rtol=0)
    for k in (0, 1, 3):
        assert not torch.allclose(after[k], original[k])


def test_batched_rounds_are_reproducible(small_digits):
    X, y = small_digits
    tasks = _uneven(len(y))
    net = _net("mlp", X)
    first = _batched(net, X, y, tasks, True)
    second = _batched(net, X, y, tasks, True)
    for (a, _), (b, _) in zip(first, second):
        np.testing.assert_array_equal(a.proba, b.proba)
        np.testing.assert_array_equal(a.epochs["loss"], b.epochs["loss"])
    state = torch.random.get_rng_state()
    _batched(net, X, y, tasks, False)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_a_diverging_model_is_named(small_digits):
    X, y = small_digits
    net = _net("mlp", X, lr=1e30, optimizer=torch.optim.SGD)
    with pytest.raises(ValueError, match=r"The scoring model of fold \d diverged"):
        _batched(net, X * 1e30, y, _folds(len(y)), dynamics=False)


@pytest.mark.parametrize("estimator, extras, reason", [
    (tiny_net(), None, "TinyMLP is not a built-in net"),
    (make_net("resnet18", input_shape=(3, 8, 8), n_classes=2, device="cpu"), None,
     "cifar_resnet18 is not a built-in net"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu"), {"embedding": {}},
     "must produce ['embedding']"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu", fast_path=False), None,
     "fast-path iterators"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu",
              callbacks=[("stop", EarlyStopping(monitor="train_loss"))]), None,
     "callback 'stop' (EarlyStopping)"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu",
              callbacks=[("lr", LRScheduler(policy="ReduceLROnPlateau"))]), None,
     "ReduceLROnPlateau"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu",
              optimizer__param_groups=[("*bias", {"lr": 0.1})]), None, "param groups"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu",
              criterion=torch.nn.NLLLoss), None, "CrossEntropyLoss"),
    (make_net("mlp", input_shape=(4,), n_classes=2, device="cpu",
              optimizer=torch.optim.LBFGS), None, "optimizer"),
])
def test_what_cannot_be_batched_is_explained(estimator, extras, reason):
    assert reason in batching_obstacle(estimator, extras)


# ----------------------------------------------------------------- through the pruners
def _mlp(X, **params):
    return make_net("mlp", input_shape=X.shape[1:], n_classes=10, device="cpu", max_epochs=3,
                    **params)


def test_pruner_gives_the_sequential_coreset_when_batched(small_digits):
    X, y = small_digits
    fits = {setting: UnseenPruner(_mlp(X), scorer="forgetting", cv=4, random_state=0,
                                  fold_batching=setting).fit(X, y)
            for setting in (False, True)}
    assert all(info["batched"] for info in fits[True].task_info_)
    assert not any(info.get("batched") for info in fits[False].task_info_)
    np.testing.assert_array_equal(fits[True].scores_, fits[False].scores_)
    np.testing.assert_array_equal(fits[True].sample_indices_, fits[False].sample_indices_)
    np.testing.assert_allclose(fits[True].oof_proba_, fits[False].oof_proba_, atol=1e-5)


def test_auto_batches_small_nets_on_the_cpu_only(small_digits, monkeypatch):
    X, y = small_digits

    def batched(pruner, data):
        return [info["batched"] for info in pruner.fit(data, y).task_info_]

    assert all(batched(UnseenPruner(_mlp(X), cv=3, random_state=0), X))
    images = np.repeat(np.repeat(X.reshape(-1, 1, 8, 8), 2, axis=2), 2, axis=3)
    cnn = make_net("cnn", input_shape=(1, 16, 16), n_classes=10, device="cpu", max_epochs=1)
    assert macs_per_row(cnn, (1, 16, 16)) > CPU_MACS_LIMIT
    assert not any(batched(UnseenPruner(cnn, cv=3), images))
    monkeypatch.setattr(skunseen.nets._batched, "CPU_MACS_LIMIT", 10**9)
    assert all(batched(UnseenPruner(cnn, cv=3), images))
    # parallel workers asked for: joblib runs the folds
    assert not any(batched(UnseenPruner(_mlp(X), cv=3, n_jobs=2), X))
    # a user's own module cannot be stacked: sequential, no error
    assert not any(batched(UnseenPruner(tiny_net(), cv=3), X))
    # on a (pretend) GPU nothing is batched until measured there
    assert not use_fold_batching("auto", _mlp(X), n_tasks=3, devices=["cuda"] * 3,
                                 sample_shape=(64,))


def test_batching_forced_on_a_net_it_cannot_stack_is_refused_up_front(small_digits):
    X, y = small_digits
    pruner = UnseenPruner(tiny_net(callbacks=[("stop", EarlyStopping())]), cv=3,
                          fold_batching=True)
    with pytest.raises(ValueError, match="fold_batching=True, but the scoring models cannot "
                                         "train batched: its module TinyMLP"):
        pruner.fit(X, y)
    assert not hasattr(pruner, "scores_")
    with pytest.raises(ValueError, match="fold_batching"):
        UnseenPruner(_mlp(X), fold_batching="yes").fit(X, y)


def test_multistep_refill_models_train_batched(small_digits):
    X, y = small_digits
    fits = {setting: MultiStepUnseenPruner(_mlp(X), keep=0.5, cv=3, n_repeats=2, n_steps=2,
                                           random_state=0, fold_batching=setting).fit(X, y)
            for setting in (False, True)}
    np.testing.assert_array_equal(fits[True].sample_indices_, fits[False].sample_indices_)
    refill = [i for i in fits[True].task_info_ if i["task"].startswith("step 2")]
    assert len(refill) == 2 and all(i["batched"] for i in refill)


def test_the_store_resumes_a_batched_round(small_digits, tmp_path):
    X, y = small_digits
    first = UnseenPruner(_mlp(X), scorer="forgetting", cv=4, random_state=0,
                         memory=tmp_path, fold_batching=True).fit(X, y)
    files = sorted(p for p in tmp_path.glob("*.npz")
                   if not p.name.startswith("."))
    assert len(files) == 4
    files[0].unlink()
    files[1].unlink()
    resumed = UnseenPruner(_mlp(X), scorer="forgetting", cv=4, random_state=0,
                           memory=tmp_path, fold_batching=True).fit(X, y)
    assert resumed.n_tasks_resumed_ == 2
    assert sum(bool(i.get("batched")) for i in resumed.task_info_ if not i["resumed"]) == 2
    np.testing.assert_array_equal(resumed.scores_, first.scores_)
    np.testing.assert_array_equal(resumed.sample_indices_, first.sample_indices_)


@pytest.mark.cuda
@pytest.mark.parametrize("model", ["mlp", "cnn", "fastcifar"])
def test_batched_rounds_on_cuda_match_sequential_ones(small_digits, model):
    X, y = small_digits
    X = X if model == "mlp" else X.reshape(-1, 1, 8, 8)
    tasks = _uneven(len(y))
    net = make_net(model, input_shape=X.shape[1:], n_classes=10, device="cuda", max_epochs=2,
                   batch_size=64, optimizer=torch.optim.SGD, lr=0.05, autocast=False)
    # TF32 convolutions (cuDNN's default) round to 10 mantissa bits: grouped and
    # plain convolutions would then differ by more than the tolerance below
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True,
                                    allow_tf32=False):
        batched = _batched(net, X, y, tasks, True)
        sequential = _sequential(net, X, y, tasks)
    for (b, _), (s, _) in zip(batched, sequential):
        np.testing.assert_allclose(b.proba, s.proba, atol=1e-3)


@pytest.mark.cuda
def test_fast_cifar_folds_train_batched_on_cuda_in_bf16():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(600, 3, 32, 32)).astype(np.uint8)
    y = np.arange(600) % 10
    net = make_net("fastcifar", input_shape=X.shape[1:], n_classes=10, device="cuda",
                   max_epochs=2, batch_size=128, module__width=0.25)
    pruner = UnseenPruner(net, scorer="aum", cv=5, random_state=0, fold_batching=True)
    pruner.fit(X, y)
    assert all(info["batched"] for info in pruner.task_info_)
    assert np.isfinite(pruner.scores_).all() and len(pruner.sample_indices_) == 300


def test_a_pretrained_module_instance_starts_fresh_in_a_batched_round(small_digits):
    from skunseen.models import MLP

    X, y = small_digits

    def instance_net(module):
        params = {name: value for name, value in _net("mlp", X).get_params(deep=False).items()
                  if not name.startswith("module")}
        return type(_net("mlp", X))(module=module, **params)

    fresh = UnseenPruner(instance_net(MLP(64, 10)), cv=3, random_state=0,
                         fold_batching=True).fit(X, y)
    trained = instance_net(MLP(64, 10)).set_params(max_epochs=30).fit(X, y)
    assert (trained.predict(X) == y).mean() > 0.95
    pretrained = UnseenPruner(trained.set_params(max_epochs=3), cv=3, random_state=0,
                              fold_batching=True).fit(X, y)
    assert all(info["batched"] for info in pretrained.task_info_)
    np.testing.assert_array_equal(pretrained.oof_proba_, fresh.oof_proba_)
