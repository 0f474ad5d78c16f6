"""The fast CIFAR net and its recipe: module, whitening, TTA, schedule, skorch net."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from skunseen import FittingPruner, MultiStepUnseenPruner, UnseenPruner
from skunseen.models import FastCifarNet, TriangularLR, make_net
from skunseen.models._fastcifar import SHIFT_SCALE, _ShiftBatchNorm, recipe_lr


def _images(n=96, seed=0, size=32):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 4
    X = rng.randint(0, 256, size=(n, 3, size, size)).astype(np.uint8)
    # a class-dependent colour shift, so that a few epochs learn something
    X[:, 0] = np.clip(X[:, 0].astype(int) // 2 + 60 * y[:, None, None], 0, 255)
    return X, y


def _tiny_fastcifar(**params):
    params = {"max_epochs": 2, "batch_size": 32, "device": "cpu", "random_state": 0,
              "module__width": 0.125, **params}
    return make_net("fastcifar", input_shape=(3, 32, 32), n_classes=4, **params)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8), (3, 2, 2), (3, 17, 23)])
def test_any_image_size_gives_logits(shape):
    net = FastCifarNet(in_channels=shape[0], n_classes=5, width=0.125)
    X = torch.randn(4, *shape)
    assert net.train()(X).shape == (4, 5)
    assert net.eval()(X).shape == (4, 5)


def test_width_scales_the_blocks():
    def n_params(width):
        return sum(p.numel() for p in FastCifarNet(width=width).parameters())

    assert [b.conv2.out_channels for b in FastCifarNet().blocks] == [64, 256, 256]
    assert [b.conv2.out_channels for b in FastCifarNet(width=0.25).blocks] == [16, 64, 64]
    # convolutions dominate, so the parameter count scales about with width**2
    assert 10 < n_params(1.0) / n_params(0.25) < 17


@pytest.mark.parametrize("params, match", [({"tta": 3}, "tta"), ({"width": 0}, "width")])
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        FastCifarNet(**params)


def test_whitening_is_computed_once_from_the_first_training_batch():
    torch.manual_seed(0)
    net = FastCifarNet(width=0.125)
    assert not net.whitened and net.whiten_weight.abs().sum() == 0
    first = torch.randn(64, 3, 32, 32) * torch.tensor([1.0, 2.0, 0.5])[:, None, None]
    net.eval()(first)  # eval mode never computes it
    assert not net.whitened
    net.train()(first)
    weight = net.whiten_weight.clone()
    assert net.whitened
    net(torch.randn(64, 3, 32, 32) * 5)
    assert torch.equal(net.whiten_weight, weight)
    # the first half of the filters whitens the patches it was computed from
    patches = torch.nn.functional.unfold(first, 2).transpose(1, 2).reshape(-1, 12)
    half = weight[:12].reshape(12, 12)
    covariance = (patches @ half.T).T @ (patches @ half.T) / len(patches)
    assert torch.allclose(covariance, torch.eye(12), atol=0.02)
    assert torch.equal(weight[12:], -weight[:12])
    assert "whiten_weight" in net.state_dict() and "whitened" in net.state_dict()


def test_whitening_travels_with_the_state_dict():
    net = FastCifarNet(width=0.125)
    net.train()(torch.randn(8, 3, 32, 32))
    copy = FastCifarNet(width=0.125)
    copy.load_state_dict(net.state_dict())
    assert copy.whitened and torch.equal(copy.whiten_weight, net.whiten_weight)
    copy.train()(torch.randn(8, 3, 32, 32) * 3)  # loaded, so not computed again
    assert torch.equal(copy.whiten_weight, net.whiten_weight)


def test_tta_averages_mirrored_logits():
    torch.manual_seed(0)
    net = FastCifarNet(width=0.125, tta=0)
    X = torch.randn(6, 3, 32, 32)
    net.train()(X)
    net.eval()
    plain, mirrored = net(X), net(X.flip(-1))
    net.tta = 1
    assert torch.allclose(net(X), (plain + mirrored) / 2, atol=1e-5)
    # flip TTA makes the prediction invariant to a horizontal flip
    assert torch.allclose(net(X), net(X.flip(-1)), atol=1e-5)
    net.tta = 2
    padded = torch.nn.functional.pad(X, (1, 1, 1, 1), mode="reflect")
    net.tta = 1
    shifted = net(padded[..., :32, :32]) + net(padded[..., 2:, 2:])
    net.tta = 2
    assert torch.allclose(net(X), (plain + mirrored) / 4 + shifted / 4, atol=1e-5)


def test_head_and_tta_mean_are_float32_under_bf16_autocast():
    """Under bf16 autocast the body runs in bf16 and the head and the test-time
    augmentation mean in float32: the logits, and so the records' correct and
    margins, are those of the float32 head."""
    from skunseen.scores import epoch_statistics

    torch.manual_seed(0)
    net = FastCifarNet(width=0.125, tta=2, n_classes=100)
    net.train()(torch.randn(16, 3, 16, 16))
    X, y = torch.randn(64, 3, 16, 16), torch.randint(0, 100, (64,))
    features = []
    hook = net.head.register_forward_pre_hook(lambda layer, args: features.append(args[0]))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net.eval()(X)
    hook.remove()
    assert logits.dtype == torch.float32 and features[0].dtype == torch.bfloat16
    with torch.no_grad():
        head = [torch.nn.functional.linear(f.float(), net.head.weight) / 9.0 for f in features]
    mirrored = [0.5 * (head[i] + head[i + 1]) for i in (0, 2, 4)]
    expected = 0.5 * mirrored[0] + 0.25 * sum(mirrored[1:])
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    ours = epoch_statistics(torch.log_softmax(logits, dim=-1), y)
    reference = epoch_statistics(torch.log_softmax(expected, dim=-1), y)
    for name in ("correct", "logit_margin"):
        torch.testing.assert_close(ours[name], reference[name], rtol=0, atol=0)


def test_shift_scale_equals_a_64x_bias_learning_rate():
    """SGD on the stored shift moves the BatchNorm bias like the recipe's bias group."""
    torch.manual_seed(0)
    X = torch.randn(16, 3, 4, 4)
    target = torch.randn(16, 3, 4, 4)
    lr, wd, momentum = 0.05, 0.01, 0.85
    ours = _ShiftBatchNorm(3, momentum=0.1, eps=1e-5)
    plain = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-5)
    plain.weight.requires_grad_(False)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=lr, momentum=momentum, nesterov=True,
                               weight_decay=wd)
    factor = SHIFT_SCALE ** 2
    opt_plain = torch.optim.SGD([plain.bias], lr=lr * factor, momentum=momentum,
                                nesterov=True, weight_decay=wd / factor)
    for _ in range(3):
        for module, opt in ((ours, opt_ours), (plain, opt_plain)):
            opt.zero_grad()
            ((module(X) - target) ** 2).mean().backward()
            opt.step()
        assert torch.allclose(ours.shift * SHIFT_SCALE, plain.bias, atol=1e-6)


def test_triangular_schedule_per_step_and_restart():
    schedule = TriangularLR(start=0.2, peak=0.25, end=0.0)
    seen = []

    class Spy(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                seen.append(net.optimizer_.param_groups[0]["lr"])

    net = NeuralNetClassifier(torch.nn.Linear(3, 2), max_epochs=4, batch_size=10, lr=2.0,
                              train_split=None, verbose=0, criterion=torch.nn.CrossEntropyLoss,
                              callbacks=[("lr", schedule), ("spy", Spy())])
    X, y = np.zeros((20, 3), dtype=np.float32), np.arange(20) % 2
    net.fit(X, y)
    expected = [2.0 * schedule.factor(t / 8) for t in range(8)]
    assert schedule.total_steps_ == 8 and np.allclose(seen, expected)
    assert np.isclose(seen[0], 0.4) and np.isclose(seen[2], 2.0) and np.isclose(seen[-1], 2 / 6)
    seen.clear()
    net.fit(X, y)  # a refit restarts from the same base learning rate
    assert np.allclose(seen, expected)
    with pytest.raises(ValueError, match="peak"):
        net.set_params(callbacks__lr__peak=1.0).fit(X, y)


def test_recipe_learning_rate():
    # 10 per 1024 examples over a Nesterov factor of 1 + 1/(1 - 0.85), times the batch
    assert np.isclose(recipe_lr(1024, 0.85), 10 / (1 + 1 / 0.15))
    assert np.isclose(recipe_lr(512, 0.85), recipe_lr(1024, 0.85) / 2)


def test_make_net_builds_the_recipe():
    net = make_net("fastcifar", input_shape=(3, 32, 32), n_classes=10, device="cpu")
    assert net.module is FastCifarNet and net.batch_size == 1024 and net.max_epochs == 10
    assert np.isclose(net.lr, recipe_lr(1024, 0.85))
    assert np.isclose(make_net("fastcifar", input_shape=(3, 32, 32), n_classes=10,
                               device="cpu", batch_size=256).lr, recipe_lr(256, 0.85))
    params = net.get_params()
    assert params["criterion__label_smoothing"] == 0.2
    assert params["optimizer"] is torch.optim.SGD and params["optimizer__nesterov"]
    assert params["iterator_train__crop_padding"] == 2
    assert params["iterator_train__padding_mode"] == "reflect"
    assert isinstance(dict(net.callbacks)["lr"], TriangularLR)
    with pytest.raises(ValueError, match="input_shape"):
        make_net("fastcifar", input_shape=(64,), n_classes=10, device="cpu")


def test_fastcifar_net_trains_and_is_reproducible():
    X, y = _images()
    first = _tiny_fastcifar(max_epochs=6).fit(X, y)
    second = _tiny_fastcifar(max_epochs=6).fit(X, y)
    proba = first.predict_proba(X)
    assert np.array_equal(proba, second.predict_proba(X))
    assert first.module_.whitened
    losses = first.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_batch_losses_are_floats_after_each_epoch():
    X, y = _images(n=80)
    net = _tiny_fastcifar(max_epochs=2).fit(X, y)
    for epoch in net.history:
        batches = epoch["batches"]
        assert [b["train_batch_size"] for b in batches] == [32, 32, 16]
        assert all(type(b["train_loss"]) is float for b in batches)
        weights = np.array([b["train_batch_size"] for b in batches])
        values = np.array([b["train_loss"] for b in batches])
        assert np.isclose(epoch["train_loss"], (weights * values).sum() / weights.sum())


@pytest.mark.parametrize("pruner_cls", [UnseenPruner, FittingPruner, MultiStepUnseenPruner])
def test_fastcifar_scores_in_every_pruner(pruner_cls):
    X, y = _images()
    params = {"cv": 3, "n_steps": 2} if pruner_cls is MultiStepUnseenPruner else (
        {"cv": 3} if pruner_cls is UnseenPruner else {})
    pruner = pruner_cls(_tiny_fastcifar(max_epochs=2), scorer="forgetting", keep=0.5,
                        random_state=0, **params)
    X_core = pruner.fit_transform(X, y)
    assert X_core.shape == (48, 3, 32, 32)
    assert len(np.unique(pruner.sample_indices_)) == 48
    assert np.isfinite(pruner.scores_).all()


@pytest.mark.cuda
def test_fastcifar_on_cuda_bf16_channels_last():
    X, y = _images(n=256)
    net = _tiny_fastcifar(device="cuda", max_epochs=3, batch_size=64).fit(X, y)
    module = net.module_
    assert next(module.parameters()).is_cuda and module.whitened
    assert module.blocks[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and np.isfinite(proba).all()
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-4)
    # the whitening was computed in float32 outside autocast
    assert module.whiten_weight.dtype == torch.float32
    assert torch.isfinite(module.whiten_weight).all()


@pytest.mark.cuda
def test_fastcifar_cuda_learns_like_cpu():
    X, y = _images(n=512)
    accuracy = {}
    for device in ("cpu", "cuda"):
        net = _tiny_fastcifar(device=device, max_epochs=8, batch_size=64, module__width=0.25)
        accuracy[device] = (net.fit(X, y).predict(X) == y).mean()
    assert accuracy["cuda"] > 0.6 and abs(accuracy["cuda"] - accuracy["cpu"]) < 0.15
