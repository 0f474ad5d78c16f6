import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skorch.dataset import Dataset as SkorchDataset
from torch.utils.data import Dataset, Subset

from skunseen.models import (
    ArrayIndexView,
    DeviceEvalIterator,
    DeviceTrainIterator,
    clear_device_cache,
    make_net,
)


def _indexed_data(n=50):
    # every value of row i equals i, so served rows identify themselves
    X = np.repeat(np.arange(n, dtype=np.float32), 4).reshape(n, 1, 2, 2)
    y = np.arange(n) * 3
    return X, y


def _drain(iterator):
    xs, ys = zip(*iterator)
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("batch_size", [7, 50, 64])
def test_train_iterator_serves_each_sample_once_with_aligned_labels(batch_size):
    X, y = _indexed_data()
    torch.manual_seed(0)
    orders = []
    for _ in range(2):
        it = DeviceTrainIterator(SkorchDataset(X, y), batch_size=batch_size, device="cpu")
        xb, yb = _drain(it)
        assert len(it) == -(-50 // batch_size)
        rows = xb[:, 0, 0, 0].long()
        assert sorted(rows.tolist()) == list(range(50))
        assert torch.equal(yb, rows * 3)
        assert yb.dtype == torch.int64
        orders.append(rows.tolist())
    if batch_size < 50:
        assert orders[0] != orders[1], "epochs must be reshuffled"


def test_train_iterator_on_index_view_and_subset_serves_only_selected_rows():
    X, y = _indexed_data()
    selected = np.array([3, 9, 4, 40, 22, 31, 8])
    xb, yb = _drain(DeviceTrainIterator(ArrayIndexView(X, y, selected), batch_size=3, device="cpu"))
    rows = xb[:, 0, 0, 0].long()
    assert sorted(rows.tolist()) == sorted(selected.tolist())
    assert torch.equal(yb, rows * 3)
    sub = Subset(ArrayIndexView(X, y, selected), [1, 5])
    xb, _ = _drain(DeviceEvalIterator(sub, batch_size=8, device="cpu"))
    assert xb[:, 0, 0, 0].tolist() == [9.0, 31.0]


def test_drop_last_skips_partial_batch():
    X, y = _indexed_data(10)
    it = DeviceTrainIterator(SkorchDataset(X, y), batch_size=4, drop_last=True, device="cpu")
    assert len(it) == 2 and [len(b[0]) for b in it] == [4, 4]


def test_eval_iterator_preserves_order_and_does_not_augment():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20, 3, 32, 32)).astype(np.uint8)
    order = rng.permutation(20)[:13]
    xb, yb = _drain(DeviceEvalIterator(ArrayIndexView(X, None, order), batch_size=5, device="cpu"))
    expected = (torch.from_numpy(X[order]).float() / 255 - 0.5) / 0.25
    assert torch.allclose(xb, expected)
    assert yb.shape == (13,)


def test_eval_iterator_matches_plain_dataloader_predictions():
    X = np.random.RandomState(0).rand(37, 1, 8, 8).astype(np.float32)
    y = np.arange(37) % 3
    net = make_net("cnn", input_shape=X.shape[1:], n_classes=3, device="cpu",
                   max_epochs=1, random_state=0).fit(X, y)
    plain = make_net("cnn", input_shape=X.shape[1:], n_classes=3, device="cpu",
                     fast_path=False).initialize()
    plain.module_.load_state_dict(net.module_.state_dict())
    assert plain.iterator_valid is torch.utils.data.DataLoader
    assert np.allclose(net.predict_proba(X), plain.predict_proba(X), atol=1e-6)


def _all_crops(image, pad=4, mode="constant"):
    padded = F.pad(image.float(), (pad, pad, pad, pad), mode=mode).to(image.dtype)
    h, w = image.shape[1:]
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            yield crop
            yield crop.flip(-1)


def test_augmentation_is_shape_preserving_random_crop_and_flip():
    rng = np.random.RandomState(0)
    X = rng.randint(1, 256, size=(12, 3, 32, 32)).astype(np.uint8)
    y = np.arange(12)
    torch.manual_seed(0)
    it = DeviceTrainIterator(SkorchDataset(X, y), batch_size=5, device="cpu", mean=0.0, std=1.0)
    xb, yb = _drain(it)
    assert xb.shape == (12, 3, 32, 32) and xb.dtype == torch.float32
    pixels = (xb * 255).round().to(torch.uint8)
    changed = 0
    for image, label in zip(pixels, yb):
        original = torch.from_numpy(X[label])
        assert any(torch.equal(image, crop) for crop in _all_crops(original)), "not a crop/flip"
        changed += not torch.equal(image, original)
    assert changed >= 6, "augmentation should alter most images"


def test_reflect_padding_crops_show_mirrored_edges():
    rng = np.random.RandomState(1)
    X = rng.randint(1, 256, size=(12, 3, 32, 32)).astype(np.uint8)
    torch.manual_seed(0)
    it = DeviceTrainIterator(SkorchDataset(X, np.arange(12)), batch_size=5, device="cpu",
                             mean=0.0, std=1.0, crop_padding=2, padding_mode="reflect")
    xb, yb = _drain(it)
    pixels = (xb * 255).round().to(torch.uint8)
    assert (pixels > 0).all(), "no black border"
    for image, label in zip(pixels, yb):
        crops = list(_all_crops(torch.from_numpy(X[label]), pad=2, mode="reflect"))
        assert any(torch.equal(image, crop) for crop in crops), "not a reflected crop/flip"
    with pytest.raises(ValueError, match="padding_mode"):
        DeviceTrainIterator(SkorchDataset(X, np.arange(12)), padding_mode="edge")


@pytest.mark.parametrize(
    "X, expected",
    [
        (np.zeros((4, 3, 32, 32), np.uint8), True),
        (np.zeros((4, 1, 32, 32), np.uint8), False),  # grey images, e.g. digits
        (np.zeros((4, 3, 8, 8), np.uint8), False),
        (np.zeros((4, 3, 32, 32), np.float32), False),
    ],
)
def test_auto_augmentation_only_for_natural_rgb_uint8(X, expected):
    it = DeviceTrainIterator(SkorchDataset(X, np.zeros(4, np.int64)), device="cpu")
    assert it._augment_enabled(it._X) is expected


@pytest.mark.parametrize(
    "shape, channels_last, expected",
    [
        ((4, 3, 32, 32), "auto", True),  # colour images: faster CPU convolutions
        ((4, 1, 8, 8), "auto", False),  # grey images, e.g. digits
        ((4, 3, 32, 32), False, False),
        ((4, 1, 8, 8), True, True),
    ],
)
def test_channels_last_batches_on_cpu(shape, channels_last, expected):
    X = np.random.RandomState(0).randint(0, 256, size=shape).astype(np.uint8)
    it = DeviceEvalIterator(SkorchDataset(X, np.arange(4)), batch_size=4, device="cpu",
                            channels_last=channels_last)
    xb = next(iter(it))[0]
    # single-channel tensors satisfy both layouts; the strides tell them apart
    if expected:
        assert xb.is_contiguous(memory_format=torch.channels_last)
        assert xb.stride(1) == 1
    else:
        assert xb.is_contiguous() and xb.stride(-1) == 1
    expected_values = (torch.from_numpy(X).float() / 255 - 0.5) / 0.25
    torch.testing.assert_close(xb, expected_values)


def test_normalisation_leaves_float_source_data_untouched():
    X = np.random.RandomState(0).rand(6, 3, 4, 4).astype(np.float32)
    original = X.copy()
    it = DeviceEvalIterator(SkorchDataset(X, np.arange(6)), batch_size=6, device="cpu",
                            mean=(0.1, 0.2, 0.3), std=2.0)
    for _ in range(2):  # a second epoch would see any in-place change
        xb = next(iter(it))[0]
        mean = torch.tensor([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1)
        torch.testing.assert_close(xb, (torch.from_numpy(original) - mean) / 2.0)
    np.testing.assert_array_equal(X, original)


def test_device_copy_is_reused_across_epochs_and_folds():
    clear_device_cache()
    X, y = _indexed_data()
    first = DeviceTrainIterator(ArrayIndexView(X, y, [1, 2]), device="cpu")
    second = DeviceEvalIterator(ArrayIndexView(X, None, [3]), device="cpu")
    assert first._X is second._X
    # on CPU the device copy shares memory with the numpy array: no copy at all
    assert first._X.data_ptr() == X.__array_interface__["data"][0]


def test_the_device_cache_keeps_the_most_recent_arrays():
    """At most one copy per array and device, the least recently used array evicted."""
    clear_device_cache()
    arrays = [_indexed_data()[0].copy() for _ in range(5)]
    copies = [DeviceEvalIterator(ArrayIndexView(X), device="cpu")._X for X in arrays]
    assert DeviceEvalIterator(ArrayIndexView(arrays[4]), device="cpu")._X is copies[4]
    assert DeviceEvalIterator(ArrayIndexView(arrays[1]), device="cpu")._X is copies[1]
    assert DeviceEvalIterator(ArrayIndexView(arrays[0]), device="cpu")._X is not copies[0]
    clear_device_cache()


@pytest.mark.cuda
def test_every_gpu_keeps_its_own_copy_without_thrashing():
    X, _ = _indexed_data()
    clear_device_cache()
    devices = ["cuda", *[f"cuda:{k}" for k in range(torch.cuda.device_count())]]
    first = [DeviceEvalIterator(ArrayIndexView(X), device=d)._X for d in devices]
    again = [DeviceEvalIterator(ArrayIndexView(X), device=d)._X for d in devices]
    assert all(a is b for a, b in zip(first, again))
    # "cuda" is the current GPU: the same copy as "cuda:<current>"
    assert first[0] is first[1 + torch.cuda.current_device()]
    clear_device_cache()


def test_unsupported_datasets_fall_back_to_dataloader():
    class Squares(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return torch.tensor([float(i)]), i * i

    it = DeviceEvalIterator(Squares(), batch_size=4, device="cpu", num_workers=0)
    assert it.uses_fallback and len(it) == 2
    xb, yb = _drain(it)
    assert yb.tolist() == [0, 1, 4, 9, 16, 25]


def test_fast_path_net_trains_on_index_views_without_copies():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(90, 3, 32, 32)).astype(np.uint8)
    y = np.arange(90) % 3
    train, held_out = np.arange(0, 90, 3), np.arange(1, 90, 3)[::-1]
    net = make_net("cnn", input_shape=X.shape[1:], n_classes=3, device="cpu",
                   max_epochs=1, batch_size=16, random_state=0)
    net.fit(ArrayIndexView(X, y, train), y[train])
    via_view = net.predict_proba(ArrayIndexView(X, None, held_out))
    assert np.allclose(via_view, net.predict_proba(X[held_out]), atol=1e-6)


def test_index_view_validates_inputs_and_acts_as_plain_dataset():
    X, y = _indexed_data(5)
    with pytest.raises(ValueError, match="aligned"):
        ArrayIndexView(X, y[:3], [0])
    with pytest.raises(IndexError):
        ArrayIndexView(X, y, [5])
    view = ArrayIndexView(X, y, [4, 1])
    assert view.targets.tolist() == [12, 3]
    Xi, yi = view[1]
    assert Xi[0, 0, 0] == 1 and yi == 3


@pytest.mark.cuda
def test_cuda_iterator_covers_samples_and_returns_channels_last():
    X = np.random.RandomState(0).randint(0, 256, size=(50, 3, 32, 32)).astype(np.uint8)
    y = np.arange(50)
    xb, yb = _drain(DeviceTrainIterator(SkorchDataset(X, y), batch_size=16, device="cuda"))
    assert xb.is_cuda and sorted(yb.tolist()) == list(range(50))
    first = next(iter(DeviceEvalIterator(SkorchDataset(X, y), batch_size=16, device="cuda")))[0]
    assert first.is_contiguous(memory_format=torch.channels_last)
