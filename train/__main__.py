"""``python -m persuaders.train``: deprecated, ``persuaders-train`` (:mod:`persuaders.cli.train`) is the command."""

import sys

from persuaders.compat import run_command

if __name__ == "__main__":
    sys.exit(run_command("persuaders.train", "persuaders.cli.train"))
