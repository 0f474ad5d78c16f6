"""Device selection."""

import torch

__all__ = ["resolve_device"]


def resolve_device(device):
    """Turn a device spec into a torch device string, checking availability.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, ``"mps"`` or a ``torch.device``.

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
    if device is None or (isinstance(device, str) and device == "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='auto' (CUDA when present) or device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) visible"
            )
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(
            f"device={device!r}: nets train on 'cpu', 'cuda[:N]' or 'mps' here, not on "
            f"{dev.type!r}; use device='auto' or device='cpu'"
        )
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(
                f"device={device!r} was requested but MPS is not available; "
                "use device='auto' or device='cpu'"
            )
    return str(dev)
