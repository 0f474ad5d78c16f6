import numpy as np
import pytest
import torch
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping
from torch.utils._python_dispatch import TorchDispatchMode

from helpers import TinyMLP, record_tasks, tiny_net
from skunseen.engine import ScoringTask
from skunseen.nets import HeldOutRecorder
from skunseen.scores import epoch_statistics


def split(small_digits):
    X, y = small_digits
    return X[:200], y[:200], X[200:], y[200:]


def test_records_every_epoch_and_final_proba(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held)
    net = tiny_net(max_epochs=4, callbacks=[("rec", recorder)]).fit(X_train, y_train)
    records = recorder.records(np.arange(200, 300))
    assert records.n_epochs == 4
    for name, values in records.epochs.items():
        assert values.shape == (100, 4), name
    np.testing.assert_allclose(records.proba, net.predict_proba(X_held), rtol=1e-5, atol=1e-6)
    # The last epoch's statistics describe the final model.
    final = records.proba
    np.testing.assert_array_equal(records.epochs["correct"][:, -1], final.argmax(1) == y_held)
    np.testing.assert_allclose(records.epochs["target_proba"][:, -1],
                               final[np.arange(100), y_held], rtol=1e-5)
    np.testing.assert_allclose(records.epochs["loss"][:, -1],
                               -np.log(final[np.arange(100), y_held]), rtol=1e-4)


def test_recording_does_not_change_training(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    torch.manual_seed(0)
    plain = tiny_net(max_epochs=3).fit(X_train, y_train)
    torch.manual_seed(0)
    recorded = tiny_net(max_epochs=3, callbacks=[("rec", HeldOutRecorder(X_held, y_held))])
    recorded.fit(X_train, y_train)
    for a, b in zip(plain.module_.parameters(), recorded.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert set(plain.history[-1]) == set(recorded.history[-1])


def test_early_stopping_reads_only_its_own_validation(small_digits):
    """With an internal validation split, early stopping watches valid_loss, which the
    recorder never writes: the epochs trained are the same with and without it."""
    X_train, y_train, X_held, y_held = split(small_digits)

    def net(callbacks):
        return NeuralNetClassifier(
            TinyMLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=30, lr=0.5,
            optimizer=torch.optim.SGD, verbose=0,
            callbacks=[("stop", EarlyStopping(patience=2)), *callbacks])

    torch.manual_seed(1)
    plain = net([]).fit(X_train, y_train)
    torch.manual_seed(1)
    recorded = net([("rec", HeldOutRecorder(X_held, y_held))]).fit(X_train, y_train)
    assert len(plain.history) == len(recorded.history)


class SoftmaxMLP(TinyMLP):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


def test_probability_output_modules_give_the_same_records(small_digits):
    """skorch's default NLLLoss setup has modules that output probabilities."""
    X_train, y_train, X_held, y_held = split(small_digits)
    records = {}
    for module, criterion in [(TinyMLP, torch.nn.CrossEntropyLoss), (SoftmaxMLP, None)]:
        extra = {} if criterion is None else {"criterion": criterion}
        rec = HeldOutRecorder(X_held, y_held)
        torch.manual_seed(0)
        NeuralNetClassifier(module, max_epochs=2, train_split=None, verbose=0, lr=0.1,
                            callbacks=[("rec", rec)], **extra).fit(X_train, y_train)
        records[module.__name__] = rec.records(np.arange(100))
    a, b = records["TinyMLP"], records["SoftmaxMLP"]
    np.testing.assert_allclose(a.proba, b.proba, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.epochs["logit_margin"], b.epochs["logit_margin"], rtol=1e-3,
                               atol=1e-4)


def test_a_classifier_missing_a_class_records_aligned_columns(small_digits):
    from sklearn.linear_model import LogisticRegression

    X, y = small_digits
    train = np.flatnonzero(y != 9)
    held = np.flatnonzero(y == 9)
    [(records, info)] = record_tasks(LogisticRegression(max_iter=200), X, y,
                                     [ScoringTask("fold", 0, train, held, seed=0)])
    assert records.proba.shape == (30, 10)
    np.testing.assert_array_equal(records.proba[:, 9], 0)
    assert info["n_epochs"] == 0 and not records.has_dynamics


def test_net_with_wrong_output_size_is_reported_before_training(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="outputs 5 value.*needs 10 per row"):
        record_tasks(tiny_net(max_epochs=1, n_classes=5), X, y,
                     [ScoringTask("fold", 0, np.arange(200), np.arange(200, 300), seed=0)])


# ------------------------------------------------- fresh weights in every fold
def instance_net(module, max_epochs=2, **params):
    return NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, lr=0.01, max_epochs=max_epochs,
                               batch_size=64, train_split=None, verbose=0, **params)


def test_a_pretrained_module_instance_gives_the_records_of_a_fresh_one(small_digits):
    from skunseen import UnseenPruner

    X, y = small_digits
    fresh = UnseenPruner(instance_net(TinyMLP()), cv=2, random_state=0).fit(X, y)
    torch.manual_seed(0)  # the pre-training must not depend on what ran before
    trained = instance_net(TinyMLP(), max_epochs=10).fit(X, y)  # has seen every row
    assert (trained.predict(X) == y).mean() > 0.9
    trained.set_params(max_epochs=2)  # the fresh net's settings, the trained weights
    pretrained = UnseenPruner(trained, cv=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pretrained.oof_proba_, fresh.oof_proba_)
    np.testing.assert_array_equal(pretrained.scores_, fresh.scores_)
    # A net fitted on all rows with a module class is cloned into fresh nets too.
    fitted = tiny_net(max_epochs=10).fit(X, y).set_params(max_epochs=2)
    assert np.array_equal(
        UnseenPruner(fitted, cv=2, random_state=0).fit(X, y).oof_proba_,
        UnseenPruner(tiny_net(max_epochs=2), cv=2, random_state=0).fit(X, y).oof_proba_)


def test_a_warm_started_classifier_starts_fresh_in_every_fold(small_digits):
    from sklearn.linear_model import SGDClassifier

    from skunseen import UnseenPruner

    X, y = small_digits
    def sgd():
        return SGDClassifier(loss="log_loss", warm_start=True, max_iter=5, tol=None)
    warm = sgd().fit(X, y)
    fresh = UnseenPruner(sgd(), cv=3, random_state=0).fit(X, y)
    reused = UnseenPruner(warm, cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(reused.oof_proba_, fresh.oof_proba_)


class ScaledLinear(torch.nn.Module):
    """A layer whose own parameter has no reset_parameters()."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(64))
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, X):
        return self.linear(X * self.scale)


def test_a_module_instance_that_cannot_be_reset_is_refused(small_digits):
    from skunseen import UnseenPruner

    X, y = small_digits
    net = instance_net(ScaledLinear(), callbacks=[("count", CountEpochs())])
    CountEpochs.n = 0
    with pytest.raises(ValueError, match=r"module=ScaledLinear\(\.\.\.\) as an instance, whose "
                                         r"layer\(s\) \['ScaledLinear'\] have no "
                                         r"reset_parameters\(\).*module=ScaledLinear, "):
        UnseenPruner(net, cv=3).fit(X, y)
    assert CountEpochs.n == 0
    # Built from its class, the same module is fine.
    UnseenPruner(instance_net(ScaledLinear), cv=3, random_state=0).fit(X, y)


class CountEpochs(Callback):
    n = 0

    def on_epoch_end(self, net, **kwargs):
        CountEpochs.n += 1


# --------------------------------------------------------- binary nets (BCE)
class Logit(torch.nn.Module):
    def __init__(self, n_features=64):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 1)

    def forward(self, X):
        return self.linear(X).squeeze(-1)


def binary_net(**params):
    return NeuralNetBinaryClassifier(Logit, max_epochs=3, lr=0.1, train_split=None, verbose=0,
                                     **params)


@pytest.mark.parametrize("pruner", ["unseen", "fitting", "multistep"])
def test_binary_nets_score_with_two_probability_columns(small_digits, pruner):
    from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner

    X, y = small_digits
    rows = np.flatnonzero(y < 2)
    labels = np.where(y[rows] == 1, "pos", "neg")
    make = {"unseen": lambda: UnseenPruner(binary_net(), cv=3, keep=0.5, random_state=0),
            "fitting": lambda: FittingPruner(binary_net(), keep=0.5, random_state=0),
            "multistep": lambda: MultiStepUnseenPruner(binary_net(), cv=3, keep=0.5,
                                                       n_steps=2, random_state=0)}[pruner]
    fitted = make().fit(X[rows], labels)
    assert len(fitted.sample_indices_) == 30 and list(fitted.classes_) == ["neg", "pos"]
    if pruner != "multistep":
        proba = fitted.oof_proba_ if pruner == "unseen" else fitted.train_proba_
        assert proba.shape == (60, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
        # el2n of the two-column probabilities.
        onehot = np.eye(2)[(labels == "pos").astype(int)]
        np.testing.assert_allclose(fitted.scores_, np.linalg.norm(proba - onehot, axis=1),
                                   rtol=1e-5, atol=1e-6)


def test_a_binary_net_with_more_classes_is_refused(small_digits):
    from skunseen import UnseenPruner

    X, y = small_digits
    CountEpochs.n = 0
    with pytest.raises(ValueError, match="NeuralNetBinaryClassifier predicts two classes"):
        UnseenPruner(binary_net(callbacks=[("count", CountEpochs())]), cv=3).fit(X, y % 3)
    assert CountEpochs.n == 0


def test_a_fit_leaves_the_callers_net_and_its_callbacks_untouched(small_digits):
    """Every task trains a clone with fresh callbacks: no state reaches the caller's
    net, nor another task (a learning-rate schedule's scheduler, say)."""
    from skunseen import UnseenPruner
    from skunseen.models import make_net

    X, y = small_digits
    net = make_net("cnn", input_shape=(1, 8, 8), n_classes=10, device="cpu", max_epochs=1)
    before = [sorted(vars(callback)) for _, callback in net.callbacks]
    for fold_batching in (False, True):
        UnseenPruner(net, cv=3, random_state=0, fold_batching=fold_batching).fit(
            X.reshape(-1, 1, 8, 8), y)
        assert [sorted(vars(callback)) for _, callback in net.callbacks] == before
    assert not hasattr(net, "module_")


# ----------------------------------------------- recording batch by batch
class WholeFold(Callback):
    """The records as they were computed before recording went batch by batch: every
    epoch, the whole fold's log-probabilities at once, the previous epoch's kept in
    float32."""

    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)

    def on_train_begin(self, net, **kwargs):
        self.epochs, self.log_probas = [], []

    def on_epoch_end(self, net, **kwargs):
        net.module_.eval()
        with torch.no_grad():
            log_proba = torch.log_softmax(net.module_(self.X).float(), dim=-1)
        previous = self.log_probas[-1] if self.log_probas else None
        self.epochs.append(epoch_statistics(log_proba, self.y, previous))
        self.log_probas.append(log_proba)


def test_batch_by_batch_records_equal_the_whole_fold_computation(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder, whole = HeldOutRecorder(X_held, y_held), WholeFold(X_held, y_held)
    net = tiny_net(max_epochs=4, iterator_valid__batch_size=16,
                   callbacks=[("rec", recorder), ("whole", whole)])
    net.fit(X_train, y_train)
    records = recorder.records(np.arange(100))
    for epoch, expected in enumerate(whole.epochs):
        np.testing.assert_array_equal(records.epochs["correct"][:, epoch], expected["correct"])
        for name in ("target_proba", "logit_margin", "el2n", "loss"):
            np.testing.assert_allclose(records.epochs[name][:, epoch], expected[name],
                                       rtol=1e-5, atol=1e-6, err_msg=name)
        change = torch.as_tensor(records.epochs["change"][:, epoch])
        if epoch == 0:
            assert (change == 0).all()
            continue
        # The previous epoch is kept in float16: change moves by at most 2**-11 times
        # sum_c p_c |log q_c| (the cross-entropy between the epochs) plus 2**-25.
        p, log_q = whole.log_probas[epoch].exp(), whole.log_probas[epoch - 1]
        bound = 2.0**-11 * (p * log_q.abs()).sum(dim=1) + 2.0**-25 + 1e-6 * expected["change"]
        assert ((change - expected["change"]).abs() <= bound).all()
    np.testing.assert_allclose(records.proba, whole.log_probas[-1].exp().numpy(), rtol=1e-5,
                               atol=1e-7)


class LargestRows(TorchDispatchMode):
    """The most rows of any tensor of two or more dimensions that an operation makes."""

    rows = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor) and tensor.ndim >= 2:
                self.rows = max(self.rows, tensor.shape[0])
        return out


class Logits(torch.nn.Module):
    """Outputs its input rows as logits (one weight), so that every tensor a held-out
    pass makes is the recorder's."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, X):
        return X * self.scale


class WatchedRecorder(HeldOutRecorder):
    """Watches the largest tensor its epoch-end passes make after the first epoch."""

    def on_epoch_end(self, net, **kwargs):
        if self._epoch == 0:
            return super().on_epoch_end(net, **kwargs)
        with LargestRows() as watch:
            super().on_epoch_end(net, **kwargs)
        self.largest_ = max(getattr(self, "largest_", 0), watch.rows)


@pytest.mark.parametrize("extras", [(), ("grad_norm",)])
def test_recording_memory_grows_with_the_batch_not_the_fold(extras):
    rng = np.random.RandomState(0)
    X, y = rng.randn(400, 50).astype(np.float32), rng.randint(0, 50, 400)
    grad = {"grad_norm": {"last_layer": False, "epochs": (1, 3)}} if extras else {}
    recorder = WatchedRecorder(X[100:], y[100:], extras=grad)
    NeuralNetClassifier(Logits, criterion=torch.nn.CrossEntropyLoss, max_epochs=3,
                        batch_size=16, train_split=None, verbose=0,
                        callbacks=[("rec", recorder)]).fit(X[:100], y[:100])
    assert len(recorder.epochs_["change"]) == 3
    # 300 rows scored, 50 classes: no pass after the first makes more than one batch
    assert recorder.largest_ == 16


def test_scores_come_from_float32_logits_under_bf16_autocast():
    """FastCifarNet trained and recorded under bf16 autocast (here on the CPU): the
    recorded correct and margins are those of its float32 head."""
    from skunseen.models import make_net

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(120, 3, 16, 16)).astype(np.uint8)
    y = rng.randint(0, 10, 120)
    recorder = HeldOutRecorder(X[60:], y[60:])
    net = make_net("fastcifar", input_shape=(3, 16, 16), n_classes=10, device="cpu",
                   max_epochs=2, batch_size=60, module__width=0.125,
                   callbacks=[("rec", recorder)], random_state=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        net.fit(X[:60], y[:60])
        # the float32 computation: the body as the recorder ran it, the head in float32
        features = []
        hook = net.module_.head.register_forward_pre_hook(
            lambda layer, args: features.append(args[0]))
        batch = next(iter(net.get_iterator(net.get_dataset(X[60:]), training=False)))[0]
        with torch.no_grad():
            net.module_.eval()(batch)
        hook.remove()
    assert all(f.dtype == torch.bfloat16 for f in features)  # the body ran in bf16
    with torch.no_grad():
        head = [torch.nn.functional.linear(f.float(), net.module_.head.weight) / 9.0
                for f in features]
    logits = 0.5 * (head[0] + head[1])  # the flip test-time augmentation
    expected = epoch_statistics(torch.log_softmax(logits, dim=-1), torch.as_tensor(y[60:]))
    np.testing.assert_array_equal(recorder.epochs_["correct"][-1], expected["correct"])
    np.testing.assert_array_equal(recorder.epochs_["logit_margin"][-1],
                                  expected["logit_margin"])


class CudaMemoryMark(Callback):
    """Marks the device memory before the recorder's pass (``start``) or reads the
    peak above it after the pass (``read``), from the second epoch on."""

    def __init__(self, action, marks):
        self.action, self.marks = action, marks

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) < 2:
            return
        torch.cuda.synchronize()
        if self.action == "start":
            torch.cuda.reset_peak_memory_stats()
            self.marks["base"] = torch.cuda.memory_allocated()
        else:
            self.marks["peak"] = torch.cuda.max_memory_allocated() - self.marks["base"]


@pytest.mark.cuda
def test_recording_on_a_gpu_takes_device_memory_for_a_batch():
    n_rows, n_classes, batch_size = 20_000, 1_000, 256
    rng = np.random.RandomState(0)
    X = rng.randn(n_rows, n_classes).astype(np.float32)
    y = rng.randint(0, n_classes, n_rows)
    marks = {}
    recorder = HeldOutRecorder(X, y)
    NeuralNetClassifier(
        Logits, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, batch_size=batch_size,
        train_split=None, verbose=0, device="cuda", iterator_valid__pin_memory=True,
        iterator_valid__generator=torch.Generator().manual_seed(0),
        callbacks=[("start", CudaMemoryMark("start", marks)), ("rec", recorder),
                   ("read", CudaMemoryMark("read", marks))]).fit(X[:batch_size], y[:batch_size])
    # the whole fold reduced at once took 7 x 4nC (80 MB each) on the device
    assert marks["peak"] < 4 * n_rows * n_classes
    assert recorder.proba_.shape == (n_rows, n_classes)


@pytest.mark.cuda
def test_records_on_a_gpu_equal_those_on_the_cpu(small_digits):
    """Pinned host buffers and non-blocking copies give the CPU's records (float rounding)."""
    X_train, y_train, X_held, y_held = split(small_digits)
    records = {}
    for device in ("cpu", "cuda"):
        recorder = HeldOutRecorder(X_held, y_held)
        torch.manual_seed(0)
        tiny_net(max_epochs=2, device=device, iterator_valid__batch_size=16,
                 iterator_valid__pin_memory=device == "cuda",
                 callbacks=[("rec", recorder)]).fit(X_train, y_train)
        records[device] = recorder.records(np.arange(100))
    np.testing.assert_allclose(records["cuda"].proba, records["cpu"].proba, atol=1e-4)
    for name in ("target_proba", "logit_margin", "change"):
        np.testing.assert_allclose(records["cuda"].epochs[name], records["cpu"].epochs[name],
                                   atol=1e-3)
