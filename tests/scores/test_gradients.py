"""GraNd: torch.func per-sample gradient norms against one backward pass per sample."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from helpers import TinyMLP, tiny_net
from skunseen.nets import HeldOutRecorder
from skunseen.scores import (
    ScoringRecords,
    get_scorer,
    grad_norms,
    last_layer_grad_norms,
    last_linear,
)


def loop_grad_norms(module, X, y, last_layer=False, probabilities=False):
    """Reference: one autograd backward pass per sample, eval mode."""
    was_training = module.training
    module.eval()
    if last_layer:
        head = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]
        params = list(head.parameters())
    else:
        params = list(module.parameters())
    norms = []
    for i in range(len(X)):
        out = module(X[i:i + 1])
        log_p = torch.log(out) if probabilities else torch.log_softmax(out, dim=1)
        loss = -log_p[0, int(y[i])]
        grads = torch.autograd.grad(loss, params)
        norms.append(float(torch.sqrt(sum((g ** 2).sum() for g in grads))))
    module.train(was_training)
    return np.array(norms)


class BatchNormNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, X):
        h = torch.relu(self.bn(self.conv(X)))
        return self.head(h.mean(dim=(2, 3)))


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(12, 64, generator=gen), torch.randint(0, 10, (12,), generator=gen)


@pytest.mark.parametrize("last_layer", [False, True])
def test_vmap_matches_per_sample_autograd(data, last_layer):
    X, y = data
    torch.manual_seed(0)
    module = TinyMLP()
    got = grad_norms(module, X, y, last_layer=last_layer, batch_size=5)
    np.testing.assert_allclose(got, loop_grad_norms(module, X, y, last_layer), rtol=1e-5)
    assert module.training  # the mode is restored


def test_full_network_norm_exceeds_last_layer(data):
    X, y = data
    torch.manual_seed(1)
    module = TinyMLP()
    full = grad_norms(module, X, y)
    head = grad_norms(module, X, y, last_layer=True)
    assert np.all(full > head)


def test_batchnorm_uses_running_statistics():
    torch.manual_seed(0)
    module = BatchNormNet()
    with torch.no_grad():  # non-trivial running statistics
        module.bn.running_mean.uniform_(-1, 1)
        module.bn.running_var.uniform_(0.5, 2)
    X, y = torch.randn(6, 1, 5, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    before = module.bn.running_mean.clone()
    got = grad_norms(module, X, y, batch_size=4)
    np.testing.assert_allclose(got, loop_grad_norms(module, X, y), rtol=1e-5)
    torch.testing.assert_close(module.bn.running_mean, before)


def test_closed_form_last_layer_matches_autograd(data):
    X, y = data
    torch.manual_seed(2)
    module = TinyMLP()
    with torch.no_grad():
        embedding = module.layers[:-1](X)
        proba = torch.softmax(module(X), dim=1)
    got = last_layer_grad_norms(embedding.numpy(), proba.numpy(), y.numpy())
    np.testing.assert_allclose(got, loop_grad_norms(module, X, y, last_layer=True), rtol=1e-5)


def test_closed_form_without_bias():
    h, p, y = np.array([[3.0, 4.0]]), np.array([[0.25, 0.75]]), [1]
    # ||p - e_y|| = sqrt(2) * 0.25, ||h|| = 5
    np.testing.assert_allclose(last_layer_grad_norms(h, p, y, bias=False), [5 * 0.25 * 2 ** 0.5])


def test_module_without_linear_layer_is_explained():
    with pytest.raises(ValueError, match="no torch.nn.Linear"):
        last_linear(torch.nn.Conv2d(1, 1, 1))


# ---------------------------------------------------------------- recorder
def split(small_digits):
    X, y = small_digits
    return X[:200], y[:200], torch.as_tensor(X[200:250]), y[200:250]


class ReferenceNorms(Callback):
    """Reference norms by autograd loop at the end of every epoch."""

    def __init__(self, X, y, last_layer, probabilities=False):
        self.X, self.y, self.last_layer = X, y, last_layer
        self.probabilities = probabilities

    def on_train_begin(self, net, **kwargs):
        self.per_epoch = []

    def on_epoch_end(self, net, **kwargs):
        with torch.random.fork_rng():
            self.per_epoch.append(loop_grad_norms(net.module_, self.X, self.y,
                                                  self.last_layer, self.probabilities))


@pytest.mark.parametrize("last_layer", [False, True])
@pytest.mark.parametrize("epochs", [None, (1, 3)])
def test_recorder_grad_norms(small_digits, last_layer, epochs):
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held, every_epoch=False,
                               extras={"grad_norm": {"last_layer": last_layer, "epochs": epochs}})
    reference = ReferenceNorms(X_held, y_held, last_layer)
    torch.manual_seed(0)
    tiny_net(max_epochs=3, callbacks=[("ref", reference), ("rec", recorder)]).fit(
        X_train, y_train)
    expected = (reference.per_epoch[-1] if epochs is None
                else np.mean(reference.per_epoch[1:3], axis=0))
    np.testing.assert_allclose(recorder.extras_["grad_norm"], expected, rtol=1e-4)
    records = recorder.records(np.arange(50))
    np.testing.assert_array_equal(get_scorer("grand")(records), recorder.extras_["grad_norm"])


def test_last_layer_of_a_logits_head_needs_no_backward_pass(small_digits, monkeypatch):
    import skunseen.nets._recording as recording

    def fail(*args, **kwargs):
        raise AssertionError("the closed form should have been used")

    monkeypatch.setattr(recording, "grad_norm_batches", fail)
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held, extras={"grad_norm": {"last_layer": True}})
    tiny_net(max_epochs=1, callbacks=[("rec", recorder)]).fit(X_train, y_train)
    assert recorder.extras_["grad_norm"].shape == (50,)


class SoftmaxMLP(TinyMLP):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


def test_last_layer_of_a_probability_module_uses_vmap(small_digits):
    """The closed form needs logits out of the last Linear; a softmax module
    outputs probabilities, so the recorder differentiates instead."""
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held, extras={"grad_norm": {"last_layer": True}})
    reference = ReferenceNorms(X_held, y_held, True, probabilities=True)
    torch.manual_seed(0)
    NeuralNetClassifier(SoftmaxMLP, max_epochs=2, train_split=None, verbose=0, lr=0.1,
                        callbacks=[("ref", reference), ("rec", recorder)]).fit(X_train, y_train)
    np.testing.assert_allclose(recorder.extras_["grad_norm"], reference.per_epoch[-1],
                               rtol=1e-4)


def test_gradients_do_not_change_training(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    torch.manual_seed(0)
    plain = tiny_net(max_epochs=3).fit(X_train, y_train)
    torch.manual_seed(0)
    recorder = HeldOutRecorder(X_held, y_held, extras={
        "grad_norm": {"epochs": (0, 3)}, "embedding": {}})
    recorded = tiny_net(max_epochs=3, callbacks=[("rec", recorder)]).fit(X_train, y_train)
    for a, b in zip(plain.module_.parameters(), recorded.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_grad_epochs_that_never_run_are_reported(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    with pytest.raises(ValueError, match="grad_norm epochs"):
        tiny_net(max_epochs=2, callbacks=[("rec", HeldOutRecorder(
            X_held, y_held, extras={"grad_norm": {"epochs": (5, 8)}}))]).fit(X_train, y_train)


@pytest.mark.parametrize("extras, match", [
    (("logits",), "Unknown extra 'logits'"),
    ({"grad_norm": {"layer": 2}}, "Unknown option"),
])
def test_unknown_requests(small_digits, extras, match):
    X_train, y_train, X_held, y_held = split(small_digits)
    with pytest.raises(ValueError, match=match):
        tiny_net(max_epochs=1, callbacks=[("rec", HeldOutRecorder(
            X_held, y_held, extras=extras))]).fit(X_train, y_train)


def test_grand_scorer_requests_what_it_reads():
    scorer = get_scorer("grand")
    assert scorer.requests() == {"grad_norm": {"last_layer": False, "epochs": None}}
    assert scorer.requests({"last_layer": True, "epochs": (2, 4)}) == {
        "grad_norm": {"last_layer": True, "epochs": (2, 4)}}
    with pytest.raises(TypeError, match="unexpected parameter"):
        scorer.requests({"layers": 1})
    bare = ScoringRecords(indices=np.arange(2), y=np.zeros(2, int), proba=np.ones((2, 1)))
    with pytest.raises(ValueError, match="'grad_norm' records"):
        scorer(bare)
