"""What a finished run reports: the exact outcome of its committed schemes beside the theory.

``summary.json`` (:func:`make_summary`) holds the exact user and speaker values of the final
profile, every analytic quantity of ``persuaders-bounds GAME --json``, the committed
schemes, and the profile's exploitability (each speaker's best unilateral gain).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from persuaders.envs.game.conversation import BeliefState
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.protocols import Protocol, resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.exploitability import exploitability
from persuaders.eval.theory import analytic_quantities
from persuaders.eval.theory.tables import format_rows, outcome_rows
from persuaders.train.config import RunConfig

__all__ = ["make_summary", "committed_schemes", "profile_exploitability", "format_outcome"]


def committed_schemes(game: Game, profile: dict[str, Any], protocol: Protocol | str) -> dict[str, list[Any]]:
    """The final schemes ``[R][X][M]`` per speaker.

    Exact for rules that ignore the history (one round with a silent user, fixed speakers). A
    learned multi-round rule depends on it: round ``t``'s entry is then the scheme on the path
    where the user and the speakers said message 0 in every earlier round (the whole policy is in
    the checkpoint). In a joint protocol that path is the shared conversation; under a selection
    protocol it is each speaker's solo thread (the user's messages and its own, observed as in a
    private thread: :meth:`ObservationLayout.for_thread`, docs/science.md, "Protocols").
    """
    proto = resolve_protocol(protocol)
    layout = ObservationLayout.for_game(game) if proto.joint else ObservationLayout.for_thread(game)
    names = game.speaker_names
    out: dict[str, list[Any]] = {n: [] for n in names}
    belief = BeliefState(game, 1)
    user = -np.ones((1, game.rounds), dtype=np.int64)
    said = -np.ones((1, game.rounds, game.n_speakers), dtype=np.int64)
    for t in range(game.rounds):
        belief.update(0, game.user.conversation[t], np.array([0]))
        user[0, t] = 0
        schemes = []
        for i, name in enumerate(names):
            if proto.joint:
                obs = layout.encode(np.array([t]), belief.speaker_belief(i), user, said[:, :, list(layout.heard(i))])
            else:  # its solo thread: the user and itself
                obs = layout.encode(np.array([t]), belief.belief([0, i + 1]), user, said[:, :, [i]])
            scheme = profile[name]
            schemes.append(scheme[t] if isinstance(scheme, np.ndarray) else scheme(obs)[0])
            out[name].append(np.asarray(schemes[-1], dtype=float).tolist())
        for i, scheme in enumerate(schemes):
            belief.update(i + 1, scheme, np.array([0]))
            said[0, t, i] = 0
    return out


def profile_exploitability(
    game: Game, schemes: dict[str, list[Any]], protocol: Protocol, profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Each speaker's best unilateral gain (:mod:`persuaders.eval.exploitability`) under ``protocol``, certified.

    In a game where a rule can depend on what was said (several rounds, or a user who speaks),
    the learned rules themselves (``profile``, functions of the observation) are assessed, each
    speaker's deviation ranging over every history-dependent rule; otherwise the committed
    ``schemes``.
    """
    history = game.rounds > 1 or any(z > 1 for z in game.user_message_counts)
    try:
        if history and profile is not None:
            res = exploitability(dict(profile), game, protocol)
        else:
            res = exploitability({n: np.asarray(s) for n, s in schemes.items()}, game, protocol)
    except ValueError as exc:
        return {"error": str(exc)}
    out = res.to_dict()
    out.pop("best_schemes", None)
    return out


def make_summary(
    cfg: RunConfig,
    profile: dict[str, Any],
    global_step: int,
    reached: dict[str, Any] | None = None,
    theory: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The exact outcome of ``profile`` in the config's game beside every analytic quantity (the
    ``summary.json`` layout)."""
    game = cfg.resolved_game
    final = evaluate(game, profile, protocol=cfg.resolved_protocol)
    summary: dict[str, Any] = {
        "game": game.name,
        "protocol": cfg.protocol,
        "n_eval": cfg.n_eval,
        "reward_mode": cfg.reward_mode,
        "seed": cfg.seed,
        "global_step": global_step,
        "user_value": final.user_value,
        "speaker_values": final.speaker_values,
        "bounds": theory if theory is not None else analytic_quantities(game),
        "schemes": committed_schemes(game, profile, cfg.resolved_protocol),
        "target_reached": reached,
    }
    summary["exploitability"] = profile_exploitability(game, summary["schemes"], cfg.resolved_protocol, profile)
    if final.selection:
        summary["selection"] = final.selection
        summary["solo_user_values"] = final.solo_user_values
    return summary


def exploitability_label(ex: dict[str, Any], speaker: str | None = None) -> str:
    """How far a stored exploitability (its JSON form) is known, as a suffix for a table label:
    ``""`` when settled (the certified bracket is within its tolerance), ``" (bracket)"`` when a
    finite upper bound brackets it, ``" (lower bound)"`` otherwise (docs/science.md,
    "Exploitability"). With ``speaker``, that speaker's gain alone."""
    tol = float(ex.get("tolerance", 0.0))
    if speaker is not None:
        upper, lower = ex.get("gain_upper", {}).get(speaker), ex.get("gain_lower", {}).get(speaker, 0.0)
        if upper is None:
            return "" if ex.get("exact", {}).get(speaker) else " (lower bound)"
        return "" if upper - lower <= tol else " (bracket)"
    status = ex.get("status")
    if status is None:  # a summary written before the status field
        return "" if all(ex.get("exact", {}).values()) else " (lower bound)"
    return {"settled": "", "bracket": " (bracket)"}.get(status, " (lower bound)")


def format_outcome(summary: dict[str, Any]) -> str:
    """The learned outcome beside the theory, as a small table."""
    rows = outcome_rows(
        summary["bounds"],
        [("user: learned profile", summary["user_value"])],
        {n: [("learned", v)] for n, v in summary["speaker_values"].items()},
    )
    ex = summary.get("exploitability", {})
    if "exploitability" in ex:
        label = exploitability_label(ex)
        rows.append(("exploitability" + label, ex["exploitability"]))
        if label and ex.get("upper") is not None:
            rows.append(("exploitability: certified upper bound", ex["upper"]))
    return format_rows(f"Learned outcome on {summary['game']} ({summary['protocol']}), exact:", rows, width=38)
