"""The options every environment and evaluator of a persuasion game shares.

``protocol``: ``simultaneous`` (every speaker talks in every round) or ``best_ai`` (the user scores
each speaker alone, selects the best and deploys it; DESIGN.md section 1). ``n_eval``: how
``best_ai`` scores a speaker, ``"exact"`` or a number of evaluation conversations.
``reward_mode``: ``sample``, ``expect_action`` or ``expect_all`` (unbiased, decreasing variance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PROTOCOLS = ("simultaneous", "best_ai")
REWARD_MODES = ("sample", "expect_action", "expect_all")
#: Best-AI scores within this of the best count as tied (ties are split evenly).
SCORE_TOL = 1e-12


def check_protocol(protocol: Any) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    return protocol


def check_reward_mode(reward_mode: Any) -> str:
    if reward_mode not in REWARD_MODES:
        raise ValueError(f"reward_mode: expected one of {', '.join(REWARD_MODES)}, got {reward_mode!r}")
    return reward_mode


def check_n_eval(n_eval: Any) -> int | str:
    """``"exact"`` or an integer >= 1."""
    if isinstance(n_eval, str) and n_eval == "exact":
        return "exact"
    if isinstance(n_eval, (int, np.integer)) and not isinstance(n_eval, bool) and n_eval >= 1:
        return int(n_eval)
    raise ValueError(f"n_eval: expected 'exact' or an integer >= 1, got {n_eval!r}")
