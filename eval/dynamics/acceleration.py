"""Passes of best-response dynamics, with the acceleration of Bertrand races.

A *pass* lets every speaker, in turn, move to its best response (Gauss-Seidel); the dynamics stop
after a pass in which nobody moves (docs/science.md, "Best-response dynamics").

**Races.** In ``best_ai``, when two speakers both prefer being selected to the other's outcome,
each best response beats the other's user value by just ``ETA`` (1e-9): a Bertrand race whose
literal dynamics would take ``(V_end - V_start) / ETA`` passes. The race is accelerated: after
two consecutive passes made only of challengers' binding beats, passes run with a growing
increment (times 4 per kept pass): each speaker still decides as in the literal dynamics, and a
challenger's beat is then made by the larger increment (capped at its largest achievable user
value). A pass is kept while it stays such a race pass among the recent movers; otherwise it is
undone together with the accelerated pass before it (which may have jumped past the point where
the race changes) and the increment is divided by 8. A race that creeps at the largest increment
(each speaker's beat capped at what it can still give the user, so that every kept pass raises
the user's value by less than ``stall``, :data:`STALL_PASSES` times in a row) has no pure
resting point the acceleration can reach: the loop stops (``stalled race``) and the verdict is
left to the certificate. A loop given a ``deadline`` stops before a pass that would start after
it (``time budget``). In ``simultaneous``, a best responder's
ties make a similar race (each speaker nudging a posterior across an indifference belief by the
offset); there the offset is scaled the same way. :func:`accelerated_passes` runs this loop for
either protocol's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from typing import Protocol as TypingProtocol

import numpy as np

__all__ = ["STALL_PASSES", "DynamicsState", "DynamicsOutcome", "Passes", "accelerated_passes"]

#: Kept passes at the largest increment, in a row, each raising the user's value by less than
#: ``stall``, after which a race is declared stalled.
STALL_PASSES = 5


class DynamicsState(TypingProtocol):
    """What the loop needs of a protocol's dynamics state."""

    def snapshot(self) -> Any: ...

    def restore(self, snap: Any) -> None: ...

    def user_value(self) -> float: ...


class DynamicsOutcome(NamedTuple):
    """The final schemes ``[X_i, M]`` by speaker name and the loop's counts (see :func:`accelerated_passes`);
    ``stop`` says why the loop ended: ``no move`` (a pass in which nobody moved), ``cycle`` (the same
    values three times), ``stalled race``, ``max passes`` or ``time budget``."""

    schemes: dict[str, np.ndarray]
    converged: bool
    passes: int
    accelerated_passes: int
    history: list[float]
    restricted: int
    stop: str = "no move"


class Passes(NamedTuple):
    """What :func:`accelerated_passes` did: whether a pass ended with nobody moving, the passes at the
    literal increment and the accelerated ones, the user's value after each kept pass, and why it
    stopped (``no move``, ``cycle``, ``stalled race``, ``max passes`` or ``time budget``)."""

    converged: bool
    passes: int
    accelerated: int
    history: list[float]
    stop: str


def _revisited(signature: Callable[[], Any] | None, seen: dict[Any, int]) -> bool:
    """Count the state's ``signature()`` in ``seen``; True at its third visit (a best-response cycle)."""
    if signature is None:
        return False
    sig = signature()
    seen[sig] = seen.get(sig, 0) + 1
    return seen[sig] >= 3


def accelerated_passes(
    state: DynamicsState,
    step: Callable[[float], tuple[Sequence[Any], bool, bool]],
    max_passes: int,
    max_scale: float,
    rollback: bool = True,
    signature: Callable[[], Any] | None = None,
    stall: float = 0.0,
    deadline: float | None = None,
) -> Passes:
    """Passes of ``step(scale) -> (pattern, moved, race)`` with race acceleration (module docstring).

    ``pattern[i]`` is speaker ``i``'s move in the pass (falsy or ``"stay"`` when it kept its
    scheme); ``race`` says every move was a race move. ``scale`` multiplies the literal increment.
    After two consecutive race passes at the literal increment, passes run at a growing scale and
    are kept while they remain race passes whose movers already moved in the last two kept
    passes. Any other pass is undone (with ``rollback``, together with the accelerated pass
    before it, which may have jumped past the point where the race changes) and the scale is
    divided by 8. With ``signature``, a state seen three times (a best-response cycle) ends the
    loop. With ``stall > 0``, :data:`STALL_PASSES` kept passes in a row at ``max_scale`` that each
    raise the user's value by less than ``stall`` end it too (``stalled race``, module docstring).
    With ``deadline`` (a :func:`time.monotonic` reading), no pass starts after it (``time budget``).
    Returns the :class:`Passes`.
    """
    scale = 1.0
    kept: list[tuple[frozenset[int], bool, float, Any]] = []
    history: list[float] = []
    passes = accel = 0
    converged = False
    stop = "max passes"
    seen: dict[Any, int] = {}
    stalled = 0
    for _ in range(200 * max_passes):
        late = deadline is not None and time.monotonic() >= deadline
        if late or passes >= max_passes or accel >= 20 * max_passes:
            stop = "time budget" if late else stop
            break
        snap = state.snapshot()
        pattern, moved, race = step(scale)
        movers = frozenset(i for i, p in enumerate(pattern) if p and p != "stay")
        recent = frozenset().union(*(m for m, *_ in kept[-2:])) if kept else frozenset()
        steady = race and bool(movers) and len(kept) >= 2 and movers <= recent and all(r for _, r, *_ in kept[-2:])
        if scale > 1.0:
            if steady:
                accel += 1
                kept.append((movers, race, scale, snap))
                before = history[-1] if history else None
                history.append(state.user_value())
                creeping = scale >= max_scale and before is not None and abs(history[-1] - before) < stall
                stalled = stalled + 1 if creeping else 0
                if stalled >= STALL_PASSES:
                    stop = "stalled race"
                    break
                scale = min(4.0 * scale, max_scale)
                if _revisited(signature, seen):
                    stop = "cycle"
                    break
            else:
                state.restore(snap)
                if rollback and kept and kept[-1][2] > 1.0:
                    _, _, prev_scale, prev_snap = kept.pop()
                    history.pop()
                    state.restore(prev_snap)
                    scale = max(1.0, prev_scale / 8.0)
                else:
                    scale = max(1.0, scale / 8.0)
            continue
        passes += 1
        if not moved:
            converged, stop = True, "no move"
            history.append(state.user_value())
            break
        if race and kept and kept[-1][1]:
            scale = 4.0
        kept.append((movers, race, 1.0, snap))
        history.append(state.user_value())
        if _revisited(signature, seen):
            stop = "cycle"
            break
    return Passes(converged, passes, accel, history, stop)
