"""``python -m persuaders.train`` (or ``persuaders-train``): see :mod:`persuaders.train.cli`."""

import sys

from persuaders.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
