"""griffe extension: the docstrings' reST roles as mkdocstrings cross-references.

Docstrings in this package write references the Sphinx way (``:class:`~persuaders.envs.game.Game```,
``:func:`evaluate```, ``:mod:`.information```) and literal blocks after ``::``. On the documentation
site each reference becomes a link to the object's entry in the API reference (autorefs' Markdown
``[`label`][target]``), resolved from the documented object's scope; a name that does not resolve
stays inline code. A trailing ``::`` becomes ``:`` (the indented block after it is already a
Markdown code block). Nothing in the package changes: this runs only when the site is built.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([\w.]+)(?:\(\))?`")


def _target(obj: griffe.Object, name: str) -> str | None:
    if name.startswith("persuaders."):
        return name
    scope = obj if obj.is_module else obj.parent
    if name.startswith("."):  # relative to the package holding the documented object
        while scope is not None and not scope.is_package:
            scope = scope.parent
        return f"{scope.path}{name}" if scope is not None else None
    head, _, rest = name.partition(".")
    try:
        base = obj.resolve(head)
    except Exception:  # not a name in this scope (e.g. a parameter): plain code
        return None
    return f"{base}.{rest}" if rest else base


class RolesToCrossReferences(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = self._convert(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)  # type: ignore[arg-type]

    def _convert(self, obj: griffe.Object, text: str) -> str:
        def link(m: re.Match[str]) -> str:
            short, name = m.group(1) == "~", m.group(2)
            label = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
            target = _target(obj, name)
            return f"[`{label}`][{target}]" if target and target.startswith("persuaders.") else f"`{label}`"

        text = ROLE.sub(link, text)
        text = re.sub(r"``([^`]+)``", r"`\1`", text)
        return re.sub(r"(?<!:)::$", ":", text, flags=re.M)
