"""``python -m tracejit``: see :mod:`tracejit.cli` (``--help`` lists the options)."""

import sys

from tracejit.cli import main

if __name__ == "__main__":
    sys.exit(main())
