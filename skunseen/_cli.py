"""``python -m skunseen._cli``: the command line, where scripts written for earlier
versions look for it (:func:`skunseen.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
