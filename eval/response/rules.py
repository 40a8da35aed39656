"""History-dependent speaker rules as tables over information sets, callable as observation functions.

A speaker's *information set* in round ``t`` is what it has heard before it speaks
(docs/science.md, "Observations"): the user's messages of rounds ``0..t`` and, for rounds before
``t``, the messages of the speakers it hears (all of them with public messages, only itself in
private threads). Its key is

    (t, (z_0, ..., z_t), (heard messages of rounds < t, round-major, in the layout's speaker order)).

A :class:`TableRule` maps keys to schemes ``[X_i, M]``. At a key the table does not list (another
speaker said what the rule did not expect) it plays as at the likeliest listed key with the same
user and own messages, ignoring the unexpected message (docs/science.md, "Behaviour
rules"); failing that, a per-round default (babbling unless given). It
is a function of the observation, as :func:`persuaders.envs.payoff.evaluate` accepts: it decodes the
key from the observation's one-hot slots and ignores the belief. The exact multi-round best
responses (:mod:`persuaders.eval.response.multiround`) return their rules in this form
(docs/science.md, "Behaviour rules").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.schemes import check_probabilities
from persuaders.envs.game.spec import Game

__all__ = ["InfoKey", "TableRule", "decode_keys", "info_keys", "is_table_rule", "rule_to_jsonable"]

#: ``(round, user messages z_0..z_t, heard speaker messages of rounds < t flattened)``.
InfoKey = tuple[int, tuple[int, ...], tuple[int, ...]]


def info_keys(game: Game, i: int, t: int, user_msgs: np.ndarray, spk_msgs: np.ndarray) -> list[InfoKey]:
    """Speaker ``i``'s round-``t`` information-set keys of histories ``user_msgs [H, R]``, ``spk_msgs [H, R, k]``."""
    layout = ObservationLayout.for_game(game)
    heard = list(layout.heard(i))
    z = np.asarray(user_msgs)[:, : t + 1]
    m = np.asarray(spk_msgs)[:, :t][:, :, heard].reshape(len(z), -1)
    return [(t, tuple(int(v) for v in zr), tuple(int(v) for v in mr)) for zr, mr in zip(z, m, strict=True)]


def decode_keys(layout: ObservationLayout, obs: np.ndarray) -> list[InfoKey]:
    """The information-set keys encoded in observations ``[P, D]`` (one-hot slots; belief ignored)."""
    obs = np.asarray(obs)
    p = len(obs)
    t = obs[:, : layout.rounds + 1].argmax(axis=1)
    zmax, m, nh = layout.user_messages, layout.messages, layout.n_heard
    user = obs[:, layout.user_offset : layout.user_offset + layout.rounds * zmax].reshape(p, layout.rounds, zmax)
    z = np.where(user.sum(axis=2) > 0, user.argmax(axis=2), -1)
    heard = obs[:, layout.heard_offset : layout.heard_offset + layout.rounds * nh * m].reshape(p, layout.rounds, nh, m)
    hm = np.where(heard.sum(axis=3) > 0, heard.argmax(axis=3), -1)
    out = []
    for r in range(p):
        tr = int(t[r])
        out.append((tr, tuple(int(v) for v in z[r, : tr + 1]), tuple(int(v) for v in hm[r, :tr].reshape(-1))))
    return out


class TableRule:
    """A history-dependent rule: a scheme ``[X_i, M]`` per information-set key, babbling elsewhere.

    Calling it with observations ``[P, D]`` returns schemes ``[P, X_i, M]`` (the signature of a
    scheme function, :mod:`persuaders.envs.game.schemes`). ``reads_belief`` is False: the rule depends
    on what was said, not on the belief slot, so it can be held fixed while another speaker
    deviates.
    """

    reads_belief = False

    def __init__(
        self,
        game: Game,
        i: int,
        table: Mapping[InfoKey, np.ndarray],
        defaults: np.ndarray | None = None,
        fallback: Mapping[InfoKey, np.ndarray] | None = None,
    ):
        self.game, self.i = game, i
        self.layout = ObservationLayout.for_game(game)
        self.shape = (game.speakers[i].n_signals, game.messages)
        self.table: dict[InfoKey, np.ndarray] = {}
        for key, scheme in table.items():
            s = np.asarray(scheme, dtype=np.float64)
            if s.shape != self.shape:
                raise ValueError(
                    f"TableRule of speaker '{game.speakers[i].name}': scheme at {key} has shape {s.shape}, "
                    f"expected {self.shape}"
                )
            check_probabilities(s, f"TableRule of speaker '{game.speakers[i].name}' at {key}")
            self.table[key] = s
        babble = np.full((game.rounds, *self.shape), 1.0 / game.messages)
        self.defaults = (
            babble if defaults is None else np.broadcast_to(np.asarray(defaults, dtype=np.float64), babble.shape).copy()
        )
        check_probabilities(self.defaults, f"TableRule of speaker '{game.speakers[i].name}': defaults")
        self.fallback = {k: np.asarray(v, dtype=np.float64) for k, v in (fallback or {}).items()}

    def own_key(self, key: InfoKey) -> InfoKey:
        """The key with only the speaker's own messages (and the user's) kept: what it said and heard from her."""
        t, z, heard = key
        nh = self.layout.n_heard
        me = self.i if self.layout.public else 0
        return (t, z, tuple(heard[s * nh + me] for s in range(t)))

    def scheme(self, key: InfoKey) -> np.ndarray:
        """The scheme at an information set: the table's entry; else, at a history the table does not
        list (another speaker said something unexpected), the scheme of the likeliest listed one with
        the same own and user messages (the unexpected message is ignored); else the round's default."""
        got = self.table.get(key)
        if got is not None:
            return got
        default: np.ndarray = self.defaults[key[0]]
        return self.fallback.get(self.own_key(key), default)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        keys = decode_keys(self.layout, obs)
        return np.stack([self.scheme(k) for k in keys]) if keys else np.zeros((0, *self.shape))

    def to_dict(self) -> list[dict[str, Any]]:
        """The table as JSON-ready entries ``{round, user, heard, scheme}`` (sorted by key)."""
        return [
            {"round": k[0], "user": list(k[1]), "heard": list(k[2]), "scheme": np.round(v, 12).tolist()}
            for k, v in sorted(self.table.items())
        ]

    def defaults_list(self) -> list[Any]:
        out: list[Any] = np.round(self.defaults, 12).tolist()
        return out

    @classmethod
    def from_dict(cls, game: Game, i: int, data: Any) -> TableRule:
        """Inverse of :func:`rule_to_jsonable`: ``{"table": entries, "defaults": [R, X_i, M]}`` (or
        the entries alone)."""
        defaults = data.get("defaults") if isinstance(data, Mapping) else None
        fallback = {
            (int(e["round"]), tuple(int(v) for v in e["user"]), tuple(int(v) for v in e["own"])): e["scheme"]
            for e in (data.get("fallback", []) if isinstance(data, Mapping) else [])
        }
        entries = data.get("table", []) if isinstance(data, Mapping) else data
        table = {}
        for n, e in enumerate(entries):
            try:
                key = (int(e["round"]), tuple(int(v) for v in e["user"]), tuple(int(v) for v in e["heard"]))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"TableRule entry {n}: expected keys round, user, heard and scheme") from None
            table[key] = np.asarray(e["scheme"], dtype=np.float64)
        return cls(
            game,
            i,
            table,
            defaults=None if defaults is None else np.asarray(defaults, dtype=np.float64),
            fallback=fallback,
        )

    @classmethod
    def from_open_loop(cls, game: Game, i: int, schemes: np.ndarray) -> TableRule:
        """The rule that plays ``schemes[t]`` (``[R, X_i, M]``) at every round-``t`` information set."""
        return cls(game, i, {}, defaults=np.asarray(schemes, dtype=np.float64))


def is_table_rule(rule: Any) -> bool:
    return isinstance(rule, TableRule)


def rule_to_jsonable(rule: Any) -> Any:
    """A rule for JSON output: a table's entries, or an array's nested lists (None stays None)."""
    if rule is None:
        return None
    if isinstance(rule, TableRule):
        fb = [
            {"round": k[0], "user": list(k[1]), "own": list(k[2]), "scheme": np.round(v, 12).tolist()}
            for k, v in sorted(rule.fallback.items())
        ]
        return {"table": rule.to_dict(), "fallback": fb, "defaults": rule.defaults_list()}
    if callable(rule):
        return {"function": repr(rule)}
    return np.round(np.asarray(rule, dtype=np.float64), 12).tolist()
