"""The one YAML reader of the library: input that cannot expand, and numbers written as numbers.

Every YAML the library reads (game files, training and experiment configs, schemes files,
``--set`` values) goes through :func:`parse_yaml` or :func:`read_yaml`, built on
:class:`yaml.SafeLoader` (no Python objects are ever constructed) with four refusals, each a
one-line :class:`~persuaders.envs.game.validation.SpecError` that names the file and the line:

* aliases (``*name``): a few hundred bytes of nested anchors and aliases expand to billions of
  nodes ("billion laughs"); the library's files never need them;
* duplicate keys in a mapping: plain YAML keeps the last value without a word;
* nesting deeper than ``limits.yaml_depth`` (32): a file nested thousands of levels deep would
  otherwise end in a ``RecursionError``;
* files larger than ``limits.yaml_bytes`` (16 MB), checked before reading.

YAML 1.1 (PyYAML's dialect) reads ``1e-3`` as text, because its floats need a dot (``1.0e-3``);
this reader follows YAML 1.2 and reads ``1e-3``, ``5E+2`` and ``-2e4`` as numbers, so that
``--set ppo.learning_rate=1e-3`` means what it says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node

from persuaders.envs.game.limits import limits
from persuaders.envs.game.validation import SpecError

__all__ = ["parse_yaml", "read_yaml", "read_yaml_mapping", "parse_json", "SafeYAMLLoader"]


class _Refused(yaml.YAMLError):
    """A refusal of :class:`SafeYAMLLoader`, with the (1-based) line it was found on."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class SafeYAMLLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` without aliases or duplicate keys, with bounded depth, YAML 1.2 floats."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(event.start_mark.line + 1, f"alias *{event.anchor} is not allowed (aliases can expand)")
        self._depth += 1
        if self._depth > limits.yaml_depth:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _Refused(
                mark.line + 1,
                f"nesting deeper than {limits.yaml_depth} levels (set PERSUADERS_MAX_YAML_DEPTH to raise the limit)",
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it itself
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise _Refused(line, f"duplicate key {key!r} (first given on line {first})")
            seen[key] = line
        out: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return out


# YAML 1.2's floats: an exponent without a dot (1e-3, 5E+2) is a number too.
SafeYAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, label: str, field: str) -> Any:
    """The YAML document ``text`` (from ``label``, e.g. a file name) as Python data; refusals name ``field``."""
    if len(text) > limits.yaml_bytes:
        raise SpecError(field, f"{label} is larger than {limits.yaml_bytes} bytes (set PERSUADERS_MAX_YAML_BYTES)")
    try:
        loader = SafeYAMLLoader(text)  # the reader checks the characters here
    except yaml.YAMLError as exc:
        raise SpecError(field, f"{label} is not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise SpecError(field, f"{label}: line {exc.line}: {exc.message}") from None
    except RecursionError:  # deep flow nesting inside the scanner; compose_node stops the rest
        raise SpecError(field, f"{label}: nested too deeply (limit {limits.yaml_depth} levels)") from None
    except yaml.YAMLError as exc:
        one_line = " ".join(str(exc).split())
        raise SpecError(field, f"{label} is not valid YAML: {one_line}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, field: str, label: str | None = None) -> Any:
    """Read and parse the YAML file ``path``; a missing, oversized, binary or refused file names ``field``."""
    p = Path(path)
    label = str(p) if label is None else label
    try:
        if not p.is_file():
            raise SpecError(field, f"{label} does not exist or is not a file")
        size = p.stat().st_size
        if size > limits.yaml_bytes:
            raise SpecError(
                field,
                f"{label} is {size} bytes, larger than the limit of {limits.yaml_bytes} "
                "(set PERSUADERS_MAX_YAML_BYTES to raise it)",
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(field, f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(field, f"{label} is not a text (UTF-8) file") from None
    return parse_yaml(text, label, field)


def read_yaml_mapping(path: str | Path, field: str) -> dict[str, Any]:
    """Read a YAML file (:func:`read_yaml`) that must hold a mapping; errors name ``field``."""
    data = read_yaml(path, field)
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise SpecError(field, f"{path} must hold a mapping, got {type(data).__name__}")
    return dict(data)


def _no_duplicates(label: str, field: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise SpecError(field, f"{label}: duplicate key {key!r}")
            out[key] = value
        return out

    return build


def parse_json(text: str, label: str, field: str) -> Any:
    """Parse JSON text from ``label``: duplicate keys, deep nesting and oversized text refused (one line)."""
    if len(text) > limits.yaml_bytes:
        raise SpecError(field, f"{label} is larger than {limits.yaml_bytes} bytes (set PERSUADERS_MAX_YAML_BYTES)")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates(label, field))
    except json.JSONDecodeError as exc:
        raise SpecError(field, f"{label} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise SpecError(field, f"{label} is nested too deeply") from None
