"""mkdocs hook: let the API reference read the package as the wheel lays it out.

The repository's folders form the ``persuaders`` namespace through pyproject's package-dir, which
an editable install resolves with an import hook that griffe (mkdocstrings' reader) cannot
follow. Before mkdocstrings configures itself, this builds the wheel's package tree as links
(.ci/package_tree.py) in a temporary folder and points the Python handler's ``paths`` at it.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

sys.path.insert(0, str(Path(__file__).resolve().parent))
import package_tree  # .ci/package_tree.py


@event_priority(100)  # before mkdocstrings' own on_config
def on_config(config: Any) -> Any:
    tree = Path(tempfile.mkdtemp(prefix="persuaders-api-"))
    atexit.register(shutil.rmtree, tree, ignore_errors=True)
    package_tree.build(tree)
    python = config.plugins["mkdocstrings"].config["handlers"].setdefault("python", {})
    python["paths"] = [str(tree)]
    return config
