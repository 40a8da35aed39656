"""Every learner against the equilibrium that best-response dynamics find, with best-responding users.

    python benchmarks/multi_speaker_br.py [--seeds 3] [--games hull_pair prosecutor_defence]

For each two-speaker game with a best-responding judge, exact best-response dynamics
(:func:`persuaders.eval.dynamics.best_response.best_response_dynamics`, simultaneous protocol) give an
equilibrium and its user value; then each learner (independent PPO, MAPPO, the exact-gradient
reference) is trained with the game's bundled config (configs/train/GAME.yaml: expect_round
rewards, the rationality homotopy, annealed policy noise; MAPPO with the same PPO settings) and
its learned profile scored exactly. Prints, per learner and seed, the user's exact value, its
distance to the dynamics' value and the learned profile's exploitability, as Markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from persuaders.eval.dynamics.best_response import best_response_dynamics
from persuaders.train.config import load_config
from persuaders.train.loop import train

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "train"
COMMON = ["exploitability_interval=0", "checkpoint_interval=100000"]
LEARNERS: dict[str, list[str]] = {
    "ppo": [],
    "mappo": ["learner=mappo", "mappo.final_log_std=-6.0", "mappo.log_std_anneal_start=0.6"],
    "exact_gradient": ["learner=exact_gradient", "n_envs=64", "total_steps=64000", "eval_interval=5"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--games", nargs="+", default=["hull_pair", "prosecutor_defence"])
    args = parser.parse_args()
    for game in args.games:
        dyn = best_response_dynamics(game, "simultaneous")
        print(
            f"\n## {game}: best-response dynamics {'converged' if dyn.converged else 'did not converge'} "
            f"after {dyn.passes} passes, user value {dyn.user_value:.6f}\n"
        )
        print("| learner | seed | user (exact) | distance to the dynamics' value | exploitability | wall s |")
        print("|---|---:|---:|---:|---:|---:|")
        for learner, overrides in LEARNERS.items():
            for seed in range(args.seeds):
                cfg = load_config(CONFIGS / f"{game}.yaml", [f"seed={seed}", *COMMON, *overrides])
                t = time.perf_counter()
                s = train(cfg, Path(tempfile.mkdtemp()) / "run", progress=False)
                expl = s["exploitability"]["exploitability"]
                print(
                    f"| {learner} | {seed} | {s['user_value']:.6f} | {abs(s['user_value'] - dyn.user_value):.6f} | "
                    f"{expl:.6f} | {time.perf_counter() - t:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
