"""One-round episodes per second of persuasion_v0 beside a minimal PettingZoo env of the same game.

    python benchmarks/pettingzoo_step.py [--seconds 1.5] [--repeats 5] [--baseline DIR] [--clock cpu|wall]

What other MARL libraries pay on every step. On kg_logit (one prosecutor, a logit judge, one
round) an episode is one ``reset`` and one ``step``. The minimal environment below computes the
same episode (state, message from the scheme, Bayes posterior, logit response, expected reward)
with no validation, no infos beyond PettingZoo's and no other game: the floor for a Python
PettingZoo env of this game. Both are fed the same bank of random logits and measured
alternately in one process; the best rate of each and their ratio are printed as a table.

``--baseline DIR`` adds, in the same process, the persuasion_v0 of an earlier checkout of this
repository (one whose packages are top-level, ``envs.persuasion_v0``), for example
``git worktree add /tmp/baseline f5e327b``: the speed-up is then measured side by side, never
against a number recorded on another day.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from persuaders.envs import persuasion_v0

BANK = 16


class MinimalKG(ParallelEnv):
    """kg_logit reduced to its arithmetic: prior (0.7, 0.3), the judge's logit response (lam = 10)."""

    metadata: ClassVar[dict[str, Any]] = {"name": "minimal_kg_v0"}

    def __init__(self) -> None:
        self.possible_agents = ["prosecutor"]
        self._obs = spaces.Box(0.0, 1.0, (7,), np.float32)
        self._act = spaces.Box(-10.0, 10.0, (2, 2), np.float32)
        self.rng = np.random.default_rng(0)
        self.prior = (0.7, 0.3)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs

    def action_space(self, agent: str) -> spaces.Box:
        return self._act

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = ["prosecutor"]
        self.y = int(self.rng.random() >= self.prior[0])
        obs = np.array([1, 0, 0.7, 0.3, 1, 0, 0], dtype=np.float32)
        return {"prosecutor": obs}, {"prosecutor": {}}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        z = np.asarray(actions["prosecutor"], dtype=np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        pi = e / e.sum(axis=1, keepdims=True)
        m = int(self.rng.random() >= pi[self.y, 0])
        w0, w1 = self.prior[0] * pi[0, m], self.prior[1] * pi[1, m]
        p_guilty = w1 / (w0 + w1)
        convict = 1.0 / (1.0 + math.exp(-10.0 * (2.0 * p_guilty - 1.0)))
        obs = np.array([0, 1, 1 - p_guilty, p_guilty, 1, 1 - m, m], dtype=np.float32)
        self.agents = []
        return (
            {"prosecutor": obs},
            {"prosecutor": convict},
            {"prosecutor": True},
            {"prosecutor": False},
            {"prosecutor": {}},
        )


def rate(env: ParallelEnv, bank: list[dict], seconds: float, clock: Any = time.thread_time) -> float:
    """Episodes per second of ``clock`` (the thread's CPU time by default: time the scheduler gives
    to other processes on a shared machine is not counted)."""
    env.reset(seed=0)
    n, start = 0, clock()
    while True:
        env.reset()
        env.step(bank[n % BANK])
        n += 1
        if n % 256 == 0 and clock() - start >= seconds:
            return n / (clock() - start)


def baseline_env(checkout: Path) -> ParallelEnv:
    """kg_logit's env from an earlier checkout, imported from its top-level ``envs`` package."""
    if not (checkout / "envs" / "persuasion_v0.py").is_file():
        raise SystemExit(f"--baseline: {checkout} holds no envs/persuasion_v0.py")
    sys.path.insert(0, str(checkout.resolve()))
    module = importlib.import_module("envs.persuasion_v0")
    return module.parallel_env("kg_logit")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="an earlier checkout whose envs.persuasion_v0 is measured beside this one",
    )
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="time by the thread's CPU time (default; robust to other jobs) or by the wall clock",
    )
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rng = np.random.default_rng(0)
    bank = [{"prosecutor": rng.normal(size=(2, 2)).astype(np.float32)} for _ in range(BANK)]
    envs = {"persuasion_v0 (kg_logit)": persuasion_v0.parallel_env("kg_logit")}
    if args.baseline is not None:
        envs["baseline persuasion_v0 (kg_logit)"] = baseline_env(args.baseline)
    envs["minimal kg_logit env"] = MinimalKG()
    best = dict.fromkeys(envs, 0.0)
    for _ in range(args.repeats):
        for name, env in envs.items():
            best[name] = max(best[name], rate(env, bank, args.seconds, clock))
    ref = best["minimal kg_logit env"]
    base = best.get("baseline persuasion_v0 (kg_logit)")
    print(
        f"numpy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"best of {args.repeats} alternating runs of {args.seconds:g} s of {args.clock} time\n"
    )
    head = "| environment | one-round episodes/s | microseconds per episode | against the minimal env |"
    rule = "|---|---:|---:|---:|"
    if base is not None:
        head, rule = head + " against the baseline |", rule + "---:|"
    print(head)
    print(rule)
    for name, r in best.items():
        row = f"| {name} | {r:,.0f} | {1e6 / r:.1f} | {r / ref:.2f} |"
        print(row + (f" {r / base:.2f} |" if base is not None else ""))


if __name__ == "__main__":
    main()
