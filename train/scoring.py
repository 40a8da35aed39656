"""Scoring a learned profile: its exact payoffs and the schemes it committed to, beside the theory.

A policy trained on persuasion_v0 (:mod:`persuaders.envs.persuasion.persuasion`) by another library
is a function of the environment's observation giving the environment's action: scheme logits
``[X_i, M]`` (``action_format="matrix"``) or the same logits row by row (``"flat"``), from an
observation that carries the speaker's one-hot id when the environment appends it
(``agent_id=True``). The evaluator (:func:`persuaders.envs.payoff.evaluate`) takes schemes, functions
from the observation without the id to probabilities ``[B, X_i, M]``. :func:`score_profile` (and
:func:`score_env`, which reads the options from the environment itself) converts one into the other,

    scheme_i(obs) = softmax_rows(reshape(policy_i([obs | e_i]), [B, X_i, M]))

(``e_i`` the one-hot of speaker ``i``, appended only under ``agent_id``; the softmax over each
signal's row of messages), so a policy trained on the environment scores exactly as it acts there.

The examples of ``examples/`` share the rest too: :func:`persuasion_env` builds the environment a library
trains on, :func:`learned_result` gathers the exact values before and after training with the
theory (:func:`persuaders.eval.theory.analytic_quantities`), and :func:`format_learned_result`
prints them side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import Protocol, resolve_protocol
from persuaders.envs.game.schemes import Scheme, softmax_rows
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import ExactOutcome, evaluate
from persuaders.eval.theory import analytic_quantities
from persuaders.eval.theory.tables import format_rows, format_schemes, outcome_rows

__all__ = [
    "EnvPolicy",
    "Scored",
    "persuasion_env",
    "policy_scheme",
    "score_profile",
    "score_env",
    "learned_result",
    "format_learned_result",
]

#: A policy as a library trains it on the environment: the environment's observations ``[B, D]``
#: (with the id under ``agent_id``) to its actions (logits ``[B, X_i, M]`` or ``[B, X_i * M]``),
#: or one fixed action.
EnvPolicy: TypeAlias = Callable[[np.ndarray], Any] | np.ndarray
#: What :func:`score_profile` returns: the exact outcome, and each speaker's committed scheme at the
#: first observation of an episode as a nested list.
Scored: TypeAlias = tuple[ExactOutcome, dict[str, Any]]


def persuasion_env(game: Game | str, seed: int | None = None, **options: Any) -> persuasion_v0.PersuasionEnv:
    """``persuasion_v0.parallel_env(game, **options)``, reset once with ``seed`` when one is given
    (a library whose loop resets without a seed then keeps that random state).

    ``options`` are the environment's (``protocol``, ``n_eval``, ``reward_mode``, ``action_format``,
    ``agent_id``, ``render_mode``); :func:`score_env` scores a policy trained on it.
    """
    env = persuasion_v0.parallel_env(game, **options)
    if seed is not None:
        env.reset(seed=seed)
    return env


def policy_scheme(
    game: Game, index: int, policy: EnvPolicy, *, agent_id: bool = False, action_format: str | None = "matrix"
) -> Scheme:
    """Speaker ``index``'s scheme, in the evaluator's form, from its policy on the environment.

    A function becomes ``obs [B, D] -> softmax_rows(policy([obs | e_index]) as [B, X_i, M])``: the
    observation is given as float32 (as the environment gives it), with speaker ``index``'s one-hot
    ``e_index`` appended under ``agent_id``, and the action is read in ``action_format``
    (``matrix``: ``[B, X_i, M]``; ``flat``: ``[B, X_i * M]``, row by row). A fixed action (logits of
    the environment's action shape) becomes the softmax of its rows. With ``action_format`` None the
    policy already gives schemes (probabilities ``[B, X_i, M]``, or a fixed scheme), kept as they are.
    """
    if action_format is not None and action_format not in persuasion_v0.ACTION_FORMATS:
        raise ValueError(
            f"action_format: expected None or one of {', '.join(persuasion_v0.ACTION_FORMATS)}, got {action_format!r}"
        )
    name = game.speakers[index].name
    shape = (game.speakers[index].n_signals, game.messages)
    action_shape = (shape[0] * shape[1],) if action_format == "flat" else shape
    one_hot = np.eye(game.n_speakers, dtype=np.float32)[index]

    def scheme_of(action: Any, batch: tuple[int, ...]) -> np.ndarray:
        if action_format is None:
            out: np.ndarray = np.asarray(action)
            return out
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"policy of speaker '{name}': its actions are not numeric") from None
        if a.shape != (*batch, *action_shape):
            raise ValueError(
                f"policy of speaker '{name}': expected {action_format} actions of shape {(*batch, *action_shape)}, "
                f"got {a.shape}"
            )
        return softmax_rows(a.reshape((*batch, *shape)))

    if not callable(policy):
        return scheme_of(policy, ())

    def scheme(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if agent_id:
            obs = np.concatenate([obs, np.broadcast_to(one_hot, (obs.shape[0], game.n_speakers))], axis=1)
        return scheme_of(policy(obs), (obs.shape[0],))

    return scheme


def score_profile(
    game: Game,
    profile: Mapping[str, Any],
    protocol: Protocol | str = "simultaneous",
    n_eval: int | str | None = None,
    seed: int = 0,
    *,
    agent_id: bool = False,
    action_format: str | None = None,
) -> Scored:
    """:func:`~persuaders.envs.payoff.evaluate` of ``profile`` (by speaker name), and each speaker's
    scheme at the first observation of a persuasion_v0 episode reset with ``seed`` (as a nested
    list): what a trained policy committed to.

    ``agent_id`` and ``action_format`` are the environment's options the policies were trained
    under: with ``action_format`` ``matrix`` or ``flat`` the profile holds policies on the
    environment (:data:`EnvPolicy`: observations to logits), converted by :func:`policy_scheme`;
    with None (the default) it holds schemes, as :func:`~persuaders.envs.payoff.evaluate` takes them
    (functions of observations with the id appended under ``agent_id``).
    """
    proto = resolve_protocol(protocol, n_eval)
    if agent_id or action_format is not None:
        names = game.speaker_names
        unknown = [n for n in profile if n not in names]
        if unknown:
            raise ValueError(
                f"profile: unknown speaker(s) {', '.join(map(str, unknown))}; speakers are {', '.join(names)}"
            )
        profile = {
            n: policy_scheme(game, i, profile[n], agent_id=agent_id, action_format=action_format)
            for i, n in enumerate(names)
            if n in profile  # a missing speaker is named by the evaluator
        }
    exact = evaluate(game, profile, proto)
    obs, _ = persuasion_v0.parallel_env(game=game, protocol=proto).reset(seed=seed)
    schemes = {}
    for name in game.speaker_names:
        scheme = profile[name]
        schemes[name] = np.asarray(scheme(obs[name][None])[0] if callable(scheme) else scheme).tolist()
    return exact, schemes


def score_env(env: Any, policies: Mapping[str, EnvPolicy], seed: int = 0) -> Scored:
    """:func:`score_profile` of policies trained on ``env`` (a persuasion_v0 environment, or a
    wrapper of one: its ``unwrapped``), under the environment's own game, protocol, ``agent_id`` and
    ``action_format``: each policy maps that environment's observation to that environment's
    action. ``env`` itself is not stepped or reset (the first observation comes from a fresh copy
    reset with ``seed``), so scoring during training leaves its episodes and random state alone."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, persuasion_v0.PersuasionEnv):
        raise TypeError(f"env: expected a persuasion_v0 environment or a wrapper of one, got {type(env).__name__}")
    return score_profile(
        base.game, policies, base.protocol, seed=seed, agent_id=base.agent_id, action_format=base.action_format
    )


def learned_result(game: Game | str, untrained: Scored, trained: Scored) -> dict[str, Any]:
    """The exact scores of a profile before and after training with the theory, as the examples
    report them (JSON-ready): ``{"initial": {"user_value", "speaker_values"}, "user_value",
    "speaker_values", "schemes", "theory"}``, the untrained profile's values under ``initial``, the
    trained one's at the top, and ``theory`` :func:`~persuaders.eval.theory.analytic_quantities` of
    the game."""
    (before, _), (after, schemes) = untrained, trained
    return {
        "initial": {"user_value": before.user_value, "speaker_values": dict(before.speaker_values)},
        "user_value": after.user_value,
        "speaker_values": dict(after.speaker_values),
        "schemes": schemes,
        "theory": analytic_quantities(load_game(game)),
    }


def format_learned_result(title: str, res: Mapping[str, Any]) -> str:
    """``title``, the exact values of :func:`learned_result` before and after training beside the
    theory's (:func:`~persuaders.eval.theory.tables.outcome_rows`), then the committed schemes."""
    initial = res["initial"]
    rows = outcome_rows(
        res["theory"],
        [
            ("user: untrained profile (exact)", initial["user_value"]),
            ("user: trained profile (exact)", res["user_value"]),
        ],
        {
            n: [("untrained (exact)", initial["speaker_values"][n]), ("trained (exact)", v)]
            for n, v in res["speaker_values"].items()
        },
    )
    return "\n".join([format_rows(title, rows), "", format_schemes(res["schemes"])])
