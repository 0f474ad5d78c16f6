"""Helpers shared by the tests: small local data and tiny, fast scoring models.

Tests import these from here (``from helpers import tiny_net``); fixtures
live in ``conftest.py``. No test module imports another test module.
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

#: CIFAR-10 as JPEG files in ImageFolder layout, for the tests that read it (they
#: skip without it): the file named by the SKUNSEEN_CIFAR environment variable,
#: else cifar10-jpeg.tar.gz in the data folder beside the checkout.
CIFAR_ARCHIVE = Path(os.environ.get(
    "SKUNSEEN_CIFAR",
    Path(__file__).resolve().parents[2].joinpath("shared", "data", "cifar10-jpeg.tar.gz")))
#: Why the tests that read CIFAR-10 skip, and how to run them.
NO_CIFAR = (f"no CIFAR-10 archive at {CIFAR_ARCHIVE}; set SKUNSEEN_CIFAR to a CIFAR-10 "
            "JPEG archive or folder (ImageFolder layout) to run this test")


class TinyMLP(torch.nn.Module):
    """A two-layer net that trains on digits in well under a second."""

    def __init__(self, n_features=64, n_classes=10, hidden=32):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_classes))

    def forward(self, X):
        return self.layers(X.reshape(len(X), -1))


def tiny_net(max_epochs=3, n_features=64, n_classes=10, **params):
    return NeuralNetClassifier(
        TinyMLP, module__n_features=n_features, module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
        max_epochs=max_epochs, batch_size=64, train_split=None, verbose=0, **params)


#: (rows trained on, rows predicted) of every RowTrackingClassifier prediction.
TRAINING_LOG = []


class RowTrackingClassifier(ClassifierMixin, BaseEstimator):
    """Logs which rows (column 0 holds the row id) it trains on and predicts."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.train_rows_ = set(X[:, 0].astype(int))
        self.model_ = LogisticRegression(max_iter=200).fit(X[:, 1:], y)
        return self

    def predict_proba(self, X):
        TRAINING_LOG.append((self.train_rows_, set(X[:, 0].astype(int))))
        return self.model_.predict_proba(X[:, 1:])


def image_folder(root, names, n_train=2, n_test=1):
    """Random 8x8 PNGs in ImageFolder layout: ``root/{train,test}/<name>/<i>.png``."""
    rng = np.random.RandomState(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for name in names:
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).save(
                    root / split / name / f"{i}.png")
    return root


def with_row_ids(X):
    return np.column_stack([np.arange(len(X)), X])


def record_tasks(estimator, X, y, tasks, *, dynamics=True, fold_batching=False, **options):
    """Train and record explicit scoring tasks through the engine's public steps.

    Returns ``[(records, info), ...]`` in task order, as the engine's
    :class:`~skunseen.HeldOutRecords` holds them.
    """
    from skunseen._records import Recording
    from skunseen.engine import Plan, prepare_scoring, run_plan

    problem = prepare_scoring(estimator, X, y, recording=lambda is_net: Recording(
        dynamics=dynamics and is_net), asked_by={"dynamics": "the test", "extras": "the test"},
        fold_batching=fold_batching, **options)
    rows = np.unique(np.concatenate([task.score_indices for task in tasks]))
    held = run_plan(problem, Plan(list(tasks), rows))
    return list(zip(held.records, held.task_info))


class PaperGpuNet(NeuralNetClassifier):
    """A skorch net that trains on the CPU whatever CUDA device it is given.

    The device the pruner resolved for it stays readable as
    ``assigned_device_``, so that tests on machines without a GPU see which
    GPU every task was given, and where.
    """

    def initialize(self):
        self.assigned_device_ = self.device
        if self.device is not None and torch.device(self.device).type == "cuda":
            self.device = "cpu"
            for prefix in ("iterator_train", "iterator_valid"):
                setattr(self, f"{prefix}__pin_memory", False)  # no GPU to pin for
        return super().initialize()


class WhereItTrains(Callback):
    """Appends ``worker, assigned device, training rows`` to the file ``log`` when a
    :class:`PaperGpuNet` begins training (worker: the Dask worker's name, or None)."""

    def __init__(self, log):
        self.log = str(log)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from distributed import get_worker

        try:
            worker = get_worker().name
        except ValueError:
            worker = None
        with open(self.log, "a") as file:
            file.write(f"{worker} {net.assigned_device_} {len(X)}\n")


def paper_gpu_net(log, max_epochs=1, **params):
    """A tiny :class:`PaperGpuNet` logging where every task trains (:class:`WhereItTrains`)."""
    return PaperGpuNet(
        TinyMLP, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
        max_epochs=max_epochs, batch_size=64, train_split=None, verbose=0,
        callbacks=[("where", WhereItTrains(log))], **params)


def read_where_it_trained(log):
    """``[(worker, assigned device, training rows)]`` of a :func:`paper_gpu_net` log."""
    rows = []
    for line in Path(log).read_text().splitlines():
        worker, device, n_rows = line.split()
        rows.append((None if worker == "None" else int(worker), device, int(n_rows)))
    return rows


def install_gpu_count(count):
    """Make this process (a Dask worker, via ``client.run``) see ``count`` GPUs."""
    import skunseen.models._device

    skunseen.models._device.visible_gpus = lambda: count
