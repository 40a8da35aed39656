"""The persuasion game: a finite, validated specification (docs/science.md, "The game").

A game has states ``Y`` with prior ``mu0``, the user's actions ``A``, her utility ``u[a, y]``,
her user model (how she acts on her belief: logit with rationality ``lam``, the best response,
or a registered model of your own), her private observation channel ``O_0[y, x0]`` and
conversation rule, and ``k`` speakers with utilities ``U_i[a, y]`` and observation channels
``O_i[y, x]``. Each round every speaker sends one of ``messages`` messages; there are ``rounds``
rounds; messages are public or in private threads.

:meth:`Game.from_dict` validates a mapping laid out as a game file; a bad field raises
:class:`~persuaders.envs.game.validation.SpecError` naming it. :func:`persuaders.envs.game.load_game`
also accepts bundled names, paths and ``random:...`` strings.

The user's conversation rule is stored as one channel per round ``C_t[x0, z]`` = P(she says z in
round t given her signal x0): ``silent`` is a single message said always, ``reveal`` is the
identity in round 1 and silence after. This makes her, for the belief update, a speaker with a
fixed scheme: the same factorised update covers her messages and the speakers'.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from persuaders.envs.game.limits import check_count, check_entries, game_entries, lp_size
from persuaders.envs.game.users import UserModel, user_model_class, user_model_from_rationality
from persuaders.envs.game.validation import (
    SpecError,
    as_channel,
    as_choice,
    as_distribution,
    as_int,
    as_matrix,
    as_names,
    check_keys,
)

__all__ = ["Game", "UserSpec", "SpeakerSpec", "SpecError"]

VISIBILITIES = ("public", "private")
CONVERSATIONS = ("silent", "reveal")

TOP_KEYS = ("name", "description", "states", "prior", "actions", "user", "speakers", "messages", "rounds", "visibility")
TOP_REQUIRED = ("name", "states", "prior", "actions", "user", "speakers", "messages", "rounds")
#: The user's keys; her model's parameters (e.g. ``rationality``) are allowed after ``model``.
USER_KEYS = ("name", "utility", "model", "observation", "conversation")
USER_REQUIRED = ("name", "utility")
SPEAKER_KEYS = ("name", "utility", "observation")
SPEAKER_REQUIRED = ("name", "utility")


@dataclass(frozen=True, eq=False)
class UserSpec:
    """The human user: utility ``[action, state]``, user model, private signal, conversation."""

    name: str
    utility: np.ndarray  # [A, Y]
    model: UserModel  # how she acts on her belief (logit, best response, ...)
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

    def speaker_index(self, name: str) -> int:
        try:
            return self.speaker_names.index(name)
        except ValueError:
            raise KeyError(f"unknown speaker {name!r}; speakers are {', '.join(self.speaker_names)}") from None

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> Game:
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
        _check_sizes(data, n_y, n_a, messages, rounds)

        user = _user_from_dict(data["user"], n_y, n_a, rounds)
        speakers = _speakers_from_dict(data["speakers"], n_y, n_a)
        user_name = user.name
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
                    "model": self.user.model.name,
                    **{k: _yaml_value(v) for k, v in self.user.model.fields().items()},
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

    def replace(self, **changes: Any) -> Game:
        """A new validated game with top-level keys changed; ``rationality`` (a number or inf)
        or ``user_model`` (a :class:`~persuaders.envs.game.users.UserModel`) replace the user's model."""
        d = self.to_dict()
        if "rationality" in changes:
            changes["user_model"] = user_model_from_rationality(changes.pop("rationality"), "rationality")
        if "user_model" in changes:
            model = changes.pop("user_model")
            if not isinstance(model, UserModel):
                raise TypeError(f"user_model: expected a UserModel, got {model!r}")
            d["user"] = {k: v for k, v in d["user"].items() if k not in ("model", *type(self.user.model).parameters)}
            d["user"].update({"model": model.name, **{k: _yaml_value(v) for k, v in model.fields().items()}})
        d.update(changes)
        return Game.from_dict(d, source=self.source)

    def __repr__(self) -> str:
        return (
            f"Game({self.name!r}, states={len(self.states)}, actions={len(self.actions)}, "
            f"speakers={list(self.speaker_names)}, messages={self.messages}, rounds={self.rounds}, "
            f"user={self.user.model.label()}, visibility={self.visibility!r})"
        )


#: Largest utility magnitude accepted: the analytic solvers (linear programs) work to an absolute
#: tolerance near 1e-9, so utilities must be of moderate size (the theory takes them in [0, 1]).
MAX_UTILITY = 1e6


def _axes(n_a: int, n_y: int) -> str:
    return f"[action][state] ({n_a} actions x {n_y} states)"


def _utility(value: Any, field: str, n_a: int, n_y: int) -> np.ndarray:
    """A utility matrix ``[action][state]`` of finite entries within ``±MAX_UTILITY``."""
    u = as_matrix(value, field, (n_a, n_y), _axes(n_a, n_y))
    top = float(np.abs(u).max())
    if top > MAX_UTILITY:
        raise SpecError(
            field,
            f"entries must lie within ±{MAX_UTILITY:g}, got {top:.3g}: rescale the utilities "
            "(a best response does not change with the scale; the theory takes them in [0, 1])",
        )
    return u


def _signals(section: Any, n_y: int) -> int:
    """The number of signals a ``user``/speaker section declares (its observation's columns; ``n_y`` without one)."""
    obs = section.get("observation") if isinstance(section, Mapping) else None
    if isinstance(obs, (list, tuple)) and obs and isinstance(obs[0], (list, tuple)):
        return len(obs[0])
    return n_y if obs is None else 1


def _check_sizes(data: Mapping[str, Any], n_y: int, n_a: int, messages: int, rounds: int) -> None:
    """Refuse, before any array is built, a game larger than :data:`~persuaders.envs.game.limits.limits`."""
    check_count(n_y, "states", "states")
    check_count(n_a, "actions", "actions")
    check_count(messages, "messages", "messages")
    check_count(rounds, "rounds", "rounds")
    raw = data["speakers"]
    speakers = list(raw) if isinstance(raw, (list, tuple)) else []
    check_count(len(speakers), "speakers", "speakers")
    signals = [_signals(s, n_y) for s in speakers]
    for i, x in enumerate(signals):
        check_count(x, f"speakers[{i}].observation", "signals")
    user = data["user"]
    x0 = _signals(user, 1)
    conv = user.get("conversation") if isinstance(user, Mapping) else None
    z = n_y if conv == "reveal" else 1
    entries = game_entries(n_y, n_a, signals, messages, rounds, x0, z)
    sizes = f"{n_y} states, {len(speakers)} speakers, {messages} messages, {rounds} rounds"
    check_entries(entries, "game", f"the game ({sizes})")
    check_entries(
        lp_size(n_a, signals, x0), "actions", f"the theory's linear program ({n_a} actions, {sizes})", "lp_size"
    )


def _conversation(rule: Any, x0: int, rounds: int) -> list[np.ndarray]:
    """The user's conversation rule as one channel ``C_t[x0, z]`` per round."""
    if isinstance(rule, str):
        if rule not in CONVERSATIONS:
            raise SpecError(
                "user.conversation",
                f"expected silent, reveal or a list of one channel [signal][message] per round; got {rule!r}",
            )
        conversation = [np.ones((x0, 1)) for _ in range(rounds)]
        if rule == "reveal":
            conversation[0] = np.eye(x0)
        return conversation
    if isinstance(rule, (list, tuple)):
        if len(rule) != rounds:
            raise SpecError(
                "user.conversation",
                f"expected one channel [signal][message] per round ({rounds} rounds), got {len(rule)}",
            )
        return [
            as_channel(c, f"user.conversation[{t}]", x0, f"[signal][message] ({x0} user signals)")
            for t, c in enumerate(rule)
        ]
    raise SpecError("user.conversation", f"expected silent, reveal or a list of one channel per round; got {rule!r}")


def _user_from_dict(u: Any, n_y: int, n_a: int, rounds: int) -> UserSpec:
    """The ``user:`` section: name, utility, user model, private signal and conversation rule."""
    model = _user_model(u)
    check_keys(u, "user", USER_KEYS[:3] + type(model).parameters + USER_KEYS[3:], USER_REQUIRED)
    name = u["name"]
    if not isinstance(name, str) or not name:
        raise SpecError("user.name", f"expected a non-empty string, got {name!r}")
    utility = _utility(u["utility"], "user.utility", n_a, n_y)
    obs_given = u.get("observation") is not None
    o0 = as_channel(u["observation"], "user.observation", n_y, "[state][signal]") if obs_given else np.ones((n_y, 1))
    rule = u.get("conversation", "silent")
    rule = "silent" if rule is None else rule
    return UserSpec(
        name=name,
        utility=utility,
        model=model,
        observation=o0,
        conversation=tuple(_conversation(rule, o0.shape[1], rounds)),
        conversation_rule=rule,
        observation_given=obs_given,
    )


def _speakers_from_dict(raw: Any, n_y: int, n_a: int) -> list[SpeakerSpec]:
    """The ``speakers:`` list: names, utilities and observation channels."""
    if not isinstance(raw, (list, tuple)) or len(raw) == 0:
        raise SpecError("speakers", "expected a non-empty list of speakers")
    speakers = []
    for i, s in enumerate(raw):
        where = f"speakers[{i}]"
        check_keys(s, where, SPEAKER_KEYS, SPEAKER_REQUIRED)
        name = s["name"]
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}.name", f"expected a non-empty string, got {name!r}")
        utility = _utility(s["utility"], f"{where}.utility", n_a, n_y)
        given = s.get("observation") is not None
        o = as_channel(s["observation"], f"{where}.observation", n_y, "[state][signal]") if given else np.eye(n_y)
        speakers.append(SpeakerSpec(name=name, utility=utility, observation=o, observation_given=given))
    return speakers


def _user_model(u: Any) -> UserModel:
    """The user's model from her game-file keys: ``model`` and its parameters, or (when ``model``
    is absent) ``rationality`` alone: ``inf`` is the best response, a number ``> 0`` logit."""
    if not isinstance(u, Mapping):
        raise SpecError("user", f"expected a mapping of user keys, got {type(u).__name__}")
    if u.get("model") is None:
        if "rationality" not in u:
            raise SpecError("user.rationality", "missing required key (or give user.model)")
        return user_model_from_rationality(u["rationality"])
    cls = user_model_class(u["model"])
    return cls.from_fields({k: u[k] for k in cls.parameters if k in u}, "user")


def _yaml_value(v: Any) -> Any:
    """A model parameter as it is written in a game file (``inf`` as the string YAML reads back)."""
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, np.generic):
        return v.item()
    return v
