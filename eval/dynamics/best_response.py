"""Best-response dynamics among the speakers of a game.

Gauss-Seidel: the speakers, in turn, replace their scheme by an exact best response to the
others' current schemes; a speaker moves only when that gains it more than ``tol``. The dynamics
start from babbling and stop after a full pass in which nobody moves (converged) or after
``max_passes`` passes (docs/science.md, "Best-response dynamics"). Both protocols are supported:
``simultaneous`` (:mod:`persuaders.eval.dynamics.joint`) and ``best_ai`` with exact evaluation
(:mod:`persuaders.eval.dynamics.selection`); races are accelerated by
:mod:`persuaders.eval.dynamics.acceleration`. The final profile is scored with
:func:`persuaders.envs.payoff.evaluate` and its exploitability is checked independently with
:func:`persuaders.eval.exploitability.exploitability` (LPs, not the machinery here).

In a one-round game where each speaker's own signal takes at most two values of positive
probability (every two-state game whose speakers see the state), a split of its prior is a
distribution over one number in [0, 1] (:mod:`persuaders.eval.response.belief_line`), and the dynamics run
on that line as before. Every other game (several rounds, more states or signals) runs on the
general best responses (:mod:`persuaders.eval.dynamics.general`: sequence-form LPs, history-
dependent rules in ``simultaneous``, closed-loop solo rules in ``best_ai``; docs/science.md,
"Best-response dynamics over several rounds"); ``engine`` in the result says which.

**Messages.** The constrained problem has optimal splits with at most ``n_states + 1`` beliefs
and the unconstrained one with at most ``n_states``. If a best response needs more beliefs than
``M`` messages, the best split with at most two beliefs is used instead and ``restricted``
counts it; games built with ``messages = n_states + 1`` never need this.

``passes`` counts passes at the literal increment; ``accelerated_passes`` the kept accelerated
ones; ``max_passes`` bounds the former and ``20 * max_passes`` the latter, per stage.

``persuaders-dynamics GAME [--protocol P] [--json]`` runs them on a game.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import BestAI, Protocol, Simultaneous, resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics.general import general_dynamics
from persuaders.eval.dynamics.joint import simultaneous_dynamics
from persuaders.eval.dynamics.selection import best_ai_dynamics
from persuaders.eval.exploitability import Exploitability, exploitability
from persuaders.eval.response.belief_line import BeliefLine
from persuaders.eval.response.deviation import ETA
from persuaders.eval.response.rules import rule_to_jsonable
from persuaders.eval.theory.beliefs import PROB_TOL

__all__ = ["BRDynamicsResult", "best_response_dynamics", "on_belief_line", "ETA", "BeliefLine"]

#: Default belief-grid size for a smooth response.
DEFAULT_GRID = 501


@dataclass
class BRDynamicsResult:
    """Outcome of best-response dynamics.

    ``schemes[s]`` is speaker ``s``'s final scheme ``[X, M]`` (``[R, X, M]``, or a history-dependent
    :class:`~persuaders.eval.response.rules.TableRule`, from the general dynamics); ``user_value`` and
    ``speaker_values`` are exact (:func:`persuaders.envs.payoff.evaluate`); ``exploitability`` is the
    independent check of :func:`persuaders.eval.exploitability.exploitability` (None if not
    requested); ``history`` the user's value after each accepted pass; ``protocol`` the
    protocol's name.
    """

    game: str
    protocol: str
    converged: bool
    passes: int
    schemes: dict[str, np.ndarray]
    user_value: float
    speaker_values: dict[str, float]
    exploitability: Exploitability | None
    history: list[float] = field(default_factory=list)
    accelerated_passes: int = 0
    selection: dict[str, float] = field(default_factory=dict)
    restricted: int = 0
    engine: str = "line"

    def to_dict(self) -> dict[str, Any]:
        return {
            "game": self.game,
            "protocol": self.protocol,
            "converged": self.converged,
            "passes": self.passes,
            "accelerated_passes": self.accelerated_passes,
            "user_value": float(self.user_value),
            "speaker_values": {k: float(v) for k, v in self.speaker_values.items()},
            "selection": dict(self.selection),
            "exploitability": None if self.exploitability is None else self.exploitability.to_dict(),
            "schemes": {k: rule_to_jsonable(v) for k, v in self.schemes.items()},
            "profile": {k: rule_to_jsonable(v) for k, v in self.schemes.items()},
            "history": [float(h) for h in self.history],
            "restricted": self.restricted,
            "engine": self.engine,
        }


def _dynamics_protocol(protocol: Protocol | str) -> Protocol:
    """``simultaneous`` or ``best_ai`` with exact scores (the dynamics' best responses are exact)."""
    proto = resolve_protocol(protocol, "exact")
    if isinstance(proto, BestAI) and proto.n_eval == "exact":
        return proto
    if type(proto) is Simultaneous:
        return proto
    raise ValueError(
        f"best-response dynamics support simultaneous and best_ai with exact evaluation, not {proto.label()}"
    )


def best_response_dynamics(
    game: Game | str,
    protocol: Protocol | str = "best_ai",
    *,
    tol: float = 1e-6,
    max_passes: int = 50,
    grid: int | None = None,
    check: bool = True,
    progress: bool = False,
) -> BRDynamicsResult:
    """Gauss-Seidel best-response dynamics from babbling (see the module docstring).

    ``protocol``: ``best_ai`` (exact evaluation) or ``simultaneous`` (a name or a
    :class:`~persuaders.envs.game.protocols.Protocol`). ``tol``: a speaker moves only if it gains more
    than this, and the dynamics have converged after a pass where nobody moves. ``grid``:
    belief-grid size for a smooth response (default :data:`DEFAULT_GRID`). ``check``: also
    compute the final profile's exploitability with :mod:`persuaders.eval.exploitability`.
    ``progress``: a progress bar on stderr while the general (multi-round) best responses run, when
    stderr is a terminal.
    """
    game = load_game(game)
    proto = _dynamics_protocol(protocol)
    model = game.user.model
    if model.analytic is None:
        raise ValueError(
            f"best-response dynamics need exact best responses; user model {model.label()!r} names no analytic solver"
        )
    line = on_belief_line(game)
    if not line:
        run = general_dynamics(game, proto.joint, tol, max_passes, progress=progress)
    elif proto.joint:
        run = simultaneous_dynamics(game, tol, max_passes, grid or DEFAULT_GRID)
    else:
        run = best_ai_dynamics(game, tol, max_passes, grid or DEFAULT_GRID)
    final = evaluate(game, run.schemes, proto)
    expl = exploitability(run.schemes, game, protocol=proto) if check else None
    return BRDynamicsResult(
        game=game.name,
        protocol=proto.name,
        converged=run.converged,
        passes=run.passes,
        schemes=run.schemes,
        user_value=final.user_value,
        speaker_values=final.speaker_values,
        exploitability=expl,
        history=run.history,
        accelerated_passes=run.accelerated_passes,
        selection=final.selection,
        restricted=run.restricted,
        engine="line" if line else "general",
    )


def on_belief_line(game: Game) -> bool:
    """Whether the one-round belief-line dynamics apply: one round, every speaker with at most two
    signals of positive probability."""
    return game.rounds == 1 and all(int((game.prior @ s.observation > PROB_TOL).sum()) <= 2 for s in game.speakers)
