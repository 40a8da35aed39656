"""Learning quality and speed of the native PPO against stable-baselines3, measured in one run.

    python benchmarks/learning.py [--seeds 3] [--sb3-cap 300000]

Quality: the exact value of the learned schemes after the bundled configs' full budgets (kg_logit:
the prosecutor against the optimum 0.443670; hull_pair_logit: the user against her
full-information value). Speed: wall time until the exact value of the committed scheme is first
within 0.005 of the kg_logit optimum (checked at every evaluation), native PPO on the batched
environment against SB3's PPO on the Gymnasium single-speaker view; the median over seeds and
the ratio. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from persuaders.eval.theory import full_information_value
from persuaders.game import load_game
from persuaders.train.config import load_config
from persuaders.train.loop import train
from persuaders.train.sb3 import train_sb3

OPT = 0.443670
TOL = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sb3-cap", type=int, default=300_000, help="SB3 step budget per seed")
    args = parser.parse_args()
    seeds = range(args.seeds)
    cfg_kg = ROOT / "configs/train/kg_logit.yaml"
    cfg_hp = ROOT / "configs/train/hull_pair_logit.yaml"

    print("## Learning quality (full budget of the bundled config, exact values)\n")
    print("| config | seed | learned | theory | gap | wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    fi = full_information_value(load_game("hull_pair_logit"))
    for seed in seeds:
        t = time.perf_counter()
        s = train(load_config(cfg_kg, [f"seed={seed}"]), tempfile.mkdtemp(), progress=False)
        v = s["speaker_values"]["prosecutor"]
        print(f"| kg_logit: prosecutor | {seed} | {v:.6f} | {OPT:.6f} | {abs(v - OPT):.6f} | {time.perf_counter() - t:.1f} |", flush=True)
    for seed in seeds:
        t = time.perf_counter()
        s = train(load_config(cfg_hp, [f"seed={seed}"]), tempfile.mkdtemp(), progress=False)
        v = s["user_value"]
        print(f"| hull_pair_logit: user | {seed} | {v:.6f} | {fi:.6f} | {abs(v - fi):.6f} | {time.perf_counter() - t:.1f} |", flush=True)

    print(f"\n## Learning speed: wall time to come within {TOL} of the kg_logit optimum\n")
    print("| trainer | seed | seconds | steps | reached |")
    print("|---|---:|---:|---:|---|")
    target = [f"target={{speaker: prosecutor, value: {OPT}, tol: {TOL}}}"]
    times = {"native": [], "sb3": []}
    for seed in seeds:
        for trainer in ("native", "sb3"):
            if trainer == "native":
                cfg = load_config(cfg_kg, target + [f"seed={seed}", "total_steps=2000000", "checkpoint_interval=100000", "eval_interval=2"])
                t = time.perf_counter()
                s = train(cfg, tempfile.mkdtemp(), progress=False)
            else:
                cfg = load_config(cfg_kg, target + [f"seed={seed}", f"total_steps={args.sb3_cap}", "eval_interval=4",
                                                    "ppo.learning_rate=0.003", "ppo.update_epochs=4", "ppo.num_minibatches=4"])
                t = time.perf_counter()
                s = train_sb3(cfg, tempfile.mkdtemp(), progress=False)
            el = time.perf_counter() - t
            reached = s["target_reached"]
            times[trainer].append(el if reached else float("inf"))
            steps = reached["global_step"] if reached else s["global_step"]
            print(f"| {trainer} | {seed} | {el:.1f} | {steps} | {'yes' if reached else 'no (cap)'} |", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nmedian seconds: native {med['native']:.1f}, SB3 {med['sb3']:.1f}; ratio SB3/native = {med['sb3'] / med['native']:.1f}"
          + (" (SB3 did not reach the target within its cap: the ratio is a lower bound)" if med["sb3"] == float("inf") else ""))


if __name__ == "__main__":
    main()
