"""The persuasion game: a finite, validated specification.

A game (DESIGN.md section 1) has states ``Y`` with prior ``mu0``, the user's actions ``A``, her
utility ``u[a, y]`` and rationality ``lam`` (logit; ``inf`` is exact best response), her private
observation channel ``O_0[y, x0]`` and conversation rule, and ``k`` speakers with utilities
``U_i[a, y]`` and observation channels ``O_i[y, x]``. Each round every speaker sends one of
``messages`` messages; there are ``rounds`` rounds; messages are public or in private threads.

Games load from YAML with :func:`load_game` (a bundled name, a path, a mapping or a
:class:`Game`); every field is validated and a bad one raises :class:`SpecError` naming it.

The user's conversation rule is stored as one channel per round ``C_t[x0, z]`` = P(she says z in
round t given her signal x0): ``silent`` is a single message said always, ``reveal`` is the
identity in round 1 and silence after. This makes her, for the belief update, a speaker with a
fixed scheme: the same factorised update covers her messages and the speakers'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from envs.validation import (
    SpecError,
    as_channel,
    as_choice,
    as_distribution,
    as_float,
    as_int,
    as_matrix,
    as_names,
    check_keys,
)

__all__ = ["Game", "UserSpec", "SpeakerSpec", "SpecError", "load_game", "bundled_games", "GAMES_DIR"]

#: Where bundled games live: ``configs/games/<name>.yaml`` at the project root.
GAMES_DIR = Path(__file__).resolve().parent.parent / "configs" / "games"

VISIBILITIES = ("public", "private")
CONVERSATIONS = ("silent", "reveal")

TOP_KEYS = ("name", "description", "states", "prior", "actions", "user", "speakers", "messages", "rounds", "visibility")
TOP_REQUIRED = ("name", "states", "prior", "actions", "user", "speakers", "messages", "rounds")
USER_KEYS = ("name", "utility", "rationality", "observation", "conversation")
USER_REQUIRED = ("name", "utility", "rationality")
SPEAKER_KEYS = ("name", "utility", "observation")
SPEAKER_REQUIRED = ("name", "utility")


@dataclass(frozen=True, eq=False)
class UserSpec:
    """The human user: utility ``[action, state]``, rationality, private signal, conversation."""

    name: str
    utility: np.ndarray  # [A, Y]
    rationality: float  # lam > 0, math.inf for best response
    observation: np.ndarray  # O_0 [Y, X0]; one column when she has no private signal
    conversation: tuple[np.ndarray, ...]  # per round C_t [X0, Z_t]
    conversation_rule: Any = "silent"  # "silent", "reveal" or the list of channels as given
    observation_given: bool = False

    @property
    def n_signals(self) -> int:
        return int(self.observation.shape[1])


@dataclass(frozen=True, eq=False)
class SpeakerSpec:
    """An AI speaker: utility ``[action, state]`` and observation channel ``O_i[y, x]``."""

    name: str
    utility: np.ndarray  # [A, Y]
    observation: np.ndarray  # [Y, X_i]; identity when it sees the state
    observation_given: bool = False

    @property
    def n_signals(self) -> int:
        return int(self.observation.shape[1])

    @property
    def sees_state(self) -> bool:
        """True when the signal reveals the state exactly (each signal is possible in one state)."""
        support = self.observation > 0
        return bool(np.all(support.sum(axis=0) <= 1))


@dataclass(frozen=True, eq=False)
class Game:
    """A validated persuasion game. Build it with :meth:`from_dict` or :func:`load_game`."""

    name: str
    states: tuple[str, ...]
    prior: np.ndarray  # [Y]
    actions: tuple[str, ...]
    user: UserSpec
    speakers: tuple[SpeakerSpec, ...]
    messages: int
    rounds: int
    visibility: str = "public"
    description: str = ""
    source: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ sizes
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    @property
    def n_speakers(self) -> int:
        return len(self.speakers)

    @property
    def speaker_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.speakers)

    @property
    def user_message_counts(self) -> tuple[int, ...]:
        """Number of messages the user can say in each round (1 when she is silent)."""
        return tuple(int(c.shape[1]) for c in self.user.conversation)

    @property
    def speaker_utilities(self) -> np.ndarray:
        """Stacked speaker utilities ``[k, A, Y]``."""
        return np.stack([s.utility for s in self.speakers])

    @property
    def lam(self) -> float:
        return self.user.rationality

    def speaker_index(self, name: str) -> int:
        try:
            return self.speaker_names.index(name)
        except ValueError:
            raise KeyError(f"unknown speaker {name!r}; speakers are {', '.join(self.speaker_names)}") from None

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> "Game":
        """Validate a mapping laid out as a game file and build the game."""
        check_keys(data, "", TOP_KEYS, TOP_REQUIRED)
        name = data["name"]
        if not isinstance(name, str) or not name:
            raise SpecError("name", f"expected a non-empty string, got {name!r}")
        description = data.get("description", "") or ""
        if not isinstance(description, str):
            raise SpecError("description", "expected a string")
        states = as_names(data["states"], "states")
        actions = as_names(data["actions"], "actions")
        n_y, n_a = len(states), len(actions)
        prior = as_distribution(data["prior"], "prior", n_y)
        messages = as_int(data["messages"], "messages", minimum=1)
        rounds = as_int(data["rounds"], "rounds", minimum=1)
        visibility = as_choice(data.get("visibility", "public") or "public", "visibility", VISIBILITIES)
        util_axes = f"[action][state] ({n_a} actions x {n_y} states)"

        # user
        u = check_keys(data["user"], "user", USER_KEYS, USER_REQUIRED)
        user_name = u["name"]
        if not isinstance(user_name, str) or not user_name:
            raise SpecError("user.name", f"expected a non-empty string, got {user_name!r}")
        user_utility = as_matrix(u["utility"], "user.utility", (n_a, n_y), util_axes)
        lam = as_float(u["rationality"], "user.rationality", exclusive_minimum=0.0, allow_inf=True)
        obs_given = u.get("observation") is not None
        if obs_given:
            o0 = as_channel(u["observation"], "user.observation", n_y, "[state][signal]")
        else:
            o0 = np.ones((n_y, 1))
        x0 = o0.shape[1]
        conv_rule = u.get("conversation", "silent")
        if conv_rule is None:
            conv_rule = "silent"
        if isinstance(conv_rule, str):
            if conv_rule not in CONVERSATIONS:
                raise SpecError(
                    "user.conversation",
                    f"expected silent, reveal or a list of one channel [signal][message] per round; got {conv_rule!r}",
                )
            conversation = [np.ones((x0, 1)) for _ in range(rounds)]
            if conv_rule == "reveal":
                conversation[0] = np.eye(x0)
        elif isinstance(conv_rule, (list, tuple)):
            if len(conv_rule) != rounds:
                raise SpecError(
                    "user.conversation",
                    f"expected one channel [signal][message] per round ({rounds} rounds), got {len(conv_rule)}",
                )
            conversation = [
                as_channel(c, f"user.conversation[{t}]", x0, f"[signal][message] ({x0} user signals)")
                for t, c in enumerate(conv_rule)
            ]
        else:
            raise SpecError(
                "user.conversation",
                f"expected silent, reveal or a list of one channel per round; got {conv_rule!r}",
            )
        user = UserSpec(
            name=user_name,
            utility=user_utility,
            rationality=lam,
            observation=o0,
            conversation=tuple(conversation),
            conversation_rule=conv_rule,
            observation_given=obs_given,
        )

        # speakers
        raw_speakers = data["speakers"]
        if not isinstance(raw_speakers, (list, tuple)) or len(raw_speakers) == 0:
            raise SpecError("speakers", "expected a non-empty list of speakers")
        speakers = []
        for i, s in enumerate(raw_speakers):
            where = f"speakers[{i}]"
            check_keys(s, where, SPEAKER_KEYS, SPEAKER_REQUIRED)
            s_name = s["name"]
            if not isinstance(s_name, str) or not s_name:
                raise SpecError(f"{where}.name", f"expected a non-empty string, got {s_name!r}")
            s_util = as_matrix(s["utility"], f"{where}.utility", (n_a, n_y), util_axes)
            s_obs_given = s.get("observation") is not None
            if s_obs_given:
                o = as_channel(s["observation"], f"{where}.observation", n_y, "[state][signal]")
            else:
                o = np.eye(n_y)
            speakers.append(SpeakerSpec(name=s_name, utility=s_util, observation=o, observation_given=s_obs_given))
        names = [s.name for s in speakers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError("speakers", f"duplicate speaker names: {', '.join(dup)}")
        if user_name in names:
            raise SpecError("user.name", f"'{user_name}' is also a speaker's name; names must be distinct")
        return cls(
            name=name,
            states=states,
            prior=prior,
            actions=actions,
            user=user,
            speakers=tuple(speakers),
            messages=messages,
            rounds=rounds,
            visibility=visibility,
            description=description,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """The game as a plain mapping in the game-file layout (round-trips through :meth:`from_dict`)."""
        lam = self.user.rationality
        conv = self.user.conversation_rule
        if not isinstance(conv, str):
            conv = [c.tolist() for c in self.user.conversation]
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out.update(
            {
                "states": list(self.states),
                "prior": self.prior.tolist(),
                "actions": list(self.actions),
                "user": {
                    "name": self.user.name,
                    "utility": self.user.utility.tolist(),
                    "rationality": "inf" if math.isinf(lam) else float(lam),
                    "observation": self.user.observation.tolist() if self.user.observation_given else None,
                    "conversation": conv,
                },
                "speakers": [
                    {
                        "name": s.name,
                        "utility": s.utility.tolist(),
                        "observation": s.observation.tolist() if s.observation_given else None,
                    }
                    for s in self.speakers
                ],
                "messages": self.messages,
                "rounds": self.rounds,
                "visibility": self.visibility,
            }
        )
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def replace(self, **changes: Any) -> "Game":
        """A new validated game with top-level keys (or ``rationality``) changed."""
        d = self.to_dict()
        if "rationality" in changes:
            d["user"]["rationality"] = changes.pop("rationality")
        d.update(changes)
        return Game.from_dict(d, source=self.source)

    def __repr__(self) -> str:
        lam = "inf" if math.isinf(self.lam) else f"{self.lam:g}"
        return (
            f"Game({self.name!r}, states={len(self.states)}, actions={len(self.actions)}, "
            f"speakers={list(self.speaker_names)}, messages={self.messages}, rounds={self.rounds}, "
            f"lam={lam}, visibility={self.visibility!r})"
        )


def bundled_games() -> list[str]:
    """Names of the games shipped in ``configs/games``."""
    return sorted(p.stem for p in GAMES_DIR.glob("*.yaml"))


def load_game(game: "Game | str | Path | Mapping[str, Any]") -> Game:
    """Return a validated :class:`Game` from a game, a bundled name, a YAML path or a mapping.

    A string is a bundled game name (``kg``, ``hull_pair``...) when one exists, else a path.
    ``random:k=3,seed=0,...`` builds a game with :func:`envs.random_games.random_game`.
    """
    if isinstance(game, Game):
        return game
    if isinstance(game, Mapping):
        return Game.from_dict(game)
    if isinstance(game, str) and game.startswith("random:"):
        from envs.random_games import random_game_from_string

        return random_game_from_string(game)
    path = Path(game)
    if isinstance(game, str) and not path.suffix and (GAMES_DIR / f"{game}.yaml").exists():
        path = GAMES_DIR / f"{game}.yaml"
    if not path.exists():
        raise SpecError(
            "game",
            f"{str(game)!r} is neither a bundled game ({', '.join(bundled_games())}) nor an existing YAML file",
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError("game", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise SpecError("game", f"{path} must hold a mapping of game keys, got {type(data).__name__}")
    return Game.from_dict(data, source=str(path))
