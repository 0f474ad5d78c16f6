"""``python -m skunseen.cli``: the ``skunseen`` command without the console script."""

import sys

from ._main import main

sys.exit(main())
