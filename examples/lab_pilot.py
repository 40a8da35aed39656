"""A pilot of the lab: bots with a known user model play it, and the fit recovers the model.

``python examples/lab_pilot.py [--game noisy_advisors] [--participants 40] [--trials 15]
[--rationality 10] [--seed 1] [--out pilot/] [--figure docs/figures/lab/pilot.png]``

Needs the ``lab`` extra (oTree). The whole loop of docs/lab.md, "A pilot":

1. ``persuaders-lab create`` writes the oTree project of the game with committed schemes (here
   the bundled ``full_revelation`` profile: each speaker reveals its own noisy signal);
2. ``otree test persuade N`` runs oTree's bots on every page; each bot chooses by a logit response
   ``softmax(lambda EU)`` at the exact posterior of what it heard, with ``lambda`` known
   (``LAB_BOT_RATIONALITY``);
3. ``persuaders-lab export`` writes one row per decision with the ``likelihood_<state>`` columns;
4. the rationality is fitted by maximum likelihood from the exported columns alone:
   ``post_n(y) ∝ prior(y) likelihood_n(y)``, ``log L(lambda) = sum_n log softmax(lambda EU_n)[a_n]``
   with ``EU_n = u post_n``, maximised over ``log lambda`` (scipy's bounded scalar minimiser); its
   standard error is ``1 / sqrt(-d² log L / d lambda²)`` at the optimum (observed information,
   by central differences).

It prints the true and fitted rationality and draws the log-likelihood profile.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from persuaders.envs.game import load_game
from persuaders.envs.game.spec import Game
from persuaders.lab.cli import main as lab_main


@dataclass
class Fit:
    """The fitted rationality, its standard error and the log-likelihood function of the data."""

    rationality: float
    stderr: float
    n: int


def _otree() -> str:
    found = shutil.which("otree", path=str(Path(sys.executable).parent)) or shutil.which("otree")
    if not found:
        raise SystemExit("error: otree is not installed (pip install 'competing-persuaders[lab]')")
    return found


def play(
    game: str,
    out: Path,
    participants: int,
    trials: int,
    rationality: float,
    seed: int,
    profile: tuple[str, str] = ("--profile", "full_revelation"),
    alpha: float = 1.0,
    beta: float = 1.0,
) -> Path:
    """Steps 1-3 of the module docstring; returns the choice-data CSV. ``profile`` is the option
    of ``persuaders-lab create`` that gives the schemes (``--run``, ``--schemes`` or ``--profile``)."""
    project = out / "project"
    if lab_main(["create", "--game", game, *profile, "--trials", str(trials), "--out", str(project)]) != 0:
        raise SystemExit(2)
    env = {
        **os.environ,
        "LAB_SEED": str(seed),
        "LAB_BOT_RATIONALITY": str(rationality),
        "LAB_BOT_ALPHA": str(alpha),
        "LAB_BOT_BETA": str(beta),
    }
    subprocess.run(
        [_otree(), "test", "persuade", str(participants), "--export", str(out / "otree_export")],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    choices = out / "choices.csv"
    if lab_main(["export", str(project), "--data", str(out / "otree_export" / "persuade.csv"), "--out", str(choices)]):
        raise SystemExit(2)
    return choices


def log_likelihood(game: Game, rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    """``lambda -> sum_n log softmax(lambda EU_n)[a_n]`` from the exported columns (module docstring)."""
    lik = np.array([[float(r[f"likelihood_{y}"]) for y in game.states] for r in rows])
    prior = np.array([[float(r[f"prior_{y}"]) for y in game.states] for r in rows])
    post = prior * lik
    post /= post.sum(axis=1, keepdims=True)
    eu = post @ game.user.utility.T  # [n, A]
    chosen = np.array([game.actions.index(r["action"]) for r in rows])

    def ll(lam: float) -> float:
        z = lam * eu
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(logp[np.arange(len(rows)), chosen].sum())

    return ll


def fit_rationality(game: Game, rows: list[dict[str, str]]) -> tuple[Fit, object]:
    """Step 4 of the module docstring."""
    ll = log_likelihood(game, rows)
    res = minimize_scalar(lambda t: -ll(float(np.exp(t))), bounds=(np.log(0.01), np.log(1000.0)), method="bounded")
    lam = float(np.exp(res.x))
    h = 1e-3 * lam
    curvature = (ll(lam + h) - 2 * ll(lam) + ll(lam - h)) / h**2
    return Fit(lam, float(1 / np.sqrt(-curvature)), len(rows)), ll


def figure(ll, fit: Fit, true: float, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The log-likelihood profile with the true and the fitted rationality."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.geomspace(max(true / 5, 0.05), true * 5, 200)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(grid, [ll(g) for g in grid], color="#4a7ab5")
    ax.axvline(true, color="k", ls="--", label=f"true λ = {true:g}")
    ax.axvline(fit.rationality, color="#c0392b", label=f"fitted λ = {fit.rationality:.2f} ± {fit.stderr:.2f}")
    ax.set_xscale("log")
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if grid[0] <= t <= grid[-1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("rationality λ")
    ax.set_ylabel("log-likelihood")
    ax.set_title(f"Bots in the lab: {fit.n} decisions, logit fitted from the export")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure_fit(fitted: dict, truth: dict[str, float], path: Path) -> None:  # type: ignore[type-arg]
    """The Grether fit of ``persuaders-fit`` beside the bots' true parameters: one panel per
    parameter, the estimate with its 95% interval and the true value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = fitted["models"]["grether"]
    fig, axes = plt.subplots(1, len(truth), figsize=(2.4 * len(truth), 3))
    for ax, (k, true) in zip(axes, truth.items(), strict=True):
        lo, hi = m["ci"][k]
        v = m["params"][k]
        ax.errorbar([0], [v], yerr=[[v - lo], [hi - v]], fmt="o", color="#c0392b", capsize=6, label="fitted, 95%")
        ax.axhline(true, color="k", ls="--", label="true")
        ax.set_xticks([])
        ax.set_title(k)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("Grether bots in the lab: persuaders-fit on the export")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fit_with_command(game: str, choices: Path) -> dict | None:  # type: ignore[type-arg]
    """``persuaders-fit CHOICES --game GAME --models logit,grether --json`` (docs/fitting.md), when
    that command is installed; None otherwise."""
    exe = shutil.which("persuaders-fit", path=str(Path(sys.executable).parent)) or shutil.which("persuaders-fit")
    if exe is None:
        return None
    res = subprocess.run(
        [exe, str(choices), "--game", game, "--models", "logit,grether", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict = json.loads(res.stdout)  # type: ignore[type-arg]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="noisy_advisors")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--run", help="a training run's directory: its committed schemes")
    src.add_argument("--schemes", help="a schemes file")
    p.add_argument("--participants", type=int, default=40)
    p.add_argument("--trials", type=int, default=15)
    p.add_argument("--rationality", type=float, default=10.0)
    p.add_argument("--alpha", type=float, default=1.0, help="the bots' Grether weight on the prior (1: Bayes)")
    p.add_argument("--beta", type=float, default=1.0, help="the bots' Grether weight on the evidence (1: Bayes)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="pilot")
    p.add_argument("--figure", default=None)
    args = p.parse_args()
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"error: out: {out} already exists; choose another --out")
    profile = (
        ("--run", args.run)
        if args.run
        else ("--schemes", args.schemes)
        if args.schemes
        else ("--profile", "full_revelation")
    )
    choices = play(
        args.game, out, args.participants, args.trials, args.rationality, args.seed, profile, args.alpha, args.beta
    )
    with choices.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    fit, ll = fit_rationality(load_game(args.game), rows)
    print(f"decisions: {fit.n}; bots: rationality {args.rationality:g}, alpha {args.alpha:g}, beta {args.beta:g}")
    print(f"logit fit of this script: rationality {fit.rationality:.3f} ± {fit.stderr:.3f}")
    fitted = fit_with_command(args.game, choices)
    if fitted is not None:
        for name, m in fitted["models"].items():
            params = ", ".join(
                f"{k} {v:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{k} {v:.3f}"
                for k, v in m["params"].items()
                for lo, hi in [m["ci"][k]]
            )
            print(
                f"persuaders-fit {name}: {params}; BIC {m['bic']:.1f}{' (chosen)' if name == fitted['chosen'] else ''}"
            )
    if args.figure:
        if fitted is not None and (args.alpha, args.beta) != (1.0, 1.0):
            truth = {"alpha": args.alpha, "beta": args.beta, "rationality": args.rationality}
            figure_fit(fitted, truth, Path(args.figure))
        else:
            figure(ll, fit, args.rationality, Path(args.figure))
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
