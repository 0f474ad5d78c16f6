"""Bad or edge inputs by kind: each is refused before training, named, or handled as
its kind requires (interrupts, one label source, model outputs, inputs that keep
their form, fingerprints of values, parameters checked before training)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from torch.utils.data import Dataset, TensorDataset

from helpers import tiny_net
from skunseen import UnseenPruner, unseen_scores

FITS = []


class CountingLR(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        FITS.append(len(y))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture(autouse=True)
def _no_fits_yet():
    FITS.clear()


# ------------------------------------------------------------- interrupts
STARTED = []


class CtrlCAtTheEnd(Callback):
    """Raises KeyboardInterrupt at the end of the last epoch of the second fit (the
    count is global: every fold's net holds a clone of this callback)."""

    def on_train_begin(self, net, **kwargs):
        STARTED.append(1)

    def on_epoch_end(self, net, **kwargs):
        if len(STARTED) == 2 and len(net.history) == net.max_epochs:
            raise KeyboardInterrupt


@pytest.mark.parametrize("max_epochs", [1, 3])
def test_an_interrupt_in_the_last_epoch_stops_the_fit_and_stores_nothing_partial(
        small_digits, tmp_path, max_epochs):
    X, y = small_digits
    STARTED.clear()
    net = tiny_net(max_epochs=max_epochs, callbacks=[("ctrl_c", CtrlCAtTheEnd())])
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        UnseenPruner(net, cv=3, random_state=0, fold_batching=False,
                     memory=tmp_path).fit(X, y)
    assert len(list(tmp_path.glob("*.npz"))) == 1  # only the first fold, which finished


# --------------------------------------------------------- inputs keep form
def test_the_store_key_knows_a_dataframes_column_dtypes(small_digits, tmp_path):
    X, y = small_digits
    as_ints = pd.DataFrame((X * 16).astype(np.int64)[:, :8])
    as_floats = as_ints.astype(np.float64)
    make = lambda: UnseenPruner(LogisticRegression(max_iter=300), cv=3,  # noqa: E731
                                random_state=0, memory=tmp_path)
    make().fit(as_ints, y)
    assert make().fit(as_floats, y).n_tasks_resumed_ == 0
    assert make().fit(as_ints.copy(), y).n_tasks_resumed_ == 3


def test_transform_takes_the_dataframe_it_was_fitted_on(small_digits):
    X, y = small_digits
    frame = pd.DataFrame(X[:, :8], columns=[f"pixel {k}" for k in range(8)])
    pruner = UnseenPruner(LogisticRegression(max_iter=300), cv=3, random_state=0).fit(frame, y)
    pd.testing.assert_frame_equal(pruner.transform(frame.copy()),
                                  frame.iloc[pruner.sample_indices_])


# -------------------------------------------------------- one label source
def test_a_dataset_whose_items_carry_no_label_is_refused(small_digits):
    X, y = small_digits
    unlabelled = TensorDataset(torch.from_numpy(X))
    for labels in (y, None):
        with pytest.raises(ValueError, match="items carry no label"):
            UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(unlabelled, labels)


class MergedClass(Dataset):
    """``targets`` raw, items relabelled by a target_transform merging class 5 into 4."""

    def __init__(self, X, y):
        self.X, self.targets = X, y.tolist()

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        label = self.targets[i]
        return torch.from_numpy(self.X[i]), 4 if label == 5 else label


def test_a_relabelled_class_is_caught_whatever_rows_it_holds(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="yields the label 4, but y .* says 5"):
        UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(MergedClass(X, y))


# ------------------------------------------- parameters before training
@pytest.mark.parametrize("scorer, params, match", [
    ("dyn_unc", {"window": 0}, "window"),
    ("tdds", {"beta": -1}, "beta"),
    ("el2n", {"epochs": 7}, "out of range"),
    ("grand", {"last_layer": "yes"}, "last_layer"),
])
def test_scorer_params_are_tried_before_any_model_trains(small_digits, scorer, params, match):
    X, y = small_digits
    trained = []

    class Counting(Callback):
        def on_train_begin(self, net, **kwargs):
            trained.append(1)

    net = tiny_net(max_epochs=6, callbacks=[("count", Counting())])
    with pytest.raises(ValueError, match=f"scorer_params=.*{match}"):
        UnseenPruner(net, scorer=scorer, scorer_params=params, cv=3).fit(X, y)
    assert trained == []


def test_an_unseeded_shuffling_splitter_follows_random_state(small_digits):
    X, y = small_digits
    fits = [UnseenPruner(LogisticRegression(max_iter=300), random_state=0,
                         cv=StratifiedKFold(3, shuffle=True)).fit(X, y) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].fold_ids_, fits[1].fold_ids_)
    np.testing.assert_array_equal(fits[0].sample_indices_, fits[1].sample_indices_)


def test_groups_with_missing_values_of_any_kind_are_named(small_digits):
    X, y = small_digits
    for missing in (None, np.nan, pd.NaT, pd.NA):
        groups = np.arange(len(y), dtype=object) % 30
        groups[7] = missing
        with pytest.raises(ValueError, match="groups holds missing values"):
            UnseenPruner(CountingLR(), cv=3).fit(X, y, groups=groups)
    assert FITS == []


# ------------------------------------------------------------------- store
def test_a_refused_fit_leaves_no_store_behind(small_digits, tmp_path):
    X, y = small_digits
    with pytest.raises(ValueError, match="single class"):
        UnseenPruner(CountingLR(), cv=3, memory=tmp_path / "store").fit(X, np.zeros_like(y))
    assert not (tmp_path / "store").exists()


def test_a_store_without_a_random_state_warns_that_nothing_will_be_reused(small_digits,
                                                                          tmp_path):
    X, y = small_digits
    with pytest.warns(UserWarning, match="random_state=None .* nothing stored will be reused"):
        unseen_scores(LogisticRegression(max_iter=300), X, y, cv=3, memory=tmp_path)


def test_stored_probabilities_that_are_no_distribution_are_trained_again(small_digits,
                                                                          tmp_path):
    import json

    X, y = small_digits
    make = lambda: UnseenPruner(LogisticRegression(max_iter=300), cv=3,  # noqa: E731
                                random_state=0, memory=tmp_path)
    first = make().fit(X, y)
    path = sorted(tmp_path.glob("*.npz"))[0]
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    key = meta["arrays"]["proba"]
    arrays[key] = arrays[key] * 3
    from skunseen.engine._store import _digest
    meta["digests"][key] = _digest(arrays[key])
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    with pytest.warns(UserWarning, match="not probability distributions.*trained again"):
        again = make().fit(X, y)
    assert again.n_tasks_resumed_ == 2
    np.testing.assert_array_equal(again.scores_, first.scores_)


@pytest.mark.parametrize("checkpoint_dir, memory, expected", [(None, "store", None)])
def test_checkpoint_dir_none_is_the_old_default(small_digits, tmp_path, checkpoint_dir,
                                                 memory, expected):
    X, y = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        UnseenPruner(LogisticRegression(max_iter=300), cv=3, random_state=0,
                     checkpoint_dir=checkpoint_dir, memory=tmp_path / memory).fit(X, y)
    assert len(list((tmp_path / memory).glob("*.npz"))) == 3
    with pytest.raises(ValueError, match="checkpoint_dir=''"):
        UnseenPruner(CountingLR(), checkpoint_dir="").fit(X, y)


# ----------------------------------------------------------- model outputs
class TooFewColumns(LogisticRegression):
    def predict_proba(self, X):
        return super().predict_proba(X)[:, 1:]


def test_a_predict_proba_with_too_few_columns_is_named(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="returned 9 columns per row for its 10 classes"):
        UnseenPruner(TooFewColumns(max_iter=300), cv=3).fit(X, y)


def test_uint8_images_reaching_a_users_net_warn_or_are_refused(small_digits):
    X, y = small_digits
    pixels = (X * 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="uint8, 0-255.*unscaled"):
        UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(pixels, y)
    images = TensorDataset(torch.from_numpy(pixels), torch.from_numpy(y))
    with pytest.raises(TypeError, match="items are integer pixel values"):
        UnseenPruner(tiny_net(max_epochs=1), cv=3, random_state=0).fit(images)
