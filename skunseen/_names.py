"""The library's version and the names of the built-in scorers, selectors and models.

Importable without torch, numpy or scikit-learn, so that the command line
can list and check names before the package's heavy modules load
(``skunseen prune --help`` answers at once). The registries in
:mod:`skunseen.scores` and :mod:`skunseen.selection` register the functions
under these names (the test suite checks that both agree), and
:data:`skunseen.models.MODEL_NAMES` is built from :data:`MODELS`.
"""

#: The library's version, here so that every layer can read it (the store keys it).
__version__ = "0.1.0"

#: Built-in scorers: name -> what it measures (higher = harder).
SCORERS = {
    "el2n": "L2 distance between the predicted probabilities and the one-hot label",
    "loss": "cross-entropy of the prediction",
    "entropy": "entropy of the predicted probabilities",
    "margin": "minus (p of the label - the largest other p)",
    "forgetting": "correct-to-incorrect transitions over the epochs (dynamics)",
    "aum": "minus the area under the logit margin over the epochs (dynamics)",
    "dyn_unc": "std of p of the label over sliding epoch windows (dynamics)",
    "tdds": "weighted spread of per-epoch prediction changes, TDDS (dynamics)",
    "dual": "std(p of the label) x (1 - its mean) over epoch windows, DUAL (dynamics)",
    "grand": "norm of the per-sample loss gradient, GraNd",
    "moderate": "distance of the embedding to its class median",
}

#: Built-in selection rules: name -> what it keeps.
SELECTORS = {
    "ccs": "coverage-centric: equal shares of equal-width score strata, hardest cut off",
    "hard": "the highest scores",
    "easy": "the lowest scores",
    "random": "a uniform random draw (trains no scoring model in the CLI)",
    "moderate": "the scores closest to the median",
    "d2": "message passing on the embeddings' neighbour graph, D2 pruning",
    "dual": "Beta-weighted sampling that moves towards easy samples as keep shrinks",
}

#: Built-in models of :func:`skunseen.models.make_net`: name -> what it is.
MODELS = {
    "mlp": "a one-hidden-layer perceptron on the flattened input",
    "cnn": "a small CNN for (C, H, W) images",
    "resnet18": "ResNet-18 adapted to 32x32 images",
    "fastcifar": "a fast-training CIFAR net and recipe (93-94% on CIFAR-10 in 10 epochs)",
}
