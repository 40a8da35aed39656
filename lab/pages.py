"""What the participant's pages show, built on the server from the design and the stored trial.

Each function returns plain data for an oTree page's ``vars_for_template``; none of them is
given the trial's state or a message of a round not yet revealed, so nothing the participant
must not see yet can reach the browser. :func:`bot_choice` is the simulated participant of the
bots and the pilot: from the likelihood ``L`` of what she heard (docs/science.md, "The exact belief
update") she forms Grether's weighted belief ``p~(y) ∝ mu0(y)^alpha L(y)^beta`` (``alpha = beta =
1`` is the exact posterior) and responds by a logit ``softmax(lambda EU_p~)`` ("User models").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from persuaders.envs.game.users import expected_utilities, quantal_response
from persuaders.lab.design import Design, Treatment, heard_likelihood, message_label, posterior

__all__ = ["percent", "utility_table", "scheme_charts", "transcript", "bot_choice"]


def percent(p: float) -> str:
    """A probability as a rounded percentage for display ("42.9%")."""
    return f"{100 * p:.1f}".rstrip("0").rstrip(".") + "%"


def utility_table(design: Design) -> list[dict[str, Any]]:
    """Her points ``points_per_utility * u[a, y]`` per action (rows) and state (columns)."""
    g = design.game
    return [
        {"action": a, "points": [round(design.points_per_utility * float(v), 2) for v in g.user.utility[ai]]}
        for ai, a in enumerate(g.actions)
    ]


def _bars(row: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"label": message_label(m), "width": round(100 * float(p), 1), "text": percent(p)} for m, p in enumerate(row)
    ]


def scheme_charts(design: Design, treatment: Treatment, round_index: int) -> list[dict[str, Any]]:
    """Per present speaker, its committed scheme of round ``round_index`` (0-based) as one bar chart
    per signal: P(message | signal). A speaker who sees the state has one row per state; one with a
    noisy view also gets the chart of its signal given the state, ``O_i[y, x]``."""
    g = design.game
    charts = []
    for i in treatment.speakers:
        spk = g.speakers[i]
        sees = spk.sees_state
        names = list(g.states) if sees else [f"signal {x + 1}" for x in range(spk.n_signals)]
        rows = [
            {
                "signal": f"if the state is {n}" if sees else f"if its signal is {n}",
                "bars": _bars(design.schemes[i][round_index, x]),
            }
            for x, n in enumerate(names)
        ]
        view = (
            []
            if sees
            else [
                {
                    "signal": f"if the state is {y}",
                    "bars": [
                        {"label": names[x], "width": round(100 * float(p), 1), "text": percent(p)}
                        for x, p in enumerate(spk.observation[yi])
                    ],
                }
                for yi, y in enumerate(g.states)
            ]
        )
        charts.append({"speaker": spk.name, "rows": rows, "view": view})
    return charts


def transcript(
    design: Design, treatment: Treatment, messages: Sequence[Sequence[int]], upto: int
) -> list[dict[str, Any]]:
    """The messages of rounds ``0..upto`` (inclusive, 0-based) of the present speakers: only what
    has been revealed so far is passed on."""
    g = design.game
    last = treatment.speakers[-1]
    return [
        {
            "round": t + 1,
            "said": [
                {
                    "speaker": g.speakers[i].name,
                    "message": message_label(messages[t][i]),
                    "sep": "" if i == last else "; ",
                }
                for i in treatment.speakers
            ],
        }
        for t in range(upto + 1)
    ]


def bot_choice(
    design: Design,
    user_signal: int,
    messages: Sequence[Sequence[int]],
    rationality: float,
    rng: np.random.Generator,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> int:
    """A simulated participant's action: ``a ~ softmax(lambda EU_p~)`` at Grether's belief
    ``p~ ∝ mu0^alpha L^beta`` of what she heard (module docstring; ``alpha = beta = 1``: the exact
    posterior; ``lambda = inf``: the best response, ties split evenly)."""
    g = design.game
    lik = heard_likelihood(g, design.schemes, user_signal, messages)
    if alpha == 1.0 and beta == 1.0:
        belief = posterior(g, lik)
    else:
        with np.errstate(divide="ignore"):
            log_w = alpha * np.log(g.prior) + beta * np.log(lik)
        w = np.exp(log_w - log_w.max())
        belief = w / w.sum()
    eu = expected_utilities(belief, g.user.utility)
    probs = quantal_response(eu, float(rationality))
    return int(rng.choice(len(probs), p=probs / probs.sum()))
