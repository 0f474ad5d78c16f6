"""A skorch net as the engine's scoring model.

:class:`NetModel` is what :func:`skunseen.engine.run_plan` asks, for a round
of nets, where every task runs, whether the round trains batched, how one
task trains (:class:`~skunseen.nets._recording.NetTaskRunner`, one joblib
job) and how a batched round trains
(:func:`~skunseen.nets._batched.fit_and_record_batched`); the engine's
scikit-learn counterpart answers the same questions for other classifiers.
"""

import warnings

import numpy as np
import torch

from .._data import dataset_files, is_dataset
from ..models import check_device
from ._batched import fit_and_record_batched, use_fold_batching
from ._devices import callers_generators, check_fork_safe, threads_per_task
from ._inputs import as_net_input, dataset_digest, first_non_finite_row, serves_uint8
from ._prepare import (
    array_sample_shape,
    check_forward_takes,
    check_net,
    default_net,
    first_sample,
)
from ._recording import NetTaskRunner, warn_if_serialised


class NetModel:
    """A skorch net (or the default net), checked and given X in the form it reads.

    Parameters
    ----------
    estimator : skorch NeuralNet or None
        The scoring net; ``None`` builds the default net for X's shape
        (:func:`skunseen.models.make_net` ``("auto", ...)``).
    X : array-like, tensor, DataFrame or Dataset
        The caller's data; numeric data becomes float32 once, here, for all
        tasks (integer images stay uint8 for the fast-path iterators).
    n_classes : int
        Number of classes.
    recording : Recording
        What every task records.
    device : str, default="auto"
        The pruner's ``device``: ``"auto"`` keeps the net's own (for the
        default net: CUDA where the task runs has a GPU). A request, resolved
        where each task runs.
    fold_batching : bool or "auto", default="auto"
        The pruner's ``fold_batching``.
    fit_params : dict, default=None
        Metadata routed to the net's ``fit``.

    Raises
    ------
    ValueError
        When the net cannot take X's rows, has the wrong number of outputs,
        outputs no probabilities, cannot record what is asked, or its
        module's ``forward`` does not take the fit parameters.
    """

    def __init__(self, estimator, X, *, n_classes, recording, device="auto",
                 fold_batching="auto", fit_params=None):
        sample = first_sample(X)
        self.sample_shape = array_sample_shape(sample)
        if estimator is None:
            estimator, own_device = default_net(X, n_classes), "auto"
        else:
            check_net(estimator, n_classes=n_classes, device=device,
                      sample_shape=self.sample_shape, extras=recording.extras)
            own_device = estimator.device
        check_forward_takes(estimator, fit_params)
        if not serves_uint8(estimator) and _is_uint8(sample) and is_dataset(X):
            raise TypeError(
                "The Dataset's items are integer pixel values (uint8, 0-255), which the "
                "scoring net cannot take: its weights are floating point. Add a transform "
                "that makes float tensors (e.g. torchvision's ToImage and "
                "ToDtype(torch.float32, scale=True)), or use skunseen.models.make_net, whose "
                "fast-path iterators scale uint8 arrays on the device."
            )
        if not serves_uint8(estimator) and _is_uint8(sample):
            warnings.warn(
                "X holds integer pixel values (uint8, 0-255) that the scoring net receives "
                "unscaled, as float32 numbers up to 255; scale them first (e.g. X / 255, or "
                "a Normalize transform), or use skunseen.models.make_net, whose fast-path "
                "iterators scale uint8 images on the device.",
                UserWarning, stacklevel=4,
            )
        self.estimator = estimator
        # Once for all tasks, which then read rows of it without copies.
        self.X = as_net_input(X, keep_uint8=serves_uint8(estimator))
        self.device = own_device if device == "auto" else check_device(device)
        self.fold_batching = fold_batching
        self._digest = None

    def plan_round(self, n_tasks, *, recording, fit_params, n_jobs):
        """``(devices, batched)``: every task's device request, and whether the round
        trains batched.

        Decided for the whole round before anything trains, so that
        ``fold_batching=True`` refuses a net it cannot batch whatever the
        store holds, and the store's keys tell batched records apart. The
        requests are resolved where each task runs (``"cuda"``: the GPUs of
        that process, task ``k`` on ``cuda:{k mod n_gpus}``), so this asks
        nothing about the hardware.
        """
        devices = [self.device] * n_tasks
        batched = use_fold_batching(
            self.fold_batching, self.estimator, n_tasks=n_tasks, devices=devices,
            sample_shape=self.sample_shape, extras=recording.extras, n_jobs=n_jobs,
            fit_params=fit_params)
        return devices, batched

    def task_runner(self, n_tasks, n_jobs):
        """The joblib job of one task (picklable); warns when threads must take turns,
        and refuses forked workers that could not use CUDA."""
        check_fork_safe(self.device, n_jobs)
        warn_if_serialised(self.estimator, n_tasks, n_jobs)
        return NetTaskRunner(threads_per_task(n_jobs))

    def run_batched(self, y, tasks, *, devices, n_classes, recording):
        """``[(records, n_epochs)]`` of ``tasks`` trained at once as one stacked module."""
        return fit_and_record_batched(self.estimator, self.X, y, tasks, n_classes=n_classes,
                                      record_dynamics=recording.dynamics, device=devices[0])

    def keeping_random_state(self, devices):
        """A context restoring the caller's torch generators, which tasks seed."""
        return callers_generators()

    def data_key(self, fingerprint):
        """The digest of X for the store: its ``fingerprint``, or, for a Dataset that
        does not list its files, a digest of every sample (one pass over the data,
        with the net's ``iterator_valid__num_workers`` DataLoader workers)."""
        if is_dataset(self.X) and dataset_files(self.X) is None and not isinstance(
                getattr(self.X, "tensors", None), tuple):
            if self._digest is None:  # once per fit, whatever its number of rounds
                self._digest = dataset_digest(self.X, num_workers=self.estimator.get_params_for(
                    "iterator_valid").get("num_workers", 0))
            return self._digest
        return fingerprint

    def non_finite_row(self, rows):
        """The first of ``rows`` holding NaN or infinity (Datasets are not checked
        before training; arrays and tensors are), or None."""
        return first_non_finite_row(self.X, rows) if is_dataset(self.X) else None


def _is_uint8(sample):
    return (isinstance(sample, np.ndarray) and sample.dtype == np.uint8) or (
        isinstance(sample, torch.Tensor) and sample.dtype == torch.uint8)
