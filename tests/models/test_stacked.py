"""K built-in nets as one stacked module: same outputs, statistics and weights as K nets."""

import copy

import pytest
import torch

from skunseen.models import MLP, FastCifarNet, SmallCNN, cifar_resnet18
from skunseen.models._stacked import stack_modules, stackable

ARCHITECTURES = {
    "mlp": (lambda: MLP(12, 4, hidden=8), (12,)),
    "cnn": (lambda: SmallCNN(3, 4, widths=(4, 8, 8)), (3, 9, 9)),
    "fastcifar": (lambda: FastCifarNet(3, 4, width=0.125, tta=1), (3, 16, 16)),
}


def _pair(name, k=3):
    make, shape = ARCHITECTURES[name]
    torch.manual_seed(0)
    modules = [make() for _ in range(k)]
    return modules, [copy.deepcopy(m) for m in modules], shape


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_stacked_forward_equals_each_model(name):
    modules, reference, shape = _pair(name)
    stacked = stack_modules(modules).train()
    X = torch.randn(3, 6, *shape)
    out = stacked(X)
    for k, model in enumerate(reference):
        torch.testing.assert_close(out[k], model.train()(X[k]), atol=1e-5, rtol=1e-5)
    stacked.eval()
    X = torch.randn(3, 5, *shape)
    for k, model in enumerate(reference):
        torch.testing.assert_close(stacked(X)[k], model.eval()(X[k]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_stacked_heads_compute_in_float32_under_bf16_autocast(name):
    """The batched trainer's predictions come from float32 heads, as each model's."""
    modules, _, shape = _pair(name)
    stacked = stack_modules(modules).train()
    stacked(torch.randn(3, 6, *shape))  # FastCifarNet's whitening
    head = stacked.out if name == "mlp" else stacked.head
    calls = []
    hook = head.register_forward_hook(lambda layer, args, out: calls.append((args[0], out)))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = stacked.eval()(torch.randn(3, 5, *shape))
    hook.remove()
    assert out.dtype == torch.float32
    for inputs, outputs in calls:
        assert inputs.dtype == torch.bfloat16  # the body ran in bf16
        with torch.no_grad():
            expected = torch.bmm(inputs.float(), head.weight.transpose(1, 2))
            if head.bias is not None:
                expected = expected + head.bias[:, None, :]
        torch.testing.assert_close(outputs, expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_padded_rows_enter_no_statistic(name):
    """Model k's BatchNorm statistics and outputs come from its own real rows only."""
    modules, reference, shape = _pair(name)
    stacked = stack_modules(modules).train()
    lengths = [6, 4, 2]
    X = torch.randn(3, 6, *shape)
    for k, n in enumerate(lengths):
        X[k, n:] = 1e4  # padding that would dominate any statistic it entered
    out = stacked(X, lengths)
    for k, model in enumerate(reference):
        n = lengths[k]
        torch.testing.assert_close(out[k][:n], model.train()(X[k][:n]), atol=1e-4, rtol=1e-4)
    copies = [copy.deepcopy(m) for m in modules]
    stacked.unstack(copies)
    for copied, model in zip(copies, reference):
        for (key, a), b in zip(copied.state_dict().items(), model.state_dict().values()):
            if "num_batches" not in key:
                torch.testing.assert_close(a.float(), b.float(), atol=1e-5, rtol=1e-5)


def test_a_model_without_rows_keeps_its_statistics():
    modules, _, shape = _pair("cnn")
    stacked = stack_modules(modules).train()
    before = stacked.norms[0].running_mean.clone()
    logits = stacked(torch.randn(3, 4, *shape), [4, 4, 0])
    assert torch.isfinite(logits).all()
    channels = before.numel() // 3
    torch.testing.assert_close(stacked.norms[0].running_mean[2 * channels:],
                               before[2 * channels:])
    assert not torch.equal(stacked.norms[0].running_mean[:channels], before[:channels])


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_gradients_stay_within_their_model(name):
    modules, _, shape = _pair(name)
    stacked = stack_modules(modules).train()
    stacked(torch.randn(3, 4, *shape))[1].sum().backward()
    for param in stacked.parameters():
        if param.grad is None:
            continue
        grads = param.grad.chunk(3)
        assert grads[0].abs().sum() == 0 and grads[2].abs().sum() == 0


def test_fastcifar_whitening_comes_from_each_models_own_rows():
    modules, reference, shape = _pair("fastcifar")
    stacked = stack_modules(modules).train()
    X = torch.randn(3, 8, *shape) * torch.tensor([1.0, 3.0, 0.2])[:, None, None, None, None]
    lengths = [5, 8, 8]
    stacked(X, lengths)
    for k, model in enumerate(reference):
        model.train()(X[k][:lengths[k]])
        torch.testing.assert_close(stacked.whiten_weight.chunk(3)[k], model.whiten_weight,
                                   atol=1e-5, rtol=1e-4)


def test_what_can_be_stacked():
    assert stackable(MLP) and stackable(SmallCNN(1, 2)) and stackable(FastCifarNet)
    assert not stackable(cifar_resnet18(2)) and not stackable(torch.nn.Linear)

    class Custom(MLP):
        pass

    assert not stackable(Custom)
    with pytest.raises(TypeError, match="one class"):
        stack_modules([MLP(2, 2), SmallCNN(1, 2)])
    with pytest.raises(TypeError, match="cannot be stacked"):
        stack_modules([torch.nn.Linear(2, 2)])
