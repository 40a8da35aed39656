"""Running the console commands in tests: in this process through their ``main(argv)``, or installed.

A command's ``main(argv) -> status`` (persuaders.cli.*) is what its console script calls, so the
tests of a command's behaviour call it here, in the test's own process, and read what it printed
from pytest's capture (:func:`run_main`, the ``cli`` fixture of conftest.py): no interpreter start
and no torch import per call. The installed console scripts themselves are run in a process of
their own once each (:func:`run_console`, tests/cli/), as are the tests that need a second process
(a run killed and resumed, a lock held by another process, a sweep interrupted by SIGINT, a fresh
interpreter for a once-per-process warning).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: The repository's root: configs/, docs/, examples/ and data/ are found from here.
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ran:
    """What a command did: its exit status and what it printed (as in ``subprocess.CompletedProcess``)."""

    returncode: int
    stdout: str
    stderr: str


def run_main(main: Callable[[list[str]], int], *argv: str, capsys: pytest.CaptureFixture[str]) -> Ran:
    """``main(argv)`` in this process, as its console script runs it (``sys.exit(main())``).

    argparse's own exits (a bad option: status 2; ``--help``: 0) end in ``SystemExit``, whose code
    becomes the status, as it would be the process's. Output printed before the call is dropped,
    so that ``stdout``/``stderr`` hold the command's alone.
    """
    capsys.readouterr()
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Ran(status, out, err)


def console_script(name: str) -> str:
    """The installed console command ``name``: pip puts it beside the interpreter (``bin/``)."""
    path = Path(sys.executable).with_name(name)
    assert path.is_file(), f"{name} is not installed beside {sys.executable} (pip install -e .)"
    return str(path)


def run_console(name: str, *args: str, cwd: Path = ROOT, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the installed console command ``name ARGS`` in a process of its own, output captured."""
    return subprocess.run([console_script(name), *args], cwd=cwd, capture_output=True, text=True, check=False, **kwargs)
