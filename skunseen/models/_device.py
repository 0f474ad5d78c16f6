"""Devices: the GPUs a process sees, and device requests resolved where a net runs.

A device request (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``)
is checked for its form wherever it is given (:func:`check_device`, which
asks nothing of the hardware), and resolved in the process that trains the
net (:func:`resolve_device`): a Dask client without a GPU can send
``"cuda"`` work to GPU workers, and ``"cuda"`` means the GPUs that the
worker sees. :func:`visible_gpus` is the one place where the library asks
torch how many GPUs there are.
"""

import torch

__all__ = ["check_device", "gpus_in_use", "resolve_device", "to_device", "visible_gpus"]

_TYPES = ("cpu", "cuda", "mps")


def visible_gpus():
    """How many CUDA devices this process sees.

    Every question of the library about GPUs (is CUDA there, how many
    devices, is ``cuda:N`` one of them) is answered by this function, in
    the process that asks: with ``CUDA_VISIBLE_DEVICES=3`` a process sees
    one GPU, ``cuda:0``. Asking initialises no CUDA context
    (``torch.cuda.is_initialized()`` stays False).

    Returns
    -------
    n_gpus : int
        0 without CUDA.

    See Also
    --------
    resolve_device : turns a device request into a device of this process.

    Examples
    --------
    >>> from skunseen.models import visible_gpus
    >>> visible_gpus() >= 0
    True
    """
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_device(device, name="device"):
    """A device request checked for its form only, asking nothing of the hardware.

    What a process that only sends work elsewhere (a Dask client) checks: the
    request names a device type the nets train on; whether this machine has
    such a device is for :func:`resolve_device` to say where the net runs.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, a
        ``torch.device``, or ``None`` (as ``"auto"`` for :func:`resolve_device`;
        a skorch net with ``device=None`` moves nothing).
    name : str, default="device"
        The parameter's name in messages.

    Returns
    -------
    str or None
        The request as a string (``None`` as it is).

    Raises
    ------
    ValueError
        If ``device`` is no device, or a device type other than CPU, CUDA or MPS.

    See Also
    --------
    resolve_device : the request resolved on this machine.

    Examples
    --------
    >>> from skunseen.models import check_device
    >>> check_device("cuda:1")
    'cuda:1'
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return device
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{name}={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'"
        ) from exc
    if parsed.type not in _TYPES:
        raise ValueError(
            f"{name}={device!r}: nets train on 'cpu', 'cuda[:N]' or 'mps' here, not on "
            f"{parsed.type!r}; use {name}='auto' or {name}='cpu'"
        )
    return str(parsed)


def resolve_device(device, position=None):
    """Turn a device request into a device of this process, checking availability.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` or ``None`` (CUDA when available, else CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a ``torch.device``.
    position : int, default=None
        The position of a task in its round. With several tasks, a bare
        ``"cuda"`` (or ``"auto"`` on a GPU machine) spreads them over the
        GPUs this process sees: task ``k`` on ``cuda:{k mod n_gpus}``.
        ``None`` leaves ``"cuda"`` as it is (the current GPU).

    Returns
    -------
    str
        A string ``torch.device`` accepts.

    Raises
    ------
    ValueError
        If the string is not a device, names a device type other than
        CPU, CUDA or MPS, or names CUDA/MPS on a machine without it.

    See Also
    --------
    visible_gpus : the GPUs this process sees.
    check_device : the form of a request, checked without asking the hardware.
    make_net : builds a net on the resolved device.
    clear_device_cache : releases the fast path's device copies of the data.

    Examples
    --------
    >>> from skunseen.models import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
    """
    device = check_device(device)
    if device is None or device == "auto":
        device = "cuda" if visible_gpus() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        n_gpus = visible_gpus()
        if not n_gpus:
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='auto' (CUDA when present) or device='cpu'"
            )
        if dev.index is not None and dev.index >= n_gpus:
            raise ValueError(f"device={device!r}: only {n_gpus} CUDA device(s) visible")
        if dev.index is None and position is not None:
            return f"cuda:{int(position) % n_gpus}"
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(
                f"device={device!r} was requested but MPS is not available; "
                "use device='auto' or device='cpu'"
            )
    return str(dev)


def gpus_in_use():
    """The GPUs whose random generators this process holds: all it sees once CUDA is
    in use here (initialised), none before, without asking the hardware then.

    Returns
    -------
    indices : list of int

    See Also
    --------
    visible_gpus : the GPUs this process sees.

    Examples
    --------
    >>> from skunseen.models import gpus_in_use
    >>> isinstance(gpus_in_use(), list)
    True
    """
    return list(range(visible_gpus())) if torch.cuda.is_initialized() else []


def to_device(data, device):
    """The tensors of a batch on ``device``, copied without making the host wait.

    From pinned host memory (a ``DataLoader`` with ``pin_memory=True``) the
    copy to a GPU is asynchronous: the host prepares the next step while it
    runs, and the kernels that read the batch follow it in the same stream.
    From pageable memory, or between CPU tensors, it is an ordinary copy.

    Parameters
    ----------
    data : tensor, or tuple, list or dict of them
        Anything else (arrays, strings, None) is returned as it is.
    device : str, torch.device or None
        ``None`` (a skorch net that moves nothing) returns ``data`` as it is.

    Returns
    -------
    The same structure, its tensors on ``device``.

    See Also
    --------
    DeviceTrainIterator : keeps in-memory data on the device, with no copy at all.

    Examples
    --------
    >>> import torch
    >>> from skunseen.models import to_device
    >>> X, y = to_device((torch.zeros(2, 3), [torch.ones(2)]), "cpu")
    >>> X.device.type, y[0].device.type
    ('cpu', 'cpu')
    """
    if device is None:
        return data
    if torch.is_tensor(data):
        return data.to(device, non_blocking=True)
    if type(data) in (tuple, list):
        return type(data)(to_device(part, device) for part in data)
    if type(data) is dict:
        return {key: to_device(value, device) for key, value in data.items()}
    return data
