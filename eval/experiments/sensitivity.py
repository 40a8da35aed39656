"""The sensitivity experiment (the paper's third): how much competition protects the user when the
AIs' utilities are perturbed away from the convex hull.

``persuaders-experiment sensitivity --config configs/experiments/sensitivity.yaml [--games N]
[--deltas D ...] [--ks K ...] [--protocol P] [--out DIR] [--workers N] [--ray [ADDRESS]]``

Each game starts inside the hull: :func:`~persuaders.envs.game.random_games.random_game` with
``regime=inside`` draws speakers whose utilities combine exactly into the user's (eps = 0). Each
speaker's utility is then perturbed by noise of sup norm ``delta``,

    U_i' = clip(U_i + delta Z_i, 0, 1),   Z_i uniform on [-1, 1]^(A x Y) scaled so that max |Z_i| = 1,

so that no entry moves by more than ``delta`` (clipping only shortens a move) and the perturbed
game lies at cone distance at most ``delta sum_i w_i`` from the user (``w`` the original fit's
weights). The same base game and the same noise direction ``Z`` are used at every ``delta`` (a
paired design: the curves show the effect of the perturbation's size, not of redrawing games).
Best-response dynamics (:func:`~persuaders.eval.dynamics.best_response_dynamics`, exact
evaluation) run on each perturbed game; the user's value is normalised so that no information is
0 and full information 1, and so is the bound ``full information - 2 eps`` (eps the perturbed
game's cone distance; docs/science.md, "The competition bound", "The best-AI bound").

Reported per ``(k, delta)``: games, the fraction whose dynamics converged (certified, "Verdicts of
the dynamics"), the mean normalised user value over converged games with a 95% confidence interval
(1.96 standard errors), the mean normalised bound and the fraction of converged games meeting it.
Outputs in ``--out``: ``results.csv``, ``results.json``, ``games.json``, ``games.jsonl`` (the
journal a run resumes from), ``config.yaml`` and ``sensitivity.png``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from persuaders.envs.game.limits import check_entries
from persuaders.envs.game.random_games import check_random_game_size, random_game
from persuaders.envs.game.safe_yaml import read_yaml_mapping
from persuaders.envs.game.spec import Game
from persuaders.envs.game.validation import SpecError, as_float, as_int, as_seed, check_keys
from persuaders.eval.dynamics.best_response import best_response_dynamics
from persuaders.eval.experiments.runner import run_games
from persuaders.eval.theory import (
    best_ai_bound,
    competition_bound,
    full_information_value,
    no_information_value,
)

__all__ = [
    "SENSITIVITY_DEFAULTS",
    "load_sensitivity_config",
    "perturbed",
    "one_game",
    "aggregate",
    "plot_sensitivity",
    "run_sensitivity",
]

SENSITIVITY_DEFAULTS: dict[str, Any] = {
    "k_values": [2, 3, 4],
    "deltas": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
    "games": 100,
    "n_states": 2,
    "n_actions": 3,
    "rationality": "inf",
    "messages": None,  # default n_states + 1
    "seed": 0,
    "tol": 1e-6,
    "max_passes": 50,
    "min_information_value": 0.01,
    "workers": 2,
    "protocol": "best_ai",
}


def load_sensitivity_config(path: str | Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """Read and validate a sensitivity config (keys of :data:`SENSITIVITY_DEFAULTS`), with overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = read_yaml_mapping(path, "config")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    check_keys(raw, "", SENSITIVITY_DEFAULTS.keys())
    cfg = {**SENSITIVITY_DEFAULTS, **raw}
    for key in ("k_values", "deltas"):
        if not isinstance(cfg[key], list) or not cfg[key]:
            raise SpecError(key, "expected a non-empty list")
    cfg["k_values"] = [as_int(k, "k_values", minimum=1) for k in cfg["k_values"]]
    cfg["deltas"] = [as_float(d, "deltas", minimum=0.0, maximum=1.0) for d in cfg["deltas"]]
    for key, minimum in [
        ("games", 1),
        ("n_states", 2),
        ("n_actions", 2),
        ("seed", 0),
        ("max_passes", 1),
        ("workers", 1),
    ]:
        cfg[key] = as_int(cfg[key], key, minimum=minimum)
    cfg["tol"] = as_float(cfg["tol"], "tol", exclusive_minimum=0.0)
    cfg["min_information_value"] = as_float(cfg["min_information_value"], "min_information_value", minimum=0.0)
    lam = as_float(cfg["rationality"], "rationality", exclusive_minimum=0.0, allow_inf=True)
    cfg["rationality"] = "inf" if math.isinf(lam) else lam
    if cfg["messages"] is not None:
        cfg["messages"] = as_int(cfg["messages"], "messages", minimum=1)
    if cfg["protocol"] not in ("best_ai", "simultaneous"):
        raise SpecError("protocol", f"expected best_ai or simultaneous, got {cfg['protocol']!r}")
    cfg["seed"] = as_seed(cfg["seed"], "seed")
    for k in cfg["k_values"]:
        check_random_game_size(k, cfg["n_states"], cfg["n_actions"], cfg["messages"], 1, "n_states")
    runs = cfg["games"] * len(cfg["k_values"]) * len(cfg["deltas"])
    check_entries(runs, "games", "the experiment (games x k_values x deltas)", "games")
    return cfg


def perturbed(game: Game, delta: float, directions: np.ndarray) -> Game:
    """The game with speaker ``i``'s utility ``clip(U_i + delta Z_i, 0, 1)`` (``directions[i] = Z_i``)."""
    d = game.to_dict()
    for i, spk in enumerate(d["speakers"]):
        u = np.asarray(spk["utility"], dtype=np.float64)
        spk["utility"] = np.clip(u + delta * directions[i], 0.0, 1.0).tolist()
    d["name"] = f"{game.name}_delta{delta:g}"
    return Game.from_dict(d)


def _base_game(cfg: dict[str, Any], k: int, index: int) -> tuple[Game, int, int]:
    """The ``index``-th usable inside-hull game with ``k`` speakers: (game, seed, redrawn)."""
    messages = cfg["messages"] if cfg["messages"] is not None else cfg["n_states"] + 1
    for attempt in range(1000):
        seed = (cfg["seed"] * 1_000_003 + k * 10_007 + index * 1000 + attempt) % (2**31 - 1)
        game = random_game(
            k,
            cfg["n_states"],
            cfg["n_actions"],
            seed=seed,
            regime="inside",
            rationality=cfg["rationality"],
            messages=messages,
        )
        if full_information_value(game) - no_information_value(game) >= cfg["min_information_value"]:
            return game, seed, attempt
    raise RuntimeError(f"no game with information worth {cfg['min_information_value']} found for k={k}")


def one_game(args: tuple[int, float, int, dict[str, Any]]) -> dict[str, Any]:
    """Perturb the ``index``-th base game of ``k`` speakers by ``delta`` and run the dynamics on it."""
    k, delta, index, cfg = args
    base, seed, redrawn = _base_game(cfg, k, index)
    rng = np.random.default_rng([seed, 7])
    z = rng.uniform(-1.0, 1.0, size=(k, base.n_actions, base.n_states))
    z /= np.abs(z).max(axis=(1, 2), keepdims=True)
    game = perturbed(base, delta, z)
    ni, fi = no_information_value(game), full_information_value(game)
    protocol = cfg["protocol"]
    bound = best_ai_bound(game) if protocol == "best_ai" else competition_bound(game)
    res = best_response_dynamics(game, protocol=protocol, tol=cfg["tol"], max_passes=cfg["max_passes"])
    ex = res.exploitability
    return {
        "k": k,
        "delta": delta,
        "index": index,
        "seed": seed,
        "redrawn": redrawn,
        "no_information": ni,
        "full_information": fi,
        "bound": bound,
        "normalized_bound": None if bound is None else (bound - ni) / (fi - ni),
        "converged": bool(res.converged),
        "reason": res.reason,
        "user_value": float(res.user_value),
        "normalized": (res.user_value - ni) / (fi - ni),
        "exploitability_upper": None if ex is None or not math.isfinite(ex.upper) else float(ex.upper),
    }


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per ``(k, delta)``: counts, convergence, the mean normalised value and bound."""
    rows = []
    for k, delta in sorted({(r["k"], r["delta"]) for r in records}):
        used = [r for r in records if r["k"] == k and r["delta"] == delta]
        conv = [r for r in used if r["converged"]]
        x = np.array([r["normalized"] for r in conv])
        b = np.array([r["normalized_bound"] for r in conv if r["normalized_bound"] is not None])
        holds = [r["user_value"] >= r["bound"] - 1e-6 for r in conv if r["bound"] is not None]
        rows.append(
            {
                "k": k,
                "delta": delta,
                "n_games": len(used),
                "converged_fraction": len(conv) / len(used),
                "mean_normalized_user_utility": float(x.mean()) if len(x) else float("nan"),
                "ci95": float(1.96 * x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan"),
                "mean_normalized_bound": float(b.mean()) if len(b) else float("nan"),
                "fraction_meeting_bound": float(np.mean(holds)) if holds else float("nan"),
            }
        )
    return rows


def plot_sensitivity(rows: list[dict[str, Any]], path: Path, cfg: dict[str, Any]) -> None:
    """The mean normalised user value (with its 95% band) and the mean normalised bound against the
    perturbation size, one colour per number of speakers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown"]
    for n, k in enumerate(sorted({r["k"] for r in rows})):
        rs = sorted((r for r in rows if r["k"] == k), key=lambda r: r["delta"])
        d = np.array([r["delta"] for r in rs])
        m = np.array([r["mean_normalized_user_utility"] for r in rs])
        c = np.nan_to_num(np.array([r["ci95"] for r in rs]))
        colour = colours[n % len(colours)]
        ax.plot(d, m, "o-", color=colour, label=f"user value, k = {k}")
        ax.fill_between(d, m - c, m + c, color=colour, alpha=0.2)
        ax.plot(d, [r["mean_normalized_bound"] for r in rs], "--", color=colour, label=f"bound, k = {k}")
    ax.axhline(1.0, color="gray", linestyle=":", linewidth=1)
    ax.axhline(0.0, color="gray", linestyle=":", linewidth=1)
    ax.set_ylim(-0.3, 1.1)  # a bound below 0 says nothing (information never hurts a best responder)
    ax.set_xlabel("perturbation of each AI's utility (sup norm)")
    ax.set_ylabel("user utility (0 = no info, 1 = full info)")
    ax.set_title(f"Sensitivity to perturbed AI utilities ({cfg['protocol']}, best-response dynamics)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_sensitivity(
    cfg: dict[str, Any], out: Path, progress: bool = True, ray: str | None = None
) -> list[dict[str, Any]]:
    """Every game of the configuration (local processes, or Ray tasks with ``ray``), aggregated;
    writes the outputs of the module docstring in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(k, d, g, cfg) for k in cfg["k_values"] for d in cfg["deltas"] for g in range(cfg["games"])]
    records = run_games(
        one_game,
        jobs,
        workers=cfg["workers"],
        ray=ray,
        journal=out / "games.jsonl",
        progress=progress,
        desc="sensitivity",
    )
    rows = aggregate(records)
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "games.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    plot_sensitivity(rows, out / "sensitivity.png", cfg)
    print(f"{len(jobs)} games; results in {out}")
    print("\n| k | delta | games | converged | mean normalised (converged) | 95% CI | mean bound | meets bound |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['k']} | {r['delta']:g} | {r['n_games']} | {r['converged_fraction']:.3f} | "
            f"{r['mean_normalized_user_utility']:.4f} | ±{r['ci95']:.4f} | {r['mean_normalized_bound']:.4f} | "
            f"{r['fraction_meeting_bound']:.3f} |"
        )
    return rows
