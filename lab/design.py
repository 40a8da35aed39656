"""What a lab session needs from the theory: its design file, a trial drawn on the server, and the
exact likelihood of what the participant heard.

A **design** is a game, one committed open-loop scheme ``pi_i^t[x, m]`` per speaker and round, and
the session's settings: trials per participant, the treatments (which speakers are present,
whether their schemes are shown), points per unit of the user's utility and the payment per point.
It is written once, as ``lab_design.json``, into the oTree project, which reads it at start-up.

A **trial** follows "One episode" of docs/science.md with the participant as the user: nature draws
``y ~ mu0``, her signal ``x0 ~ O_0[y, .]`` and each speaker's ``x_i ~ O_i[y, .]``; in round ``t``
each present speaker's message is ``m_i^t ~ pi_i^t[x_i, .]``. Absent speakers say nothing (their
message is stored as -1). The likelihood of what she heard in state ``y`` is, by the factorisation
of "The exact belief update",

    lik(y) = O_0[y, x0] * prod_{i present} prod_t l_i^t(y),

with ``l_i^t(y)`` the probability of ``m_i^t`` in state ``y`` given speaker ``i``'s earlier
messages, as :class:`~persuaders.envs.game.conversation.BeliefState` computes it; her exact
posterior is ``mu0(y) lik(y)`` normalised.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from persuaders.envs.game.conversation import BeliefState
from persuaders.envs.game.schemes import check_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError

__all__ = [
    "DESIGN_FILE",
    "FORMAT",
    "Treatment",
    "Design",
    "Trial",
    "message_label",
    "draw_trial",
    "heard_likelihood",
    "posterior",
    "read_design",
]

#: The design file an oTree project of the lab reads (beside its settings.py).
DESIGN_FILE = "lab_design.json"
#: Version of the design file's layout.
FORMAT = 1


def message_label(m: int) -> str:
    """How message ``m`` (0-based) is shown to participants: A, B, C, ... then M27, M28, ..."""
    return string.ascii_uppercase[m] if m < 26 else f"M{m + 1}"


@dataclass(frozen=True)
class Treatment:
    """One arm of the experiment: the speakers present (indices in game order) and whether the
    participant is shown their committed schemes."""

    name: str
    speakers: tuple[int, ...]
    show_schemes: bool


@dataclass
class Design:
    """A game, its committed schemes ``[R, X_i, M]`` (one per speaker) and the session's settings."""

    game: Game
    schemes: list[np.ndarray]
    trials: int
    treatments: tuple[Treatment, ...]
    points_per_utility: float = 10.0
    payment_per_point: float = 0.01

    def treatment(self, name: str) -> Treatment:
        """The treatment called ``name``."""
        for t in self.treatments:
            if t.name == name:
                return t
        raise SpecError("treatment", f"no treatment {name!r}; treatments are {[t.name for t in self.treatments]}")

    def to_json(self) -> dict[str, Any]:
        """The design as plain data (the layout of ``lab_design.json``)."""
        names = self.game.speaker_names
        return {
            "format": FORMAT,
            "game": self.game.to_dict(),
            "schemes": {n: s.tolist() for n, s in zip(names, self.schemes, strict=True)},
            "trials": self.trials,
            "treatments": [
                {"name": t.name, "speakers": [names[i] for i in t.speakers], "show_schemes": t.show_schemes}
                for t in self.treatments
            ],
            "points_per_utility": self.points_per_utility,
            "payment_per_point": self.payment_per_point,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Design:
        """Rebuild a design from :meth:`to_json`'s layout, validating the game and the schemes."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise SpecError("format", f"not a lab design file of format {FORMAT}")
        game = Game.from_dict(data["game"])
        raw = data["schemes"]
        schemes = [np.array(check_scheme(game, i, raw[n]), dtype=np.float64) for i, n in enumerate(game.speaker_names)]
        treatments = tuple(
            Treatment(str(t["name"]), tuple(game.speaker_index(n) for n in t["speakers"]), bool(t["show_schemes"]))
            for t in data["treatments"]
        )
        return cls(
            game,
            schemes,
            int(data["trials"]),
            treatments,
            float(data["points_per_utility"]),
            float(data["payment_per_point"]),
        )

    def write(self, path: str | Path) -> None:
        """Write the design file (JSON)."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


def read_design(path: str | Path) -> Design:
    """Read a design file, or the one inside an oTree project folder."""
    path = Path(path)
    if path.is_dir():
        path = path / DESIGN_FILE
    if not path.is_file():
        raise SpecError("design", f"{path} does not exist (is this a folder written by persuaders-lab create?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecError("design", f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return Design.from_json(data)


@dataclass
class Trial:
    """One trial drawn on the server: the state, every party's signal and the messages ``[R][k]``
    (-1 for a speaker who is absent in the treatment)."""

    state: int
    user_signal: int
    signals: list[int]
    messages: list[list[int]]


def _draw(rng: np.random.Generator, p: np.ndarray) -> int:
    return int(rng.choice(len(p), p=p / p.sum()))


def draw_trial(design: Design, treatment: Treatment, rng: np.random.Generator) -> Trial:
    """Draw a trial as "One episode" of docs/science.md (module docstring)."""
    game = design.game
    y = _draw(rng, game.prior)
    x0 = _draw(rng, game.user.observation[y])
    xs = [_draw(rng, s.observation[y]) for s in game.speakers]
    messages = [
        [_draw(rng, design.schemes[i][t, xs[i]]) if i in treatment.speakers else -1 for i in range(game.n_speakers)]
        for t in range(game.rounds)
    ]
    return Trial(y, x0, xs, messages)


def heard_likelihood(
    game: Game,
    schemes: Sequence[np.ndarray],
    user_signal: int,
    messages: Sequence[Sequence[int]],
) -> np.ndarray:
    """``lik(y) = O_0[y, x0] prod_{i present} prod_t l_i^t(y)`` (module docstring), the probability of
    her signal and every message she heard in each state; a message of -1 (an absent speaker) is
    not heard and contributes no factor. ``schemes`` are ``[R, X_i, M]`` in speaker order."""
    belief = BeliefState(game, 1)
    lik = np.array(game.user.observation[:, user_signal], dtype=np.float64)
    for t, row in enumerate(messages):
        for i, m in enumerate(row):
            if m >= 0:
                lik = lik * belief.update(i + 1, schemes[i][t], np.array([m]))[0]
    return lik


def posterior(game: Game, likelihood: np.ndarray) -> np.ndarray:
    """Her exact posterior ``mu0(y) lik(y) / sum_y' mu0(y') lik(y')``."""
    w = game.prior * likelihood
    out: np.ndarray = w / w.sum()
    return out
