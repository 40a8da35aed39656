"""The previous release's module names, kept for one release (removed in 0.3) with a warning.

In 0.2 every file has one module name, and the names follow the folders (README, "The
pipeline"): ``persuaders.game`` became :mod:`persuaders.envs.game`, ``persuaders.payoff``
:mod:`persuaders.envs.payoff`, ``persuaders.experiments`` :mod:`persuaders.eval.experiments`, and
modules moved into the folders of their layer (:data:`MOVED`). Importing an old name still works
and gives the *same* module object as the new one (one registry of user models, protocols and
learners, whichever name registered into it), with a :class:`PersuadersDeprecationWarning`
naming the new place. ``python -m`` on an old command module runs its console command
(:data:`COMMANDS`).

This module imports nothing of the library when it is imported: :func:`install_aliases` puts a
finder on ``sys.meta_path`` that resolves an old name only when something imports it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["MOVED", "COMMANDS", "PersuadersDeprecationWarning", "install_aliases", "alias_package", "run_command"]

#: Old module (or package) name -> new one; a package's submodules follow it unless listed themselves.
MOVED: dict[str, str | tuple[str, ...]] = {
    "persuaders.game": "persuaders.envs.game",
    "persuaders.game.rundir": ("persuaders.train.rundir", "persuaders.envs.game.profiles"),
    "persuaders.game.commands": "persuaders.cli.common",
    "persuaders.payoff": "persuaders.envs.payoff",
    "persuaders.experiments": "persuaders.eval.experiments",
    **{
        f"persuaders.envs.{m}": f"persuaders.envs.persuasion.{m}"
        for m in ("arrays", "batched", "selection", "transcript", "single_speaker")
    },
    **{
        f"persuaders.eval.{m}": f"persuaders.eval.theory.{m}"
        for m in (
            "beliefs",
            "geometry",
            "information",
            "hull",
            "single_sender",
            "concavification",
            "logit_bounds",
            "tables",
        )
    },
    **{
        f"persuaders.eval.{m}": f"persuaders.eval.response.{m}"
        for m in (
            "arrangement",
            "belief_line",
            "conversation_tree",
            "deviation",
            "deviation_general",
            "deviation_joint",
            "deviation_selection",
            "multiround",
            "numerical_deviation",
            "rules",
            "sequence_lp",
            "solo_rules",
            "strict_lp",
        )
    },
    "persuaders.eval.acceleration": "persuaders.eval.dynamics.acceleration",
    "persuaders.eval.dynamics_general": "persuaders.eval.dynamics.general",
    "persuaders.eval.dynamics_joint": "persuaders.eval.dynamics.joint",
    "persuaders.eval.dynamics_selection": "persuaders.eval.dynamics.selection",
    "persuaders.eval.best_response": "persuaders.eval.dynamics.best_response",
    "persuaders.eval.bounds": "persuaders.cli.bounds",
    "persuaders.eval.report": "persuaders.train.report",
    "persuaders.eval.scoring": "persuaders.train.scoring",
    "persuaders.train.cli": "persuaders.cli.train",
}

#: Old ``python -m`` module -> (the console command's module, arguments put before the user's).
#: Modules that still exist (``persuaders.eval.exploitability``, ``persuaders.train``...) call
#: :func:`run_command` under their ``__main__`` guard; the others are resolved by the finder.
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "persuaders.eval.best_response": ("persuaders.cli.dynamics", ()),
    "persuaders.eval.bounds": ("persuaders.cli.bounds", ()),
    "persuaders.eval.exploitability": ("persuaders.cli.exploitability", ()),
    "persuaders.eval.report": ("persuaders.cli.report", ()),
    "persuaders.experiments.__main__": ("persuaders.cli.experiment", ()),
    "persuaders.experiments.competition": ("persuaders.cli.experiment", ("competition",)),
    "persuaders.experiments.hull": ("persuaders.cli.experiment", ("hull",)),
    "persuaders.train.__main__": ("persuaders.cli.train", ()),
    "persuaders.train.cli": ("persuaders.cli.train", ()),
    "persuaders.train.sb3": ("persuaders.cli.sb3", ()),
    "persuaders.train.sweep": ("persuaders.cli.sweep", ()),
}


class PersuadersDeprecationWarning(DeprecationWarning):
    """A name of the previous release was used; the message names its replacement."""


def _new_name(old: str) -> str | tuple[str, ...] | None:
    """The new name of ``old``: its own entry, or its nearest moved package's plus the rest."""
    if old in MOVED:
        return MOVED[old]
    parts = old.split(".")
    for n in range(len(parts) - 1, 1, -1):
        new = MOVED.get(".".join(parts[:n]))
        if isinstance(new, str):
            return ".".join((new, *parts[n:]))
    return None


def _importlib_frame(frame: types.FrameType) -> bool:
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


def _warn(message: str) -> None:
    """Warn, attributed to the first frame outside this package and the import machinery (which
    ``warnings`` itself leaves out of the count of ``stacklevel``)."""
    frame: types.FrameType | None = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("persuaders."):
        frame = frame.f_back
        while (
            frame is not None and "importlib" in frame.f_code.co_filename and "_bootstrap" in frame.f_code.co_filename
        ):
            frame = frame.f_back
        level += 1
    warnings.warn(message, PersuadersDeprecationWarning, stacklevel=level)


def _merged(name: str, sources: Sequence[str]) -> types.ModuleType:
    """A module whose names are those of ``sources`` (an old module split in two)."""
    module = types.ModuleType(name, f"Deprecated: the names of {', '.join(sources)}.")
    parts = [importlib.import_module(s) for s in sources]
    module.__all__ = [n for p in parts for n in getattr(p, "__all__", ())]  # type: ignore[attr-defined]
    for p in reversed(parts):
        module.__dict__.update({k: v for k, v in vars(p).items() if not k.startswith("__")})
    return module


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the new module itself (``create_module``) or, under ``python -m``,
    as code that runs the console command (``get_code``)."""

    def __init__(self, old: str, new: str | tuple[str, ...] | None):
        self.old, self.new = old, new
        self._spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        assert self.new is not None
        shown = self.new if isinstance(self.new, str) else " and ".join(self.new)
        _warn(f"{self.old} is deprecated and will be removed in 0.3: use {shown}")
        if isinstance(self.new, tuple):
            return _merged(self.old, self.new)
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if self._spec is not None:
            module.__spec__ = self._spec  # the import system gave it the alias's spec: keep its own

    def get_code(self, fullname: str) -> types.CodeType:
        if fullname not in COMMANDS:
            raise ImportError(f"{fullname} is deprecated and is not a command: use {self.new}", name=fullname)
        target, pre = COMMANDS[fullname]
        source = (
            "import sys\n"
            "from persuaders.compat import run_command\n"
            f"sys.exit(run_command({fullname!r}, {target!r}, {pre!r}))\n"
        )
        return compile(source, f"<{fullname}>", "exec")

    def is_package(self, fullname: str) -> bool:
        return False


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Resolves the old names of :data:`MOVED` and :data:`COMMANDS` (only those: every other
    import goes to the usual finders)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname) if fullname.startswith("persuaders.") else None
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


_FINDER = _AliasFinder()


def install_aliases() -> None:
    """Put the finder of the old names on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def alias_package(old: str) -> None:
    """Make the package being imported as ``old`` the new package itself (called from the old
    package's ``__init__``, the first time anything imports the old name)."""
    install_aliases()
    new = MOVED[old]
    assert isinstance(new, str)
    _warn(f"{old} is deprecated and will be removed in 0.3: use {new}")
    sys.modules[old] = importlib.import_module(new)


def run_command(old: str, target: str, pre: Sequence[str] = ()) -> int:
    """``python -m OLD ARGS``: warn, then run the console command of ``target`` with ``pre + ARGS``."""
    command = "persuaders-" + target.rsplit(".", 1)[-1]
    old = old.removesuffix(".__main__")
    print(f"warning: python -m {old} is deprecated and will be removed in 0.3: use {command}", file=sys.stderr)
    main = importlib.import_module(target).main
    status: int = main([*pre, *sys.argv[1:]])
    return status
