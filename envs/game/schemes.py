"""Signalling schemes: the speakers' actions, their validation, and the fixed schemes.

A scheme ``pi[x, m]`` is P(message ``m`` | the speaker's signal ``x``); a speaker commits to one
each round (docs/science.md, "The game"). A *profile* gives every speaker a scheme: a fixed array
(``[X_i, M]`` for every round, or ``[R, X_i, M]`` one per round) or a function from a batch of
observations ``[B, D]`` (:mod:`persuaders.envs.game.observations`) to schemes ``[B, X_i, M]``.

Fixed schemes:

* full revelation: the signal is spelled out in base ``M`` over the rounds (digit ``t`` in round
  ``t``), so with ``M^R >= X`` every signal gets its own message sequence;
* babbling: uniform messages whatever the signal, no information.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from persuaders.envs.game.safe_yaml import parse_json, read_yaml
from persuaders.envs.game.validation import SpecError

if TYPE_CHECKING:
    from persuaders.envs.game.spec import Game

__all__ = [
    "SchemeFn",
    "Scheme",
    "Profile",
    "ZERO_LOGIT",
    "check_scheme",
    "check_probabilities",
    "profile_list",
    "softmax_rows",
    "scheme_to_logits",
    "full_revelation_scheme",
    "babbling_scheme",
    "load_schemes_file",
]

SchemeFn: TypeAlias = Callable[[np.ndarray], np.ndarray]
Scheme: TypeAlias = np.ndarray | Sequence[Any] | SchemeFn
Profile: TypeAlias = Mapping[str, Scheme] | Sequence[Scheme]

#: Logit standing for probability 0 (softmax of it is ~1e-13 next to logit 0).
ZERO_LOGIT = -30.0


def check_probabilities(arr: np.ndarray, what: str) -> None:
    """Every row of ``arr`` (last axis) must be a finite probability distribution."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: contains NaN or inf")
    if np.any(arr < 0) or np.any(np.abs(arr.sum(axis=-1) - 1.0) > 1e-6):
        raise ValueError(f"{what}: every row must be a probability distribution over messages")


def check_scheme(game: Game, i: int, scheme: Any) -> np.ndarray:
    """Validate speaker ``i``'s fixed scheme(s) and return them as ``[R, X_i, M]`` float64."""
    name = game.speakers[i].name
    shape = (game.speakers[i].n_signals, game.messages)
    try:
        arr = np.asarray(scheme, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"scheme of speaker '{name}': expected numbers of shape {shape} [signal][message]") from None
    if arr.shape == shape:
        arr = np.broadcast_to(arr, (game.rounds, *shape))
    if arr.shape != (game.rounds, *shape):
        raise ValueError(
            f"scheme of speaker '{name}': expected shape {shape} [signal][message] or "
            f"{(game.rounds, *shape)} [round][signal][message], got {arr.shape}"
        )
    check_probabilities(arr, f"scheme of speaker '{name}'")
    return arr


def profile_list(game: Game, profile: Profile) -> list[Scheme]:
    """A profile (mapping by speaker name, or a list in speaker order) as a list in speaker order."""
    names = game.speaker_names
    if isinstance(profile, Mapping):
        unknown = [n for n in profile if n not in names]
        if unknown:
            raise ValueError(
                f"profile: unknown speaker(s) {', '.join(map(str, unknown))}; speakers are {', '.join(names)}"
            )
        missing = [n for n in names if n not in profile]
        if missing:
            raise ValueError(f"profile: no scheme for speaker(s) {', '.join(missing)}")
        return [profile[n] for n in names]
    out = list(profile)
    if len(out) != game.n_speakers:
        raise ValueError(f"profile: expected {game.n_speakers} schemes (one per speaker), got {len(out)}")
    return out


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis (a scheme from its logits), stable for any finite logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore", over="ignore"):
        e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def scheme_to_logits(scheme: np.ndarray) -> np.ndarray:
    """Logits whose softmax is ``scheme`` (zeros map to :data:`ZERO_LOGIT`)."""
    scheme = np.asarray(scheme, dtype=np.float64)
    return np.where(scheme > 0, np.log(np.maximum(scheme, 1e-300)), ZERO_LOGIT).clip(ZERO_LOGIT, None)


def full_revelation_scheme(game: Game, i: int) -> np.ndarray:
    """``[R, X, M]``: round ``t`` sends digit ``t`` of the signal in base ``M``."""
    x, m, r = game.speakers[i].n_signals, game.messages, game.rounds
    if m**r < x:
        raise ValueError(
            f"speaker '{game.speakers[i].name}' cannot reveal {x} signals with {m} messages over {r} rounds "
            "(needs messages**rounds >= signals)"
        )
    out = np.zeros((r, x, m))
    for t in range(r):
        digits = (np.arange(x) // m**t) % m
        out[t, np.arange(x), digits] = 1.0
    return out


def babbling_scheme(game: Game, i: int) -> np.ndarray:
    """``[R, X, M]``: uniform messages, no information."""
    return np.full((game.rounds, game.speakers[i].n_signals, game.messages), 1.0 / game.messages)


def load_schemes_file(game: Game, path: str | Path) -> dict[str, np.ndarray]:
    """Read ``{speaker: scheme}`` from YAML/JSON (or a ``summary.json``), validated against ``game``."""
    path = Path(path)
    if not path.is_file():
        raise SpecError("path", f"schemes file {path} does not exist")
    if path.suffix == ".json":
        try:
            text = path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise SpecError("path", f"{path} is not a readable schemes file: {exc}") from None
        data = parse_json(text, str(path), "path")
    else:
        data = read_yaml(path, "path")
    if isinstance(data, Mapping) and isinstance(data.get("schemes"), Mapping):
        data = data["schemes"]  # a summary.json
    if not isinstance(data, Mapping):
        raise SpecError("path", f"{path}: expected a mapping from speaker name to scheme")
    out = {}
    for name, scheme in data.items():
        try:
            i = game.speaker_index(name)
            out[name] = check_scheme(game, i, scheme)
        except (KeyError, ValueError) as exc:
            raise SpecError("path", f"{path}: {exc}") from None
    return out
