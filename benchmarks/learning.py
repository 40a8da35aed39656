"""Learning quality and speed of every learner against the theory, measured in one run.

    python benchmarks/learning.py [--seeds 3] [--sb3-cap 300000]

Quality: the exact value of the learned schemes after the bundled configs' full budgets:
kg_logit (the prosecutor against the optimum 0.443670), hull_pair_logit (the user against her
full-information value) and kg (the prosecutor before a best-responding judge, optimum 0.6).
Speed: wall time and steps until the exact value of the committed scheme is first within 0.005
of the optimum on kg_logit and on kg, for the native PPO and MAPPO on the batched environment,
the exact-gradient reference learner (gradient steps on the exact payoff, no episodes sampled)
and SB3's PPO on the Gymnasium single-speaker view; medians over seeds. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from persuaders.envs.game import load_game
from persuaders.eval.theory import full_information_value
from persuaders.train.config import load_config
from persuaders.train.loop import train
from persuaders.train.sb3 import train_sb3

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "train"
OPTIMA = {"kg_logit": 0.443670, "kg": 0.6}
TOL = 0.005


def run_dir() -> str:
    return tempfile.mkdtemp() + "/run"


def quality(seeds: range) -> None:
    print("## Learning quality (full budget of the bundled config, exact values)\n")
    print("| config | seed | learned | theory | gap | wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    fi = full_information_value(load_game("hull_pair_logit"))
    rows = [
        ("kg_logit", "prosecutor", OPTIMA["kg_logit"]),
        ("hull_pair_logit", None, fi),
        ("kg", "prosecutor", OPTIMA["kg"]),
    ]
    for name, speaker, theory in rows:
        for seed in seeds:
            t = time.perf_counter()
            s = train(load_config(CONFIGS / f"{name}.yaml", [f"seed={seed}"]), run_dir(), progress=False)
            v = s["speaker_values"][speaker] if speaker else s["user_value"]
            who = speaker or "user"
            print(
                f"| {name}: {who} | {seed} | {v:.6f} | {theory:.6f} | {abs(v - theory):.6f} "
                f"| {time.perf_counter() - t:.1f} |",
                flush=True,
            )


def trainers(game: str, sb3_cap: int) -> dict[str, tuple[str, list[str]]]:
    """How each learner is trained towards the target on ``game``: (kind, config overrides)."""
    common = ["checkpoint_interval=100000", "eval_interval=2", "exploitability_interval=0"]
    exact = ["learner=exact_gradient", "n_envs=64", "eval_interval=1", "total_steps=64000"]
    return {
        "native PPO": ("native", [*common, "total_steps=2000000"]),
        "MAPPO": (
            "native",
            [*common, "total_steps=2000000", "learner=mappo", *(f"mappo.{k}" for k in _ppo_keys(game))],
        ),
        "exact gradient": ("native", ["checkpoint_interval=100000", "exploitability_interval=0", *exact]),
        "SB3 PPO": (
            "sb3",
            [
                f"total_steps={sb3_cap}",
                "eval_interval=4",
                "ppo.learning_rate=0.003",
                "ppo.update_epochs=4",
                "ppo.num_minibatches=4",
            ],
        ),
    }


def _ppo_keys(game: str) -> list[str]:
    """The bundled config's PPO hyperparameters, for MAPPO (``key=value``)."""
    cfg = load_config(CONFIGS / f"{game}.yaml")
    raw = (CONFIGS / f"{game}.yaml").read_text()
    return [f"{k}={v}" for k, v in cfg.hyperparameters["ppo"].to_dict().items() if f"  {k}:" in raw]


def speed(game: str, seeds: range, sb3_cap: int) -> None:
    opt = OPTIMA[game]
    print(f"\n## Learning speed on {game}: wall time to come within {TOL} of the optimum {opt}\n")
    print("| learner | seed | seconds | steps | reached |")
    print("|---|---:|---:|---:|---|")
    target = [f"target={{speaker: prosecutor, value: {opt}, tol: {TOL}}}"]
    times: dict[str, list[float]] = {}
    for name, (kind, overrides) in trainers(game, sb3_cap).items():
        for seed in seeds:
            cfg = load_config(CONFIGS / f"{game}.yaml", [*target, f"seed={seed}", *overrides])
            t = time.perf_counter()
            s: dict[str, Any] = (train if kind == "native" else train_sb3)(cfg, run_dir(), progress=False)
            el = time.perf_counter() - t
            reached = s["target_reached"]
            times.setdefault(name, []).append(el if reached else float("inf"))
            steps = reached["global_step"] if reached else s["global_step"]
            unit = " gradient" if name == "exact gradient" else ""
            if name == "exact gradient":  # its steps are gradient steps, 4 per iteration of n_envs episodes
                steps = 4 * steps // cfg.n_envs
            print(f"| {name} | {seed} | {el:.1f} | {steps}{unit} | {'yes' if reached else 'no (cap)'} |", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        "\nmedian seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in med.items())
        + " (inf: the target was not reached within the budget in most seeds)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sb3-cap", type=int, default=300_000, help="SB3 step budget per seed")
    parser.add_argument(
        "--sections", nargs="+", default=["quality", "kg_logit", "kg"], choices=["quality", "kg_logit", "kg"]
    )
    args = parser.parse_args()
    seeds = range(args.seeds)
    if "quality" in args.sections:
        quality(seeds)
    for game in ("kg_logit", "kg"):
        if game in args.sections:
            speed(game, seeds, args.sb3_cap)


if __name__ == "__main__":
    main()
