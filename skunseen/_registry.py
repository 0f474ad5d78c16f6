"""One registry class for the named scorers and the named selection rules."""

import contextlib


class Registry:
    """Named callables of one kind, so that pruners accept them by name.

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
    >>> rules.lookup("triple")
    Traceback (most recent call last):
    ...
    ValueError: Unknown rule 'triple'; valid names: ['double'], or a callable func(x).
    """

    def __init__(self, kind, signature):
        self.kind = kind
        self.signature = signature
        self._entries = {}

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
        if name in self._entries and not overwrite:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered; pass overwrite=True "
                "to replace it."
            )
        self._entries[name] = entry
        return entry

    def names(self):
        """The registered names, sorted."""
        return sorted(self._entries)

    def lookup(self, name):
        """The entry registered under ``name``; ``ValueError`` naming the valid ones."""
        if name not in self._entries:
            raise ValueError(
                f"Unknown {self.kind} {name!r}; valid names: {self.names()}, or a callable "
                f"{self.signature}."
            )
        return self._entries[name]

    def find(self, entry):
        """The name ``entry`` is registered under, or None."""
        return next((name for name, known in self._entries.items() if known is entry), None)

    @contextlib.contextmanager
    def isolated(self):
        """Undo, on exit, whatever is registered inside the block (for tests)."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries = saved
