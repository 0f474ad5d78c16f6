"""One registry class for the named scorers and the named selection rules."""

import contextlib


class Registry(dict):
    """Named callables of one kind, so that pruners accept them by name.

    A dict from names to callables: ``registry[name]`` finds one, and an
    unknown name raises a ``ValueError`` listing the valid ones.

    Parameters
    ----------
    kind : str
        What is registered (``"scorer"``, ``"selector"``), for messages.
    signature : str
        The form a callable given instead of a name takes, for messages.

    Examples
    --------
    >>> from skunseen._registry import Registry
    >>> rules = Registry("rule", "func(x)")
    >>> rules.register("double", lambda x: 2 * x)(3)
    6
    >>> rules.names()
    ['double']
    >>> rules["triple"]
    Traceback (most recent call last):
    ...
    ValueError: Unknown rule 'triple'; valid names: ['double'], or a callable func(x).
    """

    def __init__(self, kind, signature):
        super().__init__()
        self.kind = kind
        self.signature = signature

    def __missing__(self, name):
        raise ValueError(
            f"Unknown {self.kind} {name!r}; valid names: {self.names()}, or a callable "
            f"{self.signature}."
        )

    def register(self, name, entry, *, overwrite=False):
        """Register ``entry`` (a callable) under ``name`` and return it.

        Raises ``ValueError`` for an empty or taken name (unless
        ``overwrite``) and ``TypeError`` for an entry that is not callable.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind.capitalize()} name must be a non-empty string; "
                             f"got {name!r}.")
        if not callable(entry):
            raise TypeError(f"func must be callable; got {type(entry).__name__}.")
        if name in self and not overwrite:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered; pass overwrite=True "
                "to replace it."
            )
        self[name] = entry
        return entry

    def names(self):
        """The registered names, sorted."""
        return sorted(self)

    @contextlib.contextmanager
    def isolated(self):
        """Undo, on exit, whatever is registered inside the block (for tests)."""
        saved = dict(self)
        try:
            yield self
        finally:
            self.clear()
            self.update(saved)
