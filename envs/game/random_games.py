"""Seeded random games whose convex-hull distance is controlled.

The user's utility lies in the convex hull of the speakers' utilities (plus an offset) up to
``eps = min_{w in simplex, c} max_{a,y} |sum_i w_i U_i[a,y] + c - u[a,y]|`` (docs/science.md,
"The convex-hull distance").

* ``eps = 0`` (``regime="inside"``): speakers' utilities are iid uniform on [0, 1]; the user's is
  ``u = sum_i w_i U_i`` with ``w ~ Dirichlet(1)``, so it lies in [0, 1] and in the hull exactly.
* ``eps >= target`` (``regime="outside"``): a certificate direction ``g`` with ``sum g = 0`` and
  ``||g||_1 = 1`` (``+1/n`` on half of the (action, state) cells, ``-1/n`` on the other half) is
  drawn. Each speaker's utility is drawn uniform on [0, 1] and reflected (``U -> 1 - U``) when
  ``<g, U> > 0``, so every speaker is indifferent or opposed to the user along ``g``; the user's
  utility is a uniform draw mixed towards the indicator of ``g > 0`` until ``<g, u> >= target``.
  By LP duality, for any ``w >= 0`` and ``c``:
  ``max|sum w_i U_i + c - u| >= <g, u - sum w_i U_i - c> / ||g||_1 >= <g, u> >= target``, so even
  the cone distance (any nonnegative weights) is at least ``target``. Targets up to about 0.45
  are reachable (``<g, 1[g > 0]>`` is 1/2 for an even number of cells).

Priors are ``Dirichlet(1)``; every speaker sees the state; ``messages`` defaults to the number of
states, so full revelation is possible in one round.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from persuaders.envs.game.limits import check_count, check_entries, game_entries, lp_size
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError, as_int, as_seed

REGIMES = ("inside", "outside")


def random_game(
    k: int,
    n_states: int = 2,
    n_actions: int = 2,
    *,
    seed: int = 0,
    regime: str = "inside",
    epsilon: float = 0.2,
    rationality: float | str = "inf",
    messages: int | None = None,
    rounds: int = 1,
    visibility: str = "public",
) -> Game:
    """A random game with ``k`` speakers; ``regime`` ``inside`` gives eps = 0, ``outside`` eps >= ``epsilon``."""
    k = as_int(k, "k", minimum=1)
    n_states = as_int(n_states, "states", minimum=2)
    n_actions = as_int(n_actions, "actions", minimum=2)
    seed = as_seed(seed, "seed")
    check_random_game_size(k, n_states, n_actions, messages, rounds)
    if regime not in REGIMES:
        raise SpecError("regime", f"expected one of {', '.join(REGIMES)}, got {regime!r}")
    n = n_actions * n_states
    max_eps = (n // 2) / n - 1e-6
    if regime == "outside" and not 0 < epsilon <= max_eps:
        raise SpecError("epsilon", f"must be in (0, {max_eps:.3f}] for {n_actions}x{n_states} utilities, got {epsilon}")
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.ones(n_states))
    speakers = rng.random((k, n))
    if regime == "inside":
        w = rng.dirichlet(np.ones(k))
        user = w @ speakers
    else:
        signs = np.zeros(n)
        cells = rng.permutation(n)
        signs[cells[: n // 2]] = 1.0
        signs[cells[n // 2 : 2 * (n // 2)]] = -1.0
        g = signs / n
        flip = speakers @ g > 0
        speakers[flip] = 1.0 - speakers[flip]
        base = rng.random(n)
        top = (signs > 0).astype(float)
        # Smallest mixing weight alpha with <g, (1 - alpha) base + alpha top> >= epsilon.
        gb, gt = base @ g, top @ g
        alpha = 0.0 if gb >= epsilon else min(1.0, float((epsilon - gb) / (gt - gb)))
        user = (1 - alpha) * base + alpha * top
    shape = (n_actions, n_states)
    spec = {
        "name": f"random_k{k}_{regime}_s{seed}",
        "description": f"Random game (seed {seed}, regime {regime}"
        + (f", eps >= {epsilon}" if regime == "outside" else ", eps = 0")
        + ").",
        "states": [f"y{j}" for j in range(n_states)],
        "prior": prior.tolist(),
        "actions": [f"a{j}" for j in range(n_actions)],
        "user": {"name": "user", "utility": user.reshape(shape).tolist(), "rationality": rationality},
        "speakers": [{"name": f"ai{i}", "utility": speakers[i].reshape(shape).tolist()} for i in range(k)],
        "messages": messages if messages is not None else n_states,
        "rounds": rounds,
        "visibility": visibility,
    }
    return Game.from_dict(spec)


def check_random_game_size(
    k: int, n_states: int, n_actions: int, messages: int | None = None, rounds: int = 1, field: str = ""
) -> None:
    """Refuse (before any draw) a random game larger than :data:`~persuaders.envs.game.limits.limits`.

    ``field`` prefixes the names in the error (e.g. ``"states"`` for an experiment's list of sizes).
    """
    for value, name, key in ((k, "speakers", "k"), (n_states, "states", "states"), (n_actions, "actions", "actions")):
        check_count(value, field or key, name)
    m = as_int(messages, field or "messages", minimum=1) if messages is not None else n_states
    r = as_int(rounds, field or "rounds", minimum=1)
    check_count(m, field or "messages", "messages")
    check_count(r, field or "rounds", "rounds")
    check_entries(
        game_entries(n_states, n_actions, [n_states] * k, m, r),
        field or "states",
        f"a random game with {k} speakers, {n_states} states, {n_actions} actions, {m} messages and {r} rounds",
    )
    check_entries(
        lp_size(n_actions, [n_states]),
        field or "actions",
        f"the theory's linear program for {n_actions} actions and {n_states} states",
        "lp_size",
    )


def random_game_from_string(text: str) -> Game:
    """Parse ``random:k=3,states=2,actions=2,seed=0,regime=inside,epsilon=0.2,rationality=inf``."""
    body = text.split(":", 1)[1]
    keys = {
        "k": int,
        "states": int,
        "actions": int,
        "seed": int,
        "regime": str,
        "epsilon": float,
        "rationality": str,
        "messages": int,
        "rounds": int,
        "visibility": str,
    }
    kwargs: dict[str, Any] = {}
    for part in filter(None, body.split(",")):
        if "=" not in part:
            raise SpecError("game", f"random game option {part!r} is not key=value")
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in keys:
            raise SpecError("game", f"unknown random game option '{key}'; allowed: {', '.join(keys)}")
        try:
            kwargs[key] = keys[key](value)
        except ValueError:
            raise SpecError("game", f"random game option '{key}' must be {keys[key].__name__}, got {value!r}") from None
    if "k" not in kwargs:
        raise SpecError("game", "random game needs k=<number of speakers>")
    rationality = kwargs.pop("rationality", "inf")
    with contextlib.suppress(ValueError):  # not a number: the game's validation names the option
        rationality = float(rationality)
    try:
        return random_game(
            kwargs.pop("k"), kwargs.pop("states", 2), kwargs.pop("actions", 2), rationality=rationality, **kwargs
        )
    except SpecError as exc:  # name the option within the game string
        raise SpecError("game", f"random game option {exc.field}: {exc.message} (in {text!r})") from None
