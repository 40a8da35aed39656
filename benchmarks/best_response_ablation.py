"""Which ingredients let PPO reach the optimum against a best-responding user: an ablation on kg.

    python benchmarks/best_response_ablation.py [--seeds 3] [--steps 1000000]

Against a best responder the sender's payoff jumps at the user's indifference belief and the
optimum (0.6 on kg, a supremum) sits exactly there (docs/science.md, "Single-sender optimum").
Starting from the logit recipe (configs/train/kg_logit.yaml) played against kg, each row adds or
removes one ingredient of configs/train/kg.yaml: ``expect_round`` rewards (the exact expected
payoff of the schemes played), the rationality homotopy (logit users with lam from 10 to 1000
over the first 60% of training, then the best responder) and annealed policy noise (log std to
-6 over the last 40%). Prints the exact value of the committed scheme per seed, its gap to 0.6
and the wall time, as a Markdown table. A second table runs the full recipe on seeded random
single-sender games with a best-responding user (2-3 states, 2-3 actions, as many messages as
actions) against their optimum from the obedience LP (``--random-games 0`` skips it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from persuaders.envs.game import random_game
from persuaders.eval.theory.single_sender import single_sender_optimum
from persuaders.train.config import load_config
from persuaders.train.loop import train

ROOT = Path(__file__).resolve().parent.parent
OPTIMUM = 0.6
HOMOTOPY = "rationality_schedule={start: 10, end: 1000, until: 0.6}"
ANNEAL = ["ppo.final_log_std=-6.0", "ppo.log_std_anneal_start=0.6"]
NO_HOMOTOPY = "rationality_schedule=null"
NO_ANNEAL = ["ppo.final_log_std=null", "ppo.log_std_anneal_start=0.6"]
VARIANTS: list[tuple[str, list[str]]] = [
    ("logit recipe (expect_all), no homotopy, no annealing", ["reward_mode=expect_all", NO_HOMOTOPY, *NO_ANNEAL]),
    ("expect_round only", [NO_HOMOTOPY, *NO_ANNEAL]),
    ("expect_round + annealed noise", [NO_HOMOTOPY, *ANNEAL]),
    ("expect_round + homotopy", [HOMOTOPY, *NO_ANNEAL]),
    ("expect_all + homotopy + annealed noise", ["reward_mode=expect_all", HOMOTOPY, *ANNEAL]),
    ("expect_round + homotopy + annealed noise (configs/train/kg.yaml)", []),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--random-games", type=int, default=6)
    parser.add_argument("--only-random", action="store_true", help="skip the ablation on kg")
    args = parser.parse_args()
    if not args.only_random:
        ablation(args)
    if args.random_games:
        random_games(args)


def ablation(args: argparse.Namespace) -> None:
    seeds = range(args.seeds)
    print(
        f"kg (optimum {OPTIMUM}), {args.steps:,} steps, 1024 episodes per iteration; "
        "exact value of the committed scheme\n"
    )
    print("| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | worst gap | within 0.005 | wall s (mean) |")
    print("|---|" + "---:|" * len(seeds) + "---:|---|---:|")
    for label, overrides in VARIANTS:
        values, times = [], []
        for seed in seeds:
            cfg = load_config(
                ROOT / "configs" / "train" / "kg.yaml",
                [
                    f"seed={seed}",
                    f"total_steps={args.steps}",
                    "exploitability_interval=0",
                    "checkpoint_interval=100000",
                    *overrides,
                ],
            )
            t = time.perf_counter()
            summary = train(cfg, Path(tempfile.mkdtemp()) / "run", progress=False)
            times.append(time.perf_counter() - t)
            values.append(summary["speaker_values"]["prosecutor"])
        gap = max(OPTIMUM - v for v in values)
        cells = " | ".join(f"{v:.5f}" for v in values)
        ok = "all" if gap <= 0.005 else f"{sum(OPTIMUM - v <= 0.005 for v in values)} of {len(values)}"
        print(f"| {label} | {cells} | {gap:.5f} | {ok} | {sum(times) / len(times):.1f} |", flush=True)


SHAPES = [(2, 2), (2, 3), (3, 2), (3, 3)]


def random_games(args: argparse.Namespace) -> None:
    print(
        f"\nThe recipe (configs/train/kg.yaml, seed 0, {args.steps:,} steps) on random single-sender games "
        "with a best-responding user, against the obedience LP's optimum\n"
    )
    print("| game | optimum | learned | relative gap | within 1% |")
    print("|---|---:|---:|---:|---|")
    for j in range(args.random_games):
        states, actions = SHAPES[j % len(SHAPES)]
        spec = f"random:k=1,states={states},actions={actions},seed={j + 10},messages={actions}"
        optimum = single_sender_optimum(random_game(1, states, actions, seed=j + 10, messages=actions), 0).sender_value
        cfg = load_config(
            ROOT / "configs" / "train" / "kg.yaml",
            [f"game={spec}", f"total_steps={args.steps}", "exploitability_interval=0", "checkpoint_interval=100000"],
        )
        value = train(cfg, Path(tempfile.mkdtemp()) / "run", progress=False)["speaker_values"]["ai0"]
        gap = (optimum - value) / max(abs(optimum), 1e-12)
        print(
            f"| `{spec}` | {optimum:.5f} | {value:.5f} | {100 * gap:.2f}% | {'yes' if gap <= 0.01 else 'no'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
