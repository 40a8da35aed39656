"""The competition experiment (the paper's Experiment 1): best-response dynamics on random games.

``persuaders-experiment competition --config configs/experiments/competition.yaml
[--games N] [--out DIR] [--seed N] [--workers N] [--rounds R ...] [--states S ...] [--messages M]
[--protocol P]`` (or ``persuaders-experiment competition ...``)

Best-response dynamics of the best-AI selection game on
many seeded random games (:func:`persuaders.envs.game.random_games.random_game`), for k = 1..8 speakers, in two
regimes: the user's utility inside the convex hull of the speakers' (eps = 0) and far from it
(eps >= ``epsilon``, 0.25 by default). For each game the dynamics start from babbling; the user's
exact utility at the outcome is normalised so that no information is 0 and full information is 1,

    normalised = (V - V_no_information) / (V_full_information - V_no_information),

(games where information is worth less than ``min_information_value`` to the user are redrawn
and counted). Reported per (regime, k): the number of games, the fraction where the dynamics
converged, the mean normalised utility over converged games with a 95% confidence interval
(1.96 standard errors), the same over all games, and the fraction of converged games within
1e-6 of the best-AI bound. Theory (docs/science.md, "The best-AI bound"): inside the hull, every converged
outcome gives the user at least her full-information value (normalised >= 1 up to the logit
loss) when k >= 2; outside it, not necessarily.

Across rounds and states (``--rounds 1 2 --states 2 3 4``): the same games (one seed per
(regime, k, index), whatever the rounds) are played with each number of rounds, so rounds are
compared game by game; games with more than two states, or more than one round, run on the
general best responses (docs/science.md, "Experiments across rounds and states").
Rows then also carry ``rounds``, ``states`` and ``messages``, and the mean certified
exploitability (upper bound) of the converged outcomes.

A non-Bayesian user (``user: {model: grether, alpha: 0.5, beta: 1}``, docs/science.md,
"Non-Bayesian users") replaces the random game's Bayesian user in the dynamics; the normalisation
keeps the Bayesian user's no- and full-information values (a common scale), and each game also
records her own values and bound and the Bayesian user's bound (``bayes_bound``). Exact dynamics
need a Bayesian equivalent: the ``simultaneous`` protocol, and (beyond shrinkage and Grether with
``beta = 1``) two states under the best response.

``persuaders-experiment hull`` is the convex-hull experiment (Experiment 2,
:mod:`persuaders.eval.experiments.hull`); docs/science.md, "Experiments", describes both.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel, user_model_class
from persuaders.envs.game.validation import SpecError, as_float, as_int, check_keys
from persuaders.eval.dynamics.best_response import best_response_dynamics
from persuaders.eval.experiments.runner import run_games
from persuaders.eval.theory import (
    best_ai_bound,
    competition_bound,
    full_information_value,
    no_information_value,
)

__all__ = [
    "COMPETITION_DEFAULTS",
    "FULL_INFO_TOL",
    "load_competition_config",
    "game_seed",
    "one_game",
    "aggregate",
    "plot_competition",
    "plot_competition_rounds",
    "run_competition",
]

COMPETITION_DEFAULTS: dict[str, Any] = {
    "k_values": [1, 2, 3, 4, 5, 6, 7, 8],
    "games": 200,
    "regimes": ["inside", "outside"],
    "epsilon": 0.25,
    "n_states": 2,
    "n_actions": 3,
    "rationality": "inf",
    "messages": None,  # default n_states + 1: enough for any constrained best response
    "seed": 0,
    "tol": 1e-6,
    "max_passes": 50,
    "min_information_value": 0.01,
    "workers": 2,
    "rounds": [1],
    "states": None,  # default [n_states]
    "protocol": "best_ai",
    "user": None,  # a non-Bayesian user {model: grether, alpha: ..., beta: ...}; None: the Bayesian user
}


def load_competition_config(path: str | Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The experiment's configuration: :data:`COMPETITION_DEFAULTS`, then the YAML file at ``path``,
    then the ``overrides`` that are not None; a bad key or value raises :class:`SpecError` naming it."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise SpecError("config", f"{p} does not exist")
        raw = yaml.safe_load(p.read_text()) or {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    check_keys(raw, "", COMPETITION_DEFAULTS.keys())
    cfg = {**COMPETITION_DEFAULTS, **raw}
    ks = cfg["k_values"]
    if not isinstance(ks, list) or not ks:
        raise SpecError("k_values", "expected a non-empty list of speaker counts")
    cfg["k_values"] = [as_int(k, "k_values", minimum=1) for k in ks]
    for key, minimum in [
        ("games", 1),
        ("n_states", 2),
        ("n_actions", 2),
        ("seed", 0),
        ("max_passes", 1),
        ("workers", 1),
    ]:
        cfg[key] = as_int(cfg[key], key, minimum=minimum)
    if not isinstance(cfg["regimes"], list) or not set(cfg["regimes"]) <= {"inside", "outside"} or not cfg["regimes"]:
        raise SpecError("regimes", "expected a list drawn from inside, outside")
    cfg["epsilon"] = as_float(cfg["epsilon"], "epsilon", exclusive_minimum=0.0)
    cfg["tol"] = as_float(cfg["tol"], "tol", exclusive_minimum=0.0)
    cfg["min_information_value"] = as_float(cfg["min_information_value"], "min_information_value", minimum=0.0)
    lam = as_float(cfg["rationality"], "rationality", exclusive_minimum=0.0, allow_inf=True)
    cfg["rationality"] = "inf" if math.isinf(lam) else lam
    if cfg["messages"] is not None:
        cfg["messages"] = as_int(cfg["messages"], "messages", minimum=1)
    for key in ("rounds", "states"):
        if cfg[key] is None:
            cfg[key] = [cfg["n_states"]]
        if not isinstance(cfg[key], list) or not cfg[key]:
            raise SpecError(key, "expected a non-empty list of integers")
        cfg[key] = [as_int(v, key, minimum=2 if key == "states" else 1) for v in cfg[key]]
    if cfg["protocol"] not in ("best_ai", "simultaneous"):
        raise SpecError("protocol", f"expected best_ai or simultaneous, got {cfg['protocol']!r}")
    if cfg["user"] is not None:
        user_model(cfg)  # validates the model and its parameters
    return cfg


def user_model(cfg: dict[str, Any]) -> UserModel | None:
    """The non-Bayesian user of the configuration (``user: {model: NAME, <parameters>}``, with the
    configuration's ``rationality``), or None for the Bayesian user of the random games."""
    spec = cfg.get("user")
    if spec is None:
        return None
    if not isinstance(spec, dict) or "model" not in spec:
        raise SpecError("user", "expected a mapping {model: NAME, <its parameters>} or null")
    cls = user_model_class(spec["model"], "user.model")
    fields = {k: v for k, v in spec.items() if k != "model"}
    fields.setdefault("rationality", cfg["rationality"])
    return cls.from_fields(fields, "user")


def _with_user(game: Game, cfg: dict[str, Any]) -> tuple[Game, dict[str, Any]]:
    """The game with the configuration's non-Bayesian user (docs/science.md, "Non-Bayesian users"),
    and what to record beside: her own no- and full-information values and competition bound, and
    the Bayesian user's bound (``bayes_bound``), which she may fall short of."""
    model = user_model(cfg)
    if model is None:
        return game, {}
    theirs = game.replace(user_model=model)
    return theirs, {
        "user_model": model.label(),
        "own_no_information": no_information_value(theirs),
        "own_full_information": full_information_value(theirs),
        "own_bound": competition_bound(theirs),
        "bayes_bound": competition_bound(game),
    }


#: A converged outcome counts as full information when the user's value is within this of it
#: (the dynamics stop at gains below ``tol`` = 1e-6).
FULL_INFO_TOL = 1e-6


def game_seed(base: int, regime: str, k: int, index: int) -> int:
    """A distinct, reproducible seed for each game of the experiment."""
    return (base * 1_000_003 + (0 if regime == "inside" else 500_009) + k * 10_007 + index) % (2**31 - 1)


def one_game(args: tuple[Any, ...]) -> dict[str, Any]:
    """Draw the ``index``-th usable game of (regime, k) and run best-AI best-response dynamics on it.

    Games where information is worth less than ``min_information_value`` to the user (for a best
    responder: the same action is best in every state) have no meaningful normalisation; they are
    redrawn (with the next seed) and counted in ``redrawn``.
    """
    regime, k, index, cfg = args[:4]
    rounds, states = args[4:] if len(args) > 4 else (1, cfg["n_states"])
    messages = cfg["messages"] if cfg["messages"] is not None else states + 1
    for attempt in range(1000):
        seed = game_seed(cfg["seed"], regime, k, index * 1000 + attempt)
        game = random_game(
            k,
            states,
            cfg["n_actions"],
            seed=seed,
            regime=regime,
            epsilon=cfg["epsilon"],
            rationality=cfg["rationality"],
            messages=messages,
            rounds=rounds,
        )
        ni, fi = no_information_value(game), full_information_value(game)
        if fi - ni >= cfg["min_information_value"]:
            break
    else:
        raise RuntimeError(f"no game with information worth {cfg['min_information_value']} found for {regime}, k={k}")
    protocol = cfg.get("protocol", "best_ai")
    played, extra = _with_user(game, cfg)
    res = best_response_dynamics(played, protocol=protocol, tol=cfg["tol"], max_passes=cfg["max_passes"])
    bound = best_ai_bound(played) if protocol == "best_ai" else competition_bound(played)
    ex = res.exploitability
    out = {
        "regime": regime,
        "k": k,
        "index": index,
        "seed": seed,
        "redrawn": attempt,
        "no_information": ni,
        "full_information": fi,
        "best_ai_bound": bound,
        "converged": bool(res.converged),
        "passes": int(res.passes),
        "user_value": float(res.user_value),
        "normalized": (res.user_value - ni) / (fi - ni),
        "exploitability": float(ex.exploitability) if ex is not None else None,
    }
    out.update(
        rounds=rounds,
        states=states,
        messages=messages,
        protocol=protocol,
        engine=res.engine,
        exploitability_upper=None if ex is None or not math.isfinite(ex.upper) else float(ex.upper),
        **extra,
    )
    return out


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (regime, k): counts, convergence, mean normalised utility with a 95% CI."""
    rows = []
    keys = sorted({(r.get("rounds", 0), r.get("states", 0), r["regime"], r["k"]) for r in records})
    for rounds, states, regime, k in keys:
        used = [
            r
            for r in records
            if r["regime"] == regime and r["k"] == k and r.get("rounds", 0) == rounds and r.get("states", 0) == states
        ]
        conv = [r for r in used if r["converged"]]
        x = np.array([r["normalized"] for r in conv])
        xa = np.array([r["normalized"] for r in used])

        def ci(a: np.ndarray) -> float:
            return float(1.96 * a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")

        rows.append(
            {
                "regime": regime,
                "k": k,
                "n_games": len(used),
                "n_redrawn": int(sum(r["redrawn"] for r in used)),
                "converged_fraction": len(conv) / len(used) if used else float("nan"),
                "mean_normalized_user_utility": float(x.mean()) if len(x) else float("nan"),
                "ci95": ci(x),
                "mean_normalized_user_utility_all": float(xa.mean()) if len(xa) else float("nan"),
                "ci95_all": ci(xa),
                "fraction_at_full_information": float(
                    np.mean([r["user_value"] >= r["full_information"] - FULL_INFO_TOL for r in conv])
                )
                if conv
                else float("nan"),
                "min_normalized_user_utility": float(x.min()) if len(x) else float("nan"),
                "fraction_meeting_best_ai_bound": float(
                    np.mean(
                        [r["user_value"] >= r["best_ai_bound"] - 1e-6 for r in conv if r["best_ai_bound"] is not None]
                    )
                )
                if conv
                else float("nan"),
            }
        )
        if rounds:  # rows of the across-rounds runs (every run since rounds and states were added)
            ups = [r["exploitability_upper"] for r in conv if r.get("exploitability_upper") is not None]
            rows[-1].update(
                rounds=rounds,
                states=states,
                messages=used[0]["messages"],
                mean_exploitability_upper=float(np.mean(ups)) if ups else float("nan"),
                max_exploitability_upper=float(np.max(ups)) if ups else float("nan"),
            )
    return rows


def plot_competition(rows: list[dict[str, Any]], path: Path, cfg: dict[str, Any]) -> None:
    """Mean normalised user utility against k, one line (with its 95% band) per regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4))
    styles = {
        "inside": ("tab:green", "inside the hull (eps = 0)"),
        "outside": ("tab:red", f"outside (eps >= {cfg['epsilon']})"),
    }
    for regime in cfg["regimes"]:
        rs = sorted((r for r in rows if r["regime"] == regime), key=lambda r: r["k"])
        k = np.array([r["k"] for r in rs])
        m = np.array([r["mean_normalized_user_utility"] for r in rs])
        c = np.array([r["ci95"] for r in rs])
        color, label = styles[regime]
        ax.plot(k, m, "o-", color=color, label=label)
        ax.fill_between(k, m - np.nan_to_num(c), m + np.nan_to_num(c), color=color, alpha=0.2)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1, label="full information")
    ax.axhline(0.0, color="gray", linestyle=":", linewidth=1, label="no information")
    ax.set_xlabel("number of competing speakers k")
    ax.set_ylabel("user utility (0 = no info, 1 = full info)")
    ax.set_title("Best-AI selection: best-response dynamics outcomes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_competition_rounds(rows: list[dict[str, Any]], path: Path, cfg: dict[str, Any]) -> None:
    """One panel per number of states: mean normalised user utility against k, a line per
    (regime, rounds) with its 95% band; the messages per round in each panel's title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states = sorted({r["states"] for r in rows})
    fig, axes = plt.subplots(1, len(states), figsize=(4.2 * len(states), 3.8), sharey=True, squeeze=False)
    colours = {"inside": "tab:green", "outside": "tab:red"}
    dashes = ["-", "--", ":", "-."]
    for ax, n in zip(axes[0], states, strict=True):
        for regime in cfg["regimes"]:
            for d, rounds in enumerate(cfg["rounds"]):
                rs = sorted(
                    (r for r in rows if r["states"] == n and r["rounds"] == rounds and r["regime"] == regime),
                    key=lambda r: r["k"],
                )
                if not rs:
                    continue
                k = np.array([r["k"] for r in rs])
                m = np.array([r["mean_normalized_user_utility"] for r in rs])
                c = np.nan_to_num(np.array([r["ci95"] for r in rs]))
                ax.plot(
                    k,
                    m,
                    marker="o",
                    linestyle=dashes[d % len(dashes)],
                    color=colours[regime],
                    label=f"{regime}, {rounds} round{'s' if rounds > 1 else ''}",
                )
                ax.fill_between(k, m - c, m + c, color=colours[regime], alpha=0.12)
        msgs = sorted({r["messages"] for r in rows if r["states"] == n})
        ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
        ax.axhline(0.0, color="gray", linestyle=":", linewidth=1)
        ax.set_title(f"{n} states, {', '.join(map(str, msgs))} messages per round")
        ax.set_xticks(sorted({r["k"] for r in rows}))
        ax.set_xlabel("number of competing speakers k")
    axes[0][0].set_ylabel("user utility (0 = no info, 1 = full info)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"Competition across rounds ({cfg.get('protocol', 'best_ai')}, best-response dynamics)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_competition(
    cfg: dict[str, Any], out: Path, progress: bool = True, ray: str | None = None
) -> list[dict[str, Any]]:
    """Every game of the configuration (in ``workers`` processes, or as Ray tasks with ``ray``: an
    address or ``local``; :mod:`persuaders.eval.experiments.runner`), aggregated; writes
    ``results.csv``, ``results.json``, ``games.json``, ``config.yaml`` and ``competition.png`` in
    ``out``, and ``games.jsonl``, the journal from which an interrupted run resumes. ``progress``
    shows a progress bar on stderr when stderr is a terminal."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (regime, k, g, cfg, r, n)
        for r in cfg["rounds"]
        for n in cfg["states"]
        for regime in cfg["regimes"]
        for k in cfg["k_values"]
        for g in range(cfg["games"])
    ]
    extended = len(cfg["rounds"]) > 1 or len(cfg["states"]) > 1
    t0 = time.perf_counter()
    records = run_games(
        one_game,
        jobs,
        workers=cfg["workers"],
        ray=ray,
        journal=out / "games.jsonl",
        progress=progress,
        desc="competition",
    )
    rows = aggregate(records)
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "games.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    if extended:
        plot_competition_rounds(rows, out / "competition_rounds.png", cfg)
    else:
        plot_competition(rows, out / "competition.png", cfg)
    elapsed = time.perf_counter() - t0
    print(f"{len(jobs)} games in {elapsed:.0f} s; results in {out}")
    lead = "| rounds | states | M " if extended else ""
    print(
        f"\n{lead}| regime | k | games | converged | mean normalised (converged) | 95% CI | at full info | mean (all) |"
        + (" certified expl. (mean / max) |" if extended else "")
    )
    print(
        ("|---:|---:|---:" if extended else "")
        + "|---|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|" if extended else "")
    )
    for r in rows:
        head = f"| {r['rounds']} | {r['states']} | {r['messages']} " if extended else ""
        tail = f" {r['mean_exploitability_upper']:.2g} / {r['max_exploitability_upper']:.2g} |" if extended else ""
        print(
            f"{head}| {r['regime']} | {r['k']} | {r['n_games']} | {r['converged_fraction']:.3f} | "
            f"{r['mean_normalized_user_utility']:.4f} | ±{r['ci95']:.4f} | {r['fraction_at_full_information']:.3f} | "
            f"{r['mean_normalized_user_utility_all']:.4f} |{tail}"
        )
    return rows
