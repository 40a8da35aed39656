"""Scoring a learned profile: its exact payoffs and the schemes it committed to.

A trained policy is a function of the observation; :func:`score_profile` evaluates it exactly
(:func:`persuaders.envs.payoff.evaluate`) and reads each speaker's scheme at the first observation of
an episode of the PettingZoo environment, as the examples and training reports print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game.protocols import Protocol, resolve_protocol
from persuaders.envs.game.schemes import Scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import ExactOutcome, evaluate

__all__ = ["score_profile"]


def score_profile(
    game: Game,
    profile: Mapping[str, Scheme],
    protocol: Protocol | str = "simultaneous",
    n_eval: int | str | None = None,
    seed: int = 0,
) -> tuple[ExactOutcome, dict[str, Any]]:
    """:func:`~persuaders.envs.payoff.evaluate` of ``profile`` (by speaker name), and each speaker's
    scheme at the first observation of a persuasion_v0 episode reset with ``seed`` (as a nested
    list): what a trained policy committed to."""
    proto = resolve_protocol(protocol, n_eval)
    exact = evaluate(game, profile, proto)
    obs, _ = persuasion_v0.parallel_env(game=game, protocol=proto).reset(seed=seed)
    schemes = {}
    for name in game.speaker_names:
        scheme = profile[name]
        schemes[name] = np.asarray(scheme(obs[name][None])[0] if callable(scheme) else scheme).tolist()
    return exact, schemes
