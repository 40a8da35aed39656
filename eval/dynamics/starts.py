"""Starting profiles of best-response dynamics: babbling, full revelation and seeded random rules.

Pure best-response dynamics can cycle or stall where a game has an equilibrium (docs/science.md,
"Verdicts of the dynamics"), and which equilibrium they reach depends on where they start. A
start is named: ``babbling`` (uniform messages: no information), ``full_revelation`` (round ``t``
says digit ``t`` of the signal in base ``M``, so the state is told over the rounds; where
``M^R`` is below the number of signals, the signal modulo ``M^R``) and ``random:SEED`` (every
speaker's scheme in every round drawn from a flat Dirichlet with that seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.schemes import babbling_scheme
from persuaders.envs.game.spec import Game

__all__ = ["DEFAULT_STARTS", "start_profile", "check_start"]

#: The starts tried in order until one ends at a certified equilibrium.
DEFAULT_STARTS = ("babbling", "full_revelation", "random:0", "random:1")


def check_start(name: str) -> str:
    """``name`` if it names a start, else a :class:`ValueError` naming the allowed ones."""
    if name in ("babbling", "full_revelation"):
        return name
    if name.startswith("random:") and name[7:].isdigit():
        return name
    raise ValueError(f"starts: {name!r} is not babbling, full_revelation or random:SEED (a non-negative integer)")


def _revealing(game: Game, i: int) -> np.ndarray:
    """``[R, X, M]``: round ``t`` sends digit ``t`` of the signal (modulo ``M^R``) in base ``M``."""
    x, m, r = game.speakers[i].n_signals, game.messages, game.rounds
    out = np.zeros((r, x, m))
    for t in range(r):
        out[t, np.arange(x), (np.arange(x) // m**t) % m] = 1.0
    return out


def start_profile(game: Game, name: str) -> list[Any]:
    """Every speaker's rule ``[R, X_i, M]`` at the start ``name`` (module docstring)."""
    check_start(name)
    if name == "babbling":
        return [babbling_scheme(game, i) for i in range(game.n_speakers)]
    if name == "full_revelation":
        return [_revealing(game, i) for i in range(game.n_speakers)]
    rng = np.random.default_rng(int(name[7:]))
    return [rng.dirichlet(np.ones(game.messages), size=(game.rounds, s.n_signals)) for s in game.speakers]
