"""Size limits: games, grids and sweeps whose work or memory is too large are refused before any work.

A game file, a ``random:...`` string or a command-line option can ask for sizes that would keep a
command busy for hours or exhaust the machine's memory (``rounds: 1000000000``,
``random:k=2,states=100000``, ``--grid 1000000000``). Every such size is checked where it enters
(:meth:`~persuaders.envs.game.spec.Game.from_dict`, :func:`~persuaders.envs.game.random_games.random_game`,
the option checks of the commands) against :data:`limits`, and refused in one line that names the
field and the limit, before any array is allocated.

The measure of memory is the number of array entries (float64, 8 bytes each) that the game's own
arrays and one profile of schemes hold:

    entries = Y * (A * (k + 1) + X_0 + sum_i X_i) + R * (sum_i X_i * M + X_0 * Z)

with ``Y`` states, ``A`` actions, ``k`` speakers with ``X_i`` signals (``X_i = Y`` when a speaker
sees the state), the user's ``X_0`` signals and ``Z`` messages per round, ``M`` messages and ``R``
rounds (docs/trust.md, "Limits"). The work of the theory is bounded through the size of its
largest linear program (:func:`lp_size`). A belief grid of ``G`` points per axis over ``d`` free
coordinates holds ``G ** d`` points; a sweep of ``n`` games over ``Y`` states holds ``n * Y``.

:data:`limits` is the one setting. Each field starts from the environment variable
``PERSUADERS_MAX_<FIELD>`` (for example ``PERSUADERS_MAX_ENTRIES=1000000000`` on a machine with
16 GB to spare) and can be changed in Python (``limits.entries = 10**9``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from persuaders.envs.game.validation import SpecError

__all__ = ["Limits", "limits", "check_count", "check_entries", "game_entries", "lp_size"]

_DEFAULTS = {
    "states": 10_000,
    "actions": 10_000,
    "signals": 10_000,
    "messages": 10_000,
    "rounds": 1_000,
    "speakers": 100,
    "entries": 50_000_000,
    "lp_size": 300_000_000,
    "grid": 100_000,
    "games": 100_000,
    "yaml_bytes": 16 * 1024 * 1024,
    "yaml_depth": 32,
}


def _from_env(name: str) -> int:
    variable = f"PERSUADERS_MAX_{name.upper()}"
    text = os.environ.get(variable)
    if text is None or text.strip() == "":
        return _DEFAULTS[name]
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise SpecError(variable, f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise SpecError(variable, f"expected a positive integer, got {text!r}")
    return value


@dataclass
class Limits:
    """The largest sizes accepted. Defaults suit a machine with a few GB of memory to spare.

    ``states``, ``actions``, ``signals``, ``messages``, ``rounds``, ``speakers``: the largest count of each
    in a game; ``entries``: the largest number of array entries a game and one profile of schemes
    hold (module docstring; 50 million entries is 400 MB of float64); ``lp_size``: the largest
    single-sender obedience linear program the theory builds for a game, in rows x columns
    (:func:`lp_size`; at the default it solves in seconds); ``grid``: the largest number of
    belief-grid points (``G ** d``); ``games``: the largest number of games in a sweep or experiment;
    ``yaml_bytes`` and ``yaml_depth``: the largest YAML file read and its deepest nesting.
    """

    states: int = _DEFAULTS["states"]
    actions: int = _DEFAULTS["actions"]
    signals: int = _DEFAULTS["signals"]
    messages: int = _DEFAULTS["messages"]
    rounds: int = _DEFAULTS["rounds"]
    speakers: int = _DEFAULTS["speakers"]
    entries: int = _DEFAULTS["entries"]
    lp_size: int = _DEFAULTS["lp_size"]
    grid: int = _DEFAULTS["grid"]
    games: int = _DEFAULTS["games"]
    yaml_bytes: int = _DEFAULTS["yaml_bytes"]
    yaml_depth: int = _DEFAULTS["yaml_depth"]

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, each replaced by ``PERSUADERS_MAX_<FIELD>`` when that variable is set."""
        return cls(**{f.name: _from_env(f.name) for f in fields(cls)})


def _initial() -> Limits:
    try:
        return Limits.from_environment()
    except SpecError:  # a bad variable is reported when a limit is used, not at import
        return Limits()


#: The limits in force (module docstring): change a field to raise or lower it.
limits = _initial()


_UNITS = {"grid": "grid points", "games": "games or runs", "lp_size": "rows x columns"}


def _hint(name: str) -> str:
    return f"set PERSUADERS_MAX_{name.upper()} (or persuaders.envs.game.limits.limits.{name}) to raise it"


def _current() -> Limits:
    """:data:`limits`, after checking that the environment's variables (if any) are well formed."""
    Limits.from_environment()  # raises SpecError naming a malformed PERSUADERS_MAX_* variable
    return limits


def check_count(value: int, field: str, name: str) -> int:
    """``value`` (a count of states, rounds, ...) if it is at most ``limits.<name>``, else :class:`SpecError`."""
    limit = int(getattr(_current(), name))
    if value > limit:
        raise SpecError(field, f"{value} is more than the limit of {limit} {_UNITS.get(name, name)} ({_hint(name)})")
    return value


def check_entries(entries: float, field: str, what: str, name: str = "entries") -> None:
    """Refuse work whose array entries (or points, or games) exceed ``limits.<name>``; ``what`` says what."""
    limit = int(getattr(_current(), name))
    if entries > limit:
        shown = f"{entries:.3g}" if entries >= 1e6 else str(int(entries))
        unit = _UNITS.get(name, name)
        raise SpecError(field, f"{what} would hold {shown} {unit}, more than the limit of {limit} ({_hint(name)})")


def game_entries(
    n_states: int,
    n_actions: int,
    signals: list[int],
    messages: int,
    rounds: int,
    user_signals: int = 1,
    user_messages: int = 1,
) -> float:
    """The array entries a game and one profile of schemes hold (module docstring's formula).

    Computed in floating point, so that huge sizes give a huge number, never an overflow.
    """
    y, a, k, r, m = float(n_states), float(n_actions), len(signals), float(rounds), float(messages)
    x = float(math.fsum(signals))
    return y * (a * (k + 1) + user_signals + x) + r * (x * m + user_signals * user_messages)


def lp_size(n_actions: int, signals: list[int], user_signals: int = 1) -> float:
    """Rows x columns of the largest single-sender obedience linear program (docs/science.md): for
    speaker ``i``, ``A (A - 1) X_0 X_i`` obedience rows over ``A^X_0 X_i`` recommendation variables.

    Its solve time grows quickly with this size (a few seconds at 3e8 rows x columns on one core,
    over a minute at 2e9), so it is the work :data:`limits` bounds for the theory. Huge sizes give
    ``inf``, never an overflow.
    """
    a, x0 = float(n_actions), float(user_signals)
    if not signals or n_actions < 2:
        return 0.0
    x = float(max(signals))
    exponent = x0 * math.log(a)
    if exponent > 600:
        return math.inf
    return float(a * (a - 1) * x0 * x * a**x0 * x)
