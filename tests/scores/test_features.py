"""Moderate-DS and the penultimate-layer embeddings it reads."""

import math

import numpy as np
import pytest
import torch

from helpers import TinyMLP, tiny_net
from skunseen.nets import HeldOutRecorder
from skunseen.scores import ScoringRecords, get_scorer, median_distance


def loop_median_distance(embedding, y, normalize):
    """Reference: plain loops over classes, samples and coordinates."""
    out = [0.0] * len(y)
    for label in sorted(set(y.tolist())):
        members = [i for i in range(len(y)) if y[i] == label]
        centre = []
        for d in range(embedding.shape[1]):
            values = sorted(embedding[i, d] for i in members)
            m = len(values)
            centre.append(values[m // 2] if m % 2 else (values[m // 2 - 1] + values[m // 2]) / 2)
        for i in members:
            out[i] = math.sqrt(sum((embedding[i, d] - centre[d]) ** 2
                                   for d in range(embedding.shape[1])))
        if normalize:
            distances = sorted(out[i] for i in members)
            m = len(distances)
            scale = (distances[m // 2] if m % 2
                     else (distances[m // 2 - 1] + distances[m // 2]) / 2)
            if scale > 0:
                for i in members:
                    out[i] /= scale
    return np.array(out)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n_classes", [1, 3])
def test_median_distance_matches_loops(normalize, n_classes):
    rng = np.random.RandomState(n_classes)
    embedding = rng.randn(25, 4) * rng.rand(4) * 3
    y = rng.randint(0, n_classes, 25)
    np.testing.assert_allclose(median_distance(embedding, y, normalize=normalize),
                               loop_median_distance(embedding, y, normalize))


def test_direction_and_edge_cases():
    emb = np.array([[0.0, 0.0], [0.1, 0.0], [-0.1, 0.0], [4.0, 3.0], [9.0, 9.0]])
    scores = median_distance(emb, [0, 0, 0, 0, 1], normalize=False)
    assert scores.argmax() == 3  # the outlier of class 0 is the hardest
    assert scores[4] == 0.0  # a class of one sample sits on its median
    # identical embeddings: all distances 0, normalisation leaves them 0
    np.testing.assert_array_equal(median_distance(np.ones((3, 2)), [0, 0, 0]), 0.0)
    # multi-dimensional embeddings are flattened
    assert median_distance(np.zeros((2, 2, 2)), [0, 1]).shape == (2,)


def test_normalisation_makes_scales_comparable():
    rng = np.random.RandomState(0)
    emb, y = rng.randn(30, 3), np.repeat([0, 1], 15)
    np.testing.assert_allclose(median_distance(emb * 100, y), median_distance(emb, y))
    raw = median_distance(emb, y, normalize=False)
    for label in (0, 1):  # within a class the ranking is unchanged
        members = y == label
        np.testing.assert_array_equal(np.argsort(raw[members]),
                                      np.argsort(median_distance(emb, y)[members]))


@pytest.mark.parametrize("embedding, y, match", [
    (np.zeros((3, 2)), [0, 1], "shape"),
    (np.array([[np.nan, 0.0]]), [0], "NaN"),
])
def test_invalid_input(embedding, y, match):
    with pytest.raises(ValueError, match=match):
        median_distance(embedding, y)


def test_moderate_scorer_reads_embeddings():
    rng = np.random.RandomState(0)
    rec = ScoringRecords(indices=np.arange(10), y=np.repeat([0, 1], 5),
                         proba=np.full((10, 2), 0.5), extras={"embedding": rng.randn(10, 3)})
    scorer = get_scorer("moderate")
    np.testing.assert_array_equal(scorer(rec, normalize=False),
                                  median_distance(rec.extras["embedding"], rec.y, False))
    assert scorer.requests() == {"embedding": {}}
    with pytest.raises(ValueError, match="'embedding' records"):
        scorer(ScoringRecords(indices=rec.indices, y=rec.y, proba=rec.proba))


# ---------------------------------------------------------------- recorder
def split(small_digits):
    X, y = small_digits
    return X[:200], y[:200], X[200:], y[200:]


def test_recorded_embedding_is_the_head_input(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held, extras=("embedding",))
    net = tiny_net(max_epochs=2, callbacks=[("rec", recorder)]).fit(X_train, y_train)
    with torch.no_grad():
        expected = net.module_.layers[:-1](torch.as_tensor(X_held)).numpy()
    np.testing.assert_allclose(recorder.extras_["embedding"], expected, rtol=1e-6)
    records = recorder.records(np.arange(200, 300))
    assert records.extras["embedding"].shape == (100, 32)
    assert records.extras["embedding"].dtype == np.float32
    # nothing per epoch is kept for the extras
    assert set(recorder.epochs_) == set(records.epochs)


class EmbedMLP(TinyMLP):
    def embed(self, X):
        return self.layers[0](X.reshape(len(X), -1))  # pre-activation, not the head input


def test_module_embed_method_overrides_the_hook(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    recorder = HeldOutRecorder(X_held, y_held, every_epoch=False, extras=("embedding",))
    net = tiny_net(max_epochs=1, callbacks=[("rec", recorder)]).set_params(module=EmbedMLP)
    net.fit(X_train, y_train)
    with torch.no_grad():
        expected = net.module_.layers[0](torch.as_tensor(X_held)).numpy()
    np.testing.assert_allclose(recorder.extras_["embedding"], expected, rtol=1e-6)


class NoHeadCNN(torch.nn.Module):
    def __init__(self, n_features=64, n_classes=10):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, n_classes, n_features)

    def forward(self, X):
        return self.conv(X.reshape(len(X), 1, -1)).squeeze(-1)


def test_module_without_linear_layer_is_explained(small_digits):
    X_train, y_train, X_held, y_held = split(small_digits)
    net = tiny_net(max_epochs=1, callbacks=[("rec", HeldOutRecorder(
        X_held, y_held, extras=("embedding",)))]).set_params(module=NoHeadCNN)
    with pytest.raises(ValueError, match="no torch.nn.Linear"):
        net.fit(X_train, y_train)
