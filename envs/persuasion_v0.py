"""``persuasion_v0``: the versioned PettingZoo module (body in :mod:`persuaders.envs.persuasion.persuasion`)."""

from persuaders.envs.persuasion.persuasion import (
    ACTION_FORMATS,
    INFO_KEYS,
    LOGIT_BOUND,
    RENDER_MODES,
    REWARD_MODES,
    PersuasionEnv,
    env,
    parallel_env,
    raw_env,
)

__all__ = [
    "ACTION_FORMATS",
    "INFO_KEYS",
    "LOGIT_BOUND",
    "RENDER_MODES",
    "REWARD_MODES",
    "PersuasionEnv",
    "env",
    "parallel_env",
    "raw_env",
]
