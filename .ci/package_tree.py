"""The package tree the wheel installs, as links into the repository (for static tools).

pyproject.toml maps the repository's folders under one import namespace with package-dir
(envs/game -> persuaders/game, ...). An editable install resolves that with an import hook, which
static tools (mypy, griffe for the API reference) cannot follow; :func:`build` lays out, in a
given folder, the tree the wheel would install: a link per module file, package by package.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(root: Path = ROOT) -> dict[str, str]:
    """pyproject's ``[tool.setuptools.package-dir]``: package name -> repository folder."""
    cfg = tomllib.loads((root / "pyproject.toml").read_text())
    return dict(cfg["tool"]["setuptools"]["package-dir"])


def build(dest: Path, root: Path = ROOT) -> list[str]:
    """Link every package's ``*.py`` and ``py.typed`` under ``dest``; return the package names."""
    mapping = package_dirs(root)
    for package, folder in mapping.items():
        target = Path(dest, *package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((root / folder).glob("*.py")) + sorted((root / folder).glob("py.typed")):
            os.symlink(source, target / source.name)
    return list(mapping)


def repository_paths(text: str, dest: Path, root: Path = ROOT) -> str:
    """Rewrite paths in the tree under ``dest`` (as a tool reports them) to the repository's own."""
    text = text.replace(str(dest) + "/", "")
    for package, folder in package_dirs(root).items():
        text = text.replace(package.replace(".", "/") + "/", folder.rstrip("/") + "/")
    return text
