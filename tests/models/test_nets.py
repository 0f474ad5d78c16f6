import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier

from skunseen.models import (
    MLP,
    DeviceEvalIterator,
    DeviceTrainIterator,
    FastNetClassifier,
    SmallCNN,
    cifar_resnet18,
    make_net,
    resolve_device,
)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 7, 5), (1, 1, 1)])
def test_small_cnn_outputs_logits_for_any_image_size(shape):
    out = SmallCNN(in_channels=shape[0], n_classes=4)(torch.randn(2, *shape))
    assert out.shape == (2, 4)


def test_cifar_resnet18_has_cifar_stem():
    model = cifar_resnet18(7)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_mlp_flattens_inputs():
    assert MLP(n_features=64, n_classes=3)(torch.randn(5, 1, 8, 8)).shape == (5, 3)


@pytest.mark.parametrize(
    "model, shape, module, epochs, fast",
    [
        ("auto", (10,), MLP, 20, True),
        ("auto", (1, 8, 8), SmallCNN, 15, True),
        ("resnet18", (3, 32, 32), cifar_resnet18, 30, True),
    ],
)
def test_make_net_defaults(model, shape, module, epochs, fast):
    net = make_net(model, input_shape=shape, n_classes=3, device="cpu")
    assert isinstance(net, NeuralNetClassifier)
    assert net.module is module
    assert net.max_epochs == epochs
    assert net.criterion is torch.nn.CrossEntropyLoss
    assert net.train_split is None
    assert net.iterator_train__shuffle is True
    assert (net.iterator_train is DeviceTrainIterator) is fast
    assert (net.iterator_valid is DeviceEvalIterator) is fast
    assert net.verbose == 0


def test_make_net_resnet18_uses_nesterov_sgd_with_cosine_schedule():
    net = make_net("resnet18", input_shape=(3, 32, 32), n_classes=10, device="cpu", max_epochs=4)
    assert net.optimizer is torch.optim.SGD and net.lr == 0.1
    assert net.optimizer__nesterov and net.optimizer__momentum == 0.9
    assert net.optimizer__weight_decay == 5e-4
    (name, sched), = net.callbacks
    assert sched.policy == "CosineAnnealingLR" and sched.T_max == 4


def test_make_net_passes_net_params_through():
    net = make_net("mlp", input_shape=(4,), n_classes=2, device="cpu", module__hidden=7,
                   optimizer__weight_decay=0.1, batch_size=16, lr=0.5)
    net.initialize()
    assert net.module_.net[1].out_features == 7
    assert net.optimizer_.param_groups[0]["weight_decay"] == 0.1
    assert net.optimizer_.param_groups[0]["lr"] == 0.5 and net.batch_size == 16


@pytest.mark.parametrize("shape", [(8, 8), (1, 2, 3, 4), ()])
def test_make_net_auto_rejects_unsupported_shapes(shape):
    with pytest.raises(ValueError, match="input_shape"):
        make_net("auto", input_shape=shape, n_classes=2, device="cpu")


def test_make_net_rejects_unknown_model_and_image_model_on_vectors():
    with pytest.raises(ValueError, match="model"):
        make_net("vgg", input_shape=(4,), n_classes=2, device="cpu")
    with pytest.raises(ValueError, match="input_shape"):
        make_net("cnn", input_shape=(4,), n_classes=2, device="cpu")


def _fit_proba(model, X, y, seed):
    net = make_net(model, input_shape=X.shape[1:], n_classes=3, device="cpu",
                   max_epochs=2, batch_size=16, random_state=seed)
    return net.fit(X, y).predict_proba(X)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_make_net_random_state_makes_fits_identical(model):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 1, 8, 8).astype(np.float32)
    if model == "mlp":
        X = X.reshape(60, -1)
    y = np.arange(60) % 3
    first = _fit_proba(model, X, y, 0)
    assert np.array_equal(first, _fit_proba(model, X, y, 0))
    assert not np.allclose(first, _fit_proba(model, X, y, 1))


def test_seeded_fit_leaves_global_rng_alone_and_clone_reproduces():
    X = np.random.RandomState(1).rand(40, 5).astype(np.float32)
    y = np.arange(40) % 3
    net = make_net("mlp", input_shape=(5,), n_classes=3, device="cpu", max_epochs=2, random_state=3)
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    net.fit(X, y)
    assert torch.rand(1) == expected
    first = net.predict_proba(X)
    assert np.array_equal(clone(net).fit(X, y).predict_proba(X), first)
    # refitting the same object is seeded again, not continued
    assert np.array_equal(net.fit(X, y).predict_proba(X), first)


def test_random_state_seeds_module_initialisation():
    nets = [make_net("cnn", input_shape=(3, 8, 8), n_classes=2, device="cpu", random_state=seed)
            for seed in (5, 5, 6)]
    weights = [net.initialize().module_.head.weight for net in nets]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    nets[2].set_params(random_state=5, module__widths=(32, 64, 128))
    assert torch.equal(nets[2].module_.head.weight, weights[0])


def test_classes_cover_all_labels_even_if_fold_lacks_one():
    X = np.random.RandomState(0).rand(30, 4).astype(np.float32)
    y = np.zeros(30, dtype=np.int64)
    y[15:] = 1
    net = make_net("mlp", input_shape=(4,), n_classes=3, device="cpu", max_epochs=1).fit(X, y)
    assert net.predict_proba(X).shape == (30, 3)
    assert list(net.classes_) == [0, 1, 2]


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("gpu0")


def test_resolve_device_cuda_without_gpu_explains(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available.*'auto'.*'cpu'"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_net(input_shape=(4,), n_classes=2, device="cuda:0")


def test_fast_path_only_options_need_fast_path():
    with pytest.raises(ValueError, match="fast_path"):
        make_net("mlp", input_shape=(4,), n_classes=2, device="cpu", fast_path=False, mean=0.5)


def test_fast_net_classifier_params_round_trip():
    net = FastNetClassifier(MLP, random_state=4, autocast=False)
    params = net.get_params()
    assert params["random_state"] == 4 and params["autocast"] is False
    assert clone(net).random_state == 4


@pytest.mark.cuda
def test_cuda_bf16_autocast_and_channels_last():
    X = (np.random.RandomState(0).rand(64, 3, 32, 32) * 255).astype(np.uint8)
    y = np.arange(64) % 4
    net = make_net("cnn", input_shape=X.shape[1:], n_classes=4, device="cuda",
                   max_epochs=1, random_state=0).fit(X, y)
    weight = net.module_.features[0][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and np.allclose(proba.sum(1), 1, atol=1e-5)
