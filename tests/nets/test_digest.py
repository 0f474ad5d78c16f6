"""The store's digest of a Dataset that lists no files: every sample read once,
through DataLoader workers, the same whatever their number."""

import random

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from helpers import tiny_net
from skunseen import UnseenPruner
from skunseen.nets._inputs import dataset_digest


class RandomlyAugmented(Dataset):
    """Rows of X with noise from torch's, numpy's and Python's global generators."""

    def __init__(self, X, y):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        noise = (0.01 * torch.rand(self.X.shape[1]) + 0.01 * np.random.rand()
                 + 0.01 * random.random())
        return torch.as_tensor(self.X[index]) + noise.float(), int(self.y[index])


@pytest.fixture
def augmented(small_digits):
    X, y = small_digits
    return RandomlyAugmented(X, y)


def test_the_digest_does_not_depend_on_the_number_of_workers(augmented):
    assert dataset_digest(augmented) == dataset_digest(augmented, num_workers=2)


def test_the_digest_follows_the_samples_and_restores_the_generators(augmented):
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    digest = dataset_digest(augmented)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    changed = RandomlyAugmented(augmented.X.copy(), augmented.y)
    changed.X[5, 3] += 1
    assert dataset_digest(changed) != digest


def test_a_store_keyed_through_workers_resumes_every_model(augmented, tmp_path):
    def fit():
        net = tiny_net(max_epochs=1, iterator_valid__num_workers=2)
        return UnseenPruner(net, scorer="el2n", cv=3, memory=tmp_path,
                            random_state=0).fit(augmented, augmented.y)

    first, again = fit(), fit()
    assert first.n_tasks_resumed_ == 0
    assert again.n_tasks_resumed_ == 3
    np.testing.assert_array_equal(again.scores_, first.scores_)
