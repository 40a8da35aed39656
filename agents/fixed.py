"""Fixed (non-learning) speakers: full revelation, babbling, or any scheme from a file.

A fixed speaker commits to open-loop schemes ``pi[t, x, m]`` (one per round). Learners can be
trained against them, and the exact evaluator scores them directly.

* ``full_revelation``: its signal is spelled out in base ``M`` over the rounds (digit ``t`` in
  round ``t``), so with ``M^R >= X`` every signal gets its own message sequence and the user
  learns everything the speaker knows.
* ``babbling``: uniform messages whatever its signal: no information.
* a schemes file (YAML or JSON): ``{speaker name: [[...]]}`` with a ``[X][M]`` scheme used every
  round or ``[R][X][M]`` one per round; rows must be probability distributions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from envs.game import Game
from eval.exact import check_scheme

#: Logit standing for probability 0 (softmax of it is ~1e-13 next to logit 0).
ZERO_LOGIT = -30.0
FIXED_KINDS = ("full_revelation", "babbling", "fixed")


def full_revelation_scheme(game: Game, i: int) -> np.ndarray:
    """``[R, X, M]``: round ``t`` sends digit ``t`` of the signal in base ``M``."""
    x, m, r = game.speakers[i].n_signals, game.messages, game.rounds
    if m**r < x:
        raise ValueError(
            f"speaker '{game.speakers[i].name}' cannot reveal {x} signals with {m} messages over {r} rounds (needs messages**rounds >= signals)"
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
    """Read ``{speaker: scheme}`` from YAML/JSON, validated against ``game`` (``[R, X, M]`` each)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"schemes file {path} does not exist")
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if isinstance(data, dict) and "schemes" in data and isinstance(data["schemes"], dict):
        data = data["schemes"]  # a summary.json
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping from speaker name to scheme")
    out = {}
    for name, scheme in data.items():
        i = game.speaker_index(name)
        out[name] = check_scheme(game, i, scheme)
    return out


def scheme_to_logits(scheme: np.ndarray) -> np.ndarray:
    """Logits whose softmax is ``scheme`` (zeros map to :data:`ZERO_LOGIT`)."""
    return np.where(scheme > 0, np.log(np.maximum(scheme, 1e-300)), ZERO_LOGIT).clip(ZERO_LOGIT, None)


class FixedSpeaker:
    """A speaker that plays fixed open-loop schemes ``[R, X, M]``."""

    def __init__(self, game: Game, i: int, kind: str, path: str | Path | None = None):
        self.kind = kind
        if kind == "full_revelation":
            self.schemes = full_revelation_scheme(game, i)
        elif kind == "babbling":
            self.schemes = babbling_scheme(game, i)
        elif kind == "fixed":
            if path is None:
                raise ValueError(f"speaker '{game.speakers[i].name}': learner 'fixed' needs a schemes file (path)")
            loaded = load_schemes_file(game, path)
            name = game.speakers[i].name
            if name not in loaded:
                raise ValueError(f"{path}: no scheme for speaker '{name}'")
            self.schemes = loaded[name]
        else:
            raise ValueError(f"learner kind must be one of {', '.join(FIXED_KINDS)}, got {kind!r}")
        self.logits = scheme_to_logits(self.schemes)

    def scheme(self, obs: np.ndarray) -> np.ndarray:
        """Schemes ``[B, X, M]`` at a batch of observations (the round is read from the one-hot)."""
        rounds = self.schemes.shape[0]
        t = np.minimum(np.asarray(obs)[:, : rounds + 1].argmax(axis=1), rounds - 1)
        return self.schemes[t]
