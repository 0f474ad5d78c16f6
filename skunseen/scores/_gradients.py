"""Per-sample gradient norms (GraNd, Paul et al., NeurIPS 2021).

GraNd scores a sample by the norm of the gradient of its loss with respect to
the network's parameters, ``||grad_theta loss(f_theta(x), y)||_2``: samples
the model still has to learn from have large gradients. Higher is harder.

Per-sample gradients come from :mod:`torch.func` (``vmap`` of ``grad`` over a
``functional_call`` of the module), so one batched call replaces a backward
pass per sample. The module runs in **eval mode**: BatchNorm uses its running
statistics (a per-sample call has no batch to normalise over, and in-place
updates of the running statistics are not allowed under ``vmap``) and dropout
is off, so the gradient is that of the same function whose probabilities are
recorded.

The functions take torch modules and tensors, so they import torch when
called; the scorers load without it.
"""

import numpy as np

# Per-sample gradients of one chunk hold chunk * n_parameters floats; 2**25
# floats (128 MiB in float32; the backward pass holds about as much again)
# keeps ResNet-18 chunks at a few samples and small nets at whole batches.
_GRAD_CHUNK_ELEMENTS = 1 << 25


def last_linear(module):
    """The last :class:`torch.nn.Linear` of ``module`` in registration order.

    This is the classification head of the usual architectures (``MLP``,
    ``SmallCNN``, torchvision ResNets): the layer whose input is the
    penultimate-layer embedding and whose output are the logits.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    name : str
        Its name in ``module.named_modules()``.
    layer : torch.nn.Linear

    Raises
    ------
    ValueError
        When ``module`` has no ``Linear`` layer.

    See Also
    --------
    grad_norms : per-sample gradient norms, of the last layer with ``last_layer=True``.
    last_layer_grad_norms : closed-form gradient norm w.r.t. a linear head.

    Examples
    --------
    >>> import torch
    >>> from skunseen.scores import last_linear
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 3))
    >>> last_linear(net)[0]
    '2'
    """
    import torch

    found = None
    for name, layer in module.named_modules():
        if isinstance(layer, torch.nn.Linear):
            found = (name, layer)
    if found is None:
        raise ValueError(
            f"{type(module).__name__} has no torch.nn.Linear layer, so it has no "
            "penultimate-layer embedding or last layer to take gradients of; give "
            "the module an `embed(X)` method or use last_layer=False."
        )
    return found


def _parameter_names(module, last_layer):
    if not last_layer:
        return [name for name, p in module.named_parameters() if p.requires_grad]
    prefix, layer = last_linear(module)
    prefix = f"{prefix}." if prefix else ""
    return [prefix + name for name, _ in layer.named_parameters()]


def _log_softmax(outputs):
    import torch

    return torch.log_softmax(outputs, dim=-1)


def grad_norm_batches(module, batches, *, last_layer=False, log_proba=None):
    """Per-sample gradient norms of the cross-entropy loss, batch by batch.

    The loss of a sample is ``-log_proba(module(x))[y]``; its gradient is
    taken w.r.t. all trainable parameters, or only the weight and bias of
    :func:`last_linear` when ``last_layer=True``. The module is put in eval
    mode for the computation and its mode restored afterwards.

    Parameters
    ----------
    module : torch.nn.Module
        Returns logits (or, with a matching ``log_proba``, probabilities);
        a tuple output uses its first element, as skorch does.
    batches : iterable of (X, y) tensors
        Inputs already on the module's device; ``y`` integer labels.
    last_layer : bool, default=False
        Gradient w.r.t. the last ``Linear`` layer only.
    log_proba : callable, default=None
        Maps the module's outputs to log-probabilities, differentiably;
        ``None`` is ``log_softmax``.

    Returns
    -------
    norms : ndarray of float64 of shape (n_samples,)
        In the order of the batches.

    See Also
    --------
    grad_norms : the same norms for one tensor of inputs.
    last_layer_grad_norms : closed-form norm w.r.t. a linear head, without autograd.
    last_linear : the layer used with ``last_layer=True``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skunseen.scores import grad_norm_batches, last_layer_grad_norms
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Linear(4, 3)
    >>> X, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    >>> norms = grad_norm_batches(net, [(X[:4], y[:4]), (X[4:], y[4:])])
    >>> norms.shape
    (6,)
    >>> proba = torch.softmax(net(X), dim=1).detach().numpy()
    >>> bool(np.allclose(norms, last_layer_grad_norms(X.numpy(), proba, y.numpy()),
    ...                  rtol=1e-4))
    True
    """
    import torch
    from torch.func import functional_call, grad, vmap

    log_proba = _log_softmax if log_proba is None else log_proba
    names = set(_parameter_names(module, last_layer))
    params = {n: p.detach() for n, p in module.named_parameters() if n in names}
    fixed = {n: p.detach() for n, p in module.named_parameters() if n not in names}
    fixed.update({n: b.detach() for n, b in module.named_buffers()})
    n_elements = sum(p.numel() for p in params.values())
    chunk = max(1, _GRAD_CHUNK_ELEMENTS // max(1, n_elements))

    def sample_loss(trainable, x, y):
        out = functional_call(module, {**fixed, **trainable}, (x.unsqueeze(0),))
        out = out[0] if isinstance(out, tuple) else out
        # gather rather than indexing: under vmap, y is a batched tensor.
        return -log_proba(out.float())[0].gather(0, y.reshape(1)).squeeze(0)

    per_sample_grad = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    norms = []
    was_training = module.training
    module.eval()
    try:
        for X, y in batches:
            for start in range(0, len(y), chunk):
                grads = per_sample_grad(params, X[start:start + chunk],
                                        y[start:start + chunk])
                # Per-tensor norms first: no squared copy of the gradients.
                per_tensor = torch.stack([torch.linalg.vector_norm(g.reshape(len(g), -1), dim=1)
                                          for g in grads.values()], dim=1)
                norms.append(torch.linalg.vector_norm(per_tensor.double(), dim=1).cpu())
    finally:
        module.train(was_training)
    if not norms:
        return np.empty(0)
    return torch.cat(norms).numpy()


def grad_norms(module, X, y, *, last_layer=False, log_proba=None, batch_size=256):
    """GraNd: per-sample gradient norm of the loss w.r.t. the parameters.

    ``||grad_theta (-log p_y(x; theta))||_2`` for every row, computed with
    :mod:`torch.func` (``vmap(grad(...))``) in eval mode (BatchNorm running
    statistics, no dropout). Higher is harder.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network, returning logits.
    X : torch.Tensor of shape (n_samples, ...)
        Inputs (moved to the module's device).
    y : array-like of int of shape (n_samples,)
        Labels.
    last_layer : bool, default=False
        Gradient w.r.t. the weight and bias of the last ``Linear`` layer only
        (see :func:`last_linear`), the cheap variant.
    log_proba : callable, default=None
        Maps outputs to log-probabilities; ``None`` is ``log_softmax``.
    batch_size : int, default=256
        Rows per batch (batches are split further when the per-sample
        gradients would be too large).

    Returns
    -------
    norms : ndarray of float64 of shape (n_samples,)

    See Also
    --------
    grad_norm_batches : the same norms over an iterable of batches.
    last_layer_grad_norms : closed-form norm w.r.t. a linear head, without autograd.
    el2n : the error-norm score of the same paper.

    Examples
    --------
    >>> import torch
    >>> from skunseen.scores import grad_norms
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    >>> full = grad_norms(net, X, y)
    >>> head = grad_norms(net, X, y, last_layer=True)
    >>> full.shape, bool((full >= head).all())
    ((5,), True)
    """
    import torch

    device = next(module.parameters()).device
    X = torch.as_tensor(X).to(device)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    batches = ((X[s:s + batch_size], y[s:s + batch_size]) for s in range(0, len(y), batch_size))
    return grad_norm_batches(module, batches, last_layer=last_layer, log_proba=log_proba)


def last_layer_grad_norms(embedding, proba, y, *, bias=True):
    """Closed-form gradient norm of the cross-entropy w.r.t. a linear head.

    For logits ``z = W h + b`` and loss ``-log softmax(z)_y``, the gradients
    are ``dL/dW = (p - e_y) h^T`` and ``dL/db = p - e_y``, so the norm is
    ``||p - e_y|| * sqrt(||h||^2 + 1)`` (without the ``+ 1`` when the head
    has no bias). It needs no backward pass: the embedding ``h`` and the
    probabilities ``p`` of a forward pass suffice.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, n_features)
        Input ``h`` of the head.
    proba : array-like of shape (n_samples, n_classes)
        ``softmax(W h + b)``.
    y : array-like of int of shape (n_samples,)
        Labels.
    bias : bool, default=True
        Whether the head has a bias.

    Returns
    -------
    norms : ndarray of float64 of shape (n_samples,)

    See Also
    --------
    grad_norms : the same norm by autograd, optionally over all parameters.
    el2n : the factor ``||p - e_y||`` of this norm.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import last_layer_grad_norms
    >>> h = np.array([[3.0, 0.0]])
    >>> p = np.array([[0.5, 0.5]])
    >>> np.round(last_layer_grad_norms(h, p, [0]), 4).tolist()  # 0.7071 * sqrt(10)
    [2.2361]
    """
    embedding = np.asarray(embedding, dtype=np.float64).reshape(len(embedding), -1)
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    residual = proba.copy()
    residual[np.arange(len(y)), y] -= 1.0
    features = np.square(embedding).sum(axis=1) + (1.0 if bias else 0.0)
    return np.linalg.norm(residual, axis=1) * np.sqrt(features)
