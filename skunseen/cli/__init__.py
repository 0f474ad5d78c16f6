"""The ``skunseen`` command line, its experiment runner and its reports."""

from ._main import main

__all__ = ["main"]
