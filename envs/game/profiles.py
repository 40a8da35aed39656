"""Profiles and games read from files someone wrote: schemes files, run directories, configs.

A **profile** is one committed rule per speaker. It comes from memory (a mapping or list of
schemes) or from files: a schemes file ``{speaker: scheme}`` (YAML or JSON), a ``summary.json``,
or a training run's directory (its ``summary.json`` beside its ``config.yaml``, which names the
game). :func:`load_profile` resolves one with its game and protocol; :func:`game_from_config`
reads the game a training config names. A missing, unreadable or corrupt file raises a
:class:`~persuaders.envs.game.validation.SpecError` that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import Protocol, resolve_protocol
from persuaders.envs.game.safe_yaml import parse_json, read_yaml, read_yaml_mapping
from persuaders.envs.game.schemes import check_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError

__all__ = ["CONFIG", "SUMMARY", "read_json", "read_config", "game_from_config", "ProfileSpec", "load_profile"]

#: A run directory's resolved training config (it names the game).
CONFIG = "config.yaml"
#: A run directory's summary: the exact outcome and the committed schemes.
SUMMARY = "summary.json"


def _read_text(path: Path, field: str) -> str:
    if not path.is_file():
        raise SpecError(field, f"{path} does not exist")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(field, f"{path} is not a text (UTF-8) file") from None
    except OSError as exc:
        raise SpecError(field, f"cannot read {path}: {exc.strerror or exc}") from None


def read_json(path: str | Path, field: str = "file") -> Any:
    """Parse a JSON file; a missing, unreadable or corrupt one raises :class:`SpecError` naming it."""
    path = Path(path)
    return parse_json(_read_text(path, field), str(path), field)


def read_config(path: str | Path, field: str = "config") -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping (a training config or a run's ``config.yaml``)."""
    return read_yaml_mapping(path, field)


def game_from_config(cfg: Mapping[str, Any]) -> Game:
    """The game a training config names, with its ``rationality`` override (if any) applied.

    Speakers named under ``speakers:`` must exist in the game.
    """
    if "game" not in cfg:
        raise SpecError("game", "the config names no game")
    game = load_game(cfg["game"])
    if cfg.get("rationality") is not None:
        game = game.replace(rationality=cfg["rationality"])
    unknown = [n for n in (cfg.get("speakers") or {}) if n not in game.speaker_names]
    if unknown:
        raise SpecError(
            f"speakers.{unknown[0]}",
            f"no such speaker in game '{game.name}'; speakers are {', '.join(game.speaker_names)}",
        )
    return game


# ---------------------------------------------------------------------------------- profiles
@dataclass
class ProfileSpec:
    """A game, open-loop schemes ``[R, X_i, M]`` for each speaker (in order), and the protocol."""

    game: Game
    schemes: list[np.ndarray]
    protocol: Protocol

    @property
    def n_eval(self) -> int | str:
        """``best_ai``'s evaluation option (``"exact"`` for protocols that have none)."""
        out: int | str = self.protocol.options().get("n_eval", "exact")
        return out


def _read_mapping(path: Path) -> Any:
    if path.suffix == ".json":
        return read_json(path, "profile")
    return read_yaml(path, "profile")


def load_profile(
    source: Any,
    game: Game | str | None = None,
    protocol: Protocol | str | None = None,
    n_eval: int | str | None = None,
) -> ProfileSpec:
    """Resolve a profile and its game from schemes or files.

    ``source`` is a mapping ``{speaker: scheme}`` or a list of schemes (``game`` required), or a
    path: a run directory (``summary.json`` and ``config.yaml``), a ``summary.json`` (its game is
    taken from a ``config.yaml`` beside it when present, else its ``"game"`` name), or a schemes
    file ``{speaker: scheme}`` in YAML/JSON (``game`` required). Explicit ``game``, ``protocol``
    and ``n_eval`` override what the files say; the defaults are ``simultaneous`` and ``exact``.
    """
    summary: Mapping[str, Any] | None = None
    config_path: Path | None = None
    schemes_raw: Any = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            if not (path / SUMMARY).exists():
                raise SpecError("profile", f"run directory {path} has no {SUMMARY}")
            for name in (SUMMARY, CONFIG):  # a run directory is a boundary (docs/trust.md)
                inner = path / name
                if inner.is_symlink() and path.resolve() not in inner.resolve().parents:
                    raise SpecError("profile", f"{inner} is a symlink leading out of the run directory")
            config_path = path / CONFIG if (path / CONFIG).exists() else None
            path = path / SUMMARY
        if not path.exists():
            raise SpecError("profile", f"{path} does not exist")
        data = _read_mapping(path)
        if isinstance(data, Mapping) and isinstance(data.get("schemes"), Mapping):
            summary = data
            schemes_raw = data["schemes"]
            if config_path is None and (path.parent / CONFIG).exists():
                config_path = path.parent / CONFIG
        elif isinstance(data, Mapping):
            schemes_raw = data
        else:
            raise SpecError("profile", f"{path}: expected a mapping from speaker name to scheme, or a summary.json")
    cfg: Mapping[str, Any] = read_config(config_path) if config_path is not None else {}
    if game is not None:
        g = load_game(game)
    elif config_path is not None:
        g = game_from_config({**cfg, "speakers": {}})
    elif summary is not None and "game" in summary:
        try:
            g = load_game(summary["game"])
        except SpecError as exc:  # a random or unbundled game: its name alone does not define it
            raise SpecError(
                "game",
                f"cannot rebuild game {summary['game']!r} from the summary alone ({exc}); "
                "pass game= or keep config.yaml beside it",
            ) from None
    else:
        raise SpecError("game", "a game is needed: pass game= (a Game, bundled name or YAML path)")
    if protocol is None:
        protocol = (summary or {}).get("protocol") or cfg.get("protocol") or "simultaneous"
    if n_eval is None:
        n_eval = (summary or {}).get("n_eval") or cfg.get("n_eval")
    proto = resolve_protocol(protocol, n_eval)
    names = g.speaker_names
    if isinstance(schemes_raw, Mapping):
        unknown = [n for n in schemes_raw if n not in names]
        missing = [n for n in names if n not in schemes_raw]
        if unknown or missing:
            raise SpecError(
                "profile",
                f"profile for game '{g.name}': unknown speakers {unknown}, missing {missing}; "
                f"speakers are {list(names)}",
            )
        raw = [schemes_raw[n] for n in names]
    else:
        raw = list(schemes_raw)
        if len(raw) != g.n_speakers:
            raise SpecError("profile", f"expected {g.n_speakers} schemes, got {len(raw)}")
    schemes = [np.array(check_scheme(g, i, s), dtype=np.float64) for i, s in enumerate(raw)]
    return ProfileSpec(g, schemes, proto)
