"""Speaker-decisions per second: the batched environment against a loop over persuasion_v0.

One speaker-decision is one speaker committing one round's scheme in one episode. The batched
environment (:class:`envs.batched.BatchedPersuasionEnv`, ``n_envs`` episodes per step) and a plain
Python loop over PettingZoo's parallel ``persuasion_v0`` environment (one episode, reset when it
ends) are fed random logits every step, drawn beforehand from a bank of arrays so that neither
side pays for the random numbers. Both sides run the simultaneous protocol with
``expect_action`` rewards and are measured alternately in the same process, ``--repeats`` times
each; the best rate of each is reported.

    python benchmarks/env_throughput.py [--n-envs 4096] [--seconds 1.5] [--repeats 3]

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from persuaders.envs import persuasion_v0
from persuaders.envs.game import Game, load_game, random_game
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv

BANK = 8  # distinct random logit arrays cycled through


def batched_rate(game: Game, n_envs: int, seconds: float, seed: int = 0) -> float:
    env = BatchedPersuasionEnv(game, n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    bank = [rng.normal(size=(n_envs, env.n_speakers, *env.action_shape)).astype(np.float32) for _ in range(BANK)]
    env.reset()
    for j in range(game.rounds):  # warm-up: one full episode
        env.step(bank[j % BANK])
    steps, start = 0, time.perf_counter()
    while True:
        env.step(bank[steps % BANK])
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps % game.rounds == 0:
            break
    return steps * n_envs * game.n_speakers / elapsed


def pettingzoo_rate(game: Game, seconds: float, seed: int = 0) -> float:
    env = persuasion_v0.parallel_env(game=game)
    rng = np.random.default_rng(seed)
    bank = [
        {s.name: rng.normal(size=(s.n_signals, game.messages)).astype(np.float32) for s in game.speakers}
        for _ in range(BANK * game.rounds)
    ]
    env.reset(seed=seed)
    decisions, steps, start = 0, 0, time.perf_counter()
    while True:
        if not env.agents:
            env.reset()
        env.step(bank[steps % len(bank)])
        decisions += game.n_speakers
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and not env.agents:
            break
    return decisions / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-envs", type=int, default=4096, help="episodes per batched step")
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements per side")
    args = parser.parse_args(argv)

    games = [
        ("kg_logit", load_game("kg_logit")),
        ("random_game(8, 8, 8, seed=0, rounds=3), lam=10", random_game(8, 8, 8, seed=0, rounds=3, rationality=10)),
    ]
    rows = []
    for label, game in games:
        b_best, p_best = 0.0, 0.0
        for r in range(args.repeats):
            p_best = max(p_best, pettingzoo_rate(game, args.seconds, seed=r))
            b_best = max(b_best, batched_rate(game, args.n_envs, args.seconds, seed=r))
        rows.append((label, game, b_best, p_best))

    print(
        f"numpy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"best of {args.repeats} alternating runs of {args.seconds:g} s; simultaneous protocol, expect_action rewards\n"
    )
    print(
        "| game | speakers | states | messages | rounds | batched N | batched decisions/s "
        "| persuasion_v0 loop decisions/s | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, game, b, p in rows:
        print(
            f"| {label} | {game.n_speakers} | {game.n_states} | {game.messages} | {game.rounds} | {args.n_envs} "
            f"| {b:,.0f} | {p:,.0f} | {b / p:,.0f}x |"
        )


if __name__ == "__main__":
    main()
