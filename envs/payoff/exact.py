"""Exact expected payoffs of a profile under a protocol: the ground truth learners are scored with.

:func:`evaluate` enumerates every history with :class:`~persuaders.envs.payoff.engine.ExactEngine` (an
independent computation from the environments' incremental, sampled update). A profile gives
each speaker a fixed scheme (``[X_i, M]``, or ``[R, X_i, M]`` one per round) or a function of its
observation ``[H, D] -> [H, X_i, M]`` (a learned policy, called at every history exactly as the
environment would call it).

Protocols (docs/science.md, "Protocols"): a joint protocol (``simultaneous``) is one conversation
of every speaker; a selection protocol (``best_ai``) deploys one speaker alone, chosen from the
solo outcomes by :meth:`~persuaders.envs.game.protocols.SelectionProtocol.selection_probabilities`.
Its speakers' rules are closed-loop commitments on their solo threads: a function rule is called
at every node of each solo conversation with the private-thread observation (round, the user's
messages, its own earlier messages and the belief they imply; docs/science.md, "Protocols"), as the
environments ask for it; a fixed scheme ignores the thread. Everyone is paid on the deployed
conversation. :class:`ThreadValues` scores rules tabulated node by node (the environments'
exact evaluation scores), :class:`SoloValues` open-loop schemes ``[R, X_i, M]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from persuaders.envs.game.observations import ThreadTree
from persuaders.envs.game.protocols import Protocol, SelectionProtocol, resolve_protocol
from persuaders.envs.game.schemes import Profile, Scheme, check_probabilities, check_scheme, profile_list
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.engine import CHUNK_ELEMENTS, ExactEngine, SchemeSource

__all__ = [
    "ExactOutcome",
    "evaluate",
    "history_distribution",
    "outcome_values",
    "solo_outcomes",
    "SoloValues",
    "ThreadValues",
    "solo_user_values",
    "scheme_source",
]


@dataclass
class ExactOutcome:
    """Exact expected utilities of a profile.

    ``outcome[a, y]`` is the probability that the state is ``y`` and the user plays ``a``. Under a
    selection protocol, ``selection`` gives each speaker's probability of being deployed and
    ``solo_user_values`` the user's exact utility with each speaker alone.
    """

    user_value: float
    speaker_values: dict[str, float]
    outcome: np.ndarray
    selection: dict[str, float] = field(default_factory=dict)
    solo_user_values: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user_value": self.user_value, "speaker_values": dict(self.speaker_values)}
        if self.selection:
            out["selection"] = dict(self.selection)
            out["solo_user_values"] = dict(self.solo_user_values)
        return out


def scheme_source(game: Game, i: int, scheme: Scheme) -> SchemeSource:
    """The engine's source of speaker ``i``'s schemes: a validated fixed array, or a function of
    the observation whose output is checked at every call (shape and probabilities)."""
    name = game.speakers[i].name
    if callable(scheme):
        fn = scheme
        want = (game.speakers[i].n_signals, game.messages)

        def call(t: int, observations: Callable[[], np.ndarray], p: int) -> np.ndarray:
            out = np.asarray(fn(observations()), dtype=np.float64)
            if out.shape != (p, *want):
                raise ValueError(
                    f"scheme function of speaker '{name}': returned shape {out.shape}, expected {(p, *want)}"
                )
            check_probabilities(out, f"scheme function of speaker '{name}'")
            return out[None]

        return call
    fixed = check_scheme(game, i, scheme)

    def constant(t: int, observations: Callable[[], np.ndarray], p: int) -> np.ndarray:
        out: np.ndarray = fixed[t][None, None]
        return out

    return constant


def outcome_values(game: Game, outcome: np.ndarray) -> tuple[float, dict[str, float]]:
    """The user's and each speaker's expected utility under an outcome distribution ``P(a, y)``."""
    user = float((outcome * game.user.utility).sum())
    return user, {s.name: float((outcome * s.utility).sum()) for s in game.speakers}


def history_distribution(game: Game, profile: Profile) -> np.ndarray:
    """``P(y, x0, h)`` ``[H, Y, X0]`` for every history ``h`` of the joint conversation."""
    sources = [scheme_source(game, i, s) for i, s in enumerate(profile_list(game, profile))]
    out: np.ndarray = ExactEngine(game, range(game.n_speakers)).joint(sources)[0]
    return out


def _solo(game: Game, sources: Sequence[SchemeSource]) -> np.ndarray:
    """``P(a, y)`` of each speaker alone with the user, its rule called on its thread: ``[k, A, Y]``.

    ``P_i(a, y) = sum_{x0, h} mu0(y) O_0[y, x0] prod_t C_t[x0, z_t] sum_x O_i[y, x] prod_t pi_i^{h_t}[x, m_t]
    r(P(. | x0, h))(a)``, with ``pi_i^{h_t}`` the rule at the thread node ``h_t`` (the prefix of ``h``).
    """
    return np.stack([ExactEngine(game, [i], thread=True).outcome([sources[i]])[0] for i in range(game.n_speakers)])


def evaluate(
    game: Game, profile: Profile, protocol: Protocol | str = "simultaneous", n_eval: int | str | None = None
) -> ExactOutcome:
    """Exact expected utilities of the user and every speaker under ``profile``.

    ``profile`` maps each speaker's name to its scheme (fixed array or function of the
    observation), or lists them in speaker order. ``protocol`` is a registered name or a
    :class:`~persuaders.envs.game.protocols.Protocol`; ``n_eval`` is passed to ``best_ai``.
    """
    proto = resolve_protocol(protocol, n_eval)
    sources = [scheme_source(game, i, s) for i, s in enumerate(profile_list(game, profile))]
    if proto.joint:
        outcome = ExactEngine(game, range(game.n_speakers)).outcome(sources)[0]
        user, speakers = outcome_values(game, outcome)
        return ExactOutcome(user, speakers, outcome)
    assert isinstance(proto, SelectionProtocol)
    solo = _solo(game, sources)
    probs = proto.selection_probabilities(game.user.utility, solo)
    outcome = np.einsum("i,iay->ay", probs, solo)
    user, speakers = outcome_values(game, outcome)
    names = game.speaker_names
    solo_user = np.einsum("iay,ay->i", solo, game.user.utility)
    return ExactOutcome(
        user,
        speakers,
        outcome,
        selection=dict(zip(names, probs.tolist(), strict=True)),
        solo_user_values=dict(zip(names, solo_user.tolist(), strict=True)),
    )


def solo_outcomes(game: Game, schemes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each speaker alone with the user, with fixed schemes (``[R, X_i, M]``) or rules (functions of
    the thread observation, called at every node of the solo conversation).

    Returns ``user_values[i]`` (the user's exact utility when speaker ``i`` talks alone) and
    ``speaker_values[i, j]`` (speaker ``j``'s exact utility then).
    """
    sources = [scheme_source(game, i, s) for i, s in enumerate(schemes)]
    solo = _solo(game, sources)
    user = np.einsum("iay,ay->i", solo, game.user.utility)
    spk = np.einsum("iay,jay->ij", solo, game.speaker_utilities)
    return user, spk


class SoloValues:
    """The user's exact value with each speaker alone, for many open-loop profiles at once.

    ``__call__(schemes)`` takes ``[n, k, R, X_max, M]`` probabilities (rows beyond a speaker's
    ``X_i`` ignored) and returns ``[n, k]``; the engines are built once per game.
    """

    def __init__(self, game: Game):
        self.game = game
        self.engines = [ExactEngine(game, [i], open_loop=True) for i in range(game.n_speakers)]

    def __call__(self, schemes: np.ndarray) -> np.ndarray:
        game = self.game
        n = schemes.shape[0]
        out = np.empty((n, game.n_speakers))
        for i, engine in enumerate(self.engines):
            x_i = game.speakers[i].n_signals
            step = max(1, CHUNK_ELEMENTS // engine.per_profile)
            for lo in range(0, n, step):
                part = schemes[lo : lo + step, i, :, :x_i, :]  # [c, R, X_i, M]

                def source(
                    t: int, observations: Callable[[], np.ndarray], p: int, part: np.ndarray = part
                ) -> np.ndarray:
                    return part[:, t][:, None]

                outcome = engine.outcome([source], batch=len(part))  # [c, A, Y]
                out[lo : lo + step, i] = np.einsum("bay,ay->b", outcome, game.user.utility)
        return out


class ThreadValues:
    """The user's exact value with each speaker alone, for many rules tabulated on the thread nodes.

    ``__call__(rules)`` takes ``[n, k, N, X_max, M]`` probabilities, ``rules[:, i, j]`` speaker
    ``i``'s scheme at node ``j`` of :class:`~persuaders.envs.game.observations.ThreadTree` (``N`` nodes;
    rows beyond a speaker's ``X_i`` ignored), and returns ``[n, k]``,
    ``V_i = sum_{a, y} P_i(a, y) u[a, y]`` with ``P_i`` the solo outcome of ``_solo`` under the
    tabulated rule: the engine reads the table at the node of every prefix it enumerates. The
    engines are built once per game.
    """

    def __init__(self, game: Game):
        self.game = game
        self.tree = ThreadTree.for_game(game)
        self.engines = [ExactEngine(game, [i], thread=True) for i in range(game.n_speakers)]

    def __call__(self, rules: np.ndarray) -> np.ndarray:
        game = self.game
        want = (game.n_speakers, self.tree.size, max(s.n_signals for s in game.speakers), game.messages)
        if rules.ndim != 5 or rules.shape[1:] != want:
            raise ValueError(
                f"rules: expected shape [n, {', '.join(map(str, want))}] (profiles, speakers, "
                f"thread nodes, signals, messages), got {rules.shape}"
            )
        n = rules.shape[0]
        out = np.empty((n, game.n_speakers))
        for i, engine in enumerate(self.engines):
            x_i = game.speakers[i].n_signals
            step = max(1, CHUNK_ELEMENTS // engine.per_profile)
            for lo in range(0, n, step):
                part = rules[lo : lo + step, i, :, :x_i, :]  # [c, N, X_i, M]

                def source(
                    t: int,
                    observations: Callable[[], np.ndarray],
                    p: int,
                    part: np.ndarray = part,
                    engine: ExactEngine = engine,
                ) -> np.ndarray:
                    return part[:, engine.thread_nodes()]  # [c, P_t, X_i, M]

                outcome = engine.outcome([source], batch=len(part))  # [c, A, Y]
                out[lo : lo + step, i] = np.einsum("bay,ay->b", outcome, game.user.utility)
        return out


def solo_user_values(game: Game, schemes: np.ndarray) -> np.ndarray:
    """The user's exact expected utility with each speaker alone, for a batch of open-loop profiles.

    ``schemes`` is ``[..., k, R, X_max, M]`` (probabilities; rows beyond a speaker's ``X_i`` are
    ignored). Returns ``[..., k]``: :func:`solo_outcomes` ``[0]`` of each profile, computed as arrays.
    """
    schemes = np.asarray(schemes, dtype=np.float64)
    x_max = max(s.n_signals for s in game.speakers)
    want = (game.n_speakers, game.rounds, x_max, game.messages)
    if schemes.shape[-4:] != want:
        raise ValueError(f"schemes: expected shape [..., {', '.join(map(str, want))}], got {schemes.shape}")
    lead = schemes.shape[:-4]
    flat = schemes.reshape((-1, *want))
    return SoloValues(game)(flat).reshape((*lead, game.n_speakers))
