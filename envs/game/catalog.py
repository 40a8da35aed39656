"""Finding games: the bundled catalogue (package data), YAML files, mappings and random games.

Bundled games ship inside the package (``persuaders.configs``, the repository's ``configs/``
folder) and are read with :mod:`importlib.resources`, so they are found the same way from a
checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from persuaders.envs.game.random_games import random_game_from_string
from persuaders.envs.game.safe_yaml import parse_yaml
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError

__all__ = [
    "load_game",
    "bundled_games",
    "bundled_game_file",
    "bundled_config_file",
    "bundled_configs",
    "path_in_file",
    "game_in_file",
]

#: The package that holds the bundled YAML files (``games/``, ``train/``, ``sweeps/``, ``experiments/``).
CONFIG_PACKAGE = "persuaders.configs"


def _bundled(kind: str) -> Traversable:
    return resources.files(CONFIG_PACKAGE) / kind


def bundled_configs(kind: str) -> list[str]:
    """Names (file stems) of the bundled YAML files of one kind (``games``, ``train``, ...)."""
    folder = _bundled(kind)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def bundled_config_file(kind: str, name: str) -> Traversable | None:
    """The bundled ``<kind>/<name>.yaml``, or None when there is none."""
    f = _bundled(kind) / f"{name}.yaml"
    return f if f.is_file() else None


def bundled_games() -> list[str]:
    """Names of the bundled games (``kg``, ``hull_pair``, ...)."""
    return bundled_configs("games")


def bundled_game_file(name: str) -> Traversable | None:
    """The bundled game file called ``name``, or None."""
    return bundled_config_file("games", name)


def read_game_text(source: Traversable | Path, label: str) -> Any:
    """Parse a game file's YAML; unreadable, binary or invalid files raise :class:`SpecError`."""
    try:
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("game", f"{label} is not a text (UTF-8) file") from None
    except OSError as exc:
        raise SpecError("game", f"cannot read {label}: {exc.strerror or exc}") from None
    return parse_yaml(text, label, "game")


def path_in_file(value: str, folder: Path, field: str, named_in: str) -> Path:
    """A path written inside the file ``named_in``: resolved against its ``folder``, and refused when it
    leaves that folder (absolute, ``..``, or a symlink leading out).

    A file someone else wrote may name other files; it may not reach files outside its own folder
    (docs/trust.md). A path given on the command line is the user's own and is not checked here.
    """
    rel = Path(value)
    hint = "give the path on the command line (--set game=PATH) to use a file elsewhere"
    if rel.is_absolute() or ".." in rel.parts:
        raise SpecError(field, f"{value!r} in {named_in} leaves the folder of that file; {hint}")
    path = folder / rel
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise SpecError(
            field, f"{value!r} in {named_in} leads out of the folder of that file (symlink); {hint}"
        ) from None
    return path


def game_in_file(value: Any, folder: Path, named_in: str, field: str = "game") -> Any:
    """The ``game:`` a config file names, with a file path resolved by :func:`path_in_file`.

    Bundled names, ``random:...`` strings and mappings are returned as they are.
    """
    if not isinstance(value, str) or value.startswith("random:"):
        return value
    if not Path(value).suffix and bundled_game_file(value) is not None:
        return value
    return str(path_in_file(value, folder, field, named_in))


def load_game(game: Game | str | Path | Mapping[str, Any]) -> Game:
    """A validated :class:`Game` from a game, a bundled name, a YAML path or a mapping.

    A string is a bundled game name (``kg``, ``hull_pair``...) when one exists, else a path.
    ``random:k=3,seed=0,...`` builds a game with :func:`persuaders.envs.game.random_games.random_game`.
    """
    if isinstance(game, Game):
        return game
    if isinstance(game, Mapping):
        return Game.from_dict(game)
    if not isinstance(game, (str, Path)):
        raise SpecError("game", f"expected a Game, a bundled name, a YAML path or a mapping, got {type(game).__name__}")
    if isinstance(game, str) and game.startswith("random:"):
        return random_game_from_string(game)
    source: Traversable | Path = Path(game)
    label = str(game)
    if isinstance(game, str) and not Path(game).suffix and bundled_game_file(game) is not None:
        source = bundled_game_file(game)  # type: ignore[assignment]
        label = f"bundled game {game!r}"
    elif not Path(game).is_file():
        raise SpecError(
            "game",
            f"{str(game)!r} is neither a bundled game ({', '.join(bundled_games())}) nor an existing YAML file",
        )
    data = read_game_text(source, label)
    if not isinstance(data, Mapping):
        raise SpecError("game", f"{label} must hold a mapping of game keys, got {type(data).__name__}")
    odd = [key for key in data if not isinstance(key, str)]
    if odd:  # YAML reads `?`, `1: x` or `null: x` as non-text keys
        raise SpecError("game", f"{label} has a key that is not text: {odd[0]!r}; game keys are names such as 'states'")
    return Game.from_dict(data, source=str(source) if isinstance(source, Path) else f"bundled:{game}")
