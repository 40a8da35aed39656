"""One registry by name, shared by every extension point (user models, protocols, learners)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from persuaders.envs.game.validation import SpecError

__all__ = ["Registry"]

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Classes registered under their ``name`` attribute.

    ``kind`` names what is registered (for messages); ``base`` is the class every entry must
    subclass; ``check`` (optional) validates a class further and raises ``TypeError``.
    """

    def __init__(self, kind: str, base: type, check: Callable[[T], None] | None = None):
        self.kind, self.base, self.check = kind, base, check
        self._classes: dict[str, T] = {}

    def register(self, cls: T, *, replace: bool = False) -> T:
        """Add ``cls`` under ``cls.name`` (usable as a decorator); a taken name raises ``ValueError``
        unless ``replace`` is True."""
        what = f"register_{self.kind.replace(' ', '_')}"
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{what}: expected a {self.base.__name__} subclass, got {cls!r}")
        name = getattr(cls, "name", "")
        if not name or not isinstance(name, str):
            raise ValueError(f"{what}: {cls.__name__} needs a non-empty class attribute 'name'")
        if self.check is not None:
            self.check(cls)
        if name in self._classes and not replace and self._classes[name] is not cls:
            raise ValueError(f"a {self.kind} named '{name}' is already registered ({self._classes[name].__name__})")
        self._classes[name] = cls
        return cls

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._classes)

    def get(self, name: Any, where: str) -> T:
        """The class registered as ``name``; otherwise a :class:`SpecError` naming ``where`` lists the names."""
        if not isinstance(name, str) or name not in self._classes:
            raise SpecError(where, f"expected one of {', '.join(self._classes)}; got {name!r}")
        return self._classes[name]
