"""Scores computed from penultimate-layer embeddings.

Embeddings are only comparable within one scoring model: two models trained
from different initialisations (the K fold models of UNSEEN) embed the same
sample in unrelated spaces. Scores here are therefore computed on the rows of
one model's records at a time, as every scorer is.
"""

import numpy as np


def median_distance(embedding, y, normalize=True):
    """Moderate-DS score: distance to the class's coordinate-wise median.

    Moderate coreset (Xia et al., ICLR 2023) measures, for every sample, the
    Euclidean distance between its embedding and the coordinate-wise median
    of the embeddings of its class; samples far from their class centre are
    harder. Paired with the ``moderate`` selector, the coreset is the band of
    samples whose distance is closest to the median distance.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, n_features)
        Penultimate-layer embeddings of one scoring model.
    y : array-like of int of shape (n_samples,)
        Labels.
    normalize : bool, default=True
        Divide every distance by the median distance of its class (a class
        whose median distance is 0 keeps its raw distances). Within one class
        of one model this keeps the ranking; it makes the distances of
        different scoring models, whose embedding scales differ, comparable
        when UNSEEN pools them. ``False`` gives the paper's raw distance.

    Returns
    -------
    importance : ndarray of shape (n_samples,)
        Float64 distance (or distance relative to the class median),
        non-negative; higher is harder.

    See Also
    --------
    skunseen.selection.moderate : the selection rule this score is paired with.
    last_layer_grad_norms : another score computed from penultimate-layer embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.scores import median_distance
    >>> emb = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [5.0, 5.0]])
    >>> median_distance(emb, [0, 0, 0, 1], normalize=False).tolist()
    [1.0, 0.0, 2.0, 0.0]
    >>> median_distance(emb, [0, 0, 0, 1]).tolist()
    [1.0, 0.0, 2.0, 0.0]
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    embedding = embedding.reshape(len(embedding), -1)
    y = np.asarray(y)
    if y.shape != (len(embedding),):
        raise ValueError(
            f"y must have shape ({len(embedding)},) to match the embeddings; "
            f"got shape {y.shape}."
        )
    if not np.all(np.isfinite(embedding)):
        raise ValueError("embedding contains NaN or infinite values.")
    if not isinstance(normalize, (bool, np.bool_)):
        raise ValueError(f"normalize must be True or False; got {normalize!r}.")
    distance = np.zeros(len(embedding))
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        centre = np.median(embedding[members], axis=0)
        distance[members] = np.linalg.norm(embedding[members] - centre, axis=1)
        if normalize:
            scale = np.median(distance[members])
            if scale > 0:
                distance[members] /= scale
    return distance
